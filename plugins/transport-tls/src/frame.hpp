// transport-tls: the wire format of the multiplexing layer inside the TLS connection.
//
// Every frame is a 12-byte header followed by `length` payload bytes (big-endian):
//   type u8 | flags u8 | length u16 | stream_id u64
// README.md lists the types and their payloads. A reader of the peer's bytes (FrameReader)
// buffers at most one frame (header + kMaxPayload), whatever the peer sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread::plugins::tls {

enum class FrameType : uint8_t {
    Settings = 0,   // stream 0; stream_window u64, conn_window u64, max_streams u64
    Data = 1,       // stream != 0; the bytes; flags may carry kFrameFin; length 0 opens
    Window = 2,     // u64 increment of the sender's receive window; stream 0 = connection
    Reset = 3,      // stream != 0; u64 application error; both directions end
    MaxStreams = 4, // stream 0; u64 how many streams in total the receiver may open
    Ping = 5,       // stream 0; empty; keeps an idle connection alive
    Close = 6,      // stream 0; u64 application error, then a reason text
};

constexpr uint8_t kFrameFin = 0x1;
constexpr std::size_t kFrameHeaderSize = 12;
constexpr std::size_t kMaxPayload = 16384; // a DATA frame's largest payload: the round-robin
                                           // quantum between streams
constexpr std::size_t kMaxCloseReason = 1024;

struct Frame {
    FrameType type = FrameType::Data;
    uint8_t flags = 0;
    uint64_t stream = 0;
    std::span<const uint8_t> payload;
};

// Appends one frame to out.
void appendFrame(std::vector<uint8_t> &out, FrameType type, uint8_t flags, uint64_t stream,
                 std::span<const uint8_t> payload);
// Appends a frame whose payload is the given u64 values.
void appendU64Frame(std::vector<uint8_t> &out, FrameType type, uint64_t stream,
                    std::initializer_list<uint64_t> values);
// Appends a DATA header for `length` bytes the caller appends next.
void appendDataHeader(std::vector<uint8_t> &out, uint8_t flags, uint64_t stream,
                      std::size_t length);

uint64_t readU64(const uint8_t *p);

// Splits a byte stream into frames. feed() appends; next() yields complete frames, whose
// payload stays valid until the next feed(). A header announcing more than kMaxPayload is
// an error (the connection is then unusable).
class FrameReader {
  public:
    void feed(std::span<const uint8_t> bytes);
    enum class Next { Frame, NeedMore, Error };
    Next next(Frame &frame, std::string &error);
    std::size_t buffered() const { return _buffer.size() - _pos; }

  private:
    std::vector<uint8_t> _buffer;
    std::size_t _pos = 0;
};

} // namespace lanspread::plugins::tls
