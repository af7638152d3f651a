#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace lanspread::kernel::base {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// Why openat(dirFd, name, ...|O_NOFOLLOW) failed with ELOOP/ENOTDIR: a symlink (refused) or
// something that is not a directory.
void classifyLoop(int dirFd, const std::string &name, BelowRoot &out) {
    struct stat st {};
    if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        out.symlink = true;
    else
        out.notDirectory = true;
}

std::string parentOf(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

void UniqueFd::reset(int fd) {
    if (_fd >= 0)
        ::close(_fd);
    _fd = fd;
}

std::string BelowRoot::message() const {
    std::string text = "cannot " + step + " " + failedAt + ": ";
    if (symlink)
        return text + "refusing to follow a symlink";
    if (notDirectory)
        return text + "not a directory";
    return text + errnoText(error);
}

Result<UniqueFd> openDirectoryNoFollow(const std::string &path) {
    int fd = ::open(path.c_str(), kDirFlags);
    if (fd < 0)
        return Status(errno == ENOENT ? LANSPREAD_E_NOT_FOUND : LANSPREAD_E_IO,
                      "cannot open directory " + path + ": " + errnoText(errno));
    return UniqueFd(fd);
}

BelowRoot openDirectoryBelow(int rootFd, std::string_view dir, const DirectoryCreation *create) {
    BelowRoot out;
    UniqueFd current(::fcntl(rootFd, F_DUPFD_CLOEXEC, 0));
    if (!current.valid()) {
        out.error = errno;
        // A std::string, not the literal: GCC 12 at -O3 reports a false -Wrestrict overlap
        // for assigning a literal here.
        out.failedAt = std::string(".");
        return out;
    }
    std::size_t pos = 0;
    while (pos < dir.size()) {
        auto slash = dir.find('/', pos);
        const std::string part(
            dir.substr(pos, slash == std::string_view::npos ? dir.npos : slash - pos));
        const std::string walked(
            dir.substr(0, slash == std::string_view::npos ? dir.size() : slash));
        int fd = ::openat(current.get(), part.c_str(), kDirFlags);
        if (fd < 0 && errno == ENOENT && create != nullptr) {
            // Created owner-only, then given its final mode: nobody can slip something into
            // a directory that is still being set up.
            if (::mkdirat(current.get(), part.c_str(), 0700) == 0) {
                if (create->onCreated)
                    create->onCreated();
                fd = ::openat(current.get(), part.c_str(), kDirFlags);
                if (fd >= 0 && ::fchmod(fd, create->mode) != 0) {
                    out.error = errno;
                    out.step = "set the mode of";
                    out.failedAt = walked;
                    ::close(fd);
                    return out;
                }
            } else if (errno == EEXIST) {
                fd = ::openat(current.get(), part.c_str(), kDirFlags);
            } else {
                out.error = errno;
                out.failedAt = walked;
                out.step = "create";
                return out;
            }
        }
        if (fd < 0) {
            out.error = errno;
            out.failedAt = walked;
            if (out.error == ELOOP || out.error == ENOTDIR)
                classifyLoop(current.get(), part, out);
            return out;
        }
        current.reset(fd);
        if (slash == std::string_view::npos)
            break;
        pos = slash + 1;
    }
    out.fd = std::move(current);
    return out;
}

BelowRoot openFileBelow(int rootFd, std::string_view path, int flags, mode_t mode,
                        const DirectoryCreation *create) {
    const auto slash = path.rfind('/');
    const std::string_view dir =
        slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
    const std::string leaf(slash == std::string_view::npos ? path : path.substr(slash + 1));
    BelowRoot parent = openDirectoryBelow(rootFd, dir, create);
    if (!parent.ok())
        return parent;
    BelowRoot out;
    int fd = ::openat(parent.fd.get(), leaf.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        out.error = errno;
        out.failedAt = std::string(path);
        if (out.error == ELOOP)
            classifyLoop(parent.fd.get(), leaf, out);
        return out;
    }
    out.fd.reset(fd);
    return out;
}

std::string tempPathFor(const std::string &path) {
    return path + ".lanspread-tmp";
}

Status fsyncDirectory(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot open directory " + path + ": " + errnoText(errno));
    int rc = ::fsync(fd);
    int error = errno;
    ::close(fd);
    if (rc != 0)
        return Status(LANSPREAD_E_IO, "cannot fsync directory " + path + ": " + errnoText(error));
    return Status::ok();
}

Status writeFileAtomically(const std::string &path, std::string_view content,
                           const AtomicWrite &how) {
    const std::string temp = how.tempPath.empty() ? tempPathFor(path) : how.tempPath;
    // A leftover of an interrupted write: nobody else writes this name.
    if (::unlink(temp.c_str()) != 0 && errno != ENOENT)
        return Status(LANSPREAD_E_IO, "cannot remove stale " + temp + ": " + errnoText(errno));
    UniqueFd fd(
        ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, how.mode));
    if (!fd.valid())
        return Status(LANSPREAD_E_IO, "cannot create " + temp + ": " + errnoText(errno));
    auto failWith = [&](const std::string &what, int error) {
        fd.reset();
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO, what + " " + temp + ": " + errnoText(error));
    };
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return failWith("cannot write", n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
    }
    // The umask may have narrowed the mode; the caller asked for exactly this one.
    if (::fchmod(fd.get(), how.mode) != 0)
        return failWith("cannot set the mode of", errno);
    if (::fsync(fd.get()) != 0)
        return failWith("cannot fsync", errno);
    if (::close(fd.release()) != 0) {
        int error = errno;
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO, "cannot close " + temp + ": " + errnoText(error));
    }
    int rc = how.replace
                 ? ::rename(temp.c_str(), path.c_str())
                 : ::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0) {
        int error = errno;
        ::unlink(temp.c_str());
        if (error == EEXIST && !how.replace)
            return Status(LANSPREAD_E_FAILED, path + " already exists; it was left untouched");
        return Status(LANSPREAD_E_IO,
                      "cannot rename " + temp + " to " + path + ": " + errnoText(error));
    }
    return how.syncDirectory ? fsyncDirectory(parentOf(path)) : Status::ok();
}

Result<std::string> readFileNoFollow(const std::string &path, std::size_t maxBytes, bool wipe) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
        return Status(errno == ENOENT ? LANSPREAD_E_NOT_FOUND : LANSPREAD_E_IO,
                      "cannot open " + path + ": " + errnoText(errno));
    std::string text;
    if (wipe && maxBytes <= (std::size_t(1) << 20))
        text.reserve(maxBytes); // no reallocation leaves a copy of the secret behind
    char buffer[65536];
    Status failure;
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            failure = Status(LANSPREAD_E_IO, "cannot read " + path + ": " + errnoText(errno));
            break;
        }
        if (n == 0)
            break;
        if (text.size() + static_cast<std::size_t>(n) > maxBytes) {
            failure = Status(LANSPREAD_E_FAILED,
                             path + " is larger than " + std::to_string(maxBytes) + " bytes");
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    if (wipe)
        ::explicit_bzero(buffer, sizeof buffer);
    if (!failure.succeeded()) {
        if (wipe && !text.empty())
            ::explicit_bzero(text.data(), text.size());
        return failure;
    }
    return text;
}

Status removeFileIfPresent(const std::string &path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Status(LANSPREAD_E_IO, "cannot remove " + path + ": " + errnoText(errno));
    return Status::ok();
}

bool pathExists(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}
bool isRealDirectory(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool isRegularFile(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

} // namespace lanspread::kernel::base
