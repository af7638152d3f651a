// Real crashes in the middle of install transactions: a real lanspreadd (frontend-cli and the
// SDK example's ustar unpacker) is started with LANSPREAD_CRASH_AT naming one crash point,
// sent the command, and must die by SIGKILL right there. A second lanspreadd, started
// without the variable, runs startup recovery before it answers commands; then the game's
// local/ must be exactly the old or the new version (SHA-256 manifests), with no staging,
// no backup and no intent left behind.
#include "child_process.hpp"
#include "file_text.hpp"
#include "json_lines.hpp"

#include <lanspread/fixtures/archive_writer.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace fs = std::filesystem;
using lanspread::fixtures::Entry;
using lanspread::fixtures::Format;
using lanspread::test::ChildProcess;
using namespace std::chrono_literals;

namespace {

using Manifest = std::map<std::string, std::string>;

using lanspread::test::parseJson;
using lanspread::test::readWholeFile;
using lanspread::test::writeWholeFile;

// Relative path -> "file:<sha256>" / "dir" / "link:<target>" for everything under dir; an
// absent dir is the empty manifest (not installed).
Manifest manifestOf(const std::string &dir) {
    Manifest m;
    if (!fs::exists(dir))
        return m;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::end(it); ++it) {
        const std::string rel = fs::relative(it->path(), dir).string();
        const auto type = it->symlink_status().type();
        if (type == fs::file_type::symlink)
            m[rel] = "link:" + fs::read_symlink(it->path()).string();
        else if (type == fs::file_type::directory)
            m[rel] = "dir";
        else
            m[rel] = "file:" + lanspread::fixtures::sha256Hex(readWholeFile(it->path().string()));
    }
    return m;
}

std::string describe(const Manifest &m) {
    if (m.empty())
        return "(no local/)\n";
    std::string out;
    for (const auto &[k, v] : m)
        out += "  " + k + " = " + v.substr(0, 17) + "\n";
    return out;
}

Entry file(std::string path, std::string data) {
    Entry e;
    e.path = std::move(path);
    e.data = std::move(data);
    return e;
}

// One version of game g1: two archives (so a crash can fall between them).
struct Version {
    std::vector<Entry> first, second;
};
Version version(int n) {
    const std::string v = std::to_string(n);
    return {{file("bin/game.exe", "exe v" + v),
             file("data/a.dat", lanspread::fixtures::pseudoRandom(200000, 100 + n)),
             file("data/v" + v + "-only.txt", "only in v" + v)},
            {file("data/b.dat", lanspread::fixtures::pseudoRandom(150000, 200 + n)),
             file("bin/game.exe", "exe v" + v + " patched by the second archive")}};
}

} // namespace

class InstallCrashTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(InstallCrashTest);
    CPPUNIT_TEST(crashAfterFirstArchiveOfInstall);
    CPPUNIT_TEST(crashAfterFirstArchiveOfUpdate);
    CPPUNIT_TEST(crashBeforePromoteOfUpdate);
    CPPUNIT_TEST(crashAfterBackupOfUpdate);
    CPPUNIT_TEST(crashAfterPromoteOfInstall);
    CPPUNIT_TEST(crashAfterPromoteOfUpdate);
    CPPUNIT_TEST(crashAfterMoveOfUninstall);
    CPPUNIT_TEST(crashAfterDeleteOfUninstall);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        char templ[] = "/tmp/lanspread-crash-test-XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(templ) != nullptr);
        _dir = templ;
        fs::create_directories(_dir + "/games");
        fs::create_directories(_dir + "/state");
        writeWholeFile(_dir + "/catalog.json",
                       "{\"games\":[{\"id\":\"g1\",\"name\":\"G1\",\"version\":"
                       "\"1\",\"description\":\"d\"}]}");
        writeWholeFile(root() + "/version.ini", "1");
        writeWholeFile(root() + "/readme-root.txt", "a root file that is not an archive");
    }
    void tearDown() override {
        _peer.reset();
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }

    enum class Expect { Old, New };

    void crashAfterFirstArchiveOfInstall() {
        crashInstall("install:after-first-archive", false, Expect::Old);
    }
    void crashAfterFirstArchiveOfUpdate() {
        crashInstall("install:after-first-archive", true, Expect::Old);
    }
    void crashBeforePromoteOfUpdate() { crashInstall("install:before-promote", true, Expect::Old); }
    void crashAfterBackupOfUpdate() { crashInstall("install:after-backup", true, Expect::New); }
    void crashAfterPromoteOfInstall() { crashInstall("install:after-promote", false, Expect::New); }
    void crashAfterPromoteOfUpdate() { crashInstall("install:after-promote", true, Expect::New); }
    void crashAfterMoveOfUninstall() { crashUninstall("uninstall:after-move"); }
    void crashAfterDeleteOfUninstall() { crashUninstall("uninstall:after-delete"); }

  private:
    std::string root() const { return _dir + "/games/g1"; }
    std::string local() const { return root() + "/local"; }

    void writeVersion(const Version &v) {
        lanspread::fixtures::writeArchive(root() + "/g1-1.eti", Format::Tar, v.first);
        lanspread::fixtures::writeArchive(root() + "/g1-2.eti", Format::Tar, v.second);
    }

    // Installs the current archives with a well-behaved peer; returns local/'s manifest.
    Manifest installNormally() {
        startPeer({});
        command("{\"cmd\":\"install\",\"game\":\"g1\"}", true);
        expectEvent("install-finished");
        stopPeer();
        Manifest m = manifestOf(local());
        CPPUNIT_ASSERT(!m.empty());
        return m;
    }

    void crashInstall(const std::string &point, bool update, Expect expect) {
        Manifest oldState; // empty: not installed
        if (update) {
            writeVersion(version(1));
            oldState = installNormally();
        }
        writeVersion(version(2));
        Manifest newState = expectedManifest(version(2));
        if (update)
            CPPUNIT_ASSERT(oldState != newState);

        crashOn(point, "{\"cmd\":\"install\",\"game\":\"g1\"}");
        recoverAndCheck(point, expect == Expect::Old ? oldState : newState,
                        expect == Expect::Old ? "old" : "new");

        // The recovered peer installs normally afterwards.
        Manifest again = installNormally();
        CPPUNIT_ASSERT_MESSAGE(point, again == newState);
        assertNoLeftovers(point);
    }

    void crashUninstall(const std::string &point) {
        writeVersion(version(1));
        installNormally();
        crashOn(point, "{\"cmd\":\"uninstall\",\"game\":\"g1\"}");
        recoverAndCheck(point, Manifest{}, "new (uninstalled)");
        // Root files survive; a reinstall needs no download.
        CPPUNIT_ASSERT(fs::exists(root() + "/version.ini"));
        CPPUNIT_ASSERT(fs::exists(root() + "/g1-1.eti"));
        CPPUNIT_ASSERT(fs::exists(root() + "/readme-root.txt"));
        CPPUNIT_ASSERT(installNormally() == expectedManifest(version(1)));
    }

    // What installing v produces: both archives in order into an empty dir.
    Manifest expectedManifest(const Version &v) {
        const std::string tmp = _dir + "/expected";
        fs::remove_all(tmp);
        for (const auto *entries : {&v.first, &v.second})
            for (const auto &e : *entries)
                writeWholeFile(tmp + "/" + e.path, e.data);
        Manifest m = manifestOf(tmp);
        fs::remove_all(tmp);
        return m;
    }

    void crashOn(const std::string &point, const std::string &json) {
        startPeer({"LANSPREAD_CRASH_AT=" + point});
        const std::string id = "c" + std::to_string(++_nextId);
        _peer->writeStdin("{\"id\":\"" + id + "\"," + json.substr(1) + "\n");
        const int code = _peer->waitExit(60s);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(point + " did not crash the peer by SIGKILL\n" +
                                         _peer->stderrText(),
                                     128 + SIGKILL, code);
        CPPUNIT_ASSERT_MESSAGE(_peer->stderrText(),
                               _peer->stderrText().find("crash point " + point) !=
                                   std::string::npos);
        _peer.reset();
    }

    void recoverAndCheck(const std::string &point, const Manifest &expected, const char *which) {
        startPeer({});
        command("{\"cmd\":\"status\"}", true); // answered only after startup recovery
        const std::string log = _peer->stderrText();
        CPPUNIT_ASSERT_MESSAGE(log, log.find("recovery of g1") != std::string::npos);
        const Manifest got = manifestOf(local());
        CPPUNIT_ASSERT_MESSAGE(point + ": expected the " + which + " state:\n" +
                                   describe(expected) + "got:\n" + describe(got) + log,
                               got == expected);
        assertNoLeftovers(point);
        std::printf("\n%-28s -> %s state after recovery", point.c_str(), which);
        stopPeer();
    }

    void assertNoLeftovers(const std::string &point) {
        CPPUNIT_ASSERT_MESSAGE(point, !fs::exists(root() + "/.local.installing"));
        CPPUNIT_ASSERT_MESSAGE(point, !fs::exists(root() + "/.local.backup"));
        CPPUNIT_ASSERT_MESSAGE(point, !fs::exists(_dir + "/state/games/g1/install_intent.json"));
        CPPUNIT_ASSERT_MESSAGE(point, !fs::exists(local() + "/.lanspread_owned"));
    }

    void startPeer(const std::vector<std::string> &env) {
        _peer = std::make_unique<ChildProcess>(
            LANSPREADD_PATH,
            std::vector<std::string>{
                "--games", "games", "--state", "state", "--catalog", "catalog.json", "--plugins",
                std::string("org.lanspread.frontend.cli,") + UNPACKER_MINIMAL_PATH},
            _dir, _dir + "/stderr-" + std::to_string(++_starts) + ".log", env);
        CPPUNIT_ASSERT_MESSAGE(_peer->stderrText(),
                               _peer->readUntil("local-peer-ready", 30s).has_value());
    }
    void stopPeer() {
        command("{\"cmd\":\"shutdown\"}", true);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(_peer->stderrText(), 0, _peer->waitExit(30s));
        _peer.reset();
    }
    Poco::JSON::Object::Ptr command(const std::string &json, bool mustSucceed) {
        auto result =
            lanspread::test::commandResult(*_peer, "c" + std::to_string(++_nextId), json, 60s);
        if (mustSucceed)
            CPPUNIT_ASSERT_MESSAGE(lanspread::test::toJson(result) + "\n" + _peer->stderrText(),
                                   result->getValue<bool>("ok"));
        return result;
    }
    void expectEvent(const std::string &event) {
        auto line = _peer->readUntil("\"event\":\"" + event + "\"", 60s);
        CPPUNIT_ASSERT_MESSAGE(event + "\n" + _peer->stderrText(), line.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("g1"), parseJson(*line)->getValue<std::string>("game"));
    }

    std::string _dir;
    std::unique_ptr<ChildProcess> _peer;
    int _nextId = 0;
    int _starts = 0;
};

CPPUNIT_TEST_SUITE_REGISTRATION(InstallCrashTest);
