// Test files for the planners: a FileDescription whose chunk hashes are "<path>#<index>", and
// one big file of n whole chunks.
#pragma once

#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <string>
#include <vector>

namespace lanspread::test {

inline kernel::protocol::FileDescription fileOf(const std::string &path, uint64_t size) {
    kernel::protocol::FileDescription f;
    f.path = path;
    f.size = size;
    const uint64_t count = kernel::catalog::chunkCount(size);
    for (uint64_t c = 0; c < count; ++c)
        f.chunkHashes.push_back(path + "#" + std::to_string(c));
    return f;
}

inline std::vector<kernel::protocol::FileDescription> chunks(std::size_t n) {
    return {fileOf("big.eti", n * kernel::catalog::kChunkSize)};
}

} // namespace lanspread::test
