// Operation scenarios of the peer-to-peer suite (docs/scenarios.md): downloads that install
// (S5), manual install/uninstall (S6), a receiver whose disk fills up (S20), concurrent pulls
// from one source (S24) and of two games into one client (S25), reinstall without a transfer
// (S32), install after the root's archive changed (S33), a game of many small files and no
// archive (S34) and single-source throughput on a sparse 2 GiB archive (S37). Real lanspreadd
// processes on 127.0.0.1 through the Peer/Lab harness, one CppUnit test and one ctest per
// scenario, one evidence line each. Installed trees are compared with the archive's own
// entries read in-process with libarchive (not through the daemon), transfers with SHA-256
// manifests, and negative checks scan a peer's whole event window.
#include "scenario_support.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;

namespace {

// Every event a download (or an attempt at one) emits: none may appear while only installs
// and uninstalls run.
const std::set<std::string> kTransferEvents{
    "got-game-files",          "download-begin",    "download-progress", "download-chunk-finished",
    "download-chunk-rejected", "download-finished", "download-failed",   "download-peers-gone",
    "download-cancelled",      "no-peers-have-game"};

// "12.3" with decimals digits after the point.
std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

// ---- fixtures on disk ----

// Every top-level name of a dir, hidden and reserved ones included.
std::set<std::string> topLevelNames(const std::string &dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it)
        out.insert(it->path().filename().string());
    return out;
}
// path -> sha256 of every regular file an archive holds, read with libarchive in this
// process: the reference an installed local/ tree must equal.
Manifest archiveManifest(const std::string &path) {
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    auto failure = [&](const std::string &what) {
        const std::string error =
            what + " " + path + ": " + (archive_error_string(a) ? archive_error_string(a) : "?");
        archive_read_free(a);
        return std::runtime_error(error);
    };
    if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK)
        throw failure("cannot open archive");
    Manifest out;
    struct archive_entry *entry = nullptr;
    int r = ARCHIVE_OK;
    while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
        if (archive_entry_filetype(entry) != AE_IFREG)
            continue;
        std::string name = archive_entry_pathname(entry);
        if (name.rfind("./", 0) == 0)
            name = name.substr(2);
        std::string data;
        char buffer[1 << 16];
        la_ssize_t n = 0;
        while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0)
            data.append(buffer, static_cast<std::size_t>(n));
        if (n < 0)
            throw failure("cannot read " + name + " of");
        out[name] = fx::sha256Hex(data);
    }
    if (r != ARCHIVE_EOF)
        throw failure("cannot list");
    archive_read_free(a);
    return out;
}
// The manifest of entries as an archive of them would install (regular files only).
Manifest entriesManifest(const std::vector<fx::Entry> &entries) {
    Manifest out;
    for (const auto &e : entries)
        if (e.type == fx::Entry::Type::File)
            out[e.path] = fx::sha256Hex(e.data);
    return out;
}

// Whether two files hold the same bytes (compared in 4 MiB blocks); why says where not.
bool sameBytes(const std::string &a, const std::string &b, std::string &why) {
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    if (!fa || !fb) {
        why = "cannot open " + (fa ? b : a);
        return false;
    }
    std::vector<char> ba(4 * kMiB), bb(4 * kMiB);
    uint64_t offset = 0;
    for (;;) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        const auto na = fa.gcount(), nb = fb.gcount();
        if (na != nb || std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(na)) != 0) {
            why = "they differ in the 4 MiB block at " + std::to_string(offset);
            return false;
        }
        if (na == 0)
            return true;
        offset += static_cast<uint64_t>(na);
    }
}

// A peer's [lanspread] settings: its total upload cap in MiB/s (0 = none).
std::string uploadCapIni(double uploadLimitMiBps) {
    return "[lanspread]\nupload_limit_mib_s = " + std::to_string(uploadLimitMiBps) + "\n";
}

// ---- a filesystem made to run out ----

// Bytes the regular files under root occupy on disk (sparse files count what they hold).
uint64_t allocatedBytes(const std::string &root) {
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
            total += uint64_t(st.st_blocks) * 512;
    }
    return total;
}
// Grows the ballast file at path until the filesystem holding it has at most leave bytes free,
// with posix_fallocate (instant on tmpfs, no data written), so that a download running
// meanwhile meets ENOSPC on its next writes. The download takes space too, so a grow it
// outran (ENOSPC) is measured again. Returns the ballast's size.
uint64_t fillLeaving(const std::string &path, uint64_t leave) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    struct stat st {};
    uint64_t size = ::fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
    for (int attempt = 0; attempt < 100; ++attempt) {
        const uint64_t free = freeBytesOf(path);
        if (free <= leave) {
            ::close(fd);
            return size;
        }
        const int rc = ::posix_fallocate(fd, off_t(size), off_t(free - leave));
        if (rc == 0)
            size += free - leave;
        else if (rc != ENOSPC) {
            ::close(fd);
            throw std::runtime_error("cannot grow " + path + ": " + std::strerror(rc));
        }
    }
    ::close(fd);
    throw std::runtime_error("the filesystem of " + path + " kept more than " +
                             std::to_string(leave) + " B free after 100 grows");
}

// ---- what a peer reports ----

// The events of a peer's log window [from, to) that belong to a transfer, as "name@index".
std::vector<std::string> transferEvents(const Peer &peer, std::size_t from,
                                        std::size_t to = Peer::npos) {
    std::vector<std::string> out;
    for (std::size_t i = from; i < peer.logSize() && i < to; ++i)
        if (kTransferEvents.count(peer.logAt(i).name))
            out.push_back(peer.logAt(i).name + "@" + std::to_string(i));
    return out;
}
std::string joinList(const std::vector<std::string> &items) {
    std::string s;
    for (const auto &i : items)
        s += (s.empty() ? "" : " ") + i;
    return s;
}

} // namespace

class OpsScenariosTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(OpsScenariosTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "ops_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    // S5: an empty client downloads cnctw (a real RAR5 .eti) from bravo with the default
    // install=true: download-finished, then install-begin and install-finished; cnctw is
    // downloaded and installed, its root equals bravo's and local/ holds exactly the
    // archive's files.
    void S5_autoInstallDownload() {
        Lab &lab = newLab("S5");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(bravo);
        waitRemote(client, "cnctw", 1);

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"cnctw"})"); // install defaults to true
        const std::size_t end = waitDownloadEnd(client, "cnctw", from, 60s);
        auto t = verifyTransfer(client, "cnctw", bravo.gameRoot("cnctw"), from, end);
        const std::size_t begin =
            client.waitEventIndex("install-begin", forGame("cnctw"), 30s, from);
        const std::size_t done = waitInstallEnd(client, "cnctw", from, 60s);
        lab.check(end < begin && begin < done, "events out of order: download-finished@" +
                                                   std::to_string(end) + " install-begin@" +
                                                   std::to_string(begin) + " install end@" +
                                                   std::to_string(done));
        lab.check(client.logAt(done).name == "install-finished",
                  "expected install-finished, got " + client.logAt(done).line);
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "cnctw operation ends");

        Json local = localGame(client, "cnctw");
        lab.check(flag(local, "downloaded") && flag(local, "installed"),
                  "local cnctw is " + toJson(local));
        const Manifest archive = archiveManifest(bravo.gameRoot("cnctw") + "/cnctw.eti");
        const Manifest installed = manifest(client.gameRoot("cnctw") + "/local");
        lab.check(archive.count("fixture-payload.txt") == 1, "fixture: no fixture-payload.txt");
        lab.check(installed == archive,
                  "local/ differs from cnctw.eti's entries:" + manifestDiff(archive, installed));
        lab.check(readWholeFile(client.gameRoot("cnctw") + "/local/fixture-payload.txt") ==
                      "lanspread fixture payload for cnctw\n",
                  "local/fixture-payload.txt has other bytes");
        // Whole window: one download, one install, no failure of either.
        client.drain(300ms);
        lab.check(client.events("download-begin").size() == 1, "download-begin count != 1");
        lab.check(client.events("install-begin").size() == 1, "install-begin count != 1");
        lab.check(client.events("install-finished").size() == 1, "install-finished count != 1");
        lab.check(client.events("download-failed").empty() &&
                      client.events("install-failed").empty(),
                  "a download-failed or install-failed was emitted");
        checkJsonOnly(lab, client);
        evidence("S5: cnctw " + std::to_string(t.total) + " B from bravo (" + t.sha("cnctw.eti") +
                 "), download-finished@" + std::to_string(end) + " < install-begin@" +
                 std::to_string(begin) + " < install-finished@" + std::to_string(done) +
                 ", downloaded=true installed=true, local/ == cnctw.eti's " +
                 std::to_string(archive.size()) + " files (fixture-payload.txt " +
                 archive.at("fixture-payload.txt").substr(0, 12) + ")");
    }

    // S6: after an install=false download of bfbc2, install creates local/ with the archive's
    // files; uninstall removes local/ and keeps the downloaded root exactly as the source's.
    void S6_manualInstallAndUninstall() {
        Lab &lab = newLab("S6");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(bravo);
        waitRemote(client, "bfbc2", 1);
        const std::string root = client.gameRoot("bfbc2");

        std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"bfbc2","install":false})");
        const std::size_t end = waitDownloadEnd(client, "bfbc2", from, 60s);
        auto t = verifyTransfer(client, "bfbc2", bravo.gameRoot("bfbc2"), from, end);
        lab.waitUntil([&] { return idle(client, "bfbc2"); }, 10s, "the download ends");
        lab.check(!fs::exists(root + "/local"), "local/ exists after install=false");
        lab.check(client.events("install-begin").empty(), "an install began after install=false");

        // Install.
        const std::size_t installFrom = client.logSize();
        client.commandOk(R"({"cmd":"install","game":"bfbc2"})");
        client.waitEventIndex("install-begin", forGame("bfbc2"), 30s, installFrom);
        const std::size_t installed = waitInstallEnd(client, "bfbc2", installFrom, 60s);
        lab.check(client.logAt(installed).name == "install-finished",
                  "expected install-finished, got " + client.logAt(installed).line);
        lab.waitUntil([&] { return idle(client, "bfbc2"); }, 10s, "the install ends");
        Json local = localGame(client, "bfbc2");
        lab.check(flag(local, "downloaded") && flag(local, "installed"),
                  "after install, local bfbc2 is " + toJson(local));
        const Manifest archive = archiveManifest(bravo.gameRoot("bfbc2") + "/bfbc2.eti");
        const Manifest tree = manifest(root + "/local");
        lab.check(!archive.empty() && tree == archive,
                  "local/ differs from bfbc2.eti's entries:" + manifestDiff(archive, tree));

        // Uninstall.
        const std::size_t uninstallFrom = client.logSize();
        client.commandOk(R"({"cmd":"uninstall","game":"bfbc2"})");
        client.waitEventIndex("uninstall-begin", forGame("bfbc2"), 30s, uninstallFrom);
        const std::size_t uninstalled = client.findAnyEvent(
            {"uninstall-finished", "uninstall-failed"}, forGame("bfbc2"), 60s, uninstallFrom);
        lab.check(uninstalled != Peer::npos &&
                      client.logAt(uninstalled).name == "uninstall-finished",
                  "the uninstall did not finish");
        lab.waitUntil([&] { return idle(client, "bfbc2"); }, 10s, "the uninstall ends");
        local = localGame(client, "bfbc2");
        lab.check(flag(local, "downloaded") && !flag(local, "installed") &&
                      str(local, "availability") == "Ready",
                  "after uninstall, local bfbc2 is " + toJson(local));
        lab.check(!fs::exists(root + "/local"), "local/ survived the uninstall");
        const Manifest source = manifest(bravo.gameRoot("bfbc2"));
        const Manifest kept = manifest(root);
        lab.check(kept == source,
                  "the root files changed by install/uninstall:" + manifestDiff(source, kept));
        // Nothing left behind at the top either (no staging, backup or marker).
        const auto names = topLevelNames(root),
                   sourceNames = topLevelNames(bravo.gameRoot("bfbc2"));
        lab.check(names == sourceNames,
                  "the root holds {" + join(names) + "}, the source {" + join(sourceNames) + "}");
        client.drain(300ms);
        const auto transfers = transferEvents(client, installFrom);
        lab.check(transfers.empty(),
                  "transfer events during install/uninstall: " + joinList(transfers));
        checkJsonOnly(lab, client);
        evidence("S6: bfbc2 downloaded install=false (" + std::to_string(t.total) +
                 " B); install -> local/ == bfbc2.eti's " + std::to_string(archive.size()) +
                 " files, installed=true; uninstall -> no local/, installed=false, root {" +
                 join(names) + "} == source by SHA-256, no transfer events");
    }

    // S20: a real write failure mid-download. The receiver's games dir is a 200 MiB tmpfs, so
    // the 96 MiB game passes download's free-space check (96 + 64 MiB margin); right after the
    // download is accepted a ballast file fills the tmpfs to 8 MiB free, so the chunk writes
    // meet ENOSPC: the download fails naming the write error, nothing is committed and the
    // operation clears. With the ballast still there a download is refused up front
    // (insufficient-space, suggesting stream-install, no transfer events); without it a retry
    // is accepted and, the ballast put back, fails the same way.
    void S20_receiverWriteFailure() {
        Lab &lab = newLab("S20");
        writeBigAlienswarm(lab.gamesDirOf("alpha"), 96 * kMiB, 20);
        Peer &alpha = lab.startPeer("alpha");
        Peer &client = lab.addPeer("client");
        const std::string games = lab.gamesDirOf("client");
        mountTmpfs(client, 200);
        client.start("client", games, lab.stateDirOf("client"), lab.catalogPath());
        client.connect(alpha);
        waitRemote(client, "alienswarm", 1);
        const std::string root = client.gameRoot("alienswarm");
        const std::string noSpace = std::strerror(ENOSPC);
        // A top-level file: no catalog game's root, so the library ignores it.
        const std::string ballast = games + "/.s20-ballast";
        const uint64_t leave = 8 * kMiB;
        const std::string downloadCommand =
            R"({"cmd":"download","game":"alienswarm","install":false})";

        const std::size_t from = client.logSize();
        client.commandOk(downloadCommand);
        const uint64_t ballastSize = fillLeaving(ballast, leave);
        // What the download had written when the ballast was in place: it must not be all.
        const uint64_t written = allocatedBytes(root);
        const std::size_t end = waitDownloadEnd(client, "alienswarm", from, 60s);
        lab.check(client.logAt(end).name == "download-failed",
                  "expected download-failed (" + std::to_string(written) +
                      " B written when the ballast was in place), got " + client.logAt(end).line);
        const std::string error = str(client.logAt(end).object, "error");
        // The write that meets ENOSPC is whichever chunk comes next: one of the archive's or
        // version.ini's (written as .version.ini.download until the commit).
        const std::string versionTemp = ".version.ini.download";
        lab.check(error.find(noSpace) != std::string::npos &&
                      (error.find(kEti) != std::string::npos ||
                       error.find(versionTemp) != std::string::npos),
                  "the failure does not name the write error (" + noSpace + ") on " + kEti +
                      " or " + versionTemp + ": " + error);
        std::size_t chunksBefore = 0;
        for (std::size_t i = from; i < end; ++i)
            chunksBefore += client.logAt(i).name == "download-chunk-finished" ? 1 : 0;
        // The operation is over when the failure is reported.
        lab.check(idle(client, "alienswarm"), "alienswarm is still an active operation");
        Json lastOps;
        for (const auto &e : client.events("active-operations"))
            lastOps = e;
        lab.check(!lastOps.isNull() && !lastOps->getObject("operations")->has("alienswarm"),
                  "the last active-operations event still lists alienswarm: " + toJson(lastOps));
        lab.check(!fs::exists(root + "/version.ini"), "a version.ini was committed");
        Json local = localGame(client, "alienswarm");
        lab.check(local.isNull() ||
                      (!flag(local, "downloaded") && str(local, "availability") != "Ready"),
                  "the partial alienswarm is listed as " + toJson(local));
        const uint64_t freeAfterFailure = freeBytesOf(games);

        // The ballast still there, a download is refused before it starts.
        const std::size_t refusedFrom = client.logSize();
        const auto [code, message] = expectInsufficientSpace(client, downloadCommand);
        const auto refusedEvents = transferEvents(client, refusedFrom);
        lab.check(refusedEvents.empty(), "the refused download emitted " + joinList(refusedEvents));
        lab.check(idle(client, "alienswarm"), "the refused download left an operation");

        // Without the ballast a retry is accepted; the ballast put back, it fails the same way.
        lab.check(::unlink(ballast.c_str()) == 0,
                  "cannot remove " + ballast + ": " + std::strerror(errno));
        const uint64_t freeForRetry = freeBytesOf(games);
        const std::size_t retryFrom = client.logSize();
        Json retry = client.command(downloadCommand);
        lab.check(retry->optValue<bool>("ok", false), "the retry was refused: " + toJson(retry));
        fillLeaving(ballast, leave);
        const uint64_t retryWritten = allocatedBytes(root);
        const std::size_t retryEnd = waitDownloadEnd(client, "alienswarm", retryFrom, 60s);
        lab.check(client.logAt(retryEnd).name == "download-failed",
                  "expected the retry to fail (" + std::to_string(retryWritten) +
                      " B on disk when the ballast was back), got " + client.logAt(retryEnd).line);
        const std::string retryError = str(client.logAt(retryEnd).object, "error");
        lab.check(retryError.find(noSpace) != std::string::npos,
                  "the retry failed otherwise: " + retryError);
        lab.waitUntil([&] { return idle(client, "alienswarm"); }, 10s,
                      "the retry's operation ends");
        client.drain(300ms);
        lab.check(client.events("download-finished").empty(), "a download-finished was emitted");
        lab.check(!fs::exists(root + "/version.ini"), "a version.ini was committed by the retry");
        lab.check(client.running() && str(client.status(), "peer_id") == client.peerId(),
                  "the client is not responsive after the failures");
        checkJsonOnly(lab, client);
        // The tmpfs itself goes in tearDown.
        lab.check(::unlink(ballast.c_str()) == 0,
                  "cannot remove " + ballast + ": " + std::strerror(errno));
        const auto mib = [](uint64_t bytes) { return fixed(double(bytes) / double(kMiB), 1); };
        evidence("S20: 96 MiB alienswarm into a 200 MiB tmpfs, a " + mib(ballastSize) +
                 " MiB ballast right after download was accepted (" + mib(written) +
                 " MiB written by then, " + std::to_string(chunksBefore) +
                 " chunks finished before the failure) -> download-failed (" + error + "), " +
                 mib(freeAfterFailure) +
                 " MiB left free, no version.ini, not listed Ready, active-operations cleared; "
                 "download with the ballast -> " +
                 code + " (\"" + message + "\"), no transfer events; ballast removed (" +
                 mib(freeForRetry) + " MiB free) -> retry accepted, ballast back (" +
                 mib(retryWritten) + " MiB on disk) -> download-failed again (" + retryError + ")");
    }

    // S24: two empty clients download the same 64 MiB game from one source (capped at
    // 32 MiB/s so the pulls overlap for seconds): both finish with exact copies, their
    // downloads overlap in time, the source answers status throughout, shows outbound
    // transfers while serving and none at the end.
    void S24_twoClientsPullFromOneSource() {
        Lab &lab = newLab("S24");
        writeBigAlienswarm(lab.gamesDirOf("source"), 64 * kMiB, 24);
        Peer &source = lab.startPeer("source", uploadCapIni(32));
        Peer &c1 = lab.startPeer("client1");
        Peer &c2 = lab.startPeer("client2");
        for (Peer *c : {&c1, &c2}) {
            c->connect(source);
            waitRemote(*c, "alienswarm", 1);
        }

        const std::size_t from1 = c1.logSize(), from2 = c2.logSize();
        c1.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        c2.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        // Poll the source while both pull; read both clients' output meanwhile.
        std::size_t end1 = Peer::npos, end2 = Peer::npos;
        int samples = 0, activeSamples = 0;
        int64_t maxOutbound = 0;
        long long slowestMs = 0;
        const auto deadline = std::chrono::steady_clock::now() + 90s;
        while ((end1 == Peer::npos || end2 == Peer::npos) &&
               std::chrono::steady_clock::now() < deadline) {
            const auto asked = std::chrono::steady_clock::now();
            Json status = source.status();
            slowestMs = std::max<long long>(slowestMs,
                                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - asked)
                                                .count());
            ++samples;
            Json outbound = status->getObject("outbound_transfers");
            if (!outbound.isNull() && outbound->has("alienswarm")) {
                ++activeSamples;
                maxOutbound =
                    std::max<int64_t>(maxOutbound, outbound->get("alienswarm").convert<int64_t>());
            }
            for (auto [peer, from, end] :
                 {std::tuple<Peer *, std::size_t, std::size_t *>{&c1, from1, &end1},
                  {&c2, from2, &end2}})
                if (*end == Peer::npos)
                    *end = peer->findAnyEvent(
                        {"download-finished", "download-failed", "download-cancelled"},
                        forGame("alienswarm"), 100ms, from);
        }
        lab.check(end1 != Peer::npos && end2 != Peer::npos, "a download did not end within 90 s");
        auto t1 = verifyTransfer(c1, "alienswarm", source.gameRoot("alienswarm"), from1, end1);
        auto t2 = verifyTransfer(c2, "alienswarm", source.gameRoot("alienswarm"), from2, end2);
        // The two pulls overlapped: each began before the other finished.
        const Json b1 = c1.events("download-begin", forGame("alienswarm"), from1).at(0);
        const Json b2 = c2.events("download-begin", forGame("alienswarm"), from2).at(0);
        const uint64_t begin1 = u64(b1, "ts_ms"), begin2 = u64(b2, "ts_ms");
        const uint64_t fin1 = u64(t1.finished, "ts_ms"), fin2 = u64(t2.finished, "ts_ms");
        lab.check(begin1 < fin2 && begin2 < fin1,
                  "the downloads did not overlap: client1 " + std::to_string(begin1) + ".." +
                      std::to_string(fin1) + ", client2 " + std::to_string(begin2) + ".." +
                      std::to_string(fin2) + " (ms)");
        lab.check(activeSamples > 0, "the source never reported outbound_transfers for "
                                     "alienswarm in " +
                                         std::to_string(samples) + " status answers");
        lab.check(slowestMs < 2000, "the source took " + std::to_string(slowestMs) +
                                        " ms to answer status while serving");
        Json outboundEnd;
        lab.waitUntil(
            [&] {
                outboundEnd = source.status()->getObject("outbound_transfers");
                return !outboundEnd.isNull() && outboundEnd->size() == 0;
            },
            10s, "the source's outbound_transfers is {} after both downloads");
        for (Peer *c : {&c1, &c2}) {
            lab.waitUntil([&] { return idle(*c, "alienswarm"); }, 10s, c->label() + " idles");
            Json local = localGame(*c, "alienswarm");
            lab.check(flag(local, "downloaded") && !flag(local, "installed") &&
                          !fs::exists(c->gameRoot("alienswarm") + "/local"),
                      c->label() + ": alienswarm is " + toJson(local));
            c->drain(200ms);
            lab.check(c->events("download-failed").empty(), c->label() + ": a download-failed");
            checkJsonOnly(lab, *c);
        }
        lab.check(source.running(), "the source died");
        evidence("S24: client1 and client2 pulled alienswarm (" + std::to_string(t1.total) +
                 " B) from one source at once (client1 " + std::to_string(fin1 - begin1) +
                 " ms, client2 " + std::to_string(fin2 - begin2) +
                 " ms, overlapping); both == source (" + t1.sha(kEti) + ", " + t2.sha(kEti) +
                 "); source answered " + std::to_string(samples) + " status polls (slowest " +
                 std::to_string(slowestMs) + " ms), outbound_transfers alienswarm up to " +
                 std::to_string(maxOutbound) + " in " + std::to_string(activeSamples) +
                 " polls, {} at the end");
    }

    // S25: one client issues two downloads back to back: alienswarm (64 MiB, install=false,
    // source capped at 32 MiB/s) and cnctw (default install). Both run at once (one
    // active-operations snapshot lists both), both finish with exact copies, alienswarm ends
    // downloaded only and cnctw installed with local/ == its archive.
    void S25_oneClientDownloadsTwoGames() {
        Lab &lab = newLab("S25");
        writeBigAlienswarm(lab.gamesDirOf("source"), 64 * kMiB, 25);
        fx::writeGame(lab.gamesDirOf("source"), "cnctw");
        Peer &source = lab.startPeer("source", uploadCapIni(32));
        Peer &client = lab.startPeer("client");
        client.connect(source);
        waitRemote(client, "alienswarm", 1);
        waitRemote(client, "cnctw", 1);

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"alienswarm","install":false})");
        client.commandOk(R"({"cmd":"download","game":"cnctw"})");
        const std::size_t endA = waitDownloadEnd(client, "alienswarm", from, 60s);
        const std::size_t endC = waitDownloadEnd(client, "cnctw", from, 60s);
        auto ta = verifyTransfer(client, "alienswarm", source.gameRoot("alienswarm"), from, endA);
        auto tc = verifyTransfer(client, "cnctw", source.gameRoot("cnctw"), from, endC);
        const std::size_t installed = waitInstallEnd(client, "cnctw", endC, 60s);
        lab.check(client.logAt(installed).name == "install-finished",
                  "expected cnctw install-finished, got " + client.logAt(installed).line);
        const std::size_t beginA =
            client.waitEventIndex("download-begin", forGame("alienswarm"), 1s, from);
        const std::size_t beginC =
            client.waitEventIndex("download-begin", forGame("cnctw"), 1s, from);
        lab.check(beginA < endC && beginC < endA,
                  "the downloads did not overlap: alienswarm " + std::to_string(beginA) + ".." +
                      std::to_string(endA) + ", cnctw " + std::to_string(beginC) + ".." +
                      std::to_string(endC));
        bool both = false;
        for (const auto &e : client.events("active-operations", {}, from)) {
            Json ops = e->getObject("operations");
            both = both || (!ops.isNull() && ops->has("alienswarm") && ops->has("cnctw"));
        }
        lab.check(both, "no active-operations snapshot lists alienswarm and cnctw together");
        for (const std::string game : {"alienswarm", "cnctw"})
            lab.waitUntil([&] { return idle(client, game); }, 10s, game + " operation ends");

        Json a = localGame(client, "alienswarm"), c = localGame(client, "cnctw");
        lab.check(flag(a, "downloaded") && !flag(a, "installed") &&
                      !fs::exists(client.gameRoot("alienswarm") + "/local"),
                  "alienswarm (install=false) is " + toJson(a));
        lab.check(flag(c, "downloaded") && flag(c, "installed"), "cnctw (install) is " + toJson(c));
        const Manifest archive = archiveManifest(source.gameRoot("cnctw") + "/cnctw.eti");
        const Manifest tree = manifest(client.gameRoot("cnctw") + "/local");
        lab.check(!archive.empty() && tree == archive,
                  "cnctw local/ differs from its archive:" + manifestDiff(archive, tree));
        client.drain(300ms);
        lab.check(client.events("download-failed").empty(), "a download-failed was emitted");
        lab.check(client.events("download-begin").size() == 2, "download-begin count != 2");
        checkJsonOnly(lab, client);
        evidence("S25: alienswarm (" + std::to_string(ta.total) + " B, install=false) and cnctw (" +
                 std::to_string(tc.total) +
                 " B, install) downloaded at once by one client (both in one active-operations "
                 "snapshot, begin@" +
                 std::to_string(beginA) + "/" + std::to_string(beginC) + " < finished@" +
                 std::to_string(endA) + "/" + std::to_string(endC) + "); " + ta.sha(kEti) + ", " +
                 tc.sha("cnctw.eti") +
                 "; alienswarm installed=false, cnctw installed=true with "
                 "local/ == its archive");
    }

    // S32: cnctw is downloaded and installed, uninstalled, then installed again: the reinstall
    // uses the kept root files (no transfer event from the reinstall command to the end of
    // the test, one download in the whole log) and cnctw is installed again with local/ ==
    // the archive.
    void S32_reinstallAfterUninstall() {
        Lab &lab = newLab("S32");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(bravo);
        waitRemote(client, "cnctw", 1);
        const std::string root = client.gameRoot("cnctw");
        const Manifest archive = archiveManifest(bravo.gameRoot("cnctw") + "/cnctw.eti");

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"cnctw"})");
        const std::size_t end = waitDownloadEnd(client, "cnctw", from, 60s);
        verifyTransfer(client, "cnctw", bravo.gameRoot("cnctw"), from, end);
        const std::size_t first = waitInstallEnd(client, "cnctw", end, 60s);
        lab.check(client.logAt(first).name == "install-finished", "the first install failed");
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "the install ends");

        const std::size_t uninstallFrom = client.logSize();
        client.commandOk(R"({"cmd":"uninstall","game":"cnctw"})");
        const std::size_t uninstalled = client.findAnyEvent(
            {"uninstall-finished", "uninstall-failed"}, forGame("cnctw"), 60s, uninstallFrom);
        lab.check(uninstalled != Peer::npos &&
                      client.logAt(uninstalled).name == "uninstall-finished",
                  "the uninstall did not finish");
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "the uninstall ends");
        lab.check(!fs::exists(root + "/local"), "local/ survived the uninstall");
        lab.check(!flag(localGame(client, "cnctw"), "installed"), "still installed");

        const std::size_t reinstallFrom = client.logSize();
        client.commandOk(R"({"cmd":"install","game":"cnctw"})");
        const std::size_t again = waitInstallEnd(client, "cnctw", reinstallFrom, 60s);
        lab.check(client.logAt(again).name == "install-finished",
                  "expected install-finished, got " + client.logAt(again).line);
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "the reinstall ends");
        Json local = localGame(client, "cnctw");
        lab.check(flag(local, "downloaded") && flag(local, "installed"),
                  "after the reinstall cnctw is " + toJson(local));
        const Manifest tree = manifest(root + "/local");
        lab.check(tree == archive, "local/ differs from cnctw.eti's entries after the reinstall:" +
                                       manifestDiff(archive, tree));
        lab.check(manifest(root) == manifest(bravo.gameRoot("cnctw")),
                  "the root files differ from bravo's");
        client.drain(500ms);
        const auto transfers = transferEvents(client, reinstallFrom);
        lab.check(transfers.empty(), "transfer events since the reinstall: " + joinList(transfers));
        lab.check(client.events("download-begin").size() == 1 &&
                      client.events("got-game-files").size() == 1,
                  "more than one download in the whole log");
        checkJsonOnly(lab, client);
        evidence("S32: cnctw downloaded+installed, uninstalled (local/ gone, root kept), "
                 "reinstalled: install-finished@" +
                 std::to_string(again) + ", 0 transfer events in log[" +
                 std::to_string(reinstallFrom) + ".." + std::to_string(client.logSize()) +
                 "), 1 download in the whole log, installed=true, local/ == cnctw.eti's " +
                 std::to_string(archive.size()) + " files");
    }

    // S33: after an install=false download of cnctw, its root .eti is replaced by another
    // valid archive (a zip with other bytes, a file of the same name among them); install
    // then writes exactly the new archive's files, with no transfer.
    void S33_installAfterExternalRootMutation() {
        Lab &lab = newLab("S33");
        fx::writeGameSet(lab.gamesDirOf("bravo"), "bravo");
        Peer &bravo = lab.startPeer("bravo");
        Peer &client = lab.startPeer("client");
        client.connect(bravo);
        waitRemote(client, "cnctw", 1);
        const std::string root = client.gameRoot("cnctw");

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"cnctw","install":false})");
        const std::size_t end = waitDownloadEnd(client, "cnctw", from, 60s);
        verifyTransfer(client, "cnctw", bravo.gameRoot("cnctw"), from, end);
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "the download ends");
        const Manifest original = archiveManifest(root + "/cnctw.eti");

        const std::string payload = "S33 mutated payload for cnctw\n";
        const std::vector<fx::Entry> entries{
            fx::fileEntry("fixture-payload.txt", payload),
            fx::dirEntry("data/"),
            fx::fileEntry("data/cnctw-assets.dat", fx::pseudoRandom(96 * 1024, 3301)),
            fx::dirEntry("mutated/"),
            fx::fileEntry("mutated/new.bin", fx::pseudoRandom(160 * 1024, 3302)),
        };
        // Written beside the lab's peers, then renamed over the .eti in one step.
        const std::string staged = lab.dir() + "/cnctw-mutated.eti";
        fx::writeArchive(staged, fx::Format::Zip, entries);
        const std::string mutatedSha = sha256File(staged);
        fs::rename(staged, root + "/cnctw.eti");
        const Manifest expected = entriesManifest(entries);
        lab.check(archiveManifest(root + "/cnctw.eti") == expected,
                  "fixture: the mutated archive does not read back as written");
        lab.check(expected.at("data/cnctw-assets.dat") != original.at("data/cnctw-assets.dat"),
                  "fixture: the mutated data/cnctw-assets.dat equals the original");

        const std::size_t installFrom = client.logSize();
        client.commandOk(R"({"cmd":"install","game":"cnctw"})");
        const std::size_t done = waitInstallEnd(client, "cnctw", installFrom, 60s);
        lab.check(client.logAt(done).name == "install-finished",
                  "expected install-finished, got " + client.logAt(done).line);
        lab.waitUntil([&] { return idle(client, "cnctw"); }, 10s, "the install ends");
        const Manifest tree = manifest(root + "/local");
        lab.check(tree == expected,
                  "local/ is not the mutated archive's files:" + manifestDiff(expected, tree));
        lab.check(readWholeFile(root + "/local/fixture-payload.txt") == payload,
                  "local/fixture-payload.txt is not the mutated bytes");
        lab.check(sha256File(root + "/cnctw.eti") == mutatedSha,
                  "the root .eti is no longer the mutated archive");
        Json local = localGame(client, "cnctw");
        lab.check(flag(local, "installed"), "cnctw is " + toJson(local));
        client.drain(300ms);
        const auto transfers = transferEvents(client, installFrom);
        lab.check(transfers.empty(), "transfer events since the install: " + joinList(transfers));
        checkJsonOnly(lab, client);
        evidence("S33: cnctw.eti replaced after download by a zip (sha256 " +
                 mutatedSha.substr(0, 12) + ", " + std::to_string(expected.size()) +
                 " files); install -> local/ == the new archive exactly (fixture-payload.txt " +
                 expected.at("fixture-payload.txt").substr(0, 12) + ", data/cnctw-assets.dat " +
                 expected.at("data/cnctw-assets.dat").substr(0, 12) + " != original " +
                 original.at("data/cnctw-assets.dat").substr(0, 12) + "), no transfer events");
    }

    // S34: a catalog game (bf1942) whose root is version.ini plus 300 small files in nested
    // dirs (2 of them empty) and no archive: an install=false download brings every file;
    // each non-empty file is exactly one chunk event of its size at offset 0 (an empty file
    // at most one of 0 bytes), the events sum to download-finished.bytes, manifests equal.
    void S34_manySmallFilesWithoutEti() {
        Lab &lab = newLab("S34");
        const std::string src = lab.gamesDirOf("source") + "/bf1942";
        for (int i = 0; i < 298; ++i) {
            const std::string path = "data/d" + std::to_string(i % 12) + "/s" +
                                     std::to_string(i % 5) + "/f" + std::to_string(i) + ".bin";
            const uint64_t size = 1 + (uint64_t(i) * 7919) % 20000;
            writeWholeFile(src + "/" + path,
                           fx::pseudoRandom(static_cast<std::size_t>(size), 34000 + uint64_t(i)));
        }
        writeWholeFile(src + "/deep/a/b/c/d/e/empty.dat", "");
        writeWholeFile(src + "/cfg/empty.cfg", "");
        writeVersionIni(src);
        Peer &source = lab.startPeer("source");
        Peer &client = lab.startPeer("client");
        client.connect(source);
        waitRemote(client, "bf1942", 1);
        const auto sizes = fileSizes(src);
        lab.check(sizes.size() == 301, "fixture: " + std::to_string(sizes.size()) + " files");

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":"bf1942","install":false})");
        const std::size_t got =
            client.waitEventIndex("got-game-files", forGame("bf1942"), 30s, from);
        const std::size_t end = waitDownloadEnd(client, "bf1942", from, 60s);
        auto t = verifyTransfer(client, "bf1942", src, from, end);
        checkFileList(client.logAt(got).object, src);

        std::size_t nonEmpty = 0, emptyEvents = 0;
        for (const auto &[path, size] : sizes) {
            const int events =
                t.chunks.eventsByPath.count(path) ? t.chunks.eventsByPath.at(path) : 0;
            const uint64_t bytes =
                t.chunks.bytesByPath.count(path) ? t.chunks.bytesByPath.at(path) : 0;
            if (size > 0) {
                ++nonEmpty;
                lab.check(events == 1 && bytes == size && t.chunks.times.count({path, 0}) == 1,
                          path + " (" + std::to_string(size) + " B) has " + std::to_string(events) +
                              " chunk events of " + std::to_string(bytes) + " B");
            } else {
                lab.check(events <= 1 && bytes == 0,
                          "empty " + path + " has " + std::to_string(events) + " chunk events");
                emptyEvents += static_cast<std::size_t>(events);
            }
        }
        for (const auto &[path, n] : t.chunks.eventsByPath)
            lab.check(sizes.count(path) == 1, "a chunk event for " + path + ", not a source file");
        lab.check(t.chunks.events == nonEmpty + emptyEvents,
                  std::to_string(t.chunks.events) + " chunk events for " +
                      std::to_string(nonEmpty) + " non-empty files");
        lab.check(t.chunks.bytes == t.total, "the chunk events sum to " +
                                                 std::to_string(t.chunks.bytes) + " of " +
                                                 std::to_string(t.total) + " B");
        lab.check(fileSizes(client.gameRoot("bf1942")) == sizes,
                  "the receiver's file sizes differ");
        lab.waitUntil([&] { return idle(client, "bf1942"); }, 10s, "the download ends");
        Json local = localGame(client, "bf1942");
        lab.check(flag(local, "downloaded") && !flag(local, "installed") &&
                      !fs::exists(client.gameRoot("bf1942") + "/local"),
                  "bf1942 is " + toJson(local));
        client.drain(300ms);
        lab.check(client.events("download-failed").empty(), "a download-failed was emitted");
        checkJsonOnly(lab, client);
        evidence("S34: bf1942 = version.ini + 300 small files in nested dirs, no .eti: " +
                 std::to_string(sizes.size()) + " files " + std::to_string(t.total) + " B, " +
                 std::to_string(t.chunks.events) + " chunk events (1 per non-empty file, " +
                 std::to_string(emptyEvents) + " for the 2 empty ones), no duplicates, sum == " +
                 "download-finished.bytes, manifests equal (" + std::to_string(t.copy.size()) +
                 " SHA-256s), installed=false");
    }

    // S37: a source with one sparse 2 GiB .eti (hashed at startup; the test waits for the game
    // to be Ready); an empty client downloads it with install=false: download-finished
    // carries bytes, duration_ms, mib_per_s and mbit_per_s (mbit/mib == 8.388608, mib_per_s
    // == bytes / 2^20 / seconds), and the copy has the source's size and bytes.
    void S37_singleSourceThroughput() {
        const std::string game = "s37-sparse";
        Lab &lab = newLab("S37", std::string("{\"games\":[{\"id\":\"") + game +
                                     "\",\"name\":\"S37 sparse 2 GiB\",\"version\":\"" + kVersion +
                                     "\",\"description\":\"throughput\"}]}");
        const uint64_t size = uint64_t(2) << 30;
        const std::string src = lab.gamesDirOf("source") + "/" + game;
        const std::string eti = "s37.eti";
        fs::create_directories(src);
        { std::ofstream(src + "/" + eti, std::ios::binary); }
        fs::resize_file(src + "/" + eti, size);
        writeVersionIni(src);
        Peer &source = lab.startPeer("source");
        lab.waitUntil(
            [&] {
                Json g = localGame(source, game);
                return !g.isNull() && str(g, "availability") == "Ready";
            },
            60s, "the source hashes its 2 GiB .eti and lists it Ready");
        Peer &client = lab.startPeer("client");
        client.connect(source);
        waitRemote(client, game, 1);

        const std::size_t from = client.logSize();
        client.commandOk(R"({"cmd":"download","game":")" + game + R"(","install":false})");
        const std::size_t end = waitDownloadEnd(client, game, from, 150s);
        lab.check(client.logAt(end).name == "download-finished",
                  "expected download-finished, got " + client.logAt(end).line);
        const Json finished = client.logAt(end).object;
        const uint64_t total = totalSize(fileSizes(src));
        const uint64_t bytes = u64(finished, "bytes");
        const int64_t durationMs =
            finished->has("duration_ms") ? finished->get("duration_ms").convert<int64_t>() : -1;
        const double mibps = f64(finished, "mib_per_s"), mbitps = f64(finished, "mbit_per_s");
        lab.check(finished->has("bytes") && finished->has("duration_ms") &&
                      finished->has("mib_per_s") && finished->has("mbit_per_s"),
                  "download-finished lacks a measurement: " + toJson(finished));
        lab.check(bytes == total && u64(finished, "bytes_total") == total,
                  "download-finished.bytes " + std::to_string(bytes) + " != the source's " +
                      std::to_string(total) + " B");
        lab.check(durationMs > 0 && mibps > 0 && mbitps > 0, "rates " + toJson(finished));
        lab.check(std::abs(mbitps / mibps - 8.388608) <= 8.388608e-6,
                  "mbit_per_s / mib_per_s = " + fixed(mbitps / mibps, 9) + ", not 8.388608");
        const double expectedMibps = double(bytes) / double(kMiB) / (double(durationMs) / 1000.0);
        lab.check(std::abs(mibps - expectedMibps) <= 1e-6 * expectedMibps,
                  "mib_per_s " + fixed(mibps, 6) +
                      " != bytes/2^20/(duration_ms/1000) = " + fixed(expectedMibps, 6));
        const auto sources = sourcesOf(finished);
        lab.check(sources.size() == 1 && sources.count(source.peerId()) &&
                      sources.at(source.peerId()) == bytes,
                  "download-finished.sources " + toJson(finished));
        const ChunkTally chunks = tallyChunks(client, game, from, end);
        const int etiChunks = static_cast<int>(size / kChunk);
        lab.check(chunks.bytes == bytes && chunks.duplicates() == 0 &&
                      chunks.eventsByPath.count(eti) && chunks.eventsByPath.at(eti) == etiChunks,
                  std::to_string(chunks.events) + " chunk events of " +
                      std::to_string(chunks.bytes) + " B (" + std::to_string(etiChunks) +
                      " .eti chunks expected)");

        const std::string copy = client.gameRoot(game) + "/" + eti;
        lab.check(fs::exists(copy) && fs::file_size(copy) == size,
                  "the copy has " + std::to_string(fs::exists(copy) ? fs::file_size(copy) : 0) +
                      " B, the source " + std::to_string(size));
        std::string why;
        lab.check(sameBytes(src + "/" + eti, copy, why), "the copy's bytes differ: " + why);
        lab.check(readWholeFile(client.gameRoot(game) + "/version.ini") ==
                      readWholeFile(src + "/version.ini"),
                  "version.ini differs");
        lab.waitUntil([&] { return idle(client, game); }, 10s, "the download ends");
        Json local = localGame(client, game);
        lab.check(flag(local, "downloaded") && !flag(local, "installed") &&
                      !fs::exists(client.gameRoot(game) + "/local"),
                  game + " is " + toJson(local));
        checkJsonOnly(lab, client);
        // 2 GiB is gone with the lab; the copy goes now already.
        fs::remove(copy);
        evidence("S37: sparse 2 GiB " + eti +
                 " from one source, install=false: " + std::to_string(bytes) + " B in " +
                 std::to_string(durationMs) + " ms = " + fixed(mibps, 1) + " MiB/s (" +
                 fixed(mbitps, 1) + " Mbit/s, ratio 8.388608), " + std::to_string(etiChunks) +
                 " chunks, copy == source size and bytes");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OpsScenariosTest);
