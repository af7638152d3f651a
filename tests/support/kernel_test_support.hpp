// Test helpers shared by the kernel's unit tests: a reactor running on its own thread
// (LoopThread), stderr captured into a file (StderrCapture, for checking log lines) and a
// thread-safe list of received lines (LineLog).
#pragma once

#include <lanspread/kernel/host/reactor.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace lanspread::test {

using lanspread::kernel::host::Reactor;
using namespace std::chrono_literals;

// Polls condition every millisecond until it holds (true) or limit passes (false): for state
// that another thread (a reactor or worker) changes.
inline bool waitUntil(const std::function<bool()> &condition,
                      std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class LoopThread {
  public:
    LoopThread() : _thread([this] { reactor.run(); }) {}
    ~LoopThread() { stop(); }
    LoopThread(const LoopThread &) = delete;
    LoopThread &operator=(const LoopThread &) = delete;

    void stop() {
        reactor.stop();
        if (_thread.joinable())
            _thread.join();
    }

    void call(const std::function<void()> &fn) {
        auto done = std::make_shared<std::promise<void>>();
        std::future<void> future = done->get_future();
        CPPUNIT_ASSERT(reactor.post([done, fn] {
            try {
                fn();
                done->set_value();
            } catch (...) {
                done->set_exception(std::current_exception());
            }
        }));
        CPPUNIT_ASSERT(future.wait_for(5s) == std::future_status::ready);
        future.get();
    }

    // Returns once everything posted before it (from this thread) has run.
    void flush() {
        call([] {});
    }

    std::thread::id loopThreadId() {
        std::thread::id id;
        call([&id] { id = std::this_thread::get_id(); });
        return id;
    }

    Reactor reactor; // before _thread: the thread runs it
  private:
    std::thread _thread;
};

class StderrCapture {
  public:
    StderrCapture() {
        char name[] = "/tmp/lanspread_test_stderr_XXXXXX";
        _fd = ::mkstemp(name);
        CPPUNIT_ASSERT(_fd >= 0);
        _path = name;
        std::fflush(stderr);
        _saved = ::dup(2);
        CPPUNIT_ASSERT(_saved >= 0);
        CPPUNIT_ASSERT(::dup2(_fd, 2) >= 0);
    }
    ~StderrCapture() {
        restore();
        ::close(_fd);
        ::unlink(_path.c_str());
    }
    StderrCapture(const StderrCapture &) = delete;
    StderrCapture &operator=(const StderrCapture &) = delete;
    void restore() {
        if (_saved < 0)
            return;
        std::fflush(stderr);
        ::dup2(_saved, 2);
        ::close(_saved);
        _saved = -1;
    }
    std::string text() {
        std::fflush(stderr);
        std::ifstream in(_path);
        std::stringstream out;
        out << in.rdbuf();
        return out.str();
    }

  private:
    int _fd = -1;
    int _saved = -1;
    std::string _path;
};

struct LineLog {
    std::mutex mutex;
    std::vector<std::string> lines;
    std::vector<std::thread::id> threads;
    std::size_t count() {
        std::lock_guard<std::mutex> lock(mutex);
        return lines.size();
    }
};

} // namespace lanspread::test
