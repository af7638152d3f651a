// One game download from several peers at once (docs/protocol.md, "Requests"):
//   1. describe  every ready source is asked for the game's file list (GetGame);
//   2. vote      the list most sources agree on wins (manifest_vote.hpp); a tie fails;
//   3. prepare   (worker) the files are opened under <games>/<id>/; chunks already on disk
//                whose SHA-256 matches are kept (resume) and never fetched again;
//   4. transfer  the ChunkScheduler hands chunks to sources, several in flight each; bytes
//                are written and hashed on the worker pool as they arrive, and released to
//                the transport only once written (so memory stays bounded); a chunk counts
//                only when its hash matches — otherwise its source is rejected and the chunk
//                refetched elsewhere;
//   5. commit    (worker) files are fsynced, stale root files removed, and version.ini is
//                renamed into place last, so a root is "downloaded" only when complete.
// Events (docs/cli-contract.md): got-game-files, download-begin, download-progress,
// download-chunk-finished, download-chunk-rejected, download-finished, download-failed,
// download-peers-gone, download-cancelled. Thread: reactor (disk work on the worker pool).
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/peers/network.hpp>
#include <lanspread/kernel/transfer/chunk_scheduler.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

struct DownloadOutcome {
    enum class Kind { Finished, Failed, PeersGone, Cancelled };
    Kind kind = Kind::Failed;
    std::string error; // for Failed / PeersGone
};

class Download : public std::enable_shared_from_this<Download> {
  public:
    using Done = std::function<void(const DownloadOutcome &outcome)>;

    Download(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
             peers::PeerNetwork &network, std::string gamesDir, catalog::CatalogGame game,
             std::vector<std::string> sources, Done done);
    ~Download();

    // Starts the describe phase. done runs exactly once, on the reactor, after every disk
    // job of this download has finished.
    void start();
    void cancel();
    // A source disconnected: its work goes elsewhere; with no source left the download ends
    // with PeersGone.
    void peerLost(const std::string &peerId);

    const std::string &game() const { return _game.id; }

  private:
    struct OpenFile;
    struct ChunkWriter;
    struct InFlight;
    class BlockPool;
    enum class Phase { Describing, Preparing, Transferring, Committing, Ending };

    void onDescribed(const std::string &peerId, Result<protocol::GameFiles> files);
    void vote();
    void prepare(std::vector<std::string> sources);
    void prepared(Result<std::set<std::pair<std::size_t, uint64_t>>> done);
    void pump();
    void request(const std::string &peerId, std::size_t chunkId);
    void onPiece(uint64_t key, std::span<const uint8_t> piece);
    void submitBlock(uint64_t key, InFlight &flight);
    void onRequestEnd(uint64_t key, const Status &status);
    void onWritten(uint64_t key, std::size_t bytes, const std::string &writeError);
    void maybeVerify(uint64_t key);
    void dropInFlight(uint64_t key, bool cancelRequest);
    void sourceFailed(const std::string &peerId, const std::string &why);
    void checkSources();
    void commit();
    void end(DownloadOutcome outcome);
    void publishProgress();
    std::string addrOf(const std::string &peerId) const;

    host::Reactor &_reactor;
    host::WorkerPool &_workers;
    host::EventBus &_events;
    peers::PeerNetwork &_network;
    std::string _gamesDir;
    std::string _root;
    catalog::CatalogGame _game;
    std::vector<std::string> _askedSources;
    Done _done;
    Phase _phase = Phase::Describing;

    std::map<std::string, protocol::GameFiles> _answers;
    std::size_t _pendingAnswers = 0;
    protocol::GameFiles _files;
    std::vector<std::shared_ptr<OpenFile>> _open;
    std::shared_ptr<BlockPool> _pool;
    std::unique_ptr<ChunkScheduler> _scheduler;
    std::map<uint64_t, std::unique_ptr<InFlight>> _inFlight; // by key
    uint64_t _nextKey = 1;
    std::map<std::string, uint64_t> _bytesBySource;
    std::map<std::string, unsigned> _failuresBySource; // consecutive
    std::vector<unsigned> _attempts;                   // per chunk
    uint64_t _bytesFetched = 0;                        // verified chunk bytes fetched in this run
    uint64_t _bytesReceived = 0;                       // every byte that arrived (progress rate)
    uint64_t _startNs = 0;
    uint64_t _progressTimer = 0;
    uint64_t _describeTimer = 0;
    uint64_t _lastProgressBytes = 0;
    uint64_t _lastProgressNs = 0;
    int _activeJobs = 0; // disk jobs running for this download
    bool _ending = false;
    DownloadOutcome _outcome;
};

} // namespace lanspread::kernel::transfer
