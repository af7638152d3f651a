// S12 at unit level: every reason the serving peer declines a GetGame or GetChunk.
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <limits>
#include <set>

using lanspread::kernel::catalog::Catalog;
using lanspread::kernel::catalog::kChunkSize;
using lanspread::kernel::library::IndexedFile;
using lanspread::kernel::library::LocalGame;
using lanspread::kernel::peers::ServeRange;
using lanspread::kernel::peers::ServeRefusal;
using lanspread::kernel::protocol::GameFiles;
using lanspread::kernel::protocol::GetChunk;
using lanspread::kernel::transfer::gateGetChunk;
using lanspread::kernel::transfer::gateGetGame;
using lanspread::kernel::transfer::isNormalisedRelativePath;

namespace {

const uint64_t kEtiSize = kChunkSize + kChunkSize / 2;

Catalog catalog() {
    auto c = Catalog::parse(R"({"games":[{"id":"ggoo","name":"GGOO","version":"2"},
                                          {"id":"cnctw","name":"CnC TW","version":"7"}]})",
                            "test");
    CPPUNIT_ASSERT_MESSAGE(c.status().describe(), c.ok());
    return c.value();
}

LocalGame readyGame() {
    LocalGame g;
    g.id = "ggoo";
    g.name = "GGOO";
    g.downloaded = true;
    g.installed = true;
    g.version = "2";
    g.availability = "Ready";
    g.files = {IndexedFile{"data/a.pak", 10, 0, {std::string(64, '1')}},
               IndexedFile{"empty.cfg", 0, 0, {std::string(64, '2')}},
               IndexedFile{"ggoo.eti", kEtiSize, 0, {std::string(64, '3'), std::string(64, '4')}},
               // A stray index entry under local/ must still never be served.
               IndexedFile{"local/save.dat", 5, 0, {std::string(64, '5')}},
               IndexedFile{"version.ini", 1, 0, {std::string(64, '6')}}};
    g.sizeBytes = 10 + kEtiSize + 5 + 1;
    return g;
}

GetChunk chunk(const std::string &path, uint64_t offset, uint64_t length,
               const std::string &game = "ggoo") {
    return GetChunk{game, path, offset, length};
}

} // namespace

class ServeGateTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ServeGateTest);
    CPPUNIT_TEST(normalisedPathsAccepted);
    CPPUNIT_TEST(unnormalisedPathsRejected);
    CPPUNIT_TEST(readyGameServesItsFileList);
    CPPUNIT_TEST(readyGameServesRangesWithinFiles);
    CPPUNIT_TEST(S12_nonCatalogGameRefused);
    CPPUNIT_TEST(S12_missingSentinelRefused);
    CPPUNIT_TEST(S12_staleVersionRefused);
    CPPUNIT_TEST(S12_activeOperationRefused);
    CPPUNIT_TEST(S12_localPathRefused);
    CPPUNIT_TEST(S12_dotDotAndAbsolutePathsRefused);
    CPPUNIT_TEST(S12_pathNotOfTheGameRefused);
    CPPUNIT_TEST(S12_offsetPastTheEndRefused);
    CPPUNIT_TEST(S12_hugeLengthRefused);
    CPPUNIT_TEST(S12_overflowingOffsetRefused);
    CPPUNIT_TEST(S12_emptyRangeOfNonEmptyFileRefused);
    CPPUNIT_TEST(downloadingGameServesItsVotedList);
    CPPUNIT_TEST(downloadingGameServesOnlyVerifiedChunks);
    CPPUNIT_TEST(downloadingGameAtAnotherVersionRefused);
    CPPUNIT_TEST(installingReadyGameStillServes);
    CPPUNIT_TEST(seederSpreadsChunksAmongRequesters);
    CPPUNIT_TEST_SUITE_END();

  public:
    void normalisedPathsAccepted() {
        for (const char *p : {"a", "a.eti", "data/a.pak", "a/b/c.d", "locale/x", "x/local/y",
                              "localfile", "..a", "a..", ".hidden", "a/.b"})
            CPPUNIT_ASSERT_MESSAGE(p, isNormalisedRelativePath(p));
    }

    void unnormalisedPathsRejected() {
        for (const std::string p :
             {"", ".", "..", "/", "/etc/passwd", "a/", "a//b", "./a", "a/./b", "a/..", "../a",
              "a/../../b", "a\\b", "..\\a", "local", "local/", "local/x", "local/a/b"})
            CPPUNIT_ASSERT_MESSAGE("\"" + p + "\"", !isNormalisedRelativePath(p));
        CPPUNIT_ASSERT(!isNormalisedRelativePath(std::string("a\0b", 3)));
        CPPUNIT_ASSERT(!isNormalisedRelativePath(std::string(5000, 'a')));
    }

    void readyGameServesItsFileList() {
        const LocalGame g = readyGame();
        auto r = gateGetGame(catalog(), &g, false, "ggoo");
        auto *files = std::get_if<GameFiles>(&r);
        CPPUNIT_ASSERT(files);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo"), files->game);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), files->version);
        CPPUNIT_ASSERT_EQUAL(g.files.size(), files->files.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo.eti"), files->files[2].path);
        CPPUNIT_ASSERT_EQUAL(kEtiSize, files->files[2].size);
        CPPUNIT_ASSERT(files->files[2].chunkHashes == g.files[2].chunkHashes);
    }

    void readyGameServesRangesWithinFiles() {
        const LocalGame g = readyGame();
        expectServed(g, chunk("ggoo.eti", 0, kChunkSize));
        expectServed(g, chunk("ggoo.eti", kChunkSize, kChunkSize / 2)); // the short last chunk
        expectServed(g, chunk("data/a.pak", 3, 7));                     // up to the last byte
        expectServed(g, chunk("empty.cfg", 0, 0));                      // an empty file
        expectServed(g, chunk("version.ini", 0, 1));
    }

    void S12_nonCatalogGameRefused() {
        LocalGame g = readyGame();
        g.id = "notinthecatalog";
        expectRefused(gateGetGame(catalog(), &g, false, "notinthecatalog"), "unknown-game");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("ggoo.eti", 0, 1, g.id)),
                      "unknown-game");
    }

    void S12_missingSentinelRefused() {
        // No version.ini at the root: not downloaded (an unfinished download, or install-only).
        LocalGame g = readyGame();
        g.downloaded = false;
        g.version.clear();
        g.availability = "None";
        expectRefused(gateGetGame(catalog(), &g, false, "ggoo"), "not-servable");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("ggoo.eti", 0, 1)), "not-servable");
        // Even a record still claiming Ready is refused without the sentinel.
        g.availability = "Ready";
        g.version = "2";
        expectRefused(gateGetGame(catalog(), &g, false, "ggoo"), "not-servable");
        // No library record at all.
        expectRefused(gateGetGame(catalog(), nullptr, false, "ggoo"), "not-servable");
        expectRefused(gateGetChunk(catalog(), nullptr, false, chunk("ggoo.eti", 0, 1)),
                      "not-servable");
        // Streamed install: LocalOnly.
        LocalGame streamed = readyGame();
        streamed.downloaded = false;
        streamed.availability = "LocalOnly";
        expectRefused(gateGetGame(catalog(), &streamed, false, "ggoo"), "not-servable");
    }

    void S12_staleVersionRefused() {
        LocalGame g = readyGame();
        g.version = "1";
        g.availability = "Stale";
        expectRefused(gateGetGame(catalog(), &g, false, "ggoo"), "not-servable");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("ggoo.eti", 0, 1)), "not-servable");
        // A version that disagrees with the catalog even if marked Ready.
        g.availability = "Ready";
        expectRefused(gateGetGame(catalog(), &g, false, "ggoo"), "not-servable");
        // The catalog version but not Ready.
        g.version = "2";
        g.availability = "Stale";
        expectRefused(gateGetGame(catalog(), &g, false, "ggoo"), "not-servable");
    }

    void S12_activeOperationRefused() {
        const LocalGame g = readyGame();
        expectRefused(gateGetGame(catalog(), &g, true, "ggoo"), "busy");
        expectRefused(gateGetChunk(catalog(), &g, true, chunk("ggoo.eti", 0, 1)), "busy");
    }

    void S12_localPathRefused() {
        const LocalGame g = readyGame();
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("local/save.dat", 0, 5)),
                      "bad-path");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("local", 0, 0)), "bad-path");
    }

    void S12_dotDotAndAbsolutePathsRefused() {
        const std::vector<std::string> hostile = {
            "../cnctw/cnctw.eti", "data/../ggoo.eti", "/etc/passwd", "/ggoo.eti", "./ggoo.eti",
            "data//a.pak",        "data\\a.pak",      "data/",       ""};
        // Even if such a path were in the index (the library never puts one there), the path
        // rule alone refuses it.
        LocalGame g = readyGame();
        for (const auto &p : hostile)
            g.files.push_back(IndexedFile{p, 10, 0, {std::string(64, '7')}});
        for (const auto &p : hostile)
            expectRefused(gateGetChunk(catalog(), &g, false, chunk(p, 0, 1)), "bad-path");
    }

    void S12_pathNotOfTheGameRefused() {
        const LocalGame g = readyGame();
        auto r = gateGetChunk(catalog(), &g, false, chunk("other.eti", 0, 1));
        expectRefused(r, "bad-path");
        CPPUNIT_ASSERT(std::get<ServeRefusal>(r).message.find("not a file of game ggoo") !=
                       std::string::npos);
    }

    void S12_offsetPastTheEndRefused() {
        const LocalGame g = readyGame();
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 11, 0)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 10, 1)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 5, 6)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("empty.cfg", 0, 1)), "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("empty.cfg", 1, 0)), "out-of-range");
    }

    void S12_hugeLengthRefused() {
        LocalGame g = readyGame();
        g.files[2].size = 4 * kChunkSize; // a file large enough that only the limit applies
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("ggoo.eti", 0, kChunkSize + 1)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false,
                                   chunk("ggoo.eti", 0, std::numeric_limits<uint64_t>::max())),
                      "out-of-range");
        expectServed(g, chunk("ggoo.eti", kChunkSize, kChunkSize));
    }

    void S12_overflowingOffsetRefused() {
        const LocalGame g = readyGame();
        const uint64_t max = std::numeric_limits<uint64_t>::max();
        // offset + length wraps around to a small number: must not look in range.
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", max, 2)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", max - 4, 10)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 5, max - 2)),
                      "out-of-range");
        // A (nonsensical) indexed size near the top: offset + length wraps past it.
        LocalGame huge = readyGame();
        huge.files[0].size = max - 5;
        expectRefused(gateGetChunk(catalog(), &huge, false, chunk("data/a.pak", max - 10, 16)),
                      "out-of-range");
        expectServed(huge, chunk("data/a.pak", max - 10, 5));
    }

    void S12_emptyRangeOfNonEmptyFileRefused() {
        const LocalGame g = readyGame();
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 0, 0)),
                      "out-of-range");
        expectRefused(gateGetChunk(catalog(), &g, false, chunk("data/a.pak", 10, 0)),
                      "out-of-range");
    }

    // Serving while downloading: the list answered is the download's voted list, even though
    // the library shows the root as not downloaded (version.ini is removed while it runs).
    void downloadingGameServesItsVotedList() {
        Downloading d;
        LocalGame g = readyGame();
        g.downloaded = false;
        g.availability = "None";
        g.version = "";
        auto r = gateGetGame(catalog(), &g, true, "ggoo", &d.view);
        auto *files = std::get_if<GameFiles>(&r);
        CPPUNIT_ASSERT(files);
        CPPUNIT_ASSERT(*files == d.files);
        // No library record at all (a first download): the same.
        auto first = gateGetGame(catalog(), nullptr, true, "ggoo", &d.view);
        CPPUNIT_ASSERT(std::get_if<GameFiles>(&first));
        // Without the download, the library's refusal stands.
        expectRefused(gateGetGame(catalog(), &g, true, "ggoo"), "not-servable");
    }

    // Only ranges whose every chunk is verified; version.ini from its temporary name.
    void downloadingGameServesOnlyVerifiedChunks() {
        Downloading d;
        d.verified = {{1, 0}, {2, 0}}; // ggoo.eti chunk 0 and version.ini
        expectDownloadServed(d, chunk("ggoo.eti", 0, kChunkSize), "ggoo.eti");
        expectDownloadServed(d, chunk("ggoo.eti", 10, 100), "ggoo.eti");
        expectDownloadServed(d, chunk("version.ini", 0, 1), ".version.ini.download");
        // Chunk 1 of ggoo.eti is not verified: nor is a range reaching into it.
        expectRefused(
            gateGetChunk(catalog(), nullptr, true, chunk("ggoo.eti", kChunkSize, 10), &d.view),
            "not-servable");
        expectRefused(
            gateGetChunk(catalog(), nullptr, true, chunk("ggoo.eti", kChunkSize - 5, 10), &d.view),
            "not-servable");
        expectRefused(gateGetChunk(catalog(), nullptr, true, chunk("data/a.pak", 0, 10), &d.view),
                      "not-servable");
        // The other gates still hold.
        expectRefused(gateGetChunk(catalog(), nullptr, true, chunk("nope.bin", 0, 1), &d.view),
                      "bad-path");
        expectRefused(
            gateGetChunk(catalog(), nullptr, true, chunk("ggoo.eti", 0, kEtiSize + 1), &d.view),
            "out-of-range");
        expectRefused(gateGetChunk(catalog(), nullptr, true, chunk("../ggoo.eti", 0, 1), &d.view),
                      "bad-path");
    }

    void downloadingGameAtAnotherVersionRefused() {
        Downloading d;
        d.files.version = "1"; // the catalog says 2
        d.verified = {{1, 0}};
        expectRefused(gateGetGame(catalog(), nullptr, true, "ggoo", &d.view), "not-servable");
        expectRefused(gateGetChunk(catalog(), nullptr, true, chunk("ggoo.eti", 0, 10), &d.view),
                      "not-servable");
        // Nor is another game's request served from this download.
        Downloading other;
        other.files.game = "cnctw";
        other.files.version = "7";
        expectRefused(gateGetChunk(catalog(), nullptr, true, chunk("ggoo.eti", 0, 10), &other.view),
                      "not-servable");
    }

    // The runtime passes busy=false while an install runs (it only reads the archives): the
    // gate serves a Ready game whenever busy is false.
    void installingReadyGameStillServes() {
        const LocalGame g = readyGame();
        expectServed(g, chunk("ggoo.eti", 0, 10));
        expectRefused(gateGetChunk(catalog(), &g, true, chunk("ggoo.eti", 0, 10)), "busy");
    }

    // Two requesters: a chunk just served to one is refused to the other as "elsewhere"
    // while some chunk has not gone out yet; a lone requester is always served.
    void seederSpreadsChunksAmongRequesters() {
        const LocalGame g = readyGame();
        lanspread::kernel::transfer::ServeSpreader spreader;
        auto ask = [&](const std::string &peer, const GetChunk &c, uint64_t now) {
            lanspread::kernel::transfer::Spreading s{spreader, peer, now, {}};
            return gateGetChunk(catalog(), &g, false, c, nullptr, &s);
        };
        const auto served = [](const std::variant<ServeRange, ServeRefusal> &r) {
            return std::holds_alternative<ServeRange>(r);
        };
        CPPUNIT_ASSERT(served(ask("A", chunk("ggoo.eti", 0, kChunkSize), 1)));
        CPPUNIT_ASSERT(served(ask("A", chunk("ggoo.eti", 0, kChunkSize), 2)));
        CPPUNIT_ASSERT(served(ask("B", chunk("data/a.pak", 0, 10), 3)));
        expectRefused(ask("B", chunk("ggoo.eti", 0, kChunkSize), 4), "elsewhere");
        // A bad request is refused for what it is, not spread.
        expectRefused(ask("B", chunk("ggoo.eti", kEtiSize, 1), 5), "out-of-range");
        // A peer still downloading relays what it has to anyone: no spreading.
        Downloading d;
        d.verified = {{1, 0}};
        for (const char *peer : {"A", "B", "C"}) {
            lanspread::kernel::transfer::Spreading s{spreader, peer, 6, {}};
            CPPUNIT_ASSERT(served(gateGetChunk(catalog(), nullptr, true,
                                               chunk("ggoo.eti", 0, kChunkSize), &d.view, &s)));
        }
    }

  private:
    // A download of ggoo at the catalog's version: three files, chunks verified as listed.
    struct Downloading {
        GameFiles files{"ggoo",
                        "2",
                        {{"data/a.pak", 10, {std::string(64, '1')}},
                         {"ggoo.eti", kEtiSize, {std::string(64, '3'), std::string(64, '4')}},
                         {"version.ini", 1, {std::string(64, '6')}}}};
        std::set<std::pair<std::size_t, uint64_t>> verified;
        lanspread::kernel::transfer::DownloadingGame view;
        Downloading() {
            view.files = &files;
            view.chunkVerified = [this](std::size_t f, uint64_t c) {
                return verified.count({f, c}) > 0;
            };
            view.diskPath = [this](std::size_t f) {
                return files.files[f].path == "version.ini" ? std::string(".version.ini.download")
                                                            : files.files[f].path;
            };
        }
        Downloading(const Downloading &) = delete;
    };

    static void expectDownloadServed(const Downloading &d, const GetChunk &request,
                                     const std::string &diskPath) {
        auto r = gateGetChunk(catalog(), nullptr, true, request, &d.view);
        const auto *refusal = std::get_if<ServeRefusal>(&r);
        CPPUNIT_ASSERT_MESSAGE(refusal ? refusal->code + ": " + refusal->message : "", !refusal);
        const auto &range = std::get<ServeRange>(r);
        CPPUNIT_ASSERT_EQUAL(diskPath, range.relativePath);
        CPPUNIT_ASSERT_EQUAL(request.offset, range.offset);
        CPPUNIT_ASSERT_EQUAL(request.length, range.length);
    }

    template <typename Ok>
    static void expectRefused(const std::variant<Ok, ServeRefusal> &r, const std::string &code) {
        const auto *refusal = std::get_if<ServeRefusal>(&r);
        CPPUNIT_ASSERT_MESSAGE("served, expected " + code, refusal);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(refusal->message, code, refusal->code);
        CPPUNIT_ASSERT(!refusal->message.empty());
    }

    static void expectServed(const LocalGame &g, const GetChunk &request) {
        auto r = gateGetChunk(catalog(), &g, false, request);
        const auto *refusal = std::get_if<ServeRefusal>(&r);
        CPPUNIT_ASSERT_MESSAGE(refusal ? refusal->code + ": " + refusal->message : "", !refusal);
        const auto &range = std::get<ServeRange>(r);
        CPPUNIT_ASSERT_EQUAL(request.path, range.relativePath);
        CPPUNIT_ASSERT_EQUAL(request.offset, range.offset);
        CPPUNIT_ASSERT_EQUAL(request.length, range.length);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ServeGateTest);
