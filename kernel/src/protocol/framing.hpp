// Internal to the wire format (kernel/src/protocol/*.cpp): the framing pieces encoding and
// decoding share. Nothing outside those files includes this. One file per job:
//   framing.cpp  frame types and headers, the incremental FrameReader
//   encode.cpp   messages to JSON control payloads, framed
//   decode.cpp   control payloads to messages, every field checked (decode never throws)
#pragma once

#include <lanspread/kernel/protocol/messages.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::kernel::protocol::detail {

// Appends a frame header: the type byte, then the 4-byte big-endian payload length.
void putHeader(std::vector<uint8_t> &out, FrameType type, uint32_t length);
// True for a type byte the protocol defines.
bool knownType(uint8_t type);
// The Status of every protocol check that fails.
Status protocolError(std::string message);

} // namespace lanspread::kernel::protocol::detail
