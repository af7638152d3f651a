#include <lanspread/kernel/host/event_bus.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSONString.h>

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::host::EventBus;

namespace {

Poco::JSON::Object::Ptr parse(const std::string &line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

bool startsWith(const std::string &text, const std::string &prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

class EventBusTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EventBusTest);
    CPPUNIT_TEST(testLineFormatExactly);
    CPPUNIT_TEST(testLineParsesBackWithEveryValueKind);
    CPPUNIT_TEST(testFormatLineMatchesPublish);
    CPPUNIT_TEST(testEmptyPayload);
    CPPUNIT_TEST(testTopicAndKeysAreEscaped);
    CPPUNIT_TEST(testPayloadCannotOverrideEventOrTs);
    CPPUNIT_TEST(testTsMsIsNow);
    CPPUNIT_TEST(testSubscribersCalledInSubscriptionOrder);
    CPPUNIT_TEST(testUnsubscribeInsideCallback);
    CPPUNIT_TEST(testSubscribeInsideCallback);
    CPPUNIT_TEST(testThrowingSubscriberDoesNotStopOthers);
    CPPUNIT_TEST(testConcurrentPublishAndSubscribe);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testLineFormatExactly() {
        EventBus bus;
        std::string gotTopic, line;
        bus.subscribe([&](const std::string &topic, const std::string &jsonLine) {
            gotTopic = topic;
            line = jsonLine;
        });
        // Insertion order (not key order) must reach the line.
        Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
        payload.set("zeta", 1);
        payload.set("alpha", "a\"b\n");
        payload.set("ok", true);
        bus.publish("x", payload);

        CPPUNIT_ASSERT_EQUAL(std::string("x"), gotTopic);
        CPPUNIT_ASSERT(startsWith(line, "{\"event\":\"x\",\"ts_ms\":"));
        const auto parsed = parse(line);
        const int64_t ts = parsed->getValue<int64_t>("ts_ms");
        const std::string expected = "{\"event\":\"x\",\"ts_ms\":" + std::to_string(ts) +
                                     ",\"zeta\":1,\"alpha\":\"a\\\"b\\n\",\"ok\":true}";
        CPPUNIT_ASSERT_EQUAL(expected, line);
        CPPUNIT_ASSERT(line.find('\n') == std::string::npos); // one line
    }

    void testLineParsesBackWithEveryValueKind() {
        EventBus bus;
        std::string line;
        bus.subscribe([&](const std::string &, const std::string &jsonLine) { line = jsonLine; });
        Poco::JSON::Object::Ptr nested = new Poco::JSON::Object;
        nested->set("bytes", 123456789012LL);
        Poco::JSON::Array::Ptr peers = new Poco::JSON::Array;
        peers->add("10.0.0.1:4000");
        peers->add("10.0.0.2:4000");
        Poco::JSON::Object payload; // default: key order
        payload.set("game", "cnctw");
        payload.set("mib_per_s", 12.5);
        payload.set("sources", nested);
        payload.set("peers", peers);
        payload.set("nothing", Poco::Dynamic::Var());
        bus.publish("download-finished", payload);

        CPPUNIT_ASSERT(startsWith(line, "{\"event\":\"download-finished\",\"ts_ms\":"));
        const auto parsed = parse(line);
        CPPUNIT_ASSERT_EQUAL(std::string("download-finished"),
                             parsed->getValue<std::string>("event"));
        CPPUNIT_ASSERT_EQUAL(std::string("cnctw"), parsed->getValue<std::string>("game"));
        CPPUNIT_ASSERT_DOUBLES_EQUAL(12.5, parsed->getValue<double>("mib_per_s"), 1e-9);
        CPPUNIT_ASSERT_EQUAL(int64_t(123456789012LL),
                             parsed->getObject("sources")->getValue<int64_t>("bytes"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parsed->getArray("peers")->size());
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2:4000"),
                             parsed->getArray("peers")->getElement<std::string>(1));
        CPPUNIT_ASSERT(parsed->isNull("nothing"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), parsed->size());
        // Key order for an object built without JSON_PRESERVE_KEY_ORDER.
        CPPUNIT_ASSERT(line.find("\"game\"") < line.find("\"mib_per_s\""));
        CPPUNIT_ASSERT(line.find("\"mib_per_s\"") < line.find("\"peers\""));
    }

    void testFormatLineMatchesPublish() {
        Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
        payload.set("id", "7");
        payload.set("ok", true);
        const std::string line = EventBus::formatLine("result", payload);
        const int64_t ts = parse(line)->getValue<int64_t>("ts_ms");
        CPPUNIT_ASSERT_EQUAL("{\"event\":\"result\",\"ts_ms\":" + std::to_string(ts) +
                                 ",\"id\":\"7\",\"ok\":true}",
                             line);
    }

    void testEmptyPayload() {
        EventBus bus;
        std::string line;
        bus.subscribe([&](const std::string &, const std::string &jsonLine) { line = jsonLine; });
        bus.publish("cli-started", Poco::JSON::Object());
        const auto parsed = parse(line);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parsed->size());
        CPPUNIT_ASSERT_EQUAL("{\"event\":\"cli-started\",\"ts_ms\":" +
                                 std::to_string(parsed->getValue<int64_t>("ts_ms")) + "}",
                             line);
    }

