// The peer runtime's network half: the commands that involve other peers (connect,
// list-peers, wait-peers, download, stream-install, cancel-download), the download lifecycle around
// the transfer engine, and the answers this peer gives to other peers' requests (the serve gates).
#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/runtime/runtime.hpp>
#include <lanspread/kernel/transfer/download.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>
#include <lanspread/kernel/transfer/serve_spreader.hpp>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>

namespace lanspread::kernel::runtime {

namespace {
constexpr const char *kSource = "peer";
constexpr uint64_t kWaitPollNs = 50'000'000ull;
constexpr uint64_t kAnnounceIntervalNs = 200'000'000ull;
// Free space a download must leave: the install extracts next to the archives, and a full
// filesystem fails late and everywhere at once.
constexpr uint64_t kSpaceMarginBytes = 64ull << 20;
using contract::ErrorCode;

// "ip:port", "[v6]:port": the shape connect accepts (the transport resolves nothing).
bool looksLikeAddress(const std::string &addr) {
    auto colon = addr.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= addr.size())
        return false;
    for (std::size_t i = colon + 1; i < addr.size(); ++i)
        if (addr[i] < '0' || addr[i] > '9')
            return false;
    return std::stoul(addr.substr(colon + 1)) <= 65535;
}
// The event that reports a download (or stream-install) that ended without the game:
// download-cancelled, or download-failed (logged); nullopt for one that finished.
std::optional<contract::Event> unsuccessfulEnd(const std::string &gameId, const char *what,
                                               const transfer::DownloadOutcome &outcome) {
    using Kind = transfer::DownloadOutcome::Kind;
    switch (outcome.kind) {
    case Kind::Finished: return std::nullopt;
    case Kind::Cancelled: return contract::downloadCancelled(gameId);
    case Kind::Failed:
    case Kind::PeersGone: break;
    }
    // info: download-failed is the report; at a terminal (warnings and errors shown) the
    // failure would otherwise be read twice.
    log::info(kSource, std::string(what) + " of " + gameId + " failed: " + outcome.error);
    return contract::downloadFailed(gameId, outcome.error);
}
} // namespace

void PeerRuntime::registerPeerCommands() {
    using Reply = host::ControlService::Reply;
    using Object = Poco::JSON::Object;

    _control.addCommand("connect", {"addr"}, [this](const Object &command, Reply reply) {
        const std::string addr =
            command.get("addr").isString() ? command.getValue<std::string>("addr") : "";
        if (!looksLikeAddress(addr)) {
            reply.fail(ErrorCode::InvalidCommand, "addr must be \"ip:port\", got '" + addr + "'");
            return;
        }
        if (!_network || !_network->running()) {
            reply.fail(ErrorCode::ConnectFailed, "no transport is running on this peer");
            return;
        }
        if (_network->isOwnAddress(addr)) {
            reply.fail(ErrorCode::SelfConnect, addr + " is this peer's own listener");
            return;
        }
        _network->connect(addr, "connect",
                          [reply = std::make_shared<Reply>(std::move(reply))](
                              contract::Outcome<std::string> peerId) {
                              if (!peerId) {
                                  reply->fail(peerId.failure());
                                  return;
                              }
                              reply->ok(contract::connectResult(peerId.value()));
                          });
    });

    _control.addCommand("list-peers", {}, [this](const Object &, Reply reply) {
        reply.ok(contract::listPeersResult(_network ? _network->peers().peerViews()
                                                    : std::vector<contract::PeerView>{}));
    });

    _control.addCommand("wait-peers", {"count"}, [this](const Object &command, Reply reply) {
        const auto count = command.get("count");
        const auto timeout =
            command.has("timeout_ms") ? command.get("timeout_ms") : Poco::Dynamic::Var(10000);
        if (!count.isInteger() || !timeout.isInteger() || count.convert<int64_t>() < 0 ||
            timeout.convert<int64_t>() < 0) {
            reply.fail(ErrorCode::InvalidCommand,
                       "count and timeout_ms must be non-negative integers");
            return;
        }
        struct Wait {
            std::size_t count;
            uint64_t deadline;
            Reply reply;
            uint64_t timer = 0;
        };
        auto wait = std::make_shared<Wait>(
            Wait{count.convert<std::size_t>(),
                 _reactor.now() + timeout.convert<uint64_t>() * 1'000'000ull, std::move(reply)});
        auto check = std::make_shared<std::function<void()>>();
        *check = [this, wait, weak = std::weak_ptr<std::function<void()>>(check)] {
            const std::size_t have = _network ? _network->peers().size() : 0;
            if (have >= wait->count) {
                wait->reply.ok(contract::waitPeersResult(have));
                return;
            }
            if (_reactor.now() >= wait->deadline) {
                wait->reply.fail(ErrorCode::Timeout, "only " + std::to_string(have) + " of " +
                                                         std::to_string(wait->count) +
                                                         " peers connected in time");
                return;
            }
            auto again = weak.lock();
            if (!again)
                return;
            _reactor.startTimer(
                kWaitPollNs, [again] { (*again)(); }, wait->timer);
        };
        (*check)();
    });

    _control.addCommand("download", {"game"}, [this](const Object &command, Reply reply) {
        const catalog::CatalogGame *game = catalogGame(command, reply);
        if (!game)
            return;
        bool install = true;
        if (command.has("install")) {
            const auto flag = command.get("install");
            if (!flag.isBoolean()) {
                reply.fail(ErrorCode::InvalidCommand, "install must be true or false");
                return;
            }
            install = flag.convert<bool>();
        }
        whenLibraryReady(
            [this, game = *game, install, reply = std::make_shared<Reply>(std::move(reply))] {
                startDownload(game, install, *reply);
            });
    });

    _control.addCommand("stream-install", {"game"}, [this](const Object &command, Reply reply) {
        const catalog::CatalogGame *game = catalogGame(command, reply);
        if (!game)
            return;
        whenLibraryReady([this, game = *game, reply = std::make_shared<Reply>(std::move(reply))] {
            startStreamInstall(game, *reply);
        });
    });

    _control.addCommand("cancel-download", {"game"}, [this](const Object &command, Reply reply) {
        const catalog::CatalogGame *game = catalogGame(command, reply);
        if (!game)
            return;
        auto it = _downloads.find(game->id);
        if (it == _downloads.end()) {
            reply.fail(ErrorCode::NotDownloading, game->id + " is not being downloaded");
            return;
        }
        it->second->cancel();
        reply.ok(contract::acceptedResult());
    });
}

