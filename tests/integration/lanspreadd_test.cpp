// lanspreadd as a user runs it: a real process, commands on stdin, JSON lines on stdout,
// logs on stderr. Each test gets its own working directory.
#include "child_process.hpp"
#include "human_command.hpp"

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fstream>
#include <set>
#include <thread>

using lanspread::test::ChildProcess;
using namespace std::chrono_literals;

namespace {

Poco::JSON::Object::Ptr parse(const std::string &line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

} // namespace

class LanspreaddTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LanspreaddTest);
    CPPUNIT_TEST(pipedCommandsGetResultsAndExitZero);
    CPPUNIT_TEST(failingPluginIsLoggedAndPeerKeepsRunning);
    CPPUNIT_TEST(everyCommandAnsweredBeforeExit);
    CPPUNIT_TEST(sigtermStopsCleanly);
    CPPUNIT_TEST(sighupReloadsTheCatalogAndKeepsItWhenBad);
    CPPUNIT_TEST(badFlagExitsWithOneLine);
    CPPUNIT_TEST(unusableGamesDirExitsWithOneLine);
    CPPUNIT_TEST(missingConfigFileExitsWithOneLine);
    CPPUNIT_TEST(flagsOverrideConfigFile);
    CPPUNIT_TEST(misspeltKeyExitsWithOneLineNamingTheNearest);
    CPPUNIT_TEST(misspeltPluginKeyExitsWithOneLineNamingTheNearest);
    CPPUNIT_TEST(documentedExampleConfigsStart);
    CPPUNIT_TEST(everyHumanModeCommandIsKnownToTheKernel);
    CPPUNIT_TEST(overlongLineIsRefusedAsTooLongWithoutBufferingIt);
    CPPUNIT_TEST(discoveryInStatusSaysWhyNotDiscoverable);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _dir = Poco::TemporaryFile::tempName();
        Poco::File(_dir).createDirectories();
    }
    void tearDown() override { Poco::File(_dir).remove(true); }

    void pipedCommandsGetResultsAndExitZero() {
        ChildProcess peer(LANSPREADD_PATH, {}, _dir, _dir + "/stderr.log");
        peer.writeStdin(
            "{\"id\":\"1\",\"cmd\":\"status\"}\nnot json\n{\"id\":\"2\",\"cmd\":\"shutdown\"}\n");
        peer.closeStdin();
        // Every stdout line is JSON; besides cli-started and the three results there are only
        // events (local-peer-ready, ...), which this test does not count.
        std::vector<std::string> lines;
        while (auto line = peer.readLine(10s)) {
            auto event = parse(*line)->getValue<std::string>("event");
            if (event == "cli-started" || event == "result")
                lines.push_back(*line);
        }
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(peer.stderrText(), std::size_t(4), lines.size());

        CPPUNIT_ASSERT_EQUAL(std::string("cli-started"),
                             parse(lines[0])->getValue<std::string>("event"));
        auto status = parse(lines[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("1"), status->getValue<std::string>("id"));
        CPPUNIT_ASSERT(status->getValue<bool>("ok"));
        // The embedded default loads every in-tree plugin, and none is rejected.
        auto data = status->getObject("data");
        auto plugins = data->getArray("plugins");
        bool cli = false;
        for (std::size_t i = 0; i < plugins->size(); ++i) {
            auto p = plugins->getObject(static_cast<unsigned>(i));
            cli = cli || p->getValue<std::string>("id") == "org.lanspread.frontend.cli";
            CPPUNIT_ASSERT(!p->getValue<std::string>("kind").empty());
            CPPUNIT_ASSERT(!p->getValue<std::string>("version").empty());
        }
        CPPUNIT_ASSERT(cli);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(lines[1], std::size_t(0),
                                     data->getArray("rejected_plugins")->size());
        auto invalid = parse(lines[2]);
        CPPUNIT_ASSERT(!invalid->getValue<bool>("ok"));
        CPPUNIT_ASSERT_EQUAL(std::string("invalid-command"),
                             invalid->getObject("error")->getValue<std::string>("code"));
        auto shutdown = parse(lines[3]);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), shutdown->getValue<std::string>("id"));
        CPPUNIT_ASSERT(shutdown->getValue<bool>("ok"));
        // Logs never reach stdout: every stdout line is JSON.
        CPPUNIT_ASSERT(peer.stderrText().find("loaded org.lanspread.frontend.cli") !=
                       std::string::npos);
    }

    void failingPluginIsLoggedAndPeerKeepsRunning() {
        writeFile(_dir + "/peer.ini", "[lanspread]\nplugins = org.lanspread.frontend.cli, " +
                                          std::string(INIT_FAILS_PLUGIN_PATH) + ", " +
                                          NO_ENTRY_PLUGIN_PATH + ", org.lanspread.no.such\n");
        ChildProcess peer(LANSPREADD_PATH, {"--config", "peer.ini"}, _dir, _dir + "/stderr.log");
        peer.writeStdin("{\"id\":\"s\",\"cmd\":\"status\"}\n");
        auto status = peer.readUntil("\"id\":\"s\"", 10s);
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(), status.has_value());
        auto data = parse(*status)->getObject("data");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), data->getArray("plugins")->size());
        auto rejected = data->getArray("rejected_plugins");
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), rejected->size());
        CPPUNIT_ASSERT_EQUAL(std::string("init-failed"),
                             rejected->getObject(0)->getValue<std::string>("failure"));
        CPPUNIT_ASSERT_EQUAL(std::string("missing-entry-symbol"),
                             rejected->getObject(1)->getValue<std::string>("failure"));
        CPPUNIT_ASSERT_EQUAL(std::string("not-found"),
                             rejected->getObject(2)->getValue<std::string>("failure"));
        std::string err = peer.stderrText();
        // The plugin's own reason (logged through the host, prefixed with its id) and the
        // kernel's rejection line both name what went wrong.
        CPPUNIT_ASSERT_MESSAGE(err, err.find("plugin rejected:") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(err, err.find("init-failed") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(err, err.find("no plugin with id org.lanspread.no.such") !=
                                        std::string::npos);

        peer.writeStdin("{\"id\":\"bye\",\"cmd\":\"shutdown\"}\n");
        CPPUNIT_ASSERT(peer.readUntil("\"id\":\"bye\"", 10s).has_value());
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
    }

    // Commands still being worked on when shutdown arrives get their result before the exit.
    void everyCommandAnsweredBeforeExit() {
        // remove of a downloaded game runs on a worker: its answer is in flight at shutdown.
        Poco::File(_dir + "/games/css").createDirectories();
        writeFile(_dir + "/games/css/version.ini", "20250301\n");
        writeFile(_dir + "/games/css/css.eti", std::string(4 << 20, 'x'));
        ChildProcess peer(LANSPREADD_PATH, {}, _dir, _dir + "/stderr.log");
        CPPUNIT_ASSERT(peer.readUntil("local-peer-ready", 10s).has_value());
        peer.writeStdin("{\"id\":\"a\",\"cmd\":\"list-games\"}\n{\"id\":\"b\",\"cmd\":\"remove\","
                        "\"game\":\"css\"}\n"
                        "{\"id\":\"c\",\"cmd\":\"shutdown\"}\n");
        std::set<std::string> answered;
        while (auto line = peer.readLine(10s)) {
            auto object = parse(*line);
            if (object->getValue<std::string>("event") == "result")
                answered.insert(object->getValue<std::string>("id"));
        }
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), std::string(answered.begin()->c_str()) +
                                                     std::next(answered.begin())->c_str() +
                                                     answered.rbegin()->c_str());
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), answered.size());
    }

    void sigtermStopsCleanly() {
        ChildProcess peer(LANSPREADD_PATH, {}, _dir, _dir + "/stderr.log");
        CPPUNIT_ASSERT(peer.readUntil("cli-started", 10s).has_value());
        peer.signal(SIGTERM);
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
        CPPUNIT_ASSERT(peer.stderrText().find("stopping") != std::string::npos);
    }

    // SIGHUP (the service's `systemctl reload`) re-reads the catalog file and rescans: a game
    // added to the catalog whose root is already on disk becomes local, a catalog that no
    // longer parses is logged and the old one kept, and a game dropped from the catalog
    // leaves the library. The peer runs on throughout.
    void sighupReloadsTheCatalogAndKeepsItWhenBad() {
        const std::string alpha = R"({"id":"alpha","name":"Alpha","version":"1"})";
        const std::string bravo = R"({"id":"bravo","name":"Bravo","version":"2"})";
        writeFile(_dir + "/catalog.json", "{\"games\":[" + alpha + "]}");
        for (const char *id : {"alpha", "bravo"}) {
            Poco::File(_dir + "/games/" + id).createDirectories();
            writeFile(_dir + "/games/" + id + "/version.ini",
                      id == std::string("alpha") ? "1\n" : "2\n");
            writeFile(_dir + "/games/" + id + "/" + id + ".eti", "archive bytes");
        }
        ChildProcess peer(LANSPREADD_PATH,
                          {"--catalog", "catalog.json", "--plugins", "org.lanspread.frontend.cli"},
                          _dir, _dir + "/stderr.log");
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(),
                               peer.readUntil("local-peer-ready", 10s).has_value());
        CPPUNIT_ASSERT(localIdsEventually(peer, {"alpha"}));

        writeFile(_dir + "/catalog.json", "{\"games\":[" + alpha + "," + bravo + "]}");
        peer.signal(SIGHUP);
        CPPUNIT_ASSERT_MESSAGE(
            peer.stderrText(),
            stderrEventually(peer, "catalog reloaded from catalog.json with 2 games"));
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(), localIdsEventually(peer, {"alpha", "bravo"}));

        writeFile(_dir + "/catalog.json", "{\"games\":[" + alpha);
        peer.signal(SIGHUP);
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(),
                               stderrEventually(peer,
                                                "catalog not reloaded, keeping the old one "
                                                "(2 games): catalog catalog.json: not valid"));
        CPPUNIT_ASSERT(localIdsEventually(peer, {"alpha", "bravo"}));

        writeFile(_dir + "/catalog.json", "{\"games\":[" + bravo + "]}");
        peer.signal(SIGHUP);
        CPPUNIT_ASSERT_MESSAGE(
            peer.stderrText(),
            stderrEventually(peer, "catalog reloaded from catalog.json with 1 games"));
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(), localIdsEventually(peer, {"bravo"}));

        peer.signal(SIGTERM);
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
    }

    void badFlagExitsWithOneLine() {
        ChildProcess peer(LANSPREADD_PATH, {"--no-such-flag"}, _dir, _dir + "/stderr.log");
        auto code = peer.wait(10s);
        CPPUNIT_ASSERT(code.has_value() && *code != 0);
        assertOneLine(peer.stderrText(), "no-such-flag");
    }

    void unusableGamesDirExitsWithOneLine() {
        writeFile(_dir + "/a-file", "not a directory");
        ChildProcess peer(LANSPREADD_PATH, {"--games", "a-file"}, _dir, _dir + "/stderr.log");
        auto code = peer.wait(10s);
        CPPUNIT_ASSERT(code.has_value() && *code != 0);
        assertOneLine(peer.stderrText(), "games directory a-file is not usable");
    }

    void missingConfigFileExitsWithOneLine() {
        ChildProcess peer(LANSPREADD_PATH, {"--config", "missing.ini"}, _dir, _dir + "/stderr.log");
        auto code = peer.wait(10s);
        CPPUNIT_ASSERT(code.has_value() && *code != 0);
        assertOneLine(peer.stderrText(), "missing.ini");
    }

    void flagsOverrideConfigFile() {
        writeFile(_dir + "/peer.ini", "[lanspread]\nname = from-file\ngames = file-games\n");
        ChildProcess peer(LANSPREADD_PATH, {"--config", "peer.ini", "--name", "from-flag"}, _dir,
                          _dir + "/stderr.log");
        peer.writeStdin("{\"id\":\"s\",\"cmd\":\"status\"}\n{\"id\":\"q\",\"cmd\":\"shutdown\"}\n");
        auto status = peer.readUntil("\"id\":\"s\"", 10s);
        CPPUNIT_ASSERT_MESSAGE(peer.stderrText(), status.has_value());
        auto data = parse(*status)->getObject("data");
        CPPUNIT_ASSERT_EQUAL(std::string("from-flag"), data->getValue<std::string>("name"));
        CPPUNIT_ASSERT_EQUAL(std::string("file-games"), data->getValue<std::string>("games_dir"));
        CPPUNIT_ASSERT_EQUAL(std::string("./state"), data->getValue<std::string>("state_dir"));
        CPPUNIT_ASSERT(Poco::File(_dir + "/file-games").isDirectory());
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
    }

    void misspeltKeyExitsWithOneLineNamingTheNearest() {
        writeFile(_dir + "/peer.ini", "[lanspread]\nupload_limt_mib_s = 10\n");
        ChildProcess peer(LANSPREADD_PATH, {"--config", "peer.ini"}, _dir, _dir + "/stderr.log");
        CPPUNIT_ASSERT_EQUAL(78, peer.waitExit(10s)); // EX_CONFIG
        CPPUNIT_ASSERT_EQUAL(std::string("lanspreadd: unknown key upload_limt_mib_s in [lanspread] "
                                         "(did you mean upload_limit_mib_s?)\n"),
                             peer.stderrText());
    }

    // The plugin is loaded, its section checked against the keys it declares and read, and
    // the peer stops before anything runs.
    void misspeltPluginKeyExitsWithOneLineNamingTheNearest() {
        writeFile(_dir + "/peer.ini", "[lanspread]\nplugins = org.lanspread.frontend.cli\n"
                                      "[plugin.org.lanspread.frontend.cli]\nmoed = json\n");
        ChildProcess peer(LANSPREADD_PATH, {"--config", "peer.ini", "--log-level", "warning"}, _dir,
                          _dir + "/stderr.log");
        CPPUNIT_ASSERT_EQUAL(78, peer.waitExit(10s));
        CPPUNIT_ASSERT_EQUAL(std::string("lanspreadd: unknown key moed in "
                                         "[plugin.org.lanspread.frontend.cli] (did you mean "
                                         "mode?)\n"),
                             peer.stderrText());
        CPPUNIT_ASSERT(!peer.readLine(1s).has_value()); // the frontend never started
    }

    // README.md's and docs/configuration.md's config examples (with this test's directories
    // and port as flags, which win) start, and the peer answers.
    void documentedExampleConfigsStart() {
        const std::vector<std::string> examples = {
            "[lanspread]\ngames = /srv/games\nstate = /var/lib/lanspread\n"
            "plugins = org.lanspread.frontend.cli, /opt/myplugins/lanspread-unpacker-foo.so\n\n"
            "[plugin.org.lanspread.frontend.cli]\noutput_fd = 1\n",
            "[lanspread]\ngames = /srv/games\nstate = /var/lib/lanspread\nname = alice\n"
            "listen = 0.0.0.0:4433\nupload_limit_mib_s = 50\n"
            "plugins = org.lanspread.frontend.cli, org.lanspread.transport.quic, "
            "org.lanspread.discovery.dnssd, org.lanspread.unpacker.libarchive, "
            "/opt/myplugins/lanspread-unpacker-foo.so\n\n"
            "[plugin.org.lanspread.frontend.cli]\nmode = json\n\n"
            "[plugin.org.lanspread.transport.quic]\ncc = bbr\n"};
        for (const auto &example : examples) {
            writeFile(_dir + "/peer.ini", example);
            ChildProcess peer(LANSPREADD_PATH,
                              {"--config", "peer.ini", "--games", "games", "--state", "state",
                               "--listen", "127.0.0.1:0"},
                              _dir, _dir + "/stderr.log");
            peer.writeStdin("{\"id\":\"s\",\"cmd\":\"status\"}\n"
                            "{\"id\":\"q\",\"cmd\":\"shutdown\"}\n");
            auto status = peer.readUntil("\"id\":\"s\"", 10s);
            CPPUNIT_ASSERT_MESSAGE(example + peer.stderrText(), status.has_value());
            CPPUNIT_ASSERT(parse(*status)->getValue<bool>("ok"));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(peer.stderrText(), 0, peer.waitExit(10s));
        }
    }

    // Human mode's help and parser offer exactly these commands; each must be one the kernel
    // registers (a missing field is fine, "unknown command" is not).
    void everyHumanModeCommandIsKnownToTheKernel() {
        ChildProcess peer(LANSPREADD_PATH, {"--plugins", "org.lanspread.frontend.cli"}, _dir,
                          _dir + "/stderr.log");
        const std::vector<std::string> names = lanspread::human::humanCommandNames();
        CPPUNIT_ASSERT(names.size() >= 10);
        std::string lines;
        for (const auto &name : names)
            if (name != "shutdown")
                lines += "{\"id\":\"" + name + "\",\"cmd\":\"" + name + "\"}\n";
        peer.writeStdin(lines + "{\"id\":\"shutdown\",\"cmd\":\"shutdown\"}\n");
        std::set<std::string> answered;
        while (auto line = peer.readLine(10s)) {
            auto object = parse(*line);
            if (object->getValue<std::string>("event") != "result")
                continue;
            const std::string id = object->getValue<std::string>("id");
            answered.insert(id);
            if (!object->getValue<bool>("ok")) {
                const std::string message =
                    object->getObject("error")->getValue<std::string>("message");
                CPPUNIT_ASSERT_MESSAGE(id + ": " + message,
                                       message.find("unknown command") == std::string::npos);
            }
        }
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
        CPPUNIT_ASSERT_EQUAL(names.size(), answered.size());
    }

    // 64 MiB without a newline, then a command: the answer says the line is too long and
    // names the limit, the peer's peak memory stays far below the line's size, and the next
    // command is answered.
    void overlongLineIsRefusedAsTooLongWithoutBufferingIt() {
        ChildProcess peer(LANSPREADD_PATH, {"--plugins", "org.lanspread.frontend.cli"}, _dir,
                          _dir + "/stderr.log");
        CPPUNIT_ASSERT(peer.readUntil("cli-started", 10s).has_value());
        // Growth over the started peer's own peak, not an absolute size: a sanitizer build
        // starts near 80 MiB.
        const long startedKiB = peakRssKiB(peer.pid());
        const std::string chunk(1 << 20, 'x');
        for (int i = 0; i < 64; ++i)
            peer.writeStdin(chunk);
        peer.writeStdin("\n{\"id\":\"s\",\"cmd\":\"status\"}\n");
        auto refused = peer.readUntil("\"event\":\"result\"", 10s);
        CPPUNIT_ASSERT(refused.has_value());
        auto result = parse(*refused);
        CPPUNIT_ASSERT(!result->getValue<bool>("ok"));
        CPPUNIT_ASSERT(result->get("id").isEmpty());
        CPPUNIT_ASSERT_EQUAL(std::string("invalid-command"),
                             result->getObject("error")->getValue<std::string>("code"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("the line is too long: a command is at most 1048576 bytes (1 MiB)"),
            result->getObject("error")->getValue<std::string>("message"));
        CPPUNIT_ASSERT(peer.readUntil("\"id\":\"s\"", 10s).has_value());
        const long peakKiB = peakRssKiB(peer.pid());
        CPPUNIT_ASSERT_MESSAGE(std::to_string(startedKiB) + " KiB at start, " +
                                   std::to_string(peakKiB) + " KiB at the peak",
                               startedKiB > 0 && peakKiB - startedKiB < 24 * 1024);
        peer.signal(SIGTERM);
        CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
    }

    // status "discovery": with discovery-dnssd and no avahi-daemon to reach (the system bus
    // pointed at a socket that does not exist), the peer says it is not discoverable and why:
    // the plugin reports it from inside advertise, through the event bus, before the peer is
    // ready. Without a discovery plugin, discovery is off.
    void discoveryInStatusSaysWhyNotDiscoverable() {
        const std::vector<std::string> noBus{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + _dir +
                                                 "/no-system-bus",
                                             "AVAHI_COMPAT_NOWARN=1"};
        auto discoveryOf = [&](const std::string &plugins) {
            ChildProcess peer(LANSPREADD_PATH,
                              {"--plugins", plugins, "--listen", "127.0.0.1:0", "--json"}, _dir,
                              _dir + "/stderr.log", noBus);
            peer.writeStdin("{\"id\":\"s\",\"cmd\":\"status\"}\n");
            auto status = peer.readUntil("\"id\":\"s\"", 10s);
            CPPUNIT_ASSERT_MESSAGE(peer.stderrText(), status.has_value());
            auto discovery = parse(*status)->getObject("data")->getObject("discovery");
            CPPUNIT_ASSERT_MESSAGE(*status, discovery);
            peer.writeStdin("{\"id\":\"bye\",\"cmd\":\"shutdown\"}\n");
            CPPUNIT_ASSERT_EQUAL(0, peer.waitExit(10s));
            return discovery->getValue<std::string>("state") + "|" +
                   discovery->getValue<std::string>("plugin") + "|" +
                   discovery->getValue<std::string>("reason");
        };
        CPPUNIT_ASSERT_EQUAL(
            std::string("not-working|org.lanspread.discovery.dnssd|avahi-daemon is not running"),
            discoveryOf("org.lanspread.frontend.cli,org.lanspread.transport.quic,"
                        "org.lanspread.discovery.dnssd"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("off||"),
            discoveryOf("org.lanspread.frontend.cli,org.lanspread.transport.quic"));
    }

  private:
    // VmHWM of a live process, in KiB (-1 when unreadable).
    static long peakRssKiB(pid_t pid) {
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("VmHWM:", 0) == 0)
                return std::stol(line.substr(6));
        return -1;
    }

    // Asks list-games until its local ids are exactly `want` (true) or 10 s have passed.
    static bool localIdsEventually(ChildProcess &peer, const std::set<std::string> &want) {
        static int asked = 0;
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            const std::string id = "lg" + std::to_string(++asked);
            peer.writeStdin("{\"id\":\"" + id + "\",\"cmd\":\"list-games\"}\n");
            auto line = peer.readUntil("\"id\":\"" + id + "\"", 10s);
            if (!line)
                return false;
            std::set<std::string> ids;
            auto local = parse(*line)->getObject("data")->getArray("local");
            for (std::size_t i = 0; i < local->size(); ++i)
                ids.insert(local->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
            if (ids == want)
                return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }
    static bool stderrEventually(const ChildProcess &peer, const std::string &needle) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (peer.stderrText().find(needle) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(50ms);
        }
        return true;
    }

    static void writeFile(const std::string &path, const std::string &text) {
        std::ofstream(path) << text;
    }
    static void assertOneLine(const std::string &err, const std::string &needle) {
        CPPUNIT_ASSERT_MESSAGE(err, err.find(needle) != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(err, !err.empty() && err.find('\n') == err.size() - 1);
    }

    std::string _dir;
};

CPPUNIT_TEST_SUITE_REGISTRATION(LanspreaddTest);