    void testTopicAndKeysAreEscaped() {
        EventBus bus;
        std::string line;
        bus.subscribe([&](const std::string &, const std::string &jsonLine) { line = jsonLine; });
        const std::string topic = "we\"ird\\topic\t\xc3\xa9";
        Poco::JSON::Object payload;
        payload.set("k\"ey", "v");
        bus.publish(topic, payload);
        const auto parsed = parse(line);
        CPPUNIT_ASSERT_EQUAL(topic, parsed->getValue<std::string>("event"));
        CPPUNIT_ASSERT_EQUAL(std::string("v"), parsed->getValue<std::string>("k\"ey"));
    }

    void testPayloadCannotOverrideEventOrTs() {
        EventBus bus;
        std::string line;
        bus.subscribe([&](const std::string &, const std::string &jsonLine) { line = jsonLine; });
        Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
        payload.set("event", "forged");
        payload.set("ts_ms", 1);
        payload.set("game", "g");
        bus.publish("real", payload);
        CPPUNIT_ASSERT(startsWith(line, "{\"event\":\"real\",\"ts_ms\":"));
        CPPUNIT_ASSERT(line.find("forged") == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string::npos, line.find("\"ts_ms\"", line.find("\"ts_ms\"") + 1));
        CPPUNIT_ASSERT_EQUAL(std::string("g"), parse(line)->getValue<std::string>("game"));
    }

    void testTsMsIsNow() {
        EventBus bus;
        std::string line;
        bus.subscribe([&](const std::string &, const std::string &jsonLine) { line = jsonLine; });
        const int64_t before = EventBus::nowUnixMs();
        bus.publish("tick", Poco::JSON::Object());
        const int64_t ts = parse(line)->getValue<int64_t>("ts_ms");
        // Unix epoch milliseconds (not monotonic, not seconds): after 2020-01-01.
        CPPUNIT_ASSERT(before > 1577836800000LL);
        CPPUNIT_ASSERT(std::llabs(ts - before) < 1000);
    }

    void testSubscribersCalledInSubscriptionOrder() {
        EventBus bus;
        std::vector<int> order;
        for (int i = 0; i < 5; ++i)
            CPPUNIT_ASSERT(bus.subscribe([&order, i](const std::string &, const std::string &) {
                order.push_back(i);
            }) != 0);
        bus.publish("t", Poco::JSON::Object());
        CPPUNIT_ASSERT((order == std::vector<int>{0, 1, 2, 3, 4}));
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), bus.subscribe(nullptr));
    }

    void testUnsubscribeInsideCallback() {
        EventBus bus;
        int selfCalls = 0, killerCalls = 0, victimCalls = 0;
        uint64_t selfId = 0, victimId = 0;
        bool selfRemoved = false, victimRemoved = false;
        selfId = bus.subscribe([&](const std::string &, const std::string &) {
            ++selfCalls;
            selfRemoved = bus.unsubscribe(selfId);
        });
        bus.subscribe([&](const std::string &, const std::string &) {
            ++killerCalls;
            if (killerCalls == 1)
                victimRemoved = bus.unsubscribe(victimId);
        });
        // Subscribed after the killer, so it is still ahead in the first publish.
        victimId = bus.subscribe([&](const std::string &, const std::string &) { ++victimCalls; });

        bus.publish("one", Poco::JSON::Object());
        bus.publish("two", Poco::JSON::Object());
        CPPUNIT_ASSERT(selfRemoved);
        CPPUNIT_ASSERT(victimRemoved);
        CPPUNIT_ASSERT_EQUAL(1, selfCalls);
        CPPUNIT_ASSERT_EQUAL(2, killerCalls);
        CPPUNIT_ASSERT_EQUAL(0, victimCalls);
        CPPUNIT_ASSERT(!bus.unsubscribe(selfId));
        CPPUNIT_ASSERT(!bus.unsubscribe(999));
    }

    void testSubscribeInsideCallback() {
        EventBus bus;
        std::vector<std::string> lateTopics;
        bool added = false;
        bus.subscribe([&](const std::string &, const std::string &) {
            if (added)
                return;
            added = true;
            bus.subscribe([&](const std::string &topic, const std::string &) {
                lateTopics.push_back(topic);
            });
        });
        bus.publish("first", Poco::JSON::Object());
        bus.publish("second", Poco::JSON::Object());
        // Joins from the next event on.
        CPPUNIT_ASSERT((lateTopics == std::vector<std::string>{"second"}));
    }

    void testThrowingSubscriberDoesNotStopOthers() {
        EventBus bus;
        int after = 0;
        bus.subscribe([](const std::string &, const std::string &) {
            throw std::runtime_error("test: subscriber throws");
        });
        bus.subscribe([&](const std::string &, const std::string &) { ++after; });
        bus.publish("t", Poco::JSON::Object());
        CPPUNIT_ASSERT_EQUAL(1, after);
    }

    void testConcurrentPublishAndSubscribe() {
        // For the sanitizers: publish from several threads while others (un)subscribe.
        EventBus bus;
        std::atomic<int> delivered{0};
        bus.subscribe([&](const std::string &, const std::string &) { ++delivered; });
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t)
            threads.emplace_back([&] {
                Poco::JSON::Object payload;
                payload.set("n", 1);
                for (int i = 0; i < 200; ++i)
                    bus.publish("p", payload);
            });
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                const uint64_t id = bus.subscribe([](const std::string &, const std::string &) {});
                bus.unsubscribe(id);
            }
        });
        for (std::thread &thread : threads)
            thread.join();
        CPPUNIT_ASSERT_EQUAL(600, delivered.load());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(EventBusTest);
