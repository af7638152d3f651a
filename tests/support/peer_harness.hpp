// Real lanspreadd peers for the scenario suites and the netns tests: each Peer is one process
// with its own games and state dirs, driven over frontend-cli's JSONL on stdin/stdout, its logs
// in a stderr file. Every stdout line a peer wrote is kept in its event log, so positive checks
// can wait for an event from a cursor and negative checks can scan the whole window.
// A Lab owns a unique temp dir, the catalog and the peers; it kills every child and removes
// the dir when it goes (set LANSPREAD_KEEP_LAB=1 to keep the dir for a post-mortem).
// Failures carry the stderr tail and the last events of every peer of the lab, so a red CI
// log says what the daemons saw. The loopback suites use Peer and Lab as they are; the netns
// harness (tests/netns/netns_harness.hpp) subclasses them for where a peer runs and what else
// its lab holds. Header-only; POSIX; CppUnit assertions.
#pragma once

#include "child_process.hpp"
#include "file_text.hpp"
#include "json_lines.hpp"

#include <Poco/JSON/Object.h>

#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifndef LANSPREADD_PATH
#error "LANSPREADD_PATH must name the lanspreadd binary"
#endif

namespace lanspread::test {

using namespace std::chrono_literals;

// ---- game roots ----

// Whether a game root's top-level name is lanspread's own (not game payload): local/ (the
// installed tree) and the transaction/sentinel scratch names.
inline bool isReservedRootName(const std::string &name) {
    return name == "local" || name.rfind(".version.ini", 0) == 0 ||
           name.rfind(".lanspread", 0) == 0 || name.rfind(".local.", 0) == 0;
}

using Manifest = std::map<std::string, std::string>; // relative path -> sha256 (or link:...)

// path -> sha256 of every regular file below dir (a game root), skipping the reserved root
// names; a symlink is listed as "symlink:<target>" so it cannot pass for a file. An absent
// dir gives an empty manifest.
inline Manifest manifest(const std::string &dir) {
    namespace fs = std::filesystem;
    Manifest out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        return out;
    std::vector<fs::path> stack{fs::path(dir)};
    while (!stack.empty()) {
        fs::path current = stack.back();
        stack.pop_back();
        for (const auto &entry : fs::directory_iterator(current)) {
            const std::string rel = fs::relative(entry.path(), dir).generic_string();
            if (current == fs::path(dir) && isReservedRootName(entry.path().filename().string()))
                continue;
            if (entry.is_symlink())
                out[rel] = "symlink:" + fs::read_symlink(entry.path()).string();
            else if (entry.is_directory())
                stack.push_back(entry.path());
            else if (entry.is_regular_file())
                out[rel] = sha256File(entry.path().string());
            else
                out[rel] = "special";
        }
    }
    return out;
}

// "path=sha256[0..12] size-less" lines, for assertion messages.
inline std::string describe(const Manifest &m) {
    std::string s = "{";
    for (const auto &[path, hash] : m)
        s += " " + path + "=" + hash.substr(0, 12);
    return s + " }";
}

// The differences between two manifests, for assertion messages.
inline std::string manifestDiff(const Manifest &expected, const Manifest &actual) {
    std::string s;
    for (const auto &[path, hash] : expected) {
        auto it = actual.find(path);
        if (it == actual.end())
            s += " missing:" + path;
        else if (it->second != hash)
            s += " differs:" + path + "(" + hash.substr(0, 12) + "!=" + it->second.substr(0, 12) +
                 ")";
    }
    for (const auto &[path, hash] : actual)
        if (!expected.count(path))
            s += " extra:" + path;
    return s.empty() ? " none" : s;
}

// ---- the transport under test ----

// The transport every scenario peer uses: transport-quic, unless LANSPREAD_TEST_TRANSPORT names
// another ("tls"), which then takes transport-quic's place in every plugin list the harness
// starts a peer with. So any scenario runs on either transport unchanged (S53: ctest runs S4,
// S7, S14, S50 and S51 with LANSPREAD_TEST_TRANSPORT=tls).
inline std::string transportUnderTest() {
    const char *chosen = getenv("LANSPREAD_TEST_TRANSPORT");
    const std::string name = chosen != nullptr && *chosen != '\0' ? chosen : "quic";
    if (name != "quic" && name != "tls")
        CPPUNIT_FAIL("LANSPREAD_TEST_TRANSPORT is '" + name + "'; it must be quic or tls");
    return name;
}
// The plugin id of transportUnderTest().
inline std::string transportPluginUnderTest() {
    return "org.lanspread.transport." + transportUnderTest();
}
// plugins (a comma-separated --plugins list) with transport-quic replaced by the transport
// under test.
inline std::string withTransportUnderTest(std::string plugins) {
    const std::string quic = "org.lanspread.transport.quic";
    const std::string chosen = transportPluginUnderTest();
    if (chosen == quic)
        return plugins;
    for (auto at = plugins.find(quic); at != std::string::npos;
         at = plugins.find(quic, at + chosen.size()))
        plugins.replace(at, quic.size(), chosen);
    return plugins;
}

// ---- one peer ----

struct LoggedEvent {
    std::string name; // the "event" field ("result" for command answers, "!not-json" otherwise)
    Json object;      // null for "!not-json"
    std::string line;
};

// Wall-clock ms since the Unix epoch (the clock of the events' ts_ms).
inline int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
// The first 8 hex digits of a peer_id, for messages.
inline std::string shortId(const std::string &peerId) {
    return peerId.substr(0, 8);
}

// One lanspreadd process. By default it runs directly and listens on 127.0.0.1; a subclass
// changes only where it runs and what it listens on (the netns harness runs it inside a lab
// host), everything else -- commands, the event log, waits, shutdown and kill -- is this one.
class Peer {
  public:
    // What a peer loads unless start() names other plugins.
    static constexpr const char *kPlugins =
        "org.lanspread.frontend.cli,org.lanspread.transport.quic,org.lanspread.unpacker.libarchive";

