// transport-quic: the production PacketIo — one non-blocking UDP socket watched on the host
// reactor. Sends a batch of equal-sized QUIC packets with one sendmsg() and UDP GSO
// (UDP_SEGMENT), or sendmmsg() where GSO is missing; receives with recvmmsg() and UDP_GRO,
// so a train of datagrams from one peer arrives as one buffer. Large SO_SNDBUF/SO_RCVBUF
// (SO_*BUFFORCE when the process may), DF set (QUIC must not be IP-fragmented).
#pragma once

#include "packet_io.hpp"

#include <deque>
#include <vector>

namespace lanspread::plugins::quic {

class UdpPacketIo final : public PacketIo {
  public:
    static Result<std::unique_ptr<PacketIo>> open(const Host &host, const SockAddr &bindAddr,
                                                  const Options &options);
    ~UdpPacketIo() override;

    void setReceiver(PacketReceiver *receiver) override { _receiver = receiver; }
    const SockAddr &localAddress() const override { return _local; }
    SendResult send(const SockAddr &to, const uint8_t *data, std::size_t len,
                    std::size_t segmentSize) override;
    std::size_t maxSegments(std::size_t segmentSize) const override;
    std::size_t pathMaxUdpPayload(const SockAddr &to) const override;

    bool gsoEnabled() const { return _gso; }
    bool groEnabled() const { return _gro; }

  private:
    UdpPacketIo(const Host &host, int fd) : _host(host), _fd(fd) {}
    void onReady(uint32_t revents);
    void readAll();
    // 0 = all sent; EAGAIN = *sent bytes went out, the rest must wait; other = errno.
    int transmit(const SockAddr &to, const uint8_t *data, std::size_t len, std::size_t segment,
                 std::size_t *sent);
    int transmitGso(const SockAddr &to, const uint8_t *data, std::size_t len, std::size_t segment);
    int transmitEach(const SockAddr &to, const uint8_t *data, std::size_t len, std::size_t segment,
                     std::size_t *sent);
    bool flushPending();

    struct Pending {
        SockAddr to;
        std::vector<uint8_t> bytes;
        std::size_t segment;
    };

    Host _host;
    int _fd;
    FdWatch _watch;
    SockAddr _local;
    PacketReceiver *_receiver = nullptr;
    bool _gso = false;
    bool _gro = false;
    bool _wantWrite = false;
    std::deque<Pending> _pending;
    uint64_t _sendFailures = 0; // logged at 1, 10, 100, ... so a broken path cannot flood the log
};

} // namespace lanspread::plugins::quic
