// netns_flood: the hostile host of S62 ("Flood"). Run inside a lab host, it makes
// --attempts connection attempts at one peer, interleaved and paced over --spread-ms, and
// keeps what it opened open until its standard input ends (or --hold-s passes):
//
//   quic     real QUIC Initials: transport-quic loaded as the kernel loads it
//            (tests/support/raw_peer.hpp) and dialled in a loop, a client endpoint and an
//            identity certificate each time; a dial the peer lets through completes the QUIC
//            handshake and then never sends Hello
//   tls      real TLS 1.3 handshakes with a certificate the same way (transport-tls), then
//            silence (no Hello)
//   held     TCP connections to the TLS port that never send a byte (half-open handshakes)
//   garbage  TCP connections that send 512 seeded pseudo-random bytes and close
//
// plus --udp-garbage datagrams of random bytes at the QUIC port (not counted as attempts).
// Out (stdout): "flood: started", then one line "flood: ..." with what each kind saw (the
// numbers S62 reports), once stdin ends. Exit status 0 unless it could not run at all.
#include "raw_peer.hpp"

#include <lanspread/kernel/peers/identity.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::peers::Identity;
using lanspread::test::RawPeer;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
    std::string target; // ip:port (QUIC and TLS listen on the same port number)
    std::string quicPlugin, tlsPlugin, stateDir;
    int attempts = 1000;
    int spreadMs = 4000;
    int holdS = 120;
    int udpGarbage = 500;
};

sockaddr_in parseV4(const std::string &addr) {
    const auto colon = addr.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
    if (::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr) != 1)
        throw std::runtime_error("not an IPv4 ip:port: " + addr);
    return sa;
}

// A non-blocking TCP connect (the handshake completes in the background); -1 on failure.
int tcpConnect(const sockaddr_in &sa) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) != 0 &&
        errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Whether the peer closed (or reset) a TCP connection we hold.
bool closedByPeer(int fd) {
    char byte = 0;
    const long n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINPROGRESS &&
                      errno != ENOTCONN);
}

enum class Kind { Quic, Tls, Held, Garbage };

} // namespace

