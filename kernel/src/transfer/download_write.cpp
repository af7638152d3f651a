// Download: a chunk whose bytes all arrived is hashed on the worker pool and written only
// when the hash matches, so bytes that fail verification never reach the disk; the
// 4 KiB-aligned part goes straight to the device (O_DIRECT), any tail through the page cache.

#include "download_internal.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <cerrno>

namespace lanspread::kernel::transfer {

using namespace detail;

// Writes all of [data, data+size) at offset; false with errno set on failure.
static bool writeAll(int fd, const uint8_t *data, std::size_t size, uint64_t offset) {
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// Writes one verified chunk; "" or what went wrong.
static std::string writeChunk(Download::OpenFile &file, const uint8_t *data, std::size_t size,
                              uint64_t offset) {
    std::lock_guard lock(file.writeMutex);
    std::size_t direct = 0;
    if (file.directFd >= 0 && offset % kDirectAlign == 0)
        direct = size - size % kDirectAlign;
    if (direct > 0 && !writeAll(file.directFd, data, direct, offset)) {
        if (errno != EINVAL)
            return "cannot write " + file.path + ": " + base::errnoText(errno);
        ::close(file.directFd); // no O_DIRECT after all: the page cache from now on
        file.directFd = -1;
        direct = 0;
    }
    if (direct < size && !writeAll(file.fd, data + direct, size - direct, offset + direct))
        return "cannot write " + file.path + ": " + base::errnoText(errno);
    return "";
}

void Download::verifyAndWrite(uint64_t key) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    const PlannedChunk &chunk = _picker->chunk(f.chunk);
    const std::size_t chunkId = f.chunk;
    const std::string peerId = f.peer;
    uint8_t *block = f.block;
    f.block = nullptr;
    _network.forgetRequest(f.request);
    _inFlight.erase(it);
    _bytesWriting += chunk.length;
    ++_chunksWriting;
    ++_activeJobs;
    auto self = shared_from_this();
    std::shared_ptr<OpenFile> file = _provider ? nullptr : _open.at(chunk.file);
    const std::size_t size = static_cast<std::size_t>(chunk.length);
    const uint64_t offset = chunk.offset;
    const std::string expected = chunk.hash;
    const bool streamed = _provider != nullptr;
    _workers.submit(
        [self, file, block, size, offset, expected, chunkId, peerId, streamed, pool = _pool] {
            base::Sha256 hash;
            if (size > 0)
                hash.update(block, size);
            const std::string digest = hash.hexDigest();
            std::string error;
            uint8_t *kept = nullptr; // a streamed chunk that matched: the provider gets it
            if (digest == expected && streamed)
                kept = block;
            else if (digest == expected && size > 0)
                error = writeChunk(*file, block, size, offset);
            if (block != nullptr && kept == nullptr)
                pool->put(block);
            self->_reactor.post([self, chunkId, peerId, digest, error, kept, pool] {
                --self->_activeJobs;
                if (self->_ending) {
                    if (kept != nullptr)
                        pool->put(kept);
                    self->end(self->_outcome);
                    return;
                }
                self->onVerified(chunkId, peerId, digest, error, kept);
            });
        });
}

} // namespace lanspread::kernel::transfer