void PeerRuntime::startDownload(const catalog::CatalogGame &game, bool install,
                                host::ControlService::Reply &reply) {
    if (auto op = _operations.current(game.id)) {
        reply.fail(ErrorCode::OperationInProgress,
                   game.id + " is busy: " + operationName(*op) + " is running");
        return;
    }
    std::vector<std::string> sources = sourcesFor(game);
    if (sources.empty()) {
        publish(contract::noPeersHaveGame(game.id));
        reply.fail(ErrorCode::NoPeersHaveGame, "no connected peer has " + game.id + " at version " +
                                                   game.version + " ready to share");
        return;
    }
    if (auto full = lacksSpaceFor(game)) {
        reply.fail(*full);
        return;
    }
    _operations.begin(game.id, Operation::Downloading);
    _library->setBusy(game.id, true);
    const std::string id = game.id;
    auto download = std::make_shared<transfer::Download>(
        _reactor, _workers, _events, *_network, _library->gamesDir(), game, sources,
        [this, id, install](const transfer::DownloadOutcome &outcome) {
            if (_stopped)
                return;
            finishDownload(id, install, outcome);
        });
    _downloads[id] = download;
    log::info(kSource, "downloading " + id + " from " + std::to_string(sources.size()) +
                           " peer(s)" + (install ? ", then installing" : ""));
    reply.ok(contract::downloadAcceptedResult(sources.size()));
    download->start();
    if (_announceTimer == 0)
        announcePartials();
}

std::vector<std::string> PeerRuntime::sourcesFor(const catalog::CatalogGame &game) const {
    // Complete sources, and peers downloading it too (the vote keeps those with its list).
    std::vector<std::string> sources =
        _network ? _network->peers().readySources(game) : std::vector<std::string>{};
    if (_network && _settings.serveWhileDownloading)
        for (const auto &p : _network->peers().partialSources(game))
            sources.push_back(p);
    return sources;
}

std::optional<contract::Failure>
PeerRuntime::lacksSpaceFor(const catalog::CatalogGame &game) const {
    uint64_t size = 0; // what most Ready sources advertise
    for (const auto &row : _network->peers().remoteGames(_catalog))
        if (row.id == game.id)
            size = row.sizeBytes;
    if (size == 0)
        return std::nullopt;
    // What a resumed download already has on disk counts as there (files are sparse until
    // their chunks arrive).
    uint64_t onDisk = 0;
    std::error_code ec;
    const std::string root = _library->gamesDir() + "/" + game.id;
    if (std::filesystem::is_directory(root, ec))
        for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            struct stat st {};
            if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
                onDisk += uint64_t(st.st_blocks) * 512;
        }
    struct statvfs fs {};
    if (::statvfs(_library->gamesDir().c_str(), &fs) != 0)
        return std::nullopt; // the download reports the disk's own error if it fails
    const uint64_t freeBytes = uint64_t(fs.f_bavail) * fs.f_frsize;
    const uint64_t needed = (size > onDisk ? size - onDisk : 0) + kSpaceMarginBytes;
    if (freeBytes >= needed)
        return std::nullopt;
    const auto mib = [](uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
    return contract::Failure{
        ErrorCode::InsufficientSpace,
        "not enough free space to download " + game.id + ": its archives need " +
            mib(size > onDisk ? size - onDisk : 0) + " more plus a " + mib(kSpaceMarginBytes) +
            " margin, and " + _library->gamesDir() + " has " + mib(freeBytes) +
            " free; stream-install " + game.id +
            " installs it without storing the archives (it then needs only the installed size)"};
}

