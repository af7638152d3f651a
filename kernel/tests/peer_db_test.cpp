#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/peers/peer_db.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <Poco/JSON/Object.h>

#include <sstream>

using lanspread::kernel::catalog::Catalog;
using lanspread::kernel::peers::PeerDb;
using lanspread::kernel::protocol::GameSummary;
using lanspread::kernel::protocol::Have;
using lanspread::kernel::protocol::Hello;
using lanspread::kernel::protocol::LibraryDelta;
using lanspread::kernel::protocol::PartialGame;

namespace {

const std::string kAlpha(64, 'a');
const std::string kBravo(64, 'b');
const std::string kCharlie(64, 'c');

GameSummary ready(const std::string &id, const std::string &version, uint64_t size = 100) {
    return GameSummary{id, version, "Ready", true, false, size, std::string(64, '9')};
}
GameSummary stale(const std::string &id, const std::string &version, uint64_t size = 100) {
    return GameSummary{id, version, "Stale", true, false, size, std::string(64, '9')};
}

const std::string kDigest(64, '7');

// A game being downloaded: chunkCount chunks, those in `have` verified.
PartialGame partial(const std::string &id, const std::string &version, uint64_t chunkCount = 8,
                    const std::vector<uint64_t> &have = {}) {
    PartialGame p{id, version, kDigest, chunkCount, std::vector<bool>(chunkCount, false)};
    for (const uint64_t chunk : have)
        p.have[chunk] = true;
    return p;
}

// The verified chunks of a peer's partial game, in order.
std::vector<uint64_t> chunksOf(const PeerDb &db, const std::string &peerId,
                               const std::string &gameId) {
    std::vector<uint64_t> chunks;
    if (const PartialGame *p = db.partial(peerId, gameId))
        for (std::size_t i = 0; i < p->have.size(); ++i)
            if (p->have[i])
                chunks.push_back(i);
    return chunks;
}

LibraryDelta delta(uint64_t revision, std::vector<GameSummary> upserts,
                   std::vector<std::string> removed, std::vector<PartialGame> partialUpserts = {},
                   std::vector<std::string> partialRemoved = {}) {
    return LibraryDelta{revision, std::move(upserts), std::move(removed), std::move(partialUpserts),
                        std::move(partialRemoved)};
}

Hello hello(const std::string &peerId, const std::string &name, std::vector<GameSummary> games,
            uint64_t revision = 1) {
    Hello h;
    h.peerId = peerId;
    h.name = name;
    h.listenAddr = "ignored:1";
    h.libraryRevision = revision;
    h.games = std::move(games);
    return h;
}

Hello helloWithPartials(const std::string &peerId, std::vector<GameSummary> games,
                        std::vector<PartialGame> partials) {
    Hello h = hello(peerId, "p", std::move(games));
    h.partials = std::move(partials);
    return h;
}

Catalog catalog() {
    auto c = Catalog::parse(R"({"games":[
        {"id":"ggoo","name":"Goo","version":"3"},
        {"id":"cnctw","name":"Tiberium Wars","version":"20250301"},
        {"id":"bfbc2","name":"Bad Company 2","version":"1"},
        {"id":"alienswarm","name":"Alien Swarm","version":"5"}]})",
                            "test");
    CPPUNIT_ASSERT_MESSAGE(c.status().describe(), c.ok());
    return c.value();
}

std::string json(const Poco::JSON::Object &object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

// list-peers' data for the DB's peers.
std::string listPeersJson(const PeerDb &db) {
    return json(lanspread::kernel::contract::listPeersResult(db.peerViews()));
}

// list-games' data with no local games and the DB's remote rows.
std::string listRemoteGamesJson(const PeerDb &db) {
    return json(lanspread::kernel::contract::listGamesResult({}, db.remoteGames(catalog())));
}

} // namespace

class PeerDbTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PeerDbTest);
    CPPUNIT_TEST(upsertAddsThenUpdates);
    CPPUNIT_TEST(S28_sameIdNewAddressUpdatesInPlace);
    CPPUNIT_TEST(helloSnapshotReplacesTheLibrary);
    CPPUNIT_TEST(deltaUpsertsRemovesAndSetsRevision);
    CPPUNIT_TEST(deltaForUnknownPeerIgnored);
    CPPUNIT_TEST(touchAndRemove);
    CPPUNIT_TEST(readySourcesNeedReadyAtCatalogVersion);
    CPPUNIT_TEST(listPeersShowsPeersAndGamesSorted);
    CPPUNIT_TEST(S3_sharedGameCountsBothPeers);
    CPPUNIT_TEST(S15_S36_stalePeersHiddenCatalogVersionShown);
    CPPUNIT_TEST(staleOnlyGameNotListed);
    CPPUNIT_TEST(S35_nonCatalogGameNeverListed);
    CPPUNIT_TEST(sizeIsTheMostCommonThenLargest);
    CPPUNIT_TEST(removedGameAndRemovedPeerDisappearFromRemoteGames);
    CPPUNIT_TEST(helloReplacesAndDeltaEditsPartials);
    CPPUNIT_TEST(applyHaveMarksChunksOfAMatchingPartialOnly);
    CPPUNIT_TEST(partialSourcesDownloadTheCatalogVersion);
    CPPUNIT_TEST(remoteGamesCountPartialPeersApart);
    CPPUNIT_TEST(peerViewsCountVerifiedChunks);
    CPPUNIT_TEST_SUITE_END();

  public:
    void upsertAddsThenUpdates() {
        PeerDb db;
        CPPUNIT_ASSERT(db.upsert(hello(kAlpha, "alpha", {}), "10.0.0.1:4000", "connect", 5) ==
                       PeerDb::Upsert::Added);
        CPPUNIT_ASSERT(db.upsert(hello(kAlpha, "alpha2", {}), "10.0.0.1:4000", "mdns", 6) ==
                       PeerDb::Upsert::Updated);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), db.size());
        const auto *p = db.find(kAlpha);
        CPPUNIT_ASSERT(p);
        CPPUNIT_ASSERT_EQUAL(kAlpha, p->peerId);
        CPPUNIT_ASSERT_EQUAL(std::string("alpha2"), p->name);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.1:4000"), p->addr);
        CPPUNIT_ASSERT_EQUAL(std::string("mdns"), p->via);
        CPPUNIT_ASSERT_EQUAL(int64_t(6), p->lastSeenMs);
        CPPUNIT_ASSERT(db.find(kBravo) == nullptr);
    }

    void S28_sameIdNewAddressUpdatesInPlace() {
        PeerDb db;
        db.upsert(hello(kBravo, "bravo", {ready("ggoo", "3")}, 4), "10.0.0.2:4000", "connect", 1);
        // Rediscovered with the same peer_id on a new listener address; its library is the
        // one already known (same snapshot).
        CPPUNIT_ASSERT(db.upsert(hello(kBravo, "bravo", {ready("ggoo", "3")}, 4), "10.0.0.2:4999",
                                 "mdns", 2) == PeerDb::Upsert::AddressChanged);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), db.size());
        const auto *p = db.find(kBravo);
        CPPUNIT_ASSERT(p);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2:4999"), p->addr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p->games.size());
        CPPUNIT_ASSERT(p->games.at("ggoo") == ready("ggoo", "3"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(4), p->libraryRevision);
        // The library stays attached to the peer id: it is still a source, once.
        const auto sources = db.readySources(*catalog().find("ggoo"));
        CPPUNIT_ASSERT(sources == std::vector<std::string>{kBravo});
        auto rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), rows[0].peerCount);
        // A later delta still applies to the moved peer.
        CPPUNIT_ASSERT(db.applyDelta(kBravo, delta(5, {ready("cnctw", "20250301")}, {}), 3));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), db.find(kBravo)->games.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), db.peerViews().size());
    }

    void helloSnapshotReplacesTheLibrary() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {ready("ggoo", "3"), ready("cnctw", "20250301")}),
                  "10.0.0.1:4000", "connect", 1);
        db.upsert(hello(kAlpha, "alpha", {ready("bfbc2", "1")}, 9), "10.0.0.1:4000", "connect", 2);
        const auto *p = db.find(kAlpha);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p->games.size());
        CPPUNIT_ASSERT(p->games.count("bfbc2"));
        CPPUNIT_ASSERT_EQUAL(uint64_t(9), p->libraryRevision);
    }

    void deltaUpsertsRemovesAndSetsRevision() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {stale("ggoo", "2"), ready("cnctw", "20250301")}, 1),
                  "10.0.0.1:4000", "connect", 1);
        LibraryDelta d;
        d.revision = 2;
        d.upserts = {ready("ggoo", "3"), ready("bfbc2", "1")};
        d.removed = {"cnctw", "notthere"};
        CPPUNIT_ASSERT(db.applyDelta(kAlpha, d, 7));
        const auto *p = db.find(kAlpha);
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), p->libraryRevision);
        CPPUNIT_ASSERT_EQUAL(int64_t(7), p->lastSeenMs);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), p->games.size());
        CPPUNIT_ASSERT(p->games.at("ggoo") == ready("ggoo", "3"));
        CPPUNIT_ASSERT(p->games.count("bfbc2"));
        CPPUNIT_ASSERT(!p->games.count("cnctw"));
        // S23: the version bump makes it a source.
        CPPUNIT_ASSERT(db.readySources(*catalog().find("ggoo")) ==
                       std::vector<std::string>{kAlpha});
    }

    void deltaForUnknownPeerIgnored() {
        PeerDb db;
        CPPUNIT_ASSERT(!db.applyDelta(kAlpha, delta(1, {ready("ggoo", "3")}, {}), 1));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), db.size());
    }

    void touchAndRemove() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {}), "10.0.0.1:4000", "connect", 1);
        db.touch(kAlpha, 50);
        db.touch(kBravo, 60); // unknown: nothing happens
        CPPUNIT_ASSERT_EQUAL(int64_t(50), db.find(kAlpha)->lastSeenMs);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), db.size());
        CPPUNIT_ASSERT(db.remove(kAlpha));
        CPPUNIT_ASSERT(!db.remove(kAlpha));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), db.size());
    }

    void readySourcesNeedReadyAtCatalogVersion() {
        PeerDb db;
        GameSummary notDownloaded = ready("ggoo", "3");
        notDownloaded.downloaded = false;
        GameSummary localOnly = ready("ggoo", "3");
        localOnly.availability = "LocalOnly";
        db.upsert(hello(kCharlie, "c", {ready("ggoo", "3")}), "c:1", "connect", 1);
        db.upsert(hello(kAlpha, "a", {ready("ggoo", "3")}), "a:1", "connect", 1);
        db.upsert(hello(kBravo, "b", {ready("ggoo", "2")}), "b:1", "connect", 1);
        db.upsert(hello(std::string(64, 'd'), "d", {notDownloaded}), "d:1", "connect", 1);
        db.upsert(hello(std::string(64, 'e'), "e", {localOnly}), "e:1", "connect", 1);
        db.upsert(hello(std::string(64, 'f'), "f", {stale("ggoo", "3")}), "f:1", "connect", 1);
        const auto sources = db.readySources(*catalog().find("ggoo"));
        CPPUNIT_ASSERT(sources == (std::vector<std::string>{kAlpha, kCharlie}));
        CPPUNIT_ASSERT(db.readySources(*catalog().find("cnctw")).empty());
    }

    void listPeersShowsPeersAndGamesSorted() {
        PeerDb db;
        db.upsert(hello(kBravo, "bravo", {stale("ggoo", "2"), ready("cnctw", "20250301")}),
                  "10.0.0.2:4000", "mdns", 1, "tls", {{"tls", "10.0.0.2:4000"}});
        db.upsert(hello(kAlpha, "alpha", {}), "10.0.0.1:4000", "connect", 1, "quic");
        const std::string expected =
            R"({"peers":[{"peer_id":")" + kAlpha +
            R"(","name":"alpha","addr":"10.0.0.1:4000","via":"connect","transport":"quic",)" +
            R"("games":[],"partials":[]},)" + R"({"peer_id":")" + kBravo +
            R"(","name":"bravo","addr":"10.0.0.2:4000","via":"mdns","transport":"tls","games":[)" +
            R"({"id":"cnctw","version":"20250301","availability":"Ready"},)" +
            R"({"id":"ggoo","version":"2","availability":"Stale"}],"partials":[]}]})";
        CPPUNIT_ASSERT_EQUAL(expected, listPeersJson(db));
    }

    void S3_sharedGameCountsBothPeers() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {ready("ggoo", "3", 300), ready("alienswarm", "5", 500)}),
                  "a:1", "connect", 1);
        db.upsert(hello(kBravo, "bravo", {ready("ggoo", "3", 300), ready("bfbc2", "1", 200)}),
                  "b:1", "connect", 1);
        const std::string expected =
            R"({"local":[],"remote":[)"
            R"({"id":"alienswarm","name":"Alien Swarm","eti_game_version":"5","peer_count":1,"partial_peers":0,"size":500},)"
            R"({"id":"bfbc2","name":"Bad Company 2","eti_game_version":"1","peer_count":1,"partial_peers":0,"size":200},)"
            R"({"id":"ggoo","name":"Goo","eti_game_version":"3","peer_count":2,"partial_peers":0,"size":300}]})";
        CPPUNIT_ASSERT_EQUAL(std::string(expected), listRemoteGamesJson(db));
    }

    void S15_S36_stalePeersHiddenCatalogVersionShown() {
        PeerDb db;
        // Four stale peers, one at the catalog version (S36); the stale ones outnumber it.
        for (char c : {'1', '2', '3', '4'})
            db.upsert(hello(std::string(64, c), "stale", {stale("cnctw", "20240101", 999)}),
                      std::string(1, c) + ":1", "connect", 1);
        db.upsert(hello(kCharlie, "charlie", {ready("cnctw", "20250301", 700)}), "c:1", "connect",
                  1);
        auto rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(std::string("cnctw"), rows[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("20250301"), rows[0].catalogVersion);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), rows[0].peerCount);
        CPPUNIT_ASSERT_EQUAL(uint64_t(700), rows[0].sizeBytes);
        CPPUNIT_ASSERT(db.readySources(*catalog().find("cnctw")) ==
                       std::vector<std::string>{kCharlie});
        // A peer advertising "Ready" but at another version is stale too (S15).
        db.upsert(hello(kAlpha, "alpha", {ready("cnctw", "20240101")}), "a:1", "connect", 1);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), db.remoteGames(catalog()).at(0).peerCount);
    }

    void staleOnlyGameNotListed() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {stale("ggoo", "2"), ready("ggoo-x", "1")}), "a:1",
                  "connect", 1);
        db.upsert(hello(kBravo, "bravo", {ready("ggoo", "2")}), "b:1", "connect", 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), db.remoteGames(catalog()).size());
    }

    void S35_nonCatalogGameNeverListed() {
        PeerDb db;
        db.upsert(hello(kAlpha, "alpha", {ready("unknowngame", "1"), ready("bfbc2", "1")}), "a:1",
                  "connect", 1);
        auto rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(std::string("bfbc2"), rows[0].id);
        CPPUNIT_ASSERT(listRemoteGamesJson(db).find("unknowngame") == std::string::npos);
        // It is still part of the peer's advertised library (list-peers shows it).
        CPPUNIT_ASSERT(listPeersJson(db).find("unknowngame") != std::string::npos);
    }

    void sizeIsTheMostCommonThenLargest() {
        PeerDb db;
        db.upsert(hello(kAlpha, "a", {ready("ggoo", "3", 100)}), "a:1", "connect", 1);
        db.upsert(hello(kBravo, "b", {ready("ggoo", "3", 300)}), "b:1", "connect", 1);
        db.upsert(hello(kCharlie, "c", {ready("ggoo", "3", 100)}), "c:1", "connect", 1);
        CPPUNIT_ASSERT_EQUAL(uint64_t(100), db.remoteGames(catalog()).at(0).sizeBytes);
        db.remove(kCharlie); // 100 vs 300: a tie goes to the larger
        CPPUNIT_ASSERT_EQUAL(uint64_t(300), db.remoteGames(catalog()).at(0).sizeBytes);
    }

    void removedGameAndRemovedPeerDisappearFromRemoteGames() {
        PeerDb db;
        db.upsert(hello(kAlpha, "a", {ready("ggoo", "3"), ready("bfbc2", "1")}), "a:1", "connect",
                  1);
        db.upsert(hello(kBravo, "b", {ready("ggoo", "3")}), "b:1", "connect", 1);
        db.applyDelta(kAlpha, delta(2, {}, {"bfbc2"}), 2); // S22
        auto rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), rows[0].peerCount);
        db.remove(kBravo); // S10
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), db.remoteGames(catalog()).at(0).peerCount);
        db.remove(kAlpha);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), db.remoteGames(catalog()).size());
    }

    void helloReplacesAndDeltaEditsPartials() {
        PeerDb db;
        db.upsert(helloWithPartials(kAlpha, {}, {partial("ggoo", "3"), partial("bfbc2", "1")}),
                  "a:1", "connect", 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), db.find(kAlpha)->partials.size());
        CPPUNIT_ASSERT(*db.partial(kAlpha, "ggoo") == partial("ggoo", "3"));
        // A new Hello is the whole picture: bfbc2 is gone, cnctw appears.
        db.upsert(
            helloWithPartials(kAlpha, {}, {partial("ggoo", "3", 8, {1}), partial("cnctw", "x")}),
            "a:1", "connect", 2);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), db.find(kAlpha)->partials.size());
        CPPUNIT_ASSERT(db.partial(kAlpha, "bfbc2") == nullptr);
        CPPUNIT_ASSERT((chunksOf(db, kAlpha, "ggoo") == std::vector<uint64_t>{1}));
        // A delta replaces an upserted partial whole (a restart with another list) and erases
        // removed ones; games and partials are independent.
        PartialGame restarted = partial("ggoo", "3", 16, {15});
        restarted.filesDigest = std::string(64, '8');
        CPPUNIT_ASSERT(db.applyDelta(
            kAlpha, delta(3, {ready("ggoo", "2")}, {}, {restarted}, {"cnctw", "nothere"}), 5));
        const auto *p = db.find(kAlpha);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p->partials.size());
        CPPUNIT_ASSERT(*db.partial(kAlpha, "ggoo") == restarted);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), p->games.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), p->libraryRevision);
        // The download ended: the game became a library entry and the partial went.
        CPPUNIT_ASSERT(db.applyDelta(kAlpha, delta(4, {ready("ggoo", "3")}, {}, {}, {"ggoo"}), 6));
        CPPUNIT_ASSERT(db.find(kAlpha)->partials.empty());
        CPPUNIT_ASSERT(db.partial(kAlpha, "ggoo") == nullptr);
        CPPUNIT_ASSERT(db.partial(kBravo, "ggoo") == nullptr);
    }

    void applyHaveMarksChunksOfAMatchingPartialOnly() {
        PeerDb db;
        db.upsert(helloWithPartials(kAlpha, {}, {partial("ggoo", "3", 10, {0})}), "a:1", "connect",
                  1);
        CPPUNIT_ASSERT(!db.applyHave(kBravo, Have{"ggoo", kDigest, {1}}, 2));  // unknown peer
        CPPUNIT_ASSERT(!db.applyHave(kAlpha, Have{"bfbc2", kDigest, {1}}, 2)); // no such partial
        CPPUNIT_ASSERT(!db.applyHave(kAlpha, Have{"ggoo", std::string(64, '8'), {1}}, 2));
        // One chunk out of range: nothing of that Have applies.
        CPPUNIT_ASSERT(!db.applyHave(kAlpha, Have{"ggoo", kDigest, {2, 10}}, 2));
        CPPUNIT_ASSERT((chunksOf(db, kAlpha, "ggoo") == std::vector<uint64_t>{0}));
        CPPUNIT_ASSERT_EQUAL(int64_t(1), db.find(kAlpha)->lastSeenMs);

        CPPUNIT_ASSERT(db.applyHave(kAlpha, Have{"ggoo", kDigest, {2, 9}}, 3));
        CPPUNIT_ASSERT((chunksOf(db, kAlpha, "ggoo") == std::vector<uint64_t>{0, 2, 9}));
        CPPUNIT_ASSERT_EQUAL(int64_t(3), db.find(kAlpha)->lastSeenMs);
        // A repeated chunk is harmless.
        CPPUNIT_ASSERT(db.applyHave(kAlpha, Have{"ggoo", kDigest, {0, 5}}, 4));
        CPPUNIT_ASSERT((chunksOf(db, kAlpha, "ggoo") == std::vector<uint64_t>{0, 2, 5, 9}));
    }

    void partialSourcesDownloadTheCatalogVersion() {
        PeerDb db;
        db.upsert(helloWithPartials(kCharlie, {}, {partial("ggoo", "3")}), "c:1", "connect", 1);
        db.upsert(helloWithPartials(kAlpha, {}, {partial("ggoo", "3", 4, {0, 1, 2, 3})}), "a:1",
                  "connect", 1);
        db.upsert(helloWithPartials(kBravo, {}, {partial("ggoo", "2")}), "b:1", "connect", 1);
        db.upsert(hello(std::string(64, 'd'), "d", {ready("ggoo", "3")}), "d:1", "connect", 1);
        const auto sources = db.partialSources(*catalog().find("ggoo"));
        CPPUNIT_ASSERT(sources == (std::vector<std::string>{kAlpha, kCharlie}));
        CPPUNIT_ASSERT(db.partialSources(*catalog().find("cnctw")).empty());
        // A ready source is not a partial one, and the other way round.
        CPPUNIT_ASSERT(db.readySources(*catalog().find("ggoo")) ==
                       std::vector<std::string>{std::string(64, 'd')});
    }

    void remoteGamesCountPartialPeersApart() {
        PeerDb db;
        db.upsert(
            helloWithPartials(kAlpha, {ready("ggoo", "3", 300)}, {partial("cnctw", "20250301")}),
            "a:1", "connect", 1);
        db.upsert(
            helloWithPartials(kBravo, {}, {partial("ggoo", "3"), partial("cnctw", "20250301")}),
            "b:1", "connect", 1);
        // Another version, and a game outside the catalog: neither counts.
        db.upsert(
            helloWithPartials(kCharlie, {}, {partial("ggoo", "2"), partial("unknowngame", "1")}),
            "c:1", "connect", 1);
        auto rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), rows.size());
        // Only partial sources: listed, with no size known yet.
        CPPUNIT_ASSERT_EQUAL(std::string("cnctw"), rows[0].id);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), rows[0].peerCount);
        CPPUNIT_ASSERT_EQUAL(uint64_t(2), rows[0].partialPeerCount);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), rows[0].sizeBytes);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo"), rows[1].id);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), rows[1].peerCount);
        CPPUNIT_ASSERT_EQUAL(uint64_t(1), rows[1].partialPeerCount);
        CPPUNIT_ASSERT_EQUAL(uint64_t(300), rows[1].sizeBytes);
        // The downloads end: cnctw has no source left.
        db.applyDelta(kAlpha, delta(2, {}, {}, {}, {"cnctw"}), 2);
        db.applyDelta(kBravo, delta(2, {}, {}, {}, {"cnctw", "ggoo"}), 2);
        rows = db.remoteGames(catalog());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), rows[0].partialPeerCount);
    }

    void peerViewsCountVerifiedChunks() {
        PeerDb db;
        db.upsert(helloWithPartials(kAlpha, {},
                                    {partial("ggoo", "3", 10, {0, 4, 9}), partial("bfbc2", "1")}),
                  "a:1", "connect", 1);
        db.applyHave(kAlpha, Have{"ggoo", kDigest, {5}}, 2);
        const auto views = db.peerViews();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), views.size());
        const auto &partials = views[0].partials;
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), partials.size()); // sorted by id
        CPPUNIT_ASSERT_EQUAL(std::string("bfbc2"), partials[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("1"), partials[0].version);
        CPPUNIT_ASSERT_EQUAL(uint64_t(0), partials[0].chunksHave);
        CPPUNIT_ASSERT_EQUAL(uint64_t(8), partials[0].chunkCount);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo"), partials[1].id);
        CPPUNIT_ASSERT_EQUAL(uint64_t(4), partials[1].chunksHave);
        CPPUNIT_ASSERT_EQUAL(uint64_t(10), partials[1].chunkCount);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PeerDbTest);
