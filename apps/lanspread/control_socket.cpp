#include "control_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lanspread::client {

SocketChoice chooseSocket(const std::optional<std::string> &flag, const char *environment,
                          const std::function<bool(const std::string &)> &exists) {
    if (flag)
        return {*flag, false};
    if (environment != nullptr && *environment != '\0')
        return {environment, false};
    if (exists(kServiceSocket))
        return {kServiceSocket, false};
    return {kLocalSocket, true};
}

std::string connectError(const SocketChoice &socket, int error) {
    const std::string start = "lanspread: ";
    if (error == EACCES || error == EPERM)
        return start + "permission denied on " + socket.path +
               ": add yourself to the lanspread group (sudo adduser $USER lanspread) and log in "
               "again";
    if (socket.guessed && error == ENOENT)
        return start + "no peer is running here (no control socket at " + kServiceSocket + " or " +
               kLocalSocket +
               "); start it with systemctl start lanspread or lanspreadd, or name its socket "
               "with --socket PATH";
    if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR)
        return start + "no peer is running at " + socket.path +
               " (connect: " + std::strerror(error) +
               "); start it with systemctl start lanspread or lanspreadd";
    return start + "cannot connect to " + socket.path + ": " + std::strerror(error);
}

Connected connectTo(const SocketChoice &socket) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket.path.empty())
        return {-1, "lanspread: the socket path is empty"};
    if (socket.path.size() >= sizeof address.sun_path)
        return {-1, "lanspread: the socket path is too long for a Unix socket (" +
                        std::to_string(socket.path.size()) + " bytes, at most " +
                        std::to_string(sizeof address.sun_path - 1) + "): " + socket.path};
    std::memcpy(address.sun_path, socket.path.data(), socket.path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return {-1, std::string("lanspread: socket: ") + std::strerror(errno)};
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const int error = errno;
        ::close(fd);
        return {-1, connectError(socket, error)};
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return {fd, ""};
}

LineConnection::~LineConnection() {
    if (_fd >= 0)
        ::close(_fd);
}

bool LineConnection::send(const std::string &bytes) {
    if (_finishWriting)
        return false;
    if (!wantsWrite()) {
        _out.clear();
        _outStart = 0;
    }
    _out += bytes;
    return flush();
}

bool LineConnection::flush() {
    while (wantsWrite()) {
        const ssize_t n =
            ::send(_fd, _out.data() + _outStart, _out.size() - _outStart, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0)
            return false;
        _outStart += static_cast<std::size_t>(n);
    }
    if (_finishWriting && !_writeShut) {
        ::shutdown(_fd, SHUT_WR);
        _writeShut = true;
    }
    return true;
}

void LineConnection::finishWriting() {
    _finishWriting = true;
    flush();
}

bool LineConnection::read(std::vector<std::string> &lines) {
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::recv(_fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        _in.append(buffer, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t nl; (nl = _in.find('\n', start)) != std::string::npos; start = nl + 1)
            lines.push_back(_in.substr(start, nl - start));
        _in.erase(0, start);
    }
}

} // namespace lanspread::client
