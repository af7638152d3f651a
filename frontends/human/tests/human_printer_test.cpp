// What the printer adds for the lanspread client: leaving while downloads go on (each bar
// becomes a line saying where it was), and the discovery sentence, said once.
#include "human_printer.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <string>

using lanspread::human::HumanPrinter;

class HumanPrinterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HumanPrinterTest);
    CPPUNIT_TEST(leavingSaysWhereEachDownloadWas);
    CPPUNIT_TEST(leavingALiveAreaClearsTheBars);
    CPPUNIT_TEST(discoveryIsSaidOnceAndAgainOnlyWhenItChanges);
    CPPUNIT_TEST_SUITE_END();

  public:
    void leavingSaysWhereEachDownloadWas() {
        HumanPrinter printer(false, [] { return std::size_t(80); });
        CPPUNIT_ASSERT_EQUAL(std::string(), printer.leave());
        printer.event(R"({"event":"download-progress","ts_ms":1,"game":"ggoo",)"
                      R"("bytes_done":33554432,"bytes_total":67108864,"mib_per_s":16.0,)"
                      R"("active_peers":1})");
        CPPUNIT_ASSERT(printer.downloading());
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo: still downloading, 32.0/64.0 MiB\n"),
                             printer.leave());
        CPPUNIT_ASSERT(!printer.downloading());
    }

    void leavingALiveAreaClearsTheBars() {
        HumanPrinter printer(true, [] { return std::size_t(100); });
        const std::string bar =
            printer.event(R"({"event":"download-progress","ts_ms":1,"game":"ggoo",)"
                          R"("bytes_done":1048576,"bytes_total":2097152,"mib_per_s":1.0,)"
                          R"("active_peers":1})");
        CPPUNIT_ASSERT_MESSAGE(bar, bar.find("1.0/2.0 MiB  1.0 MiB/s") != std::string::npos);
        // Up over the bar, clear to the end of the screen, the line, no bar drawn again.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[1A\x1b[Jggoo: still downloading, 1.0/2.0 MiB\n"),
                             printer.leave());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), printer.area().drawnRows());
    }

    void discoveryIsSaidOnceAndAgainOnlyWhenItChanges() {
        HumanPrinter printer(false, [] { return std::size_t(80); });
        const std::string notWorking =
            R"({"event":"result","id":"s","ok":true,"data":{"discovery":{"state":"not-working",)"
            R"("plugin":"org.lanspread.discovery.dnssd","reason":"avahi-daemon is not running"}}})";
        CPPUNIT_ASSERT_EQUAL(
            std::string("not discoverable: avahi-daemon is not running; direct connect works\n"),
            printer.discovery(notWorking));
        CPPUNIT_ASSERT_EQUAL(std::string(), printer.discovery(notWorking));
        CPPUNIT_ASSERT_EQUAL(
            std::string("discoverable again: peers on the LAN can find this one\n"),
            printer.event(R"({"event":"discovery-state","ts_ms":1,"plugin":"x",)"
                          R"("state":"working","reason":""})"));
        CPPUNIT_ASSERT_EQUAL(std::string(), printer.event(R"({"event":"discovery-state",)"
                                                          R"("ts_ms":2,"state":"working"})"));
        // Off (no discovery plugin), or a status without the object: nothing to say.
        HumanPrinter quiet(false, [] { return std::size_t(80); });
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             quiet.discovery(R"({"event":"result","ok":true,"data":{"discovery":)"
                                             R"({"state":"off","plugin":"","reason":""}}})"));
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             quiet.discovery(R"({"event":"result","ok":true,"data":{}})"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HumanPrinterTest);
