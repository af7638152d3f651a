// One game download from several peers at once (docs/protocol.md, "Requests"):
//   1. describe  every ready source is asked for the game's file list (GetGame);
//   2. vote      the list most sources agree on wins (manifest_vote.hpp); a tie fails;
//   3. prepare   (worker) the files are opened under <games>/<id>/; chunks already on disk
//                whose SHA-256 matches are kept (resume) and never fetched again;
//   4. transfer  the BlockPicker hands chunks (1 MiB) to sources, rarest first, several in
//                flight each, the last ones twice (endgame). Sources are the complete peers
//                that answered the vote's list and every peer that advertises the same list
//                (files digest), complete or partial (a partial one is asked only for the
//                chunks it announced; new ones join while the download runs). A chunk's bytes
//                are collected in a pooled buffer, hashed on the worker pool, and written only
//                when the hash matches; otherwise its source is rejected and the chunk
//                refetched elsewhere. Verified chunks are at once servable to other peers
//                (servable(), chunkVerified(), takeNewlyVerified() for the Have messages);
//   5. commit    (worker) files are fsynced, stale root files removed, and version.ini is
//                renamed into place last, so a root is "downloaded" only when complete.
// A streamed install (docs/streamed-install.md) runs the same object with a
// StreamInstallTarget: describe and vote as above; then, instead of prepare/write/commit, the
// picker works in order (BlockPickerSettings::Order::InOrder) over the root archives' chunks
// only, wanted as the install's StreamProvider asks for them; a verified chunk goes to the
// provider instead of the disk, and the install transaction (InstallEngine::streamInstall)
// runs on a worker meanwhile. It ends Finished when the install promoted local/; every other
// end makes the provider fail, so the transaction rolls back. Only complete (Ready) sources
// serve a streamed install, and it is never servable itself.
// Events (docs/cli-contract.md): got-game-files, download-begin, download-progress,
// download-chunk-finished, download-chunk-rejected, download-finished, download-failed,
// download-peers-gone, download-cancelled. Thread: reactor (disk work on the worker pool).
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/peers/network.hpp>
#include <lanspread/kernel/transfer/block_picker.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lanspread::kernel::transfer {

struct DownloadOutcome {
    enum class Kind { Finished, Failed, PeersGone, Cancelled };
    DownloadOutcome() = default;
    DownloadOutcome(Kind kind_, std::string error_,
                    std::optional<install::InstallOutcome> installed_ = std::nullopt)
        : kind(kind_), error(std::move(error_)), installed(std::move(installed_)) {}
    Kind kind = Kind::Failed;
    std::string error; // for Failed / PeersGone
    // A streamed install that Finished: what was installed.
    std::optional<install::InstallOutcome> installed;
};

// What a streamed install needs besides the download's own parts.
struct StreamInstallTarget {
    install::InstallEngine *engine = nullptr; // outlives the download
    lanspread_cancel_handle cancel{};         // handed to the unpacker
    std::function<bool()> cancelled;          // polled by the extraction (any thread)
    install::StreamBudget budget;
};

class Download : public std::enable_shared_from_this<Download> {
  public:
    using Done = std::function<void(const DownloadOutcome &outcome)>;

    Download(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
             peers::PeerNetwork &network, std::string gamesDir, catalog::CatalogGame game,
             std::vector<std::string> sources, Done done,
             std::optional<StreamInstallTarget> stream = std::nullopt);
    ~Download();
    bool streaming() const { return _stream.has_value(); }
    // A streamed install's transaction is working (unpacking, writing, committing) rather
    // than waiting for chunks: a virtual-time test holds its clock meanwhile. Thread: any.
    bool streamExtracting() const {
        return _installRunning && !(_provider && _provider->readerWaiting());
    }

    // Starts the describe phase. done runs exactly once, on the reactor, after every disk
    // job of this download has finished.
    void start();
    void cancel();
    // A source disconnected: its work goes elsewhere; with no source left the download ends
    // with PeersGone.
    void peerLost(const std::string &peerId);
    // A peer's advertised library changed (the peer DB has the new state): it may have become
    // a source (complete or partial, with this download's files digest) or stopped being one.
    void peerChanged(const std::string &peerId);
    // A peer announced more verified chunks of this game (already in the peer DB).
    void peerHave(const std::string &peerId, const protocol::Have &have);

    const std::string &game() const { return _game.id; }

