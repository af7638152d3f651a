#include <lanspread/kernel/host/cancellation.hpp>

namespace lanspread::kernel::host {

lanspread_cancel_handle CancelRegistry::create() {
    std::lock_guard<std::mutex> lock(_mutex);
    lanspread_cancel_handle token = _next++;
    _tokens[token] = false;
    return token;
}

void CancelRegistry::cancel(lanspread_cancel_handle token) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _tokens.find(token);
    if (it != _tokens.end())
        it->second = true;
}

void CancelRegistry::release(lanspread_cancel_handle token) {
    std::lock_guard<std::mutex> lock(_mutex);
    _tokens.erase(token);
}

bool CancelRegistry::isCancelled(lanspread_cancel_handle token) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _tokens.find(token);
    return it != _tokens.end() && it->second;
}

void CancelRegistry::cancelAll() {
    std::lock_guard<std::mutex> lock(_mutex);
    for (auto &entry : _tokens)
        entry.second = true;
}

} // namespace lanspread::kernel::host
