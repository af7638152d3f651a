// transport-quic: an endpoint is one PacketIo (a UDP socket, or an in-memory port in tests)
// and the connections that use it. A listening endpoint accepts Initial packets and routes
// the rest by destination connection id; a client endpoint (one per connect()) carries one
// connection. Endpoints and connections are freed only by the plugin's reaper (a zero-delay
// timer), never from inside their own callbacks.
#pragma once

#include "connection.hpp"
#include "options.hpp"
#include "packet_io.hpp"
#include "tls.hpp"

#include <lanspread/kinds/transport.hpp>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lanspread::plugins::quic {

class Endpoint;

// The plugin side of an endpoint: told when there may be something to free.
class EndpointOwner {
  public:
    virtual ~EndpointOwner() = default;
    virtual void scheduleReap() = 0;
};

class Endpoint final : public PacketReceiver {
  public:
    Endpoint(EndpointOwner &owner, const Host &host, bool server, const Options &options,
             std::unique_ptr<PacketIo> io, std::shared_ptr<TlsCredentials> credentials,
             TransportEvents events);
    ~Endpoint() override;
    Endpoint(const Endpoint &) = delete;
    Endpoint &operator=(const Endpoint &) = delete;

    // Client endpoints: starts the one connection (its first flight goes out on the next
    // loop turn, so on_closed can never run inside connect()).
    Result<Connection *> connect(const SockAddr &remote);
    // Terminates every connection (on_closed for those the host knows) and stops receiving.
    void shutdown(lanspread_status status, const std::string &reason);
    bool isShutdown() const { return _shutdown; }
    bool isServer() const { return _server; }
    // Frees dead connections. True when the endpoint itself may go (client with no
    // connection left, or shut down).
    bool reap();

    const Host &host() const { return _host; }
    PacketIo &io() { return *_io; }
    EndpointOwner &owner() { return _owner; }
    std::size_t connectionCount() const { return _connections.size(); }
    // Client Initials dropped by the pending-handshake caps (tests).
    uint64_t refusedInitials() const { return _refusedTotal; }

    void addCid(const ngtcp2_cid &cid, Connection *connection);
    void removeCid(const ngtcp2_cid &cid);
    void makeResetToken(uint8_t *token, const ngtcp2_cid &cid) const;
    void markTouched(Connection *connection);

    // PacketReceiver
    void onDatagrams(const SockAddr &from, const uint8_t *data, std::size_t len,
                     std::size_t segmentSize) override;
    void onReceiveDone() override;
    void onSendReady() override;

  private:
    struct CidKey {
        std::array<uint8_t, NGTCP2_MAX_CIDLEN> bytes{};
        uint8_t len = 0;
        bool operator==(const CidKey &o) const {
            return len == o.len && std::memcmp(bytes.data(), o.bytes.data(), len) == 0;
        }
    };
    struct CidHash {
        std::size_t operator()(const CidKey &k) const noexcept;
    };
    static CidKey key(const uint8_t *data, std::size_t len);

    void onPacket(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t now);
    void accept(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t now);
    void sendStatelessReset(const SockAddr &to, const ngtcp2_version_cid &vc, std::size_t len,
                            uint64_t now);
    // Whether a new connection from `from` would exceed max_pending_handshakes(_per_address);
    // why, when it would.
    bool overPendingCap(const SockAddr &from, std::string &why) const;
    // A refused Initial: counted, and logged at most once a second (a flood of Initials must
    // not become a log flood), the count of the second in one line.
    void noteRefusal(const SockAddr &from, const std::string &why);
    void logRefusals();

    EndpointOwner &_owner;
    Host _host;
    bool _server;
    Options _options;
    std::unique_ptr<PacketIo> _io;
    std::shared_ptr<TlsCredentials> _credentials;
    TransportEvents _events;
    bool _shutdown = false;
    std::vector<std::unique_ptr<Connection>> _connections;
    std::unordered_map<CidKey, Connection *, CidHash> _cids;
    std::vector<Connection *> _touched;
    uint64_t _batchNow = 0;
    uint64_t _refusedTotal = 0;
    uint64_t _refusedUnlogged = 0;
    std::string _refusedLast, _refusedWhy;
    std::optional<std::chrono::nanoseconds> _refusalLoggedAt;
    Timer _refusalTimer;
    // Stateless resets sent, rate-limited (a token bucket refilled per second).
    uint64_t _resetBudgetAt = 0;
    unsigned _resetBudget = 0;
};

} // namespace lanspread::plugins::quic
