// CancelRegistry: the cancel tokens the kernel hands to plugins (host->is_cancelled reads them).
#include <lanspread/host.h>
#include <lanspread/kernel/host/cancellation.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <cstddef>
#include <set>
#include <thread>
#include <vector>

using lanspread::kernel::host::CancelRegistry;

class CancelRegistryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CancelRegistryTest);
    CPPUNIT_TEST(testCreateGivesDistinctLiveTokens);
    CPPUNIT_TEST(testCancelFiresOnlyThatToken);
    CPPUNIT_TEST(testReleaseForgetsToken);
    CPPUNIT_TEST(testUnknownAndNoneTokensReadNotCancelled);
    CPPUNIT_TEST(testCancelAllFiresLiveTokensOnly);
    CPPUNIT_TEST(testConcurrentCreateAndCancel);
    CPPUNIT_TEST(testConcurrentCancelOfSharedTokens);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testCreateGivesDistinctLiveTokens() {
        CancelRegistry registry;
        std::set<lanspread_cancel_handle> seen;
        for (int i = 0; i < 100; ++i) {
            lanspread_cancel_handle token = registry.create();
            CPPUNIT_ASSERT(token != LANSPREAD_CANCEL_NONE);
            CPPUNIT_ASSERT(seen.insert(token).second);
            CPPUNIT_ASSERT(!registry.isCancelled(token));
        }
    }

    void testCancelFiresOnlyThatToken() {
        CancelRegistry registry;
        lanspread_cancel_handle a = registry.create();
        lanspread_cancel_handle b = registry.create();
        registry.cancel(a);
        CPPUNIT_ASSERT(registry.isCancelled(a));
        CPPUNIT_ASSERT(!registry.isCancelled(b));
        registry.cancel(a); // twice is harmless
        CPPUNIT_ASSERT(registry.isCancelled(a));
        CPPUNIT_ASSERT(!registry.isCancelled(b));
    }

    void testReleaseForgetsToken() {
        CancelRegistry registry;
        lanspread_cancel_handle a = registry.create();
        registry.cancel(a);
        CPPUNIT_ASSERT(registry.isCancelled(a));
        registry.release(a);
        CPPUNIT_ASSERT(!registry.isCancelled(a));
        // Cancelling a released token does not bring it back.
        registry.cancel(a);
        CPPUNIT_ASSERT(!registry.isCancelled(a));
        registry.release(a); // releasing twice is harmless
        // A released token's number is not reused for a new one.
        lanspread_cancel_handle b = registry.create();
        CPPUNIT_ASSERT(b != a);
        CPPUNIT_ASSERT(!registry.isCancelled(b));
    }

    void testUnknownAndNoneTokensReadNotCancelled() {
        CancelRegistry registry;
        CPPUNIT_ASSERT(!registry.isCancelled(LANSPREAD_CANCEL_NONE));
        CPPUNIT_ASSERT(!registry.isCancelled(12345));
        registry.cancel(12345);
        CPPUNIT_ASSERT(!registry.isCancelled(12345));
        registry.cancel(LANSPREAD_CANCEL_NONE);
        registry.cancelAll();
        CPPUNIT_ASSERT(!registry.isCancelled(LANSPREAD_CANCEL_NONE));
        CPPUNIT_ASSERT(!registry.isCancelled(12345));
    }

    void testCancelAllFiresLiveTokensOnly() {
        CancelRegistry registry;
        std::vector<lanspread_cancel_handle> live;
        for (int i = 0; i < 10; ++i)
            live.push_back(registry.create());
        lanspread_cancel_handle released = registry.create();
        registry.release(released);
        registry.cancelAll();
        for (lanspread_cancel_handle token : live)
            CPPUNIT_ASSERT(registry.isCancelled(token));
        CPPUNIT_ASSERT(!registry.isCancelled(released));
        // Tokens created afterwards start uncancelled.
        lanspread_cancel_handle later = registry.create();
        CPPUNIT_ASSERT(!registry.isCancelled(later));
    }

    // Threads create, cancel and release their own tokens at once; every token ends in the
    // state its thread left it in.
    void testConcurrentCreateAndCancel() {
        CancelRegistry registry;
        constexpr int kThreads = 8;
        constexpr int kPerThread = 2000;
        std::vector<std::vector<lanspread_cancel_handle>> tokens(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&registry, &tokens, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    lanspread_cancel_handle token = registry.create();
                    tokens[t].push_back(token);
                    if (i % 3 == 0)
                        registry.cancel(token);
                    else if (i % 3 == 1) {
                        registry.cancel(token);
                        registry.release(token);
                    }
                }
            });
        for (auto &thread : threads)
            thread.join();
        std::set<lanspread_cancel_handle> all;
        for (int t = 0; t < kThreads; ++t)
            for (int i = 0; i < kPerThread; ++i) {
                const lanspread_cancel_handle token = tokens[t][static_cast<std::size_t>(i)];
                CPPUNIT_ASSERT(all.insert(token).second); // ids unique across threads
                CPPUNIT_ASSERT_EQUAL(i % 3 == 0, registry.isCancelled(token));
            }
    }

    // Many threads cancel the same tokens while others read them: no token is lost or
    // un-cancelled, and readers only ever see false -> true.
    void testConcurrentCancelOfSharedTokens() {
        CancelRegistry registry;
        std::vector<lanspread_cancel_handle> shared;
        for (int i = 0; i < 500; ++i)
            shared.push_back(registry.create());
        lanspread_cancel_handle untouched = registry.create();

        std::atomic<bool> go{false};
        std::atomic<bool> sawRegression{false};
        std::atomic<bool> sawUntouchedCancelled{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 6; ++t)
            threads.emplace_back([&, t] {
                while (!go.load())
                    std::this_thread::yield();
                // Each canceller walks the list from a different starting point.
                for (std::size_t i = 0; i < shared.size(); ++i)
                    registry.cancel(shared[(i + static_cast<std::size_t>(t) * 83) % shared.size()]);
            });
        for (int t = 0; t < 2; ++t)
            threads.emplace_back([&] {
                std::vector<bool> seen(shared.size(), false);
                while (!go.load())
                    std::this_thread::yield();
                for (int round = 0; round < 50; ++round)
                    for (std::size_t i = 0; i < shared.size(); ++i) {
                        const bool now = registry.isCancelled(shared[i]);
                        if (seen[i] && !now)
                            sawRegression = true;
                        seen[i] = seen[i] || now;
                        if (registry.isCancelled(untouched))
                            sawUntouchedCancelled = true;
                    }
            });
        go = true;
        for (auto &thread : threads)
            thread.join();
        for (lanspread_cancel_handle token : shared)
            CPPUNIT_ASSERT(registry.isCancelled(token));
        CPPUNIT_ASSERT(!registry.isCancelled(untouched));
        CPPUNIT_ASSERT(!sawRegression.load());
        CPPUNIT_ASSERT(!sawUntouchedCancelled.load());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CancelRegistryTest);
