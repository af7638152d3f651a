// What the real-process scenario suites (tests/integration/peer_scenarios_test.cpp,
// scenarios_mesh_test.cpp, scenarios_ops_test.cpp, stream_scenarios_test.cpp) and the netns
// tests share beyond the Peer/Lab harness: sizes, event-field access, big seeded fixture files,
// root inspection, what a peer lists, the chunk tally and verified transfer of a download, the
// evidence line, and ScenarioTest, the fixture base that owns a scenario's lab (and the tmpfs
// it may mount) and holds the suites' common settings, corruption and refusal checks.
// Header-only.
#pragma once

#include "peer_harness.hpp"
#include "tmpfs_mount.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lanspread::test {

constexpr uint64_t kMiB = uint64_t(1) << 20;
// The peer protocol's chunk size (catalog::kChunkSize): the unit of verification, of a
// download-chunk-finished event, and of what a partial source serves.
constexpr uint64_t kChunk = kMiB;
inline const std::string kVersion = lanspread::fixtures::kCatalogVersion;
inline const std::string kEti = "alienswarm.eti";

// ---- JSON field access ("" / 0 when absent or empty) ----

inline std::string str(const Json &o, const std::string &key) {
    return o.isNull() || !o->has(key) || o->get(key).isEmpty() ? std::string()
                                                               : o->get(key).toString();
}
inline uint64_t u64(const Json &o, const std::string &key) {
    if (o.isNull() || !o->has(key) || o->get(key).isEmpty())
        return 0;
    return o->get(key).convert<uint64_t>();
}
inline int64_t i64(const Json &o, const std::string &key) {
    if (o.isNull() || !o->has(key) || o->get(key).isEmpty())
        return 0;
    return o->get(key).convert<int64_t>();
}
inline double f64(const Json &o, const std::string &key) {
    if (o.isNull() || !o->has(key) || o->get(key).isEmpty())
        return 0;
    return o->get(key).convert<double>();
}
// A JSON boolean that is true (false when absent or not a boolean).
inline bool flag(const Json &o, const std::string &key) {
    return !o.isNull() && o->has(key) && o->get(key).isBoolean() && o->getValue<bool>(key);
}
inline Peer::Predicate forGame(const std::string &game) {
    return [game](const Json &e) { return str(e, "game") == game; };
}
inline Peer::Predicate forPeer(const std::string &peerId) {
    return [peerId](const Json &e) { return str(e, "peer_id") == peerId; };
}

// "a,b,c" (or with another separator).
inline std::string join(const std::set<std::string> &items, const std::string &sep = ",") {
    std::string s;
    for (const auto &i : items)
        s += (s.empty() ? "" : sep) + i;
    return s;
}

// ---- fixtures on disk ----

// A seeded pseudo-random file of size bytes, written in 8 MiB pieces.
inline void writeRandomFile(const std::string &path, uint64_t size, uint64_t seed) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (uint64_t offset = 0; offset < size; offset += 8 * kMiB) {
        const std::string piece = lanspread::fixtures::pseudoRandom(
            static_cast<std::size_t>(std::min<uint64_t>(8 * kMiB, size - offset)), seed, offset);
        out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path);
}
inline void writeVersionIni(const std::string &root, const std::string &version = kVersion) {
    writeWholeFile(root + "/version.ini", version + "\n");
}
// <games>/alienswarm/ holding one pseudo-random alienswarm.eti of size bytes, version.ini last.
inline void writeBigAlienswarm(const std::string &gamesDir, uint64_t size, uint64_t seed) {
    const std::string root = gamesDir + "/alienswarm";
    writeRandomFile(root + "/" + kEti, size, seed);
    writeVersionIni(root);
}

