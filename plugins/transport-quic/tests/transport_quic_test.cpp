// transport-quic unit tests: the plugin driven through its C vtable on the SDK's FakeHost, as
// the kernel drives it. Most tests run two endpoints in one process over the in-memory
// network (manual clock, seeded loss and reordering); one runs real UDP on 127.0.0.1.
#include "harness.hpp"
#include "mem_network.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <memory>

using namespace lanspread::plugins::quic;
using namespace lanspread::plugins::quic::testing;

namespace {

const TestIdentity &identityA() {
    static const TestIdentity id = TestIdentity::generate("peer-a");
    return id;
}
const TestIdentity &identityB() {
    static const TestIdentity id = TestIdentity::generate("peer-b");
    return id;
}
const TestIdentity &identityMallory() {
    static const TestIdentity id = TestIdentity::generate("peer-a"); // same name, other key
    return id;
}

// One FakeHost, one plugin instance, an in-memory network; a server (A) listening on
// 10.0.0.1:4433 and helpers to connect clients to it.
struct Sim {
    explicit Sim(LinkConfig link = {}, bool memory = true)
        : net(lanspread::Host(host.api()), link), plugin(host) {
        if (memory)
            plugin.impl->setPacketIoFactory(net.factory());
        server.api = client.api = plugin.api;
    }
    ~Sim() {
        if (endpoint)
            plugin.api->destroy_endpoint(endpoint);
        host.runUntilIdle(1000);
    }
    void listen(const TestIdentity &id, const std::string &bind = "10.0.0.1:4433") {
        TransportSetup setup(id, bind);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->listen(plugin.state, setup.get(),
                                                              server.events(), &endpoint));
        char buffer[64];
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             plugin.api->local_address(endpoint, buffer, sizeof buffer, &required));
        serverAddr = buffer;
    }
    lanspread_transport_conn *connect(const TestIdentity &id, Recorder &rec,
                                      const std::string &bind = "0.0.0.0:0") {
        TransportSetup setup(id, bind);
        lanspread_transport_conn *conn = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             plugin.api->connect(plugin.state, setup.get(), serverAddr.c_str(),
                                                 rec.events(), &conn));
        CPPUNIT_ASSERT(conn != nullptr);
        return conn;
    }
    bool run(const std::function<bool()> &pred, uint64_t limitNs = 30 * kSecond) {
        return runUntil(host, pred, limitNs);
    }
    bool handshake(lanspread_transport_conn *conn) {
        return run([&] { return client.conns[conn].connected && server.connectedCount() >= 1; });
    }

    // Declared before the plugin: the events tables outlive every connection.
    FakeHost host{"org.lanspread.transport.quic"};
    Recorder server{"server"};
    Recorder client{"client"};
    MemNetwork net;
    PluginInstance plugin;
    lanspread_transport_endpoint *endpoint = nullptr;
    std::string serverAddr;
};

Connection *impl(lanspread_transport_conn *conn) {
    return dynamic_cast<Connection *>(lanspread::TransportConnection::fromHandle(conn));
}

uint64_t openStream(Sim &sim, lanspread_transport_conn *conn) {
    uint64_t id = 0;
    CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.plugin.api->open_stream(conn, &id));
    return id;
}

} // namespace

class TransportQuicTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TransportQuicTest);
    CPPUNIT_TEST(testDescriptorAndConfigKeys);
    CPPUNIT_TEST(testHandshakeReportsFingerprintsBothWays);
    CPPUNIT_TEST(testUnexpectedCertificateIsReportedAsPresented);
    CPPUNIT_TEST(testStreamDataBothWaysWithFin);
    CPPUNIT_TEST(testThousandConcurrentStreams);
    CPPUNIT_TEST(testBackPressureBoundsSenderAndReceiver);
    CPPUNIT_TEST(testLossAndReorderingDeliverEveryByte);
    CPPUNIT_TEST(testIdleTimeoutClosesBothSides);
    CPPUNIT_TEST(testKeepaliveKeepsAnIdleConnection);
    CPPUNIT_TEST(testPartitionEndsInIdleTimeout);
    CPPUNIT_TEST(testCloseAndDestroyReportOnClosed);
    CPPUNIT_TEST(testStatelessResetAfterPeerRestart);
    CPPUNIT_TEST(testResetStreamReachesThePeer);
    CPPUNIT_TEST(testStreamLimitGivesAgainThenWritable);
    CPPUNIT_TEST(testApiErrors);
    CPPUNIT_TEST(testNothingLeftAfterShutdown);
    CPPUNIT_TEST(testHandshakeTimeoutWhenNobodyAnswers);
    CPPUNIT_TEST(testPendingHandshakesPerAddressAreCapped);
    CPPUNIT_TEST(testPendingHandshakesAreCapped);
    CPPUNIT_TEST(testKeyUpdatesMidTransfer);
    CPPUNIT_TEST(testRealUdpOnLoopback);
    CPPUNIT_TEST(testRealUdpOnIpv6Loopback);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testDescriptorAndConfigKeys() {
        const lanspread_plugin_entry *entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.transport.quic"),
                             std::string(entry->descriptor->id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_KIND_TRANSPORT, entry->descriptor->kind);
        bool hasCc = false;
        for (const char *const *k = entry->descriptor->config_keys; *k; ++k)
            hasCc = hasCc || std::string(*k).rfind("cc:", 0) == 0;
        CPPUNIT_ASSERT(hasCc);
        // A bad config value is reported, never fatal.
        FakeHost host;
        host.setConfig("cc", "vegas");
        host.setConfig("stream_window_bytes", "12abc");
        PluginInstance plugin(host);
        MemNetwork net(lanspread::Host(host.api()), {});
        plugin.impl->setPacketIoFactory(net.factory());
        Recorder rec("x");
        TransportSetup setup(identityA(), "10.0.0.9:1");
        lanspread_transport_endpoint *ep = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             plugin.api->listen(plugin.state, setup.get(), rec.events(), &ep));
        CPPUNIT_ASSERT(host.logged("cc=\"vegas\"", LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT(host.logged("stream_window_bytes=\"12abc\"", LANSPREAD_LOG_WARNING));
        plugin.api->destroy_endpoint(ep);
        host.runUntilIdle();
    }

    void testHandshakeReportsFingerprintsBothWays() {
        for (int direction = 0; direction < 2; ++direction) {
            const TestIdentity &serverId = direction == 0 ? identityA() : identityB();
            const TestIdentity &clientId = direction == 0 ? identityB() : identityA();
            Sim sim;
            sim.listen(serverId);
            auto *conn = sim.connect(clientId, sim.client, "10.0.0.2:5000");
            CPPUNIT_ASSERT(sim.handshake(conn));
            // Each side reports the key the other presented, computed here independently.
            CPPUNIT_ASSERT_EQUAL(toHex(serverId.fingerprintBytes()),
                                 toHex(sim.client.conns[conn].fingerprint));
            ConnRecord *incoming = &sim.server.only();
            CPPUNIT_ASSERT(incoming != nullptr);
            CPPUNIT_ASSERT_EQUAL(toHex(clientId.fingerprintBytes()), toHex(incoming->fingerprint));
            CPPUNIT_ASSERT_EQUAL(std::size_t(32), incoming->fingerprint.size());
            CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.1:4433"), sim.client.conns[conn].remoteAddr);
            CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2:5000"), incoming->remoteAddr);
            CPPUNIT_ASSERT(toHex(serverId.fingerprintBytes()) !=
                           toHex(clientId.fingerprintBytes()));
        }
    }

    void testUnexpectedCertificateIsReportedAsPresented() {
        // Client side: it expects A's key; the server presents Mallory's (same subject, other
        // key). The plugin reports exactly the presented key; the kernel (here: the test)
        // sees the mismatch and closes at once, before its Finished leaves, so the server
        // never hands that connection to its host.
        {
            Sim sim;
            sim.listen(identityMallory());
            const std::string expected = toHex(identityA().fingerprintBytes());
            sim.client.onConnected = [&](lanspread_transport_conn *c,
                                         const lanspread_remote_identity *remote) {
                std::vector<uint8_t> fp(remote->key_fingerprint,
                                        remote->key_fingerprint + remote->key_fingerprint_len);
                if (toHex(fp) != expected)
                    sim.plugin.api->close(c, 0x1d); // "not the peer I wanted"
            };
            auto *conn = sim.connect(identityB(), sim.client);
            CPPUNIT_ASSERT(sim.run([&] { return sim.client.conns[conn].closed; }));
            CPPUNIT_ASSERT_EQUAL(toHex(identityMallory().fingerprintBytes()),
                                 toHex(sim.client.conns[conn].fingerprint));
            CPPUNIT_ASSERT(toHex(sim.client.conns[conn].fingerprint) != expected);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.client.conns[conn].closeStatus);
            sim.run([] { return false; }, kSecond);
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), sim.server.connectedCount());
            CPPUNIT_ASSERT(sim.host.logged("ended before its handshake"));
        }
        // Server side: it expects B; Mallory connects. The server's kernel refuses, and the
        // client (already connected on its side) is told why.
        {
            Sim sim;
            sim.listen(identityA());
            const std::string expected = toHex(identityB().fingerprintBytes());
            std::string seen;
            sim.server.onConnected = [&](lanspread_transport_conn *c,
                                         const lanspread_remote_identity *remote) {
                seen = toHex(
                    std::vector<uint8_t>(remote->key_fingerprint,
                                         remote->key_fingerprint + remote->key_fingerprint_len));
                if (seen != expected)
                    sim.plugin.api->close(c, 0x1d);
            };
            auto *conn = sim.connect(identityMallory(), sim.client);
            CPPUNIT_ASSERT(sim.run([&] { return sim.client.conns[conn].closed; }));
            CPPUNIT_ASSERT_EQUAL(toHex(identityMallory().fingerprintBytes()), seen);
            CPPUNIT_ASSERT(seen != expected);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), sim.server.closedCount());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, sim.client.conns[conn].closeStatus);
            CPPUNIT_ASSERT_MESSAGE(sim.client.conns[conn].closeReason,
                                   sim.client.conns[conn].closeReason.find(
                                       "application error 0x1d") != std::string::npos);
        }
    }

    void testStreamDataBothWaysWithFin() {
        Sim sim;
        sim.listen(identityA());
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 3 * 1024 * 1024 + 17, 7);
        CPPUNIT_ASSERT(sim.run([&] {
            auto &s = sim.client.conns[conn].streams[sid];
            return s.fin;
        }));
        ConnRecord *incoming = &sim.server.only();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), incoming->opened.size());
        CPPUNIT_ASSERT_EQUAL(sid, incoming->opened[0]);
        const std::string want = patternDigest(7, 3 * 1024 * 1024 + 17);
        CPPUNIT_ASSERT(incoming->streams[sid].fin);
        CPPUNIT_ASSERT_EQUAL(want, incoming->streams[sid].digest());
        CPPUNIT_ASSERT_EQUAL(want, sim.client.conns[conn].streams[sid].digest());
        CPPUNIT_ASSERT_EQUAL(uint64_t(3 * 1024 * 1024 + 17),
                             sim.client.conns[conn].streams[sid].bytes);
    }

    void testThousandConcurrentStreams() {
        Sim sim;
        sim.listen(identityA());
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        constexpr int kStreams = 1000;
        std::vector<uint64_t> ids;
        for (int i = 0; i < kStreams; ++i) {
            ids.push_back(openStream(sim, conn));
            sim.client.queue(conn, ids.back(), 4096 + static_cast<uint64_t>(i) * 37,
                             static_cast<uint64_t>(i));
        }
        CPPUNIT_ASSERT(sim.run([&] {
            auto &streams = sim.client.conns[conn].streams;
            if (streams.size() < kStreams)
                return false;
            for (auto &[id, s] : streams)
                if (!s.fin)
                    return false;
            return true;
        }));
        ConnRecord *incoming = &sim.server.only();
        CPPUNIT_ASSERT_EQUAL(std::size_t(kStreams), incoming->opened.size());
        for (int i = 0; i < kStreams; ++i) {
            const uint64_t len = 4096 + static_cast<uint64_t>(i) * 37;
            const std::string want = patternDigest(static_cast<uint64_t>(i), len);
            CPPUNIT_ASSERT_EQUAL(want,
                                 incoming->streams[ids[static_cast<std::size_t>(i)]].digest());
            CPPUNIT_ASSERT_EQUAL(
                want, sim.client.conns[conn].streams[ids[static_cast<std::size_t>(i)]].digest());
        }
        // Every stream ended on both sides: nothing is buffered any more.
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), impl(conn)->bufferedBytes());
    }

    void testBackPressureBoundsSenderAndReceiver() {
        constexpr uint64_t kWindow = 1024 * 1024, kSendBuffer = 256 * 1024;
        Sim sim;
        sim.host.setConfig("stream_window_bytes", std::to_string(kWindow));
        sim.host.setConfig("conn_window_bytes", std::to_string(8 * kWindow));
        sim.host.setConfig("send_buffer_bytes", std::to_string(kSendBuffer));
        sim.listen(identityA());
        sim.server.autoConsume = false; // a reader that never consumes
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 64 * kWindow, 3);
        // Let it run to a standstill (simulated seconds).
        sim.run([] { return false; }, 3 * kSecond);
        ConnRecord *incoming = &sim.server.only();
        const uint64_t accepted = sim.client.bytesAccepted();
        const uint64_t delivered = incoming->streams[sid].bytes;
        CPPUNIT_ASSERT_EQUAL(kWindow, delivered); // exactly the window reached the reader
        CPPUNIT_ASSERT(accepted >= kWindow);
        CPPUNIT_ASSERT(accepted <= kWindow + kSendBuffer); // send() stopped accepting
        CPPUNIT_ASSERT(impl(conn)->bufferedBytes() <= kSendBuffer);
        const uint64_t writableBefore = sim.client.conns[conn].writableCalls;
        // The reader catches up: consume() widens the window and the sender resumes.
        sim.server.autoConsume = true;
        sim.plugin.api->consume(incoming->conn, sid, static_cast<size_t>(delivered));
        CPPUNIT_ASSERT(sim.run([&] { return incoming->streams[sid].fin; }));
        CPPUNIT_ASSERT(sim.client.conns[conn].writableCalls > writableBefore);
        CPPUNIT_ASSERT_EQUAL(patternDigest(3, 64 * kWindow), incoming->streams[sid].digest());
    }

    void testLossAndReorderingDeliverEveryByte() {
        LinkConfig link;
        link.delayNs = 2'000'000;
        link.jitterNs = 1'500'000; // packets overtake each other
        link.loss = 0.05;
        link.seed = 42;
        Sim sim(link);
        sim.listen(identityA());
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        std::vector<uint64_t> ids;
        for (uint64_t i = 0; i < 4; ++i) {
            ids.push_back(openStream(sim, conn));
            sim.client.queue(conn, ids.back(), 2 * 1024 * 1024 + i, 100 + i);
        }
        CPPUNIT_ASSERT(sim.run(
            [&] {
                for (uint64_t id : ids)
                    if (!sim.client.conns[conn].streams[id].fin)
                        return false;
                return true;
            },
            600 * kSecond));
        ConnRecord *incoming = &sim.server.only();
        for (uint64_t i = 0; i < 4; ++i) {
            const std::string want = patternDigest(100 + i, 2 * 1024 * 1024 + i);
            CPPUNIT_ASSERT_EQUAL(want, incoming->streams[ids[i]].digest());
            CPPUNIT_ASSERT_EQUAL(want, sim.client.conns[conn].streams[ids[i]].digest());
        }
        CPPUNIT_ASSERT(sim.net.stats().dropped > 100);
        CPPUNIT_ASSERT(sim.net.stats().reordered > 100);
    }

    void testIdleTimeoutClosesBothSides() {
        Sim sim;
        sim.host.setConfig("idle_timeout_ms", "2000");
        sim.host.setConfig("keepalive_ms", "0");
        sim.listen(identityA());
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t start = sim.host.now();
        CPPUNIT_ASSERT(
            sim.run([&] { return sim.client.conns[conn].closed && sim.server.closedCount() == 1; },
                    10 * kSecond));
        const uint64_t elapsed = sim.host.now() - start;
        CPPUNIT_ASSERT(elapsed >= 2 * kSecond && elapsed < 4 * kSecond);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.client.conns[conn].closeStatus);
        CPPUNIT_ASSERT(sim.client.conns[conn].closeReason.find("idle timeout") !=
                       std::string::npos);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.server.only().closeStatus);
    }

    void testKeepaliveKeepsAnIdleConnection() {
        Sim sim;
        sim.host.setConfig("idle_timeout_ms", "2000");
        sim.host.setConfig("keepalive_ms", "500");
        sim.listen(identityA());
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        sim.run([] { return false; }, 10 * kSecond);
        CPPUNIT_ASSERT(!sim.client.conns[conn].closed);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), sim.server.closedCount());
    }

    void testPartitionEndsInIdleTimeout() {
        Sim sim;
        sim.host.setConfig("idle_timeout_ms", "3000");
        sim.listen(identityA());
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 64 * 1024 * 1024, 9); // mid-transfer...
        sim.run([] { return false; }, kSecond / 100);
        sim.net.setPartitioned(true); // ...the cable is pulled
        CPPUNIT_ASSERT(
            sim.run([&] { return sim.client.conns[conn].closed && sim.server.closedCount() == 1; },
                    20 * kSecond));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.client.conns[conn].closeStatus);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.server.only().closeStatus);
    }

    void testCloseAndDestroyReportOnClosed() {
        Sim sim;
        sim.listen(identityA());
        Recorder second("second");
        second.api = sim.plugin.api;
        auto *conn = sim.connect(identityB(), sim.client);
        auto *conn2 = sim.connect(identityB(), second);
        CPPUNIT_ASSERT(sim.run([&] {
            return sim.client.conns[conn].connected && second.conns[conn2].connected &&
                   sim.server.connectedCount() == 2;
        }));
        // close(): on_closed comes (here before close() returns), the peer hears it.
        sim.plugin.api->close(conn, 0);
        CPPUNIT_ASSERT(sim.client.conns[conn].closed);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.client.conns[conn].closeStatus);
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.closedCount() == 1; }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, sim.server.conns[sim.server.order[0]].closeStatus);
        // destroy_endpoint(): every connection of it is closed before it returns.
        sim.plugin.api->destroy_endpoint(sim.endpoint);
        sim.endpoint = nullptr;
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), sim.server.closedCount());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED,
                             sim.server.conns[sim.server.order[1]].closeStatus);
        CPPUNIT_ASSERT(sim.run([&] { return second.conns[conn2].closed; }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, second.conns[conn2].closeStatus);
    }

    void testStatelessResetAfterPeerRestart() {
        Sim sim;
        sim.listen(identityA());
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        // The server dies without a word (its CONNECTION_CLOSE is lost)...
        sim.net.setPartitioned(true);
        sim.plugin.api->destroy_endpoint(sim.endpoint);
        sim.endpoint = nullptr;
        CPPUNIT_ASSERT(sim.run([&] { return sim.plugin.impl->endpointCount() == 1; }, kSecond));
        // ...and comes back with the same identity on the same address. The client's next
        // packet draws a stateless reset, so it learns now, not at the 30 s idle timeout.
        sim.net.setPartitioned(false);
        sim.listen(identityA());
        const uint64_t start = sim.host.now();
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 1000, 1);
        CPPUNIT_ASSERT(sim.run([&] { return sim.client.conns[conn].closed; }, 60 * kSecond));
        CPPUNIT_ASSERT(sim.host.now() - start < kSecond);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.client.conns[conn].closeStatus);
        CPPUNIT_ASSERT_MESSAGE(sim.client.conns[conn].closeReason,
                               sim.client.conns[conn].closeReason.find("reset the connection") !=
                                   std::string::npos);
    }

    void testResetStreamReachesThePeer() {
        Sim sim;
        sim.listen(identityA());
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 64 * 1024 * 1024, 5);
        ConnRecord *incoming = nullptr;
        CPPUNIT_ASSERT(sim.run([&] {
            incoming = sim.server.first();
            return incoming && incoming->streams[sid].bytes > 1024 * 1024;
        }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.plugin.api->reset_stream(conn, sid, 0x33));
        CPPUNIT_ASSERT(sim.run([&] { return incoming->streams[sid].reset; }));
        CPPUNIT_ASSERT(!incoming->streams[sid].fin);
        size_t accepted = 0;
        const uint8_t byte = 1;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             sim.plugin.api->send(conn, sid, &byte, 1, 0, &accepted));
        // The peer's sending side was stopped too: its send fails once that settles.
        sim.run([] { return false; }, kSecond);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             sim.plugin.api->send(incoming->conn, sid, &byte, 1, 0, &accepted));
        // The connection carries on.
        const uint64_t other = openStream(sim, conn);
        sim.client.queue(conn, other, 1000, 6);
        CPPUNIT_ASSERT(sim.run([&] { return incoming->streams[other].fin; }));
    }

    void testStreamLimitGivesAgainThenWritable() {
        Sim sim;
        sim.host.setConfig("max_streams", "4");
        sim.listen(identityA());
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        std::vector<uint64_t> ids;
        for (int i = 0; i < 4; ++i)
            ids.push_back(openStream(sim, conn));
        uint64_t fifth = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_AGAIN, sim.plugin.api->open_stream(conn, &fifth));
        for (uint64_t id : ids)
            sim.client.queue(conn, id, 100, id);
        CPPUNIT_ASSERT(sim.run([&] { return sim.client.conns[conn].openReadyCalls > 0; }));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.plugin.api->open_stream(conn, &fifth));
    }

    void testApiErrors() {
        Sim sim;
        sim.listen(identityA());
        // local_address: snprintf style.
        size_t required = 0;
        char tiny[4];
        CPPUNIT_ASSERT_EQUAL(
            LANSPREAD_E_BUFFER_TOO_SMALL,
            sim.plugin.api->local_address(sim.endpoint, tiny, sizeof tiny, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.1:4433").size() + 1, required);
        // Bad addresses.
        TransportSetup setup(identityB(), "0.0.0.0:0");
        lanspread_transport_conn *conn = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             sim.plugin.api->connect(sim.plugin.state, setup.get(), "nohost",
                                                     sim.client.events(), &conn));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             sim.plugin.api->connect(sim.plugin.state, setup.get(),
                                                     "10.0.0.1:99999", sim.client.events(), &conn));
        // No certificate.
        lanspread_transport_config bare{};
        bare.struct_size = sizeof bare;
        bare.bind_addr = "0.0.0.0:0";
        CPPUNIT_ASSERT(sim.plugin.api->connect(sim.plugin.state, &bare, "10.0.0.1:4433",
                                               sim.client.events(), &conn) != LANSPREAD_OK);
        // Address in use.
        TransportSetup again(identityA(), "10.0.0.1:4433");
        lanspread_transport_endpoint *ep = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.plugin.api->listen(sim.plugin.state, again.get(),
                                                                    sim.server.events(), &ep));
        // Streams that do not exist.
        conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        size_t accepted = 0;
        const uint8_t byte = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             sim.plugin.api->send(conn, 12345, &byte, 1, 0, &accepted));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, sim.plugin.api->consume(conn, 12345, 1));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, sim.plugin.api->reset_stream(conn, 12345, 1));
        // After FIN the stream takes no more bytes.
        const uint64_t sid = openStream(sim, conn);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, sim.plugin.api->send(conn, sid, &byte, 1,
                                                                LANSPREAD_STREAM_FIN, &accepted));
        CPPUNIT_ASSERT_EQUAL(size_t(1), accepted);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             sim.plugin.api->send(conn, sid, &byte, 1, 0, &accepted));
    }

    void testNothingLeftAfterShutdown() {
        FakeHost host;
        Recorder server("s"), client("c"); // the events tables outlive the plugin
        lanspread_transport_conn *conn = nullptr;
        {
            MemNetwork net(lanspread::Host(host.api()), {});
            PluginInstance plugin(host);
            plugin.impl->setPacketIoFactory(net.factory());
            server.api = client.api = plugin.api;
            TransportSetup listenSetup(identityA(), "10.0.0.1:4433");
            lanspread_transport_endpoint *ep = nullptr;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->listen(plugin.state, listenSetup.get(),
                                                                  server.events(), &ep));
            TransportSetup connectSetup(identityB(), "0.0.0.0:0");
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 plugin.api->connect(plugin.state, connectSetup.get(),
                                                     "10.0.0.1:4433", client.events(), &conn));
            CPPUNIT_ASSERT(runUntil(
                host, [&] { return client.connectedCount() == 1; }, kSecond));
            plugin.api->close(conn, 0);
            plugin.api->destroy_endpoint(ep);
            runUntil(
                host, [&] { return plugin.impl->endpointCount() == 0; }, 10 * kSecond);
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), plugin.impl->endpointCount());
            // A connection left open is closed (and reported) by shutdown.
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->listen(plugin.state, listenSetup.get(),
                                                                  server.events(), &ep));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 plugin.api->connect(plugin.state, connectSetup.get(),
                                                     "10.0.0.1:4433", client.events(), &conn));
            CPPUNIT_ASSERT(runUntil(
                host, [&] { return client.order.size() == 2; }, kSecond));
            plugin.api->destroy_endpoint(ep);
            server.api = client.api = nullptr;
        } // plugin shutdown with the client connection still open
        CPPUNIT_ASSERT(client.conns[conn].closed);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, client.conns[conn].closeStatus);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.timerCount());
    }

    void testHandshakeTimeoutWhenNobodyAnswers() {
        Sim sim;
        sim.host.setConfig("handshake_timeout_ms", "2000");
        sim.serverAddr = "10.0.0.77:4433"; // nobody there
        const uint64_t start = sim.host.now();
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.run([&] { return sim.client.conns[conn].closed; }, 10 * kSecond));
        CPPUNIT_ASSERT(!sim.client.conns[conn].connected);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, sim.client.conns[conn].closeStatus);
        CPPUNIT_ASSERT_MESSAGE(sim.client.conns[conn].closeReason,
                               sim.client.conns[conn].closeReason.find("timed out") !=
                                   std::string::npos);
        CPPUNIT_ASSERT(sim.host.now() - start >= 2 * kSecond);
    }

    // Five clients on one address dial at the same instant with
    // max_pending_handshakes_per_address = 2: two Initials are accepted, three dropped before
    // any crypto (one log line now, the rest of the second in one line later); a client on
    // another address is not held up; the dropped ones get in on their retransmission, once
    // the first two have completed. Loopback is not capped.
    void testPendingHandshakesPerAddressAreCapped() {
        Sim sim;
        sim.host.setConfig("max_pending_handshakes_per_address", "2");
        sim.listen(identityA());
        std::vector<lanspread_transport_conn *> same;
        for (int i = 0; i < 5; ++i)
            same.push_back(sim.connect(identityB(), sim.client, "10.0.0.50:0"));
        auto *other = sim.connect(identityB(), sim.client, "10.0.0.60:0");
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.connectedCount() >= 3; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), sim.server.connectedCount());
        CPPUNIT_ASSERT(sim.client.conns[other].connected);
        const auto refusals = [&](const std::string &text) {
            std::size_t n = 0;
            for (const auto &r : sim.host.logs())
                n += r.message.find(text) != std::string::npos ? 1 : 0;
            return n;
        };
        const std::string why = "2 incoming handshakes from its address already in progress "
                                "(max_pending_handshakes_per_address)";
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), refusals("refused a connection from 10.0.0.50:"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), refusals(why));
        CPPUNIT_ASSERT(sim.run([&] {
            for (auto *conn : same)
                if (!sim.client.conns[conn].connected)
                    return false;
            return true;
        }));
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.connectedCount() == 6; }));
        CPPUNIT_ASSERT(
            sim.run([&] { return refusals("connection attempts (Initials") == 1; }, 5 * kSecond));

        // Five from a loopback address at once: none refused.
        for (int i = 0; i < 5; ++i)
            sim.connect(identityB(), sim.client, "127.0.0.5:0");
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.connectedCount() >= 11; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), refusals(why));
    }

    // max_pending_handshakes caps incoming handshakes over all addresses.
    void testPendingHandshakesAreCapped() {
        Sim sim;
        sim.host.setConfig("max_pending_handshakes", "3");
        sim.listen(identityA());
        for (int i = 0; i < 5; ++i)
            sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.connectedCount() >= 3; }));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), sim.server.connectedCount());
        std::size_t lines = 0;
        for (const auto &r : sim.host.logs())
            lines += r.message.find("3 incoming handshakes already in progress "
                                    "(max_pending_handshakes)") != std::string::npos
                         ? 1
                         : 0;
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines);
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.connectedCount() == 5; }));
    }

    void testKeyUpdatesMidTransfer() {
        LinkConfig link; // 100 Mbit/s, so the transfer spans many key-update intervals
        link.delayNs = 1'000'000;
        link.rateBytesPerSec = 12'500'000;
        link.queueBytes = 256 * 1024;
        Sim sim(link);
        sim.listen(identityA());
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client);
        CPPUNIT_ASSERT(sim.handshake(conn));
        const uint64_t sid = openStream(sim, conn);
        constexpr uint64_t kBytes = 24 * 1024 * 1024;
        sim.client.queue(conn, sid, kBytes, 77);
        int updates = 0;
        // Both sides rotate keys a few times while data flows both ways.
        CPPUNIT_ASSERT(sim.run(
            [&] {
                Connection *c = impl(conn);
                Connection *s = impl(sim.server.only().conn);
                if (updates < 6 && (updates % 2 ? s : c)->initiateKeyUpdate())
                    ++updates;
                return sim.client.conns[conn].streams[sid].fin;
            },
            60 * kSecond));
        CPPUNIT_ASSERT(updates >= 4);
        const std::string want = patternDigest(77, kBytes);
        CPPUNIT_ASSERT_EQUAL(want, sim.server.only().streams[sid].digest());
        CPPUNIT_ASSERT_EQUAL(want, sim.client.conns[conn].streams[sid].digest());
    }

    void testRealUdpOnIpv6Loopback() {
        Sim sim(LinkConfig{}, /*memory=*/false);
        TransportSetup setup(identityA(), "[::1]:0");
        if (sim.plugin.api->listen(sim.plugin.state, setup.get(), sim.server.events(),
                                   &sim.endpoint) != LANSPREAD_OK) {
            std::fprintf(stderr, "(no IPv6 loopback here: skipped) ");
            return;
        }
        char buffer[80];
        size_t required = 0;
        sim.plugin.api->local_address(sim.endpoint, buffer, sizeof buffer, &required);
        sim.serverAddr = buffer;
        CPPUNIT_ASSERT(sim.serverAddr.rfind("[::1]:", 0) == 0);
        auto *conn = sim.connect(identityB(), sim.client, "[::1]:0");
        CPPUNIT_ASSERT(sim.handshake(conn));
        CPPUNIT_ASSERT(sim.server.only().remoteAddr.rfind("[::1]:", 0) == 0);
        const uint64_t sid = openStream(sim, conn);
        sim.client.queue(conn, sid, 4 * 1024 * 1024, 12);
        CPPUNIT_ASSERT(sim.run([&] { return sim.server.only().streams[sid].fin; }, 60 * kSecond));
        CPPUNIT_ASSERT_EQUAL(patternDigest(12, 4 * 1024 * 1024),
                             sim.server.only().streams[sid].digest());
    }

    void testRealUdpOnLoopback() {
        Sim sim(LinkConfig{}, /*memory=*/false);
        sim.listen(identityA(), "127.0.0.1:0");
        CPPUNIT_ASSERT(sim.serverAddr.rfind("127.0.0.1:", 0) == 0);
        CPPUNIT_ASSERT(sim.serverAddr != "127.0.0.1:0");
        sim.server.echo = true;
        auto *conn = sim.connect(identityB(), sim.client, "127.0.0.1:0");
        CPPUNIT_ASSERT(sim.handshake(conn));
        CPPUNIT_ASSERT_EQUAL(toHex(identityA().fingerprintBytes()),
                             toHex(sim.client.conns[conn].fingerprint));
        CPPUNIT_ASSERT_EQUAL(sim.serverAddr, sim.client.conns[conn].remoteAddr);
        CPPUNIT_ASSERT(sim.server.only().remoteAddr.rfind("127.0.0.1:", 0) == 0);
        const uint64_t sid = openStream(sim, conn);
        constexpr uint64_t kBytes = 32 * 1024 * 1024;
        sim.client.queue(conn, sid, kBytes, 11);
        CPPUNIT_ASSERT(
            sim.run([&] { return sim.client.conns[conn].streams[sid].fin; }, 120 * kSecond));
        const std::string want = patternDigest(11, kBytes);
        CPPUNIT_ASSERT_EQUAL(want, sim.server.only().streams[sid].digest());
        CPPUNIT_ASSERT_EQUAL(want, sim.client.conns[conn].streams[sid].digest());
        CPPUNIT_ASSERT(sim.host.watchCount() >= 2); // both sockets on the FakeHost reactor
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TransportQuicTest);
