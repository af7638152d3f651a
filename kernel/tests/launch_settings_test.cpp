// First-play launch settings (seed S38) on real files: byte-for-byte checks of the rewritten
// SmartSteamEmu.ini (CRLF, LF, no newline at EOF), account_name.txt and language.txt, the
// sorted-walk choice of "first" file, the marker and its once-only effect.
#include "file_text.hpp"
#include <lanspread/kernel/install/install_engine.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using lanspread::kernel::install::applyLaunchSettings;

namespace {

using lanspread::test::readWholeFile;
using lanspread::test::writeWholeFile;

const std::string kIniDir = "engine/bin/win64/steam_settings";
const std::string kProfileDir = "profiles/local";

} // namespace

class LaunchSettingsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LaunchSettingsTest);
    CPPUNIT_TEST(testFirstPlayCrlfIni);
    CPPUNIT_TEST(testLfIni);
    CPPUNIT_TEST(testNoNewlineAtEof);
    CPPUNIT_TEST(testKeyMatchingRules);
    CPPUNIT_TEST(testSecondPlayChangesNothing);
    CPPUNIT_TEST(testFirstFileInSortedWalk);
    CPPUNIT_TEST(testNoFilesStillMarked);
    CPPUNIT_TEST(testNotInstalled);
    CPPUNIT_TEST(testModeKeptAndSymlinksIgnored);
    CPPUNIT_TEST(testEmptyAndControlValues);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        char templ[] = "/tmp/lanspread-launch-test-XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(templ) != nullptr);
        _dir = templ;
        _games = _dir + "/games";
        _state = _dir + "/state";
        fs::create_directories(_games + "/css/local");
        fs::create_directories(_state);
    }
    void tearDown() override {
        std::error_code ec;
        fs::remove_all(_dir, ec);
    }

    std::string local() { return _games + "/css/local"; }
    std::string marker() { return _state + "/games/css/launch_settings_applied"; }
    lanspread::Result<lanspread::kernel::install::LaunchSettingsResult>
    play(const std::string &user = "Gordon", const std::string &lang = "german") {
        return applyLaunchSettings(_games, _state, "css", user, lang);
    }

    void testFirstPlayCrlfIni() {
        const std::string ini = "[SmartSteamEmu]\r\n"
                                "AppId = 240\r\n"
                                "PersonaName = stub-name\r\n"
                                "Language=english\r\n"
                                "\r\n"
                                "[Plugins]\r\n";
        writeWholeFile(local() + "/" + kIniDir + "/SmartSteamEmu.ini", ini);
        writeWholeFile(local() + "/" + kProfileDir + "/account_name.txt", "stub-account\n");
        writeWholeFile(local() + "/" + kProfileDir + "/language.txt", "english");
        CPPUNIT_ASSERT(!fs::exists(marker()));

        auto r = play();
        CPPUNIT_ASSERT_MESSAGE(r.status().describe(), r.ok());
        CPPUNIT_ASSERT(!r.value().alreadyApplied);
        CPPUNIT_ASSERT(r.value().accountNameWritten);
        CPPUNIT_ASSERT(r.value().languageWritten);
        CPPUNIT_ASSERT(r.value().personaNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("[SmartSteamEmu]\r\n"
                                         "AppId = 240\r\n"
                                         "PersonaName=Gordon\r\n"
                                         "Language=english\r\n"
                                         "\r\n"
                                         "[Plugins]\r\n"),
                             readWholeFile(local() + "/" + kIniDir + "/SmartSteamEmu.ini"));
        CPPUNIT_ASSERT_EQUAL(std::string("Gordon"),
                             readWholeFile(local() + "/" + kProfileDir + "/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("german"),
                             readWholeFile(local() + "/" + kProfileDir + "/language.txt"));
        CPPUNIT_ASSERT(fs::is_regular_file(marker()));
        // No temp files left next to the rewritten ones.
        for (const auto &e : fs::recursive_directory_iterator(local()))
            CPPUNIT_ASSERT_MESSAGE(e.path().string(),
                                   e.path().filename().string().find("tmp") == std::string::npos);
    }

    void testLfIni() {
        writeWholeFile(local() + "/SmartSteamEmu.ini", "A=1\nPersonaName=x\nB=2\n");
        CPPUNIT_ASSERT(play().ok());
        CPPUNIT_ASSERT_EQUAL(std::string("A=1\nPersonaName=Gordon\nB=2\n"),
                             readWholeFile(local() + "/SmartSteamEmu.ini"));
    }

    void testNoNewlineAtEof() {
        writeWholeFile(local() + "/SmartSteamEmu.ini", "A=1\r\nPersonaName=x");
        auto r = play();
        CPPUNIT_ASSERT(r.ok() && r.value().personaNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("A=1\r\nPersonaName=Gordon"),
                             readWholeFile(local() + "/SmartSteamEmu.ini"));
    }

    void testKeyMatchingRules() {
        // Only the first exact (trimmed, case-sensitive) key changes; look-alikes stay.
        const std::string ini = "\xEF\xBB\xBFpersonaname=lower\n"
                                "PersonaNameX=other\n"
                                "# PersonaName=comment\n"
                                "PersonaName\n"
                                "\t PersonaName \t= first\r\n"
                                "PersonaName=second\n";
        writeWholeFile(local() + "/SmartSteamEmu.ini", ini);
        auto r = play();
        CPPUNIT_ASSERT(r.ok() && r.value().personaNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("\xEF\xBB\xBFpersonaname=lower\n"
                                         "PersonaNameX=other\n"
                                         "# PersonaName=comment\n"
                                         "PersonaName\n"
                                         "PersonaName=Gordon\r\n"
                                         "PersonaName=second\n"),
                             readWholeFile(local() + "/SmartSteamEmu.ini"));

        // A BOM right before the key on the first line is kept.
        fs::remove(marker());
        writeWholeFile(local() + "/SmartSteamEmu.ini", "\xEF\xBB\xBFPersonaName=a\r\nX=1\r\n");
        CPPUNIT_ASSERT(play("Alyx").ok());
        CPPUNIT_ASSERT_EQUAL(std::string("\xEF\xBB\xBFPersonaName=Alyx\r\nX=1\r\n"),
                             readWholeFile(local() + "/SmartSteamEmu.ini"));

        // An ini without the key is untouched and reported as not written.
        fs::remove(marker());
        writeWholeFile(local() + "/SmartSteamEmu.ini", "A=1\r\n");
        auto none = play();
        CPPUNIT_ASSERT(none.ok() && !none.value().personaNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("A=1\r\n"), readWholeFile(local() + "/SmartSteamEmu.ini"));
    }

    void testSecondPlayChangesNothing() {
        writeWholeFile(local() + "/SmartSteamEmu.ini", "PersonaName=stub\r\n");
        writeWholeFile(local() + "/account_name.txt", "stub");
        writeWholeFile(local() + "/language.txt", "english");
        CPPUNIT_ASSERT(play().ok());
        // Reset externally (the user edits them back); a second play leaves them alone.
        writeWholeFile(local() + "/SmartSteamEmu.ini", "PersonaName=stub\r\n");
        writeWholeFile(local() + "/account_name.txt", "stub");
        writeWholeFile(local() + "/language.txt", "english");
        auto mtime = fs::last_write_time(local() + "/account_name.txt");
        auto second = play("Someone", "french");
        CPPUNIT_ASSERT(second.ok());
        CPPUNIT_ASSERT(second.value().alreadyApplied);
        CPPUNIT_ASSERT(!second.value().accountNameWritten);
        CPPUNIT_ASSERT(!second.value().languageWritten);
        CPPUNIT_ASSERT(!second.value().personaNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("PersonaName=stub\r\n"),
                             readWholeFile(local() + "/SmartSteamEmu.ini"));
        CPPUNIT_ASSERT_EQUAL(std::string("stub"), readWholeFile(local() + "/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("english"), readWholeFile(local() + "/language.txt"));
        CPPUNIT_ASSERT(mtime == fs::last_write_time(local() + "/account_name.txt"));
    }

    void testFirstFileInSortedWalk() {
        // Depth-first with each directory sorted byte-wise: "B" < "a" < "a-b" < "b".
        writeWholeFile(local() + "/b/account_name.txt", "b");
        writeWholeFile(local() + "/a/z/account_name.txt", "a/z");
        writeWholeFile(local() + "/a-b/account_name.txt", "a-b");
        writeWholeFile(local() + "/B/language.txt", "B");
        writeWholeFile(local() + "/a/language.txt", "a");
        writeWholeFile(local() + "/b/SmartSteamEmu.ini", "PersonaName=b\n");
        writeWholeFile(local() + "/a/z/y/SmartSteamEmu.ini", "PersonaName=deep\n");
        auto r = play();
        CPPUNIT_ASSERT(r.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("Gordon"),
                             readWholeFile(local() + "/a/z/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("a-b"), readWholeFile(local() + "/a-b/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("b"), readWholeFile(local() + "/b/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("german"), readWholeFile(local() + "/B/language.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("a"), readWholeFile(local() + "/a/language.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("PersonaName=Gordon\n"),
                             readWholeFile(local() + "/a/z/y/SmartSteamEmu.ini"));
        CPPUNIT_ASSERT_EQUAL(std::string("PersonaName=b\n"),
                             readWholeFile(local() + "/b/SmartSteamEmu.ini"));
    }

    void testNoFilesStillMarked() {
        writeWholeFile(local() + "/game.exe", "exe");
        auto r = play();
        CPPUNIT_ASSERT(r.ok());
        CPPUNIT_ASSERT(!r.value().alreadyApplied);
        CPPUNIT_ASSERT(!r.value().accountNameWritten);
        CPPUNIT_ASSERT(!r.value().languageWritten);
        CPPUNIT_ASSERT(!r.value().personaNameWritten);
        CPPUNIT_ASSERT(fs::is_regular_file(marker()));
        CPPUNIT_ASSERT(play().value().alreadyApplied);
    }

    void testNotInstalled() {
        auto r = applyLaunchSettings(_games, _state, "other", "u", "l");
        CPPUNIT_ASSERT(!r.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, r.status().code());
        CPPUNIT_ASSERT(r.status().message().rfind("not-installed: other", 0) == 0);
        CPPUNIT_ASSERT(!fs::exists(_state + "/games/other/launch_settings_applied"));
        CPPUNIT_ASSERT(!applyLaunchSettings(_games, _state, "..", "u", "l").ok());
    }

    void testModeKeptAndSymlinksIgnored() {
        writeWholeFile(_dir + "/outside/account_name.txt", "outside");
        fs::create_symlink(_dir + "/outside", local() + "/0-linked-dir");
        fs::create_directories(local() + "/0");
        fs::create_symlink(_dir + "/outside/account_name.txt", local() + "/0/account_name.txt");
        writeWholeFile(local() + "/1/account_name.txt", "inside");
        ::chmod((local() + "/1/account_name.txt").c_str(), 0600);
        auto r = play();
        CPPUNIT_ASSERT(r.ok() && r.value().accountNameWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("outside"),
                             readWholeFile(_dir + "/outside/account_name.txt"));
        CPPUNIT_ASSERT_EQUAL(std::string("Gordon"), readWholeFile(local() + "/1/account_name.txt"));
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((local() + "/1/account_name.txt").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 0777));
    }

    void testEmptyAndControlValues() {
        writeWholeFile(local() + "/account_name.txt", "stub");
        writeWholeFile(local() + "/language.txt", "english");
        auto bad = play("evil\nPersonaName=x", "de");
        CPPUNIT_ASSERT(!bad.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, bad.status().code());
        CPPUNIT_ASSERT(!fs::exists(marker()));
        CPPUNIT_ASSERT_EQUAL(std::string("stub"), readWholeFile(local() + "/account_name.txt"));

        auto noLanguage = play("Gordon", "");
        CPPUNIT_ASSERT(noLanguage.ok());
        CPPUNIT_ASSERT(noLanguage.value().accountNameWritten);
        CPPUNIT_ASSERT(!noLanguage.value().languageWritten);
        CPPUNIT_ASSERT_EQUAL(std::string("english"), readWholeFile(local() + "/language.txt"));
    }

  private:
    std::string _dir, _games, _state;
};

CPPUNIT_TEST_SUITE_REGISTRATION(LaunchSettingsTest);
