// B2, one source and one receiver on a shaped link (docs/benchmarks.md): a seeder on lab host 1
// and a receiver on host 2 of netns-avahi-lab.sh, every port tbf-shaped both ways (no avahi:
// the peers meet by `connect`). The seeder runs both transports; each round measures, the modes
// taking turns going first:
//
//   iperf3  iperf3 TCP from host 1 to host 2 (`-R`: the server on host 1 sends), the same
//           number of bytes as the game: the link's goodput, the ceiling
//   quic    `download` (install=false) on a fresh receiver that runs transport-quic only:
//           command -> download-finished
//   tls     the same with transport-tls only
//
// and reports each mode's MiB/s (median, min, max), the ratios quic/iperf3 and tls/iperf3, and
// the CPU seconds per GiB of receiver and seeder (from /proc, command -> download-finished).
// Every download is checked: the .eti equals the seeder's (SHA-256), and list-peers shows the
// transport the mode names. Run by tests/bench/run-link.sh inside a 2-host lab; the environment
// gives LINK_MIB (the game's archive, default 1024), LINK_RATE (tc rate of every port, default
// 1gbit), LINK_ROUNDS (default 1) and LINK_RESULTS (a file the numbers are written to as one
// JSON object). Without iperf3 installed the iperf3 mode is left out and said so. One evidence
// line, "B2: ...".
#include "netns_harness.hpp"
#include "netns_measure.hpp"

#include <lanspread/fixtures/game_set.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace lanspread::netns;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

const std::string kGame = "alienswarm";
const std::string kSeederPlugins = "org.lanspread.frontend.cli,org.lanspread.transport.quic,"
                                   "org.lanspread.transport.tls,org.lanspread.unpacker.libarchive";
constexpr double kGiB = 1024.0 * 1024 * 1024;

// The receiver's plugins for a transport mode.
std::string receiverPlugins(const std::string &transport) {
    return "org.lanspread.frontend.cli,org.lanspread.transport." + transport +
           ",org.lanspread.unpacker.libarchive";
}

bool haveIperf3() {
    return std::system("command -v iperf3 >/dev/null 2>&1") == 0;
}

// One measured run.
struct Measured {
    uint64_t bytes = 0; // moved (iperf3: received; download: download-finished.bytes)
    int64_t ms = 0;
    // CPU seconds per GiB moved: receiver and sender (iperf3: its own client/server figures)
    double receiverCpuSPerGiB = 0, senderCpuSPerGiB = 0;
    double mibPerS() const { return ms > 0 ? double(bytes) / kMiB / (double(ms) / 1000) : 0; }
};

} // namespace

class NetnsLinkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NetnsLinkTest);
    CPPUNIT_TEST(linkBench); // run by tests/bench/run-link.sh in a lab of its own
    CPPUNIT_TEST_SUITE_END();

  public:
    void tearDown() override { _lab.reset(); }

    void linkBench() {
        const uint64_t mib = std::stoull(envOr("LINK_MIB", "1024"));
        const std::string rate = envOr("LINK_RATE", "1gbit");
        const int rounds = std::stoi(envOr("LINK_ROUNDS", "1"));
        _lab = std::make_unique<NetLab>("link");
        NetLab &lab = *_lab;
        lab.check(labHosts() >= 2,
                  "the lab has " + std::to_string(labHosts()) + " hosts, the bench needs 2");
        lab.check(mib >= 1 && rounds >= 1, "LINK_MIB and LINK_ROUNDS must be >= 1");
        lab.writeCatalog(fx::catalogJson());
        const std::string root = lab.gamesDirOf("seeder") + "/" + kGame;
        writeBigAlienswarm(lab.gamesDirOf("seeder"), mib * kMiB, 2002);
        const std::string archiveSha = sha256File(root + "/" + kEti);
        lab.check(runLab("shape " + rate) == 0, "could not shape the lab to " + rate);
        HostPeer &seeder = lab.startPeer("seeder", 1, "", kSeederPlugins);
        const std::string loadBefore = loadAverage();

        std::vector<std::string> modes{"quic", "tls"};
        const bool iperf = haveIperf3();
        if (iperf)
            modes.insert(modes.begin(), "iperf3");
        std::map<std::string, std::vector<Measured>> runs;
        for (int round = 1; round <= rounds; ++round)
            for (std::size_t i = 0; i < modes.size(); ++i) {
                const std::string &mode = modes[(i + std::size_t(round) - 1) % modes.size()];
                runs[mode].push_back(mode == "iperf3"
                                         ? measureIperf3(mib * kMiB, round)
                                         : measureDownload(seeder, mode, round, archiveSha));
            }
        const std::string loadAfter = loadAverage();

        auto rateSpread = [&](const std::string &mode) {
            std::vector<double> v;
            for (const auto &m : runs[mode])
                v.push_back(m.mibPerS());
            return spreadOf(v);
        };
        auto ratioSpread = [&](const std::string &mode) {
            std::vector<double> v;
            for (int r = 0; r < rounds; ++r)
                v.push_back(runs[mode][r].mibPerS() / runs["iperf3"][r].mibPerS());
            return spreadOf(v);
        };
        auto cpuMedian = [&](const std::string &mode, double Measured::*field) {
            std::vector<double> v;
            for (const auto &m : runs[mode])
                v.push_back(m.*field);
            return spreadOf(v).median;
        };
        std::string line = "B2: " + std::to_string(mib) +
                           " MiB, seeder h1 -> receiver h2, every "
                           "port " +
                           rate + " both ways, " + std::to_string(rounds) +
                           " round(s), MiB/s median (min, max):";
        for (const auto &mode : modes)
            line += " " + mode + " " + describe(rateSpread(mode));
        if (iperf)
            line += "; quic/iperf3 " + describe(ratioSpread("quic")) + ", tls/iperf3 " +
                    describe(ratioSpread("tls"));
        else
            line += "; iperf3 is not installed (tests/bench/run-link.sh installs it): no ratios";
        line += "; CPU s/GiB receiver/sender, median:";
        for (const auto &mode : modes)
            line += " " + mode + " " + fixed(cpuMedian(mode, &Measured::receiverCpuSPerGiB)) + "/" +
                    fixed(cpuMedian(mode, &Measured::senderCpuSPerGiB));
        evidence(line + "; every download exact; load " + loadBefore + " -> " + loadAfter);

        const std::string path = envOr("LINK_RESULTS", "");
        if (path.empty())
            return;
        Poco::JSON::Object o;
        o.set("mib", mib);
        o.set("rate", rate);
        o.set("rounds", rounds);
        Poco::JSON::Array modeNames;
        for (const auto &mode : modes) {
            modeNames.add(mode);
            Poco::JSON::Array mibs, rcpu, scpu;
            for (const auto &m : runs[mode]) {
                mibs.add(m.mibPerS());
                rcpu.add(m.receiverCpuSPerGiB);
                scpu.add(m.senderCpuSPerGiB);
            }
            o.set(mode + "_mib_per_s", mibs);
            o.set(mode + "_receiver_cpu_s_per_gib", rcpu);
            o.set(mode + "_sender_cpu_s_per_gib", scpu);
        }
        o.set("modes", modeNames);
        o.set("load_before", loadBefore);
        o.set("load_after", loadAfter);
        std::ofstream out(path, std::ios::trunc);
        o.stringify(out);
        out << "\n";
    }

  private:
    // iperf3 TCP, host 1 sending to host 2 (the download's direction), `bytes` bytes.
    Measured measureIperf3(uint64_t bytes, int round) {
        NetLab &lab = *_lab;
        const std::string dir = lab.dir() + "/iperf3-" + std::to_string(round);
        fs::create_directories(dir);
        std::vector<std::string> server =
            nsenterArgs(1, dir, {"iperf3", "--server", "--one-off", "--port", "5201"});
        ChildProcess serverProcess("/usr/bin/nsenter", server, dir, dir + "/server.log");
        const std::string json = dir + "/client.json";
        int status = 1;
        for (int attempt = 0; attempt < 50 && status != 0; ++attempt) {
            std::this_thread::sleep_for(100ms); // the server binds its port
            status = runLab("exec 2 -- iperf3 --client " + hostIp(1) +
                            " --port 5201 --reverse --json --bytes " + std::to_string(bytes) +
                            " > " + json + " 2>" + dir + "/client.log");
        }
        lab.check(status == 0,
                  "iperf3 failed: " + fileTail(dir + "/client.log", 5) + fileTail(json, 5));
        serverProcess.wait(10s);
        std::ifstream in(json);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        Poco::JSON::Object::Ptr end =
            Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>()->getObject("end");
        Poco::JSON::Object::Ptr received = end->getObject("sum_received");
        Poco::JSON::Object::Ptr cpu = end->getObject("cpu_utilization_percent");
        Measured m;
        m.bytes = received->getValue<uint64_t>("bytes");
        const double secs = received->getValue<double>("seconds");
        m.ms = static_cast<int64_t>(secs * 1000);
        // With --reverse the client (host 2) receives: iperf3's CPU figures are percentages of
        // the test's wall time, host = the client.
        const double gib = double(m.bytes) / kGiB;
        m.receiverCpuSPerGiB = cpu->getValue<double>("host_total") / 100 * secs / gib;
        m.senderCpuSPerGiB = cpu->getValue<double>("remote_total") / 100 * secs / gib;
        std::printf("iperf3-%d: %llu B in %s = %.1f MiB/s\n", round,
                    static_cast<unsigned long long>(m.bytes), seconds(m.ms).c_str(), m.mibPerS());
        std::fflush(stdout);
        return m;
    }

    // One download over `transport` on a fresh receiver on host 2 (its dirs removed afterwards).
    Measured measureDownload(HostPeer &seeder, const std::string &transport, int round,
                             const std::string &archiveSha) {
        NetLab &lab = *_lab;
        const std::string label = transport + std::to_string(round);
        restartSeeder(lab, seeder, kGame);
        HostPeer &receiver = lab.startPeer(label, 2, "", receiverPlugins(transport));
        connectToSeeder(lab, receiver, seeder, kGame);
        JsonArray peers = receiver.listPeers();
        lab.check(peers && peers->size() == 1 &&
                      peers->getObject(0)->optValue<std::string>("transport", "") == transport,
                  label + " is not connected over " + transport);
        const uint64_t size = fs::file_size(seeder.gameRoot(kGame) + "/" + kEti);
        const auto timeout = std::chrono::milliseconds(60000 + int64_t(size / kMiB) * 200);
        const std::size_t from = receiver.logSize();
        const int64_t receiverCpu = processCpuMs(receiver.pid());
        const int64_t seederCpu = processCpuMs(seeder.pid());
        const int64_t sent = wallMs();
        receiver.commandOk("{\"cmd\":\"download\",\"game\":\"" + kGame + "\",\"install\":false}");
        std::size_t end = Peer::npos;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (end == Peer::npos && std::chrono::steady_clock::now() < deadline) {
            end = receiver.findAnyEvent({"download-finished", "download-failed"}, forGame(kGame),
                                        200ms, from);
            seeder.drain(5ms); // a full stdout pipe would stall the seeder's event loop
        }
        lab.check(end != Peer::npos && receiver.logAt(end).name == "download-finished",
                  label + ": no download-finished: " +
                      (end == Peer::npos ? std::string("nothing") : receiver.logAt(end).line));
        const Json done = receiver.logAt(end).object;
        Measured m;
        m.bytes = u64(done, "bytes");
        m.ms = i64(done, "ts_ms") - sent;
        const double gib = double(m.bytes) / kGiB;
        m.receiverCpuSPerGiB = double(processCpuMs(receiver.pid()) - receiverCpu) / 1000 / gib;
        m.senderCpuSPerGiB = double(processCpuMs(seeder.pid()) - seederCpu) / 1000 / gib;
        lab.check(sha256File(receiver.gameRoot(kGame) + "/" + kEti) == archiveSha,
                  label + "'s " + kEti + " differs from the seeder's");
        std::printf("%s: %llu B in %s = %.1f MiB/s, CPU s/GiB receiver %.2f seeder %.2f, exact\n",
                    label.c_str(), static_cast<unsigned long long>(m.bytes), seconds(m.ms).c_str(),
                    m.mibPerS(), m.receiverCpuSPerGiB, m.senderCpuSPerGiB);
        std::fflush(stdout);
        lab.check(receiver.shutdown() == 0, label + " did not shut down cleanly");
        std::error_code ec;
        fs::remove_all(lab.gamesDirOf(label), ec);
        return m;
    }

    std::unique_ptr<NetLab> _lab;
};

CPPUNIT_TEST_SUITE_REGISTRATION(NetnsLinkTest);
