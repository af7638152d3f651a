// Block picking for a swarm download (docs/protocol.md, "Requests"): the one place that
// decides which source fetches which block, when every peer that has verified a chunk may
// serve it (complete sources have every chunk, partial ones a set that grows as they
// download). The download engine requests whole chunks (block size = chunk size); the block
// level lets a chunk come from several sources when blocks are smaller.
//
// Plan: every chunk of every file (catalog::kChunkSize, the last one of a file shorter, an
// empty file one chunk of length 0) is the unit of verification; it is cut into blocks of
// BlockPickerSettings::blockSize (the last block of a chunk shorter, an empty chunk one block
// of length 0), the unit of a request, so that one chunk comes from several sources at once.
// Chunks and blocks are numbered in file order; a chunk's blocks are consecutive.
//
// Rules:
//   - a block is requested only from a source that has its chunk;
//   - work goes to whichever source asks (pull), each keeping up to depth blocks in flight,
//     so a faster source takes more;
//   - among the chunks the asking source has, started chunks come first (a chunk is relayable
//     only once all of it is verified, so finishing it soon lets others fetch it from us),
//     then the rarest (fewest sources have it), ties broken by a per-download random order
//     drawn from the seed; within a chunk, blocks go in order;
//   - endgame: once no block is pending that some source could take, a source with a free slot
//     is given a block already in flight on one other source (the one requested longest ago,
//     most likely on a slow source), never a third copy; the first copy to arrive wins and
//     blockReceived() names the requests to cancel, so a slow source never holds the tail;
//   - blocks arriving and chunks verifying are separate steps: when blockReceived() says the
//     chunk is ready, the caller checks its hash and calls chunkVerified() or chunkFailed().
//     A failed chunk's blocks are all pending again. chunkFailed() names the sources whose
//     blocks made it up; with one, that source is the culprit (the caller rejects it); with
//     several, the retry takes all of the chunk's blocks from one source (the first to get one
//     of them), so a second failure names the culprit;
//   - a block whose request failed on a source (error reply, reset, stall) is not given to that
//     source again while another source that has its chunk is usable;
//   - a block a source refused to serve for now (a seeder spreading its chunks: "get it from
//     the peer I sent it to") is not given to that source again before the time the caller
//     names, unless the chunk is pinned to it; meanwhile it goes to any other source that has
//     its chunk. The refusal is no failure of the source;
//   - a source that leaves gives its in-flight blocks back; a rejected source (bad data) gets
//     nothing more, also after it comes back; a chunk that no usable source has is stuck until
//     a source announces it (stuckChunks(), finishedPossible());
//   - chunks already verified on disk (resume) are never scheduled.
//
// Spreading among many receivers: each receiver runs its own picker, with its own seed. Where
// every source is complete, all chunks are equally rare and each receiver's random tie order
// sends it to different chunks than the others; as receivers announce what they verified,
// those chunks become less rare, so the others turn to the chunks nobody but the seeder has
// yet. Receivers therefore hold distinct chunks early and fetch the rest from each other
// instead of all from the seeder. Making a seeder hand out distinct chunks on purpose (as
// BitTorrent's super-seeding does) is a serving-side rule, outside this class.
//
// In order (BlockPickerSettings::order = InOrder), for a streamed install: only the chunks
// the caller names in setWanted() are given out, the first wanted chunk first (a source takes
// the first wanted chunk it has that still has a pending block); started-first, rarity and the
// tie order play no part. Endgame works within the wanted chunks: a source with a free slot
// and no pending wanted chunk it has gets a second copy of the in-flight block of the EARLIEST
// wanted chunk (the one the reader waits for), so a slow source never holds the head of the
// stream. A chunk the reader needs again after it was verified and released is made pending
// again with refetch(). Every other rule above holds as well.
//
// Pure logic, no I/O, no clock of its own (times are passed in). Thread: one (the reactor).
#pragma once

#include <lanspread/kernel/protocol/messages.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lanspread::kernel::transfer {

struct ChunkTask {
    std::size_t file = 0; // index into the file list
    uint64_t index = 0;   // chunk index within the file
    uint64_t offset = 0;  // byte offset within the file
    uint64_t length = 0;  // bytes
    std::string hash;     // expected lowercase hex SHA-256
};

// Every chunk of every file, in file order: the unit of verification. An empty file is one
// chunk of length 0.
std::vector<ChunkTask> planChunks(const std::vector<protocol::FileDescription> &files);

