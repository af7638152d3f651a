// Mesh, lifecycle and catalog-version scenarios of the peer-to-peer suite (docs/scenarios.md):
// S1, S10, S11, S15, S16, S17, S21, S22, S23, S29, S30, S31, S35 and S36, as real lanspreadd
// processes on 127.0.0.1 driven through frontend-cli (tests/support/peer_harness.hpp). Each
// test is one scenario, registered as its own ctest, and prints one evidence line. Transfers
// are proved by SHA-256 manifests and per-source chunk bytes; catalog-version checks cross-check
// what every peer really advertises (list-peers) before asserting what is filtered; negative
// checks scan a peer's whole event log; "no reconnect" means exactly one peer-connected and no
// peer-lost for that peer in the whole window.
#include "scenario_support.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

// The strings of a JSON array.
std::vector<std::string> strings(const JsonArray &a) {
    std::vector<std::string> out;
    for (std::size_t i = 0; a && i < a->size(); ++i)
        out.push_back(a->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

// ---- fixtures on disk ----

// dst as a copy of the game root src whose payload files are hard links (no extra disk) and
// whose version.ini is its own file saying version.
void linkRoot(const std::string &src, const std::string &dst, const std::string &version) {
    fs::create_directories(dst);
    for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator();
         ++it) {
        const fs::path rel = fs::relative(it->path(), src);
        if (rel == "version.ini")
            continue;
        if (it->is_directory())
            fs::create_directories(fs::path(dst) / rel);
        else
            fs::create_hard_link(it->path(), fs::path(dst) / rel);
    }
    writeVersionIni(dst, version);
}
// Total bytes of the regular files of a game root (what a peer advertises as its size).
uint64_t rootBytes(const std::string &root) {
    return totalSize(fileSizes(root));
}
std::size_t entriesIn(const std::string &dir) {
    std::size_t n = 0;
    for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it)
        ++n;
    return n;
}

// ---- what a peer lists ----

std::set<std::string> remoteIds(Peer &peer) {
    std::set<std::string> ids;
    for (const auto &[id, row] : remoteRows(peer))
        ids.insert(id);
    return ids;
}
// The list-games local rows by id.
std::map<std::string, Json> localRows(Peer &peer) {
    std::map<std::string, Json> out;
    JsonArray local = peer.listGames()->getArray("local");
    for (std::size_t i = 0; local && i < local->size(); ++i) {
        Json row = local->getObject(static_cast<unsigned>(i));
        out[str(row, "id")] = row;
    }
    return out;
}
// A games array ({id, version, availability} objects) as id -> "version/availability".
std::map<std::string, std::string> advertised(const JsonArray &games) {
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; games && i < games->size(); ++i) {
        Json g = games->getObject(static_cast<unsigned>(i));
        out[str(g, "id")] = str(g, "version") + "/" + str(g, "availability");
    }
    return out;
}
std::string describeGames(const std::map<std::string, std::string> &games) {
    std::string s = "{";
    for (const auto &[id, v] : games)
        s += " " + id + "=" + v;
    return s + " }";
}
// The list-peers entries by peer_id (a repeated peer_id keeps every entry).
std::multimap<std::string, Json> peerEntries(Peer &peer) {
    std::multimap<std::string, Json> out;
    JsonArray peers = peer.listPeers();
    for (std::size_t i = 0; peers && i < peers->size(); ++i) {
        Json entry = peers->getObject(static_cast<unsigned>(i));
        out.emplace(str(entry, "peer_id"), entry);
    }
    return out;
}
// What self's list-peers says other advertises (id -> "version/availability"); {"!absent":""}
// when other is not listed.
std::map<std::string, std::string> advertisedBy(Peer &self, const Peer &other) {
    auto entries = peerEntries(self);
    auto it = entries.find(other.peerId());
    if (it == entries.end())
        return {{"!absent", ""}};
    return advertised(it->second->getArray("games"));
}

} // namespace

class MeshScenariosTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(MeshScenariosTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "mesh_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    // S1: a peer started on fixture-alpha reports local-peer-ready and local-library-changed;
    // every catalog game of the set is downloaded=true installed=false Ready at the catalog
    // version. A catalog root without version.ini is not downloaded and a non-catalog root is
    // not listed at all.
    void S1_startupScan() {
        Lab &lab = newLab("S1");
        const auto ids = fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        writeWholeFile(lab.gamesDirOf("alpha") + "/cod5/readme.txt", "no version.ini yet\n");
        writeWholeFile(lab.gamesDirOf("alpha") + "/notacatalog/data.bin", "x");
        writeVersionIni(lab.gamesDirOf("alpha") + "/notacatalog", kVersion);
        Peer &alpha = lab.startPeer("alpha");
        const std::set<std::string> expected(ids.begin(), ids.end());

        auto libraryOk = [&](const JsonArray &games, std::string &why) {
            std::set<std::string> ready;
            for (std::size_t i = 0; games && i < games->size(); ++i) {
                Json g = games->getObject(static_cast<unsigned>(i));
                const std::string id = str(g, "id");
                if (id == "notacatalog") {
                    why = "the non-catalog root is listed: " + toJson(g);
                    return false;
                }
                if (id == "cod5") {
                    if (flag(g, "downloaded") || str(g, "availability") == "Ready") {
                        why = "cod5 without version.ini is listed as " + toJson(g);
                        return false;
                    }
                    continue;
                }
                if (!flag(g, "downloaded") || flag(g, "installed") ||
                    str(g, "availability") != "Ready" || str(g, "version") != kVersion) {
                    why = "game listed as " + toJson(g);
                    return false;
                }
                ready.insert(id);
            }
            if (ready != expected) {
                why = "ready games {" + join(ready) + "}, expected {" + join(expected) + "}";
                return false;
            }
            return true;
        };
        // The event (anywhere in the window), then the same state through list-games.
        std::string why;
        const std::size_t changed = alpha.findEvent(
            "local-library-changed",
            [&](const Json &e) { return libraryOk(e->getArray("games"), why); }, 20s);
        lab.check(changed != Peer::npos,
                  "no local-library-changed with the fixture-alpha library: " + why);
        const std::size_t ready = alpha.findEvent("local-peer-ready", {}, 0s);
        lab.check(ready != Peer::npos, "no local-peer-ready in the log");
        Json local = alpha.listGames();
        const bool localOk = libraryOk(local->getArray("local"), why);
        lab.check(localOk, "list-games local: " + why);
        lab.check(local->getArray("remote")->size() == 0, "a lone peer lists remote games");
        lab.check(alpha.listPeers()->size() == 0, "a lone peer lists peers");
        evidence("S1: alpha ready (local-peer-ready@" + std::to_string(ready) +
                 ", local-library-changed@" + std::to_string(changed) + "): " + join(expected) +
                 " downloaded=true installed=false Ready " + kVersion +
                 "; cod5 without version.ini not downloaded; non-catalog root not listed");
    }

    // S10: alpha is connected to bravo and charlie; bravo shuts down. alpha gets peer-lost
    // for bravo (reason goodbye) well under 2 s, bravo's games leave alpha's remote list at
    // once, charlie's stay, and charlie is not lost.
    void S10_shutdownGoodbye() {
        Lab &lab = newLab("S10");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        fx::writeGameSet(lab.gamesDirOf("charlie"), "charlie");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        Peer &charlie = lab.startPeer("charlie");
        alpha.connect(bravo);
        alpha.connect(charlie);
        const std::set<std::string> before{"bfbc2", "cnc4", "cnctw", "cod5", "css", "ggoo"};
        const std::set<std::string> after{"cod5", "css"};
        lab.waitUntil([&] { return remoteIds(alpha) == before; }, 10s,
                      "alpha lists bravo's and charlie's games");
        const std::string bravoId = bravo.peerId();
        const std::string bravoAddr = bravo.listenAddr();

        const std::size_t from = alpha.logSize();
        const int64_t sentMs = wallMs();
        const int code = bravo.shutdown();
        const int64_t exitedMs = wallMs();
        lab.check(code == 0, "bravo exited with " + std::to_string(code) + " after shutdown");
        const std::size_t lostAt = alpha.findEvent("peer-lost", forPeer(bravoId), 10s, from);
        lab.check(lostAt != Peer::npos, "alpha got no peer-lost for bravo within 10 s");
        const Json lost = alpha.logAt(lostAt).object;
        // Right after peer-lost: the record is gone, so its games are too (no polling).
        const std::set<std::string> remoteNow = remoteIds(alpha);
        const int64_t latencyMs = static_cast<int64_t>(u64(lost, "ts_ms")) - sentMs;
        lab.check(str(lost, "reason") == "goodbye", "peer-lost " + toJson(lost));
        lab.check(str(lost, "addr") == bravoAddr,
                  "peer-lost names addr " + str(lost, "addr") + ", bravo listened on " + bravoAddr);
        lab.check(latencyMs >= 0 && latencyMs < 2000,
                  "peer-lost came " + std::to_string(latencyMs) + " ms after shutdown was sent");
        lab.check(remoteNow == after,
                  "alpha's remote games after peer-lost: {" + join(remoteNow) + "}");
        auto peers = peerEntries(alpha);
        lab.check(peers.size() == 1 && peers.count(charlie.peerId()) == 1,
                  "alpha lists " + std::to_string(peers.size()) + " peers after bravo left");
        alpha.drain(500ms);
        lab.check(alpha.events("peer-lost", forPeer(bravoId)).size() == 1,
                  "more than one peer-lost for bravo");
        lab.check(alpha.events("peer-lost", forPeer(charlie.peerId())).empty(),
                  "alpha lost charlie");
        lab.check(remoteIds(alpha) == after, "bravo's games came back");
        evidence("S10: bravo shutdown -> exit 0 in " + std::to_string(exitedMs - sentMs) +
                 " ms; alpha peer-lost reason=goodbye " + std::to_string(latencyMs) +
                 " ms after the command; alpha remote {" + join(before) + "} -> {" + join(after) +
                 "} immediately, charlie kept");
    }

    // S11: bravo restarts with the same state dir on a new port, twice: after a shutdown
    // (alpha had dropped it) and after kill -9 (alpha still holds the old record and its dead
    // connection). Each time alpha connects to the new address and lists exactly one bravo
    // entry, with bravo's peer_id and the new address; the kill -9 case updates the record in
    // place (peer-updated, no peer-lost, not even when the dead connection would time out).
    void S11_sameIdentityReconnect() {
        Lab &lab = newLab("S11");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        constexpr int kTimeoutMs = 5000;
        const std::string ini =
            "[lanspread]\npeer_timeout_ms = " + std::to_string(kTimeoutMs) + "\n";
        Peer &alpha = lab.startPeer("alpha", ini);
        Peer &bravo = lab.startPeer("bravo", ini);
        const std::string bravoId = bravo.peerId();
        const std::set<std::string> bravoGames{"bfbc2", "cnc4", "cnctw", "ggoo"};
        std::vector<std::string> addrs{bravo.listenAddr()};
        lab.check(alpha.connect(bravo) == bravoId, "connect returned another peer_id");

        // One bravo entry at bravo's current address, with its whole library, and each of its
        // games counted once in the remote list.
        auto oneBravoAt = [&](const std::string &addr, std::string &why) {
            auto entries = peerEntries(alpha);
            if (entries.size() != 1 || entries.count(bravoId) != 1) {
                why = std::to_string(entries.size()) + " entries, " +
                      std::to_string(entries.count(bravoId)) + " for bravo";
                return false;
            }
            Json e = entries.begin()->second;
            std::set<std::string> games;
            for (const auto &[id, v] : advertised(e->getArray("games")))
                games.insert(id);
            if (str(e, "addr") != addr || games != bravoGames) {
                why = "entry " + toJson(e) + " (expected addr " + addr + ")";
                return false;
            }
            for (const auto &[id, row] : remoteRows(alpha))
                if (u64(row, "peer_count") != 1) {
                    why = "remote row " + toJson(row);
                    return false;
                }
            return true;
        };
        std::string why;
        lab.waitUntil([&] { return oneBravoAt(addrs.back(), why); }, 10s,
                      "alpha lists bravo once at its address");

        // 1. Shutdown (goodbye), restart on a new port, connect again.
        std::size_t from = alpha.logSize();
        bravo.shutdown();
        alpha.waitEvent("peer-lost", forPeer(bravoId), 10s, from);
        bravo.restart();
        addrs.push_back(bravo.listenAddr());
        lab.check(bravo.peerId() == bravoId, "bravo's identity changed across a restart");
        lab.check(alpha.connect(bravo) == bravoId, "connect after restart: another peer_id");
        bool one = oneBravoAt(addrs.back(), why);
        lab.check(one, "after the goodbye restart: " + why);

        // 2. kill -9: alpha keeps the record (and the dead connection) until the timeout.
        bravo.kill9();
        bravo.restart();
        addrs.push_back(bravo.listenAddr());
        lab.check(bravo.peerId() == bravoId, "bravo's identity changed across a kill -9 restart");
        auto stale = peerEntries(alpha);
        lab.check(stale.size() == 1 && stale.count(bravoId) == 1 &&
                      str(stale.begin()->second, "addr") == addrs[1] &&
                      alpha.events("peer-lost", forPeer(bravoId), from).size() == 1,
                  "precondition: alpha no longer holds the killed bravo's record at " + addrs[1]);
        from = alpha.logSize();
        lab.check(alpha.connect(bravo) == bravoId, "connect after kill -9: another peer_id");
        one = oneBravoAt(addrs.back(), why);
        lab.check(one, "after the kill -9 restart: " + why);
        Json updated = alpha.waitEvent("peer-updated", forPeer(bravoId), 5s, from);
        lab.check(str(updated, "addr") == addrs.back(), "peer-updated " + toJson(updated));
        // The dead connection would have timed out by now: still one entry, nothing lost.
        alpha.drain(std::chrono::milliseconds(kTimeoutMs + 1500));
        one = oneBravoAt(addrs.back(), why);
        lab.check(one, "after the old connection's timeout: " + why);
        lab.check(alpha.events("peer-lost", forPeer(bravoId), from).empty(),
                  "alpha lost bravo after the in-place update");
        lab.check(alpha.events("peer-connected", forPeer(bravoId), from).empty(),
                  "the kill -9 reconnect was reported as a new peer");
        const auto connected = alpha.events("peer-connected", forPeer(bravoId));
        lab.check(connected.size() == 2, std::to_string(connected.size()) +
                                             " peer-connected for bravo (expected the first "
                                             "connect and the one after the goodbye)");
        evidence("S11: bravo " + bravoId.substr(0, 8) + " at " + addrs[0] +
                 " -> shutdown, restart at " + addrs[1] + " -> kill -9, restart at " + addrs[2] +
                 "; alpha lists 1 bravo entry each time with the new addr (peer-updated in place "
                 "after kill -9, no peer-lost within " +
                 std::to_string(kTimeoutMs + 1500) + " ms), each game peer_count=1");
    }

    // S15: A and B advertise alienswarm at stale versions (both with a .eti of another size),
    // C at the catalog version. The client lists one row, peer_count 1, the catalog version;
    // metadata and every chunk come from C only; the copy equals C (and its version.ini).
    void S15_catalogVersionSkew() {
        Lab &lab = newLab("S15");
        const std::string cRoot = lab.gamesDirOf("c") + "/alienswarm";
        writeRandomFile(cRoot + "/" + kEti, 64 * kMiB, 15);
        writeVersionIni(cRoot, kVersion);
        const std::string aRoot = lab.gamesDirOf("a") + "/alienswarm";
        writeRandomFile(aRoot + "/" + kEti, 64 * kMiB + 4096, 1515); // the old release
        writeVersionIni(aRoot, "20240101");
        linkRoot(aRoot, lab.gamesDirOf("b") + "/alienswarm", "20240615");
        Peer &a = lab.startPeer("a");
        Peer &b = lab.startPeer("b");
        Peer &c = lab.startPeer("c");
        Peer &client = lab.startPeer("client");
        for (Peer *p : {&a, &b, &c})
            client.connect(*p);
        // What each really advertises (the remote row is synthesized from the catalog).
        const std::map<std::string, std::map<std::string, std::string>> expected{
            {"a", {{"alienswarm", "20240101/Stale"}}},
            {"b", {{"alienswarm", "20240615/Stale"}}},
            {"c", {{"alienswarm", kVersion + "/Ready"}}}};
        lab.waitUntil(
            [&] {
                return advertisedBy(client, a) == expected.at("a") &&
                       advertisedBy(client, b) == expected.at("b") &&
                       advertisedBy(client, c) == expected.at("c");
            },
            15s, "the client sees A and B stale, C at the catalog version");
        auto rows = remoteRows(client);
        lab.check(rows.size() == 1 && rows.count("alienswarm") == 1,
                  std::to_string(rows.size()) + " remote rows");
        const Json row = rows.begin()->second;
        lab.check(u64(row, "peer_count") == 1 && str(row, "eti_game_version") == kVersion &&
                      u64(row, "size") == rootBytes(cRoot),
                  "row " + toJson(row));

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        Json got = client.waitEvent("got-game-files", forGame("alienswarm"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", cRoot, from, end);
        lab.check(strings(got->getArray("peer_ids")) == std::vector<std::string>{c.peerId()} &&
                      strings(got->getArray("peers")) == std::vector<std::string>{c.listenAddr()},
                  "got-game-files names other peers than C: " + toJson(got));
        lab.check(t.chunks.bytesByPeer.size() == 1 && t.chunks.bytesByPeer.count(c.peerId()) == 1 &&
                      t.chunks.bytesByPeer.at(c.peerId()) == rootBytes(cRoot),
                  "chunks by peer: " + describeBytes(t.chunks.bytesByPeer, labelsOf({&a, &b, &c})));
        client.drain(300ms);
        for (Peer *p : {&a, &b})
            lab.check(client.events("download-chunk-finished", forPeer(p->peerId())).empty(),
                      "a chunk came from stale " + p->label());
        lab.check(readWholeFile(client.gameRoot("alienswarm") + "/version.ini") == kVersion + "\n",
                  "the client's version.ini is not C's");
        evidence("S15: A 20240101, B 20240615 (stale, .eti " + std::to_string(64 * kMiB + 4096) +
                 " B), C " + kVersion + " (.eti " + std::to_string(64 * kMiB) +
                 " B): 1 row peer_count=1 eti_game_version=" + kVersion +
                 "; got-game-files peers=[C]; chunks " +
                 describeBytes(t.chunks.bytesByPeer, labelsOf({&a, &b, &c})) + "; copy == C, " +
                 t.sha(kEti));
    }

    // S16: A advertises a stale alienswarm with the very same bytes as B and C, which
    // advertise the catalog version (a 128 MiB .eti, 128 chunks). peer_count is 2, metadata
    // comes from B and C, the .eti splits between them (each serves at least a quarter, whole
    // chunks, summing to the file) and A serves nothing. B and C are capped at 32 MiB/s, so
    // the split follows two equal links, not which daemon these 2 CPUs schedule first.
    void S16_catalogVersionFanoutWithStalePeer() {
        Lab &lab = newLab("S16");
        constexpr uint64_t kEtiSize = 128 * kMiB;
        const std::string bRoot = lab.gamesDirOf("b") + "/alienswarm";
        writeRandomFile(bRoot + "/" + kEti, kEtiSize, 16);
        writeVersionIni(bRoot, kVersion);
        linkRoot(bRoot, lab.gamesDirOf("c") + "/alienswarm", kVersion);
        linkRoot(bRoot, lab.gamesDirOf("a") + "/alienswarm", "20240101");
        const std::string cap32 = "[lanspread]\nupload_limit_mib_s = 32\n";
        Peer &a = lab.startPeer("a");
        Peer &b = lab.startPeer("b", cap32);
        Peer &c = lab.startPeer("c", cap32);
        Peer &client = lab.startPeer("client");
        for (Peer *p : {&a, &b, &c})
            client.connect(*p);
        lab.waitUntil(
            [&] {
                return advertisedBy(client, a) ==
                           std::map<std::string, std::string>{{"alienswarm", "20240101/Stale"}} &&
                       remotePeerCount(client, "alienswarm") == 2;
            },
            20s, "the client sees A stale and 2 catalog-version sources");
        auto rows = remoteRows(client);
        lab.check(rows.size() == 1 && str(rows.begin()->second, "eti_game_version") == kVersion,
                  "remote rows: " + std::to_string(rows.size()));

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        Json got = client.waitEvent("got-game-files", forGame("alienswarm"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 90s);
        auto t = verifyTransfer(client, "alienswarm", bRoot, from, end);
        const auto ids = strings(got->getArray("peer_ids"));
        lab.check(std::set<std::string>(ids.begin(), ids.end()) ==
                          std::set<std::string>{b.peerId(), c.peerId()} &&
                      ids.size() == 2,
                  "got-game-files: " + toJson(got));
        const int bEti = t.chunks.chunks(b.peerId(), kEti),
                  cEti = t.chunks.chunks(c.peerId(), kEti);
        const uint64_t bBytes = t.chunks.bytesOf(b.peerId(), kEti),
                       cBytes = t.chunks.bytesOf(c.peerId(), kEti);
        // Both sources pull their weight: rarest-first with a random tie order hands chunks to
        // whichever source asks, so each of two equal loopback sources takes about half.
        lab.check(bBytes + cBytes == kEtiSize && bBytes == uint64_t(bEti) * kChunk &&
                      cBytes == uint64_t(cEti) * kChunk && 4 * bBytes >= kEtiSize &&
                      4 * cBytes >= kEtiSize,
                  "the .eti split is B " + std::to_string(bEti) + " / C " + std::to_string(cEti) +
                      " chunks (" + std::to_string(bBytes) + " / " + std::to_string(cBytes) +
                      " B), not whole chunks of " + std::to_string(kEtiSize) +
                      " B with at least a quarter each");
        client.drain(300ms);
        lab.check(client.events("download-chunk-finished", forPeer(a.peerId())).empty() &&
                      t.chunks.bytesByPeer.count(a.peerId()) == 0,
                  "stale A served a chunk");
        lab.check(manifest(client.gameRoot("alienswarm")) == manifest(c.gameRoot("alienswarm")),
                  "the copy differs from C");
        evidence("S16: A stale 20240101 (same bytes), B and C " + kVersion +
                 ": peer_count=2, got-game-files peers=[B,C], " + kEti + " " +
                 std::to_string(kEtiSize) + " B split " + std::to_string(bEti) + "+" +
                 std::to_string(cEti) + " chunks, chunks " +
                 describeBytes(t.chunks.bytesByPeer, labelsOf({&a, &b, &c})) +
                 " (A none); copy == B == C, " + t.sha(kEti));
    }

    // S17: A (stale) and B (catalog) hold a 1000-byte data.bin, C (catalog) a 2000-byte one.
    // Only B and C vote: no majority, so the download fails and nothing is committed; were A
    // counted, 1000 bytes would win 2 to 1 and the download would finish.
    void S17_catalogVersionConflictRejection() {
        Lab &lab = newLab("S17");
        for (auto [peer, size, version] :
             {std::tuple<const char *, uint64_t, std::string>{"a", 1000, "20240101"},
              {"b", 1000, kVersion},
              {"c", 2000, kVersion}}) {
            const std::string root = lab.gamesDirOf(peer) + "/alienswarm";
            writeRandomFile(root + "/data.bin", size, 17);
            writeVersionIni(root, version);
        }
        Peer &a = lab.startPeer("a");
        Peer &b = lab.startPeer("b");
        Peer &c = lab.startPeer("c");
        Peer &client = lab.startPeer("client");
        for (Peer *p : {&a, &b, &c})
            client.connect(*p);
        lab.waitUntil(
            [&] {
                return advertisedBy(client, a) ==
                           std::map<std::string, std::string>{{"alienswarm", "20240101/Stale"}} &&
                       remotePeerCount(client, "alienswarm") == 2;
            },
            15s, "the client sees A stale and B, C at the catalog version");

        const std::size_t from = client.logSize();
        Json result = client.command(R"({"cmd":"download","game":"alienswarm","install":false})");
        lab.check(result->optValue<bool>("ok", false),
                  "download was refused instead of failing with download-failed: " +
                      toJson(result));
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 30s);
        lab.check(client.logAt(end).name == "download-failed",
                  "expected download-failed, got " + client.logAt(end).line);
        const std::string error = str(client.logAt(end).object, "error");
        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s,
                      "the failed download's operation ends");
        client.drain(300ms);
        lab.check(client.events("download-finished").empty(), "a download-finished was emitted");
        lab.check(client.events("download-chunk-finished").empty(), "a chunk was transferred");
        lab.check(!fs::exists(client.gameRoot("alienswarm") + "/version.ini"),
                  "a version.ini was committed");
        auto local = localRows(client);
        lab.check(!local.count("alienswarm") || !flag(local.at("alienswarm"), "downloaded"),
                  "alienswarm is listed as " +
                      (local.count("alienswarm") ? toJson(local.at("alienswarm")) : ""));
        evidence("S17: data.bin A 1000 B (stale 20240101), B 1000 B, C 2000 B (" + kVersion +
                 "): peer_count=2 -> download-failed (" + error +
                 "), no chunk, no version.ini, operation cleared");
    }

    // S21: bravo gains cod5 by an external drop (payload first, version.ini a second later).
    // alpha gets peer-updated with cod5 Ready and lists it remotely, over the same connection:
    // one peer-connected and no peer-lost for bravo in the whole window, and nothing
    // advertised cod5 as Ready before its version.ini existed.
    void S21_addGamePropagation() {
        Lab &lab = newLab("S21");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        fx::writeGame(lab.dir() + "/staging", "cod5");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        alpha.connect(bravo);
        const std::set<std::string> before{"bfbc2", "cnc4", "cnctw", "ggoo"};
        lab.waitUntil([&] { return remoteIds(alpha) == before; }, 10s,
                      "alpha lists bravo's library");

        const std::string root = bravo.gameRoot("cod5");
        fs::create_directories(root);
        for (auto it = fs::recursive_directory_iterator(lab.dir() + "/staging/cod5");
             it != fs::recursive_directory_iterator(); ++it) {
            const fs::path rel = fs::relative(it->path(), lab.dir() + "/staging/cod5");
            if (rel == "version.ini")
                continue;
            if (it->is_directory())
                fs::create_directories(fs::path(root) / rel);
            else
                fs::copy_file(it->path(), fs::path(root) / rel);
        }
        alpha.drain(1500ms);
        const std::size_t sentinelAt = alpha.logSize();
        const bool absentBefore = remoteIds(alpha) == before;
        fs::copy_file(lab.dir() + "/staging/cod5/version.ini", root + "/version.ini");

        Json updated = alpha.waitEvent(
            "peer-updated",
            [&](const Json &e) {
                return str(e, "peer_id") == bravo.peerId() &&
                       advertised(e->getArray("games"))["cod5"] == kVersion + "/Ready";
            },
            15s, sentinelAt);
        lab.check(absentBefore, "cod5 was listed remotely before its version.ini existed");
        for (const auto &e : alpha.events("peer-updated", {}, 0, sentinelAt))
            lab.check(advertised(e->getArray("games"))["cod5"] != kVersion + "/Ready",
                      "cod5 was advertised Ready before its version.ini: " + toJson(e));
        const auto games = advertised(updated->getArray("games"));
        lab.check(str(updated, "addr") == bravo.listenAddr() && games.size() == before.size() + 1,
                  "peer-updated " + toJson(updated));
        std::set<std::string> after = before;
        after.insert("cod5");
        lab.waitUntil([&] { return remoteIds(alpha) == after; }, 5s,
                      "alpha's remote list gains cod5");
        lab.check(remotePeerCount(alpha, "cod5") == 1, "cod5 peer_count != 1");
        auto peers = peerEntries(alpha);
        lab.check(peers.size() == 1 && advertisedBy(alpha, bravo).count("cod5") == 1,
                  "alpha does not list cod5 under its one bravo entry");
        alpha.drain(300ms);
        checkSameSession(alpha, bravo);
        evidence("S21: cod5 dropped into bravo (payload, version.ini 1.5 s later): alpha "
                 "peer-updated " +
                 describeGames(games) + ", remote {" + join(before) + "} -> {" + join(after) +
                 "}, nothing Ready before version.ini; 1 peer-connected, 0 peer-lost");
    }

    // S22: bravo's cnc4 root is deleted. alpha gets peer-updated without cnc4, stops listing
    // it (a download is refused with no-peers-have-game), and keeps bravo: one peer-connected,
    // no peer-lost, the rest of bravo's library intact.
    void S22_removeGamePropagation() {
        Lab &lab = newLab("S22");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        alpha.connect(bravo);
        const std::set<std::string> before{"bfbc2", "cnc4", "cnctw", "ggoo"};
        const std::set<std::string> after{"bfbc2", "cnctw", "ggoo"};
        lab.waitUntil([&] { return remoteIds(alpha) == before; }, 10s,
                      "alpha lists bravo's library");

        const std::size_t from = alpha.logSize();
        fs::remove_all(bravo.gameRoot("cnc4"));
        Json updated = alpha.waitEvent(
            "peer-updated",
            [&](const Json &e) {
                return str(e, "peer_id") == bravo.peerId() &&
                       !advertised(e->getArray("games")).count("cnc4");
            },
            15s, from);
        const auto games = advertised(updated->getArray("games"));
        std::set<std::string> ids;
        for (const auto &[id, v] : games) {
            ids.insert(id);
            lab.check(v == kVersion + "/Ready", "peer-updated " + toJson(updated));
        }
        lab.check(ids == after, "peer-updated lists {" + join(ids) + "}");
        lab.waitUntil([&] { return remoteIds(alpha) == after; }, 5s,
                      "alpha's remote list loses cnc4");
        const std::string code = alpha.commandError(R"({"cmd":"download","game":"cnc4"})");
        lab.check(code == "no-peers-have-game", "download cnc4 got '" + code + "'");
        lab.check(!fs::exists(alpha.gameRoot("cnc4")), "the refused download created a root");
        auto peers = peerEntries(alpha);
        lab.check(peers.size() == 1 && peers.count(bravo.peerId()) == 1,
                  "alpha lists " + std::to_string(peers.size()) + " peers");
        alpha.drain(300ms);
        checkSameSession(alpha, bravo);
        evidence("S22: bravo's cnc4 root deleted: alpha peer-updated " + describeGames(games) +
                 ", remote {" + join(before) + "} -> {" + join(after) + "}, download cnc4 -> " +
                 code + "; bravo kept: 1 peer-connected, 0 peer-lost");
    }

    // S23: bravo's cnctw starts with a stale version.ini: advertised Stale, absent from
    // alpha's remote list and not downloadable. Rewritten to the catalog version, it reaches
    // alpha by peer-updated over the same connection and downloads to an exact copy.
    void S23_versionBumpPropagation() {
        Lab &lab = newLab("S23");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        writeVersionIni(lab.gamesDirOf("bravo") + "/cnctw", "20240101");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        alpha.connect(bravo);
        const std::set<std::string> before{"bfbc2", "cnc4", "ggoo"};
        lab.waitUntil(
            [&] {
                return advertisedBy(alpha, bravo)["cnctw"] == "20240101/Stale" &&
                       remoteIds(alpha) == before;
            },
            10s, "alpha sees bravo's cnctw as stale and does not list it remotely");
        const std::string code = alpha.commandError(R"({"cmd":"download","game":"cnctw"})");
        lab.check(code == "no-peers-have-game", "download of the stale cnctw got '" + code + "'");

        const std::size_t from = alpha.logSize();
        writeVersionIni(bravo.gameRoot("cnctw"), kVersion);
        Json updated = alpha.waitEvent(
            "peer-updated",
            [&](const Json &e) {
                return str(e, "peer_id") == bravo.peerId() &&
                       advertised(e->getArray("games"))["cnctw"] == kVersion + "/Ready";
            },
            15s, from);
        std::set<std::string> after = before;
        after.insert("cnctw");
        lab.waitUntil([&] { return remoteIds(alpha) == after; }, 5s,
                      "alpha's remote list gains cnctw");
        lab.check(remotePeerCount(alpha, "cnctw") == 1, "cnctw peer_count != 1");

        const std::size_t dl = alpha.logSize();
        alpha.commandOk(R"({"cmd":"download","game":"cnctw","install":false})");
        const std::size_t end = waitDownloadEnd(alpha, "cnctw", dl, 60s);
        auto t = verifyTransfer(alpha, "cnctw", bravo.gameRoot("cnctw"), dl, end);
        lab.check(readWholeFile(alpha.gameRoot("cnctw") + "/version.ini") == kVersion + "\n",
                  "alpha's cnctw version.ini is not the bumped one");
        alpha.drain(300ms);
        checkSameSession(alpha, bravo);
        evidence("S23: bravo cnctw 20240101/Stale -> absent from alpha's remote, download -> " +
                 code + "; version.ini rewritten to " + kVersion + " -> peer-updated " +
                 describeGames(advertised(updated->getArray("games"))) +
                 ", remote gains cnctw "
                 "(peer_count=1), downloaded " +
                 std::to_string(t.total) + " B == bravo; 1 peer-connected, 0 peer-lost");
    }

    // S29: a peer with no games joins alpha and bravo: both list it with zero games. It
    // downloads bfbc2 from bravo, then advertises it without a restart (alpha gets
    // peer-updated and lists bfbc2 from it) and serves it to a fresh third peer.
    void S29_emptyLibraryPeerParticipates() {
        Lab &lab = newLab("S29");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        Peer &empty = lab.startPeer("empty");
        empty.connect(alpha);
        empty.connect(bravo);
        for (Peer *p : {&alpha, &bravo})
            lab.waitUntil([&] { return advertisedBy(*p, empty).empty(); }, 10s,
                          p->label() + " lists the empty peer with zero games");
        for (Peer *p : {&alpha, &bravo}) {
            auto connected = p->events("peer-connected", forPeer(empty.peerId()));
            lab.check(connected.size() == 1 && connected[0]->getArray("games")->size() == 0,
                      p->label() + ": peer-connected for the empty peer");
        }
        lab.check(localRows(empty).empty(), "the empty peer lists local games");
        lab.waitUntil([&] { return remotePeerCount(empty, "bfbc2") == 1; }, 10s,
                      "the empty peer lists bfbc2");

        const std::size_t alphaFrom = alpha.logSize();
        std::size_t from = empty.logSize();
        empty.commandOk(R"({"cmd":"download","game":"bfbc2","install":false})");
        std::size_t end = waitDownloadEnd(empty, "bfbc2", from, 60s);
        auto first = verifyTransfer(empty, "bfbc2", bravo.gameRoot("bfbc2"), from, end);
        Json updated = alpha.waitEvent(
            "peer-updated",
            [&](const Json &e) {
                return str(e, "peer_id") == empty.peerId() &&
                       advertised(e->getArray("games"))["bfbc2"] == kVersion + "/Ready";
            },
            15s, alphaFrom);
        lab.waitUntil([&] { return remotePeerCount(alpha, "bfbc2") == 1; }, 5s,
                      "alpha lists bfbc2 from the formerly empty peer");
        lab.check(empty.events("local-peer-ready").size() == 1, "the empty peer restarted");

        Peer &charlie = lab.startPeer("charlie");
        charlie.connect(empty);
        lab.waitUntil([&] { return remotePeerCount(charlie, "bfbc2") == 1; }, 10s,
                      "charlie lists bfbc2 from the formerly empty peer");
        from = charlie.logSize();
        charlie.commandOk(R"({"cmd":"download","game":"bfbc2","install":false})");
        end = waitDownloadEnd(charlie, "bfbc2", from, 60s);
        auto t = verifyTransfer(charlie, "bfbc2", bravo.gameRoot("bfbc2"), from, end);
        lab.check(t.chunks.bytesByPeer.size() == 1 &&
                      t.chunks.bytesByPeer.count(empty.peerId()) == 1,
                  "charlie's chunks came from " +
                      describeBytes(t.chunks.bytesByPeer, labelsOf({&empty, &bravo})));
        alpha.drain(200ms);
        checkSameSession(alpha, empty);
        evidence("S29: empty peer listed with 0 games by alpha and bravo; downloaded bfbc2 (" +
                 std::to_string(first.total) + " B from bravo), alpha got peer-updated " +
                 describeGames(advertised(updated->getArray("games"))) +
                 " (no restart, no reconnect); charlie downloaded it from the formerly empty "
                 "peer only, == bravo, " +
                 t.sha("bfbc2.eti"));
    }

    // S30: five peers with overlapping libraries (unique, shared, stale-only and partly stale
    // games) and a sixth that owns css itself connects to all five: one row per catalog-ready
    // game with the right peer_count (stale copies and its own css not counted), the catalog
    // eti_game_version, the majority size, five peers listed once each, no self entry.
    void S30_fivePeerMeshAggregation() {
        Lab &lab = newLab("S30");
        const std::string stale = "20240101";
        const std::map<std::string, std::vector<std::pair<std::string, std::string>>> sets{
            {"p1", {{"alienswarm", kVersion}, {"bf1942", kVersion}, {"ggoo", kVersion}}},
            {"p2", {{"bfbc2", kVersion}, {"cnc4", kVersion}, {"ggoo", kVersion}}},
            {"p3", {{"cnctw", stale}, {"cod5", kVersion}, {"ggoo", kVersion}}},
            {"p4", {{"bf1942", stale}, {"cnc4", kVersion}, {"css", kVersion}}},
            {"p5", {{"alienswarm", kVersion}, {"cod5", kVersion}, {"ggoo", stale}}}};
        const std::map<std::string, uint64_t> expected{
            {"alienswarm", 2}, {"bf1942", 1}, {"bfbc2", 1}, {"cnc4", 2},
            {"cod5", 2},       {"css", 1},    {"ggoo", 3}}; // cnctw: stale only
        std::map<std::string, uint64_t> sizes;
        for (const auto &[label, games] : sets)
            for (const auto &[id, version] : games) {
                fx::writeGame(lab.gamesDirOf(label), id, version);
                sizes[id] = rootBytes(lab.gamesDirOf(label) + "/" + id);
            }
        fx::writeGame(lab.gamesDirOf("client"), "css");
        std::vector<Peer *> peers;
        for (const auto &[label, games] : sets)
            peers.push_back(&lab.startPeer(label));
        Peer &client = lab.startPeer("client");
        for (Peer *p : peers)
            client.connect(*p);

        auto counts = [&] {
            std::map<std::string, uint64_t> got;
            for (const auto &[id, row] : remoteRows(client))
                got[id] += u64(row, "peer_count");
            return got;
        };
        lab.waitUntil([&] { return counts() == expected && peerEntries(client).size() == 5; }, 15s,
                      "the client's remote rows reach the expected peer counts");
        auto rows = remoteRows(client);
        lab.check(rows.size() == expected.size(), std::to_string(rows.size()) + " remote rows");
        std::string counted;
        for (const auto &[id, row] : rows) {
            lab.check(rows.count(id) == 1,
                      id + " listed " + std::to_string(rows.count(id)) + " times");
            lab.check(str(row, "eti_game_version") == kVersion && u64(row, "size") == sizes.at(id),
                      "row " + toJson(row) + " (size " + std::to_string(sizes.at(id)) + ")");
            counted += " " + id + "=" + std::to_string(u64(row, "peer_count"));
        }
        // Every peer once, as it advertises itself; none of them is the client.
        auto entries = peerEntries(client);
        for (Peer *p : peers) {
            lab.check(entries.count(p->peerId()) == 1,
                      p->label() + " is listed " + std::to_string(entries.count(p->peerId())) +
                          " times");
            std::map<std::string, std::string> want;
            for (const auto &[id, version] : sets.at(p->label()))
                want[id] = version + (version == kVersion ? "/Ready" : "/Stale");
            const auto got = advertisedBy(client, *p);
            lab.check(got == want, p->label() + " advertised " + describeGames(got));
            lab.check(client.events("peer-connected", forPeer(p->peerId())).size() == 1,
                      "peer-connected count for " + p->label());
            auto back = peerEntries(*p);
            lab.check(back.size() == 1 && back.count(client.peerId()) == 1,
                      p->label() + " lists " + std::to_string(back.size()) + " peers");
        }
        lab.check(entries.size() == 5 && entries.count(client.peerId()) == 0,
                  "the client lists " + std::to_string(entries.size()) + " peers (or itself)");
        for (const char *kind : {"peer-discovered", "peer-connected", "peer-updated", "peer-lost"})
            lab.check(client.events(kind, forPeer(client.peerId())).empty(),
                      std::string("the client reported itself in ") + kind);
        lab.check(client.events("peer-lost").empty(), "the client lost a peer");
        evidence("S30: 5 peers (15 game roots, 3 stale), client owns css: " +
                 std::to_string(rows.size()) + " rows once each, peer_count:" + counted +
                 " (cnctw stale-only: absent), eti_game_version=" + kVersion +
                 ", 5 peers once each, no self entry");
    }

    // S31: the client downloads alienswarm from alpha, alpha shuts down, and a fresh charlie
    // connected only to the client downloads it from the client: charlie's copy equals
    // alpha's original, every byte from the client, which never restarted.
    void S31_bootstrappedPeerBecomesSource() {
        Lab &lab = newLab("S31");
        const std::string aRoot = lab.gamesDirOf("alpha") + "/alienswarm";
        writeRandomFile(aRoot + "/" + kEti, 64 * kMiB + 777, 31);
        writeRandomFile(aRoot + "/maps/swarm01.bsp", kMiB + 5, 3131);
        writeVersionIni(aRoot, kVersion);
        const Manifest original = manifest(aRoot);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);
        std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto first = verifyTransfer(client, "alienswarm", aRoot, from, end);
        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s, "the download ends");

        const std::string alphaId = alpha.peerId();
        from = client.logSize();
        lab.check(alpha.shutdown() == 0, "alpha did not exit 0");
        Json lost = client.waitEvent("peer-lost", forPeer(alphaId), 10s, from);
        lab.check(client.listPeers()->size() == 0, "the client still lists alpha");

        Peer &charlie = lab.startPeer("charlie");
        charlie.connect(client);
        waitRemote(charlie, "alienswarm", 1);
        from = charlie.logSize();
        charlie.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        end = waitDownloadEnd(charlie, "alienswarm", from, 60s);
        auto t = verifyTransfer(charlie, "alienswarm", client.gameRoot("alienswarm"), from, end);
        lab.check(manifest(charlie.gameRoot("alienswarm")) == original,
                  "charlie's copy differs from alpha's original:" +
                      manifestDiff(original, manifest(charlie.gameRoot("alienswarm"))));
        lab.check(t.chunks.bytesByPeer.size() == 1 &&
                      t.chunks.bytesByPeer.count(client.peerId()) == 1 &&
                      t.chunks.bytesByPeer.at(client.peerId()) == rootBytes(aRoot),
                  "charlie's chunks: " + describeBytes(t.chunks.bytesByPeer, labelsOf({&client})));
        lab.check(client.events("local-peer-ready").size() == 1, "the client restarted");
        evidence("S31: client downloaded alienswarm (" + std::to_string(first.total) +
                 " B) from alpha; alpha shut down (peer-lost " + str(lost, "reason") +
                 "); charlie downloaded all " + std::to_string(t.total) +
                 " B from the client (same session), == alpha's original, " + t.sha(kEti));
    }

    // S35: a source whose catalog has a game "hl3" (absent from the client's catalog)
    // advertises it; the client keeps it out of list-games, refuses to download it with
    // unknown-game, emits no transfer event and creates no file.
    void S35_unknownGameFromRemote() {
        Lab &lab = newLab("S35");
        Json catalog = parseJson(fx::catalogJson());
        Json extra(new Poco::JSON::Object);
        extra->set("id", "hl3");
        extra->set("name", "Half-Life 3");
        extra->set("version", kVersion);
        extra->set("description", "a game only the source's catalog knows");
        catalog->getArray("games")->add(extra);
        const std::string sourceCatalog = lab.dir() + "/catalog-source.json";
        writeWholeFile(sourceCatalog, toJson(catalog));
        const std::string hl3 = lab.gamesDirOf("source") + "/hl3";
        writeRandomFile(hl3 + "/hl3.eti", kMiB, 35);
        writeVersionIni(hl3, kVersion);
        fx::writeGame(lab.gamesDirOf("source"), "ggoo");

        Peer &source = lab.addPeer("source");
        source.start("source", lab.gamesDirOf("source"), lab.stateDirOf("source"), sourceCatalog);
        lab.check(localRows(source).count("hl3") == 1 &&
                      str(localRows(source).at("hl3"), "availability") == "Ready",
                  "fixture: the source does not hold hl3 as Ready");
        Peer &client = lab.startPeer("client");
        client.connect(source);
        // Precondition: hl3 really is advertised to the client, so its absence is a filter.
        lab.waitUntil(
            [&] {
                return advertisedBy(client, source) ==
                           std::map<std::string, std::string>{{"ggoo", kVersion + "/Ready"},
                                                              {"hl3", kVersion + "/Ready"}} &&
                       remotePeerCount(client, "ggoo") == 1;
            },
            10s, "the client sees the source advertise ggoo and hl3");
        const auto ids = remoteIds(client);
        lab.check(ids == std::set<std::string>{"ggoo"}, "remote games {" + join(ids) + "}");
        lab.check(!localRows(client).count("hl3"), "the client lists hl3 locally");

        const std::string code =
            client.commandError(R"({"cmd":"download","game":"hl3","install":false})");
        lab.check(code == "unknown-game", "download hl3 got '" + code + "'");
        client.drain(500ms);
        for (const char *kind :
             {"no-peers-have-game", "got-game-files", "download-begin", "download-chunk-finished",
              "download-failed", "download-finished", "install-begin"})
            lab.check(client.events(kind).empty(), std::string("a ") + kind + " event came");
        lab.check(entriesIn(client.gamesDir()) == 0,
                  "the client's games dir has " + std::to_string(entriesIn(client.gamesDir())) +
                      " entries");
        lab.check(idle(client, "hl3"), "hl3 is busy");
        evidence("S35: source advertises hl3 " + kVersion +
                 "/Ready (not in the client's catalog) and ggoo: client remote {ggoo} only, "
                 "download hl3 -> " +
                 code + ", no transfer events, games dir empty");
    }

    // S36: five peers advertise alienswarm with the same bytes; one at the catalog version,
    // four at stale versions. One row, peer_count 1; metadata and every chunk come from the
    // singleton, the four stale peers contribute nothing.
    void S36_catalogSingletonBeatsStaleMajority() {
        Lab &lab = newLab("S36");
        const std::string sRoot = lab.gamesDirOf("single") + "/alienswarm";
        writeRandomFile(sRoot + "/" + kEti, 64 * kMiB, 36);
        writeVersionIni(sRoot, kVersion);
        const std::vector<std::pair<std::string, std::string>> staleSet{{"stale1", "20240101"},
                                                                        {"stale2", "20240101"},
                                                                        {"stale3", "20231201"},
                                                                        {"stale4", "20250228"}};
        for (const auto &[label, version] : staleSet)
            linkRoot(sRoot, lab.gamesDirOf(label) + "/alienswarm", version);
        Peer &single = lab.startPeer("single");
        std::vector<Peer *> stale;
        for (const auto &[label, version] : staleSet)
            stale.push_back(&lab.startPeer(label));
        Peer &client = lab.startPeer("client");
        client.connect(single);
        for (Peer *p : stale)
            client.connect(*p);
        lab.waitUntil(
            [&] {
                for (std::size_t i = 0; i < stale.size(); ++i)
                    if (advertisedBy(client, *stale[i]) !=
                        std::map<std::string, std::string>{
                            {"alienswarm", staleSet[i].second + "/Stale"}})
                        return false;
                return advertisedBy(client, single) ==
                       std::map<std::string, std::string>{{"alienswarm", kVersion + "/Ready"}};
            },
            20s, "the client sees four stale peers and the catalog-version singleton");
        auto rows = remoteRows(client);
        lab.check(rows.size() == 1 && u64(rows.begin()->second, "peer_count") == 1 &&
                      str(rows.begin()->second, "eti_game_version") == kVersion,
                  "remote rows: " + std::to_string(rows.size()) +
                      (rows.empty() ? "" : " " + toJson(rows.begin()->second)));

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        Json got = client.waitEvent("got-game-files", forGame("alienswarm"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", sRoot, from, end);
        lab.check(strings(got->getArray("peer_ids")) == std::vector<std::string>{single.peerId()},
                  "got-game-files: " + toJson(got));
        Json begin = client.events("download-begin", forGame("alienswarm"), from).at(0);
        lab.check(begin->getArray("peers")->size() == 1, "download-begin " + toJson(begin));
        std::vector<Peer *> all{&single};
        all.insert(all.end(), stale.begin(), stale.end());
        lab.check(t.chunks.bytesByPeer.size() == 1 &&
                      t.chunks.bytesByPeer.count(single.peerId()) == 1 &&
                      t.chunks.bytesByPeer.at(single.peerId()) == t.total,
                  "chunks by peer: " + describeBytes(t.chunks.bytesByPeer, labelsOf(all)));
        client.drain(300ms);
        for (Peer *p : stale)
            lab.check(client.events("download-chunk-finished", forPeer(p->peerId())).empty(),
                      "a chunk came from " + p->label());
        evidence("S36: 1 peer at " + kVersion +
                 " + 4 stale (20240101 x2, 20231201, 20250228), same bytes: 1 row peer_count=1 "
                 "eti_game_version=" +
                 kVersion + "; got-game-files peers=[single]; chunks " +
                 describeBytes(t.chunks.bytesByPeer, labelsOf(all)) + "; copy == single, " +
                 t.sha(kEti));
    }

  private:
    // Library changes travelled over the existing session: self saw exactly one
    // peer-connected and no peer-lost for other in its whole log.
    void checkSameSession(Peer &self, const Peer &other) {
        const auto connected = self.events("peer-connected", forPeer(other.peerId()));
        _lab->check(connected.size() == 1, self.label() + " has " +
                                               std::to_string(connected.size()) +
                                               " peer-connected for " + other.label());
        _lab->check(self.events("peer-lost", forPeer(other.peerId())).empty(),
                    self.label() + " lost " + other.label());
        _lab->check(self.events("peer-discovered", forPeer(other.peerId())).size() <= 1,
                    self.label() + " rediscovered " + other.label());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MeshScenariosTest);
