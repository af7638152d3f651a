// transport-tls: StreamMux alone — two muxes wired back to back through produce()/receive(),
// with a recording MuxEvents on each side. Checks stream opening order and limits, credits
// (a reader that never consumes stops the sender exactly at the window), FIN, reset, close,
// round-robin fairness between a bulk stream and a small one, and protocol violations.
#include "stream_mux.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <map>
#include <numeric>
#include <string>
#include <vector>

using namespace lanspread::plugins::tls;

namespace {

struct Recorder : MuxEvents {
    bool settings = false;
    std::vector<uint64_t> opened;
    std::map<uint64_t, std::vector<uint8_t>> data;
    std::map<uint64_t, bool> fin, reset;
    bool closed = false;
    uint64_t closeError = 0;
    std::string closeReason;
    bool autoConsume = false;
    StreamMux *mux = nullptr;
    std::vector<uint64_t> order; // stream of every delivery, in order

    void settingsReceived() override { settings = true; }
    void streamOpened(uint64_t s) override { opened.push_back(s); }
    void streamData(uint64_t s, std::span<const uint8_t> d, uint32_t flags) override {
        data[s].insert(data[s].end(), d.begin(), d.end());
        order.push_back(s);
        if (flags & kStreamFin)
            fin[s] = true;
        if (flags & kStreamReset)
            reset[s] = true;
        if (autoConsume && !d.empty())
            CPPUNIT_ASSERT(mux->consume(s, d.size()).succeeded());
    }
    void peerClosed(uint64_t e, std::string r) override {
        closed = true;
        closeError = e;
        closeReason = std::move(r);
    }
    bool halted() const override { return closed; }
};

struct Pair {
    explicit Pair(MuxLimits clientLimits = {}, MuxLimits serverLimits = {})
        : client(true, clientLimits, clientEvents), server(false, serverLimits, serverEvents) {
        clientEvents.mux = &client;
        serverEvents.mux = &server;
        pump();
    }
    // Moves frames both ways until neither side has anything to send (or `rounds` ran out).
    // budget: bytes per produce() call.
    std::size_t pump(int rounds = 100000, std::size_t budget = 64 * 1024) {
        std::size_t moved = 0;
        for (int i = 0; i < rounds; ++i) {
            std::vector<uint8_t> a, b;
            client.produce(a, budget);
            server.produce(b, budget);
            if (a.empty() && b.empty())
                break;
            moved += a.size() + b.size();
            CPPUNIT_ASSERT(server.receive(a).succeeded());
            CPPUNIT_ASSERT(client.receive(b).succeeded());
        }
        return moved;
    }
    Recorder clientEvents, serverEvents;
    StreamMux client, server;
};

std::vector<uint8_t> bytes(std::size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

} // namespace

class StreamMuxTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StreamMuxTest);
    CPPUNIT_TEST(testSettingsExchangedBeforeStreams);
    CPPUNIT_TEST(testStreamsBothWaysWithFin);
    CPPUNIT_TEST(testReaderThatNeverConsumesStopsSenderAtWindow);
    CPPUNIT_TEST(testSendBufferBoundsAcceptedBytesAndWritableFollows);
    CPPUNIT_TEST(testRoundRobinSmallStreamNotStarvedByBulk);
    CPPUNIT_TEST(testResetBothWaysReturnsConnectionWindow);
    CPPUNIT_TEST(testStreamLimitThenMaxStreamsRaisesIt);
    CPPUNIT_TEST(testCloseCarriesCodeAndReason);
    CPPUNIT_TEST(testProtocolViolationsAreErrors);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSettingsExchangedBeforeStreams() {
        Recorder ev;
        StreamMux lonely(true, {}, ev);
        auto id = lonely.openStream();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_AGAIN, id.status().code()); // no SETTINGS yet
        Pair p;
        CPPUNIT_ASSERT(p.clientEvents.settings && p.serverEvents.settings);
        auto c = p.client.openStream();
        auto s = p.server.openStream();
        CPPUNIT_ASSERT(c.ok() && s.ok());
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), c.value()); // client odd
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), s.value()); // server even
    }

    void testStreamsBothWaysWithFin() {
        Pair p;
        p.clientEvents.autoConsume = p.serverEvents.autoConsume = true;
        const uint64_t a = p.client.openStream().value();
        const uint64_t b = p.client.openStream().value();
        const auto payload = bytes(100000, 3);
        CPPUNIT_ASSERT_EQUAL(payload.size(), p.client.send(b, payload, kStreamFin).value());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.client.send(a, {}, kStreamFin).value());
        p.pump();
        // Announced in id order although b's data was queued first.
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p.serverEvents.opened.size());
        CPPUNIT_ASSERT_EQUAL(a, p.serverEvents.opened[0]);
        CPPUNIT_ASSERT(p.serverEvents.data[b] == payload);
        CPPUNIT_ASSERT(p.serverEvents.fin[a] && p.serverEvents.fin[b]);
        // Answer on b, then both directions are finished: the stream is forgotten on both sides.
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), p.server.send(b, bytes(5, 1), kStreamFin).value());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.server.send(a, {}, kStreamFin).value());
        p.pump();
        CPPUNIT_ASSERT(p.clientEvents.data[b] == bytes(5, 1));
        CPPUNIT_ASSERT(p.clientEvents.fin[b]);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.client.streamCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), p.server.streamCount());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND,
                             p.client.send(b, bytes(1, 1), 0).status().code());
    }

    void testReaderThatNeverConsumesStopsSenderAtWindow() {
        MuxLimits server;
        server.streamWindow = 64 * 1024;
        server.connWindow = 1 << 20;
        Pair p({}, server);
        const uint64_t s = p.client.openStream().value();
        const auto big = bytes(1 << 20, 9);
        CPPUNIT_ASSERT_EQUAL(big.size(), p.client.send(s, big, 0).value());
        p.pump();
        // Exactly the window arrived; the rest waits in the sender.
        CPPUNIT_ASSERT_EQUAL(std::size_t(64 * 1024), p.serverEvents.data[s].size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(64 * 1024), p.server.receiveUnconsumed());
        CPPUNIT_ASSERT_EQUAL(uint64_t((1 << 20) - 64 * 1024), p.client.sendBuffered());
        // Consuming a quarter of the window releases exactly that much more.
        CPPUNIT_ASSERT(p.server.consume(s, 16 * 1024).succeeded());
        p.pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(80 * 1024), p.serverEvents.data[s].size());
        // Less than a quarter is not advertised yet (no WINDOW frame per byte).
        CPPUNIT_ASSERT(p.server.consume(s, 1000).succeeded());
        p.pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(80 * 1024), p.serverEvents.data[s].size());
        // Consuming more than was delivered is clamped: the window never outgrows the buffer.
        CPPUNIT_ASSERT(p.server.consume(s, 10 << 20).succeeded());
        p.pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(80 * 1024 + 64 * 1024), p.serverEvents.data[s].size());
    }

    void testSendBufferBoundsAcceptedBytesAndWritableFollows() {
        MuxLimits client;
        client.streamSendBuffer = 100 * 1024;
        client.connSendBuffer = 150 * 1024;
        MuxLimits server;
        server.streamWindow = 32 * 1024;
        Pair p(client, server);
        const uint64_t a = p.client.openStream().value();
        const uint64_t b = p.client.openStream().value();
        const auto big = bytes(1 << 20, 5);
        CPPUNIT_ASSERT_EQUAL(std::size_t(100 * 1024), p.client.send(a, big, kStreamFin).value());
        // The connection budget leaves b only 50 KiB.
        CPPUNIT_ASSERT_EQUAL(std::size_t(50 * 1024), p.client.send(b, big, 0).value());
        CPPUNIT_ASSERT(p.client.takeWritable().empty());
        p.pump(); // 32 KiB of each goes out; the reader does not consume
        auto writable = p.client.takeWritable();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), writable.size()); // room again for both
        CPPUNIT_ASSERT(p.client.takeWritable().empty());       // once per refusal
        // FIN was not taken with the partial send: the stream is still open for sending.
        CPPUNIT_ASSERT(p.client.send(a, bytes(10, 1), 0).ok());
    }

    void testRoundRobinSmallStreamNotStarvedByBulk() {
        Pair p;
        p.serverEvents.autoConsume = true;
        const uint64_t bulk = p.client.openStream().value();
        const auto big = bytes(4 << 20, 1);
        CPPUNIT_ASSERT_EQUAL(big.size(), p.client.send(bulk, big, kStreamFin).value());
        p.pump(1, 64 * 1024); // the first batch of bulk is on its way
        const uint64_t control = p.client.openStream().value();
        CPPUNIT_ASSERT(p.client.send(control, bytes(100, 2), kStreamFin).ok());
        p.pump();
        // The control stream's one frame arrived right after at most one more bulk frame.
        const auto &order = p.serverEvents.order;
        const auto at = std::find(order.begin(), order.end(), control) - order.begin();
        const auto bulkBefore = std::count(order.begin(), order.begin() + at, bulk);
        CPPUNIT_ASSERT_MESSAGE(std::to_string(bulkBefore), bulkBefore <= 6);
        CPPUNIT_ASSERT(p.serverEvents.data[bulk] == big);
    }

    void testResetBothWaysReturnsConnectionWindow() {
        MuxLimits server;
        server.streamWindow = 64 * 1024;
        server.connWindow = 64 * 1024;
        Pair p({}, server);
        const uint64_t s1 = p.client.openStream().value();
        CPPUNIT_ASSERT(p.client.send(s1, bytes(64 * 1024, 1), 0).ok());
        p.pump();
        CPPUNIT_ASSERT_EQUAL(uint64_t(64 * 1024), p.server.receiveUnconsumed());
        // The connection window is used up; resetting gives it back without any consume().
        CPPUNIT_ASSERT(p.server.reset(s1, 7).succeeded());
        p.pump();
        CPPUNIT_ASSERT(p.clientEvents.reset[s1]);
        CPPUNIT_ASSERT(!p.client.knows(s1));
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), p.server.receiveUnconsumed());
        const uint64_t s2 = p.client.openStream().value();
        CPPUNIT_ASSERT(p.client.send(s2, bytes(1000, 1), kStreamFin).ok());
        p.pump();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1000), p.serverEvents.data[s2].size());
        // The other direction: the opener resets; the peer learns, calls fail afterwards.
        CPPUNIT_ASSERT(p.client.reset(s2, 9).succeeded());
        p.pump();
        CPPUNIT_ASSERT(p.serverEvents.reset[s2]);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, p.server.consume(s2, 1).code());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, p.client.reset(s2, 9).code());
    }

    void testStreamLimitThenMaxStreamsRaisesIt() {
        MuxLimits server;
        server.maxStreams = 2;
        Pair p({}, server);
        const uint64_t a = p.client.openStream().value();
        p.client.openStream().value();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_AGAIN, p.client.openStream().status().code());
        p.pump();
        CPPUNIT_ASSERT(p.client.takeWritable().empty());
        CPPUNIT_ASSERT(p.client.reset(a, 1).succeeded()); // the server retires a ...
        p.pump();                                         // ... and raises the limit by one
        auto writable = p.client.takeWritable();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), writable.size());
        CPPUNIT_ASSERT_EQUAL(kAnyStream, writable[0]);
        CPPUNIT_ASSERT(p.client.openStream().ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_AGAIN, p.client.openStream().status().code());
    }

    void testCloseCarriesCodeAndReason() {
        Pair p;
        p.client.queueClose(42, "bye now");
        p.pump();
        CPPUNIT_ASSERT(p.serverEvents.closed);
        CPPUNIT_ASSERT_EQUAL(uint64_t(42), p.serverEvents.closeError);
        CPPUNIT_ASSERT_EQUAL(std::string("bye now"), p.serverEvents.closeReason);
    }

    void testProtocolViolationsAreErrors() {
        const auto fresh = [](std::vector<uint8_t> wire) {
            Recorder ev;
            StreamMux server(false, {}, ev);
            std::vector<uint8_t> settings;
            appendU64Frame(settings, FrameType::Settings, 0, {1 << 20, 1 << 20, 8});
            settings.insert(settings.end(), wire.begin(), wire.end());
            return server.receive(settings);
        };
        std::vector<uint8_t> w;
        // data before SETTINGS
        {
            Recorder ev;
            StreamMux server(false, {}, ev);
            std::vector<uint8_t> bad;
            appendDataHeader(bad, 0, 1, 0);
            CPPUNIT_ASSERT(!server.receive(bad).succeeded());
        }
        // more than the stream window (16 MiB default is larger: use a 1 MiB SETTINGS peer's
        // view from the server's own limits: the server allows 16 MiB, so send a bigger
        // frame count than its connection window instead)
        {
            MuxLimits small;
            small.streamWindow = 16 * 1024;
            Recorder ev;
            StreamMux server(false, small, ev);
            std::vector<uint8_t> wire;
            appendU64Frame(wire, FrameType::Settings, 0, {1 << 20, 1 << 20, 8});
            std::vector<uint8_t> chunk(16 * 1024, 1);
            appendFrame(wire, FrameType::Data, 0, 1, chunk);
            CPPUNIT_ASSERT(server.receive(wire).succeeded());
            std::vector<uint8_t> more;
            appendFrame(more, FrameType::Data, 0, 1, std::vector<uint8_t>(1, 1));
            CPPUNIT_ASSERT(!server.receive(more).succeeded());
        }
        w.clear(); // stream opened out of order (3 before 1)
        appendDataHeader(w, 0, 3, 0);
        CPPUNIT_ASSERT(!fresh(w).succeeded());
        w.clear(); // a server-parity stream the server never opened
        appendDataHeader(w, 0, 2, 0);
        CPPUNIT_ASSERT(!fresh(w).succeeded());
        w.clear(); // unknown frame type
        w.assign({9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        CPPUNIT_ASSERT(!fresh(w).succeeded());
        w.clear(); // oversized payload announced
        w.assign({1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1});
        CPPUNIT_ASSERT(!fresh(w).succeeded());
        w.clear(); // data after FIN
        appendDataHeader(w, kFrameFin, 1, 0);
        appendFrame(w, FrameType::Data, 0, 1, std::vector<uint8_t>(3, 1));
        CPPUNIT_ASSERT(!fresh(w).succeeded());
        w.clear(); // more streams than allowed (limit 4096 by default: use a second SETTINGS)
        appendU64Frame(w, FrameType::Settings, 0, {1, 1, 1});
        CPPUNIT_ASSERT(!fresh(w).succeeded());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StreamMuxTest);
