// Topics with JSON payloads: the control plane's publish/subscribe. The kernel's own events
// use the names of docs/cli-contract.md ("peer-connected", "download-progress", ...); plugin events
// arrive through host->emit_event with their own topics ("discovery.peer_found").
// Subscribers receive every event as one JSON line: {"event":topic,"ts_ms":...,...payload}.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace lanspread::kernel::host {

class EventBus {
  public:
    using Subscriber = std::function<void(const std::string &topic, const std::string &jsonLine)>;

    // Adds a subscriber; returns its id. Thread: any.
    uint64_t subscribe(Subscriber subscriber);
    // Removes it; false when unknown. After it returns the subscriber is not called again
    // (unless from a publish already running on another thread). Thread: any.
    bool unsubscribe(uint64_t id);
    // Builds the line {"event":topic,"ts_ms":<now>, ...payload's members} and hands it to
    // every subscriber, in subscription order, on the calling thread. Thread: any (the
    // kernel publishes from the reactor thread, so subscribers run there).
    void publish(const std::string &topic, const Poco::JSON::Object &payload);
    // The line publish() hands out: {"event":topic,"ts_ms":<now>, ...payload's members}.
    // Also used for "result" lines, so every line a frontend sees has one shape.
    static std::string formatLine(const std::string &topic, const Poco::JSON::Object &payload);
    // Milliseconds since the Unix epoch, the ts_ms of every event.
    static int64_t nowUnixMs();

  private:
    std::mutex _mutex;
    uint64_t _nextId = 1;
    std::map<uint64_t, Subscriber> _subscribers;
};

} // namespace lanspread::kernel::host
