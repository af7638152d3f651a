// The peer runtime: what makes a lanspread process a peer — its catalog, identity, local
// library, operations table and install engine — and the control-service commands that
// drive them (docs/cli-contract.md). The kernel owns one and calls prepare(), start() and stop().
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/contract/views.hpp>
#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/control_service.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/settings.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kernel/peers/lan_discovery.hpp>
#include <lanspread/kernel/peers/network.hpp>
#include <lanspread/kernel/runtime/operations.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {
class Download;
struct DownloadOutcome;
class ServeSpreader;
} // namespace lanspread::kernel::transfer

namespace lanspread::kernel::runtime {

class PeerRuntime : private peers::NetworkDelegate {
  public:
    PeerRuntime(const host::Settings &settings, host::Reactor &reactor, host::WorkerPool &workers,
                host::EventBus &events, host::ControlService &control,
                host::CancelRegistry &cancels);
    ~PeerRuntime();

    // Before the reactor serves anything (owner thread): loads the catalog, creates or
    // loads the identity, and recovers interrupted install transactions. The error is one
    // line for the user (the daemon exits with it).
    Status prepare();
    // On the reactor, once plugins are loaded: listens with the transports (preferred first;
    // none: this peer reaches no one) and starts the library scan; commands that need the
    // library wait for its first scan.
    void start(std::vector<install::UnpackerRef> unpackers, std::string pinnedUnpackerId,
               std::vector<peers::TransportRef> transports,
               std::vector<peers::DiscoveryRef> discovery = {});
    // On the reactor, before plugins shut down: says goodbye to every peer, abandons running
    // downloads (their verified chunks stay on disk for a resume) and stops watching.
    void stop();

    // On the reactor, after start() (SIGHUP): reads the catalog file again and rescans the
    // library against it. A file that no longer loads is logged and the old catalog kept.
    void reloadCatalog();

    // Fills the peer's part of the status command: peer_id, catalog, active_operations, the
    // listener's real address, ...
    void addStatusFields(contract::StatusView &status) const;

    const peers::Identity &identity() const { return _identity; }
    const catalog::Catalog &catalog() const { return _catalog; }

  private:
    void registerCommands();
    void publish(const contract::Event &event);
    void publishLibrary(const std::vector<std::string> &changed);
    std::vector<contract::LocalGameView> localGameViews() const;
    // Resolves the command's "game" field to a catalog game, or answers unknown-game.
    const catalog::CatalogGame *catalogGame(const Poco::JSON::Object &command,
                                            host::ControlService::Reply &reply);
    void runInstall(const std::string &gameId, bool update);
    void runUninstall(const std::string &gameId);
    // Publish an operation's end once the library shows its outcome (reactor thread).
    void finishInstall(const std::string &gameId, const Result<install::InstallOutcome> &outcome);
    void finishUninstall(const std::string &gameId, const Status &done);
    void registerPeerCommands();
    void startDownload(const catalog::CatalogGame &game, bool install,
                       host::ControlService::Reply &reply);
    void finishDownload(const std::string &gameId, bool install,
                        const transfer::DownloadOutcome &outcome);
    // The game's archives do not fit next to what is on the disk (plus a margin): the
    // failure names the figures and suggests stream-install. nullopt when they fit or the
    // size is unknown.
    std::optional<contract::Failure> lacksSpaceFor(const catalog::CatalogGame &game) const;
    // Peers to ask for a game's file list: Ready ones, and downloading ones (swarm).
    std::vector<std::string> sourcesFor(const catalog::CatalogGame &game) const;
    void startStreamInstall(const catalog::CatalogGame &game, host::ControlService::Reply &reply);
    void finishStreamInstall(const std::string &gameId, lanspread_cancel_handle token,
                             const transfer::DownloadOutcome &outcome);
    static protocol::GameSummary summaryOf(const library::LocalGame &game);

    // NetworkDelegate
    void librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games,
                         std::vector<protocol::PartialGame> &partials) override;
    std::variant<protocol::GameFiles, peers::ServeRefusal>
    serveGetGame(const std::string &game) override;
    std::variant<peers::ServeRange, peers::ServeRefusal>
    serveGetChunk(const std::string &peerId, const protocol::GetChunk &request,
                  std::string &gameRoot) override;
    void peerLost(const std::string &peerId) override;
    void peerLibraryChanged(const std::string &peerId) override;
    void peerHave(const std::string &peerId, const protocol::Have &have) override;

    host::Settings _settings;
    host::Reactor &_reactor;
    host::WorkerPool &_workers;
    host::EventBus &_events;
    host::ControlService &_control;
    host::CancelRegistry &_cancels;
    catalog::Catalog _catalog;
    peers::Identity _identity;
    // lanspread.party_key, stretched once in prepare() (none: anyone on the LAN may join).
    std::optional<peers::PartyKey> _partyKey;
    OperationsTable _operations;
    std::unique_ptr<library::Library> _library;
    std::unique_ptr<install::InstallEngine> _install;
    std::unique_ptr<peers::PeerNetwork> _network;
    std::unique_ptr<peers::LanDiscovery> _discovery;
    std::vector<peers::DiscoveryRef> _discoveryPlugins;
    // The event bus subscription that hands LANSPREAD_DISCOVERY_STATE_TOPIC events to
    // _discovery (status "discovery"); 0 when none.
    uint64_t _discoveryStateSubscription = 0;
    void onDiscoveryState(const std::string &line);
    // mDNS found a peer: dial it over the transports it announced (all at addr when none).
    void onDiscovered(const std::string &peerId, const std::string &addr,
                      const std::map<std::string, std::string> &addrByTransport);
    std::map<std::string, std::shared_ptr<transfer::Download>> _downloads; // by game id
    // The swarm. A download's verified chunks are served from the moment its files are
    // prepared until the library shows its outcome (then the game is Ready, or not served):
    // _finishing holds ended downloads until then.
    std::map<std::string, std::shared_ptr<transfer::Download>> _finishing; // by game id
    std::set<std::string> _advertisedPartials; // told to peers (LibraryDelta partial_upserts)
    std::unique_ptr<transfer::ServeSpreader> _spreader;
    uint64_t _announceTimer = 0;
    // The download of the game whose chunks this peer serves meanwhile, or nullptr.
    const transfer::Download *servingDownload(const std::string &gameId) const;
    // Every kAnnounceIntervalNs: new partial games and removed ones (LibraryDelta), and the
    // chunks verified since the last tick (one Have per game): coalesced, so many peers and
    // many chunks stay cheap.
    void announcePartials();
    std::vector<install::UnpackerRef> _unpackers;
    std::string _pinnedUnpackerId;
    // Commands that arrived before the first library scan finished; run when it has.
    std::vector<std::function<void()>> _deferred;
    bool _stopped = false;
    void whenLibraryReady(std::function<void()> task);
};

} // namespace lanspread::kernel::runtime