void PeerRuntime::startStreamInstall(const catalog::CatalogGame &game,
                                     host::ControlService::Reply &reply) {
    if (auto op = _operations.current(game.id)) {
        reply.fail(ErrorCode::OperationInProgress,
                   game.id + " is busy: " + operationName(*op) + " is running");
        return;
    }
    if (const library::LocalGame *local = _library->find(game.id)) {
        if (local->installed) {
            reply.fail(ErrorCode::AlreadyInstalled,
                       "already-installed: " + game.id +
                           " is installed; it is left as it is (uninstall it first to "
                           "stream-install it again)");
            return;
        }
        if (local->downloaded) {
            reply.fail(ErrorCode::AlreadyDownloaded,
                       game.id + " is downloaded: install it from its archives with install");
            return;
        }
    }
    std::vector<std::string> sources = sourcesFor(game);
    if (sources.empty()) {
        publish(contract::noPeersHaveGame(game.id));
        reply.fail(ErrorCode::NoPeersHaveGame, "no connected peer has " + game.id + " at version " +
                                                   game.version + " ready to share");
        return;
    }
    _operations.begin(game.id, Operation::StreamInstalling);
    _library->setBusy(game.id, true);
    const std::string id = game.id;
    const lanspread_cancel_handle token = _cancels.create();
    transfer::StreamInstallTarget target;
    target.engine = _install.get();
    target.cancel = token;
    target.cancelled = [this, token] { return _cancels.isCancelled(token); };
    auto download = std::make_shared<transfer::Download>(
        _reactor, _workers, _events, *_network, _library->gamesDir(), game, sources,
        [this, id, token](const transfer::DownloadOutcome &outcome) {
            if (_stopped)
                return;
            finishStreamInstall(id, token, outcome);
        },
        target);
    _downloads[id] = download;
    log::info(kSource,
              "stream-installing " + id + " from " + std::to_string(sources.size()) + " peer(s)");
    reply.ok(contract::downloadAcceptedResult(sources.size()));
    download->start();
}

void PeerRuntime::finishStreamInstall(const std::string &gameId, lanspread_cancel_handle token,
                                      const transfer::DownloadOutcome &outcome) {
    _downloads.erase(gameId);
    _cancels.release(token);
    _library->setBusy(gameId, false);
    using Kind = transfer::DownloadOutcome::Kind;
    std::optional<contract::Event> ended = unsuccessfulEnd(gameId, "stream-install", outcome);
    if (outcome.kind == Kind::Finished) {
        const install::ExtractionStats stats =
            outcome.installed ? outcome.installed->stats : install::ExtractionStats{};
        ended = contract::installFinished(gameId, stats.files, stats.bytes, false);
    }
    // The operation ends once the library shows the outcome (LocalOnly, or no game at all).
    _library->rescanNow(gameId, [this, gameId, ended] {
        _operations.end(gameId);
        if (ended)
            publish(*ended);
    });
}

const transfer::Download *PeerRuntime::servingDownload(const std::string &gameId) const {
    if (!_settings.serveWhileDownloading)
        return nullptr;
    for (const auto *table : {&_downloads, &_finishing}) {
        auto it = table->find(gameId);
        if (it != table->end() && it->second->servable())
            return it->second.get();
    }
    return nullptr;
}

void PeerRuntime::announcePartials() {
    _announceTimer = 0;
    if (_stopped || !_network)
        return;
    protocol::LibraryDelta delta;
    delta.revision = _library ? _library->revision() : 0;
    std::map<std::string, transfer::Download *> servable;
    for (const auto *table : {&_downloads, &_finishing})
        for (const auto &[id, download] : *table)
            if (servingDownload(id) == download.get())
                servable[id] = download.get();
    for (const auto &[id, download] : servable)
        if (_advertisedPartials.insert(id).second) {
            delta.partialUpserts.push_back(download->partialGame());
            download->takeNewlyVerified(); // they are in its bitfield
        }
    for (auto it = _advertisedPartials.begin(); it != _advertisedPartials.end();)
        if (!servable.count(*it)) {
            delta.partialRemoved.push_back(*it);
            it = _advertisedPartials.erase(it);
        } else {
            ++it;
        }
    if (!delta.partialUpserts.empty() || !delta.partialRemoved.empty())
        _network->broadcastDelta(delta);
    for (const auto &[id, download] : servable) {
        protocol::Have have{id, download->filesDigest(), download->takeNewlyVerified()};
        if (!have.chunks.empty())
            _network->broadcastHave(have);
    }
    // Tick while something is advertised or may become so.
    if (!_downloads.empty() || !_finishing.empty() || !_advertisedPartials.empty())
        _reactor.startTimer(
            kAnnounceIntervalNs, [this] { announcePartials(); }, _announceTimer);
}

