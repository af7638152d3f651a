// transport-quic tests: the kernel's side of the transport interface, recorded — a plugin
// instance loaded through its entry (lanspread_plugin_v1 -> init -> get_interface) on a
// FakeHost, a lanspread_transport_events table that records every callback, per-stream
// receive digests, an outbound queue per stream that honours partial send() and on_writable,
// and a driver for the FakeHost's manual reactor and clock.
#pragma once

#include "test_certs.hpp"
#include "transport_quic.hpp"

#include <lanspread/kinds/transport.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <nettle/sha2.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

// The plugin's one exported symbol (linked in from transport_quic_objects).
extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace lanspread::plugins::quic::testing {

using lanspread::testing::FakeHost;

// The plugin as the kernel sees it.
struct PluginInstance {
    explicit PluginInstance(FakeHost &host);
    ~PluginInstance();
    PluginInstance(const PluginInstance &) = delete;
    PluginInstance &operator=(const PluginInstance &) = delete;

    FakeHost &host;
    const lanspread_plugin_entry *entry = nullptr;
    void *state = nullptr;
    const lanspread_transport_v1 *api = nullptr;
    QuicTransport *impl = nullptr; // for the packet-I/O seam and introspection
};

// A lanspread_transport_config with its storage.
struct TransportSetup {
    TransportSetup(const TestIdentity &identity, std::string bindAddr);
    std::string bind;
    const TestIdentity *identity;
    lanspread_transport_config config{};
    const lanspread_transport_config *get() {
        config.bind_addr = bind.c_str();
        return &config;
    }
};

struct StreamRecord {
    uint64_t bytes = 0;
    bool fin = false;
    bool reset = false;
    sha256_ctx hash{};
    std::vector<uint8_t> kept; // only when Recorder::keepData
    StreamRecord() { sha256_init(&hash); }
    std::string digest() const; // hex SHA-256 of the bytes so far (does not finalise)
};

struct ConnRecord {
    lanspread_transport_conn *conn = nullptr;
    bool connected = false;
    bool closed = false;
    std::string remoteAddr;
    std::vector<uint8_t> fingerprint;
    lanspread_status closeStatus = LANSPREAD_OK;
    std::string closeReason;
    std::vector<uint64_t> opened; // streams the remote opened, in order
    std::map<uint64_t, StreamRecord> streams;
    uint64_t writableCalls = 0;
    uint64_t openReadyCalls = 0;
};

// Outbound bytes for one stream, pushed through send() as far as it accepts.
struct Outbound {
    std::vector<uint8_t> bytes; // literal bytes not yet accepted, starting at offset `base`
    uint64_t base = 0;
    uint64_t total = 0; // bytes to send
    uint64_t sent = 0;  // accepted so far
    bool fin = true;
    bool finSent = false;
    uint64_t seed = 0; // payload generator: pattern(seed, offset) when bytes is empty
};

// Deterministic pseudo-random payload: byte at `offset` of stream `seed`.
void fillPattern(uint64_t seed, uint64_t offset, uint8_t *out, std::size_t len);

class Recorder {
  public:
    explicit Recorder(std::string name);
    const lanspread_transport_events *events() const { return &_events; }

    // Policy.
    bool autoConsume = true; // consume() every delivered byte right away
    bool keepData = false;
    bool echo = false; // send every received byte back on the same stream (+FIN after FIN)
    const lanspread_transport_v1 *api = nullptr;

    // Hooks (run after recording).
    std::function<void(lanspread_transport_conn *, const lanspread_remote_identity *)> onConnected;
    std::function<void(lanspread_transport_conn *, uint64_t, const uint8_t *, std::size_t,
                       uint32_t)>
        onData;
    std::function<void(lanspread_transport_conn *, lanspread_status, const char *)> onClosed;

    std::map<lanspread_transport_conn *, ConnRecord> conns;
    std::vector<lanspread_transport_conn *> order; // by on_connected
    ConnRecord *first() { return order.empty() ? nullptr : &conns[order.front()]; }
    // The first connection; throws when there is none (a failed test, not a crash).
    ConnRecord &only();
    std::size_t connectedCount() const;
    std::size_t closedCount() const;

    // Queues `total` pattern bytes (+FIN) on a stream and pushes what send() takes.
    void queue(lanspread_transport_conn *conn, uint64_t stream, uint64_t total, uint64_t seed,
               bool fin = true);
    void queueBytes(lanspread_transport_conn *conn, uint64_t stream, std::vector<uint8_t> bytes,
                    bool fin);
    void pump(lanspread_transport_conn *conn, uint64_t stream);
    bool allSent() const;
    uint64_t bytesAccepted() const;
    lanspread_status lastSendStatus = LANSPREAD_OK;

  private:
    static void cbConnected(void *, lanspread_transport_conn *, const lanspread_remote_identity *);
    static void cbOpened(void *, lanspread_transport_conn *, uint64_t);
    static void cbData(void *, lanspread_transport_conn *, uint64_t, const uint8_t *, size_t,
                       uint32_t);
    static void cbWritable(void *, lanspread_transport_conn *, uint64_t);
    static void cbClosed(void *, lanspread_transport_conn *, lanspread_status, const char *);

    std::string _name;
    lanspread_transport_events _events{};
    std::map<std::pair<lanspread_transport_conn *, uint64_t>, Outbound> _out;
};

// Runs the fake reactor until pred() holds, jumping the manual clock to the next timer
// whenever a turn finds nothing to do. Gives up after limitNs of simulated time.
bool runUntil(FakeHost &host, const std::function<bool()> &pred, uint64_t limitNs);
constexpr uint64_t kSecond = 1'000'000'000ull;

// SHA-256 of pattern(seed) over [0, total), hex.
std::string patternDigest(uint64_t seed, uint64_t total);

} // namespace lanspread::plugins::quic::testing
