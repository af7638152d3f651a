// lanspread plugin SDK — a complete fake host for plugin unit tests.
//
// Header-only, no dependencies beyond the C++ standard library and poll(2). It implements
// every member of lanspread_host_api the way the kernel does, but deterministically:
//   - logs and events are recorded (and optionally echoed to stderr);
//   - config comes from a map (setConfig);
//   - the clock is manual: now_ns() only moves with advance();
//   - the reactor is manual: runOnce() polls the watched fds with timeout 0, fires the
//     timers whose deadline <= now, and runs posted tasks; runUntilIdle() repeats that;
//   - post() is thread-safe and queues for the next runOnce();
//   - cancel tokens are created and fired by the test (newCancelToken/cancel);
//   - services are registered by the test (addService), e.g. a control service.
// One FakeHost serves one plugin (like the kernel's per-plugin table). Thread: call its
// methods from the test thread, except what host.h marks [any-thread].
#pragma once

#include <lanspread/host.h>
#include <lanspread/version.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lanspread::testing {

class FakeHost {
  public:
    struct LogRecord {
        int32_t level;
        std::string message;
    };
    struct EventRecord {
        std::string topic;
        std::string json;
    };

    explicit FakeHost(std::string pluginId = "org.lanspread.test")
        : _pluginId(std::move(pluginId)) {
        std::memset(&_api, 0, sizeof _api);
        _api.struct_size = sizeof _api;
        _api.abi_major = LANSPREAD_ABI_MAJOR;
        _api.abi_minor = LANSPREAD_ABI_MINOR;
        _api.host_data = this;
        _api.log = &logFn;
        _api.emit_event = &emitEventFn;
        _api.config_get = &configGetFn;
        _api.watch_fd = &watchFdFn;
        _api.modify_fd = &modifyFdFn;
        _api.unwatch_fd = &unwatchFdFn;
        _api.start_timer = &startTimerFn;
        _api.stop_timer = &stopTimerFn;
        _api.now_ns = &nowFn;
        _api.post = &postFn;
        _api.is_cancelled = &isCancelledFn;
        _api.get_service = &getServiceFn;
    }
    FakeHost(const FakeHost &) = delete;
    FakeHost &operator=(const FakeHost &) = delete;

    const lanspread_host_api *api() const { return &_api; }
    const std::string &pluginId() const { return _pluginId; }

