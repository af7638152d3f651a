// A small filesystem for one scenario: a tmpfs mounted on a peer's games dir, so that a test
// can make a disk that a game fits into once but not twice (stream_scenarios_test.cpp, S39c)
// or that runs out mid-download (scenarios_ops_test.cpp, S20), and the free-space reading
// those tests compare against. Needs root or CAP_SYS_ADMIN. Header-only.
#pragma once

#include "peer_harness.hpp"

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lanspread::test {

// Bytes free on the filesystem holding path (0 when it cannot be read).
inline uint64_t freeBytesOf(const std::string &path) {
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0)
        return 0;
    return uint64_t(vfs.f_bavail) * vfs.f_frsize;
}

// A tmpfs mounted on an existing dir for as long as this object lives. Its user is the peer
// whose games dir it is (added to the lab, started by the caller after the mount); it must
// outlive this object. The destructor kills the user first (a running lanspreadd holds files
// open there), then unmounts, lazily (MNT_DETACH) if something still holds the mount, so the
// lab's removal of its dir afterwards never meets a busy mount.
class TmpfsMount {
  public:
    // Mounts a tmpfs of sizeMiB (mode 0755, nosuid, nodev) on dir; throws std::runtime_error
    // naming dir and the errno text when the mount fails.
    TmpfsMount(const std::string &dir, uint64_t sizeMiB, Peer &user) : _dir(dir), _user(user) {
        const std::string options = "size=" + std::to_string(sizeMiB) + "m,mode=0755";
        if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
            throw std::runtime_error("cannot mount a " + std::to_string(sizeMiB) +
                                     " MiB tmpfs on " + dir + ": " + std::strerror(errno) +
                                     " (needs root or CAP_SYS_ADMIN)");
    }
    ~TmpfsMount() {
        _user.kill9();
        if (::umount2(_dir.c_str(), 0) != 0 && ::umount2(_dir.c_str(), MNT_DETACH) != 0)
            std::fprintf(stderr, "cannot unmount %s: %s\n", _dir.c_str(), std::strerror(errno));
    }
    TmpfsMount(const TmpfsMount &) = delete;
    TmpfsMount &operator=(const TmpfsMount &) = delete;

    const std::string &dir() const { return _dir; }

  private:
    std::string _dir;
    Peer &_user;
};

} // namespace lanspread::test
