// base/files: the walk below a root never follows a symlink at any step, creates only what it
// is asked to, and an atomic write leaves either the old or the new file.
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>

#include "file_text.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace fs = std::filesystem;
namespace base = lanspread::kernel::base;
using lanspread::Status;
using lanspread::test::readWholeFile;
using lanspread::test::writeWholeFile;

namespace {

class ScratchDir {
  public:
    ScratchDir() {
        char pattern[] = "/tmp/lanspread-base-XXXXXX";
        _path = ::mkdtemp(pattern);
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(_path, ec);
    }
    const std::string &path() const { return _path; }

  private:
    std::string _path;
};

std::string contentOf(int fd) {
    std::string out;
    char buffer[256];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        out.append(buffer, static_cast<std::size_t>(n));
    return out;
}

} // namespace

class BaseFilesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(BaseFilesTest);
    CPPUNIT_TEST(opensANestedFileBelowTheRoot);
    CPPUNIT_TEST(refusesASymlinkAtEveryStep);
    CPPUNIT_TEST(reportsAFileWhereADirectoryIsNeeded);
    CPPUNIT_TEST(createsMissingDirectoriesOnlyWhenAsked);
    CPPUNIT_TEST(atomicWriteReplacesAndSetsTheExactMode);
    CPPUNIT_TEST(atomicWriteWithoutReplaceKeepsTheExistingFile);
    CPPUNIT_TEST(atomicWriteRemovesAStaleTemp);
    CPPUNIT_TEST(readRefusesASymlinkAndABigFile);
    CPPUNIT_TEST(escapesUntrustedBytes);
    CPPUNIT_TEST(hexAndErrnoText);
    CPPUNIT_TEST_SUITE_END();

  public:
    void opensANestedFileBelowTheRoot() {
        ScratchDir dir;
        writeWholeFile(dir.path() + "/root/a/b/file.txt", "hello");
        auto root = base::openDirectoryNoFollow(dir.path() + "/root");
        CPPUNIT_ASSERT(root.ok());
        base::BelowRoot opened = base::openFileBelow(root.value().get(), "a/b/file.txt", O_RDONLY);
        CPPUNIT_ASSERT(opened.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), contentOf(opened.fd.get()));
        base::BelowRoot missing = base::openFileBelow(root.value().get(), "a/none.txt", O_RDONLY);
        CPPUNIT_ASSERT(!missing.ok());
        CPPUNIT_ASSERT_EQUAL(ENOENT, missing.error);
        CPPUNIT_ASSERT_EQUAL(std::string("a/none.txt"), missing.failedAt);
    }

    void refusesASymlinkAtEveryStep() {
        ScratchDir dir;
        writeWholeFile(dir.path() + "/outside/secret.txt", "secret");
        writeWholeFile(dir.path() + "/root/real/file.txt", "ok");
        fs::create_symlink(dir.path() + "/outside", dir.path() + "/root/linkdir");
        fs::create_symlink(dir.path() + "/outside/secret.txt", dir.path() + "/root/real/link.txt");
        auto root = base::openDirectoryNoFollow(dir.path() + "/root");
        CPPUNIT_ASSERT(root.ok());

        base::BelowRoot viaDir =
            base::openFileBelow(root.value().get(), "linkdir/secret.txt", O_RDONLY);
        CPPUNIT_ASSERT(!viaDir.ok());
        CPPUNIT_ASSERT(viaDir.symlink);
        CPPUNIT_ASSERT_EQUAL(std::string("linkdir"), viaDir.failedAt);
        CPPUNIT_ASSERT_EQUAL(std::string("cannot open linkdir: refusing to follow a symlink"),
                             viaDir.message());

        base::BelowRoot viaLeaf =
            base::openFileBelow(root.value().get(), "real/link.txt", O_RDONLY);
        CPPUNIT_ASSERT(!viaLeaf.ok());
        CPPUNIT_ASSERT(viaLeaf.symlink);

        // Creating through a symlinked directory is refused too: nothing appears outside.
        const base::DirectoryCreation create;
        base::BelowRoot creating = base::openFileBelow(root.value().get(), "linkdir/new/x.bin",
                                                       O_RDWR | O_CREAT, 0644, &create);
        CPPUNIT_ASSERT(!creating.ok());
        CPPUNIT_ASSERT(creating.symlink);
        CPPUNIT_ASSERT(!fs::exists(dir.path() + "/outside/new"));

        // The root itself must not be a symlink.
        fs::create_symlink(dir.path() + "/root", dir.path() + "/rootlink");
        CPPUNIT_ASSERT(!base::openDirectoryNoFollow(dir.path() + "/rootlink").ok());
    }

    void reportsAFileWhereADirectoryIsNeeded() {
        ScratchDir dir;
        writeWholeFile(dir.path() + "/root/plain", "x");
        auto root = base::openDirectoryNoFollow(dir.path() + "/root");
        base::BelowRoot opened = base::openDirectoryBelow(root.value().get(), "plain/sub");
        CPPUNIT_ASSERT(!opened.ok());
        CPPUNIT_ASSERT(opened.notDirectory);
        CPPUNIT_ASSERT(!opened.symlink);
        CPPUNIT_ASSERT_EQUAL(std::string("plain"), opened.failedAt);
    }

    void createsMissingDirectoriesOnlyWhenAsked() {
        ScratchDir dir;
        fs::create_directories(dir.path() + "/root");
        auto root = base::openDirectoryNoFollow(dir.path() + "/root");
        base::BelowRoot notCreated = base::openDirectoryBelow(root.value().get(), "x/y");
        CPPUNIT_ASSERT(!notCreated.ok());
        CPPUNIT_ASSERT(!fs::exists(dir.path() + "/root/x"));

        int created = 0;
        base::DirectoryCreation create;
        create.mode = 0750;
        create.onCreated = [&] { ++created; };
        base::BelowRoot file =
            base::openFileBelow(root.value().get(), "x/y/z.bin", O_RDWR | O_CREAT, 0600, &create);
        CPPUNIT_ASSERT(file.ok());
        CPPUNIT_ASSERT_EQUAL(2, created);
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((dir.path() + "/root/x/y").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0750u, static_cast<unsigned>(st.st_mode & 0777));
        // Existing directories are walked, not counted again.
        base::BelowRoot again =
            base::openFileBelow(root.value().get(), "x/y/z.bin", O_RDWR | O_CREAT, 0600, &create);
        CPPUNIT_ASSERT(again.ok());
        CPPUNIT_ASSERT_EQUAL(2, created);
        // "" is the root itself.
        CPPUNIT_ASSERT(base::openDirectoryBelow(root.value().get(), "").ok());
    }

    void atomicWriteReplacesAndSetsTheExactMode() {
        ScratchDir dir;
        const std::string path = dir.path() + "/state.json";
        writeWholeFile(path, "old");
        const mode_t oldMask = ::umask(077);
        base::AtomicWrite how;
        how.mode = 0644;
        Status written = base::writeFileAtomically(path, "new content", how);
        ::umask(oldMask);
        CPPUNIT_ASSERT_MESSAGE(written.describe(), written.succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("new content"), readWholeFile(path));
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat(path.c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0644u, static_cast<unsigned>(st.st_mode & 0777));
        CPPUNIT_ASSERT(!fs::exists(base::tempPathFor(path)));
    }

    void atomicWriteWithoutReplaceKeepsTheExistingFile() {
        ScratchDir dir;
        const std::string path = dir.path() + "/key.pem";
        writeWholeFile(path, "existing");
        base::AtomicWrite how;
        how.replace = false;
        how.tempPath = dir.path() + "/.key.pem.tmp";
        Status written = base::writeFileAtomically(path, "other", how);
        CPPUNIT_ASSERT(!written.succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("existing"), readWholeFile(path));
        CPPUNIT_ASSERT(!fs::exists(how.tempPath));
        CPPUNIT_ASSERT(written.message().find(path) != std::string::npos);
    }

    void atomicWriteRemovesAStaleTemp() {
        ScratchDir dir;
        const std::string path = dir.path() + "/intent.json";
        writeWholeFile(base::tempPathFor(path), "half-written by a crash");
        CPPUNIT_ASSERT(base::writeFileAtomically(path, "{}").succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), readWholeFile(path));
        CPPUNIT_ASSERT(!fs::exists(base::tempPathFor(path)));
        // A directory that does not exist is an error naming the temp path, not a crash.
        Status failed = base::writeFileAtomically(dir.path() + "/none/x.json", "{}");
        CPPUNIT_ASSERT(!failed.succeeded());
        CPPUNIT_ASSERT(failed.message().find("/none/x.json") != std::string::npos);
    }

    void readRefusesASymlinkAndABigFile() {
        ScratchDir dir;
        writeWholeFile(dir.path() + "/small", "abc");
        fs::create_symlink(dir.path() + "/small", dir.path() + "/link");
        writeWholeFile(dir.path() + "/big", std::string(1000, 'x'));
        auto small = base::readFileNoFollow(dir.path() + "/small");
        CPPUNIT_ASSERT(small.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), small.value());
        CPPUNIT_ASSERT(!base::readFileNoFollow(dir.path() + "/link").ok());
        auto big = base::readFileNoFollow(dir.path() + "/big", 999, true);
        CPPUNIT_ASSERT(!big.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, big.status().code());
        auto none = base::readFileNoFollow(dir.path() + "/none");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, none.status().code());
        CPPUNIT_ASSERT(base::isRegularFile(dir.path() + "/small"));
        CPPUNIT_ASSERT(!base::isRegularFile(dir.path() + "/link"));
        CPPUNIT_ASSERT(base::pathExists(dir.path() + "/link"));
        CPPUNIT_ASSERT(base::isRealDirectory(dir.path()));
        CPPUNIT_ASSERT(base::removeFileIfPresent(dir.path() + "/none").succeeded());
    }

    void escapesUntrustedBytes() {
        bool cut = true;
        CPPUNIT_ASSERT_EQUAL(
            std::string("a\\x0ab\\x00c"),
            base::escapeForMessage(std::string("a\nb\0c", 5), 80, false, {}, &cut));
        CPPUNIT_ASSERT(!cut);
        CPPUNIT_ASSERT_EQUAL(std::string("\\\"q\\xc3\\xa9"),
                             base::escapeForMessage("\"q\xc3\xa9", 80, true, "\"\\"));
        CPPUNIT_ASSERT_EQUAL(std::string("\xc3\xa9"),
                             base::escapeForMessage("\xc3\xa9", 80, false));
        CPPUNIT_ASSERT_EQUAL(std::string("abc"),
                             base::escapeForMessage("abcdef", 3, false, {}, &cut));
        CPPUNIT_ASSERT(cut);
    }

    void hexAndErrnoText() {
        const uint8_t bytes[] = {0x00, 0xab, 0x0f};
        CPPUNIT_ASSERT_EQUAL(std::string("00ab0f"), base::toHex(bytes, sizeof bytes));
        CPPUNIT_ASSERT_EQUAL(std::string("No such file or directory"), base::errnoText(ENOENT));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(BaseFilesTest);
