#include "tcp_io.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace lanspread::plugins::tls {

Result<SockAddr> SockAddr::parse(std::string_view text) {
    using R = Result<SockAddr>;
    const auto bad = [&] {
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "\"" + std::string(text) + "\" is not an ip:port or [ipv6]:port address");
    };
    std::string host;
    std::string_view portText;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return bad();
        host = std::string(text.substr(1, close - 1));
        portText = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return bad();
        host = std::string(text.substr(0, colon));
        portText = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() ||
        port > 65535)
        return bad();
    SockAddr out;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&out.storage);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&out.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        out.length = sizeof(sockaddr_in);
        return out;
    }
    out.storage = {};
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        out.length = sizeof(sockaddr_in6);
        return out;
    }
    return bad();
}

SockAddr SockAddr::fromNative(const sockaddr *addr, socklen_t length) {
    SockAddr out;
    out.length = std::min<socklen_t>(length, sizeof out.storage);
    std::memcpy(&out.storage, addr, out.length);
    return out;
}

std::string SockAddr::toString() const {
    char text[INET6_ADDRSTRLEN] = "";
    if (family() == AF_INET) {
        const auto *v4 = reinterpret_cast<const sockaddr_in *>(&storage);
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
    }
    if (family() == AF_INET6) {
        const auto *v6 = reinterpret_cast<const sockaddr_in6 *>(&storage);
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
    }
    return "?";
}

uint16_t SockAddr::port() const {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in *>(&storage)->sin_port);
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_port);
    return 0;
}

bool SockAddr::isLoopback() const {
    if (family() == AF_INET)
        return (ntohl(reinterpret_cast<const sockaddr_in *>(&storage)->sin_addr.s_addr) >> 24) ==
               127;
    if (family() == AF_INET6) {
        const auto &a = reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(&a) != 0;
    }
    return false;
}

bool SockAddr::sameHost(const SockAddr &other) const {
    if (family() != other.family())
        return false;
    if (family() == AF_INET)
        return reinterpret_cast<const sockaddr_in *>(&storage)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in *>(&other.storage)->sin_addr.s_addr;
    if (family() == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6 *>(&other.storage)->sin6_addr,
                           sizeof(in6_addr)) == 0;
    return false;
}

Fd &Fd::operator=(Fd &&other) noexcept {
    if (this != &other) {
        reset();
        _fd = other.release();
    }
    return *this;
}

void Fd::reset() {
    if (_fd >= 0)
        ::close(_fd);
    _fd = -1;
}

std::string errnoText(int error) {
    char buffer[256];
    // GNU strerror_r returns the text (maybe not in buffer).
    return strerror_r(error, buffer, sizeof buffer);
}

namespace {

void setNoDelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

} // namespace

Result<Fd> listenTcp(const SockAddr &addr) {
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        return Result<Fd>(LANSPREAD_E_IO, "socket: " + errnoText(errno));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr.family() == AF_INET6)
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr.storage), addr.length) != 0)
        return Result<Fd>(LANSPREAD_E_IO, "bind " + addr.toString() + ": " + errnoText(errno));
    // The kernel's maximum backlog (net.core.somaxconn): a burst of connects larger than a
    // small backlog would wait on SYN retransmits (1 s, then 3 s...) before being accepted,
    // refused or timed out; max_pending_handshakes is the limit that counts.
    if (::listen(fd.get(), SOMAXCONN) != 0)
        return Result<Fd>(LANSPREAD_E_IO, "listen " + addr.toString() + ": " + errnoText(errno));
    return fd;
}

Result<Fd> acceptTcp(int listenFd, SockAddr &remote) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    int fd = ::accept4(listenFd, reinterpret_cast<sockaddr *>(&storage), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return Result<Fd>(LANSPREAD_E_AGAIN, "no pending connection");
        return Result<Fd>(LANSPREAD_E_IO, "accept: " + errnoText(errno));
    }
    remote = SockAddr::fromNative(reinterpret_cast<sockaddr *>(&storage), length);
    setNoDelay(fd);
    return Fd(fd);
}

Result<Fd> connectTcp(const SockAddr &remote) {
    Fd fd(::socket(remote.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        return Result<Fd>(LANSPREAD_E_IO, "socket: " + errnoText(errno));
    setNoDelay(fd.get());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&remote.storage), remote.length) !=
            0 &&
        errno != EINPROGRESS)
        return Result<Fd>(LANSPREAD_E_IO, "connect " + remote.toString() + ": " + errnoText(errno));
    return fd;
}

int connectError(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        return errno;
    return error;
}

Result<SockAddr> localAddress(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&storage), &length) != 0)
        return Result<SockAddr>(LANSPREAD_E_IO, "getsockname: " + errnoText(errno));
    return SockAddr::fromNative(reinterpret_cast<sockaddr *>(&storage), length);
}

long readSome(int fd, uint8_t *buffer, std::size_t len) {
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return static_cast<long>(n);
    }
}

long writeSome(int fd, const uint8_t *data, std::size_t len) {
    for (;;) {
        const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        return static_cast<long>(n);
    }
}

} // namespace lanspread::plugins::tls
