// Internal to the download engine (kernel/src/transfer/download*.cpp): its tunables and the
// state it shares between its phases. Nothing outside those files includes this. One file
// per job:
//   download.cpp           the object: construction, cancel, the one end of every outcome
//   download_describe.cpp  describe (GetGame to every source) and vote (the file list)
//   download_prepare.cpp   prepare on the worker pool: open the files, keep verified chunks
//                          (resume); then the transfer phase begins
//   download_transfer.cpp  requests: the picker's chunks to sources, arriving bytes, failed
//                          and lost sources, progress and stalls
//   download_sources.cpp   the swarm: which peers serve this list (complete or partial), what
//                          they announce, and what this peer serves of it meanwhile
//   download_write.cpp     a received chunk hashed and, when it matches, written (O_DIRECT) on
//                          the worker pool
//   download_commit.cpp    commit on the worker pool: fsync, stale files, version.ini last
#pragma once

#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/download.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

namespace detail {
constexpr const char *kSource = "download";
constexpr std::size_t kWriteBlock = 1u << 20; // bytes per disk job: one chunk
static_assert(kWriteBlock == catalog::kChunkSize, "a chunk is collected in one pooled buffer");
constexpr std::size_t kDirectAlign = 4096; // O_DIRECT alignment of memory, offset, length
constexpr unsigned kMaxChunkAttempts = 8;
constexpr unsigned kMaxSourceFailures = 3; // consecutive, before a source is dropped
constexpr uint64_t kProgressIntervalNs = 500'000'000ull;
// A source that answers nothing for this long is treated as failed for that request (the
// connection may still be alive: keep-alives do not move chunks).
constexpr uint64_t kStallNs = 20'000'000'000ull;
constexpr uint64_t kDescribeTimeoutNs = 15'000'000'000ull;
// A chunk a seeder refused as "elsewhere" (it is spreading chunks among its requesters) is
// asked of that seeder again after this long, unless another source had it meanwhile.
constexpr uint64_t kElsewhereRetryNs = 2'000'000'000ull;
// Chunks in flight per source, adapted to how fast the source answers. Enough requests keep
// a link busy across round trips and the serving side's disk reads (at 1 Gbit/s a chunk
// takes 8 ms); too many make every chunk slow, because the requests share the source's
// upload: with 8 receivers x 4 requests on one seeder a chunk needs 32 chunk-times to
// arrive, and a party relays a chunk only once it arrived. So the depth of a source grows
// while its chunks arrive within kTargetLatencyNs of the request and shrinks while they
// take longer, as a delay-based window does.
constexpr unsigned kStartDepth = 2;
constexpr unsigned kMaxDepth = 8;
constexpr uint64_t kTargetLatencyNs = 250'000'000ull;
// Chunk buffers (1 MiB each) alive at once: requests in flight plus chunks waiting to be
// hashed and written. When the disk or the hashing is slower than the network, requests
// wait for buffers, so memory stays bounded whatever the number of sources.
constexpr std::size_t kMaxChunkBuffers = 16;
// version.ini is written under this reserved name and renamed into place last.
constexpr const char *kVersionTemp = ".version.ini.download";
} // namespace detail

// The buffers and writers below are sized by these.
using detail::kDirectAlign;
using detail::kWriteBlock;

struct Download::OpenFile {
    int fd = -1;
    // The same file opened with O_DIRECT (-1 where the filesystem has none): received bytes
    // go straight to the device instead of being copied into the page cache first, which on
    // a small machine costs more CPU than hashing them. Tails not 4 KiB-aligned use fd.
    int directFd = -1;
    std::string path;
    // Held around a write: directFd may be closed by the first write that finds O_DIRECT
    // unsupported.
    std::mutex writeMutex;
    ~OpenFile() {
        if (fd >= 0)
            ::close(fd);
        if (directFd >= 0)
            ::close(directFd);
    }
};

// 1 MiB, 4 KiB-aligned buffers (O_DIRECT needs aligned memory), reused so that receiving does
// not fault in fresh pages for every block. Thread: any.
class Download::BlockPool {
  public:
    ~BlockPool() {
        for (uint8_t *b : _free)
            std::free(b);
    }
    uint8_t *get() {
        {
            std::lock_guard lock(_mutex);
            if (!_free.empty()) {
                uint8_t *b = _free.back();
                _free.pop_back();
                return b;
            }
        }
        void *b = std::aligned_alloc(kDirectAlign, kWriteBlock);
        if (b == nullptr)
            throw std::bad_alloc();
        return static_cast<uint8_t *>(b);
    }
    void put(uint8_t *b) {
        std::lock_guard lock(_mutex);
        if (_free.size() < detail::kMaxChunkBuffers)
            _free.push_back(b);
        else
            std::free(b);
    }

  private:
    std::mutex _mutex;
    std::vector<uint8_t *> _free;
};

// One request: a chunk from a source. Its bytes are collected in a pooled buffer (a chunk is
// at most one buffer) and handed to the worker pool once all of them arrived.
struct Download::InFlight {
    std::size_t chunk = 0;
    std::string peer;
    peers::PeerNetwork::RequestId request = 0;
    uint64_t startNs = 0;
    uint8_t *block = nullptr; // from the pool, once the first byte arrives
    std::size_t fill = 0;
    uint64_t lastDataNs = 0;
};

} // namespace lanspread::kernel::transfer