// path -> size of the regular files of a game root (reserved root names skipped).
inline std::map<std::string, uint64_t> fileSizes(const std::string &root) {
    namespace fs = std::filesystem;
    std::map<std::string, uint64_t> out;
    if (!fs::is_directory(root))
        return out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        if (it.depth() == 0 && isReservedRootName(it->path().filename().string())) {
            if (it->is_directory())
                it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && !it->is_symlink())
            out[fs::relative(it->path(), root).generic_string()] = it->file_size();
    }
    return out;
}
inline uint64_t totalSize(const std::map<std::string, uint64_t> &sizes) {
    uint64_t total = 0;
    for (const auto &[path, size] : sizes)
        total += size;
    return total;
}

// ---- a peer's view ----

// download-finished.sources as peer_id -> bytes.
inline std::map<std::string, uint64_t> sourcesOf(const Json &finished) {
    std::map<std::string, uint64_t> out;
    Json sources = finished.isNull() ? Json() : finished->getObject("sources");
    if (sources.isNull())
        return out;
    for (const auto &[peer, bytes] : *sources)
        out[peer] = bytes.convert<uint64_t>();
    return out;
}
// The game's row in the peer's list-games "local" (null when absent).
inline Json localGame(Peer &peer, const std::string &game) {
    JsonArray local = peer.listGames()->getArray("local");
    for (std::size_t i = 0; local && i < local->size(); ++i)
        if (str(local->getObject(static_cast<unsigned>(i)), "id") == game)
            return local->getObject(static_cast<unsigned>(i));
    return {};
}
// No operation runs on the game (status active_operations).
inline bool idle(Peer &peer, const std::string &game) {
    Json ops = peer.status()->getObject("active_operations");
    return ops.isNull() || !ops->has(game);
}
// The list-games remote rows by id (every row kept, so duplicates can be counted).
inline std::multimap<std::string, Json> remoteRows(Peer &peer) {
    std::multimap<std::string, Json> out;
    JsonArray remote = peer.listGames()->getArray("remote");
    for (std::size_t i = 0; remote && i < remote->size(); ++i) {
        Json row = remote->getObject(static_cast<unsigned>(i));
        out.emplace(str(row, "id"), row);
    }
    return out;
}
// The peer_count of the game's (first) remote row; 0 when it is not listed.
inline uint64_t remotePeerCount(Peer &peer, const std::string &game) {
    auto rows = remoteRows(peer);
    auto it = rows.find(game);
    return it == rows.end() ? 0 : u64(it->second, "peer_count");
}

// peer_id -> label, for messages about bytes per source.
using PeerLabels = std::map<std::string, std::string>;
inline PeerLabels labelsOf(const std::vector<Peer *> &peers) {
    PeerLabels out;
    for (const Peer *p : peers)
        out[p->peerId()] = p->label();
    return out;
}
// "{ label:bytes ... }" for bytes by peer_id (an unknown peer by its short id).
inline std::string describeBytes(const std::map<std::string, uint64_t> &bytesByPeer,
                                 const PeerLabels &labels) {
    std::string s = "{";
    for (const auto &[peer, bytes] : bytesByPeer) {
        auto n = labels.find(peer);
        s += " " + (n == labels.end() ? shortId(peer) : n->second) + ":" + std::to_string(bytes);
    }
    return s + " }";
}

// ---- what a receiver saw of a download ----

// download-chunk-finished events of one game in a log window, tallied.
struct ChunkTally {
    std::map<std::string, uint64_t> bytesByPeer;                      // every file
    std::map<std::string, std::map<std::string, int>> chunksByPeer;   // peer -> path -> chunks
    std::map<std::string, std::map<std::string, uint64_t>> pathBytes; // peer -> path -> bytes
    std::map<std::string, int> eventsByPath;                          // every peer
    std::map<std::string, uint64_t> bytesByPath;                      // every peer
    std::map<std::pair<std::string, uint64_t>, int> times;            // (path, offset) -> count
    uint64_t bytes = 0;
    std::size_t events = 0;

