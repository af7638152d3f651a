// PluginHost: the per-plugin lanspread_host_api table, exercised through its C function
// pointers exactly as a plugin calls them, against a real Reactor running on its own thread.
#include "kernel_test_support.hpp"
#include <lanspread/host.h>
#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/plugin_host.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <Poco/AutoPtr.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Util/MapConfiguration.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::host::CancelRegistry;
using lanspread::kernel::host::EventBus;
using lanspread::kernel::host::PluginHost;
using lanspread::kernel::host::Reactor;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMs = 1000000;

// A Reactor running on its own thread. call() runs a function on the reactor thread and
// waits for it, rethrowing what it threw (the loop itself would swallow a failed assertion).
using lanspread::test::LoopThread;

using lanspread::test::waitUntil;

struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() { CPPUNIT_ASSERT_EQUAL(0, ::pipe2(fds, O_NONBLOCK | O_CLOEXEC)); }
    ~Pipe() {
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
    Pipe(const Pipe &) = delete;
    Pipe &operator=(const Pipe &) = delete;
    int readFd() const { return fds[0]; }
    int writeFd() const { return fds[1]; }
    void put(char c = 'x') const { CPPUNIT_ASSERT_EQUAL(ssize_t(1), ::write(fds[1], &c, 1)); }
};

// What a plugin's fd callback saw. Written on the reactor thread, read by the test.
struct FdRecord {
    std::mutex mutex;
    int calls = 0;
    int fd = -1;
    uint32_t revents = 0;
    std::thread::id thread;
    std::string bytes;
    bool drain = true; // read what is there, so a level-triggered READ goes quiet

    int callCount() {
        std::lock_guard<std::mutex> lock(mutex);
        return calls;
    }
};

void onFd(void *userData, int fd, uint32_t revents) {
    auto *record = static_cast<FdRecord *>(userData);
    std::string got;
    if (record->drain && (revents & LANSPREAD_FD_READ)) {
        char buffer[64];
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0)
            got.assign(buffer, static_cast<std::size_t>(n));
    }
    std::lock_guard<std::mutex> lock(record->mutex);
    ++record->calls;
    record->fd = fd;
    record->revents = revents;
    record->thread = std::this_thread::get_id();
    record->bytes += got;
}

// What a plugin's timer callback saw; it also calls stop_timer on its own (dead) id.
struct TimerRecord {
    const lanspread_host_api *host = nullptr;
    const PluginHost *owner = nullptr; // when set: its live timer count inside the callback
    std::mutex mutex;
    std::vector<uint64_t> ids;
    std::vector<lanspread_status> stopInsideCallback;
    std::vector<std::size_t> liveInsideCallback;

    std::size_t count() {
        std::lock_guard<std::mutex> lock(mutex);
        return ids.size();
    }
};

void onTimer(void *userData, uint64_t timerId) {
    auto *record = static_cast<TimerRecord *>(userData);
    const std::size_t live = record->owner ? record->owner->liveTimers() : 0;
    lanspread_status stop = record->host->stop_timer(record->host, timerId);
    std::lock_guard<std::mutex> lock(record->mutex);
    record->ids.push_back(timerId);
    record->stopInsideCallback.push_back(stop);
    record->liveInsideCallback.push_back(live);
}

// What posted tasks saw: the order they ran in and the thread.
struct TaskRecord {
    std::mutex mutex;
    std::vector<int> order;
    std::vector<std::thread::id> threads;

    std::size_t count() {
        std::lock_guard<std::mutex> lock(mutex);
        return order.size();
    }
};

struct TaskArg {
    TaskRecord *record;
    int index;
};

void onTask(void *userData) {
    auto *arg = static_cast<TaskArg *>(userData);
    std::lock_guard<std::mutex> lock(arg->record->mutex);
    arg->record->order.push_back(arg->index);
    arg->record->threads.push_back(std::this_thread::get_id());
}

void countTask(void *userData) {
    static_cast<std::atomic<int> *>(userData)->fetch_add(1);
}

// Sends fd 2 to a temporary file while alive; text() returns what was written.
using lanspread::test::StderrCapture;

Poco::JSON::Object::Ptr parseObject(const std::string &line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

const char *const kPluginA = "org.test.alpha";
const char *const kPluginB = "org.test.beta";

} // namespace

class PluginHostTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PluginHostTest);
    CPPUNIT_TEST(testTableIsComplete);
    CPPUNIT_TEST(testConfigGetIsNamespaced);
    CPPUNIT_TEST(testConfigGetNotFound);
    CPPUNIT_TEST(testConfigGetBufferTooSmall);
    CPPUNIT_TEST(testConfigGetEmptyValue);
    CPPUNIT_TEST(testConfigGetNullArguments);
    CPPUNIT_TEST(testUnknownConfigKeysAreRefused);
    CPPUNIT_TEST(testEmitEventPublishesTopicAndPayload);
    CPPUNIT_TEST(testEmitEventFromWorkerThreadReachesSubscribersOnReactorThread);
    CPPUNIT_TEST(testEmitEventRejectsNonObjectPayload);
    CPPUNIT_TEST(testEmitEventNullArguments);
    CPPUNIT_TEST(testWatchDeliversReadinessOnReactorThread);
    CPPUNIT_TEST(testModifyFdChangesWatchedBits);
    CPPUNIT_TEST(testWatchErrors);
    CPPUNIT_TEST(testOtherPluginsWatchAndTimerAreNotFound);
    CPPUNIT_TEST(testTimerFiresOnceWithItsId);
    CPPUNIT_TEST(testStoppedTimerNeverFires);
    CPPUNIT_TEST(testPostFromAnotherThreadRunsOnReactorInOrder);
    CPPUNIT_TEST(testPostNullCallback);
    CPPUNIT_TEST(testPostAfterReactorStopFails);
    CPPUNIT_TEST(testRetireDropsQueuedPostsAndRefusesNewOnes);
    CPPUNIT_TEST(testRetireDropsPostsQueuedFromReactorThread);
    CPPUNIT_TEST(testRetireRemovesLeftoverWatchesAndTimers);
    CPPUNIT_TEST(testIsCancelledReadsCancelRegistry);
    CPPUNIT_TEST(testGetServiceReturnsLookupResult);
    CPPUNIT_TEST(testGetServiceWithoutLookup);
    CPPUNIT_TEST(testLogClampsLevelsAndPrefixesPluginId);
    CPPUNIT_TEST(testNowIsMonotonic);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _config = new Poco::Util::MapConfiguration;
        _events = std::make_unique<EventBus>();
        _cancels = std::make_unique<CancelRegistry>();
        _loop = std::make_unique<LoopThread>();
        _services.clear();
        _lookups.clear();
        _hostA = makeHost(kPluginA);
        _hostB = makeHost(kPluginB);
        _a = _hostA->api();
        _b = _hostB->api();
    }

    void tearDown() override {
        if (_loop)
            _loop->stop();
        _hostA.reset();
        _hostB.reset();
        _loop.reset();
        _cancels.reset();
        _events.reset();
    }

    void testTableIsComplete() {
        CPPUNIT_ASSERT_EQUAL(uint32_t(sizeof(lanspread_host_api)), _a->struct_size);
        CPPUNIT_ASSERT_EQUAL(uint16_t(LANSPREAD_ABI_MAJOR), _a->abi_major);
        CPPUNIT_ASSERT_EQUAL(uint16_t(LANSPREAD_ABI_MINOR), _a->abi_minor);
        CPPUNIT_ASSERT(_a->host_data != nullptr);
        CPPUNIT_ASSERT(_a->host_data != _b->host_data);
        CPPUNIT_ASSERT(_a->log && _a->emit_event && _a->config_get && _a->watch_fd &&
                       _a->modify_fd && _a->unwatch_fd && _a->start_timer && _a->stop_timer &&
                       _a->now_ns && _a->post && _a->is_cancelled && _a->get_service);
        CPPUNIT_ASSERT_EQUAL(std::string(kPluginA), _hostA->pluginId());
    }

    void testConfigGetIsNamespaced() {
        _config->setString(std::string("plugin.") + kPluginA + ".port", "4242");
        _config->setString(std::string("plugin.") + kPluginB + ".port", "9999");
        _config->setString("port", "1111");
        char buffer[32];
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _a->config_get(_a, "port", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("4242"), std::string(buffer));
        CPPUNIT_ASSERT_EQUAL(size_t(5), required);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _b->config_get(_b, "port", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("9999"), std::string(buffer));
        // Dotted keys below the namespace.
        _config->setString(std::string("plugin.") + kPluginA + ".tls.cert", "/etc/cert.pem");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _a->config_get(_a, "tls.cert", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("/etc/cert.pem"), std::string(buffer));
    }

    void testConfigGetNotFound() {
        _config->setString(std::string("plugin.") + kPluginB + ".secret", "b-only");
        _config->setString("lanspread.games", "/games");
        char buffer[32] = "untouched";
        size_t required = 77;
        // Another plugin's key, a global key and a missing key are all invisible.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             _a->config_get(_a, "secret", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(size_t(0), required);
        CPPUNIT_ASSERT_EQUAL(std::string("untouched"), std::string(buffer));
        required = 77;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->config_get(_a, "lanspread.games", buffer,
                                                                   sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             _a->config_get(_a, "missing", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             _a->config_get(_a, "missing", nullptr, 0, &required));
    }

    void testConfigGetBufferTooSmall() {
        _config->setString(std::string("plugin.") + kPluginA + ".name", "abcdef");
        char buffer[16];
        std::memset(buffer, 'Z', sizeof buffer);
        size_t required = 0;
        // Six characters need seven bytes: six is one short.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             _a->config_get(_a, "name", buffer, 6, &required));
        CPPUNIT_ASSERT_EQUAL(size_t(7), required);
        for (char c : buffer)
            CPPUNIT_ASSERT_EQUAL('Z', c); // nothing written on failure
        required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             _a->config_get(_a, "name", nullptr, 0, &required));
        CPPUNIT_ASSERT_EQUAL(size_t(7), required);
        // Called again with the size it asked for, it succeeds.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->config_get(_a, "name", buffer, required, &required));
        CPPUNIT_ASSERT_EQUAL(std::string("abcdef"), std::string(buffer));
        CPPUNIT_ASSERT_EQUAL('\0', buffer[6]);
        CPPUNIT_ASSERT_EQUAL('Z', buffer[7]);
    }

    void testConfigGetEmptyValue() {
        _config->setString(std::string("plugin.") + kPluginA + ".empty", "");
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             _a->config_get(_a, "empty", nullptr, 0, &required));
        CPPUNIT_ASSERT_EQUAL(size_t(1), required);
        char one = 'Z';
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->config_get(_a, "empty", &one, 1, &required));
        CPPUNIT_ASSERT_EQUAL('\0', one);
    }

    void testConfigGetNullArguments() {
        _config->setString(std::string("plugin.") + kPluginA + ".k", "v");
        char buffer[8];
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             _a->config_get(nullptr, "k", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             _a->config_get(_a, nullptr, buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             _a->config_get(_a, "k", buffer, sizeof buffer, nullptr));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             _a->config_get(_a, "k", nullptr, 8, &required));
    }

    // Known: what the descriptor declares and what the plugin asked for; anything else in its
    // section is refused in one line with the nearest known key. Another plugin's section
    // nested in this one's is not this plugin's.
    void testUnknownConfigKeysAreRefused() {
        const std::string section = std::string("plugin.") + kPluginA;
        CPPUNIT_ASSERT_EQUAL(section, _hostA->configSection());
        static const char *const declared[] = {"level: how hard (default 3)", " tls.cert : a path",
                                               nullptr};
        lanspread_plugin_descriptor descriptor{};
        descriptor.config_keys = declared;
        _config->setString(section + ".level", "9");
        _config->setString(section + ".tls.cert", "/etc/cert.pem");
        _config->setString(section + ".port", "1");
        _config->setString(section + ".nested.key", "another plugin's");
        const std::vector<std::string> others{section + ".nested"};

        // port is neither declared nor asked for yet.
        lanspread::Status refused = _hostA->refuseUnknownConfigKeys(descriptor, others);
        CPPUNIT_ASSERT(!refused);
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key port in [") + section +
                                 "] (known keys: level tls.cert)",
                             refused.message());

        char buffer[8];
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _a->config_get(_a, "port", buffer, sizeof buffer, &required));
        CPPUNIT_ASSERT(_hostA->refuseUnknownConfigKeys(descriptor, others));

        // A typo of a declared key names it; without the declaration only asked keys count.
        _config->setString(section + ".levl", "9");
        refused = _hostA->refuseUnknownConfigKeys(descriptor, others);
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key levl in [") + section +
                                 "] (did you mean level?)",
                             refused.message());
        _config->remove(section + ".levl");
        refused = _hostA->refuseUnknownConfigKeys(lanspread_plugin_descriptor{}, others);
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key level in [") + section +
                                 "] (known keys: port)",
                             refused.message());
        // The nested section counts once it is not left out.
        refused = _hostA->refuseUnknownConfigKeys(descriptor, {});
        CPPUNIT_ASSERT_EQUAL(std::string("unknown key nested.key in [") + section +
                                 "] (known keys: port level tls.cert)",
                             refused.message());
    }

    // Emitted on the reactor thread (where plugin hooks run): the subscriber gets it at once.
    void testEmitEventPublishesTopicAndPayload() {
        std::vector<std::pair<std::string, std::string>> seen;
        _events->subscribe([&seen](const std::string &topic, const std::string &line) {
            seen.emplace_back(topic, line);
        });
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(
                LANSPREAD_OK,
                _a->emit_event(_a, "discovery.peer_found",
                               R"({"addr":"10.0.0.7","port":4000,"txt":{"v":"1"},"ok":true})"));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->emit_event(_a, "worker.done", "{}"));
        });
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), seen.size());
        CPPUNIT_ASSERT_EQUAL(std::string("discovery.peer_found"), seen[0].first);
        Poco::JSON::Object::Ptr line = parseObject(seen[0].second);
        CPPUNIT_ASSERT_EQUAL(std::string("discovery.peer_found"),
                             line->getValue<std::string>("event"));
        CPPUNIT_ASSERT(line->has("ts_ms"));
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.7"), line->getValue<std::string>("addr"));
        CPPUNIT_ASSERT_EQUAL(4000, line->getValue<int>("port"));
        CPPUNIT_ASSERT_EQUAL(true, line->getValue<bool>("ok"));
        CPPUNIT_ASSERT_EQUAL(std::string("1"), line->getObject("txt")->getValue<std::string>("v"));
        // The empty object is a valid payload.
        CPPUNIT_ASSERT_EQUAL(std::string("worker.done"), seen[1].first);
        CPPUNIT_ASSERT_EQUAL(std::string("worker.done"),
                             parseObject(seen[1].second)->getValue<std::string>("event"));
    }

    // host.h makes emit_event [any-thread]; the event bus's subscribers are the control
    // service's on_event callbacks, which control.h promises run on the reactor thread
    // (frontends write their output from them). So an event a plugin emits from its own
    // thread must still reach subscribers on the reactor thread, in emission order.
    void testEmitEventFromWorkerThreadReachesSubscribersOnReactorThread() {
        const std::thread::id loopId = _loop->loopThreadId();
        std::mutex mutex;
        std::vector<std::string> topics;
        std::vector<std::thread::id> threads;
        _events->subscribe([&](const std::string &topic, const std::string &) {
            std::lock_guard<std::mutex> lock(mutex);
            topics.push_back(topic);
            threads.push_back(std::this_thread::get_id());
        });
        std::vector<lanspread_status> statuses;
        std::thread worker([&] {
            for (int i = 0; i < 3; ++i)
                statuses.push_back(
                    _a->emit_event(_a, ("worker.step" + std::to_string(i)).c_str(), "{}"));
        });
        worker.join();
        for (lanspread_status status : statuses)
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, status);
        CPPUNIT_ASSERT(waitUntil([&] {
            std::lock_guard<std::mutex> lock(mutex);
            return topics.size() >= 3;
        }));
        _loop->flush();
        std::lock_guard<std::mutex> lock(mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), topics.size());
        for (int i = 0; i < 3; ++i) {
            CPPUNIT_ASSERT_EQUAL("worker.step" + std::to_string(i),
                                 topics[static_cast<std::size_t>(i)]);
            CPPUNIT_ASSERT_MESSAGE("subscriber called on the emitting thread, not the reactor",
                                   threads[static_cast<std::size_t>(i)] == loopId);
        }
    }

    void testEmitEventRejectsNonObjectPayload() {
        std::atomic<int> published{0};
        _events->subscribe([&published](const std::string &, const std::string &) { ++published; });
        for (const char *payload :
             {"[1,2,3]", "42", "\"text\"", "null", "true", "not json", "", "{", "{\"a\":}"})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(payload, LANSPREAD_E_INVALID_ARGUMENT,
                                         _a->emit_event(_a, "topic", payload));
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, published.load());
    }

    void testEmitEventNullArguments() {
        std::atomic<int> published{0};
        _events->subscribe([&published](const std::string &, const std::string &) { ++published; });
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->emit_event(nullptr, "t", "{}"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->emit_event(_a, nullptr, "{}"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->emit_event(_a, "", "{}"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->emit_event(_a, "t", nullptr));
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, published.load());
    }

    void testWatchDeliversReadinessOnReactorThread() {
        Pipe pipe;
        FdRecord record;
        uint64_t watchId = 0;
        const std::thread::id loopId = _loop->loopThreadId();
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->watch_fd(_a, pipe.readFd(), LANSPREAD_FD_READ,
                                                            &onFd, &record, &watchId));
            CPPUNIT_ASSERT(watchId != 0);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveWatches());
        });
        pipe.put('q');
        CPPUNIT_ASSERT(waitUntil([&] { return record.callCount() >= 1; }));
        {
            std::lock_guard<std::mutex> lock(record.mutex);
            CPPUNIT_ASSERT_EQUAL(pipe.readFd(), record.fd);
            CPPUNIT_ASSERT(record.revents & LANSPREAD_FD_READ);
            CPPUNIT_ASSERT(record.thread == loopId);
            CPPUNIT_ASSERT_EQUAL(std::string("q"), record.bytes);
        }

        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->unwatch_fd(_a, watchId));
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveWatches());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->unwatch_fd(_a, watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                                 _a->modify_fd(_a, watchId, LANSPREAD_FD_READ));
        });
        const int before = record.callCount();
        pipe.put('r');
        std::this_thread::sleep_for(50ms);
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(before, record.callCount());
    }

    void testModifyFdChangesWatchedBits() {
        Pipe pipe; // the write end is writable at once, but nothing is ever readable on it
        FdRecord record;
        record.drain = false;
        uint64_t watchId = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->watch_fd(_a, pipe.writeFd(), LANSPREAD_FD_READ,
                                                            &onFd, &record, &watchId));
        });
        std::this_thread::sleep_for(50ms);
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, record.callCount());
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->modify_fd(_a, watchId, LANSPREAD_FD_WRITE));
        });
        CPPUNIT_ASSERT(waitUntil([&] { return record.callCount() >= 1; }));
        _loop->call([&] { CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->unwatch_fd(_a, watchId)); });
        std::lock_guard<std::mutex> lock(record.mutex);
        CPPUNIT_ASSERT(record.revents & LANSPREAD_FD_WRITE);
        CPPUNIT_ASSERT_EQUAL(pipe.writeFd(), record.fd);
    }

    void testWatchErrors() {
        FdRecord record;
        char name[] = "/tmp/plugin_host_test_regular_XXXXXX";
        const int regular = ::mkstemp(name);
        CPPUNIT_ASSERT(regular >= 0);
        ::unlink(name);
        Pipe pipe;
        _loop->call([&] {
            uint64_t id = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO,
                                 _a->watch_fd(_a, regular, LANSPREAD_FD_READ, &onFd, &record, &id));
            CPPUNIT_ASSERT_EQUAL(
                LANSPREAD_E_INVALID_ARGUMENT,
                _a->watch_fd(_a, pipe.readFd(), LANSPREAD_FD_READ, nullptr, &record, &id));
            CPPUNIT_ASSERT_EQUAL(
                LANSPREAD_E_INVALID_ARGUMENT,
                _a->watch_fd(_a, pipe.readFd(), LANSPREAD_FD_READ, &onFd, &record, nullptr));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                                 _a->watch_fd(_a, -1, LANSPREAD_FD_READ, &onFd, &record, &id));
            CPPUNIT_ASSERT_EQUAL(
                LANSPREAD_E_INVALID_ARGUMENT,
                _a->watch_fd(nullptr, pipe.readFd(), LANSPREAD_FD_READ, &onFd, &record, &id));
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveWatches());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->unwatch_fd(_a, 987654));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                                 _a->modify_fd(_a, 987654, LANSPREAD_FD_READ));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->stop_timer(_a, 987654));
            uint64_t timerId = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                                 _a->start_timer(_a, kMs, nullptr, nullptr, &timerId));
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveTimers());
        });
        ::close(regular);
    }

    // Ids are per kernel, not per plugin: a plugin must not reach another plugin's watch or
    // timer by guessing its id.
    void testOtherPluginsWatchAndTimerAreNotFound() {
        Pipe pipe;
        FdRecord record;
        TimerRecord timers;
        timers.host = _a;
        uint64_t watchId = 0;
        uint64_t timerId = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->watch_fd(_a, pipe.readFd(), LANSPREAD_FD_READ,
                                                            &onFd, &record, &watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 60000 * kMs, &onTimer, &timers, &timerId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                                 _b->modify_fd(_b, watchId, LANSPREAD_FD_WRITE));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _b->unwatch_fd(_b, watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _b->stop_timer(_b, timerId));
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveWatches());
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveTimers());
        });
        // A's watch still works, with its original READ bits.
        pipe.put();
        CPPUNIT_ASSERT(waitUntil([&] { return record.callCount() >= 1; }));
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->unwatch_fd(_a, watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->stop_timer(_a, timerId));
        });
    }

    void testTimerFiresOnceWithItsId() {
        TimerRecord record;
        record.host = _a;
        record.owner = _hostA.get();
        uint64_t timerId = 0;
        const auto started = std::chrono::steady_clock::now();
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 20 * kMs, &onTimer, &record, &timerId));
            CPPUNIT_ASSERT(timerId != 0);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveTimers());
        });
        CPPUNIT_ASSERT(waitUntil([&] { return record.count() >= 1; }));
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - started >= 20ms);
        std::this_thread::sleep_for(60ms);
        _loop->flush();
        std::lock_guard<std::mutex> lock(record.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), record.ids.size());
        CPPUNIT_ASSERT_EQUAL(timerId, record.ids[0]);
        // host.h: the id is already dead when the callback runs, for the host too.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, record.stopInsideCallback[0]);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), record.liveInsideCallback[0]);
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveTimers());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->stop_timer(_a, timerId));
        });
    }

    void testStoppedTimerNeverFires() {
        TimerRecord record;
        record.host = _a;
        uint64_t soon = 0;
        uint64_t stopped = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 30 * kMs, &onTimer, &record, &stopped));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 40 * kMs, &onTimer, &record, &soon));
            CPPUNIT_ASSERT(soon != stopped);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->stop_timer(_a, stopped));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _a->stop_timer(_a, stopped));
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveTimers());
        });
        CPPUNIT_ASSERT(waitUntil([&] { return record.count() >= 1; }));
        std::this_thread::sleep_for(30ms);
        _loop->flush();
        std::lock_guard<std::mutex> lock(record.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), record.ids.size());
        CPPUNIT_ASSERT_EQUAL(soon, record.ids[0]);
    }

    void testPostFromAnotherThreadRunsOnReactorInOrder() {
        const std::thread::id loopId = _loop->loopThreadId();
        TaskRecord record;
        constexpr int kTasks = 200;
        std::vector<TaskArg> args;
        for (int i = 0; i < kTasks; ++i)
            args.push_back({&record, i});
        std::vector<lanspread_status> statuses;
        std::thread poster([&] {
            for (auto &arg : args)
                statuses.push_back(_a->post(_a, &onTask, &arg));
        });
        poster.join();
        for (lanspread_status status : statuses)
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, status);
        CPPUNIT_ASSERT(waitUntil([&] { return record.count() == kTasks; }));
        std::lock_guard<std::mutex> lock(record.mutex);
        for (int i = 0; i < kTasks; ++i) {
            CPPUNIT_ASSERT_EQUAL(i, record.order[static_cast<std::size_t>(i)]);
            CPPUNIT_ASSERT(record.threads[static_cast<std::size_t>(i)] == loopId);
        }
    }

    void testPostAfterReactorStopFails() {
        std::atomic<int> ran{0};
        _loop->stop();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, _a->post(_a, &countTask, &ran));
        CPPUNIT_ASSERT_EQUAL(0, ran.load());
    }

    void testPostNullCallback() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->post(_a, nullptr, nullptr));
        std::atomic<int> ran{0};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _a->post(nullptr, &countTask, &ran));
    }

    // The reactor is held busy while another thread queues the plugin's posts; the plugin is
    // retired before the queue drains, so none of them may run.
    void testRetireDropsQueuedPostsAndRefusesNewOnes() {
        std::atomic<int> ranA{0};
        std::atomic<int> ranB{0};
        std::promise<void> gate;
        std::shared_future<void> opened = gate.get_future().share();
        std::atomic<bool> retired{false};
        CPPUNIT_ASSERT(_loop->reactor.post([&, opened] {
            opened.wait();
            _hostA->retire();
            retired = true;
        }));
        std::vector<lanspread_status> statuses;
        std::thread poster([&] {
            for (int i = 0; i < 5; ++i) {
                statuses.push_back(_a->post(_a, &countTask, &ranA));
                statuses.push_back(_b->post(_b, &countTask, &ranB));
            }
        });
        poster.join();
        gate.set_value();
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), statuses.size());
        for (lanspread_status status : statuses)
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, status);
        CPPUNIT_ASSERT(waitUntil([&] { return retired.load(); }));
        _loop->flush();
        CPPUNIT_ASSERT(waitUntil([&] { return ranB.load() == 5; }));
        CPPUNIT_ASSERT_EQUAL(0, ranA.load());
        // After retire: post refuses, from any thread.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, _a->post(_a, &countTask, &ranA));
        lanspread_status fromThread = LANSPREAD_OK;
        std::thread late([&] { fromThread = _a->post(_a, &countTask, &ranA); });
        late.join();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, fromThread);
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, ranA.load());
        // The other plugin is unaffected.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _b->post(_b, &countTask, &ranB));
        CPPUNIT_ASSERT(waitUntil([&] { return ranB.load() == 6; }));
    }

    // A plugin's shutdown() posting to itself (on the reactor thread) right before retire.
    void testRetireDropsPostsQueuedFromReactorThread() {
        std::atomic<int> ran{0};
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->post(_a, &countTask, &ran));
            _hostA->retire();
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, _a->post(_a, &countTask, &ran));
        });
        _loop->flush();
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, ran.load());
    }

    void testRetireRemovesLeftoverWatchesAndTimers() {
        Pipe pipe;
        FdRecord record;
        TimerRecord timers;
        timers.host = _a;
        uint64_t watchId = 0;
        uint64_t timerShort = 0;
        uint64_t timerLong = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _a->watch_fd(_a, pipe.readFd(), LANSPREAD_FD_READ,
                                                            &onFd, &record, &watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 0, &onTimer, &timers, &timerShort));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 _a->start_timer(_a, 30 * kMs, &onTimer, &timers, &timerLong));
            pipe.put(); // readable before retire, in the same loop turn
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hostA->liveWatches());
            CPPUNIT_ASSERT_EQUAL(std::size_t(2), _hostA->liveTimers());
            _hostA->retire();
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveWatches());
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), _hostA->liveTimers());
            // Gone from the reactor itself, not only from the host's books.
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _loop->reactor.unwatchFd(watchId));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _loop->reactor.stopTimer(timerShort));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, _loop->reactor.stopTimer(timerLong));
        });
        pipe.put();
        std::this_thread::sleep_for(80ms);
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(0, record.callCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), timers.count());
    }

    void testIsCancelledReadsCancelRegistry() {
        const lanspread_cancel_handle token = _cancels->create();
        const lanspread_cancel_handle other = _cancels->create();
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, token));
        _cancels->cancel(token);
        CPPUNIT_ASSERT_EQUAL(int32_t(1), _a->is_cancelled(_a, token));
        CPPUNIT_ASSERT_EQUAL(int32_t(1), _b->is_cancelled(_b, token)); // tokens are kernel-wide
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, other));
        // [any-thread]
        int32_t fromThread = -1;
        std::thread reader([&] { fromThread = _a->is_cancelled(_a, token); });
        reader.join();
        CPPUNIT_ASSERT_EQUAL(int32_t(1), fromThread);
        _cancels->release(token);
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, token));
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, LANSPREAD_CANCEL_NONE));
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, 424242));
        _cancels->cancelAll();
        CPPUNIT_ASSERT_EQUAL(int32_t(1), _a->is_cancelled(_a, other));
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(_a, LANSPREAD_CANCEL_NONE));
        CPPUNIT_ASSERT_EQUAL(int32_t(0), _a->is_cancelled(nullptr, other));
    }

    void testGetServiceReturnsLookupResult() {
        static const int serviceTable = 7;
        _services["lanspread.test/1"] = &serviceTable;
        CPPUNIT_ASSERT(_a->get_service(_a, "lanspread.test/1") == &serviceTable);
        CPPUNIT_ASSERT(_a->get_service(_a, "lanspread.unknown/1") == nullptr);
        CPPUNIT_ASSERT(_a->get_service(_a, nullptr) == nullptr);
        CPPUNIT_ASSERT(_a->get_service(nullptr, "lanspread.test/1") == nullptr);
        // The lookup saw exactly the ids asked for (NULL ones never reach it).
        const std::vector<std::string> expected = {"lanspread.test/1", "lanspread.unknown/1"};
        CPPUNIT_ASSERT(expected == _lookups);
    }

    void testGetServiceWithoutLookup() {
        PluginHost bare("org.test.bare", _loop->reactor, *_events, *_cancels, *_config,
                        PluginHost::ServiceLookup{});
        CPPUNIT_ASSERT(bare.api()->get_service(bare.api(), "lanspread.control/1") == nullptr);
    }

    void testLogClampsLevelsAndPrefixesPluginId() {
        lanspread::kernel::log::setThreshold(lanspread::kernel::log::Level::Debug);
        std::string text;
        {
            StderrCapture capture;
            _a->log(_a, 99, "way too high");
            _a->log(_a, -5, "way too low");
            _a->log(_a, INT32_MIN, "minimum");
            _a->log(_a, LANSPREAD_LOG_WARNING, "a warning");
            _a->log(_a, LANSPREAD_LOG_INFO, nullptr);
            _a->log(nullptr, LANSPREAD_LOG_ERROR, "no host");
            text = capture.text();
        }
        lanspread::kernel::log::setThreshold(lanspread::kernel::log::Level::Info);
        CPPUNIT_ASSERT_MESSAGE(text, lineHas(text, "org.test.alpha: way too high", " error "));
        CPPUNIT_ASSERT_MESSAGE(text, lineHas(text, "org.test.alpha: way too low", " debug "));
        CPPUNIT_ASSERT_MESSAGE(text, lineHas(text, "org.test.alpha: minimum", " debug "));
        CPPUNIT_ASSERT_MESSAGE(text, lineHas(text, "org.test.alpha: a warning", " warning "));
        CPPUNIT_ASSERT_MESSAGE(text, text.find("no host") == std::string::npos);
    }

    void testNowIsMonotonic() {
        const uint64_t first = _a->now_ns(_a);
        std::this_thread::sleep_for(2ms);
        const uint64_t second = _a->now_ns(_a);
        CPPUNIT_ASSERT(first > 0);
        CPPUNIT_ASSERT(second >= first + 2 * kMs);
        const uint64_t reactorNow = Reactor::nowNs();
        CPPUNIT_ASSERT(reactorNow >= second && reactorNow - second < 1000 * kMs);
    }

  private:
    std::unique_ptr<PluginHost> makeHost(const std::string &id) {
        return std::make_unique<PluginHost>(id, _loop->reactor, *_events, *_cancels, *_config,
                                            [this](const std::string &serviceId) -> const void * {
                                                _lookups.push_back(serviceId);
                                                auto it = _services.find(serviceId);
                                                return it == _services.end() ? nullptr : it->second;
                                            });
    }

    // Whether some line of text contains both parts.
    static bool lineHas(const std::string &text, const std::string &part,
                        const std::string &other) {
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line))
            if (line.find(part) != std::string::npos && line.find(other) != std::string::npos)
                return true;
        return false;
    }

    Poco::AutoPtr<Poco::Util::MapConfiguration> _config;
    std::unique_ptr<EventBus> _events;
    std::unique_ptr<CancelRegistry> _cancels;
    std::unique_ptr<LoopThread> _loop;
    std::map<std::string, const void *> _services;
    std::vector<std::string> _lookups;
    std::unique_ptr<PluginHost> _hostA;
    std::unique_ptr<PluginHost> _hostB;
    const lanspread_host_api *_a = nullptr;
    const lanspread_host_api *_b = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(PluginHostTest);
