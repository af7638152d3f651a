// Real lanspreadd peers on the simulated LAN of netns-avahi-lab.sh: every process runs inside
// one lab host (`netns-avahi-lab.sh exec I -- ...`, or the same nsenter call directly, so its
// own network, mount and UTS namespaces, and that host's avahi-daemon on its own system bus). A
// HostPeer is one lanspreadd listening on 0.0.0.0:0 with the dnssd discovery plugin, driven over
// frontend-cli's JSONL (spec/CLI.md); a Probe is one dnssd_probe (the lab's Bonjour-API probe). The
// lab itself (up/down) belongs to the caller: run-in-lab.sh brings it up around the test binary and
// always takes it down. LAB_NAME selects the lab, exactly as for the lab script.
//
// Times: events carry ts_ms (wall clock, shared by every namespace of the machine), probe
// lines carry CLOCK_MONOTONIC ms (= std::chrono::steady_clock), so both can be compared with
// the test's own clocks. Header-only; POSIX; CppUnit assertions.
#pragma once

#include "child_process.hpp"
#include "peer_harness.hpp"     // Json helpers, LoggedEvent, fileTail, writeWholeFile
#include "scenario_support.hpp" // str, evidence

#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifndef LAB_SCRIPT
#error "LAB_SCRIPT must name tests/netns/netns-avahi-lab.sh"
#endif
#ifndef DNSSD_PROBE_PATH
#error "DNSSD_PROBE_PATH must name the dnssd_probe binary"
#endif

