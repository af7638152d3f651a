#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/runtime/runtime.hpp>
#include <lanspread/kernel/transfer/download.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>
#include <lanspread/kernel/transfer/serve_spreader.hpp>

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>

namespace lanspread::kernel::runtime {

namespace {
constexpr const char *kSource = "peer";
using contract::ErrorCode;

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
        publish(contract::activeOperations(table.view()));
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

    // The party key is stretched here, once (PBKDF2, ~0.5 s): a key file that cannot be used
    // stops the peer before it reaches anyone, rather than letting it run open.
    if (!_settings.partyKey.empty() || !_settings.partyKeyFile.empty()) {
        auto key = _settings.partyKeyFile.empty()
                       ? peers::PartyKey::fromPassphrase(_settings.partyKey)
                       : peers::PartyKey::fromFile(_settings.partyKeyFile);
        if (!key)
            return key.status();
        _partyKey = std::move(key.value());
        log::info(kSource, std::string("party key on (") +
                               (_settings.partyKeyFile.empty()
                                    ? "lanspread.party_key"
                                    : "lanspread.party_key_file " + _settings.partyKeyFile) +
                               "): only peers that prove the same key join");
    }

    // Recovery needs no unpacker: it only finishes or rolls back directory moves.
    install::InstallEngine recovery(_settings.gamesDir, _settings.stateDir, {});
    recovery.recover(); // logs one line per game it touched
    log::info(kSource, "peer " + _identity.peerId + " (" + _settings.name + "), catalog " +
                           catalogPath + " with " + std::to_string(_catalog.games().size()) +
                           " games");
    return Status::ok();
}

void PeerRuntime::reloadCatalog() {
    // The file the running catalog came from (its origin is the path it was loaded from).
    const std::string path = _catalog.origin();
    auto loaded = catalog::Catalog::load(path);
    if (!loaded) {
        log::error(kSource, "catalog not reloaded, keeping the old one (" +
                                std::to_string(_catalog.games().size()) +
                                " games): " + loaded.status().message());
        return;
    }
    _catalog = std::move(loaded.value());
    log::info(kSource, "catalog reloaded from " + path + " with " +
                           std::to_string(_catalog.games().size()) +
                           " games; rescanning the library");
    // Everything else reads the catalog when it needs it, on this thread; running downloads
    // hold their own copy of their game's entry. The rescan adds the new games' roots and
    // drops the games the catalog no longer has.
    if (_library)
        _library->requestFullRescan();
}

void PeerRuntime::start(std::vector<install::UnpackerRef> unpackers, std::string pinnedUnpackerId,
                        std::vector<peers::TransportRef> transports,
                        std::vector<peers::DiscoveryRef> discovery) {
    _discoveryPlugins = std::move(discovery);
    _network =
        std::make_unique<peers::PeerNetwork>(_reactor, _workers, _events, _identity, _settings.name,
                                             static_cast<peers::NetworkDelegate &>(*this));
    _network->setUploadLimit(_settings.uploadLimitMiBps * 1048576.0);
    _network->setPeerTimeout(uint64_t(_settings.peerTimeoutMs) * 1'000'000ull);
    _network->setTransportFallback(uint64_t(_settings.transportFallbackMs) * 1'000'000ull);
    _network->setPartyKey(_partyKey);
    _network->setHelloTimeout(uint64_t(_settings.helloTimeoutMs) * 1'000'000ull);
    _network->setMaxConnectionsPerAddress(std::size_t(_settings.maxConnectionsPerAddress));
    _network->setMaxRequestsPerPeer(std::size_t(_settings.maxRequestsPerPeer));
    if (!transports.empty()) {
        Status listening = _network->start(transports, _settings.listenAddr);
        if (!listening)
            log::error(kSource, listening.message() + "; other peers cannot reach this one");
        for (const auto &[id, why] : _network->listenFailures()) {
            if (listening)
                log::error(kSource, why + "; peers reach this one over the other transports");
            publish(contract::runtimeFailed(id, why));
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
            _identity.peerId, [this](const std::string &peerId, const std::string &at,
                                     const std::map<std::string, std::string> &addrByTransport) {
                onDiscovered(peerId, at, addrByTransport);
            });
        std::vector<peers::AnnouncedTransport> announced;
        for (const auto &listener : _network->listeners())
            announced.push_back(
                {listener.transport, static_cast<uint16_t>(std::stoul(
                                         listener.addr.substr(listener.addr.rfind(':') + 1)))});
        // Before start(): a plugin whose daemon is unreachable says so from inside advertise().
        _discoveryStateSubscription =
            _events.subscribe([this](const std::string &topic, const std::string &line) {
                if (topic == LANSPREAD_DISCOVERY_STATE_TOPIC)
                    onDiscoveryState(line);
            });
        _discovery->start(_discoveryPlugins, _settings.name, port, 0, std::move(announced));
    }
    _library = std::make_unique<library::Library>(_reactor, _workers, _catalog, _settings.gamesDir,
                                                  _settings.stateDir);
    _library->setListener(
        [this](const std::vector<std::string> &changed) { publishLibrary(changed); });
    _library->start([this] {
        publish(contract::localPeerReady(
            _identity.peerId, _network->running() ? _network->listenAddr() : _settings.listenAddr));
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
    if (_announceTimer != 0)
        _reactor.stopTimer(_announceTimer);
    _announceTimer = 0;
    _finishing.clear();
    auto downloads = std::move(_downloads);
    _downloads.clear();
    for (auto &[id, download] : downloads)
        download->cancel();
    downloads.clear();
    if (_discoveryStateSubscription != 0)
        _events.unsubscribe(_discoveryStateSubscription);
    _discoveryStateSubscription = 0;
    if (_discovery)
        _discovery->stop(); // withdraw the advert first: others see us leave at once
    _discovery.reset();
    if (_network)
        _network->stop();
    if (_library)
        _library->stop();
}

void PeerRuntime::onDiscovered(const std::string &peerId, const std::string &addr,
                               const std::map<std::string, std::string> &addrByTransport) {
    if (_stopped || !_network || !_network->running())
        return;
    const peers::PeerRecord *known = _network->peers().find(peerId);
    if ((known && known->addr == addr) || _network->dialing(addr))
        return;
    if (_network->partyKeyRefused(peerId))
        return; // refused for the party key: not again until restart (peer-refused said so)
    if (!known)
        publish(contract::peerDiscovered(peerId, addr, "mdns"));
    _network->connect(
        addr, "mdns",
        [peerId, addr](contract::Outcome<std::string> connected) {
            if (!connected)
                log::info(kSource, "discovered peer " + peerId.substr(0, 12) + " at " + addr +
                                       " not connected: " + connected.failure().message);
        },
        peerId, addrByTransport);
}

void PeerRuntime::onDiscoveryState(const std::string &line) {
    if (!_discovery)
        return;
    Poco::JSON::Object::Ptr event;
    try {
        Poco::JSON::Parser parser;
        event = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &) {
        return; // the bus only carries JSON objects
    }
    auto text = [&](const char *key) {
        return event->has(key) && event->get(key).isString() ? event->getValue<std::string>(key)
                                                             : std::string();
    };
    _discovery->reportState(text("plugin"), text("state"), text("reason"));
}

void PeerRuntime::whenLibraryReady(std::function<void()> task) {
    if (_library && _library->ready())
        task();
    else
        _deferred.push_back(std::move(task));
}

void PeerRuntime::addStatusFields(contract::StatusView &status) const {
    status.peerId = _identity.peerId;
    status.catalog = _catalog.origin();
    status.activeOperations = _operations.view();
    if (_network && _network->running()) {
        status.listenAddr = _network->listenAddr();
        for (const auto &listener : _network->listeners())
            status.transports.push_back({listener.transport, listener.pluginId, listener.addr});
    }
    status.protocolVersion = protocol::PROTOCOL_VERSION;
    if (_network)
        status.outboundTransfers = _network->outboundTransfers();
    status.peerCount = _network ? _network->peers().size() : std::size_t(0);
    status.libraryRevision = _library ? _library->revision() : 0;
    if (_discovery) {
        status.discovery = _discovery->view();
    } else if (!_discoveryPlugins.empty()) {
        status.discovery.state = "not-working";
        status.discovery.plugin = _discoveryPlugins.front().id;
        status.discovery.reason = "no transport is listening, so there is nothing to advertise";
    }
}

std::vector<contract::LocalGameView> PeerRuntime::localGameViews() const {
    std::vector<contract::LocalGameView> games;
    if (_library)
        for (const auto &[id, game] : _library->games())
            games.push_back(game.view());
    return games;
}

void PeerRuntime::publish(const contract::Event &event) {
    _events.publish(event.topic, event.payload);
}

void PeerRuntime::publishLibrary(const std::vector<std::string> &changed) {
    publish(contract::localLibraryChanged(_library->revision(), localGameViews()));
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
    if (game.downloaded)
        summary.filesDigest = protocol::filesDigest(transfer::servedFileList(game));
    return summary;
}

const catalog::CatalogGame *PeerRuntime::catalogGame(const Poco::JSON::Object &command,
                                                     host::ControlService::Reply &reply) {
    const std::string id = gameField(command);
    const catalog::CatalogGame *game = _catalog.find(id);
    if (!game)
        reply.fail(ErrorCode::UnknownGame,
                   "game '" + id + "' is not in the catalog (" + _catalog.origin() + ")");
    return game;
}

void PeerRuntime::registerCommands() {
    using Reply = host::ControlService::Reply;
    using Object = Poco::JSON::Object;

    _control.addCommand("list-games", {}, [this](const Object &, Reply reply) {
        whenLibraryReady([this, reply = std::make_shared<Reply>(std::move(reply))] {
            reply->ok(contract::listGamesResult(
                localGameViews(), _network ? _network->peers().remoteGames(_catalog)
                                           : std::vector<contract::RemoteGameView>{}));
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
                    reply->fail(ErrorCode::OperationInProgress,
                                id + " is busy: " + operationName(*op) + " is running");
                    return;
                }
                if (wantUninstall) {
                    if (!local || !local->installed) {
                        reply->fail(ErrorCode::NotInstalled, id + " is not installed");
                        return;
                    }
                    runUninstall(id);
                } else {
                    if (!local || !local->downloaded) {
                        reply->fail(ErrorCode::NotDownloaded, id + " is not downloaded (no " +
                                                                  _settings.gamesDir + "/" + id +
                                                                  "/version.ini)");
                        return;
                    }
                    runInstall(id, local->installed);
                }
                reply->ok(contract::acceptedResult());
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
                reply->fail(ErrorCode::OperationInProgress,
                            id + " is busy: " + operationName(*op) + " is running");
                return;
            }
            if (local && local->installed) {
                reply->fail(ErrorCode::AlreadyInstalled, id + " is installed; uninstall it first");
                return;
            }
            if (!local) {
                reply->fail(ErrorCode::NotDownloaded,
                            id + " has no files in " + _settings.gamesDir);
                return;
            }
            _operations.begin(id, Operation::RemovingDownload);
            _library->setBusy(id, true);
            _workers.submit([this, id, reply] {
                contract::Outcome<void> removed = _install->remove(id);
                _reactor.post([this, id, reply, removed] {
                    _library->setBusy(id, false);
                    _library->rescanNow(id, [this, id, reply, removed] {
                        _operations.end(id);
                        if (!removed) {
                            reply->fail(removed.failure());
                            return;
                        }
                        reply->ok(contract::removeResult());
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
                    reply->fail(ErrorCode::OperationInProgress,
                                id + " is busy: " + operationName(*op) + " is running");
                    return;
                }
                if (!local || !local->installed) {
                    reply->fail(ErrorCode::NotInstalled, id + " is not installed");
                    return;
                }
                _workers.submit([this, id, username, language, reply] {
                    auto result = install::applyLaunchSettings(
                        _settings.gamesDir, _settings.stateDir, id, username, language);
                    _reactor.post([reply, result] {
                        if (!result) {
                            reply->fail(ErrorCode::IoError, result.status().message());
                            return;
                        }
                        const install::LaunchSettingsResult &applied = result.value();
                        reply->ok(contract::playResult(
                            {applied.alreadyApplied, applied.accountNameWritten,
                             applied.languageWritten, applied.personaNameWritten}));
                    });
                });
            });
        });

    _control.addCommand("set-game-dir", {"path"}, [this](const Object &command, Reply reply) {
        const std::string path =
            command.get("path").isString() ? command.getValue<std::string>("path") : "";
        if (!_operations.empty()) {
            reply.fail(ErrorCode::OperationInProgress,
                       "cannot change the games directory while operations run");
            return;
        }
        if (!_library) {
            reply.fail(ErrorCode::IoError, "the library is not running");
            return;
        }
        Status changed = _library->setGamesDir(path);
        if (!changed) {
            reply.fail(ErrorCode::IoError, "games directory " + changed.message());
            return;
        }
        _settings.gamesDir = path;
        _install = std::make_unique<install::InstallEngine>(path, _settings.stateDir, _unpackers,
                                                            _pinnedUnpackerId);
        reply.ok(contract::setGameDirResult(path));
    });
}

void PeerRuntime::runInstall(const std::string &gameId, bool update) {
    const Operation op = update ? Operation::Updating : Operation::Installing;
    if (!_operations.begin(gameId, op))
        _operations.transition(gameId, op); // a download hands over to its install
    _library->setBusy(gameId, true);
    publish(contract::installBegin(gameId, update));
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
    _finishing.erase(gameId); // the library shows the downloaded game now
    _operations.end(gameId);
    if (outcome) {
        const install::InstallOutcome &done = outcome.value();
        publish(
            contract::installFinished(gameId, done.stats.files, done.stats.bytes, done.updated));
    } else {
        // info: the event is the report (human mode prints it), and a person at a terminal,
        // who sees warnings and errors, would read the failure twice.
        log::info(kSource, "install of " + gameId + " failed: " + outcome.status().message());
        publish(contract::installFailed(gameId, outcome.status().message()));
    }
}

void PeerRuntime::runUninstall(const std::string &gameId) {
    _operations.begin(gameId, Operation::Uninstalling);
    _library->setBusy(gameId, true);
    publish(contract::uninstallBegin(gameId));
    _workers.submit([this, gameId] {
        Status done = _install->uninstall(gameId);
        _reactor.post([this, gameId, done] {
            _library->setBusy(gameId, false);
            _library->rescanNow(gameId, [this, gameId, done] { finishUninstall(gameId, done); });
        });
    });
}

void PeerRuntime::finishUninstall(const std::string &gameId, const Status &done) {
    _operations.end(gameId);
    if (done) {
        publish(contract::uninstallFinished(gameId));
    } else {
        log::info(kSource, "uninstall of " + gameId + " failed: " + done.message()); // as above
        publish(contract::uninstallFailed(gameId, done.message()));
    }
}

} // namespace lanspread::kernel::runtime