int main(int argc, char **argv) {
    Args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--target")
            a.target = value;
        else if (key == "--quic")
            a.quicPlugin = value;
        else if (key == "--tls")
            a.tlsPlugin = value;
        else if (key == "--state")
            a.stateDir = value;
        else if (key == "--attempts")
            a.attempts = std::stoi(value);
        else if (key == "--spread-ms")
            a.spreadMs = std::stoi(value);
        else if (key == "--hold-s")
            a.holdS = std::stoi(value);
        else if (key == "--udp-garbage")
            a.udpGarbage = std::stoi(value);
        else {
            std::fprintf(stderr, "netns_flood: unknown option %s\n", key.c_str());
            return 2;
        }
    }
    if (a.target.empty() || a.quicPlugin.empty() || a.tlsPlugin.empty() || a.stateDir.empty()) {
        std::fprintf(stderr, "usage: netns_flood --target IP:PORT --quic SO --tls SO --state DIR "
                             "[--attempts N] [--spread-ms MS] [--hold-s S] [--udp-garbage N]\n");
        return 2;
    }
    // Every attempt may hold a descriptor until the end.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);

    try {
        const sockaddr_in target = parseV4(a.target);
        auto identity = Identity::loadOrCreate(a.stateDir, "flood");
        if (!identity) {
            std::fprintf(stderr, "netns_flood: identity: %s\n",
                         identity.status().message().c_str());
            return 1;
        }
        RawPeer quic(a.quicPlugin, identity.value());
        RawPeer tls(a.tlsPlugin, identity.value());

        // The schedule: 45 % QUIC, 10 % TLS, 25 % held TCP, 20 % TCP garbage, shuffled.
        std::vector<Kind> schedule;
        const int nQuic = a.attempts * 45 / 100, nTls = a.attempts / 10, nHeld = a.attempts / 4;
        const int nGarbage = a.attempts - nQuic - nTls - nHeld;
        schedule.insert(schedule.end(), static_cast<std::size_t>(nQuic), Kind::Quic);
        schedule.insert(schedule.end(), static_cast<std::size_t>(nTls), Kind::Tls);
        schedule.insert(schedule.end(), static_cast<std::size_t>(nHeld), Kind::Held);
        schedule.insert(schedule.end(), static_cast<std::size_t>(nGarbage), Kind::Garbage);
        std::mt19937 rng(62);
        std::shuffle(schedule.begin(), schedule.end(), rng);

        const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        std::vector<int> quicHandles, tlsHandles, held;
        int connectErrors = 0, garbageSent = 0, udpSent = 0;
        std::vector<uint8_t> noise(1200);
        std::cout << "flood: started" << std::endl;
        const auto t0 = Clock::now();
        const double step = schedule.empty() ? 0 : double(a.spreadMs) / double(schedule.size());
        for (std::size_t i = 0; i < schedule.size(); ++i) {
            std::this_thread::sleep_until(
                t0 + std::chrono::microseconds(static_cast<int64_t>(step * 1000 * double(i))));
            try {
                switch (schedule[i]) {
                case Kind::Quic: quicHandles.push_back(quic.connect(a.target)); break;
                case Kind::Tls: tlsHandles.push_back(tls.connect(a.target)); break;
                case Kind::Held: {
                    const int fd = tcpConnect(target);
                    if (fd < 0)
                        ++connectErrors;
                    else
                        held.push_back(fd);
                    break;
                }
                case Kind::Garbage: {
                    const int fd = tcpConnect(target);
                    if (fd < 0) {
                        ++connectErrors;
                        break;
                    }
                    pollfd p{fd, POLLOUT, 0};
                    if (::poll(&p, 1, 500) == 1 && (p.revents & POLLOUT)) {
                        for (auto &b : noise)
                            b = static_cast<uint8_t>(rng());
                        noise[0] = 0xC3; // not a TLS record type
                        if (::send(fd, noise.data(), 512, MSG_NOSIGNAL) == 512)
                            ++garbageSent;
                    }
                    ::close(fd);
                    break;
                }
                }
            } catch (const std::exception &) {
                ++connectErrors;
            }
            // The UDP noise, spread over the same time.
            while (udp >= 0 && udpSent < a.udpGarbage &&
                   udpSent * int(schedule.size()) <= a.udpGarbage * int(i)) {
                for (auto &b : noise)
                    b = static_cast<uint8_t>(rng());
                noise[0] &= 0x7f; // a short header: no Initial, no connection
                if (::sendto(udp, noise.data(), 100 + (noise[1] % 1000), 0,
                             reinterpret_cast<const sockaddr *>(&target), sizeof target) > 0)
                    ++udpSent;
                else
                    break;
            }
        }
        const auto sentMs =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
        std::cout << "flood: sent " << schedule.size() << " attempts in " << sentMs << " ms"
                  << std::endl;

        // Hold everything until told to stop (stdin ends) or the hold time is up.
        pollfd in{0, POLLIN, 0};
        const auto holdUntil = Clock::now() + std::chrono::seconds(a.holdS);
        while (Clock::now() < holdUntil) {
            if (::poll(&in, 1, 200) == 1) {
                char buffer[256];
                if (::read(0, buffer, sizeof buffer) <= 0)
                    break;
            }
        }

        int quicConnected = 0, quicClosed = 0, tlsConnected = 0, tlsClosed = 0, heldClosed = 0;
        for (int h : quicHandles) {
            const auto v = quic.conn(h);
            quicConnected += v.connected ? 1 : 0;
            quicClosed += v.closed ? 1 : 0;
        }
        for (int h : tlsHandles) {
            const auto v = tls.conn(h);
            tlsConnected += v.connected ? 1 : 0;
            tlsClosed += v.closed ? 1 : 0;
        }
        for (int fd : held) {
            heldClosed += closedByPeer(fd) ? 1 : 0;
            ::close(fd);
        }
        if (udp >= 0)
            ::close(udp);
        std::cout << "flood: attempts " << schedule.size() << " in " << sentMs << " ms: quic "
                  << quicHandles.size() << " (" << quicConnected
                  << " completed the QUIC handshake, " << quicClosed
                  << " closed by the peer or timed out), tls " << tlsHandles.size() << " ("
                  << tlsConnected << " completed TLS, " << tlsClosed << " closed), held tcp "
                  << held.size() << " (" << heldClosed << " closed by the peer), garbage tcp "
                  << nGarbage << " (" << garbageSent << " sent 512 B), connect errors "
                  << connectErrors << "; udp garbage " << udpSent << " datagrams" << std::endl;
        tls.shutdown();
        quic.shutdown();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "netns_flood: %s\n", e.what());
        return 1;
    }
    return 0;
}