    // label names the peer in diagnostics; workDir holds its stderr logs and INI file.
    Peer(std::string label, std::string workDir)
        : _label(std::move(label)), _workDir(std::move(workDir)) {
        std::filesystem::create_directories(_workDir);
    }
    virtual ~Peer() { _child.reset(); } // ChildProcess kills and reaps a running child
    Peer(const Peer &) = delete;
    Peer &operator=(const Peer &) = delete;

    // A hook that returns diagnostics of the whole lab, appended to this peer's failures.
    void setLabDiagnostics(std::function<std::string()> diag) { _labDiag = std::move(diag); }

    // Starts lanspreadd as --name name and, unless wait is false (then call waitReady()),
    // waits for local-peer-ready (recording peer_id and listen_addr). ini, when not empty, goes
    // to a --config file; plugins empty means the peer's default list.
    void start(const std::string &name, const std::string &gamesDir, const std::string &stateDir,
               const std::string &catalog, const std::string &ini = "",
               const std::string &plugins = "", bool wait = true) {
        _name = name;
        _gamesDir = gamesDir;
        _stateDir = stateDir;
        _catalog = catalog;
        _ini = ini;
        _plugins = plugins.empty() ? defaultPlugins() : plugins;
        restart(wait);
    }
    // Starts again with the same name, dirs, catalog, INI and plugins (after kill9() or
    // shutdown()).
    void restart(bool wait = true) {
        launch();
        if (wait)
            waitReady();
    }
    // Waits for this run's local-peer-ready (peer_id and listen_addr).
    void waitReady() {
        const std::size_t ready = findEvent("local-peer-ready", {}, 30s, _runStart);
        if (ready == npos) {
            auto code = _child->wait(2s);
            if (code)
                _exited = true;
            fail("no local-peer-ready within 30 s: " +
                 (code ? "lanspreadd exited with " + std::to_string(*code) +
                             (*code == 127 ? " (cannot exec " + std::string(LANSPREADD_PATH) + ")"
                                           : std::string())
                       : std::string("lanspreadd is still running")));
        }
        _readyIndex = ready;
        _peerId = _log[ready].object->optValue<std::string>("peer_id", "");
        _listenAddr = _log[ready].object->optValue<std::string>("listen_addr", "");
        if (_peerId.empty() || _listenAddr.empty())
            fail("local-peer-ready lacks peer_id or listen_addr: " + _log[ready].line);
    }

