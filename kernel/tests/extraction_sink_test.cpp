// Tests of the kernel's extraction sink (docs/on-disk-layout.md), the one audited place that turns
// archive entries into files: path normalisation, every hostile case of the fixtures fed
// through the sink directly (each must fail with its expected message and leave nothing
// outside the root), good entries extracted byte-exact, quotas, cancellation, lying sizes,
// planted symlinks, duplicates; and extractArchive end to end with the SDK's example ustar
// unpacker (unpacker_minimal_objects) driven through lanspread::testing::FakeHost.
#include <lanspread/kernel/install/extraction_sink.hpp>

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace fs = std::filesystem;
namespace fx = lanspread::fixtures;
using lanspread::Status;
using lanspread::kernel::install::extractArchive;
using lanspread::kernel::install::ExtractionLimits;
using lanspread::kernel::install::ExtractionSink;
using lanspread::kernel::install::ExtractionStats;
using lanspread::kernel::install::FileByteSource;
using lanspread::kernel::install::normaliseEntryPath;

namespace {

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

std::string readFile(const fs::path &p) {
    std::ifstream in(p, std::ios::binary | std::ios::ate);
    CPPUNIT_ASSERT_MESSAGE("cannot read " + p.string(), in.good());
    std::string data(static_cast<std::size_t>(in.tellg()), '\0');
    in.seekg(0);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    CPPUNIT_ASSERT_MESSAGE("short read of " + p.string(), in.good() || data.empty());
    return data;
}

void writeFile(const fs::path &p, const std::string &data) {
    std::ofstream out(p, std::ios::binary);
    out << data;
    CPPUNIT_ASSERT(out.good());
}

// A scratch tree:  <base>/outside/canary.txt  and the root  <base>/a/b/c/root, deep enough
// that "../../.." escapes still land inside <base>, where the listing sees them.
class Sandbox {
  public:
    Sandbox() {
        std::string tmpl = (fs::temp_directory_path() / "lanspread-sink-XXXXXX").string();
        CPPUNIT_ASSERT(::mkdtemp(tmpl.data()) != nullptr);
        base = tmpl;
        root = base / "a" / "b" / "c" / "root";
        fs::create_directories(root);
        fs::create_directories(base / "outside");
        canary = base / "outside" / "canary.txt";
        writeFile(canary, "canary: must never change\n");
        before = listingOutsideRoot();
    }
    ~Sandbox() {
        std::error_code ec;
        fs::remove_all(base, ec); // never follows symlinks
    }
    Sandbox(const Sandbox &) = delete;
    Sandbox &operator=(const Sandbox &) = delete;

