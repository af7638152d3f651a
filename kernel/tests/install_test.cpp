// The install engine on real files in a temp dir, with a real unpacker: the SDK example's
// ustar reader (unpacker_minimal_objects) driven through its C entry with the SDK's FakeHost,
// and archives written by lanspread::fixtures. Recovery is tested by building each crash
// state on disk by hand (intent + reserved dirs) and checking the game ends old or new.
// Streamed installs read the same archive files through a StreamProvider that a feeder thread
// fills chunk by chunk (the download engine's part, minus the network); the zip plugin, which
// seeks, is loaded from its module.
#include "file_text.hpp"
#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef LANSPREAD_TEST_ZIP_PLUGIN
#error "LANSPREAD_TEST_ZIP_PLUGIN must be the path of the unpacker_zip module (CMakeLists)"
#endif

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace fs = std::filesystem;
using lanspread::fixtures::Entry;
using lanspread::fixtures::Format;
using lanspread::kernel::install::InstallEngine;
using lanspread::kernel::install::StreamArchive;
using lanspread::kernel::install::StreamBudget;
using lanspread::kernel::install::StreamProvider;
using lanspread::kernel::install::UnpackerRef;
using namespace std::chrono_literals;

namespace {

const std::string kMinimalId = "org.lanspread.example.unpacker-minimal";
using Manifest = std::map<std::string, std::string>;

using lanspread::test::readWholeFile;
using lanspread::test::writeWholeFile;

bool exists(const std::string &path) {
    std::error_code ec;
    return fs::symlink_status(path, ec).type() != fs::file_type::not_found;
}

Entry file(std::string path, std::string data) {
    Entry e;
    e.path = std::move(path);
    e.data = std::move(data);
    return e;
}
Entry dir(std::string path) {
    Entry e;
    e.path = std::move(path);
    e.type = Entry::Type::Directory;
    e.mode = 0755;
    return e;
}

// Every file (SHA-256), directory and symlink under dir, by relative path.
Manifest manifestOf(const std::string &dirPath) {
    Manifest m;
    for (auto it = fs::recursive_directory_iterator(dirPath); it != fs::end(it); ++it) {
        std::string rel = fs::relative(it->path(), dirPath).string();
        auto type = it->symlink_status().type();
        if (type == fs::file_type::symlink)
            m[rel] = "link:" + fs::read_symlink(it->path()).string();
        else if (type == fs::file_type::directory)
            m[rel] = "dir";
        else
            m[rel] = "file:" + lanspread::fixtures::sha256Hex(readWholeFile(it->path().string()));
    }
    return m;
}

// The manifest the entries produce (files and the directories they imply).
Manifest manifestOfEntries(const std::vector<Entry> &entries) {
    Manifest m;
    for (const auto &e : entries) {
        std::string path = e.path;
        if (!path.empty() && path.back() == '/')
            path.pop_back();
        for (std::size_t slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1))
            m[path.substr(0, slash)] = "dir";
        if (e.type == Entry::Type::Directory)
            m[path] = "dir";
        else
            m[path] = "file:" + lanspread::fixtures::sha256Hex(e.data);
    }
    return m;
}

std::string describe(const Manifest &m) {
    std::string out;
    for (const auto &[k, v] : m)
        out += k + " = " + v + "\n";
    return out;
}

// A fake unpacker that bids a fixed score (for chooseUnpacker).
struct FixedBidder {
    static lanspread_status probe(void *state, const uint8_t *, size_t, const char *,
                                  uint32_t *outScore) {
        *outScore = *static_cast<uint32_t *>(state);
        return LANSPREAD_OK;
    }
    static lanspread_unpacker_v1 table() {
        lanspread_unpacker_v1 t{};
        t.struct_size = sizeof t;
        t.probe = &probe;
        return t;
    }
};

// The download engine's part of a streamed install, minus the network: archive files cut
// into plan chunks (one chunk id left out before each archive, as another file of the game
// would take it) and delivered on a thread whenever the provider wants them, the most urgent
// last (the worst order for the reader). Optionally fails the stream after some chunks.
class ArchiveFeed {
  public:
    ArchiveFeed(const std::vector<std::string> &paths, StreamBudget budget) {
        std::size_t next = 0;
        for (const auto &path : paths) {
            _bytes.push_back(lanspread::test::readWholeFile(path));
            ++next; // a file that is not an archive
            const uint64_t size = _bytes.back().size();
            _archives.push_back({fs::path(path).filename().string(), size, next});
            next += static_cast<std::size_t>(lanspread::kernel::catalog::chunkCount(size));
        }
        _provider = std::make_unique<StreamProvider>(_archives, budget, std::function<void()>());
    }
    ~ArchiveFeed() { stop(); }
    StreamProvider &provider() { return *_provider; }
    // After `chunks` deliveries the stream fails with status (what fail() does on a cancel or
    // when every source is gone).
    void failAfter(std::size_t chunks, lanspread_status status, std::string why) {
        _failAfter = chunks;
        _failStatus = status;
        _failWhy = std::move(why);
    }
    void start() {
        _thread = std::thread([this] { run(); });
    }
    void stop() {
        _stop = true;
        if (_thread.joinable())
            _thread.join();
    }
    std::vector<std::size_t> delivered() {
        std::lock_guard lock(_mutex);
        return _delivered;
    }
    const std::vector<StreamArchive> &archives() const { return _archives; }

  private:
    void run() {
        while (!_stop) {
            std::vector<std::size_t> wanted = _provider->wanted();
            std::reverse(wanted.begin(), wanted.end());
            for (std::size_t id : wanted) {
                if (count() >= _failAfter) {
                    _provider->fail(_failStatus, _failWhy);
                    return;
                }
                deliver(id);
            }
            std::this_thread::sleep_for(wanted.empty() ? 1ms : 100us);
        }
    }
    std::size_t count() {
        std::lock_guard lock(_mutex);
        return _delivered.size();
    }
    void deliver(std::size_t id) {
        for (std::size_t k = 0; k < _archives.size(); ++k) {
            const uint64_t size = _archives[k].size;
            const std::size_t first = _archives[k].firstChunk;
            if (id < first || id - first >= lanspread::kernel::catalog::chunkCount(size))
                continue;
            const uint64_t offset = (id - first) * lanspread::kernel::catalog::kChunkSize;
            const std::size_t length =
                static_cast<std::size_t>(lanspread::kernel::catalog::chunkLength(size, id - first));
            std::shared_ptr<const uint8_t> bytes(new uint8_t[std::max<std::size_t>(length, 1)],
                                                 std::default_delete<const uint8_t[]>());
            std::memcpy(const_cast<uint8_t *>(bytes.get()), _bytes[k].data() + offset, length);
            _provider->deliver(id, std::move(bytes), length);
            std::lock_guard lock(_mutex);
            _delivered.push_back(id);
            return;
        }
        CPPUNIT_FAIL("the provider wants chunk " + std::to_string(id) + ", of no archive");
    }