void PeerRuntime::finishDownload(const std::string &gameId, bool install,
                                 const transfer::DownloadOutcome &outcome) {
    // Its verified chunks stay servable until the library shows the outcome (after the
    // install, when one follows: install only reads the archives).
    auto it = _downloads.find(gameId);
    if (it != _downloads.end()) {
        _finishing[gameId] = it->second;
        _downloads.erase(it);
    }
    using Kind = transfer::DownloadOutcome::Kind;
    _library->setBusy(gameId, false);
    if (outcome.kind == Kind::Finished && install) {
        runInstall(gameId, _library->find(gameId) && _library->find(gameId)->installed);
        return;
    }
    std::optional<contract::Event> ended = unsuccessfulEnd(gameId, "download", outcome);
    // The operation ends once the library shows the outcome (a finished root is Ready, a
    // failed one is not downloaded).
    _library->rescanNow(gameId, [this, gameId, ended] {
        _finishing.erase(gameId);
        _operations.end(gameId);
        if (ended)
            publish(*ended);
    });
}

// --- NetworkDelegate ---

void PeerRuntime::librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games,
                                  std::vector<protocol::PartialGame> &partials) {
    revision = _library ? _library->revision() : 0;
    games.clear();
    partials.clear();
    if (_library)
        for (const auto &[id, game] : _library->games())
            games.push_back(summaryOf(game));
    // What the peers were told: the announce tick sends the rest.
    for (const auto &id : _advertisedPartials)
        if (const transfer::Download *download = servingDownload(id))
            partials.push_back(download->partialGame());
}

// Serving is refused while an operation rewrites the game's files; an install only reads
// the archives, so the game stays servable meanwhile.
static bool rewritesFiles(const std::optional<Operation> &op) {
    return op.has_value() && *op != Operation::Installing;
}

std::variant<protocol::GameFiles, peers::ServeRefusal>
PeerRuntime::serveGetGame(const std::string &game) {
    const library::LocalGame *local = _library ? _library->find(game) : nullptr;
    const transfer::Download *downloading = servingDownload(game);
    const transfer::DownloadingGame view =
        downloading ? downloading->servingView() : transfer::DownloadingGame{};
    return transfer::gateGetGame(_catalog, local, rewritesFiles(_operations.current(game)), game,
                                 downloading ? &view : nullptr);
}

std::variant<peers::ServeRange, peers::ServeRefusal>
PeerRuntime::serveGetChunk(const std::string &peerId, const protocol::GetChunk &request,
                           std::string &gameRoot) {
    const library::LocalGame *local = _library ? _library->find(request.game) : nullptr;
    gameRoot = _library ? _library->gamesDir() + "/" + request.game : std::string();
    const transfer::Download *downloading = servingDownload(request.game);
    const transfer::DownloadingGame view =
        downloading ? downloading->servingView() : transfer::DownloadingGame{};
    if (!_spreader)
        _spreader = std::make_unique<transfer::ServeSpreader>();
    transfer::Spreading spreading{*_spreader, peerId, _reactor.now(),
                                  [this, game = request.game](const std::string &peer) {
                                      return _network->peers().partial(peer, game) != nullptr;
                                  }};
    return transfer::gateGetChunk(_catalog, local, rewritesFiles(_operations.current(request.game)),
                                  request, downloading ? &view : nullptr, &spreading);
}

void PeerRuntime::peerLost(const std::string &peerId) {
    auto downloads = _downloads; // peerLost may end one
    for (auto &[id, download] : downloads)
        download->peerLost(peerId);
}

void PeerRuntime::peerLibraryChanged(const std::string &peerId) {
    auto downloads = _downloads; // peerChanged may end one
    for (auto &[id, download] : downloads)
        download->peerChanged(peerId);
}

void PeerRuntime::peerHave(const std::string &peerId, const protocol::Have &have) {
    auto it = _downloads.find(have.game);
    if (it == _downloads.end())
        return;
    auto download = it->second; // peerHave may end it
    download->peerHave(peerId, have);
}

} // namespace lanspread::kernel::runtime
