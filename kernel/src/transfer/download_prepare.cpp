// Download phase 3: prepare, on the worker pool. The files are opened below the game root
// (never through a link), chunks already on disk with the right hash are kept (resume),
// and the transfer phase begins with the chunks that are left.

#include "download_internal.hpp"

#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>

namespace lanspread::kernel::transfer {

using namespace detail;

namespace {
// Opens (creating directories) rel below rootFd without following any link.
int openBelow(int rootFd, const std::string &rel, bool createFile, std::string &error) {
    const base::DirectoryCreation creation;
    base::BelowRoot opened =
        base::openFileBelow(rootFd, rel, O_RDWR | (createFile ? O_CREAT : 0), 0644, &creation);
    if (!opened.ok())
        error = opened.message();
    return opened.fd.release();
}

std::string diskName(const std::string &path) {
    return path == "version.ini" ? kVersionTemp : path;
}
} // namespace

void Download::prepare() {
    _picker = nullptr;
    if (_stream) {
        prepareStream(); // download_stream.cpp
        return;
    }
    _phase = Phase::Preparing;
    auto self = shared_from_this();
    const std::string root = _root;
    const protocol::GameFiles list = _files;
    ++_activeJobs;
    _workers.submit([self, root, list] {
        std::set<std::pair<std::size_t, uint64_t>> done;
        std::vector<std::shared_ptr<OpenFile>> open;
        std::string error;
        ::mkdir(root.c_str(), 0755);
        int rootFd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (rootFd < 0)
            error = "cannot create " + root + ": " + base::errnoText(errno);
        // A root being downloaded is not "downloaded": the old sentinel goes first.
        if (rootFd >= 0 && ::unlinkat(rootFd, "version.ini", 0) != 0 && errno != ENOENT)
            error = "cannot remove the old version.ini: " + base::errnoText(errno);
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
                base::Sha256 hash;
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
                error = "cannot size " + file->path + ": " + base::errnoText(errno);
                break;
            }
            open.push_back(std::move(file));
        }
        if (rootFd >= 0)
            ::close(rootFd);
        self->_reactor.post(
            [self, done = std::move(done), open = std::move(open), error]() mutable {
                --self->_activeJobs;
                self->_open = std::move(open);
                if (!error.empty()) {
                    self->prepared(Status(LANSPREAD_E_IO, error));
                    return;
                }
                // Each download its own tie order, so that receivers starting together
                // fetch different chunks first and can trade them.
                BlockPickerSettings settings;
                settings.blockSize = catalog::kChunkSize; // a request is a whole chunk
                settings.depth = kStartDepth;
                settings.seed = std::random_device{}();
                self->_picker = std::make_unique<BlockPicker>(self->_files.files, done, settings);
                self->_firstChunkOfFile.clear();
                std::size_t next = 0;
                for (const auto &f : self->_files.files) {
                    self->_firstChunkOfFile.push_back(next);
                    next += static_cast<std::size_t>(catalog::chunkCount(f.size));
                }
                for (const auto &[peerId, record] : self->_network.peers().peers())
                    self->refreshSource(peerId);
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
    beginTransfer(_picker->bytesTotal(), _picker->bytesVerified());
    if (_picker->bytesVerified() > 0)
        log::info(kSource, _game.id + ": resuming, " + std::to_string(_picker->bytesVerified()) +
                               " of " + std::to_string(_picker->bytesTotal()) +
                               " bytes already verified on disk");
    if (_picker->finished()) {
        commit();
        return;
    }
    pump();
}

} // namespace lanspread::kernel::transfer
