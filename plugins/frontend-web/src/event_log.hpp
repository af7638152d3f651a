// The events frontend-web has seen, numbered without gaps from firstId, the newest `capacity` of
// them kept so a reconnecting page gets what it missed (docs/web-api.md, "GET /api/v1/events").
// Appended on the reactor thread; read by the event-stream threads, which block in after()
// and never hold the lock while writing to a client, so a slow client cannot stall append().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lanspread::plugins::web {

class EventLog {
  public:
    struct Entry {
        uint64_t id = 0;
        std::shared_ptr<const std::string> line; // the event's JSON line, shared by every reader
    };
    struct Batch {
        std::vector<Entry> entries; // the kept events after `since`, oldest first
        // The events right after `since` are not kept any more (or `since` is above the newest
        // id: from before a restart): the reader must start over from a snapshot.
        bool gap = false;
        uint64_t oldestId = 0; // the oldest kept id (0: none kept)
        uint64_t newestId = 0; // the newest id appended so far (firstId - 1: none)
        bool closed = false;   // close() was called: the reader should end
    };

    // Ids start at firstId. frontend-web passes a value from the clock (ms since the epoch x
    // 1000), so every id of a later run of the peer is above every id of an earlier run: a page
    // reconnecting with an id from before a restart is told it missed events, instead of
    // being served the new run's events under ids it thinks it has seen.
    explicit EventLog(std::size_t capacity, uint64_t firstId = 1);

    // Numbers and keeps one event line; returns its id. Thread: any (the reactor).
    uint64_t append(std::string line);

    // The newest id appended so far (firstId - 1 when none). Thread: any.
    uint64_t newestId() const;

    // The kept events after `since`. When there are none yet, waits up to `wait` for one (or
    // for close()). Thread: any (an event-stream thread).
    Batch after(uint64_t since, std::chrono::milliseconds wait);

    // Wakes every waiting reader and makes later after() calls return closed at once.
    // Thread: any.
    void close();

  private:
    Batch collect(uint64_t since) const; // caller holds _mutex

    const std::size_t _capacity;
    mutable std::mutex _mutex;
    std::condition_variable _appended;
    std::deque<Entry> _entries;
    uint64_t _newestId;
    bool _closed = false;
};

} // namespace lanspread::plugins::web
