#include "udp_io.hpp"

#include "options.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace lanspread::plugins::quic {

namespace {

constexpr std::size_t kRxSlots = 16;          // datagrams (or GRO trains) per recvmmsg
constexpr std::size_t kRxSlotSize = 65536;    // a GRO train is at most 64 KiB
constexpr int kRxRounds = 8;                  // recvmmsg calls per readiness callback
constexpr std::size_t kMaxGsoSegments = 64;   // UDP_MAX_SEGMENTS on every kernel we run on
constexpr std::size_t kMaxUdpTotalV4 = 65507; // 65535 - IPv4 header - UDP header
constexpr std::size_t kPendingCap = 4096;     // queued sends while the socket is full

// Receive scratch space, shared by every socket of the (single) reactor thread.
struct RxScratch {
    std::vector<uint8_t> buffer = std::vector<uint8_t>(kRxSlots * kRxSlotSize);
    std::array<mmsghdr, kRxSlots> msgs{};
    std::array<iovec, kRxSlots> iov{};
    std::array<sockaddr_storage, kRxSlots> names{};
    std::array<std::array<char, CMSG_SPACE(sizeof(int)) * 2>, kRxSlots> control{};
};

RxScratch &scratch() {
    static thread_local RxScratch s;
    return s;
}

std::string errnoText(int error) {
    return std::strerror(error);
}

void setBuffer(int fd, int forceOpt, int opt, int bytes) {
    if (bytes <= 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, forceOpt, &bytes, sizeof bytes) == 0)
        return;
    setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes); // capped by net.core.*mem_max
}

int getIntOpt(int fd, int level, int opt) {
    int value = 0;
    socklen_t len = sizeof value;
    return getsockopt(fd, level, opt, &value, &len) == 0 ? value : -1;
}

} // namespace

Result<std::unique_ptr<PacketIo>> UdpPacketIo::open(const Host &host, const SockAddr &bindAddr,
                                                    const Options &options) {
    using R = Result<std::unique_ptr<PacketIo>>;
    int fd = ::socket(bindAddr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return R(LANSPREAD_E_IO, "socket(): " + errnoText(errno));
    std::unique_ptr<UdpPacketIo> io(new UdpPacketIo(host, fd));

    setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.socketBuffer);
    setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.socketBuffer);
    // QUIC packets must never be fragmented: set DF, learn nothing from ICMP (RFC 9000 §14).
    if (bindAddr.family() == AF_INET) {
        int pmtud = IP_PMTUDISC_PROBE;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtud, sizeof pmtud);
    } else {
        int pmtud = IPV6_PMTUDISC_PROBE;
        setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtud, sizeof pmtud);
    }
    if (options.gro) {
        int on = 1;
        io->_gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) == 0;
    }
    if (options.gso)
        io->_gso = getIntOpt(fd, IPPROTO_UDP, UDP_SEGMENT) >= 0;

    if (::bind(fd, bindAddr.sa(), bindAddr.len) != 0) {
        const int error = errno;
        return R(LANSPREAD_E_IO, "bind(" + bindAddr.toString() + "): " + errnoText(error));
    }
    sockaddr_storage bound{};
    socklen_t boundLen = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &boundLen) != 0)
        return R(LANSPREAD_E_IO, "getsockname(): " + errnoText(errno));
    io->_local = SockAddr::from(reinterpret_cast<sockaddr *>(&bound), boundLen);

    UdpPacketIo *raw = io.get();
    auto watch = host.watchFd(fd, LANSPREAD_FD_READ,
                              [raw](int, uint32_t revents) { raw->onReady(revents); });
    if (!watch)
        return R(LANSPREAD_E_IO, "watch_fd on the UDP socket failed");
    io->_watch = std::move(watch.value());

    host.debug("udp " + io->_local.toString() + ": SO_SNDBUF " +
               std::to_string(getIntOpt(fd, SOL_SOCKET, SO_SNDBUF)) + ", SO_RCVBUF " +
               std::to_string(getIntOpt(fd, SOL_SOCKET, SO_RCVBUF)) + ", GSO " +
               (io->_gso ? "on" : "off") + ", GRO " + (io->_gro ? "on" : "off"));
    return R(std::unique_ptr<PacketIo>(std::move(io)));
}

