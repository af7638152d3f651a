// The kernel's event loop: one thread that waits on epoll for fd readiness, timers and
// cross-thread posts. Plugins reach it through the host API (watch_fd, start_timer, post);
// the kernel's own components use it directly. Disk I/O never runs here (see WorkerPool).
//
// Its clock is CLOCK_MONOTONIC, or, for in-process tests, a virtual clock (Clock::Virtual):
// virtual time stands still while anything is ready to run (an fd, a post, a due timer) and,
// once the loop is otherwise idle, jumps straight to the next timer's deadline. Minutes of
// timeouts and re-dials then take milliseconds, and the order of events depends only on the
// program, never on how fast the machine is.
#pragma once

#include <lanspread/status.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace lanspread::kernel::host {

class Reactor {
  public:
    using FdCallback = std::function<void(int fd, uint32_t revents)>;
    using TimerCallback = std::function<void()>;
    using Task = std::function<void()>;

    enum class Clock { Monotonic, Virtual };

    explicit Reactor(Clock clock = Clock::Monotonic);
    ~Reactor();
    Reactor(const Reactor &) = delete;
    Reactor &operator=(const Reactor &) = delete;

    // Runs the loop on the calling thread until stop(). Tasks still queued when stop() is
    // observed are dropped. Call once.
    void run();
    // Runs the loop until done() returns true (checked before the first turn and after every
    // turn) or stop(); returns done(). Returning because of done() leaves timers, watches and
    // queued tasks in place, so the caller may inspect state and run again (how tests drive
    // the loop phase by phase). With the monotonic clock a turn may block indefinitely, so
    // done() must become true through the loop's own work; a virtual-time reactor with nothing
    // scheduled re-checks done() every 10 ms of real time.
    bool runUntil(const std::function<bool()> &done);
    // Asks the loop to return. Thread: any.
    void stop();
    // Whether run() has been entered and stop() has not yet been observed.
    bool running() const { return _running.load(); }
    // Whether the caller is the thread inside run().
    bool inReactorThread() const;

    // Level-triggered watch of LANSPREAD_FD_READ/WRITE bits. Thread: reactor (or before
    // run()). Returns OK, E_INVALID_ARGUMENT, or E_IO (fd not pollable, e.g. a regular file).
    lanspread_status watchFd(int fd, uint32_t events, FdCallback callback, uint64_t &outWatchId);
    lanspread_status modifyFd(uint64_t watchId, uint32_t events);
    // The callback never runs after this returns, even if the fd was already reported ready
    // in the current loop turn.
    lanspread_status unwatchFd(uint64_t watchId);

    // One-shot timer, delayNs from now. Thread: reactor (or before run()).
    lanspread_status startTimer(uint64_t delayNs, TimerCallback callback, uint64_t &outTimerId);
    // E_NOT_FOUND when the timer already fired or never existed.
    lanspread_status stopTimer(uint64_t timerId);

    // Queues a task for the loop. Thread: any. Returns false (task dropped) once stop() was
    // called. Tasks posted by one thread run in order.
    bool post(Task task);

    // The loop's time in nanoseconds, which timers are measured against: CLOCK_MONOTONIC, or
    // the virtual time of a Clock::Virtual reactor (it starts at 1 s). Kernel code that
    // compares times with its reactor's timers reads this. Thread: any.
    uint64_t now() const { return _virtual ? _virtualNow.load() : nowNs(); }
    // Clock::Virtual only: virtual time does not advance while busy() returns true, i.e. while
    // work outside the loop (worker-pool jobs) may still post its result; the loop then waits
    // in real time, re-asking every millisecond or as soon as a task is posted. busy() must
    // return false only after such work has posted. Thread: before run().
    void holdTimeWhile(std::function<bool()> busy) { _timeHeld = std::move(busy); }

    // CLOCK_MONOTONIC nanoseconds, whatever the reactor's clock (wall-time measurements).
    static uint64_t nowNs();

  private:
    struct Watch {
        int fd;
        uint32_t events;
        FdCallback callback;
    };
    struct Timer {
        uint64_t deadlineNs;
        TimerCallback callback;
    };

    void armTimerFd();
    void fireDueTimers();
    void drainPosts();
    bool postsPending();
    // A virtual-time reactor with nothing ready: advances the clock to the next timer and
    // returns true, or returns false when time must not (held) or cannot (no timer) move.
    bool advanceVirtualTime();

    int _epollFd = -1;
    int _wakeFd = -1;  // eventfd: post() and stop() wake the loop
    int _timerFd = -1; // timerfd armed to the earliest timer deadline
    std::atomic<bool> _running{false};
    std::atomic<bool> _stopRequested{false};
    std::thread::id _loopThread;
    const bool _virtual;
    std::atomic<uint64_t> _virtualNow{1'000'000'000ull};
    std::function<bool()> _timeHeld;

    uint64_t _nextId = 1;
    std::unordered_map<uint64_t, Watch> _watches;
    std::unordered_map<uint64_t, Timer> _timers;
    std::multimap<uint64_t, uint64_t> _timerQueue; // deadline -> timer id

    std::mutex _postMutex;
    std::vector<Task> _posted;
};

} // namespace lanspread::kernel::host
