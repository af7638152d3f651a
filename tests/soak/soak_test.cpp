// The soak (issue 17, part 3): 12 real lanspreadd peers on 127.0.0.1, full mesh, in a bounded
// loop of seeded random events -- kill -9 and restart on the same state dir, library changes
// behind the peers' backs (add a game, remove one, bump a Stale copy to the catalog version),
// downloads (installing or not), stream-installs, cancels, installs, uninstalls and removes --
// while invariants are checked throughout and at the end:
//   download-exact      every finished download (and stream-install) equals the source by SHA-256
//   ready-complete      nothing list-games calls downloaded/Ready/installed is incomplete on disk
//   staging-after-recovery  after a kill -9 and restart no install scratch is left
//   staging-at-idle     an idle game has no install scratch either
//   command-latency     every command is answered within LANSPREAD_SOAK_MAX_LATENCY_MS (1000)
//   fd-flat / rss-flat  each process's fd count and VmRSS stay within a bound of its warm-up
//   operation-ends      no download/install runs longer than 120 s (games are a few MiB)
//   command-error       no command is answered internal-error or io-error
//   clean-shutdown      every peer exits 0 on shutdown at the end
// A failure names the invariant, the peer and the seed. tests/soak/README.md has the details.
#include "peer_harness.hpp"
#include "scenario_support.hpp"
#include "stream_fixtures.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lanspread::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kPeers = 12;
constexpr int kLongLived = 4; // p00..p03 are never killed: their fd/RSS cover the whole run
constexpr int kGames = 10;
constexpr int kMaxDown = 2;
const std::string kStaleVersion = "20240101";
constexpr int64_t kOperationLimitMs = 120'000;

