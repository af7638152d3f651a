// The runtime library: scans on the worker pool, the revision peers see, inotify watches
// with a debounce, and the fallback rescan for what inotify may have missed.
#include <lanspread/host.h>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lanspread::kernel::library {

namespace {

constexpr const char *kSource = "library";
constexpr uint64_t kDebounceNs = 250'000'000;           // coalesce bursts of inotify events
constexpr uint64_t kFallbackRescanNs = 300'000'000'000; // 5 min: what inotify may have missed

} // namespace

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
        // Games the catalog no longer has (a reloaded catalog): scanned as targets, they find
        // no catalog entry and so are dropped in applyResults.
        for (const auto &[id, game] : _games)
            targets.insert(id);
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
