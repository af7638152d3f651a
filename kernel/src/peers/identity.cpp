// The peer's identity (see identity.hpp): an ECDSA P-256 key pair and a self-signed X.509 v3
// certificate (ecdsa-with-SHA256), generated with wolfCrypt and kept as PEM in
// <state>/identity/ so that both wolfSSL (transport-tls) and GnuTLS (transport-quic) read them.
//
// The subject is CN=lanspread-<first 16 hex of the peer_id>, plus OU=<the peer name reduced to
// [A-Za-z0-9 ._-]> (a display hint only: peers trust the key fingerprint, never the name).
//
// Files in <state>/identity/ (directory mode 0700):
//   key.pem   "PRIVATE KEY" (PKCS#8), mode 0600, written once and never replaced;
//   cert.pem  "CERTIFICATE", written once and never replaced;
//   peer_id   the peer_id as text, for people and scripts; derived, never trusted on load;
//   .lock     flock()ed while the identity is created or loaded (two daemons on one state
//             dir cannot both create one).
// Each file is written to a temporary name, fsync()ed and renamed into place without
// replacing an existing file (RENAME_NOREPLACE).
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/peers/identity.hpp>

// wolfSSL's headers must see the options the library was built with before anything else:
// DecodedCert's layout depends on them.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(HAVE_ECC) || !defined(WOLFSSL_KEY_GEN)
#error "lanspread's identity needs wolfSSL built with WOLFSSL_CERT_GEN, WOLFSSL_KEY_GEN and ECC"
#endif

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>

namespace lanspread::kernel::peers {

namespace {

constexpr int kCurveId = ECC_SECP256R1;
constexpr int kCurveBytes = 32;
constexpr time_t kDay = 24 * 60 * 60;
constexpr time_t kValidity = (20 * 365 + 5) * kDay; // 20 years including leap days
constexpr size_t kMaxPemBytes = 64 * 1024;
constexpr size_t kMaxCertBytes = 64 * 1024;
constexpr const char *kCertFile = "cert.pem";
constexpr const char *kKeyFile = "key.pem";
constexpr const char *kPeerIdFile = "peer_id";
constexpr const char *kLockFile = ".lock";

using Bytes = std::vector<uint8_t>;

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

class Rng {
  public:
    Rng() { _rc = wc_InitRng(&_rng); }
    ~Rng() {
        if (_rc == 0)
            wc_FreeRng(&_rng);
    }
    Rng(const Rng &) = delete;
    Rng &operator=(const Rng &) = delete;
    int status() const { return _rc; }
    WC_RNG *get() { return &_rng; }

  private:
    WC_RNG _rng{};
    int _rc = -1;
};

class EccKey {
  public:
    EccKey() { _rc = wc_ecc_init(&_key); }
    ~EccKey() {
        if (_rc == 0)
            wc_ecc_free(&_key);
    }
    EccKey(const EccKey &) = delete;
    EccKey &operator=(const EccKey &) = delete;
    int status() const { return _rc; }
    ecc_key *get() { return &_key; }

  private:
    ecc_key _key{};
    int _rc = -1;
};

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

// --- files -------------------------------------------------------------------------------

// Identity files are small: anything bigger is not ours, and is refused before it is parsed.
// Buffers that held key material are wiped.
Result<std::string> readSmallFile(const std::string &path) {
    auto text = base::readFileNoFollow(path, kMaxPemBytes, /*wipe=*/true);
    if (!text && text.status().code() == LANSPREAD_E_FAILED)
        return Result<std::string>(LANSPREAD_E_FAILED, text.status().message() +
                                                           ": it is not a lanspread identity file");
    return text;
}

// Writes content to dir/name with the given mode: a temporary file created with O_EXCL,
// fsync()ed, then renamed into place. An existing dir/name is never replaced unless
// replace is true. Callers hold the identity lock, so a leftover temporary file is stale.
Status writeIdentityFile(const std::string &dir, const std::string &name,
                         const std::string &content, mode_t mode, bool replace) {
    base::AtomicWrite how;
    how.mode = mode;
    how.replace = replace;
    how.syncDirectory = false; // the caller syncs the directory once, after every file
    how.tempPath = dir + "/." + name + ".tmp";
    return base::writeFileAtomically(dir + "/" + name, content, how);
}

// An exclusive flock() on <identity>/.lock, released on destruction.
class DirectoryLock {
  public:
    Status acquire(const std::string &dir) {
        const std::string path = dir + "/" + kLockFile;
        _fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (_fd < 0)
            return Status(LANSPREAD_E_IO, "cannot open " + path + ": " + base::errnoText(errno));
        while (::flock(_fd, LOCK_EX) != 0) {
            if (errno != EINTR)
                return Status(LANSPREAD_E_IO, "cannot lock " + path + ": " + base::errnoText(errno));
        }
        return Status::ok();
    }
    DirectoryLock() = default;
    DirectoryLock(const DirectoryLock &) = delete;
    DirectoryLock &operator=(const DirectoryLock &) = delete;
    ~DirectoryLock() {
        if (_fd >= 0)
            ::close(_fd); // closing the last descriptor releases the flock
    }

