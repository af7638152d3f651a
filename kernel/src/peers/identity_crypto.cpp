// The wolfCrypt work behind the peer's identity (see identity.hpp and identity.cpp): an ECDSA
// P-256 key pair and a self-signed X.509 v3 certificate (ecdsa-with-SHA256), PEM for the files,
// the checks an identity passes when it is loaded, and the fingerprint that is the peer_id.
//
// The subject is CN=lanspread-<first 16 hex of the peer_id>, plus OU=<the peer name reduced to
// [A-Za-z0-9 ._-]> (a display hint only: peers trust the key fingerprint, never the name).
#include "identity_crypto.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/peers/identity.hpp>

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace lanspread::kernel::peers {

namespace detail {

namespace {

constexpr time_t kDay = 24 * 60 * 60;
constexpr time_t kValidity = (20 * 365 + 5) * kDay; // 20 years including leap days
constexpr size_t kMaxCertBytes = 64 * 1024;

// A wolfSSL DecodedCert. The struct's layout comes from asn.h and the build options in
// options.h; the storage carries slack so that a library built with a slightly larger
// struct than the header describes cannot write past it.
class ParsedCert {
  public:
    explicit ParsedCert(const Bytes &der) : _storage(std::make_unique<Storage>()) {
        wc_InitDecodedCert(&_storage->cert, der.data(), static_cast<word32>(der.size()), nullptr);
    }
    ~ParsedCert() { wc_FreeDecodedCert(&_storage->cert); }
    ParsedCert(const ParsedCert &) = delete;
    ParsedCert &operator=(const ParsedCert &) = delete;
    DecodedCert *get() { return &_storage->cert; }

  private:
    struct Storage {
        DecodedCert cert;
        unsigned char slack[4096];
    };
    std::unique_ptr<Storage> _storage;
};

// True when data is exactly one DER SEQUENCE (tag, definite length, contents, nothing after).
bool isSingleDerSequence(const Bytes &data) {
    if (data.size() < 2 || data[0] != 0x30)
        return false;
    size_t length = 0;
    size_t header = 2;
    if (data[1] < 0x80) {
        length = data[1];
    } else {
        size_t count = data[1] & 0x7f;
        if (count == 0 || count > 4 || data.size() < 2 + count)
            return false;
        for (size_t i = 0; i < count; ++i)
            length = (length << 8) | data[2 + i];
        header += count;
    }
    return header + length == data.size();
}

// Keeps the characters a display name needs and that every X.509 parser accepts.
std::string sanitizePeerName(const std::string &name) {
    std::string out;
    for (char c : name) {
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == ' ' || c == '-' || c == '_' || c == '.';
        if (keep)
            out.push_back(c);
        if (out.size() >= CTC_NAME_SIZE - 1)
            break;
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

// A DER Time for a validity bound, as RFC 5280 4.1.2.5 wants it: UTCTime through 2049,
// GeneralizedTime from 2050. (wolfSSL 5.5.4's own validity writer emits GeneralizedTime for
// these dates, which OpenSSL and GnuTLS accept but RFC 5280 does not allow.)
Result<Bytes> encodeTime(time_t when) {
    struct tm utc {};
    if (::gmtime_r(&when, &utc) == nullptr)
        return Result<Bytes>(LANSPREAD_E_FAILED, "cannot convert the certificate validity time");
    const int year = utc.tm_year + 1900;
    char text[32];
    int n;
    byte tag;
    if (year < 2050) {
        tag = 0x17; // UTCTime, YYMMDDHHMMSSZ
        n = std::snprintf(text, sizeof text, "%02d%02d%02d%02d%02d%02dZ", year % 100,
                          utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    } else {
        tag = 0x18; // GeneralizedTime, YYYYMMDDHHMMSSZ
        n = std::snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02dZ", year, utc.tm_mon + 1,
                          utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    }
    if (n != (tag == 0x17 ? 13 : 15))
        return Result<Bytes>(LANSPREAD_E_FAILED, "cannot encode the certificate validity time");
    Bytes out{tag, static_cast<byte>(n)};
    out.insert(out.end(), text, text + n);
    return out;
}

} // namespace

std::string wolfError(int code) {
    return std::string(wc_GetErrorString(code)) + " (" + std::to_string(code) + ")";
}

void initWolfCrypt() {
    static std::once_flag once;
    std::call_once(once, [] { wolfCrypt_Init(); });
}

// Clears a buffer that held private key material.
void wipe(void *data, size_t size) {
    if (size != 0)
        ::explicit_bzero(data, size);
}

// SubjectPublicKeyInfo DER of a key that holds a public point.
Result<Bytes> publicKeyDer(ecc_key *key) {
    Bytes spki(256);
    int n = wc_EccPublicKeyToDer(key, spki.data(), static_cast<word32>(spki.size()), 1);
    if (n <= 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "cannot encode the public key: " + wolfError(n));
    spki.resize(static_cast<size_t>(n));
    return spki;
}

Result<std::string> derToPem(const Bytes &der, int type) {
    // Base64 grows by 4/3 plus a newline every 64 characters, plus header and footer.
    Bytes pem(der.size() * 2 + 128);
    int n = wc_DerToPem(der.data(), static_cast<word32>(der.size()), pem.data(),
                        static_cast<word32>(pem.size()), type);
    if (n <= 0)
        return Result<std::string>(LANSPREAD_E_FAILED, "cannot encode PEM: " + wolfError(n));
    std::string out(reinterpret_cast<const char *>(pem.data()), static_cast<size_t>(n));
    wipe(pem.data(), pem.size());
    return out;
}

Result<Bytes> makeSelfSignedCert(ecc_key *key, WC_RNG *rng, const std::string &peerId,
                                 const std::string &peerName) {
    auto cert = std::make_unique<Cert>(); // Cert is several KiB
    int rc = wc_InitCert(cert.get());
    if (rc != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "wc_InitCert failed: " + wolfError(rc));
    cert->version = 2; // X.509 v3
    cert->sigType = CTC_SHA256wECDSA;
    // Valid from a day ago (clock skew between LAN machines) for 20 years. With
    // WOLFSSL_ALT_NAMES (Debian's build has it) wolfSSL takes preset encoded dates as they are;
    // without it, it writes its own (now - 1 day .. now + daysValid, GeneralizedTime).
    cert->daysValid = static_cast<int>(kValidity / kDay);
    const time_t now = ::time(nullptr);
    auto notBefore = encodeTime(now - kDay);
    auto notAfter = encodeTime(now + kValidity);
    if (!notBefore)
        return notBefore;
    if (!notAfter)
        return notAfter;
    std::memcpy(cert->beforeDate, notBefore.value().data(), notBefore.value().size());
    cert->beforeDateSz = static_cast<int>(notBefore.value().size());
    std::memcpy(cert->afterDate, notAfter.value().data(), notAfter.value().size());
    cert->afterDateSz = static_cast<int>(notAfter.value().size());
    cert->selfSigned = 1;
    cert->isCA = 0;

    // A random 16-byte serial with a first byte in 0x40..0x7f: positive, and minimal as a DER
    // INTEGER (126 random bits).
    rc = wc_RNG_GenerateBlock(rng, cert->serial, 16);
    if (rc != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "random serial failed: " + wolfError(rc));
    cert->serial[0] = static_cast<byte>((cert->serial[0] & 0x3f) | 0x40);
    cert->serialSz = 16;

    const std::string commonName = "lanspread-" + peerId.substr(0, 16);
    std::snprintf(cert->subject.commonName, CTC_NAME_SIZE, "%s", commonName.c_str());
    cert->subject.commonNameEnc = CTC_UTF8;
    const std::string unit = sanitizePeerName(peerName);
    if (!unit.empty()) {
        std::snprintf(cert->subject.unit, CTC_NAME_SIZE, "%s", unit.c_str());
        cert->subject.unitEnc = CTC_UTF8;
    }

    rc = wc_SetSubjectKeyIdFromPublicKey_ex(cert.get(), ECC_TYPE, key);
    if (rc == 0)
        rc = wc_SetKeyUsage(cert.get(), "digitalSignature");
    if (rc == 0)
        rc = wc_SetExtKeyUsage(cert.get(), "serverAuth,clientAuth");
    if (rc != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "cannot set certificate extensions: " + wolfError(rc));

    Bytes der(4096);
    rc =
        wc_MakeCert_ex(cert.get(), der.data(), static_cast<word32>(der.size()), ECC_TYPE, key, rng);
    if (rc <= 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "wc_MakeCert_ex failed: " + wolfError(rc));
    rc = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), static_cast<word32>(der.size()),
                        ECC_TYPE, key, rng);
    if (rc <= 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "wc_SignCert_ex failed: " + wolfError(rc));
    der.resize(static_cast<size_t>(rc));
    return der;
}

// Checks that the certificate's signature verifies with its own public key.
Status verifySelfSignature(const Bytes &certDer, const Bytes &spki) {
    ParsedCert parsed(certDer);
    int rc = wc_ParseCert(parsed.get(), CERT_TYPE, NO_VERIFY, nullptr);
    if (rc != 0)
        return Status(LANSPREAD_E_FAILED, "not a valid X.509 certificate: " + wolfError(rc));
    DecodedCert *dc = parsed.get();
    if (dc->signatureOID != CTC_SHA256wECDSA)
        return Status(LANSPREAD_E_FAILED, "its signature algorithm is not ecdsa-with-SHA256");
    if (dc->certBegin >= dc->sigIndex || dc->sigIndex > certDer.size() ||
        dc->signature == nullptr || dc->sigLength == 0)
        return Status(LANSPREAD_E_FAILED, "its signature could not be located");

    byte digest[WC_SHA256_DIGEST_SIZE];
    rc = wc_Sha256Hash(certDer.data() + dc->certBegin, dc->sigIndex - dc->certBegin, digest);
    if (rc != 0)
        return Status(LANSPREAD_E_FAILED, "SHA-256 failed: " + wolfError(rc));

    EccKey publicKey;
    if (publicKey.status() != 0)
        return Status(LANSPREAD_E_FAILED, "wc_ecc_init failed: " + wolfError(publicKey.status()));
    word32 index = 0;
    rc = wc_EccPublicKeyDecode(spki.data(), &index, publicKey.get(),
                               static_cast<word32>(spki.size()));
    if (rc != 0)
        return Status(LANSPREAD_E_FAILED, "its public key is not an ECC key: " + wolfError(rc));
    int verified = 0;
    rc = wc_ecc_verify_hash(dc->signature, dc->sigLength, digest, sizeof digest, &verified,
                            publicKey.get());
    if (rc != 0 || verified != 1)
        return Status(LANSPREAD_E_FAILED,
                      "its signature does not verify with its own public key (corrupted?)");
    return Status::ok();
}

// --- private key --------------------------------------------------------------------------

// Decodes a PKCS#8 P-256 private key and returns the SubjectPublicKeyInfo of the public key
// derived from the private scalar (never the public key the file may also carry; that one
// must agree with it).
Result<Bytes> publicKeyOfPrivateKey(const Bytes &pkcs8, WC_RNG *rng) {
    EccKey stored;
    if (stored.status() != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "wc_ecc_init failed: " + wolfError(stored.status()));
    // wc_GetPkcs8TraditionalOffset takes a mutable buffer; it returns the length of the
    // inner ECPrivateKey and moves keyIndex to its start.
    Bytes work = pkcs8;
    word32 keyIndex = 0;
    int innerSize =
        wc_GetPkcs8TraditionalOffset(work.data(), &keyIndex, static_cast<word32>(work.size()));
    int rc = innerSize;
    if (innerSize > 0 && keyIndex + static_cast<word32>(innerSize) <= work.size())
        rc = wc_EccPrivateKeyDecode(work.data(), &keyIndex, stored.get(),
                                    keyIndex + static_cast<word32>(innerSize));
    wipe(work.data(), work.size());
    if (innerSize <= 0)
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "not a PKCS#8 private key: " + wolfError(innerSize));
    if (rc != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED, "not an ECC private key: " + wolfError(rc));
    if (stored.get()->dp == nullptr || stored.get()->dp->id != kCurveId)
        return Result<Bytes>(LANSPREAD_E_FAILED, "not a P-256 (secp256r1) key");

    byte scalar[kCurveBytes + 1];
    word32 scalarSize = sizeof scalar;
    rc = wc_ecc_export_private_only(stored.get(), scalar, &scalarSize);
    if (rc != 0) {
        wipe(scalar, sizeof scalar);
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "cannot read the private scalar: " + wolfError(rc));
    }
    EccKey derived;
    if (derived.status() != 0) {
        wipe(scalar, sizeof scalar);
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "wc_ecc_init failed: " + wolfError(derived.status()));
    }
    rc = wc_ecc_import_private_key_ex(scalar, scalarSize, nullptr, 0, derived.get(), kCurveId);
    wipe(scalar, sizeof scalar);
    if (rc == 0)
        rc = wc_ecc_make_pub_ex(derived.get(), nullptr, rng);
    if (rc == 0)
        rc = wc_ecc_check_key(derived.get());
    if (rc != 0)
        return Result<Bytes>(LANSPREAD_E_FAILED,
                             "cannot derive the public key from the private key: " + wolfError(rc));
    auto spki = publicKeyDer(derived.get());
    if (!spki)
        return spki;

    // A public key stored next to the private one must be the derived one.
    if (stored.get()->type == ECC_PRIVATEKEY) {
        auto storedSpki = publicKeyDer(stored.get());
        if (!storedSpki || storedSpki.value() != spki.value())
            return Result<Bytes>(LANSPREAD_E_FAILED,
                                 "its embedded public key does not belong to its private key");
    }
    return spki;
}

} // namespace detail

