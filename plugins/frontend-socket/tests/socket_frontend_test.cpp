// frontend-socket driven through the SDK's FakeHost (its manual reactor polls the plugin's
// descriptors) with a recording control-service double, and real Unix-socket clients: several
// clients at once, results and events in order, a client leaving mid-command, a client that
// does not read cut off at the buffer limit while another keeps up, a stale socket replaced, a
// live one refused, mode 0660 and the group, the path from the state dir or RUNTIME_DIRECTORY,
// and the file removed at stop. A real lanspreadd behind the socket is
// tests/integration/socket_client_test.cpp.
#include <lanspread/kinds/frontend.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

namespace fs = std::filesystem;

// Records submissions; the test answers them on its own thread (the "reactor").
struct RecordingControl {
    struct Pending {
        std::string line;
        lanspread_control_line_callback onResult;
        void *userData;
        bool answered = false;
    };
    std::vector<Pending> submitted;
    lanspread_control_line_callback onEvent = nullptr;
    void *eventUserData = nullptr;
    lanspread_control_v1 table{};

    RecordingControl() {
        table.struct_size = sizeof table;
        table.control_data = this;
        table.submit = [](const lanspread_control_v1 *c, const char *line,
                          lanspread_control_line_callback cb, void *ud) -> lanspread_status {
            static_cast<RecordingControl *>(c->control_data)->submitted.push_back({line, cb, ud});
            return LANSPREAD_OK;
        };
        table.subscribe = [](const lanspread_control_v1 *c, lanspread_control_line_callback cb,
                             void *ud, uint64_t *out) -> lanspread_status {
            auto *self = static_cast<RecordingControl *>(c->control_data);
            self->onEvent = cb;
            self->eventUserData = ud;
            *out = 1;
            return LANSPREAD_OK;
        };
        table.unsubscribe = [](const lanspread_control_v1 *c, uint64_t) -> lanspread_status {
            static_cast<RecordingControl *>(c->control_data)->onEvent = nullptr;
            return LANSPREAD_OK;
        };
    }
    void answer(std::size_t index, const std::string &result) {
        Pending &p = submitted.at(index);
        CPPUNIT_ASSERT(!p.answered);
        p.answered = true;
        p.onResult(p.userData, result.c_str());
    }
    void answerUnanswered() {
        for (std::size_t i = 0; i < submitted.size(); ++i)
            if (!submitted[i].answered)
                answer(i, R"({"event":"result","id":null,"ok":false})");
    }
    void emit(const std::string &line) {
        CPPUNIT_ASSERT(onEvent != nullptr);
        onEvent(eventUserData, line.c_str());
    }
};

sockaddr_un addressOf(const std::string &path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    return a;
}

// A client of the control socket: blocking connect, then non-blocking reads.
struct Client {
    int fd = -1;
    std::string received;
    bool eof = false;

    explicit Client(const std::string &path) {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a = addressOf(path);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(std::strerror(errno), 0,
                                     ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a));
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    ~Client() { close(); }
    void close() {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
    // Sends all of bytes; while the socket is full, pump (the plugin's reactor) runs.
    void send(const std::string &bytes, const std::function<void()> &pump = {}) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) {
                CPPUNIT_ASSERT_MESSAGE("the socket is full and nothing reads it", pump);
                pump();
                continue;
            }
            CPPUNIT_ASSERT_MESSAGE(std::strerror(errno), n > 0);
            done += static_cast<std::size_t>(n);
        }
    }
    // Reads what is there now.
    void read() {
        char buffer[65536];
        for (;;) {
            ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                received.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                eof = true;
            return;
        }
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::size_t start = 0;
        for (std::size_t nl; (nl = received.find('\n', start)) != std::string::npos; start = nl + 1)
            out.push_back(received.substr(start, nl - start));
        return out;
    }
};

std::string result(const std::string &id) {
    return R"({"event":"result","ts_ms":1,"id":")" + id + R"(","ok":true,"data":{}})";
}

} // namespace

class SocketFrontendTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SocketFrontendTest);
    CPPUNIT_TEST(severalClientsEachGetTheirResultsAndEveryEventInOrder);
    CPPUNIT_TEST(aClientThatLeavesMidCommandChangesNothing);
    CPPUNIT_TEST(aClientThatDoesNotReadIsCutOffWithoutHoldingOthers);
    CPPUNIT_TEST(closingTheInputAnswersWhatWasAskedThenCloses);
    CPPUNIT_TEST(overlongLinesAreSubmittedCutJustPastTheLimit);
    CPPUNIT_TEST(staleSocketIsReplaced);
    CPPUNIT_TEST(liveSocketFailsStart);
    CPPUNIT_TEST(aPathThatIsNotASocketFailsStart);
    CPPUNIT_TEST(modeIs0660AndTheGroupIsSet);
    CPPUNIT_TEST(aMissingGroupLeavesTheFileToItsOwner);
    CPPUNIT_TEST(defaultPathIsInTheStateDir);
    CPPUNIT_TEST(runtimeDirectoryWinsOverTheStateDir);
    CPPUNIT_TEST(emptyPathFailsInit);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        char pattern[] = "/tmp/lanspread-socket-XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(pattern) != nullptr);
        _dir = pattern;
        _path = _dir + "/control.sock";
        ::unsetenv("RUNTIME_DIRECTORY");
        _host.addService(LANSPREAD_CONTROL_SERVICE_ID, &_control.table);
    }
    void tearDown() override {
        stop();
        if (_state)
            _entry->shutdown(_state);
        ::unsetenv("RUNTIME_DIRECTORY");
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }

    void severalClientsEachGetTheirResultsAndEveryEventInOrder() {
        start();
        Client a(_path), b(_path), c(_path);
        a.send("{\"id\":\"a1\",\"cmd\":\"status\"}\n");
        b.send("{\"id\":\"b1\",\"cmd\":\"list-games\"}\r\n   \n");
        c.send("not json\n{\"id\":\"c2\",");
        pump();
        c.send("\"cmd\":\"list-peers\"}\n");
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(4),
                             _control.submitted.size()); // the blank line is no command
        // Lines go to the service unchanged (CR of a CRLF line dropped, split reads joined).
        std::vector<std::string> sent;
        for (const auto &p : _control.submitted)
            sent.push_back(p.line);
        CPPUNIT_ASSERT(contains(sent, "{\"id\":\"b1\",\"cmd\":\"list-games\"}"));
        CPPUNIT_ASSERT(contains(sent, "not json"));
        CPPUNIT_ASSERT(contains(sent, "{\"id\":\"c2\",\"cmd\":\"list-peers\"}"));

        _control.emit(R"({"event":"peer-lost","ts_ms":2})");
        for (std::size_t i = 0; i < _control.submitted.size(); ++i)
            _control.answer(i, result("r" + std::to_string(i)));
        _control.emit(R"({"event":"download-progress","ts_ms":3})");
        pump();
        for (Client *client : {&a, &b, &c})
            client->read();
        // Every client sees both events, and its own results between them, in that order.
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), a.lines().size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), b.lines().size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), c.lines().size());
        for (Client *client : {&a, &b, &c}) {
            auto lines = client->lines();
            CPPUNIT_ASSERT(lines.front().find("peer-lost") != std::string::npos);
            CPPUNIT_ASSERT(lines.back().find("download-progress") != std::string::npos);
            for (std::size_t i = 1; i + 1 < lines.size(); ++i)
                CPPUNIT_ASSERT(lines[i].find("\"event\":\"result\"") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), server().clients);
    }

    void aClientThatLeavesMidCommandChangesNothing() {
        start();
        Client stays(_path);
        {
            Client leaves(_path);
            leaves.send("{\"id\":\"d\",\"cmd\":\"download\",\"game\":\"ggoo\"}\n");
            pump();
        } // closed before its answer
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _control.submitted.size()); // the command runs on
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), server().clients);
        _control.answer(0, result("d")); // dropped: nobody to write it to
        _control.emit(R"({"event":"download-progress","ts_ms":4,"game":"ggoo"})");
        stays.send("{\"id\":\"s\",\"cmd\":\"status\"}\n");
        pump();
        _control.answer(1, result("s"));
        pump();
        stays.read();
        auto lines = stays.lines();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), lines.size());
        CPPUNIT_ASSERT(lines[0].find("download-progress") != std::string::npos);
        CPPUNIT_ASSERT(lines[1].find("\"id\":\"s\"") != std::string::npos);
    }

    void aClientThatDoesNotReadIsCutOffWithoutHoldingOthers() {
        _host.setConfig("max_output_bytes", std::to_string(256 * 1024));
        start();
        Client sleeper(_path), reader(_path);
        pump();
        // 8 MiB of events: far more than the socket buffers and the 256 KiB limit hold.
        const std::string event =
            R"({"event":"download-progress","ts_ms":5,"game":"ggoo","pad":")" +
            std::string(1000, 'x') + "\"}";
        const auto began = std::chrono::steady_clock::now();
        for (int i = 0; i < 8192; ++i) {
            _control.emit(event);
            if (i % 32 == 0) {
                pump();
                reader.read();
            }
        }
        pump();
        reader.read();
        const auto took = std::chrono::steady_clock::now() - began;
        CPPUNIT_ASSERT(took < std::chrono::seconds(20)); // nothing ever waited on the sleeper
        CPPUNIT_ASSERT_EQUAL(std::size_t(8192), reader.lines().size());
        CPPUNIT_ASSERT(_host.logged("does not read what the peer sends", LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT(_host.logged("the limit is 256 KiB (max_output_bytes); disconnected"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), server().clients);
        // The sleeper gets what was already in its socket, then the end.
        for (int i = 0; i < 100 && !sleeper.eof; ++i) {
            sleeper.read();
            pump();
        }
        CPPUNIT_ASSERT(sleeper.eof);
        CPPUNIT_ASSERT(sleeper.lines().size() < 8192);
    }

    void closingTheInputAnswersWhatWasAskedThenCloses() {
        start();
        Client client(_path);
        client.send("{\"id\":\"1\",\"cmd\":\"status\"}\n{\"id\":\"2\",\"cmd\":\"list-games\"}");
        ::shutdown(client.fd, SHUT_WR); // the last line has no newline: still a command
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _control.submitted.size());
        _control.answer(0, result("1"));
        pump();
        client.read();
        CPPUNIT_ASSERT(!client.eof); // one answer still to come
        _control.emit(R"({"event":"peer-lost","ts_ms":6})");
        _control.answer(1, result("2"));
        pump();
        client.read();
        CPPUNIT_ASSERT(client.eof);
        auto lines = client.lines();
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), lines.size());
        CPPUNIT_ASSERT(lines[2].find("\"id\":\"2\"") != std::string::npos);
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), server().clients);
    }

    void overlongLinesAreSubmittedCutJustPastTheLimit() {
        start();
        Client client(_path);
        const std::size_t limit = LANSPREAD_CONTROL_MAX_LINE_BYTES;
        client.send(std::string(limit + 100000, 'a') + "\n{\"id\":\"n\",\"cmd\":\"status\"}\n",
                    [this] { pump(); });
        for (int i = 0; i < 200 && _control.submitted.size() < 2; ++i)
            pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _control.submitted.size());
        CPPUNIT_ASSERT_EQUAL(limit + 2, _control.submitted[0].line.size());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"n\",\"cmd\":\"status\"}"),
                             _control.submitted[1].line);
    }

    void staleSocketIsReplaced() {
        // A socket file nobody listens on: what a killed daemon leaves behind.
        int old = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a = addressOf(_path);
        CPPUNIT_ASSERT_EQUAL(0, ::bind(old, reinterpret_cast<sockaddr *>(&a), sizeof a));
        ::close(old);
        CPPUNIT_ASSERT(fs::is_socket(_path));
        start();
        CPPUNIT_ASSERT(_host.logged("replaced a stale socket file", LANSPREAD_LOG_INFO));
        Client client(_path);
        client.send("{\"id\":\"1\",\"cmd\":\"status\"}\n");
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _control.submitted.size());
    }

    void liveSocketFailsStart() {
        int other = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a = addressOf(_path);
        CPPUNIT_ASSERT_EQUAL(0, ::bind(other, reinterpret_cast<sockaddr *>(&a), sizeof a));
        CPPUNIT_ASSERT_EQUAL(0, ::listen(other, 4));
        _host.setConfig("path", _path); // read at init
        init();
        CPPUNIT_ASSERT(_frontend->start(_state, &_session) != LANSPREAD_OK);
        _session = nullptr;
        CPPUNIT_ASSERT(_host.logged("another lanspread peer already answers on " + _path,
                                    LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT(fs::is_socket(_path)); // the other peer's socket is left alone
        int probe = ::socket(AF_UNIX, SOCK_STREAM, 0);
        CPPUNIT_ASSERT_EQUAL(0, ::connect(probe, reinterpret_cast<sockaddr *>(&a), sizeof a));
        ::close(probe);
        ::close(other);
    }

    void aPathThatIsNotASocketFailsStart() {
        { std::ofstream(_path) << "keep me"; }
        _host.setConfig("path", _path); // read at init
        init();
        CPPUNIT_ASSERT(_frontend->start(_state, &_session) != LANSPREAD_OK);
        _session = nullptr;
        CPPUNIT_ASSERT(_host.logged(_path + " exists and is not a socket", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT(fs::is_regular_file(_path));
    }

    void modeIs0660AndTheGroupIsSet() {
        // A group other than ours that exists here, so the chown is visible (we run as root).
        const group *g = ::getgrnam("daemon");
        CPPUNIT_ASSERT_MESSAGE("needs a group named daemon", g != nullptr);
        const gid_t gid = g->gr_gid;
        _host.setConfig("group", "daemon");
        start();
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::lstat(_path.c_str(), &st));
        CPPUNIT_ASSERT(S_ISSOCK(st.st_mode));
        CPPUNIT_ASSERT_EQUAL(0660u, static_cast<unsigned>(st.st_mode & 07777));
        CPPUNIT_ASSERT_EQUAL(gid, st.st_gid);
        CPPUNIT_ASSERT(_host.logged("control socket at " + _path + " (mode 0660, group daemon)",
                                    LANSPREAD_LOG_INFO));
        stop();
        CPPUNIT_ASSERT(!fs::exists(fs::symlink_status(_path))); // removed at stop
    }

    void aMissingGroupLeavesTheFileToItsOwner() {
        _host.setConfig("group", "no-such-group-here");
        start();
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::lstat(_path.c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0660u, static_cast<unsigned>(st.st_mode & 07777));
        CPPUNIT_ASSERT_EQUAL(::getegid(), st.st_gid);
        CPPUNIT_ASSERT(_host.logged("no group no-such-group-here", LANSPREAD_LOG_INFO));
    }

    void defaultPathIsInTheStateDir() {
        init();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _control.submitted.size());
        CPPUNIT_ASSERT(_control.submitted[0].line.find("\"cmd\":\"status\"") != std::string::npos);
        CPPUNIT_ASSERT(!fs::exists(_path));
        _control.answer(0,
                        R"({"event":"result","id":"socket-start","ok":true,"data":{"state_dir":")" +
                            _dir + "\"}}");
        CPPUNIT_ASSERT(fs::is_socket(_path));
        Client client(_path);
        stop();
        CPPUNIT_ASSERT(!fs::exists(fs::symlink_status(_path)));
    }

    void runtimeDirectoryWinsOverTheStateDir() {
        fs::create_directory(_dir + "/run");
        ::setenv("RUNTIME_DIRECTORY", (_dir + "/run:" + _dir + "/other").c_str(), 1);
        init();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        CPPUNIT_ASSERT(_control.submitted.empty()); // no need to ask for the state dir
        CPPUNIT_ASSERT(fs::is_socket(_dir + "/run/control.sock"));
        Client client(_dir + "/run/control.sock");
    }

    void emptyPathFailsInit() {
        _host.setConfig("path", "");
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(_entry->init(_host.api(), &_state) != LANSPREAD_OK);
        _state = nullptr;
        CPPUNIT_ASSERT(_host.logged("config key path is empty", LANSPREAD_LOG_ERROR));
    }

  private:
    struct ServerView {
        std::size_t clients;
    };

    void init() {
        if (_state)
            return;
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _frontend = static_cast<const lanspread_frontend_v1 *>(
            _entry->get_interface(_state, LANSPREAD_FRONTEND_INTERFACE_ID));
        CPPUNIT_ASSERT(_frontend != nullptr);
    }
    void start() {
        _host.setConfig("path", _path);
        init();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        CPPUNIT_ASSERT(fs::is_socket(_path));
    }
    void stop() {
        _control.answerUnanswered();
        if (_session)
            _frontend->stop(_session);
        _session = nullptr;
        _host.runUntilIdle();
    }
    void pump() {
        for (int i = 0; i < 5; ++i)
            _host.runOnce();
    }
    // Connections the plugin holds, counted through the kernel's view: open client sockets
    // are the watched descriptors besides the listener.
    ServerView server() {
        pump();
        return {_host.watchCount() - 1};
    }
    static bool contains(const std::vector<std::string> &v, const std::string &s) {
        for (const auto &x : v)
            if (x == s)
                return true;
        return false;
    }

    lanspread::testing::FakeHost _host{"org.lanspread.frontend.socket"};
    RecordingControl _control;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_frontend_v1 *_frontend = nullptr;
    lanspread_frontend_session *_session = nullptr;
    std::string _dir, _path;
};

CPPUNIT_TEST_SUITE_REGISTRATION(SocketFrontendTest);
