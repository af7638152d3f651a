// Fuzz target: protocol::FrameReader (kernel/src/protocol/framing.cpp), the first thing that
// touches a peer's bytes. The input is [control limit: 1 byte][split seed: 1 byte][stream].
// The stream is fed in pieces of changing sizes, and what the reader reports is compared with
// a reference cut of the same bytes written here from docs/protocol.md: the same messages
// (decoded by protocol::decode), the same ChunkData lengths and bytes, a failure exactly
// where the reference finds a violation (unknown type, a length over its limit, a payload
// decode() refuses), and a frame boundary exactly where one is. Any difference aborts.
#include "fuzz_support.hpp"

#include <lanspread/kernel/protocol/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace proto = lanspread::kernel::protocol;
using lanspread::fuzz::Bytes;
using lanspread::fuzz::check;

namespace {

struct Event {
    enum Kind { Message, DataBegin, Data } kind;
    std::optional<proto::Message> message;
    uint32_t length = 0; // DataBegin: frame length; Data: remaining after the piece
    std::string bytes;   // Data: the piece
};

struct Expected {
    std::vector<Event> events; // Data events hold the whole payload (pieces are merged)
    bool fails = false;
    bool atBoundary = true;
};

uint32_t be32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The reference: cuts the whole stream at once.
Expected reference(std::span<const uint8_t> s, uint32_t maxControl) {
    Expected out;
    std::size_t at = 0;
    while (at < s.size()) {
        const uint8_t type = s[at];
        // The protocol's own list of types (new ones come along): "unknown" for the others.
        if (std::string_view(proto::frameTypeName(static_cast<proto::FrameType>(type))) ==
            "unknown") {
            out.fails = true;
            return out;
        }
        if (s.size() - at < proto::kFrameHeaderSize) {
            out.atBoundary = false;
            return out;
        }
        const uint32_t length = be32(&s[at + 1]);
        at += proto::kFrameHeaderSize;
        const auto frameType = static_cast<proto::FrameType>(type);
        const bool data = frameType == proto::FrameType::ChunkData;
        if (length > (data ? proto::kMaxDataPayload : maxControl)) {
            out.fails = true;
            return out;
        }
        if (data)
            out.events.push_back({Event::DataBegin, std::nullopt, length, {}});
        const std::size_t have = std::min<std::size_t>(length, s.size() - at);
        if (data && have > 0)
            out.events.push_back({Event::Data, std::nullopt, uint32_t(length - have),
                                  std::string(reinterpret_cast<const char *>(&s[at]), have)});
        if (have < length) {
            out.atBoundary = false;
            return out;
        }
        if (!data) {
            auto message = proto::decode(frameType, s.subspan(at, length));
            if (!message.ok()) {
                out.fails = true;
                return out;
            }
            out.events.push_back({Event::Message, std::move(message.value()), 0, {}});
        }
        at += length;
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    Bytes in(data, size);
    // Small limits (0..254 bytes) put the control-length check within a byte of real frames;
    // 0xff means the real default.
    const uint8_t limitChoice = in.u8();
    const uint32_t maxControl = limitChoice == 0xff ? proto::kMaxControlPayload : limitChoice;
    const uint8_t seed = in.u8();
    const std::string_view rest = in.rest();
    const std::span<const uint8_t> stream(reinterpret_cast<const uint8_t *>(rest.data()),
                                          rest.size());

    std::vector<Event> got;
    proto::FrameReader reader(
        proto::FrameReader::Handler{
            [&](proto::Message &&m) {
                got.push_back({Event::Message, std::move(m), 0, {}});
            },
            [&](uint32_t length) {
                check(length <= proto::kMaxDataPayload, "onDataBegin over the data limit");
                got.push_back({Event::DataBegin, std::nullopt, length, {}});
            },
            [&](std::span<const uint8_t> piece, uint32_t remaining) {
                check(!piece.empty(), "onData with an empty piece");
                got.push_back(
                    {Event::Data, std::nullopt, remaining,
                     std::string(reinterpret_cast<const char *>(piece.data()), piece.size())});
            }},
        maxControl);

    bool failed = false;
    std::size_t at = 0;
    for (unsigned i = 0; at < stream.size(); ++i) {
        const std::size_t piece =
            std::min<std::size_t>(stream.size() - at, 1 + (seed * (i + 7) + i) % 131);
        const std::size_t eventsBefore = got.size();
        auto status = reader.feed(stream.subspan(at, piece));
        if (failed) {
            check(!status.succeeded() && got.size() == eventsBefore,
                  "a failed reader accepted more input");
        }
        if (!status.succeeded()) {
            failed = true;
            check(reader.failed(), "feed failed but failed() is false");
            check(!status.message().empty(), "a failure without a message");
        }
        at += piece;
    }

    // Merge the Data pieces of each frame; check their remaining counts as we go.
    std::vector<Event> merged;
    for (auto &e : got) {
        if (e.kind == Event::Data && !merged.empty() && merged.back().kind == Event::Data) {
            check(merged.back().length == e.length + e.bytes.size(),
                  "onData remaining does not count down by the piece size");
            merged.back().bytes += e.bytes;
            merged.back().length = e.length;
        } else {
            merged.push_back(std::move(e));
        }
    }

    const Expected want = reference(stream, maxControl);
    check(failed == want.fails, want.fails ? "the reader accepted a stream the reference refuses"
                                           : "the reader refused a stream the reference accepts");
    check(merged.size() == want.events.size(),
          "the reader reported " + std::to_string(merged.size()) + " events, the reference " +
              std::to_string(want.events.size()));
    for (std::size_t i = 0; i < merged.size(); ++i) {
        const Event &g = merged[i], &w = want.events[i];
        check(g.kind == w.kind, "event " + std::to_string(i) + " is of another kind");
        check(g.length == w.length, "event " + std::to_string(i) + " has another length");
        check(g.bytes == w.bytes, "event " + std::to_string(i) + " carries other data");
        check(g.message == w.message, "event " + std::to_string(i) + " is another message");
    }
    if (!failed)
        check(reader.atFrameBoundary() == want.atBoundary, "atFrameBoundary() is wrong");
    else
        check(!reader.atFrameBoundary(), "a failed reader claims a frame boundary");
    return 0;
}
