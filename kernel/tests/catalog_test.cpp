#include <lanspread/kernel/catalog/catalog.hpp>

#include <cppunit/extensions/HelperMacros.h>

using lanspread::kernel::catalog::Catalog;

class CatalogTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CatalogTest);
    CPPUNIT_TEST(parsesGamesInOrder);
    CPPUNIT_TEST(rejectsWhatIsWrongNamingIt);
    CPPUNIT_TEST(gameIdsAreSafePathComponents);
    CPPUNIT_TEST(bundledCatalogLoads);
    CPPUNIT_TEST(missingFileNamesIt);
    CPPUNIT_TEST_SUITE_END();

  public:
    void parsesGamesInOrder() {
        auto c = Catalog::parse(R"({"games":[{"id":"b","name":"B","version":"2","description":"x"},
                                              {"id":"a","name":"A","version":"1"}]})",
                                "test");
        CPPUNIT_ASSERT_MESSAGE(c.status().describe(), c.ok());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.value().games().size());
        CPPUNIT_ASSERT_EQUAL(std::string("b"), c.value().games()[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("1"), c.value().find("a")->version);
        CPPUNIT_ASSERT(c.value().find("c") == nullptr);
    }

    void rejectsWhatIsWrongNamingIt() {
        expectError("not json", "not valid JSON");
        expectError("[]", "must be a JSON object");
        expectError("{}", "no \"games\" array");
        expectError(R"({"games":[1]})", "games[0] is not an object");
        expectError(R"({"games":[{"name":"A","version":"1"}]})", "games[0] needs a string \"id\"");
        expectError(R"({"games":[{"id":"a","name":"A"}]})", "needs a string \"version\"");
        expectError(R"({"games":[{"id":"a","name":"A","version":""}]})", "non-empty version");
        expectError(
            R"({"games":[{"id":"a","name":"A","version":"1"},{"id":"a","name":"A","version":"1"}]})",
            "appears twice");
        expectError(R"({"games":[{"id":"../x","name":"A","version":"1"}]})", "not a valid game id");
    }

    void gameIdsAreSafePathComponents() {
        for (const char *good : {"cnctw", "bf1942", "a.b_c-d"})
            CPPUNIT_ASSERT_MESSAGE(good, Catalog::validGameId(good));
        for (const char *bad : {"", ".", "..", "a/b", "A", "a b", "a\\b"})
            CPPUNIT_ASSERT_MESSAGE(bad, !Catalog::validGameId(bad));
    }

    void bundledCatalogLoads() {
        auto c = Catalog::load(LANSPREAD_SOURCE_DIR "/data/catalog.json");
        CPPUNIT_ASSERT_MESSAGE(c.status().describe(), c.ok());
        for (const char *id :
             {"alienswarm", "bf1942", "ggoo", "bfbc2", "cnc4", "cnctw", "cod5", "css"})
            CPPUNIT_ASSERT_MESSAGE(id, c.value().find(id) != nullptr);
    }

    void missingFileNamesIt() {
        auto c = Catalog::load("/nonexistent/catalog.json");
        CPPUNIT_ASSERT(!c.ok());
        CPPUNIT_ASSERT(c.status().message().find("/nonexistent/catalog.json") != std::string::npos);
    }

  private:
    static void expectError(const std::string &json, const std::string &needle) {
        auto c = Catalog::parse(json, "test.json");
        CPPUNIT_ASSERT_MESSAGE(json, !c.ok());
        CPPUNIT_ASSERT_MESSAGE(c.status().message(),
                               c.status().message().find(needle) != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(c.status().message(),
                               c.status().message().find("test.json") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CatalogTest);