    int duplicates() const {
        int d = 0;
        for (const auto &[key, n] : times)
            d += n > 1 ? n - 1 : 0;
        return d;
    }
    // "path@offset ..." of the chunks counted more than once.
    std::string duplicated() const {
        std::string s;
        for (const auto &[key, n] : times)
            if (n > 1)
                s += " " + key.first + "@" + std::to_string(key.second);
        return s;
    }
    int chunks(const std::string &peer, const std::string &path) const {
        auto p = chunksByPeer.find(peer);
        if (p == chunksByPeer.end())
            return 0;
        auto c = p->second.find(path);
        return c == p->second.end() ? 0 : c->second;
    }
    uint64_t bytesOf(const std::string &peer, const std::string &path) const {
        auto p = pathBytes.find(peer);
        if (p == pathBytes.end())
            return 0;
        auto c = p->second.find(path);
        return c == p->second.end() ? 0 : c->second;
    }
    uint64_t bytesOf(const std::string &peer) const {
        auto p = bytesByPeer.find(peer);
        return p == bytesByPeer.end() ? 0 : p->second;
    }
};

inline ChunkTally tallyChunks(const Peer &receiver, const std::string &game, std::size_t from = 0,
                              std::size_t to = Peer::npos) {
    ChunkTally t;
    for (const auto &e : receiver.events("download-chunk-finished", forGame(game), from, to)) {
        const std::string peer = str(e, "peer_id"), path = str(e, "path");
        const uint64_t bytes = u64(e, "bytes");
        t.bytesByPeer[peer] += bytes;
        t.chunksByPeer[peer][path] += 1;
        t.pathBytes[peer][path] += bytes;
        t.eventsByPath[path] += 1;
        t.bytesByPath[path] += bytes;
        t.times[{path, u64(e, "offset")}] += 1;
        t.bytes += bytes;
        ++t.events;
    }
    return t;
}

// A verified download (ScenarioTest::verifyTransfer).
struct Transfer {
    Json finished;
    ChunkTally chunks;
    std::map<std::string, uint64_t> sources; // download-finished.sources
    std::map<std::string, uint64_t> sizes;   // the source's files
    uint64_t total = 0;
    Manifest copy; // the receiver's root, equal to the source's

    // "sha256 <path>=<first 12 hex digits> ok", for evidence lines.
    std::string sha(const std::string &path) const {
        auto it = copy.find(path);
        return "sha256 " + path + "=" +
               (it == copy.end() ? std::string("?") : it->second.substr(0, 12)) + " ok";
    }
};

// The scenario's one evidence line, on its own line of stdout.
inline void evidence(const std::string &line) {
    std::printf("\n%s\n", line.c_str());
    std::fflush(stdout);
}

// The contract allows only JSON objects on a peer's stdout.
inline void checkJsonOnly(const Lab &lab, const Peer &peer) {
    const auto bad = peer.invalidLines();
    lab.check(bad.empty(),
              peer.label() + " wrote " + std::to_string(bad.size()) +
                  " non-JSON stdout lines, first: " + (bad.empty() ? std::string() : bad.front()));
}

// ---- the fixture of a scenario suite ----

// A suite's fixture derives from this: each test makes its lab with newLab() (gone in
// tearDown()), and the checks every suite makes of downloads are here once.
class ScenarioTest : public CppUnit::TestFixture {
  public:
    // A tmpfs under the lab goes before the lab (TmpfsMount: its user killed, then unmounted),
    // so the lab's removal never meets a busy mount.
    void tearDown() override {
        _tmpfs.reset();
        _lab.reset();
    }

  protected:
    // A killed peer never says goodbye; it is noticed when it has been silent this long: 3 s
    // instead of the default 10 s.
    static constexpr int kPeerTimeoutMs = 3000;
    // A peer's [lanspread] settings as INI text: its total upload cap (0 = none) and how long
    // a silent peer lasts (peer_timeout_ms; 0 = the default).
    static std::string peerIni(double uploadLimitMiBps, int peerTimeoutMs = 0) {
        std::string ini = "[lanspread]\n";
        if (uploadLimitMiBps > 0)
            ini += "upload_limit_mib_s = " + std::to_string(uploadLimitMiBps) + "\n";
        if (peerTimeoutMs > 0)
            ini += "peer_timeout_ms = " + std::to_string(peerTimeoutMs) + "\n";
        return ini;
    }

