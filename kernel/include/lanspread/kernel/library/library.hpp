// The local library (docs/on-disk-layout.md): which catalog games are on disk.
//   downloaded  <games>/<id>/version.ini exists (root level only); its content is the version
//   installed   <games>/<id>/local/ is a directory
//   availability
//     Ready     downloaded and the version equals the catalog's: a download source
//     Stale     downloaded with another version (listed, never a source)
//     LocalOnly installed without its root files (a streamed install)
//     None      a root with neither (e.g. an unfinished download)
// Roots whose name is not a catalog id are ignored. For downloaded games every root file
// (recursively, except local/ and lanspread's reserved names) is indexed with a SHA-256 per
// chunk; the index is cached in <state>/library-index.json keyed by size, mtime and the
// version.ini content, so a rescan hashes only what changed. Scans run on the worker pool;
// inotify watches on the games dir and each root (non-recursive) trigger a debounced rescan
// of that game, and a slow full rescan catches anything inotify missed.
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/contract/views.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::library {

struct IndexedFile {
    std::string path; // relative to the game root, '/'-separated
    uint64_t size = 0;
    int64_t mtimeNs = 0;
    std::vector<std::string> chunkHashes; // lowercase hex SHA-256 per kChunkSize chunk

    bool operator==(const IndexedFile &) const = default;
};

struct LocalGame {
    std::string id;
    std::string name; // from the catalog
    bool downloaded = false;
    bool installed = false;
    std::string version; // version.ini content, trimmed ("" when not downloaded)
    std::string availability;
    std::vector<IndexedFile> files; // sorted by path; empty unless downloaded
    uint64_t sizeBytes = 0;         // sum of files

    bool operator==(const LocalGame &) const = default;
    // The game as list-games "local" and local-library-changed show it.
    contract::LocalGameView view() const;
};

// Names at a game root's top level that are lanspread's own, never game files.
bool isReservedRootName(const std::string &name);

// The cached per-chunk hashes. Thread: one scan at a time (the Library serialises them).
class LibraryIndex {
  public:
    explicit LibraryIndex(std::string path) : _path(std::move(path)) {}
    // Missing or unreadable cache: start empty (logged), never fail the peer.
    void load();
    Status saveIfDirty();
    // The cached hashes when size, mtime and version content all match.
    const std::vector<std::string> *lookup(const std::string &gameId,
                                           const std::string &versionContent,
                                           const std::string &path, uint64_t size,
                                           int64_t mtimeNs) const;
    // Replaces the game's entry with exactly these files.
    void store(const std::string &gameId, const std::string &versionContent,
               const std::vector<IndexedFile> &files);
    void forget(const std::string &gameId);

  private:
    struct GameEntry {
        std::string versionContent;
        std::map<std::string, IndexedFile> files;
    };
    std::string _path;
    std::map<std::string, GameEntry> _games;
    bool _dirty = false;
};

// Scans one root (blocking; worker thread). cancelled may stop hashing early (E_CANCELLED).
Result<LocalGame> scanGameRoot(const std::string &gamesDir, const catalog::CatalogGame &game,
                               LibraryIndex &index, const std::function<bool()> &cancelled);

// Hashes one file chunk by chunk (blocking). Exposed for the transfer engine and tests.
Result<std::vector<std::string>> hashFileChunks(const std::string &path, uint64_t expectedSize,
                                                const std::function<bool()> &cancelled);

class Library {
  public:
    // changedIds: games whose LocalGame changed (added, removed or different).
    using Listener = std::function<void(const std::vector<std::string> &changedIds)>;

    Library(host::Reactor &reactor, host::WorkerPool &workers, const catalog::Catalog &catalog,
            std::string gamesDir, std::string stateDir);
    ~Library();
    Library(const Library &) = delete;
    Library &operator=(const Library &) = delete;

    // Loads the index, starts watching and runs the first full scan; onReady runs on the
    // reactor when it has finished. Thread: reactor.
    void start(std::function<void()> onReady);
    // Stops watching and waits for a running scan. Thread: reactor (owner), before shutdown.
    void stop();

    void setListener(Listener listener) { _listener = std::move(listener); }

    // Rescans one game / all games soon (debounced). Thread: reactor.
    void requestRescan(const std::string &gameId);
    void requestFullRescan();
    // A busy game (an operation runs on it) keeps its last snapshot.
    void setBusy(const std::string &gameId, bool busy);
    // Rescans gameId now and runs then() on the reactor once the result is applied: an
    // operation reports its end only when the library already shows its outcome.
    void rescanNow(const std::string &gameId, std::function<void()> then);
    // Switches to another games dir (must exist): drops every game and scans the new dir.
    Status setGamesDir(const std::string &dir);

    const std::string &gamesDir() const { return _gamesDir; }
    const std::map<std::string, LocalGame> &games() const { return _games; }
    const LocalGame *find(const std::string &id) const;
    uint64_t revision() const { return _revision; }
    bool ready() const { return _ready; }

  private:
    void scheduleScan();
    void runScan();
    void applyResults(std::map<std::string, LocalGame> results, std::set<std::string> scanned,
                      bool full);
    void setupWatches();
    void teardownWatches();
    void onInotify();
    // Adds an inotify watch on the game's root; true when a new one was added.
    bool watchRoot(const std::string &gameId);

    host::Reactor &_reactor;
    host::WorkerPool &_workers;
    const catalog::Catalog &_catalog;
    std::string _gamesDir;
    std::string _stateDir;
    std::shared_ptr<LibraryIndex> _index; // used by one worker scan at a time
    std::map<std::string, LocalGame> _games;
    uint64_t _revision = 0;
    bool _ready = false;
    Listener _listener;
    std::function<void()> _onReady;

    std::set<std::string> _busy;
    std::vector<std::pair<std::string, std::function<void()>>> _afterScan;
    std::set<std::string> _pendingGames; // to rescan
    bool _pendingFull = false;
    bool _scanRunning = false;
    uint64_t _debounceTimer = 0;
    uint64_t _fallbackTimer = 0;

    int _inotifyFd = -1;
    uint64_t _inotifyWatch = 0;
    int _dirWatch = -1;                      // inotify wd of the games dir
    std::map<int, std::string> _rootWatches; // wd -> game id
    std::shared_ptr<bool> _alive;            // false once destroyed; guards posted results
    std::mutex _scanMutex;                   // held by the worker while scanning
};

} // namespace lanspread::kernel::library
