// transport-tls: the plugin object (org.lanspread.transport.tls) — "lanspread.transport/1"
// as TLS 1.3 (wolfSSL) over TCP, streams multiplexed inside. It owns every connection
// (incoming ones from its listening endpoints and the ones connect() made); see README.md.
#pragma once

#include "connection.hpp"
#include "options.hpp"

#include <lanspread/kinds/transport.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace lanspread::plugins::tls {

class Listener;

class TlsTransport final : public TransportPlugin, public ConnectionOwner {
  public:
    explicit TlsTransport(Host host);
    ~TlsTransport() override;

    Result<std::unique_ptr<TransportEndpoint>> listen(const TransportConfig &config,
                                                      TransportEvents events) override;
    Result<TransportConnection *> connect(const TransportConfig &config,
                                          std::string_view remoteAddr,
                                          TransportEvents events) override;

    // ConnectionOwner
    void scheduleReap() override;
    void incomingHandshakeEnded() override;
    void refusedIncoming(const std::string &line) override;
    std::span<uint8_t> readBuffer() override { return _readBuffer; }

    // From Listener.
    void accepted(Listener *listener, Fd fd, const SockAddr &remote);
    void retireListener(Listener *listener);

    // Tests: live connection objects (closed ones go at the next reap).
    std::size_t connectionCount() const { return _connections.size(); }
    const std::list<std::unique_ptr<Connection>> &connections() const { return _connections; }
    // Tests: incoming connections still in their handshake (max_pending_handshakes counts these).
    std::size_t pendingHandshakes() const { return _pendingHandshakes; }
    // Tests: every test client connects from 127.0.0.1, which the per-address cap leaves
    // alone; this makes it count loopback addresses too.
    void capLoopbackForTests() { _capLoopback = true; }
    // Refusal lines held back by the rate limit so far (tests).
    uint64_t refusalLinesSuppressed() const { return _refusalLinesSuppressed; }

  private:
    Options readOptions(const TransportConfig &config) const;
    void reap();
    void refuseOverCap(const SockAddr &remote, const std::string &why);
    void logOverCapRefusals();
    // How many incoming handshakes from remote's address are pending.
    std::size_t pendingFrom(const SockAddr &remote) const;
    void logHeldRefusals();

    std::list<std::unique_ptr<Connection>> _connections;
    std::set<Listener *> _listeners;
    Timer _reapTimer;
    std::vector<uint8_t> _readBuffer = std::vector<uint8_t>(64 * 1024); // one read's chunk
    std::size_t _pendingHandshakes = 0;
    // Connections closed at accept because max_pending_handshakes were pending: logged at
    // most once a second (a flood must not become a log flood), every one counted in a line.
    uint64_t _overCapUnlogged = 0;
    std::string _overCapLast; // the address of the latest one
    std::string _overCapWhy;  // the latest one's reason
    std::optional<std::chrono::nanoseconds> _overCapLoggedAt;
    Timer _overCapTimer;
    bool _capLoopback = false;
    // Handshakes that failed or timed out (Connection::finish): at most kRefusalBurst lines a
    // second one by one, the rest of the second counted in one line.
    std::optional<std::chrono::nanoseconds> _refusalWindow;
    unsigned _refusalLines = 0;
    uint64_t _refusalsHeld = 0;
    uint64_t _refusalLinesSuppressed = 0;
    std::string _refusalLatest;
    Timer _refusalTimer;
};

} // namespace lanspread::plugins::tls
