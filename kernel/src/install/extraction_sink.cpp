// The extraction sink (docs/on-disk-layout.md): the one audited place that turns archive entries
// into files. Linux only: every path is walked component by component with openat/mkdirat
// relative to directory fds opened with O_NOFOLLOW, starting from the root fd opened once in
// the constructor, so nothing an archive plants (a symlink, a file in place of a directory)
// can redirect a write outside the root.
//
// Policies beyond the header's contract (documented here, tested in extraction_sink_test):
//   - A FILE or HARDLINK entry whose path is an existing regular file replaces it (unlinkat,
//     then create): a duplicate entry in an archive wins. An existing symlink at that path is
//     refused ("through a symlink"), an existing directory too. A SYMLINK entry replaces an
//     existing regular file only. A DIRECTORY entry over an existing directory is fine.
//   - Symlink targets must be relative; they are normalised lexically against the link's
//     directory ('\' is a separator, "." and empty components dropped, ".." folded) and the
//     link is created with that normalised target (leading "../" only), so a ".." that comes
//     after a component which is itself a symlink can never be reinterpreted by the kernel.
//   - Hardlink targets are normalised like entry paths and must name a regular file this sink
//     extracted completely; the target's parent is walked with O_NOFOLLOW and the target is
//     checked to still be a regular file (never a symlink) before linkat.
//   - Modes: files get mode & 0755 (0644 when the archive says 0), directories 0755; the
//     umask does not apply (explicit fchmod). No setuid/setgid/sticky bit ever.
//   - stats().directories counts directories the sink created (explicit and implicit);
//     stats().bytes counts every data byte written, including those of replaced duplicates.
//   - A DIRECTORY entry that names the root itself ("./", which `tar -C dir -cf x.tar .`
//     writes first) is accepted and does nothing; any other entry whose name normalises to
//     nothing is refused ("empty name").
//   - After a failed call the current entry is abandoned (its partial file removed); the sink
//     itself stays usable for the next beginEntry.
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/install/extraction_sink.hpp>

#include "entry_path.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace lanspread::kernel::install {

namespace {

using detail::components;
using detail::isDriveLetterPrefix;
using detail::namesTheRootItself;
using detail::quoted;

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

} // namespace

// ---------------------------------------------------------------------------------------
// ExtractionSink

struct ExtractionSink::State {
    int rootFd = -1;
    std::string rootError; // why the root could not be opened, if it could not

    // The last parent directory walked, kept open: consecutive entries in one directory
    // (the common case) walk it once. Directories are never removed or replaced by the sink,
    // so the fd stays the directory that path named when it was walked.
    std::string cachedDirPath;
    int cachedDirFd = -1;

    // The file entry in progress.
    bool inEntry = false;
    bool isFile = false;
    std::string rawName;   // as the archive stored it (for messages)
    std::string path;      // normalised
    int fileFd = -1;       // the open file
    int fileParentFd = -1; // its directory (owned)
    std::string leaf;
    uint64_t declared = 0;
    uint64_t written = 0;
    uint32_t mode = 0;
    int64_t mtime = 0;

    uint64_t entriesSeen = 0;
    std::unordered_set<std::string> regularFiles; // normalised paths of extracted files

    struct Ops; // the filesystem work, below

    ~State() {
        if (cachedDirFd >= 0)
            ::close(cachedDirFd);
        if (rootFd >= 0)
            ::close(rootFd);
    }
};

// Everything the sink does to the filesystem, on one State (a nested class, so it may name
// the sink's private types; defined here so the header stays free of POSIX types).
struct ExtractionSink::State::Ops {
    State &s;
    const ExtractionLimits &limits;
    ExtractionStats &stats;

