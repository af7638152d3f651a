// ControlService: command parsing, validation and dispatch (handleLine), the result line's
// shape, Reply's exactly-once answer, and the lanspread.control/1 C table a frontend uses.
#include "kernel_test_support.hpp"
#include <lanspread/kernel/host/control_service.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/services/control.h>

#include <cppunit/extensions/HelperMacros.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::contract::ErrorCode;
using lanspread::kernel::host::ControlService;
using lanspread::kernel::host::EventBus;
using lanspread::kernel::host::Reactor;
using namespace std::chrono_literals;

namespace {

// A Reactor running on its own thread. call() runs a function on the reactor thread and
// waits for it, rethrowing what it threw (the loop itself would swallow a failed assertion).
using lanspread::test::LoopThread;

using lanspread::test::waitUntil;

Poco::JSON::Object::Ptr parseObject(const std::string &line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// {"event":"result","ts_ms":N,"id":<id>,"ok":<ok>,"<data|error>":{...}} in exactly this order.
bool hasResultShape(const std::string &line, const std::string &idJson, bool ok) {
    static const std::regex shape(
        R"re(^\{"event":"result","ts_ms":[0-9]+,"id":(.*),"ok":(true|false),"(data|error)":\{.*\}\}$)re");
    std::smatch match;
    if (!std::regex_match(line, match, shape))
        return false;
    return match[1].str() == idJson && match[2].str() == (ok ? "true" : "false") &&
           match[3].str() == (ok ? "data" : "error");
}

// Lines handed to a C callback, with the thread each arrived on.
using lanspread::test::LineLog;

void onLine(void *userData, const char *line) {
    auto *log = static_cast<LineLog *>(userData);
    std::lock_guard<std::mutex> lock(log->mutex);
    log->lines.emplace_back(line);
    log->threads.push_back(std::this_thread::get_id());
}

} // namespace

class ControlServiceTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ControlServiceTest);
    CPPUNIT_TEST(testValidCommandIsDispatched);
    CPPUNIT_TEST(testResultLineShape);
    CPPUNIT_TEST(testIdIsEchoedAsGiven);
    CPPUNIT_TEST(testNotJsonIsInvalidCommand);
    CPPUNIT_TEST(testNonObjectJsonIsInvalidCommand);
    CPPUNIT_TEST(testMissingCmdIsInvalidCommand);
    CPPUNIT_TEST(testNonStringCmdIsInvalidCommand);
    CPPUNIT_TEST(testUnknownCmdListsKnownCommands);
    CPPUNIT_TEST(testLineOverTheLimitIsTooLong);
    CPPUNIT_TEST(testMissingRequiredFieldIsNamed);
    CPPUNIT_TEST(testDroppedReplyAnswersInternalErrorOnce);
    CPPUNIT_TEST(testReplyAnsweredTwiceSendsOnce);
    CPPUNIT_TEST(testDeferredReplyAnswersLater);
    CPPUNIT_TEST(testMoveAssignOverUnansweredReplyAnswersIt);
    CPPUNIT_TEST(testMoveConstructedReplyAnswersOnce);
    CPPUNIT_TEST(testThrowingHandlerStillAnswersOnce);
    CPPUNIT_TEST(testTableIsComplete);
    CPPUNIT_TEST(testSubmitFromThreadAnsweredOnReactorInOrder);
    CPPUNIT_TEST(testSubmitNullArguments);
    CPPUNIT_TEST(testSubmitAfterCloseFails);
    CPPUNIT_TEST(testSubmitAfterReactorStopFails);
    CPPUNIT_TEST(testSubscribeDeliversEventsUntilUnsubscribed);
    CPPUNIT_TEST(testSubscribeErrors);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _events = std::make_unique<EventBus>();
        _loop = std::make_unique<LoopThread>();
        _control = std::make_unique<ControlService>(_loop->reactor, *_events);
        _calls.clear();
        _pending.clear();
        _control->addCommand(
            "echo", {"text"},
            [this](const Poco::JSON::Object &command, ControlService::Reply reply) {
                _calls.push_back("echo");
                Poco::JSON::Object data;
                data.set("text", command.get("text"));
                reply.ok(data);
            });
        _control->addCommand("ordered", {},
                             [this](const Poco::JSON::Object &, ControlService::Reply reply) {
                                 _calls.push_back("ordered");
                                 Poco::JSON::Object data(Poco::JSON_PRESERVE_KEY_ORDER);
                                 data.set("zeta", 1);
                                 data.set("alpha", "two");
                                 data.set("mid", true);
                                 reply.ok(data);
                             });
        _control->addCommand("silent", {},
                             [this](const Poco::JSON::Object &, ControlService::Reply) {
                                 _calls.push_back("silent");
                             });
        _control->addCommand("twice", {},
                             [this](const Poco::JSON::Object &, ControlService::Reply reply) {
                                 _calls.push_back("twice");
                                 Poco::JSON::Object data;
                                 data.set("first", true);
                                 reply.ok(data);
                                 reply.fail(ErrorCode::IoError, "second answer");
                                 reply.ok(data);
                             });
        _control->addCommand("failtwice", {},
                             [this](const Poco::JSON::Object &, ControlService::Reply reply) {
                                 _calls.push_back("failtwice");
                                 reply.fail(ErrorCode::Timeout, "first answer");
                                 reply.ok(Poco::JSON::Object());
                             });
        _control->addCommand(
            "later", {}, [this](const Poco::JSON::Object &, ControlService::Reply reply) {
                _calls.push_back("later");
                _pending.push_back(std::make_unique<ControlService::Reply>(std::move(reply)));
            });
        _control->addCommand("throws", {},
                             [this](const Poco::JSON::Object &, ControlService::Reply) {
                                 _calls.push_back("throws");
                                 throw std::runtime_error("handler bug");
                             });
        _control->addCommand("multi", {"game", "addr"},
                             [this](const Poco::JSON::Object &, ControlService::Reply reply) {
                                 _calls.push_back("multi");
                                 reply.ok(Poco::JSON::Object());
                             });
    }

    void tearDown() override {
        if (_loop)
            _loop->stop();
        _pending.clear();
        _control.reset();
        _loop.reset();
        _events.reset();
    }

    void testValidCommandIsDispatched() {
        std::vector<std::string> results = handle(R"({"id":"7","cmd":"echo","text":"hello"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _calls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("echo"), _calls[0]);
        Poco::JSON::Object::Ptr result = parseObject(results[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("result"), result->getValue<std::string>("event"));
        CPPUNIT_ASSERT_EQUAL(std::string("7"), result->getValue<std::string>("id"));
        CPPUNIT_ASSERT_EQUAL(true, result->getValue<bool>("ok"));
        CPPUNIT_ASSERT_EQUAL(std::string("hello"),
                             result->getObject("data")->getValue<std::string>("text"));
        CPPUNIT_ASSERT(!result->has("error"));
    }

    void testResultLineShape() {
        const int64_t before = EventBus::nowUnixMs();
        std::vector<std::string> results = handle(R"({"id":"7","cmd":"ordered"})");
        const int64_t after = EventBus::nowUnixMs();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        const std::string &line = results[0];
        CPPUNIT_ASSERT_MESSAGE(line, hasResultShape(line, "\"7\"", true));
        CPPUNIT_ASSERT_MESSAGE(line, line.rfind("{\"event\":\"result\",\"ts_ms\":", 0) == 0);
        // The data keeps the handler's order, and the line is one line.
        CPPUNIT_ASSERT_MESSAGE(line,
                               contains(line, R"("data":{"zeta":1,"alpha":"two","mid":true}})"));
        CPPUNIT_ASSERT(line.find('\n') == std::string::npos);
        Poco::JSON::Object::Ptr result = parseObject(line);
        const int64_t ts = result->getValue<int64_t>("ts_ms");
        CPPUNIT_ASSERT(ts >= before && ts <= after);
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), result->size());

        std::vector<std::string> failed = handle(R"({"id":"8","cmd":"nope"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), failed.size());
        CPPUNIT_ASSERT_MESSAGE(failed[0], hasResultShape(failed[0], "\"8\"", false));
        CPPUNIT_ASSERT_MESSAGE(
            failed[0], contains(failed[0], R"("error":{"code":"invalid-command","message":)"));
    }

    void testIdIsEchoedAsGiven() {
        struct Case {
            const char *line;
            const char *idJson;
        };
        for (const Case &c :
             {Case{R"({"id":"abc","cmd":"ordered"})", "\"abc\""},
              Case{R"({"id":42,"cmd":"ordered"})", "42"},
              Case{R"({"id":-3,"cmd":"ordered"})", "-3"}, Case{R"({"cmd":"ordered"})", "null"},
              Case{R"({"id":null,"cmd":"ordered"})", "null"},
              Case{R"({"id":"","cmd":"ordered"})", "\"\""},
              Case{R"({"cmd":"ordered","id":"last"})", "\"last\""}}) {
            std::vector<std::string> results = handle(c.line);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
            CPPUNIT_ASSERT_MESSAGE(std::string(c.line) + " -> " + results[0],
                                   hasResultShape(results[0], c.idJson, true));
        }
        // A string id with characters that need escaping round-trips.
        std::vector<std::string> results = handle(R"({"id":"q\"uo\\te","cmd":"ordered"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_EQUAL(std::string("q\"uo\\te"),
                             parseObject(results[0])->getValue<std::string>("id"));
        // The id is echoed on failures too.
        results = handle(R"({"id":99,"cmd":"nope"})");
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "99", false));
    }

    void testNotJsonIsInvalidCommand() {
        for (const char *line : {"hello", "", "   ", "{", "{\"id\":\"1\",\"cmd\":", "status",
                                 "{'id':'1','cmd':'ordered'}"})
            expectInvalid(line, "null");
        CPPUNIT_ASSERT(_calls.empty());
    }

    void testNonObjectJsonIsInvalidCommand() {
        for (const char *line :
             {R"([{"id":"1","cmd":"ordered"}])", "[]", "42", "\"ordered\"", "null", "true"})
            expectInvalid(line, "null");
        CPPUNIT_ASSERT(_calls.empty());
    }

    void testMissingCmdIsInvalidCommand() {
        std::string message = expectInvalid(R"({"id":"1"})", "\"1\"");
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "cmd"));
        expectInvalid("{}", "null");
        expectInvalid(R"({"id":"2","command":"ordered"})", "\"2\"");
        CPPUNIT_ASSERT(_calls.empty());
    }

    void testNonStringCmdIsInvalidCommand() {
        for (const char *line :
             {R"({"id":"1","cmd":5})", R"({"id":"1","cmd":null})", R"({"id":"1","cmd":true})",
              R"({"id":"1","cmd":["ordered"]})", R"({"id":"1","cmd":{"name":"ordered"}})"}) {
            std::string message = expectInvalid(line, "\"1\"");
            CPPUNIT_ASSERT_MESSAGE(message, contains(message, "cmd"));
        }
        CPPUNIT_ASSERT(_calls.empty());
    }

    void testUnknownCmdListsKnownCommands() {
        std::string message = expectInvalid(R"({"id":"1","cmd":"frobnicate"})", "\"1\"");
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "frobnicate"));
        for (const char *known :
             {"echo", "ordered", "silent", "twice", "failtwice", "later", "throws", "multi"})
            CPPUNIT_ASSERT_MESSAGE(message, contains(message, known));
        // Names are case-sensitive.
        expectInvalid(R"({"id":"2","cmd":"ECHO","text":"x"})", "\"2\"");
        CPPUNIT_ASSERT(_calls.empty());
    }

    // A line of exactly the limit is a command; one byte more is refused unparsed, saying
    // why and the limit, also through the C table (which copies only what it needs).
    void testLineOverTheLimitIsTooLong() {
        const std::string head = R"({"id":"big","cmd":"echo","text":")";
        std::string atLimit = head;
        atLimit.append(LANSPREAD_CONTROL_MAX_LINE_BYTES - head.size() - 2, 'x');
        atLimit += "\"}";
        CPPUNIT_ASSERT_EQUAL(std::size_t(LANSPREAD_CONTROL_MAX_LINE_BYTES), atLimit.size());
        std::vector<std::string> results = handle(atLimit);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        // Parsed, not matched with hasResultShape: its regex recurses per byte of a 1 MiB line.
        Poco::JSON::Object::Ptr answered = parseObject(results[0]);
        CPPUNIT_ASSERT(answered->getValue<bool>("ok"));
        CPPUNIT_ASSERT_EQUAL(std::string("big"), answered->getValue<std::string>("id"));

        const std::string tooLong = atLimit + " ";
        const std::string message = expectInvalid(tooLong, "null");
        CPPUNIT_ASSERT_EQUAL(
            std::string("the line is too long: a command is at most 1048576 bytes (1 MiB)"),
            message);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _calls.size()); // the echo above, only

        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        const std::string huge(5 * LANSPREAD_CONTROL_MAX_LINE_BYTES, 'y');
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, table->submit(table, huge.c_str(), &onLine, &log));
        CPPUNIT_ASSERT(waitUntil([&] { return log.count() >= 1; }));
        std::lock_guard<std::mutex> lock(log.mutex);
        CPPUNIT_ASSERT_MESSAGE(log.lines[0], hasResultShape(log.lines[0], "null", false));
        CPPUNIT_ASSERT_MESSAGE(log.lines[0], contains(log.lines[0], "too long"));
    }

    void testMissingRequiredFieldIsNamed() {
        std::string message = expectInvalid(R"({"id":"1","cmd":"echo"})", "\"1\"");
        CPPUNIT_ASSERT_MESSAGE(message,
                               contains(message, "'text'") || contains(message, "\"text\""));
        message = expectInvalid(R"({"id":"2","cmd":"echo","text":null})", "\"2\"");
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "text"));
        // With two required fields, the missing one is named.
        message = expectInvalid(R"({"id":"3","cmd":"multi","game":"g"})", "\"3\"");
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "addr"));
        message = expectInvalid(R"({"id":"4","cmd":"multi","addr":"1.2.3.4:5"})", "\"4\"");
        CPPUNIT_ASSERT_MESSAGE(message, contains(message, "game"));
        CPPUNIT_ASSERT(_calls.empty());
        // Present fields (even empty strings) pass validation.
        std::vector<std::string> results = handle(R"({"id":"5","cmd":"echo","text":""})");
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "\"5\"", true));
    }

    void testDroppedReplyAnswersInternalErrorOnce() {
        std::vector<std::string> results = handle(R"({"id":"9","cmd":"silent"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _calls.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "\"9\"", false));
        CPPUNIT_ASSERT_EQUAL(std::string("internal-error"), errorCode(results[0]));
    }

    void testReplyAnsweredTwiceSendsOnce() {
        std::vector<std::string> results = handle(R"({"id":"1","cmd":"twice"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "\"1\"", true));
        results = handle(R"({"id":"2","cmd":"failtwice"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "\"2\"", false));
        CPPUNIT_ASSERT_EQUAL(std::string("timeout"), errorCode(results[0]));
    }

    // A long operation keeps its Reply (moved) and answers on a later loop turn.
    void testDeferredReplyAnswersLater() {
        std::vector<std::string> results = handle(R"({"id":"L","cmd":"later"})");
        CPPUNIT_ASSERT(results.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _pending.size());
        // The kept Reply delivers to handle()'s collector, _lastCollected.
        _loop->call([&] {
            Poco::JSON::Object data;
            data.set("done", true);
            _pending[0]->ok(data);
            _pending[0]->fail(ErrorCode::IoError, "too late");
            _pending.clear(); // destroying an answered Reply adds nothing
        });
        const std::vector<std::string> late = _lastCollected;
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), late.size());
        CPPUNIT_ASSERT_MESSAGE(late[0], hasResultShape(late[0], "\"L\"", true));
        CPPUNIT_ASSERT_EQUAL(true, parseObject(late[0])->getObject("data")->getValue<bool>("done"));
    }

    // control_service.hpp: "a Reply dropped unanswered answers internal-error so no command is
    // left hanging". Move-assigning over an unanswered Reply drops it too (a pending-operation
    // slot reused for the next command): its command must still get its one answer.
    void testMoveAssignOverUnansweredReplyAnswersIt() {
        std::vector<std::string> first;
        std::vector<std::string> second;
        {
            ControlService::Reply a(Poco::Dynamic::Var(std::string("A")),
                                    [&first](const std::string &line) { first.push_back(line); });
            ControlService::Reply b(Poco::Dynamic::Var(std::string("B")),
                                    [&second](const std::string &line) { second.push_back(line); });
            a = std::move(b); // A's command is abandoned here
            Poco::JSON::Object data;
            data.set("answered", true);
            a.ok(data); // answers B's command
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), second.size());
        CPPUNIT_ASSERT_MESSAGE(second[0], hasResultShape(second[0], "\"B\"", true));
        CPPUNIT_ASSERT_EQUAL_MESSAGE("the overwritten Reply's command got no answer",
                                     std::size_t(1), first.size());
        CPPUNIT_ASSERT_MESSAGE(first[0], hasResultShape(first[0], "\"A\"", false));
        CPPUNIT_ASSERT_EQUAL(std::string("internal-error"), errorCode(first[0]));
    }

    // Moving a Reply (into a pending-operation table) transfers the duty to answer: exactly
    // one answer in all, from the new owner.
    void testMoveConstructedReplyAnswersOnce() {
        std::vector<std::string> lines;
        {
            ControlService::Reply original(Poco::Dynamic::Var(7),
                                           [&lines](const std::string &l) { lines.push_back(l); });
            ControlService::Reply moved(std::move(original));
        } // both destroyed unanswered: one internal-error, not two
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        CPPUNIT_ASSERT_MESSAGE(lines[0], hasResultShape(lines[0], "7", false));
        CPPUNIT_ASSERT_EQUAL(std::string("internal-error"), errorCode(lines[0]));
    }

    void testThrowingHandlerStillAnswersOnce() {
        std::vector<std::string> results;
        bool threw = false;
        _loop->call([&] {
            try {
                _control->handleLine(
                    R"({"id":"T","cmd":"throws"})",
                    [&results](const std::string &line) { results.push_back(line); });
            } catch (const std::exception &) {
                threw = true;
            }
        });
        (void)threw; // propagating or swallowing is the caller's business; the answer is not
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.size());
        CPPUNIT_ASSERT_MESSAGE(results[0], hasResultShape(results[0], "\"T\"", false));
        CPPUNIT_ASSERT_EQUAL(std::string("internal-error"), errorCode(results[0]));
    }

    void testTableIsComplete() {
        const lanspread_control_v1 *table = _control->table();
        CPPUNIT_ASSERT(table != nullptr);
        CPPUNIT_ASSERT_EQUAL(uint32_t(sizeof(lanspread_control_v1)), table->struct_size);
        CPPUNIT_ASSERT(table->control_data != nullptr);
        CPPUNIT_ASSERT(table->submit && table->subscribe && table->unsubscribe);
    }

    void testSubmitFromThreadAnsweredOnReactorInOrder() {
        const std::thread::id loopId = _loop->loopThreadId();
        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        constexpr int kCommands = 100;
        std::vector<lanspread_status> statuses;
        std::thread submitter([&] {
            for (int i = 0; i < kCommands; ++i) {
                // Built by appending to a named string: GCC 12 at -O3 reports a false
                // -Wrestrict overlap for "literal" + std::to_string(i) (a temporary).
                const std::string n = std::to_string(i);
                std::string line = R"({"id":")" + n;
                if (i % 10 == 9) // invalid ones are answered in their place too
                    line += R"(","cmd":"nope"})";
                else
                    line += R"(","cmd":"echo","text":"t)" + n + R"("})";
                statuses.push_back(table->submit(table, line.c_str(), &onLine, &log));
            }
        });
        submitter.join();
        CPPUNIT_ASSERT_EQUAL(std::size_t(kCommands), statuses.size());
        for (lanspread_status status : statuses)
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, status);
        CPPUNIT_ASSERT(waitUntil([&] { return log.count() >= kCommands; }));
        _loop->flush();
        std::lock_guard<std::mutex> lock(log.mutex);
        CPPUNIT_ASSERT_EQUAL(std::size_t(kCommands), log.lines.size());
        for (int i = 0; i < kCommands; ++i) {
            const std::string &line = log.lines[static_cast<std::size_t>(i)];
            const std::string n = std::to_string(i);
            CPPUNIT_ASSERT_MESSAGE(line, hasResultShape(line, "\"" + n + "\"", i % 10 != 9));
            if (i % 10 != 9)
                CPPUNIT_ASSERT_EQUAL(
                    "t" + n, parseObject(line)->getObject("data")->getValue<std::string>("text"));
            CPPUNIT_ASSERT(log.threads[static_cast<std::size_t>(i)] == loopId);
        }
    }

    void testSubmitNullArguments() {
        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             table->submit(nullptr, R"({"cmd":"ordered"})", &onLine, &log));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             table->submit(table, nullptr, &onLine, &log));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             table->submit(table, R"({"cmd":"ordered"})", nullptr, &log));
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count());
    }

    void testSubmitAfterCloseFails() {
        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             table->submit(table, R"({"id":"a","cmd":"ordered"})", &onLine, &log));
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.count());
        _control->close();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED,
                             table->submit(table, R"({"id":"b","cmd":"ordered"})", &onLine, &log));
        lanspread_status fromThread = LANSPREAD_OK;
        std::thread other([&] {
            fromThread = table->submit(table, R"({"id":"c","cmd":"ordered"})", &onLine, &log);
        });
        other.join();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, fromThread);
        _loop->flush();
        std::this_thread::sleep_for(20ms);
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.count());
    }

    void testSubmitAfterReactorStopFails() {
        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        _loop->stop();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED,
                             table->submit(table, R"({"id":"a","cmd":"ordered"})", &onLine, &log));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count());
    }

    void testSubscribeDeliversEventsUntilUnsubscribed() {
        const lanspread_control_v1 *table = _control->table();
        const std::thread::id loopId = _loop->loopThreadId();
        LineLog first;
        LineLog second;
        uint64_t subFirst = 0;
        uint64_t subSecond = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, table->subscribe(table, &onLine, &first, &subFirst));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 table->subscribe(table, &onLine, &second, &subSecond));
            CPPUNIT_ASSERT(subFirst != subSecond);
            Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
            payload.set("peer_id", "p1");
            payload.set("addr", "10.0.0.2:4000");
            _events->publish("peer-connected", payload);
        });
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), first.count());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), second.count());
        {
            std::lock_guard<std::mutex> lock(first.mutex);
            const std::string &line = first.lines[0];
            CPPUNIT_ASSERT_MESSAGE(line,
                                   line.rfind(R"({"event":"peer-connected","ts_ms":)", 0) == 0);
            Poco::JSON::Object::Ptr event = parseObject(line);
            CPPUNIT_ASSERT_EQUAL(std::string("p1"), event->getValue<std::string>("peer_id"));
            CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2:4000"),
                                 event->getValue<std::string>("addr"));
            CPPUNIT_ASSERT(first.threads[0] == loopId);
        }

        // Results go to the submitter only, never to subscribers.
        LineLog results;
        CPPUNIT_ASSERT_EQUAL(
            LANSPREAD_OK, table->submit(table, R"({"id":"r","cmd":"ordered"})", &onLine, &results));
        _loop->flush();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), results.count());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), first.count());

        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, table->unsubscribe(table, subFirst));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, table->unsubscribe(table, subFirst));
            Poco::JSON::Object payload;
            payload.set("peer_id", "p1");
            payload.set("reason", "timeout");
            _events->publish("peer-lost", payload);
        });
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), first.count());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), second.count());
        {
            std::lock_guard<std::mutex> lock(second.mutex);
            CPPUNIT_ASSERT_EQUAL(std::string("peer-lost"),
                                 parseObject(second.lines[1])->getValue<std::string>("event"));
        }
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, table->unsubscribe(table, subSecond));
            _events->publish("peer-lost", Poco::JSON::Object());
        });
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), second.count());
    }

    void testSubscribeErrors() {
        const lanspread_control_v1 *table = _control->table();
        LineLog log;
        uint64_t sub = 0;
        _loop->call([&] {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                                 table->subscribe(nullptr, &onLine, &log, &sub));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                                 table->subscribe(table, nullptr, &log, &sub));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                                 table->subscribe(table, &onLine, &log, nullptr));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, table->unsubscribe(nullptr, 1));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, table->unsubscribe(table, 424242));
            _events->publish("anything", Poco::JSON::Object());
        });
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count());
    }

  private:
    // Runs handleLine on the reactor thread; returns the result lines delivered by the time
    // it returned (a deferred Reply delivers into _lastCollected later).
    std::vector<std::string> handle(const std::string &line) {
        _lastCollected.clear();
        _loop->call([this, line] {
            _control->handleLine(
                line, [this](const std::string &result) { _lastCollected.push_back(result); });
        });
        return _lastCollected;
    }

    // Asserts line is answered once with invalid-command and the given id; returns the message.
    std::string expectInvalid(const std::string &line, const std::string &idJson) {
        std::vector<std::string> results = handle(line);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(line, std::size_t(1), results.size());
        CPPUNIT_ASSERT_MESSAGE(line + " -> " + results[0],
                               hasResultShape(results[0], idJson, false));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(line, std::string("invalid-command"), errorCode(results[0]));
        return parseObject(results[0])->getObject("error")->getValue<std::string>("message");
    }

    static std::string errorCode(const std::string &line) {
        return parseObject(line)->getObject("error")->getValue<std::string>("code");
    }

    std::unique_ptr<EventBus> _events;
    std::unique_ptr<LoopThread> _loop;
    std::unique_ptr<ControlService> _control;
    std::vector<std::string> _calls;                              // reactor thread, then read
    std::vector<std::unique_ptr<ControlService::Reply>> _pending; // deferred replies
    std::vector<std::string> _lastCollected;
};

CPPUNIT_TEST_SUITE_REGISTRATION(ControlServiceTest);
