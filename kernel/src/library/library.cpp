#include <lanspread/host.h>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lanspread::kernel::library {

namespace {

constexpr const char *kSource = "library";
constexpr uint64_t kDebounceNs = 250'000'000;           // coalesce bursts of inotify events
constexpr uint64_t kFallbackRescanNs = 300'000'000'000; // 5 min: what inotify may have missed
constexpr std::size_t kHashBlock = 4 << 20;

std::string trim(const std::string &s) {
    const char *ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos)
        return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool readSmallFile(const std::string &path, std::string &out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::stringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

int64_t mtimeNs(const struct stat &st) {
    return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Whether name is valid UTF-8 without control characters: file lists travel as JSON, and a
// name other peers cannot decode would make the whole game unshareable.
bool isPortableName(const std::string &name) {
    for (std::size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        std::size_t extra = c < 0x80           ? 0
                            : (c >> 5) == 0x6  ? 1
                            : (c >> 4) == 0xe  ? 2
                            : (c >> 3) == 0x1e ? 3
                                               : 99;
        if (c < 0x20 || c == 0x7f || extra == 99 || i + extra >= name.size())
            return false;
        for (std::size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(name[i + k]) >> 6) != 0x2)
                return false;
        i += extra + 1;
    }
    return true;
}

// Collects regular files below dir (relative names), skipping reserved names at the top.
Status walk(const std::string &root, const std::string &rel,
            std::vector<std::pair<std::string, struct stat>> &out) {
    const std::string dirPath = rel.empty() ? root : root + "/" + rel;
    DIR *dir = ::opendir(dirPath.c_str());
    if (!dir)
        return Status(LANSPREAD_E_IO, "cannot list " + dirPath + ": " + base::errnoText(errno));
    std::vector<std::string> names;
    while (dirent *e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        if (rel.empty() && isReservedRootName(name))
            continue;
        if (!isPortableName(name)) {
            log::warning("library", "skipping " + dirPath +
                                        "/<non-UTF-8 name>: file names must "
                                        "be UTF-8 to be shared");
            continue;
        }
        names.push_back(std::move(name));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto &name : names) {
        const std::string relPath = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::lstat((root + "/" + relPath).c_str(), &st) != 0)
            continue; // vanished meanwhile
        if (S_ISDIR(st.st_mode)) {
            Status s = walk(root, relPath, out);
            if (!s)
                return s;
        } else if (S_ISREG(st.st_mode)) {
            out.emplace_back(relPath, st);
        } // symlinks, devices: never part of a game's files
    }
    return Status::ok();
}

} // namespace

bool isReservedRootName(const std::string &name) {
    return name == "local" || name.rfind(".local.", 0) == 0 || name.rfind(".lanspread", 0) == 0 ||
           name.rfind(".version.ini", 0) == 0;
}

contract::LocalGameView LocalGame::view() const {
    return contract::LocalGameView{id,        name,         version,  downloaded,
                                   installed, availability, sizeBytes};
}

// ---- index cache ----

void LibraryIndex::load() {
    std::string text;
    if (!readSmallFile(_path, text))
        return; // first run
    try {
        Poco::JSON::Parser parser;
        auto root = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
        auto games = root->getObject("games");
        if (!games)
            throw Poco::DataFormatException("no games object");
        for (const auto &gameId : games->getNames()) {
            auto g = games->getObject(gameId);
            GameEntry entry;
            entry.versionContent = g->getValue<std::string>("version_ini");
            auto files = g->getObject("files");
            for (const auto &path : files->getNames()) {
                auto f = files->getObject(path);
                IndexedFile file;
                file.path = path;
                file.size = f->getValue<uint64_t>("size");
                file.mtimeNs = f->getValue<int64_t>("mtime_ns");
                auto chunks = f->getArray("chunks");
                for (std::size_t i = 0; i < chunks->size(); ++i)
                    file.chunkHashes.push_back(
                        chunks->getElement<std::string>(static_cast<unsigned>(i)));
                entry.files[path] = std::move(file);
            }
            _games[gameId] = std::move(entry);
        }
    } catch (const Poco::Exception &e) {
        log::warning(kSource, "index cache " + _path + " is unreadable (" + e.displayText() +
                                  "); rebuilding it");
        _games.clear();
    }
}

