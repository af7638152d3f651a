// The stream provider (docs/streamed-install.md): a game's archives offered to the unpackers
// as byte sources with no file behind them (lanspread_byte_source.path == NULL), fed with
// chunks that have already been verified against their SHA-256. It is the meeting point of
// two threads:
//
//   - the fetcher (the download engine, on the reactor) asks wanted() which chunks the reader
//     needs next, fetches them from any source, verifies them and hands them over with
//     deliver(); fail() ends the stream (every source gone, cancel, a disk error);
//   - the reader (the install transaction, on a worker) opens archive after archive, in the
//     given order, and reads through source(): a read blocks until the chunk under the read
//     position is delivered; a seek (zip's central directory, 7z's header at the end) moves
//     the read position, and the fetcher is told to fetch there next.
//
// Memory budget: at most budget.windowChunks chunks are wanted ahead of the read position
// (the read-ahead window: chunks of the current archive and then of the next ones), and at
// most budget.maxHeldChunks delivered chunks are held at once. Every delivered chunk of the
// current archive or a later one is taken, wanted or not (a request made before a seek that
// arrives after it is still worth its bytes), and reading releases nothing: a zip reader reads
// its start, its central directory at the end, goes back to the start and comes back to the
// last chunk for the last entries, and each of those chunks is fetched once while the budget
// has room. Chunks are released when the next archive is opened (every chunk of the earlier
// ones), by fail(), and by the budget: while more than maxHeldChunks are held, the chunks
// behind the read position go first (the farthest behind first), then those ahead of it
// outside the window (the farthest first), then window chunks (the farthest first), never the
// chunk under the read position; a chunk just delivered may be the one to go. A chunk the
// reader needs after it was released is simply wanted again; what is held when the last
// archive is read goes with the provider.
//
// Chunk ids are the download plan's (the picker's): archive k's chunk i is
// archives[k].firstChunk + i; every chunk is catalog::kChunkSize long except the last of an
// archive. An empty archive has nothing to fetch: its chunk (a plan gives it one, of 0 bytes)
// is never wanted. Thread: wanted(), deliver(), fail(), the counters: any thread (the fetcher's);
// source(), head(), open(): the one reader thread. wake is called on either thread, never
// while the provider's lock is held.
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/result.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lanspread::kernel::install {

// One archive of the stream.
struct StreamArchive {
    std::string name;           // root file name ("game.eti"): for probing and messages
    uint64_t size = 0;          // bytes
    std::size_t firstChunk = 0; // the plan's chunk id of its first chunk
};

struct StreamBudget {
    // Chunks wanted ahead of (and including) the one under the read position: 32 MiB keeps
    // a 1 Gbit/s link busy across the round trips of several sources.
    std::size_t windowChunks = 32;
    // Delivered chunks held at most: the window plus what a seek left behind (zip's central
    // directory region).
    std::size_t maxHeldChunks = 48;
};

class StreamProvider {
  public:
    // Verified bytes of one chunk; the deleter gives the buffer back to whoever lent it.
    using ChunkBytes = std::shared_ptr<const uint8_t>;

    // archives: in the order they are installed (sorted by name). wake: the set of wanted
    // chunks may have changed (another chunk is under the read position, or an archive was
    // opened); called on any thread.
    StreamProvider(std::vector<StreamArchive> archives, StreamBudget budget,
                   std::function<void()> wake);
    ~StreamProvider();
    StreamProvider(const StreamProvider &) = delete;
    StreamProvider &operator=(const StreamProvider &) = delete;

    const std::vector<StreamArchive> &archives() const { return _archives; }
    const StreamBudget &budget() const { return _budget; }

    // --- fetcher side ---

    // The chunks to fetch now, most urgent first: the chunk under the read position, then
    // the read-ahead window in order, leaving out chunks already held. Empty once the last
    // archive is fully read (or the stream failed).
    std::vector<std::size_t> wanted() const;
    // A verified chunk (size bytes). Taken when it belongs to the current archive or a later
    // one, wanted or not; ignored when it is already held (a late endgame copy), belongs to an
    // archive before the current one, or the stream failed. Then the budget is enforced (the
    // chunk itself may go at once). Wakes a blocked reader.
    void deliver(std::size_t chunkId, ChunkBytes bytes, std::size_t size);
    // Ends the stream: blocked and later reads return status (E_IO, or E_CANCELLED for a
    // cancel). The first call wins. Held chunks are released.
    void fail(lanspread_status status, std::string why);
    bool failed() const;
    // The status and reason fail() was given (OK before the stream failed).
    Status failure() const;

    // The reader is blocked waiting for a chunk (rather than unpacking or writing): what a
    // virtual-time test needs to know before it lets time move. False from fail() on.
    bool readerWaiting() const;

    // Memory actually used, for the budget's proof (bytes of held chunks: now, and the peak).
    uint64_t heldBytes() const;
    uint64_t peakHeldBytes() const;

    // --- reader side ---

    // Makes archive k the current one, read position 0 (archives are read in order; k may
    // also repeat the current one, to start over after a refused open). The previous
    // archive's chunks are released.
    void open(std::size_t archive);
    // Up to maxBytes from the start of the current archive, for probing the unpackers; blocks
    // until its first chunk is delivered. Does not move the read position. Errors: the
    // stream's failure status and reason.
    Result<std::vector<uint8_t>> head(std::size_t maxBytes);
    // The current archive as a byte source: path NULL; read blocks for data; seek (SET, CUR,
    // END) anywhere within [0, size]; size is the archive's. Valid until the provider goes.
    const lanspread_byte_source *source() const { return &_source; }
    // Why the last read or seek failed ("" when none did): for the install's error message.
    std::string lastError() const;

  private:
    // Where a plan chunk id lies: which archive, which chunk of it.
    struct Place {
        std::size_t archive = 0;
        uint64_t index = 0;
    };
    struct Held {
        ChunkBytes bytes;
        std::size_t size = 0;
    };

    // Blocks (lock held by the caller) until chunkId is held or the stream failed.
    void waitForChunk(std::unique_lock<std::mutex> &lock, std::size_t chunkId);
    lanspread_status readSome(uint8_t *buffer, std::size_t capacity, std::size_t *outRead);
    lanspread_status seekTo(int64_t offset, int32_t whence, int64_t *outPosition);

    // Locked helpers (the caller holds _mutex). "Stream order" numbers the chunks of all
    // archives one after the other (archive 0's, then archive 1's, ...), whatever their plan
    // ids; distances and the window are counted in it.
    uint64_t chunksOf(std::size_t archive) const; // 0 for an empty archive: nothing to fetch
    std::optional<Place> placeOf(std::size_t chunkId) const;
    uint64_t orderOf(const Place &place) const;
    // The stream order of the chunk under the read position; when the current archive is read
    // to its end, that of the next archive's first chunk.
    uint64_t readOrderLocked() const;
    // The read-ahead window: up to _windowChunks plan ids from the read position on, in order
    // (stream orders readOrderLocked() .. + _windowChunks - 1).
    std::vector<std::size_t> windowLocked() const;
    std::vector<std::size_t> wantedLocked() const;
    // Drops one held chunk; its bytes are moved to released so that they are given back
    // (their deleter runs) after the lock is let go.
    void releaseLocked(std::size_t chunkId, std::vector<ChunkBytes> &released);
    // While more than maxHeldChunks are held, drops one: behind the read position first (the
    // farthest behind), then ahead of it outside the window (the farthest), then in the window
    // (the farthest: it would be wanted again at once); never the chunk under the read position.
    void enforceBudgetLocked(std::vector<ChunkBytes> &released);

    std::vector<StreamArchive> _archives;
    StreamBudget _budget;
    std::size_t _windowChunks = 1;     // budget.windowChunks, at most maxHeldChunks, at least 1
    std::vector<uint64_t> _firstOrder; // per archive: the stream order of its first chunk
    std::function<void()> _wake;
    lanspread_byte_source _source{};

    std::atomic<bool> _readerWaiting{false};
    mutable std::mutex _mutex;
    std::condition_variable _arrived;  // a chunk was delivered, or the stream failed
    std::map<std::size_t, Held> _held; // by plan chunk id
    std::size_t _current = 0;          // archive being read
    uint64_t _position = 0;            // read position within the current archive
    bool _failed = false;
    lanspread_status _failStatus = LANSPREAD_OK;
    std::string _failWhy;
    std::string _lastError;
    uint64_t _heldBytes = 0;
    uint64_t _peakHeldBytes = 0;
};

} // namespace lanspread::kernel::install