using detail::Bytes;
using detail::initWolfCrypt;
using detail::isSingleDerSequence;
using detail::kMaxCertBytes;
using detail::ParsedCert;
using detail::wolfError;

std::string fingerprintPublicKey(const std::vector<uint8_t> &subjectPublicKeyInfoDer) {
    byte digest[WC_SHA256_DIGEST_SIZE];
    int rc = wc_Sha256Hash(subjectPublicKeyInfoDer.data(),
                           static_cast<word32>(subjectPublicKeyInfoDer.size()), digest);
    if (rc != 0) // only on a broken wolfCrypt; an empty id never matches a real peer
        return std::string();
    return base::toHex(digest, sizeof digest);
}

Result<std::vector<uint8_t>> certificatePublicKey(const std::vector<uint8_t> &certDer) {
    using R = Result<std::vector<uint8_t>>;
    initWolfCrypt();
    if (certDer.empty())
        return R(LANSPREAD_E_INVALID_ARGUMENT, "the certificate is empty");
    if (certDer.size() > kMaxCertBytes)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the certificate is larger than " + std::to_string(kMaxCertBytes) + " bytes");
    ParsedCert parsed(certDer);
    int rc = wc_ParseCert(parsed.get(), CERT_TYPE, NO_VERIFY, nullptr);
    if (rc != 0)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "not a valid DER X.509 certificate: " + wolfError(rc));
    word32 size = 0;
    rc = wc_GetPubKeyDerFromCert(parsed.get(), nullptr, &size);
    if (rc != LENGTH_ONLY_E || size == 0 || size > certDer.size())
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "cannot locate the certificate's public key: " + wolfError(rc));
    Bytes spki(size);
    rc = wc_GetPubKeyDerFromCert(parsed.get(), spki.data(), &size);
    if (rc != 0)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "cannot extract the certificate's public key: " + wolfError(rc));
    spki.resize(size);
    if (!isSingleDerSequence(spki))
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the certificate's public key is not a DER SubjectPublicKeyInfo");
    return spki;
}

} // namespace lanspread::kernel::peers
