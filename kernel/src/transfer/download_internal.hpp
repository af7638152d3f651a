// Internal to the download engine (kernel/src/transfer/download*.cpp): its tunables and the
// state it shares between its phases. Nothing outside those files includes this. One file
// per job:
//   download.cpp           the object: construction, cancel, the one end of every outcome
//   download_describe.cpp  describe (GetGame to every source) and vote (the file list)
//   download_prepare.cpp   prepare on the worker pool: open the files, keep verified chunks
//                          (resume); then the transfer phase begins
//   download_transfer.cpp  requests: the scheduler's chunks to sources, arriving bytes,
//                          verification, failed and lost sources, progress and stalls
//   download_write.cpp     received blocks written (O_DIRECT) and hashed on the worker pool
//   download_commit.cpp    commit on the worker pool: fsync, stale files, version.ini last
#pragma once

#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/transfer/download.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

namespace detail {
constexpr const char *kSource = "download";
constexpr std::size_t kWriteBlock = 1u << 20; // bytes per disk job
constexpr std::size_t kDirectAlign = 4096;    // O_DIRECT alignment of memory, offset, length
constexpr unsigned kMaxChunkAttempts = 8;
constexpr unsigned kMaxSourceFailures = 3; // consecutive, before a source is dropped
constexpr uint64_t kProgressIntervalNs = 500'000'000ull;
// A source that answers nothing for this long is treated as failed for that request (the
// connection may still be alive: keep-alives do not move chunks).
constexpr uint64_t kStallNs = 20'000'000'000ull;
constexpr uint64_t kDescribeTimeoutNs = 15'000'000'000ull;
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
    std::mutex writeMutex; // held for abandoned-check + pwrite (see ChunkWriter)
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
        if (_free.size() < 64)
            _free.push_back(b);
        else
            std::free(b);
    }

  private:
    std::mutex _mutex;
    std::vector<uint8_t *> _free;
};

// Writes and hashes one chunk's bytes in order, on the worker pool. A writer abandoned by the
// reactor (its request failed) writes nothing more: the flag is checked under the file's
// write mutex, so a refetch of the same chunk can never be overwritten by stale bytes.
struct Download::ChunkWriter {
    std::shared_ptr<OpenFile> file;
    base::Sha256 hash;
    std::mutex mutex;
    struct Item {
        uint64_t offset; // in the file
        uint8_t *block;  // from the BlockPool; returned after the write
        std::size_t size;
    };
    std::deque<Item> queue;
    bool running = false;
    std::atomic<bool> abandoned{false};
    std::string error;
};

struct Download::InFlight {
    std::size_t chunk = 0;
    std::string peer;
    peers::PeerNetwork::RequestId request = 0;
    uint64_t startNs = 0;
    std::shared_ptr<ChunkWriter> writer;
    uint8_t *block = nullptr; // being filled (from the pool)
    std::size_t fill = 0;
    uint64_t submitted = 0; // bytes handed to the writer
    uint64_t written = 0;   // bytes the writer reported
    bool ended = false;     // the request completed (all bytes arrived)
    uint64_t lastDataNs = 0;
};

} // namespace lanspread::kernel::transfer
