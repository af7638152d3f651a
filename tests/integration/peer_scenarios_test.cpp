// The peer-to-peer scenario suite (docs/scenarios.md): real lanspreadd processes on 127.0.0.1
// with ephemeral ports and `connect`, driven through frontend-cli. Each test is one scenario
// (S2, S3, ...), registered as its own ctest, and prints one evidence line. Every transfer is
// proved by SHA-256 manifests of source and receiver roots; split scenarios assert exact
// per-source byte counts from download-chunk-finished and download-finished.sources; negative
// checks scan a peer's whole event log. Large files are seeded pseudo-random data of 64 or
// 128 MiB, whole 1 MiB chunks (but one, where an odd size is the point), so per-source shares
// are exact and can fail; kill-mid-download scenarios cap the sources' upload rate
// (upload_limit_mib_s) so "mid" is a property of the setup, not a race.
#include "scenario_support.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

// ---- fixtures on disk ----

// The ids of a list-peers entry's games.
std::set<std::string> gameIdsOf(const Json &peerEntry) {
    std::set<std::string> ids;
    JsonArray games = peerEntry->getArray("games");
    for (std::size_t i = 0; games && i < games->size(); ++i)
        ids.insert(str(games->getObject(static_cast<unsigned>(i)), "id"));
    return ids;
}

// The big alienswarm.eti of the split, kill and resume scenarios: 128 chunks.
constexpr uint64_t kBigEti = 128 * kMiB;
constexpr int kBigEtiChunks = static_cast<int>(kBigEti / kChunk);

} // namespace

class PeerScenariosTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(PeerScenariosTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "peer_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    // S2: alpha connects to bravo; both record exactly one remote peer (each other), with the
    // other's library, and no self entry.
    void S2_directConnectHandshake() {
        Lab &lab = newLab("S2");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        lab.check(alpha.peerId() != bravo.peerId(), "two peers share a peer_id");

        const std::string remote = alpha.connect(bravo);
        lab.check(remote == bravo.peerId(),
                  "connect returned " + remote + ", bravo is " + bravo.peerId());
        const std::set<std::string> alphaGames{"alienswarm", "bf1942", "ggoo"};
        const std::set<std::string> bravoGames{"bfbc2", "cnc4", "cnctw", "ggoo"};
        // Converged: each side lists the other with the other's whole library.
        auto sees = [](Peer &self, const Peer &other, const std::set<std::string> &games) {
            JsonArray peers = self.listPeers();
            return peers->size() == 1 && str(peers->getObject(0), "peer_id") == other.peerId() &&
                   gameIdsOf(peers->getObject(0)) == games;
        };
        lab.waitUntil(
            [&] { return sees(alpha, bravo, bravoGames) && sees(bravo, alpha, alphaGames); }, 10s,
            "alpha and bravo list each other with each other's library");

        for (auto [self, other] : {std::pair<Peer *, Peer *>{&alpha, &bravo}, {&bravo, &alpha}}) {
            JsonArray peers = self->listPeers();
            lab.check(peers->size() == 1,
                      self->label() + " lists " + std::to_string(peers->size()) + " peers");
            Json entry = peers->getObject(0);
            lab.check(str(entry, "peer_id") != self->peerId(), self->label() + " lists itself");
            lab.check(str(entry, "name") == other->name(),
                      self->label() + " names its peer '" + str(entry, "name") + "'");
            JsonArray games = entry->getArray("games");
            for (std::size_t i = 0; i < games->size(); ++i) {
                Json g = games->getObject(static_cast<unsigned>(i));
                lab.check(str(g, "version") == kVersion && str(g, "availability") == "Ready",
                          self->label() + " sees " + toJson(g));
            }
            // One handshake per side, and it names the other peer; nothing about itself.
            auto connected = self->events("peer-connected");
            lab.check(connected.size() == 1 && str(connected[0], "peer_id") == other->peerId(),
                      self->label() + " has " + std::to_string(connected.size()) +
                          " peer-connected events");
            for (const char *kind : {"peer-discovered", "peer-connected", "peer-updated"})
                lab.check(
                    self->events(kind,
                                 [&](const Json &e) { return str(e, "peer_id") == self->peerId(); })
                        .empty(),
                    self->label() + " reported itself in " + kind);
        }
        evidence("S2: alpha<->bravo handshake: alpha lists 1 peer (bravo: " + join(bravoGames) +
                 "), bravo lists 1 peer (alpha: " + join(alphaGames) +
                 "), 1 peer-connected each, no self entry");
    }

    // S3: an empty client connected to alpha and bravo lists every remote game once; the
    // shared ggoo has peer_count 2, the others 1.
    void S3_remoteAggregation() {
        Lab &lab = newLab("S3");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        client.connect(bravo);
        const std::map<std::string, uint64_t> expected{
            {"alienswarm", 1}, {"bf1942", 1}, {"bfbc2", 1}, {"cnc4", 1}, {"cnctw", 1}, {"ggoo", 2}};
        auto counts = [&] {
            std::map<std::string, uint64_t> got;
            for (const auto &[id, row] : remoteRows(client))
                got[id] += u64(row, "peer_count");
            return got;
        };
        lab.waitUntil([&] { return counts() == expected; }, 10s,
                      "client's remote games reach the expected peer counts");
        auto rows = remoteRows(client);
        lab.check(rows.size() == expected.size(),
                  std::to_string(rows.size()) + " remote rows for " +
                      std::to_string(expected.size()) + " games (duplicates?)");
        std::string counted;
        for (const auto &[id, row] : rows) {
            lab.check(rows.count(id) == 1,
                      id + " is listed " + std::to_string(rows.count(id)) + " times");
            lab.check(u64(row, "peer_count") == expected.at(id), "row " + toJson(row));
            lab.check(str(row, "eti_game_version") == kVersion, "row " + toJson(row));
            counted += " " + id + "=" + std::to_string(u64(row, "peer_count"));
        }
        lab.check(client.listGames()->getArray("local")->size() == 0,
                  "the empty client lists local games");
        JsonArray peers = client.listPeers();
        std::set<std::string> ids;
        for (std::size_t i = 0; i < peers->size(); ++i)
            ids.insert(str(peers->getObject(static_cast<unsigned>(i)), "peer_id"));
        lab.check(peers->size() == 2 &&
                      ids == std::set<std::string>{alpha.peerId(), bravo.peerId()},
                  "client lists " + std::to_string(peers->size()) + " peers");
        evidence("S3: client sees " + std::to_string(rows.size()) +
                 " remote games once each, peer_count:" + counted + "; 2 peers, no self entry");
    }

    // S4: an empty client downloads bfbc2 from bravo with install=false.
    void S4_singleSourceDownloadNoInstall() {
        Lab &lab = newLab("S4");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(bravo);
        waitRemote(client, "bfbc2", 1);

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"bfbc2","install":false})");
        const std::size_t got =
            client.waitEventIndex("got-game-files", forGame("bfbc2"), 30s, from);
        const std::size_t begin =
            client.waitEventIndex("download-begin", forGame("bfbc2"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "bfbc2", from, 60s);
        lab.check(got < begin && begin < end,
                  "events out of order: got-game-files@" + std::to_string(got) +
                      " download-begin@" + std::to_string(begin) + " end@" + std::to_string(end));
        auto t = verifyTransfer(client, "bfbc2", bravo.gameRoot("bfbc2"), from, end);
        checkFileList(client.logAt(got).object, bravo.gameRoot("bfbc2"));

        lab.waitUntil([&] { return idle(client, "bfbc2"); }, 10s, "bfbc2 operation ends");
        Json local = localGame(client, "bfbc2");
        lab.check(!local.isNull() && local->getValue<bool>("downloaded") &&
                      !local->getValue<bool>("installed") && str(local, "availability") == "Ready",
                  "local bfbc2 is " + toJson(local));
        lab.check(!fs::exists(client.gameRoot("bfbc2") + "/local"),
                  "local/ exists after install=false");
        lab.check(client.events("install-begin").empty(), "an install began");
        evidence(
            "S4: bfbc2 " + std::to_string(t.sizes.size()) + " files " + std::to_string(t.total) +
            " B from bravo, install=false: got-game-files < " +
            "download-begin < download-finished, downloaded=true installed=false, no local/, " +
            t.sha("bfbc2.eti"));
    }

    // S7: ggoo is shared by alpha and bravo; metadata comes from both, the download commits
    // exactly once, every chunk comes from the two sources and none twice.
    void S7_duplicateSourceMajorityDownload() {
        Lab &lab = newLab("S7");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        client.connect(bravo);
        waitRemote(client, "ggoo", 2);
        lab.check(manifest(alpha.gameRoot("ggoo")) == manifest(bravo.gameRoot("ggoo")),
                  "fixture: ggoo differs between alpha and bravo");

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"ggoo"})"); // install defaults to true
        Json got = client.waitEvent("got-game-files", forGame("ggoo"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "ggoo", from, 60s);
        auto t = verifyTransfer(client, "ggoo", alpha.gameRoot("ggoo"), from, end);
        const std::size_t installed =
            client.findAnyEvent({"install-finished", "install-failed"}, forGame("ggoo"), 60s, end);
        lab.check(installed != Peer::npos && client.logAt(installed).name == "install-finished",
                  "ggoo install did not finish");

        std::set<std::string> metaPeers;
        JsonArray ids = got->getArray("peer_ids");
        for (std::size_t i = 0; ids && i < ids->size(); ++i)
            metaPeers.insert(ids->getElement<std::string>(static_cast<unsigned>(i)));
        const std::set<std::string> both{alpha.peerId(), bravo.peerId()};
        lab.check(metaPeers == both, "got-game-files names " + std::to_string(metaPeers.size()) +
                                         " peers: " + toJson(got));
        Json begin = client.events("download-begin", forGame("ggoo"), from).at(0);
        lab.check(begin->getArray("peers")->size() == 2, "download-begin " + toJson(begin));
        for (const auto &[peer, bytes] : t.chunks.bytesByPeer)
            lab.check(both.count(peer) == 1, "a chunk came from " + peer);
        // Committed once: one begin, one finish, no failure, in the whole log.
        lab.check(client.events("download-begin", forGame("ggoo")).size() == 1, "two begins");
        lab.check(client.events("download-finished", forGame("ggoo")).size() == 1, "two finishes");
        lab.check(client.events("download-failed", forGame("ggoo")).empty(), "a failure");
        lab.waitUntil([&] { return idle(client, "ggoo"); }, 10s, "ggoo operation ends");
        Json local = localGame(client, "ggoo");
        lab.check(!local.isNull() && local->getValue<bool>("downloaded") &&
                      local->getValue<bool>("installed"),
                  "local ggoo is " + toJson(local));
        lab.check(fs::exists(client.gameRoot("ggoo") + "/local/fixture-payload.txt"),
                  "ggoo local/fixture-payload.txt missing after install");
        lab.check(manifest(client.gameRoot("ggoo")) == manifest(bravo.gameRoot("ggoo")),
                  "ggoo differs from bravo's");
        evidence("S7: ggoo metadata from 2 peers (alpha,bravo), committed once: " +
                 std::to_string(t.chunks.events) + " chunks " + std::to_string(t.total) +
                 " B, sources " + describeBytes(t.sources, labelsOf({&alpha, &bravo})) +
                 ", no chunk twice, installed=true, == alpha == bravo, " + t.sha("ggoo.eti"));
    }

    // S8: two peers advertise alienswarm at the catalog version with conflicting sizes of the
    // same file: no majority, the download fails and nothing is committed.
    void S8_ambiguousMetadataRejection() {
        Lab &lab = newLab("S8");
        for (auto [peer, size] :
             {std::pair<const char *, uint64_t>{"alpha", 1000}, {"bravo", 2000}}) {
            const std::string root = lab.gamesDirOf(peer) + "/alienswarm";
            writeRandomFile(root + "/data.bin", size, 8);
            writeVersionIni(root);
        }
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        client.connect(bravo);
        waitRemote(client, "alienswarm", 2);

        const std::size_t from = client.logSize();
        Json result = client.command(R"({"cmd":"download","game":"alienswarm","install":false})");
        std::string error;
        if (result->optValue<bool>("ok", false)) {
            const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 30s);
            lab.check(client.logAt(end).name == "download-failed",
                      "expected download-failed, got " + client.logAt(end).line);
            error = str(client.logAt(end).object, "error");
        } else {
            error = toJson(result);
            lab.check(false,
                      "download was refused instead of failing with download-failed: " + error);
        }
        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s,
                      "the failed download's operation ends");
        client.drain(300ms);
        lab.check(client.events("download-finished").empty(), "a download-finished was emitted");
        lab.check(!fs::exists(client.gameRoot("alienswarm") + "/version.ini"),
                  "a version.ini was committed");
        Json local = localGame(client, "alienswarm");
        lab.check(local.isNull() || !local->getValue<bool>("downloaded"),
                  "alienswarm is listed as " + toJson(local));
        evidence("S8: alienswarm data.bin 1000 B (alpha) vs 2000 B (bravo) -> download-failed (" +
                 error + "), no version.ini, operation cleared");
    }

    // S9: a game none of the connected peers has: the command fails with no-peers-have-game,
    // the event is emitted and nothing is created.
    void S9_missingGame() {
        Lab &lab = newLab("S9");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        waitRemote(client, "ggoo", 1);
        const std::size_t from = client.logSize();
        const std::string code = client.commandError(R"({"cmd":"download","game":"cod5"})");
        lab.check(code == "no-peers-have-game", "download cod5 failed with '" + code + "'");
        client.waitEvent("no-peers-have-game", forGame("cod5"), 5s, from);
        client.drain(500ms);
        for (const char *kind : {"got-game-files", "download-begin", "download-failed",
                                 "download-finished", "install-begin"})
            lab.check(client.events(kind).empty(), std::string("a ") + kind + " event came");
        std::size_t entries = 0;
        for (auto it = fs::directory_iterator(client.gamesDir()); it != fs::directory_iterator();
             ++it)
            ++entries;
        lab.check(entries == 0,
                  "the client's games dir has " + std::to_string(entries) + " entries");
        lab.check(idle(client, "cod5"), "cod5 is busy");
        evidence("S9: download cod5 (no peer has it) -> command error no-peers-have-game + event, "
                 "games dir still empty, no transfer events");
    }

    // S13: a small and a large download (nested paths, an empty file, a non-chunk-aligned
    // size): every transferred regular file equals its source by SHA-256, none extra or missing.
    void S13_exactTransferredFileEquality() {
        Lab &lab = newLab("S13");
        fx::writeGame(lab.gamesDirOf("source"), "bfbc2");
        const std::string big = lab.gamesDirOf("source") + "/alienswarm";
        writeRandomFile(big + "/" + kEti, 64 * kMiB + 12345, 13);
        writeRandomFile(big + "/maps/deep/level01.bsp", kMiB + 3, 1313);
        writeWholeFile(big + "/empty.dat", "");
        writeWholeFile(big + "/notes.txt", "S13 fixture\n");
        writeVersionIni(big);
        Peer &source = lab.startPeer("source");
        Peer &client = lab.startPeer("client");
        client.connect(source);
        waitRemote(client, "alienswarm", 1);

        std::string line = "S13:";
        for (const std::string game : {"bfbc2", "alienswarm"}) {
            const std::size_t from = client.logSize();
            client.commandOk(R"({"cmd":"download","game":")" + game + R"(","install":false})");
            const std::size_t got =
                client.waitEventIndex("got-game-files", forGame(game), 30s, from);
            const std::size_t end = waitDownloadEnd(client, game, from, 60s);
            auto t = verifyTransfer(client, game, source.gameRoot(game), from, end);
            checkFileList(client.logAt(got).object, source.gameRoot(game));
            lab.waitUntil([&] { return idle(client, game); }, 10s, game + " operation ends");
            // Exactly the source's files: the same names, sizes and hashes, nothing else.
            lab.check(fileSizes(client.gameRoot(game)) == t.sizes, game + ": file sizes differ");
            line += " " + game + " " + std::to_string(t.sizes.size()) + " files " +
                    std::to_string(t.total) + " B (" + std::to_string(t.chunks.events) +
                    " chunks) " + t.sha(game == "bfbc2" ? "bfbc2.eti" : kEti) + ";";
        }
        evidence(line + " no extra or missing files");
    }

    // S14: alpha has a 128-chunk alienswarm.eti; bravo downloads it, then charlie downloads it
    // from both: the .eti splits between them in whole chunks, each serving at least a quarter
    // (both pull their weight), the per-source bytes sum to its size, and both copies equal
    // the source. Both sources are capped at 32 MiB/s, so the split follows two equal links,
    // not which daemon these 2 CPUs schedule first.
    void S14_largeMultiPeerChunkedDownload() {
        Lab &lab = newLab("S14");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 14);
        Peer &alpha = lab.startPeer("alpha", peerIni(32));
        Peer &bravo = lab.startPeer("bravo", peerIni(32));
        Peer &charlie = lab.startPeer("charlie");

        bravo.connect(alpha);
        waitRemote(bravo, "alienswarm", 1);
        std::size_t from = bravo.logSize();
        bravo.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        std::size_t end = waitDownloadEnd(bravo, "alienswarm", from, 60s);
        auto first = verifyTransfer(bravo, "alienswarm", alpha.gameRoot("alienswarm"), from, end);
        lab.waitUntil([&] { return idle(bravo, "alienswarm"); }, 10s, "bravo's download ends");

        charlie.connect(alpha);
        charlie.connect(bravo);
        waitRemote(charlie, "alienswarm", 2);
        from = charlie.logSize();
        charlie.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        end = waitDownloadEnd(charlie, "alienswarm", from, 60s);
        auto t = verifyTransfer(charlie, "alienswarm", alpha.gameRoot("alienswarm"), from, end);

        const uint64_t a = t.chunks.bytesOf(alpha.peerId(), kEti);
        const uint64_t b = t.chunks.bytesOf(bravo.peerId(), kEti);
        lab.check(a + b == kBigEti, "the .eti chunks sum to " + std::to_string(a + b));
        const int aChunks = t.chunks.chunks(alpha.peerId(), kEti),
                  bChunks = t.chunks.chunks(bravo.peerId(), kEti);
        lab.check(a == uint64_t(aChunks) * kChunk && b == uint64_t(bChunks) * kChunk &&
                      4 * a >= kBigEti && 4 * b >= kBigEti,
                  "the .eti split is alpha " + std::to_string(a) + " B (" +
                      std::to_string(aChunks) + " chunks) / bravo " + std::to_string(b) + " B (" +
                      std::to_string(bChunks) + " chunks), not at least a quarter each");
        const double mibps = t.finished->getValue<double>("mib_per_s");
        evidence("S14: " + kEti + " " + std::to_string(kBigEti) + " B split " + std::to_string(a) +
                 "/" + std::to_string(b) +
                 " between 2 sources (alpha/bravo, bravo's copy downloaded from alpha in " +
                 std::to_string(u64(first.finished, "duration_ms")) + " ms), sources " +
                 describeBytes(t.sources, labelsOf({&alpha, &bravo})) + ", " +
                 std::to_string(static_cast<int>(mibps)) + " MiB/s, " + t.sha(kEti));
    }

    // S18: two sources, one killed -9 mid-download: the download still finishes from the
    // survivor, no download-failed anywhere, the copy is exact. bravo is capped at 4 MiB/s and
    // alpha at 32 MiB/s, so the 128 chunks take about 4 s and bravo, sharing 4 MiB/s among the
    // chunks it has in flight, always holds unfinished ones: it is killed once alpha has
    // verified a chunk and a download-progress event counts both sources active.
    void S18_midDownloadSourceDropWithRedundancy() {
        Lab &lab = newLab("S18");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 18);
        fs::create_directories(lab.gamesDirOf("bravo") + "/alienswarm");
        for (const std::string &f : {kEti, std::string("version.ini")})
            fs::create_hard_link(lab.gamesDirOf("alpha") + "/alienswarm/" + f,
                                 lab.gamesDirOf("bravo") + "/alienswarm/" + f);
        Peer &alpha = lab.startPeer("alpha", peerIni(32, kPeerTimeoutMs));
        Peer &bravo = lab.startPeer("bravo", peerIni(4, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        client.connect(alpha);
        client.connect(bravo);
        waitRemote(client, "alienswarm", 2);
        const std::string bravoId = bravo.peerId();

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        client.waitEventIndex("download-begin", forGame("alienswarm"), 30s, from);
        client.waitEventIndex(
            "download-chunk-finished",
            [&](const Json &e) { return str(e, "peer_id") == alpha.peerId(); }, 30s, from);
        // Progress comes every 500 ms, alpha's first 1 MiB within tens of ms: wait for the
        // first count of two streaming sources.
        client.waitEventIndex(
            "download-progress",
            [](const Json &e) {
                return str(e, "game") == "alienswarm" && u64(e, "active_peers") == 2;
            },
            30s, from);
        bravo.kill9();
        const std::size_t killedAt = client.logSize();
        lab.check(client.events("download-finished", forGame("alienswarm"), from).empty(),
                  "the download finished before bravo was killed: not mid-download");
        // bravo was streaming when it died: progress counted both sources active.
        uint64_t activeBeforeKill = 0;
        for (const auto &e :
             client.events("download-progress", forGame("alienswarm"), from, killedAt))
            activeBeforeKill = std::max(activeBeforeKill, u64(e, "active_peers"));
        lab.check(activeBeforeKill == 2, "before the kill download-progress counted at most " +
                                             std::to_string(activeBeforeKill) +
                                             " active sources: bravo was not serving");
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", alpha.gameRoot("alienswarm"), from, end);
        client.drain(300ms);
        // Whole-window negative checks (not just after the kill).
        lab.check(client.events("download-failed").empty(), "download-failed was emitted");
        lab.check(client.events("download-peers-gone").empty(), "download-peers-gone was emitted");
        lab.check(client.events("download-finished", forGame("alienswarm")).size() == 1,
                  "download-finished count != 1");
        lab.check(t.chunks.bytesOf(alpha.peerId()) + t.chunks.bytesOf(bravoId) == t.total,
                  "bytes come from somewhere else than alpha and bravo");
        // bravo (4 MiB/s over the chunks it had in flight) verified few before the kill; alpha
        // served every other chunk, the ones bravo held unfinished included (nothing else
        // could finish them: bravo is gone).
        const int bravoEti = t.chunks.chunks(bravoId, kEti);
        const int alphaEti = t.chunks.chunks(alpha.peerId(), kEti);
        lab.check(bravoEti + alphaEti == kBigEtiChunks,
                  "the .eti chunks do not add up to " + std::to_string(kBigEtiChunks));
        const bool lost =
            !client.events("peer-lost", [&](const Json &e) { return str(e, "peer_id") == bravoId; })
                 .empty();
        evidence("S18: bravo killed -9 while streaming (active_peers=2) after alpha's first "
                 "chunk (bravo had " +
                 std::to_string(bravoEti) + " chunks verified); " + kEti + " " +
                 std::to_string(kBigEti) + " B finished: alpha " + std::to_string(alphaEti) +
                 " .eti chunks, sources " +
                 describeBytes(t.sources, {{alpha.peerId(), "alpha"}, {bravoId, "bravo"}}) + "; " +
                 (lost ? "peer-lost bravo; " : "") +
                 "no download-failed/peers-gone in the whole log; " + t.sha(kEti));
    }

    // S19: the sole source is killed -9 mid-download: download-failed (after
    // download-peers-gone), nothing committed nor advertised, the operation clears so a new
    // download command is answered (no-peers-have-game: the source is gone).
    void S19_midDownloadSoleSourceDrop() {
        Lab &lab = newLab("S19");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 19);
        Peer &alpha = lab.startPeer("alpha", peerIni(16, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);
        const std::string alphaId = alpha.peerId();

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        client.waitEventIndex("download-chunk-finished", forGame("alienswarm"), 30s, from);
        alpha.kill9();
        lab.check(client.events("download-finished", {}, from).empty(),
                  "the download finished before the source was killed");
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 30s);
        lab.check(client.logAt(end).name == "download-failed",
                  "expected download-failed, got " + client.logAt(end).line);
        const std::string error = str(client.logAt(end).object, "error");
        const auto gone = client.events("download-peers-gone", forGame("alienswarm"), from);
        lab.check(gone.size() == 1, std::to_string(gone.size()) + " download-peers-gone events");

        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s,
                      "active operations clear after the failure");
        Json lastOps;
        for (const auto &e : client.events("active-operations"))
            lastOps = e;
        lab.check(!lastOps.isNull() && !lastOps->getObject("operations")->has("alienswarm"),
                  "the last active-operations event still lists alienswarm: " + toJson(lastOps));
        client.drain(300ms);
        lab.check(client.events("download-finished").empty(), "a download-finished was emitted");
        lab.check(!fs::exists(client.gameRoot("alienswarm") + "/version.ini"),
                  "a version.ini was committed");
        Json local = localGame(client, "alienswarm");
        lab.check(local.isNull() || (!local->getValue<bool>("downloaded") &&
                                     str(local, "availability") != "Ready"),
                  "the partial alienswarm is listed as " + toJson(local));
        // A retry is possible: the command is answered, and says the source is gone.
        lab.waitUntil([&] { return client.listPeers()->size() == 0; }, 10s,
                      "the killed source leaves the peer list");
        const std::string code =
            client.commandError(R"({"cmd":"download","game":"alienswarm","install":false})");
        lab.check(code == "no-peers-have-game", "the retry was answered '" + code + "'");
        const uint64_t verified = tallyChunks(client, "alienswarm", from).bytes;
        evidence("S19: sole source killed -9 after " + std::to_string(verified) +
                 " B verified -> download-peers-gone + download-failed (" + error +
                 "), no version.ini, not advertised, operation cleared, retry -> " + code);
    }

    // S26: a second download of a game being downloaded is refused (operation-in-progress);
    // the first one still finishes with an exact copy. alpha is capped at 32 MiB/s, so the
    // 128 MiB download takes seconds and is surely running when the second command comes.
    void S26_sameGameDuplicateDownloadRejection() {
        Lab &lab = newLab("S26");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 26);
        Peer &alpha = lab.startPeer("alpha", peerIni(32));
        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        const std::string code =
            client.commandError(R"({"cmd":"download","game":"alienswarm","install":false})");
        lab.check(code == "operation-in-progress", "the second download got '" + code + "'");
        Json ops = client.status()->getObject("active_operations");
        lab.check(!ops.isNull() && ops->has("alienswarm") &&
                      ops->get("alienswarm").toString() == "Downloading",
                  "status active_operations: " + toJson(ops));
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", alpha.gameRoot("alienswarm"), from, end);
        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s, "the download ends");
        client.drain(300ms);
        lab.check(client.events("download-begin", forGame("alienswarm")).size() == 1,
                  "more than one download-begin");
        lab.check(client.events("download-finished", forGame("alienswarm")).size() == 1,
                  "more than one download-finished");
        lab.check(client.events("download-failed").empty(), "a download-failed was emitted");
        lab.check(t.chunks.duplicates() == 0, "a chunk was fetched twice");
        evidence("S26: second download of alienswarm while Downloading -> " + code +
                 "; the first finished once, " + std::to_string(t.total) + " B in " +
                 std::to_string(u64(t.finished, "duration_ms")) + " ms, " + t.sha(kEti));
    }

    // S27: connecting to one's own listener fails with self-connect and records no peer; a
    // twin with the same identity on another port is refused by the handshake the same way.
    void S27_selfConnectRejection() {
        Lab &lab = newLab("S27");
        Peer &solo = lab.startPeer("solo");
        const std::string code =
            solo.commandError(R"({"cmd":"connect","addr":")" + solo.listenAddr() + R"("})");
        lab.check(code == "self-connect", "connect to own address got '" + code + "'");
        lab.check(solo.listPeers()->size() == 0, "a peer was recorded");

        // The handshake's own guard (not the address compare): a second process with a copy
        // of solo's identity listens elsewhere; connecting to it reaches solo's own peer_id.
        Peer &twin = lab.addPeer("twin");
        fs::copy(lab.stateDirOf("solo"), lab.stateDirOf("twin"),
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        twin.start("twin", lab.gamesDirOf("twin"), lab.stateDirOf("twin"), lab.catalogPath());
        lab.check(twin.peerId() == solo.peerId(), "the twin did not take solo's identity");
        lab.check(twin.listenAddr() != solo.listenAddr(), "the twin listens on solo's address");
        const std::string twinCode =
            solo.commandError(R"({"cmd":"connect","addr":")" + twin.listenAddr() + R"("})");
        lab.check(twinCode == "self-connect",
                  "connect to a same-identity twin got '" + twinCode + "'");
        solo.drain(500ms);
        twin.drain(200ms);
        for (Peer *p : {&solo, &twin}) {
            lab.check(p->listPeers()->size() == 0, p->label() + " recorded a peer");
            for (const char *kind : {"peer-discovered", "peer-connected", "peer-updated"})
                lab.check(p->events(kind).empty(), p->label() + " emitted " + kind);
        }
        Json status = solo.status(); // still responsive
        lab.check(str(status, "peer_id") == solo.peerId(), "status answers another peer_id");
        evidence("S27: connect " + solo.listenAddr() + " (own) -> " + code +
                 "; connect to a same-identity twin at " + twin.listenAddr() + " -> " + twinCode +
                 "; no peer recorded on either, peer responsive");
    }

    // S48: bravo serves an alienswarm.eti whose bytes no longer match the chunk hashes it
    // advertises (every chunk corrupted after indexing, mtime and size restored); alpha is
    // honest. Every bad chunk is rejected naming bravo and refetched from alpha; the copy
    // equals alpha's; download-finished credits bravo with verified bytes only.
    void S48_corruptChunkFromOneSource() {
        Lab &lab = newLab("S48");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 48);
        fs::create_directories(lab.gamesDirOf("bravo") + "/alienswarm");
        for (const std::string &f : {kEti, std::string("version.ini")}) // copies, not links
            fs::copy_file(lab.gamesDirOf("alpha") + "/alienswarm/" + f,
                          lab.gamesDirOf("bravo") + "/alienswarm/" + f);
        Peer &alpha = lab.startPeer("alpha");
        Peer &bravo = lab.startPeer("bravo");
        for (Peer *p : {&alpha, &bravo})
            lab.waitUntil(
                [&] {
                    Json g = localGame(*p, "alienswarm");
                    return !g.isNull() && str(g, "availability") == "Ready";
                },
                20s, p->label() + " indexes alienswarm");
        const std::string bad = bravo.gameRoot("alienswarm") + "/" + kEti;
        const int corrupted = corruptEveryChunkKeepingMtime(bad);
        lab.check(corrupted == kBigEtiChunks, "corrupted " + std::to_string(corrupted) +
                                                  " chunks, not the " +
                                                  std::to_string(kBigEtiChunks) + " of " + kEti);
        lab.check(sha256File(bad) != sha256File(alpha.gameRoot("alienswarm") + "/" + kEti),
                  "the corruption did not change bravo's file");

        Peer &client = lab.startPeer("client");
        client.connect(alpha);
        client.connect(bravo);
        waitRemote(client, "alienswarm", 2);
        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", alpha.gameRoot("alienswarm"), from, end);
        client.drain(300ms);

        auto rejected = client.events("download-chunk-rejected", forGame("alienswarm"));
        lab.check(!rejected.empty(),
                  "no download-chunk-rejected: bravo's corrupt chunks were never detected "
                  "(or bravo re-indexed the corrupted file)");
        std::set<uint64_t> rejectedOffsets;
        for (const auto &r : rejected) {
            lab.check(str(r, "peer_id") == bravo.peerId(),
                      "a rejection names another peer: " + toJson(r));
            lab.check(str(r, "path") == kEti, "a rejection of another file: " + toJson(r));
            rejectedOffsets.insert(u64(r, "offset"));
        }
        // Each rejected chunk was refetched and verified from alpha.
        for (uint64_t offset : rejectedOffsets)
            lab.check(!client
                           .events("download-chunk-finished",
                                   [&](const Json &e) {
                                       return str(e, "path") == kEti &&
                                              u64(e, "offset") == offset &&
                                              str(e, "peer_id") == alpha.peerId();
                                   })
                           .empty(),
                      "rejected chunk at " + std::to_string(offset) + " not refetched from alpha");
        lab.check(t.chunks.chunks(bravo.peerId(), kEti) == 0,
                  "a corrupt chunk from bravo was accepted");
        lab.check(t.chunks.bytesOf(alpha.peerId(), kEti) == kBigEti,
                  "alpha served " + std::to_string(t.chunks.bytesOf(alpha.peerId(), kEti)) +
                      " B of the .eti");
        const auto sources = t.sources;
        const uint64_t bravoCredit = sources.count(bravo.peerId()) ? sources.at(bravo.peerId()) : 0;
        lab.check(bravoCredit == t.chunks.bytesOf(bravo.peerId()) && bravoCredit < kChunk,
                  "download-finished credits bravo with " + std::to_string(bravoCredit) + " B");
        lab.check(manifest(client.gameRoot("alienswarm")) != manifest(bravo.gameRoot("alienswarm")),
                  "the copy equals the corrupted source");
        evidence("S48: bravo's " + std::to_string(kBigEtiChunks) +
                 " .eti chunks corrupted (hashes kept); " + std::to_string(rejected.size()) +
                 " chunk(s) rejected, all naming bravo, " + "refetched from alpha; sources " +
                 describeBytes(sources, labelsOf({&alpha, &bravo})) + "; copy == honest alpha, " +
                 t.sha(kEti));
    }

    // S49: the receiver is killed -9 after half of the 128 .eti chunks (alpha capped at
    // 16 MiB/s, so the download takes 8 s) and restarted on the same dirs; the second download
    // fetches only what is missing (< 60 % of the total) and the copy is exact.
    void S49_resumeAfterReceiverRestart() {
        Lab &lab = newLab("S49");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), kBigEti, 49);
        Peer &alpha = lab.startPeer("alpha", peerIni(16, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);
        const uint64_t total = totalSize(fileSizes(alpha.gameRoot("alienswarm")));

        std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        std::size_t at = from;
        for (int i = 0; i < kBigEtiChunks / 2; ++i)
            at = client.waitEventIndex(
                     "download-chunk-finished",
                     [](const Json &e) { return str(e, "path") == kEti; }, 60s, at) +
                 1;
        client.kill9();
        lab.check(client.events("download-finished", {}, from).empty(),
                  "run 1 finished before the kill: not mid-download");
        const auto run1 = tallyChunks(client, "alienswarm", from);
        const int run1Eti = run1.chunks(alpha.peerId(), kEti);
        lab.check(run1Eti >= kBigEtiChunks / 2 && run1Eti < kBigEtiChunks,
                  std::to_string(run1Eti) + " .eti chunks in run 1");
        lab.check(!fs::exists(client.gameRoot("alienswarm") + "/version.ini"),
                  "version.ini exists after the kill");

        client.restart();
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);
        from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        Json begin = client.waitEvent("download-begin", forGame("alienswarm"), 60s, from);
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        auto t = verifyTransfer(client, "alienswarm", alpha.gameRoot("alienswarm"), from, end);
        const uint64_t fetched = u64(t.finished, "bytes");
        const uint64_t resumed = u64(begin, "bytes_resumed");
        lab.check(resumed >= uint64_t(run1Eti) * kChunk,
                  "run 2 resumed " + std::to_string(resumed) + " B but run 1 verified " +
                      std::to_string(run1Eti) + " .eti chunks");
        lab.check(fetched + resumed == total, "fetched " + std::to_string(fetched) + " + resumed " +
                                                  std::to_string(resumed) + " != total " +
                                                  std::to_string(total));
        lab.check(fetched > 0 && double(fetched) < 0.6 * double(total),
                  "run 2 fetched " + std::to_string(fetched) + " of " + std::to_string(total) +
                      " B");
        // No chunk verified in run 1 was fetched again.
        for (const auto &[key, n] : t.chunks.times)
            lab.check(run1.times.count(key) == 0 || key.first != kEti,
                      "chunk " + key.first + "@" + std::to_string(key.second) +
                          " was fetched in both runs");
        char pct[16];
        std::snprintf(pct, sizeof pct, "%.1f", 100.0 * double(fetched) / double(total));
        evidence("S49: run 1 killed -9 after " + std::to_string(run1Eti) + " of " +
                 std::to_string(kBigEtiChunks) + " chunks (" + std::to_string(run1.bytes) +
                 " B verified); run 2 resumed " + std::to_string(resumed) + " B, fetched " +
                 std::to_string(fetched) + " B (" + pct + "% of " + std::to_string(total) + "), " +
                 t.sha(kEti));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PeerScenariosTest);
