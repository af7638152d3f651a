// Drives unpacker-unrar through its C entry and vtable with the SDK's FakeHost, against the
// real extractors installed on this machine (unar/lsar, bsdtar) and, for the unrar code path,
// a stand-in `unrar` script (RARLAB's unrar is non-free and not installable here). The RAR5
// archives come from the fixtures writer. Every test that starts a child checks afterwards
// that none is left, running or zombie.
#include "listing.hpp"
#include "subprocess.hpp"
#include "tools.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <Poco/Checksum.h>

#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

using lanspread::fixtures::Entry;
using lanspread::fixtures::Format;
namespace unrar = lanspread::plugins::unrar;

std::string onPath(const std::string &name) {
    const char *env = std::getenv("PATH");
    std::stringstream dirs(env ? env : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string candidate = dir + "/" + name;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return "";
}

// Processes whose parent is this test process (running or zombie).
std::vector<pid_t> children() {
    std::vector<pid_t> found;
    for (const auto &d : std::filesystem::directory_iterator("/proc")) {
        std::string name = d.path().filename();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
            continue;
        std::ifstream in(d.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto close = stat.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(stat.substr(close + 2));
        char state;
        long ppid;
        if (rest >> state >> ppid && ppid == ::getpid())
            found.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return found;
}

void assertNoChildren(const std::string &where) {
    CPPUNIT_ASSERT_MESSAGE(where + ": a child process is left", children().empty());
    int status = 0;
    errno = 0;
    CPPUNIT_ASSERT_MESSAGE(where + ": a child is left to reap",
                           ::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
}

struct TempDir {
    std::string path;
    TempDir() {
        char dir[] = "/tmp/unpacker-unrar-test-XXXXXX";
        CPPUNIT_ASSERT(mkdtemp(dir) != nullptr);
        path = dir;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

using lanspread::testing::ExtractedEntry;

// A byte source that has the archive's path (the plugin only uses that); it cannot seek and
// its read() gives no bytes.
struct PathSource : lanspread::testing::MemoryByteSource {
    explicit PathSource(const std::string &path)
        : MemoryByteSource(std::string(), kUnlimited, false) {
        setPath(path);
    }
};

std::string readFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string withoutTrailingSlash(std::string p) {
    while (p.size() > 1 && p.back() == '/')
        p.pop_back();
    return p;
}

uint32_t crc32(const std::string &bytes) {
    Poco::Checksum c(Poco::Checksum::TYPE_CRC32);
    c.update(bytes.data(), static_cast<unsigned>(bytes.size()));
    return c.checksum();
}

// One plugin instance with its own fake host and config.
using Config = std::map<std::string, std::string>;

struct Instance {
    lanspread::testing::FakeHost host{"org.lanspread.unpacker.unrar"};
    const lanspread_plugin_entry *entry = nullptr;
    void *state = nullptr;
    const lanspread_unpacker_v1 *vt = nullptr;

    explicit Instance(const Config &config = {}) {
        for (const auto &[k, v] : config)
            host.setConfig(k, v);
        entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, entry->init(host.api(), &state));
        vt = static_cast<const lanspread_unpacker_v1 *>(
            entry->get_interface(state, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(vt != nullptr);
    }
    ~Instance() { entry->shutdown(state); }

    lanspread_status readEntry(lanspread_unpack_job *job, std::string &out, std::size_t chunk) {
        std::string breach;
        lanspread_status s = lanspread::testing::readEntryData(*vt, job, out, chunk, &breach);
        CPPUNIT_ASSERT_EQUAL(std::string(), breach);
        return s;
    }

    // Opens path and reads every entry and its data; END or the first error.
    lanspread_status extractAll(const std::string &path, std::vector<ExtractedEntry> &out,
                                std::size_t chunk = 65536) {
        PathSource source(path);
        return extractAll(source, out, chunk);
    }

    // Reads every entry of source, with the given cancel token.
    lanspread_status extractAll(lanspread::testing::MemoryByteSource &source,
                                std::vector<ExtractedEntry> &out, std::size_t chunk,
                                lanspread_cancel_handle cancel = LANSPREAD_CANCEL_NONE) {
        lanspread::testing::UnpackResult r =
            lanspread::testing::readAllEntries(*vt, state, source.source(), cancel, chunk);
        CPPUNIT_ASSERT_EQUAL(std::string(), r.contractError);
        out.insert(out.end(), r.entries.begin(), r.entries.end());
        return r.status;
    }

    bool logged(const std::string &text) const { return host.logged(text, LANSPREAD_LOG_ERROR); }
};

} // namespace

class UnpackerUnrarTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(UnpackerUnrarTest);
    CPPUNIT_TEST(testDescriptorAndProbe);
    CPPUNIT_TEST(testUnarRoundTrip);
    CPPUNIT_TEST(testBsdtarRoundTrip);
    CPPUNIT_TEST(testUnrarPathWithStandInScript);
    CPPUNIT_TEST(testToolPathPinsTheBinary);
    CPPUNIT_TEST(testDefaultToolOrder);
    CPPUNIT_TEST(testArchiveNameWithLeadingDashAndSpaces);
    CPPUNIT_TEST(testSkippedDataAndPartialReads);
    CPPUNIT_TEST(testMissingToolIsAClearError);
    CPPUNIT_TEST(testNoExtractorAnywhere);
    CPPUNIT_TEST(testStreamedArchiveThroughBsdtarStdin);
    CPPUNIT_TEST(testStreamedArchiveWithoutBsdtarIsUnsupported);
    CPPUNIT_TEST(testSubprocessStopsFeedingAChildThatStopsReading);
    CPPUNIT_TEST(testStreamedSourceFailures);
    CPPUNIT_TEST(testStreamedCancelKillsTheChild);
    CPPUNIT_TEST(testNotAnArchiveFailsOpenWithTheToolsMessage);
    CPPUNIT_TEST(testTruncatedArchiveIsAnErrorWithoutZombies);
    CPPUNIT_TEST(testCorruptDataIsCaughtByCrc);
    CPPUNIT_TEST(testCancelMidStreamKillsTheChild);
    CPPUNIT_TEST(testCloseMidStreamKillsTheChild);
    CPPUNIT_TEST(testParsers);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _big = lanspread::fixtures::pseudoRandom(3u << 20, 77);
        _entries = {
            lanspread::fixtures::fileEntry("hello.txt", "hello, world\n", 0600),
            lanspread::fixtures::dirEntry("dir/"),
            lanspread::fixtures::dirEntry("dir/sub dir/"),
            lanspread::fixtures::fileEntry("dir/sub dir/-dash name.txt", "dash"),
            lanspread::fixtures::fileEntry("dir/big.bin", _big),
            lanspread::fixtures::symlinkEntry("dir/link", "big.bin"),
            lanspread::fixtures::fileEntry("empty", ""),
        };
        _archive = _dir.path + "/game.rar";
        lanspread::fixtures::writeArchive(_archive, Format::Rar5Stored, _entries);
        assertNoChildren("before the test");
    }

    void tearDown() override { assertNoChildren("after the test"); }

    void testDescriptorAndProbe() {
        Instance p;
        const lanspread_plugin_descriptor *d = p.entry->descriptor;
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.unpacker.unrar"), std::string(d->id));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_KIND_UNPACKER, d->kind);
        auto probe = [&](const std::string &head) {
            uint32_t score = 999;
            CPPUNIT_ASSERT_EQUAL(
                LANSPREAD_OK, p.vt->probe(p.state, reinterpret_cast<const uint8_t *>(head.data()),
                                          head.size(), "x.rar", &score));
            return score;
        };
        CPPUNIT_ASSERT_EQUAL(70u, probe(std::string("Rar!\x1a\x07\x01\x00", 8) + "rest"));
        CPPUNIT_ASSERT_EQUAL(70u, probe(std::string("Rar!\x1a\x07\x00", 7) + "rest"));
        CPPUNIT_ASSERT_EQUAL(0u, probe(std::string("Rar!\x1a\x07\x02", 7)));
        CPPUNIT_ASSERT_EQUAL(0u, probe("Rar!"));
        CPPUNIT_ASSERT_EQUAL(0u, probe(std::string("PK\x03\x04", 4)));
        CPPUNIT_ASSERT_EQUAL(0u, probe(""));
        std::ifstream in(_archive, std::ios::binary);
        std::string head(64, '\0');
        in.read(head.data(), 64);
        CPPUNIT_ASSERT_EQUAL(70u, probe(head)); // the fixtures writer's RAR5
    }

    void testUnarRoundTrip() {
        if (!haveUnar())
            return;
        Instance p(Config{{"tool", "unar"}});
        roundTrip(p, "unar");
    }

    void testBsdtarRoundTrip() {
        if (!haveBsdtar())
            return;
        Instance p(Config{{"tool", "bsdtar"}});
        roundTrip(p, "bsdtar");
    }

    // The unrar code path (unrar lt -c- listing, unrar p stream) against a stand-in script:
    // `lt` prints a technical listing in unrar's format, `p` streams every file (via unar).
    void testUnrarPathWithStandInScript() {
        if (!haveUnar())
            return;
        std::string listing = "\nUNRAR 7.00 freeware      Copyright (c) 1993-2024 Alexander "
                              "Roshal\n\nArchive: " +
                              _archive + "\nDetails: RAR 5\n";
        for (const Entry &e : _entries) {
            std::string name = withoutTrailingSlash(e.path);
            listing += "\n        Name: " + name + "\n";
            if (e.type == Entry::Type::Directory) {
                listing += "        Type: Directory\n       mtime: 2023-11-14 22:13:20,000000000\n"
                           "  Attributes: drwxr-xr-x\n";
            } else if (e.type == Entry::Type::Symlink) {
                listing += "        Type: Unix symbolic link\n      Target: " + e.linkTarget +
                           "\n        Size: 0\n Packed size: 0\n       Ratio: 0%\n"
                           "       mtime: 2023-11-14 22:13:20,000000000\n"
                           "  Attributes: lrwxrwxrwx\n";
            } else {
                char crc[16];
                std::snprintf(crc, sizeof crc, "%08X", crc32(e.data));
                listing += "        Type: File\n        Size: " + std::to_string(e.data.size()) +
                           "\n Packed size: " + std::to_string(e.data.size()) +
                           "\n       Ratio: 100%\n       mtime: 2023-11-14 22:13:20,000000000\n"
                           "  Attributes: " +
                           (e.mode == 0600 ? "-rw-------" : "-rw-r--r--") +
                           "\n       CRC32: " + crc +
                           "\n     Host OS: Unix\n Compression: RAR 5.0(v50) -m0 -md=128K\n";
            }
        }
        std::string script = writeStandInUnrar(listing);
        Instance p(Config{{"tool", "unrar"}, {"tool_path", script}});
        roundTrip(p, "unrar (stand-in)");

        // The stream is checked against the listing: a wrong CRC is caught.
        std::string lying = listing;
        auto at = lying.find("CRC32: ", lying.find("Name: dir/big.bin"));
        lying[at + 7] = lying[at + 7] == '0' ? '1' : '0';
        std::string bad = writeStandInUnrar(lying, "unrar-lying");
        Instance q(Config{{"tool", "unrar"}, {"tool_path", bad}});
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, q.extractAll(_archive, got));
        CPPUNIT_ASSERT(q.logged("does not match its CRC32"));
    }

    void testToolPathPinsTheBinary() {
        if (haveUnar()) {
            Instance p(Config{{"tool_path", onPath("unar")}}); // kind from the name, lsar beside it
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, p.extractAll(_archive, got));
            CPPUNIT_ASSERT_EQUAL(_entries.size(), got.size());
        }
        if (haveBsdtar()) {
            Instance p(Config{{"tool_path", onPath("bsdtar")}});
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, p.extractAll(_archive, got));
            CPPUNIT_ASSERT_EQUAL(_entries.size(), got.size());
        }
    }

    void testDefaultToolOrder() {
        auto tool = unrar::resolveTool("", "");
        if (!onPath("unrar").empty()) {
            CPPUNIT_ASSERT(tool.ok() && tool.value().kind == unrar::ToolKind::Unrar);
        } else if (haveUnar()) {
            CPPUNIT_ASSERT(tool.ok() && tool.value().kind == unrar::ToolKind::Unar);
            CPPUNIT_ASSERT_EQUAL(onPath("lsar"), tool.value().lister);
        } else if (haveBsdtar()) {
            CPPUNIT_ASSERT(tool.ok() && tool.value().kind == unrar::ToolKind::Bsdtar);
        }
        auto bad = unrar::resolveTool("7z", "");
        CPPUNIT_ASSERT(!bad.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, bad.status().code());
    }

    // Neither the archive's name nor its entries' names ever reach a shell or an option
    // parser: a relative archive path starting with '-' and holding spaces works.
    void testArchiveNameWithLeadingDashAndSpaces() {
        std::string odd = "-odd name (1).rar";
        std::filesystem::copy_file(_archive, _dir.path + "/" + odd);
        char cwd[4096];
        CPPUNIT_ASSERT(::getcwd(cwd, sizeof cwd) != nullptr);
        CPPUNIT_ASSERT_EQUAL(0, ::chdir(_dir.path.c_str()));
        for (const char *tool : {"unar", "bsdtar"}) {
            if ((std::string(tool) == "unar" && !haveUnar()) ||
                (std::string(tool) == "bsdtar" && !haveBsdtar()))
                continue;
            Instance p(Config{{"tool", tool}});
            std::vector<ExtractedEntry> got;
            lanspread_status s = p.extractAll(odd, got);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(tool, LANSPREAD_END, s);
            CPPUNIT_ASSERT_EQUAL(_entries.size(), got.size());
        }
        CPPUNIT_ASSERT_EQUAL(0, ::chdir(cwd));
    }

    // The host reads some entries, abandons one part-way and skips others: the stream is
    // kept in step (unar starts at the first entry whose data is wanted).
    void testSkippedDataAndPartialReads() {
        for (const char *tool : {"unar", "bsdtar"}) {
            if ((std::string(tool) == "unar" && !haveUnar()) ||
                (std::string(tool) == "bsdtar" && !haveBsdtar()))
                continue;
            Instance p(Config{{"tool", tool}});
            PathSource source(_archive);
            lanspread_unpack_job *job = nullptr;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 p.vt->open(p.state, source.source(), LANSPREAD_CANCEL_NONE, &job));
            std::map<std::string, std::string> data;
            for (;;) {
                lanspread_archive_entry e{};
                e.struct_size = sizeof e;
                lanspread_status s = p.vt->next_entry(job, &e);
                if (s == LANSPREAD_END)
                    break;
                CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s);
                std::string name = lanspread::testing::entryPath(e);
                if (name == "hello.txt")
                    continue;                // skipped
                if (name == "dir/big.bin") { // 1000 bytes, then abandoned
                    std::vector<uint8_t> buffer(1000);
                    size_t got = 0;
                    CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                         p.vt->read_data(job, buffer.data(), 1000, &got));
                    data[name] = std::string(buffer.begin(), buffer.begin() + got);
                    continue;
                }
                CPPUNIT_ASSERT(lanspread_succeeded(p.readEntry(job, data[name], 7)));
            }
            p.vt->close(job);
            CPPUNIT_ASSERT_EQUAL(std::string("dash"), data["dir/sub dir/-dash name.txt"]);
            CPPUNIT_ASSERT(_big.compare(0, data["dir/big.bin"].size(), data["dir/big.bin"]) == 0);
            CPPUNIT_ASSERT_EQUAL(std::string(), data["empty"]);
        }
    }

    void testMissingToolIsAClearError() {
        Instance p(Config{{"tool_path", "/nonexistent"}, {"tool", "unar"}});
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, p.extractAll(_archive, got));
        CPPUNIT_ASSERT(p.logged("tool_path=/nonexistent is not an executable file"));

        Instance q(Config{{"tool_path", "/nonexistent"}});
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, q.extractAll(_archive, got));
        CPPUNIT_ASSERT(q.logged("/nonexistent"));

        Instance r(Config{{"tool", "zip"}});
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, r.extractAll(_archive, got));
        CPPUNIT_ASSERT(r.logged("config tool=zip is not one of unrar, unar, bsdtar"));
    }

    void testNoExtractorAnywhere() {
        std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
        ::setenv("PATH", (_dir.path + "/empty-bin").c_str(), 1);
        Instance p;
        std::vector<ExtractedEntry> got;
        lanspread_status s = p.extractAll(_archive, got);
        ::setenv("PATH", saved.c_str(), 1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_UNSUPPORTED, s);
        CPPUNIT_ASSERT(p.logged("unpacker-unrar: no extractor found (tried unrar, unar/lsar, "
                                "bsdtar); install unar or set tool_path"));
    }

    // A streamed archive (path NULL, bytes from read() in small odd-sized pieces, one read
    // blocking longer than the plugin's poll slice) goes through bsdtar's stdin and gives
    // exactly what the file gives, whether bsdtar is pinned or chosen because the source is a
    // stream (unar comes first on PATH for files).
    void testStreamedArchiveThroughBsdtarStdin() {
        if (!haveBsdtar())
            return;
        Instance fromFile(Config{{"tool", "bsdtar"}});
        std::vector<ExtractedEntry> want;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, fromFile.extractAll(_archive, want, 4096));
        expectFixtureEntries("bsdtar from the file", want);
        for (const Config &config : {Config{{"tool", "bsdtar"}}, Config{}}) {
            std::string where = config.empty() ? "unpinned" : "tool=bsdtar";
            Instance p(config);
            lanspread::testing::MemoryByteSource source(readFile(_archive));
            source.setStreamedReads(50, std::chrono::milliseconds(250));
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, LANSPREAD_END, p.extractAll(source, got, 3001));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string(),
                                         lanspread::testing::entriesDifference(want, got));
            // the small pieces were really used
            CPPUNIT_ASSERT_MESSAGE(where, source.readCalls() > 1000);
        }
    }

    // unrar and unar cannot read an archive from stdin: a stream is E_UNSUPPORTED (the kernel
    // offers it to the next bidder) with a log line saying why and what to do; so is an
    // unpinned plugin without bsdtar. Nothing is started.
    void testStreamedArchiveWithoutBsdtarIsUnsupported() {
        auto expectUnsupported = [&](Instance &p, const std::string &why) {
            lanspread::testing::MemoryByteSource source(readFile(_archive));
            lanspread_unpack_job *job = nullptr;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(
                why, LANSPREAD_E_UNSUPPORTED,
                p.vt->open(p.state, source.source(), LANSPREAD_CANCEL_NONE, &job));
            CPPUNIT_ASSERT(job == nullptr);
            CPPUNIT_ASSERT_MESSAGE(why, p.logged(why));
            CPPUNIT_ASSERT_EQUAL(uint64_t{0}, source.bytesDelivered());
        };
        if (haveUnar()) {
            Instance p(Config{{"tool", "unar"}});
            expectUnsupported(p, "this archive is streamed (the byte source has no local path) "
                                 "and unar cannot read an archive from standard input; set "
                                 "tool=bsdtar");
        }
        std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
        ::setenv("PATH", (_dir.path + "/empty-bin").c_str(), 1);
        Instance q;
        expectUnsupported(q, "only bsdtar reads an archive from standard input, but bsdtar is "
                             "not on PATH; install libarchive-tools");
        ::setenv("PATH", saved.c_str(), 1);
    }

    // A child that closes its stdin before the input ends (an archive can end before the
    // byte source does): the plugin stops pulling the source and feeding, the host gets no
    // SIGPIPE, and the child's output and exit status still arrive. (Poco's static
    // initialiser blocks SIGPIPE in this process; a host need not, so it is unblocked here.)
    void testSubprocessStopsFeedingAChildThatStopsReading() {
        sigset_t pipeSignal, saved;
        sigemptyset(&pipeSignal);
        sigaddset(&pipeSignal, SIGPIPE);
        CPPUNIT_ASSERT_EQUAL(0, ::pthread_sigmask(SIG_UNBLOCK, &pipeSignal, &saved));
        struct Restore {
            sigset_t mask;
            ~Restore() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
        } restore{saved};
        uint64_t pulled = 0;
        auto endless = [&](std::span<uint8_t> buffer) -> lanspread::Result<std::size_t> {
            std::fill(buffer.begin(), buffer.end(), uint8_t{'x'});
            pulled += buffer.size();
            return buffer.size();
        };
        auto child = unrar::Subprocess::spawn(
            onPath("sh"), {"-c", "head -c 1000 >/dev/null; exec 0<&-; sleep 0.3; echo done"},
            endless);
        CPPUNIT_ASSERT(child.ok());
        unrar::Subprocess &p = *child.value();
        std::string output;
        std::vector<uint8_t> buffer(100);
        for (;;) {
            auto got = p.read(buffer, {});
            CPPUNIT_ASSERT(got.ok());
            if (got.value() == 0)
                break;
            output.append(buffer.begin(), buffer.begin() + static_cast<long>(got.value()));
        }
        CPPUNIT_ASSERT_EQUAL(std::string("done\n"), output);
        CPPUNIT_ASSERT_EQUAL(0, p.wait());
        CPPUNIT_ASSERT(p.inputFed() >= 1000);
        CPPUNIT_ASSERT_MESSAGE(std::to_string(pulled), pulled < (16u << 20));
    }

    // The stream fails part-way (the source's E_IO): bsdtar is killed, the job says how far
    // the stream got. Cut short (the source ends early): bsdtar's failure, never END.
    void testStreamedSourceFailures() {
        if (!haveBsdtar())
            return;
        std::string bytes = readFile(_archive);
        Instance p(Config{{"tool", "bsdtar"}});
        lanspread::testing::MemoryByteSource failing(bytes, 5000);
        failing.failReadsFrom(1u << 20);
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, p.extractAll(failing, got, 65536));
        CPPUNIT_ASSERT(p.logged("the archive stream failed after "));
        CPPUNIT_ASSERT(p.logged(" bytes were fed to bsdtar (E_IO"));
        assertNoChildren("after a failing stream");

        lanspread::testing::MemoryByteSource cut(bytes.substr(0, bytes.size() / 2), 5000);
        got.clear();
        lanspread_status s = p.extractAll(cut, got, 65536);
        CPPUNIT_ASSERT_MESSAGE(lanspread_status_name(s),
                               s == LANSPREAD_E_FATAL || s == LANSPREAD_E_IO);
        CPPUNIT_ASSERT(p.logged("bsdtar exited 1"));
        assertNoChildren("after a stream cut short");
    }

    // Cancelled while bsdtar waits for input: by the job's token between the plugin's polls,
    // and by the source itself answering E_CANCELLED (the kernel's stream does when the
    // token fires during a blocked read). The child is gone before close().
    void testStreamedCancelKillsTheChild() {
        if (!haveBsdtar())
            return;
        for (bool sourceSaysCancelled : {false, true}) {
            Instance p(Config{{"tool", "bsdtar"}});
            lanspread::testing::MemoryByteSource source(readFile(_archive), 8192);
            lanspread_cancel_handle token = p.host.newCancelToken();
            bool fired = false;
            source.setBeforeRead([&](uint64_t delivered) {
                if (delivered >= (1u << 20) && !fired) {
                    fired = true;
                    if (!sourceSaysCancelled)
                        p.host.cancel(token);
                }
            });
            if (sourceSaysCancelled)
                source.setCancelled([&] { return fired; });
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, p.extractAll(source, got, 65536, token));
            CPPUNIT_ASSERT(fired);
            assertNoChildren(sourceSaysCancelled ? "after the source cancelled"
                                                 : "after the token fired");
        }
    }

    void testNotAnArchiveFailsOpenWithTheToolsMessage() {
        std::string junk = _dir.path + "/junk.rar";
        std::ofstream(junk) << "Rar!\x1a\x07\x01" << lanspread::fixtures::pseudoRandom(5000, 1);
        if (haveUnar()) {
            Instance p(Config{{"tool", "unar"}});
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, p.extractAll(junk, got));
            CPPUNIT_ASSERT(p.logged("lsar exited 1"));
        }
        if (haveBsdtar()) {
            Instance p(Config{{"tool", "bsdtar"}});
            std::vector<ExtractedEntry> got;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, p.extractAll(junk, got));
            CPPUNIT_ASSERT(p.logged("bsdtar exited 1: bsdtar:"));
        }
        assertNoChildren("after a failed open");
    }

    // Cut inside big.bin: unar streams what it has and exits 0, so the size check catches
    // it; bsdtar exits 1. Either way an error, and no child is left.
    void testTruncatedArchiveIsAnErrorWithoutZombies() {
        std::string cut = _dir.path + "/cut.rar";
        std::filesystem::copy_file(_archive, cut);
        std::filesystem::resize_file(cut, std::filesystem::file_size(_archive) / 2);
        for (const char *tool : {"unar", "bsdtar"}) {
            if ((std::string(tool) == "unar" && !haveUnar()) ||
                (std::string(tool) == "bsdtar" && !haveBsdtar()))
                continue;
            Instance p(Config{{"tool", tool}});
            std::vector<ExtractedEntry> got;
            lanspread_status s = p.extractAll(cut, got);
            CPPUNIT_ASSERT_MESSAGE(tool, !lanspread_succeeded(s));
            assertNoChildren(std::string("after a truncated archive with ") + tool);
        }
    }

    // Damaged stored data: unar and libarchive do not notice (exit 0), the CRC32 from lsar
    // does.
    void testCorruptDataIsCaughtByCrc() {
        if (!haveUnar())
            return;
        std::string bad = _dir.path + "/bad.rar";
        std::filesystem::copy_file(_archive, bad);
        {
            std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(1 << 20);
            f.write("XXXXXXXX", 8);
        }
        Instance p(Config{{"tool", "unar"}});
        std::vector<ExtractedEntry> got;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, p.extractAll(bad, got));
        CPPUNIT_ASSERT(p.logged("the data of 'dir/big.bin' does not match its CRC32"));
        assertNoChildren("after corrupt data");
    }

    void testCancelMidStreamKillsTheChild() {
        for (const char *tool : {"unar", "bsdtar"}) {
            if ((std::string(tool) == "unar" && !haveUnar()) ||
                (std::string(tool) == "bsdtar" && !haveBsdtar()))
                continue;
            Instance p(Config{{"tool", tool}});
            lanspread_cancel_handle token = p.host.newCancelToken();
            lanspread_unpack_job *job = openAtBigFile(p, token);
            std::vector<uint8_t> buffer(4096);
            size_t got = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 p.vt->read_data(job, buffer.data(), buffer.size(), &got));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string(tool) + ": the extractor runs mid-stream",
                                         std::size_t{1}, children().size());
            p.host.cancel(token);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED,
                                 p.vt->read_data(job, buffer.data(), buffer.size(), &got));
            assertNoChildren(std::string("right after cancelling ") + tool); // before close()
            lanspread_archive_entry e{};
            e.struct_size = sizeof e;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, p.vt->next_entry(job, &e));
            p.vt->close(job);
        }
    }

    void testCloseMidStreamKillsTheChild() {
        for (const char *tool : {"unar", "bsdtar"}) {
            if ((std::string(tool) == "unar" && !haveUnar()) ||
                (std::string(tool) == "bsdtar" && !haveBsdtar()))
                continue;
            Instance p(Config{{"tool", tool}});
            lanspread_unpack_job *job = openAtBigFile(p, LANSPREAD_CANCEL_NONE);
            std::vector<uint8_t> buffer(4096);
            size_t got = 0;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                                 p.vt->read_data(job, buffer.data(), buffer.size(), &got));
            CPPUNIT_ASSERT_EQUAL(std::size_t{1}, children().size());
            p.vt->close(job);
            assertNoChildren(std::string("after close() mid-stream with ") + tool);
        }
    }

    void testParsers() {
        // unrar technical listing: names keep spaces and ": ", types map, RAR4 links.
        std::string text = "UNRAR 6.24 freeware\n\nArchive: a.rar\nDetails: RAR 4\n\n"
                           "        Name: a: b  .txt\n        Type: File\n        Size: 12\n"
                           "       mtime: 2023-11-14 22:13:20,000000000\n"
                           "  Attributes: -rwsr-x--T\n       CRC32: 0000ABCD\n\n"
                           "        Name: d\n        Type: Directory\n\n"
                           "        Name: l\n        Type: Unix symbolic link\n"
                           "        Size: 5\n\n"
                           "        Name: h\n        Type: Hard link\n      Target: a: b  .txt\n";
        auto parsed = unrar::parseUnrarTechnical(text);
        CPPUNIT_ASSERT(parsed.ok());
        const auto &e = parsed.value();
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, e.size());
        CPPUNIT_ASSERT_EQUAL(std::string("a: b  .txt"), e[0].path);
        CPPUNIT_ASSERT_EQUAL(uint64_t{12}, e[0].size);
        CPPUNIT_ASSERT_EQUAL(05750u, e[0].mode);
        CPPUNIT_ASSERT_EQUAL(int64_t{1700000000}, e[0].mtime);
        CPPUNIT_ASSERT(e[0].crc32 && *e[0].crc32 == 0xABCD);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_DIRECTORY, e[1].type);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_SYMLINK, e[2].type);
        CPPUNIT_ASSERT(e[2].linkTargetInData);
        CPPUNIT_ASSERT_EQUAL(uint64_t{5}, e[2].streamBytes());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_HARDLINK, e[3].type);
        CPPUNIT_ASSERT_EQUAL(std::string("a: b  .txt"), e[3].linkTarget);
        CPPUNIT_ASSERT(!unrar::parseUnrarTechnical("unrar-free 0.1.3\nusage: ...\n").ok());
        CPPUNIT_ASSERT(!unrar::parseUnrarTechnical("\nDetails: RAR 5\n\n        Name: x\n"
                                                   "        Type: File\n")
                            .ok()); // a file without a size cannot be split off the stream

        CPPUNIT_ASSERT(unrar::parseTimestamp("2023-11-15 00:13:20 +0200") ==
                       std::optional<int64_t>(1700000000));
        CPPUNIT_ASSERT(!unrar::parseTimestamp("yesterday"));
        CPPUNIT_ASSERT_EQUAL(0755u, unrar::parseModeString("drwxr-xr-x"));
        CPPUNIT_ASSERT_EQUAL(0u, unrar::parseModeString("..A...."));

        auto lsar = unrar::parseLsarJson(R"({"lsarFormatVersion":2,"lsarError":11})");
        CPPUNIT_ASSERT(!lsar.ok());
        CPPUNIT_ASSERT(!unrar::parseLsarJson("not json").ok());
        auto zipLink = unrar::parseLsarJson(
            R"({"lsarContents":[{"XADFileName":"l","XADIsLink":1,"XADFileSize":5,"XADIndex":3},
                                {"XADFileName":"f","XADFileSize":2,"ZipCRC32":7,"XADIndex":4,
                                 "XADPosixPermissions":33261}]})");
        CPPUNIT_ASSERT(zipLink.ok());
        CPPUNIT_ASSERT(zipLink.value()[0].linkTargetInData);
        CPPUNIT_ASSERT_EQUAL(int64_t{4}, zipLink.value()[1].index);
        CPPUNIT_ASSERT_EQUAL(0755u, zipLink.value()[1].mode);
        auto locked = unrar::parseLsarJson(
            R"({"lsarContents":[{"XADFileName":"s","XADFileSize":9,"XADIsEncrypted":1}]})");
        CPPUNIT_ASSERT(locked.ok());
        CPPUNIT_ASSERT(!locked.value()[0].unreadable.empty()); // E_FAILED, not in the stream
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, locked.value()[0].streamBytes());

        CPPUNIT_ASSERT_EQUAL(std::string("./-x y.rar"), unrar::safePathArgument("-x y.rar"));
        CPPUNIT_ASSERT_EQUAL(std::string("/a/-b.rar"), unrar::safePathArgument("/a/-b.rar"));
    }

  private:
    bool haveUnar() const { return !onPath("unar").empty() && !onPath("lsar").empty(); }
    bool haveBsdtar() const { return !onPath("bsdtar").empty(); }

    void roundTrip(Instance &p, const std::string &tool) {
        std::vector<ExtractedEntry> got;
        lanspread_status s = p.extractAll(_archive, got, 100000);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(tool, LANSPREAD_END, s);
        expectFixtureEntries(tool, got);
    }

    void expectFixtureEntries(const std::string &tool, const std::vector<ExtractedEntry> &got) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(tool, _entries.size(), got.size());
        for (std::size_t i = 0; i < _entries.size(); ++i) {
            const Entry &want = _entries[i];
            const ExtractedEntry &have = got[i];
            std::string what = tool + ": " + want.path;
            // lsar and unrar print directories without their trailing '/'; bsdtar keeps it.
            CPPUNIT_ASSERT_EQUAL_MESSAGE(what, withoutTrailingSlash(want.path),
                                         withoutTrailingSlash(have.path));
            switch (want.type) {
            case Entry::Type::File:
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, LANSPREAD_ENTRY_FILE, have.type);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, uint64_t{want.data.size()}, have.sizeBytes);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, lanspread::fixtures::sha256Hex(want.data),
                                             lanspread::fixtures::sha256Hex(have.data));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, want.mode, have.mode);
                break;
            case Entry::Type::Directory:
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, LANSPREAD_ENTRY_DIRECTORY, have.type);
                CPPUNIT_ASSERT(have.data.empty());
                break;
            case Entry::Type::Symlink:
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, LANSPREAD_ENTRY_SYMLINK, have.type);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(what, want.linkTarget, have.linkTarget);
                CPPUNIT_ASSERT(have.data.empty());
                break;
            default: CPPUNIT_FAIL("unexpected fixture entry type");
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE(what, int64_t{1700000000}, have.mtimeSeconds);
        }
    }

    // Opens the fixture archive and advances to dir/big.bin.
    lanspread_unpack_job *openAtBigFile(Instance &p, lanspread_cancel_handle token) {
        PathSource source(_archive);
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, p.vt->open(p.state, source.source(), token, &job));
        for (;;) {
            lanspread_archive_entry e{};
            e.struct_size = sizeof e;
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, p.vt->next_entry(job, &e));
            if (lanspread::testing::entryPath(e) == "dir/big.bin")
                return job;
        }
    }

    // A stand-in `unrar`: `lt` prints listing, `p` streams every file back to back.
    std::string writeStandInUnrar(const std::string &listing, const std::string &name = "unrar") {
        std::string listingFile = _dir.path + "/" + name + ".listing";
        std::ofstream(listingFile) << listing;
        std::string script = _dir.path + "/" + name;
        std::ofstream(script) << "#!/bin/sh\n"
                                 "# stand-in for RARLAB unrar: lt and p only\n"
                                 "cmd=$1; shift\n"
                                 "while [ \"$1\" != \"--\" ]; do shift; done; shift\n"
                                 "case $cmd in\n"
                                 "  lt) exec cat '"
                              << listingFile
                              << "' ;;\n"
                                 "  p) exec '"
                              << onPath("unar")
                              << "' -q -o - -nr \"$1\" ;;\n"
                                 "esac\n"
                                 "exit 7\n";
        ::chmod(script.c_str(), 0755);
        return script;
    }

    TempDir _dir;
    std::string _big;
    std::vector<Entry> _entries;
    std::string _archive;
};

CPPUNIT_TEST_SUITE_REGISTRATION(UnpackerUnrarTest);
