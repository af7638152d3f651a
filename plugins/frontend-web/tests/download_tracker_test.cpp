// DownloadTracker: what GET /api/v1/state reports about running downloads, built from the
// kernel's events: bytes, rate, bytes per source, and when a download leaves the list.
#include "download_tracker.hpp"

#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

using lanspread::plugins::web::DownloadTracker;

namespace {
Poco::JSON::Object::Ptr parse(const std::string &line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}
} // namespace

class DownloadTrackerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DownloadTrackerTest);
    CPPUNIT_TEST(testBeginProgressAndSources);
    CPPUNIT_TEST(testFinalEventsEndTheDownload);
    CPPUNIT_TEST(testActiveOperationsDropsAForgottenDownload);
    CPPUNIT_TEST(testUnrelatedEventsOnlyAdvanceTheId);
    CPPUNIT_TEST(testJsonShape);
    CPPUNIT_TEST_SUITE_END();

    DownloadTracker _tracker;
    uint64_t _id = 0;
    void feed(const std::string &line) { _tracker.apply(*parse(line), ++_id); }

    void beginGgoo() {
        feed(R"({"event":"download-begin","ts_ms":1000,"game":"ggoo","bytes_total":4194304,)"
             R"("bytes_resumed":1048576,"peers":["10.0.0.1:4433","10.0.0.2:4433"]})");
    }

  public:
    void testBeginProgressAndSources() {
        beginGgoo();
        auto snap = _tracker.snapshot();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), snap.downloads.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(1048576), snap.downloads[0].bytesDone); // resumed bytes
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), snap.downloads[0].peers.size());
        feed(R"({"event":"download-chunk-finished","ts_ms":1100,"game":"ggoo","path":"a.eti",)"
             R"("offset":0,"bytes":1048576,"peer_id":"p1","peer_addr":"10.0.0.1:4433"})");
        feed(R"({"event":"download-chunk-finished","ts_ms":1200,"game":"ggoo","path":"a.eti",)"
             R"("offset":1048576,"bytes":1048576,"peer_id":"p2","peer_addr":"10.0.0.2:4433"})");
        feed(R"({"event":"download-chunk-finished","ts_ms":1300,"game":"ggoo","path":"a.eti",)"
             R"("offset":2097152,"bytes":524288,"peer_id":"p1","peer_addr":"10.0.0.1:4433"})");
        feed(R"({"event":"download-progress","ts_ms":1500,"game":"ggoo","bytes_done":3670016,)"
             R"("bytes_total":4194304,"mib_per_s":5.5,"active_peers":2})");
        snap = _tracker.snapshot();
        const auto &d = snap.downloads.at(0);
        CPPUNIT_ASSERT_EQUAL(uint64_t(5), snap.appliedThroughId);
        CPPUNIT_ASSERT_EQUAL(uint64_t(3670016), d.bytesDone);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(5.5, d.mibPerS, 1e-9);
        CPPUNIT_ASSERT_EQUAL(int64_t(2), d.activePeers);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), d.sources.size());
        CPPUNIT_ASSERT_EQUAL(std::string("p1"), d.sources[0].peerId); // first to deliver first
        CPPUNIT_ASSERT_EQUAL(uint64_t(1572864), d.sources[0].bytes);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2:4433"), d.sources[1].addr);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1048576), d.sources[1].bytes);
        CPPUNIT_ASSERT_EQUAL(int64_t(1000), d.startedMs);
        CPPUNIT_ASSERT_EQUAL(int64_t(1500), d.updatedMs);
    }

    void testFinalEventsEndTheDownload() {
        for (const char *final : {"download-finished", "download-failed", "download-cancelled"}) {
            beginGgoo();
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), _tracker.snapshot().downloads.size());
            feed(std::string(R"({"event":")") + final + R"(","ts_ms":2000,"game":"ggoo"})");
            CPPUNIT_ASSERT_MESSAGE(final, _tracker.snapshot().downloads.empty());
        }
        // A second begin (a resumed download) starts the per-source counts over.
        beginGgoo();
        CPPUNIT_ASSERT(_tracker.snapshot().downloads[0].sources.empty());
    }

    void testActiveOperationsDropsAForgottenDownload() {
        beginGgoo();
        feed(R"({"event":"active-operations","ts_ms":1,"operations":{"ggoo":"Downloading"}})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _tracker.snapshot().downloads.size());
        feed(R"({"event":"active-operations","ts_ms":1,"operations":{"ggoo":"StreamInstalling"}})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _tracker.snapshot().downloads.size());
        feed(R"({"event":"active-operations","ts_ms":2,"operations":{"ggoo":"Installing"}})");
        CPPUNIT_ASSERT(_tracker.snapshot().downloads.empty());
    }

    void testUnrelatedEventsOnlyAdvanceTheId() {
        feed(R"({"event":"peer-connected","ts_ms":1,"peer_id":"p","addr":"a","name":"n"})");
        feed(R"({"event":"download-progress","ts_ms":1,"game":"unknown","bytes_done":5})");
        auto snap = _tracker.snapshot();
        CPPUNIT_ASSERT(snap.downloads.empty()); // progress of a download never begun: ignored
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), snap.appliedThroughId);
    }

    void testJsonShape() {
        beginGgoo();
        feed(R"({"event":"download-chunk-finished","ts_ms":1100,"game":"ggoo","bytes":7,)"
             R"("peer_id":"p1","peer_addr":"10.0.0.1:4433"})");
        auto json = DownloadTracker::toJson(_tracker.snapshot().downloads);
        auto d = json->getObject(0);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo"), d->getValue<std::string>("game"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(4194304), d->getValue<uint64_t>("bytes_total"));
        auto source = d->getArray("sources")->getObject(0);
        CPPUNIT_ASSERT_EQUAL(std::string("p1"), source->getValue<std::string>("peer_id"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(7), source->getValue<uint64_t>("bytes"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), d->getArray("peers")->size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DownloadTrackerTest);
