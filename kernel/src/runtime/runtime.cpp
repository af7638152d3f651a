#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/runtime/runtime.hpp>
#include <lanspread/kernel/transfer/download.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

#include <Poco/File.h>
#include <Poco/JSON/Array.h>

namespace lanspread::kernel::runtime {

namespace {
constexpr const char *kSource = "peer";

// The install engine's messages start with the CLI error code they correspond to
// ("not-installed: ..."); anything else is an io-error.
std::string errorCode(const std::string &message) {
    for (const char *code : {"not-downloaded", "not-installed", "already-installed"})
        if (message.rfind(std::string(code) + ":", 0) == 0)
            return code;
    return "io-error";
}

std::string gameField(const Poco::JSON::Object &command) {
    return command.has("game") && command.get("game").isString()
               ? command.getValue<std::string>("game")
               : std::string();
}
} // namespace

PeerRuntime::PeerRuntime(const host::Settings &settings, host::Reactor &reactor,
                         host::WorkerPool &workers, host::EventBus &events,
                         host::ControlService &control, host::CancelRegistry &cancels)
    : _settings(settings), _reactor(reactor), _workers(workers), _events(events), _control(control),
      _cancels(cancels) {
    _operations.setListener([this](const OperationsTable &table) {
        Poco::JSON::Object payload;
        payload.set("operations", table.toJson());
        _events.publish("active-operations", payload);
    });
    registerCommands();
    registerPeerCommands();
}

PeerRuntime::~PeerRuntime() {
    stop();
}

Status PeerRuntime::prepare() {
    const std::string catalogPath =
        _settings.catalogPath.empty() ? catalog::bundledCatalogPath() : _settings.catalogPath;
    auto catalog = catalog::Catalog::load(catalogPath);
    if (!catalog)
        return catalog.status();
    _catalog = std::move(catalog.value());

    auto identity = peers::Identity::loadOrCreate(_settings.stateDir, _settings.name);
    if (!identity)
        return identity.status();
    _identity = std::move(identity.value());

    // Recovery needs no unpacker: it only finishes or rolls back directory moves.
    install::InstallEngine recovery(_settings.gamesDir, _settings.stateDir, {});
    recovery.recover(); // logs one line per game it touched
    log::info(kSource, "peer " + _identity.peerId + " (" + _settings.name + "), catalog " +
                           catalogPath + " with " + std::to_string(_catalog.games().size()) +
                           " games");
    return Status::ok();
}

void PeerRuntime::start(std::vector<install::UnpackerRef> unpackers, std::string pinnedUnpackerId,
                        std::optional<peers::TransportRef> transport,
                        std::vector<peers::DiscoveryRef> discovery) {
    _discoveryPlugins = std::move(discovery);
    _network =
        std::make_unique<peers::PeerNetwork>(_reactor, _workers, _events, _identity, _settings.name,
                                             static_cast<peers::NetworkDelegate &>(*this));
    _network->setUploadLimit(_settings.uploadLimitMiBps * 1048576.0);
    _network->setPeerTimeout(uint64_t(_settings.peerTimeoutMs) * 1'000'000ull);
    if (transport) {
        Status listening = _network->start(*transport, _settings.listenAddr);
        if (!listening) {
            log::error(kSource, listening.message() + "; other peers cannot reach this one");
            Poco::JSON::Object failed(Poco::JSON_PRESERVE_KEY_ORDER);
            failed.set("component", transport->id);
            failed.set("error", listening.message());
            _events.publish("runtime-failed", failed);
        }
    }
    if (!pinnedUnpackerId.empty()) {
        bool found = false;
        for (const auto &u : unpackers)
            found = found || u.id == pinnedUnpackerId;
        if (!found)
            log::error(kSource, "lanspread.unpacker pins " + pinnedUnpackerId +
                                    ", which is not a loaded unpacker; installs will fail until "
                                    "it is loaded or the pin is removed");
    }
    _unpackers = std::move(unpackers);
    _pinnedUnpackerId = std::move(pinnedUnpackerId);
    _install = std::make_unique<install::InstallEngine>(_settings.gamesDir, _settings.stateDir,
                                                        _unpackers, _pinnedUnpackerId);
    // Advertise at once: peers that connect before the first library scan ends get an empty
    // snapshot and the library as a LibraryDelta when the scan is done.
    if (_network->running() && !_discoveryPlugins.empty()) {
        const std::string &addr = _network->listenAddr();
        const auto port = static_cast<uint16_t>(std::stoul(addr.substr(addr.rfind(':') + 1)));
        _discovery = std::make_unique<peers::LanDiscovery>(
            _identity.peerId,
            [this](const std::string &peerId, const std::string &at) { onDiscovered(peerId, at); });
        _discovery->start(_discoveryPlugins, _settings.name, port, 0);
    }
    _library = std::make_unique<library::Library>(_reactor, _workers, _catalog, _settings.gamesDir,
                                                  _settings.stateDir);
    _library->setListener(
        [this](const std::vector<std::string> &changed) { publishLibrary(changed); });
    _library->start([this] {
        Poco::JSON::Object ready(Poco::JSON_PRESERVE_KEY_ORDER);
        ready.set("peer_id", _identity.peerId);
        ready.set("listen_addr",
                  _network->running() ? _network->listenAddr() : _settings.listenAddr);
        _events.publish("local-peer-ready", ready);
        auto deferred = std::move(_deferred);
        for (auto &task : deferred)
            task();
    });
}

void PeerRuntime::stop() {
    if (_stopped)
        return;
    _stopped = true;
    // Downloads first (their requests are cancelled, not failed by the closing connections),
    // then goodbye to every peer.
    auto downloads = std::move(_downloads);
    _downloads.clear();
    for (auto &[id, download] : downloads)
        download->cancel();
    downloads.clear();
    if (_discovery)
        _discovery->stop(); // withdraw the advert first: others see us leave at once
    _discovery.reset();
    if (_network)
        _network->stop();
    if (_library)
        _library->stop();
}

void PeerRuntime::onDiscovered(const std::string &peerId, const std::string &addr) {
    if (_stopped || !_network || !_network->running())
        return;
    const peers::PeerRecord *known = _network->peers().find(peerId);
    if ((known && known->addr == addr) || _network->dialing(addr))
        return;
    if (!known) {
        Poco::JSON::Object found(Poco::JSON_PRESERVE_KEY_ORDER);
        found.set("peer_id", peerId);
        found.set("addr", addr);
        found.set("via", std::string("mdns"));
        _events.publish("peer-discovered", found);
    }
    _network->connect(
        addr, "mdns",
        [peerId, addr](Result<std::string> connected) {
            if (!connected)
                log::info(kSource, "discovered peer " + peerId.substr(0, 12) + " at " + addr +
                                       " not connected: " + connected.status().message());
        },
        peerId);
}

void PeerRuntime::whenLibraryReady(std::function<void()> task) {
    if (_library && _library->ready())
        task();
    else
        _deferred.push_back(std::move(task));
}

void PeerRuntime::addStatusFields(Poco::JSON::Object &data) const {
    data.set("peer_id", _identity.peerId);
    data.set("catalog", _catalog.origin());
    data.set("active_operations", _operations.toJson());
    if (_network && _network->running())
        data.set("listen_addr", _network->listenAddr());
    data.set("protocol_version", protocol::PROTOCOL_VERSION);
    Poco::JSON::Object outbound;
    if (_network)
        for (const auto &[game, count] : _network->outboundTransfers())
            outbound.set(game, count);
    data.set("outbound_transfers", outbound);
    data.set("peer_count", _network ? _network->peers().size() : std::size_t(0));
    data.set("library_revision", _library ? _library->revision() : 0);
}

Poco::JSON::Array PeerRuntime::localGamesJson() const {
    Poco::JSON::Array games;
    if (_library)
        for (const auto &[id, game] : _library->games())
            games.add(game.toJson());
    return games;
}

void PeerRuntime::publishLibrary(const std::vector<std::string> &changed) {
    Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
    payload.set("revision", _library->revision());
    payload.set("games", localGamesJson());
    _events.publish("local-library-changed", payload);
    if (!_network)
        return;
    protocol::LibraryDelta delta;
    delta.revision = _library->revision();
    for (const auto &id : changed) {
        if (const library::LocalGame *game = _library->find(id))
            delta.upserts.push_back(summaryOf(*game));
        else
            delta.removed.push_back(id);
    }
    if (!delta.upserts.empty() || !delta.removed.empty())
        _network->broadcastDelta(delta);
    if (_discovery)
        _discovery->updateRevision(_library->revision());
}

protocol::GameSummary PeerRuntime::summaryOf(const library::LocalGame &game) {
    protocol::GameSummary summary;
    summary.id = game.id;
    summary.version = game.version;
    summary.availability = game.availability;
    summary.downloaded = game.downloaded;
    summary.installed = game.installed;
    summary.sizeBytes = game.sizeBytes;
    return summary;
}

const catalog::CatalogGame *PeerRuntime::catalogGame(const Poco::JSON::Object &command,
                                                     host::ControlService::Reply &reply) {
    const std::string id = gameField(command);
    const catalog::CatalogGame *game = _catalog.find(id);
    if (!game)
        reply.fail("unknown-game",
                   "game '" + id + "' is not in the catalog (" + _catalog.origin() + ")");
    return game;
}

void PeerRuntime::registerCommands() {
    using Reply = host::ControlService::Reply;
    using Object = Poco::JSON::Object;

    _control.addCommand("list-games", {}, [this](const Object &, Reply reply) {
        whenLibraryReady([this, reply = std::make_shared<Reply>(std::move(reply))] {
            Object data(Poco::JSON_PRESERVE_KEY_ORDER);
            data.set("local", localGamesJson());
            data.set("remote",
                     _network ? _network->peers().remoteGamesJson(_catalog) : Poco::JSON::Array());
            reply->ok(data);
        });
    });

    auto installLike = [this](bool wantUninstall) {
        return [this, wantUninstall](const Object &command, Reply reply) {
            const catalog::CatalogGame *game = catalogGame(command, reply);
            if (!game)
                return;
            whenLibraryReady([this, id = game->id, wantUninstall,
                              reply = std::make_shared<Reply>(std::move(reply))] {
                const library::LocalGame *local = _library->find(id);
                if (auto op = _operations.current(id)) {
                    reply->fail("operation-in-progress",
                                id + " is busy: " + operationName(*op) + " is running");
                    return;
                }
                if (wantUninstall) {
                    if (!local || !local->installed) {
                        reply->fail("not-installed", id + " is not installed");
                        return;
                    }
                    runUninstall(id);
                } else {
                    if (!local || !local->downloaded) {
                        reply->fail("not-downloaded", id + " is not downloaded (no " +
                                                          _settings.gamesDir + "/" + id +
                                                          "/version.ini)");
                        return;
                    }
                    runInstall(id, local->installed);
                }
                Object data;
                data.set("accepted", true);
                reply->ok(data);
            });
        };
    };
    _control.addCommand("install", {"game"}, installLike(false));
    _control.addCommand("uninstall", {"game"}, installLike(true));

    _control.addCommand("remove", {"game"}, [this](const Object &command, Reply reply) {
        const catalog::CatalogGame *game = catalogGame(command, reply);
        if (!game)
            return;
        whenLibraryReady([this, id = game->id, reply = std::make_shared<Reply>(std::move(reply))] {
            const library::LocalGame *local = _library->find(id);
            if (auto op = _operations.current(id)) {
                reply->fail("operation-in-progress",
                            id + " is busy: " + operationName(*op) + " is running");
                return;
            }
            if (local && local->installed) {
                reply->fail("already-installed", id + " is installed; uninstall it first");
                return;
            }
            if (!local) {
                reply->fail("not-downloaded", id + " has no files in " + _settings.gamesDir);
                return;
            }
            _operations.begin(id, Operation::RemovingDownload);
            _library->setBusy(id, true);
            _workers.submit([this, id, reply] {
                Status removed = _install->remove(id);
                _reactor.post([this, id, reply, removed] {
                    _library->setBusy(id, false);
                    _library->rescanNow(id, [this, id, reply, removed] {
                        _operations.end(id);
                        if (!removed) {
                            reply->fail(errorCode(removed.message()), removed.message());
                            return;
                        }
                        Object data;
                        data.set("removed", true);
                        reply->ok(data);
                    });
                });
            });
        });
    });

    _control.addCommand(
        "play", {"game", "username", "language"}, [this](const Object &command, Reply reply) {
            const catalog::CatalogGame *game = catalogGame(command, reply);
            if (!game)
                return;
            const std::string username = command.getValue<std::string>("username");
            const std::string language = command.getValue<std::string>("language");
            whenLibraryReady([this, id = game->id, username, language,
                              reply = std::make_shared<Reply>(std::move(reply))] {
                const library::LocalGame *local = _library->find(id);
                if (auto op = _operations.current(id)) {
                    reply->fail("operation-in-progress",
                                id + " is busy: " + operationName(*op) + " is running");
                    return;
                }
                if (!local || !local->installed) {
                    reply->fail("not-installed", id + " is not installed");
                    return;
                }
                _workers.submit([this, id, username, language, reply] {
                    auto result = install::applyLaunchSettings(
                        _settings.gamesDir, _settings.stateDir, id, username, language);
                    _reactor.post([reply, result] {
                        if (!result) {
                            reply->fail("io-error", result.status().message());
                            return;
                        }
                        Object data(Poco::JSON_PRESERVE_KEY_ORDER);
                        data.set("already_applied", result.value().alreadyApplied);
                        data.set("account_name_written", result.value().accountNameWritten);
                        data.set("language_written", result.value().languageWritten);
                        data.set("persona_name_written", result.value().personaNameWritten);
                        reply->ok(data);
                    });
                });
            });
        });

    _control.addCommand("set-game-dir", {"path"}, [this](const Object &command, Reply reply) {
        const std::string path =
            command.get("path").isString() ? command.getValue<std::string>("path") : "";
        if (!_operations.empty()) {
            reply.fail("operation-in-progress",
                       "cannot change the games directory while operations run");
            return;
        }
        if (!_library) {
            reply.fail("io-error", "the library is not running");
            return;
        }
        Status changed = _library->setGamesDir(path);
        if (!changed) {
            reply.fail("io-error", "games directory " + changed.message());
            return;
        }
        _settings.gamesDir = path;
        _install = std::make_unique<install::InstallEngine>(path, _settings.stateDir, _unpackers,
                                                            _pinnedUnpackerId);
        Object data;
        data.set("accepted", true);
        data.set("games_dir", path);
        reply.ok(data);
    });
}

void PeerRuntime::runInstall(const std::string &gameId, bool update) {
    const Operation op = update ? Operation::Updating : Operation::Installing;
    if (!_operations.begin(gameId, op))
        _operations.transition(gameId, op); // a download hands over to its install
    _library->setBusy(gameId, true);
    Poco::JSON::Object begin;
    begin.set("game", gameId);
    begin.set("update", update);
    _events.publish("install-begin", begin);
    const lanspread_cancel_handle token = _cancels.create();
    _workers.submit([this, gameId, token] {
        auto outcome =
            _install->install(gameId, token, [this, token] { return _cancels.isCancelled(token); });
        _reactor.post([this, gameId, token, outcome] {
            _cancels.release(token);
            _library->setBusy(gameId, false);
            _library->rescanNow(gameId,
                                [this, gameId, outcome] { finishInstall(gameId, outcome); });
        });
    });
}

void PeerRuntime::finishInstall(const std::string &gameId,
                                const Result<install::InstallOutcome> &outcome) {
    {
        _operations.end(gameId);
        Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
        payload.set("game", gameId);
        if (outcome) {
            payload.set("files", outcome.value().stats.files);
            payload.set("bytes", outcome.value().stats.bytes);
            payload.set("updated", outcome.value().updated);
            _events.publish("install-finished", payload);
        } else {
            payload.set("error", outcome.status().message());
            log::error(kSource, "install of " + gameId + " failed: " + outcome.status().message());
            _events.publish("install-failed", payload);
        }
    }
}

void PeerRuntime::runUninstall(const std::string &gameId) {
    _operations.begin(gameId, Operation::Uninstalling);
    _library->setBusy(gameId, true);
    Poco::JSON::Object begin;
    begin.set("game", gameId);
    _events.publish("uninstall-begin", begin);
    _workers.submit([this, gameId] {
        Status done = _install->uninstall(gameId);
        _reactor.post([this, gameId, done] {
            _library->setBusy(gameId, false);
            _library->rescanNow(gameId, [this, gameId, done] { finishUninstall(gameId, done); });
        });
    });
}

void PeerRuntime::finishUninstall(const std::string &gameId, const Status &done) {
    {
        _operations.end(gameId);
        Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
        payload.set("game", gameId);
        if (done) {
            _events.publish("uninstall-finished", payload);
        } else {
            payload.set("error", done.message());
            log::error(kSource, "uninstall of " + gameId + " failed: " + done.message());
            _events.publish("uninstall-failed", payload);
        }
    }
}

} // namespace lanspread::kernel::runtime
