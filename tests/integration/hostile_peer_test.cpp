// S50 "Identity is pinned" and S51 "Hostile requests" against a real lanspreadd: a raw
// client (the real transport plugin loaded through the kernel's PluginLoader and PluginHost,
// a wolfCrypt Identity — tests/support/raw_peer.hpp) speaks the peer protocol byte by byte,
// lies about its peer_id in Hello, and sends every kind of hostile request on request
// streams. The daemon is driven and observed over its JSONL stdin/stdout; inotify watches the
// files outside the game root (and local/) to prove none of them is ever opened.
// The transport is the one under test (tests/support/peer_harness.hpp): transport-quic, or
// with LANSPREAD_TEST_TRANSPORT=tls transport-tls for both the raw client and the daemon
// (ctest S53-S50, S53-S51), every assertion unchanged.
#include "child_process.hpp"
#include "file_text.hpp"
#include "json_lines.hpp"
#include "peer_harness.hpp"
#include "raw_peer.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

using lanspread::test::ChildProcess;
using lanspread::test::RawPeer;
namespace protocol = lanspread::kernel::protocol;
using lanspread::kernel::peers::Identity;
using namespace std::chrono_literals;

namespace {

constexpr const char *kGame = "ggoo"; // downloaded, Ready: the one game the daemon serves
constexpr const char *kVersion = "20250301";
constexpr std::size_t kEtiSize = (3u << 20) + 777; // 4 chunks, the last a short one
constexpr std::size_t kPakSize = 100'000;

using lanspread::test::parseJson;
using lanspread::test::toJson;
using lanspread::test::transportPluginUnderTest;
using lanspread::test::transportUnderTest;
using lanspread::test::writeWholeFile;

// The raw client's transport plugin: the one under test, as the daemon's.
std::string rawTransport() {
    const bool tls = transportUnderTest() == "tls";
#ifdef TRANSPORT_TLS_PATH
    if (tls)
        return TRANSPORT_TLS_PATH;
#else
    if (tls)
        CPPUNIT_FAIL("LANSPREAD_TEST_TRANSPORT=tls, but transport-tls was not built");
#endif
    return TRANSPORT_QUIC_PATH;
}

// A frame with any type byte and declared length, followed by payload (which may be shorter
// or longer than declared).
std::vector<uint8_t> rawFrame(uint8_t type, uint32_t declared, const std::string &payload) {
    // Sized once, then filled: GCC 12 at -O2 misreads insert() after an initializer list
    // (-Warray-bounds false positive).
    std::vector<uint8_t> f(5 + payload.size());
    f[0] = type;
    f[1] = static_cast<uint8_t>(declared >> 24);
    f[2] = static_cast<uint8_t>(declared >> 16);
    f[3] = static_cast<uint8_t>(declared >> 8);
    f[4] = static_cast<uint8_t>(declared);
    std::copy(payload.begin(), payload.end(), f.begin() + 5);
    return f;
}
std::vector<uint8_t> rawFrame(uint8_t type, const std::string &payload) {
    return rawFrame(type, static_cast<uint32_t>(payload.size()), payload);
}

std::vector<uint8_t> getChunk(const std::string &game, const std::string &path, uint64_t offset,
                              uint64_t length) {
    return protocol::encode(protocol::GetChunk{game, path, offset, length});
}

protocol::Hello helloFrom(const std::string &claimedId, const std::string &name,
                          std::vector<protocol::GameSummary> games) {
    protocol::Hello hello;
    hello.peerId = claimedId;
    hello.name = name;
    hello.listenAddr = "127.0.0.1:9"; // never dialled back in these tests
    hello.features = {"chunks-v2"};
    hello.libraryRevision = 1;
    hello.games = std::move(games);
    return hello;
}

protocol::GameSummary readyGame(const std::string &id, uint64_t size) {
    protocol::GameSummary game;
    game.id = id;
    game.version = kVersion;
    game.availability = "Ready";
    game.downloaded = true;
    game.sizeBytes = size;
    return game;
}

// Opens and reads of watched paths, through inotify (IN_OPEN / IN_ACCESS), by name.
class OpenWatch {
  public:
    OpenWatch() : _fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
        CPPUNIT_ASSERT_MESSAGE("inotify_init1", _fd >= 0);
    }
    ~OpenWatch() { ::close(_fd); }
    OpenWatch(const OpenWatch &) = delete;
    OpenWatch &operator=(const OpenWatch &) = delete;

    void add(const std::string &name, const std::string &path) {
        const int wd = ::inotify_add_watch(_fd, path.c_str(), IN_OPEN | IN_ACCESS);
        CPPUNIT_ASSERT_MESSAGE("inotify_add_watch " + path, wd >= 0);
        _names[wd] = name;
        _counts[name];
    }
    // Reads every queued event; returns name -> events so far.
    const std::map<std::string, int> &counts() {
        alignas(inotify_event) char buffer[16384];
        for (;;) {
            const ssize_t n = ::read(_fd, buffer, sizeof buffer);
            if (n <= 0)
                break;
            for (ssize_t at = 0; at < n;) {
                const auto *e = reinterpret_cast<const inotify_event *>(buffer + at);
                auto it = _names.find(e->wd);
                if (it != _names.end() && (e->mask & (IN_OPEN | IN_ACCESS)) != 0)
                    ++_counts[it->second];
                at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            }
        }
        return _counts;
    }

  private:
    int _fd;
    std::map<int, std::string> _names;
    std::map<std::string, int> _counts;
};

