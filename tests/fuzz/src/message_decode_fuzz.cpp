// Fuzz target: protocol::decode (kernel/src/protocol/decode.cpp), every message decoder.
// The input is [frame type: 1 byte][payload]. decode() must never throw or crash; whatever it
// accepts must survive a round trip: encode() gives a well-formed frame of the same type
// within the control limit, and decoding that frame's payload gives the same message (so the
// encoder and decoder agree on every field they check); and it must hold the limits
// messages.hpp promises (ids, text lengths, hex digests, chunk counts, a GetChunk within one
// ChunkData frame), so a loosened check shows even when the message still round-trips.
#include "fuzz_support.hpp"

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace catalog = lanspread::kernel::catalog;
namespace proto = lanspread::kernel::protocol;
using lanspread::fuzz::check;

namespace {

// The limits messages.hpp promises for every decoded message: what decode() lets through is
// what the rest of the kernel relies on, so a loosened check shows here even when the message
// still round-trips.
bool hex64(const std::string &s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}
void checkId(const std::string &id, const char *what) {
    check(catalog::Catalog::validGameId(id) && id.size() <= proto::kMaxIdLength,
          std::string("decode() let through an invalid ") + what + " id");
}
void checkText(const std::string &text, std::size_t limit, const char *what) {
    check(text.size() <= limit, std::string("decode() let through a ") + what + " of " +
                                    std::to_string(text.size()) + " bytes");
}
void checkSummary(const proto::GameSummary &g) {
    checkId(g.id, "game");
    checkText(g.version, proto::kMaxTextLength, "version");
    check(g.filesDigest.empty() || hex64(g.filesDigest), "a files digest that is not hex");
}
void checkPartial(const proto::PartialGame &p) {
    checkId(p.id, "partial game");
    check(p.chunkCount >= 1 && p.chunkCount <= proto::kMaxChunksPerGame &&
              p.have.size() == p.chunkCount,
          "a partial game's chunk count or bitmap is out of range");
    check(hex64(p.filesDigest), "a partial game's files digest is not hex");
}
void checkHello(const proto::Hello &h) {
    check(hex64(h.peerId), "a Hello's peer id is not 64 lowercase hex");
    checkText(h.name, proto::kMaxTextLength, "name");
    checkText(h.listenAddr, proto::kMaxTextLength, "listen address");
    for (const auto &g : h.games)
        checkSummary(g);
    for (const auto &p : h.partials)
        checkPartial(p);
}

void checkLimits(const proto::Message &message) {
    std::visit(
        [](const auto &m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, proto::Hello>) {
                checkHello(m);
            } else if constexpr (std::is_same_v<T, proto::HelloAck>) {
                checkHello(m.hello);
            } else if constexpr (std::is_same_v<T, proto::LibraryDelta>) {
                for (const auto &g : m.upserts)
                    checkSummary(g);
                for (const auto &p : m.partialUpserts)
                    checkPartial(p);
            } else if constexpr (std::is_same_v<T, proto::GetChunk>) {
                checkId(m.game, "GetChunk game");
                checkText(m.path, proto::kMaxPathLength, "path");
                check(m.length <= proto::kMaxDataPayload,
                      "a GetChunk over the ChunkData limit: " + std::to_string(m.length));
                check(m.offset <= UINT64_MAX - m.length, "a GetChunk whose end overflows");
            } else if constexpr (std::is_same_v<T, proto::GameFiles>) {
                checkId(m.game, "GameFiles game");
                for (const auto &f : m.files) {
                    checkText(f.path, proto::kMaxPathLength, "path");
                    check(f.chunkHashes.size() == catalog::chunkCount(f.size),
                          "a file with " + std::to_string(f.chunkHashes.size()) +
                              " chunk hashes for " + std::to_string(f.size) + " bytes");
                    for (const auto &h : f.chunkHashes)
                        check(hex64(h), "a chunk hash that is not 64 lowercase hex");
                }
            } else if constexpr (std::is_same_v<T, proto::Have>) {
                checkId(m.game, "Have game");
                for (std::size_t i = 1; i < m.chunks.size(); ++i)
                    check(m.chunks[i - 1] < m.chunks[i], "a Have's chunks are not ascending");
            } else if constexpr (std::is_same_v<T, proto::ErrorReply>) {
                checkText(m.code, proto::kMaxTextLength, "error code");
                checkText(m.message, proto::kMaxMessageText, "error message");
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                checkText(m.reason, proto::kMaxMessageText, "goodbye reason");
            }
        },
        message);
}

} // namespace

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
    checkLimits(message.value());
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
