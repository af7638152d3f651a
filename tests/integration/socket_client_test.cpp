// The lanspread client against real lanspreadd processes, through frontend-socket: `lanspread
// status` prints the very table the human mode prints, `--json list-games` is one JSONL result
// line, clients at once, a client killed mid-download while the download goes on to the end
// (a watcher sees it finish), and the errors a user meets — no peer, a socket left by a killed
// peer, a socket without permission, a typo, a refused command — each one sentence.
#include "peer_harness.hpp"
#include "scenario_support.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace lanspread::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

const std::string kSocketPlugins = "org.lanspread.frontend.cli,org.lanspread.frontend.socket,"
                                   "org.lanspread.transport.quic,org.lanspread.unpacker.libarchive";

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

// Runs the client (through prefix, e.g. setpriv, when given) with input on its standard input,
// and waits for it to end.
Run runClient(const std::string &dir, const std::vector<std::string> &args,
              const std::string &input = "", std::vector<std::string> prefix = {},
              const std::vector<std::string> &env = {}) {
    prefix.push_back(LANSPREAD_CLIENT_PATH);
    std::vector<std::string> argv(prefix.begin() + 1, prefix.end());
    argv.insert(argv.end(), args.begin(), args.end());
    static int runs = 0;
    const std::string errPath = dir + "/client-" + std::to_string(++runs) + ".err";
    ChildProcess client(prefix.front(), argv, dir, errPath, env);
    if (!input.empty())
        client.writeStdin(input);
    client.closeStdin();
    Run run;
    while (auto line = client.readLine(30s))
        run.out += *line + "\n";
    run.code = client.waitExit(10s);
    run.err = client.stderrText();
    return run;
}

std::size_t lineCount(const std::string &text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string describe(const Run &run) {
    return "exit " + std::to_string(run.code) + "\n--- stdout\n" + run.out + "--- stderr\n" +
           run.err;
}

} // namespace

class SocketClientTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SocketClientTest);
    CPPUNIT_TEST(statusPrintsTheHumanModesTable);
    CPPUNIT_TEST(jsonListGamesIsOneResultLine);
    CPPUNIT_TEST(killedClientLeavesTheDownloadRunning);
    CPPUNIT_TEST(errorsAreOneSentence);
#ifdef LANSPREAD_HAVE_DNSSD
    CPPUNIT_TEST(undiscoverableIsSaidOnceInBothHumanModes);
