#include <lanspread/kernel/transfer/manifest_vote.hpp>

#include <cppunit/extensions/HelperMacros.h>

using lanspread::kernel::protocol::FileDescription;
using lanspread::kernel::protocol::GameFiles;
using lanspread::kernel::transfer::voteManifest;

namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

GameFiles listOf(const std::string &version, uint64_t etiSize,
                 const std::string &etiHash = kHashA) {
    GameFiles g;
    g.game = "ggoo";
    g.version = version;
    g.files.push_back(FileDescription{"ggoo.eti", etiSize, {etiHash}});
    g.files.push_back(FileDescription{"version.ini", 8, {kHashB}});
    return g;
}

bool contains(const std::string &text, const std::string &needle) {
    return text.find(needle) != std::string::npos;
}

} // namespace

class ManifestVoteTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ManifestVoteTest);
    CPPUNIT_TEST(S7_identicalAnswersVoteTogether);
    CPPUNIT_TEST(majorityWinsAndOnlyItsPeersAreSources);
    CPPUNIT_TEST(S8_twoConflictingListsFailNamingTheDifference);
    CPPUNIT_TEST(differentChunkHashIsAConflict);
    CPPUNIT_TEST(extraFileIsAConflict);
    CPPUNIT_TEST(tieForFirstPlaceFailsEvenWithALoserGroup);
    CPPUNIT_TEST(S15_S36_staleAnswersDoNotVote);
    CPPUNIT_TEST(S17_staleAnswerCannotRescueAMajority);
    CPPUNIT_TEST(answersForAnotherGameDoNotVote);
    CPPUNIT_TEST(noValidAnswerIsAnError);
    CPPUNIT_TEST_SUITE_END();

  public:
    void S7_identicalAnswersVoteTogether() {
        auto r =
            voteManifest("ggoo", "1", {{"bravo", listOf("1", 100)}, {"alpha", listOf("1", 100)}});
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT(r.value().files == listOf("1", 100));
        CPPUNIT_ASSERT(r.value().sources == (std::vector<std::string>{"alpha", "bravo"}));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), r.value().voters);
    }

    void majorityWinsAndOnlyItsPeersAreSources() {
        auto r = voteManifest(
            "ggoo", "1",
            {{"a", listOf("1", 100)}, {"b", listOf("1", 200)}, {"c", listOf("1", 200)}});
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT_EQUAL(uint64_t(200), r.value().files.files[0].size);
        CPPUNIT_ASSERT(r.value().sources == (std::vector<std::string>{"b", "c"}));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), r.value().voters);
    }

    void S8_twoConflictingListsFailNamingTheDifference() {
        auto r =
            voteManifest("ggoo", "1", {{"alpha", listOf("1", 100)}, {"bravo", listOf("1", 200)}});
        CPPUNIT_ASSERT(!r.ok());
        const std::string &m = r.status().message();
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "conflicting file lists for ggoo"));
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "[alpha]"));
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "[bravo]"));
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "ggoo.eti size 100 vs 200"));
    }

    void differentChunkHashIsAConflict() {
        auto r = voteManifest("ggoo", "1",
                              {{"alpha", listOf("1", 100)}, {"bravo", listOf("1", 100, kHashB)}});
        CPPUNIT_ASSERT(!r.ok());
        CPPUNIT_ASSERT_MESSAGE(r.status().message(),
                               contains(r.status().message(), "ggoo.eti chunk 0 hash differs"));
    }

    void extraFileIsAConflict() {
        GameFiles more = listOf("1", 100);
        more.files.push_back(FileDescription{"z.txt", 1, {kHashA}});
        auto r = voteManifest("ggoo", "1", {{"alpha", listOf("1", 100)}, {"bravo", more}});
        CPPUNIT_ASSERT(!r.ok());
        CPPUNIT_ASSERT_MESSAGE(r.status().message(), contains(r.status().message(), "z.txt"));
    }

    void tieForFirstPlaceFailsEvenWithALoserGroup() {
        auto r = voteManifest("ggoo", "1",
                              {{"a", listOf("1", 100)},
                               {"b", listOf("1", 100)},
                               {"c", listOf("1", 200)},
                               {"d", listOf("1", 200)},
                               {"e", listOf("1", 300)}});
        CPPUNIT_ASSERT(!r.ok());
        const std::string &m = r.status().message();
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "[a, b]"));
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "[c, d]"));
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "[e]"));
    }

    void S15_S36_staleAnswersDoNotVote() {
        // Four stale peers agree with each other; the one catalog-version peer still wins.
        auto r = voteManifest("ggoo", "2",
                              {{"a", listOf("1", 100)},
                               {"b", listOf("1", 100)},
                               {"c", listOf("1", 100)},
                               {"d", listOf("1", 100)},
                               {"e", listOf("2", 500)}});
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT(r.value().sources == std::vector<std::string>{"e"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), r.value().voters);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), r.value().files.version);
        CPPUNIT_ASSERT_EQUAL(uint64_t(500), r.value().files.files[0].size);
    }

    void S17_staleAnswerCannotRescueAMajority() {
        // A (stale) describes the same files as B; B and C (catalog version) conflict.
        GameFiles staleLikeB = listOf("2", 100);
        staleLikeB.version = "1";
        auto r = voteManifest(
            "ggoo", "2", {{"a", staleLikeB}, {"b", listOf("2", 100)}, {"c", listOf("2", 200)}});
        CPPUNIT_ASSERT(!r.ok());
        const std::string &m = r.status().message();
        CPPUNIT_ASSERT_MESSAGE(m, contains(m, "conflicting file lists for ggoo"));
        CPPUNIT_ASSERT_MESSAGE(m, !contains(m, "[a"));
    }

    void answersForAnotherGameDoNotVote() {
        GameFiles other = listOf("1", 200);
        other.game = "cnctw";
        auto r = voteManifest("ggoo", "1", {{"a", listOf("1", 100)}, {"b", other}, {"c", other}});
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT(r.value().sources == std::vector<std::string>{"a"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), r.value().voters);
    }

    void noValidAnswerIsAnError() {
        auto none = voteManifest("ggoo", "1", {});
        CPPUNIT_ASSERT(!none.ok());
        CPPUNIT_ASSERT_MESSAGE(none.status().message(),
                               contains(none.status().message(), "no source described ggoo"));
        auto stale = voteManifest("ggoo", "2", {{"a", listOf("1", 100)}});
        CPPUNIT_ASSERT(!stale.ok());
        CPPUNIT_ASSERT(contains(stale.status().message(), "no source described ggoo"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ManifestVoteTest);
