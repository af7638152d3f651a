#include <lanspread/host.h>
#include <lanspread/kernel/host/reactor.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <exception>
#include <initializer_list>
#include <limits>
#include <system_error>
#include <utility>

namespace lanspread::kernel::host {

namespace {

// epoll data for the reactor's own fds; watch ids count up from 1 and never reach these.
constexpr uint64_t kWakeTag = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kTimerTag = std::numeric_limits<uint64_t>::max() - 1;
constexpr uint32_t kRequestableBits = LANSPREAD_FD_READ | LANSPREAD_FD_WRITE;
constexpr int kMaxEvents = 64;
// Virtual time: how long (real ms) an idle loop waits for a held-up worker's post, and how
// long one with nothing scheduled waits before re-checking runUntil's condition.
constexpr int kHeldWaitMs = 1;
constexpr int kNothingScheduledWaitMs = 10;

uint32_t toEpoll(uint32_t events) {
    uint32_t out = 0;
    if (events & LANSPREAD_FD_READ)
        out |= EPOLLIN;
    if (events & LANSPREAD_FD_WRITE)
        out |= EPOLLOUT;
    return out;
}

uint32_t fromEpoll(uint32_t events) {
    uint32_t out = 0;
    if (events & (EPOLLIN | EPOLLPRI))
        out |= LANSPREAD_FD_READ;
    if (events & EPOLLOUT)
        out |= LANSPREAD_FD_WRITE;
    if (events & EPOLLERR)
        out |= LANSPREAD_FD_ERROR;
    if (events & (EPOLLHUP | EPOLLRDHUP))
        out |= LANSPREAD_FD_HANGUP;
    return out;
}

void addInternal(int epollFd, int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::system_error(errno, std::generic_category(), "reactor: epoll_ctl");
}

// A throwing callback is a bug in its owner; the loop reports it and keeps serving the rest.
template <typename F> void invokeGuarded(const char *what, F &&call) {
    try {
        call();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "lanspread reactor: %s threw: %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "lanspread reactor: %s threw a non-std exception\n", what);
    }
}

} // namespace

Reactor::Reactor(Clock clock) : _virtual(clock == Clock::Virtual) {
    _epollFd = epoll_create1(EPOLL_CLOEXEC);
    _wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    _timerFd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    try {
        if (_epollFd < 0 || _wakeFd < 0 || _timerFd < 0)
            throw std::system_error(errno, std::generic_category(), "reactor: creating fds");
        addInternal(_epollFd, _wakeFd, kWakeTag);
        addInternal(_epollFd, _timerFd, kTimerTag);
    } catch (...) {
        for (int fd : {_epollFd, _wakeFd, _timerFd})
            if (fd >= 0)
                close(fd);
        throw;
    }
}

Reactor::~Reactor() {
    close(_timerFd);
    close(_wakeFd);
    close(_epollFd);
}

uint64_t Reactor::nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool Reactor::inReactorThread() const {
    // _running (seq_cst) is stored after _loopThread is written, so this read never races.
    return _running.load() && _loopThread == std::this_thread::get_id();
}

void Reactor::stop() {
    // Under the mutex so no post() succeeds after stop() returns, and so run(), which takes
    // the mutex on its way out, returns only after this write is done.
    std::lock_guard<std::mutex> lock(_postMutex);
    _stopRequested.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(_wakeFd, &one, sizeof one);
}

bool Reactor::post(Task task) {
    if (!task)
        return false;
    std::lock_guard<std::mutex> lock(_postMutex);
    if (_stopRequested.load())
        return false;
    const bool wasEmpty = _posted.empty();
    _posted.push_back(std::move(task));
    // A non-empty queue already has a wake-up pending or is about to be drained. Written
    // under the lock so that once a task has run, its post() no longer touches _wakeFd
    // (the owner may then stop and destroy the reactor).
    if (wasEmpty) {
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = write(_wakeFd, &one, sizeof one);
    }
    return true;
}

void Reactor::run() {
    runUntil(nullptr);
}

bool Reactor::runUntil(const std::function<bool()> &done) {
    _loopThread = std::this_thread::get_id();
    _running.store(true);

    armTimerFd();
    epoll_event events[kMaxEvents];
    std::vector<std::pair<uint64_t, uint32_t>> ready;
    ready.reserve(kMaxEvents);

    bool finished = false;
    while (!_stopRequested.load()) {
        if (done && done()) {
            finished = true;
            break;
        }
        // A virtual clock never blocks while something is ready: it looks, and only when
        // nothing is does it move time (or wait for the outside world).
        int n = epoll_wait(_epollFd, events, kMaxEvents, _virtual ? 0 : -1);
        bool timerDue = false;
        if (_virtual && n >= 0) {
            const bool dueNow = !_timerQueue.empty() && _timerQueue.begin()->first <= now();
            if (n == 0 && !dueNow && !advanceVirtualTime()) {
                const bool held = _timeHeld && _timeHeld();
                n = epoll_wait(_epollFd, events, kMaxEvents,
                               held ? kHeldWaitMs : kNothingScheduledWaitMs);
            }
            timerDue = !_timerQueue.empty() && _timerQueue.begin()->first <= now();
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::fprintf(stderr, "lanspread reactor: epoll_wait failed (errno %d), stopping\n",
                         errno);
            break;
        }

        ready.clear();
        for (int i = 0; i < n; ++i) {
            const uint64_t tag = events[i].data.u64;
            if (tag == kWakeTag) {
                uint64_t count = 0;
                [[maybe_unused]] ssize_t r = read(_wakeFd, &count, sizeof count);
            } else if (tag == kTimerTag) {
                uint64_t expirations = 0;
                [[maybe_unused]] ssize_t r = read(_timerFd, &expirations, sizeof expirations);
                timerDue = true;
            } else {
                ready.emplace_back(tag, fromEpoll(events[i].events));
            }
        }

        for (const auto &[watchId, revents] : ready) {
            if (_stopRequested.load())
                break;
            // Looked up now, not when epoll reported it: an earlier callback in this batch may
            // have removed or modified the watch.
            auto it = _watches.find(watchId);
            if (it == _watches.end())
                continue;
            const uint32_t wanted = it->second.events | LANSPREAD_FD_ERROR | LANSPREAD_FD_HANGUP;
            const uint32_t bits = revents & wanted;
            if (bits == 0)
                continue;
            // A copy: the callback may unwatch itself, which destroys the stored one.
            FdCallback callback = it->second.callback;
            const int fd = it->second.fd;
            invokeGuarded("fd callback", [&] { callback(fd, bits); });
        }

        if (timerDue && !_stopRequested.load())
            fireDueTimers();
        if (!_stopRequested.load())
            drainPosts();
    }

    _running.store(false);
    if (finished)
        return true; // paused, not stopped: everything stays queued for the next run
    // Taking the mutex also waits out a post()/stop() still writing _wakeFd. Dropped tasks
    // are destroyed outside it: their captures may call post().
    std::vector<Task> dropped;
    {
        std::lock_guard<std::mutex> lock(_postMutex);
        dropped.swap(_posted);
    }
    return done && done();
}

bool Reactor::advanceVirtualTime() {
    if (_timerQueue.empty())
        return false;
    // A worker may still post; and one that posted just before it stopped counting as busy
    // did so after this turn's epoll_wait looked. Either way the task must run first.
    if ((_timeHeld && _timeHeld()) || postsPending())
        return false;
    const uint64_t next = _timerQueue.begin()->first;
    if (next > _virtualNow.load())
        _virtualNow.store(next);
    return true;
}

bool Reactor::postsPending() {
    std::lock_guard<std::mutex> lock(_postMutex);
    return !_posted.empty();
}

lanspread_status Reactor::watchFd(int fd, uint32_t events, FdCallback callback,
                                  uint64_t &outWatchId) {
    if (fd < 0 || (events & ~kRequestableBits) != 0 || !callback)
        return LANSPREAD_E_INVALID_ARGUMENT;
    const uint64_t id = _nextId++;
    epoll_event ev{};
    ev.events = toEpoll(events);
    ev.data.u64 = id;
    if (epoll_ctl(_epollFd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        switch (errno) {
        case EPERM: return LANSPREAD_E_IO; // regular files and directories cannot be polled
        case EEXIST:                       // one registration per fd: watch it once
        case EBADF:
        case EINVAL: return LANSPREAD_E_INVALID_ARGUMENT;
        default: return LANSPREAD_E_IO;
        }
    }
    _watches.emplace(id, Watch{fd, events, std::move(callback)});
    outWatchId = id;
    return LANSPREAD_OK;
}

lanspread_status Reactor::modifyFd(uint64_t watchId, uint32_t events) {
    if ((events & ~kRequestableBits) != 0)
        return LANSPREAD_E_INVALID_ARGUMENT;
    auto it = _watches.find(watchId);
    if (it == _watches.end())
        return LANSPREAD_E_NOT_FOUND;
    epoll_event ev{};
    ev.events = toEpoll(events);
    ev.data.u64 = watchId;
    if (epoll_ctl(_epollFd, EPOLL_CTL_MOD, it->second.fd, &ev) != 0)
        return LANSPREAD_E_IO;
    it->second.events = events;
    return LANSPREAD_OK;
}

lanspread_status Reactor::unwatchFd(uint64_t watchId) {
    auto it = _watches.find(watchId);
    if (it == _watches.end())
        return LANSPREAD_E_NOT_FOUND;
    // Failure means the fd was already closed, which removed it from epoll anyway.
    epoll_ctl(_epollFd, EPOLL_CTL_DEL, it->second.fd, nullptr);
    _watches.erase(it);
    return LANSPREAD_OK;
}

lanspread_status Reactor::startTimer(uint64_t delayNs, TimerCallback callback,
                                     uint64_t &outTimerId) {
    if (!callback)
        return LANSPREAD_E_INVALID_ARGUMENT;
    const uint64_t start = now();
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t deadline = delayNs > max - start ? max : start + delayNs;
    const uint64_t id = _nextId++;
    _timers.emplace(id, Timer{deadline, std::move(callback)});
    // Equal deadlines keep start order: multimap inserts after existing equal keys.
    auto queued = _timerQueue.emplace(deadline, id);
    if (queued == _timerQueue.begin())
        armTimerFd();
    outTimerId = id;
    return LANSPREAD_OK;
}

lanspread_status Reactor::stopTimer(uint64_t timerId) {
    auto it = _timers.find(timerId);
    if (it == _timers.end())
        return LANSPREAD_E_NOT_FOUND;
    bool wasEarliest = false;
    auto [first, last] = _timerQueue.equal_range(it->second.deadlineNs);
    for (auto q = first; q != last; ++q) {
        if (q->second == timerId) {
            wasEarliest = q == _timerQueue.begin();
            _timerQueue.erase(q);
            break;
        }
    }
    _timers.erase(it);
    if (wasEarliest)
        armTimerFd();
    return LANSPREAD_OK;
}

void Reactor::armTimerFd() {
    itimerspec spec{};                       // all zero disarms
    if (!_timerQueue.empty() && !_virtual) { // virtual deadlines are checked by the loop
        // Zero would disarm; deadlines are never 0 in practice (now > 0), but be sure.
        const uint64_t deadline = _timerQueue.begin()->first == 0 ? 1 : _timerQueue.begin()->first;
        spec.it_value.tv_sec = static_cast<time_t>(deadline / 1000000000u);
        spec.it_value.tv_nsec = static_cast<long>(deadline % 1000000000u);
    }
    if (timerfd_settime(_timerFd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
        std::fprintf(stderr, "lanspread reactor: timerfd_settime failed (errno %d)\n", errno);
}

void Reactor::fireDueTimers() {
    // Snapshot what is due now, so timers started by these callbacks (even with delay 0)
    // wait for the next turn instead of starving fds and posts.
    const uint64_t dueBy = now();
    std::vector<uint64_t> due;
    while (!_timerQueue.empty() && _timerQueue.begin()->first <= dueBy) {
        due.push_back(_timerQueue.begin()->second);
        _timerQueue.erase(_timerQueue.begin());
    }
    for (uint64_t id : due) {
        if (_stopRequested.load())
            break;
        auto it = _timers.find(id);
        if (it == _timers.end())
            continue; // stopped by an earlier callback of this batch
        TimerCallback callback = std::move(it->second.callback);
        _timers.erase(it); // dead before it runs: stopTimer(id) now returns E_NOT_FOUND
        invokeGuarded("timer callback", callback);
    }
    armTimerFd();
}

void Reactor::drainPosts() {
    std::vector<Task> batch;
    {
        std::lock_guard<std::mutex> lock(_postMutex);
        batch.swap(_posted);
    }
    for (Task &task : batch) {
        if (_stopRequested.load())
            break;
        invokeGuarded("posted task", task);
    }
}

} // namespace lanspread::kernel::host
