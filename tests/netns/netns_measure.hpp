// Measuring a bench run in the netns lab (B2, B9): environment knobs, CPU time of a process
// and of its threads from /proc, peak RSS, the load average, {median, min, max} of the rounds,
// and the fresh seeder-to-receiver setup each run starts from. Header-only; Linux.
#pragma once

#include "netns_harness.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace lanspread::netns {

inline std::string envOr(const char *name, const std::string &fallback) {
    const char *v = ::getenv(name);
    return v && *v ? v : fallback;
}
inline std::string fixed(double v, int decimals = 2) {
    char s[32];
    std::snprintf(s, sizeof s, "%.*f", decimals, v);
    return s;
}
inline std::string seconds(int64_t ms) {
    return fixed(static_cast<double>(ms) / 1000, 2) + " s";
}
inline std::string loadAverage() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}
// A process's peak resident set (VmHWM) in KiB; -1 when unreadable.
inline int64_t peakRssKiB(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stoll(line.substr(6));
    return -1;
}

// The CPU time (utime + stime, ms) of a /proc/.../stat file: a process's (its ended threads
// included) or a thread's; 0 when it is unreadable.
inline int64_t statCpuMs(const std::filesystem::path &statFile) {
    std::ifstream in(statFile);
    std::string stat;
    std::getline(in, stat);
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    int64_t utime = 0, stime = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
        if (n == 14)
            utime = std::stoll(field);
        if (n == 15)
            stime = std::stoll(field);
    }
    return (utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK);
}
inline int64_t processCpuMs(pid_t pid) {
    return statCpuMs("/proc/" + std::to_string(pid) + "/stat");
}
// Adds the CPU time (ms) of each live thread of a process to seen, by thread id (a thread
// that ended is missing from /proc: sampled meanwhile, its last sample stays in seen).
inline void sampleThreadCpuMs(pid_t pid, std::map<std::string, int64_t> &seen) {
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); ++it)
        seen[it->path().filename().string()] = statCpuMs(it->path() / "stat");
}
// CPU each thread spent between two snapshots, busiest first.
inline std::vector<int64_t> cpuSpentMs(const std::map<std::string, int64_t> &before,
                                       const std::map<std::string, int64_t> &after) {
    std::vector<int64_t> out;
    for (const auto &[tid, ms] : after) {
        const auto was = before.find(tid);
        out.push_back(ms - (was == before.end() ? 0 : was->second));
    }
    std::sort(out.rbegin(), out.rend());
    return out;
}

// {median, min, max} of values (non-empty).
struct Spread {
    double median = 0, min = 0, max = 0;
};
inline Spread spreadOf(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    Spread s;
    s.min = values.front();
    s.max = values.back();
    const std::size_t n = values.size();
    s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    return s;
}
inline std::string describe(const Spread &s, const std::string &unit = "") {
    return fixed(s.median) + unit + " (min " + fixed(s.min) + ", max " + fixed(s.max) + ")";
}

// Restarts seeder and waits until it lists game Ready again, so a run starts on a seeder whose
// serve spreader does not remember the last run's receiver (it holds back, for a moment, the
// chunks it just sent to a peer, even once that peer is gone).
inline void restartSeeder(NetLab &lab, HostPeer &seeder, const std::string &game) {
    lab.check(seeder.shutdown() == 0, "the seeder did not shut down cleanly");
    seeder.restart();
    lab.waitUntil(
        [&] {
            Json g = localGame(seeder, game);
            return !g.isNull() && str(g, "availability") == "Ready";
        },
        120s, "the restarted seeder lists " + game + " Ready");
}

// Connects receiver to seeder by its lab address and waits until the receiver lists game
// from it.
inline void connectToSeeder(NetLab &lab, HostPeer &receiver, HostPeer &seeder,
                            const std::string &game) {
    const std::string id =
        receiver.commandOk("{\"cmd\":\"connect\",\"addr\":" + jsonString(seeder.lanAddr()) + "}")
            ->getValue<std::string>("peer_id");
    lab.check(id == seeder.peerId(), receiver.label() + " reached another peer than the seeder");
    lab.waitUntil([&] { return remotePeerCount(receiver, game) == 1; }, 20s,
                  receiver.label() + " lists the seeder's " + game);
}

} // namespace lanspread::netns