// What came back on one request stream.
struct Outcome {
    std::string label; // the ErrorReply code, "chunk", "reset", "no-answer" or "timeout"
    bool fin = false;
    bool reset = false;
    std::string message; // the ErrorReply message
    std::vector<uint8_t> chunk;
    std::optional<uint32_t> chunkLength;
};

Outcome classify(const RawPeer::StreamView &view) {
    Outcome o;
    o.fin = view.fin;
    o.reset = view.reset;
    std::string error;
    const auto messages = RawPeer::parse(view.data, &o.chunk, &o.chunkLength, &error);
    for (const auto &m : messages)
        if (const auto *e = std::get_if<protocol::ErrorReply>(&m)) {
            o.label = e->code;
            o.message = e->message;
            return o;
        }
    if (!messages.empty())
        o.label = std::string("unexpected-") +
                  protocol::frameTypeName(protocol::frameTypeOf(messages.front()));
    else if (o.chunkLength)
        o.label = "chunk";
    else if (view.reset)
        o.label = "reset";
    else if (view.fin)
        o.label = "no-answer";
    else
        o.label = "timeout";
    return o;
}

} // namespace

class HostilePeerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HostilePeerTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "hostile_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        std::signal(SIGPIPE, SIG_IGN); // a dead daemon's stdin fails the write, not the test run
        _dir = Poco::TemporaryFile::tempName();
        _games = _dir + "/games";
        _root = _games + "/" + kGame;
        Poco::File(_games).createDirectories();
        Poco::File(_dir + "/state").createDirectories();
        writeWholeFile(_dir + "/catalog.json", lanspread::fixtures::catalogJson(kVersion));
        // The served game: two real files, version.ini last (it makes the game downloaded).
        _eti = lanspread::fixtures::pseudoRandom(kEtiSize, 50);
        _pak = lanspread::fixtures::pseudoRandom(kPakSize, 51);
        writeWholeFile(_root + "/ggoo.eti", _eti);
        writeWholeFile(_root + "/data/level1.pak", _pak);
        // What a hostile request would like to read: a secret outside the games dir, reached
        // through ../, an absolute path, a symlink in the root (file and directory), and the
        // installed tree under local/ (never served).
        writeWholeFile(_dir + "/outside/secret.txt", "secret: never served\n");
        CPPUNIT_ASSERT_EQUAL(
            0, ::symlink((_dir + "/outside/secret.txt").c_str(), (_root + "/escape.txt").c_str()));
        CPPUNIT_ASSERT_EQUAL(0,
                             ::symlink((_dir + "/outside").c_str(), (_root + "/outlink").c_str()));
        writeWholeFile(_root + "/local/payload.bin", "installed bytes, never served\n");
        writeWholeFile(_root + "/version.ini", std::string(kVersion) + "\n");
    }
    void tearDown() override {
        if (_peer && !_peer->wait(0ms)) {
            try {
                _peer->writeStdin("{\"id\":\"bye\",\"cmd\":\"shutdown\"}\n");
            } catch (const std::exception &) {
            }
            _peer->waitExit(10s);
        }
        _peer.reset();
        Poco::File(_dir).remove(true);
    }

    // S50: a peer whose certificate key does not match the peer_id its Hello claims is
    // refused, whether it claims a peer the daemon already knows or one it never saw; its
    // library never reaches the peer DB and no peer event names it. An honest peer on the same
    // daemon is connected before and stays connected after.
    void S50_identityIsPinned() {
        startPeer();
        const Identity honestId = identity("honest");
        const Identity impostorId = identity("impostor");
        const Identity absentId = identity("absent"); // never connects: only its id is claimed
        CPPUNIT_ASSERT(honestId.peerId != impostorId.peerId);

        // The honest peer: Hello with its own id -> HelloAck, peer-connected, list-peers.
        RawPeer honest(rawTransport(), honestId);
        const auto h =
            handshake(honest, helloFrom(honestId.peerId, "honest", {readyGame("css", 1234)}));
        CPPUNIT_ASSERT_MESSAGE(h.failure, h.failure.empty());
        CPPUNIT_ASSERT_MESSAGE(_peer->stderrText(),
                               _peer->readUntil("\"event\":\"peer-connected\"", 10s).has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("honest:css"), peersSummary());

        // Impostors: a valid certificate (the impostor's own key), a Hello with another id.
        struct Claim {
            std::string what;
            std::string claimedId;
            std::string game; // the library it advertises
            std::string expectedCode;
            std::string logDetail; // in the daemon's refusal line
        };
        const std::vector<Claim> claims{
            {"a known peer's id", honestId.peerId, "cod5", "identity-mismatch",
             "Hello claims peer " + honestId.peerId + " but the certificate's key is " +
                 impostorId.peerId},
            {"an unknown peer's id", absentId.peerId, "bf1942", "identity-mismatch",
             "Hello claims peer " + absentId.peerId + " but the certificate's key is " +
                 impostorId.peerId},
            {"the daemon's own id", _daemonId, "cnc4", "self-connect", ""},
        };
        std::map<std::string, int> codes;
        std::string delivery, undelivered;
        for (const auto &claim : claims) {
            RawPeer impostor(rawTransport(), impostorId);
            const auto s = handshake(
                impostor, helloFrom(claim.claimedId, "impostor", {readyGame(claim.game, 999)}));
            // Refused: the daemon closes the connection, and never acknowledges the Hello.
            CPPUNIT_ASSERT_MESSAGE(claim.what + ": " + s.failure, s.connected);
            CPPUNIT_ASSERT_MESSAGE(claim.what + ": the daemon kept the connection open",
                                   impostor.waitClosed(s.conn, 10s));
            CPPUNIT_ASSERT_MESSAGE(claim.what + ": HelloAck sent to an impostor", !s.helloAck);
            // What the control stream carried before the close: nothing but the refusal.
            const auto control = classify(impostor.stream(s.conn, s.control));
            const bool delivered = control.label == claim.expectedCode;
            CPPUNIT_ASSERT_MESSAGE(claim.what + ": " + control.label,
                                   delivered || control.label == "timeout" ||
                                       control.label == "no-answer" || control.label == "reset");
            const auto closed = impostor.conn(s.conn);
            CPPUNIT_ASSERT_MESSAGE(closed.closeReason,
                                   closed.closeReason.find("closed by") != std::string::npos);
            // The daemon's own account: refused for the claimed id against the key it saw.
            const std::string log =
                waitForLog("refused: " + claim.expectedCode + ": ", claim.logDetail);
            CPPUNIT_ASSERT_MESSAGE(claim.what + ": no refusal logged\n" + _peer->stderrText(),
                                   !log.empty());
            ++codes[claim.expectedCode];
            delivery += (delivery.empty() ? "" : ", ") +
                        (delivered ? "ErrorReply " + control.label
                                   : "close only (" + closed.closeReason + ")");
            if (!delivered)
                undelivered +=
                    "\n  " + claim.what + ": refused as " + claim.expectedCode +
                    " in the daemon's log, but the impostor's control stream got " +
                    (control.label == "timeout" ? std::string("nothing") : control.label) +
                    " before: " + closed.closeReason;
        }

        // Nothing from the impostors was accepted: only the honest peer and its library.
        CPPUNIT_ASSERT_EQUAL(std::string("honest:css"), peersSummary());
        auto remote = command("{\"cmd\":\"list-games\"}")->getObject("data")->getArray("remote");
        std::string remoteIds;
        for (std::size_t i = 0; i < remote->size(); ++i)
            remoteIds += (i ? "," : "") +
                         remote->getObject(static_cast<unsigned>(i))->getValue<std::string>("id");
        CPPUNIT_ASSERT_EQUAL(std::string("css"), remoteIds);
        int connectedEvents = 0;
        for (const auto &line : _peer->seen()) {
            if (line.find("\"event\":\"peer-") == std::string::npos)
                continue;
            CPPUNIT_ASSERT_MESSAGE(line, line.find(absentId.peerId) == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(line, line.find(impostorId.peerId) == std::string::npos);
            for (const char *game : {"cod5", "bf1942", "cnc4"})
                CPPUNIT_ASSERT_MESSAGE(line, line.find(game) == std::string::npos);
            connectedEvents += line.find("\"event\":\"peer-connected\"") != std::string::npos;
        }
        CPPUNIT_ASSERT_EQUAL(1, connectedEvents);
        // The honest session is untouched (an impostor claiming its id did not displace it).
        CPPUNIT_ASSERT_MESSAGE("honest peer lost", !honest.conn(h.conn).closed);
        CPPUNIT_ASSERT(pingPong(honest, h, 50));

        std::printf("\nS50 [transport-%s]: %zu impostor Hellos refused (identity-mismatch x%d "
                    "[claimed a known peer, claimed an unknown peer], self-connect x%d) with a "
                    "valid certificate; delivery: %s; list-peers = honest peer only with its "
                    "library [css]; no peer event for any impostor; honest session alive "
                    "(ping/pong)\n",
                    transportUnderTest().c_str(), claims.size(), codes["identity-mismatch"],
                    codes["self-connect"], delivery.c_str());
        // The refused side is told why (messages.hpp: ErrorReply is "the reason a session is
        // being closed"; the connecting side gets "HelloAck (or ErrorReply then close)").
        CPPUNIT_ASSERT_MESSAGE("ErrorReply not delivered before the close:" + undelivered,
                               undelivered.empty());
    }

    // S51: hostile requests on request streams of an honest (handshaken) connection. Every
    // one gets an error, none reads a byte outside the game root (or under local/), the
    // connection and the daemon stay up, and a normal chunk is served afterwards.
    void S51_hostileRequests() {
        startPeer();
        OpenWatch watch;
        watch.add("outside/secret.txt", _dir + "/outside/secret.txt");
        watch.add("outside/", _dir + "/outside");
        watch.add("local/payload.bin", _root + "/local/payload.bin");
        watch.add("local/", _root + "/local");
        watch.add("ggoo.eti", _root + "/ggoo.eti"); // the positive control: served below

        RawPeer client(rawTransport(), identity("client"));
        const auto s = handshake(client, helloFrom(client.identity().peerId, "client", {}));
        CPPUNIT_ASSERT_MESSAGE(s.failure, s.failure.empty());

        const std::string P = "protocol-error"; // ErrorReply protocol-error, or a reset
        const uint64_t max = std::numeric_limits<uint64_t>::max();
        const std::string secretAbs = _dir + "/outside/secret.txt";
        struct Case {
            std::string name;
            std::vector<uint8_t> bytes;
            std::string expected;
        };
        const std::vector<Case> cases{
            // Paths.
            {"dotdot", getChunk(kGame, "../../outside/secret.txt", 0, 10), P},
            {"inner-dotdot", getChunk(kGame, "data/../../../outside/secret.txt", 0, 10), P},
            {"absolute /etc/passwd", getChunk(kGame, "/etc/passwd", 0, 10), P},
            {"absolute secret", getChunk(kGame, secretAbs, 0, 10), P},
            {"local/ file", getChunk(kGame, "local/payload.bin", 0, 10), "bad-path"},
            {"local dir", getChunk(kGame, "local", 0, 10), "bad-path"},
            {"double slash", getChunk(kGame, "data//level1.pak", 0, 10), P},
            {"backslash", getChunk(kGame, "data\\level1.pak", 0, 10), P},
            {"backslash dotdot", getChunk(kGame, "..\\..\\outside\\secret.txt", 0, 10), P},
            {"symlink to file outside", getChunk(kGame, "escape.txt", 0, 10), "bad-path"},
            {"through dir symlink", getChunk(kGame, "outlink/secret.txt", 0, 10), "bad-path"},
            {"unindexed file", getChunk(kGame, "nosuch.bin", 0, 10), "bad-path"},
            // Ranges.
            {"offset past end", getChunk(kGame, "ggoo.eti", kEtiSize + 1, 1), "out-of-range"},
            {"range past end", getChunk(kGame, "ggoo.eti", kEtiSize - 10, 100), "out-of-range"},
            {"offset 2^63", getChunk(kGame, "ggoo.eti", uint64_t(1) << 63, 1), "out-of-range"},
            {"offset max, length 0", getChunk(kGame, "ggoo.eti", max, 0), "out-of-range"},
            {"last chunk's offset, chunk size",
             getChunk(kGame, "ggoo.eti", 3u << 20, lanspread::kernel::catalog::kChunkSize),
             "out-of-range"},
            {"length 0", getChunk(kGame, "ggoo.eti", 0, 0), "out-of-range"},
            {"length 1 MiB + 1",
             getChunk(kGame, "ggoo.eti", 0, protocol::kMaxDataPayload + uint64_t(1)), P},
            {"length 32 MiB (protocol 1's chunk)", getChunk(kGame, "ggoo.eti", 0, 32u << 20), P},
            {"length 2^40", getChunk(kGame, "ggoo.eti", 0, uint64_t(1) << 40), P},
            {"offset + length overflows", getChunk(kGame, "ggoo.eti", max - 5, 100), P},
            // Games.
            {"game not in catalog", getChunk("nosuchgame", "ggoo.eti", 0, 10), "unknown-game"},
            {"catalog game not downloaded", getChunk("css", "css.eti", 0, 10), "not-servable"},
            {"game id ../ggoo", getChunk("../ggoo", "ggoo.eti", 0, 10), P},
            {"GetGame not in catalog", protocol::encode(protocol::GetGame{"nosuchgame"}),
             "unknown-game"},
            // Frames.
            {"unknown type 0x63", rawFrame(0x63, "{}"), P},
            {"type 0", rawFrame(0x00, "{}"), P},
            {"GetChunk declaring 16 MiB + 1", rawFrame(6, (16u << 20) + 1, ""), P},
            {"GetChunk of 64 KiB + 1", rawFrame(6, std::string((64u << 10) + 1, ' ')), P},
            {"ChunkData declaring 1 MiB + 1", rawFrame(7, protocol::kMaxDataPayload + 1, ""), P},
            {"malformed JSON", rawFrame(6, "{\"game\":\"ggoo\",\"path\":"), P},
            {"JSON array", rawFrame(6, "[1,2]"), P},
            {"wrong member types",
             rawFrame(6,
                      "{\"game\":\"ggoo\",\"path\":\"ggoo.eti\",\"offset\":\"0\",\"length\":-1}"),
             P},
            {"number above 2^64",
             rawFrame(6, "{\"game\":\"ggoo\",\"path\":\"ggoo.eti\",\"offset\":"
                         "18446744073709551616,\"length\":1}"),
             P},
            {"ChunkData as a request",
             [] {
                 auto f = protocol::encodeChunkDataHeader(4);
                 f.insert(f.end(), {1, 2, 3, 4});
                 return f;
             }(),
             P},
            {"Hello on a request stream",
             protocol::encode(helloFrom(client.identity().peerId, "again", {})), P},
            {"two requests on one stream",
             [] {
                 auto f = getChunk(kGame, "data/level1.pak", 0, 10);
                 auto g = getChunk(kGame, "data/level1.pak", 10, 10);
                 f.insert(f.end(), g.begin(), g.end());
                 return f;
             }(),
             P},
            {"truncated frame",
             [] {
                 auto f = getChunk(kGame, "ggoo.eti", 0, 10);
                 f.resize(f.size() / 2);
                 return f;
             }(),
             P},
            {"empty request stream", {}, P},
        };

        std::map<std::string, int> tally;
        int errorReplies = 0, resets = 0;
        std::string table;
        for (const auto &c : cases) {
            const uint64_t stream = client.openStream(s.conn);
            client.send(s.conn, stream, c.bytes, true);
            const Outcome o = classify(client.waitStreamEnd(s.conn, stream, 10s));
            const std::string what = c.name + " -> " + o.label + (o.reset ? " (reset)" : "") +
                                     (o.message.empty() ? "" : ": " + o.message);
            table += "\n  " + what;
            CPPUNIT_ASSERT_MESSAGE(what + "\n" + _peer->stderrText(), !client.conn(s.conn).closed);
            if (c.expected == P) {
                // A protocol error: ErrorReply protocol-error, or the stream reset (the daemon
                // resets a request stream it stops reading).
                CPPUNIT_ASSERT_MESSAGE(what, o.label == P || o.label == "reset");
                CPPUNIT_ASSERT_MESSAGE(what, o.chunk.empty());
            } else {
                // A refused request: exactly an ErrorReply with the gate's code, then FIN.
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, c.expected, o.label);
                CPPUNIT_ASSERT_MESSAGE(what, o.fin && !o.reset);
            }
            const std::string counted = o.label == "reset" ? P : o.label;
            ++tally[counted];
            (o.label == "reset" ? resets : errorReplies) += 1;
        }
        std::printf("\nS51 cases:%s\n", table.c_str());

        // Nothing outside the game root, and nothing under local/, was opened or read.
        for (const auto &[name, count] : watch.counts())
            if (name != "ggoo.eti")
                CPPUNIT_ASSERT_EQUAL_MESSAGE(name + " was opened", 0, count);

        // The connection survived every request-stream error: the control stream still works.
        CPPUNIT_ASSERT_MESSAGE("connection closed", !client.conn(s.conn).closed);
        CPPUNIT_ASSERT(pingPong(client, s, 51));

        // A normal request is served: the first chunk of ggoo.eti, and a slice of level1.pak,
        // byte for byte.
        const auto served = [&](const std::string &path, uint64_t offset, uint64_t length) {
            const uint64_t stream = client.openStream(s.conn);
            client.send(s.conn, stream, getChunk(kGame, path, offset, length), true);
            const Outcome o = classify(client.waitStreamEnd(s.conn, stream, 30s));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path + ": " + o.message, std::string("chunk"), o.label);
            CPPUNIT_ASSERT_MESSAGE(path, o.fin && !o.reset);
            CPPUNIT_ASSERT(o.chunkLength.has_value());
            CPPUNIT_ASSERT_EQUAL(length, uint64_t(*o.chunkLength));
            return std::string(o.chunk.begin(), o.chunk.end());
        };
        const uint64_t first = std::min<uint64_t>(kEtiSize, lanspread::kernel::catalog::kChunkSize);
        const std::string chunk = served("ggoo.eti", 0, first);
        const std::string expectedSha = lanspread::fixtures::sha256Hex(_eti.substr(0, first));
        CPPUNIT_ASSERT_EQUAL(expectedSha, lanspread::fixtures::sha256Hex(chunk));
        CPPUNIT_ASSERT(served("data/level1.pak", 4096, 5000) == _pak.substr(4096, 5000));
        // The watch sees a served file being read (so its silence above means something), and
        // still nothing else.
        const auto after = watch.counts();
        CPPUNIT_ASSERT_MESSAGE("serving ggoo.eti was not seen by inotify",
                               after.at("ggoo.eti") > 0);
        for (const auto &[name, count] : after)
            if (name != "ggoo.eti")
                CPPUNIT_ASSERT_EQUAL_MESSAGE(name + " was opened", 0, count);

        // An abandoned request: a valid GetChunk that the client resets right away.
        {
            const uint64_t stream = client.openStream(s.conn);
            client.send(s.conn, stream, getChunk(kGame, "ggoo.eti", 0, kEtiSize), true);
            client.resetStream(s.conn, stream, 7);
        }

        // A control frame above the 16 MiB limit ends only that session.
        RawPeer second(rawTransport(), identity("second"));
        const auto s2 = handshake(second, helloFrom(second.identity().peerId, "second", {}));
        CPPUNIT_ASSERT_MESSAGE(s2.failure, s2.failure.empty());
        second.send(s2.conn, s2.control, rawFrame(3, (16u << 20) + 1, ""), false);
        CPPUNIT_ASSERT_MESSAGE("oversized control frame: session kept",
                               second.waitClosed(s2.conn, 10s));
        CPPUNIT_ASSERT_MESSAGE("control-stream protocol error not logged",
                               !waitForLog("protocol error on the control stream",
                                           "exceeds the 16777216-byte control limit")
                                    .empty());

        // Availability (protocol 2): Haves that do not fit, malformed bitfields and Have lists.
        std::printf("\nS51 availability:%s\n", hostileAvailability().c_str());

        // The daemon is up and still has the first client.
        auto status = command("{\"cmd\":\"status\"}");
        CPPUNIT_ASSERT_MESSAGE(toJson(status), status->getValue<bool>("ok"));
        CPPUNIT_ASSERT_EQUAL(_daemonId,
                             status->getObject("data")->getValue<std::string>("peer_id"));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(
            toJson(status), std::size_t(1),
            status->getObject("data")->getValue<std::size_t>("peer_count"));
        CPPUNIT_ASSERT_EQUAL(std::string("client:"), peersSummary());
        CPPUNIT_ASSERT(!client.conn(s.conn).closed);
        CPPUNIT_ASSERT(pingPong(client, s, 52));

        // Every request has ended (answered, refused, reset): the daemon serves nothing and
        // holds no game file open (waits up to 5 s for in-flight reads to settle).
        std::string outbound, held;
        for (int i = 0; i < 50; ++i) {
            status = command("{\"cmd\":\"status\"}");
            std::ostringstream o;
            status->getObject("data")->getObject("outbound_transfers")->stringify(o);
            outbound = o.str();
            held = openFilesUnder(_games);
            if (outbound == "{}" && held.empty())
                break;
            std::this_thread::sleep_for(100ms);
        }

        // And it still stops cleanly when asked.
        _peer->writeStdin("{\"id\":\"bye\",\"cmd\":\"shutdown\"}\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(_peer->stderrText(), 0, _peer->waitExit(20s));

        std::string summary;
        for (const auto &[code, count] : tally)
            summary += (summary.empty() ? "" : ", ") + code +
                       (count > 1 ? " x" + std::to_string(count) : "");
        std::printf("S51 [transport-%s]: %zu hostile requests refused (%s; %d ErrorReply, %d "
                    "reset); nothing outside the game root or under local/ opened (inotify); "
                    "connection and "
                    "daemon up; valid chunk sha256 ok (%s, %llu bytes); oversized control frame "
                    "closed only its session; clean shutdown; after all requests: "
                    "outbound_transfers %s, game "
                    "files held open: %s\n",
                    transportUnderTest().c_str(), cases.size(), summary.c_str(), errorReplies,
                    resets, expectedSha.substr(0, 16).c_str(),
                    static_cast<unsigned long long>(first), outbound.c_str(),
                    held.empty() ? "none" : held.c_str());
        CPPUNIT_ASSERT_EQUAL_MESSAGE("upload slots still held after every request ended",
                                     std::string("{}"), outbound);
        CPPUNIT_ASSERT_EQUAL_MESSAGE("game files still open after every request ended",
                                     std::string(), held);
    }

  private:
    struct Session {
        int conn = -1;
        uint64_t control = 0;
        bool connected = false;
        bool helloAck = false;
        std::string failure; // empty once HelloAck arrived
    };

    Identity identity(const std::string &name) {
        auto id = Identity::loadOrCreate(_dir + "/clients/" + name, name);
        CPPUNIT_ASSERT_MESSAGE(id.status().message(), id.ok());
        return id.value();
    }

    // Connects, opens the control stream, sends hello and waits for the answer (HelloAck,
    // ErrorReply or the connection closing).
    Session handshake(RawPeer &peer, const protocol::Hello &hello) {
        return handshake(peer, protocol::encode(hello));
    }
    // The same with the Hello frame's bytes as given (a tampered one).
    Session handshake(RawPeer &peer, const std::vector<uint8_t> &helloFrame) {
        Session s;
        s.conn = peer.connect(_listenAddr);
        s.connected = peer.waitConnected(s.conn, 10s);
        if (!s.connected) {
            s.failure = "no transport handshake: " + peer.conn(s.conn).closeReason;
            return s;
        }
        // The daemon is who it says: the key it presented is its peer_id.
        CPPUNIT_ASSERT_EQUAL(_daemonId, peer.conn(s.conn).remoteFingerprint);
        s.control = peer.openStream(s.conn);
        peer.send(s.conn, s.control, helloFrame, false);
        const auto view = peer.waitStream(s.conn, s.control, 10s, [](const auto &v) {
            return !RawPeer::parse(v.data).empty() || v.ended();
        });
        for (const auto &m : RawPeer::parse(view.data))
            if (const auto *ack = std::get_if<protocol::HelloAck>(&m)) {
                s.helloAck = true;
                CPPUNIT_ASSERT_EQUAL(_daemonId, ack->hello.peerId);
                CPPUNIT_ASSERT_EQUAL(protocol::PROTOCOL_VERSION, ack->hello.protocolVersion);
            }
        if (!s.helloAck)
            s.failure =
                "no HelloAck: " + classify(view).label + " " + peer.conn(s.conn).closeReason;
        return s;
    }

    // A peer downloading ggoo announces the chunks it has verified (Hello.partials), then more
    // as it goes (Have). A Have that does not fit its partial game (a chunk past chunk_count,
    // another file list's digest, a game it is not downloading) is ignored whole, and a valid
    // one is applied (so the ignoring is seen). A malformed bitfield or Have list is a protocol
    // error that ends only its own session: a Hello is refused, a later frame closes the
    // session, and the peer's record never takes the bad bits. Returns one line per case; the
    // session it opened is closed and the peer gone when it returns.
    std::string hostileAvailability() {
        const std::string digest = lanspread::fixtures::sha256Hex("S51 voted file list");
        const std::string otherDigest = lanspread::fixtures::sha256Hex("another file list");
        protocol::PartialGame ggoo;
        ggoo.id = kGame;
        ggoo.version = kVersion;
        ggoo.filesDigest = digest;
        ggoo.chunkCount = 5;
        ggoo.have = {true, false, true, false, false}; // "have":"a0"
        const auto have = [&](const std::string &game, const std::string &filesDigest,
                              std::vector<uint64_t> chunks) {
            return protocol::encode(protocol::Have{game, filesDigest, std::move(chunks)});
        };
        std::string table;

        RawPeer partial(rawTransport(), identity("partial"));
        protocol::Hello hello = helloFrom(partial.identity().peerId, "partial", {});
        hello.partials = {ggoo};
        const auto s = handshake(partial, hello);
        CPPUNIT_ASSERT_MESSAGE(s.failure, s.failure.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo 2/5"), partialsOf("partial"));
        uint64_t nonce = 500;
        const std::vector<std::pair<std::string, std::vector<uint8_t>>> ignored{
            {"Have 3,5 of 5 chunks", have(kGame, digest, {3, 5})},
            {"Have of another file list", have(kGame, otherDigest, {3})},
            {"Have of a game not being downloaded", have("css", digest, {0})},
        };
        for (const auto &[name, frame] : ignored) {
            partial.send(s.conn, s.control, frame, false);
            // The Pong answers a Ping sent after the Have: the Have has been handled.
            CPPUNIT_ASSERT_MESSAGE(name + ": session lost", pingPong(partial, s, ++nonce));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(name, std::string("ggoo 2/5"), partialsOf("partial"));
            table += "\n  " + name + " -> ignored, still ggoo 2/5";
        }
        partial.send(s.conn, s.control, have(kGame, digest, {1, 3}), false);
        CPPUNIT_ASSERT(pingPong(partial, s, ++nonce));
        CPPUNIT_ASSERT_EQUAL_MESSAGE("a valid Have 1,3", std::string("ggoo 4/5"),
                                     partialsOf("partial"));
        table += "\n  Have 1,3 -> applied, ggoo 4/5";

        // Malformed: each on a session of its own, which the daemon ends.
        const auto tampered = [](const std::vector<uint8_t> &frame, const std::string &from,
                                 const std::string &to) {
            std::string json(frame.begin() + protocol::kFrameHeaderSize, frame.end());
            const auto at = json.find(from);
            CPPUNIT_ASSERT_MESSAGE(from + " not in " + json, at != std::string::npos);
            json.replace(at, from.size(), to);
            return rawFrame(frame[0], json);
        };
        // A liar's Hello: ggoo as the honest partial has it, under the liar's own identity
        // (so nothing but the tampering is wrong with it).
        const auto liarHello = [&](const RawPeer &liar, const std::string &name) {
            protocol::Hello h = helloFrom(liar.identity().peerId, name, {});
            h.partials = {ggoo};
            return protocol::encode(h);
        };
        using Tamper = std::function<std::vector<uint8_t>(const std::vector<uint8_t> &hello)>;
        const auto inHello = [&](const std::string &from, const std::string &to) -> Tamper {
            return [=](const std::vector<uint8_t> &h) { return tampered(h, from, to); };
        };
        protocol::LibraryDelta delta;
        delta.revision = 2;
        delta.partialUpserts = {ggoo};
        const auto after = [](std::vector<uint8_t> frame) -> Tamper {
            return [frame](const std::vector<uint8_t> &) { return frame; };
        };
        struct Bad {
            std::string name;
            bool inHello; // the Hello itself, else a frame after the handshake
            Tamper frame;
            std::string logDetail; // in the daemon's protocol-error line
        };
        const std::vector<Bad> bad{
            {"Hello have not hex", true, inHello("\"a0\"", "\"zz\""), "not lowercase hex"},
            {"Hello have uppercase", true, inHello("\"a0\"", "\"A0\""), "not lowercase hex"},
            {"Hello have 2 bytes for 5 chunks", true, inHello("\"a0\"", "\"a000\""),
             "longer than 2 bytes"},
            {"Hello have bit 5 of 5 chunks", true, inHello("\"a0\"", "\"a4\""),
             "beyond chunk_count 5"},
            {"Hello chunk_count 0", true, inHello("\"chunk_count\":5", "\"chunk_count\":0"),
             "is not in 1.."},
            {"LibraryDelta partial have not hex", false,
             after(tampered(protocol::encode(delta), "\"a0\"", "\"g0\"")), "not lowercase hex"},
            {"Have 3,1 (not ascending)", false, after(have(kGame, digest, {3, 1})),
             "does not ascend"},
            {"Have chunk 2^24", false, after(have(kGame, digest, {protocol::kMaxChunksPerGame})),
             "is not below 16777216"},
            {"Have files_digest not hex", false,
             after(tampered(have(kGame, digest, {4}), digest, "not-a-digest")),
             "is not a files digest"},
        };
        for (std::size_t i = 0; i < bad.size(); ++i) {
            const Bad &b = bad[i];
            const std::size_t errorsBefore = controlStreamErrors().size();
            const std::string liarName = "liar" + std::to_string(i);
            RawPeer liar(rawTransport(), identity(liarName));
            const std::vector<uint8_t> ownHello = liarHello(liar, liarName);
            Session ls;
            if (b.inHello) {
                ls = handshake(liar, b.frame(ownHello));
                CPPUNIT_ASSERT_MESSAGE(b.name + ": HelloAck to a malformed Hello", !ls.helloAck);
            } else {
                ls = handshake(liar, ownHello);
                CPPUNIT_ASSERT_MESSAGE(b.name + ": " + ls.failure, ls.failure.empty());
                liar.send(ls.conn, ls.control, b.frame(ownHello), false);
            }
            CPPUNIT_ASSERT_MESSAGE(b.name + ": session kept", liar.waitClosed(ls.conn, 10s));
            std::vector<std::string> errors;
            for (int wait = 0; wait < 100 && errors.size() <= errorsBefore; ++wait) {
                errors = controlStreamErrors();
                if (errors.size() <= errorsBefore)
                    std::this_thread::sleep_for(50ms);
            }
            CPPUNIT_ASSERT_MESSAGE(b.name + ": no protocol error logged",
                                   errors.size() > errorsBefore);
            CPPUNIT_ASSERT_MESSAGE(b.name + ": " + errors[errorsBefore],
                                   errors[errorsBefore].find(b.logDetail) != std::string::npos);
            // The bad bits reached no record: the liar is gone, the honest partial unchanged.
            for (int wait = 0; wait < 100 && !partialsOf(liarName).empty(); ++wait)
                std::this_thread::sleep_for(50ms);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(b.name + ": the liar is still listed", std::string(),
                                         partialsOf(liarName));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(b.name, std::string("ggoo 4/5"), partialsOf("partial"));
            table += "\n  " + b.name + " -> " + (b.inHello ? "Hello refused" : "session closed") +
                     " (" + b.logDetail + ")";
        }
        CPPUNIT_ASSERT(pingPong(partial, s, ++nonce));

        // Leave as found: only the first client connected.
        partial.close(s.conn);
        for (int wait = 0; wait < 100 && peersSummary() != "client:"; ++wait)
            std::this_thread::sleep_for(50ms);
        CPPUNIT_ASSERT_EQUAL(std::string("client:"), peersSummary());
        return table;
    }

    // The daemon's "protocol error on the control stream" log lines so far, in order.
    std::vector<std::string> controlStreamErrors() {
        std::vector<std::string> out;
        std::istringstream lines(_peer->stderrText());
        for (std::string line; std::getline(lines, line);)
            if (line.find("protocol error on the control stream") != std::string::npos)
                out.push_back(line);
        return out;
    }

    // The partial games list-peers shows for the peer named name: "id have/count ..."; "" when
    // it has none or is not listed.
    std::string partialsOf(const std::string &name) {
        auto result = command("{\"cmd\":\"list-peers\"}");
        CPPUNIT_ASSERT_MESSAGE(toJson(result), result->getValue<bool>("ok"));
        auto peers = result->getObject("data")->getArray("peers");
        std::string out;
        for (std::size_t i = 0; i < peers->size(); ++i) {
            auto p = peers->getObject(static_cast<unsigned>(i));
            if (p->getValue<std::string>("name") != name)
                continue;
            auto partials = p->getArray("partials");
            for (std::size_t g = 0; partials && g < partials->size(); ++g) {
                auto game = partials->getObject(static_cast<unsigned>(g));
                if (!out.empty())
                    out += " ";
                out += game->getValue<std::string>("id") + " " +
                       std::to_string(game->getValue<uint64_t>("chunks_have")) + "/" +
                       std::to_string(game->getValue<uint64_t>("chunk_count"));
            }
        }
        return out;
    }

    // Ping on the control stream, Pong with the same nonce back.
    bool pingPong(RawPeer &peer, const Session &s, uint64_t nonce) {
        peer.send(s.conn, s.control, protocol::encode(protocol::Ping{nonce}), false);
        const auto hasPong = [nonce](const RawPeer::StreamView &v) {
            for (const auto &m : RawPeer::parse(v.data))
                if (const auto *pong = std::get_if<protocol::Pong>(&m);
                    pong && pong->nonce == nonce)
                    return true;
            return false;
        };
        return hasPong(peer.waitStream(s.conn, s.control, 10s, hasPong));
    }

    // The daemon's open file descriptors on files below dir: "path xN ..." ("" for none).
    std::string openFilesUnder(const std::string &dir) {
        const std::string fdDir = "/proc/" + std::to_string(_peer->pid()) + "/fd";
        std::map<std::string, int> open;
        for (const auto &entry : std::filesystem::directory_iterator(fdDir)) {
            std::error_code ec;
            const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
            if (!ec && target.rfind(dir + "/", 0) == 0)
                ++open[target.substr(dir.size() + 1)];
        }
        std::string out;
        for (const auto &[path, count] : open)
            out += (out.empty() ? "" : " ") + path + " x" + std::to_string(count);
        return out;
    }

    // "name:game,game name:..." for list-peers, sorted by the daemon's order.
    std::string peersSummary() {
        auto result = command("{\"cmd\":\"list-peers\"}");
        CPPUNIT_ASSERT_MESSAGE(toJson(result), result->getValue<bool>("ok"));
        auto peers = result->getObject("data")->getArray("peers");
        std::string out;
        for (std::size_t i = 0; i < peers->size(); ++i) {
            auto p = peers->getObject(static_cast<unsigned>(i));
            // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict overlap for
            // "literal" + a temporary std::string.
            if (i > 0)
                out += " ";
            out += p->getValue<std::string>("name") + ":";
            auto games = p->getArray("games");
            for (std::size_t g = 0; g < games->size(); ++g) {
                if (g > 0)
                    out += ",";
                out += games->getObject(static_cast<unsigned>(g))->getValue<std::string>("id");
            }
        }
        return out;
    }

    // The first daemon log line containing both texts (waits up to 5 s for it), or "".
    std::string waitForLog(const std::string &a, const std::string &b) {
        for (int i = 0; i < 100; ++i) {
            std::istringstream lines(_peer->stderrText());
            for (std::string line; std::getline(lines, line);)
                if (line.find(a) != std::string::npos && line.find(b) != std::string::npos)
                    return line;
            std::this_thread::sleep_for(50ms);
        }
        return "";
    }

    void startPeer() {
        _peer = std::make_unique<ChildProcess>(
            LANSPREADD_PATH,
            std::vector<std::string>{
                "--games", "games", "--state", "state", "--catalog", "catalog.json", "--listen",
                "127.0.0.1:0", "--name", "target", "--plugins",
                lanspread::test::withTransportUnderTest(
                    "org.lanspread.frontend.cli,org.lanspread.transport.quic")},
            _dir, _dir + "/stderr.log");
        auto ready = _peer->readUntil("local-peer-ready", 20s);
        CPPUNIT_ASSERT_MESSAGE(_peer->stderrText(), ready.has_value());
        auto event = parseJson(*ready);
        _daemonId = event->getValue<std::string>("peer_id");
        _listenAddr = event->getValue<std::string>("listen_addr");
        CPPUNIT_ASSERT_MESSAGE(_listenAddr, _listenAddr.rfind("127.0.0.1:", 0) == 0);
        // It listens with the transport under test and no other (so the raw client, which
        // loads the same plugin, cannot be talking to it over another).
        auto transports =
            command("{\"cmd\":\"status\"}")->getObject("data")->getArray("transports");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), transports->size());
        CPPUNIT_ASSERT_EQUAL(transportPluginUnderTest(),
                             transports->getObject(0)->getValue<std::string>("plugin"));
        // The served game is indexed and Ready (and installed: local/ exists).
        auto local = command("{\"cmd\":\"list-games\"}")->getObject("data")->getArray("local");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), local->size());
        CPPUNIT_ASSERT_EQUAL(std::string("Ready"),
                             local->getObject(0)->getValue<std::string>("availability"));
    }

    Poco::JSON::Object::Ptr command(const std::string &json) {
        return lanspread::test::commandResult(*_peer, "c" + std::to_string(++_nextId), json, 30s);
    }

    std::string _dir, _games, _root;
    std::string _eti, _pak;
    std::string _daemonId, _listenAddr;
    std::unique_ptr<ChildProcess> _peer;
    int _nextId = 0;
};

CPPUNIT_TEST_SUITE_REGISTRATION(HostilePeerTest);
