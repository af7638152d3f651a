// Fuzz target: protocol::decode (kernel/src/protocol/decode.cpp), every message decoder.
// The input is [frame type: 1 byte][payload]. decode() must never throw or crash; whatever it
// accepts must survive a round trip: encode() gives a well-formed frame of the same type
// within the control limit, and decoding that frame's payload gives the same message (so the
// encoder and decoder agree on every field they check).
#include "fuzz_support.hpp"

#include <lanspread/kernel/protocol/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace proto = lanspread::kernel::protocol;
using lanspread::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    if (size < 1)
        return 0;
    // Any byte: unknown types and ChunkData (not a control message) must be refused cleanly.
    const auto type = static_cast<proto::FrameType>(data[0]);
    auto message = proto::decode(type, std::span<const uint8_t>(data + 1, size - 1));
    if (!message.ok()) {
        check(!message.status().message().empty(), "a refusal without a message");
        return 0;
    }
    check(proto::frameTypeOf(message.value()) == type,
          std::string("decode(") + proto::frameTypeName(type) + ") gave a message of type " +
              proto::frameTypeName(proto::frameTypeOf(message.value())));
    const std::vector<uint8_t> frame = proto::encode(message.value());
    check(frame.size() >= proto::kFrameHeaderSize, "encode() gave a short frame");
    check(frame[0] == data[0], "encode() wrote another type byte");
    const uint32_t length = uint32_t(frame[1]) << 24 | uint32_t(frame[2]) << 16 |
                            uint32_t(frame[3]) << 8 | uint32_t(frame[4]);
    check(length == frame.size() - proto::kFrameHeaderSize, "encode() wrote a wrong length");
    check(length <= proto::kMaxControlPayload, "encode() wrote a frame over the control limit");
    auto again = proto::decode(type, std::span<const uint8_t>(frame).subspan(5));
    check(again.ok(), std::string("decode() refuses what encode() made of its own ") +
                          proto::frameTypeName(type) + ": " +
                          (again.ok() ? "" : again.status().message()));
    check(again.value() == message.value(),
          std::string("a ") + proto::frameTypeName(type) + " changed in a round trip");
    return 0;
}
