// frontend-web driven through the SDK's FakeHost, with a control-service double that answers
// commands on its own thread (the "reactor" of this test), and a real HTTP client: the token
// files, authentication, the command body, the event stream's ids and replay, page files, and
// that stopping with a waiting command and an open stream is prompt. The same API against a
// real lanspreadd is tests/integration/web_api_test.cpp.
#include <lanspread/kinds/frontend.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/testing/fake_host.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The kernel's control service as far as this plugin sees it: answers status, list-peers and
// list-games like the kernel (status names the state dir), echoes other commands as ok, and
// never answers "hang" (until the end of the test, as the kernel answers every command).
struct AnsweringControl {
    struct Pending {
        std::string line;
        lanspread_control_line_callback onResult;
        void *userData;
    };
    std::string stateDir;
    std::mutex mutex;
    std::condition_variable wake;
    std::vector<Pending> queue, hung;
    std::vector<std::string> submitted;
    bool stop = false;
    lanspread_control_line_callback onEvent = nullptr;
    void *eventUserData = nullptr;
    lanspread_control_v1 table{};
    std::thread reactor;

    AnsweringControl() {
        table.struct_size = sizeof table;
        table.control_data = this;
        table.submit = [](const lanspread_control_v1 *c, const char *line,
                          lanspread_control_line_callback cb, void *ud) -> lanspread_status {
            auto *self = static_cast<AnsweringControl *>(c->control_data);
            {
                std::lock_guard lock(self->mutex);
                self->queue.push_back({line, cb, ud});
                self->submitted.push_back(line);
            }
            self->wake.notify_all();
            return LANSPREAD_OK;
        };
        table.subscribe = [](const lanspread_control_v1 *c, lanspread_control_line_callback cb,
                             void *ud, uint64_t *out) -> lanspread_status {
            auto *self = static_cast<AnsweringControl *>(c->control_data);
            self->onEvent = cb;
            self->eventUserData = ud;
            *out = 1;
            return LANSPREAD_OK;
        };
        table.unsubscribe = [](const lanspread_control_v1 *c, uint64_t) -> lanspread_status {
            static_cast<AnsweringControl *>(c->control_data)->onEvent = nullptr;
            return LANSPREAD_OK;
        };
        reactor = std::thread([this] { run(); });
    }
    ~AnsweringControl() { finish(); }

    void finish() {
        {
            std::lock_guard lock(mutex);
            stop = true;
        }
        wake.notify_all();
        if (reactor.joinable())
            reactor.join();
        for (auto &p : hung) // the kernel answers every command before it goes
            p.onResult(p.userData, R"({"event":"result","id":null,"ok":false})");
        hung.clear();
    }

    std::string answerFor(const std::string &line) {
        const auto has = [&](const char *cmd) {
            return line.find(std::string("\"cmd\":\"") + cmd + "\"") != std::string::npos;
        };
        if (has("status"))
            return R"({"event":"result","ts_ms":1,"id":"s","ok":true,"data":{"name":"t","state_dir":")" +
                   stateDir + R"("}})";
        if (has("list-peers"))
            return R"({"event":"result","ts_ms":1,"id":"p","ok":true,"data":{"peers":[]}})";
        if (has("list-games"))
            return R"({"event":"result","ts_ms":1,"id":"g","ok":true,"data":{"local":[],"remote":[]}})";
        return R"({"event":"result","ts_ms":1,"id":"x","ok":true,"data":{"echo":true}})";
    }

    void run() {
        std::unique_lock lock(mutex);
        for (;;) {
            wake.wait(lock, [&] { return stop || !queue.empty(); });
            if (stop)
                return;
            auto batch = std::move(queue);
            queue.clear();
            lock.unlock();
            for (auto &p : batch) {
                if (p.line.find("\"cmd\":\"hang\"") != std::string::npos) {
                    std::lock_guard relock(mutex);
                    hung.push_back(p);
                    continue;
                }
                p.onResult(p.userData, answerFor(p.line).c_str());
            }
            lock.lock();
        }
    }

    std::vector<std::string> lines() {
        std::lock_guard lock(mutex);
        return submitted;
    }
};

struct Reply {
    int status = 0;
    std::string body;
    Poco::Net::HTTPResponse response;
};

