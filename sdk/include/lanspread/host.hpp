// lanspread plugin SDK — C++20 wrapper over lanspread_host_api (plugin side).
//
// Header-only. lanspread::Host is a cheap value wrapper around the host table a plugin got
// in init(); FdWatch and Timer are RAII handles that unwatch/stop on destruction, so a
// plugin object that owns them cannot leave a callback pointing at freed memory.
// Threads and ownership are those of host.h: only log(), emitEvent(), now(), post() and
// isCancelled() may be called off the reactor thread.
#pragma once

#include <lanspread/host.h>
#include <lanspread/result.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lanspread {

enum class LogLevel : int32_t {
    Debug = LANSPREAD_LOG_DEBUG,
    Info = LANSPREAD_LOG_INFO,
    Warning = LANSPREAD_LOG_WARNING,
    Error = LANSPREAD_LOG_ERROR,
};

class Host;

namespace detail {
// The tasks Host::post() handed to a host that have not run yet, per host table. host.h lets
// the host drop pending tasks once the plugin has shut down; their user_data is the SDK's
// heap task, so the SDK frees them itself when shutdown() returns (EntryTrampolines in
// plugin.hpp calls releaseAll), after which the host runs none of them.
// Thread: any; one mutex guards the registry. Ownership: a registered task belongs to the
// registry until take() hands it back to the caller, or releaseAll() destroys it.
class PendingTasks {
  public:
    struct Task {
        const lanspread_host_api *host;
        std::function<void()> function;
    };

    static void add(Task *task) {
        std::lock_guard<std::mutex> lock(mutex());
        registry().emplace(task, task->host);
    }

    // Unregisters task; false if it is not registered (already released). Looks the pointer
    // up without dereferencing it, so a released task's stale pointer is harmless here.
    static bool take(Task *task) noexcept {
        std::lock_guard<std::mutex> lock(mutex());
        return registry().erase(task) != 0;
    }

    // Destroys, unrun, every task still pending for host. Called once the plugin is gone.
    static void releaseAll(const lanspread_host_api *host) noexcept {
        std::vector<Task *> orphans;
        {
            std::lock_guard<std::mutex> lock(mutex());
            for (auto it = registry().begin(); it != registry().end();) {
                if (it->second == host) {
                    orphans.push_back(it->first);
                    it = registry().erase(it);
                } else {
                    ++it;
                }
            }
        }
        // Outside the lock: a captured object's destructor may post (and be refused).
        for (Task *task : orphans)
            delete task;
    }

    static size_t pendingFor(const lanspread_host_api *host) {
        std::lock_guard<std::mutex> lock(mutex());
        size_t n = 0;
        for (const auto &[task, owner] : registry())
            n += owner == host ? 1 : 0;
        return n;
    }

  private:
    static std::mutex &mutex() {
        static std::mutex m;
        return m;
    }
    static std::unordered_map<Task *, const lanspread_host_api *> &registry() {
        static std::unordered_map<Task *, const lanspread_host_api *> r;
        return r;
    }
};

// Reports an exception that reached a callback trampoline: a C frame sits above it, so it
// must not propagate; it is logged through the host instead.
inline void logCallbackException(const lanspread_host_api *host, const char *where) noexcept {
    if (!host)
        return;
    try {
        throw;
    } catch (const std::exception &e) {
        std::string text = std::string("exception in ") + where + ": " + e.what();
        host->log(host, LANSPREAD_LOG_ERROR, text.c_str());
    } catch (...) {
        std::string text = std::string("unknown exception in ") + where;
        host->log(host, LANSPREAD_LOG_ERROR, text.c_str());
    }
}
} // namespace detail

// An fd watch that ends when this object is destroyed or reset(). Thread: reactor.
class FdWatch {
  public:
    FdWatch() = default;
    FdWatch(FdWatch &&other) noexcept { *this = std::move(other); }
    FdWatch &operator=(FdWatch &&other) noexcept {
        if (this != &other) {
            reset();
            _host = std::exchange(other._host, nullptr);
            _id = std::exchange(other._id, 0);
            _callback = std::move(other._callback);
        }
        return *this;
    }
    ~FdWatch() { reset(); }
    bool active() const { return _host != nullptr; }
    uint64_t id() const { return _id; }
    Status modify(uint32_t events) {
        if (!_host)
            return Status(LANSPREAD_E_NOT_FOUND, "watch is not active");
        return Status(_host->modify_fd(_host, _id, events));
    }
    void reset() {
        if (_host)
            _host->unwatch_fd(_host, _id);
        _host = nullptr;
        _id = 0;
        _callback.reset();
    }

