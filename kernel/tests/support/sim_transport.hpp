// Kernel tests: a simulated network behind the SDK's transport interface
// (lanspread.transport/1), so several PeerNetworks — and whatever runs on top of them, such as
// download engines — talk to each other inside one process, on one virtual-time reactor, with
// no sockets and no sleeps. The idea is the one of libtorrent's simulation/ and of the QUIC
// transport's mem_network: simulated time, not wall time, so a 10-minute re-dial window or a
// 10-second liveness timeout takes milliseconds and every run takes the same path.
//
// Using it:
//   host::Reactor reactor(host::Reactor::Clock::Virtual);
//   host::WorkerPool workers(2);
//   holdTimeForWorkers(reactor, workers);       // disk jobs finish before time moves
//   SimNetwork net(reactor);
//   peers::PeerNetwork a(reactor, workers, busA, idA, "a", delegateA);
//   a.start(net.transport("10.0.0.1"), "0.0.0.0:0");  // each ip is one simulated host
//   ...
//   a.connect(b.listenAddr() with the wildcard replaced, "connect", done);
//   CPPUNIT_ASSERT(runUntil(reactor, [&] { return connected; }));
//
// The model:
//   - Hosts are named by IPv4 address; "127.0.0.1" means the dialling host itself.
//     listen() on "0.0.0.0:0" (or "<ip>:0") gets port 40000, 40001, ... of that host;
//     local_address() reports the bind host as given, so a wildcard listener says
//     "0.0.0.0:<port>" as a real one does. Outgoing connections get their own ports.
//   - A connection handshakes in 1.5 round trips: the dialler's on_connected after one, the
//     listener's after one and a half. The key fingerprint each side reports is the SHA-256
//     of the other's certificate's SubjectPublicKeyInfo, as the real transports report it.
//     Dialling a port nobody listens on is refused ("connection refused"); dialling an
//     address with no host, or a crashed host, meets silence (the kernel's handshake
//     timeout ends it).
//   - Streams are reliable and ordered, QUIC style (ids 4n from the dialler, 4n+1 from the
//     listener); a stream appears at the other side with its first data. Each stream has a
//     receive window (streamWindow(), 1 MiB): send() accepts at most what the reader has not
//     yet consume()d, and on_writable follows once it has. Data travels in segments of at
//     most SimLink::segmentBytes.
//   - Every direction between two hosts is one link: it delivers after latencyNs and, with
//     bytesPerSecond set, no faster than that (the sender's port serialises). Each
//     connection's traffic arrives in order; with connectionJitterNs, different
//     connections' traffic need not.
//   - close() reports on_closed locally before it returns ("closed locally (application
//     error 0x..)") and at the other end one latency later ("closed by <addr> with
//     application error 0x.."), the texts of the QUIC transport. There is no idle timeout and
//     no keep-alive: liveness is the kernel's own business, which is what the tests check.
//
// Faults (call them between runs or from reactor callbacks):
//   - setPartitioned(a, b, true): everything between the two hosts waits at the link, like
//     packets a transport keeps retransmitting; on heal it arrives in order. A close sent
//     across a partition is lost, so each side finds out by its own timeout.
//   - crash(ip): the host falls silent for good (kill -9 under QUIC): nothing it sends
//     arrives and nothing reaches it. Its own objects still get on_closed when they close.
//   - breakConnections(a, b, reason): every connection between the two hosts fails at both
//     ends on the next loop turn with LANSPREAD_E_IO and the reason (a transport error).
//
// Thread: the reactor's (or the test's while the reactor is not running).
#pragma once

#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/peers/network.hpp>
#include <lanspread/kinds/transport.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lanspread::kernel::testing {

constexpr uint64_t kSimMs = 1'000'000ull;
constexpr uint64_t kSimSeconds = 1'000'000'000ull;

// One direction between two hosts.
struct SimLink {
    uint64_t latencyNs = 200'000; // one way
    double bytesPerSecond = 0;    // 0 = as fast as the reactor turns
    std::size_t segmentBytes = 64u << 10;
    // Each connection sending on this link gets its own extra delay, uniform in [0, this]
    // (seeded): connections between the same two hosts overtake one another, as their
    // retransmissions would make them, while each stays in order.
    uint64_t connectionJitterNs = 0;
};

class SimNetwork {
  public:
    struct Traffic {
        uint64_t streamBytes = 0;  // stream payload delivered
        uint64_t segments = 0;     // deliveries of any kind (data, credit, handshake, close)
        uint64_t lastDataAtNs = 0; // when stream bytes last arrived (0: never)
    };

    // seed: for the connection jitter (the same seed, the same run).
    explicit SimNetwork(host::Reactor &reactor, SimLink defaults = {}, uint64_t seed = 1);
    ~SimNetwork(); // stops its timers; every PeerNetwork on it must be gone (or stopped)
    SimNetwork(const SimNetwork &) = delete;
    SimNetwork &operator=(const SimNetwork &) = delete;

