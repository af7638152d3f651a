#include <lanspread/kernel/peers/token_bucket.hpp>

#include <cppunit/extensions/HelperMacros.h>

using lanspread::kernel::peers::TokenBucket;

namespace {
constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr std::size_t kMiB = 1u << 20;
} // namespace

class TokenBucketTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TokenBucketTest);
    CPPUNIT_TEST(testNoRateNeverRefuses);
    CPPUNIT_TEST(testStartsFullThenRefillsAtTheRate);
    CPPUNIT_TEST(testSavesUpToTheBurstOnly);
    CPPUNIT_TEST(testWaitNsSaysWhenTheTakeSucceeds);
    CPPUNIT_TEST(testMoreThanTheBurstWaitsForAFullBucket);
    CPPUNIT_TEST(testClockGoingBackwardsAddsNothing);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testNoRateNeverRefuses() {
        TokenBucket bucket{double(kMiB)};
        CPPUNIT_ASSERT(!bucket.limited());
        for (int i = 0; i < 100; ++i)
            CPPUNIT_ASSERT(bucket.take(kMiB, 5));
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), bucket.waitNs(kMiB));
    }

    void testStartsFullThenRefillsAtTheRate() {
        TokenBucket bucket{double(kMiB)};
        bucket.setRate(double(kMiB)); // 1 MiB/s
        CPPUNIT_ASSERT(bucket.limited());
        const uint64_t t0 = 7 * kSecond;
        CPPUNIT_ASSERT(bucket.take(kMiB, t0)); // the burst
        CPPUNIT_ASSERT(!bucket.take(1, t0));
        // Half a second later half a MiB is back, not more.
        CPPUNIT_ASSERT(!bucket.take(kMiB / 2 + 1, t0 + kSecond / 2));
        CPPUNIT_ASSERT(bucket.take(kMiB / 2, t0 + kSecond / 2));
        CPPUNIT_ASSERT(!bucket.take(1, t0 + kSecond / 2));
        // Three MiB in the next three seconds, in 256 KiB takes a quarter second apart.
        std::size_t taken = 0;
        for (uint64_t t = t0 + kSecond / 2 + kSecond / 4; t <= t0 + 3 * kSecond + kSecond / 2;
             t += kSecond / 4)
            if (bucket.take(kMiB / 4, t))
                taken += kMiB / 4;
        CPPUNIT_ASSERT_EQUAL(3 * kMiB, taken);
    }

    void testSavesUpToTheBurstOnly() {
        TokenBucket bucket{double(kMiB)};
        bucket.setRate(double(kMiB));
        CPPUNIT_ASSERT(bucket.take(kMiB, kSecond));
        // A hundred idle seconds save one burst, not a hundred MiB.
        CPPUNIT_ASSERT(bucket.take(kMiB, 101 * kSecond));
        CPPUNIT_ASSERT(!bucket.take(1, 101 * kSecond));
    }

    void testWaitNsSaysWhenTheTakeSucceeds() {
        TokenBucket bucket{double(kMiB)};
        bucket.setRate(2.0 * kMiB); // 2 MiB/s
        const uint64_t t0 = kSecond;
        CPPUNIT_ASSERT(bucket.take(kMiB, t0));
        CPPUNIT_ASSERT(!bucket.take(kMiB, t0));
        const uint64_t wait = bucket.waitNs(kMiB);
        CPPUNIT_ASSERT(wait >= kSecond / 2 && wait <= kSecond / 2 + 1);
        CPPUNIT_ASSERT(!bucket.take(kMiB, t0 + wait - 1000));
        CPPUNIT_ASSERT(bucket.take(kMiB, t0 + wait));
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), [&] {
            TokenBucket full{double(kMiB)};
            full.setRate(1.0);
            return full.waitNs(10); // nothing missing: the shortest wait
        }());
    }

    void testMoreThanTheBurstWaitsForAFullBucket() {
        TokenBucket bucket{double(kMiB)};
        bucket.setRate(double(kMiB));
        CPPUNIT_ASSERT(bucket.take(3 * kMiB, kSecond)); // full: granted, 2 MiB in debt
        // The debt is paid first: a full bucket again after three seconds.
        CPPUNIT_ASSERT(!bucket.take(3 * kMiB, 3 * kSecond));
        CPPUNIT_ASSERT(bucket.take(3 * kMiB, 4 * kSecond));
    }

    void testClockGoingBackwardsAddsNothing() {
        TokenBucket bucket{double(kMiB)};
        bucket.setRate(double(kMiB));
        CPPUNIT_ASSERT(bucket.take(kMiB, 10 * kSecond));
        CPPUNIT_ASSERT(!bucket.take(1, 5 * kSecond));
        CPPUNIT_ASSERT(bucket.take(kMiB / 2, 10 * kSecond + kSecond / 2));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TokenBucketTest);
