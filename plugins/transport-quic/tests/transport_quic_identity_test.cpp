// transport-quic x kernel: identities made by the kernel (wolfCrypt: key pair, self-signed
// certificate, PKCS#8 key) work in the plugin's GnuTLS handshake, and the fingerprint the
// plugin reports for a peer is exactly that peer's kernel peer_id — computed by the kernel
// with its own DER parser and SHA-256, independently of GnuTLS.
#include "harness.hpp"
#include "mem_network.hpp"

#include <lanspread/kernel/peers/identity.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <filesystem>

using namespace lanspread::plugins::quic;
using namespace lanspread::plugins::quic::testing;
namespace peers = lanspread::kernel::peers;

class TransportQuicIdentityTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TransportQuicIdentityTest);
    CPPUNIT_TEST(testKernelIdentitiesHandshakeAndPeerIdsMatch);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testKernelIdentitiesHandshakeAndPeerIdsMatch() {
        char pattern[] = "/tmp/quic-identity-XXXXXX";
        const std::string dir = mkdtemp(pattern);
        auto a = peers::Identity::loadOrCreate(dir + "/a", "peer-a");
        auto b = peers::Identity::loadOrCreate(dir + "/b", "peer-b");
        CPPUNIT_ASSERT_MESSAGE(a.status().describe(), a.ok());
        CPPUNIT_ASSERT_MESSAGE(b.status().describe(), b.ok());

        FakeHost host("org.lanspread.transport.quic");
        {
            PluginInstance plugin(host);
            MemNetwork net(lanspread::Host(host.api()), {});
            plugin.impl->setPacketIoFactory(net.factory());
            Recorder server("server"), client("client");
            server.api = client.api = plugin.api;

            lanspread_transport_config listenConfig{};
            listenConfig.struct_size = sizeof listenConfig;
            listenConfig.bind_addr = "10.0.0.1:4433";
            listenConfig.cert_der = a.value().certDer.data();
            listenConfig.cert_der_len = a.value().certDer.size();
            listenConfig.key_der = a.value().keyDer.data();
            listenConfig.key_der_len = a.value().keyDer.size();
            lanspread_transport_endpoint *ep = nullptr;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.api->listen(plugin.state, &listenConfig,
                                                                  server.events(), &ep));
            lanspread_transport_config connectConfig = listenConfig;
            connectConfig.bind_addr = "0.0.0.0:0";
            connectConfig.cert_der = b.value().certDer.data();
            connectConfig.cert_der_len = b.value().certDer.size();
            connectConfig.key_der = b.value().keyDer.data();
            connectConfig.key_der_len = b.value().keyDer.size();
            lanspread_transport_conn *conn = nullptr;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 plugin.api->connect(plugin.state, &connectConfig, "10.0.0.1:4433",
                                                     client.events(), &conn));
            CPPUNIT_ASSERT(runUntil(
                host, [&] { return client.connectedCount() == 1 && server.connectedCount() == 1; },
                10 * kSecond));
            CPPUNIT_ASSERT_EQUAL(a.value().peerId, toHex(client.only().fingerprint));
            CPPUNIT_ASSERT_EQUAL(b.value().peerId, toHex(server.only().fingerprint));
            plugin.api->close(conn, 0);
            plugin.api->destroy_endpoint(ep);
            host.runUntilIdle(1000);
        }
        std::filesystem::remove_all(dir);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TransportQuicIdentityTest);
