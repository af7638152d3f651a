// transport-tls: one connection — a non-blocking TCP socket on the host reactor, a TLS 1.3
// session over it (tls_session), the stream multiplexer inside (stream_mux), its timers
// (handshake, idle, keep-alive), and the host's calls (open_stream, send, consume,
// reset_stream, close).
//
// Life: Connecting (TCP) -> Handshaking (TLS) -> AwaitSettings (the peer's SETTINGS frame,
// which proves it speaks this protocol) -> Open (on_connected reported) -> Closed. The
// memory is freed by the plugin's reaper, never from inside one of the connection's own
// callbacks; after Closed nothing of it touches the host again.
#pragma once

#include "options.hpp"
#include "stream_mux.hpp"
#include "tcp_io.hpp"
#include "tls_session.hpp"

#include <lanspread/host.hpp>
#include <lanspread/kinds/transport.hpp>

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lanspread::plugins::tls {

class ConnectionOwner {
  public:
    virtual ~ConnectionOwner() = default;
    virtual void scheduleReap() = 0; // a connection closed: free it on a later loop turn
    // An incoming connection left its handshake (connected, refused or timed out): it no
    // longer counts against max_pending_handshakes. Called exactly once per incoming one.
    virtual void incomingHandshakeEnded() = 0;
    // An incoming connection was refused before the host knew it (TLS failure, timeout, the
    // peer closing): the owner logs it, rate-limited (a flood is not a log flood).
    virtual void refusedIncoming(const std::string &line) = 0;
    // Where a connection reads its socket into: one buffer for all of them (every read runs
    // on the reactor thread, and the bytes are handed to the TLS session before anything else
    // happens), so an idle or half-open connection does not hold a read chunk of its own.
    virtual std::span<uint8_t> readBuffer() = 0;
};

class Connection final : public TransportConnection, private MuxEvents {
  public:
    // fd: connected (incoming) or connecting (outgoing). listener: the endpoint an incoming
    // connection came from (nullptr for connect()).
    Connection(Host host, ConnectionOwner &owner, const Options &options,
               std::shared_ptr<TlsContext> context, TransportEvents events, Fd fd, SockAddr remote,
               const void *listener);
    ~Connection() override;

    Status start();

    // TransportConnection
    Result<uint64_t> openStream() override;
    Result<std::size_t> send(uint64_t streamId, std::span<const uint8_t> data,
                             uint32_t flags) override;
    Status consume(uint64_t streamId, std::size_t bytes) override;
    Status resetStream(uint64_t streamId, uint64_t appError) override;
    void close(uint64_t appError) override;

    // Ends the connection without a goodbye beyond a best-effort CLOSE frame (endpoint
    // destroyed, plugin shutting down).
    void terminate(lanspread_status status, const std::string &reason);

    bool closed() const { return _state == State::Closed; }
    const void *listener() const { return _listener; }
    // An incoming connection still in its handshake (max_pending_handshakes counts these).
    bool pendingIncoming() const { return _incoming && !_reported && _state != State::Closed; }
    const SockAddr &remote() const { return _remote; }
    // Bytes this connection holds in its own buffers (tests: bounded whatever the peer does).
    std::size_t bufferedBytes() const;

  private:
    enum class State { Connecting, Handshaking, AwaitSettings, Open, Closed };

    void onSocket(uint32_t revents);
    void readSocket();
    void process();
    void advanceHandshake();
    void flush();
    bool encryptFrames();
    bool writeSocket();
    void updateWatch();
    void scheduleFlush();
    void tick();
    void armTimer(uint64_t delayNs);
    void protocolError(const std::string &text);
    void sayGoodbye(uint64_t appError, const std::string &reason);
    void finish(lanspread_status status, const std::string &reason);

    // MuxEvents
    void settingsReceived() override;
    void streamOpened(uint64_t stream) override;
    void streamData(uint64_t stream, std::span<const uint8_t> data, uint32_t flags) override;
    void peerClosed(uint64_t appError, std::string reason) override;
    bool halted() const override { return _state == State::Closed; }

    Host _host;
    ConnectionOwner &_owner;
    Options _options;
    TransportEvents _events;
    Fd _fd;
    SockAddr _remote;
    std::string _remoteText;
    const void *_listener;
    bool _incoming;
    bool _reported; // the host knows this connection (connect() returned it, or on_connected)
    State _state;
    std::shared_ptr<TlsContext> _context;
    std::unique_ptr<TlsSession> _tls;
    StreamMux _mux;
    FdWatch _watch;
    uint32_t _watchEvents = 0;
    Timer _timer;
    Timer _flushTimer;
    uint64_t _handshakeDeadline = 0;
    uint64_t _lastReceive = 0;
    uint64_t _lastSend = 0;
    std::vector<uint8_t> _plain;
};

} // namespace lanspread::plugins::tls
