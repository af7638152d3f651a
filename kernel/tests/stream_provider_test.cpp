// The stream provider (install/stream_provider.hpp) on its own: archives made of seeded bytes,
// chunks delivered by the test (or a feeder thread) the way the download engine would, and
// a reader on the byte source. Checks what the unpackers and the fetcher rely on: bytes in
// order across chunk boundaries whatever the delivery order, blocking reads, seeks with the
// seek target wanted first, the memory budget and the eviction order, chunks kept across a
// zip reader's trips (each fetched once), failure, release on open, and ignored deliveries.
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/install/stream_provider.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using lanspread::kernel::catalog::kChunkSize;
using lanspread::kernel::install::StreamArchive;
using lanspread::kernel::install::StreamBudget;
using lanspread::kernel::install::StreamProvider;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMiB = std::size_t(1) << 20;

// Seeded bytes (an LCG), so any offset's value is known without keeping a copy around.
std::vector<uint8_t> seeded(std::size_t size, uint32_t seed) {
    std::vector<uint8_t> bytes(size);
    uint32_t x = seed * 2654435761u + 1;
    for (auto &b : bytes) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(x >> 24);
    }
    return bytes;
}

// The archives of a test and their bytes; chunk ids with gaps between archives, as a plan
// with other files (version.ini) between the archives has them.
struct Stream {
    std::vector<StreamArchive> archives;
    std::vector<std::vector<uint8_t>> bytes;
    std::atomic<int> buffersAlive{0}; // chunk buffers delivered and not yet given back
    std::mutex aliveMutex;
    std::multiset<std::size_t> aliveIds; // the plan ids of those buffers

    void add(const std::string &name, std::size_t size, uint32_t seed) {
        std::size_t first = 3; // ids 0..2 stand for files that are not archives
        if (!archives.empty()) {
            const StreamArchive &last = archives.back();
            first = last.firstChunk +
                    static_cast<std::size_t>(lanspread::kernel::catalog::chunkCount(last.size)) + 1;
        }
        archives.push_back({name, size, first});
        bytes.push_back(seeded(size, seed));
    }
    // Plan id -> (archive, index); nullopt for ids of other files.
    bool locate(std::size_t id, std::size_t &archive, uint64_t &index) const {
        for (std::size_t k = 0; k < archives.size(); ++k) {
            const uint64_t count = lanspread::kernel::catalog::chunkCount(archives[k].size);
            if (id >= archives[k].firstChunk && id - archives[k].firstChunk < count) {
                archive = k;
                index = id - archives[k].firstChunk;
                return true;
            }
        }
        return false;
    }
    std::size_t chunkSize(std::size_t id) const {
        std::size_t k = 0;
        uint64_t index = 0;
        CPPUNIT_ASSERT(locate(id, k, index));
        return static_cast<std::size_t>(
            lanspread::kernel::catalog::chunkLength(archives[k].size, index));
    }
    // A copy of the chunk's bytes in a buffer whose deleter counts it given back.
    StreamProvider::ChunkBytes chunk(std::size_t id) {
        std::size_t k = 0;
        uint64_t index = 0;
        CPPUNIT_ASSERT(locate(id, k, index));
        const std::size_t length = chunkSize(id);
        auto *buffer = new uint8_t[std::max<std::size_t>(length, 1)];
        std::memcpy(buffer, bytes[k].data() + index * kChunkSize, length);
        ++buffersAlive;
        {
            std::lock_guard lock(aliveMutex);
            aliveIds.insert(id);
        }
        return StreamProvider::ChunkBytes(buffer, [this, id](const uint8_t *b) {
            {
                std::lock_guard lock(aliveMutex);
                aliveIds.erase(aliveIds.find(id));
            }
            --buffersAlive;
            delete[] b;
        });
    }
    // The plan ids whose buffers the provider still holds (nobody else keeps one).
    std::set<std::size_t> alive() {
        std::lock_guard lock(aliveMutex);
        return std::set<std::size_t>(aliveIds.begin(), aliveIds.end());
    }
    void deliver(StreamProvider &provider, std::size_t id) {
        provider.deliver(id, chunk(id), chunkSize(id));
    }
};

lanspread_status readSome(StreamProvider &provider, uint8_t *buffer, std::size_t capacity,
                          std::size_t &got) {
    const lanspread_byte_source *source = provider.source();
    return source->read(source, buffer, capacity, &got);
}

