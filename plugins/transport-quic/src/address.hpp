// transport-quic: socket addresses as the transport API spells them ("ip:port", "[v6]:port").
#pragma once

#include <lanspread/result.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace lanspread::plugins::quic {

// An IPv4 or IPv6 socket address. Numeric only: the kernel hands the transport addresses it
// learned from discovery, never host names.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;

    // "1.2.3.4:5", "[::1]:5". Fails with E_INVALID_ARGUMENT on anything else.
    static Result<SockAddr> parse(std::string_view text);
    static SockAddr from(const sockaddr *address, socklen_t length);
    // The wildcard address of the same family as `like`, port 0.
    static SockAddr anyLike(const SockAddr &like);

    std::string toString() const;
    int family() const { return storage.ss_family; }
    uint16_t port() const;
    bool isLoopback() const;
    bool empty() const { return len == 0; }

    const sockaddr *sa() const { return reinterpret_cast<const sockaddr *>(&storage); }
    sockaddr *sa() { return reinterpret_cast<sockaddr *>(&storage); }

    // Same family, address and port (IPv6 scope and flow info are ignored).
    bool operator==(const SockAddr &other) const;
    bool operator!=(const SockAddr &other) const { return !(*this == other); }
    // Same family and address, whatever the port (the per-address handshake cap).
    bool sameHost(const SockAddr &other) const;
};

} // namespace lanspread::plugins::quic
