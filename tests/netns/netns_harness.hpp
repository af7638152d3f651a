// Real lanspreadd peers on the simulated LAN of netns-avahi-lab.sh: every process runs inside
// one lab host (`netns-avahi-lab.sh exec I -- ...`, or the same nsenter call directly, so its
// own network, mount and UTS namespaces, and that host's avahi-daemon on its own system bus).
// A HostPeer is the support harness's Peer (tests/support/peer_harness.hpp: commands, event
// log, waits, shutdown, kill) run in a lab host, listening on 0.0.0.0:0 with the dnssd
// discovery plugin; a NetLab is its Lab plus the probes and the avahi logs; a Probe is one
// dnssd_probe (the lab's Bonjour-API probe). The lab itself (up/down) belongs to the caller:
// run-in-lab.sh brings it up around the test binary and always takes it down. LAB_NAME selects
// the lab, exactly as for the lab script.
//
// Times: events carry ts_ms (wall clock, shared by every namespace of the machine), probe
// lines carry CLOCK_MONOTONIC ms (= std::chrono::steady_clock), so both can be compared with
// the test's own clocks. Header-only; POSIX; CppUnit assertions.
#pragma once

#include "child_process.hpp"
#include "peer_harness.hpp"
#include "scenario_support.hpp"

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

using namespace lanspread::test;
using namespace std::chrono_literals;

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

// ---- one lanspreadd inside a lab host ----

// The harness's Peer, run inside lab host `host` (nsenter into its namespaces) and listening on
// 0.0.0.0:0, with the dnssd discovery plugin unless start() names other plugins.
class HostPeer : public Peer {
  public:
    static constexpr const char *kPlugins =
        "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
        "org.lanspread.unpacker.libarchive,org.lanspread.discovery.dnssd";
    static constexpr const char *kPluginsNoDiscovery = Peer::kPlugins;

    HostPeer(std::string label, int host, std::string workDir)
        : Peer(std::move(label), std::move(workDir)), _host(host) {}

    int host() const { return _host; }
    // Where the others must reach it: the host's address and the bound port.
    std::string lanAddr() const { return hostIp(_host) + ":" + port(); }

  protected:
    std::string listenSpec() const override { return "0.0.0.0:0"; }
    std::string defaultPlugins() const override { return kPlugins; }
    std::vector<std::string> execLine(std::vector<std::string> lanspreadd) const override {
        std::vector<std::string> line = nsenterArgs(_host, workDir(), lanspreadd);
        line.insert(line.begin(), "/usr/bin/nsenter");
        return line;
    }
    std::string place() const override { return " on h" + std::to_string(_host); }

  private:
    int _host;
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
        return s + "    stderr: " + fileTail(_stderrPath, 5);
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

class NetLab : public Lab {
  public:
    explicit NetLab(const std::string &scenario) : Lab(requireRunningLab(scenario), "netns") {}
    ~NetLab() override { _probes.clear(); } // before the peers and the dir (Lab's)

    HostPeer &addPeer(const std::string &label, int host) {
        return adopt(std::make_unique<HostPeer>(label, host, dir() + "/" + label));
    }
    // Adds and starts a peer with its own games/state dirs and the lab's catalog.
    HostPeer &startPeer(const std::string &label, int host, const std::string &ini = "",
                        const std::string &plugins = HostPeer::kPlugins, bool wait = true) {
        HostPeer &p = addPeer(label, host);
        p.start(label, gamesDirOf(label), stateDirOf(label), catalogPath(), ini, plugins, wait);
        return p;
    }
    Probe &startProbe(const std::string &label, int host, const std::vector<std::string> &args) {
        std::filesystem::create_directories(dir() + "/probes");
        _probes.push_back(
            std::make_unique<Probe>(host, args, dir() + "/probes/" + label + ".stderr"));
        _probeLabels.push_back(label);
        return *_probes.back();
    }

    std::string diagnostics() const override {
        std::string s = "=== netns lab " + labName() + ", scenario " + scenario() + " at " + dir() +
                        "\n" + peerDiagnostics();
        for (std::size_t i = 0; i < _probes.size(); ++i)
            s += "--- probe " + _probeLabels[i] + ":\n" + _probes[i]->transcript();
        for (int h = 1; h <= labHosts(); ++h)
            s += "--- avahi h" + std::to_string(h) + " (/run/" + labName() + "/h" +
                 std::to_string(h) + "/avahi.log):\n" +
                 fileTail("/run/" + labName() + "/h" + std::to_string(h) + "/avahi.log", 8);
        return s;
    }

  private:
    // The scenario, once this process may run a netns lab test (root, the lab up).
    static const std::string &requireRunningLab(const std::string &scenario) {
        if (::geteuid() != 0)
            CPPUNIT_FAIL("the netns tests need root (network namespaces, avahi-daemon); CI runs "
                         "them as root");
        if (labHosts() == 0)
            CPPUNIT_FAIL("no lab '" + labName() + "' is up (/run/" + labName() +
                         "/nhosts missing): run this binary through tests/netns/run-in-lab.sh "
                         "(or `netns-avahi-lab.sh with N -- <binary> <test>`)");
        return scenario;
    }

    std::vector<std::unique_ptr<Probe>> _probes;
    std::vector<std::string> _probeLabels;
};

} // namespace lanspread::netns
