// The downloads (and stream-installs) running now, as frontend-web sees them in the kernel's
// events: bytes, the last rate, and the verified bytes each source delivered in this run. It is
// what GET /api/v1/state reports under "downloads", so a page opened mid-download draws the bar
// and the per-source bytes at once instead of waiting for the next events.
// Fed on the reactor thread (the event callback), read by HTTP threads: every member locks.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lanspread::plugins::web {

struct SourceBytes {
    std::string peerId;
    std::string addr;
    uint64_t bytes = 0;
};

struct DownloadView {
    std::string game;
    uint64_t bytesDone = 0;
    uint64_t bytesTotal = 0;
    uint64_t bytesResumed = 0;
    double mibPerS = 0;
    int64_t activePeers = 0;
    std::vector<std::string> peers;   // the sources' addresses (download-begin)
    std::vector<SourceBytes> sources; // by first delivery
    int64_t startedMs = 0;
    int64_t updatedMs = 0;
};

class DownloadTracker {
  public:
    // lastIdBefore: the id the EventLog holds when no event has come yet (its firstId - 1),
    // what the first snapshot reports as the newest event it reflects.
    explicit DownloadTracker(uint64_t lastIdBefore = 0) : _appliedThroughId(lastIdBefore) {}

    // Applies one kernel event (a parsed event line) numbered `id` by the EventLog. Events
    // that are not about downloads are ignored. Thread: reactor.
    void apply(const Poco::JSON::Object &event, uint64_t id);

    struct Snapshot {
        uint64_t appliedThroughId = 0;       // the newest event id reflected in `downloads`
        std::vector<DownloadView> downloads; // sorted by game id
    };
    // Thread: any.
    Snapshot snapshot() const;

    static Poco::JSON::Array::Ptr toJson(const std::vector<DownloadView> &downloads);

  private:
    mutable std::mutex _mutex;
    std::map<std::string, DownloadView> _downloads;
    uint64_t _appliedThroughId;
};

} // namespace lanspread::plugins::web