    const std::string &label() const { return _label; }
    const std::string &name() const { return _name; }
    const std::string &peerId() const { return _peerId; }
    const std::string &listenAddr() const { return _listenAddr; }
    // The port lanspreadd bound (and advertises).
    std::string port() const { return _listenAddr.substr(_listenAddr.rfind(':') + 1); }
    const std::string &gamesDir() const { return _gamesDir; }
    const std::string &stateDir() const { return _stateDir; }
    std::string gameRoot(const std::string &game) const { return _gamesDir + "/" + game; }
    std::string stderrPath() const { return _workDir + "/stderr-" + std::to_string(_run) + ".log"; }
    bool running() const { return _child && !_exited; }
    pid_t pid() const { return _child ? _child->pid() : -1; }
    // Wall-clock ms just before the current run's process was forked.
    int64_t startedAtMs() const { return _startedAtMs; }
    // The log index where the current run's output starts.
    std::size_t runStart() const { return _runStart; }
    // The local-peer-ready event of the current run.
    const Json &readyEvent() const { return _log.at(_readyIndex).object; }

    // ---- commands ----

    // Sends {"id":<fresh>, ...json} (json is an object literal without an id) and returns the
    // result line; every other line read meanwhile goes to the event log. Fails the test if
    // no result arrives within timeout.
    Json command(const std::string &json, std::chrono::milliseconds timeout = 30s) {
        requireRunning("command " + json);
        const std::string id = _label + "-" + std::to_string(++_nextId);
        CPPUNIT_ASSERT_MESSAGE("command must be a JSON object: " + json,
                               json.size() > 2 && json.front() == '{');
        _child->writeStdin("{\"id\":" + jsonString(id) + "," + json.substr(1) + "\n");
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (std::size_t i = _log.size();; ++i) {
            while (i >= _log.size())
                if (!readOne(deadline))
                    fail("no result for " + json + " within " + std::to_string(timeout.count()) +
                         " ms");
            const auto &e = _log[i];
            if (e.name == "result" && e.object->has("id") && e.object->get("id").toString() == id)
                return e.object;
        }
    }
    // command() that must succeed; returns its data object (an empty one when absent).
    Json commandOk(const std::string &json, std::chrono::milliseconds timeout = 30s) {
        Json result = command(json, timeout);
        if (!result->optValue<bool>("ok", false))
            fail("command " + json + " failed: " + toJson(result));
        Json data = result->getObject("data");
        return data.isNull() ? Json(new Poco::JSON::Object) : data;
    }
    // command() that must fail; returns its error code.
    std::string commandError(const std::string &json, std::chrono::milliseconds timeout = 30s) {
        Json result = command(json, timeout);
        if (result->optValue<bool>("ok", false))
            fail("command " + json + " was expected to fail: " + toJson(result));
        Json error = result->getObject("error");
        return error.isNull() ? std::string() : error->optValue<std::string>("code", "");
    }

    Json status() { return commandOk("{\"cmd\":\"status\"}"); }
    JsonArray listPeers() { return commandOk("{\"cmd\":\"list-peers\"}")->getArray("peers"); }
    Json listGames() { return commandOk("{\"cmd\":\"list-games\"}"); }
    // The peer_ids list-peers names.
    std::set<std::string> peerIds() {
        std::set<std::string> ids;
        JsonArray peers = listPeers();
        for (std::size_t i = 0; peers && i < peers->size(); ++i)
            ids.insert(
                peers->getObject(static_cast<unsigned>(i))->optValue<std::string>("peer_id", ""));
        return ids;
    }
    // The peer_id returned by connect. The connection must run over the transport under test
    // (list-peers names it), so a scenario cannot pass over another transport by accident.
    std::string connect(const Peer &other) {
        const std::string peerId =
            commandOk("{\"cmd\":\"connect\",\"addr\":" + jsonString(other.listenAddr()) + "}")
                ->getValue<std::string>("peer_id");
        JsonArray peers = listPeers();
        for (std::size_t i = 0; peers && i < peers->size(); ++i) {
            Json row = peers->getObject(static_cast<unsigned>(i));
            if (row->optValue<std::string>("peer_id", "") != peerId)
                continue;
            const std::string transport = row->optValue<std::string>("transport", "");
            if (transport != transportUnderTest())
                fail("connected to " + other.label() + " over '" + transport + "', not over " +
                     transportUnderTest());
            if (transport != "quic") // the evidence that a swapped-transport run used it
                std::printf("%s connected to %s over %s\n", _label.c_str(), other.label().c_str(),
                            transport.c_str());
        }
        return peerId;
    }

