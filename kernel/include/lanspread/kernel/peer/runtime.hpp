// The peer runtime: what makes a lanspread process a peer — its catalog, identity, local
// library, operations table and install engine — and the control-service commands that
// drive them (spec/CLI.md). The kernel owns one and calls prepare(), start() and stop().
#pragma once

#include <lanspread/kernel/cancellation.hpp>
#include <lanspread/kernel/control_service.hpp>
#include <lanspread/kernel/event_bus.hpp>
#include <lanspread/kernel/peer/catalog.hpp>
#include <lanspread/kernel/peer/identity.hpp>
#include <lanspread/kernel/peer/install.hpp>
#include <lanspread/kernel/peer/lan_discovery.hpp>
#include <lanspread/kernel/peer/library.hpp>
#include <lanspread/kernel/peer/network.hpp>
#include <lanspread/kernel/peer/operations.hpp>
#include <lanspread/kernel/reactor.hpp>
#include <lanspread/kernel/settings.hpp>
#include <lanspread/kernel/worker_pool.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {
class Download;
struct DownloadOutcome;
} // namespace lanspread::kernel::transfer

namespace lanspread::kernel::peer {

class PeerRuntime : private NetworkDelegate {
  public:
    PeerRuntime(const Settings &settings, Reactor &reactor, WorkerPool &workers, EventBus &events,
                ControlService &control, CancelRegistry &cancels);
    ~PeerRuntime();

    // Before the reactor serves anything (owner thread): loads the catalog, creates or
    // loads the identity, and recovers interrupted install transactions. The error is one
    // line for the user (the daemon exits with it).
    Status prepare();
    // On the reactor, once plugins are loaded: listens with the transport (if any) and
    // starts the library scan; commands that need the library wait for its first scan.
    void start(std::vector<UnpackerRef> unpackers, std::string pinnedUnpackerId,
               std::optional<TransportRef> transport, std::vector<DiscoveryRef> discovery = {});
    // On the reactor, before plugins shut down: says goodbye to every peer, abandons running
    // downloads (their verified chunks stay on disk for a resume) and stops watching.
    void stop();

    // Adds peer_id, catalog, active_operations, ... to the status command's data.
    void addStatusFields(Poco::JSON::Object &data) const;

    const Identity &identity() const { return _identity; }
    const Catalog &catalog() const { return _catalog; }

  private:
    void registerCommands();
    void publishLibrary(const std::vector<std::string> &changed);
    Poco::JSON::Array localGamesJson() const;
    // Resolves the command's "game" field to a catalog game, or answers unknown-game.
    const CatalogGame *catalogGame(const Poco::JSON::Object &command, ControlService::Reply &reply);
    void runInstall(const std::string &gameId, bool update);
    void runUninstall(const std::string &gameId);
    // Publish an operation's end once the library shows its outcome (reactor thread).
    void finishInstall(const std::string &gameId, const Result<InstallOutcome> &outcome);
    void finishUninstall(const std::string &gameId, const Status &done);
    void registerPeerCommands();
    void startDownload(const CatalogGame &game, bool install, ControlService::Reply &reply);
    void finishDownload(const std::string &gameId, bool install,
                        const transfer::DownloadOutcome &outcome);
    static protocol::GameSummary summaryOf(const LocalGame &game);

    // NetworkDelegate
    void librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games) override;
    std::variant<protocol::GameFiles, transfer::ServeRefusal>
    serveGetGame(const std::string &game) override;
    std::variant<transfer::ServeRange, transfer::ServeRefusal>
    serveGetChunk(const protocol::GetChunk &request, std::string &gameRoot) override;
    void peerLost(const std::string &peerId) override;
    void peerLibraryChanged(const std::string &peerId) override;

    Settings _settings;
    Reactor &_reactor;
    WorkerPool &_workers;
    EventBus &_events;
    ControlService &_control;
    CancelRegistry &_cancels;
    Catalog _catalog;
    Identity _identity;
    OperationsTable _operations;
    std::unique_ptr<Library> _library;
    std::unique_ptr<InstallEngine> _install;
    std::unique_ptr<PeerNetwork> _network;
    std::unique_ptr<LanDiscovery> _discovery;
    std::vector<DiscoveryRef> _discoveryPlugins;
    void onDiscovered(const std::string &peerId, const std::string &addr);
    std::map<std::string, std::shared_ptr<transfer::Download>> _downloads; // by game id
    std::vector<UnpackerRef> _unpackers;
    std::string _pinnedUnpackerId;
    // Commands that arrived before the first library scan finished; run when it has.
    std::vector<std::function<void()>> _deferred;
    bool _stopped = false;
    void whenLibraryReady(std::function<void()> task);
};

} // namespace lanspread::kernel::peer
