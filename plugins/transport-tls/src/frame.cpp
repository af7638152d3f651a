#include "frame.hpp"

#include <cstring>

namespace lanspread::plugins::tls {

namespace {

void putU64(std::vector<uint8_t> &out, uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<uint8_t>(v >> shift));
}

} // namespace

uint64_t readU64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | p[i];
    return v;
}

void appendDataHeader(std::vector<uint8_t> &out, uint8_t flags, uint64_t stream,
                      std::size_t length) {
    out.push_back(static_cast<uint8_t>(FrameType::Data));
    out.push_back(flags);
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
    putU64(out, stream);
}

void appendFrame(std::vector<uint8_t> &out, FrameType type, uint8_t flags, uint64_t stream,
                 std::span<const uint8_t> payload) {
    out.push_back(static_cast<uint8_t>(type));
    out.push_back(flags);
    out.push_back(static_cast<uint8_t>(payload.size() >> 8));
    out.push_back(static_cast<uint8_t>(payload.size()));
    putU64(out, stream);
    out.insert(out.end(), payload.begin(), payload.end());
}

void appendU64Frame(std::vector<uint8_t> &out, FrameType type, uint64_t stream,
                    std::initializer_list<uint64_t> values) {
    out.push_back(static_cast<uint8_t>(type));
    out.push_back(0);
    const std::size_t length = values.size() * 8;
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
    putU64(out, stream);
    for (uint64_t v : values)
        putU64(out, v);
}

void FrameReader::feed(std::span<const uint8_t> bytes) {
    // Drop what next() has already handed out, so the buffer holds at most one partial
    // frame plus the new bytes.
    if (_pos > 0) {
        _buffer.erase(_buffer.begin(), _buffer.begin() + static_cast<std::ptrdiff_t>(_pos));
        _pos = 0;
    }
    _buffer.insert(_buffer.end(), bytes.begin(), bytes.end());
}

FrameReader::Next FrameReader::next(Frame &frame, std::string &error) {
    const std::size_t available = _buffer.size() - _pos;
    if (available < kFrameHeaderSize)
        return Next::NeedMore;
    const uint8_t *h = _buffer.data() + _pos;
    if (h[0] > static_cast<uint8_t>(FrameType::Close)) {
        error = "unknown frame type " + std::to_string(h[0]);
        return Next::Error;
    }
    const std::size_t length = (static_cast<std::size_t>(h[2]) << 8) | h[3];
    if (length > kMaxPayload) {
        error = "frame payload of " + std::to_string(length) + " bytes exceeds " +
                std::to_string(kMaxPayload);
        return Next::Error;
    }
    if (available < kFrameHeaderSize + length)
        return Next::NeedMore;
    frame.type = static_cast<FrameType>(h[0]);
    frame.flags = h[1];
    frame.stream = readU64(h + 4);
    frame.payload = std::span<const uint8_t>(h + kFrameHeaderSize, length);
    _pos += kFrameHeaderSize + length;
    return Next::Frame;
}

} // namespace lanspread::plugins::tls