    Lab &newLab(const std::string &scenario,
                const std::string &catalog = lanspread::fixtures::catalogJson()) {
        _lab = std::make_unique<Lab>(scenario);
        _lab->writeCatalog(catalog);
        return *_lab;
    }

    // Mounts a sizeMiB tmpfs on user's games dir (user added to the lab, not started yet);
    // fails the test when it cannot (not root). It goes in tearDown(), user killed first.
    void mountTmpfs(Peer &user, uint64_t sizeMiB) {
        try {
            _tmpfs = std::make_unique<TmpfsMount>(_lab->gamesDirOf(user.label()), sizeMiB, user);
        } catch (const std::exception &e) {
            _lab->check(false, e.what());
        }
    }

    // What a refused command answered: its error's code and message.
    struct Refusal {
        std::string code, message;
    };
    // Sends a download command that the peer's free space cannot take (a small tmpfs): it
    // must be refused up front with insufficient-space, its message suggesting
    // stream-install. The peer's output is drained for 300 ms after, so the caller can check
    // that no event followed.
    Refusal expectInsufficientSpace(Peer &peer, const std::string &downloadCommand) {
        Json answer = peer.command(downloadCommand);
        Json error = answer->getObject("error");
        Refusal refusal{str(error, "code"), str(error, "message")};
        _lab->check(!flag(answer, "ok") && refusal.code == "insufficient-space",
                    downloadCommand + " was answered " + toJson(answer) +
                        ", not insufficient-space");
        _lab->check(refusal.message.find("stream-install") != std::string::npos,
                    "the insufficient-space message does not suggest stream-install: " +
                        refusal.message);
        peer.drain(300ms);
        return refusal;
    }

    // Waits until peer's list-games remote shows game with peerCount sources.
    void waitRemote(Peer &peer, const std::string &game, uint64_t peerCount) {
        _lab->waitUntil([&] { return remotePeerCount(peer, game) == peerCount; }, 10s,
                        peer.label() + " lists remote " + game + " with peer_count " +
                            std::to_string(peerCount));
    }

    // The index of the download's terminal event (download-finished, -failed or -cancelled)
    // at or after from; fails when none comes in time.
    std::size_t waitDownloadEnd(Peer &peer, const std::string &game, std::size_t from,
                                std::chrono::milliseconds timeout) {
        return waitEnd(peer, "download", game, from, timeout,
                       {"download-finished", "download-failed", "download-cancelled"});
    }
    // The index of the install's terminal event (install-finished or -failed) at or after
    // from; fails when none comes in time.
    std::size_t waitInstallEnd(Peer &peer, const std::string &game, std::size_t from,
                               std::chrono::milliseconds timeout) {
        return waitEnd(peer, "install", game, from, timeout,
                       {"install-finished", "install-failed"});
    }