Status LibraryIndex::saveIfDirty() {
    if (!_dirty)
        return Status::ok();
    Poco::JSON::Object root;
    root.set("format", 1);
    Poco::JSON::Object games;
    for (const auto &[gameId, entry] : _games) {
        Poco::JSON::Object g;
        g.set("version_ini", entry.versionContent);
        Poco::JSON::Object files;
        for (const auto &[path, file] : entry.files) {
            Poco::JSON::Object f;
            f.set("size", file.size);
            f.set("mtime_ns", file.mtimeNs);
            Poco::JSON::Array chunks;
            for (const auto &h : file.chunkHashes)
                chunks.add(h);
            f.set("chunks", chunks);
            files.set(path, f);
        }
        g.set("files", files);
        games.set(gameId, g);
    }
    root.set("games", games);
    std::ostringstream text;
    root.stringify(text);
    if (Status written = base::writeFileAtomically(_path, text.str()); !written)
        return written;
    _dirty = false;
    return Status::ok();
}

const std::vector<std::string> *LibraryIndex::lookup(const std::string &gameId,
                                                     const std::string &versionContent,
                                                     const std::string &path, uint64_t size,
                                                     int64_t mtime) const {
    auto g = _games.find(gameId);
    if (g == _games.end() || g->second.versionContent != versionContent)
        return nullptr;
    auto f = g->second.files.find(path);
    if (f == g->second.files.end() || f->second.size != size || f->second.mtimeNs != mtime)
        return nullptr;
    return &f->second.chunkHashes;
}

void LibraryIndex::store(const std::string &gameId, const std::string &versionContent,
                         const std::vector<IndexedFile> &files) {
    GameEntry entry;
    entry.versionContent = versionContent;
    for (const auto &f : files)
        entry.files[f.path] = f;
    auto it = _games.find(gameId);
    if (it != _games.end() && it->second.versionContent == entry.versionContent &&
        it->second.files.size() == entry.files.size() &&
        std::equal(it->second.files.begin(), it->second.files.end(), entry.files.begin(),
                   [](const auto &a, const auto &b) {
                       return a.first == b.first && a.second.size == b.second.size &&
                              a.second.mtimeNs == b.second.mtimeNs &&
                              a.second.chunkHashes == b.second.chunkHashes;
                   }))
        return;
    _games[gameId] = std::move(entry);
    _dirty = true;
}

void LibraryIndex::forget(const std::string &gameId) {
    if (_games.erase(gameId))
        _dirty = true;
}

// ---- scanning ----

Result<std::vector<std::string>> hashFileChunks(const std::string &path, uint64_t expectedSize,
                                                const std::function<bool()> &cancelled) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot open " + path + ": " + base::errnoText(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::vector<std::string> hashes;
    std::vector<uint8_t> buffer(kHashBlock);
    uint64_t done = 0;
    base::Sha256 chunk;
    uint64_t inChunk = 0;
    for (;;) {
        if (cancelled && cancelled()) {
            ::close(fd);
            return Status(LANSPREAD_E_CANCELLED, "hashing " + path + " cancelled");
        }
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ::close(fd);
            return Status(LANSPREAD_E_IO, "cannot read " + path + ": " + base::errnoText(errno));
        }
        if (n == 0)
            break;
        std::size_t offset = 0;
        while (offset < static_cast<std::size_t>(n)) {
            std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(
                catalog::kChunkSize - inChunk, static_cast<uint64_t>(n) - offset));
            chunk.update(buffer.data() + offset, take);
            inChunk += take;
            offset += take;
            if (inChunk == catalog::kChunkSize) {
                hashes.push_back(chunk.hexDigest());
                inChunk = 0;
            }
        }
        done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    if (inChunk > 0 || hashes.empty())
        hashes.push_back(chunk.hexDigest()); // last partial chunk, or the empty file's hash
    if (done != expectedSize)
        return Status(LANSPREAD_E_AGAIN, path + " changed while hashing");
    return hashes;
}

