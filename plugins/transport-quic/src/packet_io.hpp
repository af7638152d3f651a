// transport-quic: the packet-I/O seam. A QUIC endpoint needs only this from the network:
// send a batch of equal-sized datagrams to an address, and be handed the datagrams that
// arrive. Production uses UdpPacketIo (udp_io.hpp: a UDP socket watched on the host
// reactor, GSO/GRO, recvmmsg); the unit tests plug in an in-memory network with seeded loss,
// reordering and delay driven by the FakeHost's manual clock (tests/mem_network.hpp), so two
// endpoints run in one process with no sockets and no sleeps.
// Thread: reactor only, like everything in the plugin.
#pragma once

#include "address.hpp"

#include <lanspread/host.hpp>
#include <lanspread/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lanspread::plugins::quic {

struct Options;

// What a PacketIo delivers to. Implemented by the endpoint.
class PacketReceiver {
  public:
    virtual ~PacketReceiver() = default;
    // `len` bytes from `from`, holding datagrams of `segmentSize` bytes each (the last may be
    // shorter): one datagram when segmentSize >= len, a GRO train otherwise. Borrowed.
    virtual void onDatagrams(const SockAddr &from, const uint8_t *data, std::size_t len,
                             std::size_t segmentSize) = 0;
    // The I/O has delivered everything it read this turn: time to answer (ACKs, data).
    virtual void onReceiveDone() = 0;
    // A send() that reported Blocked has drained; sending may resume.
    virtual void onSendReady() = 0;
};

class PacketIo {
  public:
    enum class SendResult {
        Sent,    // handed to the network (a loss there is QUIC's business)
        Blocked, // queued inside the I/O; the caller should pause until onSendReady()
        Failed,  // a hard error (logged); the datagrams are gone
    };

    virtual ~PacketIo() = default;
    virtual void setReceiver(PacketReceiver *receiver) = 0;
    // The bound address (port resolved).
    virtual const SockAddr &localAddress() const = 0;
    // Sends `len` bytes to `to` as datagrams of segmentSize (the last may be shorter).
    // The bytes are copied or sent before return.
    virtual SendResult send(const SockAddr &to, const uint8_t *data, std::size_t len,
                            std::size_t segmentSize) = 0;
    // How many datagrams of segmentSize one send() may carry (1 = no batching).
    virtual std::size_t maxSegments(std::size_t segmentSize) const = 0;
    // The largest UDP payload the path to `to` carries without IP fragmentation.
    virtual std::size_t pathMaxUdpPayload(const SockAddr &to) const = 0;
};

// Makes the I/O for an endpoint bound at bindAddr. The plugin's default makes UDP sockets;
// tests install one that makes in-memory ports.
using PacketIoFactory = std::function<Result<std::unique_ptr<PacketIo>>(
    const Host &host, const SockAddr &bindAddr, const Options &options)>;

} // namespace lanspread::plugins::quic
