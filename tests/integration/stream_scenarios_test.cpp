// The streamed-install scenarios (docs/scenarios.md, S39-S47 and their lettered variants):
// `stream-install` between real lanspreadd processes on 127.0.0.1, driven through frontend-cli.
// The receiver never stores an archive: the root .eti chunks arrive in archive order, are
// verified and fed to the unpacker, and local/ is promoted at the end, so the game ends
// installed, not downloaded (LocalOnly). Every installed tree is compared by SHA-256 with what
// the archive holds (the entries the test wrote, or the manifest of the tar it generated);
// the bytes each source served come from download-finished.sources and must agree with the
// download-chunk-finished events; every failure must leave nothing (no local/, no staging, no
// root the attempt created). Sources that are killed or cancelled mid-stream are capped
// (upload_limit_mib_s), so "mid-stream" is a property of the setup, not a race. One CppUnit
// test and one ctest per scenario, one evidence line each (S39:, S39b:, ...).
#include "scenario_support.hpp"
#include "stream_fixtures.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

const std::string kGame = "alienswarm";

// A receiver that can unpack zip only through unpacker-zip (Poco), not libarchive.
const char *const kZipOnlyPlugins =
    "org.lanspread.frontend.cli,org.lanspread.transport.quic,org.lanspread.unpacker.zip";

// Every event a transfer or an install emits.
const std::set<std::string> kGameEvents{
    "got-game-files",          "download-begin",     "download-progress", "download-chunk-finished",
    "download-chunk-rejected", "download-finished",  "download-failed",   "download-peers-gone",
    "download-cancelled",      "no-peers-have-game", "install-begin",     "install-finished",
    "install-failed"};

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}
std::string mibText(uint64_t bytes) {
    return fixed(static_cast<double>(bytes) / double(kMiB), 1) + " MiB";
}

// The names of a peer's game events (kGameEvents) of game in the log window [from, to), as
// "name@index", for messages and negative checks.
std::vector<std::string> gameEvents(const Peer &peer, const std::string &game, std::size_t from,
                                    std::size_t to = Peer::npos) {
    std::vector<std::string> out;
    for (std::size_t i = from; i < peer.logSize() && i < to; ++i) {
        const auto &e = peer.logAt(i);
        if (kGameEvents.count(e.name) && str(e.object, "game") == game)
            out.push_back(e.name + "@" + std::to_string(i));
    }
    return out;
}
std::string joinList(const std::vector<std::string> &items) {
    std::string s;
    for (const auto &i : items)
        s += (s.empty() ? "" : " ") + i;
    return s.empty() ? "none" : s;
}

// The label's root of kGame in the lab (whether or not it exists yet).
std::string gameRootOf(Lab &lab, const std::string &label) {
    return lab.gamesDirOf(label) + "/" + kGame;
}

// Writes an archive of entries at path, its dir created first.
void writeArchiveAt(const std::string &path, fx::Format format,
                    const std::vector<fx::Entry> &entries) {
    fs::create_directories(fs::path(path).parent_path());
    fx::writeArchive(path, format, entries);
}

// dst/<kGame> as hard links of src/<kGame>: a second complete source on no extra disk.
void linkGame(const std::string &srcGames, const std::string &dstGames) {
    fs::create_directories(dstGames + "/" + kGame);
    for (const auto &entry : fs::directory_iterator(srcGames + "/" + kGame))
        fs::create_hard_link(entry.path(),
                             dstGames + "/" + kGame + "/" + entry.path().filename().string());
}
// dst/<kGame> as copies (a source whose bytes the test then changes).
void copyGame(const std::string &srcGames, const std::string &dstGames) {
    fs::create_directories(dstGames + "/" + kGame);
    for (const auto &entry : fs::directory_iterator(srcGames + "/" + kGame))
        fs::copy_file(entry.path(),
                      dstGames + "/" + kGame + "/" + entry.path().filename().string());
}

// The root archives of a game root: name -> size, the bytes a stream must fetch.
std::map<std::string, uint64_t> archivesOf(const std::string &root) {
    std::map<std::string, uint64_t> out;
    for (const auto &entry : fs::directory_iterator(root)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name.size() > 4 && name.substr(name.size() - 4) == ".eti")
            out[name] = entry.file_size();
    }
    return out;
}
// Finishes alpha's game root, whose archives the caller wrote: version.ini last. Returns its
// root archives.
std::map<std::string, uint64_t> finishAlphaRoot(Lab &lab) {
    writeVersionIni(gameRootOf(lab, "alpha"));
    return archivesOf(gameRootOf(lab, "alpha"));
}
// alpha's game root holding one archive, kEti, of entries in format (finished, see
// finishAlphaRoot). Returns its root archives.
std::map<std::string, uint64_t> writeAlphaGame(Lab &lab, fx::Format format,
                                               const std::vector<fx::Entry> &entries) {
    writeArchiveAt(gameRootOf(lab, "alpha") + "/" + kEti, format, entries);
    return finishAlphaRoot(lab);
}
// The download-chunk-finished events of game in [from, to) in arrival order, as
// "<path>@<offset in MiB>" (the path left out while it stays the same), for messages.
std::string chunkSequence(const Peer &peer, const std::string &game, std::size_t from,
                          std::size_t to) {
    std::string s, path;
    for (const auto &e : peer.events("download-chunk-finished", forGame(game), from, to)) {
        s += " ";
        if (str(e, "path") != path) {
            path = str(e, "path");
            s += path + "@";
        }
        s += std::to_string(u64(e, "offset") / kMiB);
    }
    return s;
}

// "{ name:bytes ... }" of a map by file name.
std::string describeSizes(const std::map<std::string, uint64_t> &bytes) {
    std::string s = "{";
    for (const auto &[name, n] : bytes)
        s += " " + name + ":" + std::to_string(n);
    return s + " }";
}
uint64_t sumOf(const std::map<std::string, uint64_t> &bytes) {
    uint64_t total = 0;
    for (const auto &[key, n] : bytes)
        total += n;
    return total;
}

