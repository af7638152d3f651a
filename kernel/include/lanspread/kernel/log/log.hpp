// The kernel's one log sink: every line goes to stderr (stdout belongs to the JSONL
// frontend) as "<UTC time> <level> <source>: <message>". Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lanspread::kernel::log {

enum class Level : int32_t { Debug = 0, Info = 1, Warning = 2, Error = 3 };

// Lines below this level are dropped. Default Info.
void setThreshold(Level level);
// Parses "debug", "info", "warning", "error"; false (and no change) otherwise.
bool setThreshold(std::string_view name);
void write(Level level, std::string_view source, std::string_view message);

inline void debug(std::string_view source, std::string_view m) {
    write(Level::Debug, source, m);
}
inline void info(std::string_view source, std::string_view m) {
    write(Level::Info, source, m);
}
inline void warning(std::string_view source, std::string_view m) {
    write(Level::Warning, source, m);
}
inline void error(std::string_view source, std::string_view m) {
    write(Level::Error, source, m);
}

} // namespace lanspread::kernel::log
