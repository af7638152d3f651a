// transport-tls: TLS 1.3 through wolfSSL, over memory buffers instead of a socket (wolfSSL's
// custom I/O callbacks): the connection moves ciphertext between the socket and these
// buffers, so wolfSSL never blocks and never touches an fd.
//
// Mutual authentication with self-signed certificates: both sides present the peer's
// certificate, and the server requires one from the client. No chain is verified, because
// the identity is the certificate's public key: the transport reports its fingerprint
// (SHA-256 of the SubjectPublicKeyInfo DER) and the kernel decides whether it is the peer it
// expected. TLS still proves that the remote holds the private key (CertificateVerify).
#pragma once

#include <lanspread/result.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct WOLFSSL_CTX;
struct WOLFSSL;

namespace lanspread::plugins::tls {

constexpr const char kAlpn[] = "lanspread/1";
using Fingerprint = std::array<uint8_t, 32>;

// SHA-256 of the SubjectPublicKeyInfo DER of a DER certificate.
Result<Fingerprint> spkiFingerprint(const uint8_t *certDer, std::size_t certLen);

// The local certificate and key in a wolfSSL context, shared by the sessions of one side
// (one per listen() or connect()).
class TlsContext {
  public:
    // certDer: X.509 DER; keyDer: unencrypted PKCS#8 DER.
    static Result<std::shared_ptr<TlsContext>>
    create(bool server, const std::vector<uint8_t> &certDer, const std::vector<uint8_t> &keyDer);
    ~TlsContext();
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;
    WOLFSSL_CTX *native() const { return _ctx; }
    bool server() const { return _server; }

  private:
    TlsContext() = default;
    WOLFSSL_CTX *_ctx = nullptr;
    bool _server = false;
};

// Debian's wolfSSL has FP_ECC: ECC operations fill a per-thread cache of precomputed points
// (~1.6 MB) that only wc_ecc_fp_free() on that same thread releases. A TLS 1.3 session does
// all its ECC in the handshake (no resumption, no post-handshake auth), so a connection calls
// this, on the reactor thread, once its handshake has ended either way: the cache is never
// left behind for the thread's end (LeakSanitizer), at the cost of recomputing it for the next
// handshake (a fraction of a millisecond). Thread: the one that ran the handshake.
void releaseThreadEccCache();

class TlsSession {
  public:
    static Result<std::unique_ptr<TlsSession>> create(std::shared_ptr<TlsContext> context);
    ~TlsSession();
    TlsSession(const TlsSession &) = delete;
    TlsSession &operator=(const TlsSession &) = delete;

    // Ciphertext from the socket.
    void feed(std::span<const uint8_t> cipher);
    std::size_t inputBuffered() const { return _in.size() - _inPos; }

    enum class Progress { Done, WantMore, Failed };
    // Advances the handshake with what was fed; on Failed, error says why.
    Progress handshake(std::string &error);
    // Decrypts into buffer. >0 bytes; 0 = needs more ciphertext; -1 = the peer sent
    // close_notify; -2 = failure (error says why).
    long read(uint8_t *buffer, std::size_t len, std::string &error);
    // Encrypts all of data into the output buffer (it always fits: the buffer is memory;
    // the caller bounds how much it writes).
    Status write(std::span<const uint8_t> data);
    // Queues close_notify.
    void shutdown();

    // Ciphertext for the socket.
    std::span<const uint8_t> output() const {
        return std::span<const uint8_t>(_out.data() + _outPos, _out.size() - _outPos);
    }
    void consumeOutput(std::size_t n);
    std::size_t outputBuffered() const { return _out.size() - _outPos; }

    // The remote certificate's fingerprint (after the handshake).
    Result<Fingerprint> peerFingerprint() const;
    std::string cipherName() const;

  private:
    TlsSession() = default;
    static int ioRecv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
    static int ioSend(WOLFSSL *ssl, char *buf, int sz, void *ctx);
    std::string lastError(int rc) const;

    std::shared_ptr<TlsContext> _context;
    WOLFSSL *_ssl = nullptr;
    std::vector<uint8_t> _in;
    std::size_t _inPos = 0;
    std::vector<uint8_t> _out;
    std::size_t _outPos = 0;
};

} // namespace lanspread::plugins::tls