    // --- serving while downloading (the serve gates ask; thread: reactor) ---
    // True once the files are prepared, until the download object goes: its verified chunks
    // may be served to peers whose list has the same digest.
    // Never for a streamed install: its chunks are not kept.
    bool servable() const { return _picker != nullptr && !_stream; }
    const protocol::GameFiles &files() const { return _files; }
    const std::string &filesDigest() const { return _filesDigest; }
    // Whether chunk `index` of file `file` (in files()) is verified on disk.
    bool chunkVerified(std::size_t file, uint64_t index) const;
    // Where file `file` is on disk below the game root: version.ini has a temporary name
    // until the commit renames it into place.
    std::string diskPath(std::size_t file) const;
    // For the serve gates, valid while this object lives and servable().
    DownloadingGame servingView() const;
    // The partial game this peer advertises (Hello, LibraryDelta).
    protocol::PartialGame partialGame() const;
    // Chunk ids verified since the last call (the next Have).
    std::vector<uint64_t> takeNewlyVerified();

    struct OpenFile; // internal (download_internal.hpp)

  private:
    struct InFlight;
    class BlockPool;
    enum class Phase { Describing, Preparing, Transferring, Committing, Ending };

    void onDescribed(const std::string &peerId, Result<protocol::GameFiles> files);
    void vote();
    void prepare();
    void prepared(Result<std::set<std::pair<std::size_t, uint64_t>>> done);
    // Adds or updates peerId as a source from what the peer DB says (see peerChanged).
    void refreshSource(const std::string &peerId);
    void pump();
    void request(const std::string &peerId, std::size_t chunkId);
    void onPiece(uint64_t key, std::span<const uint8_t> piece);
    void onRequestEnd(uint64_t key, const Status &status);
    // A chunk arrived latencyNs after it was requested: the source's depth follows.
    void adaptDepth(const std::string &peerId, uint64_t latencyNs);
    // Hashes the chunk's bytes and, when they match, writes them (worker pool).
    void verifyAndWrite(uint64_t key);
    // kept: a streamed chunk's buffer when its hash matched (handed to the provider).
    void onVerified(std::size_t chunkId, const std::string &peerId, const std::string &digest,
                    const std::string &writeError, uint8_t *kept = nullptr);
    void dropInFlight(uint64_t key, bool cancelRequest);
    // Every request to this source: cancelled (the stream is reset) or just forgotten.
    void dropRequestsTo(const std::string &peerId, bool cancelRequests);
    void sourceFailed(const std::string &peerId, const std::string &why);
    void checkSources();
    void commit();
    void end(DownloadOutcome outcome);
    void publishProgress();
    void startProgressTimer();
    // The transfer phase begins: download-begin (bytesTotal: what this download fetches at
    // most; bytesResumed: verified before it began) and the progress timer.
    void beginTransfer(uint64_t bytesTotal, uint64_t bytesResumed);
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
    std::string _filesDigest;
    std::set<std::string> _votedSources; // answered GetGame with the voted list
    std::vector<std::shared_ptr<OpenFile>> _open;
    std::shared_ptr<BlockPool> _pool;
    std::unique_ptr<BlockPicker> _picker;
    std::vector<std::size_t> _firstChunkOfFile;              // chunk id of each file's first chunk
    std::map<uint64_t, std::unique_ptr<InFlight>> _inFlight; // by key
    uint64_t _nextKey = 1;
    std::map<std::string, uint64_t> _bytesBySource;
    std::map<std::string, unsigned> _failuresBySource; // consecutive
    std::map<std::string, unsigned> _depthBySource;    // adapted: download_internal.hpp
    std::vector<unsigned> _attempts;                   // per chunk
    std::vector<uint64_t> _newlyVerified;              // not yet announced in a Have
    uint64_t _bytesFetched = 0;                        // verified chunk bytes fetched in this run
    uint64_t _bytesReceived = 0;                       // every byte that arrived (progress rate)
    uint64_t _bytesWriting = 0;                        // accepted bytes being hashed/written
    std::size_t _chunksWriting = 0;                    // their chunks
    uint64_t _lastAdvanceNs = 0;                       // a chunk verified or a source joined
    bool _committed = false;                           // version.ini is in place
    uint64_t _startNs = 0;
    uint64_t _progressTimer = 0;
    uint64_t _describeTimer = 0;
    uint64_t _lastProgressBytes = 0;
    uint64_t _lastProgressNs = 0;
    int _activeJobs = 0; // disk jobs running for this download
    // Streamed install (download_stream.cpp).
    std::optional<StreamInstallTarget> _stream;
    std::shared_ptr<install::StreamProvider> _provider;
    uint64_t _streamSkippedBytes = 0; // bytes of the files a stream does not fetch
    std::thread _installThread;       // runs InstallEngine::streamInstall
    std::atomic<bool> _installRunning{false};
    void prepareStream();
    void streamWanted(); // the provider's wanted chunks -> the picker
    // A verified chunk's buffer (from the pool) goes to the provider.
    void streamDelivered(std::size_t chunkId, uint8_t *block);
    void publishStreamFinished();
    void streamInstalled(Result<install::InstallOutcome> outcome);
    bool _ending = false;
    DownloadOutcome _outcome;
};

} // namespace lanspread::kernel::transfer
