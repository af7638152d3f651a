#include <lanspread/kernel/host/event_bus.hpp>

#include <Poco/JSON/Stringifier.h>
#include <Poco/JSONString.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <sstream>
#include <utility>
#include <vector>

namespace lanspread::kernel::host {

namespace {

// The payload's own order: insertion order for objects built with JSON_PRESERVE_KEY_ORDER,
// key order otherwise (getNames() follows the same rule as Object::stringify).
std::string buildLine(const std::string &topic, int64_t tsMs, const Poco::JSON::Object &payload) {
    const int options =
        Poco::JSON_WRAP_STRINGS | (payload.getEscapeUnicode() ? Poco::JSON_ESCAPE_UNICODE : 0);
    std::ostringstream out;
    out << "{\"event\":";
    Poco::toJSON(topic, out, options);
    out << ",\"ts_ms\":" << tsMs;
    for (const std::string &name : payload.getNames()) {
        // The bus owns these two; a payload copy would make a duplicate key.
        if (name == "event" || name == "ts_ms")
            continue;
        out << ',';
        Poco::toJSON(name, out, options);
        out << ':';
        Poco::JSON::Stringifier::condense(payload.get(name), out, options);
    }
    out << '}';
    return out.str();
}

} // namespace

uint64_t EventBus::subscribe(Subscriber subscriber) {
    if (!subscriber)
        return 0; // ids start at 1, so 0 is never a subscription
    std::lock_guard<std::mutex> lock(_mutex);
    const uint64_t id = _nextId++;
    _subscribers.emplace(id, std::move(subscriber));
    return id;
}

bool EventBus::unsubscribe(uint64_t id) {
    std::lock_guard<std::mutex> lock(_mutex);
    return _subscribers.erase(id) != 0;
}

void EventBus::publish(const std::string &topic, const Poco::JSON::Object &payload) {
    const std::string line = formatLine(topic, payload);

    std::vector<uint64_t> ids;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        ids.reserve(_subscribers.size());
        for (const auto &entry : _subscribers)
            ids.push_back(entry.first);
    }
    for (uint64_t id : ids) {
        // Re-checked per subscriber: one removed by an earlier subscriber of this publish
        // must not be called. Called outside the lock so it may (un)subscribe.
        Subscriber subscriber;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            auto it = _subscribers.find(id);
            if (it == _subscribers.end())
                continue;
            subscriber = it->second;
        }
        try {
            subscriber(topic, line);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "lanspread event bus: subscriber of '%s' threw: %s\n",
                         topic.c_str(), e.what());
        } catch (...) {
            std::fprintf(stderr, "lanspread event bus: subscriber of '%s' threw\n", topic.c_str());
        }
    }
}

int64_t EventBus::nowUnixMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace lanspread::kernel::host

namespace lanspread::kernel::host {

std::string EventBus::formatLine(const std::string &topic, const Poco::JSON::Object &payload) {
    return buildLine(topic, nowUnixMs(), payload);
}

} // namespace lanspread::kernel::host
