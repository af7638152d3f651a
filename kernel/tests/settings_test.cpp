// Settings: reading the lanspread.* keys, their defaults and validation, the embedded default
// config and the default plugin directory.
#include <lanspread/kernel/host/settings.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <Poco/AutoPtr.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/MapConfiguration.h>

#include <unistd.h>

#include <climits>
#include <sstream>
#include <string>
#include <vector>

#ifndef LANSPREAD_TEST_DEFAULT_PLUGIN_IDS
#error                                                                                             \
    "LANSPREAD_TEST_DEFAULT_PLUGIN_IDS must list the in-tree plugin ids (kernel/tests/CMakeLists)"
#endif

using lanspread::Result;
using lanspread::kernel::host::Settings;
using Poco::AutoPtr;
using Poco::Util::MapConfiguration;

namespace {

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

bool endsWith(const std::string &text, const std::string &suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string hostName() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        return "lanspread-peer";
    return host;
}

// The directory of this test binary, from /proc/self/exe, without a trailing slash.
std::string exeDir() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    CPPUNIT_ASSERT(n > 0);
    std::string exe(buffer, static_cast<std::size_t>(n));
    return exe.substr(0, exe.rfind('/'));
}

Result<Settings> fromListen(const std::string &listen) {
    AutoPtr<MapConfiguration> config(new MapConfiguration);
    config->setString("lanspread.listen", listen);
    return Settings::fromConfig(*config);
}

} // namespace

class SettingsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SettingsTest);
    CPPUNIT_TEST(testDefaultsFromEmptyConfig);
    CPPUNIT_TEST(testExplicitValuesAreRead);
    CPPUNIT_TEST(testPluginsTrimmedAndEmptiesIgnored);
    CPPUNIT_TEST(testListenAcceptsValidAddresses);
    CPPUNIT_TEST(testListenMissingPort);
    CPPUNIT_TEST(testListenBareIpv6WithoutPortIsRejected);
    CPPUNIT_TEST(testListenNonNumericPort);
    CPPUNIT_TEST(testListenPortAbove65535);
    CPPUNIT_TEST(testListenEmpty);
    CPPUNIT_TEST(testEmptyGamesNamesKey);
    CPPUNIT_TEST(testEmptyStateNamesKey);
    CPPUNIT_TEST(testEmbeddedDefaultConfig);
    CPPUNIT_TEST(testDefaultPluginDir);
    CPPUNIT_TEST(testMisspeltKeyNamesTheNearestKnownOne);
    CPPUNIT_TEST(testUnknownKeyFarFromAnyListsTheKnownOnes);
    CPPUNIT_TEST(testEveryKnownKeyIsAccepted);
    CPPUNIT_TEST(testExampleConfigsLoad);
    CPPUNIT_TEST(testNearestKey);
    CPPUNIT_TEST(testServeWhileDownloading);
    CPPUNIT_TEST(testTransportFallback);
    CPPUNIT_TEST(testPartyKey);
    CPPUNIT_TEST(testHostileLoadLimits);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testDefaultsFromEmptyConfig() {
        AutoPtr<MapConfiguration> config(new MapConfiguration);
        Result<Settings> result = Settings::fromConfig(*config);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        const Settings &s = result.value();
        CPPUNIT_ASSERT_EQUAL(std::string("./games"), s.gamesDir);
        CPPUNIT_ASSERT_EQUAL(std::string("./state"), s.stateDir);
        CPPUNIT_ASSERT_EQUAL(std::string(""), s.catalogPath);
        CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0:0"), s.listenAddr);
        CPPUNIT_ASSERT_EQUAL(std::string("auto"), s.logLevel);
        CPPUNIT_ASSERT_EQUAL(hostName(), s.name);
        CPPUNIT_ASSERT_EQUAL(lanspread::kernel::host::defaultPluginDir(), s.pluginDir);
        CPPUNIT_ASSERT(s.plugins.empty());
    }

    void testExplicitValuesAreRead() {
        AutoPtr<MapConfiguration> config(new MapConfiguration);
        config->setString("lanspread.name", "alpha");
        config->setString("lanspread.games", "/srv/games");
        config->setString("lanspread.state", "/var/lib/lanspread");
        config->setString("lanspread.catalog", "/etc/lanspread/catalog.json");
        config->setString("lanspread.listen", "127.0.0.1:4000");
        config->setString("lanspread.plugin_dir", "/opt/plugins");
        config->setString("lanspread.log_level", "debug");
        config->setString("lanspread.plugins", "org.lanspread.frontend.cli");
        Result<Settings> result = Settings::fromConfig(*config);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        const Settings &s = result.value();
        CPPUNIT_ASSERT_EQUAL(std::string("alpha"), s.name);
        CPPUNIT_ASSERT_EQUAL(std::string("/srv/games"), s.gamesDir);
        CPPUNIT_ASSERT_EQUAL(std::string("/var/lib/lanspread"), s.stateDir);
        CPPUNIT_ASSERT_EQUAL(std::string("/etc/lanspread/catalog.json"), s.catalogPath);
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1:4000"), s.listenAddr);
        CPPUNIT_ASSERT_EQUAL(std::string("/opt/plugins"), s.pluginDir);
        CPPUNIT_ASSERT_EQUAL(std::string("debug"), s.logLevel);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.plugins.size());
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.frontend.cli"), s.plugins[0]);
    }

    void testPluginsTrimmedAndEmptiesIgnored() {
        AutoPtr<MapConfiguration> config(new MapConfiguration);
        config->setString("lanspread.plugins", "  ./a.so , ,org.lanspread.x.y,,\t/p/b.so  ,  ,");
        Result<Settings> result = Settings::fromConfig(*config);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        const std::vector<std::string> expected = {"./a.so", "org.lanspread.x.y", "/p/b.so"};
        CPPUNIT_ASSERT(expected == result.value().plugins);

        config->setString("lanspread.plugins", " , ,, ");
        Result<Settings> onlyEmpties = Settings::fromConfig(*config);
        CPPUNIT_ASSERT(onlyEmpties.ok());
        CPPUNIT_ASSERT(onlyEmpties.value().plugins.empty());
    }

    void testListenAcceptsValidAddresses() {
        for (const char *listen :
             {"127.0.0.1:0", "0.0.0.0:65535", "192.168.1.20:4000", "[::1]:5000", "localhost:80"}) {
            Result<Settings> result = fromListen(listen);
            CPPUNIT_ASSERT_MESSAGE(std::string(listen) + ": " + result.status().describe(),
                                   result.ok());
            CPPUNIT_ASSERT_EQUAL(std::string(listen), result.value().listenAddr);
        }
    }

    void testListenMissingPort() {
        for (const char *listen : {"127.0.0.1", "127.0.0.1:", "localhost"})
            expectListenError(listen);
    }

    // An IPv6 address needs brackets to carry a port ("[::1]:5000"). Without them the last
    // group was read as the port: "::1" passed as host ":" port 1, "fe80::1" as host "fe80:"
    // port 1. A bare IPv6 address has no port.
    void testListenBareIpv6WithoutPortIsRejected() {
        for (const char *listen : {"::1", "fe80::1", "::"})
            expectListenError(listen);
    }

    void testListenNonNumericPort() {
        for (const char *listen : {"127.0.0.1:http", "127.0.0.1:80a", "127.0.0.1:-1",
                                   "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:8 0"})
            expectListenError(listen);
    }

    void testListenPortAbove65535() {
        for (const char *listen : {"127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:123456",
                                   "127.0.0.1:99999999999999999999"})
            expectListenError(listen);
    }

    void testListenEmpty() { expectListenError(""); }

    void testEmptyGamesNamesKey() {
        AutoPtr<MapConfiguration> config(new MapConfiguration);
        config->setString("lanspread.games", "");
        Result<Settings> result = Settings::fromConfig(*config);
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, result.status().code());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), "lanspread.games"));
    }

    void testEmptyStateNamesKey() {
        AutoPtr<MapConfiguration> config(new MapConfiguration);
        config->setString("lanspread.state", "");
        Result<Settings> result = Settings::fromConfig(*config);
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), "lanspread.state"));
    }

    void testEmbeddedDefaultConfig() {
        std::istringstream text(lanspread::kernel::host::embeddedDefaultConfig());
        AutoPtr<Poco::Util::IniFileConfiguration> ini(new Poco::Util::IniFileConfiguration(text));
        Result<Settings> result = Settings::fromConfig(*ini);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        const Settings &s = result.value();
        CPPUNIT_ASSERT_EQUAL(std::string("./games"), s.gamesDir);
        CPPUNIT_ASSERT_EQUAL(std::string("./state"), s.stateDir);
        CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0:0"), s.listenAddr);
        CPPUNIT_ASSERT_EQUAL(std::string("auto"), s.logLevel);

        // Every in-tree plugin (plugins/CMakeLists.txt's LANSPREAD_DEFAULT_PLUGIN_IDS), in order.
        Poco::StringTokenizer ids(LANSPREAD_TEST_DEFAULT_PLUGIN_IDS, ",",
                                  Poco::StringTokenizer::TOK_TRIM |
                                      Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        const std::vector<std::string> expected(ids.begin(), ids.end());
        CPPUNIT_ASSERT(!expected.empty());
        CPPUNIT_ASSERT_EQUAL(expected.size(), s.plugins.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            CPPUNIT_ASSERT_EQUAL(expected[i], s.plugins[i]);
    }

    void testDefaultPluginDir() {
        std::string dir = lanspread::kernel::host::defaultPluginDir();
        if (endsWith(dir, "/"))
            dir.pop_back();
        CPPUNIT_ASSERT_MESSAGE(dir, endsWith(dir, "/lib/lanspread/plugins"));
        // <dir of exe>/../lib/lanspread/plugins: the build tree mirrors the install tree.
        const std::string bin = exeDir();
        const std::string prefix = bin.substr(0, bin.rfind('/'));
        CPPUNIT_ASSERT_EQUAL(prefix + "/lib/lanspread/plugins", dir);
    }

    void testMisspeltKeyNamesTheNearestKnownOne() {
        Result<Settings> result = fromIni("[lanspread]\nupload_limt_mib_s = 10\n");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, result.status().code());
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key upload_limt_mib_s in [lanspread] (did you "
                                         "mean upload_limit_mib_s?)"),
                             result.status().message());
        result = fromIni("[lanspread]\ngames = /g\nPEER_TIMEOUT = 5000\n");
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key PEER_TIMEOUT in [lanspread] (did you mean "
                                         "peer_timeout_ms?)"),
                             result.status().message());
    }

    void testUnknownKeyFarFromAnyListsTheKnownOnes() {
        Result<Settings> result = fromIni("[lanspread]\nfrobnicate = yes\n");
        CPPUNIT_ASSERT(!result.ok());
        std::string known;
        for (const auto &key : lanspread::kernel::host::lanspreadKeys())
            known += " " + key;
        CPPUNIT_ASSERT_EQUAL("unknown key frobnicate in [lanspread] (known keys:" + known + ")",
                             result.status().message());
    }

    // Every key the kernel reads, spelt in any case (INI keys ignore it); other sections
    // (plugins') are not Settings' to judge.
    void testEveryKnownKeyIsAccepted() {
        std::string ini = "[lanspread]\nGames = /srv/g\nlisten = 127.0.0.1:1\n"
                          "peer_timeout_ms = 2000\nupload_limit_mib_s = 1\n"
                          "serve_while_downloading = off\ntransport_fallback_ms = 250\n";
        for (const char *key : {"state", "catalog", "name", "plugin_dir", "plugins", "log_level",
                                "transport", "unpacker"})
            ini += std::string(key) + " = x\n";
        ini += "[plugin.org.example]\nanything = 1\n";
        Result<Settings> result = fromIni(ini);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("/srv/g"), result.value().gamesDir);
        CPPUNIT_ASSERT(!result.value().serveWhileDownloading);
        CPPUNIT_ASSERT_EQUAL(int64_t(250), result.value().transportFallbackMs);
        CPPUNIT_ASSERT_EQUAL(std::size_t(19), lanspread::kernel::host::lanspreadKeys().size());
    }

    // The limits under hostile load: defaults, values read, and each bound refused with the
    // key named.
    void testHostileLoadLimits() {
        Result<Settings> none = fromIni("[lanspread]\n");
        CPPUNIT_ASSERT(none.ok());
        CPPUNIT_ASSERT_EQUAL(int64_t(10000), none.value().helloTimeoutMs);
        CPPUNIT_ASSERT_EQUAL(int64_t(8), none.value().maxConnectionsPerAddress);
        CPPUNIT_ASSERT_EQUAL(int64_t(64), none.value().maxRequestsPerPeer);
        Result<Settings> set = fromIni("[lanspread]\nhello_timeout_ms = 2500\n"
                                       "max_connections_per_address = 2\n"
                                       "max_requests_per_peer = 128\n");
        CPPUNIT_ASSERT_MESSAGE(set.status().describe(), set.ok());
        CPPUNIT_ASSERT_EQUAL(int64_t(2500), set.value().helloTimeoutMs);
        CPPUNIT_ASSERT_EQUAL(int64_t(2), set.value().maxConnectionsPerAddress);
        CPPUNIT_ASSERT_EQUAL(int64_t(128), set.value().maxRequestsPerPeer);
        for (const char *ini :
             {"hello_timeout_ms = 999", "hello_timeout_ms = 60001",
              "max_connections_per_address = 0", "max_requests_per_peer = 4097"}) {
            Result<Settings> bad = fromIni(std::string("[lanspread]\n") + ini + "\n");
            CPPUNIT_ASSERT_MESSAGE(ini, !bad.ok());
            const std::string key = std::string(ini).substr(0, std::string(ini).find(' '));
            CPPUNIT_ASSERT_MESSAGE(
                bad.status().message(),
                bad.status().message().find("lanspread." + key + " must be between") !=
                    std::string::npos);
        }
    }

    // The config examples of README.md and docs/configuration.md.
    void testExampleConfigsLoad() {
        for (const char *text :
             {"[lanspread]\ngames = /srv/games\nstate = /var/lib/lanspread\n"
              "plugins = org.lanspread.frontend.cli, "
              "/opt/myplugins/lanspread-unpacker-foo.so\n\n"
              "[plugin.org.lanspread.frontend.cli]\noutput_fd = 1\n",
              "[lanspread]\ngames = /srv/games\nstate = /var/lib/lanspread\nname = alice\n"
              "listen = 0.0.0.0:4433\nupload_limit_mib_s = 50\n"
              "plugins = org.lanspread.frontend.cli, org.lanspread.transport.quic\n\n"
              "[plugin.org.lanspread.frontend.cli]\nmode = json\n\n"
              "[plugin.org.lanspread.transport.quic]\ncc = bbr\n"}) {
            Result<Settings> result = fromIni(text);
            CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        }
    }

    // On by default; a value that is not a boolean is refused, naming the key and the value.
    void testServeWhileDownloading() {
        Result<Settings> none = fromIni("[lanspread]\n");
        CPPUNIT_ASSERT(none.ok() && none.value().serveWhileDownloading);
        Result<Settings> on = fromIni("[lanspread]\nserve_while_downloading = true\n");
        CPPUNIT_ASSERT(on.ok() && on.value().serveWhileDownloading);
        Result<Settings> bad = fromIni("[lanspread]\nserve_while_downloading = maybe\n");
        CPPUNIT_ASSERT(!bad.ok());
        CPPUNIT_ASSERT_EQUAL(
            std::string("lanspread.serve_while_downloading must be true or false, got 'maybe'"),
            bad.status().message());
    }

    // 1.5 s by default; 0 (dial every transport at once) to 60 s.
    void testTransportFallback() {
        Result<Settings> none = fromIni("[lanspread]\n");
        CPPUNIT_ASSERT(none.ok());
        CPPUNIT_ASSERT_EQUAL(int64_t(1500), none.value().transportFallbackMs);
        Result<Settings> zero = fromIni("[lanspread]\ntransport_fallback_ms = 0\n");
        CPPUNIT_ASSERT(zero.ok());
        CPPUNIT_ASSERT_EQUAL(int64_t(0), zero.value().transportFallbackMs);
        Result<Settings> bad = fromIni("[lanspread]\ntransport_fallback_ms = 60001\n");
        CPPUNIT_ASSERT(!bad.ok());
        CPPUNIT_ASSERT_EQUAL(
            std::string("lanspread.transport_fallback_ms must be between 0 and 60000, got 60001"),
            bad.status().message());
    }

    void testNearestKey() {
        using lanspread::kernel::host::nearestKey;
        const std::vector<std::string> known{"games", "state", "listen", "log_level"};
        CPPUNIT_ASSERT_EQUAL(std::string("games"), nearestKey("gmaes", known));
        CPPUNIT_ASSERT_EQUAL(std::string("listen"), nearestKey("LISTN", known));
        CPPUNIT_ASSERT_EQUAL(std::string("log_level"), nearestKey("loglevel", known));
        CPPUNIT_ASSERT_EQUAL(std::string(), nearestKey("xyz", known));
        CPPUNIT_ASSERT_EQUAL(std::string(), nearestKey("games", {}));
    }

    // lanspread.party_key or lanspread.party_key_file: one of them, not empty (the file
    // itself is checked when the runtime stretches the key: party_key_test).
    void testPartyKey() {
        Result<Settings> none = fromIni("[lanspread]\n");
        CPPUNIT_ASSERT(none.ok());
        CPPUNIT_ASSERT(none.value().partyKey.empty() && none.value().partyKeyFile.empty());
        Result<Settings> key = fromIni("[lanspread]\nparty_key = two words\n");
        CPPUNIT_ASSERT_MESSAGE(key.status().describe(), key.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("two words"), key.value().partyKey);
        Result<Settings> file = fromIni("[lanspread]\nparty_key_file = /etc/party.key\n");
        CPPUNIT_ASSERT_MESSAGE(file.status().describe(), file.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("/etc/party.key"), file.value().partyKeyFile);
        for (const auto &[ini, needle] :
             {std::pair<std::string, std::string>{"party_key = a\nparty_key_file = /k\n",
                                                  "both set"},
              {"party_key =\n", "lanspread.party_key is empty"},
              {"party_key_file =\n", "lanspread.party_key_file is empty"}}) {
            Result<Settings> bad = fromIni("[lanspread]\n" + ini);
            CPPUNIT_ASSERT_MESSAGE(ini, !bad.ok());
            CPPUNIT_ASSERT_MESSAGE(bad.status().message(),
                                   bad.status().message().find(needle) != std::string::npos);
        }
    }

  private:
    static Result<Settings> fromIni(const std::string &text) {
        std::istringstream in(text);
        AutoPtr<Poco::Util::IniFileConfiguration> ini(new Poco::Util::IniFileConfiguration(in));
        return Settings::fromConfig(*ini);
    }

    static void expectListenError(const std::string &listen) {
        Result<Settings> result = fromListen(listen);
        CPPUNIT_ASSERT_MESSAGE("accepted '" + listen + "'", !result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, result.status().code());
        CPPUNIT_ASSERT_MESSAGE(result.status().message(),
                               contains(result.status().message(), "lanspread.listen"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SettingsTest);
