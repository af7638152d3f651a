// transport-quic: one QUIC connection — an ngtcp2_conn, its GnuTLS session, its streams and
// their send buffers, and the expiry timer on the host reactor.
//
// Shape (cf. ngtcp2's examples, but driven by the host reactor instead of libev):
//   input   Endpoint hands each datagram to onPacket(); after the batch, afterInput() writes
//           what ngtcp2 wants to send (ACKs, data) and re-arms the timer from
//           ngtcp2_conn_get_expiry();
//   output  writeOut() packs stream data with ngtcp2_conn_writev_stream into a batch of
//           equal-sized packets and hands it to the PacketIo in one call (one GSO sendmsg);
//   timer   onExpiry(): ngtcp2_conn_handle_expiry, then writeOut (pacing uses ngtcp2's ts).
// Host calls made from inside a callback we issued while ngtcp2 is running (the host may
// close() or reset_stream() from on_stream_data) are deferred until ngtcp2 has returned.
// The object is freed only by its Endpoint's reaper, never while on the stack.
#pragma once

#include "address.hpp"
#include "options.hpp"
#include "send_buffer.hpp"
#include "tls.hpp"

#include <lanspread/kinds/transport.hpp>

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace lanspread::plugins::quic {

class Endpoint;

// on_stream_data flag: the remote aborted the stream (RESET_STREAM or STOP_SENDING).
constexpr uint32_t kStreamResetFlag = LANSPREAD_STREAM_RESET;
// on_writable's stream id when it means "open_stream may succeed now" (after E_AGAIN).
constexpr uint64_t kAnyStream = UINT64_MAX;

// Connection ids: 8 bytes, the least RFC 9000 allows for a client's first destination id,
// and plenty to tell a LAN's connections apart. Every short-header packet carries one, so
// each byte here is a byte of every packet's overhead (0.07 % of a 1472-byte datagram).
constexpr std::size_t kCidLen = 8;

class Connection final : public TransportConnection {
  public:
    Connection(Endpoint &endpoint, bool server, const SockAddr &local, const SockAddr &remote,
               TransportEvents events, const Options &options);
    ~Connection() override;

    Status initClient(std::shared_ptr<TlsCredentials> credentials);
    Status initServer(const ngtcp2_pkt_hd &initial, std::shared_ptr<TlsCredentials> credentials);

    // TransportConnection (the host's calls).
    Result<uint64_t> openStream() override;
    Result<std::size_t> send(uint64_t streamId, std::span<const uint8_t> data,
                             uint32_t flags) override;
    Status consume(uint64_t streamId, std::size_t bytes) override;
    Status resetStream(uint64_t streamId, uint64_t appError) override;
    void close(uint64_t appError) override;

    // From the endpoint.
    void onPacket(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t now);
    void afterInput();
    void onSendReady();
    // Ends the connection now (endpoint destroyed, plugin shutting down), reporting
    // on_closed if the host knows it. Sends a CONNECTION_CLOSE on a best-effort basis.
    void terminate(lanspread_status status, const std::string &reason);
    // Nothing more to do: the endpoint may free it.
    bool dead() const { return _state == State::Dead; }
    bool hostKnows() const { return !_server || _reportedConnected; }
    // An incoming connection whose handshake is still under way (the pending-handshake caps).
    bool pendingIncoming() const { return _server && _state == State::Handshaking; }
    const SockAddr &remote() const { return _remote; }
    // The connection was touched in the current receive batch (endpoint bookkeeping).
    bool touched = false;

    // Starts a TLS key update now (ngtcp2 also starts them by itself before the AEAD's
    // confidentiality limit). E_AGAIN while the previous one is unconfirmed. For tests.
    Status initiateKeyUpdate();

    // Send-buffer figures (tests and stats).
    std::size_t bufferedBytes() const { return _connBuffered; }
    std::string describeStats() const;

  private:
    enum class State { Handshaking, Established, Closing, Dead };

    struct Stream {
        int64_t id = 0;
        SendBuffer tx;
        bool finRequested = false;    // the host's send() carried FIN (all bytes taken)
        bool finSent = false;         // ngtcp2 took the FIN into a packet
        bool writeClosed = false;     // reset, stopped by the peer, or closed: no more sending
        bool flowBlocked = false;     // the peer's stream window is full
        bool queued = false;          // in _sendQueue
        bool wantWritable = false;    // send() took less than offered: on_writable is due
        bool closed = false;          // ngtcp2 closed it
        bool recvEnded = false;       // FIN or RESET_STREAM delivered to the host
        bool abandonReported = false; // the host was told the peer reset or stopped it (0x2)
        uint64_t delivered = 0;       // bytes given to on_stream_data
        uint64_t consumed = 0;        // bytes the host reported with consume()
    };

    // ngtcp2 callbacks (user_data = this).
    static int cbHandshakeCompleted(ngtcp2_conn *, void *);
    static int cbRecvStreamData(ngtcp2_conn *, uint32_t, int64_t, uint64_t, const uint8_t *,
                                std::size_t, void *, void *);
    static int cbAckedStreamDataOffset(ngtcp2_conn *, int64_t, uint64_t, uint64_t, void *, void *);
    static int cbStreamOpen(ngtcp2_conn *, int64_t, void *);
    static int cbStreamClose(ngtcp2_conn *, uint32_t, int64_t, uint64_t, void *, void *);
    static int cbStreamReset(ngtcp2_conn *, int64_t, uint64_t, uint64_t, void *, void *);
    static int cbStreamStopSending(ngtcp2_conn *, int64_t, uint64_t, void *, void *);
    static int cbExtendMaxLocalStreamsBidi(ngtcp2_conn *, uint64_t, void *);
    static int cbExtendMaxStreamData(ngtcp2_conn *, int64_t, uint64_t, void *, void *);
    static void cbRand(uint8_t *, std::size_t, const ngtcp2_rand_ctx *);
    static int cbGetNewConnectionId(ngtcp2_conn *, ngtcp2_cid *, uint8_t *, std::size_t, void *);
    static int cbRemoveConnectionId(ngtcp2_conn *, const ngtcp2_cid *, void *);
    static int cbRecvStatelessReset(ngtcp2_conn *, const ngtcp2_pkt_stateless_reset *, void *);
    static ngtcp2_conn *cbGetConn(ngtcp2_crypto_conn_ref *ref);

    Status create(const ngtcp2_cid &dcid, const ngtcp2_cid &scid, const ngtcp2_pkt_hd *initial,
                  std::shared_ptr<TlsCredentials> credentials);
    void fillSettings(ngtcp2_settings &settings) const;
    void fillParams(ngtcp2_transport_params &params) const;

    bool handshakeCompleted();
    Stream *findStream(int64_t id);
    Stream *remoteStream(int64_t id); // finds, or creates and reports on_stream_opened
    void enqueue(Stream &s);
    void dropStreamTx(Stream &s);
    void maybeForget(Stream &s);
    std::size_t roomFor(const Stream &s) const;

    void processDeferred();
    bool writeOut(); // true: stopped at the burst limit with more to send
    bool flushBatch(const SockAddr &to, const uint8_t *data, std::size_t len, std::size_t segment);
    void notifyWritable();
    void updateTimer();
    void onExpiry();
    void scheduleFlush();
    void runAfterActivity();

    void fail(int liberr);
    void closeWith(const ngtcp2_connection_close_error &error, lanspread_status status,
                   const std::string &reason);
    void enterDraining();
    void reportConnected();
    void reportClosed(lanspread_status status, const std::string &reason);
    void setDead();
    uint64_t now() const { return static_cast<uint64_t>(host().now().count()); }

    Endpoint &_endpoint;
    bool _server;
    SockAddr _local;
    SockAddr _remote;
    TransportEvents _events;
    Options _options;
    State _state = State::Handshaking;

    ngtcp2_conn *_conn = nullptr;
    ngtcp2_crypto_conn_ref _connRef{};
    std::unique_ptr<TlsSession> _tls;
    std::vector<ngtcp2_cid> _cids; // registered with the endpoint
    std::size_t _maxPayload = 1200;

    std::unordered_map<int64_t, std::unique_ptr<Stream>> _streams;
    std::deque<int64_t> _sendQueue;
    std::set<int64_t> _wantWritable;
    std::size_t _connBuffered = 0;
    bool _openBlocked = false;
    bool _openReady = false;

    int _inNgtcp2 = 0;
    bool _hostClosed = false; // the host called close(): no callbacks but on_closed
    bool _closeRequested = false;
    uint64_t _closeAppError = 0;
    struct DeferredReset {
        int64_t id;
        uint64_t appError;
        bool writeOnly; // the answer to STOP_SENDING
    };
    std::vector<DeferredReset> _deferredResets;
    bool _inActivity = false; // runAfterActivity() will write before returning
    std::string _failReason;  // why a callback of ours failed the connection
    bool _statelessReset = false;

    bool _reportedConnected = false;
    bool _reportedClosed = false;
    Fingerprint _peerFingerprint{};

    bool _ioBlocked = false;
    std::vector<uint8_t> _txBuffer;
    std::vector<uint8_t> _closePacket;
    uint64_t _closingDeadline = 0;
    uint64_t _closingPacketsSeen = 0;

    // The expiry timer is re-armed lazily: only when ngtcp2's deadline moves earlier than
    // the pending one (a later deadline lets the pending timer fire early and re-arm).
    // Re-arming is a timerfd_settime in the kernel's reactor, and ngtcp2's deadline moves on
    // every ACK.
    Timer _expiryTimer;
    uint64_t _expiryDeadline = UINT64_MAX;
    // "Write on the next loop turn" goes through host->post(), not a zero-delay timer; the
    // posted task holds only a weak reference, since posts cannot be cancelled.
    std::shared_ptr<Connection *> _self;
    bool _flushPosted = false;

    // Counters for describeStats() (the debug line at the end of a connection).
    struct Counters {
        uint64_t timerArms = 0, timerFires = 0, flushPosts = 0, writeCalls = 0, packetsOut = 0,
                 sendCalls = 0, packetsIn = 0, streamLosses = 0;
    } _counters;
    // Packets sent before we start a key update ourselves (RFC 9001 §6.6): half of AES-GCM's
    // confidentiality limit of 2^23.
    static constexpr uint64_t kKeyUpdatePackets = 1ull << 22;
    uint64_t _keyUpdateAt = kKeyUpdatePackets;
};

} // namespace lanspread::plugins::quic
