// The peer protocol's framing: frame types, frame headers (type byte, 4-byte big-endian
// length) and the incremental FrameReader that cuts a byte stream into frames, hands control
// payloads to decode() and ChunkData bytes to its handler. See messages.hpp for the contract.
#include "framing.hpp"

#include <lanspread/kernel/protocol/messages.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>

namespace lanspread::kernel::protocol {

namespace detail {

void putHeader(std::vector<uint8_t> &out, FrameType type, uint32_t length) {
    out.push_back(static_cast<uint8_t>(type));
    out.push_back(static_cast<uint8_t>(length >> 24));
    out.push_back(static_cast<uint8_t>(length >> 16));
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
}

bool knownType(uint8_t type) {
    return type >= static_cast<uint8_t>(FrameType::Hello) &&
           type <= static_cast<uint8_t>(FrameType::KeyProof);
}

Status protocolError(std::string message) {
    return Status(LANSPREAD_E_INVALID_ARGUMENT, std::move(message));
}

} // namespace detail

using detail::knownType;
using detail::protocolError;
using detail::putHeader;

const char *frameTypeName(FrameType type) {
    switch (type) {
    case FrameType::Hello: return "Hello";
    case FrameType::HelloAck: return "HelloAck";
    case FrameType::LibraryDelta: return "LibraryDelta";
    case FrameType::GetGame: return "GetGame";
    case FrameType::GameFiles: return "GameFiles";
    case FrameType::GetChunk: return "GetChunk";
    case FrameType::ChunkData: return "ChunkData";
    case FrameType::Error: return "Error";
    case FrameType::Ping: return "Ping";
    case FrameType::Pong: return "Pong";
    case FrameType::Goodbye: return "Goodbye";
    case FrameType::Have: return "Have";
    case FrameType::KeyChallenge: return "KeyChallenge";
    case FrameType::KeyProof: return "KeyProof";
    }
    return "unknown";
}

FrameType frameTypeOf(const Message &message) {
    return std::visit(
        [](const auto &m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, Hello>)
                return FrameType::Hello;
            else if constexpr (std::is_same_v<T, HelloAck>)
                return FrameType::HelloAck;
            else if constexpr (std::is_same_v<T, LibraryDelta>)
                return FrameType::LibraryDelta;
            else if constexpr (std::is_same_v<T, GetGame>)
                return FrameType::GetGame;
            else if constexpr (std::is_same_v<T, GameFiles>)
                return FrameType::GameFiles;
            else if constexpr (std::is_same_v<T, GetChunk>)
                return FrameType::GetChunk;
            else if constexpr (std::is_same_v<T, ErrorReply>)
                return FrameType::Error;
            else if constexpr (std::is_same_v<T, Ping>)
                return FrameType::Ping;
            else if constexpr (std::is_same_v<T, Pong>)
                return FrameType::Pong;
            else if constexpr (std::is_same_v<T, Goodbye>)
                return FrameType::Goodbye;
            else if constexpr (std::is_same_v<T, KeyChallenge>)
                return FrameType::KeyChallenge;
            else if constexpr (std::is_same_v<T, KeyProof>)
                return FrameType::KeyProof;
            else {
                static_assert(std::is_same_v<T, Have>, "a Message alternative has no type");
                return FrameType::Have;
            }
        },
        message);
}

std::vector<uint8_t> encodeChunkDataHeader(uint32_t length) {
    std::vector<uint8_t> header;
    header.reserve(kFrameHeaderSize);
    putHeader(header, FrameType::ChunkData, length);
    return header;
}

// ---------------------------------------------------------------------------------------------
// FrameReader

Status FrameReader::feed(std::span<const uint8_t> bytes) {
    if (_failed)
        return protocolError("stream already failed a protocol check; input ignored");
    auto fail = [this](std::string message) {
        _failed = true;
        return protocolError(std::move(message));
    };
    try {
        const uint8_t *data = bytes.data();
        std::size_t left = bytes.size();
        while (left > 0) {
            if (!_inPayload) {
                const std::size_t take = std::min(kFrameHeaderSize - _headerFill, left);
                std::memcpy(_header + _headerFill, data, take);
                _headerFill += take;
                data += take;
                left -= take;
                if (!knownType(_header[0]))
                    return fail("unknown frame type " + std::to_string(_header[0]));
                if (_headerFill < kFrameHeaderSize)
                    continue; // left is 0 now
                _headerFill = 0;
                _type = static_cast<FrameType>(_header[0]);
                _length = (uint32_t(_header[1]) << 24) | (uint32_t(_header[2]) << 16) |
                          (uint32_t(_header[3]) << 8) | uint32_t(_header[4]);
                _remaining = _length;
                if (_type == FrameType::ChunkData) {
                    if (_length > kMaxDataPayload)
                        return fail("ChunkData: length " + std::to_string(_length) +
                                    " exceeds the " + std::to_string(kMaxDataPayload) +
                                    "-byte limit");
                    _inPayload = _length > 0;
                    if (_handler.onDataBegin)
                        _handler.onDataBegin(_length);
                    continue;
                }
                if (_length > _maxControl)
                    return fail(std::string(frameTypeName(_type)) + ": length " +
                                std::to_string(_length) + " exceeds the " +
                                std::to_string(_maxControl) + "-byte control limit");
                _payload.clear();
                _payload.reserve(std::min<std::size_t>(_length, 64 * 1024));
                _inPayload = true;
                if (_length > 0)
                    continue;
                // An empty control payload: decode it now (it fails: not JSON).
            }

            const std::size_t take = std::min<std::size_t>(_remaining, left);
            _remaining -= static_cast<uint32_t>(take);
            if (_type == FrameType::ChunkData) {
                if (_remaining == 0)
                    _inPayload = false;
                if (_handler.onData)
                    _handler.onData(std::span<const uint8_t>(data, take), _remaining);
                data += take;
                left -= take;
                continue;
            }
            _payload.insert(_payload.end(), data, data + take);
            data += take;
            left -= take;
            if (_remaining > 0)
                continue;
            _inPayload = false;
            Result<Message> message = decode(_type, _payload);
            _payload.clear();
            if (_payload.capacity() > 64 * 1024)
                std::vector<uint8_t>().swap(_payload); // don't keep a big snapshot's buffer
            if (!message.ok())
                return fail(message.status().message());
            if (_handler.onMessage)
                _handler.onMessage(std::move(message.value()));
        }
        return Status::ok();
    } catch (const std::exception &e) {
        return fail(std::string("frame reader: ") + e.what());
    } catch (...) {
        return fail("frame reader: unexpected failure");
    }
}

bool FrameReader::atFrameBoundary() const {
    return !_failed && !_inPayload && _headerFill == 0;
}

} // namespace lanspread::kernel::protocol