  private:
    int _fd = -1;
};

enum class Presence { Missing, Present };

Result<Presence> presence(const std::string &path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return Presence::Missing;
        return Result<Presence>(LANSPREAD_E_IO, "cannot stat " + path + ": " + base::errnoText(errno));
    }
    if (!S_ISREG(st.st_mode))
        return Result<Presence>(LANSPREAD_E_FAILED, path + " is not a regular file");
    return Presence::Present;
}

// --- certificate --------------------------------------------------------------------------

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

// --- load and create ----------------------------------------------------------------------

struct Paths {
    std::string dir, cert, key, peerId;
};

std::string recreateAdvice(const Paths &paths) {
    return "restore the file from a backup, or delete " + paths.dir +
           " to create a new identity (other peers will then see a new peer_id)";
}

Result<Identity> loadExisting(const Paths &paths, WC_RNG *rng) {
    // Certificate.
    auto certPem = readSmallFile(paths.cert);
    if (!certPem)
        return Result<Identity>(certPem.status());
    Bytes certDer(certPem.value().size() + 1);
    int n = wc_CertPemToDer(reinterpret_cast<const unsigned char *>(certPem.value().data()),
                            static_cast<int>(certPem.value().size()), certDer.data(),
                            static_cast<int>(certDer.size()), CERT_TYPE);
    if (n <= 0)
        return Result<Identity>(LANSPREAD_E_FAILED, paths.cert + " is not a PEM certificate (" +
                                                        wolfError(n) + "); " +
                                                        recreateAdvice(paths));
    certDer.resize(static_cast<size_t>(n));
    auto certSpki = certificatePublicKey(certDer);
    if (!certSpki)
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.cert + " is unusable: " + certSpki.status().message() + "; " +
                                    recreateAdvice(paths));
    Status signature = verifySelfSignature(certDer, certSpki.value());
    if (!signature)
        return Result<Identity>(LANSPREAD_E_FAILED, paths.cert +
                                                        " is unusable: " + signature.message() +
                                                        "; " + recreateAdvice(paths));

    // Private key.
    auto keyPem = readSmallFile(paths.key);
    if (!keyPem)
        return Result<Identity>(keyPem.status());
    Bytes keyDer(keyPem.value().size() + 1);
    n = wc_KeyPemToDer(reinterpret_cast<const unsigned char *>(keyPem.value().data()),
                       static_cast<int>(keyPem.value().size()), keyDer.data(),
                       static_cast<int>(keyDer.size()), nullptr);
    wipe(keyPem.value().data(), keyPem.value().size());
    if (n <= 0) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.key + " is not an unencrypted PEM private key (" +
                                    wolfError(n) + "); " + recreateAdvice(paths));
    }
    wipe(keyDer.data() + n, keyDer.size() - static_cast<size_t>(n));
    keyDer.resize(static_cast<size_t>(n));
    auto keySpki = publicKeyOfPrivateKey(keyDer, rng);
    if (!keySpki) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.key + " is unusable: " + keySpki.status().message() + "; " +
                                    recreateAdvice(paths));
    }
    if (keySpki.value() != certSpki.value()) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                "the private key in " + paths.key +
                                    " does not match the public key of the certificate in " +
                                    paths.cert + " (files from two different identities?); " +
                                    "restore the matching pair from a backup, or delete " +
                                    paths.dir + " to create a new identity (other peers will " +
                                    "then see a new peer_id)");
    }

    Identity identity;
    identity.peerId = fingerprintPublicKey(certSpki.value());
    identity.certDer = std::move(certDer);
    identity.keyDer = std::move(keyDer);
    identity.certPath = paths.cert;
    identity.keyPath = paths.key;
    return identity;
}

Status createNew(const Paths &paths, const std::string &peerName, WC_RNG *rng) {
    EccKey key;
    if (key.status() != 0)
        return Status(LANSPREAD_E_FAILED, "wc_ecc_init failed: " + wolfError(key.status()));
    int rc = wc_ecc_make_key_ex(rng, kCurveBytes, key.get(), kCurveId);
    if (rc != 0)
        return Status(LANSPREAD_E_FAILED, "cannot generate a P-256 key: " + wolfError(rc));
    auto spki = publicKeyDer(key.get());
    if (!spki)
        return spki.status();
    const std::string peerId = fingerprintPublicKey(spki.value());

    Bytes pkcs8(512);
    word32 pkcs8Size = static_cast<word32>(pkcs8.size());
    rc = wc_EccKeyToPKCS8(key.get(), pkcs8.data(), &pkcs8Size);
    if (rc <= 0) {
        wipe(pkcs8.data(), pkcs8.size());
        return Status(LANSPREAD_E_FAILED,
                      "cannot encode the private key as PKCS#8: " + wolfError(rc));
    }
    pkcs8.resize(pkcs8Size);
    auto keyPem = derToPem(pkcs8, PKCS8_PRIVATEKEY_TYPE);
    wipe(pkcs8.data(), pkcs8.size());
    if (!keyPem)
        return keyPem.status();

    auto certDer = makeSelfSignedCert(key.get(), rng, peerId, peerName);
    if (!certDer) {
        wipe(keyPem.value().data(), keyPem.value().size());
        return certDer.status();
    }
    auto certPem = derToPem(certDer.value(), CERT_TYPE);
    if (!certPem) {
        wipe(keyPem.value().data(), keyPem.value().size());
        return certPem.status();
    }

    // The key first: a crash between the two renames leaves key.pem alone, which the next
    // start reports instead of replacing.
    Status written = writeIdentityFile(paths.dir, kKeyFile, keyPem.value(), 0600, false);
    wipe(keyPem.value().data(), keyPem.value().size());
    if (!written)
        return written;
    written = writeIdentityFile(paths.dir, kCertFile, certPem.value(), 0644, false);
    if (!written) {
        // The key was created by this call, under the lock, and nobody has used it yet:
        // take it back so that the next start can try again instead of finding half an
        // identity.
        ::unlink(paths.key.c_str());
        return written;
    }
    return base::fsyncDirectory(paths.dir);
}

