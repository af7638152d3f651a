// transport-tls: non-blocking TCP sockets — "ip:port" addresses, a listening socket, an
// outgoing connect, reads and writes that never block. The reactor watches the fds; nothing
// here waits.
#pragma once

#include <lanspread/result.hpp>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lanspread::plugins::tls {

struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = 0;

    // "1.2.3.4:5" or "[::1]:5".
    static Result<SockAddr> parse(std::string_view text);
    static SockAddr fromNative(const sockaddr *addr, socklen_t length);
    std::string toString() const;
    uint16_t port() const;
    int family() const { return storage.ss_family; }
    bool isLoopback() const;
    // Same family and address, whatever the port (the per-address handshake cap).
    bool sameHost(const SockAddr &other) const;
};

// An owned fd, closed on destruction.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : _fd(fd) {}
    Fd(Fd &&other) noexcept : _fd(other.release()) {}
    Fd &operator=(Fd &&other) noexcept;
    ~Fd() { reset(); }
    int get() const { return _fd; }
    int release() {
        int fd = _fd;
        _fd = -1;
        return fd;
    }
    void reset();

  private:
    int _fd = -1;
};

Result<Fd> listenTcp(const SockAddr &addr);
// Accepts one pending connection (non-blocking, TCP_NODELAY); E_AGAIN when none is pending.
Result<Fd> acceptTcp(int listenFd, SockAddr &remote);
// Starts a connect; completion is reported by the fd turning writable (then connectError()).
Result<Fd> connectTcp(const SockAddr &remote);
// The pending error of a finished non-blocking connect (0 = connected).
int connectError(int fd);
Result<SockAddr> localAddress(int fd);

// Reads/writes what the socket takes now. >0: bytes; 0 on read: the peer closed its side;
// -1 with errno EAGAIN: nothing now; -1 otherwise: a failure (errno says which).
long readSome(int fd, uint8_t *buffer, std::size_t len);
long writeSome(int fd, const uint8_t *data, std::size_t len);

std::string errnoText(int error);

} // namespace lanspread::plugins::tls
