// The unit games move and are verified in: fixed-size chunks of a file, each with its own
// SHA-256. The library index hashes chunks, the transfer engine plans and verifies them, and
// the protocol carries their hashes; all use the one constant here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lanspread::kernel::catalog {

// 32 MiB: large enough that per-chunk overhead (a request, a hash) is negligible at LAN
// speed, small enough that several sources share even a 128 MiB file.
constexpr uint64_t kChunkSize = uint64_t(32) << 20;

constexpr uint64_t chunkCount(uint64_t fileSize) {
    return fileSize == 0 ? 1 : (fileSize + kChunkSize - 1) / kChunkSize;
}
constexpr uint64_t chunkLength(uint64_t fileSize, uint64_t index) {
    const uint64_t start = index * kChunkSize;
    return start >= fileSize ? 0 : (fileSize - start < kChunkSize ? fileSize - start : kChunkSize);
}

} // namespace lanspread::kernel::catalog
