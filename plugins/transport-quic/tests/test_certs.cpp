#include "test_certs.hpp"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/sha2.h>

#include <ctime>
#include <stdexcept>

namespace lanspread::plugins::quic::testing {

namespace {
void check(int rv, const char *what) {
    if (rv < 0)
        throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rv));
}
std::vector<uint8_t> take(gnutls_datum_t &d) {
    std::vector<uint8_t> out(d.data, d.data + d.size);
    gnutls_free(d.data);
    d.data = nullptr;
    return out;
}
} // namespace

TestIdentity TestIdentity::generate(const std::string &commonName) {
    TestIdentity id;
    gnutls_x509_privkey_t key = nullptr;
    gnutls_x509_crt_t crt = nullptr;
    check(gnutls_x509_privkey_init(&key), "privkey_init");
    check(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
          "privkey_generate");
    check(gnutls_x509_crt_init(&crt), "crt_init");
    check(gnutls_x509_crt_set_version(crt, 3), "set_version");
    const unsigned char serial[] = {0x01, 0x23, 0x45, 0x67};
    check(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), "set_serial");
    const time_t now = std::time(nullptr);
    check(gnutls_x509_crt_set_activation_time(crt, now - 3600), "activation");
    check(gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 24 * 3600), "expiration");
    check(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, commonName.data(),
                                        static_cast<unsigned>(commonName.size())),
          "set_dn");
    check(gnutls_x509_crt_set_key(crt, key), "set_key");
    check(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), "sign");

    gnutls_datum_t out{nullptr, 0};
    check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out), "crt_export");
    id.certDer = take(out);
    check(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, nullptr, GNUTLS_PKCS_PLAIN,
                                            &out),
          "pkcs8_export");
    id.keyDer = take(out);

    // The fingerprint, from the key side: privkey -> pubkey -> SPKI DER -> nettle SHA-256.
    gnutls_privkey_t abstractKey = nullptr;
    gnutls_pubkey_t pub = nullptr;
    check(gnutls_privkey_init(&abstractKey), "privkey_init (abstract)");
    check(gnutls_privkey_import_x509(abstractKey, key, 0), "privkey_import_x509");
    check(gnutls_pubkey_init(&pub), "pubkey_init");
    check(gnutls_pubkey_import_privkey(pub, abstractKey, 0, 0), "pubkey_import_privkey");
    check(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &out), "pubkey_export");
    std::vector<uint8_t> spki = take(out);
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, spki.size(), spki.data());
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, id.fingerprint.data());

    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(abstractKey);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return id;
}

std::string toHex(const std::vector<uint8_t> &bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

} // namespace lanspread::plugins::quic::testing
