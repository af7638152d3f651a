#include <lanspread/kernel/host/worker_pool.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>

namespace lanspread::kernel::host {

namespace {
// The pool whose worker is the current thread; a job calling shutdown() must not join itself.
thread_local const WorkerPool *tlsCurrentPool = nullptr;
} // namespace

WorkerPool::WorkerPool(std::size_t threadCount) {
    if (threadCount == 0)
        threadCount = std::max<std::size_t>(2, std::thread::hardware_concurrency());
    _threads.reserve(threadCount);
    try {
        for (std::size_t i = 0; i < threadCount; ++i)
            _threads.emplace_back([this] { workerLoop(); });
    } catch (...) {
        // Joinable threads in a destroyed vector would call std::terminate.
        shutdown();
        throw;
    }
}

WorkerPool::~WorkerPool() {
    shutdown();
}

bool WorkerPool::submit(Job job) {
    if (!job)
        return false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping)
            return false;
        _queue.push_back(std::move(job));
    }
    _wake.notify_one();
    return true;
}

void WorkerPool::shutdown() {
    std::deque<Job> dropped;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
        dropped.swap(_queue);
    }
    _wake.notify_all();
    // Destroyed outside the lock: a job's captures may call submit() from their destructor.
    dropped.clear();

    // From inside a job the worker cannot join itself (nor safely wait for its siblings,
    // which may wait for it); the destructor, on another thread, joins them all.
    if (tlsCurrentPool == this)
        return;
    std::lock_guard<std::mutex> joinLock(_joinMutex);
    for (std::thread &thread : _threads)
        if (thread.joinable())
            thread.join();
}

void WorkerPool::workerLoop() {
    tlsCurrentPool = this;
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_queue.empty(); });
            if (_stopping)
                return; // queued jobs are dropped by shutdown()
            job = std::move(_queue.front());
            _queue.pop_front();
            ++_running;
        }
        try {
            job();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "lanspread worker pool: job threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "lanspread worker pool: job threw a non-std exception\n");
        }
        job = nullptr; // its captures go before it stops counting as running
        std::lock_guard<std::mutex> lock(_mutex);
        --_running;
    }
}

bool WorkerPool::busy() {
    std::lock_guard<std::mutex> lock(_mutex);
    return _running > 0 || !_queue.empty();
}

} // namespace lanspread::kernel::host
