#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/transfer/download.hpp>
#include <lanspread/kernel/transfer/manifest_vote.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <set>

namespace lanspread::kernel::transfer {

namespace {
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

std::string errnoText(int e) {
    return std::strerror(e);
}

// Opens (creating directories) rel below rootFd without following any link.
int openBelow(int rootFd, const std::string &rel, bool createFile, std::string &error) {
    int cur = ::dup(rootFd);
    std::size_t pos = 0;
    for (;;) {
        auto slash = rel.find('/', pos);
        const std::string part =
            rel.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
        if (slash == std::string::npos) {
            int fd = ::openat(cur, part.c_str(),
                              O_RDWR | O_CLOEXEC | O_NOFOLLOW | (createFile ? O_CREAT : 0), 0644);
            if (fd < 0)
                error = "cannot open " + rel + ": " + errnoText(errno);
            ::close(cur);
            return fd;
        }
        if (::mkdirat(cur, part.c_str(), 0755) != 0 && errno != EEXIST) {
            error = "cannot create directory " + rel.substr(0, slash) + ": " + errnoText(errno);
            ::close(cur);
            return -1;
        }
        int next = ::openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        ::close(cur);
        if (next < 0) {
            error = "cannot enter directory " + rel.substr(0, slash) + ": " + errnoText(errno);
            return -1;
        }
        cur = next;
        pos = slash + 1;
    }
}

std::string diskName(const std::string &path) {
    return path == "version.ini" ? kVersionTemp : path;
}

// Removes regular files and links below root that the file list does not name (a previous
// version's leftovers), never touching local/ or lanspread's reserved names.
void removeStale(const std::string &root, const std::string &rel,
                 const std::set<std::string> &keep) {
    const std::string dirPath = rel.empty() ? root : root + "/" + rel;
    DIR *dir = ::opendir(dirPath.c_str());
    if (dir == nullptr)
        return;
    std::vector<std::string> names;
    while (dirent *e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        if (rel.empty() && library::isReservedRootName(name))
            continue;
        names.push_back(name);
    }
    ::closedir(dir);
    for (const auto &name : names) {
        const std::string relPath = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::lstat((root + "/" + relPath).c_str(), &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            removeStale(root, relPath, keep);
        else if (!keep.count(relPath) && !(rel.empty() && name == "version.ini"))
            ::unlink((root + "/" + relPath).c_str());
    }
}
} // namespace

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
    catalog::Sha256 hash;
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

Download::Download(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
                   peers::PeerNetwork &network, std::string gamesDir, catalog::CatalogGame game,
                   std::vector<std::string> sources, Done done)
    : _reactor(reactor), _workers(workers), _events(events), _network(network),
      _gamesDir(std::move(gamesDir)), _game(std::move(game)), _askedSources(std::move(sources)),
      _done(std::move(done)), _pool(std::make_shared<BlockPool>()) {
    _root = _gamesDir + "/" + _game.id;
}

Download::~Download() {
    if (_progressTimer != 0)
        _reactor.stopTimer(_progressTimer);
    if (_describeTimer != 0)
        _reactor.stopTimer(_describeTimer);
}

std::string Download::addrOf(const std::string &peerId) const {
    return _network.peerAddr(peerId);
}

void Download::start() {
    _pendingAnswers = _askedSources.size();
    auto self = shared_from_this();
    // A source that never answers must not hold the download: vote with what arrived.
    _reactor.startTimer(
        kDescribeTimeoutNs,
        [weak = std::weak_ptr<Download>(self)] {
            auto d = weak.lock();
            if (!d || d->_phase != Phase::Describing)
                return;
            log::warning(kSource, d->_game.id + ": " + std::to_string(d->_pendingAnswers) +
                                      " source(s) gave no file list within 15 s");
            d->_pendingAnswers = 0;
            d->vote();
        },
        _describeTimer);
    for (const auto &peerId : _askedSources)
        _network.requestGameFiles(peerId, _game.id,
                                  [self, peerId](Result<protocol::GameFiles> files) {
                                      self->onDescribed(peerId, std::move(files));
                                  });
}

void Download::onDescribed(const std::string &peerId, Result<protocol::GameFiles> files) {
    if (_phase != Phase::Describing)
        return;
    if (files)
        _answers[peerId] = std::move(files.value());
    else
        log::warning(kSource, _game.id + ": peer " + peerId.substr(0, 12) +
                                  " gave no file list: " + files.status().message());
    if (--_pendingAnswers == 0) {
        if (_describeTimer != 0)
            _reactor.stopTimer(_describeTimer);
        _describeTimer = 0;
        vote();
    }
}

void Download::vote() {
    auto choice = voteManifest(_game.id, _game.version, _answers);
    if (!choice) {
        end({DownloadOutcome::Kind::Failed, choice.status().message()});
        return;
    }
    _files = choice.value().files;
    // The list comes from other peers: every path must be one we would write safely.
    bool hasVersion = false;
    for (std::size_t i = 0; i < _files.files.size(); ++i) {
        const std::string &path = _files.files[i].path;
        hasVersion = hasVersion || path == "version.ini";
        const std::string top = path.substr(0, path.find('/'));
        if (!isNormalisedRelativePath(path) || library::isReservedRootName(top) ||
            (i > 0 && (path <= _files.files[i - 1].path ||
                       path.rfind(_files.files[i - 1].path + "/", 0) == 0))) {
            end({DownloadOutcome::Kind::Failed,
                 "the file list of " + _game.id + " has an unusable path: " + path});
            return;
        }
    }
    if (!hasVersion) {
        end({DownloadOutcome::Kind::Failed,
             "the file list of " + _game.id + " has no version.ini"});
        return;
    }
    std::vector<contract::FileView> fileViews;
    for (const auto &f : _files.files)
        fileViews.push_back({f.path, f.size});
    std::vector<std::string> sourceAddrs;
    for (const auto &p : choice.value().sources)
        sourceAddrs.push_back(addrOf(p));
    const contract::Event got =
        contract::gotGameFiles(_game.id, fileViews, sourceAddrs, choice.value().sources);
    _events.publish(got.topic, got.payload);

    _scheduler = nullptr;
    std::vector<std::string> sources = choice.value().sources;
    _phase = Phase::Preparing;
    auto self = shared_from_this();
    const std::string root = _root;
    const protocol::GameFiles list = _files;
    ++_activeJobs;
    _workers.submit([self, root, list, sources] {
        std::set<std::pair<std::size_t, uint64_t>> done;
        std::vector<std::shared_ptr<OpenFile>> open;
        std::string error;
        ::mkdir(root.c_str(), 0755);
        int rootFd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (rootFd < 0)
            error = "cannot create " + root + ": " + errnoText(errno);
        // A root being downloaded is not "downloaded": the old sentinel goes first.
        if (rootFd >= 0 && ::unlinkat(rootFd, "version.ini", 0) != 0 && errno != ENOENT)
            error = "cannot remove the old version.ini: " + errnoText(errno);
        std::vector<char> buffer;
        for (std::size_t i = 0; error.empty() && i < list.files.size(); ++i) {
            const auto &f = list.files[i];
            auto file = std::make_shared<OpenFile>();
            file->path = diskName(f.path);
            file->fd = openBelow(rootFd, file->path, true, error);
            if (file->fd < 0)
                break;
            file->directFd = ::open(("/proc/self/fd/" + std::to_string(file->fd)).c_str(),
                                    O_RDWR | O_DIRECT | O_CLOEXEC);
            struct stat st {};
            ::fstat(file->fd, &st);
            if (!S_ISREG(st.st_mode)) {
                error = file->path + " is not a regular file";
                break;
            }
            // Resume: chunks already on disk with the right hash are kept.
            const uint64_t have = static_cast<uint64_t>(st.st_size);
            for (uint64_t c = 0; c < catalog::chunkCount(f.size); ++c) {
                const uint64_t off = c * catalog::kChunkSize, len = catalog::chunkLength(f.size, c);
                if (f.size > 0 && (len == 0 || off + len > have))
                    break;
                buffer.resize(1u << 20);
                catalog::Sha256 hash;
                uint64_t doneBytes = 0;
                bool readOk = true;
                while (doneBytes < len) {
                    const std::size_t want = static_cast<std::size_t>(
                        std::min<uint64_t>(buffer.size(), len - doneBytes));
                    ssize_t n =
                        ::pread(file->fd, buffer.data(), want, static_cast<off_t>(off + doneBytes));
                    if (n <= 0) {
                        readOk = false;
                        break;
                    }
                    hash.update(buffer.data(), static_cast<std::size_t>(n));
                    doneBytes += static_cast<uint64_t>(n);
                }
                if (readOk && hash.hexDigest() == f.chunkHashes[c])
                    done.insert({i, c});
            }
            if (have != f.size && ::ftruncate(file->fd, static_cast<off_t>(f.size)) != 0) {
                error = "cannot size " + file->path + ": " + errnoText(errno);
                break;
            }
            open.push_back(std::move(file));
        }
        if (rootFd >= 0)
            ::close(rootFd);
        self->_reactor.post(
            [self, done = std::move(done), open = std::move(open), error, sources]() mutable {
                --self->_activeJobs;
                self->_open = std::move(open);
                if (!error.empty()) {
                    self->prepared(Status(LANSPREAD_E_IO, error));
                    return;
                }
                self->_scheduler = std::make_unique<ChunkScheduler>(self->_files.files, done);
                for (const auto &p : sources)
                    self->_scheduler->addSource(p);
                self->prepared(std::move(done));
            });
    });
}

void Download::prepared(Result<std::set<std::pair<std::size_t, uint64_t>>> done) {
    if (_ending) {
        end(_outcome);
        return;
    }
    if (!done) {
        end({DownloadOutcome::Kind::Failed, done.status().message()});
        return;
    }
    _phase = Phase::Transferring;
    _attempts.assign(_scheduler->taskCount(), 0);
    _startNs = _reactor.now();
    _lastProgressNs = _startNs;
    _lastProgressBytes = _bytesReceived;
    std::vector<std::string> sourceAddrs;
    for (const auto &p : _scheduler->sources())
        sourceAddrs.push_back(addrOf(p));
    const contract::Event begin = contract::downloadBegin(_game.id, _scheduler->bytesTotal(),
                                                          _scheduler->bytesDone(), sourceAddrs);
    _events.publish(begin.topic, begin.payload);
    if (_scheduler->bytesDone() > 0)
        log::info(kSource, _game.id + ": resuming, " + std::to_string(_scheduler->bytesDone()) +
                               " of " + std::to_string(_scheduler->bytesTotal()) +
                               " bytes already verified on disk");
    auto self = shared_from_this();
    _reactor.startTimer(
        kProgressIntervalNs,
        [weak = std::weak_ptr<Download>(self)] {
            if (auto d = weak.lock()) {
                d->_progressTimer = 0;
                d->publishProgress();
            }
        },
        _progressTimer);
    if (_scheduler->finished()) {
        commit();
        return;
    }
    pump();
}

void Download::publishProgress() {
    if (_phase != Phase::Transferring)
        return;
    const uint64_t now = _reactor.now();
    const double seconds = double(now - _lastProgressNs) / 1e9;
    // Bytes move the bar as they arrive, not only when a whole (32 MiB) chunk verifies.
    const uint64_t bytes = _bytesReceived - _lastProgressBytes;
    uint64_t done = _scheduler->bytesDone();
    for (const auto &[key, f] : _inFlight)
        done += f->written;
    std::set<std::string> active;
    for (const auto &[key, f] : _inFlight)
        active.insert(f->peer);
    const contract::Event progress = contract::downloadProgress(
        {_game.id, std::min(done, _scheduler->bytesTotal()), _scheduler->bytesTotal(),
         seconds > 0 ? std::round(double(bytes) / 1048576.0 / seconds * 10) / 10 : 0.0,
         static_cast<int>(active.size())});
    _events.publish(progress.topic, progress.payload);
    _lastProgressNs = now;
    _lastProgressBytes = _bytesReceived;
    // Stalled requests (nothing for kStallNs, and not waiting for our own disk) fail over.
    std::vector<uint64_t> stalled;
    for (const auto &[key, f] : _inFlight)
        if (!f->ended && now - f->lastDataNs > kStallNs)
            stalled.push_back(key);
    for (auto key : stalled) {
        auto it = _inFlight.find(key);
        if (it == _inFlight.end())
            continue;
        _network.cancelRequest(it->second->request); // reset; its onEnd is not called
        onRequestEnd(key, Status(LANSPREAD_E_IO, "no data for 20 s"));
    }
    if (_phase != Phase::Transferring)
        return;
    _reactor.startTimer(
        kProgressIntervalNs,
        [weak = std::weak_ptr<Download>(shared_from_this())] {
            if (auto d = weak.lock()) {
                d->_progressTimer = 0;
                d->publishProgress();
            }
        },
        _progressTimer);
}

void Download::pump() {
    if (_phase != Phase::Transferring || _ending)
        return;
    const uint64_t now = _reactor.now();
    bool issued = true;
    while (issued) {
        issued = false;
        for (const auto &peerId : _scheduler->sources())
            if (auto chunk = _scheduler->next(peerId, now)) {
                request(peerId, *chunk);
                issued = true;
            }
    }
}

void Download::request(const std::string &peerId, std::size_t chunkId) {
    const ChunkTask &task = _scheduler->task(chunkId);
    auto flight = std::make_unique<InFlight>();
    flight->chunk = chunkId;
    flight->peer = peerId;
    flight->startNs = _reactor.now();
    flight->lastDataNs = flight->startNs;
    flight->writer = std::make_shared<ChunkWriter>();
    flight->writer->file = _open.at(task.file);
    const uint64_t key = _nextKey++;
    _inFlight[key] = std::move(flight);
    ++_attempts[chunkId];
    protocol::GetChunk get{_game.id, _files.files[task.file].path, task.offset, task.length};
    std::weak_ptr<Download> weak = shared_from_this();
    peers::PeerNetwork::ChunkHandler handler{[weak, key](std::span<const uint8_t> piece) {
                                                 if (auto d = weak.lock())
                                                     d->onPiece(key, piece);
                                             },
                                             [weak, key](const Status &status) {
                                                 if (auto d = weak.lock())
                                                     d->onRequestEnd(key, status);
                                             }};
    auto id = _network.requestChunk(peerId, get, std::move(handler));
    auto it = _inFlight.find(key);
    if (it != _inFlight.end())
        it->second->request = id;
}

void Download::onPiece(uint64_t key, std::span<const uint8_t> piece) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    f.lastDataNs = _reactor.now();
    _bytesReceived += piece.size();
    // Exactly kWriteBlock per block, so every block but a file's last starts and ends on a
    // 4 KiB boundary (chunks start on 32 MiB ones).
    while (!piece.empty()) {
        if (f.block == nullptr) {
            f.block = _pool->get();
            f.fill = 0;
        }
        const std::size_t n = std::min(piece.size(), kWriteBlock - f.fill);
        std::memcpy(f.block + f.fill, piece.data(), n);
        f.fill += n;
        piece = piece.subspan(n);
        if (f.fill == kWriteBlock)
            submitBlock(key, f);
    }
}

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
                        w->error = error = "cannot write " + file.path + ": " + errnoText(errno);
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

void Download::onRequestEnd(uint64_t key, const Status &status) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    if (status) {
        f.ended = true;
        submitBlock(key, f); // the last, partial block
        maybeVerify(key);
        return;
    }
    // The request failed on this source: the chunk goes back to the queue.
    const std::string peerId = f.peer;
    const std::size_t chunk = f.chunk;
    log::warning(kSource, _game.id + ": chunk " + std::to_string(chunk) + " from " +
                              peerId.substr(0, 12) + " failed: " + status.message());
    dropInFlight(key, false);
    if (_scheduler->hasSource(peerId))
        _scheduler->failed(chunk, peerId);
    if (_attempts[chunk] >= kMaxChunkAttempts) {
        end({DownloadOutcome::Kind::Failed, "chunk " + std::to_string(chunk) + " of " + _game.id +
                                                " failed " + std::to_string(_attempts[chunk]) +
                                                " times; last: " + status.message()});
        return;
    }
    if (++_failuresBySource[peerId] >= kMaxSourceFailures && _scheduler->hasSource(peerId))
        sourceFailed(peerId, status.message());
    checkSources();
    pump();
}