    // A finished download at end (from its command at from): it is download-finished, the
    // receiver's root equals sourceRoot by SHA-256, bytes_total is the source's size, the
    // chunk events are coherent (no chunk twice, their bytes are download-finished.bytes, and
    // per source equal download-finished.sources), and the rates are consistent.
    Transfer verifyTransfer(Peer &receiver, const std::string &game, const std::string &sourceRoot,
                            std::size_t from, std::size_t end) {
        Lab &lab = *_lab;
        Transfer t;
        lab.check(receiver.logAt(end).name == "download-finished",
                  game + ": expected download-finished, got " + receiver.logAt(end).line);
        t.finished = receiver.logAt(end).object;
        t.sizes = fileSizes(sourceRoot);
        t.total = totalSize(t.sizes);
        const Manifest expected = manifest(sourceRoot);
        t.copy = manifest(receiver.gameRoot(game));
        lab.check(!expected.empty() && expected.count("version.ini"), "fixture: empty source");
        lab.check(expected == t.copy,
                  game + ": receiver differs from source:" + manifestDiff(expected, t.copy));
        lab.check(u64(t.finished, "bytes_total") == t.total,
                  game + ": bytes_total " + std::to_string(u64(t.finished, "bytes_total")) +
                      " but the source holds " + std::to_string(t.total) + " B");
        t.chunks = tallyChunks(receiver, game, from, end);
        t.sources = sourcesOf(t.finished);
        lab.check(t.chunks.duplicates() == 0,
                  game + ": chunks verified twice:" + t.chunks.duplicated());
        lab.check(t.chunks.bytes == u64(t.finished, "bytes"),
                  game + ": chunk events sum to " + std::to_string(t.chunks.bytes) +
                      " B, download-finished.bytes is " + std::to_string(u64(t.finished, "bytes")));
        lab.check(t.sources == t.chunks.bytesByPeer, game + ": download-finished.sources " +
                                                         toJson(t.finished) +
                                                         " disagree with the chunk events");
        const double mibps = f64(t.finished, "mib_per_s");
        const double mbitps = f64(t.finished, "mbit_per_s");
        lab.check(mibps > 0 && std::abs(mbitps / mibps - 8.388608) < 1e-6,
                  game + ": rates " + toJson(t.finished));
        return t;
    }

    // Overwrites 4 KiB in the middle of every chunk of path (within the file) and restores
    // its size and mtime, so a library that caches chunk hashes by (size, mtime) keeps
    // advertising the old hashes: a source that serves corrupt chunks. Returns the number of
    // chunks changed.
    int corruptEveryChunkKeepingMtime(const std::string &path) {
        Lab &lab = *_lab;
        struct stat before {};
        lab.check(::stat(path.c_str(), &before) == 0, "stat " + path);
        const uint64_t size = uint64_t(before.st_size);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        lab.check(fd >= 0, "open " + path);
        int changed = 0;
        for (uint64_t start = 0; start < size; start += kChunk, ++changed) {
            const uint64_t length = std::min<uint64_t>(kChunk, size - start);
            const uint64_t at = start + length / 2;
            const std::string junk = lanspread::fixtures::pseudoRandom(
                static_cast<std::size_t>(std::min<uint64_t>(4096, size - at)), 0x42BAD + start);
            lab.check(::pwrite(fd, junk.data(), junk.size(), off_t(at)) == ssize_t(junk.size()),
                      "pwrite " + path);
        }
        const timespec times[2] = {before.st_atim, before.st_mtim};
        const int restored = ::futimens(fd, times);
        ::fsync(fd);
        ::close(fd);
        lab.check(restored == 0, "futimens " + path);
        struct stat after {};
        lab.check(::stat(path.c_str(), &after) == 0 && after.st_size == before.st_size &&
                      after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
                  "size/mtime of " + path + " not restored");
        return changed;
    }

    // got-game-files lists exactly the source's files with their sizes.
    void checkFileList(const Json &got, const std::string &sourceRoot) {
        std::map<std::string, uint64_t> listed;
        JsonArray files = got->getArray("files");
        for (std::size_t i = 0; files && i < files->size(); ++i) {
            Json f = files->getObject(static_cast<unsigned>(i));
            listed[str(f, "path")] = u64(f, "size");
        }
        _lab->check(listed == fileSizes(sourceRoot),
                    "got-game-files " + toJson(got) + " does not list the source's files");
    }

    std::unique_ptr<Lab> _lab;
    std::unique_ptr<TmpfsMount> _tmpfs; // mountTmpfs(); at most one per test

  private:
    std::size_t waitEnd(Peer &peer, const std::string &operation, const std::string &game,
                        std::size_t from, std::chrono::milliseconds timeout,
                        const std::set<std::string> &terminalEvents) {
        const std::size_t i = peer.findAnyEvent(terminalEvents, forGame(game), timeout, from);
        _lab->check(i != Peer::npos, peer.label() + ": " + operation + " of " + game +
                                         " did not end within " + std::to_string(timeout.count()) +
                                         " ms");
        return i;
    }
};

} // namespace lanspread::test
