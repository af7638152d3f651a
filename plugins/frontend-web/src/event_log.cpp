#include "event_log.hpp"

namespace lanspread::plugins::web {

EventLog::EventLog(std::size_t capacity, uint64_t firstId)
    : _capacity(capacity == 0 ? 1 : capacity), _newestId(firstId == 0 ? 0 : firstId - 1) {}

uint64_t EventLog::append(std::string line) {
    uint64_t id = 0;
    {
        std::lock_guard lock(_mutex);
        id = ++_newestId;
        _entries.push_back({id, std::make_shared<const std::string>(std::move(line))});
        while (_entries.size() > _capacity)
            _entries.pop_front();
    }
    _appended.notify_all();
    return id;
}

uint64_t EventLog::newestId() const {
    std::lock_guard lock(_mutex);
    return _newestId;
}

EventLog::Batch EventLog::collect(uint64_t since) const {
    Batch batch;
    batch.closed = _closed;
    batch.newestId = _newestId;
    batch.oldestId = _entries.empty() ? 0 : _entries.front().id;
    if (since > _newestId) {
        batch.gap = true; // an id this log never gave out: the page saw an earlier run
        return batch;
    }
    if (since == _newestId)
        return batch;
    // Events since+1 .. newest exist; are they all still kept?
    if (batch.oldestId == 0 || since + 1 < batch.oldestId) {
        batch.gap = true;
        return batch;
    }
    // Ids are consecutive, so the first wanted entry sits at a known offset.
    for (std::size_t i = static_cast<std::size_t>(since + 1 - batch.oldestId); i < _entries.size();
         ++i)
        batch.entries.push_back(_entries[i]);
    return batch;
}

EventLog::Batch EventLog::after(uint64_t since, std::chrono::milliseconds wait) {
    std::unique_lock lock(_mutex);
    _appended.wait_for(lock, wait, [&] { return _closed || _newestId != since; });
    return collect(since);
}

void EventLog::close() {
    {
        std::lock_guard lock(_mutex);
        _closed = true;
    }
    _appended.notify_all();
}

} // namespace lanspread::plugins::web