#endif
    CPPUNIT_TEST_SUITE_END();

  public:
    // frontend-cli in human mode on the daemon's own pipes and the client on the socket ask
    // the same peer for its status: the tables are the same bytes.
    void statusPrintsTheHumanModesTable() {
        Lab lab("socket-status");
        const std::string games = lab.gamesDirOf("alpha"), state = lab.stateDirOf("alpha");
        fs::create_directories(games);
        fs::create_directories(state);
        lanspread::fixtures::writeGameSet(games, "alpha");
        const std::string ini = lab.dir() + "/alpha.ini";
        writeWholeFile(ini, "[plugin.org.lanspread.frontend.cli]\nmode = human\n");
        ChildProcess daemon(LANSPREADD_PATH,
                            {"--games", games, "--state", state, "--catalog",
                             lab.writeCatalog(lanspread::fixtures::catalogJson()), "--listen",
                             "127.0.0.1:0", "--name", "alpha", "--plugins", kSocketPlugins,
                             "--config", ini},
                            lab.dir(), lab.dir() + "/alpha.err");
        CPPUNIT_ASSERT_MESSAGE(daemon.stderrText(), daemon.readUntil("ready: listening", 30s));
        const std::string socket = state + "/control.sock";
        CPPUNIT_ASSERT(fs::is_socket(socket));
        CPPUNIT_ASSERT(daemon.stderrText().find("control socket at " + socket + " (mode 0660") !=
                       std::string::npos);

        const Run status = runClient(lab.dir(), {"--socket", socket, "status"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(status), 0, status.code);
        CPPUNIT_ASSERT_MESSAGE(status.out, status.out.rfind("name:", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(status.out, lineCount(status.out) > 12);
        CPPUNIT_ASSERT(status.out.find("state_dir:") != std::string::npos);
        CPPUNIT_ASSERT(status.out.find('\x1b') == std::string::npos); // plain text
        CPPUNIT_ASSERT(status.err.empty());

        // The human mode's own `status`, typed on the daemon's standard input.
        daemon.writeStdin("status\n");
        std::string human;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (human.find(status.out) == std::string::npos &&
               std::chrono::steady_clock::now() < deadline)
            if (auto line = daemon.readLine(1s))
                human += *line + "\n";
        CPPUNIT_ASSERT_MESSAGE("human mode printed:\n" + human + "the client printed:\n" +
                                   status.out,
                               human.find(status.out) != std::string::npos);

        // The client's interactive mode (here on a pipe) prints it the same way too.
        const Run typed = runClient(lab.dir(), {"--socket", socket}, "status\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(typed), 0, typed.code);
        CPPUNIT_ASSERT_MESSAGE(typed.out, typed.out.find(status.out) != std::string::npos);
        CPPUNIT_ASSERT(typed.out.rfind("connected to peer alpha (lanspread ", 0) == 0);
        CPPUNIT_ASSERT(typed.out.find("left; the peer keeps running") != std::string::npos);
        std::printf("\nlanspread status (the same bytes in the human mode):\n%s",
                    status.out.c_str());

        daemon.writeStdin("shutdown\n");
        CPPUNIT_ASSERT_EQUAL(0, daemon.waitExit(20s));
        CPPUNIT_ASSERT(!fs::exists(fs::symlink_status(socket))); // removed at stop
    }

    void jsonListGamesIsOneResultLine() {
        Lab lab("socket-json");
        lanspread::fixtures::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        lab.writeCatalog(lanspread::fixtures::catalogJson());
        Peer &alpha = lab.addPeer("alpha");
        alpha.start("alpha", lab.gamesDirOf("alpha"), lab.stateDirOf("alpha"), lab.catalogPath(),
                    "", kSocketPlugins);
        const std::string socket = alpha.stateDir() + "/control.sock";

        const Run json = runClient(lab.dir(), {"--socket", socket, "--json", "list-games"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(json), 0, json.code);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(json.out, std::size_t(1), lineCount(json.out));
        Json result = parseJson(json.out);
        CPPUNIT_ASSERT_EQUAL(std::string("result"), str(result, "event"));
        CPPUNIT_ASSERT(flag(result, "ok"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), result->getObject("data")->getArray("local")->size());

        const Run table = runClient(lab.dir(), {"--socket", socket, "list-games"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(table), 0, table.code);
        CPPUNIT_ASSERT_MESSAGE(table.out, table.out.rfind("local games (3):\n  ID ", 0) == 0);

        // --json with no command: JSONL both ways, ended by the end of standard input.
        const Run lines = runClient(lab.dir(), {"--socket", socket, "--json"},
                                    "{\"id\":\"a\",\"cmd\":\"status\"}\nnot json\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(lines), 0, lines.code);
        std::size_t results = 0;
        for (std::size_t start = 0, nl; (nl = lines.out.find('\n', start)) != std::string::npos;
             start = nl + 1) {
            Json line = parseJson(lines.out.substr(start, nl - start)); // every line is JSON
            results += str(line, "event") == "result" ? 1 : 0;
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE(lines.out, std::size_t(2), results);
        CPPUNIT_ASSERT(lines.out.find("\"code\":\"invalid-command\"") != std::string::npos);
    }

    // A download started by one client whose process is then killed goes on to the end; a
    // second client watching at the same time sees it finish, and the files are exact.
    void killedClientLeavesTheDownloadRunning() {
        Lab lab("socket-kill");
        lab.writeCatalog(lanspread::fixtures::catalogJson());
        writeBigAlienswarm(lab.gamesDirOf("seeder"), 64 * kMiB, 7);
        Peer &seeder = lab.startPeer("seeder", "[lanspread]\nupload_limit_mib_s = 8\n");
        Peer &receiver = lab.addPeer("receiver");
        receiver.start("receiver", lab.gamesDirOf("receiver"), lab.stateDirOf("receiver"),
                       lab.catalogPath(), "", kSocketPlugins);
        const std::string socket = receiver.stateDir() + "/control.sock";

        const Run connect =
            runClient(lab.dir(), {"--socket", socket, "connect", seeder.listenAddr()});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(connect), 0, connect.code);
        CPPUNIT_ASSERT(connect.out.rfind("connected to " + seeder.listenAddr(), 0) == 0);

        // The client that starts the download and is killed: JSONL both ways.
        ChildProcess starter(LANSPREAD_CLIENT_PATH, {"--socket", socket, "--json"}, lab.dir(),
                             lab.dir() + "/starter.err");
        starter.writeStdin(
            "{\"id\":\"go\",\"cmd\":\"download\",\"game\":\"alienswarm\",\"install\":false}\n");
        auto accepted = starter.readUntil("\"id\":\"go\"", 20s);
        CPPUNIT_ASSERT_MESSAGE(starter.stderrText(), accepted.has_value());
        CPPUNIT_ASSERT_MESSAGE(*accepted, flag(parseJson(*accepted), "ok"));
        CPPUNIT_ASSERT(starter.readUntil("\"download-progress\"", 20s));

        // A second client at the same time: watch, until no download runs.
        ChildProcess watcher(LANSPREAD_CLIENT_PATH, {"--socket", socket, "watch"}, lab.dir(),
                             lab.dir() + "/watcher.err");
        watcher.closeStdin();
        std::this_thread::sleep_for(500ms); // the watcher is connected and has its snapshot
        starter.signal(SIGKILL);
        CPPUNIT_ASSERT_EQUAL(128 + SIGKILL, starter.waitExit(5s));

        std::optional<std::string> finished;
        for (int second = 0; second < 90 && !finished; ++second) {
            finished = watcher.readUntil("alienswarm: downloaded 64.0 MiB", 1s);
            lab.pump(); // the peers' own output pipes never fill up meanwhile
        }
        CPPUNIT_ASSERT_MESSAGE(
            "the watcher saw:\n" +
                [&] {
                    std::string s;
                    for (const auto &l : watcher.seen())
                        s += l + "\n";
                    return s + watcher.stderrText();
                }(),
            finished.has_value());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(watcher.stderrText(), 0, watcher.waitExit(10s));
        CPPUNIT_ASSERT(receiver.findEvent("download-finished", forGame("alienswarm"), 10s) !=
                       Peer::npos);
        for (const char *bad : {"download-failed", "download-cancelled"})
            CPPUNIT_ASSERT(receiver.findEvent(bad, forGame("alienswarm"), 0ms) == Peer::npos);
        CPPUNIT_ASSERT_EQUAL(sha256File(seeder.gameRoot("alienswarm") + "/" + kEti),
                             sha256File(receiver.gameRoot("alienswarm") + "/" + kEti));
        std::printf("\nwatcher: %s (the client that started it was killed mid-download)\n",
                    finished->c_str());

        // Nothing left to watch: it says so and returns at once.
        const Run idle = runClient(lab.dir(), {"--socket", socket, "watch"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(idle), 0, idle.code);
        CPPUNIT_ASSERT_EQUAL(std::string("no download is running\n"), idle.out);
    }

#ifdef LANSPREAD_HAVE_DNSSD
    // discovery-dnssd with no avahi-daemon to reach (the system bus points nowhere, so a
    // running avahi elsewhere cannot answer): frontend-cli's human mode and the client's
    // interactive mode both say it once, in the sentence status's reason makes.
    void undiscoverableIsSaidOnceInBothHumanModes() {
        Lab lab("socket-discovery");
        const std::string games = lab.gamesDirOf("alpha"), state = lab.stateDirOf("alpha");
        fs::create_directories(games);
        fs::create_directories(state);
        const std::string ini = lab.dir() + "/alpha.ini";
        writeWholeFile(ini, "[plugin.org.lanspread.frontend.cli]\nmode = human\n");
        ChildProcess daemon(LANSPREADD_PATH,
                            {"--games", games, "--state", state, "--catalog",
                             lab.writeCatalog(lanspread::fixtures::catalogJson()), "--listen",
                             "127.0.0.1:0", "--name", "alpha", "--plugins",
                             kSocketPlugins + ",org.lanspread.discovery.dnssd", "--config", ini},
                            lab.dir(), lab.dir() + "/alpha.err",
                            {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + lab.dir() + "/no-bus"});
        const std::string sentence =
            "not discoverable: avahi-daemon is not running; direct connect works";
        CPPUNIT_ASSERT_MESSAGE(daemon.stderrText(), daemon.readUntil(sentence, 30s));

        const std::string socket = state + "/control.sock";
        const Run typed = runClient(lab.dir(), {"--socket", socket}, "list-peers\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(typed), 0, typed.code);
        std::size_t said = 0;
        for (std::size_t at = typed.out.find(sentence); at != std::string::npos;
             at = typed.out.find(sentence, at + 1))
            ++said;
        CPPUNIT_ASSERT_EQUAL_MESSAGE(typed.out, std::size_t(1), said);
        CPPUNIT_ASSERT(typed.out.find("no peers connected") != std::string::npos);
        // One command prints its result only; status shows the state as a row.
        const Run status = runClient(lab.dir(), {"--socket", socket, "status"});
        CPPUNIT_ASSERT(status.out.find(sentence) == std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(
            status.out, status.out.find("discovery:          state not-working, plugin "
                                        "org.lanspread.discovery.dnssd, reason "
                                        "avahi-daemon is not running\n") != std::string::npos);
        std::printf("\nthe client's interactive mode, on a pipe:\n%s", typed.out.c_str());
        daemon.writeStdin("shutdown\n");
        CPPUNIT_ASSERT_EQUAL(0, daemon.waitExit(20s));
    }
#endif

    void errorsAreOneSentence() {
        Lab lab("socket-errors");
        lab.writeCatalog(lanspread::fixtures::catalogJson());
        const std::string missing = lab.dir() + "/nothing-here.sock";

        std::string said; // every sentence, for the evidence
        // No peer at the named socket.
        Run run = runClient(lab.dir(), {"--socket", missing, "status"});
        said += run.err;
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 3, run.code);
        CPPUNIT_ASSERT_EQUAL("lanspread: no peer is running at " + missing +
                                 " (connect: No such file or directory); start it with systemctl "
                                 "start lanspread or lanspreadd\n",
                             run.err);
        CPPUNIT_ASSERT(run.out.empty());
        // No socket named, none where a peer would be: both places are named.
        if (!fs::exists("/run/lanspread/control.sock")) {
            run = runClient(lab.dir(), {"status"}, "", {}, {"LANSPREAD_SOCKET="});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 3, run.code);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), lineCount(run.err));
            said += run.err;
            CPPUNIT_ASSERT_MESSAGE(run.err,
                                   run.err.rfind("lanspread: no peer is running here (no control "
                                                 "socket at /run/lanspread/control.sock or "
                                                 "./state/control.sock)",
                                                 0) == 0);
        }

        Peer &alpha = lab.addPeer("alpha");
        alpha.start("alpha", lab.gamesDirOf("alpha"), lab.stateDirOf("alpha"), lab.catalogPath(),
                    "", kSocketPlugins);
        const std::string socket = alpha.stateDir() + "/control.sock";

        // A socket without permission: as nobody, with every directory on the way open, so
        // only the socket's mode 0660 (owner root) stands in the way.
        for (fs::path dir = alpha.stateDir(); dir.string().size() >= lab.dir().size();
             dir = dir.parent_path())
            fs::permissions(dir, fs::perms(0755));
        run = runClient(lab.dir(), {"--socket", socket, "status"}, "",
                        {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 3, run.code);
        said += run.err;
        CPPUNIT_ASSERT_EQUAL("lanspread: permission denied on " + socket +
                                 ": add yourself to the lanspread group (sudo adduser $USER "
                                 "lanspread) and log in again\n",
                             run.err);

        // A typo is a usage error, said before any connection; a refused command says why.
        run = runClient(lab.dir(), {"--socket", socket, "dowload", "ggoo"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 2, run.code);
        said += run.err;
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lineCount(run.err));
        CPPUNIT_ASSERT(run.err.rfind("lanspread: unknown command 'dowload'", 0) == 0);
        run = runClient(lab.dir(), {"--socket", socket, "download", "nosuchgame"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 1, run.code);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lineCount(run.err));
        said += run.err;
        CPPUNIT_ASSERT_MESSAGE(run.err,
                               run.err.rfind("lanspread: unknown-game: game 'nosuchgame' is not "
                                             "in the catalog",
                                             0) == 0);
        CPPUNIT_ASSERT(run.out.empty());

        // A killed peer leaves its socket file: nobody answers there any more...
        alpha.kill9();
        CPPUNIT_ASSERT(fs::is_socket(socket));
        run = runClient(lab.dir(), {"--socket", socket, "status"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 3, run.code);
        said += run.err;
        CPPUNIT_ASSERT_EQUAL("lanspread: no peer is running at " + socket +
                                 " (connect: Connection refused); start it with systemctl start "
                                 "lanspread or lanspreadd\n",
                             run.err);
        // ...and the next peer replaces it.
        alpha.restart();
        run = runClient(lab.dir(), {"--socket", socket, "status"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(run), 0, run.code);
        CPPUNIT_ASSERT(readWholeFile(alpha.stderrPath()).find("replaced a stale socket file") !=
                       std::string::npos);
        std::printf("\nerrors, one sentence each:\n%s", said.c_str());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SocketClientTest);