void Download::maybeVerify(uint64_t key) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    const ChunkTask &task = _scheduler->task(f.chunk);
    if (!f.ended || f.written != task.length || f.submitted != task.length)
        return;
    const std::string digest = f.writer->hash.hexDigest();
    const std::string peerId = f.peer;
    const std::size_t chunk = f.chunk;
    const std::string &path = _files.files[task.file].path;
    if (digest != task.hash) {
        const contract::Event rejected = contract::downloadChunkRejected(
            {_game.id, path, task.offset, task.length, peerId, addrOf(peerId)},
            "sha256 " + digest + " != advertised " + task.hash);
        _events.publish(rejected.topic, rejected.payload);
        log::warning(kSource, _game.id + ": peer " + peerId.substr(0, 12) + " (" + addrOf(peerId) +
                                  ") sent a bad chunk of " + path + " at " +
                                  std::to_string(task.offset) +
                                  "; it is no longer a source for this download");
        _network.forgetRequest(f.request);
        _inFlight.erase(it);
        _scheduler->failed(chunk, peerId);
        sourceFailed(peerId, "sent data that does not match its chunk hashes");
        checkSources();
        pump();
        return;
    }
    _scheduler->completed(chunk, peerId, _reactor.now() - f.startNs);
    _bytesBySource[peerId] += task.length;
    _bytesFetched += task.length;
    _failuresBySource[peerId] = 0;
    _network.forgetRequest(f.request);
    _inFlight.erase(it);
    const contract::Event finished = contract::downloadChunkFinished(
        {_game.id, path, task.offset, task.length, peerId, addrOf(peerId)});
    _events.publish(finished.topic, finished.payload);
    if (_scheduler->finished())
        commit();
    else
        pump();
}