Result<LocalGame> scanGameRoot(const std::string &gamesDir, const catalog::CatalogGame &game,
                               LibraryIndex &index, const std::function<bool()> &cancelled) {
    LocalGame g;
    g.id = game.id;
    g.name = game.name;
    const std::string root = gamesDir + "/" + game.id;
    struct stat st {};
    if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status(LANSPREAD_E_NOT_FOUND, root + " is not a game root");

    std::string versionContent;
    struct stat vst {};
    g.downloaded = ::lstat((root + "/version.ini").c_str(), &vst) == 0 && S_ISREG(vst.st_mode) &&
                   readSmallFile(root + "/version.ini", versionContent);
    g.version = g.downloaded ? trim(versionContent) : "";
    struct stat lst {};
    g.installed = ::lstat((root + "/local").c_str(), &lst) == 0 && S_ISDIR(lst.st_mode);
    if (g.downloaded)
        g.availability = g.version == game.version ? "Ready" : "Stale";
    else
        g.availability = g.installed ? "LocalOnly" : "None";

    if (!g.downloaded) {
        index.forget(game.id);
        return g;
    }
    std::vector<std::pair<std::string, struct stat>> found;
    Status listed = walk(root, "", found);
    if (!listed)
        return listed;
    for (const auto &[rel, fst] : found) {
        IndexedFile f;
        f.path = rel;
        f.size = static_cast<uint64_t>(fst.st_size);
        f.mtimeNs = mtimeNs(fst);
        if (auto cached = index.lookup(game.id, versionContent, rel, f.size, f.mtimeNs)) {
            f.chunkHashes = *cached;
        } else {
            auto hashed = hashFileChunks(root + "/" + rel, f.size, cancelled);
            if (!hashed)
                return hashed.status();
            f.chunkHashes = std::move(hashed.value());
        }
        g.sizeBytes += f.size;
        g.files.push_back(std::move(f));
    }
    index.store(game.id, versionContent, g.files);
    return g;
}

// ---- the runtime library ----

Library::Library(host::Reactor &reactor, host::WorkerPool &workers, const catalog::Catalog &catalog,
                 std::string gamesDir, std::string stateDir)
    : _reactor(reactor), _workers(workers), _catalog(catalog), _gamesDir(std::move(gamesDir)),
      _stateDir(std::move(stateDir)),
      _index(std::make_shared<LibraryIndex>(_stateDir + "/library-index.json")),
      _alive(std::make_shared<bool>(true)) {}

Library::~Library() {
    *_alive = false;
    std::lock_guard<std::mutex> wait(_scanMutex); // a running scan finishes first
}

void Library::start(std::function<void()> onReady) {
    _onReady = std::move(onReady);
    {
        std::lock_guard<std::mutex> lock(_scanMutex);
        _index->load();
    }
    setupWatches();
    _pendingFull = true;
    runScan();
}

void Library::stop() {
    teardownWatches();
    if (_debounceTimer)
        _reactor.stopTimer(_debounceTimer);
    if (_fallbackTimer)
        _reactor.stopTimer(_fallbackTimer);
    _debounceTimer = _fallbackTimer = 0;
    *_alive = false;
    std::lock_guard<std::mutex> wait(_scanMutex);
}

const LocalGame *Library::find(const std::string &id) const {
    auto it = _games.find(id);
    return it == _games.end() ? nullptr : &it->second;
}

void Library::requestRescan(const std::string &gameId) {
    _pendingGames.insert(gameId);
    scheduleScan();
}

