// transport-tls: streams multiplexed over one ordered, reliable byte channel (the TLS
// connection), with credit-based flow control. Pure logic: no sockets, no TLS, no clock —
// bytes in through receive(), frames out through produce(), host-visible events through
// MuxEvents. Thread: one (the reactor).
//
// Flow control: each side advertises a per-stream and a per-connection receive window in its
// SETTINGS frame. A sender may have at most that many bytes delivered-but-unconsumed at the
// receiver; the receiver extends the window (WINDOW frames) only as its host consume()s. A
// peer that exceeds a window commits a protocol error. Sending is bounded too: send() accepts
// at most send_buffer bytes per stream and conn_send_buffer bytes in total that have not yet
// been framed. Fairness: produce() emits control frames first, then at most one DATA frame of
// ≤ kMaxPayload per stream in turn (round robin), so a bulk stream never starves another.
#pragma once

#include "frame.hpp"

#include <lanspread/result.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace lanspread::plugins::tls {

constexpr uint64_t kAnyStream = UINT64_MAX; // writable(kAnyStream): open_stream may succeed now
constexpr uint32_t kStreamFin = 0x1;        // = LANSPREAD_STREAM_FIN
constexpr uint32_t kStreamReset = 0x2;      // = LANSPREAD_STREAM_RESET

struct MuxLimits {
    uint64_t streamWindow = 16ull << 20;    // bytes the peer may have unconsumed per stream
    uint64_t connWindow = 64ull << 20;      // ... on all streams together
    uint64_t maxStreams = 4096;             // concurrent streams the peer may open
    uint64_t streamSendBuffer = 4ull << 20; // accepted-but-unframed bytes per stream
    uint64_t connSendBuffer = 64ull << 20;  // ... on all streams together
};

// What the mux reports. Each call may re-enter the mux (send, consume, reset, open) and may
// halt it (the connection closed from inside the callback); the mux then stops at once.
class MuxEvents {
  public:
    virtual ~MuxEvents() = default;
    virtual void settingsReceived() = 0;
    virtual void streamOpened(uint64_t stream) = 0;
    virtual void streamData(uint64_t stream, std::span<const uint8_t> data, uint32_t flags) = 0;
    virtual void peerClosed(uint64_t appError, std::string reason) = 0;
    virtual bool halted() const = 0;
};

class StreamMux {
  public:
    // The client opens odd stream ids, the server even ones (0 is the connection).
    StreamMux(bool client, MuxLimits limits, MuxEvents &events);

    // ---- the host's side ----
    // A new stream id; E_AGAIN when the peer's stream limit is reached (then writable
    // (kAnyStream) follows when it rises) or before the peer's SETTINGS arrived.
    Result<uint64_t> openStream();
    // How many bytes were taken; FIN applies only when all were.
    Result<std::size_t> send(uint64_t stream, std::span<const uint8_t> data, uint32_t flags);
    Status consume(uint64_t stream, std::size_t bytes);
    Status reset(uint64_t stream, uint64_t appError);
    void queuePing();
    void queueClose(uint64_t appError, std::string_view reason);

    // ---- the wire's side ----
    // Parses and handles the peer's bytes. An error is a protocol violation by the peer.
    Status receive(std::span<const uint8_t> bytes);
    // Appends frames to out until it holds at least `budget` bytes or nothing is left to send.
    void produce(std::vector<uint8_t> &out, std::size_t budget);
    // Streams whose send() was refused and that have room again (kAnyStream for a refused
    // openStream()); each is returned once per refusal.
    std::vector<uint64_t> takeWritable();
    bool hasOutput() const;

    // ---- introspection (tests, logs) ----
    bool settingsReceived() const { return _peerSettings; }
    std::size_t streamCount() const { return _streams.size(); }
    uint64_t sendBuffered() const { return _connSendBuffered; }
    uint64_t receiveUnconsumed() const { return _connUnconsumed; }
    bool knows(uint64_t stream) const { return _streams.count(stream) != 0; }

  private:
    struct Stream {
        bool local = false;
        // send direction
        std::deque<std::vector<uint8_t>> chunks;
        std::size_t headOffset = 0; // bytes of chunks.front() already framed
        uint64_t buffered = 0;      // accepted, not yet framed
        uint64_t credit = 0;        // bytes the peer still allows on this stream
        bool finQueued = false;
        bool finSent = false;
        bool scheduled = false; // in _ready
        // receive direction
        uint64_t recvCredit = 0; // bytes the peer may still send
        uint64_t unconsumed = 0;
        uint64_t pendingWindow = 0; // consumed, not yet advertised
        bool finReceived = false;
    };

    Status handle(const Frame &frame);
    Status handleData(const Frame &frame);
    void schedule(uint64_t id, Stream &s);
    bool sendable(const Stream &s) const;
    void returnConnWindow(uint64_t bytes);
    void erase(std::map<uint64_t, Stream>::iterator it);
    void maybeRetire(uint64_t id);
    uint64_t room(const Stream &s) const;
    bool isLocalId(uint64_t id) const { return (id % 2 == 1) == _client; }

    bool _client;
    MuxLimits _limits;
    MuxEvents &_events;
    FrameReader _reader;
    std::vector<uint8_t> _control; // frames that go before any DATA
    std::map<uint64_t, Stream> _streams;
    std::deque<uint64_t> _ready; // round-robin order of streams with something to send
    std::set<uint64_t> _blocked; // refused send(); waiting for room
    bool _openBlocked = false;

    // the peer's settings
    bool _peerSettings = false;
    uint64_t _peerStreamWindow = 0;
    uint64_t _connCredit = 0;  // connection-level bytes the peer still allows
    uint64_t _peerMaxOpen = 0; // streams (total) we may open
    uint64_t _localOpened = 0; // streams (total) we opened
    uint64_t _nextLocalId;
    uint64_t _connSendBuffered = 0;

    // our receive side
    uint64_t _connRecvCredit;
    uint64_t _connPendingWindow = 0;
    uint64_t _connUnconsumed = 0;
    uint64_t _nextPeerId;      // the id the peer's next new stream must have
    uint64_t _peerOpened = 0;  // streams (total) the peer opened
    uint64_t _peerRetired = 0; // of which are gone
    uint64_t _maxStreamsSent;  // the total we last advertised
};

} // namespace lanspread::plugins::tls