struct BlockPickerSettings {
    enum class Order {
        RarestFirst, // a download to disk: the swarm's order (above)
        InOrder,     // a streamed install: the wanted chunks, first one first
    };
    Order order = Order::RarestFirst;
    // 1 MiB: small enough that the last blocks of a download are short on any source, large
    // enough that a request's overhead is negligible at LAN speed.
    uint64_t blockSize = uint64_t(1) << 20;
    // Blocks in flight per source: enough to keep a fast link busy across request round trips.
    unsigned depth = 8;
    // Seeds the random order that breaks ties between equally rare chunks.
    uint64_t seed = 0;
};

// A chunk task (file, index, offset, length, hash) and the blocks it is cut into.
struct PlannedChunk : ChunkTask {
    std::size_t firstBlock = 0; // id of its first block
    std::size_t blockCount = 0; // at least 1
};

struct PlannedBlock {
    std::size_t chunk = 0; // chunk id
    std::size_t file = 0;  // index into the file list
    uint64_t offset = 0;   // byte offset within the file
    uint64_t length = 0;   // bytes
};

// What blockReceived() tells the caller.
struct BlockArrival {
    // This copy counts: write it. False for a copy that lost the endgame race (or a block the
    // source no longer had in flight): discard its bytes.
    bool accepted = false;
    // Sources whose request for the same block is now redundant: cancel those requests.
    std::vector<std::string> cancel;
    // Every block of the chunk has arrived: verify it, then chunkVerified() or chunkFailed().
    bool chunkReady = false;
};

class BlockPicker {
  public:
    // done: (file, chunk index) pairs already verified locally; they are not scheduled.
    BlockPicker(const std::vector<protocol::FileDescription> &files,
                const std::set<std::pair<std::size_t, uint64_t>> &done = {},
                BlockPickerSettings settings = {});

    // Sources. A complete source has every chunk; a partial one has the chunks it announced.
    void addSource(const std::string &peerId); // complete
    // Replaces the chunks a source has (indexed by chunk id; missing entries count as not
    // had). An unknown peer becomes a partial source. Blocks already in flight on it stay.
    void setAvailability(const std::string &peerId, const std::vector<bool> &chunks);
    // The source has verified one more chunk. An unknown peer becomes a partial source.
    void addHave(const std::string &peerId, std::size_t chunkId);
    // The source is gone: its in-flight blocks are given back. Returns their ids.
    std::vector<std::size_t> removeSource(const std::string &peerId);
    // The source sent bad data: like removeSource, and it is never used again.
    std::vector<std::size_t> rejectSource(const std::string &peerId);
    bool hasSource(const std::string &peerId) const;
    // Blocks this source may have in flight from now on (default: the settings' depth; at
    // least 1). Blocks already in flight stay.
    void setDepth(const std::string &peerId, unsigned depth);
    std::vector<std::string> sources() const; // usable sources, sorted
    bool sourceHas(const std::string &peerId, std::size_t chunkId) const;

    // InOrder only: the chunks to give out from now on, most urgent first (ids; unknown and
    // verified ones are skipped). Blocks already in flight stay in flight.
    void setWanted(std::vector<std::size_t> chunkIds);
    // A verified chunk is needed again (its bytes were released): all its blocks pending, no
    // longer verified (bytesVerified() and verifiedCount() go down). No-op for an unverified
    // chunk.
    void refetch(std::size_t chunkId);

    // The next block for this source, or nullopt (depth reached, nothing it has is left, or
    // finished). Marks it in flight on that source since nowNs.
    std::optional<std::size_t> next(const std::string &peerId, uint64_t nowNs);
    // A block's bytes arrived in full from this source.
    BlockArrival blockReceived(std::size_t blockId, const std::string &peerId);
    // The block's request failed on this source: pending again unless in flight elsewhere.
    void blockFailed(std::size_t blockId, const std::string &peerId);
    // The source refused the block for now: pending again unless in flight elsewhere, and not
    // given to that source before untilNs.
    void blockDeferred(std::size_t blockId, const std::string &peerId, uint64_t untilNs);
    // The chunk's hash matched. False (and nothing changes) unless all its blocks arrived.
    bool chunkVerified(std::size_t chunkId);
    // The chunk's hash did not match: all its blocks are pending again. Returns the sources
    // whose blocks made it up, sorted.
    std::vector<std::string> chunkFailed(std::size_t chunkId);