UdpPacketIo::~UdpPacketIo() {
    _watch.reset(); // unwatch before close (host.h)
    if (_fd >= 0)
        ::close(_fd);
}

std::size_t UdpPacketIo::maxSegments(std::size_t segmentSize) const {
    if (segmentSize == 0)
        return 1;
    const std::size_t byTotal = std::max<std::size_t>(1, kMaxUdpTotalV4 / segmentSize);
    return std::min(kMaxGsoSegments, byTotal);
}

std::size_t UdpPacketIo::pathMaxUdpPayload(const SockAddr &to) const {
    // The route MTU toward `to`, learnt from a throw-away connected socket (no packet sent).
    const bool v6 = to.family() == AF_INET6;
    const std::size_t headers = v6 ? 48 : 28;
    const std::size_t fallback = 1200;
    int fd = ::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fallback;
    int mtu = -1;
    if (::connect(fd, to.sa(), to.len) == 0)
        mtu = v6 ? getIntOpt(fd, IPPROTO_IPV6, IPV6_MTU) : getIntOpt(fd, IPPROTO_IP, IP_MTU);
    ::close(fd);
    if (mtu <= static_cast<int>(headers) + 1200)
        return fallback;
    return std::min<std::size_t>(static_cast<std::size_t>(mtu) - headers,
                                 v6 ? 65527 : kMaxUdpTotalV4);
}

PacketIo::SendResult UdpPacketIo::send(const SockAddr &to, const uint8_t *data, std::size_t len,
                                       std::size_t segmentSize) {
    if (len == 0)
        return SendResult::Sent;
    if (segmentSize == 0 || segmentSize > len)
        segmentSize = len;
    if (!_pending.empty()) {
        if (_pending.size() >= kPendingCap)
            return SendResult::Failed; // the caller keeps pausing; QUIC retransmits
        _pending.push_back(Pending{to, std::vector<uint8_t>(data, data + len), segmentSize});
        return SendResult::Blocked;
    }
    std::size_t sent = 0;
    const int error = transmit(to, data, len, segmentSize, &sent);
    if (error == 0)
        return SendResult::Sent;
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
        _pending.push_back(Pending{to, std::vector<uint8_t>(data + sent, data + len), segmentSize});
        if (!_wantWrite) {
            _wantWrite = true;
            _watch.modify(LANSPREAD_FD_READ | LANSPREAD_FD_WRITE);
        }
        return SendResult::Blocked;
    }
    ++_sendFailures;
    bool powerOfTen = true;
    for (uint64_t n = _sendFailures; n > 1; n /= 10)
        powerOfTen = powerOfTen && n % 10 == 0;
    if (powerOfTen)
        _host.warning("udp " + _local.toString() + ": sending " + std::to_string(len) +
                      " bytes to " + to.toString() + " failed: " + errnoText(error) + " (" +
                      std::to_string(_sendFailures) + " failures so far)");
    return SendResult::Failed;
}

int UdpPacketIo::transmit(const SockAddr &to, const uint8_t *data, std::size_t len,
                          std::size_t segment, std::size_t *sent) {
    *sent = 0;
    if (_gso && len > segment) {
        const int error = transmitGso(to, data, len, segment);
        if (error == 0) {
            *sent = len;
            return 0;
        }
        if (error != EIO && error != EINVAL && error != EOPNOTSUPP)
            return error; // EAGAIN etc.: nothing went out
        // The device cannot segment (no checksum offload): stop trying, send one by one.
        _gso = false;
        _host.info("udp " + _local.toString() + ": UDP GSO refused (" + errnoText(error) +
                   "); sending datagrams one by one");
    }
    return transmitEach(to, data, len, segment, sent);
}

