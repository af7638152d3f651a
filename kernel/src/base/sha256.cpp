#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/base/text.hpp>

#include <nettle/sha2.h>

namespace lanspread::kernel::base {

static_assert(sizeof(sha256_ctx) <= 128, "Sha256::_ctx is too small for struct sha256_ctx");

Sha256::Sha256() {
    sha256_init(reinterpret_cast<sha256_ctx *>(_ctx));
}

void Sha256::update(const void *data, std::size_t length) {
    sha256_update(reinterpret_cast<sha256_ctx *>(_ctx), length, static_cast<const uint8_t *>(data));
}

std::array<uint8_t, 32> Sha256::digest() {
    std::array<uint8_t, 32> out{};
    sha256_digest(reinterpret_cast<sha256_ctx *>(_ctx), out.size(), out.data());
    return out;
}

std::string Sha256::hexDigest() {
    auto d = digest();
    return toHex(d.data(), d.size());
}

std::string sha256Hex(const void *data, std::size_t length) {
    Sha256 h;
    h.update(data, length);
    return h.hexDigest();
}

} // namespace lanspread::kernel::base
