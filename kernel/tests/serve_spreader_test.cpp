// The seeder's spreading rule (serve_spreader.hpp): with several requesters, each chunk goes
// out once before any goes out twice; a lone requester is always served.
#include <lanspread/kernel/transfer/serve_spreader.hpp>

#include <cppunit/extensions/HelperMacros.h>

using lanspread::kernel::transfer::ServeSpreader;

namespace {
constexpr uint64_t kSecond = 1'000'000'000ull;
} // namespace

class ServeSpreaderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ServeSpreaderTest);
    CPPUNIT_TEST(loneRequesterIsAlwaysServed);
    CPPUNIT_TEST(chunkServedToAnotherRequesterIsRefused);
    CPPUNIT_TEST(onceEveryChunkWentOutDuplicatesAreServed);
    CPPUNIT_TEST(refusalLastsWhileTheFirstReceiverFetches);
    CPPUNIT_TEST(requestersGoQuietAndANewRoundStarts);
    CPPUNIT_TEST(gamesAreCountedApart);
    CPPUNIT_TEST(chunkOfAPeerThatDoesNotRelayIsServed);
    CPPUNIT_TEST_SUITE_END();

  public:
    // A streamed install (S) fetches chunks but never passes them on (it advertises no
    // partial game), and a peer that left relays nothing either: what they got is no reason to
    // refuse it to another receiver; what a relaying receiver (A) got still is.
    void chunkOfAPeerThatDoesNotRelayIsServed() {
        ServeSpreader s;
        const auto relays = [](const std::string &peer) { return peer == "A" || peer == "B"; };
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "S", 1, relays));
        CPPUNIT_ASSERT(s.admit("g", 1, 4, "A", 2, relays));
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "B", 3, relays));  // S got it: served all the same
        CPPUNIT_ASSERT(!s.admit("g", 1, 4, "B", 4, relays)); // A got it and relays it
        CPPUNIT_ASSERT(!s.admit("g", 0, 4, "S", 5, relays)); // B got it last and relays it
    }

    void loneRequesterIsAlwaysServed() {
        ServeSpreader s;
        for (int round = 0; round < 3; ++round)
            for (std::size_t c = 0; c < 4; ++c)
                CPPUNIT_ASSERT(s.admit("g", c, 4, "A", 1 + round));
    }

    void chunkServedToAnotherRequesterIsRefused() {
        ServeSpreader s;
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "A", 1));
        CPPUNIT_ASSERT(s.admit("g", 1, 4, "B", 2));
        CPPUNIT_ASSERT(!s.admit("g", 0, 4, "B", 3)); // A got it: B fetches it from A
        CPPUNIT_ASSERT(!s.admit("g", 1, 4, "A", 3));
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "A", 4)); // the same requester again: served
        CPPUNIT_ASSERT(s.admit("g", 2, 4, "B", 5)); // not out yet: served
        CPPUNIT_ASSERT(!s.admit("g", 2, 4, "C", 6));
    }

    void onceEveryChunkWentOutDuplicatesAreServed() {
        ServeSpreader s;
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "A", 1));
        CPPUNIT_ASSERT(s.admit("g", 1, 3, "B", 1));
        CPPUNIT_ASSERT(!s.admit("g", 0, 3, "B", 2));
        CPPUNIT_ASSERT(s.admit("g", 2, 3, "A", 2)); // the last chunk goes out
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "B", 3)); // now any duplicate is served
        CPPUNIT_ASSERT(s.admit("g", 1, 3, "A", 3));
    }

    // The refusal lasts while the chunk's first receiver keeps fetching the game (however
    // long the first pass takes); once it stops asking (it left) for the window, the chunk is
    // served again.
    void refusalLastsWhileTheFirstReceiverFetches() {
        ServeSpreader s(10 * kSecond);
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "A", 1));
        CPPUNIT_ASSERT(s.admit("g", 1, 4, "B", 2 * kSecond));
        CPPUNIT_ASSERT(!s.admit("g", 0, 4, "B", 9 * kSecond));
        CPPUNIT_ASSERT(s.admit("g", 2, 4, "A", 9 * kSecond)); // A still fetching
        CPPUNIT_ASSERT(!s.admit("g", 0, 4, "B", 18 * kSecond));
        // A asks nothing more: 10 s after its last request, B gets chunk 0 here.
        CPPUNIT_ASSERT(!s.admit("g", 0, 4, "B", 19 * kSecond - 1));
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "B", 19 * kSecond + 1));
    }

    void requestersGoQuietAndANewRoundStarts() {
        ServeSpreader s(10 * kSecond);
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "A", 1));
        CPPUNIT_ASSERT(s.admit("g", 1, 3, "B", 1));
        CPPUNIT_ASSERT(s.admit("g", 2, 3, "B", 1));
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "B", 2)); // round 1: all went out
        // Nobody asks for 20 s: round 2 spreads again.
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "C", 30 * kSecond));
        CPPUNIT_ASSERT(s.admit("g", 1, 3, "D", 30 * kSecond));
        CPPUNIT_ASSERT(!s.admit("g", 0, 3, "D", 31 * kSecond));
        // Only one requester left within the window: always served.
        CPPUNIT_ASSERT(s.admit("g", 1, 3, "D", 45 * kSecond));
        CPPUNIT_ASSERT(s.admit("g", 0, 3, "D", 46 * kSecond));
    }

    void gamesAreCountedApart() {
        ServeSpreader s;
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "A", 1));
        CPPUNIT_ASSERT(s.admit("h", 0, 4, "B", 1)); // another game: B is its only requester
        CPPUNIT_ASSERT(s.admit("h", 0, 4, "C", 2) == false);
        CPPUNIT_ASSERT(s.admit("g", 0, 4, "A", 3));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ServeSpreaderTest);