    // ---- events ----

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    using Predicate = std::function<bool(const Json &)>;

    std::size_t logSize() const { return _log.size(); }
    const LoggedEvent &logAt(std::size_t i) const { return _log.at(i); }

    // The index of the first event named name (matching pred) at or after from, reading more
    // output until timeout; npos when none came.
    std::size_t findEvent(const std::string &name, const Predicate &pred = {},
                          std::chrono::milliseconds timeout = 30s, std::size_t from = 0) {
        return findAnyEvent({name}, pred, timeout, from);
    }
    // findEvent() for the first event named any of names.
    std::size_t findAnyEvent(const std::set<std::string> &names, const Predicate &pred = {},
                             std::chrono::milliseconds timeout = 30s, std::size_t from = 0) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (std::size_t i = from;; ++i) {
            while (i >= _log.size())
                if (!running() || !readOne(deadline))
                    return npos;
            const auto &e = _log[i];
            if (names.count(e.name) && (!pred || pred(e.object)))
                return i;
        }
    }
    // findEvent() that must succeed; returns the event. what, when given, says in the failure
    // what the event would have meant.
    Json waitEvent(const std::string &name, const Predicate &pred = {},
                   std::chrono::milliseconds timeout = 30s, std::size_t from = 0,
                   const std::string &what = "") {
        return _log.at(waitEventIndex(name, pred, timeout, from, what)).object;
    }
    std::size_t waitEventIndex(const std::string &name, const Predicate &pred = {},
                               std::chrono::milliseconds timeout = 30s, std::size_t from = 0,
                               const std::string &what = "") {
        std::size_t i = findEvent(name, pred, timeout, from);
        if (i == npos)
            fail("no " + name + " event" + (what.empty() ? "" : " (" + what + ")") + " within " +
                 std::to_string(timeout.count()) + " ms (from log index " + std::to_string(from) +
                 ")");
        return i;
    }
    // Every logged event named name (matching pred) in [from, to).
    std::vector<Json> events(const std::string &name, const Predicate &pred = {},
                             std::size_t from = 0, std::size_t to = npos) const {
        std::vector<Json> out;
        for (std::size_t i = from; i < _log.size() && i < to; ++i)
            if (_log[i].name == name && (!pred || pred(_log[i].object)))
                out.push_back(_log[i].object);
        return out;
    }
    // Reads whatever the peer writes for window (so a negative check sees a settled log);
    // with no window, only what is already there.
    void drain(std::chrono::milliseconds window = 0ms) {
        const auto deadline = std::chrono::steady_clock::now() + window;
        while (running() && readOne(deadline)) {
        }
    }
    // Lines on stdout that are not JSON objects (the contract allows none).
    std::vector<std::string> invalidLines() const {
        std::vector<std::string> out;
        for (const auto &e : _log)
            if (e.name == "!not-json")
                out.push_back(e.line);
        return out;
    }

    // ---- lifecycle ----

    // kill -9, then reaps the process. The event log is kept.
    void kill9() {
        if (!running())
            return;
        _child->signal(SIGKILL);
        _child->wait(10s);
        // What it wrote before dying is still in the pipe: keep it in the log.
        while (readOne(std::chrono::steady_clock::now() + 1s)) {
        }
        _exited = true;
    }
    // The shutdown command, then waits for exit (kill -9 after 15 s); returns the exit code
    // (-1 when it was not running or had to be killed).
    int shutdown() {
        if (!running())
            return -1;
        command("{\"cmd\":\"shutdown\"}");
        auto code = _child->wait(15s);
        if (!code) {
            kill9();
            return -1;
        }
        while (readOne(std::chrono::steady_clock::now() + 1s)) {
        }
        _exited = true;
        return *code;
    }

