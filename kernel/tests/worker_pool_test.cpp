#include <lanspread/kernel/host/worker_pool.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using lanspread::kernel::host::WorkerPool;

namespace {

using namespace std::chrono_literals;

// A one-shot flag threads can wait on with a timeout.
class Latch {
  public:
    void open() {
        // Notified under the lock: the waiter may destroy the latch as soon as it wakes.
        std::lock_guard<std::mutex> lock(_mutex);
        _open = true;
        _cv.notify_all();
    }
    bool waitFor(std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(_mutex);
        return _cv.wait_for(lock, timeout, [this] { return _open; });
    }

  private:
    std::mutex _mutex;
    std::condition_variable _cv;
    bool _open = false;
};

} // namespace

class WorkerPoolTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerPoolTest);
    CPPUNIT_TEST(testDefaultThreadCount);
    CPPUNIT_TEST(testRunsJobsConcurrentlyOnNThreads);
    CPPUNIT_TEST(testShutdownDropsQueuedJobsAndJoins);
    CPPUNIT_TEST(testThrowingJobDoesNotKillWorker);
    CPPUNIT_TEST(testShutdownFromInsideAJob);
    CPPUNIT_TEST(testDestructorWaitsForRunningJob);
    CPPUNIT_TEST(testBusyUntilEveryJobReturned);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testDefaultThreadCount() {
        WorkerPool pool;
        CPPUNIT_ASSERT(pool.threadCount() >= 2);
        WorkerPool three(3);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), three.threadCount());
        CPPUNIT_ASSERT(!three.submit(nullptr));
    }

    void testRunsJobsConcurrentlyOnNThreads() {
        constexpr int kThreads = 4;
        std::mutex mutex;
        std::condition_variable cv;
        int started = 0, finished = 0, sawAllStarted = 0;
        std::set<std::thread::id> threads;
        WorkerPool pool(kThreads);
        // Each job waits until all of them run at once: only possible on kThreads threads.
        for (int i = 0; i < kThreads; ++i) {
            CPPUNIT_ASSERT(pool.submit([&] {
                std::unique_lock<std::mutex> lock(mutex);
                ++started;
                threads.insert(std::this_thread::get_id());
                cv.notify_all();
                if (cv.wait_for(lock, 2s, [&] { return started == kThreads; }))
                    ++sawAllStarted;
                ++finished;
                cv.notify_all();
            }));
        }
        {
            std::unique_lock<std::mutex> lock(mutex);
            CPPUNIT_ASSERT(cv.wait_for(lock, 10s, [&] { return finished == kThreads; }));
        }
        CPPUNIT_ASSERT_EQUAL(kThreads, sawAllStarted);
        CPPUNIT_ASSERT_EQUAL(std::size_t(kThreads), threads.size());
    }

    void testShutdownDropsQueuedJobsAndJoins() {
        Latch started, release; // declared first: outlive the pool's threads
        WorkerPool pool(1);
        std::atomic<bool> firstDone{false};
        std::atomic<int> queuedRan{0};
        CPPUNIT_ASSERT(pool.submit([&] {
            started.open();
            release.waitFor(5s);
            std::this_thread::sleep_for(20ms); // shutdown() must wait for this
            firstDone = true;
        }));
        CPPUNIT_ASSERT(started.waitFor(5s));
        auto token = std::make_shared<int>(0);
        for (int i = 0; i < 5; ++i)
            CPPUNIT_ASSERT(pool.submit([&queuedRan, token] { ++queuedRan; }));
        CPPUNIT_ASSERT_EQUAL(6L, token.use_count());

        std::thread stopper([&] { pool.shutdown(); });
        // Once submit() is refused, shutdown() has taken the queue; only then let job 1 end.
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (pool.submit([&queuedRan] { ++queuedRan; }) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        release.open();
        stopper.join();

        CPPUNIT_ASSERT(firstDone);
        CPPUNIT_ASSERT_EQUAL(0, queuedRan.load());
        CPPUNIT_ASSERT_EQUAL(1L, token.use_count()); // dropped jobs were destroyed
        CPPUNIT_ASSERT(!pool.submit([] {}));
        pool.shutdown(); // a second call is harmless
    }

    void testThrowingJobDoesNotKillWorker() {
        Latch done;
        WorkerPool pool(1);
        CPPUNIT_ASSERT(pool.submit([] { throw std::runtime_error("test: job throws"); }));
        CPPUNIT_ASSERT(pool.submit([] { throw 7; }));
        CPPUNIT_ASSERT(pool.submit([&] { done.open(); }));
        CPPUNIT_ASSERT(done.waitFor(5s));
    }

    void testShutdownFromInsideAJob() {
        Latch done;
        auto pool = std::make_unique<WorkerPool>(2);
        std::atomic<bool> submitAfter{true};
        CPPUNIT_ASSERT(pool->submit([&] {
            pool->shutdown(); // must neither deadlock nor join itself
            submitAfter = pool->submit([] {});
            done.open();
        }));
        CPPUNIT_ASSERT(done.waitFor(5s));
        CPPUNIT_ASSERT(!submitAfter);
        pool.reset(); // joins every worker from this thread
    }

    void testDestructorWaitsForRunningJob() {
        std::atomic<bool> finished{false};
        Latch started;
        {
            WorkerPool pool(1);
            pool.submit([&] {
                started.open();
                std::this_thread::sleep_for(30ms);
                finished = true;
            });
            CPPUNIT_ASSERT(started.waitFor(5s));
        }
        CPPUNIT_ASSERT(finished);
    }

    void testBusyUntilEveryJobReturned() {
        // Busy while a job runs or waits, and until the last one has returned: what the job
        // did last (a reactor post, in the kernel) is done once busy() says false.
        WorkerPool pool(1);
        CPPUNIT_ASSERT(!pool.busy());
        Latch started, release;
        std::atomic<int> lastWords{0};
        pool.submit([&] {
            started.open();
            release.waitFor(5s);
            lastWords = 1;
        });
        pool.submit([&] { lastWords = 2; });
        CPPUNIT_ASSERT(started.waitFor(5s));
        CPPUNIT_ASSERT(pool.busy()); // one running, one queued
        release.open();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (pool.busy() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        CPPUNIT_ASSERT(!pool.busy());
        CPPUNIT_ASSERT_EQUAL(2, lastWords.load());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkerPoolTest);
