#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace lanspread::kernel::protocol;
using lanspread::Status;
using lanspread::kernel::base::sha256Hex;
using lanspread::kernel::catalog::chunkCount;
using lanspread::kernel::catalog::kChunkSize;

namespace {

using Bytes = std::vector<uint8_t>;

std::string hexHash(int seed) {
    const std::string text = "chunk " + std::to_string(seed);
    return sha256Hex(text.data(), text.size());
}

const std::string kPeerId = hexHash(-1);

// 10 chunks, chunks 0, 7, 8 and 9 verified: on the wire "81c0".
PartialGame samplePartial() {
    PartialGame p;
    p.id = "cod5";
    p.version = "1.7";
    p.filesDigest = hexHash(-3);
    p.chunkCount = 10;
    p.have = {true, false, false, false, false, false, false, true, true, true};
    return p;
}

Hello sampleHello() {
    Hello h;
    h.peerId = kPeerId;
    h.name = "Kitchen PC \xc3\xa9\xe2\x82\xac \"quoted\" \\ /";
    h.listenAddr = "192.168.1.20:41234";
    h.listeners = {{"quic", "192.168.1.20:41234"}, {"tls", "0.0.0.0:41235"}};
    h.features = {"quic", "resume"};
    h.libraryRevision = 42;
    h.games = {{"bf1942", "1.6", "Ready", true, true, 1234567890123ull, hexHash(-2)},
               {"cnctw", "", "None", false, false, 0, ""},
               {"a.b_c-d", "2.0", "LocalOnly", true, false, 5, ""},
               {"css", "v34", "Stale", true, true, std::numeric_limits<uint64_t>::max(), ""}};
    h.partials = {samplePartial()};
    return h;
}

GameFiles sampleGameFiles() {
    GameFiles g;
    g.game = "bf1942";
    g.version = "1.6";
    g.files = {{"empty.txt", 0, {sha256Hex("", 0)}},
               {"maps/big.rfa", 2 * kChunkSize + 1, {hexHash(1), hexHash(2), hexHash(3)}},
               {"one chunk exactly.bin", kChunkSize, {hexHash(4)}}};
    return g;
}

std::vector<Message> everyMessage() {
    LibraryDelta delta;
    delta.revision = 43;
    delta.upserts = {{"cod5", "1.7", "Ready", true, false, 77, hexHash(-4)}};
    delta.removed = {"cnc4", "ggoo"};
    PartialGame oneChunk{"ut2004", "3369", hexHash(-5), 1, {false}};
    delta.partialUpserts = {samplePartial(), oneChunk};
    delta.partialRemoved = {"bf1942"};
    return {sampleHello(),
            HelloAck{sampleHello()},
            delta,
            LibraryDelta{},
            GetGame{"alienswarm"},
            sampleGameFiles(),
            GameFiles{"cnc4", "", {}},
            GetChunk{"bf1942", "maps/big.rfa", kChunkSize, kChunkSize},
            ErrorReply{"unknown-game", "no game \"x\" here"},
            Ping{std::numeric_limits<uint64_t>::max()},
            Pong{0},
            Goodbye{"shutting down"},
            Goodbye{""},
            Have{"cod5", hexHash(-3), {0, 5, kMaxChunksPerGame - 1}},
            Have{"cod5", hexHash(-3), {}},
            KeyChallenge{kPartyKeyScheme, hexHash(7)},
            KeyChallenge{"another-scheme/9", hexHash(8)},
            KeyProof{hexHash(9)}};
}

std::span<const uint8_t> payloadOf(const Bytes &frame) {
    return std::span<const uint8_t>(frame).subspan(kFrameHeaderSize);
}

std::string payloadText(const Bytes &frame) {
    return std::string(frame.begin() + kFrameHeaderSize, frame.end());
}

Bytes bytesOf(const std::string &text) {
    return Bytes(text.begin(), text.end());
}

Bytes frameOf(FrameType type, const std::string &payload) {
    // Sized once, then filled: GCC 12 at -O2 misreads insert() after an initializer list
    // (-Warray-bounds false positive).
    Bytes frame(kFrameHeaderSize + payload.size());
    frame[0] = static_cast<uint8_t>(type);
    frame[1] = uint8_t(payload.size() >> 24);
    frame[2] = uint8_t(payload.size() >> 16);
    frame[3] = uint8_t(payload.size() >> 8);
    frame[4] = uint8_t(payload.size());
    std::copy(payload.begin(), payload.end(), frame.begin() + kFrameHeaderSize);
    return frame;
}

// The JSON of a valid message, changed by `edit` (to build one invalid field at a time).
std::string edited(const Message &message,
                   const std::function<void(Poco::JSON::Object &root)> &edit) {
    Poco::JSON::Parser parser;
    auto root = parser.parse(payloadText(encode(message))).extract<Poco::JSON::Object::Ptr>();
    edit(*root);
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(root, out);
    return out.str();
}

// The JSON of one PartialGame, as a Hello carries it.
std::string partialText(const PartialGame &partial) {
    Hello hello;
    hello.peerId = kPeerId;
    hello.partials = {partial};
    Poco::JSON::Parser parser;
    auto root = parser.parse(payloadText(encode(hello))).extract<Poco::JSON::Object::Ptr>();
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(root->getArray("partials")->getObject(0), out);
    return out.str();
}

Poco::JSON::Object &objectIn(Poco::JSON::Object &root, const std::string &array, unsigned index) {
    return *root.getArray(array)->getObject(index);
}

// Records everything a FrameReader reports, so two feeds can be compared.
struct Recorder {
    std::vector<std::string> events;
    std::string data; // the current ChunkData payload so far
    uint64_t expectedRemaining = 0;
    bool remainingConsistent = true;

    FrameReader::Handler handler() {
        FrameReader::Handler h;
        h.onMessage = [this](Message &&m) {
            const Bytes frame = encode(m);
            events.push_back(std::string("message ") + frameTypeName(frameTypeOf(m)) + " " +
                             payloadText(frame));
        };
        h.onDataBegin = [this](uint32_t length) {
            events.push_back("data-begin " + std::to_string(length));
            data.clear();
            expectedRemaining = length;
        };
        h.onData = [this](std::span<const uint8_t> piece, uint32_t remaining) {
            if (piece.empty() || piece.size() + remaining != expectedRemaining)
                remainingConsistent = false;
            expectedRemaining = remaining;
            data.append(piece.begin(), piece.end());
            if (remaining == 0)
                events.push_back("data " + data);
        };
        return h;
    }
};

} // namespace

class ProtocolTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProtocolTest);
    CPPUNIT_TEST(frameTypeNamesAndMessageTypes);
    CPPUNIT_TEST(wireFormatIsHeaderPlusCompactSnakeCaseJson);
    CPPUNIT_TEST(everyMessageRoundTrips);
    CPPUNIT_TEST(byteByByteFeedingEqualsOneShot);
    CPPUNIT_TEST(severalFramesInOneFeed);
    CPPUNIT_TEST(chunkDataSplitAcrossFeedsReportsRemaining);
    CPPUNIT_TEST(zeroLengthChunkDataOnlyBegins);
    CPPUNIT_TEST(emptyHandlersAreSkipped);
    CPPUNIT_TEST(decodeRejectsBadJson);
    CPPUNIT_TEST(decodeRejectsMissingAndWronglyTypedMembers);
    CPPUNIT_TEST(helloListenersAreOptional);
    CPPUNIT_TEST(decodeRejectsBadNumbers);
    CPPUNIT_TEST(decodeRejectsOversizeStrings);
    CPPUNIT_TEST(decodeRejectsNulInStrings);
    CPPUNIT_TEST(decodeRejectsBadGameIds);
    CPPUNIT_TEST(decodeRejectsBadPeerIds);
    CPPUNIT_TEST(decodeRejectsBadChunkHashes);
    CPPUNIT_TEST(decodeRejectsBadAvailabilityPathsAndRanges);
    CPPUNIT_TEST(decodeRejectsBadFilesDigests);
    CPPUNIT_TEST(decodeRejectsBadPartials);
    CPPUNIT_TEST(decodeRejectsBadHaves);
    CPPUNIT_TEST(decodeRejectsBadPartyKeyMessages);
    CPPUNIT_TEST(filesDigestIsFixedAndCoversEveryField);
    CPPUNIT_TEST(decodeRejectsChunkDataAndUnknownTypes);
    CPPUNIT_TEST(readerRejectsUnknownTypeAtOnce);
    CPPUNIT_TEST(readerRejectsOversizedLengthsBeforeBuffering);
    CPPUNIT_TEST(readerStaysFailed);
    CPPUNIT_TEST(fuzzedInputNeverThrows);
    CPPUNIT_TEST_SUITE_END();

  public:
    void frameTypeNamesAndMessageTypes() {
        const char *names[] = {"Hello",    "HelloAck",  "LibraryDelta", "GetGame", "GameFiles",
                               "GetChunk", "ChunkData", "Error",        "Ping",    "Pong",
                               "Goodbye",  "Have",      "KeyChallenge", "KeyProof"};
        for (int i = 1; i <= 14; ++i)
            CPPUNIT_ASSERT_EQUAL(std::string(names[i - 1]),
                                 std::string(frameTypeName(static_cast<FrameType>(i))));
        CPPUNIT_ASSERT_EQUAL(std::string("unknown"),
                             std::string(frameTypeName(static_cast<FrameType>(0))));
        CPPUNIT_ASSERT_EQUAL(std::string("unknown"),
                             std::string(frameTypeName(static_cast<FrameType>(200))));

        CPPUNIT_ASSERT(frameTypeOf(Hello{}) == FrameType::Hello);
        CPPUNIT_ASSERT(frameTypeOf(HelloAck{}) == FrameType::HelloAck);
        CPPUNIT_ASSERT(frameTypeOf(LibraryDelta{}) == FrameType::LibraryDelta);
        CPPUNIT_ASSERT(frameTypeOf(GetGame{}) == FrameType::GetGame);
        CPPUNIT_ASSERT(frameTypeOf(GameFiles{}) == FrameType::GameFiles);
        CPPUNIT_ASSERT(frameTypeOf(GetChunk{}) == FrameType::GetChunk);
        CPPUNIT_ASSERT(frameTypeOf(ErrorReply{}) == FrameType::Error);
        CPPUNIT_ASSERT(frameTypeOf(Ping{}) == FrameType::Ping);
        CPPUNIT_ASSERT(frameTypeOf(Pong{}) == FrameType::Pong);
        CPPUNIT_ASSERT(frameTypeOf(Goodbye{}) == FrameType::Goodbye);
        CPPUNIT_ASSERT(frameTypeOf(Have{}) == FrameType::Have);
        CPPUNIT_ASSERT_EQUAL(uint8_t(12), uint8_t(FrameType::Have));
        CPPUNIT_ASSERT(frameTypeOf(KeyChallenge{}) == FrameType::KeyChallenge);
        CPPUNIT_ASSERT(frameTypeOf(KeyProof{}) == FrameType::KeyProof);
        CPPUNIT_ASSERT_EQUAL(uint8_t(13), uint8_t(FrameType::KeyChallenge));
        CPPUNIT_ASSERT_EQUAL(uint8_t(14), uint8_t(FrameType::KeyProof));
    }

    void wireFormatIsHeaderPlusCompactSnakeCaseJson() {
        CPPUNIT_ASSERT(encodeChunkDataHeader(0x01020304) == (Bytes{7, 1, 2, 3, 4}));
        CPPUNIT_ASSERT(encodeChunkDataHeader(0) == (Bytes{7, 0, 0, 0, 0}));

        const Bytes ping = encode(Ping{7});
        CPPUNIT_ASSERT(ping == frameOf(FrameType::Ping, R"({"nonce":7})"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"game":"g","length":2,"offset":1,"path":"a/b"})"),
                             payloadText(encode(GetChunk{"g", "a/b", 1, 2})));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"code":"busy","message":"later"})"),
                             payloadText(encode(ErrorReply{"busy", "later"})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"nonce":")" + hexHash(1) + R"(","scheme":"party-key/1"})"),
            payloadText(encode(KeyChallenge{kPartyKeyScheme, hexHash(1)})));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"mac":")" + hexHash(2) + R"("})"),
                             payloadText(encode(KeyProof{hexHash(2)})));

        const std::string hello = payloadText(encode(sampleHello()));
        for (const char *member :
             {"\"protocol_version\":2", "\"peer_id\":", "\"name\":", "\"listen_addr\":",
              "\"features\":[\"quic\",\"resume\"]", "\"library_revision\":42", "\"games\":[",
              "\"id\":\"bf1942\"", "\"availability\":\"Ready\"", "\"downloaded\":true",
              "\"installed\":false", "\"size\":18446744073709551615", "\"version\":\"1.6\"",
              "\"files_digest\":\"\"", "\"partials\":[{\"chunk_count\":10,\"files_digest\":\""})
            CPPUNIT_ASSERT_MESSAGE(member, hello.find(member) != std::string::npos);
        CPPUNIT_ASSERT(hello.find('\n') == std::string::npos);

        const std::string files = payloadText(encode(sampleGameFiles()));
        CPPUNIT_ASSERT(files.find("\"chunks\":[\"" + sha256Hex("", 0) + "\"]") !=
                       std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"partial_removed":["y"],"partial_upserts":[],)"
                                         R"("removed":["x"],"revision":9,"upserts":[]})"),
                             payloadText(encode(LibraryDelta{9, {}, {"x"}, {}, {"y"}})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"chunks":[0,3],"files_digest":")" + hexHash(1) + R"(","game":"g"})"),
            payloadText(encode(Have{"g", hexHash(1), {0, 3}})));
        // The have bitmap: chunk i is bit 0x80 >> i % 8 of byte i / 8.
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"chunk_count":10,"files_digest":")" + hexHash(-3) +
                                         R"(","have":"81c0","id":"cod5","version":"1.7"})"),
                             partialText(samplePartial()));
        PartialGame eight = samplePartial();
        eight.chunkCount = 8;
        eight.have = {false, true, false, false, false, false, false, true};
        CPPUNIT_ASSERT(partialText(eight).find(R"("have":"41")") != std::string::npos);

        // The header's length is the payload's.
        const Bytes frame = encode(sampleGameFiles());
        const uint32_t length = (uint32_t(frame[1]) << 24) | (uint32_t(frame[2]) << 16) |
                                (uint32_t(frame[3]) << 8) | frame[4];
        CPPUNIT_ASSERT_EQUAL(uint8_t(FrameType::GameFiles), frame[0]);
        CPPUNIT_ASSERT_EQUAL(std::size_t(length), frame.size() - kFrameHeaderSize);
    }

    void everyMessageRoundTrips() {
        for (const Message &message : everyMessage()) {
            const Bytes frame = encode(message);
            const auto type = static_cast<FrameType>(frame[0]);
            CPPUNIT_ASSERT(type == frameTypeOf(message));
            auto decoded = decode(type, payloadOf(frame));
            CPPUNIT_ASSERT_MESSAGE(decoded.status().describe(), decoded.ok());
            CPPUNIT_ASSERT_MESSAGE(frameTypeName(type), decoded.value() == message);

            std::vector<Message> received;
            FrameReader reader({[&](Message &&m) { received.push_back(std::move(m)); }, {}, {}});
            CPPUNIT_ASSERT(reader.feed(frame).succeeded());
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), received.size());
            CPPUNIT_ASSERT(received[0] == message);
            CPPUNIT_ASSERT(reader.atFrameBoundary());
        }
        // Limits are inclusive.
        Hello h = sampleHello();
        h.name = std::string(kMaxTextLength, 'n');
        h.features = {std::string(kMaxTextLength, 'f')};
        h.protocolVersion = std::numeric_limits<uint32_t>::max();
        expectRoundTrip(h);
        expectRoundTrip(Goodbye{std::string(kMaxMessageText, 'r')});
        h = sampleHello();
        h.partials[0].chunkCount = kMaxChunksPerGame;
        h.partials[0].have.assign(kMaxChunksPerGame, false);
        h.partials[0].have.back() = true;
        h.partials.push_back(PartialGame{"c9", "", hexHash(7), 9, std::vector<bool>(9, true)});
        expectRoundTrip(h);
        expectRoundTrip(GetChunk{std::string(kMaxIdLength, 'g'), std::string(kMaxPathLength, 'p'),
                                 std::numeric_limits<uint64_t>::max() - kMaxDataPayload,
                                 kMaxDataPayload});
        // Unknown members are ignored (a peer may add some).
        auto extra = decode(FrameType::Ping, bytesOf(R"({"nonce":3,"later":[1.5,-2,"x"]})"));
        CPPUNIT_ASSERT_MESSAGE(extra.status().describe(), extra.ok());
        CPPUNIT_ASSERT(extra.value() == Message(Ping{3}));
    }

    void byteByByteFeedingEqualsOneShot() {
        const Bytes stream = sampleStream();
        Recorder whole;
        FrameReader wholeReader(whole.handler());
        CPPUNIT_ASSERT(wholeReader.feed(stream).succeeded());
        CPPUNIT_ASSERT(wholeReader.atFrameBoundary());

        Recorder single;
        FrameReader singleReader(single.handler());
        for (std::size_t i = 0; i < stream.size(); ++i) {
            const Status status = singleReader.feed(std::span<const uint8_t>(&stream[i], 1));
            CPPUNIT_ASSERT_MESSAGE(status.describe(), status.succeeded());
        }
        CPPUNIT_ASSERT(singleReader.atFrameBoundary());
        CPPUNIT_ASSERT(whole.remainingConsistent);
        CPPUNIT_ASSERT(single.remainingConsistent);
        CPPUNIT_ASSERT_EQUAL(std::size_t(9), whole.events.size());
        CPPUNIT_ASSERT(whole.events == single.events);

        // Random splits give the same events too.
        std::mt19937 random(7);
        for (int round = 0; round < 50; ++round) {
            Recorder split;
            FrameReader splitReader(split.handler());
            std::size_t at = 0;
            while (at < stream.size()) {
                const std::size_t n = std::min<std::size_t>(random() % 40, stream.size() - at);
                CPPUNIT_ASSERT(
                    splitReader.feed(std::span<const uint8_t>(stream).subspan(at, n)).succeeded());
                at += n;
            }
            CPPUNIT_ASSERT(split.events == whole.events);
            CPPUNIT_ASSERT(split.remainingConsistent);
        }
    }

    void severalFramesInOneFeed() {
        Bytes stream;
        for (const Message &m : everyMessage()) {
            const Bytes frame = encode(m);
            stream.insert(stream.end(), frame.begin(), frame.end());
        }
        std::vector<Message> received;
        FrameReader reader({[&](Message &&m) { received.push_back(std::move(m)); }, {}, {}});
        CPPUNIT_ASSERT(reader.feed(stream).succeeded());
        CPPUNIT_ASSERT(received == everyMessage());
        CPPUNIT_ASSERT(reader.atFrameBoundary());
    }

    void chunkDataSplitAcrossFeedsReportsRemaining() {
        std::string data(100, '\0');
        for (std::size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<char>(i * 7);
        Bytes stream = encodeChunkDataHeader(100);
        stream.insert(stream.end(), data.begin(), data.end());
        const Bytes ping = encode(Ping{5});
        stream.insert(stream.end(), ping.begin(), ping.end());

        std::vector<uint32_t> begins;
        std::vector<std::pair<std::size_t, uint32_t>> pieces; // size, remaining
        std::string received;
        std::vector<Message> messages;
        FrameReader reader({[&](Message &&m) { messages.push_back(std::move(m)); },
                            [&](uint32_t length) { begins.push_back(length); },
                            [&](std::span<const uint8_t> piece, uint32_t remaining) {
                                pieces.emplace_back(piece.size(), remaining);
                                received.append(piece.begin(), piece.end());
                            }});
        // Header split 2 + 3; payload 1 + 10 + 39 + 50 (the last feed also carries the Ping).
        const std::size_t cuts[] = {2, 3, 1, 10, 39, 50 + ping.size()};
        std::size_t at = 0;
        for (std::size_t n : cuts) {
            CPPUNIT_ASSERT(
                reader.feed(std::span<const uint8_t>(stream).subspan(at, n)).succeeded());
            at += n;
            if (at < kFrameHeaderSize + 100)
                CPPUNIT_ASSERT(!reader.atFrameBoundary());
        }
        CPPUNIT_ASSERT_EQUAL(stream.size(), at);
        CPPUNIT_ASSERT(reader.atFrameBoundary());
        CPPUNIT_ASSERT(begins == std::vector<uint32_t>{100});
        const std::vector<std::pair<std::size_t, uint32_t>> expected = {
            {1, 99}, {10, 89}, {39, 50}, {50, 0}};
        CPPUNIT_ASSERT(pieces == expected);
        CPPUNIT_ASSERT(received == data);
        CPPUNIT_ASSERT(messages == std::vector<Message>{Ping{5}});
    }

    void zeroLengthChunkDataOnlyBegins() {
        Bytes stream = encodeChunkDataHeader(0);
        const Bytes pong = encode(Pong{1});
        stream.insert(stream.end(), pong.begin(), pong.end());
        std::vector<uint32_t> begins;
        int dataCalls = 0;
        std::vector<Message> messages;
        FrameReader reader({[&](Message &&m) { messages.push_back(std::move(m)); },
                            [&](uint32_t length) { begins.push_back(length); },
                            [&](std::span<const uint8_t>, uint32_t) { ++dataCalls; }});
        CPPUNIT_ASSERT(
            reader.feed(std::span<const uint8_t>(stream).first(kFrameHeaderSize)).succeeded());
        CPPUNIT_ASSERT(reader.atFrameBoundary());
        CPPUNIT_ASSERT(
            reader.feed(std::span<const uint8_t>(stream).subspan(kFrameHeaderSize)).succeeded());
        CPPUNIT_ASSERT(begins == std::vector<uint32_t>{0});
        CPPUNIT_ASSERT_EQUAL(0, dataCalls);
        CPPUNIT_ASSERT(messages == std::vector<Message>{Pong{1}});
    }

    void emptyHandlersAreSkipped() {
        FrameReader reader(FrameReader::Handler{});
        const Bytes stream = sampleStream();
        CPPUNIT_ASSERT(reader.feed(stream).succeeded());
        CPPUNIT_ASSERT(reader.atFrameBoundary());
        CPPUNIT_ASSERT(!reader.failed());
    }

    void decodeRejectsBadJson() {
        expectError(FrameType::Ping, "", "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, "{", "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, "not json", "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, R"({"nonce":1} x)", "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, R"({"nonce":1,})", "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, "{\"nonce\":1,\"x\":\"a\nb\"}",
                    "Ping: payload is not valid JSON");
        expectError(FrameType::Ping, "[1]", "Ping: payload is not a JSON object");
        expectError(FrameType::Goodbye, R"("bye")", "Goodbye: payload is not");
        expectError(FrameType::Ping, "null", "Ping: payload is not");
        expectError(FrameType::Ping, "7", "Ping: payload is not");
        expectError(FrameType::Ping, std::string(1000, '[') + std::string(1000, ']'),
                    "Ping: payload is not valid JSON");
        // Through the reader too.
        Recorder recorder;
        FrameReader reader(recorder.handler());
        const Status status = reader.feed(frameOf(FrameType::GetGame, "{\"game\":"));
        CPPUNIT_ASSERT(!status.succeeded());
        CPPUNIT_ASSERT_MESSAGE(status.message(),
                               status.message().find("GetGame: payload is not valid JSON") == 0);
        CPPUNIT_ASSERT(recorder.events.empty());
        // An empty control payload is not JSON either.
        FrameReader empty(recorder.handler());
        CPPUNIT_ASSERT(!empty.feed(Bytes{uint8_t(FrameType::Pong), 0, 0, 0, 0}).succeeded());
        CPPUNIT_ASSERT(empty.failed());
    }

    void helloListenersAreOptional() {
        // A peer that predates several transports sends no "listeners": its Hello still
        // decodes (no version bump), with none.
        std::vector<Message> received;
        FrameReader reader({[&](Message &&m) { received.push_back(std::move(m)); }, {}, {}});
        const std::string old = edited(sampleHello(), [](auto &o) { o.remove("listeners"); });
        CPPUNIT_ASSERT(old.find("listeners") == std::string::npos);
        CPPUNIT_ASSERT(reader.feed(frameOf(FrameType::Hello, old)).succeeded());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), received.size());
        Hello expected = sampleHello();
        expected.listeners.clear();
        CPPUNIT_ASSERT(received[0] == Message(expected));
        CPPUNIT_ASSERT(payloadText(encode(sampleHello()))
                           .find(R"("listeners":[{"addr":"192.168.1.20:41234","transport":"quic"},)"
                                 R"({"addr":"0.0.0.0:41235","transport":"tls"}])") !=
                       std::string::npos);
        // Present, it is checked like any other member.
        expectError(
            FrameType::Hello,
            edited(sampleHello(), [](auto &o) { objectIn(o, "listeners", 1).remove("addr"); }),
            "Hello: listeners[1].addr: missing");
        expectError(FrameType::Hello,
                    edited(sampleHello(), [](auto &o) { o.set("listeners", "quic"); }),
                    "Hello: listeners: expected an array, got a string");
    }

    void decodeRejectsMissingAndWronglyTypedMembers() {
        expectError(FrameType::Ping, "{}", "Ping: nonce: missing");
        expectError(FrameType::Hello,
                    edited(sampleHello(), [](auto &o) { o.remove("library_revision"); }),
                    "Hello: library_revision: missing");
        expectError(FrameType::HelloAck,
                    edited(sampleHello(), [](auto &o) { objectIn(o, "games", 2).remove("size"); }),
                    "HelloAck: games[2].size: missing");
        expectError(FrameType::Ping, R"({"nonce":"5"})",
                    "Ping: nonce: expected a non-negative integer, got a string");
        expectError(FrameType::Ping, R"({"nonce":true})",
                    "Ping: nonce: expected a non-negative integer, got a boolean");
        expectError(FrameType::Ping, R"({"nonce":null})",
                    "Ping: nonce: expected a non-negative integer, got null");
        expectError(FrameType::GetGame, R"({"game":5})",
                    "GetGame: game: expected a string, got a number");
        expectError(FrameType::GetGame, R"({"game":["bf1942"]})",
                    "GetGame: game: expected a string, got an array");
        expectError(FrameType::Hello,
                    edited(sampleHello(), [](auto &o) { o.set("features", "quic"); }),
                    "Hello: features: expected an array, got a string");
        expectError(
            FrameType::Hello,
            edited(sampleHello(), [](auto &o) { o.getArray("features")->set(1, Poco::Int64(3)); }),
            "Hello: features[1]: expected a string");
        expectError(FrameType::Hello,
                    edited(sampleHello(),
                           [](auto &o) { objectIn(o, "games", 1).set("downloaded", "true"); }),
                    "Hello: games[1].downloaded: expected a boolean, got a string");
        expectError(FrameType::Hello,
                    edited(sampleHello(), [](auto &o) { o.getArray("games")->set(3, "css"); }),
                    "Hello: games[3]: expected an object, got a string");
        expectError(
            FrameType::GameFiles,
            edited(sampleGameFiles(), [](auto &o) { o.set("files", Poco::JSON::Object()); }),
            "GameFiles: files: expected an array, got an object");
        expectError(FrameType::LibraryDelta, R"({"revision":1,"upserts":[],"removed":{}})",
                    "LibraryDelta: removed: expected an array");
        expectError(FrameType::Error, R"({"code":"busy"})", "Error: message: missing");
        expectError(FrameType::Error, R"({"code":"","message":"x"})", "Error: code: empty");
    }

    void decodeRejectsBadNumbers() {
        expectError(FrameType::Ping, R"({"nonce":-1})",
                    "Ping: nonce: expected a non-negative integer, got the negative number -1");
        expectError(FrameType::Pong, R"({"nonce":-9223372036854775808})",
                    "Pong: nonce: expected a non-negative integer");
        expectError(FrameType::Ping, R"({"nonce":1.5})",
                    "Ping: nonce: expected a non-negative integer, got a number with a fraction");
        expectError(FrameType::Ping, R"({"nonce":1.0})", "Ping: nonce: expected a non-negative");
        expectError(FrameType::Ping, R"({"nonce":1e3})", "Ping: nonce: expected a non-negative");
        // One past UINT64_MAX (Poco alone would wrap it to 0) and far past it.
        expectError(FrameType::Ping, R"({"nonce":18446744073709551616})",
                    "Ping: payload is not valid JSON (number 18446744073709551616 is out of range");
        expectError(FrameType::Ping, R"({"nonce":99999999999999999999999})", "out of range");
        expectError(FrameType::Ping, R"({"nonce":-18446744073709551616})", "out of range");
        auto max = decode(FrameType::Ping, bytesOf(R"({"nonce":18446744073709551615})"));
        CPPUNIT_ASSERT_MESSAGE(max.status().describe(), max.ok());
        // The out-of-range check skips strings and fractions.
        auto inString =
            decode(FrameType::Goodbye, bytesOf(R"({"reason":"99999999999999999999999 \"1e999"})"));
        CPPUNIT_ASSERT_MESSAGE(inString.status().describe(), inString.ok());
        auto fraction =
            decode(FrameType::Ping, bytesOf(R"({"nonce":1,"x":0.99999999999999999999999})"));
        CPPUNIT_ASSERT_MESSAGE(fraction.status().describe(), fraction.ok());

        expectError(FrameType::Hello,
                    edited(sampleHello(),
                           [](auto &o) { o.set("protocol_version", Poco::UInt64(1) << 32); }),
                    "Hello: protocol_version: 4294967296 is out of range");
        expectError(FrameType::Hello,
                    edited(sampleHello(),
                           [](auto &o) { objectIn(o, "games", 0).set("size", Poco::Int64(-5)); }),
                    "Hello: games[0].size: expected a non-negative integer, got the negative");
        expectError(
            FrameType::GameFiles,
            edited(sampleGameFiles(), [](auto &o) { objectIn(o, "files", 1).set("size", 1.5); }),
            "GameFiles: files[1].size: expected a non-negative integer");
    }

    void decodeRejectsOversizeStrings() {
        Hello h = sampleHello();
        h.name = std::string(kMaxTextLength + 1, 'n');
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: name: longer than 256 bytes (257)");
        h = sampleHello();
        h.listenAddr = std::string(kMaxTextLength + 1, '1');
        expectError(FrameType::Hello, payloadText(encode(h)), "Hello: listen_addr: longer than");
        h = sampleHello();
        h.features.push_back(std::string(kMaxTextLength + 1, 'f'));
        expectError(FrameType::Hello, payloadText(encode(h)), "Hello: features[2]: longer than");
        h = sampleHello();
        h.games[1].version = std::string(kMaxTextLength + 1, 'v');
        expectError(FrameType::Hello, payloadText(encode(h)), "Hello: games[1].version: longer");
        expectError(FrameType::Goodbye, payloadText(encode(Goodbye{std::string(1025, 'r')})),
                    "Goodbye: reason: longer than 1024 bytes (1025)");
        expectError(FrameType::Error,
                    payloadText(encode(ErrorReply{"io-error", std::string(1025, 'm')})),
                    "Error: message: longer than 1024");
        expectError(FrameType::Error, payloadText(encode(ErrorReply{std::string(257, 'c'), "m"})),
                    "Error: code: longer than 256");
        expectError(FrameType::GetChunk,
                    payloadText(encode(GetChunk{"g", std::string(kMaxPathLength + 1, 'p'), 0, 1})),
                    "GetChunk: path: longer than 4096");
        GameFiles files = sampleGameFiles();
        files.version = std::string(300, 'v');
        expectError(FrameType::GameFiles, payloadText(encode(files)), "GameFiles: version: longer");
    }

    void decodeRejectsNulInStrings() {
        expectError(FrameType::Goodbye, R"({"reason":"a\u0000b"})",
                    "Goodbye: reason: contains a NUL character");
        Hello h = sampleHello();
        h.name = std::string("a\0b", 3);
        expectError(FrameType::Hello, payloadText(encode(h)), "Hello: name: contains a NUL");
        h = sampleHello();
        h.features[0] = std::string("\0", 1);
        expectError(FrameType::Hello, payloadText(encode(h)), "Hello: features[0]: contains a NUL");
        expectError(FrameType::GetChunk,
                    R"({"game":"g","path":"a\u0000.txt","offset":0,"length":1})",
                    "GetChunk: path: contains a NUL");
        expectError(FrameType::GetGame, R"({"game":"bf\u00001942"})", "GetGame: game: contains");
    }

    void decodeRejectsBadGameIds() {
        for (const char *bad : {"../x", "A", "", ".", "..", "a/b", "a b"})
            expectError(FrameType::GetGame, payloadText(encode(GetGame{bad})),
                        "GetGame: game: \"" + std::string(bad) + "\" is not a valid game id");
        expectError(FrameType::GetGame, payloadText(encode(GetGame{std::string(65, 'g')})),
                    "GetGame: game: longer than 64 bytes");
        Hello h = sampleHello();
        h.games[2].id = "../x";
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: games[2].id: \"../x\" is not a valid game id");
        expectError(FrameType::LibraryDelta,
                    payloadText(encode(LibraryDelta{1, {}, {"ok", "B"}, {}, {}})),
                    "LibraryDelta: removed[1]: \"B\" is not a valid game id");
        expectError(FrameType::LibraryDelta,
                    payloadText(encode(
                        LibraryDelta{1, {{"x/y", "", "None", false, false, 0, ""}}, {}, {}, {}})),
                    "LibraryDelta: upserts[0].id:");
        expectError(FrameType::GameFiles, payloadText(encode(GameFiles{"..", "1", {}})),
                    "GameFiles: game: \"..\" is not a valid game id");
        expectError(FrameType::GetChunk, payloadText(encode(GetChunk{"/etc", "a", 0, 1})),
                    "GetChunk: game:");
        // A snapshot names each game once.
        h = sampleHello();
        h.games[3].id = h.games[0].id;
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: games[3].id: game \"bf1942\" appears twice");
        expectError(FrameType::LibraryDelta,
                    payloadText(encode(LibraryDelta{1, {}, {"a", "a"}, {}, {}})),
                    "LibraryDelta: removed[1]: game \"a\" appears twice");
    }

    void decodeRejectsBadPeerIds() {
        const std::string upper = "ABCDEF" + kPeerId.substr(6);
        for (const std::string &bad :
             {upper, kPeerId.substr(1), kPeerId + "0", std::string(64, 'g'), std::string()}) {
            Hello h = sampleHello();
            h.peerId = bad;
            expectError(FrameType::Hello, payloadText(encode(h)), "Hello: peer_id:");
            expectError(FrameType::HelloAck, payloadText(encode(HelloAck{h})),
                        "HelloAck: peer_id:");
        }
        Hello h = sampleHello();
        h.peerId = upper;
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: peer_id: \"" + upper + "\" is not a peer id (64 lowercase hex digits)");
    }

    void decodeRejectsBadChunkHashes() {
        // Too few and too many hashes for the size; an empty file needs exactly one.
        GameFiles g = sampleGameFiles();
        g.files[1].size = 3 * kChunkSize + 1; // 3145729: 4 chunks of 1 MiB
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[1].chunks: expected 4 hashes for size 3145729, got 3");
        g = sampleGameFiles();
        g.files[2].chunkHashes.push_back(hexHash(9));
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[2].chunks: expected 1 hashes for size 1048576, got 2");
        g = sampleGameFiles();
        g.files[0].chunkHashes.clear();
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[0].chunks: expected 1 hashes for size 0, got 0");
        CPPUNIT_ASSERT_EQUAL(uint64_t(4), chunkCount(3145729));
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), chunkCount(3145728));

        // Uppercase, short, non-hex, wrongly typed.
        g = sampleGameFiles();
        for (char &c : g.files[1].chunkHashes[2])
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[1].chunks[2]: \"" + g.files[1].chunkHashes[2] +
                        "\" is not a SHA-256 (64 lowercase hex digits)");
        g = sampleGameFiles();
        g.files[1].chunkHashes[0].pop_back();
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[1].chunks[0]: \"");
        g = sampleGameFiles();
        g.files[1].chunkHashes[1][10] = 'z';
        expectError(FrameType::GameFiles, payloadText(encode(g)), "files[1].chunks[1]: \"");
        g = sampleGameFiles();
        g.files[1].chunkHashes[1] += "00";
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[1].chunks[1]: longer than 64 bytes");
        expectError(FrameType::GameFiles,
                    edited(sampleGameFiles(),
                           [](auto &o) {
                               objectIn(o, "files", 0).getArray("chunks")->set(0, Poco::Int64(1));
                           }),
                    "GameFiles: files[0].chunks[0]: expected a string");
    }

    void decodeRejectsBadAvailabilityPathsAndRanges() {
        Hello h = sampleHello();
        h.games[0].availability = "Maybe";
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: games[0].availability: \"Maybe\" is not one of Ready, Stale, "
                    "LocalOnly, None");
        h.games[0].availability = "ready";
        expectError(FrameType::Hello, payloadText(encode(h)), "games[0].availability:");

        for (const char *bad :
             {"", "/etc/passwd", "../x", "a/../b", "a//b", "a/", "./a", "a\\b", "a/."}) {
            GameFiles g = sampleGameFiles();
            g.files[1].path = bad;
            expectError(FrameType::GameFiles, payloadText(encode(g)), "GameFiles: files[1].path:");
            expectError(FrameType::GetChunk, payloadText(encode(GetChunk{"g", bad, 0, 1})),
                        "GetChunk: path:");
        }
        GameFiles g = sampleGameFiles();
        g.files[2].path = g.files[0].path;
        expectError(FrameType::GameFiles, payloadText(encode(g)),
                    "GameFiles: files[2].path: \"empty.txt\" appears twice");
        expectRoundTrip(GetChunk{"g", ".hidden/..dots.../x.", 0, 0});

        expectError(FrameType::GetChunk,
                    payloadText(encode(GetChunk{"g", "a", 0, uint64_t(kMaxDataPayload) + 1})),
                    "GetChunk: length: 1048577 exceeds the 1048576-byte ChunkData limit");
        expectError(
            FrameType::GetChunk,
            payloadText(encode(GetChunk{"g", "a", std::numeric_limits<uint64_t>::max(), 1})),
            "GetChunk: offset: offset + length overflows");
    }

    void decodeRejectsBadFilesDigests() {
        // A summary's digest is "" (not downloaded) or a SHA-256; a partial's and a Have's
        // always a SHA-256.
        const std::string upper = "ABCDEF" + hexHash(5).substr(6);
        for (const std::string &bad : {upper, hexHash(5).substr(1), hexHash(5) + "0",
                                       std::string(64, 'g'), std::string(" ")}) {
            Hello h = sampleHello();
            h.games[2].filesDigest = bad;
            expectError(FrameType::Hello, payloadText(encode(h)), "Hello: games[2].files_digest:");
            h = sampleHello();
            h.partials[0].filesDigest = bad;
            expectError(FrameType::Hello, payloadText(encode(h)),
                        "Hello: partials[0].files_digest:");
            expectError(FrameType::Have, payloadText(encode(Have{"g", bad, {1}})),
                        "Have: files_digest:");
        }
        Hello h = sampleHello();
        h.games[0].filesDigest = upper;
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: games[0].files_digest: \"" + upper +
                        "\" is neither \"\" nor 64 lowercase hex digits");
        h = sampleHello();
        h.partials[0].filesDigest = "";
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: partials[0].files_digest: \"\" is not a files digest");
        expectError(FrameType::Have, payloadText(encode(Have{"g", "", {1}})),
                    "Have: files_digest: \"\" is not a files digest");
        expectError(
            FrameType::Hello,
            edited(sampleHello(), [](auto &o) { objectIn(o, "games", 1).remove("files_digest"); }),
            "Hello: games[1].files_digest: missing");
        expectError(FrameType::LibraryDelta,
                    edited(everyMessage()[2],
                           [](auto &o) { objectIn(o, "upserts", 0).set("files_digest", 7); }),
                    "LibraryDelta: upserts[0].files_digest: expected a string");
    }

    void decodeRejectsBadPartials() {
        auto withPartial = [](const std::function<void(Poco::JSON::Object &)> &edit) {
            return edited(sampleHello(), [&](auto &o) { edit(objectIn(o, "partials", 0)); });
        };
        expectError(FrameType::Hello, edited(sampleHello(), [](auto &o) { o.remove("partials"); }),
                    "Hello: partials: missing");
        for (const char *member : {"id", "version", "files_digest", "chunk_count", "have"})
            expectError(FrameType::Hello, withPartial([&](auto &p) { p.remove(member); }),
                        "Hello: partials[0]." + std::string(member) + ": missing");
        expectError(FrameType::Hello,
                    withPartial([](auto &p) { p.set("chunk_count", Poco::UInt64(0)); }),
                    "Hello: partials[0].chunk_count: 0 is not in 1..16777216");
        expectError(FrameType::Hello, withPartial([](auto &p) {
                        p.set("chunk_count", Poco::UInt64(kMaxChunksPerGame + 1));
                    }),
                    "Hello: partials[0].chunk_count: 16777217 is not in 1..16777216");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("chunk_count", -1); }),
                    "Hello: partials[0].chunk_count: expected a non-negative integer");
        // The bitmap: exactly ceil(chunk_count / 8) bytes of lowercase hex, no bit past the end.
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "81"); }),
                    "Hello: partials[0].have: expected 4 hex digits for 10 chunks, got 2");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "81c000"); }),
                    "Hello: partials[0].have: longer than 4 bytes (6)");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "81C0"); }),
                    "Hello: partials[0].have: not lowercase hex (at digit 2)");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "8-c0"); }),
                    "Hello: partials[0].have: not lowercase hex (at digit 0)");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "81c1"); }),
                    "Hello: partials[0].have: bit set for chunk 15 beyond chunk_count 10");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", "81e0"); }),
                    "Hello: partials[0].have: bit set for chunk 10 beyond chunk_count 10");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("have", 8); }),
                    "Hello: partials[0].have: expected a string");
        expectError(FrameType::Hello, withPartial([](auto &p) { p.set("id", "../x"); }),
                    "Hello: partials[0].id: \"../x\" is not a valid game id");
        expectError(FrameType::Hello,
                    withPartial([](auto &p) { p.set("version", std::string(257, 'v')); }),
                    "Hello: partials[0].version: longer than 256");
        // Each game at most once per list; partial_removed holds game ids.
        Hello h = sampleHello();
        h.partials.push_back(h.partials[0]);
        expectError(FrameType::Hello, payloadText(encode(h)),
                    "Hello: partials[1].id: game \"cod5\" appears twice");
        LibraryDelta delta = std::get<LibraryDelta>(everyMessage()[2]);
        delta.partialUpserts[1].id = delta.partialUpserts[0].id;
        expectError(FrameType::LibraryDelta, payloadText(encode(delta)),
                    "LibraryDelta: partial_upserts[1].id: game \"cod5\" appears twice");
        delta = std::get<LibraryDelta>(everyMessage()[2]);
        delta.partialRemoved = {"a", "A"};
        expectError(FrameType::LibraryDelta, payloadText(encode(delta)),
                    "LibraryDelta: partial_removed[1]: \"A\" is not a valid game id");
        delta.partialRemoved = {"a", "a"};
        expectError(FrameType::LibraryDelta, payloadText(encode(delta)),
                    "LibraryDelta: partial_removed[1]: game \"a\" appears twice");
        expectError(FrameType::LibraryDelta,
                    edited(everyMessage()[2], [](auto &o) { o.remove("partial_upserts"); }),
                    "LibraryDelta: partial_upserts: missing");
        expectError(FrameType::LibraryDelta,
                    edited(everyMessage()[2], [](auto &o) { o.remove("partial_removed"); }),
                    "LibraryDelta: partial_removed: missing");
    }

    // KeyChallenge and KeyProof: a nonce and a MAC are exactly 32 bytes as 64 lowercase hex;
    // the scheme is a non-empty text (another scheme decodes: the session refuses it).
    void decodeRejectsBadPartyKeyMessages() {
        const std::string good = hexHash(3);
        for (const std::string &bad :
             {std::string(), good.substr(1), good + "0", std::string(64, 'A'),
              std::string(63, 'a') + "g", good.substr(0, 62) + "\u0000a"}) {
            expectError(FrameType::KeyChallenge,
                        R"({"scheme":"party-key/1","nonce":")" + bad + R"("})",
                        "KeyChallenge: nonce: ");
            expectError(FrameType::KeyProof, R"({"mac":")" + bad + R"("})", "KeyProof: mac: ");
        }
        expectError(FrameType::KeyChallenge, R"({"scheme":"","nonce":")" + good + R"("})",
                    "KeyChallenge: scheme: empty");
        expectError(FrameType::KeyChallenge, R"({"nonce":")" + good + R"("})",
                    "KeyChallenge: scheme");
        expectError(FrameType::KeyChallenge, R"({"scheme":"party-key/1"})", "KeyChallenge: nonce");
        expectError(FrameType::KeyChallenge,
                    R"({"scheme":")" + std::string(kMaxTextLength + 1, 's') + R"(","nonce":")" +
                        good + R"("})",
                    "KeyChallenge: scheme");
        expectError(FrameType::KeyChallenge, R"({"scheme":"party-key/1","nonce":7})",
                    "KeyChallenge: nonce");
        expectError(FrameType::KeyProof, R"({})", "KeyProof: mac");
        expectError(FrameType::KeyProof, R"({"mac":["x"]})", "KeyProof: mac");
    }

    void decodeRejectsBadHaves() {
        const std::string digest = hexHash(1);
        expectError(FrameType::Have, payloadText(encode(Have{"g", digest, {3, 3}})),
                    "Have: chunks[1]: 3 does not ascend (chunks are sorted, unique)");
        expectError(FrameType::Have, payloadText(encode(Have{"g", digest, {0, 4, 2}})),
                    "Have: chunks[2]: 2 does not ascend");
        expectError(FrameType::Have, payloadText(encode(Have{"g", digest, {1, kMaxChunksPerGame}})),
                    "Have: chunks[1]: 16777216 is not below 16777216");
        expectError(FrameType::Have, payloadText(encode(Have{"G", digest, {1}})),
                    "Have: game: \"G\" is not a valid game id");
        expectError(FrameType::Have,
                    R"({"game":"g","files_digest":")" + digest + R"(","chunks":[-1]})",
                    "Have: chunks[0]: expected a non-negative integer");
        expectError(FrameType::Have,
                    R"({"game":"g","files_digest":")" + digest + R"(","chunks":["1"]})",
                    "Have: chunks[0]: expected a non-negative integer, got a string");
        expectError(FrameType::Have, R"({"game":"g","files_digest":")" + digest + R"("})",
                    "Have: chunks: missing");
        // At most 2^20 chunks in one Have (the limit is checked before any element).
        Have many{"g", digest, {}};
        many.chunks.resize((std::size_t(1) << 20) + 1);
        for (std::size_t i = 0; i < many.chunks.size(); ++i)
            many.chunks[i] = i;
        expectError(FrameType::Have, payloadText(encode(many)),
                    "Have: chunks: 1048577 chunks exceed the limit of 1048576");
        many.chunks.pop_back();
        expectRoundTrip(many);
    }

    void filesDigestIsFixedAndCoversEveryField() {
        // The exact bytes (docs/protocol.md): "lanspread-files/1\n" game "\n" version "\n",
        // then per file: path "\n" size "\n" and each chunk hash followed by "\n".
        const GameFiles files = sampleGameFiles();
        CPPUNIT_ASSERT_EQUAL(
            std::string("306fc58ca8022c280469e2d75ea030d1fd32553043a90649d1564bac81ab8a5d"),
            filesDigest(files));
        std::string text = "lanspread-files/1\nbf1942\n1.6\n";
        for (const auto &file : files.files) {
            text += file.path + "\n" + std::to_string(file.size) + "\n";
            for (const auto &hash : file.chunkHashes)
                text += hash + "\n";
        }
        CPPUNIT_ASSERT_EQUAL(sha256Hex(text.data(), text.size()), filesDigest(files));

        std::vector<GameFiles> changed(9, files);
        changed[0].game = "bf1943";
        changed[1].version = "1.61";
        changed[2].files[1].path = "maps/big.rfb";
        changed[3].files[1].size += 1;
        changed[4].files[1].chunkHashes[2] = hexHash(5);
        std::swap(changed[5].files[0], changed[5].files[2]);
        changed[6].files.pop_back();
        changed[7].files.push_back({"z", 0, {sha256Hex("", 0)}});
        // Moving text between fields changes the digest too (fields end with "\n").
        changed[8].game = "bf1942\n1.6";
        changed[8].version = "";
        std::set<std::string> digests{filesDigest(files)};
        for (const auto &g : changed)
            CPPUNIT_ASSERT_MESSAGE(g.game + " " + g.version, digests.insert(filesDigest(g)).second);
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), digests.size());
        for (const auto &digest : digests)
            CPPUNIT_ASSERT_EQUAL(std::size_t(64), digest.size());
    }

    void decodeRejectsChunkDataAndUnknownTypes() {
        expectError(FrameType::ChunkData, "{}", "ChunkData: raw data, not a control message");
        expectError(static_cast<FrameType>(0), R"({"nonce":1})", "unknown frame type 0");
        expectError(static_cast<FrameType>(200), R"({"nonce":1})", "unknown frame type 200");
        expectError(static_cast<FrameType>(15), R"({"nonce":1})", "unknown frame type 15");
        // The control limit holds for decode() itself.
        std::string huge = R"({"reason":"x","pad":")";
        huge += std::string(kMaxControlPayload, 'p') + "\"}";
        expectError(FrameType::Goodbye, huge, "bytes exceeds the 16777216-byte limit");
    }

    void readerRejectsUnknownTypeAtOnce() {
        for (uint8_t type : {uint8_t(0), uint8_t(15), uint8_t(200), uint8_t(255)}) {
            Recorder recorder;
            FrameReader reader(recorder.handler());
            const Status status = reader.feed(Bytes{type});
            CPPUNIT_ASSERT(!status.succeeded());
            CPPUNIT_ASSERT_EQUAL(std::string("unknown frame type ") + std::to_string(type),
                                 status.message());
            CPPUNIT_ASSERT(reader.failed());
            CPPUNIT_ASSERT(!reader.atFrameBoundary());
        }
        // After a good frame as well.
        Bytes stream = encode(Ping{1});
        stream.push_back(200);
        Recorder recorder;
        FrameReader reader(recorder.handler());
        CPPUNIT_ASSERT(!reader.feed(stream).succeeded());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), recorder.events.size());
    }

    void readerRejectsOversizedLengthsBeforeBuffering() {
        {
            // The header alone is enough to fail: nothing of the payload needs to arrive.
            FrameReader reader(FrameReader::Handler{}, 100);
            const Status status = reader.feed(Bytes{uint8_t(FrameType::GameFiles), 0, 0, 0, 101});
            CPPUNIT_ASSERT(!status.succeeded());
            CPPUNIT_ASSERT_EQUAL(std::string("GameFiles: length 101 exceeds the 100-byte control "
                                             "limit"),
                                 status.message());
            FrameReader atLimit(FrameReader::Handler{}, 100);
            CPPUNIT_ASSERT(
                atLimit.feed(Bytes{uint8_t(FrameType::GameFiles), 0, 0, 0, 100}).succeeded());
        }
        {
            FrameReader reader(FrameReader::Handler{});
            const Status status =
                reader.feed(Bytes{uint8_t(FrameType::Hello), 0xff, 0xff, 0xff, 0xff});
            CPPUNIT_ASSERT(!status.succeeded());
            CPPUNIT_ASSERT(status.message().find("Hello: length 4294967295 exceeds") == 0);
            FrameReader justOver(FrameReader::Handler{});
            const Bytes header{uint8_t(FrameType::Hello), 0x01, 0x00, 0x00, 0x01};
            CPPUNIT_ASSERT(!justOver.feed(header).succeeded());
        }
        {
            bool begun = false;
            FrameReader reader({{}, [&](uint32_t) { begun = true; }, {}});
            Bytes header = encodeChunkDataHeader(kMaxDataPayload + 1);
            const Status status = reader.feed(header);
            CPPUNIT_ASSERT(!status.succeeded());
            CPPUNIT_ASSERT_EQUAL(std::string("ChunkData: length 1048577 exceeds the 1048576-byte "
                                             "limit"),
                                 status.message());
            CPPUNIT_ASSERT(!begun);
            FrameReader atLimit({{}, [&](uint32_t) { begun = true; }, {}});
            CPPUNIT_ASSERT(atLimit.feed(encodeChunkDataHeader(kMaxDataPayload)).succeeded());
            CPPUNIT_ASSERT(begun);
        }
    }

    void readerStaysFailed() {
        Recorder recorder;
        FrameReader reader(recorder.handler());
        Bytes stream = encode(Ping{1});
        const Bytes bad = frameOf(FrameType::Pong, R"({"nonce":-1})");
        stream.insert(stream.end(), bad.begin(), bad.end());
        const Bytes after = encode(Pong{2});
        stream.insert(stream.end(), after.begin(), after.end());

        const Status first = reader.feed(stream);
        CPPUNIT_ASSERT(!first.succeeded());
        CPPUNIT_ASSERT(first.message().find("Pong: nonce:") == 0);
        CPPUNIT_ASSERT(reader.failed());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), recorder.events.size()); // the Ping, not the Pong
        for (int i = 0; i < 3; ++i) {
            const Status again = reader.feed(encode(Ping{3}));
            CPPUNIT_ASSERT(!again.succeeded());
            CPPUNIT_ASSERT(again.code() == first.code());
            CPPUNIT_ASSERT(reader.failed());
        }
        CPPUNIT_ASSERT(!reader.feed({}).succeeded());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), recorder.events.size());
        CPPUNIT_ASSERT(!reader.atFrameBoundary());
    }

    void fuzzedInputNeverThrows() {
        std::mt19937 random(20240601);
        std::vector<Bytes> seeds;
        for (const Message &m : everyMessage())
            seeds.push_back(encode(m));
        Bytes chunk = encodeChunkDataHeader(20);
        chunk.resize(chunk.size() + 20, 0xab);
        seeds.push_back(chunk);

        int messages = 0;
        for (int round = 0; round < 2000; ++round) {
            Bytes input;
            switch (round % 3) {
            case 0: // pure noise
                input.resize(random() % 300);
                for (auto &b : input)
                    b = static_cast<uint8_t>(random());
                break;
            case 1: { // a plausible header, then noise
                input = {static_cast<uint8_t>(random() % 14), 0, 0, uint8_t(random() % 2),
                         uint8_t(random())};
                const std::size_t n = random() % 300;
                for (std::size_t i = 0; i < n; ++i)
                    input.push_back(static_cast<uint8_t>(random()));
                break;
            }
            default: { // a valid frame with a few bytes changed, inserted or dropped
                input = seeds[random() % seeds.size()];
                const int edits = 1 + static_cast<int>(random() % 4);
                for (int e = 0; e < edits && !input.empty(); ++e) {
                    const std::size_t at = random() % input.size();
                    switch (random() % 3) {
                    case 0: input[at] = static_cast<uint8_t>(random()); break;
                    case 1: input.insert(input.begin() + at, static_cast<uint8_t>(random())); break;
                    default: input.erase(input.begin() + at); break;
                    }
                }
            }
            }
            try {
                FrameReader reader(
                    {[&](Message &&m) {
                         ++messages;
                         // Whatever was accepted encodes and decodes again.
                         const Bytes again = encode(m);
                         auto back = decode(frameTypeOf(m), payloadOf(again));
                         CPPUNIT_ASSERT(back.ok() && back.value() == m);
                     },
                     [](uint32_t length) { CPPUNIT_ASSERT(length <= kMaxDataPayload); },
                     [](std::span<const uint8_t>, uint32_t) {}},
                    4096);
                std::size_t at = 0;
                while (at < input.size()) {
                    const std::size_t n =
                        std::min<std::size_t>(1 + random() % 64, input.size() - at);
                    const Status status =
                        reader.feed(std::span<const uint8_t>(input).subspan(at, n));
                    at += n;
                    CPPUNIT_ASSERT(status.succeeded() != reader.failed());
                    if (!status.succeeded()) {
                        CPPUNIT_ASSERT(!status.message().empty());
                        CPPUNIT_ASSERT(status.message().find("frame reader:") == std::string::npos);
                    }
                }
                auto direct = decode(static_cast<FrameType>(input.empty() ? 0 : input[0]),
                                     std::span<const uint8_t>(input).subspan(
                                         std::min<std::size_t>(input.size(), kFrameHeaderSize)));
                (void)direct;
            } catch (const CppUnit::Exception &) {
                throw;
            } catch (const std::exception &e) {
                CPPUNIT_FAIL(std::string("threw: ") + e.what());
            } catch (...) {
                CPPUNIT_FAIL("threw a non-std exception");
            }
        }
        CPPUNIT_ASSERT(messages > 0); // some mutations are still valid (e.g. a changed digit)
    }

  private:
    static Bytes sampleStream() {
        Bytes stream;
        auto append = [&](const Bytes &b) { stream.insert(stream.end(), b.begin(), b.end()); };
        append(encode(sampleHello()));
        append(encodeChunkDataHeader(300));
        for (int i = 0; i < 300; ++i)
            stream.push_back(static_cast<uint8_t>('a' + i % 26));
        append(encode(Ping{99}));
        append(encodeChunkDataHeader(0));
        append(encode(sampleGameFiles()));
        append(encodeChunkDataHeader(3));
        append(bytesOf("xyz"));
        append(encode(Goodbye{"bye"}));
        return stream;
    }

    static void expectRoundTrip(const Message &message) {
        const Bytes frame = encode(message);
        auto decoded = decode(frameTypeOf(message), payloadOf(frame));
        CPPUNIT_ASSERT_MESSAGE(decoded.status().describe(), decoded.ok());
        CPPUNIT_ASSERT(decoded.value() == message);
    }

    static void expectError(FrameType type, const std::string &payload, const std::string &needle) {
        auto decoded = decode(type, bytesOf(payload));
        CPPUNIT_ASSERT_MESSAGE("accepted: " + payload.substr(0, 300), !decoded.ok());
        CPPUNIT_ASSERT(decoded.status().code() == LANSPREAD_E_INVALID_ARGUMENT);
        CPPUNIT_ASSERT_MESSAGE("\"" + decoded.status().message() + "\" lacks \"" + needle + "\"",
                               decoded.status().message().find(needle) != std::string::npos);

        // The reader reports the same error and delivers nothing.
        if (static_cast<uint8_t>(type) < 1 || static_cast<uint8_t>(type) > 14 ||
            type == FrameType::ChunkData || payload.size() > kMaxControlPayload)
            return;
        int delivered = 0;
        FrameReader reader({[&](Message &&) { ++delivered; }, {}, {}});
        const Status status = reader.feed(frameOf(type, payload));
        CPPUNIT_ASSERT(!status.succeeded());
        CPPUNIT_ASSERT_EQUAL(decoded.status().message(), status.message());
        CPPUNIT_ASSERT_EQUAL(0, delivered);
        CPPUNIT_ASSERT(reader.failed());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProtocolTest);