    // The peer's own diagnostics: pid, ids, its last events (without command results: polling
    // would fill the window) and its stderr tail.
    std::string diagnostics(std::size_t stderrLines = 25, std::size_t eventLines = 14) const {
        std::string s = "--- peer " + _label + place() + " (" + _name + ", pid " +
                        std::to_string(pid()) + (running() ? ", running" : ", not running") +
                        ", peer_id " + shortId(_peerId) + ", listen " + _listenAddr + ")\n";
        std::vector<std::size_t> shown;
        for (std::size_t i = _log.size(); i-- > 0 && shown.size() < eventLines;)
            if (_log[i].name != "result")
                shown.insert(shown.begin(), i);
        s += "  last events (command results left out):\n";
        for (std::size_t i : shown)
            s += "    [" + std::to_string(i) + "] " + _log[i].line.substr(0, 400) + "\n";
        s += "  stderr tail (" + stderrPath() + "):\n" + fileTail(stderrPath(), stderrLines);
        return s;
    }

    // Fails the current test with msg and the lab's diagnostics.
    [[noreturn]] void fail(const std::string &msg) const {
        CPPUNIT_FAIL(_label + ": " + msg + "\n" + (_labDiag ? _labDiag() : diagnostics()));
        std::abort(); // unreachable: CPPUNIT_FAIL throws
    }

  protected:
    // Where the peer runs; a subclass overrides these and nothing else.
    // lanspreadd's --listen.
    virtual std::string listenSpec() const { return "127.0.0.1:0"; }
    // The --plugins of a start() that names none.
    virtual std::string defaultPlugins() const { return kPlugins; }
    // The command line to exec (program first) for lanspreadd's own (LANSPREADD_PATH first).
    virtual std::vector<std::string> execLine(std::vector<std::string> lanspreadd) const {
        return lanspreadd;
    }
    // Where it runs, for diagnostics (" on h2"); nothing on the loopback.
    virtual std::string place() const { return ""; }

    const std::string &workDir() const { return _workDir; }

  private:
    void launch() {
        CPPUNIT_ASSERT_MESSAGE(_label + " is already running", !running());
        ++_run;
        const std::string plugins = withTransportUnderTest(_plugins);
        std::vector<std::string> line{
            LANSPREADD_PATH, "--games",    _gamesDir, "--state", _stateDir,   "--catalog", _catalog,
            "--listen",      listenSpec(), "--name",  _name,     "--plugins", plugins};
        if (!_ini.empty()) {
            const std::string ini = _workDir + "/peer.ini";
            writeWholeFile(ini, _ini);
            line.push_back("--config");
            line.push_back(ini);
        }
        line = execLine(std::move(line));
        const std::string program = line.front();
        line.erase(line.begin());
        _child.reset();
        _exited = false;
        _peerId.clear();
        _listenAddr.clear();
        _runStart = _log.size();
        _startedAtMs = wallMs();
        _child = std::make_unique<ChildProcess>(program, line, _workDir, stderrPath());
    }

    // Reads one stdout line into the log; false at the deadline or at EOF (which marks the
    // process as exited once it is reaped).
    bool readOne(std::chrono::steady_clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0)
            left = 0ms;
        auto line = _child->readLine(left);
        if (!line) {
            if (_child->wait(0ms).has_value())
                _exited = true;
            return false;
        }
        LoggedEvent e;
        e.line = *line;
        try {
            e.object = parseJson(*line);
            e.name = e.object->optValue<std::string>("event", "!no-event-field");
        } catch (const std::exception &) {
            e.name = "!not-json";
        }
        _log.push_back(std::move(e));
        return true;
    }

    void requireRunning(const std::string &what) const {
        if (!running())
            fail(what + ": the peer is not running");
    }

    std::string _label;
    std::string _workDir;
    std::string _name, _gamesDir, _stateDir, _catalog, _ini, _plugins;
    std::string _peerId, _listenAddr;
    std::unique_ptr<ChildProcess> _child;
    bool _exited = true;
    int _run = 0;
    int _nextId = 0;
    int64_t _startedAtMs = 0;
    std::size_t _readyIndex = 0;
    std::size_t _runStart = 0;
    std::vector<LoggedEvent> _log;
    std::function<std::string()> _labDiag;
};

