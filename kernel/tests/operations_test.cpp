#include <lanspread/kernel/runtime/operations.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <string>

using namespace lanspread::kernel::runtime;

class OperationsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(OperationsTest);
    CPPUNIT_TEST(singleFlightPerGame);
    CPPUNIT_TEST(everyChangePublishesTheSnapshot);
    CPPUNIT_TEST_SUITE_END();

  public:
    void singleFlightPerGame() {
        OperationsTable t;
        CPPUNIT_ASSERT(t.begin("a", Operation::Installing));
        CPPUNIT_ASSERT(!t.begin("a", Operation::Uninstalling));
        CPPUNIT_ASSERT(t.current("a") == Operation::Installing);
        CPPUNIT_ASSERT(t.begin("b", Operation::Downloading));
        t.end("a");
        CPPUNIT_ASSERT(!t.current("a").has_value());
        CPPUNIT_ASSERT(t.begin("a", Operation::Uninstalling));
    }

    void everyChangePublishesTheSnapshot() {
        OperationsTable t;
        std::vector<std::string> snapshots;
        t.setListener([&](const OperationsTable &table) {
            std::string snapshot;
            for (const auto &[game, operation] : table.view())
                snapshot += game + "=" + operation + ";";
            snapshots.push_back(snapshot);
        });
        t.begin("g", Operation::Downloading);
        t.begin("g", Operation::Installing); // refused: no snapshot
        t.transition("g", Operation::Installing);
        t.end("g");
        t.end("g"); // nothing to end: no snapshot
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), snapshots.size());
        CPPUNIT_ASSERT_EQUAL(std::string("g=Downloading;"), snapshots[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("g=Installing;"), snapshots[1]);
        CPPUNIT_ASSERT_EQUAL(std::string(""), snapshots[2]);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OperationsTest);
