// B9, the streamed install on a simulated LAN (docs/benchmarks.md): a seeder on lab host 1 and
// a receiver on host 2 of netns-avahi-lab.sh, every port tbf-shaped both ways, meeting by
// `connect` (no avahi). The game is one .eti, STREAM_FORMAT "tar" (seeded pseudo-random files,
// nothing to compress: the install only copies) or "zip" (deflate, seeded files it compresses
// to about 0.57: the install is CPU-bound inflating, as a real game's is), and the same run
// measures, round after round (the modes taking turns going first), on a fresh receiver and a
// restarted seeder each time:
//
//   stream    `stream-install`: command -> install-finished
//   pair      `download` with install=false, then `install`: command -> install-finished
//   download  `download` with install=false alone: command -> download-finished
//
// and reports the ratios stream/pair and stream/download (median, min, max over the rounds),
// plus each receiver's peak RSS (VmHWM of /proc/<pid>/status once its operation ended), the
// bytes each fetched (download-finished.bytes: a chunk fetched twice counts twice) and the CPU
// time receiver and seeder spent from the command to the mode's last event (the receiver's
// busiest thread's too: near the run's wall time, the install is CPU-bound; well below it, it
// waits on chunks). Every result is checked: local/ equals the archive's manifest (stream,
// pair), the .eti equals the seeder's (download). Run by tests/bench/run-stream.sh inside a
// 2-host lab; the environment gives STREAM_MIB (the files' bytes, default 1024), STREAM_FILES
// (files in the archive, default 8), STREAM_FORMAT (tar or zip, default tar), STREAM_RATE (tc
// rate of every port, default 1gbit), STREAM_ROUNDS (default 1) and STREAM_RESULTS (a file the
// numbers are written to as one JSON object). One evidence line, "B9: ...".
#include "netns_harness.hpp"
#include "netns_measure.hpp"
#include "stream_fixtures.hpp"

#include <lanspread/fixtures/game_set.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace lanspread::netns;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

const std::string kGame = "alienswarm";

// One measured run on a fresh receiver.
struct Measured {
    int64_t ms = 0;         // command -> the mode's last event
    int64_t downloadMs = 0; // pair: command -> download-finished
    // pair: the install command (sent once the download's operation ended, i.e. the library
    // has indexed the archive) -> install-finished
    int64_t installMs = 0;
    int64_t peakRssKiB = -1; // the receiver's VmHWM once the run ended
    uint64_t bytes = 0;      // download-finished.bytes
    // CPU from the command to the mode's last event: the receiver's, its busiest thread's,
    // its threads' (busiest first; sampled every ~200 ms, so a thread that ended counts up to
    // its last sample), the seeder's
    int64_t cpuMs = 0, busiestThreadMs = 0, seederCpuMs = 0;
    std::vector<int64_t> threadMs;
};

} // namespace

class NetnsStreamTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NetnsStreamTest);
    CPPUNIT_TEST(streamBench); // run by tests/bench/run-stream.sh in a lab of its own
    CPPUNIT_TEST_SUITE_END();

  public:
    void tearDown() override {
        _seeder = nullptr;
        _lab.reset();
    }

    void streamBench() {
        const uint64_t mib = std::stoull(envOr("STREAM_MIB", "1024"));
        const int files = std::stoi(envOr("STREAM_FILES", "8"));
        const std::string rate = envOr("STREAM_RATE", "1gbit");
        const int rounds = std::stoi(envOr("STREAM_ROUNDS", "1"));
        const std::string format = envOr("STREAM_FORMAT", "tar");
        _lab = std::make_unique<NetLab>("stream");
        NetLab &lab = *_lab;
        lab.check(labHosts() >= 2,
                  "the lab has " + std::to_string(labHosts()) + " hosts, the bench needs 2");
        lab.check(mib >= uint64_t(files) && files >= 1 && rounds >= 1,
                  "STREAM_MIB must be at least STREAM_FILES, both and STREAM_ROUNDS >= 1");
        lab.check(format == "tar" || format == "zip",
                  "STREAM_FORMAT must be tar or zip, not " + format);
        lab.writeCatalog(fx::catalogJson());

        // The game: one archive of `files` files, version.ini last.
        const std::string root = lab.gamesDirOf("seeder") + "/" + kGame;
        const uint64_t fileBytes = mib * kMiB / uint64_t(files);
        const auto members = randomMembers("data", files, fileBytes, 9009);
        const Manifest expected = format == "zip" ? writeCompressibleZip(root + "/" + kEti, members)
                                                  : writeRandomTar(root + "/" + kEti, members);
        writeVersionIni(root);
        const uint64_t archiveBytes = fs::file_size(root + "/" + kEti);
        const std::string archiveSha = sha256File(root + "/" + kEti);
        lab.check(runLab("shape " + rate) == 0, "could not shape the lab to " + rate);
        HostPeer &seeder = lab.startPeer("seeder", 1, "", HostPeer::kPluginsNoDiscovery);
        _seeder = &seeder;
        const std::string loadBefore = loadAverage();

        std::map<std::string, std::vector<Measured>> runs;
        // The modes take turns going first, so none always runs on a freshly started seeder.
        const std::vector<std::string> modes{"stream", "pair", "download"};
        for (int round = 1; round <= rounds; ++round)
            for (std::size_t i = 0; i < modes.size(); ++i) {
                const std::string &mode = modes[(i + std::size_t(round) - 1) % modes.size()];
                runs[mode].push_back(
                    measure(seeder, mode, round, expected, archiveBytes, archiveSha));
            }
        const std::string loadAfter = loadAverage();

        std::vector<double> streamPair, streamDownload;
        for (int r = 0; r < rounds; ++r) {
            const double s = double(runs["stream"][r].ms);
            streamPair.push_back(s / double(runs["pair"][r].ms));
            streamDownload.push_back(s / double(runs["download"][r].ms));
        }
        auto msSpread = [&](const std::string &mode) {
            std::vector<double> v;
            for (const auto &m : runs[mode])
                v.push_back(double(m.ms) / 1000);
            return spreadOf(v);
        };
        auto rssMax = [&](const std::string &mode) {
            int64_t peak = 0;
            for (const auto &m : runs[mode])
                peak = std::max(peak, m.peakRssKiB);
            return peak;
        };
        const Spread sp = spreadOf(streamPair), sd = spreadOf(streamDownload);
        auto cpuMedian = [&](const std::string &mode, int64_t Measured::*field) {
            std::vector<double> v;
            for (const auto &m : runs[mode])
                v.push_back(double(m.*field) / 1000);
            return fixed(spreadOf(v).median, 1);
        };
        evidence("B9: " + std::to_string(mib) + " MiB of files in a " + format + " (" +
                 std::to_string(files) + " files, " + std::to_string(archiveBytes) +
                 " B archive), every port " + rate + ", " + std::to_string(rounds) +
                 " round(s): stream-install " + describe(msSpread("stream"), " s") +
                 ", download+install " + describe(msSpread("pair"), " s") + ", download " +
                 describe(msSpread("download"), " s") + "; stream/(download+install) " +
                 describe(sp) + ", stream/download " + describe(sd) +
                 "; receiver peak RSS: stream-install " +
                 fixed(double(rssMax("stream")) / 1024, 1) + " MiB, download+install " +
                 fixed(double(rssMax("pair")) / 1024, 1) + " MiB, download " +
                 fixed(double(rssMax("download")) / 1024, 1) + " MiB; stream-install fetched " +
                 fixed(double(runs["stream"].back().bytes) / double(archiveBytes), 3) +
                 "x the archive; receiver CPU s (busiest thread), median: stream-install " +
                 cpuMedian("stream", &Measured::cpuMs) + " (" +
                 cpuMedian("stream", &Measured::busiestThreadMs) + "), download+install " +
                 cpuMedian("pair", &Measured::cpuMs) + " (" +
                 cpuMedian("pair", &Measured::busiestThreadMs) + "), download " +
                 cpuMedian("download", &Measured::cpuMs) + " (" +
                 cpuMedian("download", &Measured::busiestThreadMs) +
                 "); every result exact; load " + loadBefore + " -> " + loadAfter);

        const std::string path = envOr("STREAM_RESULTS", "");
        if (path.empty())
            return;
        Poco::JSON::Object o;
        o.set("mib", mib);
        o.set("files", files);
        o.set("format", format);
        o.set("archive_bytes", archiveBytes);
        o.set("rate", rate);
        o.set("rounds", rounds);
        for (const std::string mode : {"stream", "pair", "download"}) {
            Poco::JSON::Array ms, rss, fetched, cpu, busiest, seederCpu;
            for (const auto &m : runs[mode]) {
                ms.add(m.ms);
                rss.add(m.peakRssKiB);
                fetched.add(m.bytes);
                cpu.add(m.cpuMs);
                busiest.add(m.busiestThreadMs);
                seederCpu.add(m.seederCpuMs);
            }
            o.set(mode + "_ms", ms);
            o.set(mode + "_cpu_ms", cpu);
            o.set(mode + "_busiest_thread_ms", busiest);
            o.set(mode + "_seeder_cpu_ms", seederCpu);
            o.set(mode + "_peak_rss_kib", rss);
            o.set(mode + "_fetched_bytes", fetched);
        }
        Poco::JSON::Array downloadMs, installMs;
        for (const auto &m : runs["pair"]) {
            downloadMs.add(m.downloadMs);
            installMs.add(m.installMs);
        }
        o.set("pair_download_ms", downloadMs);
        o.set("pair_install_ms", installMs);
        auto spreadJson = [](const Spread &s) {
            Poco::JSON::Object j;
            j.set("median", s.median);
            j.set("min", s.min);
            j.set("max", s.max);
            return j;
        };
        o.set("stream_over_pair", spreadJson(sp));
        o.set("stream_over_download", spreadJson(sd));
        o.set("load_before", loadBefore);
        o.set("load_after", loadAfter);
        std::ofstream out(path, std::ios::trunc);
        o.stringify(out);
        out << "\n";
    }

  private:
    // One run of mode on a fresh receiver on host 2 (its dirs removed afterwards).
    Measured measure(HostPeer &seeder, const std::string &mode, int round, const Manifest &expected,
                     uint64_t archiveBytes, const std::string &archiveSha) {
        NetLab &lab = *_lab;
        const std::string label = mode + std::to_string(round);
        restartSeeder(lab, seeder, kGame); // a streaming receiver never serves what it got
        HostPeer &receiver = lab.startPeer(label, 2, "", HostPeer::kPluginsNoDiscovery);
        connectToSeeder(lab, receiver, seeder, kGame);
        const auto timeout = std::chrono::milliseconds(
            60000 + static_cast<int64_t>(archiveBytes / kMiB) * 200); // >= 5 MiB/s
        const std::string root = receiver.gameRoot(kGame);
        Measured m;
        const std::size_t from = receiver.logSize();
        const int64_t receiverCpu = processCpuMs(receiver.pid());
        const int64_t seederCpu = processCpuMs(seeder.pid());
        std::map<std::string, int64_t> threadsBefore;
        sampleThreadCpuMs(receiver.pid(), threadsBefore);
        _threadsSeen.clear();
        _sampledPid = receiver.pid();
        const int64_t sent = wallMs();
        if (mode == "stream") {
            receiver.commandOk("{\"cmd\":\"stream-install\",\"game\":\"" + kGame + "\"}");
            const Json done = waitEnd(receiver, "install-finished", from, timeout, label);
            m.ms = i64(done, "ts_ms") - sent;
            m.bytes =
                u64(receiver.waitEvent("download-finished", forGame(kGame), 0ms, from), "bytes");
        } else {
            receiver.commandOk("{\"cmd\":\"download\",\"game\":\"" + kGame +
                               "\",\"install\":false}");
            const Json downloaded = waitEnd(receiver, "download-finished", from, timeout, label);
            m.bytes = u64(downloaded, "bytes");
            m.ms = i64(downloaded, "ts_ms") - sent;
            m.downloadMs = m.ms;
            if (mode == "pair") {
                lab.waitUntil([&] { return idle(receiver, kGame); }, 10s, label + " download ends");
                const std::size_t installFrom = receiver.logSize();
                const int64_t installSent = wallMs();
                receiver.commandOk("{\"cmd\":\"install\",\"game\":\"" + kGame + "\"}");
                const Json installed =
                    waitEnd(receiver, "install-finished", installFrom, timeout, label);
                m.installMs = i64(installed, "ts_ms") - installSent;
                m.ms = i64(installed, "ts_ms") - sent;
            }
        }
        sampleThreadCpuMs(receiver.pid(), _threadsSeen);
        _sampledPid = -1;
        m.threadMs = cpuSpentMs(threadsBefore, _threadsSeen);
        m.cpuMs = processCpuMs(receiver.pid()) - receiverCpu;
        m.busiestThreadMs = m.threadMs.empty() ? 0 : m.threadMs.front();
        m.seederCpuMs = processCpuMs(seeder.pid()) - seederCpu;
        m.peakRssKiB = peakRssKiB(receiver.pid());
        if (mode == "download") {
            const std::string sha = sha256File(root + "/" + kEti);
            lab.check(sha == archiveSha, label + "'s " + kEti + " differs from the seeder's");
        } else {
            const Manifest local = manifest(root + "/local");
            lab.check(local == expected, label + "'s local/ differs from the archive's files:" +
                                             manifestDiff(expected, local));
        }
        std::string threads;
        for (std::size_t t = 0; t < m.threadMs.size() && t < 4; ++t)
            threads += (t ? " " : "") + seconds(m.threadMs[t]);
        std::printf("%s: %s (download %s, install %s), fetched %llu B for a %llu B archive, peak "
                    "RSS %.1f MiB, receiver CPU %s (busiest threads %s), seeder CPU %s\n",
                    label.c_str(), seconds(m.ms).c_str(), seconds(m.downloadMs).c_str(),
                    seconds(m.installMs).c_str(), static_cast<unsigned long long>(m.bytes),
                    static_cast<unsigned long long>(archiveBytes), double(m.peakRssKiB) / 1024,
                    seconds(m.cpuMs).c_str(), threads.c_str(), seconds(m.seederCpuMs).c_str());
        std::fflush(stdout);
        lab.check(receiver.shutdown() == 0, label + " did not shut down cleanly");
        std::error_code ec;
        fs::remove_all(lab.gamesDirOf(label), ec);
        return m;
    }

    // The event `name` of kGame after from; fails on a failure event or at the timeout. The
    // seeder's output is read meanwhile (a full stdout pipe would stall its event loop), and
    // the sampled receiver's threads' CPU.
    Json waitEnd(HostPeer &peer, const std::string &name, std::size_t from,
                 std::chrono::milliseconds timeout, const std::string &label) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::size_t end = Peer::npos;
        while (end == Peer::npos && std::chrono::steady_clock::now() < deadline) {
            end =
                peer.findAnyEvent({name, "download-failed", "download-cancelled", "install-failed"},
                                  forGame(kGame), 200ms, from);
            _seeder->drain(5ms);
            if (_sampledPid > 0)
                sampleThreadCpuMs(_sampledPid, _threadsSeen);
        }
        _lab->check(end != Peer::npos && peer.logAt(end).name == name,
                    label + ": expected " + name + ", got " +
                        (end == Peer::npos ? std::string("nothing") : peer.logAt(end).line));
        return peer.logAt(end).object;
    }

    std::unique_ptr<NetLab> _lab;
    HostPeer *_seeder = nullptr;
    pid_t _sampledPid = -1; // the receiver whose threads waitEnd samples, or -1
    std::map<std::string, int64_t> _threadsSeen;
};

CPPUNIT_TEST_SUITE_REGISTRATION(NetnsStreamTest);