    Status refuse(const std::string &why) const {
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "entry " + quoted(s.rawName) + ": " + why);
    }
    Status ioError(const std::string &what, int err) const {
        return Status(LANSPREAD_E_IO,
                      "entry " + quoted(s.rawName) + ": " + what + ": " + base::errnoText(err));
    }

    // Opens (creating when missing) the directory at the normalised relative path dir ("" =
    // the root) without following any symlink. Returns a new fd the caller owns.
    Result<int> openDirectory(const std::string &dir) {
        if (dir.empty()) {
            int fd = ::fcntl(s.rootFd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
                return ioError("cannot duplicate the root fd", errno);
            return fd;
        }
        if (s.cachedDirFd >= 0 && s.cachedDirPath == dir) {
            int fd = ::fcntl(s.cachedDirFd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
                return ioError("cannot duplicate a directory fd", errno);
            return fd;
        }
        base::DirectoryCreation creation;
        creation.onCreated = [this] { ++stats.directories; };
        base::BelowRoot opened = base::openDirectoryBelow(s.rootFd, dir, &creation);
        if (!opened.ok()) {
            if (opened.symlink)
                return refuse("refusing to write through a symlink at " + quoted(opened.failedAt));
            if (opened.notDirectory)
                return refuse(quoted(opened.failedAt) + " exists and is not a directory");
            const std::string what = opened.step == "open"
                                         ? "cannot open directory "
                                         : "cannot " + opened.step + " directory ";
            return ioError(what + quoted(opened.failedAt), opened.error);
        }
        base::UniqueFd current(opened.fd.release());
        if (s.cachedDirFd >= 0)
            ::close(s.cachedDirFd);
        s.cachedDirFd = ::fcntl(current.get(), F_DUPFD_CLOEXEC, 0);
        s.cachedDirPath = s.cachedDirFd >= 0 ? dir : std::string();
        return current.release();
    }

    static std::pair<std::string, std::string> splitParent(const std::string &path) {
        std::size_t slash = path.rfind('/');
        if (slash == std::string::npos)
            return {std::string(), path};
        return {path.substr(0, slash), path.substr(slash + 1)};
    }

    // Makes room for a new non-directory at parentFd/leaf: nothing there is fine; a regular
    // file is removed when replaceable (FILE/HARDLINK/SYMLINK over a file); a symlink or a
    // directory is refused.
    Status clearLeaf(int parentFd, const std::string &leaf, const std::string &path,
                     bool symlinkEntry) {
        struct stat st {};
        if (::fstatat(parentFd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                return Status::ok();
            return ioError("cannot inspect " + quoted(path), errno);
        }
        if (S_ISLNK(st.st_mode)) {
            if (symlinkEntry)
                return refuse(quoted(path) + " already exists as a symlink");
            return refuse("refusing to write through a symlink at " + quoted(path));
        }
        if (S_ISDIR(st.st_mode))
            return refuse(quoted(path) + " already exists as a directory");
        if (!S_ISREG(st.st_mode))
            return refuse(quoted(path) + " already exists and is not a regular file");
        if (::unlinkat(parentFd, leaf.c_str(), 0) != 0)
            return ioError("cannot replace " + quoted(path), errno);
        s.regularFiles.erase(path);
        return Status::ok();
    }

    void setMtime(int dirFd, const std::string &leaf, int64_t mtime, int flags) {
        if (mtime <= 0)
            return;
        struct timespec times[2];
        times[0].tv_sec = mtime;
        times[0].tv_nsec = 0;
        times[1] = times[0];
        (void)::utimensat(dirFd, leaf.c_str(), times, flags); // best effort: a timestamp
    }

    Status beginDirectory(const std::string &path, int64_t mtime) {
        auto fd = openDirectory(path);
        if (!fd)
            return fd.status();
        base::UniqueFd dir(fd.value());
        if (::fchmod(dir.get(), 0755) != 0)
            return ioError("cannot set the mode of " + quoted(path), errno);
        if (mtime > 0) {
            struct timespec times[2];
            times[0].tv_sec = mtime;
            times[0].tv_nsec = 0;
            times[1] = times[0];
            (void)::futimens(dir.get(), times);
        }
        return Status::ok();
    }

    // The lexically normalised form of a symlink target relative to the link's directory,
    // or a refusal when it is absolute or would leave the root.
    Result<std::string> symlinkTarget(const std::string &linkPath, std::string_view rawTarget) {
        if (rawTarget.empty())
            return refuse("symlink without a target");
        if (rawTarget.find('\0') != std::string_view::npos)
            return refuse("NUL in symlink target " + quoted(rawTarget));
        if (rawTarget.size() > limits.maxPathBytes)
            return refuse("symlink target longer than " + std::to_string(limits.maxPathBytes) +
                          " bytes");
        std::string target(rawTarget);
        std::replace(target.begin(), target.end(), '\\', '/');
        if (target[0] == '/' || isDriveLetterPrefix(target))
            return refuse("symlink target leaves the install root (absolute target " +
                          quoted(rawTarget) + ")");
        // Resolve against the link's directory, as components below the root.
        std::vector<std::string_view> linkDirParts = components(linkPath);
        linkDirParts.pop_back(); // the link's own name
        std::vector<std::string_view> resolved = linkDirParts;
        for (std::string_view part : components(target)) {
            if (part == "..") {
                if (resolved.empty())
                    return refuse("symlink target leaves the install root (" + quoted(rawTarget) +
                                  " from " + quoted(linkPath) + ")");
                resolved.pop_back();
            } else {
                resolved.push_back(part);
            }
        }
        // Re-express the resolved location relative to the link's directory: "../" up to the
        // common prefix, then down. Only leading ".." components remain.
        std::size_t common = 0;
        while (common < resolved.size() && common < linkDirParts.size() &&
               resolved[common] == linkDirParts[common])
            ++common;
        std::string out;
        for (std::size_t i = common; i < linkDirParts.size(); ++i)
            out += out.empty() ? ".." : "/..";
        for (std::size_t i = common; i < resolved.size(); ++i) {
            if (!out.empty())
                out += '/';
            out += resolved[i];
        }
        if (out.empty())
            out = ".";
        return out;
    }

    Status beginSymlink(const std::string &path, const lanspread_archive_entry &entry) {
        std::string_view rawTarget;
        if (entry.link_target != nullptr)
            rawTarget = std::string_view(reinterpret_cast<const char *>(entry.link_target),
                                         entry.link_target_len);
        auto target = symlinkTarget(path, rawTarget);
        if (!target)
            return target.status();
        auto [dir, leaf] = splitParent(path);
        auto fd = openDirectory(dir);
        if (!fd)
            return fd.status();
        base::UniqueFd parent(fd.value());
        if (Status st = clearLeaf(parent.get(), leaf, path, true); !st)
            return st;
        if (::symlinkat(target.value().c_str(), parent.get(), leaf.c_str()) != 0)
            return ioError("cannot create symlink", errno);
        setMtime(parent.get(), leaf, entry.mtime_s, AT_SYMLINK_NOFOLLOW);
        ++stats.symlinks;
        return Status::ok();
    }

    Status beginHardlink(const std::string &path, const lanspread_archive_entry &entry) {
        std::string rawTarget;
        if (entry.link_target != nullptr)
            rawTarget.assign(reinterpret_cast<const char *>(entry.link_target),
                             entry.link_target_len);
        if (rawTarget.empty())
            return refuse("hardlink target missing");
        auto target = normaliseEntryPath(rawTarget, limits.maxPathBytes);
        if (!target)
            return refuse("hardlink target refused: " + target.status().message());
        if (target.value() == path)
            return refuse("hardlink target is the entry itself");
        if (s.regularFiles.count(target.value()) == 0)
            return refuse("hardlink target " + quoted(rawTarget) +
                          " is not a file extracted earlier from this archive");
        auto [targetDir, targetLeaf] = splitParent(target.value());
        auto tfd = openDirectory(targetDir);
        if (!tfd)
            return tfd.status();
        base::UniqueFd targetParent(tfd.value());
        struct stat st {};
        if (::fstatat(targetParent.get(), targetLeaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            return refuse("hardlink target " + quoted(rawTarget) + " is no longer a regular file");

        auto [dir, leaf] = splitParent(path);
        auto fd = openDirectory(dir);
        if (!fd)
            return fd.status();
        base::UniqueFd parent(fd.value());
        if (Status cleared = clearLeaf(parent.get(), leaf, path, false); !cleared)
            return cleared;
        if (::linkat(targetParent.get(), targetLeaf.c_str(), parent.get(), leaf.c_str(), 0) != 0)
            return ioError("cannot create hardlink", errno);
        s.regularFiles.insert(path);
        ++stats.hardlinks;
        return Status::ok();
    }

    Status beginFile(const std::string &path, const lanspread_archive_entry &entry) {
        if (entry.size_bytes > limits.maxTotalBytes - std::min(stats.bytes, limits.maxTotalBytes))
            return refuse("declared size " + std::to_string(entry.size_bytes) +
                          " bytes exceeds the install's byte quota (" +
                          std::to_string(limits.maxTotalBytes) + " bytes)");
        auto [dir, leaf] = splitParent(path);
        auto fd = openDirectory(dir);
        if (!fd)
            return fd.status();
        base::UniqueFd parent(fd.value());
        constexpr int kFileFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        int fileFd = ::openat(parent.get(), leaf.c_str(), kFileFlags, 0600);
        if (fileFd < 0 && errno == EEXIST) {
            if (Status cleared = clearLeaf(parent.get(), leaf, path, false); !cleared)
                return cleared;
            fileFd = ::openat(parent.get(), leaf.c_str(), kFileFlags, 0600);
        }
        if (fileFd < 0) {
            int err = errno;
            if (err == ELOOP)
                return refuse("refusing to write through a symlink at " + quoted(path));
            return ioError("cannot create file", err);
        }
        s.fileFd = fileFd;
        s.fileParentFd = parent.release();
        s.leaf = leaf;
        s.declared = entry.size_bytes;
        s.written = 0;
        s.mode = entry.mode;
        s.mtime = entry.mtime_s;
        s.isFile = true;
        return Status::ok();
    }

    // Drops the entry in progress; a file's partial data is removed.
    void abandonEntry() {
        if (s.fileFd >= 0) {
            ::close(s.fileFd);
            s.fileFd = -1;
            if (s.fileParentFd >= 0)
                ::unlinkat(s.fileParentFd, s.leaf.c_str(), 0);
        }
        if (s.fileParentFd >= 0) {
            ::close(s.fileParentFd);
            s.fileParentFd = -1;
        }
        s.inEntry = false;
        s.isFile = false;
    }
};

ExtractionSink::ExtractionSink(std::string root, ExtractionLimits limits,
                               std::function<bool()> cancelled)
    : _root(std::move(root)), _limits(limits), _cancelled(std::move(cancelled)), _state(new State) {
    _state->rootFd = ::open(_root.c_str(), kDirFlags);
    if (_state->rootFd < 0)
        _state->rootError =
            "cannot open the install root '" + _root + "': " + base::errnoText(errno);
}

ExtractionSink::~ExtractionSink() {
    abandonEntry();
    delete _state;
}

void ExtractionSink::abandonEntry() {
    State::Ops{*_state, _limits, _stats}.abandonEntry();
}

Status ExtractionSink::beginEntry(const lanspread_archive_entry &entry) {
    State &s = *_state;
    State::Ops ops{s, _limits, _stats};
    std::string raw;
    if (entry.path != nullptr)
        raw.assign(reinterpret_cast<const char *>(entry.path), entry.path_len);
    if (s.inEntry) {
        std::string previous = s.rawName;
        ops.abandonEntry();
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "entry " + quoted(raw) +
                                                        " begun before entry " + quoted(previous) +
                                                        " ended");
    }
    s.rawName = raw;
    if (s.rootFd < 0)
        return Status(LANSPREAD_E_IO, "entry " + quoted(raw) + ": " + s.rootError);
    if (_cancelled && _cancelled())
        return Status(LANSPREAD_E_CANCELLED, "cancelled before entry " + quoted(raw));
    if (++s.entriesSeen > _limits.maxEntries)
        return ops.refuse("the archive has more than " + std::to_string(_limits.maxEntries) +
                          " entries (the install's entry quota)");
    auto path = normaliseEntryPath(raw, _limits.maxPathBytes);
    if (!path && entry.type == LANSPREAD_ENTRY_DIRECTORY && namesTheRootItself(raw)) {
        s.inEntry = true; // "./", as `tar -C dir -cf x.tar .` writes first: nothing to do
        s.isFile = false;
        return Status::ok();
    }
    if (!path)
        return ops.refuse(path.status().message());
    s.path = path.value();
    s.declared = 0;
    s.written = 0;

    Status result;
    switch (entry.type) {
    case LANSPREAD_ENTRY_FILE: result = ops.beginFile(s.path, entry); break;
    case LANSPREAD_ENTRY_DIRECTORY: result = ops.beginDirectory(s.path, entry.mtime_s); break;
    case LANSPREAD_ENTRY_SYMLINK: result = ops.beginSymlink(s.path, entry); break;
    case LANSPREAD_ENTRY_HARDLINK: result = ops.beginHardlink(s.path, entry); break;
    case LANSPREAD_ENTRY_OTHER:
        result = ops.refuse("device or fifo entries are not installed");
        break;
    default:
        result = ops.refuse("unknown entry type " + std::to_string(entry.type) +
                            " (treated like a device or fifo)");
        break;
    }
    if (!result) {
        ops.abandonEntry();
        return result;
    }
    s.inEntry = true;
    return Status::ok();
}

Status ExtractionSink::write(const uint8_t *data, std::size_t length) {
    State &s = *_state;
    State::Ops ops{s, _limits, _stats};
    if (!s.inEntry)
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "data written outside an entry");
    if (_cancelled && _cancelled()) {
        ops.abandonEntry();
        return Status(LANSPREAD_E_CANCELLED, "cancelled while writing entry " + quoted(s.rawName));
    }
    if (length == 0)
        return Status::ok();
    uint64_t declared = s.isFile ? s.declared : 0;
    if (length > declared - s.written) {
        Status st = ops.refuse("more data than declared (" + std::to_string(declared) + " bytes)");
        ops.abandonEntry();
        return st;
    }
    if (length > _limits.maxTotalBytes - std::min(_stats.bytes, _limits.maxTotalBytes)) {
        Status st = ops.refuse("over the install's byte quota (" +
                               std::to_string(_limits.maxTotalBytes) + " bytes)");
        ops.abandonEntry();
        return st;
    }
    std::size_t done = 0;
    while (done < length) {
        ssize_t n = ::write(s.fileFd, data + done, length - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            Status st = ops.ioError("cannot write " + quoted(s.path), errno);
            ops.abandonEntry();
            return st;
        }
        done += static_cast<std::size_t>(n);
    }
    s.written += length;
    _stats.bytes += length;
    return Status::ok();
}

Status ExtractionSink::endEntry() {
    State &s = *_state;
    State::Ops ops{s, _limits, _stats};
    if (!s.inEntry)
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "endEntry without an entry");
    if (!s.isFile) {
        s.inEntry = false;
        return Status::ok();
    }
    if (s.written < s.declared) {
        Status st = ops.refuse("less data than declared (" + std::to_string(s.written) + " of " +
                               std::to_string(s.declared) + " bytes)");
        ops.abandonEntry();
        return st;
    }
    mode_t mode = s.mode == 0 ? 0644 : static_cast<mode_t>(s.mode & 0755);
    if (::fchmod(s.fileFd, mode) != 0) {
        Status st = ops.ioError("cannot set the mode of " + quoted(s.path), errno);
        ops.abandonEntry();
        return st;
    }
    if (s.mtime > 0) {
        struct timespec times[2];
        times[0].tv_sec = s.mtime;
        times[0].tv_nsec = 0;
        times[1] = times[0];
        (void)::futimens(s.fileFd, times); // best effort: a timestamp
    }
    if (::close(s.fileFd) != 0) {
        int err = errno;
        s.fileFd = -1;
        ::unlinkat(s.fileParentFd, s.leaf.c_str(), 0);
        Status st = ops.ioError("cannot close " + quoted(s.path), err);
        ops.abandonEntry();
        return st;
    }
    s.fileFd = -1;
    ::close(s.fileParentFd);
    s.fileParentFd = -1;
    s.regularFiles.insert(s.path);
    ++_stats.files;
    s.inEntry = false;
    s.isFile = false;
    return Status::ok();
}

} // namespace lanspread::kernel::install
