// PeerNetwork on the simulated network (support/sim_transport.hpp), in virtual time: the
// handshake and its refusals, one connection per peer, liveness, goodbye, re-dials, library
// deltas and requests served through the NetworkDelegate. Every peer is a real PeerNetwork;
// only the wire is simulated.
#include "support/sim_transport.hpp"

#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kernel/peers/network.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace lanspread::kernel;
using lanspread::Result;
using lanspread::Status;
using testing::kSimMs;
using testing::kSimSeconds;
using testing::runFor;
using testing::runUntil;
using testing::SimNetwork;

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1u << 20;

// Identities are slow enough to make once: five, in a directory removed at exit.
const std::vector<peers::Identity> &identities() {
    struct Store {
        fs::path dir;
        std::vector<peers::Identity> ids;
        Store() {
            char pattern[] = "/tmp/peer_network_test.XXXXXX";
            dir = ::mkdtemp(pattern);
            for (int i = 0; i < 5; ++i) {
                auto id = peers::Identity::loadOrCreate((dir / std::to_string(i)).string(),
                                                        "node" + std::to_string(i));
                if (!id.ok())
                    throw std::runtime_error(id.status().describe());
                ids.push_back(id.value());
            }
        }
        ~Store() {
            std::error_code ignored;
            fs::remove_all(dir, ignored);
        }
    };
    static Store store;
    return store.ids;
}

protocol::GameSummary game(const std::string &id, const std::string &version = "1.0") {
    protocol::GameSummary g;
    g.id = id;
    g.version = version;
    g.availability = "Ready";
    g.downloaded = true;
    g.sizeBytes = 3 * kMiB;
    return g;
}

// A game being downloaded: 10 chunks, those in `have` verified.
protocol::PartialGame partial(const std::string &id, const std::set<uint64_t> &have = {},
                              const std::string &digest = std::string(64, 'd')) {
    protocol::PartialGame p;
    p.id = id;
    p.version = "1.0";
    p.filesDigest = digest;
    p.chunkCount = 10;
    p.have.assign(10, false);
    for (const uint64_t chunk : have)
        p.have[chunk] = true;
    return p;
}

// The rest of a peer, as far as the network sees it: a library to advertise, the serving
// decisions, and a record of what the network told it.
struct TestDelegate : peers::NetworkDelegate {
    uint64_t revision = 1;
    std::vector<protocol::GameSummary> games;
    std::vector<protocol::PartialGame> partials;
    // Runs after each snapshot is taken (to change the library at a chosen moment).
    std::function<void()> afterSnapshot;
    std::string gameRoot;
    std::optional<peers::ServeRefusal> refusal;
    std::vector<std::string> lost;
    std::vector<std::string> libraryChanged;
    std::vector<std::pair<std::string, protocol::Have>> haves; // peer, Have

    void librarySnapshot(uint64_t &outRevision, std::vector<protocol::GameSummary> &outGames,
                         std::vector<protocol::PartialGame> &outPartials) override {
        outRevision = revision;
        outGames = games;
        outPartials = partials;
        if (afterSnapshot)
            afterSnapshot();
    }
    std::variant<protocol::GameFiles, peers::ServeRefusal>
    serveGetGame(const std::string &id) override {
        if (refusal)
            return *refusal;
        protocol::GameFiles files;
        files.game = id;
        files.version = "1.0";
        return files;
    }
    std::variant<peers::ServeRange, peers::ServeRefusal>
    serveGetChunk(const std::string &, const protocol::GetChunk &request,
                  std::string &root) override {
        if (refusal)
            return *refusal;
        root = gameRoot;
        return peers::ServeRange{request.path, request.offset, request.length};
    }
    void peerLost(const std::string &peerId) override { lost.push_back(peerId); }
    void peerLibraryChanged(const std::string &peerId) override {
        libraryChanged.push_back(peerId);
    }
    void peerHave(const std::string &peerId, const protocol::Have &have) override {
        haves.emplace_back(peerId, have);
    }
};

struct ConnectResult {
    bool done = false;
    bool ok = false;
    std::string text; // the peer_id, or the failure's message
    auto callback() {
        return [this](contract::Outcome<std::string> outcome) {
            done = true;
            ok = outcome.ok();
            text = ok ? outcome.value() : outcome.failure().message;
        };
    }
};

struct Node {
    std::string ip;
    peers::Identity identity;
    host::EventBus bus;
    TestDelegate delegate;
    std::unique_ptr<peers::PeerNetwork> net;
    struct Event {
        std::string topic;
        Poco::JSON::Object::Ptr body;
        uint64_t atNs;
    };
    std::vector<Event> events;

    Node(host::Reactor &reactor, host::WorkerPool &workers, std::string ip_,
         peers::Identity identity_)
        : ip(std::move(ip_)), identity(std::move(identity_)) {
        delegate.games = {game("g1")};
        bus.subscribe([this, &reactor](const std::string &topic, const std::string &line) {
            Poco::JSON::Parser parser;
            events.push_back(
                {topic, parser.parse(line).extract<Poco::JSON::Object::Ptr>(), reactor.now()});
        });
        net = std::make_unique<peers::PeerNetwork>(reactor, workers, bus, identity, "node-" + ip,
                                                   delegate);
    }
    // The listener as another host dials it (the bind address is a wildcard).
    std::string addr() const {
        const std::string listen = net->listenAddr();
        return ip + listen.substr(listen.rfind(':'));
    }
    std::size_t count(const std::string &topic) const {
        std::size_t n = 0;
        for (const auto &e : events)
            n += e.topic == topic;
        return n;
    }
    const Event *last(const std::string &topic) const {
        for (auto it = events.rbegin(); it != events.rend(); ++it)
            if (it->topic == topic)
                return &*it;
        return nullptr;
    }
    // The chunks other's partial game id has verified, as this node's PeerDb knows them.
    std::set<uint64_t> chunksOf(const Node &other, const std::string &id) const {
        std::set<uint64_t> chunks;
        if (const protocol::PartialGame *p = net->peers().partial(other.identity.peerId, id))
            for (std::size_t i = 0; i < p->have.size(); ++i)
                if (p->have[i])
                    chunks.insert(i);
        return chunks;
    }
    bool knows(const Node &other) const { return net->peers().find(other.identity.peerId); }
    std::set<std::string> gamesOf(const Node &other) const {
        std::set<std::string> ids;
        if (const peers::PeerRecord *r = net->peers().find(other.identity.peerId))
            for (const auto &[id, g] : r->games)
                ids.insert(id);
        return ids;
    }
};

