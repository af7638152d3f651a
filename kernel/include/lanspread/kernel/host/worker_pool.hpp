// A fixed pool of threads for blocking work: disk I/O, hashing, unpacking. Results go back
// to the reactor with Reactor::post, so the reactor never blocks on disk.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lanspread::kernel::host {

class WorkerPool {
  public:
    using Job = std::function<void()>;

    // threadCount 0 means std::thread::hardware_concurrency() (at least 2).
    explicit WorkerPool(std::size_t threadCount = 0);
    // Waits for running jobs; queued jobs that have not started are dropped.
    ~WorkerPool();
    WorkerPool(const WorkerPool &) = delete;
    WorkerPool &operator=(const WorkerPool &) = delete;

    // Queues a job. Thread: any. Returns false after shutdown() (job dropped). A job that
    // throws is caught and reported on stderr; the worker keeps running.
    bool submit(Job job);
    // Stops accepting jobs, lets running ones finish, drops the queue, joins the threads.
    void shutdown();
    std::size_t threadCount() const { return _threads.size(); }
    // Whether a job is queued or running. A job counts as running until it returns, so
    // whatever it posted to the reactor is queued there by the time this says false (a
    // virtual-time reactor holds its clock while this is true). Thread: any.
    bool busy();

  private:
    void workerLoop();

    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<Job> _queue;
    std::size_t _running = 0; // jobs taken from the queue and not yet returned
    bool _stopping = false;
    std::vector<std::thread> _threads;
    std::mutex _joinMutex; // concurrent shutdown() calls join one at a time
};

} // namespace lanspread::kernel::host