  private:
    friend class Host;
    struct Callback {
        const lanspread_host_api *host;
        std::function<void(int fd, uint32_t revents)> function;
    };
    static void trampoline(void *userData, int fd, uint32_t revents) noexcept {
        auto *callback = static_cast<Callback *>(userData);
        try {
            callback->function(fd, revents);
        } catch (...) {
            detail::logCallbackException(callback->host, "fd callback");
        }
    }
    const lanspread_host_api *_host = nullptr;
    uint64_t _id = 0;
    std::unique_ptr<Callback> _callback; // heap, so its address survives moves
};

// A one-shot timer that is stopped when this object is destroyed or reset(). Thread: reactor.
class Timer {
  public:
    Timer() = default;
    Timer(Timer &&other) noexcept { *this = std::move(other); }
    Timer &operator=(Timer &&other) noexcept {
        if (this != &other) {
            reset();
            _host = std::exchange(other._host, nullptr);
            _state = std::move(other._state);
        }
        return *this;
    }
    ~Timer() { reset(); }
    // Pending: started and neither fired nor stopped.
    bool pending() const { return _state && !_state->fired; }
    void reset() {
        if (_host && _state && !_state->fired)
            _host->stop_timer(_host, _state->id);
        _host = nullptr;
        _state.reset();
    }

  private:
    friend class Host;
    struct State {
        const lanspread_host_api *host = nullptr;
        std::function<void()> callback;
        uint64_t id = 0;
        bool fired = false;
    };
    static void trampoline(void *userData, uint64_t) noexcept {
        auto *state = static_cast<State *>(userData);
        state->fired = true;
        const lanspread_host_api *host = state->host;
        try {
            // Move the callback out: it may reset or reassign the Timer that owns `state`.
            auto callback = std::move(state->callback);
            callback();
        } catch (...) {
            detail::logCallbackException(host, "timer callback");
        }
    }
    const lanspread_host_api *_host = nullptr;
    std::unique_ptr<State> _state;
};

class Host {
  public:
    Host() = default;
    explicit Host(const lanspread_host_api *api) : _api(api) {}
    const lanspread_host_api *api() const { return _api; }
    explicit operator bool() const { return _api != nullptr; }

    // Thread: any.
    void log(LogLevel level, std::string_view message) const {
        std::string text(message);
        _api->log(_api, static_cast<int32_t>(level), text.c_str());
    }
    void debug(std::string_view m) const { log(LogLevel::Debug, m); }
    void info(std::string_view m) const { log(LogLevel::Info, m); }
    void warning(std::string_view m) const { log(LogLevel::Warning, m); }
    void error(std::string_view m) const { log(LogLevel::Error, m); }

    // Thread: any. payload must be a JSON object text.
    Status emitEvent(std::string_view topic, std::string_view jsonPayload) const {
        std::string t(topic), p(jsonPayload);
        return Status(_api->emit_event(_api, t.c_str(), p.c_str()));
    }