int envInt(const char *name, int fallback) {
    const char *v = ::getenv(name);
    return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// One game: its canonical root (catalog version) and a Stale variant (same paths and sizes,
// other bytes, an older version.ini), each kept in the depot, and what installing either
// archive produces.
struct SoakGame {
    std::string id;
    std::string canonicalDir, staleDir;
    Manifest canonical, stale;               // game root manifests (version.ini included)
    Manifest canonicalInstall, staleInstall; // local/ after installing the root's .eti
    uint64_t bytes = 0;
};

// SHA-256 of files, remembered by (inode, size, mtime, ctime): roots are re-checked every few
// seconds and most of them have not changed.
class HashCache {
  public:
    std::string hash(const std::string &path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            return "unreadable";
        const Key key{uint64_t(st.st_dev), uint64_t(st.st_ino), uint64_t(st.st_size),
                      int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                      int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
        auto it = _cache.find(path);
        if (it != _cache.end() && it->second.first == key)
            return it->second.second;
        const std::string h = sha256File(path);
        _hashedBytes += uint64_t(st.st_size);
        _cache[path] = {key, h};
        return h;
    }
    // manifest() of tests/support/peer_harness.hpp through the cache.
    Manifest manifestOf(const std::string &dir) {
        Manifest out;
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            return out;
        std::vector<fs::path> stack{fs::path(dir)};
        while (!stack.empty()) {
            fs::path current = stack.back();
            stack.pop_back();
            for (const auto &entry : fs::directory_iterator(current, ec)) {
                const std::string rel = fs::relative(entry.path(), dir).generic_string();
                if (current == fs::path(dir) &&
                    isReservedRootName(entry.path().filename().string()))
                    continue;
                if (entry.is_symlink())
                    out[rel] = "symlink:" + fs::read_symlink(entry.path()).string();
                else if (entry.is_directory())
                    stack.push_back(entry.path());
                else if (entry.is_regular_file())
                    out[rel] = hash(entry.path().string());
                else
                    out[rel] = "special";
            }
        }
        return out;
    }
    uint64_t hashedBytes() const { return _hashedBytes; }

  private:
    struct Key {
        uint64_t dev, ino, size;
        int64_t mtime, ctime;
        bool operator==(const Key &) const = default;
    };
    std::map<std::string, std::pair<Key, std::string>> _cache;
    uint64_t _hashedBytes = 0;
};

// fd count and VmRSS of one process incarnation, and the bound they are held to.
struct ProcTrack {
    int64_t startedMs = 0;
    int warmFdMax = -1;
    double warmRssMax = -1;
    bool warm = false;
};

struct PeerStats {
    int fdMin = 1 << 30, fdMax = 0;
    double rssMin = 1e18, rssMax = 0;
    int fdGrowthMax = 0;     // the largest growth over warm-up seen after warm-up
    double rssGrowthMax = 0; // MiB
    int incarnations = 0;
};

class SoakTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(SoakTest);
    CPPUNIT_TEST(soak);
    CPPUNIT_TEST_SUITE_END();

  public:
    void soak();

  private:
    // ---- settings ----
    uint64_t _seed = 0;
    int _seconds = 180;
    int _maxLatencyMs = 1000;
    int _warmupS = 45;
    int _fdBound = 16;
    double _rssBoundMiB = 32;

    // ---- state ----
    std::mt19937_64 _rng;
    std::vector<SoakGame> _games;
    std::vector<Peer *> _peers;
    std::vector<std::size_t> _processed;           // log index processed, per peer
    std::vector<std::set<std::string>> _streaming; // stream-installs in flight
    // Per peer, game -> its root's top-level names when the stream-install was sent (a
    // cancelled download's partial files may be there, and a stream leaves them alone).
    std::vector<std::map<std::string, std::set<std::string>>> _streamBefore;
    std::vector<std::map<std::string, int64_t>> _opSeen;     // game -> wall ms first seen busy
    std::vector<std::map<std::string, int64_t>> _externalAt; // game -> wall ms of last change
    std::vector<int64_t> _restartAt;                         // wall ms; 0 = running
    std::vector<ProcTrack> _proc;
    std::vector<PeerStats> _stats;
    HashCache _hashes;
    int64_t _startMs = 0;
    int _eventNo = 0;
    std::deque<std::string> _trace;
    std::ofstream _traceFile;

    // ---- counts for the evidence line ----
    std::map<std::string, int> _events;  // action -> times done
    std::map<std::string, int> _refused; // "cmd:code" -> times
    int _downloadsFinished = 0, _downloadsVerified = 0, _streamsVerified = 0;
    int _downloadsFailed = 0, _downloadsCancelled = 0;
    int _installsFinished = 0, _installsVerified = 0, _installsFailed = 0;
    int _uninstallsFinished = 0;
    int _kills = 0, _killsMidOperation = 0, _recoveriesChecked = 0, _recoveredScratch = 0;
    int _readyChecks = 0, _checkRounds = 0, _connects = 0, _connectsRefusedAsDuplicate = 0;
    std::vector<double> _latencies;
    double _slowestMs = -1;
    std::string _slowest; // the slowest command: peer and command name

    // ---- helpers ----
    int64_t elapsedMs() const { return wallMs() - _startMs; }
    Peer &peer(int i) { return *_peers.at(std::size_t(i)); }
    int indexOf(const Peer &p) const {
        for (std::size_t i = 0; i < _peers.size(); ++i)
            if (_peers[i] == &p)
                return int(i);
        return -1;
    }
    const SoakGame *game(const std::string &id) const {
        for (const auto &g : _games)
            if (g.id == id)
                return &g;
        return nullptr;
    }
    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(_rng); }
    template <class T> const T &pick(const std::vector<T> &v) {
        return v.at(std::size_t(uniform(0, int(v.size()) - 1)));
    }

    void trace(const std::string &what) {
        char stamp[32];
        std::snprintf(stamp, sizeof stamp, "[%7.2fs #%d] ", double(elapsedMs()) / 1000.0, _eventNo);
        const std::string line = stamp + what;
        _trace.push_back(line);
        if (_trace.size() > 30)
            _trace.pop_front();
        _traceFile << line << "\n";
        _traceFile.flush();
    }

    // Fails the soak: the invariant, the peer, the seed, the recent actions and the peer's
    // own diagnostics.
    [[noreturn]] void violation(const std::string &invariant, const Peer *p,
                                const std::string &detail) {
        std::string msg =
            "soak invariant " + invariant + " violated on " +
            (p ? p->label() : std::string("(all)")) + " (seed " + std::to_string(_seed) +
            ", t=" + std::to_string(elapsedMs() / 1000) + " s, event #" + std::to_string(_eventNo) +
            "): " + detail + "\nreplay: LANSPREAD_SOAK_SEED=" + std::to_string(_seed) +
            " LANSPREAD_SOAK_SECONDS=" + std::to_string(_seconds) + " soak_test\nlast actions:\n";
        for (const auto &t : _trace)
            msg += "  " + t + "\n";
        if (p)
            msg += p->diagnostics(30, 20);
        CPPUNIT_FAIL(msg);
        std::abort();
    }

    // A command, timed from write to result: the command-latency invariant.
    Json cmd(Peer &p, const std::string &json) {
        const auto t0 = Clock::now();
        Json r = p.command(json, std::chrono::milliseconds(std::max(10'000, 5 * _maxLatencyMs)));
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        _latencies.push_back(ms);
        if (ms > _slowestMs) {
            _slowestMs = ms;
            _slowest = p.label() + " " + str(parseJson(json), "cmd");
        }
        if (ms > _maxLatencyMs)
            violation("command-latency", &p,
                      json + " answered after " + std::to_string(int(ms)) + " ms (limit " +
                          std::to_string(_maxLatencyMs) + " ms)");
        if (!flag(r, "ok")) {
            Json error = r->getObject("error");
            const std::string code = str(error, "code");
            if (code == "internal-error" || code == "io-error")
                violation("command-error", &p, json + " answered " + toJson(r));
            _refused[str(parseJson(json), "cmd") + ":" + code] += 1;
        }
        return r;
    }
    Json data(const Json &r) {
        Json d = r->getObject("data");
        return d.isNull() ? Json(new Poco::JSON::Object) : d;
    }
    // Game id -> operation name, from status.
    std::map<std::string, std::string> operations(Peer &p) {
        std::map<std::string, std::string> out;
        Json ops = data(cmd(p, "{\"cmd\":\"status\"}"))->getObject("active_operations");
        if (!ops.isNull())
            for (const auto &[g, op] : *ops)
                out[g] = op.toString();
        return out;
    }
    // Game id -> list-games local row.
    std::map<std::string, Json> localRows(Peer &p) {
        std::map<std::string, Json> out;
        JsonArray local = data(cmd(p, "{\"cmd\":\"list-games\"}"))->getArray("local");
        for (std::size_t i = 0; local && i < local->size(); ++i) {
            Json row = local->getObject(unsigned(i));
            out[str(row, "id")] = row;
        }
        return out;
    }

    void pumpAll() {
        for (int i = 0; i < kPeers; ++i) {
            peer(i).drain();
            processEvents(i);
        }
    }
    // Sleeps ms while keeping every peer's stdout read.
    void idleFor(int ms) {
        const auto until = Clock::now() + std::chrono::milliseconds(ms);
        while (Clock::now() < until) {
            pumpAll();
            std::this_thread::sleep_for(20ms);
        }
    }

    // ---- fixtures ----
    void makeGames(Lab &lab);
    void writeRoot(const std::string &root, const SoakGame &g, bool canonical);

    // ---- the invariants ----
    void processEvents(int i);
    void verifyDownload(int i, const std::string &gameId, const Json &finished);
    void verifyInstall(int i, const std::string &gameId, bool stream);
    std::vector<std::string> scratchOf(int i, const std::string &gameId);
    void checkPeer(int i, const std::string &why);
    void sampleProc(int i, bool final = false);
    void repairMesh(int i);

    // ---- the events ----
    void step();
    void killPeer(int i);
    void restartPeer(int i);
    std::string evidenceLine();
    void settle();
};

CPPUNIT_TEST_SUITE_REGISTRATION(SoakTest);

// ---------------------------------------------------------------------------------------------

void SoakTest::writeRoot(const std::string &root, const SoakGame &g, bool canonical) {
    // Files first, version.ini last (renamed from a reserved name the library ignores), as a
    // person copying a game in would end: the root is never Ready before it is complete.
    const std::string from = canonical ? g.canonicalDir : g.staleDir;
    fs::create_directories(root);
    for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator();
         ++it) {
        const fs::path rel = fs::relative(it->path(), from);
        if (rel == "version.ini")
            continue;
        if (it->is_directory())
            fs::create_directories(fs::path(root) / rel);
        else
            fs::copy_file(it->path(), fs::path(root) / rel, fs::copy_options::overwrite_existing);
    }
    fs::copy_file(fs::path(from) / "version.ini", fs::path(root) / ".version.ini.soak",
                  fs::copy_options::overwrite_existing);
    fs::rename(fs::path(root) / ".version.ini.soak", fs::path(root) / "version.ini");
}

void SoakTest::makeGames(Lab &lab) {
    std::string catalog = "{\"games\":[";
    for (int n = 0; n < kGames; ++n) {
        SoakGame g;
        char id[16];
        std::snprintf(id, sizeof id, "soak%02d", n);
        g.id = id;
        catalog += std::string(n ? "," : "") + "{\"id\":\"" + g.id + "\",\"name\":\"Soak " +
                   std::to_string(n) + "\",\"version\":\"" + kVersion + "\"}";
        // A tar .eti of two or three members (0.3-1.6 MiB each), a root file that is not an
        // archive (0.1-1.2 MiB, not chunk-aligned) and a readme: 1-6 chunks per file, a few
        // MiB a game.
        std::vector<uint64_t> sizes;
        const int members = uniform(2, 3);
        for (int m = 0; m < members; ++m)
            sizes.push_back(uint64_t(uniform(300, 1600)) * 1024 + uint64_t(uniform(0, 1023)));
        const uint64_t extra = uint64_t(uniform(100, 1200)) * 1024 + 7;
        for (bool canonical : {true, false}) {
            const std::string dir =
                lab.dir() + "/depot/" + (canonical ? "canonical/" : "stale/") + g.id;
            const uint64_t seed = _seed * 1000 + uint64_t(n) * 10 + (canonical ? 1 : 2);
            std::vector<RandomMember> list;
            for (int m = 0; m < members; ++m)
                list.push_back(
                    {(m == 0 ? "bin/" : "data/") + std::string("part") + std::to_string(m) + ".bin",
                     sizes[std::size_t(m)], seed * 7 + uint64_t(m)});
            Manifest installed = writeRandomTar(dir + "/" + g.id + ".eti", list);
            writeRandomFile(dir + "/extras/pack.bin", extra, seed * 7 + 5);
            writeWholeFile(dir + "/readme.txt", "soak game " + g.id +
                                                    (canonical ? " canonical" : " stale") +
                                                    " seed " + std::to_string(seed) + "\n");
            writeWholeFile(dir + "/version.ini",
                           (canonical ? kVersion : kStaleVersion) + std::string("\n"));
            (canonical ? g.canonicalDir : g.staleDir) = dir;
            (canonical ? g.canonical : g.stale) = manifest(dir);
            (canonical ? g.canonicalInstall : g.staleInstall) = installed;
        }
        g.bytes = totalSize(fileSizes(g.canonicalDir));
        _games.push_back(std::move(g));
    }
    lab.writeCatalog(catalog + "]}");
}

// ---- the invariants ----

// Reads what the peer logged since last time: finished downloads and installs are verified
// on disk at once (the driver changes a game's files only once its operation is over, and
// only after reading its log, so what is on disk is what the operation left).
void SoakTest::processEvents(int i) {
    Peer &p = peer(i);
    for (; _processed[std::size_t(i)] < p.logSize(); ++_processed[std::size_t(i)]) {
        const LoggedEvent &e = p.logAt(_processed[std::size_t(i)]);
        if (e.object.isNull())
            continue;
        const std::string g = str(e.object, "game");
        if (e.name == "download-finished") {
            ++_downloadsFinished;
            if (!_streaming[std::size_t(i)].count(g))
                verifyDownload(i, g, e.object);
        } else if (e.name == "download-failed") {
            ++_downloadsFailed;
            _streaming[std::size_t(i)].erase(g);
        } else if (e.name == "download-cancelled") {
            ++_downloadsCancelled;
            _streaming[std::size_t(i)].erase(g);
        } else if (e.name == "install-finished") {
            ++_installsFinished;
            const bool stream = _streaming[std::size_t(i)].erase(g) > 0;
            verifyInstall(i, g, stream);
        } else if (e.name == "install-failed") {
            ++_installsFailed;
            _streaming[std::size_t(i)].erase(g);
        } else if (e.name == "uninstall-finished") {
            ++_uninstallsFinished;
        }
    }
}

void SoakTest::verifyDownload(int i, const std::string &gameId, const Json &finished) {
    Peer &p = peer(i);
    const SoakGame *g = game(gameId);
    if (!g)
        violation("download-exact", &p,
                  "download-finished of a game not in the catalog: " + toJson(finished));
    const Manifest copy = _hashes.manifestOf(p.gameRoot(gameId));
    if (copy != g->canonical)
        violation("download-exact", &p,
                  gameId +
                      " finished but differs from the source:" + manifestDiff(g->canonical, copy));
    if (u64(finished, "bytes_total") != g->bytes)
        violation("download-exact", &p,
                  gameId + " bytes_total " + std::to_string(u64(finished, "bytes_total")) +
                      " but the game is " + std::to_string(g->bytes) + " B");
    ++_downloadsVerified;
    trace(p.label() + " verified download of " + gameId + " (" + std::to_string(copy.size()) +
          " files)");
}

void SoakTest::verifyInstall(int i, const std::string &gameId, bool stream) {
    Peer &p = peer(i);
    const SoakGame *g = game(gameId);
    if (!g)
        return;
    const Manifest local = _hashes.manifestOf(p.gameRoot(gameId) + "/local");
    if (stream) {
        if (local != g->canonicalInstall)
            violation("download-exact", &p,
                      gameId + " stream-installed but local/ differs from the archive:" +
                          manifestDiff(g->canonicalInstall, local));
        // The stream stores no archive: its root gains local/ and nothing else.
        std::set<std::string> added = topLevelNames(p.gameRoot(gameId));
        for (const auto &name : _streamBefore[std::size_t(i)][gameId])
            added.erase(name);
        added.erase("local");
        if (!added.empty())
            violation("download-exact", &p,
                      gameId + " stream-installed but it added {" + join(added) +
                          "} to its root, which now holds {" +
                          join(topLevelNames(p.gameRoot(gameId))) + "}");
        ++_streamsVerified;
    } else if (local != g->canonicalInstall && local != g->staleInstall) {
        violation("ready-complete", &p,
                  gameId + " install-finished but local/ is neither archive's tree:" +
                      manifestDiff(g->canonicalInstall, local));
    }
    ++_installsVerified;
}

// Install scratch of a game: the reserved staging/backup dirs and lanspread's own temporary
// names in its root, and an install intent in the state dir.
std::vector<std::string> SoakTest::scratchOf(int i, const std::string &gameId) {
    Peer &p = peer(i);
    std::vector<std::string> out;
    for (const auto &name : topLevelNames(p.gameRoot(gameId)))
        if (name.rfind(".local.", 0) == 0 || name.rfind(".lanspread", 0) == 0)
            out.push_back(gameId + "/" + name);
    const std::string stateGame = p.stateDir() + "/games/" + gameId;
    for (const auto &name : topLevelNames(stateGame))
        if (name.rfind("install_intent", 0) == 0 || name.find(".lanspread") != std::string::npos)
            out.push_back("state/games/" + gameId + "/" + name);
    return out;
}

// One peer against its disk: every idle game that list-games calls Ready has exactly the
// source's files, a downloaded one has its version.ini, an installed one a whole local/; an
// idle game has no install scratch; and no operation runs for longer than it can.
void SoakTest::checkPeer(int i, const std::string &why) {
    Peer &p = peer(i);
    const auto before = operations(p);
    const auto rows = localRows(p);
    const auto after = operations(p);
    processEvents(i);
    ++_checkRounds;
    const int64_t now = wallMs();
    for (const auto &[g, op] : after) {
        auto [it, fresh] = _opSeen[std::size_t(i)].emplace(g, now);
        if (!fresh && now - it->second > kOperationLimitMs)
            violation("operation-ends", &p,
                      op + " of " + g + " has run for " +
                          std::to_string((now - it->second) / 1000) + " s");
    }
    for (auto it = _opSeen[std::size_t(i)].begin(); it != _opSeen[std::size_t(i)].end();)
        it = after.count(it->first) ? std::next(it) : _opSeen[std::size_t(i)].erase(it);

    for (const auto &g : _games) {
        if (before.count(g.id) || after.count(g.id))
            continue;
        // A root removed behind the library's back is still listed until its rescan (250 ms
        // after inotify): judge it 2 s later.
        auto ext = _externalAt[std::size_t(i)].find(g.id);
        if (ext != _externalAt[std::size_t(i)].end() && now - ext->second < 2000)
            continue;
        const std::string root = p.gameRoot(g.id);
        const std::vector<std::string> scratch = scratchOf(i, g.id);
        if (!scratch.empty())
            violation("staging-at-idle", &p,
                      g.id + " is idle (" + why + ") but holds " + scratch.front() +
                          (scratch.size() > 1
                               ? " and " + std::to_string(scratch.size() - 1) + " more"
                               : ""));
        auto r = rows.find(g.id);
        if (r == rows.end())
            continue;
        const Json &row = r->second;
        ++_readyChecks;
        if (str(row, "availability") == "Ready") {
            const Manifest disk = _hashes.manifestOf(root);
            if (disk != g.canonical)
                violation("ready-complete", &p,
                          g.id + " is listed Ready (" + why +
                              ") but its root differs:" + manifestDiff(g.canonical, disk));
        }
        if (flag(row, "downloaded")) {
            struct stat st {};
            if (::lstat((root + "/version.ini").c_str(), &st) != 0 || !S_ISREG(st.st_mode))
                violation("ready-complete", &p,
                          g.id + " is listed downloaded (" + why + ") without a version.ini");
            const std::string version = readWholeFile(root + "/version.ini");
            const Manifest disk = _hashes.manifestOf(root);
            if (disk != g.canonical && disk != g.stale)
                violation("ready-complete", &p,
                          g.id + " is listed downloaded at '" + str(row, "version") + "' (" + why +
                              ") but its root is neither version's files:" +
                              manifestDiff(version.rfind(kVersion, 0) == 0 ? g.canonical : g.stale,
                                           disk));
        }
        if (flag(row, "installed")) {
            const Manifest local = _hashes.manifestOf(root + "/local");
            if (local != g.canonicalInstall && local != g.staleInstall)
                violation("ready-complete", &p,
                          g.id + " is listed installed (" + why +
                              ") but local/ is neither archive's tree:" +
                              manifestDiff(g.canonicalInstall, local));
        }
    }
}

// fd count and VmRSS: after an incarnation's warm-up, each stays within a bound of the most it
// reached during the warm-up.
void SoakTest::sampleProc(int i, bool final) {
    Peer &p = peer(i);
    if (!p.running())
        return;
    const std::string proc = "/proc/" + std::to_string(p.pid());
    int fds = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(proc + "/fd", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        ++fds;
    double rssMiB = -1;
    std::ifstream status(proc + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            rssMiB = std::atof(line.c_str() + 6) / 1024.0;
    if (fds == 0 || rssMiB < 0)
        return; // it died between the check and the read: the next command will say so
    PeerStats &s = _stats[std::size_t(i)];
    s.fdMin = std::min(s.fdMin, fds);
    s.fdMax = std::max(s.fdMax, fds);
    s.rssMin = std::min(s.rssMin, rssMiB);
    s.rssMax = std::max(s.rssMax, rssMiB);
    ProcTrack &t = _proc[std::size_t(i)];
    if (!t.warm && wallMs() - t.startedMs < int64_t(_warmupS) * 1000 && !final) {
        t.warmFdMax = std::max(t.warmFdMax, fds);
        t.warmRssMax = std::max(t.warmRssMax, rssMiB);
        return;
    }
    if (t.warmFdMax < 0)
        return; // no warm-up sample (a final sample of a fresh restart)
    t.warm = true;
    s.fdGrowthMax = std::max(s.fdGrowthMax, fds - t.warmFdMax);
    s.rssGrowthMax = std::max(s.rssGrowthMax, rssMiB - t.warmRssMax);
    if (fds > t.warmFdMax + _fdBound)
        violation("fd-flat", &p,
                  std::to_string(fds) + " fds open, " + std::to_string(fds - t.warmFdMax) +
                      " more than its warm-up maximum " + std::to_string(t.warmFdMax) + " (bound " +
                      std::to_string(_fdBound) + ")");
    if (rssMiB > t.warmRssMax + _rssBoundMiB)
        violation("rss-flat", &p,
                  "VmRSS " + std::to_string(rssMiB) + " MiB, " +
                      std::to_string(rssMiB - t.warmRssMax) +
                      " MiB more than its warm-up maximum " + std::to_string(t.warmRssMax) +
                      " (bound " + std::to_string(_rssBoundMiB) + " MiB)");
}

// Keeps the mesh whole: a running peer connects to every running peer it does not list (a
// restarted peer to all). Only the lower index dials, so two peers never dial each other at
// once.
void SoakTest::repairMesh(int i) {
    Peer &p = peer(i);
    std::set<std::string> listed;
    JsonArray rows = data(cmd(p, "{\"cmd\":\"list-peers\"}"))->getArray("peers");
    for (std::size_t k = 0; rows && k < rows->size(); ++k)
        listed.insert(str(rows->getObject(unsigned(k)), "peer_id"));
    for (int j = 0; j < kPeers; ++j) {
        Peer &q = peer(j);
        if (j == i || !q.running() || listed.count(q.peerId()))
            continue;
        Json r = cmd(p, "{\"cmd\":\"connect\",\"addr\":" + jsonString(q.listenAddr()) + "}");
        ++_connects;
        trace(p.label() + " connect " + q.label() + ": " +
              (flag(r, "ok") ? std::string("ok") : toJson(r->getObject("error"))));
        peer(j).drain();
        if (flag(r, "ok"))
            continue;
        // Known (see README): within peer_timeout_ms of a kill -9 and restart, the survivor
        // still holds the dead process's connection and may keep it, closing the new one as
        // the duplicate (QUIC application error 3). Anything else is a failure.
        const int64_t now = wallMs();
        const bool restartedLately =
            now - _proc[std::size_t(i)].startedMs < kPeerTimeoutMs + 3000 ||
            now - _proc[std::size_t(j)].startedMs < kPeerTimeoutMs + 3000;
        const std::string message = str(r->getObject("error"), "message");
        if (!restartedLately || message.find("application error 0x3") == std::string::npos)
            violation("connect-ok", &p, "connect to " + q.label() + " failed: " + toJson(r));
        ++_connectsRefusedAsDuplicate;
    }
}

// ---- the events ----

void SoakTest::killPeer(int i) {
    Peer &p = peer(i);
    const auto ops = operations(p);
    processEvents(i);
    p.kill9();
    processEvents(i); // what it logged before dying (a finished download is verified now)
    _streaming[std::size_t(i)].clear();
    _opSeen[std::size_t(i)].clear();
    ++_kills;
    if (!ops.empty())
        ++_killsMidOperation;
    std::string running;
    for (const auto &[g, op] : ops)
        running += " " + g + ":" + op;
    _restartAt[std::size_t(i)] = wallMs() + uniform(500, 6000);
    trace(p.label() + " kill -9 (operations:" + (running.empty() ? " none" : running) + ")");
}

// Restart on the same dirs; startup recovery has run once local-peer-ready is out, so no
// install scratch may be left anywhere, and every game must be whole as listed.
void SoakTest::restartPeer(int i) {
    Peer &p = peer(i);
    std::vector<std::string> before;
    for (const auto &g : _games)
        for (const auto &s : scratchOf(i, g.id))
            before.push_back(s);
    p.restart();
    _restartAt[std::size_t(i)] = 0;
    _proc[std::size_t(i)] = ProcTrack{wallMs()};
    ++_stats[std::size_t(i)].incarnations;
    std::vector<std::string> left;
    for (const auto &g : _games)
        for (const auto &s : scratchOf(i, g.id))
            left.push_back(s);
    ++_recoveriesChecked;
    _recoveredScratch += int(before.size());
    if (!left.empty())
        violation("staging-after-recovery", &p,
                  "after kill -9 and restart (recovery done: local-peer-ready) it still holds " +
                      left.front() + " (" + std::to_string(left.size()) +
                      " in all; before the restart: " + std::to_string(before.size()) + ")");
    trace(p.label() + " restarted (scratch before recovery: " + std::to_string(before.size()) +
          ", after: 0)");
    checkPeer(i, "after recovery");
    repairMesh(i);
}

void SoakTest::step() {
    ++_eventNo;
    std::vector<int> up;
    int down = 0;
    for (int i = 0; i < kPeers; ++i)
        (peer(i).running() ? up.push_back(i) : void(++down));
    const int i = pick(up);
    Peer &p = peer(i);
    const auto ops = operations(p);
    const auto rows = localRows(p);
    processEvents(i);

    struct Choice {
        std::string action, game;
        int weight;
    };
    std::vector<Choice> choices;
    for (const auto &g : _games) {
        const bool busy = ops.count(g.id) > 0;
        auto r = rows.find(g.id);
        const Json row = r == rows.end() ? Json() : r->second;
        const bool hasRoot = fs::exists(p.gameRoot(g.id));
        const std::string avail = str(row, "availability");
        const bool downloaded = flag(row, "downloaded"), installed = flag(row, "installed");
        if (busy) {
            const std::string &op = ops.at(g.id);
            if (op == "Downloading" || op == "StreamInstalling")
                choices.push_back({"cancel", g.id, 30});
            continue;
        }
        if (avail != "Ready")
            choices.push_back({"download", g.id, 6});
        if (!downloaded && !installed)
            choices.push_back({"stream-install", g.id, 2});
        if (downloaded)
            choices.push_back({"install", g.id, 4});
        if (installed)
            choices.push_back({"uninstall", g.id, 4});
        if (downloaded && !installed)
            choices.push_back({"remove", g.id, 2});
        if (!hasRoot)
            choices.push_back({"lib-add", g.id, 2});
        if (hasRoot)
            choices.push_back({"lib-remove", g.id, 1});
        if (avail == "Stale")
            choices.push_back({"lib-bump", g.id, 6});
    }
    if (i >= kLongLived && down < kMaxDown)
        choices.push_back({"kill", "", ops.empty() ? 4 : 12});
    int total = 0;
    for (const auto &c : choices)
        total += c.weight;
    if (total == 0)
        return;
    int roll = uniform(0, total - 1);
    const Choice *c = &choices.front();
    for (const auto &choice : choices) {
        if (roll < choice.weight) {
            c = &choice;
            break;
        }
        roll -= choice.weight;
    }
    _events[c->action] += 1;
    const std::string g = c->game;
    const std::string root = p.gameRoot(g);
    auto answer = [&](const Json &r) {
        trace(p.label() + " " + c->action + " " + g + ": " +
              (flag(r, "ok") ? std::string("ok") : str(r->getObject("error"), "code")));
        return flag(r, "ok");
    };
    if (c->action == "download") {
        const bool install = uniform(0, 1) == 1;
        answer(cmd(p, "{\"cmd\":\"download\",\"game\":\"" + g +
                          "\",\"install\":" + (install ? "true" : "false") + "}"));
    } else if (c->action == "stream-install") {
        _streamBefore[std::size_t(i)][g] = topLevelNames(root);
        if (answer(cmd(p, "{\"cmd\":\"stream-install\",\"game\":\"" + g + "\"}")))
            _streaming[std::size_t(i)].insert(g);
    } else if (c->action == "cancel") {
        answer(cmd(p, "{\"cmd\":\"cancel-download\",\"game\":\"" + g + "\"}"));
    } else if (c->action == "install" || c->action == "uninstall" || c->action == "remove") {
        answer(cmd(p, "{\"cmd\":\"" + c->action + "\",\"game\":\"" + g + "\"}"));
    } else if (c->action == "lib-add") {
        const bool canonical = uniform(0, 2) > 0;
        writeRoot(root, *game(g), canonical);
        _externalAt[std::size_t(i)][g] = wallMs();
        trace(p.label() + " lib-add " + g + (canonical ? " (catalog version)" : " (stale)"));
    } else if (c->action == "lib-remove") {
        // version.ini first, as a person deleting a game would not, but so the row stops being
        // downloaded as early as it can.
        std::error_code ec;
        fs::remove(root + "/version.ini", ec);
        fs::remove_all(root, ec);
        _externalAt[std::size_t(i)][g] = wallMs();
        trace(p.label() + " lib-remove " + g + (ec ? " (" + ec.message() + ")" : ""));
    } else if (c->action == "lib-bump") {
        // A Stale copy becomes the catalog version: its version.ini goes, its files are
        // replaced by the new version's, and the new version.ini comes last.
        std::error_code ec;
        fs::remove(root + "/version.ini", ec);
        for (const auto &name : topLevelNames(root))
            if (!isReservedRootName(name))
                fs::remove_all(root + "/" + name, ec);
        writeRoot(root, *game(g), true);
        _externalAt[std::size_t(i)][g] = wallMs();
        trace(p.label() + " lib-bump " + g + " to " + kVersion);
    } else if (c->action == "kill") {
        // Most kills land in an operation: if none runs, one starts (a stream-install, or a
        // download that installs) and the kill follows 0.1-1.5 s later, into the transfer,
        // the install or the stream's extraction.
        std::vector<std::string> fresh;
        for (const auto &sg : _games) {
            auto r = rows.find(sg.id);
            if (!ops.count(sg.id) && (r == rows.end() || (!flag(r->second, "downloaded") &&
                                                          !flag(r->second, "installed"))))
                fresh.push_back(sg.id);
        }
        if (ops.empty() && !fresh.empty() && uniform(0, 3) > 0) {
            const std::string target = pick(fresh);
            const bool stream = uniform(0, 1) == 1;
            const std::size_t from = p.logSize();
            _streamBefore[std::size_t(i)][target] = topLevelNames(p.gameRoot(target));
            Json r = cmd(p, stream ? "{\"cmd\":\"stream-install\",\"game\":\"" + target + "\"}"
                                   : "{\"cmd\":\"download\",\"game\":\"" + target +
                                         "\",\"install\":true}");
            if (flag(r, "ok") && stream)
                _streaming[std::size_t(i)].insert(target);
            trace(p.label() + (stream ? " stream-install " : " download+install ") + target +
                  " before a kill: " + (flag(r, "ok") ? "ok" : str(r->getObject("error"), "code")));
            // The kill goes into the install: a stream extracts into .local.installing for as
            // long as its chunks come (up to 0.4 s in), a download's install takes tens of ms.
            if (flag(r, "ok") &&
                p.findEvent("install-begin", forGame(target), 5s, from) != Peer::npos)
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(uniform(0, stream ? 400 : 40)));
        }
        killPeer(i);
    }
}

// The end: restart whoever is down, let every operation finish (nothing new starts), then
// check every peer once more.
void SoakTest::settle() {
    for (int i = 0; i < kPeers; ++i)
        if (!peer(i).running())
            restartPeer(i);
    for (int i = 0; i < kPeers; ++i)
        repairMesh(i);
    const auto deadline = Clock::now() + 60s;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < kPeers && !busy; ++i)
            busy = !operations(peer(i)).empty();
        if (!busy)
            break;
        if (Clock::now() > deadline)
            violation("operation-ends", nullptr, "operations still running 60 s after the end");
        idleFor(500);
    }
    idleFor(2500); // the last external changes reach the libraries
    for (int i = 0; i < kPeers; ++i) {
        checkPeer(i, "at the end");
        sampleProc(i, true);
    }
}

std::string SoakTest::evidenceLine() {
    std::vector<double> l = _latencies;
    std::sort(l.begin(), l.end());
    const double maxMs = l.empty() ? 0 : l.back();
    const double p99 =
        l.empty() ? 0 : l[std::min(l.size() - 1, std::size_t(double(l.size()) * 0.99))];
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    int total = 0;
    for (const auto &[a, n] : _events)
        total += n;
    s << "SOAK seed=" << _seed << " seconds=" << _seconds << " peers=" << kPeers
      << " games=" << kGames << " events=" << total << " {";
    for (const auto &[a, n] : _events)
        s << " " << a << ":" << n;
    s << " } downloads finished=" << _downloadsFinished << " verified=" << _downloadsVerified << "+"
      << _streamsVerified << " streamed, failed=" << _downloadsFailed
      << " cancelled=" << _downloadsCancelled << "; installs finished=" << _installsFinished
      << " verified=" << _installsVerified << " failed=" << _installsFailed
      << "; uninstalls=" << _uninstallsFinished << "; kills=" << _kills << " (mid-operation "
      << _killsMidOperation << ") recoveries checked=" << _recoveriesChecked
      << " (scratch found before recovery " << _recoveredScratch << ", after 0)"
      << "; ready checks=" << _readyChecks << " in " << _checkRounds << " peer checks, "
      << (_hashes.hashedBytes() >> 20) << " MiB hashed; connects=" << _connects
      << " (refused as duplicate of a dead one " << _connectsRefusedAsDuplicate << ")"
      << "; commands=" << l.size() << " max=" << maxMs << "ms (" << _slowest << ") p99=" << p99
      << "ms; refused {";
    for (const auto &[k, n] : _refused)
        s << " " << k << ":" << n;
    s << " }; fd min/max (growth) rss MiB min/max (growth) per peer:";
    for (int i = 0; i < kPeers; ++i) {
        const PeerStats &st = _stats[std::size_t(i)];
        s << " " << peer(i).label() << " " << st.fdMin << "/" << st.fdMax << "(+" << st.fdGrowthMax
          << ") " << st.rssMin << "/" << st.rssMax << "(+" << std::max(0.0, st.rssGrowthMax) << ")";
    }
    s << "; bounds fd +" << _fdBound << " rss +" << _rssBoundMiB << " MiB after " << _warmupS
      << " s warm-up, latency " << _maxLatencyMs << " ms";
    return s.str();
}

void SoakTest::soak() {
    const char *seedEnv = ::getenv("LANSPREAD_SOAK_SEED");
    _seed = seedEnv && *seedEnv ? std::strtoull(seedEnv, nullptr, 10)
                                : uint64_t(std::random_device{}()) % 1'000'000'000;
    _seconds = envInt("LANSPREAD_SOAK_SECONDS", 180);
    _maxLatencyMs = envInt("LANSPREAD_SOAK_MAX_LATENCY_MS", 1000);
    _fdBound = envInt("LANSPREAD_SOAK_FD_BOUND", _fdBound);
    _rssBoundMiB = envInt("LANSPREAD_SOAK_RSS_BOUND_MIB", int(_rssBoundMiB));
    _warmupS = std::min(_warmupS, std::max(10, _seconds / 4));
    _rng.seed(_seed);
    std::printf("soak: seed=%llu seconds=%d (replay: LANSPREAD_SOAK_SEED=%llu "
                "LANSPREAD_SOAK_SECONDS=%d soak_test)\n",
                static_cast<unsigned long long>(_seed), _seconds,
                static_cast<unsigned long long>(_seed), _seconds);
    std::fflush(stdout);

    try {
        Lab &lab = *(_lab = std::make_unique<Lab>("soak"));
        _traceFile.open(lab.dir() + "/soak-trace.log");
        makeGames(lab);
        // Upload capped at 3 MiB/s a peer, so a game takes about a second to move and kills
        // and cancels land mid-transfer; a killed peer is dropped after 3 s of silence.
        const std::string ini = peerIni(3, kPeerTimeoutMs);
        for (int i = 0; i < kPeers; ++i) {
            char label[8];
            std::snprintf(label, sizeof label, "p%02d", i);
            Peer &p = lab.addPeer(label);
            _peers.push_back(&p);
        }
        // Each game starts Ready on two peers and Stale on a third.
        for (const auto &g : _games) {
            std::vector<int> order(kPeers);
            for (int i = 0; i < kPeers; ++i)
                order[std::size_t(i)] = i;
            std::shuffle(order.begin(), order.end(), _rng);
            writeRoot(lab.gamesDirOf(peer(order[0]).label()) + "/" + g.id, g, true);
            writeRoot(lab.gamesDirOf(peer(order[1]).label()) + "/" + g.id, g, true);
            writeRoot(lab.gamesDirOf(peer(order[2]).label()) + "/" + g.id, g, false);
        }
        _processed.assign(kPeers, 0);
        _streaming.assign(kPeers, {});
        _streamBefore.assign(kPeers, {});
        _opSeen.assign(kPeers, {});
        _externalAt.assign(kPeers, {});
        _restartAt.assign(kPeers, 0);
        _proc.assign(kPeers, {});
        _stats.assign(kPeers, {});
        _startMs = wallMs();
        for (int i = 0; i < kPeers; ++i) {
            Peer &p = peer(i);
            p.start(p.label(), lab.gamesDirOf(p.label()), lab.stateDirOf(p.label()),
                    lab.catalogPath(), ini);
            _proc[std::size_t(i)] = ProcTrack{wallMs()};
            _stats[std::size_t(i)].incarnations = 1;
        }
        for (int i = 0; i < kPeers; ++i)
            repairMesh(i);
        trace("mesh of " + std::to_string(kPeers) + " peers up");

        const auto end = Clock::now() + std::chrono::seconds(_seconds);
        auto nextCheck = Clock::now() + 4s;
        auto nextSample = Clock::now();
        while (Clock::now() < end) {
            for (int i = 0; i < kPeers; ++i)
                if (!peer(i).running() && _restartAt[std::size_t(i)] != 0 &&
                    wallMs() >= _restartAt[std::size_t(i)])
                    restartPeer(i);
            step();
            if (Clock::now() >= nextSample) {
                for (int i = 0; i < kPeers; ++i)
                    sampleProc(i);
                nextSample = Clock::now() + 2s;
            }
            if (Clock::now() >= nextCheck) {
                for (int i = 0; i < kPeers; ++i)
                    if (peer(i).running()) {
                        checkPeer(i, "periodic");
                        pumpAll();
                    }
                for (int i = 0; i < kPeers; ++i)
                    if (peer(i).running())
                        repairMesh(i);
                nextCheck = Clock::now() + 5s;
            }
            idleFor(uniform(30, 250));
        }
        trace("events stop; settling");
        settle();
        const std::string line = evidenceLine();
        for (int i = 0; i < kPeers; ++i) {
            checkJsonOnly(lab, peer(i));
            const int code = peer(i).shutdown();
            if (code != 0)
                violation("clean-shutdown", &peer(i),
                          "shutdown ended with " + std::to_string(code) + ", not 0");
        }
        evidence(line);
    } catch (const CppUnit::Exception &e) {
        const std::string what = e.what();
        if (what.find("soak invariant") != std::string::npos)
            throw;
        CPPUNIT_FAIL("soak (seed " + std::to_string(_seed) + ", t=" +
                     std::to_string(elapsedMs() / 1000) + " s, event #" + std::to_string(_eventNo) +
                     "; replay: LANSPREAD_SOAK_SEED=" + std::to_string(_seed) + "): " + what);
    }
}

} // namespace
} // namespace lanspread::test