    // Every path under base except the root's subtree, with type, size and link target.
    std::vector<std::string> listingOutsideRoot() const {
        std::vector<std::string> out;
        for (auto it = fs::recursive_directory_iterator(base); it != fs::end(it); ++it) {
            const fs::path &p = it->path();
            if (p == root) {
                it.disable_recursion_pending();
                continue;
            }
            std::ostringstream line;
            line << fs::relative(p, base).string() << ' ';
            auto st = fs::symlink_status(p);
            if (fs::is_symlink(st))
                line << "link->" << fs::read_symlink(p).string();
            else if (fs::is_directory(st))
                line << "dir";
            else
                line << "file " << fs::file_size(p);
            out.push_back(line.str());
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    void assertNothingOutsideChanged(const std::string &context) const {
        auto after = listingOutsideRoot();
        if (after != before) {
            std::string diff;
            for (auto &l : after)
                if (std::find(before.begin(), before.end(), l) == before.end())
                    diff += "\n  + " + l;
            for (auto &l : before)
                if (std::find(after.begin(), after.end(), l) == after.end())
                    diff += "\n  - " + l;
            CPPUNIT_FAIL(context + ": the tree outside the root changed:" + diff);
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::string("canary: must never change\n"),
                                     readFile(canary));
    }

    fs::path base, root, canary;
    std::vector<std::string> before;
};

uint32_t entryType(fx::Entry::Type t) {
    switch (t) {
    case fx::Entry::Type::File: return LANSPREAD_ENTRY_FILE;
    case fx::Entry::Type::Directory: return LANSPREAD_ENTRY_DIRECTORY;
    case fx::Entry::Type::Symlink: return LANSPREAD_ENTRY_SYMLINK;
    case fx::Entry::Type::Hardlink: return LANSPREAD_ENTRY_HARDLINK;
    case fx::Entry::Type::CharDevice:
    case fx::Entry::Type::Fifo: return LANSPREAD_ENTRY_OTHER;
    }
    return LANSPREAD_ENTRY_OTHER;
}

lanspread_archive_entry rawEntry(uint32_t type, const std::string &path, uint64_t size,
                                 uint32_t mode = 0644, int64_t mtime = 1700000000,
                                 const std::string *link = nullptr) {
    lanspread_archive_entry e{};
    e.struct_size = sizeof e;
    e.type = type;
    e.path = reinterpret_cast<const uint8_t *>(path.data());
    e.path_len = path.size();
    e.size_bytes = size;
    e.mode = mode;
    e.mtime_s = mtime;
    if (link != nullptr) {
        e.link_target = reinterpret_cast<const uint8_t *>(link->data());
        e.link_target_len = link->size();
    }
    return e;
}

// Feeds one fixture entry through the sink as an unpacker would: begin, data in chunks, end.
Status feed(ExtractionSink &sink, const fx::Entry &entry, std::size_t chunk = 64 * 1024) {
    uint32_t type = entryType(entry.type);
    uint64_t declared =
        type == LANSPREAD_ENTRY_FILE ? entry.declaredSize.value_or(entry.data.size()) : 0;
    bool isLink = type == LANSPREAD_ENTRY_SYMLINK || type == LANSPREAD_ENTRY_HARDLINK;
    lanspread_archive_entry e = rawEntry(type, entry.path, declared, entry.mode, entry.mtime,
                                         isLink ? &entry.linkTarget : nullptr);
    if (Status s = sink.beginEntry(e); !s)
        return s;
    if (type == LANSPREAD_ENTRY_FILE) {
        const auto *data = reinterpret_cast<const uint8_t *>(entry.data.data());
        for (std::size_t off = 0; off < entry.data.size(); off += chunk) {
            if (Status s = sink.write(data + off, std::min(chunk, entry.data.size() - off)); !s)
                return s;
        }
    }
    return sink.endEntry();
}

// Feeds entries until the first failure; returns it (or OK).
Status feedAll(ExtractionSink &sink, const std::vector<fx::Entry> &entries) {
    for (const fx::Entry &e : entries)
        if (Status s = feed(sink, e); !s)
            return s;
    return Status::ok();
}

fx::Entry file(const std::string &path, const std::string &data, uint32_t mode = 0644) {
    fx::Entry e;
    e.path = path;
    e.data = data;
    e.mode = mode;
    return e;
}
fx::Entry dir(const std::string &path) {
    fx::Entry e;
    e.path = path;
    e.type = fx::Entry::Type::Directory;
    e.mode = 0755;
    return e;
}
fx::Entry link(fx::Entry::Type type, const std::string &path, const std::string &target) {
    fx::Entry e;
    e.path = path;
    e.type = type;
    e.linkTarget = target;
    e.mode = 0777;
    return e;
}

// The example ustar unpacker, initialised against a fake host, as the kernel would do it.
class MinimalUnpacker {
  public:
    MinimalUnpacker() {
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(_entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(host.api(), &state));
        vtable = static_cast<const lanspread_unpacker_v1 *>(
            _entry->get_interface(state, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(vtable != nullptr);
    }
    ~MinimalUnpacker() { _entry->shutdown(state); }
    MinimalUnpacker(const MinimalUnpacker &) = delete;
    MinimalUnpacker &operator=(const MinimalUnpacker &) = delete;

    lanspread::testing::FakeHost host;
    void *state = nullptr;
    const lanspread_unpacker_v1 *vtable = nullptr;

  private:
    const lanspread_plugin_entry *_entry = nullptr;
};

// A scripted unpacker (no archive format at all): hands out the given entries and data, and
// can fail next_entry or read_data at a chosen point. For extractArchive's error paths.
struct ScriptedUnpacker {
    struct Item {
        fx::Entry entry;
        lanspread_status readFailure = LANSPREAD_OK; // returned once all data was handed out
    };
    std::vector<Item> items;
    lanspread_status failNextEntryAt = LANSPREAD_OK; // returned instead of entry #failIndex
    std::size_t failIndex = SIZE_MAX;
    bool closed = false;

    struct Job {
        ScriptedUnpacker *self;
        std::size_t index = SIZE_MAX; // current item
        std::size_t offset = 0;
        std::string linkTarget;
    };

    lanspread_unpacker_v1 vtable() {
        lanspread_unpacker_v1 vt{};
        vt.struct_size = sizeof vt;
        vt.open = [](void *state, const lanspread_byte_source *, lanspread_cancel_handle,
                     lanspread_unpack_job **out) -> lanspread_status {
            *out = reinterpret_cast<lanspread_unpack_job *>(
                new Job{static_cast<ScriptedUnpacker *>(state), SIZE_MAX, 0, {}});
            return LANSPREAD_OK;
        };
        vt.next_entry = [](lanspread_unpack_job *j,
                           lanspread_archive_entry *out) -> lanspread_status {
            Job &job = *reinterpret_cast<Job *>(j);
            std::size_t next = job.index == SIZE_MAX ? 0 : job.index + 1;
            if (next == job.self->failIndex)
                return job.self->failNextEntryAt;
            if (next >= job.self->items.size())
                return LANSPREAD_END;
            job.index = next;
            job.offset = 0;
            const fx::Entry &e = job.self->items[next].entry;
            uint32_t type = entryType(e.type);
            job.linkTarget = e.linkTarget;
            *out = rawEntry(type, e.path, e.declaredSize.value_or(e.data.size()), e.mode, e.mtime,
                            type == LANSPREAD_ENTRY_SYMLINK || type == LANSPREAD_ENTRY_HARDLINK
                                ? &job.linkTarget
                                : nullptr);
            return LANSPREAD_OK;
        };
        vt.read_data = [](lanspread_unpack_job *j, uint8_t *buffer, size_t capacity,
                          size_t *outRead) -> lanspread_status {
            Job &job = *reinterpret_cast<Job *>(j);
            const Item &item = job.self->items[job.index];
            std::size_t n = std::min(capacity, item.entry.data.size() - job.offset);
            std::copy_n(item.entry.data.data() + job.offset, n, buffer);
            job.offset += n;
            *outRead = n;
            if (n == 0 && item.readFailure != LANSPREAD_OK)
                return item.readFailure;
            return n == 0 ? LANSPREAD_END : LANSPREAD_OK;
        };
        vt.close = [](lanspread_unpack_job *j) {
            Job *job = reinterpret_cast<Job *>(j);
            job->self->closed = true;
            delete job;
        };
        return vt;
    }
};

std::size_t openFdCount() {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

bool pathExists(const fs::path &p) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(p, ec));
}

} // namespace

class ExtractionSinkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ExtractionSinkTest);
    CPPUNIT_TEST(testNormaliseAccepts);
    CPPUNIT_TEST(testNormaliseRefuses);
    CPPUNIT_TEST(testEveryHostileCaseThroughTheSink);
    CPPUNIT_TEST(testGoodEntriesExtractByteExact);
    CPPUNIT_TEST(testModesAndMtime);
    CPPUNIT_TEST(testSymlinkTargetsAreNormalisedAndBounded);
    CPPUNIT_TEST(testSymlinkChainCannotEscape);
    CPPUNIT_TEST(testHardlinkRules);
    CPPUNIT_TEST(testDeviceAndUnknownTypesRefused);
    CPPUNIT_TEST(testLyingSizesRemovePartialFile);
    CPPUNIT_TEST(testByteQuota);
    CPPUNIT_TEST(testEntryQuota);
    CPPUNIT_TEST(testPathQuota);
    CPPUNIT_TEST(testCancellation);
    CPPUNIT_TEST(testPlantedSymlinkDirectoryRefused);
    CPPUNIT_TEST(testPlantedSymlinkLeafRefused);
    CPPUNIT_TEST(testRootDirectoryEntry);
    CPPUNIT_TEST(testFileInPlaceOfDirectoryRefused);
    CPPUNIT_TEST(testDuplicateFileEntryReplaces);
    CPPUNIT_TEST(testMissingRootFailsCleanly);
    CPPUNIT_TEST(testProtocolMisuse);
    CPPUNIT_TEST(testDestructorRemovesUnfinishedFile);
    CPPUNIT_TEST(testFileByteSource);
    CPPUNIT_TEST(testExtractArchiveScriptedFailures);
    CPPUNIT_TEST(testExtractArchiveHostileTars);
    CPPUNIT_TEST(testExtractArchiveGoodTar);
    CPPUNIT_TEST(testExtractArchiveCancelled);
    CPPUNIT_TEST(testExtractArchiveLargeFileThroughput);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testNormaliseAccepts() {
        const std::vector<std::pair<std::string, std::string>> good = {
            {"a", "a"},
            {"a/b/c.txt", "a/b/c.txt"},
            {"./a", "a"},
            {"a/./b", "a/b"},
            {"a//b", "a/b"},
            {"a/b/", "a/b"},
            {"dir\\sub\\file.dat", "dir/sub/file.dat"},
            {".\\x", "x"},
            {"a/..b/c..", "a/..b/c.."}, // ".." only as a whole component is special
            {"...", "..."},
            {"ab:c", "ab:c"}, // a colon past the second byte is an ordinary byte
            {"1:/x", "1:/x"}, // not a drive letter
            {"spaces in name", "spaces in name"},
            {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"}, // UTF-8 passes through
        };
        for (auto &[raw, want] : good) {
            auto got = normaliseEntryPath(raw, 4096);
            CPPUNIT_ASSERT_MESSAGE("should accept '" + raw + "': " + got.status().describe(),
                                   got.ok());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(raw, want, got.value());
        }
    }

    void testNormaliseRefuses() {
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"..", "'..'"},
            {"../x", "'..'"},
            {"a/../b", "'..'"}, // even when it would stay inside: never folded
            {"a/b/..", "'..'"},
            {"a\\..\\..\\x", "'..'"},
            {"./../x", "'..'"},
            {"/etc/passwd", "absolute path"},
            {"\\windows\\x", "absolute path"},
            {"//server/share", "absolute path"},
            {"C:\\x", "absolute path"},
            {"c:x", "absolute path"},
            {"Z:", "absolute path"},
            {std::string("a\0b", 3), "NUL"},
            {std::string("\0", 1), "NUL"},
            {"", "empty"},
            {".", "empty"},
            {"./", "empty"},
            {"//", "absolute path"},
            {std::string(5000, 'x'), "longer than"},
        };
        for (auto &[raw, want] : bad) {
            auto got = normaliseEntryPath(raw, 4096);
            CPPUNIT_ASSERT_MESSAGE("should refuse '" + raw + "'", !got.ok());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, got.status().code());
            CPPUNIT_ASSERT_MESSAGE("'" + raw + "' -> " + got.status().message() + " (expected '" +
                                       want + "')",
                                   contains(got.status().message(), want));
        }
        CPPUNIT_ASSERT(normaliseEntryPath("abcd", 4).ok());
        CPPUNIT_ASSERT(!normaliseEntryPath("abcde", 4).ok());
    }

    void testEveryHostileCaseThroughTheSink() {
        auto cases = fx::hostileCases();
        CPPUNIT_ASSERT(cases.size() >= 11);
        for (const fx::HostileCase &hc : cases) {
            Sandbox box;
            Status result;
            {
                ExtractionSink sink(box.root.string(), {}, {});
                result = feedAll(sink, hc.entries);
            }
            CPPUNIT_ASSERT_MESSAGE(hc.name + " was not refused", !result);
            CPPUNIT_ASSERT_MESSAGE(hc.name + ": '" + result.message() + "' lacks '" +
                                       hc.expectedError + "'",
                                   contains(result.message(), hc.expectedError));
            CPPUNIT_ASSERT_MESSAGE(hc.name + ": " + result.describe(),
                                   result.code() == LANSPREAD_E_INVALID_ARGUMENT);
            box.assertNothingOutsideChanged(hc.name);
        }
    }

    void testGoodEntriesExtractByteExact() {
        Sandbox box;
        std::string big = fx::pseudoRandom(3 * 1024 * 1024 + 17, 42);
        std::vector<fx::Entry> entries = {
            dir("game"),
            dir("game/data/"),
            file("game/readme.txt", "hello, lan party\n"),
            file("game/data/big.bin", big),
            file("game/empty.dat", ""),
            file("implicit/parents/are/created.txt", "x"),
            file("game\\windows\\style.ini", "[s]\n"),
            link(fx::Entry::Type::Symlink, "game/current", "data/big.bin"),
            link(fx::Entry::Type::Symlink, "game/data/up", "../readme.txt"),
            link(fx::Entry::Type::Symlink, "game/self", "."),
            link(fx::Entry::Type::Hardlink, "game/big-again.bin", "game/data/big.bin"),
        };
        ExtractionStats stats;
        const std::size_t fdsBefore = openFdCount();
        {
            ExtractionSink sink(box.root.string(), {}, {});
            for (const auto &e : entries) {
                Status s = feed(sink, e, 100 * 1000); // odd chunk size
                CPPUNIT_ASSERT_MESSAGE(e.path + ": " + s.describe(), s.succeeded());
            }
            stats = sink.stats();
            CPPUNIT_ASSERT_EQUAL(box.root.string(), sink.root());
        }
        CPPUNIT_ASSERT_EQUAL(fdsBefore, openFdCount()); // no fd outlives the sink
        const fs::path g = box.root / "game";
        CPPUNIT_ASSERT_EQUAL(fx::sha256Hex(big), fx::sha256Hex(readFile(g / "data/big.bin")));
        CPPUNIT_ASSERT_EQUAL(fx::sha256Hex(big), fx::sha256Hex(readFile(g / "big-again.bin")));
        CPPUNIT_ASSERT_EQUAL(std::string("hello, lan party\n"), readFile(g / "readme.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string(), readFile(g / "empty.dat"));
        CPPUNIT_ASSERT(fs::is_regular_file(fs::symlink_status(g / "empty.dat")));
        CPPUNIT_ASSERT_EQUAL(std::string("x"),
                             readFile(box.root / "implicit/parents/are/created.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("[s]\n"), readFile(g / "windows/style.ini"));
        CPPUNIT_ASSERT(fs::is_symlink(g / "current"));
        CPPUNIT_ASSERT_EQUAL(std::string("data/big.bin"), fs::read_symlink(g / "current").string());
        CPPUNIT_ASSERT_EQUAL(fx::sha256Hex(big), fx::sha256Hex(readFile(g / "current")));
        CPPUNIT_ASSERT_EQUAL(std::string("../readme.txt"),
                             fs::read_symlink(g / "data/up").string());
        CPPUNIT_ASSERT_EQUAL(std::string("hello, lan party\n"), readFile(g / "data/up"));
        CPPUNIT_ASSERT_EQUAL(std::string("."), fs::read_symlink(g / "self").string());
        struct stat a {
        }, b{};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((g / "data/big.bin").c_str(), &a));
        CPPUNIT_ASSERT_EQUAL(0, ::stat((g / "big-again.bin").c_str(), &b));
        CPPUNIT_ASSERT_EQUAL(a.st_ino, b.st_ino);
        CPPUNIT_ASSERT_EQUAL(nlink_t(2), a.st_nlink);

        CPPUNIT_ASSERT_EQUAL(uint64_t{5}, stats.files);
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, stats.symlinks);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, stats.hardlinks);
        // game, game/data, implicit, implicit/parents, implicit/parents/are, game/windows
        CPPUNIT_ASSERT_EQUAL(uint64_t{6}, stats.directories);
        CPPUNIT_ASSERT_EQUAL(uint64_t(big.size() + 17 + 1 + 4), stats.bytes);
        box.assertNothingOutsideChanged("good entries");
    }

    void testModesAndMtime() {
        Sandbox box;
        ::mode_t old = ::umask(077); // the sink's modes do not depend on the umask
        {
            ExtractionSink sink(box.root.string(), {}, {});
            CPPUNIT_ASSERT(feed(sink, file("run.sh", "#!/bin/sh\n", 0755)));
            CPPUNIT_ASSERT(feed(sink, file("suid", "x", 04755)));
            CPPUNIT_ASSERT(feed(sink, file("sgid-sticky", "x", 03777)));
            CPPUNIT_ASSERT(feed(sink, file("unknown-mode", "x", 0)));
            CPPUNIT_ASSERT(feed(sink, file("readonly", "x", 0444)));
            fx::Entry d = dir("d");
            d.mode = 01777;
            CPPUNIT_ASSERT(feed(sink, d));
            fx::Entry old2000 = file("old", "x");
            old2000.mtime = 946684800;
            CPPUNIT_ASSERT(feed(sink, old2000));
            fx::Entry noTime = file("no-time", "x");
            noTime.mtime = 0;
            CPPUNIT_ASSERT(feed(sink, noTime));
        }
        ::umask(old);
        auto modeOf = [&](const char *name) {
            struct stat st {};
            CPPUNIT_ASSERT_EQUAL(0, ::lstat((box.root / name).c_str(), &st));
            return static_cast<unsigned>(st.st_mode & 07777);
        };
        CPPUNIT_ASSERT_EQUAL(0755u, modeOf("run.sh"));
        CPPUNIT_ASSERT_EQUAL(0755u, modeOf("suid"));
        CPPUNIT_ASSERT_EQUAL(0755u, modeOf("sgid-sticky"));
        CPPUNIT_ASSERT_EQUAL(0644u, modeOf("unknown-mode"));
        CPPUNIT_ASSERT_EQUAL(0444u, modeOf("readonly"));
        CPPUNIT_ASSERT_EQUAL(0755u, modeOf("d"));
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::lstat((box.root / "old").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(time_t{946684800}, st.st_mtim.tv_sec);
        CPPUNIT_ASSERT_EQUAL(0, ::lstat((box.root / "no-time").c_str(), &st));
        CPPUNIT_ASSERT(st.st_mtim.tv_sec > 946684800); // left at "now"
    }

    void testSymlinkTargetsAreNormalisedAndBounded() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        CPPUNIT_ASSERT(feed(sink, dir("a/b")));
        struct Case {
            std::string path, target, stored;
        };
        const std::vector<Case> good = {
            {"a/b/l1", "../../top", "../../top"},
            {"a/b/l2", "x/../y", "y"},
            {"a/b/l3", "./z//w", "z/w"},
            {"a/b/l4", "..\\sib", "../sib"},
            {"a/b/l5", "../b/q", "q"},
            {"l6", "a/b/../c", "a/c"},
            {"a/l7", "..", ".."},
        };
        for (const Case &c : good) {
            Status s = feed(sink, link(fx::Entry::Type::Symlink, c.path, c.target));
            CPPUNIT_ASSERT_MESSAGE(c.path + ": " + s.describe(), s.succeeded());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.path, c.stored,
                                         fs::read_symlink(box.root / c.path).string());
        }
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"l8", ".."},           {"a/b/l9", "../../.."}, {"a/l10", "b/../../../x"},
            {"l11", "/etc/passwd"}, {"l12", "\\etc"},       {"l13", "C:\\Windows"},
        };
        for (auto &[path, target] : bad) {
            Status s = feed(sink, link(fx::Entry::Type::Symlink, path, target));
            CPPUNIT_ASSERT_MESSAGE(path + " -> " + target, !s);
            CPPUNIT_ASSERT_MESSAGE(s.message(), contains(s.message(), "symlink target leaves"));
            CPPUNIT_ASSERT(!pathExists(box.root / path));
        }
        Status empty = feed(sink, link(fx::Entry::Type::Symlink, "l14", ""));
        CPPUNIT_ASSERT(!empty && contains(empty.message(), "without a target"));
        Status nul = feed(sink, link(fx::Entry::Type::Symlink, "l15", std::string("a\0b", 3)));
        CPPUNIT_ASSERT(!nul && contains(nul.message(), "NUL"));
        Status longTarget =
            feed(sink, link(fx::Entry::Type::Symlink, "l16", std::string(5000, 'x')));
        CPPUNIT_ASSERT(!longTarget && contains(longTarget.message(), "longer than"));
        box.assertNothingOutsideChanged("symlink targets");
    }

    // "s" -> ".." inside a/ is harmless (the root), but a later "x -> a/s/.." resolved by the
    // kernel would leave the root (a/s is the root, its ".." the root's parent). The sink
    // stores the lexical form "a", which stays inside.
    void testSymlinkChainCannotEscape() {
        Sandbox box;
        {
            ExtractionSink sink(box.root.string(), {}, {});
            CPPUNIT_ASSERT(feed(sink, dir("a")));
            CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "a/s", "..")));
            CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "x", "a/s/..")));
            CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "y", "a/s/../c")));
        }
        CPPUNIT_ASSERT_EQUAL(std::string("a"), fs::read_symlink(box.root / "x").string());
        CPPUNIT_ASSERT_EQUAL(std::string("a/c"), fs::read_symlink(box.root / "y").string());
        std::string real = fs::canonical(box.root / "x").string();
        CPPUNIT_ASSERT(real.rfind(fs::canonical(box.root).string(), 0) == 0);
        box.assertNothingOutsideChanged("symlink chain");
    }

    void testHardlinkRules() {
        Sandbox box;
        writeFile(box.root / "planted.txt", "not from the archive");
        ExtractionSink sink(box.root.string(), {}, {});
        CPPUNIT_ASSERT(feed(sink, file("d/f.txt", "data")));
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "d/sl", "f.txt")));
        CPPUNIT_ASSERT(feed(sink, dir("e")));

        auto refused = [&](const std::string &path, const std::string &target,
                           const std::string &why) {
            Status s = feed(sink, link(fx::Entry::Type::Hardlink, path, target));
            CPPUNIT_ASSERT_MESSAGE(path + " -> " + target, !s);
            CPPUNIT_ASSERT_MESSAGE(s.message(), contains(s.message(), why));
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, s.code());
        };
        refused("h1", "../outside/canary.txt", "hardlink target");
        refused("h2", "/etc/passwd", "hardlink target");
        refused("h3", "planted.txt", "hardlink target"); // exists, but not extracted by us
        refused("h4", "d/sl", "hardlink target");        // a symlink, never linked
        refused("h5", "e", "hardlink target");           // a directory
        refused("h6", "missing", "hardlink target");
        refused("h7", "", "hardlink target");
        refused("d/f.txt", "d/f.txt", "hardlink target");
        for (const char *h : {"h1", "h2", "h3", "h4", "h5", "h6", "h7"})
            CPPUNIT_ASSERT(!pathExists(box.root / h));

        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Hardlink, "h8", "d\\.\\f.txt")));
        CPPUNIT_ASSERT_EQUAL(std::string("data"), readFile(box.root / "h8"));
        // A hardlink of a hardlink is fine: both are files this sink extracted.
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Hardlink, "e/h9", "h8")));
        CPPUNIT_ASSERT_EQUAL(uint64_t{2}, sink.stats().hardlinks);
        // Once its name is replaced by a symlink it is no longer a valid target.
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "h8", "d/f.txt")));
        refused("h10", "h8", "hardlink target");
        box.assertNothingOutsideChanged("hardlinks");
    }

    void testDeviceAndUnknownTypesRefused() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        std::string name = "dev/null";
        Status s = sink.beginEntry(rawEntry(LANSPREAD_ENTRY_OTHER, name, 0));
        CPPUNIT_ASSERT(!s && contains(s.message(), "device or fifo"));
        CPPUNIT_ASSERT(contains(s.message(), "dev/null")); // names the entry
        s = sink.beginEntry(rawEntry(99, name, 0));
        CPPUNIT_ASSERT(!s && contains(s.message(), "device or fifo"));
        CPPUNIT_ASSERT(!pathExists(box.root / "dev"));
    }

    void testLyingSizesRemovePartialFile() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        std::string name = "liar.bin", data(1000, 'z');
        auto *bytes = reinterpret_cast<const uint8_t *>(data.data());

        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, 600)));
        CPPUNIT_ASSERT(sink.write(bytes, 500));
        Status s = sink.write(bytes, 500);
        CPPUNIT_ASSERT(!s && contains(s.message(), "more data than declared"));
        CPPUNIT_ASSERT(contains(s.message(), name));
        CPPUNIT_ASSERT(!pathExists(box.root / name));

        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, 2000)));
        CPPUNIT_ASSERT(sink.write(bytes, 1000));
        s = sink.endEntry();
        CPPUNIT_ASSERT(!s && contains(s.message(), "less data than declared"));
        CPPUNIT_ASSERT(!pathExists(box.root / name));

        // Data for an entry that carries none (a directory) is "more data than declared".
        std::string d = "somedir";
        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_DIRECTORY, d, 0, 0755)));
        s = sink.write(bytes, 1);
        CPPUNIT_ASSERT(!s && contains(s.message(), "more data than declared"));

        // Exactly the declared size, in several writes, is fine.
        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, 1000)));
        for (int i = 0; i < 4; ++i)
            CPPUNIT_ASSERT(sink.write(bytes + 250 * i, 250));
        CPPUNIT_ASSERT(sink.write(bytes, 0));
        CPPUNIT_ASSERT(sink.endEntry());
        CPPUNIT_ASSERT_EQUAL(data, readFile(box.root / name));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, sink.stats().files);
    }

    void testByteQuota() {
        Sandbox box;
        ExtractionLimits limits;
        limits.maxTotalBytes = 1000;
        ExtractionSink sink(box.root.string(), limits, {});
        CPPUNIT_ASSERT(feed(sink, file("a", std::string(600, 'a'))));
        Status s = feed(sink, file("b", std::string(401, 'b')));
        CPPUNIT_ASSERT(!s && contains(s.message(), "byte quota"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, s.code());
        CPPUNIT_ASSERT(!pathExists(box.root / "b"));
        CPPUNIT_ASSERT(feed(sink, file("c", std::string(400, 'c'))));
        CPPUNIT_ASSERT_EQUAL(uint64_t{1000}, sink.stats().bytes);
        s = feed(sink, file("d", "x"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "byte quota"));
        // A huge declared size is refused before anything is created.
        std::string name = "huge";
        s = sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, UINT64_MAX));
        CPPUNIT_ASSERT(!s && contains(s.message(), "byte quota"));
        CPPUNIT_ASSERT(!pathExists(box.root / "huge"));
        CPPUNIT_ASSERT(feed(sink, file("empty", ""))); // zero bytes still fit
    }

    void testEntryQuota() {
        Sandbox box;
        ExtractionLimits limits;
        limits.maxEntries = 3;
        ExtractionSink sink(box.root.string(), limits, {});
        CPPUNIT_ASSERT(feed(sink, dir("d")));
        CPPUNIT_ASSERT(feed(sink, file("d/1", "1")));
        CPPUNIT_ASSERT(feed(sink, file("d/2", "2")));
        Status s = feed(sink, file("d/3", "3"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "entry quota"));
        CPPUNIT_ASSERT(contains(s.message(), "more than 3 entries"));
        CPPUNIT_ASSERT(!pathExists(box.root / "d/3"));
    }

    void testPathQuota() {
        Sandbox box;
        ExtractionLimits limits;
        limits.maxPathBytes = 16;
        ExtractionSink sink(box.root.string(), limits, {});
        CPPUNIT_ASSERT(feed(sink, file("0123456789abcdef", "ok")));
        Status s = feed(sink, file("0123456789abcdefg", "no"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "longer than 16 bytes"));
        s = feed(sink, link(fx::Entry::Type::Symlink, "l", std::string(17, 'x')));
        CPPUNIT_ASSERT(!s && contains(s.message(), "longer than 16 bytes"));
    }

    void testCancellation() {
        Sandbox box;
        std::atomic<bool> cancelled{false};
        ExtractionSink sink(box.root.string(), {}, [&] { return cancelled.load(); });
        std::string name = "partial.bin", data(4096, 'p');
        auto *bytes = reinterpret_cast<const uint8_t *>(data.data());
        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, 8192)));
        CPPUNIT_ASSERT(sink.write(bytes, 4096));
        cancelled = true;
        Status s = sink.write(bytes, 4096);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, s.code());
        CPPUNIT_ASSERT(contains(s.message(), name));
        CPPUNIT_ASSERT(!pathExists(box.root / name)); // the partial file is gone
        s = feed(sink, file("next", "x"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, s.code());
        CPPUNIT_ASSERT(!pathExists(box.root / "next"));
        s = feed(sink, dir("dir"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, s.code());
        CPPUNIT_ASSERT(!pathExists(box.root / "dir"));
    }

    void testPlantedSymlinkDirectoryRefused() {
        Sandbox box;
        // A symlink to a directory outside, planted before extraction (or by an earlier run).
        fs::create_directory_symlink(box.base / "outside", box.root / "planted");
        box.before = box.listingOutsideRoot();
        ExtractionSink sink(box.root.string(), {}, {});
        for (const char *p : {"planted/evil.txt", "planted/sub/evil.txt", "./planted/x"}) {
            Status s = feed(sink, file(p, "pwned"));
            CPPUNIT_ASSERT_MESSAGE(p, !s);
            CPPUNIT_ASSERT_MESSAGE(s.message(), contains(s.message(), "through a symlink"));
            CPPUNIT_ASSERT(contains(s.message(), "planted"));
        }
        Status s = feed(sink, dir("planted/newdir"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        s = feed(sink, link(fx::Entry::Type::Symlink, "planted/l", "x"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        // The same with a symlink the archive itself made (pointing inside the root).
        CPPUNIT_ASSERT(feed(sink, dir("real")));
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "alias", "real")));
        s = feed(sink, file("alias/x.txt", "through"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        CPPUNIT_ASSERT(!pathExists(box.root / "real/x.txt"));
        box.assertNothingOutsideChanged("planted symlink dir");
    }

    void testPlantedSymlinkLeafRefused() {
        Sandbox box;
        fs::create_symlink(box.canary, box.root / "leaf");
        box.before = box.listingOutsideRoot();
        ExtractionSink sink(box.root.string(), {}, {});
        Status s = feed(sink, file("leaf", "overwrite the canary"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        CPPUNIT_ASSERT(fs::is_symlink(box.root / "leaf")); // left as it was
        CPPUNIT_ASSERT(feed(sink, file("target", "t")));
        s = feed(sink, link(fx::Entry::Type::Hardlink, "leaf", "target"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        box.assertNothingOutsideChanged("planted symlink leaf");
    }

    // `tar -C dir -cf x.tar .` starts with a "./" directory entry: the root itself, accepted
    // as a no-op. Only a directory may name the root; anything else is an empty name.
    void testRootDirectoryEntry() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        for (const char *name : {"./", ".", "./.", ".\\"})
            CPPUNIT_ASSERT_MESSAGE(name, feed(sink, dir(name)).succeeded());
        CPPUNIT_ASSERT_EQUAL(uint64_t{0}, sink.stats().directories);
        CPPUNIT_ASSERT(feed(sink, file("./a.txt", "a")));
        for (const char *name : {"", "/", "./..", "../", ".../"}) {
            Status s = feed(sink, dir(name));
            if (std::string(name) == ".../") {
                CPPUNIT_ASSERT(s.succeeded()); // an ordinary (odd) name
                continue;
            }
            CPPUNIT_ASSERT_MESSAGE(name, !s);
        }
        Status s = feed(sink, file("./", "x"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "empty name"));
        s = feed(sink, link(fx::Entry::Type::Symlink, ".", "a.txt"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "empty name"));
        box.assertNothingOutsideChanged("root entry");
    }

    void testFileInPlaceOfDirectoryRefused() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        CPPUNIT_ASSERT(feed(sink, file("f", "x")));
        Status s = feed(sink, file("f/g", "y"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "not a directory"));
        CPPUNIT_ASSERT(feed(sink, dir("d")));
        s = feed(sink, file("d", "y"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "directory"));
        CPPUNIT_ASSERT(fs::is_directory(box.root / "d"));
        s = feed(sink, dir("f"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "not a directory"));
    }

    void testDuplicateFileEntryReplaces() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        CPPUNIT_ASSERT(feed(sink, file("dup.txt", "first version, longer", 0755)));
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Hardlink, "keep.txt", "dup.txt")));
        CPPUNIT_ASSERT(feed(sink, file("dup.txt", "second", 0644)));
        CPPUNIT_ASSERT_EQUAL(std::string("second"), readFile(box.root / "dup.txt"));
        // The replacement is a new file: the earlier hardlink keeps the first contents.
        CPPUNIT_ASSERT_EQUAL(std::string("first version, longer"), readFile(box.root / "keep.txt"));
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::lstat((box.root / "dup.txt").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0644u, static_cast<unsigned>(st.st_mode & 07777));
        // A symlink entry over a file replaces it too; a file over that symlink is refused.
        CPPUNIT_ASSERT(feed(sink, link(fx::Entry::Type::Symlink, "dup.txt", "keep.txt")));
        CPPUNIT_ASSERT(fs::is_symlink(box.root / "dup.txt"));
        Status s = feed(sink, file("dup.txt", "third"));
        CPPUNIT_ASSERT(!s && contains(s.message(), "through a symlink"));
        CPPUNIT_ASSERT_EQUAL(std::string("first version, longer"), readFile(box.root / "keep.txt"));
    }

    void testMissingRootFailsCleanly() {
        Sandbox box;
        ExtractionSink sink((box.base / "no-such-root").string(), {}, {});
        Status s = feed(sink, file("a", "x"));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, s.code());
        CPPUNIT_ASSERT(contains(s.message(), "no-such-root"));
        // A symlink as the root is refused too (O_NOFOLLOW on the root itself).
        fs::create_directory_symlink(box.base / "outside", box.base / "linkroot");
        ExtractionSink viaLink((box.base / "linkroot").string(), {}, {});
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, feed(viaLink, file("a", "x")).code());
        CPPUNIT_ASSERT(!pathExists(box.base / "outside/a"));
    }

    void testProtocolMisuse() {
        Sandbox box;
        ExtractionSink sink(box.root.string(), {}, {});
        uint8_t byte = 1;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, sink.write(&byte, 1).code());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, sink.endEntry().code());
        std::string a = "a", b = "b";
        CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, a, 5)));
        CPPUNIT_ASSERT(sink.write(&byte, 1));
        Status s = sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, b, 1));
        CPPUNIT_ASSERT(!s && contains(s.message(), "before entry 'a' ended"));
        CPPUNIT_ASSERT(!pathExists(box.root / "a")); // the unfinished one was dropped
        CPPUNIT_ASSERT(feed(sink, file("c", "c")));
        // A null path is an empty name.
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        e.type = LANSPREAD_ENTRY_FILE;
        s = sink.beginEntry(e);
        CPPUNIT_ASSERT(!s && contains(s.message(), "empty name"));
    }

    void testDestructorRemovesUnfinishedFile() {
        Sandbox box;
        {
            ExtractionSink sink(box.root.string(), {}, {});
            std::string name = "unfinished";
            uint8_t byte = 7;
            CPPUNIT_ASSERT(sink.beginEntry(rawEntry(LANSPREAD_ENTRY_FILE, name, 2)));
            CPPUNIT_ASSERT(sink.write(&byte, 1));
        }
        CPPUNIT_ASSERT(!pathExists(box.root / "unfinished"));
    }

    void testFileByteSource() {
        Sandbox box;
        std::string data = fx::pseudoRandom(10000, 7);
        writeFile(box.base / "src.bin", data);
        bool cancelled = false;
        FileByteSource missing((box.base / "nope").string(), {});
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, missing.open().code());
        FileByteSource source((box.base / "src.bin").string(), [&] { return cancelled; });
        const lanspread_byte_source *s = source.source();
        uint8_t buf[4096];
        size_t got = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, s->read(s, buf, sizeof buf, &got)); // not open
        CPPUNIT_ASSERT(source.open());
        CPPUNIT_ASSERT_EQUAL(std::string((box.base / "src.bin").string()), std::string(s->path));
        CPPUNIT_ASSERT(s->struct_size == sizeof(lanspread_byte_source));
        uint64_t size = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->size(s, &size));
        CPPUNIT_ASSERT_EQUAL(uint64_t{10000}, size);
        std::string all;
        do {
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->read(s, buf, sizeof buf, &got));
            all.append(reinterpret_cast<char *>(buf), got);
        } while (got > 0);
        CPPUNIT_ASSERT(all == data);
        int64_t pos = -1;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->seek(s, 100, LANSPREAD_SEEK_SET, &pos));
        CPPUNIT_ASSERT_EQUAL(int64_t{100}, pos);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->seek(s, 50, LANSPREAD_SEEK_CUR, &pos));
        CPPUNIT_ASSERT_EQUAL(int64_t{150}, pos);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->read(s, buf, 10, &got));
        CPPUNIT_ASSERT_EQUAL(0, std::memcmp(buf, data.data() + 150, 10));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->seek(s, -10, LANSPREAD_SEEK_END, &pos));
        CPPUNIT_ASSERT_EQUAL(int64_t{9990}, pos);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->read(s, buf, sizeof buf, &got));
        CPPUNIT_ASSERT_EQUAL(size_t{10}, got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->seek(s, 500, LANSPREAD_SEEK_END, &pos)); // past end
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, s->read(s, buf, sizeof buf, &got));
        CPPUNIT_ASSERT_EQUAL(size_t{0}, got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             s->seek(s, -1, LANSPREAD_SEEK_SET, &pos));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, s->seek(s, 0, 7, &pos));
        cancelled = true;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, s->read(s, buf, sizeof buf, &got));
    }

    void testExtractArchiveScriptedFailures() {
        Sandbox box;
        std::string archive = (box.base / "scripted.bin").string();
        writeFile(archive, "whatever: the scripted unpacker ignores its source");
        box.before = box.listingOutsideRoot();
        {
            // read_data fails after handing out all of the data (think: a CRC mismatch).
            ScriptedUnpacker u;
            u.items.push_back({file("ok.txt", "fine"), LANSPREAD_OK});
            u.items.push_back({file("bad.txt", "corrupt"), LANSPREAD_E_FATAL});
            lanspread_unpacker_v1 vt = u.vtable();
            ExtractionSink sink(box.root.string(), {}, {});
            auto r = extractArchive(vt, &u, archive, sink, LANSPREAD_CANCEL_NONE, {});
            CPPUNIT_ASSERT(!r.ok());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, r.status().code());
            CPPUNIT_ASSERT(contains(r.status().message(), "scripted.bin"));
            CPPUNIT_ASSERT(contains(r.status().message(), "bad.txt"));
            CPPUNIT_ASSERT(u.closed);
            CPPUNIT_ASSERT(pathExists(box.root / "ok.txt"));
            CPPUNIT_ASSERT(!pathExists(box.root / "bad.txt")); // complete bytes, but failed: gone
        }
        {
            // E_FAILED from next_entry ("this entry is unreadable") fails the whole install.
            ScriptedUnpacker u;
            u.items.push_back({file("one", "1"), LANSPREAD_OK});
            u.items.push_back({file("two", "2"), LANSPREAD_OK});
            u.failIndex = 1;
            u.failNextEntryAt = LANSPREAD_E_FAILED;
            lanspread_unpacker_v1 vt = u.vtable();
            ExtractionSink sink(box.root.string(), {}, {});
            auto r = extractArchive(vt, &u, archive, sink, LANSPREAD_CANCEL_NONE, {});
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, r.status().code());
            CPPUNIT_ASSERT(contains(r.status().message(), "entry #2"));
            CPPUNIT_ASSERT(u.closed);
        }
        {
            // A sink refusal is returned with the archive and the entry named; close() runs.
            ScriptedUnpacker u;
            u.items.push_back({file("../escape.txt", "x"), LANSPREAD_OK});
            lanspread_unpacker_v1 vt = u.vtable();
            ExtractionSink sink(box.root.string(), {}, {});
            auto r = extractArchive(vt, &u, archive, sink, LANSPREAD_CANCEL_NONE, {});
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, r.status().code());
            CPPUNIT_ASSERT(contains(r.status().message(), "scripted.bin"));
            CPPUNIT_ASSERT(contains(r.status().message(), "../escape.txt"));
            CPPUNIT_ASSERT(u.closed);
        }
        {
            // An incomplete vtable and a missing archive are errors, not crashes.
            ScriptedUnpacker u;
            lanspread_unpacker_v1 vt = u.vtable();
            vt.read_data = nullptr;
            ExtractionSink sink(box.root.string(), {}, {});
            auto r = extractArchive(vt, &u, archive, sink, LANSPREAD_CANCEL_NONE, {});
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, r.status().code());
            vt = u.vtable();
            r = extractArchive(vt, &u, archive + ".missing", sink, LANSPREAD_CANCEL_NONE, {});
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, r.status().code());
            CPPUNIT_ASSERT(!u.closed); // never opened
        }
        box.assertNothingOutsideChanged("scripted");
    }

    void testExtractArchiveHostileTars() {
        MinimalUnpacker unpacker;
        for (const fx::HostileCase &hc : fx::hostileCases()) {
            Sandbox box;
            std::string archive = (box.base / (hc.name + ".tar")).string();
            try {
                fx::writeArchive(archive, fx::Format::Tar, hc.entries);
            } catch (const std::exception &e) {
                // The format cannot carry this case (the sink test above still covers it).
                std::cout << "\n  [hostile tar] " << hc.name << ": not writable as tar ("
                          << e.what() << ")" << std::flush;
                continue;
            }
            box.before = box.listingOutsideRoot(); // the archive itself lives in base
            ExtractionSink sink(box.root.string(), {}, {});
            auto r = extractArchive(*unpacker.vtable, unpacker.state, archive, sink,
                                    LANSPREAD_CANCEL_NONE, {});
            box.assertNothingOutsideChanged(hc.name + ".tar");
            if (std::getenv("LANSPREAD_TEST_VERBOSE"))
                std::cout << "\n  [hostile tar] " << hc.name << ": " << r.status().describe();
            // ustar cannot carry a NUL inside a name: the header field ends at the NUL, so
            // "nul\0/../../evil.txt" arrives as the harmless "nul". Anything else must fail.
            bool nulName = std::any_of(hc.entries.begin(), hc.entries.end(), [](auto &e) {
                return e.path.find('\0') != std::string::npos;
            });
            if (r.ok() && nulName) {
                CPPUNIT_ASSERT(!pathExists(box.root / "evil.txt"));
                CPPUNIT_ASSERT(!pathExists(box.base / "evil.txt"));
                continue;
            }
            CPPUNIT_ASSERT_MESSAGE(hc.name + ".tar extracted", !r.ok());
            CPPUNIT_ASSERT_MESSAGE(hc.name + ": " + r.status().message(),
                                   contains(r.status().message(), hc.name + ".tar"));
        }
    }

    void testExtractArchiveGoodTar() {
        MinimalUnpacker unpacker;
        Sandbox box;
        std::string archive = (box.base / "good.tar").string();
        std::string big = fx::pseudoRandom(2 * 1024 * 1024 + 3, 9);
        std::vector<fx::Entry> entries = {
            dir("game/"),
            file("game/game.exe", big, 0755),
            file("game/data/level1.pak", fx::pseudoRandom(70000, 10)),
            file("game/empty", ""),
            link(fx::Entry::Type::Symlink, "game/launch", "game.exe"),
        };
        fx::writeArchive(archive, fx::Format::Tar, entries);
        box.before = box.listingOutsideRoot();
        ExtractionSink sink(box.root.string(), {}, {});
        auto r = extractArchive(*unpacker.vtable, unpacker.state, archive, sink,
                                LANSPREAD_CANCEL_NONE, {});
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT_EQUAL(uint64_t{3}, r.value().files);
        CPPUNIT_ASSERT_EQUAL(uint64_t{1}, r.value().symlinks);
        CPPUNIT_ASSERT_EQUAL(uint64_t(big.size() + 70000), r.value().bytes);
        CPPUNIT_ASSERT_EQUAL(fx::sha256Hex(big),
                             fx::sha256Hex(readFile(box.root / "game/game.exe")));
        CPPUNIT_ASSERT_EQUAL(fx::sha256Hex(entries[2].data),
                             fx::sha256Hex(readFile(box.root / "game/data/level1.pak")));
        CPPUNIT_ASSERT_EQUAL(std::string("game.exe"),
                             fs::read_symlink(box.root / "game/launch").string());
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((box.root / "game/game.exe").c_str(), &st));
        CPPUNIT_ASSERT(st.st_mode & S_IXUSR);
        box.assertNothingOutsideChanged("good tar");
    }

    void testExtractArchiveCancelled() {
        MinimalUnpacker unpacker;
        Sandbox box;
        std::string archive = (box.base / "cancel.tar").string();
        std::vector<fx::Entry> entries;
        const std::size_t each = (5u << 20) / 2; // 2.5 MiB: three 1 MiB reads per file
        for (int i = 0; i < 6; ++i) {
            // Appended to a named string: GCC 12 at -O3 reports a false -Wrestrict overlap
            // for "literal" + std::to_string(i) (a temporary).
            std::string name = "f";
            name += std::to_string(i);
            entries.push_back(file(name, fx::pseudoRandom(each, i)));
        }
        fx::writeArchive(archive, fx::Format::Tar, entries);
        lanspread_cancel_handle token = unpacker.host.newCancelToken();
        // Cancel once 6 MiB have been written: in the middle of f2, seen by the sink's poll.
        ExtractionSink *sinkPtr = nullptr;
        auto cancelled = [&] {
            bool fire = sinkPtr != nullptr && sinkPtr->stats().bytes >= (6u << 20);
            if (fire)
                unpacker.host.cancel(token);
            return fire;
        };
        ExtractionSink sink(box.root.string(), {}, cancelled);
        sinkPtr = &sink;
        auto r = extractArchive(*unpacker.vtable, unpacker.state, archive, sink, token, cancelled);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_CANCELLED, r.status().code());
        CPPUNIT_ASSERT(contains(r.status().message(), "f2"));
        // f0 and f1 are complete; the half-written f2 is gone; nothing after it was begun.
        CPPUNIT_ASSERT_EQUAL(uintmax_t(each), fs::file_size(box.root / "f0"));
        CPPUNIT_ASSERT_EQUAL(uintmax_t(each), fs::file_size(box.root / "f1"));
        CPPUNIT_ASSERT(!pathExists(box.root / "f2"));
        CPPUNIT_ASSERT(!pathExists(box.root / "f3"));
    }

    void testExtractArchiveLargeFileThroughput() {
        MinimalUnpacker unpacker;
        Sandbox box;
        std::string archive = (box.base / "large.tar").string();
        const std::size_t size = 50u << 20;
        std::vector<fx::Entry> entries = {file("big/payload.bin", fx::pseudoRandom(size, 2024))};
        const std::string want = fx::sha256Hex(entries[0].data);
        fx::writeArchive(archive, fx::Format::Tar, entries);
        entries.clear();
        ExtractionSink sink(box.root.string(), {}, {});
        auto t0 = std::chrono::steady_clock::now();
        auto r = extractArchive(*unpacker.vtable, unpacker.state, archive, sink,
                                LANSPREAD_CANCEL_NONE, {});
        auto t1 = std::chrono::steady_clock::now();
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT_EQUAL(uint64_t(size), r.value().bytes);
        double seconds = std::chrono::duration<double>(t1 - t0).count();
        char line[160];
        std::snprintf(line, sizeof line,
                      "\n  [throughput] extractArchive 50 MiB ustar (unpacker-minimal): "
                      "%.3f s, %.1f MiB/s\n",
                      seconds, 50.0 / seconds);
        std::cout << line << std::flush;
        CPPUNIT_ASSERT_EQUAL(want, fx::sha256Hex(readFile(box.root / "big/payload.bin")));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ExtractionSinkTest);