lanspread_status seek(StreamProvider &provider, int64_t offset, int32_t whence, int64_t &position) {
    const lanspread_byte_source *source = provider.source();
    return source->seek(source, offset, whence, &position);
}

// Reads the current archive from the read position to its end in pieces of `piece` bytes.
std::vector<uint8_t> readToEnd(StreamProvider &provider, std::size_t piece) {
    std::vector<uint8_t> all;
    std::vector<uint8_t> buffer(piece);
    while (true) {
        std::size_t got = 0;
        lanspread_status rc = readSome(provider, buffer.data(), buffer.size(), got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, rc);
        if (got == 0)
            return all;
        CPPUNIT_ASSERT(got <= buffer.size());
        all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<long>(got));
    }
}

// Delivers whatever the provider wants, in reverse order (the worst order for a reader),
// until stopped: the download engine's part, minus the network.
class Feeder {
  public:
    Feeder(Stream &stream, StreamProvider &provider)
        : _stream(stream), _provider(provider), _thread([this] { run(); }) {}
    ~Feeder() { stop(); }
    void stop() {
        _stop = true;
        if (_thread.joinable())
            _thread.join();
    }
    std::size_t delivered() const { return _delivered; }

  private:
    void run() {
        while (!_stop) {
            std::vector<std::size_t> wanted = _provider.wanted();
            if (wanted.empty()) {
                std::this_thread::sleep_for(1ms);
                continue;
            }
            std::reverse(wanted.begin(), wanted.end());
            for (std::size_t id : wanted) {
                _stream.deliver(_provider, id);
                ++_delivered;
            }
            std::this_thread::sleep_for(200us);
        }
    }
    Stream &_stream;
    StreamProvider &_provider;
    std::atomic<bool> _stop{false};
    std::atomic<std::size_t> _delivered{0};
    std::thread _thread;
};

} // namespace

class StreamProviderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StreamProviderTest);
    CPPUNIT_TEST(testSequentialReadWithFeederOutOfOrder);
    CPPUNIT_TEST(testReadBlocksUntilDelivered);
    CPPUNIT_TEST(testSeekToEndAndBackWantsTheTargetFirst);
    CPPUNIT_TEST(testSeekBounds);
    CPPUNIT_TEST(testBudgetHeldAndWindowBounded);
    CPPUNIT_TEST(testFailWakesBlockedReader);
    CPPUNIT_TEST(testKeptBehindReaderReleasedOnOpen);
    CPPUNIT_TEST(testDeliveriesTakenAndIgnored);
    CPPUNIT_TEST(testEvictionOrder);
    CPPUNIT_TEST(testZipReaderFetchesEachChunkOnce);
    CPPUNIT_TEST(testWakeOutsideTheLock);
    CPPUNIT_TEST(testEmptyArchive);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSequentialReadWithFeederOutOfOrder() {
        Stream stream;
        stream.add("a.eti", 2 * kMiB + 12345, 1); // 3 chunks, the last one short
        stream.add("b.eti", 3 * kMiB, 2);         // exactly 3 chunks
        stream.add("c.eti", 777, 3);              // one short chunk
        auto owned = std::make_unique<StreamProvider>(stream.archives, StreamBudget{4, 6},
                                                      std::function<void()>());
        StreamProvider &provider = *owned;
        CPPUNIT_ASSERT(provider.source()->path == nullptr);
        Feeder feeder(stream, provider);
        const std::size_t pieces[] = {100000, kMiB, 4096};
        for (std::size_t k = 0; k < stream.archives.size(); ++k) {
            provider.open(k);
            uint64_t size = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, provider.source()->size(provider.source(), &size));
            CPPUNIT_ASSERT_EQUAL(stream.archives[k].size, size);
            auto head = provider.head(4096);
            CPPUNIT_ASSERT(head.ok());
            const std::size_t headLength = std::min<std::size_t>(4096, stream.bytes[k].size());
            CPPUNIT_ASSERT(
                std::equal(head.value().begin(), head.value().end(), stream.bytes[k].begin()));
            CPPUNIT_ASSERT_EQUAL(headLength, head.value().size());
            CPPUNIT_ASSERT_MESSAGE("archive " + std::to_string(k),
                                   readToEnd(provider, pieces[k]) == stream.bytes[k]);
        }
        // Fully read: nothing wanted; what is still held goes with the provider.
        CPPUNIT_ASSERT(provider.wanted().empty());
        feeder.stop();
        CPPUNIT_ASSERT(provider.heldBytes() <= 6 * kMiB);
        CPPUNIT_ASSERT(provider.peakHeldBytes() <= 6 * kMiB);
        CPPUNIT_ASSERT(provider.peakHeldBytes() > 0);
        CPPUNIT_ASSERT(provider.lastError().empty());
        owned.reset();
        CPPUNIT_ASSERT_EQUAL(0, stream.buffersAlive.load());
    }

    void testReadBlocksUntilDelivered() {
        Stream stream;
        stream.add("a.eti", kMiB + 10, 4);
        StreamProvider provider(stream.archives, {4, 6}, {});
        provider.open(0);
        std::atomic<bool> returned{false};
        std::vector<uint8_t> buffer(kMiB);
        std::size_t got = 0;
        lanspread_status rc = LANSPREAD_E_FAILED;
        std::thread reader([&] {
            rc = readSome(provider, buffer.data(), buffer.size(), got);
            returned = true;
        });
        std::this_thread::sleep_for(100ms);
        CPPUNIT_ASSERT_MESSAGE("a read returned before its chunk came", !returned);
        const std::size_t first = stream.archives[0].firstChunk;
        CPPUNIT_ASSERT_EQUAL(first, provider.wanted().front());
        stream.deliver(provider, first + 1); // not the one the reader waits for
        std::this_thread::sleep_for(50ms);
        CPPUNIT_ASSERT(!returned);
        stream.deliver(provider, first);
        reader.join();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, rc);
        CPPUNIT_ASSERT_EQUAL(kMiB, got); // up to the end of the chunk
        CPPUNIT_ASSERT(std::equal(buffer.begin(), buffer.end(), stream.bytes[0].begin()));
        // The second chunk is held already: no wait.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), got); // end of the archive
    }

    // zip: the head, then the end (central directory), then back to the start.
    void testSeekToEndAndBackWantsTheTargetFirst() {
        Stream stream;
        stream.add("a.eti", 10 * kMiB + 500, 5); // 11 chunks
        stream.add("b.eti", 5 * kMiB, 6);
        StreamProvider provider(stream.archives, {4, 8}, {});
        const std::size_t a = stream.archives[0].firstChunk, b = stream.archives[1].firstChunk;
        provider.open(0);
        CPPUNIT_ASSERT((std::vector<std::size_t>{a, a + 1, a + 2, a + 3}) == provider.wanted());
        for (std::size_t i = 0; i < 4; ++i)
            stream.deliver(provider, a + i);
        CPPUNIT_ASSERT(provider.head(8192).ok());

        int64_t position = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, -22, LANSPREAD_SEEK_END, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(10 * kMiB + 500 - 22), position);
        // The chunk under the end first, then the window runs on into the next archive.
        CPPUNIT_ASSERT((std::vector<std::size_t>{a + 10, b, b + 1, b + 2}) == provider.wanted());
        stream.deliver(provider, a + 10);
        uint8_t tail[22];
        std::size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, tail, sizeof tail, got));
        CPPUNIT_ASSERT_EQUAL(std::size_t(22), got);
        CPPUNIT_ASSERT(std::equal(tail, tail + 22, stream.bytes[0].end() - 22));

        // Back to the start: the chunks a seek jumped over were kept, the rest is wanted.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(0), position);
        CPPUNIT_ASSERT(provider.wanted().empty()); // a..a+3 are still held
        // Into the middle: the target first.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             seek(provider, 6 * kMiB + 7, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT((std::vector<std::size_t>{a + 6, a + 7, a + 8, a + 9}) == provider.wanted());
        stream.deliver(provider, a + 6);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 5, LANSPREAD_SEEK_CUR, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(6 * kMiB + 12), position);
        uint8_t some[100];
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, some, sizeof some, got));
        CPPUNIT_ASSERT_EQUAL(sizeof some, got);
        CPPUNIT_ASSERT(std::equal(some, some + got, stream.bytes[0].begin() + 6 * kMiB + 12));
        // And a read from the start works from the chunks kept across the seeks.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_SET, position));
        std::vector<uint8_t> start(kMiB);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, start.data(), start.size(), got));
        CPPUNIT_ASSERT_EQUAL(kMiB, got);
        CPPUNIT_ASSERT(std::equal(start.begin(), start.end(), stream.bytes[0].begin()));
    }

    void testSeekBounds() {
        Stream stream;
        stream.add("a.eti", 2 * kMiB, 7);
        StreamProvider provider(stream.archives, {4, 6}, {});
        provider.open(0);
        int64_t position = -1;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_END, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(2 * kMiB), position);
        std::size_t got = 99;
        uint8_t byte = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, &byte, 1, got)); // at the end
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), got);
        CPPUNIT_ASSERT(provider.wanted().empty()); // the last archive, at its end
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             seek(provider, 1, LANSPREAD_SEEK_END, position));
        CPPUNIT_ASSERT(!provider.lastError().empty());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             seek(provider, -1, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             seek(provider, INT64_MAX, LANSPREAD_SEEK_CUR, position));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, seek(provider, 0, 7, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(2 * kMiB), position); // failed seeks moved nothing
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             seek(provider, -int64_t(kMiB), LANSPREAD_SEEK_CUR, position));
        CPPUNIT_ASSERT_EQUAL(int64_t(kMiB), position);
        CPPUNIT_ASSERT(std::vector<std::size_t>{stream.archives[0].firstChunk + 1} ==
                       provider.wanted());
    }

    // Deliver everything wanted and more, read with forward and backward seeks: never more
    // than maxHeldChunks held, never more than windowChunks wanted, and only chunks from the
    // read position on; the extra deliveries are taken and then evicted before any window
    // chunk (the window stays held: nothing is wanted after a feed).
    void testBudgetHeldAndWindowBounded() {
        Stream stream;
        for (uint32_t k = 0; k < 3; ++k)
            stream.add("g" + std::to_string(k) + ".eti", 12 * kMiB + 100 * k, 10 + k);
        const StreamBudget budget{4, 6};
        StreamProvider provider(stream.archives, budget, {});
        // Stream order of every archive chunk, to check the window's place.
        std::vector<std::size_t> order;
        for (const auto &a : stream.archives)
            for (uint64_t i = 0; i < lanspread::kernel::catalog::chunkCount(a.size); ++i)
                order.push_back(a.firstChunk + i);
        auto orderOf = [&](std::size_t id) {
            return static_cast<std::size_t>(std::find(order.begin(), order.end(), id) -
                                            order.begin());
        };
        std::size_t checks = 0;
        auto feedAndCheck = [&](std::size_t archive, uint64_t position) {
            const std::size_t readOrder =
                orderOf(stream.archives[archive].firstChunk) + position / kChunkSize;
            std::vector<std::size_t> wanted = provider.wanted();
            CPPUNIT_ASSERT(wanted.size() <= budget.windowChunks);
            for (std::size_t id : wanted) {
                CPPUNIT_ASSERT(orderOf(id) >= readOrder);
                CPPUNIT_ASSERT(orderOf(id) < readOrder + budget.windowChunks);
            }
            for (std::size_t id : wanted)
                stream.deliver(provider, id);
            // Chunks nobody asked for: behind, far ahead, every other one.
            for (std::size_t i = 0; i < order.size(); i += 5)
                stream.deliver(provider, order[i]);
            CPPUNIT_ASSERT(provider.wanted().empty());
            CPPUNIT_ASSERT(provider.heldBytes() <= budget.maxHeldChunks * kChunkSize);
            CPPUNIT_ASSERT(stream.buffersAlive <= int(budget.maxHeldChunks));
            ++checks;
        };
        std::vector<uint8_t> buffer(300000);
        for (std::size_t k = 0; k < stream.archives.size(); ++k) {
            provider.open(k);
            const uint64_t size = stream.archives[k].size;
            int64_t position = 0;
            // Forward skip, backward skip, then a read to the end.
            for (int64_t target : {int64_t(size - 1000), int64_t(3 * kMiB + 5), int64_t(0)}) {
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                     seek(provider, target, LANSPREAD_SEEK_SET, position));
                feedAndCheck(k, static_cast<uint64_t>(position));
                std::size_t got = 0;
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), 200, got));
                CPPUNIT_ASSERT(std::equal(buffer.begin(), buffer.begin() + long(got),
                                          stream.bytes[k].begin() + target));
            }
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_SET, position));
            uint64_t at = 0;
            while (at < size) {
                feedAndCheck(k, at);
                std::size_t got = 0;
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                     readSome(provider, buffer.data(), buffer.size(), got));
                CPPUNIT_ASSERT(got > 0);
                CPPUNIT_ASSERT(std::equal(buffer.begin(), buffer.begin() + long(got),
                                          stream.bytes[k].begin() + long(at)));
                at += got;
            }
        }
        CPPUNIT_ASSERT(checks > 100);
        CPPUNIT_ASSERT(provider.wanted().empty());
        CPPUNIT_ASSERT(provider.peakHeldBytes() <= budget.maxHeldChunks * kChunkSize);
        CPPUNIT_ASSERT(provider.peakHeldBytes() >= (budget.maxHeldChunks - 1) * kChunkSize);
    }

    void testFailWakesBlockedReader() {
        for (lanspread_status status : {LANSPREAD_E_CANCELLED, LANSPREAD_E_IO}) {
            Stream stream;
            stream.add("a.eti", 3 * kMiB, 8);
            StreamProvider provider(stream.archives, {4, 6}, {});
            provider.open(0);
            stream.deliver(provider, stream.archives[0].firstChunk + 1);
            CPPUNIT_ASSERT_EQUAL(uint64_t(kMiB), provider.heldBytes());
            std::atomic<bool> returned{false};
            lanspread_status rc = LANSPREAD_OK;
            std::thread reader([&] {
                std::vector<uint8_t> buffer(100);
                std::size_t got = 0;
                rc = readSome(provider, buffer.data(), buffer.size(), got);
                returned = true;
            });
            lanspread::Status headStatus;
            std::thread prober([&] { headStatus = provider.head(4096).status(); });
            std::this_thread::sleep_for(50ms);
            CPPUNIT_ASSERT(!returned);
            CPPUNIT_ASSERT(!provider.failed());
            CPPUNIT_ASSERT(provider.failure().succeeded());
            provider.fail(status, "every source is gone");
            provider.fail(LANSPREAD_E_IO, "a later failure does not count");
            reader.join();
            prober.join();
            CPPUNIT_ASSERT_EQUAL(status, rc);
            CPPUNIT_ASSERT_EQUAL(status, headStatus.code());
            CPPUNIT_ASSERT_EQUAL(std::string("every source is gone"), headStatus.message());
            CPPUNIT_ASSERT_EQUAL(std::string("every source is gone"), provider.lastError());
            CPPUNIT_ASSERT(provider.failed());
            CPPUNIT_ASSERT_EQUAL(status, provider.failure().code());
            CPPUNIT_ASSERT(provider.wanted().empty());
            CPPUNIT_ASSERT_EQUAL(uint64_t(0), provider.heldBytes());
            CPPUNIT_ASSERT_EQUAL(0, stream.buffersAlive.load());
            stream.deliver(provider, stream.archives[0].firstChunk); // ignored after the end
            CPPUNIT_ASSERT_EQUAL(uint64_t(0), provider.heldBytes());
            uint8_t byte = 0;
            std::size_t got = 0;
            CPPUNIT_ASSERT_EQUAL(status, readSome(provider, &byte, 1, got));
        }
    }

    void testKeptBehindReaderReleasedOnOpen() {
        Stream stream;
        stream.add("a.eti", 3 * kMiB, 9);
        stream.add("b.eti", 2 * kMiB, 10);
        StreamProvider provider(stream.archives, {4, 6}, {});
        const std::size_t a = stream.archives[0].firstChunk, b = stream.archives[1].firstChunk;
        provider.open(0);
        for (std::size_t id : {a, a + 1, a + 2, b})
            stream.deliver(provider, id);
        CPPUNIT_ASSERT_EQUAL(uint64_t(4 * kMiB), provider.heldBytes());
        CPPUNIT_ASSERT_EQUAL(4, stream.buffersAlive.load());
        std::vector<uint8_t> buffer(kMiB / 2);
        std::size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        // Chunk 0 passed: still held (a zip reader comes back), and the window moved on to b's
        // second chunk.
        CPPUNIT_ASSERT_EQUAL(uint64_t(4 * kMiB), provider.heldBytes());
        CPPUNIT_ASSERT((std::set<std::size_t>{a, a + 1, a + 2, b}) == stream.alive());
        CPPUNIT_ASSERT(std::vector<std::size_t>{b + 1} == provider.wanted());
        // A second copy of a held chunk is given back at once.
        stream.deliver(provider, a);
        CPPUNIT_ASSERT_EQUAL(4, stream.buffersAlive.load());
        // Back to the start: read from what is held, nothing wanted but the window's end.
        int64_t position = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT(provider.wanted().empty()); // a .. b, all held
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        CPPUNIT_ASSERT(std::equal(buffer.begin(), buffer.end(), stream.bytes[0].begin()));
        // Opening b drops all of a, keeps b's first chunk.
        provider.open(1);
        CPPUNIT_ASSERT_EQUAL(uint64_t(kMiB), provider.heldBytes());
        CPPUNIT_ASSERT((std::set<std::size_t>{b}) == stream.alive());
        CPPUNIT_ASSERT(std::vector<std::size_t>{b + 1} == provider.wanted());
    }

    void testDeliveriesTakenAndIgnored() {
        Stream stream;
        stream.add("a.eti", 10 * kMiB, 11);
        stream.add("b.eti", 2 * kMiB, 16);
        StreamProvider provider(stream.archives, {3, 4}, {});
        const std::size_t a = stream.archives[0].firstChunk, b = stream.archives[1].firstChunk;
        provider.open(0);
        stream.deliver(provider, a + 5); // beyond the window: taken all the same
        stream.deliver(provider, b);     // a later archive: taken
        CPPUNIT_ASSERT_EQUAL(uint64_t(2 * kMiB), provider.heldBytes());
        provider.deliver(a - 1, stream.chunk(a), kMiB);     // not an archive's chunk
        provider.deliver(a + 9999, stream.chunk(a), kMiB);  // not a chunk at all
        provider.deliver(a + 1, stream.chunk(a + 1), 1000); // the wrong size
        provider.deliver(a + 2, nullptr, kMiB);             // no bytes
        CPPUNIT_ASSERT_EQUAL(uint64_t(2 * kMiB), provider.heldBytes());
        CPPUNIT_ASSERT((std::set<std::size_t>{a + 5, b}) == stream.alive()); // the rest given back
        stream.deliver(provider, a + 1);
        stream.deliver(provider, a + 1); // a second copy (an endgame duplicate)
        CPPUNIT_ASSERT_EQUAL(uint64_t(3 * kMiB), provider.heldBytes());
        CPPUNIT_ASSERT_EQUAL(3, stream.buffersAlive.load());
        CPPUNIT_ASSERT((std::vector<std::size_t>{a, a + 2}) == provider.wanted());
        // Once b is open, a's chunks are of no use: released, and a late one is not taken.
        provider.open(1);
        stream.deliver(provider, a + 2);
        CPPUNIT_ASSERT_EQUAL(uint64_t(kMiB), provider.heldBytes());
        CPPUNIT_ASSERT((std::set<std::size_t>{b}) == stream.alive());
        CPPUNIT_ASSERT(std::vector<std::size_t>{b + 1} == provider.wanted());
    }

    // Chunks delivered behind the read position are kept while the budget has room; when it
    // has none, the farthest behind go first, then the farthest ahead outside the window (a
    // chunk just delivered among them), never the window.
    void testEvictionOrder() {
        Stream stream;
        stream.add("a.eti", 12 * kMiB, 17);
        StreamProvider provider(stream.archives, {2, 5}, {});
        const std::size_t a = stream.archives[0].firstChunk;
        provider.open(0);
        int64_t position = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 5 * kMiB, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT((std::vector<std::size_t>{a + 5, a + 6}) == provider.wanted());
        const auto chunks = [a](std::initializer_list<std::size_t> indexes) {
            std::set<std::size_t> ids;
            for (std::size_t i : indexes)
                ids.insert(a + i);
            return ids;
        };
        for (std::size_t i : {0, 1, 2}) // behind the reader (arriving after its seek)
            stream.deliver(provider, a + i);
        CPPUNIT_ASSERT(chunks({0, 1, 2}) == stream.alive());
        stream.deliver(provider, a + 5);
        stream.deliver(provider, a + 6);
        CPPUNIT_ASSERT(chunks({0, 1, 2, 5, 6}) == stream.alive()); // the budget is full
        CPPUNIT_ASSERT(provider.wanted().empty());
        stream.deliver(provider, a + 8); // ahead, outside the window: the farthest behind goes
        CPPUNIT_ASSERT(chunks({1, 2, 5, 6, 8}) == stream.alive());
        stream.deliver(provider, a + 3); // behind, but nearer than 1
        CPPUNIT_ASSERT(chunks({2, 3, 5, 6, 8}) == stream.alive());
        stream.deliver(provider, a + 11);
        CPPUNIT_ASSERT(chunks({3, 5, 6, 8, 11}) == stream.alive());
        stream.deliver(provider, a + 4);
        CPPUNIT_ASSERT(chunks({4, 5, 6, 8, 11}) == stream.alive());
        stream.deliver(provider, a + 10);
        CPPUNIT_ASSERT(chunks({5, 6, 8, 10, 11}) == stream.alive());
        // Nothing behind any more: the farthest ahead outside the window goes.
        stream.deliver(provider, a + 9);
        CPPUNIT_ASSERT(chunks({5, 6, 8, 9, 10}) == stream.alive());
        stream.deliver(provider, a + 11); // the farthest: it goes at once
        CPPUNIT_ASSERT(chunks({5, 6, 8, 9, 10}) == stream.alive());
        CPPUNIT_ASSERT_EQUAL(uint64_t(5 * kMiB), provider.heldBytes());
        CPPUNIT_ASSERT(provider.wanted().empty()); // the window was never touched
        // The reader moves on: chunk 5 is behind it, kept until a delivery needs its room.
        std::vector<uint8_t> buffer(kMiB);
        std::size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), buffer.size(), got));
        CPPUNIT_ASSERT(
            std::equal(buffer.begin(), buffer.end(), stream.bytes[0].begin() + 5 * kMiB));
        CPPUNIT_ASSERT(chunks({5, 6, 8, 9, 10}) == stream.alive());
        CPPUNIT_ASSERT(std::vector<std::size_t>{a + 7} == provider.wanted());
        stream.deliver(provider, a + 7);
        CPPUNIT_ASSERT(chunks({6, 7, 8, 9, 10}) == stream.alive());
        CPPUNIT_ASSERT(provider.peakHeldBytes() <= 5 * kMiB);
    }

    // A zip reader on a 40-chunk archive (budget 32/48): the head and chunks 0..2, a seek to
    // the last chunk (its central directory) read to the end, back to 0 and everything in
    // order. The fetcher requests what is wanted, in order, and its requests arrive later,
    // the way the download engine's do (those for chunks 3.. arrive while the reader is at the
    // end). Every chunk is delivered once and never wanted again.
    void testZipReaderFetchesEachChunkOnce() {
        Stream stream;
        const std::size_t size = 40 * kMiB - 1000;
        stream.add("game.eti", size, 18);
        StreamProvider provider(stream.archives, {32, 48}, {});
        const std::size_t a = stream.archives[0].firstChunk;

        std::deque<std::size_t> inFlight; // requested, not yet arrived, in request order
        std::set<std::size_t> requested, delivered;
        std::map<std::size_t, int> wantedAgain; // chunk -> times wanted after its delivery
        std::size_t deliveries = 0;
        const auto poll = [&] {
            for (std::size_t id : provider.wanted()) {
                if (requested.count(id) != 0)
                    continue;
                if (delivered.count(id) != 0)
                    ++wantedAgain[id];
                requested.insert(id);
                inFlight.push_back(id);
            }
        };
        // Lets requests arrive, oldest first, until the chunk under the read position has.
        uint64_t at = 0;
        const auto arriveForRead = [&] {
            poll();
            const std::size_t needed = a + static_cast<std::size_t>(at / kChunkSize);
            while (requested.count(needed) != 0) {
                const std::size_t id = inFlight.front();
                inFlight.pop_front();
                requested.erase(id);
                stream.deliver(provider, id);
                delivered.insert(id);
                ++deliveries;
                poll();
            }
        };
        const auto readPiece = [&](std::size_t capacity) {
            arriveForRead();
            std::vector<uint8_t> buffer(capacity);
            std::size_t got = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 readSome(provider, buffer.data(), buffer.size(), got));
            CPPUNIT_ASSERT(std::equal(buffer.begin(), buffer.begin() + long(got),
                                      stream.bytes[0].begin() + long(at)));
            at += got;
            return got;
        };
        const auto seekTo = [&](uint64_t target) {
            int64_t position = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 seek(provider, int64_t(target), LANSPREAD_SEEK_SET, position));
            at = target;
        };

        provider.open(0);
        arriveForRead();
        CPPUNIT_ASSERT(provider.head(4096).ok());
        while (at < 3 * kMiB) // the bidder: chunks 0..2
            readPiece(64 * 1024);
        seekTo(39 * kMiB); // the central directory, in the last chunk
        while (readPiece(64 * 1024) > 0) {
        }
        CPPUNIT_ASSERT_EQUAL(uint64_t(size), at);
        seekTo(0); // the entries, in order
        while (readPiece(256 * 1024) > 0) {
        }
        CPPUNIT_ASSERT_EQUAL(uint64_t(size), at);

        std::string again;
        for (const auto &[id, times] : wantedAgain)
            again += " " + std::to_string(id - a) + "x" + std::to_string(times);
        CPPUNIT_ASSERT_MESSAGE("chunks wanted again after delivery:" + again, wantedAgain.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(40), deliveries);
        CPPUNIT_ASSERT(provider.wanted().empty());
        CPPUNIT_ASSERT(provider.peakHeldBytes() <= 48 * kMiB);
    }

    // wake runs without the provider's lock held (it may call back into it) and only when
    // the wanted set may have changed: open, another chunk under the read position (by a seek
    // or by reading into it: nothing is released, but the window's end moved).
    void testWakeOutsideTheLock() {
        Stream stream;
        stream.add("a.eti", 3 * kMiB, 12);
        std::atomic<int> wakes{0};
        StreamProvider *self = nullptr;
        StreamProvider provider(stream.archives, {4, 6}, [&] {
            ++wakes;
            (void)self->wanted(); // deadlocks if wake were called under the lock
            (void)self->heldBytes();
        });
        self = &provider;
        provider.open(0);
        CPPUNIT_ASSERT_EQUAL(1, wakes.load());
        const std::size_t a = stream.archives[0].firstChunk;
        stream.deliver(provider, a);
        stream.deliver(provider, a + 1);
        CPPUNIT_ASSERT_EQUAL(1, wakes.load()); // deliveries are the fetcher's own doing
        std::vector<uint8_t> buffer(kMiB);
        std::size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), kMiB / 4, got));
        CPPUNIT_ASSERT_EQUAL(1, wakes.load()); // within a chunk: nothing changed
        int64_t position = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 100, LANSPREAD_SEEK_CUR, position));
        CPPUNIT_ASSERT_EQUAL(1, wakes.load()); // still the same chunk
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, -1, LANSPREAD_SEEK_END, position));
        CPPUNIT_ASSERT_EQUAL(2, wakes.load());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, seek(provider, 0, LANSPREAD_SEEK_SET, position));
        CPPUNIT_ASSERT_EQUAL(3, wakes.load());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), kMiB, got));
        CPPUNIT_ASSERT_EQUAL(kMiB, got);
        CPPUNIT_ASSERT_EQUAL(4, wakes.load()); // into chunk 1: the window now takes in chunk 2
        CPPUNIT_ASSERT_EQUAL(uint64_t(2 * kMiB), provider.heldBytes()); // chunk 0 is kept
        CPPUNIT_ASSERT(std::vector<std::size_t>{a + 2} == provider.wanted());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, buffer.data(), kMiB / 2, got));
        CPPUNIT_ASSERT_EQUAL(4, wakes.load()); // within chunk 1
    }

    // An empty archive has nothing to fetch: the window skips it, ahead or current.
    void testEmptyArchive() {
        Stream stream;
        stream.add("a.eti", 100, 13);
        stream.add("e.eti", 0, 14);
        stream.add("b.eti", 100, 15);
        const std::size_t a = stream.archives[0].firstChunk, b = stream.archives[2].firstChunk;
        StreamProvider provider(stream.archives, {4, 6}, {});
        CPPUNIT_ASSERT((std::vector<std::size_t>{a, b}) == provider.wanted());
        provider.open(0);
        stream.deliver(provider, a);
        CPPUNIT_ASSERT(readToEnd(provider, 64) == stream.bytes[0]);
        provider.open(1);
        CPPUNIT_ASSERT(std::vector<std::size_t>{b} == provider.wanted());
        auto head = provider.head(4096);
        CPPUNIT_ASSERT(head.ok());
        CPPUNIT_ASSERT(head.value().empty());
        uint8_t byte = 0;
        std::size_t got = 1;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, readSome(provider, &byte, 1, got));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), got);
        provider.open(2);
        stream.deliver(provider, b);
        CPPUNIT_ASSERT(readToEnd(provider, 64) == stream.bytes[2]);
        CPPUNIT_ASSERT(provider.wanted().empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StreamProviderTest);
