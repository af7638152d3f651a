// Download phase 5: commit, on the worker pool. Files are fsynced, files of an earlier
// version removed, and version.ini renamed into place last, so a root is "downloaded" only
// when it is complete.

#include "download_internal.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

namespace lanspread::kernel::transfer {

using namespace detail;

namespace {
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
                error = "cannot flush " + f->path + ": " + base::errnoText(errno);
        if (error.empty()) {
            removeStale(root, "", keep);
            const std::string from = root + "/" + kVersionTemp, to = root + "/version.ini";
            if (::rename(from.c_str(), to.c_str()) != 0)
                error = "cannot commit version.ini: " + base::errnoText(errno);
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
            self->_committed = true; // version.ini is served under its own name from now on
            const uint64_t durationNs =
                std::max<uint64_t>(1, self->_reactor.now() - self->_startNs);
            const int64_t durationMs = std::max<int64_t>(1, int64_t(durationNs / 1'000'000));
            const double mib = double(self->_bytesFetched) / 1048576.0;
            const double mibPerS = mib / (double(durationMs) / 1000.0);
            const contract::Event finished = contract::downloadFinished(
                {self->_game.id, self->_bytesFetched, self->_picker->bytesTotal(), durationMs,
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

} // namespace lanspread::kernel::transfer