    // The transport of host `ip` (created on first use), for PeerNetwork::start. pluginId
    // names it: a peer with two transports is a host on two SimNetworks (say UDP and TCP,
    // "x.quic" and "x.tls"), and faults on one network leave the other alone.
    peers::TransportRef transport(const std::string &ip, const std::string &pluginId = "sim");
    // The link from one host to another (created from the defaults on first use). Changes
    // apply to what is sent afterwards.
    SimLink &link(const std::string &from, const std::string &to);
    // The receive window of every stream opened afterwards.
    void setStreamWindow(std::size_t bytes) { _streamWindow = bytes; }
    std::size_t streamWindow() const { return _streamWindow; }

    void setPartitioned(const std::string &a, const std::string &b, bool partitioned);
    void crash(const std::string &ip);
    void breakConnections(const std::string &a, const std::string &b, const std::string &reason);

    // What crossed the link from one host to another so far.
    Traffic traffic(const std::string &from, const std::string &to) const;
    // Connections of host `ip` that are up (handshake done, not closed).
    std::size_t openConnections(const std::string &ip) const;
    // connect() calls made by host `ip` so far.
    std::size_t dials(const std::string &ip) const;

  private:
    struct Host;
    struct Endpoint;
    struct Conn;
    struct Stream;
    struct Link;
    friend struct SimTransportCalls;

    Host &host(const std::string &ip);
    Host *findHost(const std::string &ip);
    Link &linkState(const std::string &from, const std::string &to);
    // Queues `deliver` on the link from `from` to `to`, carrying `bytes` of payload; after
    // whatever `sender` queued before (nullptr: no connection's order to keep).
    void send(const std::string &from, const std::string &to, std::size_t bytes,
              std::function<void()> deliver, Conn *sender);
    void drawJitter(Conn &conn);
    void arm(Link &link);
    void pump(Link &link);
    bool partitioned(const std::string &a, const std::string &b) const;

    // Transport calls (SimTransportCalls forwards the C table here).
    lanspread_status listen(Host &host, const lanspread_transport_config &config,
                            const lanspread_transport_events *events, Endpoint *&out);
    void destroyEndpoint(Endpoint &endpoint);
    lanspread_status connect(Host &host, const lanspread_transport_config &config,
                             const std::string &remoteAddr,
                             const lanspread_transport_events *events, Conn *&out);
    lanspread_status openStream(Conn &conn, uint64_t &outStreamId);
    lanspread_status sendOn(Conn &conn, uint64_t streamId, const uint8_t *data, std::size_t len,
                            uint32_t flags, std::size_t &accepted);
    lanspread_status consume(Conn &conn, uint64_t streamId, std::size_t bytes);
    lanspread_status resetStream(Conn &conn, uint64_t streamId);
    void close(Conn &conn, uint64_t appError);

    void accept(Conn &client, const std::string &targetIp, uint16_t port);
    // The conn is gone at this end: reports on_closed if its host knew it.
    void endLocally(Conn &conn, lanspread_status status, const std::string &reason);
    void deliverData(Conn &to, uint64_t streamId, std::vector<uint8_t> bytes, bool fin);
    Stream *stream(Conn &conn, uint64_t streamId);

    host::Reactor &_reactor;
    SimLink _defaults;
    std::mt19937_64 _random;
    std::size_t _streamWindow = 1u << 20;
    std::map<std::string, std::unique_ptr<Host>> _hosts;
    std::map<std::pair<std::string, std::string>, std::unique_ptr<Link>> _links;
    std::set<std::pair<std::string, std::string>> _partitions; // (smaller ip, larger ip)
    std::vector<std::unique_ptr<Endpoint>> _endpoints;         // kept until the end: handles
    std::vector<std::unique_ptr<Conn>> _conns;                 // stay valid, calls fail cleanly
    std::shared_ptr<bool> _alive;
};

// Every worker-pool job finishes (and posts its result) before virtual time moves on.
void holdTimeForWorkers(host::Reactor &reactor, host::WorkerPool &workers);

// Runs the reactor until done() holds. False when it did not within virtualLimitNs of the
// reactor's time or wallLimit of real time (so a broken kernel fails the test instead of
// hanging it). Assertions belong after it returns: the loop swallows exceptions.
bool runUntil(host::Reactor &reactor, const std::function<bool()> &done,
              uint64_t virtualLimitNs = 3600 * kSimSeconds,
              std::chrono::milliseconds wallLimit = std::chrono::seconds(20));
// Runs the reactor for exactly `ns` of its time (negative checks: "nothing happens for 30
// s"). False only if the wall-clock guard ended it early.
bool runFor(host::Reactor &reactor, uint64_t ns,
            std::chrono::milliseconds wallLimit = std::chrono::seconds(20));

} // namespace lanspread::kernel::testing