void Download::dropInFlight(uint64_t key, bool cancelRequest) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    it->second->writer->abandoned = true;
    if (it->second->block != nullptr)
        _pool->put(it->second->block);
    if (cancelRequest)
        _network.cancelRequest(it->second->request);
    else
        _network.forgetRequest(it->second->request);
    _inFlight.erase(it);
}

void Download::sourceFailed(const std::string &peerId, const std::string &why) {
    std::vector<uint64_t> keys;
    for (const auto &[key, f] : _inFlight)
        if (f->peer == peerId)
            keys.push_back(key);
    for (auto key : keys)
        dropInFlight(key, true);
    _scheduler->rejectSource(peerId);
    log::warning(kSource, _game.id + ": dropped source " + peerId.substr(0, 12) + ": " + why);
}

void Download::peerLost(const std::string &peerId) {
    if (_phase == Phase::Describing) {
        // Its GetGame fails through the connection loss; nothing else to do.
        return;
    }
    if (_phase != Phase::Transferring || !_scheduler || !_scheduler->hasSource(peerId))
        return;
    std::vector<uint64_t> keys;
    for (const auto &[key, f] : _inFlight)
        if (f->peer == peerId)
            keys.push_back(key);
    for (auto key : keys)
        dropInFlight(key, false);
    _scheduler->removeSource(peerId);
    log::info(kSource, _game.id + ": source " + peerId.substr(0, 12) + " is gone");
    checkSources();
    pump();
}