    std::vector<std::string> _bytes;
    std::vector<StreamArchive> _archives;
    std::unique_ptr<StreamProvider> _provider;
    std::size_t _failAfter = SIZE_MAX;
    lanspread_status _failStatus = LANSPREAD_OK;
    std::string _failWhy;
    std::atomic<bool> _stop{false};
    std::mutex _mutex;
    std::vector<std::size_t> _delivered;
    std::thread _thread;
};

// A sidecar-like unpacker: bids highest, but its open() refuses a source without a path.
struct PathOnlyUnpacker {
    int opens = 0;
    static lanspread_status probe(void *, const uint8_t *, size_t, const char *, uint32_t *score) {
        *score = 100;
        return LANSPREAD_OK;
    }
    static lanspread_status open(void *state, const lanspread_byte_source *source,
                                 lanspread_cancel_handle, lanspread_unpack_job **) {
        ++static_cast<PathOnlyUnpacker *>(state)->opens;
        return source->path == nullptr ? LANSPREAD_E_UNSUPPORTED : LANSPREAD_E_IO;
    }
    static lanspread_status nextEntry(lanspread_unpack_job *, lanspread_archive_entry *) {
        return LANSPREAD_E_FATAL; // never reached: open() never succeeds
    }
    static lanspread_status readData(lanspread_unpack_job *, uint8_t *, size_t, size_t *) {
        return LANSPREAD_E_FATAL;
    }
    static void close(lanspread_unpack_job *) {}
    static lanspread_unpacker_v1 table() {
        lanspread_unpacker_v1 t{};
        t.struct_size = sizeof t;
        t.probe = &probe;
        t.open = &open;
        t.next_entry = &nextEntry;
        t.read_data = &readData;
        t.close = &close;
        return t;
    }
};

