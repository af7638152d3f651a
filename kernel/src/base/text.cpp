#include <lanspread/kernel/base/text.hpp>

#include <cstring>

namespace lanspread::kernel::base {

std::string errnoText(int error) {
    char buffer[256];
    // GNU strerror_r: returns the message, which may or may not be in buffer.
    return std::string(::strerror_r(error, buffer, sizeof buffer));
}

std::string escapeForMessage(std::string_view raw, std::size_t maxShown, bool escapeNonAscii,
                             std::string_view extraEscaped, bool *truncated) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    const std::size_t shown = raw.size() < maxShown ? raw.size() : maxShown;
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(raw[i]);
        if (c < 0x20 || c == 0x7f || (escapeNonAscii && c > 0x7f)) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        } else {
            if (extraEscaped.find(static_cast<char>(c)) != std::string_view::npos)
                out += '\\';
            out += static_cast<char>(c);
        }
    }
    if (truncated != nullptr)
        *truncated = shown < raw.size();
    return out;
}

std::string toHex(const uint8_t *data, std::size_t length) {
    static const char digits[] = "0123456789abcdef";
    std::string out(length * 2, '0');
    for (std::size_t i = 0; i < length; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    return out;
}

} // namespace lanspread::kernel::base
