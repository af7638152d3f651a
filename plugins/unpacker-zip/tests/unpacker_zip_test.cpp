// Drives unpacker-zip through its C entry and vtable, as the kernel does, with the SDK's
// FakeHost and an in-memory byte source. The archives are real zips written at test time by
// the fixtures writer (libarchive): deflate and stored.
#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

using lanspread::fixtures::Entry;
using lanspread::fixtures::Format;

using lanspread::testing::ExtractedEntry;
using MemorySource = lanspread::testing::MemoryByteSource;

std::vector<uint8_t> writeZip(Format format, const std::vector<Entry> &entries) {
    char dir[] = "/tmp/unpacker-zip-test-XXXXXX";
    CPPUNIT_ASSERT(mkdtemp(dir) != nullptr);
    std::string path = std::string(dir) + "/archive.zip";
    lanspread::fixtures::writeArchive(path, format, entries);
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir);
    return bytes;
}

const ExtractedEntry *find(const std::vector<ExtractedEntry> &all, const std::string &path) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto &e) { return e.path == path; });
    return it == all.end() ? nullptr : &*it;
}

} // namespace

class UnpackerZipTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(UnpackerZipTest);
    CPPUNIT_TEST(testDescriptor);
    CPPUNIT_TEST(testProbe);
    CPPUNIT_TEST(testDeflateRoundTrip);
    CPPUNIT_TEST(testStoredRoundTrip);
    CPPUNIT_TEST(testTenMiBPseudoRandom);
    CPPUNIT_TEST(testSkippedDataAndPartialReads);
    CPPUNIT_TEST(testEmptyArchive);
    CPPUNIT_TEST(testTruncatedIsAnError);
    CPPUNIT_TEST(testCorruptDataIsFatalAndNamesTheEntry);
    CPPUNIT_TEST(testDamagedLocalHeaderIsFatal);
    CPPUNIT_TEST(testStreamedSourceExtractsLikeTheFile);
    CPPUNIT_TEST(testStreamedSourceFailingIsIo);
    CPPUNIT_TEST(testNonSeekableSourceIsUnsupported);
    CPPUNIT_TEST(testSourceIoErrorIsReported);
    CPPUNIT_TEST(testNotAZip);
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
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.unpacker.zip"), std::string(d->id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_KIND_UNPACKER, d->kind);
        CPPUNIT_ASSERT_EQUAL(std::string("archive:zip"), std::string(d->capabilities[0]));
    }

    void testProbe() {
        CPPUNIT_ASSERT_EQUAL(60u, probe(std::string("PK\x03\x04", 4) + "rest", "a.eti"));
        CPPUNIT_ASSERT_EQUAL(60u,
                             probe(std::string("PK\x05\x06", 4) + std::string(18, '\0'), nullptr));
        CPPUNIT_ASSERT_EQUAL(0u, probe("PK", "a.zip"));
        CPPUNIT_ASSERT_EQUAL(0u, probe("", "a.zip"));
        CPPUNIT_ASSERT_EQUAL(0u, probe("Rar!\x1a\x07\x01", "a.zip"));
        CPPUNIT_ASSERT_EQUAL(0u, probe(std::string(512, '\0'), nullptr));
        // A real archive from the writer, both methods.
        for (Format f : {Format::Zip, Format::ZipStored}) {
            std::vector<uint8_t> zip = writeZip(f, {lanspread::fixtures::fileEntry("a", "x")});
            CPPUNIT_ASSERT_EQUAL(60u, probe(std::string(zip.begin(), zip.begin() + 64), nullptr));
        }
    }

    void testDeflateRoundTrip() { roundTrip(Format::Zip); }
    void testStoredRoundTrip() { roundTrip(Format::ZipStored); }

    // The directory at the end is found by seeking: a streamed source (path NULL) reads like
    // the archive's file, deflate and stored.
    void testStreamedSourceExtractsLikeTheFile() {
        roundTrip(Format::Zip, true);
        roundTrip(Format::ZipStored, true);
    }

    // The stream fails part-way, also while the directory at its end is read: E_IO (the
    // source's status, never Poco's guess of a short archive), logged.
    void testStreamedSourceFailingIsIo() {
        std::string big = lanspread::fixtures::pseudoRandom(300000, 5);
        std::vector<uint8_t> zip =
            writeZip(Format::Zip, {lanspread::fixtures::fileEntry("a", big),
                                   lanspread::fixtures::fileEntry("b", "y")});
        for (uint64_t failFrom : {uint64_t{zip.size() - 200}, uint64_t{zip.size() / 2}}) {
            MemorySource stream(zip, 4099);
            stream.failReadsFrom(failFrom);
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, extractAll(stream, got, 4096));
            CPPUNIT_ASSERT(
                _host.logged("the byte source failed to read at offset", LANSPREAD_LOG_ERROR));
        }
    }

    void testTenMiBPseudoRandom() {
        std::string big = lanspread::fixtures::pseudoRandom(10u << 20, 42);
        for (Format f : {Format::Zip, Format::ZipStored}) {
            std::vector<uint8_t> zip =
                writeZip(f, {lanspread::fixtures::fileEntry("big.bin", big),
                             lanspread::fixtures::fileEntry("after", "end")});
            MemorySource source(zip, 1 << 20, true);
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(source, got, 256 * 1024));
            CPPUNIT_ASSERT_EQUAL(std::size_t{2}, got.size());
            CPPUNIT_ASSERT_EQUAL(uint64_t{10u << 20}, got[0].sizeBytes);
            CPPUNIT_ASSERT_EQUAL(lanspread::fixtures::sha256Hex(big),
                                 lanspread::fixtures::sha256Hex(got[0].data));
            CPPUNIT_ASSERT_EQUAL(std::string("end"), got[1].data);
        }
    }

    // The host skips some entries' data and reads others in odd sizes from a source that
    // returns short reads.
    void testSkippedDataAndPartialReads() {
        std::string a = lanspread::fixtures::pseudoRandom(300000, 1);
        std::string b = lanspread::fixtures::pseudoRandom(70000, 2);
        std::vector<uint8_t> zip = writeZip(
            Format::Zip,
            {lanspread::fixtures::fileEntry("a", a), lanspread::fixtures::fileEntry("b", b),
             lanspread::fixtures::fileEntry("c", "ccc"), lanspread::fixtures::fileEntry("d", a)});
        MemorySource source(zip, 777, true);
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _vt->open(_state, source.source(), LANSPREAD_CANCEL_NONE, &job));
        std::vector<std::string> names, data;
        for (;;) {
            lanspread_archive_entry e{};
            e.struct_size = sizeof e;
            lanspread_status s = _vt->next_entry(job, &e);
            if (s == LANSPREAD_END)
                break;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s);
            names.push_back(lanspread::testing::entryPath(e));
            std::string bytes;
            if (names.back() == "a") { // read a little of a, then abandon it
                uint8_t buffer[100];
                size_t got = 0;
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->read_data(job, buffer, 100, &got));
            } else if (names.back() != "b") { // b is skipped entirely
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, readEntry(job, bytes, 333));
            }
            data.push_back(bytes);
        }
        _vt->close(job);
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, names.size());
        CPPUNIT_ASSERT_EQUAL(std::string("c"), names[2]);
        CPPUNIT_ASSERT_EQUAL(std::string("ccc"), data[2]);
        CPPUNIT_ASSERT(data[3] == a);
    }

    void testEmptyArchive() {
        std::vector<uint8_t> zip = writeZip(Format::Zip, {});
        MemorySource source(zip, 4096, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(source, got, 4096));
        CPPUNIT_ASSERT(got.empty());
    }

    // Truncation anywhere loses the end-of-central-directory record: an error, never a crash
    // and never a clean END.
    void testTruncatedIsAnError() {
        std::string big = lanspread::fixtures::pseudoRandom(200000, 3);
        for (Format f : {Format::Zip, Format::ZipStored}) {
            std::vector<uint8_t> zip = writeZip(f, {lanspread::fixtures::fileEntry("one", "first"),
                                                    lanspread::fixtures::fileEntry("two", big),
                                                    lanspread::fixtures::fileEntry("three", "x")});
            for (std::size_t cut : {zip.size() - 1, zip.size() - 22, zip.size() / 2,
                                    std::size_t{100}, std::size_t{4}, std::size_t{0}}) {
                std::vector<uint8_t> shortZip(zip.begin(), zip.begin() + cut);
                MemorySource source(shortZip, 4096, true);
                std::vector<ExtractedEntry> got;
                lanspread_status s = extractAll(source, got, 4096);
                CPPUNIT_ASSERT_MESSAGE("cut at " + std::to_string(cut), !lanspread_succeeded(s));
            }
        }
        CPPUNIT_ASSERT(_host.logged("not a complete zip archive", LANSPREAD_LOG_ERROR));
    }

    // Damaged compressed data: Poco's inflate or CRC error becomes E_FATAL, logged with the
    // entry's name.
    void testCorruptDataIsFatalAndNamesTheEntry() {
        std::string big = lanspread::fixtures::pseudoRandom(100000, 4);
        for (Format f : {Format::Zip, Format::ZipStored}) {
            std::vector<uint8_t> zip =
                writeZip(f, {lanspread::fixtures::fileEntry("victim.bin", big)});
            for (std::size_t i = 5000; i < 5100; ++i)
                zip[i] ^= 0x5a; // inside victim.bin's data
            MemorySource source(zip, 4096, true);
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 4096));
            CPPUNIT_ASSERT(_host.logged("entry 'victim.bin'", LANSPREAD_LOG_ERROR));
        }
    }

    // The central directory is intact but a local header is not: the listing Poco reads and
    // the central directory disagree, and the archive is refused.
    void testDamagedLocalHeaderIsFatal() {
        std::vector<uint8_t> zip =
            writeZip(Format::ZipStored, {lanspread::fixtures::fileEntry("one", "first"),
                                         lanspread::fixtures::fileEntry("two", "second"),
                                         lanspread::fixtures::fileEntry("three", "x")});
        const std::string signature("PK\x03\x04", 4);
        std::string text(zip.begin(), zip.end());
        std::size_t second = text.find(signature, 4);
        CPPUNIT_ASSERT(second != std::string::npos);
        zip[second + 2] = 'X';
        MemorySource source(zip, 4096, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 4096));
        CPPUNIT_ASSERT(got.empty());
    }

    void testNonSeekableSourceIsUnsupported() {
        std::vector<uint8_t> zip =
            writeZip(Format::Zip, {lanspread::fixtures::fileEntry("a", "x")});
        MemorySource source(zip, 4096, false);
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED,
                             _vt->open(_state, source.source(), LANSPREAD_CANCEL_NONE, &job));
        CPPUNIT_ASSERT(job == nullptr);
        CPPUNIT_ASSERT(_host.logged("seekable"));
    }

    void testSourceIoErrorIsReported() {
        std::string big = lanspread::fixtures::pseudoRandom(300000, 5);
        std::vector<uint8_t> zip =
            writeZip(Format::ZipStored, {lanspread::fixtures::fileEntry("a", big),
                                         lanspread::fixtures::fileEntry("b", "y")});
        MemorySource source(zip, 4096, true);
        // Reads that start inside a's data fail; the directory at the end reads fine.
        source.setReadFault([](uint64_t position) {
            return position >= 8000 && position < 100000 ? LANSPREAD_E_IO : LANSPREAD_OK;
        });
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, extractAll(source, got, 4096));
    }

    void testNotAZip() {
        std::vector<uint8_t> noise(4096);
        std::string r = lanspread::fixtures::pseudoRandom(noise.size(), 6);
        std::memcpy(noise.data(), r.data(), r.size());
        MemorySource source(noise, 4096, true);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, extractAll(source, got, 4096));
    }

    void testCancelled() {
        std::string big = lanspread::fixtures::pseudoRandom(1 << 20, 7);
        std::vector<uint8_t> zip =
            writeZip(Format::Zip, {lanspread::fixtures::fileEntry("big", big)});
        MemorySource source(zip, 4096, true);
        lanspread_cancel_handle token = _host.newCancelToken();
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->open(_state, source.source(), token, &job));
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->next_entry(job, &e));
        uint8_t buffer[4096];
        size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->read_data(job, buffer, sizeof buffer, &got));
        _host.cancel(token);
        lanspread_status s = LANSPREAD_OK;
        for (int i = 0; i < 1000 && s == LANSPREAD_OK; ++i)
            s = _vt->read_data(job, buffer, sizeof buffer, &got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, s);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, _vt->next_entry(job, &e));
        _vt->close(job);
    }

  private:
    // streamed: through a source like a streamed install's (see extractStreamed).
    void roundTrip(Format format, bool streamed = false) {
        std::string text = "hello, world\n";
        std::string medium = lanspread::fixtures::pseudoRandom(150000, 9);
        std::vector<Entry> entries = {
            lanspread::fixtures::fileEntry("hello.txt", text),
            lanspread::fixtures::dirEntry("dir/"),
            lanspread::fixtures::dirEntry("dir/sub dir/"),
            lanspread::fixtures::fileEntry("dir/sub dir/-dash name.txt", "dash"),
            lanspread::fixtures::fileEntry("dir/medium.bin", medium),
            lanspread::fixtures::fileEntry("empty", ""),
            lanspread::fixtures::symlinkEntry("dir/link", "medium.bin"),
        };
        entries[0].mode = 0600;
        std::vector<uint8_t> zip = writeZip(format, entries);
        std::vector<ExtractedEntry> got;
        if (streamed) {
            got = extractStreamed(zip);
        } else {
            MemorySource source(zip, 1000, true);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(source, got, 4000));
        }
        CPPUNIT_ASSERT_EQUAL(entries.size(), got.size());
        for (std::size_t i = 0; i < entries.size(); ++i) // archive order is kept
            CPPUNIT_ASSERT_EQUAL(entries[i].path, got[i].path);

        const ExtractedEntry *hello = find(got, "hello.txt");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_FILE, hello->type);
        CPPUNIT_ASSERT_EQUAL(uint64_t{text.size()}, hello->sizeBytes);
        CPPUNIT_ASSERT_EQUAL(text, hello->data);
        CPPUNIT_ASSERT_EQUAL(0600u, hello->mode);
        CPPUNIT_ASSERT_EQUAL(int64_t{1700000000}, hello->mtimeSeconds);

        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_DIRECTORY, find(got, "dir/")->type);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_DIRECTORY, find(got, "dir/sub dir/")->type);
        CPPUNIT_ASSERT_EQUAL(std::string("dash"), find(got, "dir/sub dir/-dash name.txt")->data);

        const ExtractedEntry *m = find(got, "dir/medium.bin");
        CPPUNIT_ASSERT_EQUAL(uint64_t{medium.size()}, m->sizeBytes);
        CPPUNIT_ASSERT_EQUAL(lanspread::fixtures::sha256Hex(medium),
                             lanspread::fixtures::sha256Hex(m->data));

        const ExtractedEntry *empty = find(got, "empty");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_FILE, empty->type);
        CPPUNIT_ASSERT(empty->data.empty());

        const ExtractedEntry *link = find(got, "dir/link");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_SYMLINK, link->type);
        CPPUNIT_ASSERT_EQUAL(std::string("medium.bin"), link->linkTarget);
        CPPUNIT_ASSERT(link->data.empty());
    }

    // A streamed install's source: path NULL, seek and size offered, reads served in small
    // pieces of changing odd sizes (1..4093 bytes), one read blocking longer than usual.
    // What it gives must equal what the archive's file gives (a source with its path, read
    // whole); that is returned.
    std::vector<ExtractedEntry> extractStreamed(const std::vector<uint8_t> &zip) {
        char dir[] = "/tmp/unpacker-zip-test-XXXXXX";
        CPPUNIT_ASSERT(mkdtemp(dir) != nullptr);
        std::string path = std::string(dir) + "/archive.zip";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char *>(zip.data()),
                   static_cast<std::streamsize>(zip.size()));
        MemorySource file(zip);
        file.setPath(path);
        std::vector<ExtractedEntry> want;
        lanspread_status fromFile = extractAll(file, want, 65536);
        std::filesystem::remove_all(dir);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, fromFile);

        MemorySource stream(zip);
        CPPUNIT_ASSERT(stream.source()->path == nullptr);
        stream.setStreamedReads(20, std::chrono::milliseconds(100));
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, extractAll(stream, got, 3001));
        CPPUNIT_ASSERT_EQUAL_MESSAGE("streamed", std::string(),
                                     lanspread::testing::entriesDifference(want, got));
        CPPUNIT_ASSERT(stream.readCalls() > 50); // the small pieces were really used
        return got;
    }

    uint32_t probe(const std::string &head, const char *hint) {
        uint32_t score = 999;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             _vt->probe(_state, reinterpret_cast<const uint8_t *>(head.data()),
                                        head.size(), hint, &score));
        return score;
    }

    // Reads the current entry's data in `chunk`-byte reads; returns END or the error.
    lanspread_status readEntry(lanspread_unpack_job *job, std::string &out, std::size_t chunk) {
        std::string breach;
        lanspread_status s = lanspread::testing::readEntryData(*_vt, job, out, chunk, &breach);
        CPPUNIT_ASSERT_EQUAL(std::string(), breach);
        return s;
    }

    // Opens source and reads every entry and its data. Returns END or the first error.
    lanspread_status extractAll(MemorySource &source, std::vector<ExtractedEntry> &out,
                                std::size_t chunk) {
        lanspread::testing::UnpackResult r = lanspread::testing::readAllEntries(
            *_vt, _state, source.source(), LANSPREAD_CANCEL_NONE, chunk);
        CPPUNIT_ASSERT_EQUAL(std::string(), r.contractError);
        out.insert(out.end(), r.entries.begin(), r.entries.end());
        return r.status;
    }

    lanspread::testing::FakeHost _host{"org.lanspread.unpacker.zip"};
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    const lanspread_unpacker_v1 *_vt = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(UnpackerZipTest);