std::string readFile(const std::string &path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

class WebFrontendTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WebFrontendTest);
    CPPUNIT_TEST(testStartWritesPrivateTokenAndUrlAndLogsIt);
    CPPUNIT_TEST(testEveryApiCallNeedsTheToken);
    CPPUNIT_TEST(testCommandBodyIsSubmittedAsOneLine);
    CPPUNIT_TEST(testBadBodiesAreRefusedBeforeTheKernel);
    CPPUNIT_TEST(testEventsHaveIdsAndReplayAfterReconnect);
    CPPUNIT_TEST(testPageFilesAndTheTokenCookie);
    CPPUNIT_TEST(testStopIsPromptWithAWaitingCommandAndAnOpenStream);
    CPPUNIT_TEST(testTakenPortFailsStartNamingListen);
    CPPUNIT_TEST(testBadListenFailsInit);
    CPPUNIT_TEST(testExistingTokenIsKept);
    CPPUNIT_TEST_SUITE_END();

    lanspread::testing::FakeHost _host;
    std::unique_ptr<AnsweringControl> _control;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_frontend_v1 *_frontend = nullptr;
    lanspread_frontend_session *_session = nullptr;
    std::string _dir, _token;
    uint16_t _port = 0;

    void init() {
        _host.addService(LANSPREAD_CONTROL_SERVICE_ID, &_control->table);
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _frontend = static_cast<const lanspread_frontend_v1 *>(
            _entry->get_interface(_state, LANSPREAD_FRONTEND_INTERFACE_ID));
        CPPUNIT_ASSERT(_frontend != nullptr);
    }

    // Starts the plugin and waits for the URL file; reads the token and port from it.
    void start() {
        init();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _frontend->start(_state, &_session));
        const std::string urlFile = _dir + "/frontend-web.url";
        for (int i = 0; i < 500 && !fs::exists(urlFile); ++i)
            std::this_thread::sleep_for(10ms);
        const std::string url = readFile(urlFile);
        const auto colon = url.find(':', 7);
        const auto slash = url.find('/', colon);
        CPPUNIT_ASSERT_MESSAGE(url, colon != std::string::npos && slash != std::string::npos);
        _port = static_cast<uint16_t>(std::stoi(url.substr(colon + 1, slash - colon - 1)));
        _token = url.substr(url.find("token=") + 6, 64);
    }

    Reply request(const std::string &method, const std::string &path,
                  const std::vector<std::pair<std::string, std::string>> &headers = {},
                  const std::string &body = "", const std::string &contentType = "") {
        Poco::Net::HTTPClientSession session("127.0.0.1", _port);
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto &[k, v] : headers)
            req.set(k, v);
        if (!contentType.empty())
            req.setContentType(contentType);
        if (!body.empty() || method == "POST")
            req.setContentLength64(static_cast<Poco::UInt64>(body.size()));
        session.sendRequest(req) << body;
        Reply reply;
        std::istream &in = session.receiveResponse(reply.response);
        Poco::StreamCopier::copyToString(in, reply.body);
        reply.status = reply.response.getStatus();
        return reply;
    }
    std::vector<std::pair<std::string, std::string>> auth() const {
        return {{"Authorization", "Bearer " + _token}};
    }

    void publish(const std::string &line) {
        CPPUNIT_ASSERT(_control->onEvent != nullptr);
        _control->onEvent(_control->eventUserData, line.c_str());
    }

    // Reads an event stream until `count` events (id + data) arrived; returns "id data" lines.
    std::vector<std::string> readEvents(const std::vector<std::pair<std::string, std::string>> &h,
                                        const std::string &path, std::size_t count) {
        Poco::Net::HTTPClientSession session("127.0.0.1", _port);
        session.setTimeout(Poco::Timespan(3, 0));
        Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto &[k, v] : h)
            req.set(k, v);
        session.sendRequest(req);
        Poco::Net::HTTPResponse response;
        std::istream &in = session.receiveResponse(response);
        CPPUNIT_ASSERT_EQUAL(200, static_cast<int>(response.getStatus()));
        CPPUNIT_ASSERT_EQUAL(std::string("text/event-stream"), response.getContentType());
        std::vector<std::string> events;
        std::string line, id;
        while (events.size() < count && std::getline(in, line)) {
            if (line.rfind("id: ", 0) == 0)
                id = line.substr(4);
            else if (line.rfind("data: ", 0) == 0)
                events.push_back(id + " " + line.substr(6));
        }
        return events;
    }

  public:
    void setUp() override {
        char tmpl[] = "/tmp/web_frontend_test.XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(tmpl) != nullptr);
        _dir = tmpl;
        _control = std::make_unique<AnsweringControl>();
        _control->stateDir = _dir;
        _host.setConfig("listen", "127.0.0.1:0");
    }
    void tearDown() override {
        if (_session)
            _frontend->stop(_session);
        _session = nullptr;
        _control->finish();
        _host.runUntilIdle();
        if (_state)
            _entry->shutdown(_state);
        _state = nullptr;
        _control.reset();
        fs::remove_all(_dir);
    }

    void testStartWritesPrivateTokenAndUrlAndLogsIt() {
        start();
        for (const char *name : {"/frontend-web.token", "/frontend-web.url"}) {
            struct stat st {};
            CPPUNIT_ASSERT_EQUAL(0, ::stat((_dir + name).c_str(), &st));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(name, 0600u, static_cast<unsigned>(st.st_mode & 0777));
        }
        CPPUNIT_ASSERT_EQUAL(_token + "\n", readFile(_dir + "/frontend-web.token"));
        CPPUNIT_ASSERT(_token.find_first_not_of("0123456789abcdef") == std::string::npos);
        CPPUNIT_ASSERT(
            _host.logged("open http://127.0.0.1:" + std::to_string(_port) + "/?token=" + _token,
                         LANSPREAD_LOG_WARNING));
    }

    void testEveryApiCallNeedsTheToken() {
        start();
        Reply none = request("GET", "/api/v1/state");
        CPPUNIT_ASSERT_EQUAL(401, none.status);
        CPPUNIT_ASSERT(none.body.find("\"code\":\"unauthorized\"") != std::string::npos);
        Reply wrong =
            request("GET", "/api/v1/state", {{"X-Lanspread-Token", std::string(64, '0')}});
        CPPUNIT_ASSERT_EQUAL(401, wrong.status);
        CPPUNIT_ASSERT(wrong.body.find("wrong") != std::string::npos);
        Reply ok = request("GET", "/api/v1/state", auth());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(ok.body, 200, ok.status);
        CPPUNIT_ASSERT(ok.body.find("\"last_event_id\":") != std::string::npos);
        CPPUNIT_ASSERT(ok.body.find("\"state_dir\":\"" + _dir + "\"") != std::string::npos);
        CPPUNIT_ASSERT(ok.body.find("\"games\":{\"local\":[],\"remote\":[]}") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(200, request("GET", "/api/v1/state?token=" + _token).status);
        CPPUNIT_ASSERT_EQUAL(
            200,
            request("GET", "/api/v1/state", {{"Cookie", "a=b; lanspread_token=" + _token}}).status);
        // The query form is for GETs only (a link); a POST needs a header or the cookie.
        CPPUNIT_ASSERT_EQUAL(401, request("POST", "/api/v1/command?token=" + _token, {},
                                          R"({"cmd":"status"})", "application/json")
                                      .status);
        Reply host = request("GET", "/api/v1/state",
                             {{"Authorization", "Bearer " + _token}, {"Host", "evil.example"}});
        CPPUNIT_ASSERT_EQUAL(403, host.status);
        CPPUNIT_ASSERT(host.body.find("forbidden-host") != std::string::npos);
        Reply origin =
            request("GET", "/api/v1/state",
                    {{"Authorization", "Bearer " + _token}, {"Origin", "http://evil.example"}});
        CPPUNIT_ASSERT_EQUAL(403, origin.status);
        CPPUNIT_ASSERT(origin.body.find("forbidden-origin") != std::string::npos);
        Reply same = request("GET", "/api/v1/state",
                             {{"Authorization", "Bearer " + _token},
                              {"Origin", "http://127.0.0.1:" + std::to_string(_port)}});
        CPPUNIT_ASSERT_EQUAL(200, same.status);
    }

    void testCommandBodyIsSubmittedAsOneLine() {
        start();
        Reply reply =
            request("POST", "/api/v1/command", auth(),
                    "{\n  \"id\": \"7\",\n  \"cmd\": \"download\",\r\n  \"game\": \"ggoo\"\n}",
                    "application/json; charset=utf-8");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reply.body, 200, reply.status);
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"result","ts_ms":1,"id":"x","ok":true,"data":{"echo":true}})"),
            reply.body);
        auto lines = _control->lines();
        CPPUNIT_ASSERT_EQUAL(
            std::string("{   \"id\": \"7\",   \"cmd\": \"download\",    \"game\": \"ggoo\" }"),
            lines.back());
        // Valid JSON that is not an object is the kernel's to refuse (invalid-command), as in
        // every frontend: a bare scalar too, which Poco's parser alone would call invalid.
        for (const char *valid : {"42", "\"status\"", "null", "[1,2]"}) {
            Reply passed = request("POST", "/api/v1/command", auth(), valid, "application/json");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(valid, 200, passed.status);
            CPPUNIT_ASSERT_EQUAL(std::string(valid), _control->lines().back());
        }
        CPPUNIT_ASSERT_EQUAL(405, request("GET", "/api/v1/command", auth()).status);
        CPPUNIT_ASSERT_EQUAL(404, request("GET", "/api/v2/anything", auth()).status);
    }

    void testBadBodiesAreRefusedBeforeTheKernel() {
        _host.setConfig("max_body_bytes", "4096");
        start();
        const std::size_t before = _control->lines().size();
        Reply bad = request("POST", "/api/v1/command", auth(), R"({"cmd":)", "application/json");
        CPPUNIT_ASSERT_EQUAL(400, bad.status);
        CPPUNIT_ASSERT_MESSAGE(bad.body,
                               bad.body.find("\"code\":\"invalid-json\"") != std::string::npos);
        CPPUNIT_ASSERT(bad.body.find("the body is not valid JSON") != std::string::npos);
        for (const char *twoValues : {"42 43", "\"status\" \"x\"", "[1] [2]"}) {
            Reply two = request("POST", "/api/v1/command", auth(), twoValues, "application/json");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(twoValues, 400, two.status);
        }
        Reply text =
            request("POST", "/api/v1/command", auth(), R"({"cmd":"status"})", "text/plain");
        CPPUNIT_ASSERT_EQUAL(415, text.status);
        Reply big = request("POST", "/api/v1/command", auth(),
                            "{\"cmd\":\"status\",\"pad\":\"" + std::string(5000, 'x') + "\"}",
                            "application/json");
        CPPUNIT_ASSERT_EQUAL(413, big.status);
        CPPUNIT_ASSERT(big.body.find("4096") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(before, _control->lines().size()); // none reached the kernel
    }

    uint64_t lastEventId() {
        Reply state = request("GET", "/api/v1/state", auth());
        const auto at = state.body.find("\"last_event_id\":");
        CPPUNIT_ASSERT_MESSAGE(state.body, at != std::string::npos);
        return std::stoull(state.body.substr(at + 16));
    }

    void testEventsHaveIdsAndReplayAfterReconnect() {
        start();
        // Ids start from the clock, so any id of an earlier run of the peer is below them.
        const uint64_t base = lastEventId();
        const uint64_t nowMs =
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
        CPPUNIT_ASSERT(base >= (nowMs - 60000) * 1000 && base <= nowMs * 1000);
        const auto id = [&](uint64_t n) { return std::to_string(base + n); };
        publish(R"({"event":"peer-connected","ts_ms":1,"peer_id":"a"})");
        publish(
            R"({"event":"download-begin","ts_ms":2,"game":"ggoo","bytes_total":10,"bytes_resumed":0,"peers":[]})");
        publish(
            R"({"event":"download-progress","ts_ms":3,"game":"ggoo","bytes_done":5,"bytes_total":10})");
        auto all = readEvents(auth(), "/api/v1/events?since=" + id(0), 3);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), all.size());
        CPPUNIT_ASSERT_EQUAL(id(1) + R"( {"event":"peer-connected","ts_ms":1,"peer_id":"a"})",
                             all[0]);
        CPPUNIT_ASSERT(all[2].rfind(id(3) + " {\"event\":\"download-progress\"", 0) == 0);
        // Reconnecting the way a browser does (Last-Event-ID) gets only what came after.
        auto rest = readEvents({{"Authorization", "Bearer " + _token}, {"Last-Event-ID", id(2)}},
                               "/api/v1/events", 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rest.size());
        CPPUNIT_ASSERT(rest[0].rfind(id(3) + " ", 0) == 0);
        // Ids this run never gave out (above the newest, or from an earlier run): the stream
        // says to start over from the state.
        for (const std::string &since : {id(99), std::string("5")}) {
            auto gap = readEvents(auth(), "/api/v1/events?since=" + since, 1);
            CPPUNIT_ASSERT_MESSAGE(
                gap.at(0), gap.at(0).rfind(id(3) + " {\"event\":\"web-replay-gap\"", 0) == 0);
        }
        // The state names the newest event its downloads reflect.
        Reply state = request("GET", "/api/v1/state", auth());
        CPPUNIT_ASSERT(state.body.find("\"last_event_id\":" + id(3)) != std::string::npos);
        CPPUNIT_ASSERT(state.body.find("\"game\":\"ggoo\",\"bytes_done\":5") != std::string::npos);
        // A live event reaches a stream that is up to date.
        auto live = std::async(std::launch::async, [&] {
            return readEvents(auth(), "/api/v1/events?since=" + id(3), 1);
        });
        std::this_thread::sleep_for(200ms);
        publish(R"({"event":"download-cancelled","ts_ms":4,"game":"ggoo"})");
        auto got = live.get();
        CPPUNIT_ASSERT_EQUAL(id(4) + R"( {"event":"download-cancelled","ts_ms":4,"game":"ggoo"})",
                             got.at(0));
        CPPUNIT_ASSERT_EQUAL(400, request("GET", "/api/v1/events?since=x", auth()).status);
    }

    void testPageFilesAndTheTokenCookie() {
        const std::string www = _dir + "/www";
        fs::create_directories(www);
        std::ofstream(www + "/index.html") << "<!doctype html><title>lanspread</title>";
        _host.setConfig("www_dir", www);
        start();
        Reply first = request("GET", "/?token=" + _token);
        CPPUNIT_ASSERT_EQUAL(303, first.status);
        CPPUNIT_ASSERT_EQUAL(std::string("/"), first.response.get("Location"));
        std::vector<Poco::Net::HTTPCookie> cookies;
        first.response.getCookies(cookies);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), cookies.size());
        CPPUNIT_ASSERT_EQUAL(_token, cookies[0].getValue());
        CPPUNIT_ASSERT(cookies[0].getHttpOnly());
        Reply page = request("GET", "/", {{"Cookie", "lanspread_token=" + _token}});
        CPPUNIT_ASSERT_EQUAL(200, page.status);
        CPPUNIT_ASSERT_EQUAL(std::string("<!doctype html><title>lanspread</title>"), page.body);
        CPPUNIT_ASSERT(page.response.get("Content-Security-Policy").find("default-src 'self'") !=
                       std::string::npos);
        Reply noToken = request("GET", "/");
        CPPUNIT_ASSERT_EQUAL(401, noToken.status);
        CPPUNIT_ASSERT(noToken.body.find("access token") != std::string::npos);
        for (const char *path : {"/missing.js", "/../frontend-web.token",
                                 "/%2e%2e/frontend-web.token", "/www/index.html"})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 404, request("GET", path, auth()).status);
    }

    void testStopIsPromptWithAWaitingCommandAndAnOpenStream() {
        start();
        auto waiting = std::async(std::launch::async, [&] {
            return request("POST", "/api/v1/command", auth(), R"({"cmd":"hang"})",
                           "application/json");
        });
        auto stream = std::async(std::launch::async, [&] {
            try {
                return readEvents(auth(), "/api/v1/events", 1);
            } catch (const std::exception &) {
                return std::vector<std::string>();
            }
        });
        for (int i = 0; i < 200 && _control->lines().size() < 2; ++i)
            std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(200ms);
        const auto begin = std::chrono::steady_clock::now();
        _frontend->stop(_session);
        _session = nullptr;
        const auto took = std::chrono::steady_clock::now() - begin;
        CPPUNIT_ASSERT_MESSAGE(std::to_string(took / 1ms) + " ms", took < 3s);
        Reply answered = waiting.get();
        CPPUNIT_ASSERT_EQUAL(503, answered.status);
        CPPUNIT_ASSERT(answered.body.find("shutting-down") != std::string::npos);
        CPPUNIT_ASSERT(stream.get().empty());
    }

    void testTakenPortFailsStartNamingListen() {
        Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
        _host.setConfig("listen", "127.0.0.1:" + std::to_string(taken.address().port()));
        init();
        CPPUNIT_ASSERT(_frontend->start(_state, &_session) != LANSPREAD_OK);
        _session = nullptr;
        CPPUNIT_ASSERT(_host.logged("config listen"));
    }

    void testBadListenFailsInit() {
        _host.setConfig("listen", "localhost-ish:notaport");
        _host.addService(LANSPREAD_CONTROL_SERVICE_ID, &_control->table);
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, _entry->init(_host.api(), &_state));
        _state = nullptr;
        CPPUNIT_ASSERT(_host.logged("config key listen must be IP:PORT"));
    }

    void testExistingTokenIsKept() {
        const std::string token(64, 'c');
        { std::ofstream(_dir + "/frontend-web.token") << token << "\n"; }
        ::chmod((_dir + "/frontend-web.token").c_str(), 0644);
        start();
        CPPUNIT_ASSERT_EQUAL(token, _token);
        struct stat st {};
        ::stat((_dir + "/frontend-web.token").c_str(), &st);
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 0777)); // made private
        CPPUNIT_ASSERT(_host.logged("made it 0600"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WebFrontendTest);
