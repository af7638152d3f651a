#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/block_picker.hpp>

#include "chunk_test_files.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <deque>
#include <map>
#include <sstream>

using lanspread::kernel::catalog::kChunkSize;
using lanspread::kernel::protocol::FileDescription;
using lanspread::kernel::transfer::BlockArrival;
using lanspread::kernel::transfer::BlockPicker;
using lanspread::kernel::transfer::BlockPickerSettings;
using lanspread::test::chunks;
using lanspread::test::fileOf;

namespace {

// The tests cut each chunk into 32 blocks (the engine requests whole chunks; the picker's
// block level is tested at a finer grain, as a chunk of 32 blocks).
constexpr uint64_t kBlock = kChunkSize / 32;

BlockPickerSettings settings(uint64_t blockSize, unsigned depth, uint64_t seed = 1) {
    BlockPickerSettings s;
    s.blockSize = blockSize;
    s.depth = depth;
    s.seed = seed;
    return s;
}

BlockPickerSettings inOrder(uint64_t blockSize, unsigned depth) {
    BlockPickerSettings s = settings(blockSize, depth);
    s.order = BlockPickerSettings::Order::InOrder;
    return s;
}

// Takes blocks for peer until next() says no.
std::vector<std::size_t> drain(BlockPicker &p, const std::string &peer, uint64_t now = 0) {
    std::vector<std::size_t> ids;
    while (auto id = p.next(peer, now))
        ids.push_back(*id);
    return ids;
}

// The next block for peer, which must exist.
std::size_t take(BlockPicker &p, const std::string &peer, uint64_t now) {
    const auto id = p.next(peer, now);
    CPPUNIT_ASSERT_MESSAGE("no block for " + peer, id.has_value());
    return *id;
}

// Every block of the chunk arrives from peer (taken first where not yet in flight there).
void receiveChunk(BlockPicker &p, std::size_t chunk, const std::string &peer) {
    const auto &c = p.chunk(chunk);
    for (std::size_t b = c.firstBlock; b < c.firstBlock + c.blockCount; ++b)
        p.blockReceived(b, peer);
}

struct SimResult {
    std::map<std::string, uint64_t> bytesBy; // accepted bytes per source
    double finishSeconds = 0;
    bool finished = false;
};

// A tiny discrete-event download: each source serves its requests one after another at its
// rate (its upload link is the bottleneck); the receiver pulls new blocks from every source
// whenever a block arrives. A cancelled request leaves the source's queue at once (a request
// being served is abandoned, and the source moves on to its next one).
SimResult simulate(const std::map<std::string, double> &rates, std::size_t chunkTotal,
                   BlockPickerSettings config) {
    BlockPicker picker(chunks(chunkTotal), {}, config);
    struct Link {
        double rate = 0;
        std::deque<std::size_t> queue;
        double headStart = 0;
    };
    std::map<std::string, Link> links;
    for (const auto &[id, rate] : rates) {
        picker.addSource(id);
        links[id].rate = rate;
    }
    SimResult result;
    double now = 0;
    const uint64_t nowNs = 0;
    auto pullAll = [&] {
        bool issued = true;
        while (issued) {
            issued = false;
            for (auto &[id, link] : links)
                if (auto b = picker.next(id, nowNs + static_cast<uint64_t>(now * 1e9))) {
                    if (link.queue.empty())
                        link.headStart = now;
                    link.queue.push_back(*b);
                    issued = true;
                }
        }
    };
    pullAll();
    for (;;) {
        std::string who;
        double finish = 0;
        for (const auto &[id, link] : links) {
            if (link.queue.empty())
                continue;
            const double t =
                link.headStart + double(picker.block(link.queue.front()).length) / link.rate;
            if (who.empty() || t < finish) {
                who = id;
                finish = t;
            }
        }
        if (who.empty())
            break;
        now = finish;
        Link &link = links[who];
        const std::size_t block = link.queue.front();
        link.queue.pop_front();
        link.headStart = now;
        const BlockArrival arrival = picker.blockReceived(block, who);
        if (arrival.accepted)
            result.bytesBy[who] += picker.block(block).length;
        for (const auto &loser : arrival.cancel) {
            Link &other = links[loser];
            auto it = std::find(other.queue.begin(), other.queue.end(), block);
            if (it == other.queue.begin())
                other.headStart = now;
            if (it != other.queue.end())
                other.queue.erase(it);
        }
        if (arrival.chunkReady)
            picker.chunkVerified(picker.block(block).chunk);
        pullAll();
    }
    result.finished = picker.finished();
    result.finishSeconds = now;
    return result;
}

struct PartyResult {
    std::vector<double> finishSeconds; // per receiver
    std::map<std::string, uint64_t> uploadedBy;
    bool allFinished = false;
};

// A party: one seeder and n receivers, every upload link at the same rate, serving its
// requests one after another; download links are not the bottleneck. Each receiver runs
// its own picker (seeded by its index) with the seeder as a complete source and the other
// receivers as partial ones; relay on, a receiver announces each chunk it verified to the
// others (addHave), as the availability messages will.
PartyResult party(std::size_t receivers, std::size_t chunkTotal, double rate, bool relay) {
    struct Request {
        std::string to; // the receiver
        std::size_t block;
    };
    struct Link {
        std::deque<Request> queue;
        double headStart = 0;
    };
    std::vector<std::string> names;
    for (std::size_t r = 0; r < receivers; ++r) {
        // Appended to a named string: GCC 12 at -O3 reports a false -Wrestrict overlap for
        // "literal" + std::to_string(r) (a temporary).
        std::string name = "r";
        name += std::to_string(r);
        names.push_back(name);
    }
    std::map<std::string, BlockPicker> pickers;
    std::map<std::string, Link> links;
    links["seed"];
    for (std::size_t r = 0; r < receivers; ++r) {
        auto &picker =
            pickers.emplace(names[r], BlockPicker(chunks(chunkTotal), {}, settings(kBlock, 8, r)))
                .first->second;
        picker.addSource("seed");
        links[names[r]];
        for (const auto &other : names)
            if (other != names[r])
                picker.setAvailability(other, {});
    }
    PartyResult result;
    result.finishSeconds.assign(receivers, 0);
    double now = 0;
    auto pullAll = [&] {
        bool issued = true;
        while (issued) {
            issued = false;
            for (auto &[receiver, picker] : pickers)
                for (const auto &source : picker.sources())
                    if (auto b = picker.next(source, static_cast<uint64_t>(now * 1e9))) {
                        Link &link = links[source];
                        if (link.queue.empty())
                            link.headStart = now;
                        link.queue.push_back({receiver, *b});
                        issued = true;
                    }
        }
    };
    pullAll();
    for (;;) {
        std::string who;
        double finish = 0;
        for (const auto &[id, link] : links)
            if (!link.queue.empty()) {
                const Request &head = link.queue.front();
                const double t =
                    link.headStart + double(pickers.at(head.to).block(head.block).length) / rate;
                if (who.empty() || t < finish) {
                    who = id;
                    finish = t;
                }
            }
        if (who.empty())
            break;
        now = finish;
        Link &link = links[who];
        const Request done = link.queue.front();
        link.queue.pop_front();
        link.headStart = now;
        BlockPicker &picker = pickers.at(done.to);
        const BlockArrival arrival = picker.blockReceived(done.block, who);
        if (arrival.accepted)
            result.uploadedBy[who] += picker.block(done.block).length;
        for (const auto &loser : arrival.cancel) {
            Link &other = links[loser];
            auto it = std::find_if(other.queue.begin(), other.queue.end(), [&](const Request &q) {
                return q.to == done.to && q.block == done.block;
            });
            if (it == other.queue.begin())
                other.headStart = now;
            if (it != other.queue.end())
                other.queue.erase(it);
        }
        if (arrival.chunkReady) {
            const std::size_t chunk = picker.block(done.block).chunk;
            picker.chunkVerified(chunk);
            if (relay)
                for (auto &[receiver, otherPicker] : pickers)
                    if (receiver != done.to)
                        otherPicker.addHave(done.to, chunk);
            if (picker.finished())
                result.finishSeconds[std::stoul(done.to.substr(1))] = now;
        }
        pullAll();
    }
    result.allFinished = true;
    for (const auto &[receiver, picker] : pickers)
        result.allFinished = result.allFinished && picker.finished();
    return result;
}

} // namespace

class BlockPickerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(BlockPickerTest);
    CPPUNIT_TEST(planCutsChunksIntoBlocks);
    CPPUNIT_TEST(emptyFileIsOneChunkOfOneEmptyBlock);
    CPPUNIT_TEST(blocksOfOneChunkSpreadOverTwoSources);
    CPPUNIT_TEST(rarestFirstChoosesTheChunkFewerSourcesHave);
    CPPUNIT_TEST(tiesFollowTheSeededOrder);
    CPPUNIT_TEST(partialSourceOnlyGetsBlocksOfItsChunks);
    CPPUNIT_TEST(startedChunksAreFinishedFirst);
    CPPUNIT_TEST(depthIsRespected);
    CPPUNIT_TEST(endgameDuplicatesTheLastInFlightBlockOnceAndNamesTheLoser);
    CPPUNIT_TEST(noEndgameWhileABlockIsPending);
    CPPUNIT_TEST(S55_simulatedFastSourceServesMostAndFinishesNearIdeal);
    CPPUNIT_TEST(simulatedPartyRelaysDistinctChunks);
    CPPUNIT_TEST(chunkVerifiedOnlyOnceAllBlocksArrived);
    CPPUNIT_TEST(chunkFailureRequeuesItsBlocksAndRejectedSourceGetsNothing);
    CPPUNIT_TEST(chunkFailureWithSeveralSendersRetriesFromOneSource);
    CPPUNIT_TEST(failedBlockGoesToAnotherSource);
    CPPUNIT_TEST(sourceLossRequeuesItsBlocks);
    CPPUNIT_TEST(chunkNobodyHasIsStuck);
    CPPUNIT_TEST(deferredBlockGoesElsewhereOrWaits);
    CPPUNIT_TEST(resumeSkipsVerifiedChunks);
    CPPUNIT_TEST(unknownSourceGetsNothing);
    CPPUNIT_TEST(inOrderFollowsTheWantedListAcrossTwoSources);
    CPPUNIT_TEST(inOrderSeekServesTheNewHeadFirst);
    CPPUNIT_TEST(inOrderGivesNothingOutsideTheWantedChunks);
    CPPUNIT_TEST(inOrderEndgameDuplicatesTheHeadChunkAndNamesTheLoser);
    CPPUNIT_TEST(refetchMakesAVerifiedChunkPendingAgain);
    CPPUNIT_TEST(rarestFirstIgnoresTheWantedList);
    CPPUNIT_TEST_SUITE_END();

  public:
    void planCutsChunksIntoBlocks() {
        // 8-unit blocks (a unit is 1/32 chunk): a full chunk is 4 blocks; the last chunk of a.eti
        // (5 units + 5) is 1 full block and no more; b.txt (7 bytes) is one chunk of one block.
        BlockPicker p({fileOf("a.eti", 2 * kChunkSize + 5 * kBlock + 5), fileOf("b.txt", 7)}, {},
                      settings(8 * kBlock, 4));
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.chunkCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4 + 4 + 1 + 1), p.blockCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.chunk(1).firstBlock);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.chunk(1).blockCount);
        CPPUNIT_ASSERT_EQUAL(std::string("a.eti#2"), p.chunk(2).hash);
        CPPUNIT_ASSERT_EQUAL(2 * kChunkSize, p.chunk(2).offset);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.chunk(2).blockCount);
        CPPUNIT_ASSERT_EQUAL(5 * kBlock + 5, p.block(8).length);
        CPPUNIT_ASSERT_EQUAL(kChunkSize + 8 * kBlock, p.block(5).offset);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.block(5).chunk);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.block(9).file);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), p.block(9).offset);
        CPPUNIT_ASSERT_EQUAL(uint64_t(7), p.block(9).length);
        CPPUNIT_ASSERT_EQUAL(2 * kChunkSize + 5 * kBlock + 12, p.bytesTotal());
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), p.pendingCount());
        // A block size that does not divide the chunk: the chunk's last block is shorter.
        BlockPicker odd(chunks(1), {}, settings(10 * kBlock, 4));
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), odd.blockCount());
        CPPUNIT_ASSERT_EQUAL(2 * kBlock, odd.block(3).length);
    }

    void emptyFileIsOneChunkOfOneEmptyBlock() {
        BlockPicker p({fileOf("empty.cfg", 0)}, {}, settings(kBlock, 4));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.chunkCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.blockCount());
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), p.block(0).length);
        p.addSource("a");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "a", 0));
        const BlockArrival arrival = p.blockReceived(0, "a");
        CPPUNIT_ASSERT(arrival.accepted && arrival.chunkReady);
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT(p.finished());
    }

    void blocksOfOneChunkSpreadOverTwoSources() {
        // 3 chunks of 32 blocks; both sources fill their 4 slots from the same chunk.
        BlockPicker p(chunks(3), {}, settings(kBlock, 4));
        p.addSource("A");
        p.addSource("B");
        const auto a = drain(p, "A");
        const auto b = drain(p, "B");
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), a.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), b.size());
        const std::size_t chunk = p.block(a[0]).chunk;
        const std::size_t first = p.chunk(chunk).firstBlock;
        for (std::size_t i = 0; i < 4; ++i) {
            CPPUNIT_ASSERT_EQUAL(first + i, a[i]);
            CPPUNIT_ASSERT_EQUAL(first + 4 + i, b[i]);
        }
        // The chunk becomes ready only when both sources' blocks arrived.
        for (std::size_t id : a)
            CPPUNIT_ASSERT(!p.blockReceived(id, "A").chunkReady);
        CPPUNIT_ASSERT_EQUAL(first + 8, take(p, "A", 0)); // still the same chunk
    }

    void rarestFirstChoosesTheChunkFewerSourcesHave() {
        // One block per chunk. Availability: chunk 0 by A and B (2), chunk 1 by A, B and C
        // (3), chunk 2 by A alone (1).
        BlockPicker p(chunks(3), {}, settings(kChunkSize, 4));
        p.addSource("A");
        p.setAvailability("B", {true, true, false});
        p.setAvailability("C", {false, true, false});
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.availability(0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), p.availability(1));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.availability(2));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), take(p, "A", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "A", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "A", 0));
        // Partial sources pick by the same order among the chunks they have.
        BlockPicker q(chunks(3), {}, settings(kChunkSize, 4));
        q.addSource("A");
        q.setAvailability("B", {true, true, false});
        q.setAvailability("C", {false, true, false});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "B", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(q, "B", 0));
        CPPUNIT_ASSERT(!q.next("C", 0)); // its only chunk is taken; nothing else is pending for it
    }

    void tiesFollowTheSeededOrder() {
        // Equally rare chunks: the order is the seed's, the same every time for one seed,
        // and different seeds start on different chunks (so receivers diverge).
        std::set<std::size_t> firstChunks;
        for (uint64_t seed = 0; seed < 16; ++seed) {
            std::vector<std::size_t> orders[2];
            for (auto &order : orders) {
                BlockPicker p(chunks(8), {}, settings(kChunkSize, 8, seed));
                p.addSource("A");
                order = drain(p, "A");
            }
            CPPUNIT_ASSERT(orders[0] == orders[1]);
            std::vector<std::size_t> sorted = orders[0];
            std::sort(sorted.begin(), sorted.end());
            CPPUNIT_ASSERT(sorted == std::vector<std::size_t>({0, 1, 2, 3, 4, 5, 6, 7}));
            firstChunks.insert(orders[0][0]);
        }
        CPPUNIT_ASSERT(firstChunks.size() >= 4);
    }

    void partialSourceOnlyGetsBlocksOfItsChunks() {
        BlockPicker p(chunks(3), {}, settings(8 * kBlock, 8));
        p.setAvailability("P", {false, true, false});
        CPPUNIT_ASSERT(p.hasSource("P"));
        CPPUNIT_ASSERT(p.sourceHas("P", 1));
        CPPUNIT_ASSERT(!p.sourceHas("P", 0));
        const auto got = drain(p, "P");
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), got.size());
        for (std::size_t id : got)
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.block(id).chunk);
        CPPUNIT_ASSERT_EQUAL(std::size_t(8), p.pendingCount()); // chunks 0 and 2 wait
        p.addHave("P", 2);                                      // it verified chunk 2 meanwhile
        const auto more = drain(p, "P");
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), more.size());
        for (std::size_t id : more)
            CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.block(id).chunk);
        // An unknown peer announcing a chunk becomes a partial source of just that chunk.
        p.addHave("Q", 0);
        const auto q = drain(p, "Q");
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), q.size());
        for (std::size_t id : q)
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.block(id).chunk);
        // setAvailability replaces what a source has.
        BlockPicker r(chunks(2), {}, settings(kChunkSize, 8));
        r.setAvailability("P", {true, false});
        r.setAvailability("P", {false, true});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), r.availability(0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(r, "P", 0));
        CPPUNIT_ASSERT(!r.next("P", 0));
    }

    void startedChunksAreFinishedFirst() {
        // B has chunks 0 and 1 (2 sources each), chunk 2 only A has (rarest). Once B started
        // a chunk, A helps finish it before touching the rarer chunk 2.
        BlockPicker p(chunks(3), {}, settings(8 * kBlock, 1));
        p.addSource("A");
        p.setAvailability("B", {true, true, false});
        const std::size_t started = p.block(take(p, "B", 0)).chunk;
        CPPUNIT_ASSERT(started != 2);
        CPPUNIT_ASSERT_EQUAL(p.chunk(started).firstBlock + 1, take(p, "A", 0));
        p.blockReceived(p.chunk(started).firstBlock + 1, "A");
        CPPUNIT_ASSERT_EQUAL(p.chunk(started).firstBlock + 2, take(p, "A", 0));
        p.blockReceived(p.chunk(started).firstBlock + 2, "A");
        CPPUNIT_ASSERT_EQUAL(p.chunk(started).firstBlock + 3, take(p, "A", 0));
        p.blockReceived(p.chunk(started).firstBlock + 3, "A");
        // Nothing of the started chunk is pending any more: now the rarest.
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.block(take(p, "A", 0)).chunk);
    }

    void depthIsRespected() {
        BlockPicker p(chunks(2), {}, settings(kBlock, 3));
        p.addSource("A");
        const auto first = drain(p, "A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), first.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), p.inFlight("A"));
        CPPUNIT_ASSERT(!p.next("A", 0));
        CPPUNIT_ASSERT(p.blockReceived(first[1], "A").accepted);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.inFlight("A"));
        CPPUNIT_ASSERT(p.next("A", 0));
        CPPUNIT_ASSERT(!p.next("A", 0));
        p.blockFailed(first[0], "A"); // a failed request frees its slot too
        CPPUNIT_ASSERT(p.next("A", 0));
        CPPUNIT_ASSERT(!p.next("A", 0));
        // A source's own depth: lower, then higher than the settings'.
        p.setDepth("A", 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), p.inFlight("A")); // in flight stays
        p.addSource("B");
        p.setDepth("B", 1);
        CPPUNIT_ASSERT(p.next("B", 0));
        CPPUNIT_ASSERT(!p.next("B", 0));
        p.setDepth("B", 5);
        for (int i = 0; i < 4; ++i)
            CPPUNIT_ASSERT(p.next("B", 0));
        CPPUNIT_ASSERT(!p.next("B", 0));
        // Depth 0 means 1.
        BlockPicker q(chunks(1), {}, settings(kBlock, 0));
        q.addSource("A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), drain(q, "A").size());
    }

    void endgameDuplicatesTheLastInFlightBlockOnceAndNamesTheLoser() {
        // One chunk of 4 blocks; "slow" asked for blocks 2 and 3 at t=10 and t=20.
        BlockPicker p(chunks(1), {}, settings(8 * kBlock, 2));
        p.addSource("fast");
        p.addSource("slow");
        p.addSource("third");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "fast", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "fast", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), take(p, "slow", 10));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), take(p, "slow", 20));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.pendingCount());
        p.blockReceived(0, "fast");
        p.blockReceived(1, "fast");
        // Nothing pending: fast duplicates slow's blocks, the one asked longest ago first.
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), take(p, "fast", 30));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), take(p, "fast", 30));
        // Never a third copy.
        CPPUNIT_ASSERT(!p.next("third", 40));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.inFlight("third"));
        // fast's copy of 2 arrives first: slow's request for it is to be cancelled.
        BlockArrival won = p.blockReceived(2, "fast");
        CPPUNIT_ASSERT(won.accepted);
        CPPUNIT_ASSERT(won.cancel == std::vector<std::string>{"slow"});
        CPPUNIT_ASSERT(!won.chunkReady);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.inFlight("slow"));
        // A late copy from the loser is not accepted.
        CPPUNIT_ASSERT(!p.blockReceived(2, "slow").accepted);
        // slow wins block 3: fast's copy is the one to cancel, and the chunk is ready.
        BlockArrival last = p.blockReceived(3, "slow");
        CPPUNIT_ASSERT(last.accepted && last.chunkReady);
        CPPUNIT_ASSERT(last.cancel == std::vector<std::string>{"fast"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.inFlight("fast"));
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT(p.finished());
        CPPUNIT_ASSERT(!p.next("fast", 50));
    }

    void noEndgameWhileABlockIsPending() {
        // Block 3 is still pending (slow's depth is full, but fast can take it): fast gets
        // it, not a copy of one of slow's blocks; then, nothing pending, a copy.
        BlockPicker p(chunks(1), {}, settings(8 * kBlock, 3));
        p.addSource("slow");
        p.setAvailability("fast", {true});
        drain(p, "slow"); // 0, 1, 2
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), take(p, "fast", 5));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "fast", 5));
        // A pending block that nobody has (chunk 1 below) does not hold endgame off.
        BlockPicker q(chunks(2), {}, settings(kChunkSize, 1));
        q.setAvailability("slow", {true, false});
        q.setAvailability("fast", {true, false});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "slow", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "fast", 0));
    }

    // S55 at the picker level: two sources 4x apart (400 and 100 Mbit/s), 8 chunks
    // of 32 blocks each. The fast source serves >= 70 % and the download ends within 1.1x the
    // ideal time of the summed rate: the slow source's last blocks are duplicated on the
    // fast one instead of holding the tail.
    void S55_simulatedFastSourceServesMostAndFinishesNearIdeal() {
        const double fast = 400e6 / 8, slow = 100e6 / 8;
        for (unsigned depth : {4u, 8u}) {
            SimResult r = simulate({{"fast", fast}, {"slow", slow}}, 8, settings(kBlock, depth, 7));
            const double total = 8.0 * double(kChunkSize);
            const double ideal = total / (fast + slow);
            std::ostringstream evidence;
            evidence << "depth " << depth << ": fast " << r.bytesBy["fast"] << " slow "
                     << r.bytesBy["slow"] << " bytes, finished " << r.finishSeconds << " s, ideal "
                     << ideal << " s";
            CPPUNIT_ASSERT_MESSAGE(evidence.str(), r.finished);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(evidence.str(), uint64_t(total),
                                         r.bytesBy["fast"] + r.bytesBy["slow"]);
            CPPUNIT_ASSERT_MESSAGE(evidence.str(), double(r.bytesBy["fast"]) >= 0.7 * total);
            CPPUNIT_ASSERT_MESSAGE(evidence.str(), r.finishSeconds <= 1.1 * ideal);
            // Sharper: the tail past the ideal is shorter than one slow block (84 ms), which
            // only endgame gives; without it the slow source's queued blocks trail behind.
            const double slowBlock = double(kBlock) / slow;
            CPPUNIT_ASSERT_MESSAGE(evidence.str(), r.finishSeconds - ideal < slowBlock);
        }
    }

    // The header's spreading claim, at the picker level: one seeder and 6 receivers starting
    // at once on a 2 GiB game (64 chunks), all upload links equal. Relaying (receivers
    // announce what they verified) brings the last receiver from 6x T1 (one receiver alone)
    // to about 1.36x. What remains is the seeder fetched twice for a chunk: receivers cannot
    // see each other's unfinished chunks, and at 16 chunks the same run gives 1.89x; a
    // serving-side spreading rule or smaller verification units are the next steps.
    void simulatedPartyRelaysDistinctChunks() {
        const std::size_t receivers = 6, chunkTotal = 64;
        const double rate = 150e6 / 8;
        const double game = double(chunkTotal) * double(kChunkSize);
        const double t1 = game / rate;
        PartyResult swarm = party(receivers, chunkTotal, rate, true);
        PartyResult alone = party(receivers, chunkTotal, rate, false);
        const double last =
            *std::max_element(swarm.finishSeconds.begin(), swarm.finishSeconds.end());
        const double lastAlone =
            *std::max_element(alone.finishSeconds.begin(), alone.finishSeconds.end());
        std::ostringstream evidence;
        evidence << "T1 " << t1 << " s; relay: last " << last << " s (" << last / t1
                 << "x), seeder uploaded " << double(swarm.uploadedBy["seed"]) / game
                 << "x the game; no relay: last " << lastAlone << " s (" << lastAlone / t1 << "x)";
        CPPUNIT_ASSERT_MESSAGE(evidence.str(), swarm.allFinished && alone.allFinished);
        CPPUNIT_ASSERT_MESSAGE(evidence.str(), last <= 1.45 * t1);
        CPPUNIT_ASSERT_MESSAGE(evidence.str(), double(swarm.uploadedBy["seed"]) <= 1.5 * game);
        CPPUNIT_ASSERT_MESSAGE(evidence.str(), lastAlone >= 5.9 * t1);
        uint64_t relayed = 0;
        for (const auto &[peer, bytes] : swarm.uploadedBy)
            if (peer != "seed")
                relayed += bytes;
        CPPUNIT_ASSERT_MESSAGE(evidence.str(), double(relayed) >= 4 * game);
    }

    // A seeder refused a chunk as "elsewhere": that seeder is not asked for it again before the
    // deferral ends, another source that has it is, and the refusal is no failure.
    void deferredBlockGoesElsewhereOrWaits() {
        BlockPicker p(chunks(2), {}, settings(kChunkSize, 2));
        p.addSource("seed");
        p.setAvailability("relay", {true, false});
        const std::size_t rare = p.chunk(1).firstBlock; // only the seed has chunk 1
        CPPUNIT_ASSERT_EQUAL(rare, take(p, "seed", 0));
        p.blockDeferred(rare, "seed", 100);
        CPPUNIT_ASSERT_EQUAL(p.chunk(0).firstBlock, take(p, "seed", 10));
        CPPUNIT_ASSERT(!p.next("seed", 20)); // chunk 1 waits; chunk 0 is in flight
        p.addHave("relay", 1);
        CPPUNIT_ASSERT_EQUAL(rare, take(p, "relay", 30));
        CPPUNIT_ASSERT(p.hasSource("seed"));
        // Nobody else has it: the seeder is asked again once the deferral is over.
        BlockPicker q(chunks(1), {}, settings(kChunkSize, 2));
        q.addSource("seed");
        const std::size_t only = take(q, "seed", 0);
        q.blockDeferred(only, "seed", 100);
        CPPUNIT_ASSERT(!q.next("seed", 99));
        CPPUNIT_ASSERT_EQUAL(only, take(q, "seed", 100));
    }

    void chunkVerifiedOnlyOnceAllBlocksArrived() {
        BlockPicker p(chunks(1), {}, settings(16 * kBlock, 2));
        p.addSource("A");
        drain(p, "A");
        CPPUNIT_ASSERT(p.blockReceived(0, "A").accepted);
        CPPUNIT_ASSERT(!p.chunkVerified(0));
        CPPUNIT_ASSERT(p.blockReceived(1, "A").chunkReady);
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT(!p.chunkVerified(0)); // once
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.verifiedCount());
        CPPUNIT_ASSERT_EQUAL(kChunkSize, p.bytesVerified());
        CPPUNIT_ASSERT(p.verifiedChunks() == std::vector<bool>{true});
    }

    void chunkFailureRequeuesItsBlocksAndRejectedSourceGetsNothing() {
        BlockPicker p(chunks(2), {}, settings(8 * kBlock, 4));
        p.addSource("A");
        p.addSource("B");
        const auto got = drain(p, "A");
        const std::size_t chunk = p.block(got[0]).chunk;
        for (std::size_t id : got)
            p.blockReceived(id, "A");
        const std::size_t pendingBefore = p.pendingCount();
        CPPUNIT_ASSERT(p.chunkFailed(chunk) == std::vector<std::string>{"A"});
        CPPUNIT_ASSERT_EQUAL(pendingBefore + 4, p.pendingCount());
        CPPUNIT_ASSERT(!p.chunkVerified(chunk));
        // One sender: the caller rejects it; its in-flight blocks come back and it gets
        // nothing more, also when it reconnects or announces chunks.
        drain(p, "A");
        const auto moved = p.rejectSource("A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), moved.size());
        CPPUNIT_ASSERT(!p.hasSource("A"));
        CPPUNIT_ASSERT(p.sources() == std::vector<std::string>{"B"});
        CPPUNIT_ASSERT(!p.next("A", 0));
        p.addSource("A");
        p.addHave("A", 0);
        p.setAvailability("A", {true, true});
        CPPUNIT_ASSERT(!p.hasSource("A"));
        CPPUNIT_ASSERT(!p.next("A", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.availability(chunk));
        CPPUNIT_ASSERT(p.removeSource("A").empty());
        p.addSource("A");
        CPPUNIT_ASSERT(!p.next("A", 0));
        // B fetches everything.
        for (int round = 0; round < 10 && !p.finished(); ++round)
            for (std::size_t id : drain(p, "B"))
                if (p.blockReceived(id, "B").chunkReady)
                    CPPUNIT_ASSERT(p.chunkVerified(p.block(id).chunk));
        CPPUNIT_ASSERT(p.finished());
    }

    void chunkFailureWithSeveralSendersRetriesFromOneSource() {
        BlockPicker p(chunks(1), {}, settings(8 * kBlock, 2));
        p.addSource("A");
        p.addSource("B");
        drain(p, "A"); // 0, 1
        drain(p, "B"); // 2, 3
        for (std::size_t b : {0, 1})
            p.blockReceived(b, "A");
        for (std::size_t b : {2, 3})
            p.blockReceived(b, "B");
        CPPUNIT_ASSERT(p.chunkFailed(0) == std::vector<std::string>({"A", "B"}));
        // The retry goes to one source: B takes the first block, A gets none.
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "B", 0));
        CPPUNIT_ASSERT(!p.next("A", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "B", 0));
        p.blockReceived(0, "B");
        p.blockReceived(1, "B");
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), take(p, "B", 0));
        CPPUNIT_ASSERT(!p.next("A", 0)); // not even as an endgame copy
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), take(p, "B", 0));
        p.blockReceived(2, "B");
        CPPUNIT_ASSERT(p.blockReceived(3, "B").chunkReady);
        // A second failure names the one culprit.
        CPPUNIT_ASSERT(p.chunkFailed(0) == std::vector<std::string>{"B"});
        p.rejectSource("B");
        receiveChunkFrom(p, 0, "A");
        CPPUNIT_ASSERT(p.chunkVerified(0));
        // A pinned source that leaves frees the chunk for the next taker.
        BlockPicker q(chunks(1), {}, settings(8 * kBlock, 2));
        q.addSource("A");
        q.addSource("B");
        drain(q, "A");
        drain(q, "B");
        for (std::size_t b : {0, 1})
            q.blockReceived(b, "A");
        for (std::size_t b : {2, 3})
            q.blockReceived(b, "B");
        q.chunkFailed(0);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "A", 0));
        CPPUNIT_ASSERT(!q.next("B", 0));
        q.removeSource("A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "B", 0));
    }

    void failedBlockGoesToAnotherSource() {
        BlockPicker p(chunks(1), {}, settings(16 * kBlock, 1));
        p.addSource("A");
        p.addSource("B");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "A", 0));
        p.blockFailed(0, "A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.inFlight("A"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "A", 0)); // not block 0 again
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "B", 0));
        // The only source may retry its failed block.
        BlockPicker q(chunks(1), {}, settings(kChunkSize, 1));
        q.addSource("A");
        q.next("A", 0);
        q.blockFailed(0, "A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(q, "A", 0));
        // A failure reported by a source that did not have the block in flight changes nothing.
        q.blockFailed(0, "B");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), q.inFlight("A"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), q.pendingCount());
    }

    void sourceLossRequeuesItsBlocks() {
        BlockPicker p(chunks(1), {}, settings(8 * kBlock, 3));
        p.addSource("A");
        p.addSource("B");
        drain(p, "A"); // 0, 1, 2
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.pendingCount());
        const auto moved = p.removeSource("A");
        CPPUNIT_ASSERT(moved == std::vector<std::size_t>({0, 1, 2}));
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.pendingCount());
        CPPUNIT_ASSERT(!p.hasSource("A"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.availability(0));
        // A late block from the gone source does not count.
        CPPUNIT_ASSERT(!p.blockReceived(0, "A").accepted);
        CPPUNIT_ASSERT(drain(p, "B") == std::vector<std::size_t>({0, 1, 2}));
        // It may come back (not rejected).
        p.addSource("A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), take(p, "A", 0));
        // B leaves too: its three blocks are pending again, A keeps block 3.
        p.removeSource("B");
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), p.pendingCount());
    }

    void chunkNobodyHasIsStuck() {
        BlockPicker p(chunks(2), {}, settings(kChunkSize, 2));
        p.setAvailability("P", {true, false});
        CPPUNIT_ASSERT(p.stuckChunks() == std::vector<std::size_t>{1});
        CPPUNIT_ASSERT(!p.finishedPossible());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "P", 0));
        CPPUNIT_ASSERT(!p.next("P", 0));
        CPPUNIT_ASSERT(p.blockReceived(0, "P").chunkReady);
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT(!p.finished());
        p.addHave("Q", 1);
        CPPUNIT_ASSERT(p.finishedPossible());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "Q", 0));
        // The only source of a chunk leaves: stuck again, its block pending.
        p.removeSource("Q");
        CPPUNIT_ASSERT(p.stuckChunks() == std::vector<std::size_t>{1});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.pendingCount());
        // A complete source that leaves leaves every unverified chunk stuck.
        BlockPicker q(chunks(3), {{0, 1}}, settings(kChunkSize, 2));
        q.addSource("A");
        CPPUNIT_ASSERT(q.finishedPossible());
        q.removeSource("A");
        CPPUNIT_ASSERT(q.stuckChunks() == std::vector<std::size_t>({0, 2}));
    }

    void resumeSkipsVerifiedChunks() {
        BlockPicker p(chunks(3), {{0, 0}, {0, 2}}, settings(8 * kBlock, 8));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.verifiedCount());
        CPPUNIT_ASSERT_EQUAL(2 * kChunkSize, p.bytesVerified());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.pendingCount());
        CPPUNIT_ASSERT(p.verifiedChunks() == std::vector<bool>({true, false, true}));
        p.addSource("A");
        const auto got = drain(p, "A");
        CPPUNIT_ASSERT(got == std::vector<std::size_t>({4, 5, 6, 7}));
        receiveChunk(p, 1, "A");
        CPPUNIT_ASSERT(p.chunkVerified(1));
        CPPUNIT_ASSERT(p.finished());
        CPPUNIT_ASSERT_EQUAL(3 * kChunkSize, p.bytesVerified());
    }

    void unknownSourceGetsNothing() {
        BlockPicker p(chunks(1), {}, settings(kBlock, 2));
        CPPUNIT_ASSERT(!p.next("nobody", 0));
        CPPUNIT_ASSERT(!p.blockReceived(0, "nobody").accepted);
        CPPUNIT_ASSERT(!p.hasSource("nobody"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(32), p.pendingCount());
    }

    void inOrderFollowsTheWantedListAcrossTwoSources() {
        // 6 chunks of 4 blocks, wanted 2, 0, 4. A is complete; B has only chunks 0 and 4.
        BlockPicker p(chunks(6), {}, inOrder(8 * kBlock, 3));
        p.addSource("A");
        p.setAvailability("B", {true, false, false, false, true, false});
        p.setWanted({2, 0, 4});
        CPPUNIT_ASSERT(drain(p, "A") == std::vector<std::size_t>({8, 9, 10}));
        // B lacks chunk 2: the first wanted chunk it has.
        CPPUNIT_ASSERT(drain(p, "B") == std::vector<std::size_t>({0, 1, 2}));
        for (std::size_t b : {8, 9, 10})
            p.blockReceived(b, "A");
        // A finishes chunk 2, then goes on with chunk 0, then chunk 4.
        CPPUNIT_ASSERT(drain(p, "A") == std::vector<std::size_t>({11, 3, 16}));
        for (std::size_t b : {0, 1, 2})
            p.blockReceived(b, "B");
        CPPUNIT_ASSERT(drain(p, "B") == std::vector<std::size_t>({17, 18, 19}));
    }

    void inOrderSeekServesTheNewHeadFirst() {
        BlockPicker p(chunks(5), {}, inOrder(8 * kBlock, 2));
        p.addSource("A");
        p.setWanted({0, 1, 2, 3, 4});
        CPPUNIT_ASSERT(drain(p, "A") == std::vector<std::size_t>({0, 1}));
        // The reader seeks to chunk 3: its blocks come before chunk 0's rest; block 1 stays
        // in flight.
        p.setWanted({3, 4, 0});
        p.blockReceived(0, "A");
        CPPUNIT_ASSERT_EQUAL(std::size_t(12), take(p, "A", 0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.inFlight("A"));
        CPPUNIT_ASSERT(p.blockReceived(1, "A").accepted);
        CPPUNIT_ASSERT_EQUAL(std::size_t(13), take(p, "A", 0));
    }

    void inOrderGivesNothingOutsideTheWantedChunks() {
        BlockPicker p(chunks(4), {}, inOrder(kChunkSize, 8));
        p.addSource("A");
        CPPUNIT_ASSERT(!p.next("A", 0)); // nothing wanted yet
        p.setWanted({7, 3, 1});          // 7 is no chunk: skipped
        CPPUNIT_ASSERT(drain(p, "A") == std::vector<std::size_t>({3, 1}));
        // A second source only races copies of the wanted chunks, never the unwanted ones.
        p.addSource("B");
        CPPUNIT_ASSERT(drain(p, "B") == std::vector<std::size_t>({3, 1}));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.pendingCount()); // chunks 0 and 2 wait
        for (std::size_t b : {3, 1})
            if (p.blockReceived(b, "A").chunkReady)
                CPPUNIT_ASSERT(p.chunkVerified(b));
        CPPUNIT_ASSERT(!p.next("A", 0));
        CPPUNIT_ASSERT(!p.next("B", 0));
    }

    void inOrderEndgameDuplicatesTheHeadChunkAndNamesTheLoser() {
        // One block per chunk. slow asks for chunk 1 at t=0, then (the reader seeks back)
        // chunk 0 at t=10; fast fetches chunks 2 and 3.
        BlockPicker p(chunks(4), {}, inOrder(kChunkSize, 2));
        p.addSource("slow");
        p.addSource("fast");
        p.addSource("third");
        p.setWanted({1, 2, 3});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "slow", 0));
        p.setWanted({0, 1, 2, 3});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "slow", 10));
        CPPUNIT_ASSERT(drain(p, "fast", 20) == std::vector<std::size_t>({2, 3}));
        for (std::size_t b : {2, 3}) {
            CPPUNIT_ASSERT(p.blockReceived(b, "fast").chunkReady);
            CPPUNIT_ASSERT(p.chunkVerified(b));
        }
        // Nothing wanted is pending: fast races slow for the head chunk 0 first (not for the
        // block slow was asked for longest ago), then for chunk 1.
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), take(p, "fast", 30));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), take(p, "fast", 30));
        // Never a third copy.
        CPPUNIT_ASSERT(!p.next("third", 40));
        const BlockArrival won = p.blockReceived(0, "fast");
        CPPUNIT_ASSERT(won.accepted && won.chunkReady);
        CPPUNIT_ASSERT(won.cancel == std::vector<std::string>{"slow"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.inFlight("slow"));
        CPPUNIT_ASSERT(!p.blockReceived(0, "slow").accepted);
        const BlockArrival last = p.blockReceived(1, "slow");
        CPPUNIT_ASSERT(last.accepted && last.chunkReady);
        CPPUNIT_ASSERT(last.cancel == std::vector<std::string>{"fast"});
    }

    void refetchMakesAVerifiedChunkPendingAgain() {
        BlockPicker p(chunks(2), {}, inOrder(8 * kBlock, 4));
        p.addSource("A");
        p.setWanted({0, 1});
        for (std::size_t b : drain(p, "A"))
            p.blockReceived(b, "A");
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT_EQUAL(kChunkSize, p.bytesVerified());
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.pendingCount());
        // The reader released chunk 0 and needs it again.
        p.refetch(0);
        CPPUNIT_ASSERT(!p.isVerified(0));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.verifiedCount());
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), p.bytesVerified());
        CPPUNIT_ASSERT_EQUAL(std::size_t(8), p.pendingCount());
        CPPUNIT_ASSERT(!p.chunkVerified(0)); // its blocks must arrive again
        // Still wanted first: fetched again, block by block.
        receiveChunkFrom(p, 0, "A");
        CPPUNIT_ASSERT(p.chunkVerified(0));
        CPPUNIT_ASSERT_EQUAL(kChunkSize, p.bytesVerified());
        // An unverified chunk: nothing changes.
        p.refetch(1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), p.pendingCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p.verifiedCount());
        // A chunk verified on disk at the start counts the same.
        BlockPicker q(chunks(2), {{0, 1}}, inOrder(kChunkSize, 4));
        q.refetch(1);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), q.bytesVerified());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), q.pendingCount());
    }

    void rarestFirstIgnoresTheWantedList() {
        for (uint64_t seed = 0; seed < 4; ++seed) {
            BlockPicker plain(chunks(8), {}, settings(kChunkSize, 8, seed));
            BlockPicker wanted(chunks(8), {}, settings(kChunkSize, 8, seed));
            plain.addSource("A");
            wanted.addSource("A");
            wanted.setWanted({5});
            const auto order = drain(wanted, "A");
            CPPUNIT_ASSERT_EQUAL(std::size_t(8), order.size());
            CPPUNIT_ASSERT(drain(plain, "A") == order);
        }
    }

  private:
    // Takes and receives every block of the chunk from peer, in order.
    static void receiveChunkFrom(BlockPicker &p, std::size_t chunk, const std::string &peer) {
        const auto &c = p.chunk(chunk);
        for (std::size_t b = c.firstBlock; b < c.firstBlock + c.blockCount; ++b) {
            auto id = p.next(peer, 0);
            CPPUNIT_ASSERT(id && *id == b);
            CPPUNIT_ASSERT(p.blockReceived(*id, peer).accepted);
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(BlockPickerTest);
