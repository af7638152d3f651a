// transport-quic tests: an in-memory datagram network behind the plugin's PacketIo seam
// (the ngtcp2 simulator idea): two or more endpoints in one process, no sockets and no
// sleeps. Datagrams are delivered by host timers on the FakeHost's manual clock after a
// one-way delay plus seeded jitter (which reorders them), may be dropped with a seeded
// probability, and are refused above the link MTU like a DF-marked datagram would be.
#pragma once

#include "packet_io.hpp"

#include <lanspread/host.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace lanspread::plugins::quic::testing {

struct LinkConfig {
    uint64_t delayNs = 100'000; // one way
    uint64_t jitterNs = 0;      // extra uniform delay in [0, jitter]: reorders
    double loss = 0.0;          // drop probability per datagram
    uint64_t seed = 1;
    std::size_t mtu = 1500; // IP MTU; UDP payload = mtu - 28
    std::size_t maxSegments = 64;
    // A switch's output port in front of every receiver: drains rateBytesPerSec (0 = no
    // limit) and holds at most queueBytes waiting (0 = unbounded); tail drop beyond that.
    uint64_t rateBytesPerSec = 0;
    uint64_t queueBytes = 0;
};

class MemNetwork {
  public:
    struct Stats {
        uint64_t sent = 0;
        uint64_t delivered = 0;
        uint64_t dropped = 0;
        uint64_t reordered = 0; // delivered before a datagram its port sent earlier
        uint64_t bytes = 0;
        uint64_t queueDrops = 0; // of `dropped`: tail drops at a full output queue
    };

    MemNetwork(const Host &host, LinkConfig config);
    ~MemNetwork();
    MemNetwork(const MemNetwork &) = delete;
    MemNetwork &operator=(const MemNetwork &) = delete;

    // For QuicTransport::setPacketIoFactory. A wildcard bind gets 10.0.0.<n>; port 0 an
    // ephemeral port.
    PacketIoFactory factory();

    LinkConfig &config() { return _config; }
    const Stats &stats() const { return _stats; }
    // Drops everything from now on (a partition) or lifts it.
    void setPartitioned(bool on) { _partitioned = on; }

  private:
    class Port;
    struct InFlight {
        uint64_t deliverAt;
        uint64_t sequence;
        SockAddr from;
        std::string to;
        std::vector<uint8_t> bytes;
        bool operator>(const InFlight &o) const {
            return deliverAt != o.deliverAt ? deliverAt > o.deliverAt : sequence > o.sequence;
        }
    };

    void transmit(Port &from, const SockAddr &to, const uint8_t *data, std::size_t len,
                  std::size_t segment);
    void arm();
    void deliverDue();

    Host _host;
    LinkConfig _config;
    std::mt19937_64 _rng;
    std::map<std::string, Port *> _ports;
    std::priority_queue<InFlight, std::vector<InFlight>, std::greater<InFlight>> _queue;
    std::map<std::string, uint64_t> _egressFreeAt; // per receiver: when its port is idle
    uint64_t _sequence = 0;
    unsigned _nextHost = 1;
    uint16_t _nextPort = 40000;
    Timer _timer;
    uint64_t _timerAt = UINT64_MAX;
    bool _partitioned = false;
    Stats _stats;
};

} // namespace lanspread::plugins::quic::testing
