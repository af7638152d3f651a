// Tests of lanspread::testing::FakeHost, the fake host plugin authors test against: it must
// implement lanspread_host_api the way host.h describes, deterministically.
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using lanspread::testing::FakeHost;

namespace {

// Records "name@now" each time a callback runs.
struct Trace {
    const lanspread_host_api *api = nullptr;
    std::vector<std::string> calls;
};
struct Named {
    Trace *trace;
    std::string name;
};
void timerCallback(void *userData, uint64_t) {
    auto *n = static_cast<Named *>(userData);
    n->trace->calls.push_back(n->name + "@" + std::to_string(n->trace->api->now_ns(n->trace->api)));
}
void taskCallback(void *userData) {
    auto *n = static_cast<Named *>(userData);
    n->trace->calls.push_back(n->name);
}

} // namespace

class FakeHostTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(FakeHostTest);
    CPPUNIT_TEST(testTableIsComplete);
    CPPUNIT_TEST(testManualClock);
    CPPUNIT_TEST(testTimersFireInDeadlineOrder);
    CPPUNIT_TEST(testStopTimer);
    CPPUNIT_TEST(testZeroDelayTimerStartedInCallbackRunsNextTurn);
    CPPUNIT_TEST(testRunUntilIdle);
    CPPUNIT_TEST(testPostFromAnotherThread);
    CPPUNIT_TEST(testRefusedPost);
    CPPUNIT_TEST(testCancelTokens);
    CPPUNIT_TEST(testConfig);
    CPPUNIT_TEST(testLogsAndEvents);
    CPPUNIT_TEST(testWatchPipe);
    CPPUNIT_TEST(testWatchRules);
    CPPUNIT_TEST(testServices);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testTableIsComplete() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(sizeof(lanspread_host_api)), api->struct_size);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint16_t>(LANSPREAD_ABI_MAJOR), api->abi_major);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint16_t>(LANSPREAD_ABI_MINOR), api->abi_minor);
        CPPUNIT_ASSERT(api->log && api->emit_event && api->config_get && api->watch_fd &&
                       api->modify_fd && api->unwatch_fd && api->start_timer && api->stop_timer &&
                       api->now_ns && api->post && api->is_cancelled && api->get_service);
        CPPUNIT_ASSERT(LANSPREAD_HAS_MEMBER(lanspread_host_api, api, get_service));
    }

    void testManualClock() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        uint64_t start = api->now_ns(api);
        CPPUNIT_ASSERT(start > 0);
        CPPUNIT_ASSERT_EQUAL(start, api->now_ns(api)); // never moves by itself
        host.advance(250);
        CPPUNIT_ASSERT_EQUAL(start + 250, api->now_ns(api));
        CPPUNIT_ASSERT_EQUAL(start + 250, host.now());
    }

    void testTimersFireInDeadlineOrder() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        Trace trace{api, {}};
        uint64_t t0 = host.now();
        Named late{&trace, "late"}, early{&trace, "early"}, tieA{&trace, "tieA"},
            tieB{&trace, "tieB"};
        uint64_t id = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->start_timer(api, 300, &timerCallback, &late, &id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->start_timer(api, 100, &timerCallback, &early, &id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->start_timer(api, 200, &timerCallback, &tieA, &id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->start_timer(api, 200, &timerCallback, &tieB, &id));
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, host.timerCount());

        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runOnce()); // nothing due yet
        host.advance(99);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runOnce());
        host.advance(1000); // everything due: still deadline order, ties in start order
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, host.runOnce());
        std::string now = std::to_string(t0 + 1099);
        std::vector<std::string> expected = {"early@" + now, "tieA@" + now, "tieB@" + now,
                                             "late@" + now};
        CPPUNIT_ASSERT(trace.calls == expected);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.timerCount());

        // advanceToNextTimer jumps the clock to each deadline in turn.
        trace.calls.clear();
        uint64_t t1 = host.now();
        api->start_timer(api, 50, &timerCallback, &late, &id);
        api->start_timer(api, 20, &timerCallback, &early, &id);
        CPPUNIT_ASSERT(host.advanceToNextTimer());
        CPPUNIT_ASSERT(host.advanceToNextTimer());
        CPPUNIT_ASSERT(!host.advanceToNextTimer());
        expected = {"early@" + std::to_string(t1 + 20), "late@" + std::to_string(t1 + 50)};
        CPPUNIT_ASSERT(trace.calls == expected);
    }

    void testStopTimer() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        Trace trace{api, {}};
        Named a{&trace, "a"};
        uint64_t id = 0;
        api->start_timer(api, 10, &timerCallback, &a, &id);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->stop_timer(api, id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, api->stop_timer(api, id));
        host.advance(100);
        host.runUntilIdle();
        CPPUNIT_ASSERT(trace.calls.empty());
        // A fired timer's id is dead.
        api->start_timer(api, 0, &timerCallback, &a, &id);
        host.runOnce();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, trace.calls.size());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, api->stop_timer(api, id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             api->start_timer(api, 1, nullptr, nullptr, &id));
    }

    // host.h: delay 0 means "on the next loop turn". A timer that re-arms itself with delay 0
    // must therefore run once per turn, not spin inside one turn.
    void testZeroDelayTimerStartedInCallbackRunsNextTurn() {
        FakeHost host;
        struct Rearm {
            const lanspread_host_api *api;
            int runs = 0;
        } rearm{host.api(), 0};
        auto callback = [](void *u, uint64_t) {
            auto *r = static_cast<Rearm *>(u);
            ++r->runs;
            uint64_t id = 0; // re-arm once, with "next turn" as the deadline
            r->api->start_timer(
                r->api, 0, +[](void *v, uint64_t) { ++static_cast<Rearm *>(v)->runs; }, u, &id);
        };
        uint64_t id = 0;
        host.api()->start_timer(host.api(), 0, callback, &rearm, &id);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.runOnce());
        CPPUNIT_ASSERT_EQUAL(1, rearm.runs);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.timerCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.runOnce());
        CPPUNIT_ASSERT_EQUAL(2, rearm.runs);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runOnce());
    }

    void testRunUntilIdle() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        // A chain: post -> timer(0) -> post -> ... five steps; runUntilIdle runs them all.
        struct Chain {
            const lanspread_host_api *api;
            int steps = 0;
            static void task(void *u) {
                auto *c = static_cast<Chain *>(u);
                if (++c->steps < 5) {
                    uint64_t id = 0;
                    c->api->start_timer(c->api, 0, &timer, c, &id);
                }
            }
            static void timer(void *u, uint64_t) {
                auto *c = static_cast<Chain *>(u);
                ++c->steps;
                c->api->post(c->api, &task, c);
            }
        } chain{api, 0};
        api->post(api, &Chain::task, &chain);
        CPPUNIT_ASSERT_EQUAL(std::size_t{5}, host.runUntilIdle());
        CPPUNIT_ASSERT_EQUAL(5, chain.steps);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runUntilIdle());
        // Future timers are not "work": runUntilIdle does not move the clock.
        Trace trace{api, {}};
        Named n{&trace, "n"};
        uint64_t id = 0;
        api->start_timer(api, 1000, &timerCallback, &n, &id);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runUntilIdle());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.timerCount());
        // maxTurns bounds a loop that never goes idle.
        struct Forever {
            const lanspread_host_api *api;
            static void task(void *u) {
                auto *f = static_cast<Forever *>(u);
                f->api->post(f->api, &task, f);
            }
        } forever{api};
        api->post(api, &Forever::task, &forever);
        CPPUNIT_ASSERT_EQUAL(std::size_t{10}, host.runUntilIdle(10));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.pendingPosts());
    }

    void testPostFromAnotherThread() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        constexpr int kPerThread = 500;
        struct Sink {
            std::vector<int> seen[2];
        } sink;
        struct Job {
            Sink *sink;
            int thread;
            int value;
        };
        std::vector<Job> jobs[2];
        for (int t = 0; t < 2; ++t)
            for (int i = 0; i < kPerThread; ++i)
                jobs[t].push_back({&sink, t, i});
        auto cb = [](void *u) {
            auto *j = static_cast<Job *>(u);
            j->sink->seen[j->thread].push_back(j->value);
        };
        std::atomic<int> failures{0}, finished{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t)
            threads.emplace_back([&, t] {
                for (auto &j : jobs[t])
                    if (api->post(api, cb, &j) != LANSPREAD_OK)
                        ++failures;
                ++finished;
            });
        // Run the reactor while the threads post: tasks only ever run on this thread.
        while (finished.load() < 2)
            host.runOnce();
        for (auto &th : threads)
            th.join();
        host.runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(0, failures.load());
        for (int t = 0; t < 2; ++t) {
            CPPUNIT_ASSERT_EQUAL(std::size_t{kPerThread}, sink.seen[t].size());
            for (int i = 0; i < kPerThread; ++i) // per-thread FIFO
                CPPUNIT_ASSERT_EQUAL(i, sink.seen[t][i]);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.pendingPosts());
    }

    void testRefusedPost() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        Trace trace{api, {}};
        Named n{&trace, "n"};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, api->post(api, nullptr, nullptr));
        host.refusePosts();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, api->post(api, &taskCallback, &n));
        host.runUntilIdle();
        CPPUNIT_ASSERT(trace.calls.empty());
    }

    void testCancelTokens() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        lanspread_cancel_handle a = host.newCancelToken();
        lanspread_cancel_handle b = host.newCancelToken();
        CPPUNIT_ASSERT(a != LANSPREAD_CANCEL_NONE && b != LANSPREAD_CANCEL_NONE && a != b);
        CPPUNIT_ASSERT_EQUAL(0, api->is_cancelled(api, a));
        host.cancel(a);
        CPPUNIT_ASSERT_EQUAL(1, api->is_cancelled(api, a));
        CPPUNIT_ASSERT_EQUAL(0, api->is_cancelled(api, b));
        CPPUNIT_ASSERT_EQUAL(0, api->is_cancelled(api, LANSPREAD_CANCEL_NONE));
        host.cancel(LANSPREAD_CANCEL_NONE); // the never-cancelled token stays so
        CPPUNIT_ASSERT_EQUAL(0, api->is_cancelled(api, LANSPREAD_CANCEL_NONE));
        CPPUNIT_ASSERT_EQUAL(0, api->is_cancelled(api, 987654)); // unknown token
        // [any-thread]: polled from another thread.
        int seen = -1;
        std::thread([&] { seen = api->is_cancelled(api, a); }).join();
        CPPUNIT_ASSERT_EQUAL(1, seen);
    }

    void testConfig() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        host.setConfig("name", "value-1234");
        size_t required = 0;
        char small[4] = {'x', 'x', 'x', 'x'};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             api->config_get(api, "name", small, sizeof small, &required));
        CPPUNIT_ASSERT_EQUAL(std::size_t{11}, required);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             api->config_get(api, "name", nullptr, 0, &required));
        CPPUNIT_ASSERT_EQUAL(std::size_t{11}, required);
        char exact[11];
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             api->config_get(api, "name", exact, sizeof exact, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("value-1234"), std::string(exact));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             api->config_get(api, "other", exact, sizeof exact, &required));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             api->config_get(api, "name", nullptr, 5, &required));
        host.clearConfig("name");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             api->config_get(api, "name", exact, sizeof exact, &required));
    }

    void testLogsAndEvents() {
        FakeHost host("org.example.p");
        const lanspread_host_api *api = host.api();
        api->log(api, LANSPREAD_LOG_INFO, "hello");
        std::thread([&] { api->log(api, LANSPREAD_LOG_WARNING, "from a thread"); }).join();
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, host.logs().size());
        CPPUNIT_ASSERT(host.logged("hello"));
        CPPUNIT_ASSERT(!host.logged("hello", LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT(host.logged("thread", LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             api->emit_event(api, "discovery.peer_found", "{\"peer\":\"x\"}"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             api->emit_event(api, "bad.payload", "[1,2]"));
        auto events = host.events();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("discovery.peer_found"), events[0].topic);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"peer\":\"x\"}"), events[0].json);
    }

    void testWatchPipe() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        int fds[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(fds));
        struct Seen {
            int fd = -1;
            uint32_t revents = 0;
            int calls = 0;
            std::string data;
        } seen;
        auto onReady = [](void *u, int fd, uint32_t revents) {
            auto *s = static_cast<Seen *>(u);
            s->fd = fd;
            s->revents = revents;
            ++s->calls;
            char buffer[64];
            ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n > 0)
                s->data.append(buffer, static_cast<std::size_t>(n));
        };
        uint64_t watch = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             api->watch_fd(api, fds[0], LANSPREAD_FD_READ, onReady, &seen, &watch));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runOnce()); // nothing to read yet
        CPPUNIT_ASSERT_EQUAL(ssize_t{3}, ::write(fds[1], "abc", 3));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.runOnce());
        CPPUNIT_ASSERT_EQUAL(fds[0], seen.fd);
        CPPUNIT_ASSERT(seen.revents & LANSPREAD_FD_READ);
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), seen.data);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runUntilIdle()); // drained: level-triggered idle

        // modify: stop asking for READ, data waits; ask again, it comes.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->modify_fd(api, watch, 0));
        CPPUNIT_ASSERT_EQUAL(ssize_t{1}, ::write(fds[1], "d", 1));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.runOnce());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->modify_fd(api, watch, LANSPREAD_FD_READ));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.runOnce());
        CPPUNIT_ASSERT_EQUAL(std::string("abcd"), seen.data);

        // The writer closes: the reader sees HANGUP.
        ::close(fds[1]);
        seen.revents = 0;
        CPPUNIT_ASSERT(host.runOnce() >= 1);
        CPPUNIT_ASSERT(seen.revents & LANSPREAD_FD_HANGUP);

        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->unwatch_fd(api, watch));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, api->unwatch_fd(api, watch));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, api->modify_fd(api, watch, 0));
        int calls = seen.calls;
        host.runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(calls, seen.calls);
        ::close(fds[0]);
    }

    void testWatchRules() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        int fds[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(fds));
        auto noop = [](void *, int, uint32_t) {};
        uint64_t w1 = 0, w2 = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             api->watch_fd(api, fds[1], LANSPREAD_FD_WRITE, noop, nullptr, &w1));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, // one watch per fd
                             api->watch_fd(api, fds[1], LANSPREAD_FD_READ, noop, nullptr, &w2));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             api->watch_fd(api, -1, LANSPREAD_FD_READ, noop, nullptr, &w2));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             api->watch_fd(api, fds[0], LANSPREAD_FD_READ, nullptr, nullptr, &w2));
        // A callback may unwatch another fd that is ready in the same turn: that one is skipped.
        struct Pair {
            const lanspread_host_api *api;
            uint64_t other = 0;
            int calls = 0;
        } pair{api};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->unwatch_fd(api, w1));
        auto unwatchOther = [](void *u, int, uint32_t) {
            auto *p = static_cast<Pair *>(u);
            ++p->calls;
            p->api->unwatch_fd(p->api, p->other);
        };
        int other[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(other));
        CPPUNIT_ASSERT_EQUAL(
            LANSPREAD_OK, api->watch_fd(api, fds[1], LANSPREAD_FD_WRITE, unwatchOther, &pair, &w1));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, api->watch_fd(api, other[1], LANSPREAD_FD_WRITE,
                                                         unwatchOther, &pair, &pair.other));
        host.runOnce();
        CPPUNIT_ASSERT_EQUAL(1, pair.calls);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.watchCount());
        api->unwatch_fd(api, w1);
        for (int fd : {fds[0], fds[1], other[0], other[1]})
            ::close(fd);
    }

    void testServices() {
        FakeHost host;
        const lanspread_host_api *api = host.api();
        static const int kTable = 42;
        CPPUNIT_ASSERT(api->get_service(api, "lanspread.control/1") == nullptr);
        host.addService("lanspread.control/1", &kTable);
        CPPUNIT_ASSERT(api->get_service(api, "lanspread.control/1") == &kTable);
        CPPUNIT_ASSERT(api->get_service(api, nullptr) == nullptr);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(FakeHostTest);
