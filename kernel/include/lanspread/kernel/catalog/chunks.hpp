// The unit games move and are verified in: fixed-size chunks of a file, each with its own
// SHA-256. The library index hashes chunks, the transfer engine plans and verifies them, and
// the protocol carries their hashes; all use the one constant here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lanspread::kernel::catalog {

// 1 MiB: a peer relays a chunk to others only once all of it is verified, so the chunk is
// the step by which a game spreads through a party: small chunks let receivers trade within
// milliseconds of starting. Large enough that a request's overhead (a stream, a hash, an
// event) is small at LAN speed; a 40 GiB game's file list is about 3 MB of hashes.
constexpr uint64_t kChunkSize = uint64_t(1) << 20;

constexpr uint64_t chunkCount(uint64_t fileSize) {
    return fileSize == 0 ? 1 : (fileSize + kChunkSize - 1) / kChunkSize;
}
constexpr uint64_t chunkLength(uint64_t fileSize, uint64_t index) {
    const uint64_t start = index * kChunkSize;
    return start >= fileSize ? 0 : (fileSize - start < kChunkSize ? fileSize - start : kChunkSize);
}

} // namespace lanspread::kernel::catalog
