// Chunk planning for a multi-source download (docs/protocol.md, "Requests"): the one place that
// decides which source fetches which chunk. Every chunk of every file is a unit of work
// (catalog::kChunkSize, the last one of a file shorter; an empty file is one chunk of length 0).
// Rules:
//   - each source keeps up to depth() requests in flight, so no source idles between chunks;
//   - work goes to whichever source asks (pull), so a faster source naturally takes more;
//     near the end a slow source is not given a chunk that the fastest source would finish
//     sooner (estimated from measured per-source rates), so slower sources get less;
//   - a failed chunk goes back to the queue and is not given to the same source again while
//     another source is available; a rejected source (bad data) gets nothing more;
//   - chunks already verified on disk (resume) are never scheduled.
// Pure logic, no I/O, no clock of its own (times are passed in). Thread: one (the reactor).
#pragma once

#include <lanspread/kernel/protocol/messages.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

struct ChunkTask {
    std::size_t file = 0; // index into the file list
    uint64_t index = 0;   // chunk index within the file
    uint64_t offset = 0;  // byte offset within the file
    uint64_t length = 0;  // bytes
    std::string hash;     // expected lowercase hex SHA-256
};

// Every chunk of every file, in file order: the unit of work both planners (ChunkScheduler and
// BlockPicker) start from. An empty file is one chunk of length 0.
std::vector<ChunkTask> planChunks(const std::vector<protocol::FileDescription> &files);

class ChunkScheduler {
  public:
    static constexpr unsigned kDefaultDepth = 2;

    // done: (file, chunk index) pairs already verified locally; they are not scheduled.
    ChunkScheduler(const std::vector<protocol::FileDescription> &files,
                   const std::set<std::pair<std::size_t, uint64_t>> &done = {},
                   unsigned depth = kDefaultDepth);

    void addSource(const std::string &peerId);
    // The source is gone: its in-flight chunks go back to the queue. Returns their ids.
    std::vector<std::size_t> removeSource(const std::string &peerId);
    // The source sent bad data: like removeSource, and it is never used again.
    std::vector<std::size_t> rejectSource(const std::string &peerId);
    bool hasSource(const std::string &peerId) const;
    std::vector<std::string> sources() const; // usable sources, sorted

    // The next chunk id for this source, or nullopt (depth reached, nothing suitable, or
    // finished). Marks it in flight on that source. nowNs feeds the rate estimates.
    std::optional<std::size_t> next(const std::string &peerId, uint64_t nowNs);
    // The chunk arrived and verified: done. durationNs is request-to-last-byte.
    void completed(std::size_t chunkId, const std::string &peerId, uint64_t durationNs);
    // The chunk failed on this source (error reply, hash mismatch, stream reset): queued again.
    void failed(std::size_t chunkId, const std::string &peerId);

    const ChunkTask &task(std::size_t chunkId) const { return _tasks.at(chunkId); }
    std::size_t taskCount() const { return _tasks.size(); }
    bool finished() const { return _doneCount == _tasks.size(); }
    std::size_t doneCount() const { return _doneCount; }
    std::size_t pendingCount() const; // neither done nor in flight
    std::size_t inFlight(const std::string &peerId) const;
    uint64_t bytesTotal() const { return _bytesTotal; }
    uint64_t bytesDone() const { return _bytesDone; } // includes chunks done at construction
    // Estimated bytes per second of a source (0 until it completed a chunk).
    double rate(const std::string &peerId) const;

  private:
    enum class State { Pending, InFlight, Done };
    struct Source {
        std::set<std::size_t> inFlight;
        uint64_t bytes = 0;  // completed bytes
        uint64_t busyNs = 0; // summed request durations
        double rate = 0;     // bytes/s, smoothed
        bool rejected = false;
    };
    std::vector<ChunkTask> _tasks;
    std::vector<State> _state;
    std::vector<std::set<std::string>> _failedOn; // sources a chunk failed on
    std::map<std::string, Source> _sources;
    unsigned _depth;
    std::size_t _doneCount = 0;
    uint64_t _bytesTotal = 0;
    uint64_t _bytesDone = 0;
};

} // namespace lanspread::kernel::transfer
