#include "tls.hpp"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstring>

namespace lanspread::plugins::quic {

namespace {

// TLS 1.3 only (QUIC), no middlebox-compatibility records, AES-128-GCM first (AES-NI makes it
// the cheapest AEAD per byte on the machines we target), ECDHE groups a peer of ours offers.
constexpr const char kPriority[] = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                   "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
                                   "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1";

std::string gnutlsError(const char *what, int rv) {
    return std::string(what) + ": " + gnutls_strerror(rv);
}

// Called by GnuTLS when the peer's Certificate arrives (client and server side). Accepts any
// certificate that parses and has a public key we can fingerprint; refuses a missing one.
int verifyPeer(gnutls_session_t session) {
    unsigned count = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &count);
    if (certs == nullptr || count == 0)
        return GNUTLS_E_NO_CERTIFICATE_FOUND;
    auto fingerprint = spkiFingerprint(certs[0].data, certs[0].size);
    return fingerprint ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

} // namespace

Result<Fingerprint> spkiFingerprint(const uint8_t *certDer, std::size_t certLen) {
    using R = Result<Fingerprint>;
    gnutls_x509_crt_t crt = nullptr;
    gnutls_pubkey_t pubkey = nullptr;
    gnutls_datum_t spki{nullptr, 0};
    int rv = gnutls_x509_crt_init(&crt);
    if (rv == 0) {
        const gnutls_datum_t der{const_cast<uint8_t *>(certDer), static_cast<unsigned>(certLen)};
        rv = gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER);
    }
    if (rv == 0)
        rv = gnutls_pubkey_init(&pubkey);
    if (rv == 0)
        rv = gnutls_pubkey_import_x509(pubkey, crt, 0);
    if (rv == 0)
        rv = gnutls_pubkey_export2(pubkey, GNUTLS_X509_FMT_DER, &spki);
    Fingerprint out{};
    if (rv == 0)
        rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, out.data());
    if (spki.data)
        gnutls_free(spki.data);
    if (pubkey)
        gnutls_pubkey_deinit(pubkey);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (rv != 0)
        return R(LANSPREAD_E_FAILED, gnutlsError("certificate public key", rv));
    return out;
}

Result<std::shared_ptr<TlsCredentials>> TlsCredentials::create(const std::vector<uint8_t> &certDer,
                                                               const std::vector<uint8_t> &keyDer) {
    using R = Result<std::shared_ptr<TlsCredentials>>;
    if (certDer.empty() || keyDer.empty())
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the transport config has no certificate or no private key");
    auto fingerprint = spkiFingerprint(certDer.data(), certDer.size());
    if (!fingerprint)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the local certificate is unusable: " + fingerprint.status().message());
    std::shared_ptr<TlsCredentials> out(new TlsCredentials());
    out->_fingerprint = fingerprint.value();
    int rv = gnutls_certificate_allocate_credentials(&out->_cred);
    if (rv != 0)
        return R(LANSPREAD_E_NO_MEMORY, gnutlsError("gnutls_certificate_allocate_credentials", rv));
    const gnutls_datum_t cert{const_cast<uint8_t *>(certDer.data()),
                              static_cast<unsigned>(certDer.size())};
    const gnutls_datum_t key{const_cast<uint8_t *>(keyDer.data()),
                             static_cast<unsigned>(keyDer.size())};
    rv = gnutls_certificate_set_x509_key_mem2(out->_cred, &cert, &key, GNUTLS_X509_FMT_DER, nullptr,
                                              GNUTLS_PKCS_PLAIN);
    if (rv < 0)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 gnutlsError("the local certificate and key (DER, PKCS#8) do not load", rv));
    gnutls_certificate_set_verify_function(out->_cred, &verifyPeer);
    static const char kLabel[] = "lanspread/quic stateless reset v1";
    rv = gnutls_hmac_fast(GNUTLS_MAC_SHA256, keyDer.data(), keyDer.size(), kLabel,
                          sizeof kLabel - 1, out->_resetSecret.data());
    if (rv < 0)
        return R(LANSPREAD_E_FAILED, gnutlsError("deriving the stateless-reset secret", rv));
    return out;
}

TlsCredentials::~TlsCredentials() {
    if (_cred)
        gnutls_certificate_free_credentials(_cred);
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(bool server,
                                                       std::shared_ptr<TlsCredentials> credentials,
                                                       ngtcp2_crypto_conn_ref *connRef) {
    using R = Result<std::unique_ptr<TlsSession>>;
    std::unique_ptr<TlsSession> out(new TlsSession());
    out->_credentials = std::move(credentials);
    const unsigned flags =
        (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_TICKETS;
    int rv = gnutls_init(&out->_session, flags);
    if (rv != 0)
        return R(LANSPREAD_E_NO_MEMORY, gnutlsError("gnutls_init", rv));
    rv = gnutls_priority_set_direct(out->_session, kPriority, nullptr);
    if (rv != 0)
        return R(LANSPREAD_E_FAILED, gnutlsError("gnutls_priority_set_direct", rv));
    rv = server ? ngtcp2_crypto_gnutls_configure_server_session(out->_session)
                : ngtcp2_crypto_gnutls_configure_client_session(out->_session);
    if (rv != 0)
        return R(LANSPREAD_E_FAILED, "ngtcp2_crypto_gnutls_configure_session failed");
    gnutls_session_set_ptr(out->_session, connRef);
    rv = gnutls_credentials_set(out->_session, GNUTLS_CRD_CERTIFICATE, out->_credentials->native());
    if (rv != 0)
        return R(LANSPREAD_E_FAILED, gnutlsError("gnutls_credentials_set", rv));
    if (server)
        gnutls_certificate_server_set_request(out->_session, GNUTLS_CERT_REQUIRE);
    const gnutls_datum_t alpn{reinterpret_cast<unsigned char *>(const_cast<char *>(kAlpn)),
                              static_cast<unsigned>(sizeof kAlpn - 1)};
    rv = gnutls_alpn_set_protocols(out->_session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (rv != 0)
        return R(LANSPREAD_E_FAILED, gnutlsError("gnutls_alpn_set_protocols", rv));
    return out;
}

TlsSession::~TlsSession() {
    if (_session)
        gnutls_deinit(_session);
}

Result<Fingerprint> TlsSession::peerFingerprint() const {
    unsigned count = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(_session, &count);
    if (certs == nullptr || count == 0)
        return Result<Fingerprint>(LANSPREAD_E_FAILED, "the peer presented no certificate");
    return spkiFingerprint(certs[0].data, certs[0].size);
}

bool TlsSession::alpnAgreed() const {
    gnutls_datum_t selected{nullptr, 0};
    if (gnutls_alpn_get_selected_protocol(_session, &selected) != 0)
        return false;
    return selected.size == sizeof kAlpn - 1 &&
           std::memcmp(selected.data, kAlpn, sizeof kAlpn - 1) == 0;
}

} // namespace lanspread::plugins::quic