void Library::requestFullRescan() {
    _pendingFull = true;
    scheduleScan();
}

void Library::setBusy(const std::string &gameId, bool busy) {
    if (busy)
        _busy.insert(gameId);
    else
        _busy.erase(gameId);
}

void Library::rescanNow(const std::string &gameId, std::function<void()> then) {
    _pendingGames.insert(gameId);
    _afterScan.emplace_back(gameId, std::move(then));
    runScan(); // not debounced: the operation's outcome should show at once
}

Status Library::setGamesDir(const std::string &dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status(LANSPREAD_E_NOT_FOUND, dir + " is not a directory");
    if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0)
        return Status(LANSPREAD_E_IO, dir + " is not readable and writable");
    teardownWatches();
    _gamesDir = dir;
    std::vector<std::string> removed;
    for (const auto &[id, game] : _games)
        removed.push_back(id);
    _games.clear();
    ++_revision;
    if (_listener && !removed.empty())
        _listener(removed);
    setupWatches();
    requestFullRescan();
    return Status::ok();
}

void Library::scheduleScan() {
    if (_debounceTimer)
        return;
    _reactor.startTimer(
        kDebounceNs,
        [this, alive = _alive] {
            if (!*alive)
                return;
            _debounceTimer = 0;
            runScan();
        },
        _debounceTimer);
}

void Library::runScan() {
    if (_scanRunning || (!_pendingFull && _pendingGames.empty()))
        return;
    const bool full = _pendingFull;
    std::set<std::string> targets;
    if (full) {
        for (const auto &game : _catalog.games())
            targets.insert(game.id);
    } else {
        targets = _pendingGames;
    }
    _pendingFull = false;
    _pendingGames.clear();
    _scanRunning = true;

    std::vector<catalog::CatalogGame> games;
    for (const auto &id : targets)
        if (const catalog::CatalogGame *g = _catalog.find(id))
            games.push_back(*g);
    auto alive = _alive;
    auto index = _index;
    const std::string gamesDir = _gamesDir;
    bool queued = _workers.submit([this, alive, index, gamesDir, games, targets, full] {
        std::map<std::string, LocalGame> results;
        {
            std::lock_guard<std::mutex> lock(_scanMutex);
            if (!*alive)
                return;
            auto cancelled = [alive] { return !*alive; };
            for (const auto &game : games) {
                for (int attempt = 0; attempt < 3; ++attempt) {
                    auto scanned = scanGameRoot(gamesDir, game, *index, cancelled);
                    if (scanned) {
                        results[game.id] = std::move(scanned.value());
                        break;
                    }
                    if (scanned.status().code() != LANSPREAD_E_AGAIN) {
                        if (scanned.status().code() != LANSPREAD_E_NOT_FOUND)
                            log::warning(kSource, scanned.status().message());
                        break;
                    }
                }
            }
            Status saved = index->saveIfDirty();
            if (!saved)
                log::warning(kSource, saved.message());
        }
        _reactor.post([this, alive, results = std::move(results), targets, full]() mutable {
            if (*alive)
                applyResults(std::move(results), targets, full);
        });
    });
    if (!queued) {
        // The pool is shutting down: no scan will come, but whoever waits for one (an
        // operation about to report its end) must still run, so its command is answered.
        _scanRunning = false;
        auto waiting = std::move(_afterScan);
        _afterScan.clear();
        for (auto &entry : waiting)
            entry.second();
    }
}