// Keeps <identity>/peer_id in step with the identity; failures only cost the convenience.
void writePeerIdFile(const Paths &paths, const std::string &peerId) {
    auto existing = readSmallFile(paths.peerId);
    if (existing && existing.value() == peerId + "\n")
        return;
    (void)writeIdentityFile(paths.dir, kPeerIdFile, peerId + "\n", 0644, true);
}

Status makeIdentityDirectory(const std::string &stateDir, const std::string &dir) {
    std::error_code ec;
    std::filesystem::create_directories(stateDir, ec);
    if (ec)
        return Status(LANSPREAD_E_IO,
                      "cannot create the state directory " + stateDir + ": " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return Status(LANSPREAD_E_IO, "cannot create " + dir + ": " + base::errnoText(errno));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return Status(LANSPREAD_E_IO, "cannot stat " + dir + ": " + base::errnoText(errno));
    if (!S_ISDIR(st.st_mode))
        return Status(LANSPREAD_E_FAILED, dir + " exists but is not a directory");
    return Status::ok();
}

} // namespace

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

Result<Identity> Identity::loadOrCreate(const std::string &stateDir, const std::string &peerName) {
    if (stateDir.empty())
        return Result<Identity>(LANSPREAD_E_INVALID_ARGUMENT, "the state directory is not set");
    initWolfCrypt();
    // Debian's wolfSSL has FP_ECC: ECC operations fill a per-thread cache of precomputed
    // points (about 1.6 MB) that is only released by wc_ecc_fp_free() on the same thread.
    // Creating or loading the identity happens once, so release it rather than leak it
    // when the calling thread ends. Declared first, so it runs after every key is freed.
    struct FixedPointCacheRelease {
        FixedPointCacheRelease() = default;
        FixedPointCacheRelease(const FixedPointCacheRelease &) = delete;
        FixedPointCacheRelease &operator=(const FixedPointCacheRelease &) = delete;
        ~FixedPointCacheRelease() {
#ifdef FP_ECC
            wc_ecc_fp_free();
#endif
        }
    } releaseCache;

    Paths paths;
    paths.dir = stateDir + "/identity";
    paths.cert = paths.dir + "/" + kCertFile;
    paths.key = paths.dir + "/" + kKeyFile;
    paths.peerId = paths.dir + "/" + kPeerIdFile;

    Status made = makeIdentityDirectory(stateDir, paths.dir);
    if (!made)
        return Result<Identity>(made);
    DirectoryLock lock;
    Status locked = lock.acquire(paths.dir);
    if (!locked)
        return Result<Identity>(locked);

    Rng rng;
    if (rng.status() != 0)
        return Result<Identity>(LANSPREAD_E_FAILED, "cannot initialise the random generator: " +
                                                        wolfError(rng.status()));

    auto cert = presence(paths.cert);
    if (!cert)
        return Result<Identity>(cert.status());
    auto key = presence(paths.key);
    if (!key)
        return Result<Identity>(key.status());

    const bool haveCert = cert.value() == Presence::Present;
    const bool haveKey = key.value() == Presence::Present;
    if (haveCert != haveKey) {
        const std::string &present = haveCert ? paths.cert : paths.key;
        const std::string &missing = haveCert ? paths.key : paths.cert;
        return Result<Identity>(
            LANSPREAD_E_FAILED,
            "the identity is incomplete: " + present + " exists but " + missing +
                " is missing; lanspread will not replace it: " + "restore " + missing +
                " from a backup, or delete " + paths.dir +
                " to create a new identity (other peers will " + "then see a new peer_id)");
    }
    if (!haveCert) {
        Status created = createNew(paths, peerName, rng.get());
        if (!created)
            return Result<Identity>(LANSPREAD_E_FAILED, "cannot create the peer identity in " +
                                                            paths.dir + ": " + created.describe());
    }
    // Created or not, the identity comes back through the same checks.
    auto identity = loadExisting(paths, rng.get());
    if (identity)
        writePeerIdFile(paths, identity.value().peerId);
    return identity;
}

} // namespace lanspread::kernel::peers
