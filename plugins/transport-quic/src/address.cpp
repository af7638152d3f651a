#include "address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace lanspread::plugins::quic {

Result<SockAddr> SockAddr::parse(std::string_view text) {
    const auto bad = [&](const char *why) {
        return Result<SockAddr>(LANSPREAD_E_INVALID_ARGUMENT,
                                "bad address \"" + std::string(text) + "\": " + why);
    };
    std::string host;
    std::string_view portText;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return bad("expected [ipv6]:port");
        host = std::string(text.substr(1, close - 1));
        portText = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return bad("expected ip:port");
        host = std::string(text.substr(0, colon));
        portText = text.substr(colon + 1);
        if (host.find(':') != std::string::npos)
            return bad("an IPv6 address needs brackets: [addr]:port");
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || end != portText.data() + portText.size() || portText.empty() ||
        port > 65535)
        return bad("the port is not a number in 0..65535");

    SockAddr out;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&out.storage);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&out.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        out.len = sizeof(sockaddr_in);
        return out;
    }
    std::memset(&out.storage, 0, sizeof out.storage);
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        out.len = sizeof(sockaddr_in6);
        return out;
    }
    return bad("not a numeric IPv4 or IPv6 address");
}

SockAddr SockAddr::from(const sockaddr *address, socklen_t length) {
    SockAddr out;
    if (address != nullptr && length > 0 && length <= sizeof out.storage) {
        std::memcpy(&out.storage, address, length);
        out.len = length;
    }
    return out;
}

SockAddr SockAddr::anyLike(const SockAddr &like) {
    SockAddr out;
    if (like.family() == AF_INET6) {
        auto *v6 = reinterpret_cast<sockaddr_in6 *>(&out.storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        out.len = sizeof(sockaddr_in6);
    } else {
        auto *v4 = reinterpret_cast<sockaddr_in *>(&out.storage);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        out.len = sizeof(sockaddr_in);
    }
    return out;
}

std::string SockAddr::toString() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        const auto *v4 = reinterpret_cast<const sockaddr_in *>(&storage);
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
    }
    if (family() == AF_INET6) {
        const auto *v6 = reinterpret_cast<const sockaddr_in6 *>(&storage);
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        // Appended to std::string("["): GCC 12 at -O3 reports a false -Wrestrict overlap for
        // "literal" + a temporary std::string.
        return std::string("[") + text + "]:" + std::to_string(ntohs(v6->sin6_port));
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

bool SockAddr::operator==(const SockAddr &other) const {
    if (family() != other.family())
        return false;
    if (family() == AF_INET) {
        const auto *a = reinterpret_cast<const sockaddr_in *>(&storage);
        const auto *b = reinterpret_cast<const sockaddr_in *>(&other.storage);
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (family() == AF_INET6) {
        const auto *a = reinterpret_cast<const sockaddr_in6 *>(&storage);
        const auto *b = reinterpret_cast<const sockaddr_in6 *>(&other.storage);
        return a->sin6_port == b->sin6_port &&
               std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    return len == other.len;
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

} // namespace lanspread::plugins::quic