// The zip plugin, loaded from its module and initialised with a fake host.
class ZipPlugin {
  public:
    ZipPlugin() {
        _handle = ::dlopen(LANSPREAD_TEST_ZIP_PLUGIN, RTLD_NOW | RTLD_LOCAL);
        const char *why = _handle == nullptr ? ::dlerror() : nullptr;
        CPPUNIT_ASSERT_MESSAGE(why != nullptr ? why : "", _handle != nullptr);
        auto entryOf = reinterpret_cast<const lanspread_plugin_entry *(*)()>(
            ::dlsym(_handle, LANSPREAD_ENTRY_SYMBOL));
        CPPUNIT_ASSERT(entryOf != nullptr);
        _entry = entryOf();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _vtable = static_cast<const lanspread_unpacker_v1 *>(
            _entry->get_interface(_state, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(_vtable != nullptr);
    }
    ~ZipPlugin() {
        if (_entry != nullptr)
            _entry->shutdown(_state);
        if (_handle != nullptr)
            ::dlclose(_handle);
    }
    UnpackerRef ref() const { return {kId, _vtable, _state}; }
    static constexpr const char *kId = "org.lanspread.unpacker.zip";

  private:
    lanspread::testing::FakeHost _host{kId};
    void *_handle = nullptr;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_unpacker_v1 *_vtable = nullptr;
};

} // namespace

class InstallTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(InstallTest);
    CPPUNIT_TEST(testRootArchivesSortedRegularEtiOnly);
    CPPUNIT_TEST(testChooseUnpacker);
    CPPUNIT_TEST(testInstallFresh);
    CPPUNIT_TEST(testUpdateReplacesContentExactly);
    CPPUNIT_TEST(testArchivesExtractedInSortedOrderLaterWins);
    CPPUNIT_TEST(testHostileArchivesFailCleanly);
    CPPUNIT_TEST(testHostileUpdateKeepsOldLocal);
    CPPUNIT_TEST(testReservedMarkerNameInArchiveFails);
    CPPUNIT_TEST(testInstallErrors);
    CPPUNIT_TEST(testNoUnpackerBidsLeavesNothing);
    CPPUNIT_TEST(testCancelledInstallLeavesNothing);
    CPPUNIT_TEST(testForeignStagingRefusedOwnedStagingReplaced);
    CPPUNIT_TEST(testUninstallKeepsRootFiles);
    CPPUNIT_TEST(testReinstallAfterUninstall);
    CPPUNIT_TEST(testInstallAfterArchiveMutation);
    CPPUNIT_TEST(testRemoveRules);
    CPPUNIT_TEST(testInstallClearsLaunchMarker);
    CPPUNIT_TEST(testRecoverNothing);
    CPPUNIT_TEST(testRecoverExtractingFreshInstall);
    CPPUNIT_TEST(testRecoverExtractingUpdate);
    CPPUNIT_TEST(testRecoverPromotingFreshInstall);
    CPPUNIT_TEST(testRecoverPromotingBeforeBackup);
    CPPUNIT_TEST(testRecoverPromotingAfterBackup);
    CPPUNIT_TEST(testRecoverPromotingAfterPromote);
    CPPUNIT_TEST(testRecoverPromotingOnlyBackupLeft);
    CPPUNIT_TEST(testRecoverUninstallBeforeMove);
    CPPUNIT_TEST(testRecoverUninstallAfterMove);
    CPPUNIT_TEST(testRecoverUninstallAfterDelete);
    CPPUNIT_TEST(testRecoverOwnedLeftoversWithoutIntent);
    CPPUNIT_TEST(testRecoverLeavesForeignReservedDirs);
    CPPUNIT_TEST(testRecoverCorruptIntent);
    CPPUNIT_TEST(testRecoverIntentOfVanishedGame);
    CPPUNIT_TEST(testRecoverThenInstallWorks);
    CPPUNIT_TEST(testStreamInstallMatchesInstall);
    CPPUNIT_TEST(testStreamInstallCorruptArchiveRollsBack);
    CPPUNIT_TEST(testStreamInstallFailedStreamRollsBack);
    CPPUNIT_TEST(testStreamInstallRefusesInstalledGame);
    CPPUNIT_TEST(testStreamInstallZipSeeks);
    CPPUNIT_TEST(testStreamInstallRefusingBidderHandsOver);
    CPPUNIT_TEST(testRecoverInterruptedStreamInstall);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        char templ[] = "/tmp/lanspread-install-test-XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(templ) != nullptr);
        _dir = templ;
        _games = _dir + "/games";
        _state = _dir + "/state";
        fs::create_directories(_games);
        fs::create_directories(_state);
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(_entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_pluginState));
        _vtable = static_cast<const lanspread_unpacker_v1 *>(
            _entry->get_interface(_pluginState, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(_vtable != nullptr);
    }
    void tearDown() override {
        _entry->shutdown(_pluginState);
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }

    // ---- helpers ----
    InstallEngine engine() {
        return InstallEngine(_games, _state, {{kMinimalId, _vtable, _pluginState}});
    }
    std::string root(const std::string &id) { return _games + "/" + id; }
    std::string local(const std::string &id) { return root(id) + "/local"; }
    std::string staging(const std::string &id) { return root(id) + "/.local.installing"; }
    std::string backup(const std::string &id) { return root(id) + "/.local.backup"; }
    std::string intent(const std::string &id) {
        return _state + "/games/" + id + "/install_intent.json";
    }

    void writeArchive(const std::string &id, const std::string &name,
                      const std::vector<Entry> &entries) {
        fs::create_directories(root(id));
        lanspread::fixtures::writeArchive(root(id) + "/" + name, Format::Tar, entries);
    }
    void makeGame(const std::string &id, const std::vector<Entry> &entries) {
        writeArchive(id, id + ".eti", entries);
        writeWholeFile(root(id) + "/version.ini", "20240101");
    }
    lanspread::Result<lanspread::kernel::install::InstallOutcome> install(const std::string &id) {
        return engine().install(id, 0, {});
    }
    void assertNoReserved(const std::string &id) {
        CPPUNIT_ASSERT_MESSAGE(staging(id), !exists(staging(id)));
        CPPUNIT_ASSERT_MESSAGE(backup(id), !exists(backup(id)));
        CPPUNIT_ASSERT_MESSAGE(intent(id), !exists(intent(id)));
    }
    void assertLocal(const std::string &id, const Manifest &expected) {
        CPPUNIT_ASSERT_MESSAGE(local(id), fs::is_directory(local(id)));
        Manifest got = manifestOf(local(id));
        CPPUNIT_ASSERT_MESSAGE("expected:\n" + describe(expected) + "got:\n" + describe(got),
                               expected == got);
    }
    void assertContains(const std::string &haystack, const std::string &needle) {
        CPPUNIT_ASSERT_MESSAGE("'" + haystack + "' lacks '" + needle + "'",
                               haystack.find(needle) != std::string::npos);
    }
    // A directory tree standing for one version of the game (for hand-built crash states).
    void writeVersionTree(const std::string &path, const std::string &version) {
        writeWholeFile(path + "/game.exe", "exe " + version);
        writeWholeFile(path + "/data/" + version + ".dat", "data of " + version);
    }
    Manifest versionManifest(const std::string &version) {
        std::string tmp = _dir + "/manifest-" + version;
        writeVersionTree(tmp, version);
        Manifest m = manifestOf(tmp);
        fs::remove_all(tmp);
        return m;
    }
    void writeMarker(const std::string &dirPath) {
        writeWholeFile(dirPath + "/.lanspread_owned", "owned\n");
    }
    void writeIntent(const std::string &id, const std::string &json) {
        writeWholeFile(intent(id), json);
    }

    // ---- tests ----
    void testRootArchivesSortedRegularEtiOnly() {
        fs::create_directories(root("g"));
        for (const char *name : {"b.eti", "a.eti", "B.eti", "x.txt", "a.eti.bak", ".eti"})
            writeWholeFile(root("g") + "/" + name, "x");
        fs::create_directories(root("g") + "/dir.eti");
        writeWholeFile(root("g") + "/sub/nested.eti", "x");
        fs::create_symlink("a.eti", root("g") + "/link.eti");
        std::vector<std::string> expected{"B.eti", "a.eti", "b.eti"};
        CPPUNIT_ASSERT(expected == lanspread::kernel::install::rootArchives(root("g")));
        CPPUNIT_ASSERT(lanspread::kernel::install::rootArchives(_dir + "/missing").empty());
    }

    void testChooseUnpacker() {
        using lanspread::kernel::install::chooseUnpacker;
        writeWholeFile(_dir + "/a.eti", "anything");
        lanspread_unpacker_v1 table = FixedBidder::table();
        uint32_t s10 = 10, s50 = 50, s50b = 50, s0 = 0;
        std::vector<UnpackerRef> list{
            {"ten", &table, &s10}, {"fifty", &table, &s50}, {"fifty-b", &table, &s50b}};
        auto chosen = chooseUnpacker(list, _dir + "/a.eti", "");
        CPPUNIT_ASSERT(chosen.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("fifty"), chosen.value().id); // ties: earlier wins
        auto pinned = chooseUnpacker(list, _dir + "/a.eti", "ten");
        CPPUNIT_ASSERT(pinned.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("ten"), pinned.value().id);
        auto missingPin = chooseUnpacker(list, _dir + "/a.eti", "nope");
        CPPUNIT_ASSERT(!missingPin.ok());
        assertContains(missingPin.status().message(), "nope");
        std::vector<UnpackerRef> none{{"zero", &table, &s0}};
        auto nobody = chooseUnpacker(none, _dir + "/a.eti", "");
        CPPUNIT_ASSERT(!nobody.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, nobody.status().code());
        assertContains(nobody.status().message(), _dir + "/a.eti");
        // The real ustar unpacker bids on a real tar.
        lanspread::fixtures::writeArchive(_dir + "/t.eti", Format::Tar, {file("x", "y")});
        std::vector<UnpackerRef> real{{"zero", &table, &s0}, {kMinimalId, _vtable, _pluginState}};
        auto tar = chooseUnpacker(real, _dir + "/t.eti", "");
        CPPUNIT_ASSERT(tar.ok());
        CPPUNIT_ASSERT_EQUAL(kMinimalId, tar.value().id);
    }

    void testInstallFresh() {
        std::vector<Entry> entries{
            dir("bin/"), file("bin/game.exe", "MZ game"),
            file("data/big.dat", lanspread::fixtures::pseudoRandom(300000, 7)),
            file("readme.txt", "hello\n")};
        makeGame("g", entries);
        writeWholeFile(root("g") + "/extra-root-file.txt", "kept");
        auto result = install("g");
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        CPPUNIT_ASSERT(!result.value().updated);
        CPPUNIT_ASSERT(std::vector<std::string>{"g.eti"} == result.value().archives);
        CPPUNIT_ASSERT(std::vector<std::string>{kMinimalId} == result.value().unpackerIds);
        CPPUNIT_ASSERT_EQUAL(uint64_t(3), result.value().stats.files);
        CPPUNIT_ASSERT_EQUAL(uint64_t(300000 + 7 + 6), result.value().stats.bytes);
        assertLocal("g", manifestOfEntries(entries));
        assertNoReserved("g");
        CPPUNIT_ASSERT(exists(root("g") + "/g.eti"));
        CPPUNIT_ASSERT_EQUAL(std::string("20240101"), readWholeFile(root("g") + "/version.ini"));
        CPPUNIT_ASSERT_EQUAL(std::string("kept"),
                             readWholeFile(root("g") + "/extra-root-file.txt"));
    }

    void testUpdateReplacesContentExactly() {
        makeGame("g", {file("a.txt", "old a"), file("b/old-only.txt", "gone after update")});
        CPPUNIT_ASSERT(install("g").ok());
        writeWholeFile(local("g") + "/user-save.dat", "created by the game"); // not in any archive
        std::vector<Entry> v2{file("a.txt", "new a"), file("c/new.txt", "new file")};
        makeGame("g", v2);
        auto result = install("g");
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        CPPUNIT_ASSERT(result.value().updated);
        assertLocal("g", manifestOfEntries(v2));
        assertNoReserved("g");
    }

    void testArchivesExtractedInSortedOrderLaterWins() {
        writeArchive("g", "b.eti", {file("same.txt", "from b"), file("only-b.txt", "b")});
        writeArchive("g", "a.eti", {file("same.txt", "from a"), file("only-a.txt", "a")});
        writeArchive("g", "c.eti", {file("only-c.txt", "c")});
        writeWholeFile(root("g") + "/version.ini", "1");
        auto result = install("g");
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        std::vector<std::string> order{"a.eti", "b.eti", "c.eti"};
        CPPUNIT_ASSERT(order == result.value().archives);
        CPPUNIT_ASSERT_EQUAL(std::string("from b"), readWholeFile(local("g") + "/same.txt"));
        assertLocal("g", manifestOfEntries({file("same.txt", "from b"), file("only-a.txt", "a"),
                                            file("only-b.txt", "b"), file("only-c.txt", "c")}));
        assertNoReserved("g");
    }

    std::vector<lanspread::fixtures::HostileCase> hostileCases() {
        std::vector<lanspread::fixtures::HostileCase> picked;
        for (auto &c : lanspread::fixtures::hostileCases())
            if (c.name == "dotdot" || c.name == "deep-dotdot" || c.name == "backslash-dotdot" ||
                c.name == "absolute" || c.name == "symlink-escape" ||
                c.name == "symlink-then-write" || c.name == "device" ||
                c.name == "lying-size-larger" || c.name == "lying-size-smaller")
                picked.push_back(c);
        CPPUNIT_ASSERT(picked.size() >= 7);
        return picked;
    }

    // Everything under _dir but inside the game roots (and the state dir's per-game
    // directories, which the intent creates), to prove nothing escaped a root.
    Manifest outsideRoots() {
        Manifest m;
        for (auto it = fs::recursive_directory_iterator(_dir); it != fs::end(it); ++it) {
            std::string rel = fs::relative(it->path(), _dir).string();
            const bool isDir = it->symlink_status().type() == fs::file_type::directory;
            if (it.depth() == 1 && isDir && (rel.rfind("games/", 0) == 0 || rel == "state/games")) {
                it.disable_recursion_pending();
                // insert_or_assign, not m[rel] = "...": GCC 12 at -O3 reports a false
                // -Wrestrict overlap for assigning a literal to the new element.
                if (rel != "state/games")
                    m.insert_or_assign(rel, "root");
                continue;
            }
            m.insert_or_assign(rel, "x");
        }
        return m;
    }

    void testHostileArchivesFailCleanly() {
        const bool absoluteExisted = exists("/tmp/lanspread-hostile-absolute.txt");
        for (const auto &c : hostileCases()) {
            const std::string id = "h-" + c.name;
            makeGame(id, c.entries);
            Manifest before = outsideRoots();
            Manifest rootBefore = manifestOf(root(id));
            auto result = install(id);
            CPPUNIT_ASSERT_MESSAGE(c.name, !result.ok());
            assertContains(result.status().message(), "cannot install " + id);
            if (c.name.rfind("lying-size", 0) != 0) // the ustar reader itself stops those
                assertContains(result.status().message(), c.expectedError);
            CPPUNIT_ASSERT_MESSAGE(c.name, !exists(local(id)));
            assertNoReserved(id);
            CPPUNIT_ASSERT_MESSAGE(c.name, before == outsideRoots());
            CPPUNIT_ASSERT_MESSAGE(c.name, rootBefore == manifestOf(root(id)));
        }
        CPPUNIT_ASSERT(!exists(_dir + "/games/evil.txt"));
        CPPUNIT_ASSERT(!exists(_dir + "/evil.txt"));
        if (!absoluteExisted)
            CPPUNIT_ASSERT(!exists("/tmp/lanspread-hostile-absolute.txt"));
    }

    void testHostileUpdateKeepsOldLocal() {
        std::vector<Entry> v1{file("game.exe", "v1"), file("data/x.dat", "x1")};
        makeGame("g", v1);
        CPPUNIT_ASSERT(install("g").ok());
        for (const auto &c : hostileCases()) {
            writeArchive("g", "g.eti", c.entries);
            auto result = install("g");
            CPPUNIT_ASSERT_MESSAGE(c.name, !result.ok());
            assertLocal("g", manifestOfEntries(v1));
            assertNoReserved("g");
        }
    }

    void testReservedMarkerNameInArchiveFails() {
        makeGame("g", {file("ok.txt", "ok"), file(".lanspread_owned", "a game file")});
        auto result = install("g");
        CPPUNIT_ASSERT(!result.ok());
        assertContains(result.status().message(), ".lanspread_owned");
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
    }

    void testInstallErrors() {
        auto missing = install("nope");
        CPPUNIT_ASSERT(!missing.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, missing.status().code());
        CPPUNIT_ASSERT_EQUAL(std::string("not-downloaded: nope has no version.ini"),
                             missing.status().message());

        writeArchive("partial", "partial.eti", {file("a", "b")}); // no version.ini yet
        auto partial = install("partial");
        CPPUNIT_ASSERT(!partial.ok());
        assertContains(partial.status().message(), "not-downloaded: partial");
        CPPUNIT_ASSERT(!exists(local("partial")));

        writeWholeFile(root("noarch") + "/version.ini", "1");
        writeWholeFile(root("noarch") + "/file.txt", "not an archive");
        auto noArchive = install("noarch");
        CPPUNIT_ASSERT(!noArchive.ok());
        CPPUNIT_ASSERT_EQUAL(
            std::string("nothing to install: no .eti archive in " + root("noarch")),
            noArchive.status().message());
        assertNoReserved("noarch");

        for (const char *bad : {"", ".", "..", "../games", "a/b"}) {
            auto r = install(bad);
            CPPUNIT_ASSERT_MESSAGE(bad, !r.ok());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, r.status().code());
        }
    }

    void testNoUnpackerBidsLeavesNothing() {
        fs::create_directories(root("g"));
        writeWholeFile(root("g") + "/g.eti", std::string(4096, 'z'));
        writeWholeFile(root("g") + "/version.ini", "1");
        auto result = install("g");
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, result.status().code());
        assertContains(result.status().message(), "g.eti");
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
    }

    void testCancelledInstallLeavesNothing() {
        makeGame("g", {file("a.txt", "a"), file("b.txt", "b")});
        auto result = engine().install("g", 0, [] { return true; });
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, result.status().code());
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
        // Cancelling an update keeps the old version.
        CPPUNIT_ASSERT(install("g").ok());
        Manifest old = manifestOf(local("g"));
        makeGame("g", {file("a.txt", "new")});
        CPPUNIT_ASSERT(!engine().install("g", 0, [] { return true; }).ok());
        CPPUNIT_ASSERT(old == manifestOf(local("g")));
        assertNoReserved("g");
    }

    void testForeignStagingRefusedOwnedStagingReplaced() {
        makeGame("g", {file("a.txt", "a")});
        writeWholeFile(staging("g") + "/someone-elses.txt", "not ours");
        auto refused = install("g");
        CPPUNIT_ASSERT(!refused.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, refused.status().code());
        assertContains(refused.status().message(), staging("g"));
        assertContains(refused.status().message(), "not lanspread's");
        CPPUNIT_ASSERT_EQUAL(std::string("not ours"),
                             readWholeFile(staging("g") + "/someone-elses.txt"));
        CPPUNIT_ASSERT(!exists(local("g")));
        CPPUNIT_ASSERT(!exists(intent("g")));

        writeMarker(staging("g")); // now it is a leftover of ours
        auto result = install("g");
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        assertLocal("g", manifestOfEntries({file("a.txt", "a")}));
        assertNoReserved("g");

        // A foreign backup blocks an update and uninstall alike, and stays untouched.
        writeWholeFile(backup("g") + "/mine.txt", "user data");
        CPPUNIT_ASSERT(!install("g").ok());
        CPPUNIT_ASSERT(!engine().uninstall("g"));
        CPPUNIT_ASSERT_EQUAL(std::string("user data"), readWholeFile(backup("g") + "/mine.txt"));
        assertLocal("g", manifestOfEntries({file("a.txt", "a")}));
    }

    void testUninstallKeepsRootFiles() {
        makeGame("g", {file("a.txt", "a")});
        writeWholeFile(root("g") + "/other-root-file.bin", "root data");
        CPPUNIT_ASSERT(install("g").ok());
        Manifest rootBefore = manifestOf(root("g"));
        lanspread::Status s = engine().uninstall("g");
        CPPUNIT_ASSERT_MESSAGE(s.describe(), s.succeeded());
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
        Manifest rootAfter = manifestOf(root("g"));
        for (auto it = rootBefore.begin(); it != rootBefore.end();)
            it = it->first.rfind("local", 0) == 0 ? rootBefore.erase(it) : std::next(it);
        CPPUNIT_ASSERT(rootBefore == rootAfter);

        lanspread::Status again = engine().uninstall("g");
        CPPUNIT_ASSERT(!again.succeeded());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, again.code());
        assertContains(again.message(), "not-installed: g");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, engine().uninstall("never").code());
    }

    void testReinstallAfterUninstall() { // S32
        std::vector<Entry> entries{file("bin/game.exe", "exe"), file("data/d", "d")};
        makeGame("g", entries);
        CPPUNIT_ASSERT(install("g").ok());
        CPPUNIT_ASSERT(engine().uninstall("g").succeeded());
        auto again = install("g");
        CPPUNIT_ASSERT_MESSAGE(again.status().describe(), again.ok());
        CPPUNIT_ASSERT(!again.value().updated);
        assertLocal("g", manifestOfEntries(entries));
        assertNoReserved("g");
    }

    void testInstallAfterArchiveMutation() { // S33
        makeGame("g", {file("fixture-payload.txt", "original bytes")});
        // Mutated externally before the first install.
        writeArchive("g", "g.eti", {file("fixture-payload.txt", "mutated bytes!")});
        CPPUNIT_ASSERT(install("g").ok());
        CPPUNIT_ASSERT_EQUAL(std::string("mutated bytes!"),
                             readWholeFile(local("g") + "/fixture-payload.txt"));
        // And again before an update: the install reads the current root bytes.
        writeArchive("g", "g.eti", {file("fixture-payload.txt", "mutated again")});
        CPPUNIT_ASSERT(install("g").ok());
        CPPUNIT_ASSERT_EQUAL(std::string("mutated again"),
                             readWholeFile(local("g") + "/fixture-payload.txt"));
    }

    void testRemoveRules() {
        makeGame("g", {file("a.txt", "a")});
        CPPUNIT_ASSERT(install("g").ok());
        // The code the remove command answers with ("ok" when it succeeded).
        const auto code = [](const lanspread::kernel::contract::Outcome<void> &outcome) {
            return outcome ? std::string("ok")
                           : std::string(
                                 lanspread::kernel::contract::codeString(outcome.failure().code));
        };
        auto installed = engine().remove("g");
        CPPUNIT_ASSERT_EQUAL(std::string("already-installed"), code(installed));
        assertContains(installed.failure().message, "already-installed");
        CPPUNIT_ASSERT(exists(local("g")));

        CPPUNIT_ASSERT(engine().uninstall("g").succeeded());
        auto removed = engine().remove("g");
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), code(removed));
        CPPUNIT_ASSERT(!exists(root("g")));

        auto gone = engine().remove("g");
        CPPUNIT_ASSERT_EQUAL(std::string("not-downloaded"), code(gone));
        assertContains(gone.failure().message, "not-downloaded: g");

        // A root without its sentinel is not a downloaded game: nothing is deleted.
        writeWholeFile(root("partial") + "/partial.eti", "half");
        auto partial = engine().remove("partial");
        CPPUNIT_ASSERT_EQUAL(std::string("not-downloaded"), code(partial));
        assertContains(partial.failure().message, "not-downloaded: partial has no version.ini");
        CPPUNIT_ASSERT(exists(root("partial") + "/partial.eti"));

        // Reserved dirs (an interrupted transaction, or someone else's) block it.
        writeWholeFile(root("r") + "/version.ini", "1");
        writeWholeFile(staging("r") + "/x", "x");
        CPPUNIT_ASSERT_EQUAL(std::string("io-error"), code(engine().remove("r")));
        CPPUNIT_ASSERT(exists(staging("r") + "/x"));

        // A symlinked root is refused, and its target survives.
        writeWholeFile(_dir + "/elsewhere/version.ini", "1");
        fs::create_symlink(_dir + "/elsewhere", root("link"));
        CPPUNIT_ASSERT_EQUAL(std::string("io-error"), code(engine().remove("link")));
        CPPUNIT_ASSERT(exists(_dir + "/elsewhere/version.ini"));
        CPPUNIT_ASSERT_EQUAL(std::string("io-error"), code(engine().remove("..")));
    }

    void testInstallClearsLaunchMarker() {
        makeGame("g", {file("a.txt", "a")});
        const std::string marker = _state + "/games/g/launch_settings_applied";
        writeWholeFile(marker, "applied\n");
        CPPUNIT_ASSERT(install("g").ok());
        CPPUNIT_ASSERT(!exists(marker));
        writeWholeFile(marker, "applied\n");
        CPPUNIT_ASSERT(install("g").ok()); // update
        CPPUNIT_ASSERT(!exists(marker));
    }

    // ---- recovery: every crash state, built by hand ----
    void testRecoverNothing() {
        makeGame("g", {file("a.txt", "a")});
        CPPUNIT_ASSERT(install("g").ok());
        CPPUNIT_ASSERT(engine().recover().empty());
        CPPUNIT_ASSERT(InstallEngine(_dir + "/no-games", _dir + "/no-state", {}).recover().empty());
    }

    void testRecoverExtractingFreshInstall() {
        fs::create_directories(root("g"));
        writeIntent("g", R"({"op":"install","phase":"extracting","archives":["g.eti"]})");
        writeVersionTree(staging("g"), "partial");
        writeMarker(staging("g"));
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "g");
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
    }

    void testRecoverExtractingUpdate() {
        writeVersionTree(local("g"), "v1");
        writeIntent("g", R"({"op":"update","phase":"extracting","archives":["g.eti"]})");
        writeVersionTree(staging("g"), "v2"); // marker not yet written: the intent covers it
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        assertLocal("g", versionManifest("v1"));
        assertNoReserved("g");
    }

    void testRecoverPromotingFreshInstall() {
        const std::string marker = _state + "/games/g/launch_settings_applied";
        writeIntent("g", R"({"op":"install","phase":"promoting","archives":["g.eti"]})");
        writeWholeFile(marker, "applied\n");
        writeVersionTree(staging("g"), "v1"); // marker already removed before the rename
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        assertLocal("g", versionManifest("v1"));
        assertNoReserved("g");
        CPPUNIT_ASSERT(!exists(marker));
    }

    void testRecoverPromotingBeforeBackup() {
        writeVersionTree(local("g"), "v1");
        writeIntent("g", R"({"op":"update","phase":"promoting","archives":["g.eti"]})");
        writeVersionTree(staging("g"), "v2");
        writeMarker(staging("g"));
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "rolled forward");
        assertLocal("g", versionManifest("v2"));
        assertNoReserved("g");
    }

    void testRecoverPromotingAfterBackup() {
        writeIntent("g", R"({"op":"update","phase":"promoting","archives":["g.eti"]})");
        writeVersionTree(backup("g"), "v1");
        writeMarker(backup("g"));
        writeVersionTree(staging("g"), "v2");
        writeMarker(staging("g"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        assertLocal("g", versionManifest("v2")); // no marker in local/
        assertNoReserved("g");
    }

    void testRecoverPromotingAfterPromote() {
        const std::string marker = _state + "/games/g/launch_settings_applied";
        writeIntent("g", R"({"op":"update","phase":"promoting","archives":["g.eti"]})");
        writeWholeFile(marker, "applied\n");
        writeVersionTree(local("g"), "v2");
        writeVersionTree(backup("g"), "v1"); // crashed before the marker was written
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "promotion had completed");
        assertLocal("g", versionManifest("v2"));
        assertNoReserved("g");
        CPPUNIT_ASSERT(!exists(marker));
    }

    void testRecoverPromotingOnlyBackupLeft() {
        writeIntent("g", R"({"op":"update","phase":"promoting","archives":["g.eti"]})");
        writeVersionTree(backup("g"), "v1");
        writeMarker(backup("g"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        assertLocal("g", versionManifest("v1"));
        assertNoReserved("g");
    }

    void testRecoverUninstallBeforeMove() {
        writeVersionTree(local("g"), "v1");
        writeIntent("g", R"({"op":"uninstall","phase":"moving"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        assertLocal("g", versionManifest("v1"));
        assertNoReserved("g");
    }

    void testRecoverUninstallAfterMove() {
        writeWholeFile(root("g") + "/version.ini", "1");
        writeIntent("g", R"({"op":"uninstall","phase":"moving"})");
        writeVersionTree(backup("g"), "v1"); // no marker yet: the intent covers it
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), engine().recover().size());
        CPPUNIT_ASSERT(!exists(local("g")));
        CPPUNIT_ASSERT(exists(root("g") + "/version.ini"));
        assertNoReserved("g");
    }

    void testRecoverUninstallAfterDelete() {
        writeWholeFile(root("g") + "/version.ini", "1");
        writeIntent("g", R"({"op":"uninstall","phase":"moving"})");
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        CPPUNIT_ASSERT(!exists(local("g")));
        assertNoReserved("g");
    }

    void testRecoverOwnedLeftoversWithoutIntent() {
        // Owned staging: deleted.
        writeVersionTree(local("a"), "v1");
        writeVersionTree(staging("a"), "v2");
        writeMarker(staging("a"));
        // Owned backup, local/ present: the backup is stale.
        writeVersionTree(local("b"), "v2");
        writeVersionTree(backup("b"), "v1");
        writeMarker(backup("b"));
        // Owned backup, local/ missing: it is the only copy, so it goes back.
        writeVersionTree(backup("c"), "v1");
        writeMarker(backup("c"));
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), lines.size());
        assertLocal("a", versionManifest("v1"));
        assertLocal("b", versionManifest("v2"));
        assertLocal("c", versionManifest("v1"));
        for (const char *id : {"a", "b", "c"})
            assertNoReserved(id);
    }

    void testRecoverLeavesForeignReservedDirs() {
        writeVersionTree(local("g"), "v1");
        writeWholeFile(staging("g") + "/theirs.txt", "not ours");
        writeWholeFile(backup("g") + "/theirs.txt", "not ours either");
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "alone");
        CPPUNIT_ASSERT_EQUAL(std::string("not ours"), readWholeFile(staging("g") + "/theirs.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("not ours either"),
                             readWholeFile(backup("g") + "/theirs.txt"));
        assertLocal("g", versionManifest("v1"));

        // An uninstall intent does not cover a staging dir; an extracting intent does not
        // cover a backup: both stay, the intent is still finished.
        writeVersionTree(local("h"), "v1");
        writeIntent("h", R"({"op":"update","phase":"extracting","archives":["h.eti"]})");
        writeWholeFile(backup("h") + "/theirs.txt", "keep");
        engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::string("keep"), readWholeFile(backup("h") + "/theirs.txt"));
        CPPUNIT_ASSERT(!exists(intent("h")));
        assertLocal("h", versionManifest("v1"));

        writeIntent("u", R"({"op":"uninstall","phase":"moving"})");
        writeVersionTree(local("u"), "v1");
        writeWholeFile(staging("u") + "/theirs.txt", "keep");
        engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::string("keep"), readWholeFile(staging("u") + "/theirs.txt"));
        assertLocal("u", versionManifest("v1"));
    }

    void testRecoverCorruptIntent() {
        writeVersionTree(local("g"), "v1");
        writeIntent("g", "{not json");
        writeWholeFile(staging("g") + "/x", "unknown origin");
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "unreadable intent");
        CPPUNIT_ASSERT(!exists(intent("g")));
        CPPUNIT_ASSERT(exists(staging("g") + "/x")); // nothing proves it is ours
        assertLocal("g", versionManifest("v1"));
    }

    void testRecoverIntentOfVanishedGame() {
        writeIntent("gone", R"({"op":"install","phase":"promoting","archives":["g.eti"]})");
        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), lines.size());
        assertContains(lines[0], "gone");
        CPPUNIT_ASSERT(!exists(intent("gone")));
        CPPUNIT_ASSERT(!exists(root("gone")));
    }

    void testRecoverThenInstallWorks() {
        std::vector<Entry> entries{file("a.txt", "fresh")};
        makeGame("g", entries);
        writeVersionTree(local("g"), "v1");
        writeIntent("g", R"({"op":"update","phase":"extracting","archives":["g.eti"]})");
        writeVersionTree(staging("g"), "half");
        // install() itself recovers the leftover before starting.
        auto result = install("g");
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        assertLocal("g", manifestOfEntries(entries));
        assertNoReserved("g");
    }

    // ---- streamed install ----
    // The game's archives fed through a provider; the feed stays alive for inspection.
    lanspread::Result<lanspread::kernel::install::InstallOutcome>
    streamInstall(InstallEngine engine, const std::string &id, ArchiveFeed &feed,
                  std::function<void()> onExtracting = {}) {
        feed.start();
        auto result = engine.streamInstall(id, feed.provider(), 0, {}, std::move(onExtracting));
        feed.stop();
        return result;
    }
    std::vector<std::string> archivePaths(const std::string &id) {
        std::vector<std::string> paths;
        for (const auto &name : lanspread::kernel::install::rootArchives(root(id)))
            paths.push_back(root(id) + "/" + name);
        return paths;
    }
    std::set<std::string> topLevel(const std::string &dirPath) {
        std::set<std::string> names;
        for (const auto &e : fs::directory_iterator(dirPath))
            names.insert(e.path().filename().string());
        return names;
    }
    void assertStreamRolledBack(const std::string &id, bool rootExisted) {
        CPPUNIT_ASSERT_MESSAGE(local(id), !exists(local(id)));
        assertNoReserved(id);
        CPPUNIT_ASSERT_MESSAGE(root(id), exists(root(id)) == rootExisted);
    }

    void testStreamInstallMatchesInstall() {
        // Two archives over several chunks each; b's same.txt replaces a's.
        writeArchive("src", "a.eti",
                     {dir("bin/"), file("bin/game.exe", "MZ game"),
                      file("data/big.dat", lanspread::fixtures::pseudoRandom(3500000, 21)),
                      file("same.txt", "from a")});
        writeArchive("src", "b.eti",
                     {file("same.txt", "from b"),
                      file("data/more.dat", lanspread::fixtures::pseudoRandom(1200000, 22))});
        writeWholeFile(root("src") + "/version.ini", "1");
        auto installed = install("src");
        CPPUNIT_ASSERT_MESSAGE(installed.status().describe(), installed.ok());
        const Manifest expected = manifestOf(local("src"));

        ArchiveFeed feed(archivePaths("src"), {4, 6});
        int extractingCalls = 0;
        bool stagingThen = false;
        std::string intentThen;
        auto streamed = streamInstall(engine(), "g", feed, [&] {
            ++extractingCalls;
            stagingThen = exists(staging("g")) && !exists(local("g"));
            intentThen = readWholeFile(intent("g"));
        });
        CPPUNIT_ASSERT_MESSAGE(streamed.status().describe(), streamed.ok());
        assertLocal("g", expected);
        CPPUNIT_ASSERT_EQUAL(std::string("from b"), readWholeFile(local("g") + "/same.txt"));
        CPPUNIT_ASSERT(!streamed.value().updated);
        CPPUNIT_ASSERT((std::vector<std::string>{"a.eti", "b.eti"}) == streamed.value().archives);
        CPPUNIT_ASSERT((std::vector<std::string>{kMinimalId, kMinimalId}) ==
                       streamed.value().unpackerIds);
        CPPUNIT_ASSERT_EQUAL(installed.value().stats.files, streamed.value().stats.files);
        CPPUNIT_ASSERT_EQUAL(installed.value().stats.bytes, streamed.value().stats.bytes);
        // Installed, not downloaded: the root holds local/ and nothing else.
        CPPUNIT_ASSERT(std::set<std::string>{"local"} == topLevel(root("g")));
        assertNoReserved("g");
        CPPUNIT_ASSERT_EQUAL(1, extractingCalls);
        CPPUNIT_ASSERT(stagingThen);
        // The intent recovery would have found: the op, the phase, the archives, and that
        // this attempt created the root.
        for (const char *part : {R"("op":"stream-install")", R"("phase":"extracting")",
                                 R"(["a.eti","b.eti"])", R"("root_created":true)"})
            assertContains(intentThen, part);
        CPPUNIT_ASSERT(feed.provider().peakHeldBytes() <=
                       6 * lanspread::kernel::catalog::kChunkSize);
    }

    void testStreamInstallCorruptArchiveRollsBack() {
        // A tar whose second header is damaged: the first file is extracted, then it breaks.
        writeArchive("src", "g.eti",
                     {file("first.txt", std::string(1000, 'f')),
                      file("second.bin", lanspread::fixtures::pseudoRandom(2500000, 23))});
        std::string bytes = readWholeFile(root("src") + "/g.eti");
        const std::size_t second = bytes.find("ustar", 257 + 1);
        CPPUNIT_ASSERT(second != std::string::npos && second > 257);
        std::memset(bytes.data() + (second - 257), 'X', 100); // its name and checksum fields
        writeWholeFile(root("src") + "/g.eti", bytes);

        for (bool rootExisted : {false, true}) {
            if (rootExisted)
                writeWholeFile(root("g") + "/keep.txt", "someone's file");
            ArchiveFeed feed(archivePaths("src"), {4, 6});
            auto result = streamInstall(engine(), "g", feed);
            CPPUNIT_ASSERT(!result.ok());
            assertContains(result.status().message(), "cannot install g");
            assertContains(result.status().message(), "g.eti");
            assertStreamRolledBack("g", rootExisted);
            if (rootExisted)
                CPPUNIT_ASSERT(std::set<std::string>{"keep.txt"} == topLevel(root("g")));
        }
        // Bytes no unpacker bids on.
        writeWholeFile(root("junk") + "/g.eti", std::string(3 * 1048576, 'z'));
        ArchiveFeed feed(archivePaths("junk"), {4, 6});
        auto junk = streamInstall(engine(), "j", feed);
        CPPUNIT_ASSERT(!junk.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, junk.status().code());
        assertContains(junk.status().message(),
                       "no unpacker can read archive 'g.eti' from a stream (loaded unpackers: " +
                           kMinimalId + ")");
        assertStreamRolledBack("j", false);
    }

    void testStreamInstallFailedStreamRollsBack() {
        writeArchive(
            "src", "g.eti",
            {file("a.txt", "a"), file("big.bin", lanspread::fixtures::pseudoRandom(6000000, 24))});
        struct Case {
            lanspread_status status;
            std::string why;
            std::size_t after; // chunks delivered before the stream fails
        };
        // Before the head is there (the window is fed last chunk first), and in the middle of
        // big.bin once the first window is read.
        for (const Case &c : {Case{LANSPREAD_E_CANCELLED, "download of g cancelled", 2},
                              Case{LANSPREAD_E_IO, "every source of g is gone", 2},
                              Case{LANSPREAD_E_CANCELLED, "download of g cancelled", 5},
                              Case{LANSPREAD_E_IO, "every source of g is gone", 5}}) {
            ArchiveFeed feed(archivePaths("src"), {4, 6});
            feed.failAfter(c.after, c.status, c.why);
            bool extracting = false;
            auto result = streamInstall(engine(), "g", feed, [&] { extracting = true; });
            CPPUNIT_ASSERT(!result.ok());
            CPPUNIT_ASSERT_EQUAL(c.status, result.status().code());
            assertContains(result.status().message(), c.why);
            CPPUNIT_ASSERT_EQUAL(c.after, feed.delivered().size());
            CPPUNIT_ASSERT(extracting);
            assertStreamRolledBack("g", false);
        }
    }

    void testStreamInstallRefusesInstalledGame() {
        makeGame("g", {file("a.txt", "installed")});
        CPPUNIT_ASSERT(install("g").ok());
        const Manifest before = manifestOf(root("g"));
        writeArchive("src", "g.eti", {file("a.txt", "streamed")});
        ArchiveFeed feed(archivePaths("src"), {4, 6});
        auto result = streamInstall(engine(), "g", feed);
        CPPUNIT_ASSERT(!result.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, result.status().code());
        CPPUNIT_ASSERT(result.status().message().rfind("already-installed: g", 0) == 0);
        CPPUNIT_ASSERT(before == manifestOf(root("g")));
        assertNoReserved("g");
        CPPUNIT_ASSERT(feed.delivered().size() <= 4); // at most the window, never read
    }

    // zip's central directory is at the end: the plugin seeks there and back, and the
    // provider's window follows it (the last chunk is fetched before the middle ones).
    void testStreamInstallZipSeeks() {
        ZipPlugin zip;
        std::vector<Entry> entries{
            dir("bin/"), file("bin/game.exe", "MZ zip game"),
            file("data/big.dat", lanspread::fixtures::pseudoRandom(3300000, 25)),
            file("readme.txt", "zipped\n")};
        fs::create_directories(root("src"));
        lanspread::fixtures::writeArchive(root("src") + "/g.eti", Format::ZipStored, entries);
        ArchiveFeed feed(archivePaths("src"), {2, 3});
        const std::size_t first = feed.archives()[0].firstChunk;
        const std::size_t chunks = static_cast<std::size_t>(
            lanspread::kernel::catalog::chunkCount(feed.archives()[0].size));
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), chunks);
        InstallEngine engine(_games, _state, {{kMinimalId, _vtable, _pluginState}, zip.ref()});
        auto result = streamInstall(std::move(engine), "g", feed);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        CPPUNIT_ASSERT(std::vector<std::string>{ZipPlugin::kId} == result.value().unpackerIds);
        assertLocal("g", manifestOfEntries(entries));
        assertNoReserved("g");
        const std::vector<std::size_t> order = feed.delivered();
        const auto at = [&](std::size_t id) {
            return std::find(order.begin(), order.end(), id) - order.begin();
        };
        CPPUNIT_ASSERT(at(first + chunks - 1) < at(first + chunks - 2)); // the end before
        for (std::size_t i = 0; i < chunks; ++i)
            CPPUNIT_ASSERT(at(first + i) < static_cast<long>(order.size()));
    }

    void testStreamInstallRefusingBidderHandsOver() {
        PathOnlyUnpacker pathOnly;
        lanspread_unpacker_v1 table = PathOnlyUnpacker::table();
        std::vector<Entry> entries{file("a.txt", "a"),
                                   file("b.bin", lanspread::fixtures::pseudoRandom(1500000, 26))};
        writeArchive("src", "g.eti", entries);
        {
            ArchiveFeed feed(archivePaths("src"), {4, 6});
            InstallEngine both(
                _games, _state,
                {{"path-only", &table, &pathOnly}, {kMinimalId, _vtable, _pluginState}});
            auto result = streamInstall(std::move(both), "g", feed);
            CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
            CPPUNIT_ASSERT_EQUAL(1, pathOnly.opens);
            CPPUNIT_ASSERT(std::vector<std::string>{kMinimalId} == result.value().unpackerIds);
            assertLocal("g", manifestOfEntries(entries));
        }
        {
            ArchiveFeed feed(archivePaths("src"), {4, 6});
            InstallEngine alone(_games, _state, {{"path-only", &table, &pathOnly}});
            auto result = streamInstall(std::move(alone), "h", feed);
            CPPUNIT_ASSERT(!result.ok());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, result.status().code());
            assertContains(result.status().message(),
                           "no unpacker can read archive 'g.eti' from a stream");
            assertContains(result.status().message(), "path-only");
            CPPUNIT_ASSERT_EQUAL(2, pathOnly.opens);
            assertStreamRolledBack("h", false);
        }
    }

    void testRecoverInterruptedStreamInstall() {
        // Extracting, root created by the attempt: staging and root go.
        writeIntent("a", R"({"op":"stream-install","phase":"extracting","archives":["a.eti"],)"
                         R"("root_created":true})");
        writeVersionTree(staging("a"), "partial");
        writeMarker(staging("a"));
        // Extracting, root there before (someone's file in it): only staging goes.
        writeIntent("b", R"({"op":"stream-install","phase":"extracting","archives":["b.eti"],)"
                         R"("root_created":false})");
        writeWholeFile(root("b") + "/keep.txt", "kept");
        writeVersionTree(staging("b"), "partial"); // no marker yet: the intent covers it
        // Extracting, root created by the attempt but no longer empty: it stays.
        writeIntent("c", R"({"op":"stream-install","phase":"extracting","archives":["c.eti"],)"
                         R"("root_created":true})");
        writeVersionTree(staging("c"), "partial");
        writeWholeFile(root("c") + "/appeared.txt", "not ours");
        // Promoting: rolled forward.
        writeIntent("d", R"({"op":"stream-install","phase":"promoting","archives":["d.eti"],)"
                         R"("root_created":true})");
        writeVersionTree(staging("d"), "v1");
        // Created the root, crashed before staging: the empty root goes.
        writeIntent("e", R"({"op":"stream-install","phase":"extracting","archives":["e.eti"],)"
                         R"("root_created":true})");
        fs::create_directories(root("e"));

        auto lines = engine().recover();
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), lines.size());
        CPPUNIT_ASSERT(!exists(root("a")));
        CPPUNIT_ASSERT(std::set<std::string>{"keep.txt"} == topLevel(root("b")));
        CPPUNIT_ASSERT(std::set<std::string>{"appeared.txt"} == topLevel(root("c")));
        assertLocal("d", versionManifest("v1"));
        CPPUNIT_ASSERT(std::set<std::string>{"local"} == topLevel(root("d")));
        CPPUNIT_ASSERT(!exists(root("e")));
        for (const char *id : {"a", "b", "c", "d", "e"})
            assertNoReserved(id);

        // A leftover is recovered before a new streamed install starts.
        writeIntent("f", R"({"op":"stream-install","phase":"extracting","archives":["g.eti"],)"
                         R"("root_created":true})");
        writeVersionTree(staging("f"), "partial");
        writeArchive("src", "g.eti", {file("x.txt", "x")});
        ArchiveFeed feed(archivePaths("src"), {4, 6});
        auto result = streamInstall(engine(), "f", feed);
        CPPUNIT_ASSERT_MESSAGE(result.status().describe(), result.ok());
        assertLocal("f", manifestOfEntries({file("x.txt", "x")}));
        assertNoReserved("f");
    }

  private:
    lanspread::testing::FakeHost _host{kMinimalId};
    const lanspread_plugin_entry *_entry = nullptr;
    void *_pluginState = nullptr;
    const lanspread_unpacker_v1 *_vtable = nullptr;
    std::string _dir, _games, _state;
};

CPPUNIT_TEST_SUITE_REGISTRATION(InstallTest);
