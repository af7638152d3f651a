// transport-quic: one 1 GiB transfer through the in-memory network (1500-byte MTU, so
// ~750,000 QUIC packets), verified by SHA-256 at the receiver. Takes ~11 s in a Debug build
// and ~5 s in RelWithDebInfo on the 2-core test machine (ngtcp2 and GnuTLS are the system's
// optimised libraries either way). LANSPREAD_QUIC_BULK_MIB sets another size.
#include "harness.hpp"
#include "mem_network.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace lanspread::plugins::quic;
using namespace lanspread::plugins::quic::testing;

class TransportQuicBulkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TransportQuicBulkTest);
    CPPUNIT_TEST(testLargeTransferVerifiedBySha256);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testLargeTransferVerifiedBySha256() {
        uint64_t mib = 1024;
        if (const char *env = std::getenv("LANSPREAD_QUIC_BULK_MIB"))
            mib = std::strtoull(env, nullptr, 10);
        const uint64_t total = mib * 1024 * 1024;

        FakeHost host("org.lanspread.transport.quic");
        PluginInstance plugin(host);
        LinkConfig link;
        link.delayNs = 50'000; // 100 us RTT, a switched LAN
        MemNetwork net(lanspread::Host(host.api()), link);
        plugin.impl->setPacketIoFactory(net.factory());
        const TestIdentity a = TestIdentity::generate("a"), b = TestIdentity::generate("b");
        Recorder server("server"), client("client");
        server.api = client.api = plugin.api;
        TransportSetup listenSetup(a, "10.0.0.1:4433");
        lanspread_transport_endpoint *ep = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->listen(plugin.state, listenSetup.get(),
                                                              server.events(), &ep));
        TransportSetup connectSetup(b, "0.0.0.0:0");
        lanspread_transport_conn *conn = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             plugin.api->connect(plugin.state, connectSetup.get(), "10.0.0.1:4433",
                                                 client.events(), &conn));
        CPPUNIT_ASSERT(runUntil(
            host, [&] { return client.connectedCount() == 1; }, kSecond));
        uint64_t sid = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->open_stream(conn, &sid));

        const auto start = std::chrono::steady_clock::now();
        const uint64_t simStart = host.now();
        client.queue(conn, sid, total, 2024);
        CPPUNIT_ASSERT(runUntil(
            host, [&] { return server.first() && server.only().streams[sid].fin; },
            3600 * kSecond));
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double sim = static_cast<double>(host.now() - simStart) / 1e9;
        std::fprintf(stderr,
                     "bulk: %llu MiB in %.1f s wall (%.0f MiB/s of CPU for both ends), %.3f s "
                     "simulated; %llu datagrams\n",
                     static_cast<unsigned long long>(mib), wall, static_cast<double>(mib) / wall,
                     sim, static_cast<unsigned long long>(net.stats().delivered));
        CPPUNIT_ASSERT_EQUAL(total, server.only().streams[sid].bytes);
        CPPUNIT_ASSERT_EQUAL(patternDigest(2024, total), server.only().streams[sid].digest());
        plugin.api->close(conn, 0);
        plugin.api->destroy_endpoint(ep);
        host.runUntilIdle(1000);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TransportQuicBulkTest);
