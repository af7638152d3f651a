// frontend-cli driven through the SDK's FakeHost: input and output are pipes, and the
// kernel's control service is a recording double, so the test sees exactly which lines the
// CLI submits and what it writes back.
#include <lanspread/kinds/frontend.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

// Records submissions; the test answers them on its own thread (the "reactor").
struct RecordingControl {
    struct Pending {
        std::string line;
        lanspread_control_line_callback onResult;
        void *userData;
    };
    std::mutex mutex;
    std::vector<Pending> submitted;
    lanspread_control_line_callback onEvent = nullptr;
    void *eventUserData = nullptr;
    int subscriptions = 0;
    lanspread_control_v1 table{};

    RecordingControl() {
        table.struct_size = sizeof table;
        table.control_data = this;
        table.submit = [](const lanspread_control_v1 *c, const char *line,
                          lanspread_control_line_callback cb, void *ud) -> lanspread_status {
            auto *self = static_cast<RecordingControl *>(c->control_data);
            std::lock_guard<std::mutex> lock(self->mutex);
            self->submitted.push_back({line, cb, ud});
            return LANSPREAD_OK;
        };
        table.subscribe = [](const lanspread_control_v1 *c, lanspread_control_line_callback cb,
                             void *ud, uint64_t *out) -> lanspread_status {
            auto *self = static_cast<RecordingControl *>(c->control_data);
            self->onEvent = cb;
            self->eventUserData = ud;
            ++self->subscriptions;
            *out = 7;
            return LANSPREAD_OK;
        };
        table.unsubscribe = [](const lanspread_control_v1 *c, uint64_t id) -> lanspread_status {
            auto *self = static_cast<RecordingControl *>(c->control_data);
            if (id != 7)
                return LANSPREAD_E_NOT_FOUND;
            --self->subscriptions;
            self->onEvent = nullptr;
            return LANSPREAD_OK;
        };
    }
    std::size_t count() {
        std::lock_guard<std::mutex> lock(mutex);
        return submitted.size();
    }
    bool waitFor(std::size_t n) {
        for (int i = 0; i < 500 && count() < n; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return count() >= n;
    }
};

std::string readAvailable(int fd) {
    std::string out;
    char buffer[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0)
            break;
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0)
            break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

} // namespace

class CliFrontendTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CliFrontendTest);
    CPPUNIT_TEST(startsWithCliStartedAndSubmitsLinesUnchanged);
    CPPUNIT_TEST(writesResultsAndEvents);
    CPPUNIT_TEST(keepsRunningAfterInputCloses);
    CPPUNIT_TEST(startFailsCleanlyWithoutControlService);
    CPPUNIT_TEST(badFdConfigFailsInit);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(_in));
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(_out));
        _host.setConfig("input_fd", std::to_string(_in[0]));
        _host.setConfig("output_fd", std::to_string(_out[1]));
        _host.addService(LANSPREAD_CONTROL_SERVICE_ID, &_control.table);
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _frontend = static_cast<const lanspread_frontend_v1 *>(
            _entry->get_interface(_state, LANSPREAD_FRONTEND_INTERFACE_ID));
        CPPUNIT_ASSERT(_frontend != nullptr);
    }
    void tearDown() override {
        if (_session)
            _frontend->stop(_session);
        _entry->shutdown(_state);
        for (int fd : {_in[0], _in[1], _out[0], _out[1]})
            if (fd >= 0)
                ::close(fd);
    }

    void startsWithCliStartedAndSubmitsLinesUnchanged() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        std::string first = readAvailable(_out[0]);
        CPPUNIT_ASSERT_MESSAGE(first, first.rfind("{\"event\":\"cli-started\",\"ts_ms\":", 0) == 0);
        CPPUNIT_ASSERT(first.find("\"pid\":" + std::to_string(::getpid()) + "}") != std::string::npos);

        writeInput("{\"id\":\"1\",\"cmd\":\"status\"}\n\n   \nnot json\r\n{\"id\":\"2\",");
        writeInput("\"cmd\":\"shutdown\"}\n");
        CPPUNIT_ASSERT(_control.waitFor(3));
        std::lock_guard<std::mutex> lock(_control.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), _control.submitted.size()); // blank lines skipped
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"1\",\"cmd\":\"status\"}"), _control.submitted[0].line);
        CPPUNIT_ASSERT_EQUAL(std::string("not json"), _control.submitted[1].line);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"2\",\"cmd\":\"shutdown\"}"), _control.submitted[2].line);
    }

    void writesResultsAndEvents() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        readAvailable(_out[0]); // cli-started
        writeInput("{\"id\":\"9\",\"cmd\":\"status\"}\n");
        CPPUNIT_ASSERT(_control.waitFor(1));
        auto pending = _control.submitted[0];
        pending.onResult(pending.userData, "{\"event\":\"result\",\"id\":\"9\",\"ok\":true}");
        CPPUNIT_ASSERT(_control.onEvent != nullptr);
        _control.onEvent(_control.eventUserData, "{\"event\":\"peer-lost\",\"ts_ms\":1}");
        CPPUNIT_ASSERT_EQUAL(std::string("{\"event\":\"result\",\"id\":\"9\",\"ok\":true}\n"
                                         "{\"event\":\"peer-lost\",\"ts_ms\":1}\n"),
                             readAvailable(_out[0]));
        _frontend->stop(_session);
        _session = nullptr;
        CPPUNIT_ASSERT_EQUAL(0, _control.subscriptions); // stop ends the subscription
    }

    void keepsRunningAfterInputCloses() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        writeInput("{\"cmd\":\"status\"}"); // no trailing newline: submitted at EOF
        ::close(_in[1]);
        _in[1] = -1;
        CPPUNIT_ASSERT(_control.waitFor(1));
        for (int i = 0; i < 100 && !_host.logged("standard input closed"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        CPPUNIT_ASSERT(_host.logged("standard input closed"));
        // A result that arrives after stop() is dropped, not written into a dead session.
        auto pending = _control.submitted[0];
        _frontend->stop(_session);
        _session = nullptr;
        pending.onResult(pending.userData, "{\"event\":\"result\"}");
        CPPUNIT_ASSERT(readAvailable(_out[0]).find("\"result\"") == std::string::npos);
    }

    void startFailsCleanlyWithoutControlService() {
        lanspread::testing::FakeHost bare;
        void *state = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(bare.api(), &state));
        auto *frontend = static_cast<const lanspread_frontend_v1 *>(
            _entry->get_interface(state, LANSPREAD_FRONTEND_INTERFACE_ID));
        lanspread_frontend_session *session = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, frontend->start(state, &session));
        CPPUNIT_ASSERT(session == nullptr);
        CPPUNIT_ASSERT(bare.logged("lanspread.control/1", LANSPREAD_LOG_ERROR));
        _entry->shutdown(state);
    }

    void badFdConfigFailsInit() {
        lanspread::testing::FakeHost host;
        host.setConfig("input_fd", "stdin");
        void *state = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _entry->init(host.api(), &state));
        CPPUNIT_ASSERT(host.logged("input_fd must be a file descriptor number, got 'stdin'"));
    }

  private:
    void writeInput(const std::string &text) {
        CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(text.size()), ::write(_in[1], text.data(), text.size()));
    }

    int _in[2] = {-1, -1};
    int _out[2] = {-1, -1};
    lanspread::testing::FakeHost _host{"org.lanspread.frontend.cli"};
    RecordingControl _control;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_frontend_v1 *_frontend = nullptr;
    lanspread_frontend_session *_session = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(CliFrontendTest);