    // The plugin's config value for key, or nullopt when unset. Thread: reactor.
    std::optional<std::string> config(std::string_view key) const {
        std::string k(key);
        std::string buffer(64, '\0');
        size_t required = 0;
        lanspread_status s =
            _api->config_get(_api, k.c_str(), buffer.data(), buffer.size(), &required);
        if (s == LANSPREAD_E_BUFFER_TOO_SMALL) {
            buffer.assign(required, '\0');
            s = _api->config_get(_api, k.c_str(), buffer.data(), buffer.size(), &required);
        }
        if (s != LANSPREAD_OK)
            return std::nullopt;
        buffer.resize(required > 0 ? required - 1 : 0);
        return buffer;
    }
    std::string config(std::string_view key, std::string fallback) const {
        auto value = config(key);
        return value ? *value : std::move(fallback);
    }
    // Reads key as a whole decimal number in [min, max] into value. Unset: value is kept and
    // the result is true. Malformed or out of range: value is kept, one sentence naming the
    // key, its text, the range and the kept value is appended to warnings, and the result is
    // false (the plugin logs the warnings; a bad key never stops it). Thread: reactor.
    bool configNumber(std::string_view key, uint64_t min, uint64_t max, uint64_t &value,
                      std::vector<std::string> &warnings) const {
        auto text = config(key);
        if (!text)
            return true;
        auto parsed = parseUnsigned(*text);
        if (!parsed || *parsed < min || *parsed > max) {
            warnings.push_back("config " + std::string(key) + "=\"" + *text +
                               "\" is not a number in " + std::to_string(min) + ".." +
                               std::to_string(max) + "; using " + std::to_string(value));
            return false;
        }
        value = *parsed;
        return true;
    }
    // text as a whole unsigned decimal number (no sign, no spaces), or nullopt. Thread: any.
    static std::optional<uint64_t> parseUnsigned(std::string_view text) {
        uint64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty())
            return std::nullopt;
        return value;
    }

    // Thread: reactor. The watch ends with the returned FdWatch.
    Result<FdWatch> watchFd(int fd, uint32_t events,
                            std::function<void(int fd, uint32_t revents)> callback) const {
        FdWatch watch;
        watch._callback =
            std::make_unique<FdWatch::Callback>(FdWatch::Callback{_api, std::move(callback)});
        uint64_t id = 0;
        lanspread_status s =
            _api->watch_fd(_api, fd, events, &FdWatch::trampoline, watch._callback.get(), &id);
        if (s != LANSPREAD_OK)
            return Status(s, "watch_fd failed");
        watch._host = _api;
        watch._id = id;
        return watch;
    }

    // Thread: reactor. The timer is stopped if the returned Timer dies first.
    Result<Timer> startTimer(std::chrono::nanoseconds delay, std::function<void()> callback) const {
        Timer timer;
        timer._state = std::make_unique<Timer::State>();
        timer._state->host = _api;
        timer._state->callback = std::move(callback);
        uint64_t id = 0;
        lanspread_status s =
            _api->start_timer(_api, static_cast<uint64_t>(delay.count() < 0 ? 0 : delay.count()),
                              &Timer::trampoline, timer._state.get(), &id);
        if (s != LANSPREAD_OK)
            return Status(s, "start_timer failed");
        timer._state->id = id;
        timer._host = _api;
        return timer;
    }

    // Thread: any.
    std::chrono::nanoseconds now() const { return std::chrono::nanoseconds(_api->now_ns(_api)); }

    // Runs task on the reactor thread. Thread: any. Returns false when the host refused it
    // (shutting down); the task is then destroyed without running. A task the host accepted
    // but dropped because the plugin shut down first is destroyed, unrun, when the plugin's
    // shutdown() returns (detail::PendingTasks), so what it captured is not leaked.
    bool post(std::function<void()> task) const {
        auto *heap = new detail::PendingTasks::Task{_api, std::move(task)};
        // Registered before the host sees it: the reactor may run it before post() returns.
        detail::PendingTasks::add(heap);
        lanspread_status s = _api->post(_api, &postTrampoline, heap);
        if (s != LANSPREAD_OK) {
            if (detail::PendingTasks::take(heap))
                delete heap;
            return false;
        }
        return true;
    }

    // Thread: any.
    bool isCancelled(lanspread_cancel_handle token) const {
        return _api->is_cancelled(_api, token) != 0;
    }

    // A host service table by id, e.g. service<lanspread_control_v1>(LANSPREAD_CONTROL_SERVICE_ID).
    template <typename Table> const Table *service(const char *serviceId) const {
        return static_cast<const Table *>(_api->get_service(_api, serviceId));
    }

  private:
    static void postTrampoline(void *userData) noexcept {
        auto *raw = static_cast<detail::PendingTasks::Task *>(userData);
        // Not registered any more only if the plugin's shutdown() already freed it, and the
        // host runs no task after that (host.h): then there is nothing to run.
        if (!detail::PendingTasks::take(raw))
            return;
        std::unique_ptr<detail::PendingTasks::Task> task(raw);
        try {
            task->function();
        } catch (...) {
            detail::logCallbackException(task->host, "posted task");
        }
    }
    const lanspread_host_api *_api = nullptr;
};

} // namespace lanspread
