#include <lanspread/host.h>
#include <lanspread/kernel/host/reactor.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using lanspread::kernel::host::Reactor;

namespace {

constexpr uint64_t kMs = 1000000;

// Owns a pipe; closes whatever is still open.
struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() { CPPUNIT_ASSERT_EQUAL(0, ::pipe(fds)); }
    ~Pipe() {
        closeRead();
        closeWrite();
    }
    Pipe(const Pipe &) = delete;
    Pipe &operator=(const Pipe &) = delete;
    int readFd() const { return fds[0]; }
    int writeFd() const { return fds[1]; }
    void put(char c = 'x') const { CPPUNIT_ASSERT_EQUAL(ssize_t(1), ::write(fds[1], &c, 1)); }
    void closeRead() {
        if (fds[0] >= 0)
            ::close(fds[0]);
        fds[0] = -1;
    }
    void closeWrite() {
        if (fds[1] >= 0)
            ::close(fds[1]);
        fds[1] = -1;
    }
};

// Stops the loop after `ms` so a broken reactor fails the test instead of hanging it.
// (Assertions inside callbacks would be swallowed by the loop: tests record, then assert.)
void armFailsafe(Reactor &reactor, uint64_t ms, bool &timedOut) {
    uint64_t id = 0;
    CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.startTimer(
                                           ms * kMs,
                                           [&reactor, &timedOut] {
                                               timedOut = true;
                                               reactor.stop();
                                           },
                                           id));
}

} // namespace

class ReactorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReactorTest);
    CPPUNIT_TEST(testReadReadinessViaPipe);
    CPPUNIT_TEST(testModifyToWrite);
    CPPUNIT_TEST(testHangupIsReported);
    CPPUNIT_TEST(testUnwatchInsideCallbackStopsDelivery);
    CPPUNIT_TEST(testUnwatchOfOtherFdReadyInSameBatch);
    CPPUNIT_TEST(testWatchErrors);
    CPPUNIT_TEST(testTimersFireInDeadlineOrder);
    CPPUNIT_TEST(testStopTimerPreventsFiring);
    CPPUNIT_TEST(testStopTimerOfDueTimerInSameBatch);
    CPPUNIT_TEST(testStopTimerOfFiredTimerIsNotFound);
    CPPUNIT_TEST(testZeroDelayTimerFiresOnNextTurn);
    CPPUNIT_TEST(testZeroDelayTimerLoopDoesNotStarvePosts);
    CPPUNIT_TEST(testTimerPrecision);
    CPPUNIT_TEST(testPostFromFourThreadsKeepsPerThreadOrder);
    CPPUNIT_TEST(testPostAfterStopReturnsFalse);
    CPPUNIT_TEST(testStopFromAnotherThread);
    CPPUNIT_TEST(testInReactorThread);
    CPPUNIT_TEST(testExceptionInCallbackDoesNotStopLoop);
    CPPUNIT_TEST(testVirtualTimeJumpsToEachDeadline);
    CPPUNIT_TEST(testVirtualTimeStandsStillWhileTasksAreReady);
    CPPUNIT_TEST(testVirtualTimeServesFds);
    CPPUNIT_TEST(testVirtualTimeIsHeldForOutsideWork);
    CPPUNIT_TEST(testRunUntilPausesAndResumes);
    CPPUNIT_TEST(testRunUntilRechecksWithNothingScheduled);
    CPPUNIT_TEST(testMonotonicClockIsReal);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testReadReadinessViaPipe() {
        Reactor reactor;
        Pipe pipe;
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        int calls = 0;
        uint32_t seen = 0;
        int seenFd = -1;
        char got = 0;
        uint64_t watchId = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.watchFd(
                                               pipe.readFd(), LANSPREAD_FD_READ,
                                               [&](int fd, uint32_t revents) {
                                                   ++calls;
                                                   seen = revents;
                                                   seenFd = fd;
                                                   if (::read(fd, &got, 1) != 1)
                                                       got = 0;
                                                   reactor.stop();
                                               },
                                               watchId));
        // Written from the loop, so the watch must wake for it rather than find it at start.
        CPPUNIT_ASSERT(reactor.post([&] { pipe.put('q'); }));
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT_EQUAL(1, calls);
        CPPUNIT_ASSERT_EQUAL(pipe.readFd(), seenFd);
        CPPUNIT_ASSERT_EQUAL('q', got);
        CPPUNIT_ASSERT(seen & LANSPREAD_FD_READ);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.unwatchFd(watchId));
    }

    void testModifyToWrite() {
        Reactor reactor;
        int sv[2];
        CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        int calls = 0;
        uint32_t seen = 0;
        uint64_t watchId = 0;
        // Nothing to read, so READ alone never fires; the socket is writable all along.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.watchFd(
                                               sv[0], LANSPREAD_FD_READ,
                                               [&](int, uint32_t revents) {
                                                   ++calls;
                                                   seen = revents;
                                                   reactor.stop();
                                               },
                                               watchId));
        int callsBeforeModify = -1;
        lanspread_status modified = LANSPREAD_E_FAILED;
        uint64_t timerId = 0;
        reactor.startTimer(
            20 * kMs,
            [&] {
                callsBeforeModify = calls;
                modified = reactor.modifyFd(watchId, LANSPREAD_FD_WRITE);
            },
            timerId);
        reactor.run();
        ::close(sv[0]);
        ::close(sv[1]);
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT_EQUAL(0, callsBeforeModify);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, modified);
        CPPUNIT_ASSERT_EQUAL(1, calls);
        CPPUNIT_ASSERT(seen & LANSPREAD_FD_WRITE);
        CPPUNIT_ASSERT(!(seen & LANSPREAD_FD_READ));
    }

    void testHangupIsReported() {
        Reactor reactor;
        Pipe pipe;
        pipe.closeWrite();
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        uint32_t seen = 0;
        uint64_t watchId = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.watchFd(
                                               pipe.readFd(), LANSPREAD_FD_READ,
                                               [&](int, uint32_t revents) {
                                                   seen = revents;
                                                   reactor.unwatchFd(watchId);
                                                   reactor.stop();
                                               },
                                               watchId));
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT(seen & LANSPREAD_FD_HANGUP);
    }

    void testUnwatchInsideCallbackStopsDelivery() {
        Reactor reactor;
        Pipe pipe;
        pipe.put(); // never read: level-triggered, it stays ready
        int calls = 0;
        lanspread_status unwatched = LANSPREAD_E_FAILED;
        uint64_t watchId = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.watchFd(
                                               pipe.readFd(), LANSPREAD_FD_READ,
                                               [&](int, uint32_t) {
                                                   ++calls;
                                                   unwatched = reactor.unwatchFd(watchId);
                                               },
                                               watchId));
        bool timedOut = false;
        armFailsafe(reactor, 50, timedOut); // many loop turns in which it would fire again
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(1, calls);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, unwatched);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.unwatchFd(watchId));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.modifyFd(watchId, LANSPREAD_FD_READ));
    }

    void testUnwatchOfOtherFdReadyInSameBatch() {
        Reactor reactor;
        Pipe a, b;
        a.put();
        b.put(); // both ready before the first epoll_wait: one batch
        int callsA = 0, callsB = 0;
        uint64_t idA = 0, idB = 0;
        // Whichever runs first removes both watches; the other must never be called.
        auto first = [&](int &counter) {
            return [&](int, uint32_t) {
                ++counter;
                reactor.unwatchFd(idA);
                reactor.unwatchFd(idB);
            };
        };
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             reactor.watchFd(a.readFd(), LANSPREAD_FD_READ, first(callsA), idA));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             reactor.watchFd(b.readFd(), LANSPREAD_FD_READ, first(callsB), idB));
        bool timedOut = false;
        armFailsafe(reactor, 30, timedOut);
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(1, callsA + callsB);
    }

    void testWatchErrors() {
        Reactor reactor;
        FILE *file = std::tmpfile();
        CPPUNIT_ASSERT(file != nullptr);
        uint64_t id = 0;
        auto noop = [](int, uint32_t) {};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO,
                             reactor.watchFd(::fileno(file), LANSPREAD_FD_READ, noop, id));
        std::fclose(file);

        Pipe pipe;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             reactor.watchFd(pipe.readFd(), LANSPREAD_FD_READ, noop, id));
        uint64_t second = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             reactor.watchFd(pipe.readFd(), LANSPREAD_FD_READ, noop, second));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             reactor.modifyFd(id, LANSPREAD_FD_ERROR)); // report-only bit
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.unwatchFd(id));
        // Once unwatched, the fd can be watched again.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             reactor.watchFd(pipe.readFd(), LANSPREAD_FD_READ, noop, second));
        CPPUNIT_ASSERT(second != id);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.unwatchFd(second));

        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             reactor.watchFd(-1, LANSPREAD_FD_READ, noop, id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             reactor.watchFd(pipe.readFd(), LANSPREAD_FD_HANGUP, noop, id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             reactor.watchFd(pipe.readFd(), LANSPREAD_FD_READ, nullptr, id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.unwatchFd(987654));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.modifyFd(987654, LANSPREAD_FD_READ));
    }

    void testTimersFireInDeadlineOrder() {
        // Started out of order; the deadlines are >= 9 ms apart, so the order is certain
        // whenever starting them took less than that (retried if the machine stalled us).
        for (int attempt = 0; attempt < 5; ++attempt) {
            Reactor reactor;
            std::vector<int> order;
            uint64_t id = 0;
            const uint64_t setupStart = Reactor::nowNs();
            for (int ms : {30, 10, 20, 1}) {
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.startTimer(
                                                       uint64_t(ms) * kMs,
                                                       [&order, ms] { order.push_back(ms); }, id));
            }
            const bool setupFast = Reactor::nowNs() - setupStart < 8 * kMs;
            reactor.startTimer(
                40 * kMs, [&] { reactor.stop(); }, id);
            reactor.run();
            if (!setupFast)
                continue;
            CPPUNIT_ASSERT((order == std::vector<int>{1, 10, 20, 30}));
            return;
        }
        CPPUNIT_FAIL("could not start four timers within 8 ms in 5 attempts");
    }

    void testStopTimerPreventsFiring() {
        Reactor reactor;
        bool fired = false;
        uint64_t early = 0, late = 0;
        reactor.startTimer(
            5 * kMs, [&] { fired = true; }, early);
        reactor.startTimer(
            30 * kMs, [&] { reactor.stop(); }, late);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, reactor.stopTimer(early));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.stopTimer(early));
        reactor.run();
        CPPUNIT_ASSERT(!fired);
    }

    void testStopTimerOfDueTimerInSameBatch() {
        Reactor reactor;
        int firstCalls = 0, secondCalls = 0;
        lanspread_status stopped = LANSPREAD_E_FAILED;
        uint64_t first = 0, second = 0, guard = 0;
        // Both due in the same turn; the one that runs first cancels the other.
        reactor.startTimer(
            1 * kMs,
            [&] {
                ++firstCalls;
                stopped = reactor.stopTimer(second);
            },
            first);
        reactor.startTimer(
            1 * kMs, [&] { ++secondCalls; }, second);
        reactor.startTimer(
            20 * kMs, [&] { reactor.stop(); }, guard);
        // Let both deadlines pass before the loop looks at them.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(1, firstCalls);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, stopped);
        CPPUNIT_ASSERT_EQUAL(0, secondCalls);
    }

    void testStopTimerOfFiredTimerIsNotFound() {
        Reactor reactor;
        uint64_t id = 0;
        lanspread_status insideStatus = LANSPREAD_OK;
        reactor.startTimer(
            1 * kMs,
            [&] {
                insideStatus = reactor.stopTimer(id); // already dead while it runs
                reactor.stop();
            },
            id);
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, insideStatus);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.stopTimer(id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, reactor.stopTimer(424242));
    }

    void testZeroDelayTimerFiresOnNextTurn() {
        Reactor reactor;
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        std::vector<std::string> order;
        uint64_t id = 0;
        reactor.startTimer(
            0,
            [&] {
                order.push_back("outer");
                uint64_t inner = 0;
                reactor.startTimer(
                    0,
                    [&] {
                        order.push_back("inner");
                        reactor.stop();
                    },
                    inner);
                // A turn runs due timers, then posts: a task posted now runs in this turn,
                // the new timer only in the next one.
                reactor.post([&] { order.push_back("post"); });
            },
            id);
        const uint64_t start = Reactor::nowNs();
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT((order == std::vector<std::string>{"outer", "post", "inner"}));
        CPPUNIT_ASSERT(Reactor::nowNs() - start < 1000 * kMs);
    }

    void testZeroDelayTimerLoopDoesNotStarvePosts() {
        Reactor reactor;
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        std::atomic<int> rearms{0};
        std::function<void()> again;
        again = [&] {
            ++rearms;
            uint64_t next = 0;
            reactor.startTimer(0, again, next);
        };
        uint64_t id = 0;
        reactor.startTimer(0, again, id);
        std::thread poster([&] {
            // Post only once the timer keeps re-arming itself, whatever the machine's load.
            const uint64_t deadline = Reactor::nowNs() + 1000 * kMs;
            while (rearms < 100 && Reactor::nowNs() < deadline)
                std::this_thread::yield();
            reactor.post([&] { reactor.stop(); });
        });
        reactor.run();
        poster.join();
        CPPUNIT_ASSERT(rearms >= 100);
        CPPUNIT_ASSERT_MESSAGE("the posted stop never ran", !timedOut);
    }

    void testTimerPrecision() {
        // 2 ms must not become 1 ms or 0 ms (ms rounding) nor 10+ ms (coarse ticks).
        Reactor reactor;
        std::vector<uint64_t> elapsed;
        uint64_t startedAt = 0;
        std::function<void()> fire;
        fire = [&] {
            elapsed.push_back(Reactor::nowNs() - startedAt);
            if (elapsed.size() == 20) {
                reactor.stop();
                return;
            }
            // Start mid-millisecond too, where rounding a deadline would show.
            startedAt = Reactor::nowNs();
            uint64_t id = 0;
            reactor.startTimer(2 * kMs, fire, id);
        };
        uint64_t id = 0;
        startedAt = Reactor::nowNs();
        reactor.startTimer(2 * kMs, fire, id);
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(std::size_t(20), elapsed.size());
        for (uint64_t ns : elapsed)
            CPPUNIT_ASSERT_MESSAGE("fired early: " + std::to_string(ns) + " ns", ns >= 2 * kMs);
        // Late is judged on the median: one sample can be late on a loaded machine, a
        // coarse or missing timer arm makes them all late.
        std::sort(elapsed.begin(), elapsed.end());
        const uint64_t median = elapsed[elapsed.size() / 2];
        CPPUNIT_ASSERT_MESSAGE("fired late: median " + std::to_string(median) + " ns",
                               median < 50 * kMs);
    }

    void testPostFromFourThreadsKeepsPerThreadOrder() {
        constexpr int kThreads = 4;
        constexpr int kPerThread = 1000;
        Reactor reactor;
        bool timedOut = false;
        armFailsafe(reactor, 10000, timedOut);
        std::vector<std::vector<int>> seen(kThreads); // touched only on the loop thread
        int total = 0;
        std::vector<std::thread> producers;
        // Producers start once the loop runs, so posting races the draining.
        reactor.post([&] {
            for (int t = 0; t < kThreads; ++t) {
                producers.emplace_back([&, t] {
                    for (int i = 0; i < kPerThread; ++i) {
                        bool ok = reactor.post([&, t, i] {
                            seen[t].push_back(i);
                            if (++total == kThreads * kPerThread)
                                reactor.stop();
                        });
                        if (!ok)
                            std::abort(); // cannot assert off the test thread
                    }
                });
            }
        });
        reactor.run();
        for (std::thread &producer : producers)
            producer.join();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT_EQUAL(kThreads * kPerThread, total);
        for (int t = 0; t < kThreads; ++t) {
            CPPUNIT_ASSERT_EQUAL(std::size_t(kPerThread), seen[t].size());
            for (int i = 0; i < kPerThread; ++i)
                CPPUNIT_ASSERT_EQUAL(i, seen[t][i]);
        }
    }

    void testPostAfterStopReturnsFalse() {
        Reactor reactor;
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        bool late = false, dropped = false;
        CPPUNIT_ASSERT(reactor.post([&] {
            reactor.stop();
            // From the loop itself, after stop(): refused.
            late = reactor.post([&] { dropped = true; });
        }));
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT(!late);
        CPPUNIT_ASSERT(!dropped);
        CPPUNIT_ASSERT(!reactor.post([] {}));

        Reactor neverRun;
        neverRun.stop();
        CPPUNIT_ASSERT(!neverRun.post([] {}));
    }

    void testStopFromAnotherThread() {
        Reactor reactor;
        Pipe unblock; // lets the test end (and fail) if stop() does not wake the loop
        uint64_t watchId = 0;
        CPPUNIT_ASSERT_EQUAL(
            LANSPREAD_OK, reactor.watchFd(
                              unblock.readFd(), LANSPREAD_FD_READ, [](int, uint32_t) {}, watchId));
        std::atomic<bool> ranTask{false};
        reactor.post([&] { ranTask = true; });
        std::thread loop([&] { reactor.run(); });
        uint64_t deadline = Reactor::nowNs() + 2000 * kMs;
        while (!ranTask && Reactor::nowNs() < deadline)
            std::this_thread::yield();
        const bool wasRunning = reactor.running();
        // Give the loop time to block in epoll_wait, where only the wake-up can reach it.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        reactor.stop();
        deadline = Reactor::nowNs() + 2000 * kMs;
        while (reactor.running() && Reactor::nowNs() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const bool stoppedInTime = !reactor.running();
        if (!stoppedInTime)
            unblock.put();
        loop.join();
        CPPUNIT_ASSERT(wasRunning);
        CPPUNIT_ASSERT_MESSAGE("stop() did not wake epoll_wait", stoppedInTime);
    }

    void testInReactorThread() {
        Reactor reactor;
        CPPUNIT_ASSERT(!reactor.inReactorThread());
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        bool inside = false;
        bool otherThread = true;
        reactor.post([&] {
            inside = reactor.inReactorThread();
            std::thread other([&] { otherThread = reactor.inReactorThread(); });
            other.join();
            reactor.stop();
        });
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT(inside);
        CPPUNIT_ASSERT(!otherThread);
        CPPUNIT_ASSERT(!reactor.inReactorThread()); // run() has returned
    }

    void testExceptionInCallbackDoesNotStopLoop() {
        Reactor reactor;
        bool timedOut = false;
        armFailsafe(reactor, 2000, timedOut);
        Pipe pipe;
        pipe.put();
        uint64_t watchId = 0, timerId = 0;
        reactor.watchFd(
            pipe.readFd(), LANSPREAD_FD_READ,
            [&](int, uint32_t) {
                reactor.unwatchFd(watchId);
                throw std::runtime_error("test: fd callback throws");
            },
            watchId);
        reactor.startTimer(
            1 * kMs, [] { throw std::runtime_error("test: timer callback throws"); }, timerId);
        reactor.post([] { throw 42; });
        bool reached = false;
        reactor.startTimer(
            10 * kMs,
            [&] {
                reactor.post([&] {
                    reached = true;
                    reactor.stop();
                });
            },
            timerId);
        reactor.run();
        CPPUNIT_ASSERT(!timedOut);
        CPPUNIT_ASSERT(reached);
    }

    // --- the virtual clock ---

    void testVirtualTimeJumpsToEachDeadline() {
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        std::vector<std::pair<int, uint64_t>> fired; // (label, now() when it ran)
        uint64_t id = 0;
        const uint64_t hour = 3600ull * 1000 * kMs;
        for (auto [label, delay] : std::vector<std::pair<int, uint64_t>>{
                 {3, hour}, {1, 10 * 1000 * kMs}, {2, 10 * 1000 * kMs + 1}}) {
            reactor.startTimer(
                delay, [&, label = label] { fired.emplace_back(label, reactor.now()); }, id);
        }
        // A timer started from a callback counts from that callback's virtual time.
        reactor.startTimer(
            5 * kMs,
            [&] {
                reactor.startTimer(
                    7 * kMs, [&] { fired.emplace_back(0, reactor.now()); }, id);
            },
            id);
        reactor.startTimer(
            hour + 1, [&] { reactor.stop(); }, id);
        const uint64_t wallStart = Reactor::nowNs();
        reactor.run();
        CPPUNIT_ASSERT(Reactor::nowNs() - wallStart < 1000 * kMs); // an hour, instantly
        const std::vector<std::pair<int, uint64_t>> expected{{0, start + 12 * kMs},
                                                             {1, start + 10 * 1000 * kMs},
                                                             {2, start + 10 * 1000 * kMs + 1},
                                                             {3, start + hour}};
        CPPUNIT_ASSERT(fired == expected);
        CPPUNIT_ASSERT_EQUAL(start + hour + 1, reactor.now());
    }

    void testVirtualTimeStandsStillWhileTasksAreReady() {
        // A chain of 500 posts keeps the loop busy: a 1 ns timer waits for all of them, and
        // none of them sees time move. (A real clock would let the timer in between.)
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        std::vector<uint64_t> seen;
        std::function<void()> step = [&] {
            seen.push_back(reactor.now());
            if (seen.size() < 500)
                reactor.post(step);
        };
        reactor.post(step);
        std::size_t postsBeforeTimer = 0;
        uint64_t id = 0;
        reactor.startTimer(
            1,
            [&] {
                postsBeforeTimer = seen.size();
                reactor.stop();
            },
            id);
        // A zero-delay timer is due at once: it runs without moving the clock.
        uint64_t zeroSaw = 0;
        reactor.startTimer(
            0, [&] { zeroSaw = reactor.now(); }, id);
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(std::size_t(500), postsBeforeTimer);
        for (uint64_t t : seen)
            CPPUNIT_ASSERT_EQUAL(start, t);
        CPPUNIT_ASSERT_EQUAL(start, zeroSaw);
        CPPUNIT_ASSERT_EQUAL(start + 1, reactor.now());
    }

    void testVirtualTimeServesFds() {
        // A readable pipe is work: it is served before a timer moves the clock.
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        Pipe pipe;
        pipe.put();
        uint64_t readAt = 0, watchId = 0, id = 0;
        reactor.watchFd(
            pipe.readFd(), LANSPREAD_FD_READ,
            [&](int fd, uint32_t) {
                char c = 0;
                CPPUNIT_ASSERT_EQUAL(ssize_t(1), ::read(fd, &c, 1));
                readAt = reactor.now();
                reactor.unwatchFd(watchId);
            },
            watchId);
        reactor.startTimer(
            60 * 1000 * kMs, [&] { reactor.stop(); }, id);
        reactor.run();
        CPPUNIT_ASSERT_EQUAL(start, readAt);
        CPPUNIT_ASSERT_EQUAL(start + 60 * 1000 * kMs, reactor.now());
    }

    void testVirtualTimeIsHeldForOutsideWork() {
        // A thread works 50 real ms and posts its result; a timer is due 1 virtual ms after
        // the start. While the work holds the clock, the result runs first, at the start
        // time; an idle loop that ignored the hold would have jumped to the timer.
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        std::atomic<bool> busy{true};
        reactor.holdTimeWhile([&] { return busy.load(); });
        std::vector<std::string> order;
        uint64_t resultAt = 0, id = 0;
        reactor.startTimer(
            1 * kMs, [&] { order.push_back("timer"); }, id);
        std::thread worker([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            reactor.post([&] {
                order.push_back("result");
                resultAt = reactor.now();
            });
            busy.store(false); // after the post, as a worker pool counts a job done
        });
        const bool done = reactor.runUntil([&] { return order.size() == 2; });
        worker.join();
        CPPUNIT_ASSERT(done);
        CPPUNIT_ASSERT((order == std::vector<std::string>{"result", "timer"}));
        CPPUNIT_ASSERT_EQUAL(start, resultAt);
        CPPUNIT_ASSERT_EQUAL(start + 1 * kMs, reactor.now());
    }

    void testRunUntilPausesAndResumes() {
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        int fired = 0;
        uint64_t id = 0;
        for (int s = 1; s <= 3; ++s)
            reactor.startTimer(
                uint64_t(s) * 1000 * kMs, [&] { ++fired; }, id);
        CPPUNIT_ASSERT(reactor.runUntil([&] { return fired == 1; }));
        CPPUNIT_ASSERT(!reactor.running());
        CPPUNIT_ASSERT_EQUAL(start + 1000 * kMs, reactor.now());
        // Between runs the caller owns the loop's state: a task queued now runs on resume.
        bool posted = false;
        CPPUNIT_ASSERT(reactor.post([&] { posted = true; }));
        CPPUNIT_ASSERT(reactor.runUntil([&] { return fired == 3; }));
        CPPUNIT_ASSERT(posted);
        CPPUNIT_ASSERT_EQUAL(start + 3000 * kMs, reactor.now());
        // Already true: returns before any turn.
        CPPUNIT_ASSERT(reactor.runUntil([] { return true; }));
        // stop() ends it for good, and the condition's answer is returned.
        reactor.stop();
        CPPUNIT_ASSERT(!reactor.runUntil([] { return false; }));
    }

    void testRunUntilRechecksWithNothingScheduled() {
        // Nothing scheduled and nothing posted: the condition changes behind the loop's back
        // (a test's wall-clock guard does), and runUntil still notices.
        Reactor reactor(Reactor::Clock::Virtual);
        const uint64_t start = reactor.now();
        std::atomic<bool> flag{false};
        std::thread setter([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            flag.store(true);
        });
        CPPUNIT_ASSERT(reactor.runUntil([&] { return flag.load(); }));
        setter.join();
        CPPUNIT_ASSERT_EQUAL(start, reactor.now());
    }

    void testMonotonicClockIsReal() {
        Reactor reactor;
        const uint64_t before = Reactor::nowNs();
        const uint64_t now = reactor.now();
        CPPUNIT_ASSERT(now >= before && now - before < 1000 * kMs);
        bool fired = false;
        uint64_t id = 0;
        reactor.startTimer(
            20 * kMs,
            [&] {
                fired = true;
                reactor.stop();
            },
            id);
        reactor.run();
        CPPUNIT_ASSERT(fired);
        CPPUNIT_ASSERT(Reactor::nowNs() - before >= 20 * kMs); // it really waited
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReactorTest);
