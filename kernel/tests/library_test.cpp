// The library against real directories: scan semantics, per-chunk hashes, the index cache,
// inotify-driven rescans, and the 1,000-root cached-scan bound of the library issue.
#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/library/library.hpp>

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

using namespace lanspread::kernel;
using namespace lanspread::kernel::catalog;
using namespace lanspread::kernel::library;
using namespace lanspread::kernel::host;
using lanspread::kernel::base::sha256Hex;

namespace {

void writeFile(const std::string &path, const std::string &data) {
    Poco::File(Poco::Path(path).parent()).createDirectories();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string bytes(std::size_t n, uint64_t seed) {
    std::string s(n, '\0');
    uint64_t x = seed;
    for (auto &c : s) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        c = static_cast<char>(x >> 56);
    }
    return s;
}

Catalog catalogOf(const std::vector<std::string> &ids, const std::string &version = "1") {
    std::string json = "{\"games\":[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict overlap for
        // "literal" + a temporary std::string.
        if (i > 0)
            json += ",";
        json += "{\"id\":\"" + ids[i] + "\",\"name\":\"N" + ids[i] + "\",\"version\":\"" + version +
                "\"}";
    }
    return Catalog::parse(json + "]}", "test").value();
}

} // namespace

class LibraryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LibraryTest);
    CPPUNIT_TEST(scanSemantics);
    CPPUNIT_TEST(chunkHashesMatchTheBytes);
    CPPUNIT_TEST(cacheIsKeyedBySizeMtimeAndVersion);
    CPPUNIT_TEST(thousandCachedRootsScanUnderOneSecond);
    CPPUNIT_TEST(watchesRescanOnChange);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _dir = Poco::TemporaryFile::tempName();
        _games = _dir + "/games";
        _state = _dir + "/state";
        Poco::File(_games).createDirectories();
        Poco::File(_state).createDirectories();
    }
    void tearDown() override { Poco::File(_dir).remove(true); }

    void scanSemantics() {
        Catalog catalog = catalogOf({"ready", "stale", "localonly", "empty"});
        writeFile(_games + "/ready/version.ini", "1\n");
        writeFile(_games + "/ready/ready.eti", "archive");
        writeFile(_games + "/ready/sub/dir/file.txt", "nested");
        writeFile(_games + "/ready/local/installed.txt", "not a root file");
        writeFile(_games + "/ready/.local.installing/x", "reserved");
        writeFile(_games + "/ready/.version.ini.tmp", "reserved");
        ::symlink("/etc/passwd", (_games + "/ready/link").c_str());
        writeFile(_games + "/stale/version.ini", "0");
        writeFile(_games + "/localonly/local/a.txt", "a");
        Poco::File(_games + "/empty").createDirectories();
        writeFile(_games + "/notincatalog/version.ini", "1");

        LibraryIndex index(_state + "/library-index.json");
        auto ready = scan(catalog, "ready", index);
        CPPUNIT_ASSERT(ready.downloaded && ready.installed);
        CPPUNIT_ASSERT_EQUAL(std::string("Ready"), ready.availability);
        CPPUNIT_ASSERT_EQUAL(std::string("1"), ready.version);
        std::string paths;
        for (const auto &f : ready.files)
            paths += f.path + ";";
        CPPUNIT_ASSERT_EQUAL(std::string("ready.eti;sub/dir/file.txt;version.ini;"), paths);
        CPPUNIT_ASSERT_EQUAL(uint64_t(7 + 6 + 2), ready.sizeBytes);

        auto stale = scan(catalog, "stale", index);
        CPPUNIT_ASSERT_EQUAL(std::string("Stale"), stale.availability);
        CPPUNIT_ASSERT_EQUAL(std::string("0"), stale.version);
        auto localOnly = scan(catalog, "localonly", index);
        CPPUNIT_ASSERT_EQUAL(std::string("LocalOnly"), localOnly.availability);
        CPPUNIT_ASSERT(localOnly.installed && !localOnly.downloaded && localOnly.files.empty());
        auto empty = scan(catalog, "empty", index);
        CPPUNIT_ASSERT_EQUAL(std::string("None"), empty.availability);
        // A nested version.ini is not the sentinel.
        writeFile(_games + "/empty/sub/version.ini", "1");
        CPPUNIT_ASSERT(!scan(catalog, "empty", index).downloaded);
    }

    void chunkHashesMatchTheBytes() {
        Catalog catalog = catalogOf({"big"});
        const std::string data = bytes(kChunkSize + 5, 42);
        writeFile(_games + "/big/version.ini", "1");
        writeFile(_games + "/big/big.bin", data);
        writeFile(_games + "/big/empty.bin", "");
        LibraryIndex index(_state + "/library-index.json");
        auto game = scan(catalog, "big", index);
        const IndexedFile &big = game.files[0];
        CPPUNIT_ASSERT_EQUAL(std::string("big.bin"), big.path);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), big.chunkHashes.size());
        CPPUNIT_ASSERT_EQUAL(sha256Hex(data.data(), kChunkSize), big.chunkHashes[0]);
        CPPUNIT_ASSERT_EQUAL(sha256Hex(data.data() + kChunkSize, 5), big.chunkHashes[1]);
        const IndexedFile &empty = game.files[1];
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), empty.chunkHashes.size());
        CPPUNIT_ASSERT_EQUAL(sha256Hex("", 0), empty.chunkHashes[0]);
    }

    void cacheIsKeyedBySizeMtimeAndVersion() {
        Catalog catalog = catalogOf({"g"});
        writeFile(_games + "/g/version.ini", "1");
        writeFile(_games + "/g/a.bin", "aaaa");
        {
            LibraryIndex index(_state + "/library-index.json");
            scan(catalog, "g", index);
            CPPUNIT_ASSERT(index.saveIfDirty());
        }
        // Same size and mtime, other bytes: the cache answers (it is what makes rescans cheap).
        struct stat before {};
        ::stat((_games + "/g/a.bin").c_str(), &before);
        writeFile(_games + "/g/a.bin", "bbbb");
        timespec times[2] = {before.st_atim, before.st_mtim};
        ::utimensat(AT_FDCWD, (_games + "/g/a.bin").c_str(), times, 0);
        LibraryIndex reloaded(_state + "/library-index.json");
        reloaded.load();
        CPPUNIT_ASSERT_EQUAL(sha256Hex("aaaa", 4), hashOf(scan(catalog, "g", reloaded), "a.bin"));
        // A rewritten version.ini (same size, same second) invalidates the game's entries.
        writeFile(_games + "/g/version.ini", "2");
        CPPUNIT_ASSERT_EQUAL(sha256Hex("bbbb", 4), hashOf(scan(catalog, "g", reloaded), "a.bin"));
        // A new mtime alone invalidates the file.
        writeFile(_games + "/g/a.bin", "cccc");
        ::utimensat(AT_FDCWD, (_games + "/g/a.bin").c_str(), nullptr, 0);
        CPPUNIT_ASSERT_EQUAL(sha256Hex("cccc", 4), hashOf(scan(catalog, "g", reloaded), "a.bin"));
    }

    void thousandCachedRootsScanUnderOneSecond() {
        std::vector<std::string> ids;
        for (int i = 0; i < 1000; ++i)
            ids.push_back("game" + std::to_string(i));
        Catalog catalog = catalogOf(ids);
        for (const auto &id : ids) {
            writeFile(_games + "/" + id + "/version.ini", "1");
            writeFile(_games + "/" + id + "/" + id + ".eti", bytes(4096, 7));
            writeFile(_games + "/" + id + "/readme.txt", "hello");
            writeFile(_games + "/" + id + "/data/levels.pak", bytes(1024, 9));
        }
        {
            LibraryIndex index(_state + "/library-index.json");
            for (const auto &game : catalog.games())
                scan(catalog, game.id, index);
            CPPUNIT_ASSERT(index.saveIfDirty());
        }
        auto t0 = std::chrono::steady_clock::now();
        LibraryIndex index(_state + "/library-index.json");
        index.load();
        std::size_t ready = 0;
        for (const auto &game : catalog.games())
            ready += scan(catalog, game.id, index).availability == "Ready";
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("\nlibrary: 1000 roots (3 files each) with cached index scanned in %.3f s\n",
                    seconds);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1000), ready);
        CPPUNIT_ASSERT_MESSAGE(std::to_string(seconds) + " s", seconds < 1.0);
    }

    void watchesRescanOnChange() {
        Catalog catalog = catalogOf({"g", "h"});
        writeFile(_games + "/g/version.ini", "1");
        Reactor reactor;
        WorkerPool workers(2);
        std::thread loop([&] { reactor.run(); });
        Library library(reactor, workers, catalog, _games, _state);
        std::promise<void> ready;
        std::mutex m;
        std::vector<std::vector<std::string>> changes;
        reactor.post([&] {
            library.setListener([&](const std::vector<std::string> &ids) {
                std::lock_guard<std::mutex> lock(m);
                changes.push_back(ids);
            });
            library.start([&] { ready.set_value(); });
        });
        CPPUNIT_ASSERT(ready.get_future().wait_for(std::chrono::seconds(10)) ==
                       std::future_status::ready);
        CPPUNIT_ASSERT(waitFor([&] { return changes.size() == 1; }, m));
        // A file lands in the root: inotify → debounced rescan of g only.
        writeFile(_games + "/g/new.eti", "x");
        CPPUNIT_ASSERT(waitFor([&] { return changes.size() == 2; }, m));
        // A new root appears: the games-dir watch sees it.
        writeFile(_games + "/h/version.ini", "1");
        CPPUNIT_ASSERT(waitFor(
            [&] {
                for (const auto &c : changes)
                    if (std::find(c.begin(), c.end(), "h") != c.end())
                        return true;
                return false;
            },
            m));
        std::promise<std::size_t> files;
        reactor.post([&] { files.set_value(library.find("g")->files.size()); });
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), files.get_future().get());
        std::promise<void> stopped;
        reactor.post([&] {
            library.stop();
            stopped.set_value();
        });
        stopped.get_future().wait();
        workers.shutdown();
        reactor.stop();
        loop.join();
    }

  private:
    LocalGame scan(const Catalog &catalog, const std::string &id, LibraryIndex &index) {
        auto g = scanGameRoot(_games, *catalog.find(id), index, {});
        CPPUNIT_ASSERT_MESSAGE(g.status().describe(), g.ok());
        return g.value();
    }
    static std::string hashOf(const LocalGame &g, const std::string &path) {
        for (const auto &f : g.files)
            if (f.path == path)
                return f.chunkHashes.at(0);
        return "";
    }
    template <typename Pred> static bool waitFor(Pred pred, std::mutex &m) {
        for (int i = 0; i < 500; ++i) {
            {
                std::lock_guard<std::mutex> lock(m);
                if (pred())
                    return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    std::string _dir, _games, _state;
};

CPPUNIT_TEST_SUITE_REGISTRATION(LibraryTest);