    // ---- logs and events ----
    void echoLogs(bool on) { _echo = on; }
    std::vector<LogRecord> logs() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _logs;
    }
    // Whether any log line (at level >= minLevel) contains text.
    bool logged(const std::string &text, int32_t minLevel = LANSPREAD_LOG_DEBUG) const {
        std::lock_guard<std::mutex> lock(_mutex);
        return std::any_of(_logs.begin(), _logs.end(), [&](const LogRecord &r) {
            return r.level >= minLevel && r.message.find(text) != std::string::npos;
        });
    }
    std::vector<EventRecord> events() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _events;
    }

    // ---- config ----
    void setConfig(const std::string &key, const std::string &value) { _config[key] = value; }
    void clearConfig(const std::string &key) { _config.erase(key); }

    // ---- clock ----
    uint64_t now() const { return _nowNs.load(); }
    void advance(uint64_t ns) { _nowNs += ns; }
    // Advances the clock to the next timer deadline (if any) and runs what is due.
    bool advanceToNextTimer() {
        if (_timers.empty())
            return false;
        uint64_t next = UINT64_MAX;
        for (auto &t : _timers)
            next = std::min(next, t.second.deadlineNs);
        if (next > _nowNs)
            _nowNs = next;
        runOnce();
        return true;
    }

    // ---- manual reactor ----
    // One turn: ready fds, due timers, posted tasks. Returns the number of callbacks run.
    std::size_t runOnce() {
        std::size_t ran = 0;
        ran += pollFds();
        ran += fireDueTimers();
        ran += drainPosts();
        return ran;
    }
    // Turns until a turn runs nothing (or maxTurns). Returns callbacks run in total.
    std::size_t runUntilIdle(std::size_t maxTurns = 100000) {
        std::size_t total = 0;
        for (std::size_t i = 0; i < maxTurns; ++i) {
            std::size_t ran = runOnce();
            total += ran;
            if (ran == 0)
                break;
        }
        return total;
    }
    std::size_t watchCount() const { return _watches.size(); }
    std::size_t timerCount() const { return _timers.size(); }
    std::size_t pendingPosts() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _posts.size();
    }
    // After this, post() refuses work with E_FAILED, as the kernel does while shutting down.
    void refusePosts() { _refusePosts = true; }

    // ---- cancellation ----
    lanspread_cancel_handle newCancelToken() { return _nextToken++; }
    void cancel(lanspread_cancel_handle token) {
        std::lock_guard<std::mutex> lock(_mutex);
        _cancelled.insert(token);
    }

    // ---- services ----
    void addService(const std::string &id, const void *table) { _services[id] = table; }

  private:
    struct Watch {
        int fd;
        uint32_t events;
        lanspread_fd_callback callback;
        void *userData;
    };
    struct TimerEntry {
        uint64_t deadlineNs;
        uint64_t sequence; // start order breaks deadline ties
        lanspread_timer_callback callback;
        void *userData;
    };
    struct Post {
        lanspread_task_callback callback;
        void *userData;
    };

    static FakeHost &self(const lanspread_host_api *h) {
        return *static_cast<FakeHost *>(h->host_data);
    }

    std::size_t pollFds() {
        if (_watches.empty())
            return 0;
        std::vector<pollfd> fds;
        std::vector<uint64_t> ids;
        for (auto &[id, w] : _watches) {
            short ev = 0;
            if (w.events & LANSPREAD_FD_READ)
                ev |= POLLIN;
            if (w.events & LANSPREAD_FD_WRITE)
                ev |= POLLOUT;
            fds.push_back(pollfd{w.fd, ev, 0});
            ids.push_back(id);
        }
        if (::poll(fds.data(), fds.size(), 0) <= 0)
            return 0;
        std::size_t ran = 0;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0)
                continue;
            auto it = _watches.find(ids[i]); // may have been removed by an earlier callback
            if (it == _watches.end())
                continue;
            uint32_t rev = 0;
            if (fds[i].revents & POLLIN)
                rev |= LANSPREAD_FD_READ;
            if (fds[i].revents & POLLOUT)
                rev |= LANSPREAD_FD_WRITE;
            if (fds[i].revents & (POLLERR | POLLNVAL))
                rev |= LANSPREAD_FD_ERROR;
            if (fds[i].revents & POLLHUP)
                rev |= LANSPREAD_FD_HANGUP;
            Watch w = it->second;
            w.callback(w.userData, w.fd, rev);
            ++ran;
        }
        return ran;
    }

    std::size_t fireDueTimers() {
        std::size_t ran = 0;
        // Timers started by a callback of this pass wait for the next turn (host.h: delay 0
        // means "on the next loop turn"), so a timer re-arming itself cannot spin here.
        const uint64_t startedBefore = _nextSequence;
        for (;;) {
            auto due = _timers.end();
            for (auto it = _timers.begin(); it != _timers.end(); ++it) {
                if (it->second.deadlineNs > _nowNs || it->second.sequence >= startedBefore)
                    continue;
                if (due == _timers.end() || it->second.deadlineNs < due->second.deadlineNs ||
                    (it->second.deadlineNs == due->second.deadlineNs &&
                     it->second.sequence < due->second.sequence))
                    due = it;
            }
            if (due == _timers.end())
                return ran;
            uint64_t id = due->first;
            TimerEntry t = due->second;
            _timers.erase(due); // dead before the callback runs, as host.h says
            t.callback(t.userData, id);
            ++ran;
        }
    }

    std::size_t drainPosts() {
        std::vector<Post> batch;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            batch.swap(_posts);
        }
        for (auto &p : batch)
            p.callback(p.userData);
        return batch.size();
    }

    static void logFn(const lanspread_host_api *h, int32_t level, const char *message) {
        FakeHost &f = self(h);
        std::string text = message ? message : "";
        if (f._echo)
            std::fprintf(stderr, "[%s] %d %s\n", f._pluginId.c_str(), level, text.c_str());
        std::lock_guard<std::mutex> lock(f._mutex);
        f._logs.push_back({level, std::move(text)});
    }
    static lanspread_status emitEventFn(const lanspread_host_api *h, const char *topic,
                                        const char *json) {
        if (topic == nullptr || json == nullptr || json[0] != '{')
            return LANSPREAD_E_INVALID_ARGUMENT;
        FakeHost &f = self(h);
        std::lock_guard<std::mutex> lock(f._mutex);
        f._events.push_back({topic, json});
        return LANSPREAD_OK;
    }
    static lanspread_status configGetFn(const lanspread_host_api *h, const char *key, char *buffer,
                                        size_t bufferSize, size_t *outRequired) {
        if (key == nullptr || outRequired == nullptr || (buffer == nullptr && bufferSize > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        FakeHost &f = self(h);
        auto it = f._config.find(key);
        if (it == f._config.end()) {
            *outRequired = 0;
            return LANSPREAD_E_NOT_FOUND;
        }
        *outRequired = it->second.size() + 1;
        if (bufferSize < *outRequired)
            return LANSPREAD_E_BUFFER_TOO_SMALL;
        std::memcpy(buffer, it->second.c_str(), *outRequired);
        return LANSPREAD_OK;
    }
    static lanspread_status watchFdFn(const lanspread_host_api *h, int fd, uint32_t events,
                                      lanspread_fd_callback cb, void *ud, uint64_t *outId) {
        if (fd < 0 || cb == nullptr || outId == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        FakeHost &f = self(h);
        for (auto &w : f._watches)
            if (w.second.fd == fd)
                return LANSPREAD_E_INVALID_ARGUMENT; // one watch per fd, like epoll
        *outId = f._nextId++;
        f._watches[*outId] = Watch{fd, events, cb, ud};
        return LANSPREAD_OK;
    }
    static lanspread_status modifyFdFn(const lanspread_host_api *h, uint64_t id, uint32_t events) {
        FakeHost &f = self(h);
        auto it = f._watches.find(id);
        if (it == f._watches.end())
            return LANSPREAD_E_NOT_FOUND;
        it->second.events = events;
        return LANSPREAD_OK;
    }
    static lanspread_status unwatchFdFn(const lanspread_host_api *h, uint64_t id) {
        return self(h)._watches.erase(id) ? LANSPREAD_OK : LANSPREAD_E_NOT_FOUND;
    }
    static lanspread_status startTimerFn(const lanspread_host_api *h, uint64_t delayNs,
                                         lanspread_timer_callback cb, void *ud, uint64_t *outId) {
        if (cb == nullptr || outId == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        FakeHost &f = self(h);
        *outId = f._nextId++;
        f._timers[*outId] = TimerEntry{f._nowNs + delayNs, f._nextSequence++, cb, ud};
        return LANSPREAD_OK;
    }
    static lanspread_status stopTimerFn(const lanspread_host_api *h, uint64_t id) {
        return self(h)._timers.erase(id) ? LANSPREAD_OK : LANSPREAD_E_NOT_FOUND;
    }
    static uint64_t nowFn(const lanspread_host_api *h) { return self(h)._nowNs.load(); }
    static lanspread_status postFn(const lanspread_host_api *h, lanspread_task_callback cb,
                                   void *ud) {
        if (cb == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        FakeHost &f = self(h);
        if (f._refusePosts)
            return LANSPREAD_E_FAILED;
        std::lock_guard<std::mutex> lock(f._mutex);
        f._posts.push_back({cb, ud});
        return LANSPREAD_OK;
    }
    static int32_t isCancelledFn(const lanspread_host_api *h, lanspread_cancel_handle token) {
        if (token == LANSPREAD_CANCEL_NONE)
            return 0;
        FakeHost &f = self(h);
        std::lock_guard<std::mutex> lock(f._mutex);
        return f._cancelled.count(token) ? 1 : 0;
    }
    static const void *getServiceFn(const lanspread_host_api *h, const char *id) {
        if (id == nullptr)
            return nullptr;
        FakeHost &f = self(h);
        auto it = f._services.find(id);
        return it == f._services.end() ? nullptr : it->second;
    }

    std::string _pluginId;
    lanspread_host_api _api;
    mutable std::mutex _mutex; // guards the [any-thread] state: logs, events, posts, cancels
    bool _echo = false;
    std::vector<LogRecord> _logs;
    std::vector<EventRecord> _events;
    std::map<std::string, std::string> _config;
    std::atomic<uint64_t> _nowNs{1'000'000'000}; // starts at 1 s so 0 never means "now"
    uint64_t _nextId = 1;
    uint64_t _nextSequence = 0;
    std::map<uint64_t, Watch> _watches;
    std::map<uint64_t, TimerEntry> _timers;
    std::vector<Post> _posts;
    std::atomic<bool> _refusePosts{false};
    lanspread_cancel_handle _nextToken = 1;
    std::set<lanspread_cancel_handle> _cancelled;
    std::map<std::string, const void *> _services;
};

} // namespace lanspread::testing
