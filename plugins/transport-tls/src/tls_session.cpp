#include "tls_session.hpp"

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <climits>
#include <cstring>

namespace lanspread::plugins::tls {

namespace {
// The TLS 1.3 suites offered and accepted, preferred first (see create()).
constexpr const char *kCipherSuites =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384";

// The peer's certificate is accepted whatever its issuer, dates or names: the identity is
// its public key, pinned by the kernel through the fingerprint. wolfSSL calls this only when
// its own verification failed (a self-signed certificate always does); that a certificate
// was presented at all is enforced by WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT (server) and by
// TLS 1.3 itself (client), and CertificateVerify is checked regardless of this callback.
int acceptAnyCertificate(int, WOLFSSL_X509_STORE_CTX *) {
    return 1;
}

std::string errorText(int code) {
    char text[WOLFSSL_MAX_ERROR_SZ] = "";
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
    return std::string(text) + " (" + std::to_string(code) + ")";
}

} // namespace

Result<Fingerprint> spkiFingerprint(const uint8_t *certDer, std::size_t certLen) {
    using R = Result<Fingerprint>;
    if (certDer == nullptr || certLen == 0 || certLen > 64 * 1024)
        return R(LANSPREAD_E_INVALID_ARGUMENT, "no certificate or an oversized one");
    DecodedCert cert;
    wc_InitDecodedCert(&cert, certDer, static_cast<word32>(certLen), nullptr);
    int rc = wc_ParseCert(&cert, CERT_TYPE, NO_VERIFY, nullptr);
    std::vector<uint8_t> spki;
    word32 size = 0;
    if (rc == 0) {
        rc = wc_GetPubKeyDerFromCert(&cert, nullptr, &size);
        if (rc == LENGTH_ONLY_E && size > 0) {
            spki.resize(size);
            rc = wc_GetPubKeyDerFromCert(&cert, spki.data(), &size);
        } else if (rc == 0) {
            rc = BAD_FUNC_ARG; // a length query that did not say the length
        }
    }
    wc_FreeDecodedCert(&cert);
    if (rc != 0)
        return R(LANSPREAD_E_FAILED, "cannot read the certificate's public key: " + errorText(rc));
    spki.resize(size);
    Fingerprint out{};
    rc = wc_Sha256Hash(spki.data(), static_cast<word32>(spki.size()), out.data());
    if (rc != 0)
        return R(LANSPREAD_E_FAILED, "SHA-256: " + errorText(rc));
    return out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(bool server,
                                                       const std::vector<uint8_t> &certDer,
                                                       const std::vector<uint8_t> &keyDer) {
    using R = Result<std::shared_ptr<TlsContext>>;
    if (certDer.empty() || keyDer.empty())
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the transport config has no certificate or no private key");
    auto fingerprint = spkiFingerprint(certDer.data(), certDer.size());
    if (!fingerprint)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the local certificate is unusable: " + fingerprint.status().message());
    std::shared_ptr<TlsContext> out(new TlsContext());
    out->_server = server;
    // TLS 1.3 only: the methods of this version refuse to negotiate any other.
    out->_ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method());
    if (out->_ctx == nullptr)
        return R(LANSPREAD_E_FAILED, "wolfSSL_CTX_new failed");
    int rc = wolfSSL_CTX_use_certificate_buffer(
        out->_ctx, certDer.data(), static_cast<long>(certDer.size()), WOLFSSL_FILETYPE_ASN1);
    if (rc != WOLFSSL_SUCCESS)
        return R(LANSPREAD_E_INVALID_ARGUMENT, "the local certificate: " + errorText(rc));
    rc = wolfSSL_CTX_use_PrivateKey_buffer(out->_ctx, keyDer.data(),
                                           static_cast<long>(keyDer.size()), WOLFSSL_FILETYPE_ASN1);
    if (rc != WOLFSSL_SUCCESS)
        return R(LANSPREAD_E_INVALID_ARGUMENT, "the local private key: " + errorText(rc));
    const bool keyMatches = wolfSSL_CTX_check_private_key(out->_ctx) == WOLFSSL_SUCCESS;
    releaseThreadEccCache(); // the check is ECC work on this thread
    if (!keyMatches)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "the private key does not belong to the local certificate");
    wolfSSL_CTX_set_verify(out->_ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           &acceptAnyCertificate);
    // Session resumption would skip the certificates, and with them the fingerprint.
    if (server)
        wolfSSL_CTX_no_ticket_TLSv13(out->_ctx);
    // ChaCha20-Poly1305 first: Debian's wolfSSL has no AES-NI code, and in portable C
    // ChaCha20-Poly1305 seals ~2.2x faster than AES-128-GCM on this project's machines (a
    // bulk transfer is bound by it: 6.6 CPU-s/GiB per side with AES-GCM). AES-GCM stays
    // acceptable for a peer that prefers it.
    if (wolfSSL_CTX_set_cipher_list(out->_ctx, kCipherSuites) != WOLFSSL_SUCCESS)
        return R(LANSPREAD_E_FAILED,
                 std::string("wolfSSL refuses the cipher suites ") + kCipherSuites);
    return out;
}