int UdpPacketIo::transmitGso(const SockAddr &to, const uint8_t *data, std::size_t len,
                             std::size_t segment) {
    iovec iov{const_cast<uint8_t *>(data), len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr *>(to.sa());
    msg.msg_namelen = to.len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = IPPROTO_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t gsoSize = static_cast<uint16_t>(segment);
    std::memcpy(CMSG_DATA(cm), &gsoSize, sizeof gsoSize);
    for (;;) {
        if (::sendmsg(_fd, &msg, 0) >= 0)
            return 0;
        if (errno != EINTR)
            return errno;
    }
}

int UdpPacketIo::transmitEach(const SockAddr &to, const uint8_t *data, std::size_t len,
                              std::size_t segment, std::size_t *sent) {
    std::array<mmsghdr, kMaxGsoSegments> msgs{};
    std::array<iovec, kMaxGsoSegments> iov{};
    std::size_t offset = *sent;
    while (offset < len) {
        std::size_t count = 0;
        for (std::size_t at = offset; at < len && count < msgs.size(); at += segment, ++count) {
            iov[count].iov_base = const_cast<uint8_t *>(data + at);
            iov[count].iov_len = std::min(segment, len - at);
            msgs[count].msg_hdr = msghdr{};
            msgs[count].msg_hdr.msg_name = const_cast<sockaddr *>(to.sa());
            msgs[count].msg_hdr.msg_namelen = to.len;
            msgs[count].msg_hdr.msg_iov = &iov[count];
            msgs[count].msg_hdr.msg_iovlen = 1;
        }
        const int n = ::sendmmsg(_fd, msgs.data(), static_cast<unsigned>(count), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *sent = offset;
            return errno;
        }
        for (int i = 0; i < n; ++i)
            offset += iov[static_cast<std::size_t>(i)].iov_len;
    }
    *sent = offset;
    return 0;
}

bool UdpPacketIo::flushPending() {
    while (!_pending.empty()) {
        Pending &p = _pending.front();
        std::size_t sent = 0;
        const int error = transmit(p.to, p.bytes.data(), p.bytes.size(), p.segment, &sent);
        if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
            p.bytes.erase(p.bytes.begin(), p.bytes.begin() + static_cast<std::ptrdiff_t>(sent));
            return false;
        }
        _pending.pop_front(); // sent, or failed hard (dropped: QUIC recovers)
    }
    return true;
}

void UdpPacketIo::onReady(uint32_t revents) {
    if ((revents & LANSPREAD_FD_WRITE) && _wantWrite && flushPending()) {
        _wantWrite = false;
        _watch.modify(LANSPREAD_FD_READ);
        if (_receiver)
            _receiver->onSendReady();
    }
    if (revents & (LANSPREAD_FD_READ | LANSPREAD_FD_ERROR))
        readAll();
}

void UdpPacketIo::readAll() {
    RxScratch &s = scratch();
    bool any = false;
    for (int round = 0; round < kRxRounds; ++round) {
        for (std::size_t i = 0; i < kRxSlots; ++i) {
            s.iov[i].iov_base = s.buffer.data() + i * kRxSlotSize;
            s.iov[i].iov_len = kRxSlotSize;
            msghdr &h = s.msgs[i].msg_hdr;
            h = msghdr{};
            h.msg_name = &s.names[i];
            h.msg_namelen = sizeof s.names[i];
            h.msg_iov = &s.iov[i];
            h.msg_iovlen = 1;
            h.msg_control = s.control[i].data();
            h.msg_controllen = s.control[i].size();
            s.msgs[i].msg_len = 0;
        }
        const int n = ::recvmmsg(_fd, s.msgs.data(), kRxSlots, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            // EAGAIN: drained. Anything else (an ICMP error queued on the socket) is dropped.
            break;
        }
        for (int i = 0; i < n; ++i) {
            const auto slot = static_cast<std::size_t>(i);
            msghdr &h = s.msgs[slot].msg_hdr;
            const std::size_t len = s.msgs[slot].msg_len;
            std::size_t segment = len;
            for (cmsghdr *cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(&h, cm)) {
                if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
                    int gro = 0;
                    std::memcpy(&gro, CMSG_DATA(cm), sizeof gro);
                    if (gro > 0)
                        segment = static_cast<std::size_t>(gro);
                }
            }
            if (len == 0 || _receiver == nullptr)
                continue;
            any = true;
            const SockAddr from =
                SockAddr::from(reinterpret_cast<const sockaddr *>(&s.names[slot]), h.msg_namelen);
            _receiver->onDatagrams(from, static_cast<const uint8_t *>(s.iov[slot].iov_base), len,
                                   segment);
        }
        if (static_cast<std::size_t>(n) < kRxSlots)
            break;
    }
    if (any && _receiver)
        _receiver->onReceiveDone();
}

} // namespace lanspread::plugins::quic