// What one stream-install saw.
struct StreamRun {
    std::size_t from = 0;                    // the log index before the command
    std::size_t end = Peer::npos;            // its terminal event
    std::size_t finishedAt = Peer::npos;     // download-finished
    Json accepted;                           // the command's data
    ChunkTally chunks;                       // download-chunk-finished in [from, download-finished)
    std::map<std::string, uint64_t> sources; // download-finished.sources
    Json installed;                          // install-finished
    Manifest local;                          // the receiver's local/

    std::string endName(const Peer &peer) const {
        return end == Peer::npos ? std::string("nothing") : peer.logAt(end).name;
    }
    // "sha256 <path>=<first 12 hex digits> ok", for evidence lines.
    std::string sha(const std::string &path) const {
        auto it = local.find(path);
        return "sha256 local/" + path + "=" +
               (it == local.end() ? std::string("?") : it->second.substr(0, 12)) + " ok";
    }
};

} // namespace

class StreamScenariosTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(StreamScenariosTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "stream_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    // S39: a RAR5 (store) alienswarm.eti with files under bin/ and data/, from two Ready
    // sources (each capped at 12 MiB/s, so both serve): every contract event in order; the
    // result is installed, not downloaded, LocalOnly, and its root holds only local/; local/
    // equals the archive's entries and charlie's ordinary download+install of the same
    // archive; download-finished.sources sums to the archive's bytes, credits both sources
    // and agrees with the chunk events.
    void S39_streamInstallFromTwoSources() {
        Lab &lab = newLab("S39");
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/alienswarm.exe", fx::pseudoRandom(3 * kMiB + 12345, 391)),
            fx::fileEntry("bin/launcher.cfg", "fullscreen=1\nwidth=1920\n"),
            fx::fileEntry("data/pak0.pak", fx::pseudoRandom(16 * kMiB, 392)),
            fx::fileEntry("data/pak1.pak", fx::pseudoRandom(7 * kMiB + 77, 393)),
            fx::fileEntry("data/maps/empty.dat", ""),
        };
        const auto archives = writeAlphaGame(lab, fx::Format::Rar5Stored, entries);
        linkGame(lab.gamesDirOf("alpha"), lab.gamesDirOf("bravo"));
        Peer &alpha = lab.startPeer("alpha", peerIni(12));
        Peer &bravo = lab.startPeer("bravo", peerIni(12));
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha, &bravo});

        StreamRun run =
            streamInstalled(client, {&alpha, &bravo}, entriesManifest(entries), archives, true);
        lab.check(run.sources.size() == 2 && run.sources.count(alpha.peerId()) &&
                      run.sources.count(bravo.peerId()),
                  "not every source contributed: sources " +
                      describeBytes(run.sources, labelsOf({&alpha, &bravo})));

        // The same archive installed the ordinary way (download, then install from disk).
        Peer &charlie = lab.startPeer("charlie");
        connectSources(charlie, {&alpha});
        const std::size_t cFrom = charlie.logSize();
        charlie.commandOk(R"({"cmd":"download","game":")" + kGame + R"("})");
        const std::size_t cEnd = waitInstallEnd(charlie, kGame, cFrom, 60s);
        lab.check(charlie.logAt(cEnd).name == "install-finished",
                  "charlie's download+install ended with " + charlie.logAt(cEnd).line);
        const Manifest classic = manifest(charlie.gameRoot(kGame) + "/local");
        lab.check(classic == run.local, "the streamed local/ differs from charlie's download+"
                                        "install:" +
                                            manifestDiff(classic, run.local));
        checkJsonOnly(lab, client);
        evidence("S39: " + kEti + " (RAR5 stored, " + std::to_string(archives.at(kEti)) + " B, " +
                 std::to_string(run.chunks.events) +
                 " chunks) stream-installed from 2 sources: sources " +
                 describeBytes(run.sources, labelsOf({&alpha, &bravo})) + " = archive bytes, " +
                 "got-game-files < download-begin < install-begin < chunks < download-finished "
                 "< install-finished (files " +
                 std::to_string(u64(run.installed, "files")) + ", bytes " +
                 std::to_string(u64(run.installed, "bytes")) + "); LocalOnly downloaded=false, " +
                 "root {local}; local/ " + std::to_string(run.local.size()) +
                 " files == archive entries == charlie's download+install; " +
                 run.sha("data/pak0.pak"));
    }

    // S39b: two sources (8 MiB/s each) of a 64 MiB tar; bravo is killed -9 once a quarter of
    // the chunks are verified (some of them from bravo): the install still completes from
    // alpha, exact, with no failure event, and download-finished credits both.
    void S39b_sourceKilledMidStream() {
        Lab &lab = newLab("S39b");
        const Manifest expected = writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                                                 randomMembers("data", 2, 32 * kMiB, 3920));
        const auto archives = finishAlphaRoot(lab);
        linkGame(lab.gamesDirOf("alpha"), lab.gamesDirOf("bravo"));
        const uint64_t chunks = (archives.at(kEti) + kChunk - 1) / kChunk;
        Peer &alpha = lab.startPeer("alpha", peerIni(8, kPeerTimeoutMs));
        Peer &bravo = lab.startPeer("bravo", peerIni(8, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        connectSources(client, {&alpha, &bravo});
        const std::string bravoId = bravo.peerId();

        StreamRun run = startStream(client, 2);
        std::size_t at = run.from;
        uint64_t verified = 0, fromBravo = 0;
        while (verified < chunks / 4 || fromBravo == 0) {
            at = client.waitEventIndex("download-chunk-finished", forGame(kGame), 30s, at,
                                       "a quarter of the chunks, one from bravo") +
                 1;
            ++verified;
            fromBravo += str(client.logAt(at - 1).object, "peer_id") == bravoId ? 1 : 0;
        }
        bravo.kill9();
        lab.check(client.events("download-finished", forGame(kGame), run.from).empty(),
                  "the stream finished before bravo was killed: not mid-stream");
        waitStreamEnd(client, run, 90s);
        verifyInstalled(client, run, expected, archives, {&alpha, &bravo});
        client.drain(300ms);
        for (const char *kind : {"download-failed", "download-peers-gone", "install-failed"})
            lab.check(client.events(kind, forGame(kGame)).empty(),
                      std::string(kind) + " came although alpha stayed");
        lab.check(run.sources.count(alpha.peerId()) && run.sources.count(bravoId),
                  "download-finished does not credit both sources: " +
                      describeBytes(run.sources, {{alpha.peerId(), "alpha"}, {bravoId, "bravo"}}));
        checkJsonOnly(lab, client);
        evidence("S39b: bravo killed -9 after " + std::to_string(verified) + " of " +
                 std::to_string(chunks) + " chunks verified (" + std::to_string(fromBravo) +
                 " from bravo); install-finished from alpha, sources " +
                 describeBytes(run.sources, {{alpha.peerId(), "alpha"}, {bravoId, "bravo"}}) +
                 " = " + std::to_string(archives.at(kEti)) +
                 " B, no download-failed/peers-gone; local/ exact, " + run.sha("data/part1.bin"));
    }

    // S39c: the receiver's games dir is a 96 MiB tmpfs and the game a 60 MiB tar (pseudo-random,
    // so the archive is as large as what it installs): it fits once, not twice. `download`
    // is refused with insufficient-space (its message suggests stream-install) and leaves
    // nothing; `stream-install` installs it exactly. Needs root (the mount); skipped otherwise.
    void S39c_tmpfsFitsOnlyStreamed() {
        if (::geteuid() != 0) {
            evidence("S39c: SKIP: needs root to mount a tmpfs as the receiver's games dir");
            return;
        }
        Lab &lab = newLab("S39c");
        const Manifest expected = writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                                                 randomMembers("data", 3, 20 * kMiB, 3930));
        const auto archives = finishAlphaRoot(lab);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.addPeer("client");
        const std::string games = lab.gamesDirOf("client");
        mountTmpfs(client, 96);
        client.start("client", games, lab.stateDirOf("client"), lab.catalogPath());
        connectSources(client, {&alpha});
        const uint64_t freeBefore = freeBytesOf(games);
        lab.check(freeBefore > archives.at(kEti) && freeBefore < 2 * archives.at(kEti),
                  "fixture: " + std::to_string(freeBefore) + " B free for a " +
                      std::to_string(archives.at(kEti)) + " B archive: not once-but-not-twice");

        const std::size_t refusedFrom = client.logSize();
        const auto [code, message] =
            expectInsufficientSpace(client, R"({"cmd":"download","game":")" + kGame + R"("})");
        const auto refusedEvents = gameEvents(client, kGame, refusedFrom);
        lab.check(refusedEvents.empty(),
                  "the refused download emitted events: " + joinList(refusedEvents));
        lab.check(topLevelNames(games).empty(), "the refused download left {" +
                                                    join(topLevelNames(games)) +
                                                    "} in the games dir");
        lab.check(idle(client, kGame), "the refused download left an operation");

        StreamRun run = streamInstalled(client, {&alpha}, expected, archives);
        const uint64_t freeAfter = freeBytesOf(games);
        checkJsonOnly(lab, client);
        evidence("S39c: " + mibText(archives.at(kEti)) + " tar into a 96 MiB tmpfs (" +
                 mibText(freeBefore) + " free): download -> " + code + " (\"" + message +
                 "\"), nothing left; stream-install -> installed exactly (" +
                 std::to_string(run.local.size()) + " files), " + mibText(freeAfter) +
                 " free after, " + run.sha("data/part2.bin"));
    }

    // S40: a game the receiver stream-installed is not offered: delta, connected only to the
    // receiver, lists no remote row for it (or peer_count 0); download and stream-install of it
    // fail with no-peers-have-game and create nothing.
    void S40_streamedGameIsNotOffered() {
        Lab &lab = newLab("S40");
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/alienswarm.exe", fx::pseudoRandom(2 * kMiB + 400, 401)),
            fx::fileEntry("data/pak0.pak", fx::pseudoRandom(3 * kMiB, 402)),
        };
        const auto archives = writeAlphaGame(lab, fx::Format::Rar5Stored, entries);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});
        StreamRun run = streamInstalled(client, {&alpha}, entriesManifest(entries), archives);

        Peer &delta = lab.startPeer("delta");
        delta.connect(client);
        lab.waitUntil([&] { return delta.peerIds() == std::set<std::string>{client.peerId()}; },
                      10s, "delta lists the client");
        // What the client advertises for the game (if anything).
        std::string advertised = "nothing";
        JsonArray peers = delta.listPeers();
        JsonArray games = peers->getObject(0)->getArray("games");
        for (std::size_t i = 0; games && i < games->size(); ++i) {
            Json g = games->getObject(static_cast<unsigned>(i));
            if (str(g, "id") == kGame) {
                advertised = toJson(g);
                lab.check(str(g, "availability") != "Ready",
                          "the client advertises the streamed game Ready: " + advertised);
            }
        }
        const auto rows = remoteRows(delta);
        auto row = rows.find(kGame);
        if (row != rows.end())
            lab.check(u64(row->second, "peer_count") == 0,
                      "delta lists the streamed game as available: " + toJson(row->second));

        const std::size_t from = delta.logSize();
        const std::string download =
            delta.commandError(R"({"cmd":"download","game":")" + kGame + R"(","install":false})");
        lab.check(download == "no-peers-have-game", "delta's download got '" + download + "'");
        const std::string stream =
            delta.commandError(R"({"cmd":"stream-install","game":")" + kGame + R"("})");
        lab.check(stream == "no-peers-have-game", "delta's stream-install got '" + stream + "'");
        delta.waitEvent("no-peers-have-game", forGame(kGame), 5s, from);
        delta.drain(500ms);
        for (const char *kind : {"got-game-files", "download-begin", "download-chunk-finished",
                                 "download-failed", "install-begin"})
            lab.check(delta.events(kind).empty(), std::string("delta emitted ") + kind);
        lab.check(topLevelNames(delta.gamesDir()).empty(),
                  "delta's games dir holds {" + join(topLevelNames(delta.gamesDir())) + "}");
        lab.check(idle(delta, kGame), "delta has an operation on the game");
        JsonArray outbound = delta.status()->getArray("outbound_transfers");
        evidence("S40: client stream-installed " + kGame +
                 " (LocalOnly); delta connected only to the client sees " +
                 (row == rows.end()
                      ? std::string("no remote row")
                      : "peer_count " + std::to_string(u64(row->second, "peer_count"))) +
                 " (client advertises " + advertised + "): download -> " + download +
                 ", stream-install -> " + stream + ", games dir empty, no transfer events");
    }

    // S41: a solid 7z (LZMA, every file in one folder, its header at the end) stream-installs
    // exactly.
    void S41_solid7zStreamsExactly() {
        Lab &lab = newLab("S41");
        std::string text;
        while (text.size() < kMiB)
            text += "S41 solid 7z line " + std::to_string(text.size()) + "\n";
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/alienswarm.exe", fx::pseudoRandom(2 * kMiB + 4100, 411)),
            fx::fileEntry("data/pak0.pak", fx::pseudoRandom(3 * kMiB + 9, 412)),
            fx::fileEntry("data/readme.txt", text),
            fx::fileEntry("data/empty.dat", ""),
        };
        const auto archives = writeAlphaGame(lab, fx::Format::SevenZipSolid, entries);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});
        StreamRun run = streamInstalled(client, {&alpha}, entriesManifest(entries), archives);
        checkJsonOnly(lab, client);
        evidence("S41: " + kEti + " solid 7z (" + std::to_string(archives.at(kEti)) + " B, " +
                 std::to_string(run.chunks.events) + " chunks) stream-installed: local/ " +
                 std::to_string(run.local.size()) + " files == entries, LocalOnly, root {local}, " +
                 run.sha("data/pak0.pak"));
    }

    // S41b: a stored zip (24 MiB, libarchive's writer: data descriptors, central directory at
    // the end) stream-installed by a receiver whose only unpacker is unpacker-zip (Poco), so
    // that plugin reads the pathless, seeking source.
    void S41b_zipThroughTheZipPlugin() {
        Lab &lab = newLab("S41b");
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/alienswarm.exe", fx::pseudoRandom(4 * kMiB + 3, 4121)),
            fx::fileEntry("data/pak0.pak", fx::pseudoRandom(12 * kMiB, 4122)),
            fx::fileEntry("data/pak1.pak", fx::pseudoRandom(8 * kMiB - 5, 4123)),
            fx::fileEntry("data/config/settings.cfg", "lang=en\n"),
        };
        const auto archives = writeAlphaGame(lab, fx::Format::ZipStored, entries);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.addPeer("client");
        client.start("client", lab.gamesDirOf("client"), lab.stateDirOf("client"),
                     lab.catalogPath(), "", kZipOnlyPlugins);
        std::set<std::string> unpackers;
        JsonArray plugins = client.status()->getArray("plugins");
        for (std::size_t i = 0; plugins && i < plugins->size(); ++i) {
            Json p = plugins->getObject(static_cast<unsigned>(i));
            if (str(p, "kind").find("unpacker") != std::string::npos)
                unpackers.insert(str(p, "id"));
        }
        lab.check(unpackers == std::set<std::string>{"org.lanspread.unpacker.zip"},
                  "the client's unpackers are {" + join(unpackers) + "}, not unpacker-zip alone");
        connectSources(client, {&alpha});
        StreamRun run = streamInstalled(client, {&alpha}, entriesManifest(entries), archives);
        checkJsonOnly(lab, client);
        evidence("S41b: " + kEti + " stored zip (" + std::to_string(archives.at(kEti)) + " B, " +
                 std::to_string(run.chunks.events) +
                 " chunks) stream-installed with unpacker-zip as the only unpacker: local/ " +
                 std::to_string(run.local.size()) + " files == entries, " +
                 run.sha("data/pak1.pak"));
    }

    // S42: bravo serves an archive whose bytes no longer match the chunk hashes it advertises
    // (every chunk corrupted after indexing, size and mtime restored); alpha is honest and
    // capped at 16 MiB/s, so bravo is asked too. Every bad chunk is rejected naming bravo and
    // fetched from alpha before the unpacker reads it: local/ is exact, bravo is credited only
    // with verified bytes.
    void S42_corruptChunkCaughtBeforeExtraction() {
        Lab &lab = newLab("S42");
        const Manifest expected = writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                                                 randomMembers("data", 2, 24 * kMiB, 4200));
        const auto archives = finishAlphaRoot(lab);
        copyGame(lab.gamesDirOf("alpha"), lab.gamesDirOf("bravo"));
        Peer &alpha = lab.startPeer("alpha", peerIni(16));
        Peer &bravo = lab.startPeer("bravo");
        for (Peer *p : {&alpha, &bravo})
            lab.waitUntil(
                [&] {
                    Json g = localGame(*p, kGame);
                    return !g.isNull() && str(g, "availability") == "Ready";
                },
                20s, p->label() + " indexes " + kGame);
        const std::string bad = bravo.gameRoot(kGame) + "/" + kEti;
        const int corrupted = corruptEveryChunkKeepingMtime(bad);
        lab.check(sha256File(bad) != sha256File(alpha.gameRoot(kGame) + "/" + kEti),
                  "the corruption did not change bravo's file");

        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha, &bravo});
        StreamRun run = streamInstalled(client, {&alpha, &bravo}, expected, archives);
        client.drain(300ms);

        auto rejected = client.events("download-chunk-rejected", forGame(kGame), run.from);
        lab.check(!rejected.empty(), "no download-chunk-rejected: bravo's corrupt chunks were "
                                     "never asked for or never detected");
        std::set<uint64_t> offsets;
        for (const auto &r : rejected) {
            lab.check(str(r, "peer_id") == bravo.peerId() && str(r, "path") == kEti,
                      "a rejection names another peer or file: " + toJson(r));
            offsets.insert(u64(r, "offset"));
        }
        for (uint64_t offset : offsets)
            lab.check(!client
                           .events(
                               "download-chunk-finished",
                               [&](const Json &e) {
                                   return str(e, "path") == kEti && u64(e, "offset") == offset &&
                                          str(e, "peer_id") == alpha.peerId();
                               },
                               run.from)
                           .empty(),
                      "rejected chunk at " + std::to_string(offset) + " not fetched from alpha");
        lab.check(run.chunks.chunks(bravo.peerId(), kEti) == 0,
                  "a corrupt chunk from bravo was accepted");
        const uint64_t bravoCredit =
            run.sources.count(bravo.peerId()) ? run.sources.at(bravo.peerId()) : 0;
        lab.check(bravoCredit == 0, "download-finished credits bravo with " +
                                        std::to_string(bravoCredit) + " B of corrupt chunks");
        checkJsonOnly(lab, client);
        evidence("S42: bravo's " + std::to_string(corrupted) + " chunks corrupted (hashes kept); " +
                 std::to_string(rejected.size()) +
                 " chunk(s) rejected naming bravo (first at offset " +
                 std::to_string(*offsets.begin()) +
                 "), fetched from alpha before extraction; "
                 "sources " +
                 describeBytes(run.sources, labelsOf({&alpha, &bravo})) + "; local/ exact, " +
                 run.sha("data/part0.bin"));
    }

    // S43: stream-install of an installed game fails with already-installed and changes
    // nothing (local/ and the root equal before and after, no game event); stream-install of a
    // downloaded game fails with already-downloaded and changes nothing either.
    void S43_alreadyInstalledOrDownloaded() {
        Lab &lab = newLab("S43");
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/alienswarm.exe", fx::pseudoRandom(2 * kMiB + 43, 431)),
            fx::fileEntry("data/pak0.pak", fx::pseudoRandom(kMiB, 432)),
        };
        const auto archives = writeAlphaGame(lab, fx::Format::Rar5Stored, entries);
        fx::writeGame(lab.gamesDirOf("alpha"), "ggoo");
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});
        waitRemote(client, "ggoo", 1);
        StreamRun run = streamInstalled(client, {&alpha}, entriesManifest(entries), archives);

        const std::string root = client.gameRoot(kGame);
        const Manifest localBefore = manifest(root + "/local");
        const auto namesBefore = topLevelNames(root);
        const std::size_t from = client.logSize();
        const std::string installed =
            client.commandError(R"({"cmd":"stream-install","game":")" + kGame + R"("})");
        lab.check(installed == "already-installed",
                  "stream-install of the installed game got '" + installed + "'");
        client.drain(500ms);
        const auto after = gameEvents(client, kGame, from);
        lab.check(after.empty(), "the refused stream-install emitted " + joinList(after));
        lab.check(manifest(root + "/local") == localBefore,
                  "local/ changed:" + manifestDiff(localBefore, manifest(root + "/local")));
        lab.check(topLevelNames(root) == namesBefore,
                  "the root changed: {" + join(topLevelNames(root)) + "}");
        Json row = localGame(client, kGame);
        lab.check(flag(row, "installed") && str(row, "availability") == "LocalOnly",
                  "after the refusal the game is " + toJson(row));

        // A downloaded game: install it instead.
        std::size_t dFrom = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"ggoo","install":false})");
        const std::size_t dEnd = waitDownloadEnd(client, "ggoo", dFrom, 60s);
        lab.check(client.logAt(dEnd).name == "download-finished",
                  "ggoo's download ended with " + client.logAt(dEnd).line);
        lab.waitUntil([&] { return idle(client, "ggoo"); }, 10s, "ggoo's download ends");
        const Manifest ggooBefore = manifest(client.gameRoot("ggoo"));
        dFrom = client.logSize();
        const std::string downloaded =
            client.commandError(R"({"cmd":"stream-install","game":"ggoo"})");
        lab.check(downloaded == "already-downloaded",
                  "stream-install of the downloaded ggoo got '" + downloaded + "'");
        client.drain(500ms);
        const auto ggooAfter = gameEvents(client, "ggoo", dFrom);
        lab.check(ggooAfter.empty(), "the refused stream-install emitted " + joinList(ggooAfter));
        lab.check(manifest(client.gameRoot("ggoo")) == ggooBefore &&
                      !fs::exists(client.gameRoot("ggoo") + "/local"),
                  "ggoo's root changed");
        checkJsonOnly(lab, client);
        evidence("S43: stream-install of the installed " + kGame + " -> " + installed +
                 ", local/ (" + std::to_string(localBefore.size()) +
                 " files) and root unchanged by SHA-256, no event; stream-install of the "
                 "downloaded ggoo -> " +
                 downloaded + ", root unchanged, no local/");
    }

    // S44: the source's alienswarm.eti is a RAR5 archive whose first 64 KiB are intact and
    // the rest pseudo-random bytes; the source indexed it as it is, so every chunk verifies
    // and the unpacker cannot read it: download-failed, no download-finished or
    // install-finished, and nothing left (no local/, no staging, no root, no operation).
    void S44_unreadableArchiveRollsBack() {
        Lab &lab = newLab("S44");
        const std::vector<fx::Entry> entries{
            fx::fileEntry("bin/first.bin", fx::pseudoRandom(4 * kMiB, 441)),
            fx::fileEntry("data/second.bin", fx::pseudoRandom(8 * kMiB, 442)),
        };
        const std::string good = lab.dir() + "/good.rar";
        writeArchiveAt(good, fx::Format::Rar5Stored, entries);
        std::string bytes = readWholeFile(good);
        const std::size_t keep = 64 * 1024;
        bytes.replace(keep, bytes.size() - keep, fx::pseudoRandom(bytes.size() - keep, 0x44BAD));
        writeWholeFile(gameRootOf(lab, "alpha") + "/" + kEti, bytes);
        finishAlphaRoot(lab);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});

        StreamRun run = startStream(client, 1);
        waitStreamEnd(client, run, 60s);
        checkEndedWith(client, run, "download-failed");
        const std::string error = str(client.logAt(run.end).object, "error");
        const uint64_t verified = tallyChunks(client, kGame, run.from).bytes;
        checkRolledBack(client, run);
        checkJsonOnly(lab, client);
        evidence("S44: " + std::to_string(bytes.size()) + " B " + kEti +
                 " (RAR5 head, garbage body, chunk hashes consistent): " +
                 std::to_string(verified) + " B verified, then download-failed (" + error +
                 "); no download-finished/install-finished, no local/, no staging, no root, "
                 "no operation");
    }

    // S45: the only source of a 128 MiB tar (capped at 16 MiB/s) is killed -9 after the
    // first verified chunk: download-peers-gone, then download-failed, and nothing is left.
    void S45_soleSourceKilledRollsBack() {
        Lab &lab = newLab("S45");
        writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                       randomMembers("data", 4, 32 * kMiB, 4500));
        finishAlphaRoot(lab);
        Peer &alpha = lab.startPeer("alpha", peerIni(16, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        connectSources(client, {&alpha});

        StreamRun run = startStream(client, 1);
        client.waitEventIndex("download-chunk-finished", forGame(kGame), 30s, run.from);
        alpha.kill9();
        lab.check(client.events("download-finished", forGame(kGame), run.from).empty(),
                  "the stream finished before the source was killed");
        waitStreamEnd(client, run, 45s);
        checkEndedWith(client, run, "download-failed");
        const std::size_t gone =
            client.findEvent("download-peers-gone", forGame(kGame), 0ms, run.from);
        lab.check(gone != Peer::npos && gone < run.end,
                  "no download-peers-gone before download-failed");
        const std::string error = str(client.logAt(run.end).object, "error");
        const auto chunks = tallyChunks(client, kGame, run.from);
        checkRolledBack(client, run);
        checkJsonOnly(lab, client);
        evidence("S45: sole source killed -9 after " + std::to_string(chunks.events) +
                 " verified chunks of a 128 MiB tar -> download-peers-gone, download-failed (" +
                 error + "); no local/, no staging, no root, no operation");
    }

    // S46: cancel-download after the first verified chunk of a 128 MiB tar (source capped at
    // 16 MiB/s): download-cancelled, no failure event, nothing left.
    void S46_cancelRollsBack() {
        Lab &lab = newLab("S46");
        writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                       randomMembers("data", 4, 32 * kMiB, 4600));
        finishAlphaRoot(lab);
        Peer &alpha = lab.startPeer("alpha", peerIni(16));
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});

        StreamRun run = startStream(client, 1);
        client.waitEventIndex("download-chunk-finished", forGame(kGame), 30s, run.from);
        Json ops = client.status()->getObject("active_operations");
        const std::string operation =
            ops.isNull() || !ops->has(kGame) ? std::string("none") : ops->get(kGame).toString();
        lab.check(operation == "StreamInstalling",
                  "status active_operations during the stream: " + toJson(ops));
        client.commandOk(R"({"cmd":"cancel-download","game":")" + kGame + R"("})");
        waitStreamEnd(client, run, 30s);
        checkEndedWith(client, run, "download-cancelled");
        const auto chunks = tallyChunks(client, kGame, run.from);
        checkRolledBack(client, run);
        for (const char *kind : {"download-failed", "install-failed", "download-peers-gone"})
            lab.check(client.events(kind, forGame(kGame), run.from).empty(),
                      std::string("a cancelled stream emitted ") + kind);
        lab.check(alpha.running(), "alpha died");
        checkJsonOnly(lab, client);
        evidence("S46: cancel-download during StreamInstalling after " +
                 std::to_string(chunks.events) +
                 " verified chunks -> download-cancelled, no failure event; no local/, no "
                 "staging, no root, no operation");
    }

    // S46b: the receiver is killed -9 mid-stream (its staging dir exists, chunks arrive at
    // 16 MiB/s) and restarted on the same dirs: startup recovery leaves nothing (no local/,
    // no staging, no root), and a new stream-install installs the game exactly.
    void S46b_receiverKilledRecoversAtStartup() {
        Lab &lab = newLab("S46b");
        const Manifest expected = writeRandomTar(gameRootOf(lab, "alpha") + "/" + kEti,
                                                 randomMembers("data", 2, 32 * kMiB, 4620));
        const auto archives = finishAlphaRoot(lab);
        Peer &alpha = lab.startPeer("alpha", peerIni(16, kPeerTimeoutMs));
        Peer &client = lab.startPeer("client", peerIni(0, kPeerTimeoutMs));
        connectSources(client, {&alpha});
        const std::string root = client.gameRoot(kGame);

        StreamRun first = startStream(client, 1);
        client.waitEventIndex("download-chunk-finished", forGame(kGame), 30s, first.from);
        lab.waitUntil([&] { return fs::exists(root + "/.local.installing"); }, 10s,
                      "the stream's staging dir .local.installing appears");
        lab.waitUntil([&] { return treeBytes(root + "/.local.installing") > 0; }, 10s,
                      "the stream extracts into .local.installing");
        const uint64_t staged = treeBytes(root + "/.local.installing");
        const std::string leftAtKill = join(topLevelNames(root));
        client.kill9();
        lab.check(client.events("install-finished", forGame(kGame), first.from).empty(),
                  "the install finished before the kill");

        client.restart();
        const std::string afterRestart = join(topLevelNames(root));
        lab.check(!fs::exists(root), "after the restart the root holds {" + afterRestart + "}");
        Json row = localGame(client, kGame);
        lab.check(row.isNull() || (!flag(row, "installed") && !flag(row, "downloaded")),
                  "after the restart the game is " + toJson(row));
        lab.check(idle(client, kGame), "an operation survived the restart");

        connectSources(client, {&alpha});
        StreamRun run = streamInstalled(client, {&alpha}, expected, archives);
        checkJsonOnly(lab, client);
        evidence("S46b: receiver killed -9 mid-stream (root {" + leftAtKill + "}, " +
                 std::to_string(staged) +
                 " B staged); restart: recovery left no root, no local/, no staging; a new "
                 "stream-install installed it exactly (" +
                 std::to_string(run.local.size()) + " files), " + run.sha("data/part1.bin"));
    }

    // S47: two archives, b.eti written before a.eti, both holding common/settings.cfg with
    // different contents: they are installed in sorted order, so b.eti's copy wins; a.eti's
    // first chunk is verified before b.eti's first. a.eti is a tar, b.eti a stored zip (so
    // each archive gets its own unpacker choice).
    void S47_laterArchiveWins() {
        Lab &lab = newLab("S47");
        const std::vector<fx::Entry> b{
            fx::fileEntry("common/settings.cfg", "written by b.eti, the later archive\n"),
            fx::fileEntry("b/only_b.bin", fx::pseudoRandom(6 * kMiB + 21, 472)),
        };
        const std::vector<fx::Entry> a{
            fx::fileEntry("common/settings.cfg", "written by a.eti\n"),
            fx::fileEntry("a/only_a.bin", fx::pseudoRandom(6 * kMiB + 11, 471)),
        };
        writeArchiveAt(gameRootOf(lab, "alpha") + "/b.eti", fx::Format::ZipStored, b);
        writeArchiveAt(gameRootOf(lab, "alpha") + "/a.eti", fx::Format::Tar, a);
        const auto archives = finishAlphaRoot(lab);
        std::vector<fx::Entry> both = a;
        both.insert(both.end(), b.begin(), b.end());
        const Manifest expected = entriesManifest(both); // b's settings.cfg replaces a's
        Peer &alpha = lab.startPeer("alpha", peerIni(16));
        Peer &client = lab.startPeer("client");
        connectSources(client, {&alpha});
        StreamRun run = streamInstalled(client, {&alpha}, expected, archives);
        const std::string cfg =
            readWholeFile(client.gameRoot(kGame) + "/local/common/settings.cfg");
        lab.check(cfg == "written by b.eti, the later archive\n",
                  "local/common/settings.cfg is '" + cfg + "', not b.eti's");

        // Chunk order: a.eti's first before b.eti's first; count a.eti's chunks after it.
        std::size_t firstA = Peer::npos, firstB = Peer::npos;
        int aAfterFirstB = 0;
        for (std::size_t i = run.from; i < run.finishedAt; ++i) {
            const auto &e = client.logAt(i);
            if (e.name != "download-chunk-finished" || str(e.object, "game") != kGame)
                continue;
            const std::string path = str(e.object, "path");
            if (path == "a.eti" && firstA == Peer::npos)
                firstA = i;
            if (path == "b.eti" && firstB == Peer::npos)
                firstB = i;
            if (path == "a.eti" && firstB != Peer::npos)
                ++aAfterFirstB;
        }
        lab.check(firstA != Peer::npos && firstB != Peer::npos && firstA < firstB,
                  "b.eti's first chunk (log " + std::to_string(firstB) +
                      ") was verified before a.eti's first (log " + std::to_string(firstA) + ")");
        checkJsonOnly(lab, client);
        evidence("S47: a.eti (tar " + std::to_string(archives.at("a.eti")) + " B) and b.eti " +
                 "(stored zip " + std::to_string(archives.at("b.eti")) +
                 " B, written first): first a.eti chunk at log " + std::to_string(firstA) +
                 " < first b.eti chunk at log " + std::to_string(firstB) + " (" +
                 std::to_string(aAfterFirstB) +
                 " a.eti chunks after it: read-ahead); local/common/settings.cfg is b.eti's; " +
                 "local/ " + std::to_string(run.local.size()) + " files exact, " +
                 run.sha("common/settings.cfg"));
    }

  private:
    // Connects receiver to every source and waits until it lists kGame with all of them.
    void connectSources(Peer &receiver, const std::vector<Peer *> &sources) {
        for (Peer *source : sources)
            receiver.connect(*source);
        waitRemote(receiver, kGame, sources.size());
    }
    // A stream-install of kGame from sources (connected) that must end installed:
    // verifyInstalled's checks, with expectedLocal as local/.
    StreamRun streamInstalled(Peer &receiver, const std::vector<Peer *> &sources,
                              const Manifest &expectedLocal,
                              const std::map<std::string, uint64_t> &archives,
                              bool installBeginFirst = false) {
        StreamRun run = startStream(receiver, sources.size());
        waitStreamEnd(receiver, run, 60s);
        verifyInstalled(receiver, run, expectedLocal, archives, sources, installBeginFirst);
        return run;
    }

    // Sends stream-install of kGame; expects it accepted, naming expectedSources sources.
    StreamRun startStream(Peer &receiver, uint64_t expectedSources) {
        StreamRun run;
        run.from = receiver.logSize();
        run.accepted = receiver.commandOk(R"({"cmd":"stream-install","game":")" + kGame + R"("})");
        _lab->check(flag(run.accepted, "accepted") &&
                        u64(run.accepted, "sources") == expectedSources,
                    "stream-install answered " + toJson(run.accepted) + ", expected " +
                        std::to_string(expectedSources) + " sources");
        return run;
    }
    // Waits for the stream's terminal event: install-finished, or the first of
    // download-failed, download-cancelled, install-failed.
    void waitStreamEnd(Peer &receiver, StreamRun &run, std::chrono::milliseconds timeout) {
        run.end = receiver.findAnyEvent(
            {"install-finished", "install-failed", "download-failed", "download-cancelled"},
            forGame(kGame), timeout, run.from);
        _lab->check(run.end != Peer::npos, receiver.label() + ": the stream-install of " + kGame +
                                               " did not end within " +
                                               std::to_string(timeout.count()) + " ms");
    }
    // The stream's terminal event is name.
    void checkEndedWith(Peer &receiver, const StreamRun &run, const std::string &name) {
        _lab->check(
            run.endName(receiver) == name,
            "expected " + name + ", got " +
                (run.end == Peer::npos ? std::string("nothing") : receiver.logAt(run.end).line));
    }

    // The stream ended installed: the events came in the contract's order (with
    // installBeginFirst, install-begin before download-finished too: a small archive from an
    // uncapped source can be verified whole before the install has made its staging dir, so
    // only scenarios whose sources are capped ask for it), no chunk twice,
    // every chunk of every archive verified once, download-finished.sources is the archives'
    // bytes and agrees with the chunk events; local/ equals expectedLocal; the root holds only
    // local/ (no archive, no version.ini, no staging); list-games says installed, not
    // downloaded, LocalOnly; the operation is over.
    void verifyInstalled(Peer &receiver, StreamRun &run, const Manifest &expectedLocal,
                         const std::map<std::string, uint64_t> &archives,
                         const std::vector<Peer *> &sources, bool installBeginFirst = false) {
        Lab &lab = *_lab;
        checkEndedWith(receiver, run, "install-finished");
        run.installed = receiver.logAt(run.end).object;
        const auto index = [&](const std::string &name) {
            return receiver.findEvent(name, forGame(kGame), 0ms, run.from);
        };
        const std::size_t got = index("got-game-files"), begin = index("download-begin"),
                          installBegin = index("install-begin");
        run.finishedAt = index("download-finished");
        const std::size_t firstChunk = index("download-chunk-finished");
        const auto at = [](std::size_t i) {
            return i == Peer::npos ? std::string("none") : std::to_string(i);
        };
        lab.check(got != Peer::npos && begin != Peer::npos && installBegin != Peer::npos &&
                      run.finishedAt != Peer::npos && firstChunk != Peer::npos && got < begin &&
                      begin < installBegin && begin < firstChunk &&
                      (!installBeginFirst || installBegin < run.finishedAt) &&
                      firstChunk < run.finishedAt && installBegin < run.end &&
                      run.finishedAt < run.end,
                  "events out of order or missing: got-game-files@" + at(got) + " download-begin@" +
                      at(begin) + " install-begin@" + at(installBegin) +
                      " first download-chunk-finished@" + at(firstChunk) + " download-finished@" +
                      at(run.finishedAt) + " install-finished@" + at(run.end));
        for (const char *kind : {"download-failed", "install-failed", "download-cancelled"})
            lab.check(receiver.events(kind, forGame(kGame), run.from, run.end).empty(),
                      std::string(kind) + " came before install-finished");
        lab.check(!flag(run.installed, "updated"), "install-finished says updated");

        const std::string root = receiver.gameRoot(kGame);
        run.local = manifest(root + "/local");
        lab.check(run.local == expectedLocal,
                  "local/ differs from the archive:" + manifestDiff(expectedLocal, run.local));
        lab.check(topLevelNames(root) == std::set<std::string>{"local"},
                  "the root holds {" + join(topLevelNames(root)) + "}, not only local/");
        lab.waitUntil([&] { return idle(receiver, kGame); }, 10s, "the stream's operation ends");
        Json row = localGame(receiver, kGame);
        lab.check(!row.isNull() && flag(row, "installed") && !flag(row, "downloaded") &&
                      str(row, "availability") == "LocalOnly",
                  "list-games shows the streamed game as " + toJson(row));

        run.chunks = tallyChunks(receiver, kGame, run.from, run.finishedAt);
        run.sources = sourcesOf(receiver.logAt(run.finishedAt).object);
        const uint64_t archiveBytes = sumOf(archives);
        // The stream's total is its archives (nothing else of the file list is fetched).
        for (std::size_t i : {begin, run.finishedAt})
            lab.check(u64(receiver.logAt(i).object, "bytes_total") == archiveBytes,
                      "bytes_total is not the archives' " + std::to_string(archiveBytes) +
                          " B: " + receiver.logAt(i).line);
        lab.check(run.chunks.duplicates() == 0,
                  "chunks verified twice:" + run.chunks.duplicated() + "; chunks in order (MiB):" +
                      chunkSequence(receiver, kGame, run.from, run.finishedAt));
        lab.check(run.chunks.bytesByPath == archives,
                  "the chunk events per file " + describeSizes(run.chunks.bytesByPath) +
                      " are not the root archives " + describeSizes(archives));
        lab.check(sumOf(run.sources) == archiveBytes,
                  "download-finished.sources sum to " + std::to_string(sumOf(run.sources)) +
                      " B, the archives hold " + std::to_string(archiveBytes) +
                      " B: " + receiver.logAt(run.finishedAt).line);
        lab.check(run.sources == run.chunks.bytesByPeer,
                  "download-finished.sources " + describeBytes(run.sources, labelsOf(sources)) +
                      " disagree with the chunk events " +
                      describeBytes(run.chunks.bytesByPeer, labelsOf(sources)));
        const PeerLabels labels = labelsOf(sources);
        for (const auto &[peer, bytes] : run.sources)
            lab.check(labels.count(peer) == 1, "a chunk came from " + shortId(peer));
    }

    // The stream failed and left nothing: the operation is over (active_operations is
    // empty), no download-finished or install-finished came, and the root the attempt created
    // is gone (with it local/ and the staging dir).
    void checkRolledBack(Peer &receiver, const StreamRun &run) {
        Lab &lab = *_lab;
        lab.waitUntil([&] { return idle(receiver, kGame); }, 10s,
                      "the failed stream's operation ends");
        receiver.drain(300ms);
        Json ops = receiver.status()->getObject("active_operations");
        lab.check(ops.isNull() || ops->size() == 0, "active_operations: " + toJson(ops));
        for (const char *kind : {"download-finished", "install-finished"})
            lab.check(receiver.events(kind, forGame(kGame), run.from).empty(),
                      std::string("the failed stream emitted ") + kind);
        const std::string root = receiver.gameRoot(kGame);
        lab.check(!fs::exists(root),
                  "the failed stream left the root {" + join(topLevelNames(root)) + "}");
        lab.check(topLevelNames(receiver.gamesDir()).empty(),
                  "the games dir holds {" + join(topLevelNames(receiver.gamesDir())) + "}");
        Json row = localGame(receiver, kGame);
        lab.check(row.isNull() || (!flag(row, "installed") && !flag(row, "downloaded")),
                  "list-games shows the failed game as " + toJson(row));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StreamScenariosTest);
