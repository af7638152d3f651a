// Human mode on a real terminal: a real lanspreadd (frontend-cli, transport-quic,
// unpacker-libarchive) runs in a detached tmux session (its own -L socket, 160x50), a second
// lanspreadd serves the alpha game set with 64 MiB of pseudo-random files added to ggoo and a
// 16 MiB/s upload cap, and the test types into the pane (send-keys) and reads the screen
// (capture-pane): the list-games table is aligned, a live bar with MiB/s and ETA shows while
// ggoo downloads (and a line typed under it does not break it), the bar becomes a final line
// with MiB/s, and errors read `error: <code>: <message>`. Also on a terminal: `--json` keeps
// JSON lines, a failed install is printed once (log on the same screen), and bootstrap.sh's
// peer hint names the commands people type. The tmux server is killed in teardown, always;
// the lab dir goes with the Lab.
#include "peer_harness.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#ifndef TMUX_PATH
#error "TMUX_PATH must name the tmux binary"
#endif

using namespace lanspread::test;
namespace fx = lanspread::fixtures;

namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;
// 64 MiB in 16 files, so the bar moves every progress event at 16 MiB/s.
constexpr int kBigFiles = 16;
constexpr uint64_t kBigFileSize = 4 * kMiB;

struct ToolResult {
    int status = -1;
    std::string out;
};

