// What frontend-web's HTTP threads share with the reactor: the settings, the token, the event
// log and download tracker fed by the kernel's events, and a way to run control commands and
// wait for their results. Owned through shared_ptr by the session, every HTTP handler and every
// pending result callback, so a result that arrives after the session stopped touches nothing
// dead. close() wakes every waiting thread so the session can join them without waiting on a
// client or on the reactor (which is the thread that stops the session).
#pragma once

#include "download_tracker.hpp"
#include "event_log.hpp"

#include <lanspread/host.hpp>
#include <lanspread/kinds/frontend.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lanspread::plugins::web {

struct WebSettings {
    std::string listenHost = "127.0.0.1";
    uint16_t listenPort = 7878;
    std::vector<std::string> allowedHosts; // beyond IP literals and localhost
    std::string wwwDir;
    uint64_t maxBodyBytes = 65536;
    uint64_t maxEventStreams = 32;
    uint64_t requestTimeoutMs = 10000;
    uint64_t replayEvents = 2048;
};

// How long a command may take before its HTTP request is answered 504. Long operations answer
// when accepted; this bounds the few that wait (wait-peers, remove, connect).
inline constexpr std::chrono::seconds kCommandTimeout{120};

class WebContext : public std::enable_shared_from_this<WebContext> {
  public:
    WebContext(Host host, ControlClient control, WebSettings settings);

    const WebSettings &settings() const { return _settings; }
    const Host &host() const { return _host; }

    // Set once, on the reactor, before the server starts; read-only afterwards.
    void setToken(std::string token) { _token = std::move(token); }
    const std::string &token() const { return _token; }

    // One kernel event line. Thread: reactor (the control subscription).
    void onEvent(const std::string &line);

    enum class Outcome { Answered, ShuttingDown, TimedOut };
    // Submits the command lines together and waits for all their result lines (in the same
    // order) into results. Thread: an HTTP thread (never the reactor: it would wait on itself).
    Outcome runCommands(const std::vector<std::string> &lines, std::vector<std::string> &results,
                        std::chrono::milliseconds timeout);

    // Stops everything that waits: commands answer ShuttingDown, event streams end.
    // Thread: any (the reactor, when the session stops).
    void close();
    bool closed() const;

    EventLog &events() { return _events; }
    DownloadTracker &downloads() { return _downloads; }

    // Event streams open now (bounded by settings().maxEventStreams).
    std::atomic<uint64_t> openStreams{0};

  private:
    Host _host;
    ControlClient _control;
    WebSettings _settings;
    std::string _token;
    uint64_t _firstEventId; // from the clock: see EventLog's constructor
    EventLog _events;
    DownloadTracker _downloads;

    mutable std::mutex _mutex; // guards _closed and every pending command's results
    std::condition_variable _answered;
    bool _closed = false;
};

} // namespace lanspread::plugins::web