void Download::checkSources() {
    if (_phase != Phase::Transferring || _ending || _scheduler->finished())
        return;
    if (_scheduler->sources().empty()) {
        const contract::Event gone = contract::downloadPeersGone(_game.id);
        _events.publish(gone.topic, gone.payload);
        end({DownloadOutcome::Kind::PeersGone,
             "every source of " + _game.id + " is gone (" +
                 std::to_string(_scheduler->bytesDone()) + " of " +
                 std::to_string(_scheduler->bytesTotal()) +
                 " bytes verified; they are kept for a resumed download)"});
    }
}

void Download::cancel() {
    if (_ending)
        return;
    end({DownloadOutcome::Kind::Cancelled, "cancelled"});
}

void Download::commit() {
    _phase = Phase::Committing;
    if (_progressTimer != 0) {
        _reactor.stopTimer(_progressTimer);
        _progressTimer = 0;
    }
    auto self = shared_from_this();
    auto open = _open;
    const std::string root = _root;
    std::set<std::string> keep;
    for (const auto &f : _files.files)
        keep.insert(f.path);
    ++_activeJobs;
    _workers.submit([self, open, root, keep] {
        std::string error;
        for (const auto &f : open)
            if (::fsync(f->fd) != 0 && error.empty())
                error = "cannot flush " + f->path + ": " + errnoText(errno);
        if (error.empty()) {
            removeStale(root, "", keep);
            const std::string from = root + "/" + kVersionTemp, to = root + "/version.ini";
            if (::rename(from.c_str(), to.c_str()) != 0)
                error = "cannot commit version.ini: " + errnoText(errno);
            int dirFd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dirFd >= 0) {
                ::fsync(dirFd);
                ::close(dirFd);
            }
        }
        self->_reactor.post([self, error] {
            --self->_activeJobs;
            if (!error.empty()) {
                self->end({DownloadOutcome::Kind::Failed, error});
                return;
            }
            const uint64_t durationNs =
                std::max<uint64_t>(1, self->_reactor.now() - self->_startNs);
            const int64_t durationMs = std::max<int64_t>(1, int64_t(durationNs / 1'000'000));
            const double mib = double(self->_bytesFetched) / 1048576.0;
            const double mibPerS = mib / (double(durationMs) / 1000.0);
            const contract::Event finished = contract::downloadFinished(
                {self->_game.id, self->_bytesFetched, self->_scheduler->bytesTotal(), durationMs,
                 mibPerS, self->_bytesBySource});
            self->_events.publish(finished.topic, finished.payload);
            log::info(kSource, self->_game.id + ": downloaded " +
                                   std::to_string(self->_bytesFetched) + " bytes in " +
                                   std::to_string(durationMs) + " ms (" + std::to_string(mibPerS) +
                                   " MiB/s)");
            self->end({DownloadOutcome::Kind::Finished, ""});
        });
    });
}

void Download::end(DownloadOutcome outcome) {
    if (!_ending) {
        _ending = true;
        _outcome = std::move(outcome);
        _phase = Phase::Ending;
        if (_progressTimer != 0) {
            _reactor.stopTimer(_progressTimer);
            _progressTimer = 0;
        }
        std::vector<uint64_t> keys;
        for (const auto &[key, f] : _inFlight)
            keys.push_back(key);
        for (auto key : keys)
            dropInFlight(key, true);
    }
    // done runs once every disk job of this download has finished (no stale writes after).
    if (_activeJobs > 0 || !_done)
        return;
    auto done = std::move(_done);
    _done = nullptr;
    _open.clear();
    done(_outcome);
}

} // namespace lanspread::kernel::transfer
