// The file-system safety helpers: the one place that opens a path below a root without
// following links, writes a file atomically and durably, and reads small files. The
// extraction sink, serving, downloads, identity and install intents all use these, so a fix
// to how lanspread touches the disk is made once.
//
// Thread: any (no shared state). Errors: a Status/Result whose message names the path and
// the system's reason; nothing throws.
#pragma once

#include <lanspread/result.hpp>

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace lanspread::kernel::base {

// An owned file descriptor, closed on destruction. Move-only.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : _fd(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd &&other) noexcept : _fd(other.release()) {}
    UniqueFd &operator=(UniqueFd &&other) noexcept {
        if (this != &other)
            reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;

    int get() const { return _fd; }
    bool valid() const { return _fd >= 0; }
    int release() {
        int fd = _fd;
        _fd = -1;
        return fd;
    }
    void reset(int fd = -1);

  private:
    int _fd = -1;
};

// Opens an existing directory by absolute path, refusing a symlink in its last component.
Result<UniqueFd> openDirectoryNoFollow(const std::string &path);

// How a walk below a root creates missing directories (nullptr = never create).
struct DirectoryCreation {
    mode_t mode = 0755;
    // Called once per directory created (the extraction sink counts them).
    std::function<void()> onCreated;
};

// The outcome of a walk below a root: an fd, or where and why it stopped.
struct BelowRoot {
    UniqueFd fd;
    int error = 0;             // errno of the failed step (0 on success)
    std::string failedAt;      // the relative path up to the component that failed
    bool symlink = false;      // that component is a symlink (refused, never followed)
    bool notDirectory = false; // a component exists but is not a directory
    std::string step = "open"; // what failed there: "open", "create" or "set the mode of"

    bool ok() const { return fd.valid(); }
    // "cannot open a/b: refusing to follow a symlink" style, for logs and replies.
    std::string message() const;
};

// Opens the directory at the normalised relative path dir ("" = the root itself) below
// rootFd, every component with O_NOFOLLOW|O_DIRECTORY, creating missing ones when create is
// given. The caller validated dir (no "..", no leading '/'); this only guarantees that no
// symlink is followed on the way.
BelowRoot openDirectoryBelow(int rootFd, std::string_view dir,
                             const DirectoryCreation *create = nullptr);

// Opens the file at the normalised relative path below rootFd: its directories as in
// openDirectoryBelow, then the leaf with O_NOFOLLOW|O_CLOEXEC|flags (and mode when flags
// create). A symlink leaf fails with symlink = true.
BelowRoot openFileBelow(int rootFd, std::string_view path, int flags, mode_t mode = 0644,
                        const DirectoryCreation *create = nullptr);

// The temporary name writeFileAtomically uses for path unless told otherwise:
// <path>.lanspread-tmp (a name no game ships, and one the library ignores).
std::string tempPathFor(const std::string &path);

struct AtomicWrite {
    mode_t mode = 0644;        // exactly this mode (the umask does not narrow it)
    bool replace = true;       // false: fail with E_FAILED if path already exists
    bool syncDirectory = true; // fsync the parent so the rename itself is durable
    std::string tempPath;      // "" = tempPathFor(path)
};

// Writes content to path so that a crash leaves either the old file or the new one, never a
// torn mix: a fresh temp file (O_EXCL|O_NOFOLLOW; a stale one is removed first), fsync, rename
// into place, then fsync of the parent directory.
Status writeFileAtomically(const std::string &path, std::string_view content,
                           const AtomicWrite &how = {});

// fsync of a directory: makes renames and unlinks inside it durable.
Status fsyncDirectory(const std::string &path);

// Reads a whole file, refusing a symlink. E_NOT_FOUND when it does not exist; E_FAILED when
// it is larger than maxBytes. wipe: clear intermediate buffers (key material).
Result<std::string> readFileNoFollow(const std::string &path,
                                     std::size_t maxBytes = std::size_t(64) << 20,
                                     bool wipe = false);

// unlink that treats "already gone" as success.
Status removeFileIfPresent(const std::string &path);

// lstat-based predicates: nothing is followed.
bool pathExists(const std::string &path); // anything, including a dangling symlink
bool isRealDirectory(const std::string &path);
bool isRegularFile(const std::string &path);

} // namespace lanspread::kernel::base
