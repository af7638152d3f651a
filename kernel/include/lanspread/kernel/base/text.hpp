// Small text helpers every concept needs the same way: errno messages and lowercase hex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lanspread::kernel::base {

// The system's message for an errno value ("No such file or directory"). Thread-safe.
std::string errnoText(int error);

// Untrusted bytes (a peer's string, an archive's entry name) made safe to put in a log line or
// an error message: control bytes (and, with escapeNonAscii, every byte >= 0x7f) become
// \xNN, and at most maxShown input bytes are kept (truncated says whether
// some were cut). extraEscaped lists printable characters to backslash-escape (quotes).
std::string escapeForMessage(std::string_view raw, std::size_t maxShown, bool escapeNonAscii,
                             std::string_view extraEscaped = {}, bool *truncated = nullptr);

// Lowercase hex of length bytes: {0xab, 0x01} -> "ab01".
std::string toHex(const uint8_t *data, std::size_t length);

} // namespace lanspread::kernel::base
