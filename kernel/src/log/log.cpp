#include <lanspread/kernel/log/log.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace lanspread::kernel::log {

namespace {
std::atomic<int32_t> gThreshold{static_cast<int32_t>(Level::Info)};
std::mutex gMutex;

const char *levelName(Level level) {
    switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warning: return "warning";
    case Level::Error: return "error";
    }
    return "?";
}
} // namespace

void setThreshold(Level level) {
    gThreshold = static_cast<int32_t>(level);
}

bool setThreshold(std::string_view name) {
    for (Level level : {Level::Debug, Level::Info, Level::Warning, Level::Error})
        if (name == levelName(level)) {
            setThreshold(level);
            return true;
        }
    return false;
}

void write(Level level, std::string_view source, std::string_view message) {
    if (static_cast<int32_t>(level) < gThreshold.load())
        return;
    auto now = std::chrono::system_clock::now();
    std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    std::lock_guard<std::mutex> lock(gMutex);
    std::fprintf(stderr, "%s.%03dZ %-7s %.*s: %.*s\n", stamp, static_cast<int>(millis.count()),
                 levelName(level), static_cast<int>(source.size()), source.data(),
                 static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
}

} // namespace lanspread::kernel::log
