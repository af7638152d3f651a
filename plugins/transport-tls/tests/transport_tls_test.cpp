// transport-tls: the plugin through its C vtable (as the kernel drives it), one plugin
// instance per FakeHost, over real loopback TCP. Identities are made by the kernel, so the
// fingerprint each side reports is checked against the other side's kernel peer_id.
#include "transport_tls.hpp"

#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>

#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

using lanspread::testing::FakeHost;
namespace peers = lanspread::kernel::peers;
using namespace lanspread::plugins::tls;

namespace {

constexpr uint64_t kMs = 1'000'000;

const peers::Identity &identity(int which) {
    static const auto make = [](const char *name) {
        char pattern[] = "/tmp/tls-identity-XXXXXX";
        const std::string dir = mkdtemp(pattern);
        auto id = peers::Identity::loadOrCreate(dir, name);
        if (!id)
            throw std::runtime_error(id.status().describe());
        return id.value();
    };
    static const peers::Identity a = make("peer-a"), b = make("peer-b");
    return which == 0 ? a : b;
}

std::string hex(const std::vector<uint8_t> &bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

uint8_t pattern(uint64_t offset) {
    return static_cast<uint8_t>((offset * 2654435761u) >> 13);
}

struct StreamIn {
    uint64_t bytes = 0;
    bool fin = false, reset = false, patternOk = true;
    std::string text; // the first 4 KiB
};

// One peer: a FakeHost, the plugin loaded through its entry, and the host's callbacks
// recorded.
struct Side {
    explicit Side(const peers::Identity &who) : identity(who) {
        entry = lanspread_plugin_v1();
        if (entry->init(host.api(), &state) != LANSPREAD_OK)
            throw std::runtime_error("init failed");
        api = static_cast<const lanspread_transport_v1 *>(
            entry->get_interface(state, LANSPREAD_TRANSPORT_INTERFACE_ID));
        events.struct_size = sizeof events;
        events.user_data = this;
        events.on_connected = [](void *u, lanspread_transport_conn *c,
                                 const lanspread_remote_identity *r) {
            auto *s = static_cast<Side *>(u);
            s->conn = c;
            s->connected = true;
            s->remoteAddr = r->remote_addr;
            s->fingerprint.assign(r->key_fingerprint, r->key_fingerprint + r->key_fingerprint_len);
        };
        events.on_stream_opened = [](void *u, lanspread_transport_conn *, uint64_t id) {
            static_cast<Side *>(u)->opened.push_back(id);
        };
        events.on_stream_data = [](void *u, lanspread_transport_conn *c, uint64_t id,
                                   const uint8_t *d, size_t n, uint32_t flags) {
            auto *s = static_cast<Side *>(u);
            StreamIn &record = s->in[id];
            for (size_t i = 0; i < n; ++i) {
                if (record.text.size() < 4096)
                    record.text += static_cast<char>(d[i]);
                if (s->checkPattern && d[i] != pattern(record.bytes + i))
                    record.patternOk = false;
            }
            record.bytes += n;
            record.fin |= (flags & LANSPREAD_STREAM_FIN) != 0;
            record.reset |= (flags & LANSPREAD_STREAM_RESET) != 0;
            if (s->autoConsume && n > 0)
                s->api->consume(c, id, n);
            if (s->onData)
                s->onData(id);
        };
        events.on_writable = [](void *u, lanspread_transport_conn *, uint64_t id) {
            auto *s = static_cast<Side *>(u);
            ++s->writable;
            if (s->onWritable)
                s->onWritable(id);
        };
        events.on_closed = [](void *u, lanspread_transport_conn *, lanspread_status st,
                              const char *reason) {
            auto *s = static_cast<Side *>(u);
            s->closed = true;
            s->closeStatus = st;
            s->closeReason = reason;
            s->conn = nullptr;
        };
        config.struct_size = sizeof config;
        config.cert_der = identity.certDer.data();
        config.cert_der_len = identity.certDer.size();
        config.key_der = identity.keyDer.data();
        config.key_der_len = identity.keyDer.size();
    }
    ~Side() {
        if (endpoint != nullptr)
            api->destroy_endpoint(endpoint);
        entry->shutdown(state);
    }
    TlsTransport &impl() {
        return *dynamic_cast<TlsTransport *>(static_cast<lanspread::Plugin *>(state));
    }

    std::string listen() {
        config.bind_addr = "127.0.0.1:0";
        if (api->listen(state, &config, &events, &endpoint) != LANSPREAD_OK)
            throw std::runtime_error("listen failed");
        char buffer[64];
        size_t required = 0;
        api->local_address(endpoint, buffer, sizeof buffer, &required);
        return buffer;
    }
    void connect(const std::string &address) {
        config.bind_addr = "";
        lanspread_transport_conn *c = nullptr;
        if (api->connect(state, &config, address.c_str(), &events, &c) != LANSPREAD_OK)
            throw std::runtime_error("connect failed");
        conn = c;
    }
    // Sends pattern bytes [sent, total) on stream as far as send() takes them (+FIN at the end).
    void pushBulk(uint64_t stream) {
        std::vector<uint8_t> chunk(256 * 1024);
        while (conn != nullptr && bulkSent < bulkTotal) {
            const size_t n =
                static_cast<size_t>(std::min<uint64_t>(chunk.size(), bulkTotal - bulkSent));
            for (size_t i = 0; i < n; ++i)
                chunk[i] = pattern(bulkSent + i);
            size_t accepted = 0;
            const uint32_t flags = bulkSent + n == bulkTotal ? LANSPREAD_STREAM_FIN : 0;
            if (api->send(conn, stream, chunk.data(), n, flags, &accepted) != LANSPREAD_OK)
                return;
            bulkSent += accepted;
            if (accepted < n)
                return;
        }
    }

    const peers::Identity &identity;
    FakeHost host{"org.lanspread.transport.tls"};
    const lanspread_plugin_entry *entry = nullptr;
    void *state = nullptr;
    const lanspread_transport_v1 *api = nullptr;
    lanspread_transport_events events{};
    lanspread_transport_config config{};
    lanspread_transport_endpoint *endpoint = nullptr;
    lanspread_transport_conn *conn = nullptr;
    bool connected = false, closed = false, autoConsume = true, checkPattern = false;
    std::string remoteAddr, closeReason;
    std::vector<uint8_t> fingerprint;
    lanspread_status closeStatus = LANSPREAD_OK;
    std::vector<uint64_t> opened;
    std::map<uint64_t, StreamIn> in;
    uint64_t writable = 0, bulkSent = 0, bulkTotal = 0;
    std::function<void(uint64_t)> onWritable, onData;
};

// Turns both reactors until pred() holds or `seconds` of wall time pass.
bool runUntil(std::initializer_list<Side *> sides, const std::function<bool()> &pred,
              double seconds = 20) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::size_t ran = 0;
        for (Side *s : sides)
            ran += s->host.runOnce();
        if (ran == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

void advance(std::initializer_list<Side *> sides, uint64_t ns) {
    for (Side *s : sides)
        s->host.advance(ns);
}

std::size_t countLogs(const FakeHost &host, const std::string &text) {
    std::size_t n = 0;
    for (const auto &r : host.logs())
        n += r.message.find(text) != std::string::npos ? 1 : 0;
    return n;
}

// Whether the server closed a raw TCP connection (EOF or an error, not "nothing yet").
bool closedByServer(int fd) {
    char first = 0;
    const long n = ::recv(fd, &first, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int rawConnect(const std::string &address) {
    const auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0)
        throw std::runtime_error("raw connect failed");
    return fd;
}

} // namespace

class TransportTlsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TransportTlsTest);
    CPPUNIT_TEST(testHandshakeReportsFingerprintsBothWays);
    CPPUNIT_TEST(testStreamsBothWaysWithHalfCloseAndReset);
    CPPUNIT_TEST(testClientWithoutCertificateIsRefused);
    CPPUNIT_TEST(testPlainHttpIsRefusedWithOneLogLine);
    CPPUNIT_TEST(testIdleTimeoutAndKeepalive);
    CPPUNIT_TEST(testCloseReportsCodeAndReason);
    CPPUNIT_TEST(testBulkDoesNotStarveControlStream);
    CPPUNIT_TEST(testPeerThatStopsReadingCostsBoundedMemory);
    CPPUNIT_TEST(testPendingHandshakesAreCapped);
    CPPUNIT_TEST(testPendingHandshakesPerAddressAreCapped);
    CPPUNIT_TEST(testHandshakeRefusalsAreRateLimited);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testHandshakeReportsFingerprintsBothWays() {
        Side server(identity(0)), client(identity(1));
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        // Exactly the kernel's peer_id of the other side (SHA-256 of its SPKI DER).
        CPPUNIT_ASSERT_EQUAL(identity(1).peerId, hex(server.fingerprint));
        CPPUNIT_ASSERT_EQUAL(identity(0).peerId, hex(client.fingerprint));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:"), server.remoteAddr.substr(0, 10));
    }

    void testStreamsBothWaysWithHalfCloseAndReset() {
        Side server(identity(0)), client(identity(1));
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        uint64_t s1 = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.api->open_stream(client.conn, &s1));
        size_t accepted = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             client.api->send(client.conn, s1,
                                              reinterpret_cast<const uint8_t *>("hello"), 5,
                                              LANSPREAD_STREAM_FIN, &accepted));
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return server.in[s1].fin; }));
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), server.in[s1].text);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), server.opened.size());
        // Half-closed by the client; the server still answers on it.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             server.api->send(server.conn, s1,
                                              reinterpret_cast<const uint8_t *>("world"), 5,
                                              LANSPREAD_STREAM_FIN, &accepted));
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return client.in[s1].fin; }));
        CPPUNIT_ASSERT_EQUAL(std::string("world"), client.in[s1].text);
        // The server opens one too.
        uint64_t s2 = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, server.api->open_stream(server.conn, &s2));
        CPPUNIT_ASSERT(s2 != s1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             server.api->send(server.conn, s2,
                                              reinterpret_cast<const uint8_t *>("abc"), 3, 0,
                                              &accepted));
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return client.in[s2].bytes == 3; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), client.opened.size());
        // The client resets it: the server learns, and its calls on it fail.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.api->reset_stream(client.conn, s2, 77));
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return server.in[s2].reset; }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             server.api->send(server.conn, s2,
                                              reinterpret_cast<const uint8_t *>("x"), 1, 0,
                                              &accepted));
        CPPUNIT_ASSERT(!client.closed && !server.closed);
    }

    void testClientWithoutCertificateIsRefused() {
        Side server(identity(0));
        const std::string address = server.listen();
        std::atomic<bool> done{false};
        std::atomic<int> outcome{0}; // 1: the server let it talk, -1: refused
        std::thread raw([&] {
            wolfSSL_Init();
            WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
            wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
            WOLFSSL *ssl = wolfSSL_new(ctx);
            char alpn[] = "lanspread/1";
            wolfSSL_UseALPN(ssl, alpn, 11, WOLFSSL_ALPN_FAILED_ON_MISMATCH);
            const int fd = rawConnect(address);
            wolfSSL_set_fd(ssl, fd);
            int rc = wolfSSL_connect(ssl);
            if (rc == WOLFSSL_SUCCESS) {
                // TLS 1.3: the client finishes first; the server's verdict comes after.
                uint8_t buffer[256];
                rc = wolfSSL_read(ssl, buffer, sizeof buffer);
            }
            outcome = rc > 0 ? 1 : -1;
            wolfSSL_free(ssl);
            wolfSSL_CTX_free(ctx);
            ::close(fd);
            releaseThreadEccCache(); // this thread's handshake filled wolfSSL's ECC cache
            wolfSSL_Cleanup();
            done = true;
        });
        const bool finished = runUntil({&server}, [&] { return done.load(); });
        raw.join();
        CPPUNIT_ASSERT(finished);
        CPPUNIT_ASSERT_EQUAL(-1, outcome.load());
        CPPUNIT_ASSERT(!server.connected);
        CPPUNIT_ASSERT(runUntil(
            {&server}, [&] { return countLogs(server.host, "refused a connection") == 1; }));
    }

    void testPlainHttpIsRefusedWithOneLogLine() {
        Side server(identity(0));
        const std::string address = server.listen();
        const int fd = rawConnect(address);
        const char request[] = "GET / HTTP/1.1\r\nHost: lanspread\r\n\r\n";
        CPPUNIT_ASSERT(::send(fd, request, sizeof request - 1, 0) > 0);
        CPPUNIT_ASSERT(runUntil(
            {&server}, [&] { return countLogs(server.host, "refused a connection") > 0; }));
        // The server hung up (after at most a TLS alert).
        char buffer[512];
        long n = 0;
        while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
        }
        CPPUNIT_ASSERT_EQUAL(0L, n);
        ::close(fd);
        runUntil(
            {&server}, [] { return false; }, 0.2);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(server.host, "refused a connection"));
        CPPUNIT_ASSERT(!server.connected);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), server.impl().connectionCount());
    }

    void testIdleTimeoutAndKeepalive() {
        Side server(identity(0)), client(identity(1));
        for (Side *s : {&server, &client}) {
            s->host.setConfig("idle_timeout_ms", "2000");
            s->host.setConfig("keepalive_ms", "500");
        }
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        // Keep-alives hold an otherwise silent connection open well past the idle timeout.
        for (int i = 0; i < 40; ++i) {
            advance({&server, &client}, 250 * kMs);
            runUntil(
                {&server, &client}, [] { return false; }, 0.01);
        }
        CPPUNIT_ASSERT(!server.closed && !client.closed);
        // Without them, both sides give up after the idle timeout.
        for (Side *s : {&server, &client})
            s->host.setConfig("keepalive_ms", "0");
        Side server2(identity(0)), client2(identity(1));
        for (Side *s : {&server2, &client2}) {
            s->host.setConfig("idle_timeout_ms", "2000");
            s->host.setConfig("keepalive_ms", "0");
        }
        client2.connect(server2.listen());
        CPPUNIT_ASSERT(
            runUntil({&server2, &client2}, [&] { return server2.connected && client2.connected; }));
        advance({&server2, &client2}, 1900 * kMs);
        runUntil(
            {&server2, &client2}, [] { return false; }, 0.05);
        CPPUNIT_ASSERT(!server2.closed && !client2.closed);
        advance({&server2, &client2}, 200 * kMs);
        CPPUNIT_ASSERT(
            runUntil({&server2, &client2}, [&] { return server2.closed && client2.closed; }));
        // Both E_IO; the side whose timer fired first says why, the other saw the TCP end.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, client2.closeStatus);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, server2.closeStatus);
        CPPUNIT_ASSERT_MESSAGE(client2.closeReason + " / " + server2.closeReason,
                               (client2.closeReason + server2.closeReason).find("idle timeout") !=
                                   std::string::npos);
    }

    void testCloseReportsCodeAndReason() {
        Side server(identity(0)), client(identity(1));
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        client.api->close(client.conn, 3);
        CPPUNIT_ASSERT(client.closed); // before close() returned
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.closeStatus);
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return server.closed; }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, server.closeStatus);
        CPPUNIT_ASSERT(server.closeReason.find("application error 3") != std::string::npos);
        runUntil(
            {&server, &client}, [] { return false; }, 0.05);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), client.impl().connectionCount());
    }

    void testBulkDoesNotStarveControlStream() {
        Side server(identity(0)), client(identity(1));
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        server.checkPattern = true;
        uint64_t bulk = 0, control = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.api->open_stream(client.conn, &bulk));
        client.bulkTotal = 64ull << 20;
        client.onWritable = [&](uint64_t id) {
            if (id == bulk)
                client.pushBulk(bulk);
        };
        client.pushBulk(bulk);
        CPPUNIT_ASSERT(runUntil(
            {&server, &client}, [&] { return server.in[bulk].bytes >= (8u << 20); }, 120));
        // A small request on a second stream while the bulk one is in full flow.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.api->open_stream(client.conn, &control));
        const uint64_t bulkAtSend = server.in[bulk].bytes;
        size_t accepted = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             client.api->send(client.conn, control,
                                              reinterpret_cast<const uint8_t *>("ping?"), 5,
                                              LANSPREAD_STREAM_FIN, &accepted));
        uint64_t bulkAtArrival = 0;
        server.onData = [&](uint64_t id) {
            if (id == control && bulkAtArrival == 0)
                bulkAtArrival = server.in[bulk].bytes;
        };
        CPPUNIT_ASSERT(runUntil(
            {&server, &client}, [&] { return server.in[control].fin; }, 60));
        // What overtook it: the encrypted backlog (output_buffer_bytes) plus the sockets'
        // buffers, not the 56 MiB still to come.
        const uint64_t overtaken = bulkAtArrival - bulkAtSend;
        CPPUNIT_ASSERT_MESSAGE(std::to_string(overtaken), overtaken < (8u << 20));
        CPPUNIT_ASSERT(server.in[bulk].bytes < client.bulkTotal);
        CPPUNIT_ASSERT(runUntil(
            {&server, &client}, [&] { return server.in[bulk].fin; }, 240));
        CPPUNIT_ASSERT_EQUAL(client.bulkTotal, server.in[bulk].bytes);
        CPPUNIT_ASSERT(server.in[bulk].patternOk);
    }

    void testPeerThatStopsReadingCostsBoundedMemory() {
        Side server(identity(0)), client(identity(1));
        for (Side *s : {&server, &client}) {
            s->host.setConfig("stream_window_bytes", std::to_string(256u << 20));
            s->host.setConfig("conn_window_bytes", std::to_string(256u << 20));
            s->host.setConfig("send_buffer_bytes", std::to_string(1u << 20));
            s->host.setConfig("conn_send_buffer_bytes", std::to_string(2u << 20));
        }
        client.connect(server.listen());
        CPPUNIT_ASSERT(
            runUntil({&server, &client}, [&] { return server.connected && client.connected; }));
        uint64_t stream = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, client.api->open_stream(client.conn, &stream));
        client.bulkTotal = 1ull << 30;
        client.onWritable = [&](uint64_t) { client.pushBulk(stream); };
        client.pushBulk(stream);
        // The server's reactor never runs again: its socket is never read.
        uint64_t last = 0;
        int still = 0;
        std::size_t maxBuffered = 0;
        while (still < 200) {
            client.host.runOnce();
            maxBuffered =
                std::max(maxBuffered, client.impl().connections().front()->bufferedBytes());
            still = client.bulkSent == last ? still + 1 : 0;
            last = client.bulkSent;
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        CPPUNIT_ASSERT(client.bulkSent < client.bulkTotal); // it stalled ...
        // ... holding at most its send buffers + the encrypted backlog (+ one batch).
        CPPUNIT_ASSERT_MESSAGE(std::to_string(maxBuffered),
                               maxBuffered <= (2u << 20) + (256u << 10) + (192u << 10));
        CPPUNIT_ASSERT(!client.closed);
    }

    // max_pending_handshakes: silent TCP connections fill it; one more is closed at accept
    // (so an honest client too, while it is full), the refusals are logged at most once a
    // second with their count; a pending one that ends frees its place.
    // max_pending_handshakes_per_address: one address holds at most that many handshakes;
    // more are closed at accept, in one line a second. Loopback is not capped (every peer on a
    // machine comes from it): without capLoopbackForTests() the same connects all pend.
    void testPendingHandshakesPerAddressAreCapped() {
        Side server(identity(0));
        server.host.setConfig("max_pending_handshakes_per_address", "2");
        server.host.setConfig("handshake_timeout_ms", "600000");
        const std::string address = server.listen();
        std::vector<int> loopback;
        for (int i = 0; i < 4; ++i)
            loopback.push_back(rawConnect(address));
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 4; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), countLogs(server.host, "refused"));
        for (int fd : loopback)
            ::close(fd);
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 0; }));
        advance({&server}, 2000 * kMs); // the closes' own lines are in an older second

        server.impl().capLoopbackForTests();
        const std::size_t before = countLogs(server.host, "refused");
        std::vector<int> held;
        for (int i = 0; i < 2; ++i)
            held.push_back(rawConnect(address));
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 2; }));
        std::vector<int> over;
        for (int i = 0; i < 3; ++i)
            over.push_back(rawConnect(address));
        CPPUNIT_ASSERT(runUntil({&server}, [&] {
            for (int fd : over)
                if (!closedByServer(fd))
                    return false;
            return true;
        }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), server.impl().pendingHandshakes());
        for (int fd : held)
            CPPUNIT_ASSERT(!closedByServer(fd));
        const std::string why = ": 2 incoming handshakes from its address already in progress "
                                "(max_pending_handshakes_per_address)";
        CPPUNIT_ASSERT_EQUAL(before + 1, countLogs(server.host, "refused"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(server.host, why));
        advance({&server}, 1000 * kMs);
        CPPUNIT_ASSERT(runUntil(
            {&server}, [&] { return countLogs(server.host, "refused 2 connections") == 1; }));
        for (int fd : held)
            ::close(fd);
        for (int fd : over)
            ::close(fd);
    }

    // Handshakes that fail (here: garbage) are logged one by one up to 10 a second; the rest
    // of the second is counted in one line.
    void testHandshakeRefusalsAreRateLimited() {
        Side server(identity(0));
        const std::string address = server.listen();
        for (int i = 0; i < 15; ++i) {
            const int fd = rawConnect(address);
            const std::string garbage(64, '\xC3');
            CPPUNIT_ASSERT(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL) > 0);
            CPPUNIT_ASSERT(runUntil({&server}, [&] {
                return countLogs(server.host, "refused a connection from") +
                           server.impl().refusalLinesSuppressed() ==
                       std::size_t(i + 1);
            }));
            ::close(fd);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), countLogs(server.host, "refused a connection from"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(5), server.impl().refusalLinesSuppressed());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), countLogs(server.host, "more connections refused"));
        advance({&server}, 1000 * kMs);
        CPPUNIT_ASSERT(runUntil({&server}, [&] {
            return countLogs(server.host,
                             "5 more connections refused in the last second, not logged one by "
                             "one (the latest: refused a connection from 127.0.0.1:") == 1;
        }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(11), countLogs(server.host, "refused"));
    }

    void testPendingHandshakesAreCapped() {
        Side server(identity(0));
        server.host.setConfig("max_pending_handshakes", "3");
        server.host.setConfig("handshake_timeout_ms", "600000");
        const std::string address = server.listen();
        std::vector<int> silent;
        for (int i = 0; i < 3; ++i)
            silent.push_back(rawConnect(address));
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 3; }));
        runUntil(
            {&server}, [] { return false; }, 0.1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), countLogs(server.host, "refused"));
        for (int fd : silent)
            CPPUNIT_ASSERT(!closedByServer(fd));

        // Five more, while the clock stands still: all closed at once, one line now ...
        std::vector<int> over;
        for (int i = 0; i < 5; ++i)
            over.push_back(rawConnect(address));
        CPPUNIT_ASSERT(runUntil({&server}, [&] {
            for (int fd : over)
                if (!closedByServer(fd))
                    return false;
            return true;
        }));
        runUntil(
            {&server}, [] { return false; }, 0.1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), server.impl().pendingHandshakes());
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), server.impl().connectionCount());
        const std::string full = ": 3 incoming handshakes already in progress "
                                 "(max_pending_handshakes)";
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(server.host, "refused"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1),
                             countLogs(server.host, "refused a connection from 127.0.0.1:"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(server.host, full));
        // ... and the other four in one line when the second is up.
        advance({&server}, 1000 * kMs);
        CPPUNIT_ASSERT(runUntil(
            {&server}, [&] { return countLogs(server.host, "refused 4 connections") == 1; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), countLogs(server.host, full));
        for (int fd : over)
            ::close(fd);

        // An honest client while it is full: refused too.
        Side client(identity(1));
        client.connect(address);
        CPPUNIT_ASSERT(runUntil({&server, &client}, [&] { return client.closed; }));
        CPPUNIT_ASSERT(!client.connected && !server.connected);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, client.closeStatus);

        // A silent one leaves (its own refusal line): the next honest client gets in.
        ::close(silent[0]);
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 2; }));
        CPPUNIT_ASSERT_EQUAL(
            std::size_t(1),
            countLogs(server.host, "the peer closed the connection during the handshake"));
        Side client2(identity(1));
        client2.connect(address);
        CPPUNIT_ASSERT(
            runUntil({&server, &client2}, [&] { return server.connected && client2.connected; }));
        CPPUNIT_ASSERT_EQUAL(identity(1).peerId, hex(server.fingerprint));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), server.impl().pendingHandshakes());
        for (std::size_t i = 1; i < silent.size(); ++i)
            ::close(silent[i]);
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return server.impl().pendingHandshakes() == 0; }));
        // The refused honest client is in the count of the next line.
        advance({&server}, 1000 * kMs);
        CPPUNIT_ASSERT(runUntil({&server}, [&] { return countLogs(server.host, full) == 3; }));
        CPPUNIT_ASSERT(!server.closed && !client2.closed);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TransportTlsTest);