namespace lanspread::netns {

using lanspread::test::ChildProcess;
using lanspread::test::Json;
using lanspread::test::JsonArray;
using lanspread::test::LoggedEvent;
using lanspread::test::str;
using namespace std::chrono_literals;

// Wall-clock ms since the Unix epoch (the clock of the events' ts_ms).
inline int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
// CLOCK_MONOTONIC ms (the clock of dnssd_probe's stamps).
inline double monoMs() {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline std::string labName() {
    const char *n = ::getenv("LAB_NAME");
    return n && *n ? n : "lanlab";
}
inline std::string labSubnet() {
    const char *n = ::getenv("LAB_SUBNET");
    return n && *n ? n : "10.77.0";
}
// Host i's IPv4 address, as the lab assigns it.
inline std::string hostIp(int host) {
    return labSubnet() + "." + std::to_string(10 + host);
}
// How many hosts the running lab has (0 when it is not up).
inline int labHosts() {
    std::ifstream in("/run/" + labName() + "/nhosts");
    int n = 0;
    in >> n;
    return n;
}
// Runs the lab script with args (e.g. "restart-avahi 1"); returns its exit code.
inline int runLab(const std::string &args) {
    const std::string cmd = std::string(LAB_SCRIPT) + " " + args;
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
// The lab script's arguments that run a program inside lab host i (`exec I -- CMD...`).
inline std::vector<std::string> inHost(int host, const std::vector<std::string> &command) {
    std::vector<std::string> args{"exec", std::to_string(host), "--"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
}
// nsenter's arguments that do what `netns-avahi-lab.sh exec I -- CMD...` does (host I's
// network, mount and UTS namespaces, the working directory kept, the host's own system bus,
// the compat banner off), without the bash wrapper: under load the script alone took 130-280 ms,
// which B5 would otherwise count as lanspreadd's start-up. nsenter and env exec in turn, so the
// child's pid is CMD's.
inline std::vector<std::string> nsenterArgs(int host, const std::string &workDir,
                                            const std::vector<std::string> &command) {
    const std::string lab = labName(), h = "h" + std::to_string(host);
    std::vector<std::string> args{"--net=/run/netns/" + lab + "-" + h,
                                  "--mount=/run/" + lab + "/ns/" + h + ".mnt",
                                  "--uts=/run/" + lab + "/ns/" + h + ".uts",
                                  "--wd=" + workDir,
                                  "--",
                                  "/usr/bin/env",
                                  "-u",
                                  "DBUS_SYSTEM_BUS_ADDRESS",
                                  "AVAHI_COMPAT_NOWARN=1"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
}

inline int64_t i64(const Json &o, const std::string &key) {
    if (o.isNull() || !o->has(key) || o->get(key).isEmpty())
        return 0;
    return o->get(key).convert<int64_t>();
}
inline std::string shortId(const std::string &peerId) {
    return peerId.substr(0, 8);
}

// ---- one lanspreadd inside a lab host ----

class HostPeer {
  public:
    static constexpr const char *kPlugins =
        "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
        "org.lanspread.unpacker.libarchive,org.lanspread.discovery.dnssd";
    static constexpr const char *kPluginsNoDiscovery =
        "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
        "org.lanspread.unpacker.libarchive";

    // label names the peer in diagnostics (it is also its --name); workDir holds its stderr
    // logs and INI file.
    HostPeer(std::string label, int host, std::string workDir)
        : _label(std::move(label)), _host(host), _workDir(std::move(workDir)) {
        std::filesystem::create_directories(_workDir);
    }
    ~HostPeer() { _child.reset(); } // kills and reaps a running child
    HostPeer(const HostPeer &) = delete;
    HostPeer &operator=(const HostPeer &) = delete;

    void setLabDiagnostics(std::function<std::string()> diag) { _labDiag = std::move(diag); }

    // Starts lanspreadd in the host (listening on 0.0.0.0:0) and waits for local-peer-ready
    // (unless wait is false: then call waitReady()). ini goes to a --config file when not empty.
    void start(const std::string &gamesDir, const std::string &stateDir, const std::string &catalog,
               const std::string &ini = "", const std::string &plugins = kPlugins,
               bool wait = true) {
        _gamesDir = gamesDir;
        _stateDir = stateDir;
        _catalog = catalog;
        _ini = ini;
        _plugins = plugins;
        launch();
        if (wait)
            waitReady();
    }
    // Starts again with the same settings (after kill9() or shutdown()).
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
                 (code ? "it exited with " + std::to_string(*code)
                       : std::string("lanspreadd is still running")));
        }
        _readyIndex = ready;
        _peerId = str(_log[ready].object, "peer_id");
        _listenAddr = str(_log[ready].object, "listen_addr");
        if (_peerId.empty() || _listenAddr.empty())
            fail("local-peer-ready lacks peer_id or listen_addr: " + _log[ready].line);
    }

    const std::string &label() const { return _label; }
    int host() const { return _host; }
    const std::string &peerId() const { return _peerId; }
    const std::string &listenAddr() const { return _listenAddr; }
    // The port lanspreadd bound (and advertises).
    std::string port() const { return _listenAddr.substr(_listenAddr.rfind(':') + 1); }
    // Where the others must reach it: the host's address and the bound port.
    std::string lanAddr() const { return hostIp(_host) + ":" + port(); }
    // Wall-clock ms just before the process was forked (nsenter and env included).
    int64_t startedAtMs() const { return _startedAtMs; }
    // The log index where the current run's output starts.
    std::size_t runStart() const { return _runStart; }
    // The local-peer-ready event of the current run.
    const Json &readyEvent() const { return _log.at(_readyIndex).object; }
    std::string stderrPath() const { return _workDir + "/stderr-" + std::to_string(_run) + ".log"; }
    bool running() const { return _child && !_exited; }
    pid_t pid() const { return _child ? _child->pid() : -1; }

    // ---- commands ----

    Json command(const std::string &json, std::chrono::milliseconds timeout = 30s) {
        requireRunning("command " + json);
        const std::string id = _label + "-" + std::to_string(++_nextId);
        _child->writeStdin("{\"id\":" + lanspread::test::jsonString(id) + "," + json.substr(1) +
                           "\n");
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
    Json commandOk(const std::string &json, std::chrono::milliseconds timeout = 30s) {
        Json result = command(json, timeout);
        if (!result->optValue<bool>("ok", false))
            fail("command " + json + " failed: " + lanspread::test::toJson(result));
        Json data = result->getObject("data");
        return data.isNull() ? Json(new Poco::JSON::Object) : data;
    }
    Json status() { return commandOk("{\"cmd\":\"status\"}"); }
    JsonArray listPeers() { return commandOk("{\"cmd\":\"list-peers\"}")->getArray("peers"); }
    Json listGames() { return commandOk("{\"cmd\":\"list-games\"}"); }
    std::set<std::string> peerIds() {
        std::set<std::string> ids;
        JsonArray peers = listPeers();
        for (std::size_t i = 0; peers && i < peers->size(); ++i)
            ids.insert(str(peers->getObject(static_cast<unsigned>(i)), "peer_id"));
        return ids;
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
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (std::size_t i = from;; ++i) {
            while (i >= _log.size())
                if (!running() || !readOne(deadline))
                    return npos;
            const auto &e = _log[i];
            if (e.name == name && (!pred || pred(e.object)))
                return i;
        }
    }
    Json waitEvent(const std::string &name, const Predicate &pred,
                   std::chrono::milliseconds timeout, std::size_t from, const std::string &what) {
        const std::size_t i = findEvent(name, pred, timeout, from);
        if (i == npos)
            fail("no " + name + " event (" + what + ") within " + std::to_string(timeout.count()) +
                 " ms (from log index " + std::to_string(from) + ")");
        return _log[i].object;
    }
    // Every logged event named name (matching pred) in [from, end).
    std::vector<Json> events(const std::string &name, const Predicate &pred = {},
                             std::size_t from = 0) const {
        std::vector<Json> out;
        for (std::size_t i = from; i < _log.size(); ++i)
            if (_log[i].name == name && (!pred || pred(_log[i].object)))
                out.push_back(_log[i].object);
        return out;
    }
    // Reads whatever the peer has written, for up to window (0: only what is buffered).
    void drain(std::chrono::milliseconds window = 0ms) {
        const auto deadline = std::chrono::steady_clock::now() + window;
        while (running() && readOne(deadline)) {
        }
    }
    std::vector<std::string> invalidLines() const {
        std::vector<std::string> out;
        for (const auto &e : _log)
            if (e.name == "!not-json")
                out.push_back(e.line);
        return out;
    }

    // ---- lifecycle ----

    // kill -9 (the process itself: nsenter execs env, env execs lanspreadd), then
    // reaps it. Returns the wall-clock ms of the kill.
    int64_t kill9() {
        if (!running())
            return 0;
        const int64_t at = wallMs();
        _child->signal(SIGKILL);
        _child->wait(10s);
        while (readOne(std::chrono::steady_clock::now() + 200ms)) {
        }
        _exited = true;
        return at;
    }
    // Sends shutdown and returns the wall-clock ms it was sent at; waits for the exit (kill -9
    // after 15 s) and stores the exit code in lastExitCode().
    int64_t shutdown() {
        requireRunning("shutdown");
        const int64_t at = wallMs();
        command("{\"cmd\":\"shutdown\"}");
        auto code = _child->wait(15s);
        if (!code) {
            kill9();
            _exitCode = -1;
            return at;
        }
        while (readOne(std::chrono::steady_clock::now() + 200ms)) {
        }
        _exited = true;
        _exitCode = *code;
        return at;
    }
    int lastExitCode() const { return _exitCode; }

    std::string diagnostics(std::size_t stderrLines = 25, std::size_t eventLines = 14) const {
        std::string s = "--- " + _label + " on h" + std::to_string(_host) + " (pid " +
                        std::to_string(pid()) + (running() ? ", running" : ", not running") +
                        ", peer_id " + shortId(_peerId) + ", listen " + _listenAddr + ")\n";
        // The last events, without the command results (polling would fill the window).
        std::vector<std::size_t> shown;
        for (std::size_t i = _log.size(); i-- > 0 && shown.size() < eventLines;)
            if (_log[i].name != "result")
                shown.insert(shown.begin(), i);
        s += "  last events (command results left out):\n";
        for (std::size_t i : shown)
            s += "    [" + std::to_string(i) + "] " + _log[i].line.substr(0, 400) + "\n";
        s += "  stderr tail (" + stderrPath() + "):\n" +
             lanspread::test::fileTail(stderrPath(), stderrLines);
        return s;
    }
    [[noreturn]] void fail(const std::string &msg) const {
        CPPUNIT_FAIL(_label + ": " + msg + "\n" + (_labDiag ? _labDiag() : diagnostics()));
        std::abort();
    }

  private:
    void launch() {
        CPPUNIT_ASSERT_MESSAGE(_label + " is already running", !running());
        ++_run;
        std::vector<std::string> args{
            LANSPREADD_PATH, "--games",   _gamesDir, "--state", _stateDir,   "--catalog", _catalog,
            "--listen",      "0.0.0.0:0", "--name",  _label,    "--plugins", _plugins};
        if (!_ini.empty()) {
            const std::string ini = _workDir + "/peer.ini";
            lanspread::test::writeWholeFile(ini, _ini);
            args.push_back("--config");
            args.push_back(ini);
        }
        _child.reset();
        _exited = false;
        _peerId.clear();
        _listenAddr.clear();
        _runStart = _log.size();
        _startedAtMs = wallMs();
        _child = std::make_unique<ChildProcess>(
            "/usr/bin/nsenter", nsenterArgs(_host, _workDir, args), _workDir, stderrPath());
    }

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
            e.object = lanspread::test::parseJson(*line);
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
    int _host;
    std::string _workDir;
    std::string _gamesDir, _stateDir, _catalog, _ini, _plugins;
    std::string _peerId, _listenAddr;
    std::unique_ptr<ChildProcess> _child;
    bool _exited = true;
    int _exitCode = -1;
    int _run = 0;
    int _nextId = 0;
    int64_t _startedAtMs = 0;
    std::size_t _readyIndex = 0;
    std::size_t _runStart = 0;
    std::vector<LoggedEvent> _log;
    std::function<std::string()> _labDiag;
};

// ---- one dnssd_probe inside a lab host ----

// A probe line: "<monotonic ms> KIND key=value ...".
struct ProbeLine {
    double ms = 0;
    std::string kind;
    std::string text; // the whole line
    // The value of key=... (up to the next space; txt="..." up to the closing quote).
    std::string field(const std::string &key) const {
        const std::string needle = " " + key + "=";
        auto at = text.find(needle);
        if (at == std::string::npos)
            return {};
        at += needle.size();
        if (at < text.size() && text[at] == '"') {
            auto end = text.find('"', at + 1);
            return text.substr(at + 1, end == std::string::npos ? end : end - at - 1);
        }
        return text.substr(at, text.find(' ', at) - at);
    }
};

class Probe {
  public:
    // args: the probe's own arguments ("browse", "-w", "10", ...).
    Probe(int host, const std::vector<std::string> &args, const std::string &stderrPath)
        : _stderrPath(stderrPath) {
        std::vector<std::string> command{DNSSD_PROBE_PATH};
        command.insert(command.end(), args.begin(), args.end());
        _child = std::make_unique<ChildProcess>(
            LAB_SCRIPT, inHost(host, command),
            std::filesystem::path(stderrPath).parent_path().string(), stderrPath);
    }
    ~Probe() { stop(); }
    Probe(const Probe &) = delete;
    Probe &operator=(const Probe &) = delete;

    // Reads lines until one matches pred (returned) or timeout.
    std::optional<ProbeLine> waitFor(const std::function<bool(const ProbeLine &)> &pred,
                                     std::chrono::milliseconds timeout, std::size_t from = 0) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (std::size_t i = from;; ++i) {
            while (i >= _lines.size())
                if (!readOne(deadline))
                    return std::nullopt;
            if (pred(_lines[i]))
                return _lines[i];
        }
    }
    std::optional<ProbeLine> waitKind(const std::string &kind, std::chrono::milliseconds timeout,
                                      std::size_t from = 0) {
        return waitFor([&](const ProbeLine &l) { return l.kind == kind; }, timeout, from);
    }
    // Reads everything until the probe exits (at most timeout); its exit code or -1.
    int finish(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (readOne(deadline)) {
        }
        return _child->wait(0ms).value_or(-1);
    }
    // SIGTERM (the probe deallocates its refs and exits), then reaps it.
    void stop() {
        if (!_child || _child->wait(0ms).has_value())
            return;
        _child->signal(SIGTERM);
        if (!_child->wait(3s))
            _child->signal(SIGKILL);
        _child->wait(3s);
    }
    void drain() {
        while (readOne(std::chrono::steady_clock::now())) {
        }
    }
    const std::vector<ProbeLine> &lines() const { return _lines; }
    std::string transcript() const {
        std::string s;
        for (const auto &l : _lines)
            s += "    " + l.text + "\n";
        return s + "    stderr: " + lanspread::test::fileTail(_stderrPath, 5);
    }

  private:
    bool readOne(std::chrono::steady_clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto line = _child->readLine(left.count() < 0 ? 0ms : left);
        if (!line)
            return false;
        ProbeLine l;
        l.text = *line;
        const auto sp = line->find(' ');
        try {
            l.ms = std::stod(line->substr(0, sp));
        } catch (const std::exception &) {
            l.ms = 0;
        }
        if (sp != std::string::npos)
            l.kind = line->substr(sp + 1, line->find(' ', sp + 1) - sp - 1);
        _lines.push_back(std::move(l));
        return true;
    }

    std::string _stderrPath;
    std::unique_ptr<ChildProcess> _child;
    std::vector<ProbeLine> _lines;
};

// ---- a netns lab: temp dir, catalog, peers, probes; the namespaces are run-in-lab.sh's ----

class NetLab {
  public:
    explicit NetLab(const std::string &scenario) : _scenario(scenario) {
        if (::geteuid() != 0)
            CPPUNIT_FAIL("the netns tests need root (network namespaces, avahi-daemon); CI runs "
                         "them as root");
        if (labHosts() == 0)
            CPPUNIT_FAIL("no lab '" + labName() + "' is up (/run/" + labName() +
                         "/nhosts missing): run this binary through tests/netns/run-in-lab.sh "
                         "(or `netns-avahi-lab.sh with N -- <binary> <test>`)");
        const char *tmp = ::getenv("TMPDIR");
        std::string pattern =
            std::string(tmp && *tmp ? tmp : "/tmp") + "/lanspread-netns-" + scenario + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed for " + pattern);
        _dir = pattern;
    }
    ~NetLab() {
        _probes.clear();
        for (auto &p : _peers)
            p.reset();
        const char *keep = ::getenv("LANSPREAD_KEEP_LAB");
        if (keep && *keep && std::string(keep) != "0") {
            std::fprintf(stderr, "lab dir kept: %s\n", _dir.c_str());
            return;
        }
        std::error_code ec;
        std::filesystem::remove_all(_dir, ec);
    }
    NetLab(const NetLab &) = delete;
    NetLab &operator=(const NetLab &) = delete;

    const std::string &dir() const { return _dir; }
    std::string writeCatalog(const std::string &json) {
        lanspread::test::writeWholeFile(catalogPath(), json);
        return catalogPath();
    }
    std::string catalogPath() const { return _dir + "/catalog.json"; }
    std::string gamesDirOf(const std::string &label) const { return _dir + "/" + label + "/games"; }
    std::string stateDirOf(const std::string &label) const { return _dir + "/" + label + "/state"; }

    HostPeer &addPeer(const std::string &label, int host) {
        std::filesystem::create_directories(gamesDirOf(label));
        std::filesystem::create_directories(stateDirOf(label));
        _peers.push_back(std::make_unique<HostPeer>(label, host, _dir + "/" + label));
        _peers.back()->setLabDiagnostics([this] { return diagnostics(); });
        return *_peers.back();
    }
    // Adds and starts a peer with its own games/state dirs and the lab's catalog.
    HostPeer &startPeer(const std::string &label, int host, const std::string &ini = "",
                        const std::string &plugins = HostPeer::kPlugins, bool wait = true) {
        HostPeer &p = addPeer(label, host);
        p.start(gamesDirOf(label), stateDirOf(label), catalogPath(), ini, plugins, wait);
        return p;
    }
    Probe &startProbe(const std::string &label, int host, const std::vector<std::string> &args) {
        std::filesystem::create_directories(_dir + "/probes");
        _probes.push_back(
            std::make_unique<Probe>(host, args, _dir + "/probes/" + label + ".stderr"));
        _probeLabels.push_back(label);
        return *_probes.back();
    }
    // Every peer reads what it has buffered (keeps the pipes from filling).
    void pump() {
        for (auto &p : _peers)
            p->drain();
    }

    std::string diagnostics() const {
        std::string s =
            "=== netns lab " + labName() + ", scenario " + _scenario + " at " + _dir + "\n";
        for (const auto &p : _peers)
            s += p->diagnostics();
        for (std::size_t i = 0; i < _probes.size(); ++i)
            s += "--- probe " + _probeLabels[i] + ":\n" + _probes[i]->transcript();
        for (int h = 1; h <= labHosts(); ++h)
            s += "--- avahi h" + std::to_string(h) + " (/run/" + labName() + "/h" +
                 std::to_string(h) + "/avahi.log):\n" +
                 lanspread::test::fileTail(
                     "/run/" + labName() + "/h" + std::to_string(h) + "/avahi.log", 8);
        return s;
    }
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

  private:
    std::string _scenario;
    std::string _dir;
    std::vector<std::unique_ptr<HostPeer>> _peers;
    std::vector<std::unique_ptr<Probe>> _probes;
    std::vector<std::string> _probeLabels;
};

} // namespace lanspread::netns