// ---- a lab: temp dir, catalog, peers ----

class Lab {
  public:
    // The lab's dir is <TMPDIR>/lanspread-[<kind>-]<scenario>-XXXXXX.
    explicit Lab(const std::string &scenario, const std::string &kind = "") : _scenario(scenario) {
        const char *tmp = ::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/lanspread-" +
                              (kind.empty() ? "" : kind + "-") + scenario + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed for " + pattern);
        _dir = pattern;
    }
    virtual ~Lab() {
        for (auto &p : _peers)
            p.reset(); // kills every child still running
        const char *keep = ::getenv("LANSPREAD_KEEP_LAB");
        if (keep && *keep && std::string(keep) != "0") {
            std::fprintf(stderr, "lab kept: %s\n", _dir.c_str());
            return;
        }
        std::error_code ec;
        std::filesystem::remove_all(_dir, ec);
    }
    Lab(const Lab &) = delete;
    Lab &operator=(const Lab &) = delete;

    const std::string &dir() const { return _dir; }

    // Writes the catalog JSON (once per lab; later peers share it) and returns its path.
    std::string writeCatalog(const std::string &json) {
        writeWholeFile(catalogPath(), json);
        return catalogPath();
    }
    std::string catalogPath() const { return _dir + "/catalog.json"; }
    std::string gamesDirOf(const std::string &label) const { return _dir + "/" + label + "/games"; }
    std::string stateDirOf(const std::string &label) const { return _dir + "/" + label + "/state"; }

    // A new peer under <lab>/<label>/ with games/ and state/ created (not started yet).
    Peer &addPeer(const std::string &label) {
        return adopt(std::make_unique<Peer>(label, _dir + "/" + label));
    }
    // Adds and starts a peer on its own games/state dirs with the lab's catalog.
    Peer &startPeer(const std::string &label, const std::string &extraIni = "") {
        Peer &p = addPeer(label);
        p.start(label, gamesDirOf(label), stateDirOf(label), catalogPath(), extraIni);
        return p;
    }
    // Every running peer reads what it has buffered (keeps the pipes from filling).
    void pump() {
        for (auto &p : _peers)
            p->drain();
    }

    virtual std::string diagnostics() const {
        return "=== lab " + _scenario + " at " + _dir + "\n" + peerDiagnostics();
    }
    // Fails the test with msg and every peer's diagnostics unless cond holds.
    void check(bool cond, const std::string &msg) const {
        if (!cond)
            CPPUNIT_FAIL(_scenario + ": " + msg + "\n" + diagnostics());
    }
    // Polls cond (every 100 ms) until it holds; fails with msg at the timeout. Returns the ms
    // it took.
    int64_t waitUntil(const std::function<bool()> &cond, std::chrono::milliseconds timeout,
                      const std::string &msg) const {
        const auto start = std::chrono::steady_clock::now();
        const auto deadline = start + timeout;
        while (!cond()) {
            if (std::chrono::steady_clock::now() >= deadline)
                check(false, "timed out after " + std::to_string(timeout.count()) + " ms: " + msg);
            std::this_thread::sleep_for(100ms);
        }
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
            .count();
    }

  protected:
    const std::string &scenario() const { return _scenario; }
    std::string peerDiagnostics() const {
        std::string s;
        for (const auto &p : _peers)
            s += p->diagnostics();
        return s;
    }
    // Keeps a new peer (its games/ and state/ dirs created, its failures carrying the lab's
    // diagnostics) and returns it.
    template <class P> P &adopt(std::unique_ptr<P> peer) {
        std::filesystem::create_directories(gamesDirOf(peer->label()));
        std::filesystem::create_directories(stateDirOf(peer->label()));
        peer->setLabDiagnostics([this] { return diagnostics(); });
        P &kept = *peer;
        _peers.push_back(std::move(peer));
        return kept;
    }

  private:
    std::string _scenario;
    std::string _dir;
    std::vector<std::unique_ptr<Peer>> _peers;
};

} // namespace lanspread::test
