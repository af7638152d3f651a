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
#include <pty.h>
#include <termios.h>
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
        bool answered = false;
    };
    std::mutex mutex;
    std::vector<Pending> submitted;
    // Human mode's own status at start (id cli-start, for the discovery sentence), kept apart
    // so `submitted` holds exactly what the user typed.
    std::vector<Pending> startQueries;
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
            const bool start = std::string(line).find("\"id\":\"cli-start\"") != std::string::npos;
            (start ? self->startQueries : self->submitted).push_back({line, cb, ud});
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
    // Runs submission index's on_result once (the contract's "exactly once").
    void answer(std::size_t index, const std::string &result) {
        Pending pending;
        {
            std::lock_guard<std::mutex> lock(mutex);
            Pending &recorded = submitted.at(index);
            CPPUNIT_ASSERT(!recorded.answered);
            recorded.answered = true;
            pending = recorded;
        }
        pending.onResult(pending.userData, result.c_str());
    }
    // What the kernel does before it stops a frontend: every accepted command still gets
    // its one result, so the frontend frees what it keeps per command.
    void answerUnanswered() {
        for (std::size_t i = 0; i < count(); ++i) {
            bool open = false;
            {
                std::lock_guard<std::mutex> lock(mutex);
                open = !submitted[i].answered;
            }
            if (open)
                answer(i, R"({"event":"result","ok":false,"error":{"code":"shutting-down"}})");
        }
        for (auto &query : startQueries)
            if (!query.answered)
                answerStart(R"({"event":"result","ok":false,"error":{"code":"shutting-down"}})");
    }
    // Answers the oldest unanswered start status.
    void answerStart(const std::string &result) {
        for (auto &query : startQueries)
            if (!query.answered) {
                query.answered = true;
                query.onResult(query.userData, result.c_str());
                return;
            }
        CPPUNIT_FAIL("no start status to answer");
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
    CPPUNIT_TEST(badModeConfigFailsInit);
    CPPUNIT_TEST(humanModeTypedCommandsAndTables);
    CPPUNIT_TEST(humanModeRefusesBadLinesLocally);
    CPPUNIT_TEST(humanModeEventsAreOnePlainLineEach);
    CPPUNIT_TEST(humanModeDropsLinesAfterStop);
    CPPUNIT_TEST(humanModeStopEndsRunningBars);
    CPPUNIT_TEST(humanModeSaysOnceWhenDiscoveryDoesNotWork);
    CPPUNIT_TEST(autoModeOnATerminalDrawsLiveBars);
    CPPUNIT_TEST(jsonModeOnATerminalStaysJsonl);
    CPPUNIT_TEST(overlongLinesAreSubmittedCutJustPastTheLimit);
    CPPUNIT_TEST(humanModeSendsOverlongLinesForTheServiceToRefuse);
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
        _control.answerUnanswered();
        if (_session)
            _frontend->stop(_session);
        _host.runUntilIdle(); // posted lines left behind are dropped, and freed
        _entry->shutdown(_state);
        for (int fd : {_in[0], _in[1], _out[0], _out[1], _ptyMaster, _ptySlave})
            if (fd >= 0)
                ::close(fd);
    }

    void startsWithCliStartedAndSubmitsLinesUnchanged() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        std::string first = readAvailable(_out[0]);
        CPPUNIT_ASSERT_MESSAGE(first, first.rfind("{\"event\":\"cli-started\",\"ts_ms\":", 0) == 0);
        CPPUNIT_ASSERT(first.find("\"pid\":" + std::to_string(::getpid()) + "}") !=
                       std::string::npos);

        writeInput("{\"id\":\"1\",\"cmd\":\"status\"}\n\n   \nnot json\r\n{\"id\":\"2\",");
        writeInput("\"cmd\":\"shutdown\"}\n");
        CPPUNIT_ASSERT(_control.waitFor(3));
        std::lock_guard<std::mutex> lock(_control.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), _control.submitted.size()); // blank lines skipped
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"1\",\"cmd\":\"status\"}"),
                             _control.submitted[0].line);
        CPPUNIT_ASSERT_EQUAL(std::string("not json"), _control.submitted[1].line);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"2\",\"cmd\":\"shutdown\"}"),
                             _control.submitted[2].line);
    }

    void writesResultsAndEvents() {
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        readAvailable(_out[0]); // cli-started
        writeInput("{\"id\":\"9\",\"cmd\":\"status\"}\n");
        CPPUNIT_ASSERT(_control.waitFor(1));
        _control.answer(0, "{\"event\":\"result\",\"id\":\"9\",\"ok\":true}");
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
        _frontend->stop(_session);
        _session = nullptr;
        _control.answer(0, "{\"event\":\"result\"}");
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

    void badModeConfigFailsInit() {
        lanspread::testing::FakeHost host;
        host.setConfig("mode", "fancy");
        void *state = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _entry->init(host.api(), &state));
        CPPUNIT_ASSERT(host.logged("config key mode must be auto, json or human, got 'fancy'"));
    }

    // mode = human on pipes: no terminal, so no escapes and no bars, but typed commands and
    // tables. Results are answered by the test, on its thread (the fake reactor).
    void humanModeTypedCommandsAndTables() {
        startHuman();
        std::string greeting = readAvailable(_out[0]);
        CPPUNIT_ASSERT_MESSAGE(greeting, greeting.rfind("lanspread ", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(greeting, greeting.find("(pid " + std::to_string(::getpid()) +
                                                       ") - type help") != std::string::npos);
        CPPUNIT_ASSERT(greeting.find('\x1b') == std::string::npos);

        writeInput("list-games\n");
        CPPUNIT_ASSERT(pumpUntilSubmitted(1));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-1","cmd":"list-games"})"),
                             _control.submitted[0].line);
        answer(
            0,
            R"({"event":"result","id":"cli-1","ok":true,"data":{"local":[)"
            R"({"id":"alienswarm","name":"Alien Swarm","version":"20250301","downloaded":true,)"
            R"("installed":false,"availability":"Ready","size":1288490188},)"
            R"({"id":"ggoo","name":"World of Goo","version":"20250301","downloaded":true,)"
            R"("installed":true,"availability":"Ready","size":67108864}],)"
            R"("remote":[{"id":"cnctw","name":"C&C Tiberium Wars","eti_game_version":"20250301",)"
            R"("peer_count":2,"partial_peers":0,"size":2048},)"
            R"({"id":"css","name":"CS:S","eti_game_version":"v34","peer_count":1,"partial_peers":3,)"
            R"("size":4096},)"
            R"({"id":"ut","name":"UT","eti_game_version":"1","peer_count":0,"partial_peers":1,)"
            R"("size":0}]}})");
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                "local games (2):\n"
                "  ID          NAME          VERSION       SIZE  DOWNLOADED  INSTALLED  "
                "AVAILABILITY\n"
                "  alienswarm  Alien Swarm   20250301   1.2 GiB  yes         no         Ready\n"
                "  ggoo        World of Goo  20250301  64.0 MiB  yes         yes        Ready\n"
                "remote games (3):\n"
                "  ID     NAME               VERSION                PEERS     SIZE\n"
                "  cnctw  C&C Tiberium Wars  20250301                   2  2.0 KiB\n"
                "  css    CS:S               v34       1 (+3 downloading)  4.0 KiB\n"
                "  ut     UT                 1         0 (+1 downloading)        -\n"),
            readAvailable(_out[0]));

        // A JSON line still works, and its result is written for people too.
        writeInput("{\"id\":\"mine\",\"cmd\":\"status\"}\n");
        writeInput("download ggoo install=false\n");
        CPPUNIT_ASSERT(pumpUntilSubmitted(3));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"mine","cmd":"status"})"),
                             _control.submitted[1].line);
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"cli-2","cmd":"download","game":"ggoo","install":false})"),
            _control.submitted[2].line);
        answer(
            1,
            R"({"event":"result","id":"mine","ok":true,"data":{"name":"alpha",)"
            R"("listen_addr":"127.0.0.1:4433","active_operations":{},"plugins":[)"
            R"({"id":"org.lanspread.frontend.cli","kind":"frontend","version":"0.1.0","path":"/x.so"}]}})");
        answer(2,
               R"({"event":"result","id":"cli-2","ok":false,"error":{"code":"no-peers-have-game",)"
               R"("message":"no connected peer has ggoo"}})");
        CPPUNIT_ASSERT_EQUAL(std::string("name:              alpha\n"
                                         "listen_addr:       127.0.0.1:4433\n"
                                         "active_operations: none\n"
                                         "plugins:           1\n"
                                         "  ID                          KIND      VERSION\n"
                                         "  org.lanspread.frontend.cli  frontend  0.1.0\n"
                                         "error: no-peers-have-game: no connected peer has ggoo\n"),
                             readAvailable(_out[0]));

        // A peer's games, then the ones it is downloading with its verified chunks.
        writeInput("list-peers\n");
        CPPUNIT_ASSERT(pumpUntilSubmitted(4));
        answer(3, R"({"event":"result","id":"cli-3","ok":true,"data":{"peers":[)"
                  R"({"peer_id":"abcdef0123456789ff","name":"bravo","addr":"10.0.0.2:4433",)"
                  R"("via":"mdns","transport":"quic",)"
                  R"("games":[{"id":"ggoo","version":"3","availability":"Ready"}],)"
                  R"("partials":[{"id":"ut","version":"1","chunks_have":7,"chunk_count":40}]},)"
                  R"({"peer_id":"0123456789abcdefff","name":"charlie","addr":"10.0.0.3:4433",)"
                  R"("via":"connect","transport":"tls","games":[],)"
                  R"("partials":[{"id":"ut","version":"1","chunks_have":0,"chunk_count":40}]}]}})");
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                "peers (2):\n"
                "  NAME     ADDRESS        PEER ID           VIA      TRANSPORT  GAMES\n"
                "  bravo    10.0.0.2:4433  abcdef0123456789  mdns     quic       ggoo, ut "
                "(downloading 7/40)\n"
                "  charlie  10.0.0.3:4433  0123456789abcdef  connect  tls        ut (downloading "
                "0/40)\n"),
            readAvailable(_out[0]));
    }

    void humanModeRefusesBadLinesLocally() {
        startHuman();
        readAvailable(_out[0]);
        writeInput("dowload ggoo\ndownload\n\n   \nhelp\nstatus\n");
        CPPUNIT_ASSERT(pumpUntilSubmitted(1));
        pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _control.count()); // only status was sent
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-1","cmd":"status"})"),
                             _control.submitted[0].line);
        const std::string out = readAvailable(_out[0]);
        CPPUNIT_ASSERT_MESSAGE(out, out.rfind("error: invalid-command: unknown command 'dowload' "
                                              "(type help for the list)\n"
                                              "error: invalid-command: download needs a game "
                                              "(usage: download <game> [install=true|false])\n"
                                              "commands (",
                                              0) == 0);
        CPPUNIT_ASSERT_MESSAGE(out, out.find("\n  connect <ip:port>\n      connect to a peer\n") !=
                                        std::string::npos);
        answer(0, R"({"event":"result","id":"cli-1","ok":false,"error":{"code":"io-error"}})");
        CPPUNIT_ASSERT_EQUAL(std::string("error: io-error\n"), readAvailable(_out[0]));
    }

    void humanModeEventsAreOnePlainLineEach() {
        startHuman();
        readAvailable(_out[0]);
        for (
            const char *e :
            {R"({"event":"peer-connected","ts_ms":1,"peer_id":"abcdef0123456789ff","addr":"10.0.0.2:4433","name":"bravo","games":[{"id":"ggoo"}]})",
             R"({"event":"download-begin","ts_ms":1,"game":"ggoo","bytes_total":67108864,"bytes_resumed":0,"peers":["10.0.0.2:4433"]})",
             R"({"event":"download-progress","ts_ms":1,"game":"ggoo","bytes_done":1048576,"bytes_total":67108864,"mib_per_s":16.0,"active_peers":1})",
             R"({"event":"download-chunk-finished","ts_ms":1,"game":"ggoo","path":"a","offset":0,"bytes":5})",
             R"({"event":"download-finished","ts_ms":1,"game":"ggoo","bytes":67108864,"duration_ms":4000,"mib_per_s":16.0,"mbit_per_s":134.2,"sources":{"abcdef":67108864}})",
             R"({"event":"active-operations","ts_ms":1,"operations":{}})",
             R"({"event":"install-failed","ts_ms":1,"game":"ggoo","error":"disk full\u001b[2J"})",
             R"({"event":"peer-lost","ts_ms":1,"peer_id":"abcdef0123456789ff","addr":"10.0.0.2:4433","reason":"goodbye"})",
             R"({"event":"something-new","ts_ms":1,"a":1,"b":"x"})", "not json"})
            _control.onEvent(_control.eventUserData, e);
        CPPUNIT_ASSERT_EQUAL(
            std::string("peer connected: bravo at 10.0.0.2:4433, 1 game\n"
                        "ggoo: downloading 64.0 MiB from 1 peer\n"
                        "ggoo: downloaded 64.0 MiB in 4.0 s, 16.0 MiB/s from 1 peer\n"
                        "ggoo: install failed: disk full?[2J\n"
                        "peer lost: bravo at 10.0.0.2:4433 (goodbye)\n"
                        "something-new: a=1 b=x\n"
                        "not json\n"),
            readAvailable(_out[0]));
    }

    void humanModeDropsLinesAfterStop() {
        startHuman();
        writeInput("status\n");
        for (int i = 0; i < 200 && _host.pendingPosts() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        CPPUNIT_ASSERT(_host.pendingPosts() > 0);
        _frontend->stop(_session);
        _session = nullptr;
        _host.runUntilIdle(); // the posted line runs after stop: dropped
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _control.count());
    }

    void humanModeStopEndsRunningBars() {
        startHuman();
        readAvailable(_out[0]);
        event(
            R"({"event":"download-progress","ts_ms":1,"game":"ggoo","bytes_done":33554432,"bytes_total":67108864,"mib_per_s":16.0,"active_peers":1})");
        _frontend->stop(_session);
        _session = nullptr;
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo: download interrupted at 32.0/64.0 MiB\n"),
                             readAvailable(_out[0]));
    }

    // Human mode asks for status at start and says, once, when peers cannot find this one;
    // later discovery-state events are said only when the state changes.
    void humanModeSaysOnceWhenDiscoveryDoesNotWork() {
        startHuman();
        readAvailable(_out[0]);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _control.startQueries.size());
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-start","cmd":"status"})"),
                             _control.startQueries[0].line);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _control.count()); // nothing the user typed
        _control.answerStart(
            R"({"event":"result","id":"cli-start","ok":true,"data":{"name":"alpha",)"
            R"("discovery":{"state":"not-working","plugin":"org.lanspread.discovery.dnssd",)"
            R"("reason":"avahi-daemon is not running"}}})");
        // The sentence, and not the status table.
        CPPUNIT_ASSERT_EQUAL(
            std::string("not discoverable: avahi-daemon is not running; direct connect works\n"),
            readAvailable(_out[0]));
        event(R"({"event":"discovery-state","ts_ms":1,"plugin":"org.lanspread.discovery.dnssd",)"
              R"("state":"not-working","reason":"avahi-daemon is not running"})");
        CPPUNIT_ASSERT_EQUAL(std::string(), readAvailable(_out[0])); // said already
        event(R"({"event":"discovery-state","ts_ms":2,"plugin":"org.lanspread.discovery.dnssd",)"
              R"("state":"working","reason":""})");
        CPPUNIT_ASSERT_EQUAL(
            std::string("discoverable again: peers on the LAN can find this one\n"),
            readAvailable(_out[0]));

        // Working (or off) at start: nothing to say.
        _frontend->stop(_session);
        _session = nullptr;
        startHuman();
        readAvailable(_out[0]);
        _control.answerStart(R"({"event":"result","id":"cli-start","ok":true,"data":{)"
                             R"("discovery":{"state":"working","plugin":"x","reason":""}}})");
        CPPUNIT_ASSERT_EQUAL(std::string(), readAvailable(_out[0]));
    }

    // The default mode with a terminal (a pty) on the input: human mode, with live bars drawn
    // in place and the typed line's echo repaired under them.
    void autoModeOnATerminalDrawsLiveBars() {
        int master = -1, slave = -1;
        winsize size{};
        size.ws_row = 40;
        size.ws_col = 120;
        CPPUNIT_ASSERT_EQUAL(0, ::openpty(&master, &slave, nullptr, nullptr, &size));
        _ptyMaster = master;
        _ptySlave = slave;
        restartWith(std::to_string(slave), std::to_string(slave), "");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        const std::string greeting = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(greeting, greeting.rfind("\r\x1b[Jlanspread ", 0) == 0);

        CPPUNIT_ASSERT_EQUAL(ssize_t(28), ::write(master, "download ggoo install=false\n", 28));
        CPPUNIT_ASSERT(pumpUntilSubmitted(1));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"cli-1","cmd":"download","game":"ggoo","install":false})"),
            _control.submitted[0].line);
        // The terminal echoed the line; no bars yet, so nothing is redrawn.
        CPPUNIT_ASSERT_EQUAL(std::string("download ggoo install=false\n"), readTerminal());
        answer(0, R"({"event":"result","id":"cli-1","ok":true,"data":{"accepted":true}})");
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[Jggoo: download started\n"), readTerminal());

        event(
            R"({"event":"download-begin","ts_ms":1,"game":"ggoo","bytes_total":67108864,"bytes_resumed":0,"peers":["a"]})");
        const std::string begin = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(begin, begin.rfind("\r\x1b[Jggoo          [---", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(begin, begin.find("0.0/64.0 MiB  -.- MiB/s  1 peer  ETA --:--\n") !=
                                          std::string::npos);
        event(
            R"({"event":"download-progress","ts_ms":1,"game":"ggoo","bytes_done":33554432,"bytes_total":67108864,"mib_per_s":16.0,"active_peers":1})");
        // In place: only the bar's row, the cursor restored.
        CPPUNIT_ASSERT_EQUAL(
            std::string("\x1b"
                        "7\x1b[1A\rggoo          [###############---------------]   50%  "
                        "32.0/64.0 MiB  16.0 MiB/s  1 peer  ETA 0:02\x1b[K\x1b"
                        "8"),
            readTerminal());

        // A line typed under the bar: its echo and the bar are cleared, the line is printed
        // above, the bar is drawn again; then the result comes above the bar.
        CPPUNIT_ASSERT_EQUAL(ssize_t(7), ::write(master, "status\n", 7));
        CPPUNIT_ASSERT(pumpUntilSubmitted(2));
        const std::string repaired = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(
            repaired, repaired.rfind("status\n\r\x1b[2A\x1b[Jstatus\nggoo          [####", 0) == 0);
        // Two lines pasted at once are echoed at once: one repair for both.
        CPPUNIT_ASSERT_EQUAL(ssize_t(22), ::write(master, "list-peers\nlist-games\n", 22));
        CPPUNIT_ASSERT(pumpUntilSubmitted(4));
        const std::string pasted = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(pasted, pasted.rfind("list-peers\nlist-games\n\r\x1b[3A\x1b[J"
                                                    "list-peers\nlist-games\nggoo          [####",
                                                    0) == 0);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-3","cmd":"list-peers"})"),
                             _control.submitted[2].line);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-4","cmd":"list-games"})"),
                             _control.submitted[3].line);
        answer(
            1,
            R"({"event":"result","id":"cli-2","ok":false,"error":{"code":"timeout","message":"slow"}})");
        const std::string error = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(
            error, error.rfind("\r\x1b[1A\x1b[Jerror: timeout: slow\nggoo    ", 0) == 0);

        // A chunk-granular interval (rate 0 while bytes flow): the average since begin.
        event(
            R"({"event":"download-progress","ts_ms":4001,"game":"ggoo","bytes_done":50331648,"bytes_total":67108864,"mib_per_s":0,"active_peers":1})");
        const std::string average = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(average, average.find("   75%  48.0/64.0 MiB  12.0 MiB/s  1 peer  "
                                                     "ETA 0:01") != std::string::npos);

        // Finished: the bar is replaced by the final line, and no bar is left.
        event(
            R"({"event":"download-finished","ts_ms":1,"game":"ggoo","bytes":67108864,"duration_ms":4000,"mib_per_s":16.0,"mbit_per_s":134.2,"sources":{"p":1}})");
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                "\r\x1b[1A\x1b[Jggoo: downloaded 64.0 MiB in 4.0 s, 16.0 MiB/s from 1 peer\n"),
            readTerminal());
    }

    void jsonModeOnATerminalStaysJsonl() {
        int master = -1, slave = -1;
        CPPUNIT_ASSERT_EQUAL(0, ::openpty(&master, &slave, nullptr, nullptr, nullptr));
        _ptyMaster = master;
        _ptySlave = slave;
        restartWith(std::to_string(slave), std::to_string(slave), "json");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        const std::string first = readTerminal();
        CPPUNIT_ASSERT_MESSAGE(first, first.rfind("{\"event\":\"cli-started\",\"ts_ms\":", 0) == 0);
        CPPUNIT_ASSERT_EQUAL(ssize_t(11), ::write(master, "list-games\n", 11));
        CPPUNIT_ASSERT(_control.waitFor(1));
        CPPUNIT_ASSERT_EQUAL(std::string("list-games"), _control.submitted[0].line); // unchanged
    }

    // Memory stays bounded (a line is kept only to the limit + 2 bytes), and what is kept is
    // still longer than the limit after a CR is dropped, so the service refuses it as too
    // long; a CRLF line of exactly the limit is a command.
    void overlongLinesAreSubmittedCutJustPastTheLimit() {
        constexpr std::size_t limit = LANSPREAD_CONTROL_MAX_LINE_BYTES;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        readAvailable(_out[0]);
        writeInput(std::string(3 * limit, 'x') + "\n");
        writeInput(std::string(limit + 1, 'a') + "\rzz\n");
        writeInput(std::string(limit, 'b') + "\r\n");
        writeInput("{\"id\":\"1\",\"cmd\":\"status\"}\n");
        CPPUNIT_ASSERT(_control.waitFor(4));
        std::lock_guard<std::mutex> lock(_control.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), _control.submitted.size());
        CPPUNIT_ASSERT(_control.submitted[0].line == std::string(limit + 2, 'x'));
        CPPUNIT_ASSERT(_control.submitted[1].line == std::string(limit + 1, 'a')); // CR dropped
        CPPUNIT_ASSERT(_control.submitted[2].line == std::string(limit, 'b'));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"1\",\"cmd\":\"status\"}"),
                             _control.submitted[3].line);
    }

    // Not read as a typed command (which would echo a megabyte back as "unknown command"):
    // sent as it is, and the service's answer is printed as any error.
    void humanModeSendsOverlongLinesForTheServiceToRefuse() {
        constexpr std::size_t limit = LANSPREAD_CONTROL_MAX_LINE_BYTES;
        startHuman();
        readAvailable(_out[0]);
        writeInput("status " + std::string(2 * limit, 'x') + "\nstatus\n");
        CPPUNIT_ASSERT(pumpUntilSubmitted(2));
        {
            std::lock_guard<std::mutex> lock(_control.mutex);
            CPPUNIT_ASSERT_EQUAL(limit + 2, _control.submitted[0].line.size());
            CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-1","cmd":"status"})"),
                                 _control.submitted[1].line);
        }
        CPPUNIT_ASSERT_EQUAL(std::string(), readAvailable(_out[0])); // nothing said locally
        answer(
            0,
            R"json({"event":"result","id":null,"ok":false,"error":{"code":"invalid-command",)json"
            R"json("message":"the line is too long: a command is at most 1048576 bytes (1 MiB)"}})json");
        CPPUNIT_ASSERT_EQUAL(std::string("error: invalid-command: the line is too long: a command "
                                         "is at most 1048576 bytes (1 MiB)\n"),
                             readAvailable(_out[0]));
    }

  private:
    void startHuman() {
        _frontend = nullptr;
        restartWith(std::to_string(_in[0]), std::to_string(_out[1]), "human");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
    }
    // Re-initialises the plugin with other fds and mode ("" = unset).
    void restartWith(const std::string &in, const std::string &out, const std::string &mode) {
        _control.answerUnanswered();
        _host.runUntilIdle();
        _entry->shutdown(_state);
        _state = nullptr;
        _host.setConfig("input_fd", in);
        _host.setConfig("output_fd", out);
        if (mode.empty())
            _host.clearConfig("mode");
        else
            _host.setConfig("mode", mode);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _frontend = static_cast<const lanspread_frontend_v1 *>(
            _entry->get_interface(_state, LANSPREAD_FRONTEND_INTERFACE_ID));
        CPPUNIT_ASSERT(_frontend != nullptr);
    }
    // Runs the fake reactor (posted lines) until n commands were submitted (5 s at most).
    bool pumpUntilSubmitted(std::size_t n) {
        for (int i = 0; i < 500; ++i) {
            _host.runUntilIdle();
            if (_control.count() >= n)
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    void pump() {
        for (int i = 0; i < 20; ++i) {
            _host.runUntilIdle();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    void answer(std::size_t index, const std::string &result) { _control.answer(index, result); }
    void event(const std::string &line) {
        CPPUNIT_ASSERT(_control.onEvent != nullptr);
        _control.onEvent(_control.eventUserData, line.c_str());
    }
    // What the pty's master side reads (the terminal's screen input), "\r\n" as "\n".
    std::string readTerminal() {
        std::string raw = readAvailable(_ptyMaster);
        std::string out;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')
                continue;
            out.push_back(raw[i]);
        }
        return out;
    }

    void writeInput(const std::string &text) {
        CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(text.size()),
                             ::write(_in[1], text.data(), text.size()));
    }

    int _in[2] = {-1, -1};
    int _out[2] = {-1, -1};
    int _ptyMaster = -1;
    int _ptySlave = -1;
    lanspread::testing::FakeHost _host{"org.lanspread.frontend.cli"};
    RecordingControl _control;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_frontend_v1 *_frontend = nullptr;
    lanspread_frontend_session *_session = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(CliFrontendTest);