// Several peers on one simulated network and one virtual-time reactor. With two transports,
// every peer is a host on two networks: `sim` carries the preferred transport ("quic"),
// `second` the fallback ("tls"), and each fails on its own.
struct Lan {
    host::Reactor reactor{host::Reactor::Clock::Virtual};
    host::WorkerPool workers{2};
    SimNetwork sim;
    std::unique_ptr<SimNetwork> second;
    std::vector<std::unique_ptr<Node>> nodes; // destroyed before the networks they use

    explicit Lan(testing::SimLink links = {}, uint64_t seed = 1) : sim(reactor, links, seed) {
        testing::holdTimeForWorkers(reactor, workers);
    }
    // Peers added from now on listen with two transports.
    void addSecondTransport(testing::SimLink links = {}, uint64_t seed = 2) {
        second = std::make_unique<SimNetwork>(reactor, links, seed);
    }

    Node &add(const std::string &ip, std::size_t identityIndex) {
        return add(ip, identities().at(identityIndex));
    }
    Node &add(const std::string &ip, const peers::Identity &identity) {
        nodes.push_back(std::make_unique<Node>(reactor, workers, ip, identity));
        Node &node = *nodes.back();
        std::vector<peers::TransportRef> transports = {sim.transport(ip)};
        if (second)
            transports = {sim.transport(ip, "test.transport.quic"),
                          second->transport(ip, "test.transport.tls")};
        const Status started = node.net->start(transports, "0.0.0.0:0");
        CPPUNIT_ASSERT_MESSAGE(started.message(), started.succeeded());
        return node;
    }

    // a dials b and both finish the handshake.
    void connect(Node &a, Node &b) {
        ConnectResult result;
        a.net->connect(b.addr(), "connect", result.callback());
        CPPUNIT_ASSERT(runUntil(reactor, [&] { return result.done && b.knows(a); }));
        CPPUNIT_ASSERT_MESSAGE(result.text, result.ok);
    }
};

std::string fileBytes(std::size_t size) {
    std::string bytes(size, '\0');
    uint32_t x = 2463534242u;
    for (auto &c : bytes) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return bytes;
}

// A game root with data/big.bin, removed with it.
struct GameRoot {
    fs::path dir;
    std::string content;
    explicit GameRoot(std::size_t size) : content(fileBytes(size)) {
        char pattern[] = "/tmp/peer_network_root.XXXXXX";
        dir = ::mkdtemp(pattern);
        fs::create_directories(dir / "data");
        std::ofstream(dir / "data" / "big.bin", std::ios::binary) << content;
    }
    ~GameRoot() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

// One chunk request, releasing bytes as they arrive (as the download engine does).
struct ChunkFetch {
    peers::PeerNetwork::RequestId id = 0;
    std::string bytes;
    bool ended = false;
    std::optional<Status> status;
    uint64_t endedAtNs = 0;

    void start(host::Reactor &reactor, peers::PeerNetwork &net, const std::string &peerId,
               const protocol::GetChunk &request, std::function<void()> onFirstData = {}) {
        peers::PeerNetwork::ChunkHandler handler;
        handler.onData = [this, &net, onFirstData](std::span<const uint8_t> piece) {
            if (bytes.empty() && onFirstData)
                onFirstData();
            bytes.append(reinterpret_cast<const char *>(piece.data()), piece.size());
            net.releaseChunkBytes(id, piece.size());
        };
        handler.onEnd = [this, &reactor](const Status &s) {
            ended = true;
            status = s;
            endedAtNs = reactor.now();
        };
        id = net.requestChunk(peerId, request, std::move(handler));
    }
};

} // namespace

class PeerNetworkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PeerNetworkTest);
    CPPUNIT_TEST(testHandshakeConnectsBothSides);
    CPPUNIT_TEST(testPinnedIdentityMismatchIsRefused);
    CPPUNIT_TEST(testHelloClaimingAnotherKeyIsRefused);
    CPPUNIT_TEST(testSelfConnectIsRefused);
    CPPUNIT_TEST(testUnreachableAddressesFailToConnect);
    CPPUNIT_TEST(testSimultaneousDialKeepsOneConnection);
    CPPUNIT_TEST(testTwoTransportsListenOnOnePort);
    CPPUNIT_TEST(testDialPrefersTheFirstTransport);
    CPPUNIT_TEST(testDialFallsBackToTheSecondTransport);
    CPPUNIT_TEST(testDialTriesOnlyTheAnnouncedTransports);
    CPPUNIT_TEST(testRacingTransportsKeepOneConnection);
    CPPUNIT_TEST(testQuietPeersStayConnected);
    CPPUNIT_TEST(testSilentPeerTimesOut);
    CPPUNIT_TEST(testGoodbyeIsALossWithoutRedial);
    CPPUNIT_TEST(testPartitionedPeerIsRedialledAfterHeal);
    CPPUNIT_TEST(testBrokenConnectionIsLostAndRedialled);
    CPPUNIT_TEST(testLibraryDeltaReachesPeer);
    CPPUNIT_TEST(testLibraryChangeDuringHandshakeIsCaughtUp);
    CPPUNIT_TEST(testHaveReachesPeerDelegateAndDb);
    CPPUNIT_TEST(testHaveForUnknownPartialKeepsTheSession);
    CPPUNIT_TEST(testPartialChangeDuringHandshakeIsCaughtUp);
    CPPUNIT_TEST(testGetChunkServedThroughDelegate);
    CPPUNIT_TEST(testRefusalsReachTheRequester);
    CPPUNIT_TEST(testRequestsPerPeerAreCapped);
    CPPUNIT_TEST(testConnectionsPerAddressAreCapped);
    CPPUNIT_TEST(testUploadLimitPacesServing);
    CPPUNIT_TEST(testRequestFailsWhenConnectionBreaks);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testHandshakeConnectsBothSides() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        b.delegate.games = {game("g1"), game("g2", "2.0")};
        ConnectResult result;
        a.net->connect(b.addr(), "connect", result.callback());
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return result.done && b.knows(a); }));
        CPPUNIT_ASSERT_MESSAGE(result.text, result.ok);
        CPPUNIT_ASSERT_EQUAL(b.identity.peerId, result.text);

        // Each side keeps the other's listener, the wildcard host replaced by the address
        // the connection came from, and its library as the Hello carried it.
        CPPUNIT_ASSERT_EQUAL(b.addr(), a.net->peerAddr(b.identity.peerId));
        CPPUNIT_ASSERT_EQUAL(a.addr(), b.net->peerAddr(a.identity.peerId));
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g1", "g2"}));
        CPPUNIT_ASSERT((b.gamesOf(a) == std::set<std::string>{"g1"}));
        CPPUNIT_ASSERT_EQUAL(std::string("node-10.0.0.2"),
                             a.net->peers().find(b.identity.peerId)->name);

        // The dialler announces the peer it found by connecting, then both the connection.
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), a.count("peer-discovered"));
        CPPUNIT_ASSERT_EQUAL(std::string("connect"),
                             a.last("peer-discovered")->body->getValue<std::string>("via"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), a.count("peer-connected"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), b.count("peer-connected"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.count("peer-discovered"));
        const auto connected = a.last("peer-connected")->body;
        CPPUNIT_ASSERT_EQUAL(b.identity.peerId, connected->getValue<std::string>("peer_id"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), connected->getArray("games")->size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(b.ip));
        CPPUNIT_ASSERT((b.delegate.libraryChanged == std::vector<std::string>{a.identity.peerId}));
    }

    void testPinnedIdentityMismatchIsRefused() {
        // Discovery announced peer C at B's address: the dialler refuses B's key.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        const std::string announced = identities().at(2).peerId;
        ConnectResult result;
        a.net->connect(b.addr(), "mdns", result.callback(), announced);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return result.done; }));
        CPPUNIT_ASSERT(!result.ok);
        CPPUNIT_ASSERT_EQUAL(std::string("connect-failed: identity-mismatch: " + b.addr() +
                                         " was announced as peer " + announced + " but is " +
                                         b.identity.peerId),
                             result.text);
        runFor(lan.reactor, 2 * kSimSeconds);
        CPPUNIT_ASSERT(!a.knows(b));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), a.count("peer-connected"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.openConnections(a.ip));
    }

    void testHelloClaimingAnotherKeyIsRefused() {
        // A peer whose Hello names peer C while its certificate is its own key.
        Lan lan;
        Node &b = lan.add("10.0.0.2", 1);
        peers::Identity forged = identities().at(3);
        forged.peerId = identities().at(2).peerId;
        Node &m = lan.add("10.0.0.4", forged);
        ConnectResult result;
        m.net->connect(b.addr(), "connect", result.callback());
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return result.done; }));
        CPPUNIT_ASSERT(!result.ok);
        CPPUNIT_ASSERT_MESSAGE(result.text,
                               result.text.rfind("connect-failed: identity-mismatch: the peer "
                                                 "refused: Hello claims peer " +
                                                     forged.peerId,
                                                 0) == 0);
        runFor(lan.reactor, 2 * kSimSeconds);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.net->peers().size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.count("peer-connected"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.openConnections(b.ip));
    }

    void testSelfConnectIsRefused() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        const std::string loopback = "127.0.0.1" + a.addr().substr(a.addr().rfind(':'));
        CPPUNIT_ASSERT(a.net->isOwnAddress(loopback));
        CPPUNIT_ASSERT(!a.net->isOwnAddress("10.0.0.2" + a.addr().substr(a.addr().rfind(':'))));
        ConnectResult result;
        a.net->connect(loopback, "connect", result.callback());
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return result.done; }));
        CPPUNIT_ASSERT(!result.ok);
        CPPUNIT_ASSERT_MESSAGE(result.text, result.text.rfind("self-connect: ", 0) == 0);
        runFor(lan.reactor, 2 * kSimSeconds);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), a.net->peers().size());
        CPPUNIT_ASSERT(a.events.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.openConnections(a.ip));
    }

    void testUnreachableAddressesFailToConnect() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        lan.add("10.0.0.2", 1);
        // A host without that listener refuses at once; no host at all means silence until
        // the handshake timeout.
        ConnectResult refused, silent;
        a.net->connect("10.0.0.2:1", "connect", refused.callback());
        a.net->connect("10.0.0.9:40000", "connect", silent.callback());
        const uint64_t start = lan.reactor.now();
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return refused.done; }));
        CPPUNIT_ASSERT(!refused.ok);
        CPPUNIT_ASSERT_MESSAGE(
            refused.text,
            refused.text.rfind("connect-failed: 10.0.0.2:1: connection refused", 0) == 0);
        CPPUNIT_ASSERT(lan.reactor.now() - start < 10 * kSimMs);
        CPPUNIT_ASSERT(!silent.done);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return silent.done; }));
        CPPUNIT_ASSERT(!silent.ok);
        CPPUNIT_ASSERT_MESSAGE(silent.text, silent.text.rfind("connect-failed: ", 0) == 0 &&
                                                silent.text.find("no handshake within 10 s") !=
                                                    std::string::npos);
        CPPUNIT_ASSERT_EQUAL(start + 10 * kSimSeconds, lan.reactor.now());
        CPPUNIT_ASSERT(!a.net->dialing("10.0.0.9:40000"));
    }

    void testSimultaneousDialKeepsOneConnection() {
        // Both dial in the same instant: both handshakes complete, both sides keep the same
        // one of the two connections, and dropping the other is not a loss. Each connection
        // gets its own delay (up to 5 round trips), so across the seeds either side may see
        // the other's close of the duplicate before its own handshake on the kept one ends.
        testing::SimLink links;
        links.connectionJitterNs = 2 * kSimMs;
        for (uint64_t seed = 1; seed <= 40; ++seed) {
            Lan lan(links, seed);
            Node &a = lan.add("10.0.0.1", 0);
            Node &b = lan.add("10.0.0.2", 1);
            ConnectResult ab, ba;
            a.net->connect(b.addr(), "connect", ab.callback());
            b.net->connect(a.addr(), "connect", ba.callback());
            CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return ab.done && ba.done; }));
            const std::string where = "seed " + std::to_string(seed);
            CPPUNIT_ASSERT_MESSAGE(where + ": " + ab.text, ab.ok);
            CPPUNIT_ASSERT_MESSAGE(where + ": " + ba.text, ba.ok);
            CPPUNIT_ASSERT(runFor(lan.reactor, 30 * kSimSeconds));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), lan.sim.openConnections(a.ip));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), lan.sim.openConnections(b.ip));
            for (Node *n : {&a, &b}) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(0), n->count("peer-lost"));
                CPPUNIT_ASSERT_MESSAGE(where, n->delegate.lost.empty());
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), n->count("peer-connected"));
            }
            CPPUNIT_ASSERT_MESSAGE(where, a.knows(b) && b.knows(a));
            // The survivor carries requests.
            bool answered = false;
            a.net->requestGameFiles(b.identity.peerId, "g1", [&](Result<protocol::GameFiles> r) {
                answered = r.ok() && r.value().game == "g1";
            });
            CPPUNIT_ASSERT_MESSAGE(where, runUntil(
                                              lan.reactor, [&] { return answered; }, kSimSeconds));
        }
    }

    // The transport list-peers shows for `other` at `node` ("" when not connected).
    static std::string transportOf(const Node &node, const Node &other) {
        for (const auto &view : node.net->peers().peerViews())
            if (view.peerId == other.identity.peerId)
                return view.transport;
        return {};
    }

    void testTwoTransportsListenOnOnePort() {
        Lan lan;
        lan.addSecondTransport();
        Node &a = lan.add("10.0.0.1", 0);
        const std::vector<peers::ListenerInfo> listeners = a.net->listeners();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), listeners.size());
        CPPUNIT_ASSERT_EQUAL(std::string("quic"), listeners[0].transport);
        CPPUNIT_ASSERT_EQUAL(std::string("test.transport.quic"), listeners[0].pluginId);
        CPPUNIT_ASSERT_EQUAL(std::string("tls"), listeners[1].transport);
        CPPUNIT_ASSERT_EQUAL(listeners[0].addr, listeners[1].addr);
        CPPUNIT_ASSERT_EQUAL(listeners[0].addr, a.net->listenAddr());
        CPPUNIT_ASSERT(a.net->listenFailures().empty());
    }

    void testDialPrefersTheFirstTransport() {
        // Both transports work: the first one answers, well before the fallback time, and
        // the second is never dialled.
        Lan lan;
        lan.addSecondTransport();
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        const uint64_t began = lan.reactor.now();
        lan.connect(a, b);
        CPPUNIT_ASSERT(a.last("peer-connected")->atNs - began < 100 * kSimMs);
        CPPUNIT_ASSERT(runFor(lan.reactor, 30 * kSimSeconds));
        CPPUNIT_ASSERT_EQUAL(std::string("quic"), transportOf(a, b));
        CPPUNIT_ASSERT_EQUAL(std::string("quic"), transportOf(b, a));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.second->dials(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(a.ip));
        // Each side learnt where the other listens with either transport (Hello listeners).
        const peers::PeerRecord *rb = a.net->peers().find(b.identity.peerId);
        CPPUNIT_ASSERT(rb != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), rb->addrs.size());
        CPPUNIT_ASSERT_EQUAL(b.addr(), rb->addrs.at("tls"));
    }

    void testDialFallsBackToTheSecondTransport() {
        // UDP is dropped between the two hosts (a firewall): the QUIC attempt meets silence
        // and, once the configured fallback time has passed without a connection, the dial
        // tries TLS as well, which connects. Both sides show the TLS connection, and the
        // abandoned QUIC attempt ends without a peer-lost.
        for (const uint64_t fallbackMs : {1500ull, 4000ull}) {
            const std::string where = std::to_string(fallbackMs) + " ms";
            Lan lan;
            lan.addSecondTransport();
            Node &a = lan.add("10.0.0.1", 0);
            Node &b = lan.add("10.0.0.2", 1);
            a.net->setTransportFallback(fallbackMs * kSimMs);
            lan.sim.setPartitioned(a.ip, b.ip, true);
            const uint64_t began = lan.reactor.now();
            lan.connect(a, b);
            const uint64_t took = a.last("peer-connected")->atNs - began;
            CPPUNIT_ASSERT_MESSAGE(where + ": " + std::to_string(took),
                                   took >= fallbackMs * kSimMs);
            CPPUNIT_ASSERT_MESSAGE(where + ": " + std::to_string(took),
                                   took < fallbackMs * kSimMs + 50 * kSimMs);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("tls"), transportOf(a, b));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("tls"), transportOf(b, a));
            CPPUNIT_ASSERT(runFor(lan.reactor, 30 * kSimSeconds));
            for (Node *n : {&a, &b}) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(0), n->count("peer-lost"));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), n->count("peer-connected"));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1),
                                             lan.second->openConnections(n->ip));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(0), lan.sim.openConnections(n->ip));
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("tls"), transportOf(a, b));
            bool answered = false;
            a.net->requestGameFiles(b.identity.peerId, "g1", [&](Result<protocol::GameFiles> r) {
                answered = r.ok() && r.value().game == "g1";
            });
            CPPUNIT_ASSERT_MESSAGE(where, runUntil(
                                              lan.reactor, [&] { return answered; }, kSimSeconds));
        }
    }

    void testDialTriesOnlyTheAnnouncedTransports() {
        // The mDNS record says b listens with tls only (on its own port): the dial goes
        // straight to TLS at that address, without waiting out a QUIC attempt first.
        Lan lan;
        lan.addSecondTransport();
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        const uint64_t began = lan.reactor.now();
        ConnectResult result;
        a.net->connect("10.0.0.2:9", "mdns", result.callback(), b.identity.peerId,
                       {{"tls", b.addr()}});
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return result.done && b.knows(a); }));
        CPPUNIT_ASSERT_MESSAGE(result.text, result.ok);
        CPPUNIT_ASSERT(a.last("peer-connected")->atNs - began < 100 * kSimMs);
        CPPUNIT_ASSERT_EQUAL(std::string("tls"), transportOf(a, b));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.dials(a.ip));

        // A peer that announces only transports this one does not run: refused at once,
        // naming them.
        ConnectResult none;
        a.net->connect("10.0.0.3:9", "mdns", none.callback(), {},
                       {{"carrier-pigeon", "10.0.0.3:9"}});
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return none.done; }, kSimSeconds));
        CPPUNIT_ASSERT(!none.ok);
        CPPUNIT_ASSERT_MESSAGE(none.text, none.text.find("carrier-pigeon") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.dials(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.second->dials(a.ip));
    }

    void testRacingTransportsKeepOneConnection() {
        // No fallback delay and both peers dialling at once: four connections race, over two
        // transports, in an order the seeds vary. Each side keeps the same single one: over
        // the first transport (QUIC), and the others close without a peer-lost.
        testing::SimLink links;
        links.connectionJitterNs = 2 * kSimMs;
        for (uint64_t seed = 1; seed <= 20; ++seed) {
            const std::string where = "seed " + std::to_string(seed);
            Lan lan(links, seed);
            lan.addSecondTransport(links, seed + 100);
            Node &a = lan.add("10.0.0.1", 0);
            Node &b = lan.add("10.0.0.2", 1);
            a.net->setTransportFallback(0);
            b.net->setTransportFallback(0);
            ConnectResult ab, ba;
            a.net->connect(b.addr(), "connect", ab.callback());
            b.net->connect(a.addr(), "connect", ba.callback());
            CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return ab.done && ba.done; }));
            CPPUNIT_ASSERT_MESSAGE(where + ": " + ab.text, ab.ok);
            CPPUNIT_ASSERT_MESSAGE(where + ": " + ba.text, ba.ok);
            CPPUNIT_ASSERT(runFor(lan.reactor, 30 * kSimSeconds));
            for (Node *n : {&a, &b}) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), lan.sim.openConnections(n->ip));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(0),
                                             lan.second->openConnections(n->ip));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(0), n->count("peer-lost"));
                CPPUNIT_ASSERT_MESSAGE(where, n->delegate.lost.empty());
                CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::size_t(1), n->count("peer-connected"));
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("quic"), transportOf(a, b));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("quic"), transportOf(b, a));
            bool answered = false;
            a.net->requestGameFiles(b.identity.peerId, "g1", [&](Result<protocol::GameFiles> r) {
                answered = r.ok() && r.value().game == "g1";
            });
            CPPUNIT_ASSERT_MESSAGE(where, runUntil(
                                              lan.reactor, [&] { return answered; }, kSimSeconds));
        }
    }

    void testQuietPeersStayConnected() {
        // Two minutes without a request: pings keep the session alive on both sides.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        CPPUNIT_ASSERT(runFor(lan.reactor, 120 * kSimSeconds));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), a.count("peer-lost") + b.count("peer-lost"));
        CPPUNIT_ASSERT(a.knows(b) && b.knows(a));
        CPPUNIT_ASSERT(lan.sim.traffic(a.ip, b.ip).segments > 20); // pings and pongs
    }

    void testSilentPeerTimesOut() {
        // B crashes (kill -9): A hears nothing more and drops it after the peer timeout.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        runFor(lan.reactor, 1 * kSimSeconds);
        lan.sim.crash(b.ip);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.count("peer-lost") > 0; }));
        const auto *lost = a.last("peer-lost");
        CPPUNIT_ASSERT_EQUAL(b.identity.peerId, lost->body->getValue<std::string>("peer_id"));
        CPPUNIT_ASSERT_EQUAL(b.addr(), lost->body->getValue<std::string>("addr"));
        CPPUNIT_ASSERT_EQUAL(std::string("timeout: silent for 10000 ms"),
                             lost->body->getValue<std::string>("reason"));
        // Silent for longer than the timeout since B's last word, and noticed by the next
        // liveness check (every 1.25 s).
        const uint64_t silentFor = lost->atNs - lan.sim.traffic(b.ip, a.ip).lastDataAtNs;
        CPPUNIT_ASSERT_MESSAGE(std::to_string(silentFor), silentFor > 10 * kSimSeconds);
        CPPUNIT_ASSERT_MESSAGE(std::to_string(silentFor), silentFor <= 11300 * kSimMs);
        CPPUNIT_ASSERT((a.delegate.lost == std::vector<std::string>{b.identity.peerId}));
        CPPUNIT_ASSERT(!a.knows(b));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), lan.sim.openConnections(a.ip));
        // A lost peer is dialled again (it may come back at the same address): every 5 s
        // unless a dial is still waiting out its 10 s handshake timeout.
        const std::size_t dials = lan.sim.dials(a.ip);
        runFor(lan.reactor, 30 * kSimSeconds);
        CPPUNIT_ASSERT(lan.sim.dials(a.ip) >= dials + 2);
    }

    void testGoodbyeIsALossWithoutRedial() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        const uint64_t stoppedAt = lan.reactor.now();
        b.net->stop();
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.count("peer-lost") > 0; }));
        CPPUNIT_ASSERT_EQUAL(std::string("goodbye"),
                             a.last("peer-lost")->body->getValue<std::string>("reason"));
        CPPUNIT_ASSERT(a.last("peer-lost")->atNs - stoppedAt < 10 * kSimMs);
        CPPUNIT_ASSERT((a.delegate.lost == std::vector<std::string>{b.identity.peerId}));
        // B's own shutdown is not a loss on B's side.
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.count("peer-lost"));
        const std::size_t dials = lan.sim.dials(a.ip);
        CPPUNIT_ASSERT(runFor(lan.reactor, 60 * kSimSeconds));
        CPPUNIT_ASSERT_EQUAL(dials, lan.sim.dials(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), a.count("peer-lost"));
    }

    void testPartitionedPeerIsRedialledAfterHeal() {
        // A partition outlasts the peer timeout: both sides lose each other; once it heals,
        // the re-dial brings them back together over one connection.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        lan.sim.setPartitioned(a.ip, b.ip, true);
        CPPUNIT_ASSERT(
            runUntil(lan.reactor, [&] { return a.count("peer-lost") && b.count("peer-lost"); }));
        for (Node *n : {&a, &b})
            CPPUNIT_ASSERT_EQUAL(std::string("timeout: silent for 10000 ms"),
                                 n->last("peer-lost")->body->getValue<std::string>("reason"));
        runFor(lan.reactor, 20 * kSimSeconds);
        CPPUNIT_ASSERT(!a.knows(b) && !b.knows(a));
        const uint64_t healedAt = lan.reactor.now();
        lan.sim.setPartitioned(a.ip, b.ip, false);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.knows(b) && b.knows(a); }));
        CPPUNIT_ASSERT(lan.reactor.now() - healedAt <= 16 * kSimSeconds); // a few re-dials
        CPPUNIT_ASSERT(runFor(lan.reactor, 30 * kSimSeconds));
        CPPUNIT_ASSERT(a.knows(b) && b.knows(a));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(b.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), a.count("peer-lost"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), b.count("peer-lost"));
    }

    void testBrokenConnectionIsLostAndRedialled() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        lan.sim.breakConnections(a.ip, b.ip, "connection reset by the test");
        CPPUNIT_ASSERT(
            runUntil(lan.reactor, [&] { return a.count("peer-lost") && b.count("peer-lost"); }));
        CPPUNIT_ASSERT_EQUAL(std::string("connection reset by the test"),
                             a.last("peer-lost")->body->getValue<std::string>("reason"));
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return a.knows(b) && b.knows(a); }, 10 * kSimSeconds));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), a.count("peer-connected"));
    }

    void testLibraryDeltaReachesPeer() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        const std::size_t changes = a.delegate.libraryChanged.size();

        protocol::LibraryDelta added;
        added.revision = 2;
        added.upserts = {game("g2")};
        b.net->broadcastDelta(added);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.count("peer-updated") == 1; }));
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g1", "g2"}));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2),
                             a.last("peer-updated")->body->getArray("games")->size());
        CPPUNIT_ASSERT_EQUAL(changes + 1, a.delegate.libraryChanged.size());
        CPPUNIT_ASSERT_EQUAL(b.identity.peerId, a.delegate.libraryChanged.back());

        protocol::LibraryDelta removed;
        removed.revision = 3;
        removed.removed = {"g1"};
        b.net->broadcastDelta(removed);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.count("peer-updated") == 2; }));
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g2"}));
        CPPUNIT_ASSERT_EQUAL(3ull, static_cast<unsigned long long>(
                                       a.net->peers().find(b.identity.peerId)->libraryRevision));
        // The dialler's own library did not change on B's side.
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.count("peer-updated"));
    }

    void testLibraryChangeDuringHandshakeIsCaughtUp() {
        // B's library changes right after its HelloAck was built (a scan finishing): no
        // broadcast reached A yet, so the handshake sends A the difference.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        b.delegate.games = {game("g1"), game("old")};
        b.delegate.afterSnapshot = [&b] {
            b.delegate.afterSnapshot = nullptr;
            b.delegate.revision = 2;
            b.delegate.games = {game("g1"), game("g3")};
        };
        lan.connect(a, b);
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return a.count("peer-updated") > 0; }, 5 * kSimSeconds));
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g1", "g3"}));
    }

    void testHaveReachesPeerDelegateAndDb() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        Node &c = lan.add("10.0.0.3", 2);
        b.delegate.partials = {partial("g2", {0, 9})};
        lan.connect(a, b);
        lan.connect(c, b);
        // The Hello carried B's partial game, bitmap included.
        CPPUNIT_ASSERT((a.chunksOf(b, "g2") == std::set<uint64_t>{0, 9}));

        const protocol::Have have{"g2", std::string(64, 'd'), {3, 4}};
        b.net->broadcastHave(have);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] {
            return a.delegate.haves.size() == 1 && c.delegate.haves.size() == 1;
        }));
        for (Node *n : {&a, &c}) {
            CPPUNIT_ASSERT_EQUAL(b.identity.peerId, n->delegate.haves[0].first);
            CPPUNIT_ASSERT(n->delegate.haves[0].second == have);
            CPPUNIT_ASSERT((n->chunksOf(b, "g2") == std::set<uint64_t>{0, 3, 4, 9}));
        }
        const auto views = a.net->peers().peerViews();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), views.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), views[0].partials.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(4), views[0].partials[0].chunksHave);
        CPPUNIT_ASSERT_EQUAL(uint64_t(10), views[0].partials[0].chunkCount);
        // A's own (empty) partials went the other way: B knows none.
        CPPUNIT_ASSERT(b.net->peers().find(a.identity.peerId)->partials.empty());
        CPPUNIT_ASSERT(b.delegate.haves.empty());
    }

    void testHaveForUnknownPartialKeepsTheSession() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        b.delegate.partials = {partial("g2", {0})};
        lan.connect(a, b);
        // Another game, another file list, a chunk past the end: each crossed a delta that A
        // has not seen, or never matched; none is applied, none breaks the connection.
        b.net->broadcastHave(protocol::Have{"g9", std::string(64, 'd'), {1}});
        b.net->broadcastHave(protocol::Have{"g2", std::string(64, 'e'), {1}});
        b.net->broadcastHave(protocol::Have{"g2", std::string(64, 'd'), {1, 10}});
        protocol::LibraryDelta ended;
        ended.revision = 2;
        ended.partialRemoved = {"g2"};
        b.net->broadcastDelta(ended);
        b.net->broadcastHave(protocol::Have{"g2", std::string(64, 'd'), {2}});
        protocol::LibraryDelta added;
        added.revision = 3;
        added.upserts = {game("g3")};
        b.net->broadcastDelta(added);
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return a.count("peer-updated") == 2; }));
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g1", "g3"}));
        CPPUNIT_ASSERT(a.net->peers().partial(b.identity.peerId, "g2") == nullptr);
        CPPUNIT_ASSERT(a.delegate.haves.empty());
        runFor(lan.reactor, 2 * kSimSeconds);
        CPPUNIT_ASSERT(a.delegate.lost.empty() && b.delegate.lost.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lan.sim.openConnections(a.ip));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), a.count("peer-lost"));
    }

    void testPartialChangeDuringHandshakeIsCaughtUp() {
        // B verifies a chunk and finishes one download right after its HelloAck was built:
        // no Have or delta reached A (not Ready yet), so the handshake sends the partials.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        b.delegate.partials = {partial("g2", {0}), partial("old", {1})};
        b.delegate.afterSnapshot = [&b] {
            b.delegate.afterSnapshot = nullptr;
            b.delegate.partials = {partial("g2", {0, 5})}; // the library revision stays
        };
        lan.connect(a, b);
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return a.count("peer-updated") > 0; }, 5 * kSimSeconds));
        CPPUNIT_ASSERT((a.chunksOf(b, "g2") == std::set<uint64_t>{0, 5}));
        CPPUNIT_ASSERT(a.net->peers().partial(b.identity.peerId, "old") == nullptr);
        CPPUNIT_ASSERT((a.gamesOf(b) == std::set<std::string>{"g1"}));
        // Nothing changed on A's side: B gets no catch-up.
        runFor(lan.reactor, 1 * kSimSeconds);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), b.count("peer-updated"));
    }

    void testGetChunkServedThroughDelegate() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        GameRoot root(3 * kMiB + 123);
        b.delegate.gameRoot = root.dir.string();
        lan.connect(a, b);

        // One whole chunk (a request's limit), not aligned to the file's chunks.
        protocol::GetChunk request{"g1", "data/big.bin", 100, kMiB};
        ChunkFetch fetch;
        int servingWhileData = -1;
        fetch.start(lan.reactor, *a.net, b.identity.peerId, request, [&] {
            auto it = b.net->outboundTransfers().find("g1");
            servingWhileData = it == b.net->outboundTransfers().end() ? 0 : it->second;
        });
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return fetch.ended; }));
        CPPUNIT_ASSERT_MESSAGE(fetch.status->message(), fetch.status->succeeded());
        CPPUNIT_ASSERT(fetch.bytes == root.content.substr(100, kMiB));
        CPPUNIT_ASSERT_EQUAL(1, servingWhileData);
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return b.net->outboundTransfers().empty(); }, 1 * kSimSeconds));
        CPPUNIT_ASSERT(lan.sim.traffic(b.ip, a.ip).streamBytes >= kMiB);
        a.net->forgetRequest(fetch.id);

        // The file list comes from the delegate as well.
        std::optional<protocol::GameFiles> files;
        a.net->requestGameFiles(b.identity.peerId, "g1", [&](Result<protocol::GameFiles> r) {
            if (r.ok())
                files = r.value();
        });
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return files.has_value(); }, kSimSeconds));
        CPPUNIT_ASSERT_EQUAL(std::string("g1"), files->game);
    }

    // max_requests_per_peer: with a cap of 2, a third request opened while two are served is
    // answered with too-many-requests at once (not left waiting); once they are done, a new
    // request is served again.
    void testRequestsPerPeerAreCapped() {
        testing::SimLink links;
        links.bytesPerSecond = 100e6; // a chunk takes ~10 ms: the first two are still served
        Lan lan(links);
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        GameRoot root(3 * kMiB);
        b.delegate.gameRoot = root.dir.string();
        b.net->setMaxRequestsPerPeer(2);
        lan.connect(a, b);
        ChunkFetch f1, f2, f3;
        f1.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", 0, kMiB});
        f2.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", kMiB, kMiB});
        f3.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", 2 * kMiB, kMiB});
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return f1.ended && f2.ended && f3.ended; }));
        CPPUNIT_ASSERT_MESSAGE(f1.status->message(), f1.status->succeeded());
        CPPUNIT_ASSERT_MESSAGE(f2.status->message(), f2.status->succeeded());
        CPPUNIT_ASSERT(!f3.status->succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("too-many-requests: 2 requests are open on this "
                                         "connection"),
                             f3.status->message());
        // Refused at once: before the first two had their bytes.
        CPPUNIT_ASSERT(f3.endedAtNs < f1.endedAtNs && f3.endedAtNs < f2.endedAtNs);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), b.net->refusals().requestsPerPeer);
        for (auto *f : {&f1, &f2, &f3})
            a.net->forgetRequest(f->id);
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return b.net->outboundTransfers().empty(); }, kSimSeconds));
        ChunkFetch again;
        again.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", 2 * kMiB, kMiB});
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return again.ended; }));
        CPPUNIT_ASSERT_MESSAGE(again.status->message(), again.status->succeeded());
        CPPUNIT_ASSERT(again.bytes == root.content.substr(2 * kMiB, kMiB));
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), b.net->refusals().requestsPerPeer);
        // The connection carried on.
        CPPUNIT_ASSERT(a.knows(b) && b.knows(a));
    }

    // max_connections_per_address: with a cap of 2, a third peer dialling from the same
    // address is closed as soon as its transport connects, and its connect fails naming the
    // refusal; a peer on another address still gets in.
    void testConnectionsPerAddressAreCapped() {
        Lan lan;
        Node &b = lan.add("10.0.0.2", 0);
        b.net->setMaxConnectionsPerAddress(2);
        Node &c1 = lan.add("10.0.0.3", 1);
        Node &c2 = lan.add("10.0.0.3", 2);
        Node &c3 = lan.add("10.0.0.3", 3);
        Node &d = lan.add("10.0.0.4", 4);
        lan.connect(c1, b);
        lan.connect(c2, b);
        ConnectResult third;
        c3.net->connect(b.addr(), "connect", third.callback());
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return third.done; }));
        CPPUNIT_ASSERT(!third.ok);
        CPPUNIT_ASSERT_MESSAGE(third.text,
                               third.text.find("too-many-connections") != std::string::npos);
        CPPUNIT_ASSERT(!b.knows(c3));
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), b.net->refusals().connectionsPerAddress);
        lan.connect(d, b);
        CPPUNIT_ASSERT(b.knows(c1) && b.knows(c2) && b.knows(d));
        // c1 leaves: there is room for c3 again.
        c1.net->stop();
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return !b.knows(c1); }));
        lan.connect(c3, b);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), b.net->refusals().connectionsPerAddress);
    }

    void testRefusalsReachTheRequester() {
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.connect(a, b);
        b.delegate.refusal = peers::ServeRefusal{"not-serving", "g1 is being installed"};
        ChunkFetch fetch;
        fetch.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", 0, 1000});
        std::optional<Status> filesStatus;
        a.net->requestGameFiles(b.identity.peerId, "g1",
                                [&](Result<protocol::GameFiles> r) { filesStatus = r.status(); });
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return fetch.ended && filesStatus; }));
        CPPUNIT_ASSERT(!fetch.status->succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("not-serving: g1 is being installed"),
                             fetch.status->message());
        CPPUNIT_ASSERT(fetch.bytes.empty());
        CPPUNIT_ASSERT(!filesStatus->succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("not-serving: g1 is being installed"),
                             filesStatus->message());
        // A refusal ends the request, not the session.
        runFor(lan.reactor, 1 * kSimSeconds);
        CPPUNIT_ASSERT(a.knows(b));
        CPPUNIT_ASSERT(b.net->outboundTransfers().empty());
    }

    void testUploadLimitPacesServing() {
        // 1 MiB/s with a 1 MiB burst: 3 MiB (three chunks at once) take two seconds (the
        // link itself is fast).
        for (double limit : {0.0, double(kMiB)}) {
            Lan lan;
            Node &a = lan.add("10.0.0.1", 0);
            Node &b = lan.add("10.0.0.2", 1);
            GameRoot root(3 * kMiB);
            b.delegate.gameRoot = root.dir.string();
            b.net->setUploadLimit(limit);
            lan.connect(a, b);
            const uint64_t start = lan.reactor.now();
            ChunkFetch fetches[3];
            for (uint64_t i = 0; i < 3; ++i)
                fetches[i].start(lan.reactor, *a.net, b.identity.peerId,
                                 {"g1", "data/big.bin", i * kMiB, kMiB});
            CPPUNIT_ASSERT(runUntil(lan.reactor, [&] {
                return fetches[0].ended && fetches[1].ended && fetches[2].ended;
            }));
            uint64_t took = 0;
            for (uint64_t i = 0; i < 3; ++i) {
                const ChunkFetch &fetch = fetches[i];
                CPPUNIT_ASSERT_MESSAGE(fetch.status->message(), fetch.status->succeeded());
                CPPUNIT_ASSERT(fetch.bytes == root.content.substr(i * kMiB, kMiB));
                took = std::max(took, fetch.endedAtNs - start);
            }
            if (limit == 0)
                CPPUNIT_ASSERT_MESSAGE(std::to_string(took), took < 200 * kSimMs);
            else
                CPPUNIT_ASSERT_MESSAGE(std::to_string(took),
                                       took >= 1950 * kSimMs && took < 2200 * kSimMs);
        }
    }

    void testRequestFailsWhenConnectionBreaks() {
        // A 1 MiB/s link, so the chunk is still on its way when the connection breaks.
        Lan lan;
        Node &a = lan.add("10.0.0.1", 0);
        Node &b = lan.add("10.0.0.2", 1);
        lan.sim.link(b.ip, a.ip).bytesPerSecond = double(kMiB);
        GameRoot root(3 * kMiB);
        b.delegate.gameRoot = root.dir.string();
        lan.connect(a, b);
        ChunkFetch fetch;
        fetch.start(lan.reactor, *a.net, b.identity.peerId, {"g1", "data/big.bin", 0, kMiB});
        CPPUNIT_ASSERT(runUntil(lan.reactor, [&] { return fetch.bytes.size() >= kMiB / 2; }));
        lan.sim.breakConnections(a.ip, b.ip, "connection reset by the test");
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return fetch.ended; }, kSimSeconds));
        CPPUNIT_ASSERT(!fetch.status->succeeded());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, fetch.status->code());
        CPPUNIT_ASSERT_MESSAGE(fetch.status->message(),
                               fetch.status->message().find("lost: connection reset by the test") !=
                                   std::string::npos);
        CPPUNIT_ASSERT(fetch.bytes.size() < kMiB);
        CPPUNIT_ASSERT(runUntil(
            lan.reactor, [&] { return b.net->outboundTransfers().empty(); }, kSimSeconds));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PeerNetworkTest);