// Runs argv (argv[0] a path), stdout and stderr captured together; waits for it.
ToolResult run(const std::vector<std::string> &argv) {
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(pipeFds[1], 1);
        ::dup2(pipeFds[1], 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(pipeFds[1]);
    ToolResult result;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(pipeFds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        result.out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::vector<std::string> splitLines(const std::string &text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos)
            nl = text.size();
        out.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// A live bar line: "ggoo  [###---]  33%  21.3/64.0 MiB  15.9 MiB/s  1 peer  ETA 0:02";
// measured: with a rate and an ETA (not the "-.- MiB/s ... ETA --:--" of the first draw).
bool isBarLine(const std::string &line, bool measured) {
    static const std::regex any(
        R"(^ggoo +\[[#-]+\] +[0-9]+%  [0-9.]+/[0-9.]+ MiB  .* MiB/s  1 peer  ETA .*$)");
    static const std::regex rated(R"(  [0-9]+\.[0-9] MiB/s  1 peer  ETA [0-9]+:[0-9]{2}$)");
    return std::regex_search(line, any) && (!measured || std::regex_search(line, rated));
}

// text without its trailing blank lines (capture-pane pads to the pane's height).
std::string trimBlankLines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text + "\n";
}

// A tmux server of our own (-L socket, no user config) with one 160x50 session "cli". Its
// destructor kills the server, and the pane's process with it, always.
class TmuxSession {
  public:
    TmuxSession(const std::string &dir, const std::string &command)
        : _socket("lanspread-cli-" + std::to_string(::getpid()) + "-" +
                  std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())),
          _config(dir + "/tmux.conf") {
        // The pane stays after its process exits, so a crash still shows on the screen.
        writeWholeFile(_config, "set -g remain-on-exit on\nset -g history-limit 5000\n");
        auto started = tmux({"new-session", "-d", "-s", "cli", "-x", "160", "-y", "50", command});
        if (started.status != 0)
            throw std::runtime_error("tmux new-session failed: " + started.out);
        auto pid = tmux({"display-message", "-p", "-t", "cli", "#{pane_pid}"});
        _panePid = std::atoi(pid.out.c_str());
    }
    ~TmuxSession() {
        tmux({"kill-server"});
        // kill-server hangs the pane up; a process that outlives that is killed outright.
        for (int i = 0; i < 100 && _panePid > 0 && ::kill(_panePid, 0) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (_panePid > 0 && ::kill(_panePid, 0) == 0)
            ::kill(_panePid, SIGKILL);
    }
    TmuxSession(const TmuxSession &) = delete;
    TmuxSession &operator=(const TmuxSession &) = delete;

    // Types text and presses Enter.
    void type(const std::string &text) {
        auto typed = tmux({"send-keys", "-t", "cli", "-l", text});
        CPPUNIT_ASSERT_MESSAGE("send-keys: " + typed.out, typed.status == 0);
        auto enter = tmux({"send-keys", "-t", "cli", "Enter"});
        CPPUNIT_ASSERT_MESSAGE("send-keys Enter: " + enter.out, enter.status == 0);
    }
    // The screen as text: the visible 50 rows, or with the scrollback too; joined: a line
    // the terminal wrapped is one line again.
    std::string capture(bool withHistory = false, bool joined = false) {
        std::vector<std::string> args{"capture-pane", "-p", "-t", "cli"};
        if (joined)
            args.push_back("-J");
        if (withHistory) {
            args.push_back("-S");
            args.push_back("-");
        }
        return tmux(args).out;
    }
    bool paneDead() {
        return contains(tmux({"display-message", "-p", "-t", "cli", "#{pane_dead}"}).out, "1");
    }
    int panePid() const { return _panePid; }

  private:
    ToolResult tmux(std::vector<std::string> args) {
        args.insert(args.begin(), {TMUX_PATH, "-L", _socket, "-f", _config});
        return run(args);
    }

    std::string _socket;
    std::string _config;
    int _panePid = -1;
};

} // namespace

class HumanTmuxTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HumanTmuxTest);
    CPPUNIT_TEST(humanSessionInTmux);
    CPPUNIT_TEST(jsonFlagKeepsJsonLinesOnATerminal);
    CPPUNIT_TEST(failedInstallIsPrintedOnce);
    CPPUNIT_TEST(bootstrapPeerHintFitsTheMode);
    CPPUNIT_TEST_SUITE_END();

  public:
    void tearDown() override {
        _tmux = nullptr;
        _session.reset(); // kills that tmux server and the peer in it
    }

    void humanSessionInTmux() {
        Lab lab("cli-tmux");
        lab.writeCatalog(fx::catalogJson());
        fx::writeGameSet(lab.gamesDirOf("source"), "alpha");
        for (int i = 0; i < kBigFiles; ++i)
            writeBigFile(lab.gamesDirOf("source") + "/ggoo/data/pak" + std::to_string(10 + i) +
                             ".bin",
                         uint64_t(100 + i));
        Peer &source = lab.startPeer("source", "[lanspread]\nupload_limit_mib_s = 16\n");

        const std::string home = lab.dir() + "/human";
        std::filesystem::create_directories(home + "/games");
        std::filesystem::create_directories(home + "/state");
        _humanStderr = home + "/stderr.log";
        const std::string command = "exec '" + std::string(LANSPREADD_PATH) + "' --games '" + home +
                                    "/games' --state '" + home + "/state' --catalog '" +
                                    lab.catalogPath() +
                                    "' --listen 127.0.0.1:0 --name human --plugins "
                                    "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
                                    "org.lanspread.unpacker.libarchive 2>'" +
                                    _humanStderr + "'";
        TmuxSession tmux(lab.dir(), command);
        _tmux = &tmux;
        struct Forget {
            HumanTmuxTest *t;
            ~Forget() { t->_tmux = nullptr; }
        } forget{this};

        // Human mode is on by itself: the input is a terminal.
        waitScreen(
            [](const std::string &s) { return contains(s, "ready: listening on 127.0.0.1:"); },
            "the greeting and local-peer-ready");
        CPPUNIT_ASSERT_MESSAGE(screen(), contains(screen(), "- type help for the commands"));
        CPPUNIT_ASSERT_MESSAGE(screen(), !contains(screen(), "{\"event\""));

        tmux.type("connect " + source.listenAddr());
        waitScreen(
            [&](const std::string &s) {
                return contains(s, "connected to " + source.listenAddr());
            },
            "the connect result");

        // ---- list-games: the remote table is aligned ----
        tmux.type("list-games");
        waitScreen([](const std::string &s) { return contains(s, "remote games (3):"); },
                   "the list-games tables");
        _tableShot = tmux.capture();
        checkRemoteTable(_tableShot);

        // ---- download with a live bar, and a line typed under it ----
        tmux.type("download ggoo install=false");
        std::string barShot;
        bool sawBar = false, typedDuringBar = false;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        for (;;) {
            const std::string s = tmux.capture();
            for (const auto &line : splitLines(s)) {
                sawBar = sawBar || isBarLine(line, false);
                if (isBarLine(line, true) && barShot.empty())
                    barShot = s;
            }
            if (sawBar && !typedDuringBar) {
                tmux.type("list-peers"); // echoed under the bar: the screen must be repaired
                typedDuringBar = true;
            }
            if (contains(s, "ggoo: downloaded ") || contains(s, "ggoo: download failed"))
                break;
            if (std::chrono::steady_clock::now() > deadline || tmux.paneDead())
                fail("ggoo's download did not end within 60 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        _barShot = barShot;
        CPPUNIT_ASSERT_MESSAGE("no live bar with a rate in MiB/s and an ETA was ever on the "
                               "screen:\n" +
                                   screen(),
                               !barShot.empty());
        waitScreen([](const std::string &s) { return contains(s, "peers (1):"); },
                   "the list-peers table typed during the download");

        // ---- errors: one made up locally, one from the kernel ----
        tmux.type("dowload ggoo");
        tmux.type("download nosuchgame");
        waitScreen([](const std::string &s) { return contains(s, "error: unknown-game: "); },
                   "the kernel's error");
        const std::string final = tmux.capture(true);
        _finalShot = tmux.capture();
        const auto lines = splitLines(final);

        // The final download line replaced the bar and has the rate.
        auto finished = std::find_if(lines.begin(), lines.end(), [](const std::string &l) {
            return l.rfind("ggoo: downloaded 64.", 0) == 0;
        });
        CPPUNIT_ASSERT_MESSAGE(final, finished != lines.end());
        CPPUNIT_ASSERT_MESSAGE(*finished, contains(*finished, " MiB/s from 1 peer"));
        // No bar is left (nor half of one) anywhere once the download ended.
        for (const auto &line : lines) {
            CPPUNIT_ASSERT_MESSAGE("a bar is left: " + line + "\n" + final,
                                   !contains(line, "ETA ") && !contains(line, "[##"));
        }
        // The line typed under the bar is printed once, whole, above the table it asked for.
        const auto typed = std::count(lines.begin(), lines.end(), std::string("list-peers"));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(final, std::ptrdiff_t(1), typed);
        CPPUNIT_ASSERT_MESSAGE(final, contains(final, "error: invalid-command: unknown command "
                                                      "'dowload' (type help for the list)\n"));
        CPPUNIT_ASSERT_MESSAGE(final, contains(final, "error: unknown-game: "));
        CPPUNIT_ASSERT_MESSAGE(final, !contains(final, "{\"event\""));

        // The bytes are there.
        const Manifest expected = manifest(source.gameRoot("ggoo"));
        const Manifest got = manifest(home + "/games/ggoo");
        CPPUNIT_ASSERT_MESSAGE(manifestDiff(expected, got), expected == got);
        CPPUNIT_ASSERT_EQUAL(std::size_t(kBigFiles + 2), got.size()); // + ggoo.eti, version.ini

        std::printf("\n--- list-games (capture-pane) ---\n%s", trimBlankLines(_tableShot).c_str());
        std::printf("--- a live bar (capture-pane) ---\n%s", trimBlankLines(_barShot).c_str());
        std::printf("--- the end (capture-pane) ---\n%s", trimBlankLines(_finalShot).c_str());
    }

    // --json on a terminal: the JSONL contract, not human mode (no greeting, a typed word is
    // not a command).
    void jsonFlagKeepsJsonLinesOnATerminal() {
        Lab lab("cli-json");
        lab.writeCatalog(fx::catalogJson());
        startInTmux(lab, {"--json"}, "org.lanspread.frontend.cli");
        TmuxSession &tmux = *_tmux;
        waitScreen(
            [](const std::string &s) {
                return contains(s, "{\"event\":\"cli-started\",\"ts_ms\":");
            },
            "cli-started as a JSON line");
        tmux.type(R"({"id":"j1","cmd":"status"})");
        tmux.type("status");
        waitJoined([](const std::string &s) { return contains(s, R"("id":"j1","ok":true,)"); },
                   "the JSON result of status");
        waitJoined([](const std::string &s) { return contains(s, R"("code":"invalid-command")"); },
                   "the typed word answered as a line that is not JSON");
        const std::string screenText = tmux.capture(true, true);
        CPPUNIT_ASSERT_MESSAGE(screenText, !contains(screenText, "type help"));
        for (const auto &line : splitLines(screenText))
            CPPUNIT_ASSERT_MESSAGE(line, line.empty() || line == "status" || line[0] == '{');
    }

    // A failed install in human mode, with the peer's log on the same terminal: one line
    // says so (the event), not a log line as well.
    void failedInstallIsPrintedOnce() {
        Lab lab("cli-install-failed");
        lab.writeCatalog(fx::catalogJson());
        const std::string home = lab.dir() + "/human";
        std::filesystem::create_directories(home + "/games/ggoo");
        writeWholeFile(home + "/games/ggoo/version.ini", std::string(fx::kCatalogVersion) + "\n");
        writeWholeFile(home + "/games/ggoo/ggoo.eti", fx::pseudoRandom(4096, 7)); // no archive
        startInTmux(lab, {},
                    "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
                    "org.lanspread.unpacker.libarchive",
                    /*logsOnScreen=*/true);
        waitScreen([](const std::string &s) { return contains(s, "ready: listening on"); },
                   "local-peer-ready");
        _tmux->type("install ggoo");
        waitScreen([](const std::string &s) { return contains(s, "ggoo: install failed: "); },
                   "the failed install");
        std::this_thread::sleep_for(std::chrono::milliseconds(500)); // a late log line shows
        const std::string screenText = _tmux->capture(true, true);
        std::size_t failed = 0;
        for (const auto &line : splitLines(screenText))
            failed += contains(line, "failed") ? 1 : 0;
        CPPUNIT_ASSERT_EQUAL_MESSAGE(screenText, std::size_t(1), failed);
    }

    // What bootstrap.sh peer says to type: human-mode commands on a terminal, JSON otherwise.
    void bootstrapPeerHintFitsTheMode() {
        Lab lab("cli-bootstrap-hint");
        const std::string script =
            "source '" + std::string(LANSPREAD_SOURCE_DIR) + "/bootstrap.sh' && peer_hint";
        // The shell stays (killed with the server): tmux may drop what a pane's process wrote
        // just before it exited.
        TmuxSession tmux(lab.dir(), "bash -c \"" + script + " && exec sleep 60\"");
        _tmux = &tmux;
        struct Forget {
            HumanTmuxTest *t;
            ~Forget() { t->_tmux = nullptr; }
        } forget{this};
        waitScreen([](const std::string &s) { return contains(s, "bootstrap: "); }, "the hint");
        const std::string onTerminal = tmux.capture(true, true);
        CPPUNIT_ASSERT_MESSAGE(onTerminal, contains(onTerminal, "type help for the commands"));
        CPPUNIT_ASSERT_MESSAGE(onTerminal, !contains(onTerminal, "{\"cmd\""));

        const ToolResult piped = run({"/bin/bash", "-c", script + " </dev/null"});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(piped.out, 0, piped.status);
        CPPUNIT_ASSERT_MESSAGE(piped.out, contains(piped.out, "{\"cmd\":\"status\"}"));
        CPPUNIT_ASSERT_MESSAGE(piped.out, !contains(piped.out, "type help"));
    }

  private:
    // lanspreadd in a new tmux session (kept in _session, and in _tmux until the test ends)
    // with its own games and state under <lab>/human, the lab's catalog, a loopback port and
    // the given plugins; its log goes to <home>/stderr.log unless logsOnScreen. Returns home.
    std::string startInTmux(Lab &lab, const std::vector<std::string> &flags,
                            const std::string &plugins, bool logsOnScreen = false) {
        const std::string home = lab.dir() + "/human";
        std::filesystem::create_directories(home + "/games");
        std::filesystem::create_directories(home + "/state");
        _humanStderr = home + "/stderr.log";
        std::string command = "exec '" + std::string(LANSPREADD_PATH) + "'";
        for (const auto &flag : flags)
            command += " " + flag;
        command += " --games '" + home + "/games' --state '" + home + "/state' --catalog '" +
                   lab.catalogPath() + "' --listen 127.0.0.1:0 --name human --plugins " + plugins;
        if (!logsOnScreen)
            command += " 2>'" + _humanStderr + "'";
        _session = std::make_unique<TmuxSession>(lab.dir(), command);
        _tmux = _session.get();
        return home;
    }

    void waitJoined(const std::function<bool(const std::string &)> &ok, const std::string &what) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!ok(_tmux->capture(true, true))) {
            if (std::chrono::steady_clock::now() > deadline)
                fail("timed out waiting for " + what);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    static void writeBigFile(const std::string &path, uint64_t seed) {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        const std::string data = fx::pseudoRandom(kBigFileSize, seed);
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
        out.close();
        CPPUNIT_ASSERT_MESSAGE("cannot write " + path, out.good());
    }

    std::string screen() { return _tmux ? _tmux->capture() : std::string(); }

    [[noreturn]] void fail(const std::string &what) {
        CPPUNIT_FAIL(what + "\n--- screen:\n" + screen() + "--- lanspreadd stderr (tail):\n" +
                     fileTail(_humanStderr, 20));
        std::abort();
    }

    void waitScreen(const std::function<bool(const std::string &)> &ok, const std::string &what) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!ok(screen())) {
            if (std::chrono::steady_clock::now() > deadline)
                fail("timed out waiting for " + what);
            if (_tmux && _tmux->paneDead())
                fail("lanspreadd exited while waiting for " + what);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    // The remote table: a title, a header, one row per alpha game; every column starts at
    // its header's column, and the right-aligned SIZE column ends where its header ends.
    void checkRemoteTable(const std::string &shot) {
        const auto lines = splitLines(shot);
        auto title = std::find(lines.begin(), lines.end(), std::string("remote games (3):"));
        CPPUNIT_ASSERT_MESSAGE(shot, title != lines.end() && lines.end() - title >= 5);
        const std::string &header = *(title + 1);
        CPPUNIT_ASSERT_MESSAGE(header, header.rfind("  ID ", 0) == 0);
        std::vector<std::size_t> starts;
        for (const char *name : {"NAME", "VERSION", "PEERS", "SIZE"}) {
            const std::size_t at = header.find(std::string("  ") + name);
            CPPUNIT_ASSERT_MESSAGE(header + " lacks " + name, at != std::string::npos);
            starts.push_back(at + 2);
        }
        std::vector<std::string> ids;
        for (auto row = title + 2; row != title + 5; ++row) {
            const std::string &r = *row;
            ids.push_back(r.substr(2, r.find(' ', 2) - 2));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(shot, header.size(), r.size()); // SIZE right-aligned
            for (std::size_t i = 0; i < 2; ++i) // NAME and VERSION are left-aligned
                CPPUNIT_ASSERT_MESSAGE(r + " | " + header, r.compare(starts[i] - 2, 2, "  ") == 0 &&
                                                               r[starts[i]] != ' ');
            CPPUNIT_ASSERT_MESSAGE(r, contains(r, fx::kCatalogVersion));
        }
        std::sort(ids.begin(), ids.end());
        CPPUNIT_ASSERT_EQUAL(std::string("alienswarm bf1942 ggoo"),
                             ids[0] + " " + ids[1] + " " + ids[2]);
        const auto ggoo = std::find_if(
            title + 2, title + 5, [](const std::string &r) { return r.rfind("  ggoo ", 0) == 0; });
        CPPUNIT_ASSERT_MESSAGE(shot, contains(*ggoo, " MiB"));
    }

    TmuxSession *_tmux = nullptr;
    std::unique_ptr<TmuxSession> _session; // startInTmux's, ended in tearDown
    std::string _humanStderr;
    std::string _tableShot, _barShot, _finalShot;
};

CPPUNIT_TEST_SUITE_REGISTRATION(HumanTmuxTest);
