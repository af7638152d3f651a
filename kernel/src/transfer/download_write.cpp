// Download: received blocks are written and hashed on the worker pool, one job per chunk at
// a time so the hash sees the bytes in order; the 4 KiB-aligned part goes straight to the
// device (O_DIRECT). Bytes are released to the transport only once written.

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

void Download::submitBlock(uint64_t key, InFlight &f) {
    if (f.block == nullptr)
        return;
    // One disk job per chunk at a time keeps the hash in order.
    const ChunkTask &task = _scheduler->task(f.chunk);
    std::shared_ptr<ChunkWriter> w = f.writer;
    const uint64_t offset = task.offset + f.submitted;
    f.submitted += f.fill;
    bool startJob = false;
    {
        std::lock_guard lock(w->mutex);
        w->queue.push_back({offset, f.block, f.fill});
        if (!w->running)
            startJob = w->running = true;
    }
    f.block = nullptr;
    f.fill = 0;
    if (!startJob)
        return;
    ++_activeJobs;
    auto self = shared_from_this();
    _workers.submit([self, w, key, pool = _pool] {
        for (;;) {
            ChunkWriter::Item item{};
            {
                std::lock_guard lock(w->mutex);
                if (w->queue.empty()) {
                    w->running = false;
                    break;
                }
                item = w->queue.front();
                w->queue.pop_front();
            }
            std::string error;
            {
                std::lock_guard fileLock(w->file->writeMutex);
                if (!w->abandoned && w->error.empty()) {
                    OpenFile &file = *w->file;
                    // The 4 KiB-aligned part directly to the device, any tail through the
                    // page cache.
                    std::size_t direct = 0;
                    if (file.directFd >= 0 && item.offset % kDirectAlign == 0)
                        direct = item.size - item.size % kDirectAlign;
                    bool ok = true;
                    if (direct > 0 && !writeAll(file.directFd, item.block, direct, item.offset)) {
                        if (errno == EINVAL) { // no O_DIRECT after all: page cache from now on
                            ::close(file.directFd);
                            file.directFd = -1;
                            direct = 0;
                        } else {
                            ok = false;
                        }
                    }
                    if (ok && direct < item.size)
                        ok = writeAll(file.fd, item.block + direct, item.size - direct,
                                      item.offset + direct);
                    if (!ok)
                        w->error = error =
                            "cannot write " + file.path + ": " + base::errnoText(errno);
                }
            }
            if (!w->abandoned && error.empty())
                w->hash.update(item.block, item.size);
            pool->put(item.block);
            const std::size_t bytes = item.size;
            self->_reactor.post([self, key, bytes, error] { self->onWritten(key, bytes, error); });
        }
        self->_reactor.post([self] {
            --self->_activeJobs;
            if (self->_ending)
                self->end(self->_outcome);
        });
    });
}

void Download::onWritten(uint64_t key, std::size_t bytes, const std::string &writeError) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    f.written += bytes;
    _network.releaseChunkBytes(f.request, bytes);
    if (!writeError.empty()) {
        log::error(kSource, _game.id + ": " + writeError);
        end({DownloadOutcome::Kind::Failed, writeError});
        return;
    }
    maybeVerify(key);
}

} // namespace lanspread::kernel::transfer
