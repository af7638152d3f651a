#include <lanspread/kernel/peers/token_bucket.hpp>

#include <algorithm>

namespace lanspread::kernel::peers {

void TokenBucket::refill(uint64_t nowNs) {
    if (_started && nowNs > _lastNs)
        _tokens = std::min(_burst, _tokens + _rate * double(nowNs - _lastNs) / 1e9);
    if (!_started || nowNs > _lastNs)
        _lastNs = nowNs;
    _started = true;
}

bool TokenBucket::take(std::size_t bytes, uint64_t nowNs) {
    if (!limited())
        return true;
    refill(nowNs);
    const double needed = std::min(double(bytes), _burst);
    if (_tokens < needed)
        return false;
    _tokens -= double(bytes);
    return true;
}

uint64_t TokenBucket::waitNs(std::size_t bytes) const {
    if (!limited())
        return 0;
    const double missing = std::min(double(bytes), _burst) - _tokens;
    return missing <= 0 ? 1 : static_cast<uint64_t>(missing / _rate * 1e9) + 1;
}

} // namespace lanspread::kernel::peers