void Library::applyResults(std::map<std::string, LocalGame> results, std::set<std::string> scanned,
                           bool full) {
    _scanRunning = false;
    std::vector<std::string> changed;
    for (const auto &id : scanned) {
        if (_busy.count(id))
            continue; // keep the snapshot until the operation ends
        auto found = results.find(id);
        auto current = _games.find(id);
        if (found == results.end()) {
            if (current != _games.end()) {
                _games.erase(current);
                changed.push_back(id);
            }
            continue;
        }
        if (current == _games.end() || !(current->second == found->second)) {
            _games[id] = std::move(found->second);
            changed.push_back(id);
        }
    }
    for (const auto &id : scanned)
        if (_games.count(id) && watchRoot(id))
            requestRescan(id); // a root created since the last scan: changes made between
                               // that scan and its new watch are caught by one more scan
    if (!changed.empty()) {
        ++_revision;
        if (_listener)
            _listener(changed);
    }
    if (full && !_ready) {
        _ready = true;
        if (_onReady)
            _onReady();
    }
    if (full) {
        if (_fallbackTimer)
            _reactor.stopTimer(_fallbackTimer);
        _reactor.startTimer(
            kFallbackRescanNs,
            [this, alive = _alive] {
                if (!*alive)
                    return;
                _fallbackTimer = 0;
                requestFullRescan();
            },
            _fallbackTimer);
    }
    // Callers waiting for these games' results; a request made during this scan stays
    // pending for the next one (its game is in _pendingGames).
    std::vector<std::function<void()>> ready;
    for (auto it = _afterScan.begin(); it != _afterScan.end();) {
        if (scanned.count(it->first) && !_pendingGames.count(it->first)) {
            ready.push_back(std::move(it->second));
            it = _afterScan.erase(it);
        } else {
            ++it;
        }
    }
    for (auto &then : ready)
        then();
    runScan(); // requests that arrived while scanning
}

// ---- inotify ----

void Library::setupWatches() {
    _inotifyFd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (_inotifyFd < 0) {
        log::warning(kSource, std::string("inotify unavailable (") + base::errnoText(errno) +
                                  "); relying on the periodic rescan");
        return;
    }
    _dirWatch =
        ::inotify_add_watch(_inotifyFd, _gamesDir.c_str(),
                            IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
    if (_dirWatch < 0)
        log::warning(kSource, "cannot watch " + _gamesDir + ": " + base::errnoText(errno));
    _reactor.watchFd(
        _inotifyFd, LANSPREAD_FD_READ, [this](int, uint32_t) { onInotify(); }, _inotifyWatch);
    for (const auto &game : _catalog.games())
        watchRoot(game.id);
}

bool Library::watchRoot(const std::string &gameId) {
    if (_inotifyFd < 0)
        return false;
    for (const auto &[wd, id] : _rootWatches)
        if (id == gameId)
            return false;
    const std::string root = _gamesDir + "/" + gameId;
    int wd = ::inotify_add_watch(_inotifyFd, root.c_str(),
                                 IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR);
    if (wd < 0)
        return false;
    _rootWatches[wd] = gameId;
    return true;
}

void Library::teardownWatches() {
    if (_inotifyFd < 0)
        return;
    _reactor.unwatchFd(_inotifyWatch);
    ::close(_inotifyFd);
    _inotifyFd = -1;
    _rootWatches.clear();
    _dirWatch = -1;
}

void Library::onInotify() {
    alignas(inotify_event) char buffer[16384];
    for (;;) {
        ssize_t n = ::read(_inotifyFd, buffer, sizeof buffer);
        if (n <= 0)
            break;
        for (char *p = buffer; p < buffer + n;) {
            auto *event = reinterpret_cast<inotify_event *>(p);
            p += sizeof(inotify_event) + event->len;
            if (event->mask & IN_Q_OVERFLOW) {
                requestFullRescan();
                continue;
            }
            if (event->wd == _dirWatch && event->len > 0) {
                std::string name = event->name;
                if (_catalog.find(name))
                    requestRescan(name);
                continue;
            }
            auto it = _rootWatches.find(event->wd);
            if (it == _rootWatches.end())
                continue;
            const std::string gameId = it->second;
            if (event->mask & (IN_IGNORED | IN_DELETE_SELF))
                _rootWatches.erase(it);
            requestRescan(gameId);
        }
    }
}

} // namespace lanspread::kernel::library