void releaseThreadEccCache() {
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

TlsContext::~TlsContext() {
    if (_ctx != nullptr)
        wolfSSL_CTX_free(_ctx);
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(std::shared_ptr<TlsContext> context) {
    using R = Result<std::unique_ptr<TlsSession>>;
    std::unique_ptr<TlsSession> out(new TlsSession());
    out->_context = std::move(context);
    out->_ssl = wolfSSL_new(out->_context->native());
    if (out->_ssl == nullptr)
        return R(LANSPREAD_E_FAILED, "wolfSSL_new failed");
    wolfSSL_SSLSetIORecv(out->_ssl, &TlsSession::ioRecv);
    wolfSSL_SSLSetIOSend(out->_ssl, &TlsSession::ioSend);
    wolfSSL_SetIOReadCtx(out->_ssl, out.get());
    wolfSSL_SetIOWriteCtx(out->_ssl, out.get());
    char alpn[] = "lanspread/1";
    if (wolfSSL_UseALPN(out->_ssl, alpn, static_cast<unsigned>(std::strlen(alpn)),
                        WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS)
        return R(LANSPREAD_E_FAILED, "wolfSSL_UseALPN failed");
    return out;
}

TlsSession::~TlsSession() {
    if (_ssl != nullptr)
        wolfSSL_free(_ssl);
}

int TlsSession::ioRecv(WOLFSSL *, char *buf, int sz, void *ctx) {
    auto *self = static_cast<TlsSession *>(ctx);
    const std::size_t available = self->_in.size() - self->_inPos;
    if (available == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    const std::size_t n = std::min<std::size_t>(available, static_cast<std::size_t>(sz));
    std::memcpy(buf, self->_in.data() + self->_inPos, n);
    self->_inPos += n;
    if (self->_inPos == self->_in.size()) {
        self->_in.clear();
        self->_inPos = 0;
    }
    return static_cast<int>(n);
}

int TlsSession::ioSend(WOLFSSL *, char *buf, int sz, void *ctx) {
    auto *self = static_cast<TlsSession *>(ctx);
    self->_out.insert(self->_out.end(), reinterpret_cast<uint8_t *>(buf),
                      reinterpret_cast<uint8_t *>(buf) + sz);
    return sz;
}

void TlsSession::feed(std::span<const uint8_t> cipher) {
    if (_inPos > 0 && _inPos == _in.size()) {
        _in.clear();
        _inPos = 0;
    }
    _in.insert(_in.end(), cipher.begin(), cipher.end());
}

void TlsSession::consumeOutput(std::size_t n) {
    _outPos += std::min(n, _out.size() - _outPos);
    if (_outPos == _out.size()) {
        _out.clear();
        _outPos = 0;
    } else if (_outPos > (1u << 20) && _outPos * 2 > _out.size()) {
        _out.erase(_out.begin(), _out.begin() + static_cast<std::ptrdiff_t>(_outPos));
        _outPos = 0;
    }
}

std::string TlsSession::lastError(int rc) const {
    return errorText(wolfSSL_get_error(_ssl, rc));
}

TlsSession::Progress TlsSession::handshake(std::string &error) {
    const int rc = _context->server() ? wolfSSL_accept(_ssl) : wolfSSL_connect(_ssl);
    if (rc == WOLFSSL_SUCCESS) {
        char *protocol = nullptr;
        unsigned short length = 0;
        if (wolfSSL_ALPN_GetProtocol(_ssl, &protocol, &length) != WOLFSSL_SUCCESS ||
            std::string(protocol, length) != kAlpn) {
            error = "the peer did not agree on ALPN lanspread/1";
            return Progress::Failed;
        }
        return Progress::Done;
    }
    const int code = wolfSSL_get_error(_ssl, rc);
    if (code == WOLFSSL_ERROR_WANT_READ || code == WOLFSSL_ERROR_WANT_WRITE)
        return Progress::WantMore;
    error = errorText(code);
    return Progress::Failed;
}

long TlsSession::read(uint8_t *buffer, std::size_t len, std::string &error) {
    const int rc =
        wolfSSL_read(_ssl, buffer, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
    if (rc > 0)
        return rc;
    const int code = wolfSSL_get_error(_ssl, rc);
    if (code == WOLFSSL_ERROR_WANT_READ || code == WOLFSSL_ERROR_WANT_WRITE)
        return 0;
    if (code == WOLFSSL_ERROR_ZERO_RETURN)
        return -1;
    error = errorText(code);
    return -2;
}

Status TlsSession::write(std::span<const uint8_t> data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - done, 16384));
        const int rc = wolfSSL_write(_ssl, data.data() + done, chunk);
        if (rc <= 0)
            return Status(LANSPREAD_E_FAILED, "TLS write: " + lastError(rc));
        done += static_cast<std::size_t>(rc);
    }
    return Status::ok();
}

void TlsSession::shutdown() {
    wolfSSL_shutdown(_ssl);
}

Result<Fingerprint> TlsSession::peerFingerprint() const {
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(_ssl);
    if (chain == nullptr || wolfSSL_get_chain_count(chain) < 1)
        return Result<Fingerprint>(LANSPREAD_E_FAILED, "the peer presented no certificate");
    const unsigned char *der = wolfSSL_get_chain_cert(chain, 0);
    const int length = wolfSSL_get_chain_length(chain, 0);
    if (der == nullptr || length <= 0)
        return Result<Fingerprint>(LANSPREAD_E_FAILED, "the peer presented no certificate");
    return spkiFingerprint(der, static_cast<std::size_t>(length));
}

std::string TlsSession::cipherName() const {
    const char *name = wolfSSL_get_cipher_name(_ssl);
    return name != nullptr ? name : "?";
}

} // namespace lanspread::plugins::tls
