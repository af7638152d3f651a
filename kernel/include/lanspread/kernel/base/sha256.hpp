// SHA-256, incremental and one-shot. The library index, the download engine, the protocol's
// chunk hashes and the peer identity all hash with this one implementation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace lanspread::kernel::base {

// Incremental SHA-256 (Nettle: it uses the CPU's SHA extensions, ~10x wolfCrypt or Poco here).
class Sha256 {
  public:
    Sha256();
    void update(const void *data, std::size_t length);
    std::array<uint8_t, 32> digest(); // resets the state
    std::string hexDigest();          // lowercase hex; resets the state

  private:
    alignas(16) unsigned char _ctx[128]; // struct sha256_ctx, kept opaque to avoid the header
};

std::string sha256Hex(const void *data, std::size_t length);

} // namespace lanspread::kernel::base
