// EventLog: ids from 1 without gaps, the bounded replay window, the gap verdicts a reconnecting
// page depends on, and that waiting readers wake on append and on close.
#include "event_log.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <thread>

using lanspread::plugins::web::EventLog;
using namespace std::chrono_literals;

class EventLogTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EventLogTest);
    CPPUNIT_TEST(testIdsStartAtOneWithoutGaps);
    CPPUNIT_TEST(testReplayReturnsEverythingAfterSince);
    CPPUNIT_TEST(testOldEventsFallOutOfTheWindow);
    CPPUNIT_TEST(testSinceAboveNewestIsAGap);
    CPPUNIT_TEST(testUpToDateReaderWaitsAndTimesOut);
    CPPUNIT_TEST(testWaitingReaderWakesOnAppend);
    CPPUNIT_TEST(testCloseWakesWaitingReader);
    CPPUNIT_TEST(testIdsFromAnEarlierRunAreAGap);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testIdsStartAtOneWithoutGaps() {
        EventLog log(8);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), log.newestId());
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), log.append("a"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), log.append("b"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), log.newestId());
    }

    void testReplayReturnsEverythingAfterSince() {
        EventLog log(8);
        for (const char *line : {"a", "b", "c", "d"})
            log.append(line);
        auto batch = log.after(1, 0ms);
        CPPUNIT_ASSERT(!batch.gap);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), batch.entries.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), batch.entries[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("b"), *batch.entries[0].line);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), *batch.entries[2].line);
        // A fresh page (since 0) of a log that still holds event 1 misses nothing.
        auto all = log.after(0, 0ms);
        CPPUNIT_ASSERT(!all.gap);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), all.entries.size());
    }

    void testOldEventsFallOutOfTheWindow() {
        EventLog log(3);
        for (int i = 0; i < 5; ++i)
            log.append("e" + std::to_string(i + 1));
        // Kept: 3, 4, 5. since=2 still gets all it missed; since=1 lost event 2.
        auto ok = log.after(2, 0ms);
        CPPUNIT_ASSERT(!ok.gap);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), ok.entries.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), ok.entries.front().id);
        auto lost = log.after(1, 0ms);
        CPPUNIT_ASSERT(lost.gap);
        CPPUNIT_ASSERT(lost.entries.empty());
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), lost.oldestId);
        CPPUNIT_ASSERT_EQUAL(uint64_t(5), lost.newestId);
    }

    void testSinceAboveNewestIsAGap() {
        EventLog log(4);
        log.append("a");
        auto batch = log.after(500, 0ms); // a page from before the peer restarted
        CPPUNIT_ASSERT(batch.gap);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), batch.newestId);
    }

    void testUpToDateReaderWaitsAndTimesOut() {
        EventLog log(4);
        log.append("a");
        const auto start = std::chrono::steady_clock::now();
        auto batch = log.after(1, 50ms);
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start >= 45ms);
        CPPUNIT_ASSERT(!batch.gap && !batch.closed && batch.entries.empty());
    }

    void testWaitingReaderWakesOnAppend() {
        EventLog log(4);
        std::thread writer([&] {
            std::this_thread::sleep_for(30ms);
            log.append("late");
        });
        const auto start = std::chrono::steady_clock::now();
        auto batch = log.after(0, 5s);
        writer.join();
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start < 2s);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), batch.entries.size());
        CPPUNIT_ASSERT_EQUAL(std::string("late"), *batch.entries[0].line);
    }

    void testCloseWakesWaitingReader() {
        EventLog log(4);
        std::thread closer([&] {
            std::this_thread::sleep_for(30ms);
            log.close();
        });
        const auto start = std::chrono::steady_clock::now();
        auto batch = log.after(0, 5s);
        closer.join();
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start < 2s);
        CPPUNIT_ASSERT(batch.closed);
        CPPUNIT_ASSERT(log.after(0, 5s).closed); // and later calls return at once
    }

    void testIdsFromAnEarlierRunAreAGap() {
        EventLog log(4, 5000); // a later run: ids from 5000
        CPPUNIT_ASSERT_EQUAL(uint64_t(4999), log.newestId());
        CPPUNIT_ASSERT(log.after(4999, 0ms).entries.empty()); // up to date, nothing missed
        CPPUNIT_ASSERT_EQUAL(uint64_t(5000), log.append("a"));
        CPPUNIT_ASSERT(!log.after(4999, 0ms).gap);
        auto old = log.after(17, 0ms); // the earlier run's id 17
        CPPUNIT_ASSERT(old.gap);
        CPPUNIT_ASSERT_EQUAL(uint64_t(5000), old.oldestId);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(EventLogTest);