    const PlannedChunk &chunk(std::size_t chunkId) const { return _chunks.at(chunkId); }
    const PlannedBlock &block(std::size_t blockId) const { return _blocks.at(blockId); }
    std::size_t chunkCount() const { return _chunks.size(); }
    std::size_t blockCount() const { return _blocks.size(); }
    bool finished() const { return _verifiedCount == _chunks.size(); }
    bool isVerified(std::size_t chunkId) const { return _chunkState.at(chunkId).verified; }
    // What this peer can serve: one entry per chunk id, true once verified.
    std::vector<bool> verifiedChunks() const;
    std::size_t verifiedCount() const { return _verifiedCount; }
    uint64_t bytesTotal() const { return _bytesTotal; }
    uint64_t bytesVerified() const { return _bytesVerified; } // includes chunks done at start
    std::size_t pendingCount() const; // blocks neither arrived nor in flight, chunks unverified
    std::size_t inFlight(const std::string &peerId) const;
    // How many usable sources have the chunk.
    std::size_t availability(std::size_t chunkId) const;
    // Unverified chunks with blocks still to fetch that no usable source has: the download
    // cannot finish until some source announces them.
    std::vector<std::size_t> stuckChunks() const;
    bool finishedPossible() const { return stuckChunks().empty(); }

  private:
    struct Source {
        bool complete = false;
        std::vector<bool> has;                // partial sources: by chunk id
        std::map<std::size_t, uint64_t> sent; // blocks in flight -> requested at (ns)
        unsigned depth = 0;                   // 0: the settings' depth
        bool rejected = false;
    };
    struct ChunkState {
        bool verified = false;
        std::size_t pending = 0;     // blocks neither arrived nor in flight
        std::size_t received = 0;    // blocks arrived
        std::size_t partialHave = 0; // usable partial sources that have it
        bool pinToOne = false;       // after a failure with several senders
        std::string pinnedTo;        // the one source its blocks go to meanwhile
        uint64_t tieRank = 0;        // random order among equally rare chunks
    };
    struct BlockState {
        unsigned copies = 0; // sources it is in flight on (at most 2)
        bool received = false;
        std::string from;                           // the source whose copy was accepted
        std::vector<std::string> failedOn;          // sources its request failed on
        std::map<std::string, uint64_t> deferredOn; // sources that refused it -> until (ns)
    };

    bool usable(const Source &s) const { return !s.rejected; }
    bool has(const Source &s, std::size_t chunkId) const;
    // Whether this source may be given a block of the chunk at all (pin).
    bool pinAllows(std::size_t chunkId, const std::string &peerId) const;
    // The first pending block of the chunk this source may take at nowNs, if any.
    std::optional<std::size_t> pendingBlockFor(std::size_t chunkId, const std::string &peerId,
                                               uint64_t nowNs);
    bool deferred(const BlockState &block, const std::string &peerId, uint64_t nowNs) const;
    // Another usable source, not peerId and not in excluded, that has the chunk.
    bool otherSourceHas(std::size_t chunkId, const std::string &peerId,
                        const std::vector<std::string> &excluded) const;
    bool anyTakeablePending() const;
    std::optional<std::size_t> endgameBlockFor(const std::string &peerId, uint64_t nowNs);
    // InOrder: the first pending block this source may take of the first wanted chunk that
    // has one, else a second copy of a block of the earliest wanted chunk in flight elsewhere.
    std::optional<std::size_t> wantedBlockFor(const std::string &peerId, const Source &source,
                                              uint64_t nowNs);
    std::optional<std::size_t> wantedEndgameBlockFor(const std::string &peerId,
                                                     const Source &source, uint64_t nowNs);
    void give(std::size_t blockId, const std::string &peerId, Source &source, uint64_t nowNs);
    // One copy of the block is no longer in flight: pending again when it was the last.
    void dropCopy(std::size_t blockId);
    // The source stops counting for availability (left or rejected).
    void forgetAvailability(Source &source);
    std::vector<std::size_t> takeBack(const std::string &peerId, Source &source);

    std::vector<PlannedChunk> _chunks;
    std::vector<PlannedBlock> _blocks;
    std::vector<ChunkState> _chunkState;
    BlockPickerSettings::Order _order;
    std::vector<std::size_t> _wanted; // InOrder: chunk ids, most urgent first
    std::vector<BlockState> _blockState;
    std::map<std::string, Source> _sources;
    std::size_t _completeSources = 0; // usable complete sources
    unsigned _depth;
    std::size_t _verifiedCount = 0;
    uint64_t _bytesTotal = 0;
    uint64_t _bytesVerified = 0;
};

} // namespace lanspread::kernel::transfer
