// Drives the unpacker-minimal plugin through its C entry and vtable, exactly as the kernel
// would, with lanspread::testing::FakeHost as the host and an in-memory byte source. The
// archives are real ustar files written by libarchive (and, when present, checked against
// the `tar` program's listing).
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

struct Item {
    std::string path;
    unsigned type; // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO
    std::string data;
    std::string link;
};

// A real ustar archive of items, written by libarchive into memory.
std::vector<uint8_t> buildTar(const std::vector<Item> &items) {
    std::vector<uint8_t> buffer(4u << 20);
    size_t used = 0;
    struct archive *a = archive_write_new();
    CPPUNIT_ASSERT_EQUAL(ARCHIVE_OK, archive_write_set_format_ustar(a));
    CPPUNIT_ASSERT_EQUAL(ARCHIVE_OK, archive_write_set_bytes_in_last_block(a, 1));
    CPPUNIT_ASSERT_EQUAL(ARCHIVE_OK,
                         archive_write_open_memory(a, buffer.data(), buffer.size(), &used));
    for (const Item &item : items) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, item.path.c_str());
        archive_entry_set_filetype(e, item.type);
        archive_entry_set_perm(e, item.type == AE_IFDIR ? 0755 : 0640);
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_entry_set_size(e, static_cast<la_int64_t>(item.data.size()));
        if (item.type == AE_IFLNK)
            archive_entry_set_symlink(e, item.link.c_str());
        CPPUNIT_ASSERT_EQUAL(ARCHIVE_OK, archive_write_header(a, e));
        if (!item.data.empty())
            CPPUNIT_ASSERT_EQUAL(static_cast<la_ssize_t>(item.data.size()),
                                 archive_write_data(a, item.data.data(), item.data.size()));
        archive_entry_free(e);
    }
    CPPUNIT_ASSERT_EQUAL(ARCHIVE_OK, archive_write_close(a));
    archive_write_free(a);
    buffer.resize(used);
    return buffer;
}

using lanspread::testing::ExtractedEntry;
using MemorySource = lanspread::testing::MemoryByteSource;

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (i * 7) % 26);
    return s;
}

} // namespace

class UnpackerMinimalTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(UnpackerMinimalTest);
    CPPUNIT_TEST(testDescriptor);
    CPPUNIT_TEST(testProbe);
    CPPUNIT_TEST(testReadsEveryEntry);
    CPPUNIT_TEST(testNonSeekableSourceAndSkippedData);
    CPPUNIT_TEST(testAgreesWithTarProgram);
    CPPUNIT_TEST(testTruncatedInsideDataIsFatal);
    CPPUNIT_TEST(testTruncatedInsideHeaderIsFatal);
    CPPUNIT_TEST(testMissingEndBlocksIsFatal);
    CPPUNIT_TEST(testCorruptChecksumIsFatal);
    CPPUNIT_TEST(testNotUstarIsFatal);
    CPPUNIT_TEST(testCancelled);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(_entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host.api(), &_state));
        _vt = static_cast<const lanspread_unpacker_v1 *>(
            _entry->get_interface(_state, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(_vt != nullptr);
    }
    void tearDown() override { _entry->shutdown(_state); }

    void testDescriptor() {
        const lanspread_plugin_descriptor *d = _entry->descriptor;
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.example.unpacker-minimal"),
                             std::string(d->id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_KIND_UNPACKER, d->kind);
        CPPUNIT_ASSERT(d->capabilities && d->capabilities[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("archive:ustar"), std::string(d->capabilities[0]));
        CPPUNIT_ASSERT(d->capabilities[1] == nullptr);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(sizeof(lanspread_plugin_entry)),
                             _entry->struct_size);
    }

    void testProbe() {
        std::vector<uint8_t> tar = buildTar({{"a.txt", AE_IFREG, "x", ""}});
        uint32_t score = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->probe(_state, tar.data(), 512, nullptr, &score));
        CPPUNIT_ASSERT_EQUAL(90u, score);
        std::vector<uint8_t> junk(512, 'z');
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->probe(_state, junk.data(), 512, "x.zip", &score));
        CPPUNIT_ASSERT_EQUAL(0u, score);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->probe(_state, junk.data(), 10, "x.tar", &score));
        CPPUNIT_ASSERT_EQUAL(10u, score);
    }

    void testReadsEveryEntry() {
        std::string longDir(60, 'd');
        std::string longPath = longDir + "/" + longDir + "/file-with-a-long-name.txt"; // > 100
        std::string big = pattern(5000);
        std::vector<uint8_t> tar = buildTar({
            {"hello.txt", AE_IFREG, "hello, world\n", ""},
            {"dir/", AE_IFDIR, "", ""},
            {"dir/big.bin", AE_IFREG, big, ""},
            {"dir/link", AE_IFLNK, "", "big.bin"},
            {"empty", AE_IFREG, "", ""},
            {"fifo", AE_IFIFO, "", ""},
            {longPath, AE_IFREG, "long", ""},
        });
        MemorySource source(tar, 1000, true); // partial reads of 1000 bytes
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(source, got, 333));
        CPPUNIT_ASSERT_EQUAL(std::size_t{7}, got.size());

        CPPUNIT_ASSERT_EQUAL(std::string("hello.txt"), got[0].path);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_FILE, got[0].type);
        CPPUNIT_ASSERT_EQUAL(uint64_t{13}, got[0].sizeBytes);
        CPPUNIT_ASSERT_EQUAL(std::string("hello, world\n"), got[0].data);
        CPPUNIT_ASSERT_EQUAL(0640u, got[0].mode);
        CPPUNIT_ASSERT_EQUAL(int64_t{1700000000}, got[0].mtimeSeconds);

        CPPUNIT_ASSERT_EQUAL(std::string("dir/"), got[1].path);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_DIRECTORY, got[1].type);
        CPPUNIT_ASSERT_EQUAL(0755u, got[1].mode);

        CPPUNIT_ASSERT_EQUAL(std::string("dir/big.bin"), got[2].path);
        CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, got[2].sizeBytes);
        CPPUNIT_ASSERT(got[2].data == big);

        CPPUNIT_ASSERT_EQUAL(std::string("dir/link"), got[3].path);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_SYMLINK, got[3].type);
        CPPUNIT_ASSERT_EQUAL(std::string("big.bin"), got[3].linkTarget);
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, got[3].sizeBytes);

        CPPUNIT_ASSERT_EQUAL(std::string("empty"), got[4].path);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_FILE, got[4].type);
        CPPUNIT_ASSERT(got[4].data.empty());

        CPPUNIT_ASSERT_EQUAL(std::string("fifo"), got[5].path);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_OTHER, got[5].type);

        CPPUNIT_ASSERT_EQUAL(longPath, got[6].path); // joined from ustar prefix + name
        CPPUNIT_ASSERT_EQUAL(std::string("long"), got[6].data);
        CPPUNIT_ASSERT(_host.logs().empty());
    }

    // A non-seekable source, and entries whose data the host never reads: the plugin must
    // skip the data and the padding by reading.
    void testNonSeekableSourceAndSkippedData() {
        std::vector<uint8_t> tar = buildTar({{"one", AE_IFREG, pattern(1500), ""},
                                             {"two", AE_IFREG, pattern(10), ""},
                                             {"three", AE_IFREG, "3", ""}});
        MemorySource source(tar, 4096, false);
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _vt->open(_state, source.source(), LANSPREAD_CANCEL_NONE, &job));
        std::vector<std::string> names;
        lanspread_status s;
        for (;;) {
            lanspread_archive_entry e{};
            e.struct_size = sizeof e;
            s = _vt->next_entry(job, &e);
            if (s != LANSPREAD_OK)
                break;
            names.push_back(lanspread::testing::entryPath(e));
        }
        _vt->close(job);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, s);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, names.size());
        CPPUNIT_ASSERT_EQUAL(std::string("three"), names[2]);
    }

    // GNU tar (when installed) lists the same archive with the same names, and the plugin
    // reads a ustar written by GNU tar too.
    void testAgreesWithTarProgram() {
        if (std::system("tar --version >/dev/null 2>&1") != 0)
            return; // no tar program: nothing to compare with
        char dir[] = "/tmp/unpacker-minimal-XXXXXX";
        CPPUNIT_ASSERT(mkdtemp(dir) != nullptr);
        std::string d(dir);
        std::string script = "set -e; cd " + d +
                             "; mkdir -p src/sub; printf 'abc' > src/sub/f.txt;"
                             " ln -s sub/f.txt src/l; (cd src && tar --format=ustar --no-recursion"
                             " -cf ../gnu.tar sub sub/f.txt l); tar -tf gnu.tar > list.txt";
        CPPUNIT_ASSERT_EQUAL(0, std::system(script.c_str()));
        std::vector<uint8_t> tar = readFile(d + "/gnu.tar");
        std::vector<uint8_t> list = readFile(d + "/list.txt");
        std::string listing(list.begin(), list.end());
        std::filesystem::remove_all(d);

        MemorySource source(tar, 1 << 20, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(source, got, 4096));
        std::string ours;
        for (const auto &e : got)
            ours += e.path + "\n";
        CPPUNIT_ASSERT_EQUAL(listing, ours);
        auto f =
            std::find_if(got.begin(), got.end(), [](auto &e) { return e.path == "sub/f.txt"; });
        CPPUNIT_ASSERT(f != got.end() && f->data == "abc");
        auto l = std::find_if(got.begin(), got.end(), [](auto &e) { return e.path == "l"; });
        CPPUNIT_ASSERT(l != got.end() && l->type == LANSPREAD_ENTRY_SYMLINK &&
                       l->linkTarget == "sub/f.txt");
    }

    void testTruncatedInsideDataIsFatal() {
        std::vector<uint8_t> tar =
            buildTar({{"a", AE_IFREG, "x", ""}, {"b", AE_IFREG, pattern(3000), ""}});
        tar.resize(1024 + 512 + 1000); // a's header+data, b's header, 1000 of b's 3000 bytes
        for (bool seekable : {true, false}) {
            MemorySource source(tar, 700, seekable);
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 256));
            CPPUNIT_ASSERT_EQUAL(std::size_t{2}, got.size());
            CPPUNIT_ASSERT_EQUAL(std::size_t{1000}, got[1].data.size());
            CPPUNIT_ASSERT(_host.logged("archive ends inside an entry", LANSPREAD_LOG_ERROR));
        }
        // Skipping b's data instead of reading it hits the end too.
        MemorySource source(tar, 700, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 0));
    }

    void testTruncatedInsideHeaderIsFatal() {
        std::vector<uint8_t> tar = buildTar({{"a", AE_IFREG, "x", ""}, {"b", AE_IFREG, "y", ""}});
        tar.resize(1024 + 300);
        MemorySource source(tar, 100, false);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 64));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, got.size());
    }

    void testMissingEndBlocksIsFatal() {
        std::vector<uint8_t> tar = buildTar({{"a", AE_IFREG, "x", ""}});
        tar.resize(1024); // header and data, no end-of-archive blocks
        MemorySource source(tar, 512, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 64));
        // A lone zero block at the very end is tolerated, as tar programs do.
        tar.resize(1536, 0);
        MemorySource lone(tar, 512, true);
        got.clear();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(lone, got, 64));
    }

    void testCorruptChecksumIsFatal() {
        std::vector<uint8_t> tar = buildTar({{"a", AE_IFREG, "x", ""}});
        tar[0] ^= 0x20; // "a" -> "A": the stored checksum no longer matches
        MemorySource source(tar, 512, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 64));
        CPPUNIT_ASSERT(got.empty());
        CPPUNIT_ASSERT(_host.logged("corrupt ustar header"));
    }

    void testNotUstarIsFatal() {
        MemorySource source(std::vector<uint8_t>(2048, 'Q'), 512, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 64));
    }

    void testCancelled() {
        std::vector<uint8_t> tar = buildTar({{"a", AE_IFREG, "x", ""}});
        MemorySource source(tar, 512, true);
        lanspread_cancel_handle token = _host.newCancelToken();
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->open(_state, source.source(), token, &job));
        _host.cancel(token);
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, _vt->next_entry(job, &e));
        _vt->close(job);
    }

  private:
    // Opens source and reads every entry (and its data in `chunk`-byte reads; 0 = skip the
    // data). Returns the status that stopped it: END, or the first error.
    lanspread_status extractAll(MemorySource &source, std::vector<ExtractedEntry> &out,
                                std::size_t chunk) {
        lanspread::testing::UnpackResult r = lanspread::testing::readAllEntries(
            *_vt, _state, source.source(), LANSPREAD_CANCEL_NONE, chunk);
        CPPUNIT_ASSERT_EQUAL(std::string(), r.contractError);
        out.insert(out.end(), r.entries.begin(), r.entries.end());
        return r.status;
    }

    static std::vector<uint8_t> readFile(const std::string &path) {
        std::vector<uint8_t> bytes;
        if (FILE *f = std::fopen(path.c_str(), "rb")) {
            uint8_t buffer[4096];
            size_t n;
            while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
                bytes.insert(bytes.end(), buffer, buffer + n);
            std::fclose(f);
        }
        return bytes;
    }

    lanspread::testing::FakeHost _host{"org.lanspread.example.unpacker-minimal"};
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_unpacker_v1 *_vt = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(UnpackerMinimalTest);
