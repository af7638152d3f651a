// The peer identity: creation on first use, reuse afterwards, refusal to replace a damaged
// or half-written identity, and agreement with GnuTLS (the QUIC transport's TLS library)
// and, where installed, the openssl command-line tool on what the peer_id is.
#include <lanspread/kernel/peers/identity.hpp>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::peers::certificatePublicKey;
using lanspread::kernel::peers::fingerprintPublicKey;
using lanspread::kernel::peers::Identity;

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

std::string readFile(const std::string &path) {
    FILE *file = std::fopen(path.c_str(), "rb");
    if (file == nullptr)
        throw std::runtime_error("cannot read " + path);
    std::string content;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
        content.append(buffer, n);
    std::fclose(file);
    return content;
}

void writeFile(const std::string &path, const std::string &content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

bool isLowerHex64(const std::string &s) {
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

mode_t modeOf(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error("cannot stat " + path);
    return st.st_mode & 07777;
}

std::string hex(const unsigned char *data, size_t size) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < size; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0x0f]);
    }
    return out;
}

// SHA-256 computed by GnuTLS, independent of the wolfCrypt code under test.
std::string gnutlsSha256Hex(const void *data, size_t size) {
    unsigned char digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, size, digest) != 0)
        throw std::runtime_error("gnutls_hash_fast failed");
    return hex(digest, sizeof digest);
}

// The PEM text of a DER certificate, encoded by GnuTLS.
std::string certPem(const Bytes &der) {
    gnutls_datum_t in{const_cast<unsigned char *>(der.data()), static_cast<unsigned>(der.size())};
    gnutls_datum_t out{nullptr, 0};
    if (gnutls_pem_base64_encode2("CERTIFICATE", &in, &out) != 0)
        throw std::runtime_error("gnutls_pem_base64_encode2 failed");
    std::string pem(reinterpret_cast<const char *>(out.data), out.size);
    gnutls_free(out.data);
    return pem;
}

// Runs a shell command and returns its standard output (binary-safe) and exit status.
std::pair<std::string, int> run(const std::string &command) {
    FILE *pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr)
        throw std::runtime_error("popen failed: " + command);
    std::string out;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
        out.append(buffer, n);
    int status = ::pclose(pipe);
    return {out, status};
}

class TempDir {
  public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "identity_test.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        _path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(_path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return _path; }

  private:
    std::string _path;
};

Identity mustCreate(const std::string &stateDir, const std::string &name = "test-peer") {
    auto result = Identity::loadOrCreate(stateDir, name);
    if (!result)
        throw std::runtime_error("loadOrCreate failed: " + result.status().describe());
    return result.value();
}

} // namespace

class IdentityTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IdentityTest);
    CPPUNIT_TEST(testFirstCallCreatesSecondCallLoads);
    CPPUNIT_TEST(testMissingStateDirectoryIsCreated);
    CPPUNIT_TEST(testTwoStateDirectoriesGiveDifferentPeerIds);
    CPPUNIT_TEST(testPeerIdIsTheCertificateKeyFingerprint);
    CPPUNIT_TEST(testCorruptedCertificateIsReportedNotReplaced);
    CPPUNIT_TEST(testTamperedCertificateSignatureIsReported);
    CPPUNIT_TEST(testKeyOfAnotherIdentityIsAMismatch);
    CPPUNIT_TEST(testOnlyKeyPresentIsAnError);
    CPPUNIT_TEST(testOnlyCertificatePresentIsAnError);
    CPPUNIT_TEST(testCorruptedKeyIsReported);
    CPPUNIT_TEST(testStaleTemporaryFileDoesNotBlockCreation);
    CPPUNIT_TEST(testConcurrentFirstStartsAgree);
    CPPUNIT_TEST(testHostilePeerNameStillGivesValidCertificate);
    CPPUNIT_TEST(testCertificatePublicKeyRejectsGarbage);
    CPPUNIT_TEST(testFingerprintIsStable);
    CPPUNIT_TEST(testGnuTlsAcceptsCertificateAndKey);
    CPPUNIT_TEST(testOpenSslAgreesOnPeerId);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testFirstCallCreatesSecondCallLoads() {
        TempDir dir;
        const std::string idDir = dir.path() + "/identity";
        Identity first = mustCreate(dir.path());
        CPPUNIT_ASSERT(isLowerHex64(first.peerId));
        CPPUNIT_ASSERT_EQUAL(idDir + "/cert.pem", first.certPath);
        CPPUNIT_ASSERT_EQUAL(idDir + "/key.pem", first.keyPath);
        CPPUNIT_ASSERT(fs::is_regular_file(first.certPath));
        CPPUNIT_ASSERT(fs::is_regular_file(first.keyPath));
        CPPUNIT_ASSERT_EQUAL(static_cast<mode_t>(0600), modeOf(first.keyPath));
        CPPUNIT_ASSERT_EQUAL(static_cast<mode_t>(0700), modeOf(idDir));
        CPPUNIT_ASSERT(!first.certDer.empty());
        CPPUNIT_ASSERT(!first.keyDer.empty());

        const std::string certText = readFile(first.certPath);
        const std::string keyText = readFile(first.keyPath);
        CPPUNIT_ASSERT_EQUAL(std::string("-----BEGIN CERTIFICATE-----\n"), certText.substr(0, 28));
        CPPUNIT_ASSERT_EQUAL(std::string("-----BEGIN PRIVATE KEY-----\n"), keyText.substr(0, 28));
        CPPUNIT_ASSERT_EQUAL(first.peerId + "\n", readFile(idDir + "/peer_id"));
        // No temporary files are left behind.
        CPPUNIT_ASSERT(!fs::exists(idDir + "/.key.pem.tmp"));
        CPPUNIT_ASSERT(!fs::exists(idDir + "/.cert.pem.tmp"));

        Identity second = mustCreate(dir.path(), "another-name");
        CPPUNIT_ASSERT_EQUAL(first.peerId, second.peerId);
        CPPUNIT_ASSERT(first.certDer == second.certDer);
        CPPUNIT_ASSERT(first.keyDer == second.keyDer);
        CPPUNIT_ASSERT_EQUAL(certText, readFile(first.certPath));
        CPPUNIT_ASSERT_EQUAL(keyText, readFile(first.keyPath));
    }

    void testMissingStateDirectoryIsCreated() {
        TempDir dir;
        const std::string state = dir.path() + "/not/yet/there";
        Identity id = mustCreate(state);
        CPPUNIT_ASSERT(fs::is_regular_file(state + "/identity/key.pem"));
        CPPUNIT_ASSERT_EQUAL(id.peerId, mustCreate(state).peerId);
    }

    void testTwoStateDirectoriesGiveDifferentPeerIds() {
        TempDir a, b;
        Identity first = mustCreate(a.path());
        Identity second = mustCreate(b.path());
        CPPUNIT_ASSERT(first.peerId != second.peerId);
        CPPUNIT_ASSERT(first.certDer != second.certDer);
    }

    void testPeerIdIsTheCertificateKeyFingerprint() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        auto spki = certificatePublicKey(id.certDer);
        CPPUNIT_ASSERT_MESSAGE(spki.status().describe(), spki.ok());
        CPPUNIT_ASSERT_EQUAL(id.peerId, fingerprintPublicKey(spki.value()));
        CPPUNIT_ASSERT_EQUAL(id.peerId, gnutlsSha256Hex(spki.value().data(), spki.value().size()));
    }

    void testCorruptedCertificateIsReportedNotReplaced() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        const std::string garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                                    "-----END CERTIFICATE-----\n";
        writeFile(id.certPath, garbage);
        auto result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), id.certPath));
        CPPUNIT_ASSERT_EQUAL(garbage, readFile(id.certPath));

        writeFile(id.certPath, "this is not PEM at all\n");
        result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), id.certPath));
    }

    void testTamperedCertificateSignatureIsReported() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        // A flipped bit in the subject name: still a well-formed certificate with the right
        // public key, but its self-signature no longer verifies.
        Bytes tampered = id.certDer;
        std::string der(tampered.begin(), tampered.end());
        size_t at = der.find("lanspread-");
        CPPUNIT_ASSERT(at != std::string::npos);
        tampered[at] ^= 0x20; // 'l' -> 'L'
        writeFile(id.certPath, certPem(tampered));
        auto result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), id.certPath));
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), "signature"));
    }

    void testKeyOfAnotherIdentityIsAMismatch() {
        TempDir a, b;
        Identity first = mustCreate(a.path());
        Identity second = mustCreate(b.path());
        const std::string foreignKey = readFile(second.keyPath);
        writeFile(first.keyPath, foreignKey);
        auto result = Identity::loadOrCreate(a.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        const std::string &message = result.status().message();
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "does not match"));
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, first.keyPath));
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, first.certPath));
        // Nothing was replaced.
        CPPUNIT_ASSERT_EQUAL(foreignKey, readFile(first.keyPath));
        CPPUNIT_ASSERT(certPem(first.certDer) == readFile(first.certPath));
    }

    void testOnlyKeyPresentIsAnError() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        const std::string keyText = readFile(id.keyPath);
        fs::remove(id.certPath);
        auto result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        const std::string &message = result.status().message();
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, id.certPath));
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "missing"));
        CPPUNIT_ASSERT(!fs::exists(id.certPath));
        CPPUNIT_ASSERT_EQUAL(keyText, readFile(id.keyPath));
    }

    void testOnlyCertificatePresentIsAnError() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        const std::string certText = readFile(id.certPath);
        fs::remove(id.keyPath);
        auto result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        const std::string &message = result.status().message();
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, id.keyPath));
        CPPUNIT_ASSERT(!fs::exists(id.keyPath));
        CPPUNIT_ASSERT_EQUAL(certText, readFile(id.certPath));
    }

    void testCorruptedKeyIsReported() {
        TempDir dir;
        Identity id = mustCreate(dir.path());
        // A certificate where the key belongs.
        writeFile(id.keyPath, readFile(id.certPath));
        auto result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), id.keyPath));
        // An empty file.
        writeFile(id.keyPath, "");
        result = Identity::loadOrCreate(dir.path(), "test-peer");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), id.keyPath));
    }

    void testStaleTemporaryFileDoesNotBlockCreation() {
        TempDir dir;
        fs::create_directories(dir.path() + "/identity");
        writeFile(dir.path() + "/identity/.key.pem.tmp", "half-written by a crash");
        Identity id = mustCreate(dir.path());
        CPPUNIT_ASSERT(isLowerHex64(id.peerId));
        CPPUNIT_ASSERT(!fs::exists(dir.path() + "/identity/.key.pem.tmp"));
    }

    void testConcurrentFirstStartsAgree() {
        TempDir dir;
        constexpr int kThreads = 4;
        std::vector<std::string> ids(kThreads);
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i)
            threads.emplace_back([&, i] {
                auto result = Identity::loadOrCreate(dir.path(), "racer");
                ids[static_cast<size_t>(i)] = result ? result.value().peerId : "failed";
            });
        for (auto &t : threads)
            t.join();
        CPPUNIT_ASSERT(isLowerHex64(ids[0]));
        for (const auto &id : ids)
            CPPUNIT_ASSERT_EQUAL(ids[0], id);
    }

    void testHostilePeerNameStillGivesValidCertificate() {
        TempDir dir;
        std::string name = "Bob's \"rig\", CN=evil/\xC3\xA9\n";
        name += std::string(300, 'x');
        Identity id = mustCreate(dir.path(), name);
        gnutls_x509_crt_t crt;
        gnutls_x509_crt_init(&crt);
        gnutls_datum_t der{id.certDer.data(), static_cast<unsigned>(id.certDer.size())};
        CPPUNIT_ASSERT_EQUAL(0, gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER));
        gnutls_datum_t dn{nullptr, 0};
        CPPUNIT_ASSERT_EQUAL(0, gnutls_x509_crt_get_dn3(crt, &dn, 0));
        std::string subject(reinterpret_cast<const char *>(dn.data), dn.size);
        gnutls_free(dn.data);
        gnutls_x509_crt_deinit(crt);
        CPPUNIT_ASSERT_MESSAGE(subject,
                               contains(subject, "CN=lanspread-" + id.peerId.substr(0, 16)));
        CPPUNIT_ASSERT_MESSAGE(subject, contains(subject, "OU=Bobs rig CNevil"));
        CPPUNIT_ASSERT_MESSAGE(subject, !contains(subject, "CN=evil"));
    }

    void testCertificatePublicKeyRejectsGarbage() {
        CPPUNIT_ASSERT(!certificatePublicKey({}).ok());
        CPPUNIT_ASSERT(!certificatePublicKey({0x30, 0x03, 0x02, 0x01, 0x00}).ok());
        Bytes noise(400);
        for (size_t i = 0; i < noise.size(); ++i)
            noise[i] = static_cast<uint8_t>(i * 131 + 7);
        CPPUNIT_ASSERT(!certificatePublicKey(noise).ok());

        TempDir dir;
        Identity id = mustCreate(dir.path());
        Bytes truncated(id.certDer.begin(), id.certDer.begin() + id.certDer.size() / 2);
        auto result = certificatePublicKey(truncated);
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT(!result.status().message().empty());
        // A private key is not a certificate.
        CPPUNIT_ASSERT(!certificatePublicKey(id.keyDer).ok());
    }

    void testFingerprintIsStable() {
        // SHA-256("abc"), FIPS 180-2 example.
        const Bytes abc{'a', 'b', 'c'};
        CPPUNIT_ASSERT_EQUAL(
            std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            fingerprintPublicKey(abc));
        CPPUNIT_ASSERT_EQUAL(
            std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            fingerprintPublicKey({}));
        TempDir dir;
        Identity id = mustCreate(dir.path());
        auto spki = certificatePublicKey(id.certDer);
        CPPUNIT_ASSERT(spki.ok());
        CPPUNIT_ASSERT_EQUAL(fingerprintPublicKey(spki.value()),
                             fingerprintPublicKey(spki.value()));
        CPPUNIT_ASSERT_EQUAL(id.peerId,
                             fingerprintPublicKey(certificatePublicKey(id.certDer).value()));
    }

    // The QUIC transport loads the pair with GnuTLS; GnuTLS also checks the key matches.
    void testGnuTlsAcceptsCertificateAndKey() {
        TempDir dir;
        Identity id = mustCreate(dir.path());

        gnutls_certificate_credentials_t credentials;
        CPPUNIT_ASSERT_EQUAL(0, gnutls_certificate_allocate_credentials(&credentials));
        int rc = gnutls_certificate_set_x509_key_file(credentials, id.certPath.c_str(),
                                                      id.keyPath.c_str(), GNUTLS_X509_FMT_PEM);
        gnutls_certificate_free_credentials(credentials);
        CPPUNIT_ASSERT_MESSAGE(gnutls_strerror(rc), rc >= 0);

        gnutls_x509_crt_t crt;
        CPPUNIT_ASSERT_EQUAL(0, gnutls_x509_crt_init(&crt));
        gnutls_datum_t der{id.certDer.data(), static_cast<unsigned>(id.certDer.size())};
        CPPUNIT_ASSERT_EQUAL(0, gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER));
        CPPUNIT_ASSERT_EQUAL(3, gnutls_x509_crt_get_version(crt));
        CPPUNIT_ASSERT_EQUAL(static_cast<int>(GNUTLS_PK_ECDSA),
                             gnutls_x509_crt_get_pk_algorithm(crt, nullptr));
        CPPUNIT_ASSERT_EQUAL(static_cast<int>(GNUTLS_SIGN_ECDSA_SHA256),
                             gnutls_x509_crt_get_signature_algorithm(crt));
        // GnuTLS's SHA-256 key id is the hash of the SubjectPublicKeyInfo: the peer_id.
        unsigned char keyId[64];
        size_t keyIdSize = sizeof keyId;
        CPPUNIT_ASSERT_EQUAL(
            0, gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, keyId, &keyIdSize));
        CPPUNIT_ASSERT_EQUAL(id.peerId, hex(keyId, keyIdSize));
        // The self-signature verifies (the certificate is its own trust anchor).
        unsigned status = 1;
        CPPUNIT_ASSERT_EQUAL(0, gnutls_x509_crt_verify(crt, &crt, 1, 0, &status));
        CPPUNIT_ASSERT_EQUAL(0u, status);
        // Valid from about a day ago for 20 years, both bounds as UTCTime (RFC 5280 4.1.2.5:
        // dates before 2050): Validity ::= SEQUENCE { UTCTime(13), UTCTime(13) }.
        const std::string derText(id.certDer.begin(), id.certDer.end());
        CPPUNIT_ASSERT(derText.find(std::string("\x30\x1e\x17\x0d", 4)) != std::string::npos);
        time_t now = ::time(nullptr);
        const time_t activation = gnutls_x509_crt_get_activation_time(crt);
        CPPUNIT_ASSERT(activation <= now - 86400 + 60 && activation >= now - 86400 - 60);
        CPPUNIT_ASSERT(gnutls_x509_crt_get_expiration_time(crt) > now + 19LL * 365 * 86400);
        gnutls_x509_crt_deinit(crt);
    }

    void testOpenSslAgreesOnPeerId() {
        if (::access("/usr/bin/openssl", X_OK) != 0) {
            std::cout << "\n  note: /usr/bin/openssl not installed; OpenSSL cross-check skipped\n";
            return;
        }
        TempDir dir;
        Identity id = mustCreate(dir.path());
        auto fromKey =
            run("/usr/bin/openssl pkey -in '" + id.keyPath + "' -pubout -outform DER 2>/dev/null");
        CPPUNIT_ASSERT_EQUAL(0, fromKey.second);
        CPPUNIT_ASSERT_EQUAL(id.peerId,
                             gnutlsSha256Hex(fromKey.first.data(), fromKey.first.size()));
        auto fromCert = run("/usr/bin/openssl x509 -in '" + id.certPath +
                            "' -noout -pubkey 2>/dev/null | /usr/bin/openssl pkey -pubin "
                            "-outform DER 2>/dev/null");
        CPPUNIT_ASSERT_EQUAL(0, fromCert.second);
        CPPUNIT_ASSERT_EQUAL(id.peerId,
                             gnutlsSha256Hex(fromCert.first.data(), fromCert.first.size()));
        auto text = run("/usr/bin/openssl x509 -in '" + id.certPath + "' -noout -text 2>&1");
        CPPUNIT_ASSERT_EQUAL(0, text.second);
        CPPUNIT_ASSERT_MESSAGE(text.first, contains(text.first, "ecdsa-with-SHA256"));
        CPPUNIT_ASSERT_MESSAGE(text.first, contains(text.first, "prime256v1"));
        auto verify =
            run("/usr/bin/openssl verify -CAfile '" + id.certPath + "' '" + id.certPath + "' 2>&1");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(verify.first, 0, verify.second);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IdentityTest);
