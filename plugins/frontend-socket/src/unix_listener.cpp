#include "unix_listener.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace lanspread::plugins::socket {

namespace {

constexpr int kBacklog = 64;

std::string errnoText(int error) {
    return std::strerror(error);
}

// The group's id, if a group of that name exists.
bool lookUpGroup(const std::string &name, gid_t &gid) {
    std::vector<char> buffer(16384);
    group entry{};
    group *found = nullptr;
    while (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == ERANGE &&
           buffer.size() < (1u << 20))
        buffer.resize(buffer.size() * 2);
    if (found == nullptr)
        return false;
    gid = found->gr_gid;
    return true;
}

// Whether a peer answers at address: connect() succeeds (or its backlog is full). A refused
// connect is a socket file nobody listens on any more.
Result<bool> answers(const sockaddr_un &address, const std::string &path) {
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return Status(LANSPREAD_E_IO, "socket: " + errnoText(errno));
    int rc = ::connect(probe, reinterpret_cast<const sockaddr *>(&address), sizeof address);
    const int error = errno;
    ::close(probe);
    if (rc == 0 || error == EAGAIN || error == EINPROGRESS)
        return true;
    if (error == ECONNREFUSED)
        return false;
    return Status(LANSPREAD_E_IO, "cannot check whether a peer answers at " + path +
                                      " (connect: " + errnoText(error) + ")");
}

} // namespace

std::string runtimeDirectorySocket() {
    const char *dirs = std::getenv("RUNTIME_DIRECTORY");
    if (dirs == nullptr || *dirs == '\0')
        return {};
    std::string first(dirs);
    first = first.substr(0, first.find(':')); // systemd joins several with ':'
    if (first.empty())
        return {};
    return first + "/control.sock";
}

UnixListener::UnixListener(UnixListener &&other) noexcept {
    *this = std::move(other);
}

UnixListener &UnixListener::operator=(UnixListener &&other) noexcept {
    if (this != &other) {
        close();
        _fd = std::exchange(other._fd, -1);
        _path = std::move(other._path);
        other._path.clear();
        _dev = other._dev;
        _ino = other._ino;
    }
    return *this;
}

Result<UnixListener> UnixListener::listen(const std::string &path, const std::string &group,
                                          std::string &note) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty())
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "the control socket path is empty");
    if (path.size() >= sizeof address.sun_path)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "the control socket path is too long (" + std::to_string(path.size()) +
                          " bytes, a Unix socket path holds at most " +
                          std::to_string(sizeof address.sun_path - 1) + "): " + path +
                          "; set a shorter path in [plugin.org.lanspread.frontend.socket]");
    std::memcpy(address.sun_path, path.data(), path.size());

    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode))
            return Status(LANSPREAD_E_IO, path + " exists and is not a socket; remove it or set "
                                                 "another path in "
                                                 "[plugin.org.lanspread.frontend.socket]");
        auto live = answers(address, path);
        if (!live)
            return live.status();
        if (live.value())
            return Status(LANSPREAD_E_IO,
                          "another lanspread peer already answers on " + path +
                              "; stop it, or give this peer another state dir or socket path "
                              "([plugin.org.lanspread.frontend.socket] path)");
        // Stale: left by a peer that was killed. Nobody listens on it, so it can go.
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return Status(LANSPREAD_E_IO,
                          "cannot remove the stale socket " + path + ": " + errnoText(errno));
        note = "replaced a stale socket file";
    } else if (errno != ENOENT) {
        return Status(LANSPREAD_E_IO, "cannot use " + path + ": " + errnoText(errno));
    }

    UnixListener listener;
    listener._fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener._fd < 0)
        return Status(LANSPREAD_E_IO, "socket: " + errnoText(errno));
    if (::bind(listener._fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0)
        return Status(LANSPREAD_E_IO,
                      "cannot bind the control socket " + path + ": " + errnoText(errno));
    listener._path = path; // from here on, close() removes the file
    struct stat bound {};
    if (::lstat(path.c_str(), &bound) == 0) {
        listener._dev = bound.st_dev;
        listener._ino = bound.st_ino;
    }
    // Mode and group are set before listen(): until then a connect() is refused, so nobody
    // gets in through the mode the umask gave the file for a moment.
    if (::chmod(path.c_str(), 0660) != 0)
        return Status(LANSPREAD_E_IO, "cannot chmod 0660 " + path + ": " + errnoText(errno));
    std::string groupNote;
    if (!group.empty()) {
        gid_t gid = 0;
        if (!lookUpGroup(group, gid))
            groupNote = "no group " + group + ": only this user (and root) can connect";
        else if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0)
            groupNote = "cannot give it to group " + group + " (" + errnoText(errno) +
                        "): only this user (and root) can connect";
        else
            groupNote = "group " + group;
    }
    if (::listen(listener._fd, kBacklog) != 0)
        return Status(LANSPREAD_E_IO, "cannot listen on " + path + ": " + errnoText(errno));
    note = note.empty() ? groupNote : (groupNote.empty() ? note : groupNote + "; " + note);
    return listener;
}

void UnixListener::close() {
    if (_fd >= 0) {
        ::close(_fd);
        _fd = -1;
    }
    if (!_path.empty()) {
        struct stat now {};
        if (::lstat(_path.c_str(), &now) == 0 && now.st_dev == _dev && now.st_ino == _ino)
            ::unlink(_path.c_str());
        _path.clear();
    }
}

} // namespace lanspread::plugins::socket
