// transport-quic: TLS 1.3 for QUIC through GnuTLS and ngtcp2_crypto_gnutls.
//
// Mutual authentication with self-signed certificates: both sides present the peer's
// certificate (the server requires one from the client); no chain is verified, because the
// identity is the certificate's public key — the transport reports its fingerprint
// (SHA-256 of the SubjectPublicKeyInfo DER) and the kernel decides whether it is the peer it
// expected. TLS still proves that the remote holds the private key (CertificateVerify).
// ALPN "lanspread/1" is mandatory on both sides.
#pragma once

#include <lanspread/result.hpp>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::plugins::quic {

constexpr const char kAlpn[] = "lanspread/1";
using Fingerprint = std::array<uint8_t, 32>;

// SHA-256 of the SubjectPublicKeyInfo DER of a DER certificate.
Result<Fingerprint> spkiFingerprint(const uint8_t *certDer, std::size_t certLen);

// The local certificate and key, shared by every session of an endpoint.
class TlsCredentials {
  public:
    // certDer: X.509 DER; keyDer: unencrypted PKCS#8 DER.
    static Result<std::shared_ptr<TlsCredentials>> create(const std::vector<uint8_t> &certDer,
                                                          const std::vector<uint8_t> &keyDer);
    ~TlsCredentials();
    TlsCredentials(const TlsCredentials &) = delete;
    TlsCredentials &operator=(const TlsCredentials &) = delete;
    gnutls_certificate_credentials_t native() const { return _cred; }
    const Fingerprint &localFingerprint() const { return _fingerprint; }
    // The secret stateless-reset tokens are derived from: HMAC-SHA256 keyed with the private
    // key, so a peer that restarts with the same identity can still reset connections its
    // previous run had (the peer on the other side then learns at once, not after the idle
    // timeout).
    const std::array<uint8_t, 32> &resetSecret() const { return _resetSecret; }

  private:
    TlsCredentials() = default;
    gnutls_certificate_credentials_t _cred = nullptr;
    Fingerprint _fingerprint{};
    std::array<uint8_t, 32> _resetSecret{};
};

// One connection's TLS session. conn_ref is what ngtcp2_crypto_gnutls finds through
// gnutls_session_get_ptr(); it must outlive the session.
class TlsSession {
  public:
    static Result<std::unique_ptr<TlsSession>> create(bool server,
                                                      std::shared_ptr<TlsCredentials> credentials,
                                                      ngtcp2_crypto_conn_ref *connRef);
    ~TlsSession();
    TlsSession(const TlsSession &) = delete;
    TlsSession &operator=(const TlsSession &) = delete;

    gnutls_session_t native() const { return _session; }
    // The remote certificate's fingerprint (valid once the peer's Certificate arrived).
    Result<Fingerprint> peerFingerprint() const;
    // Whether ALPN settled on "lanspread/1".
    bool alpnAgreed() const;

  private:
    TlsSession() = default;
    gnutls_session_t _session = nullptr;
    std::shared_ptr<TlsCredentials> _credentials;
};

} // namespace lanspread::plugins::quic
