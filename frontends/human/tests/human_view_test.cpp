// Human mode's rendering: sanitising and display widths, aligned tables, byte/rate/ETA
// formatting, the bar line, and the live area's escape sequences (in place, clear-print-
// redraw, the echo repair, and no escapes at all when the output is not a terminal).
#include "human_view.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <sstream>
#include <vector>

using namespace lanspread::human;

namespace {

std::vector<std::string> lines(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

} // namespace

class HumanViewTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HumanViewTest);
    CPPUNIT_TEST(sanitizeReplacesControlsAndBadUtf8);
    CPPUNIT_TEST(displayWidthCountsColumns);
    CPPUNIT_TEST(tableColumnsAreAligned);
    CPPUNIT_TEST(tableAlignsNonAsciiByDisplayWidth);
    CPPUNIT_TEST(bytesRatesAndTimes);
    CPPUNIT_TEST(progressLineFitsAndShowsEverything);
    CPPUNIT_TEST(liveAreaRedrawsOneBarInPlace);
    CPPUNIT_TEST(liveAreaNeverLeavesHalfABar);
    CPPUNIT_TEST(liveAreaRepairsTheEchoedInputLine);
    CPPUNIT_TEST(notLiveWritesPlainLinesOnly);
    CPPUNIT_TEST_SUITE_END();

  public:
    void sanitizeReplacesControlsAndBadUtf8() {
        CPPUNIT_ASSERT_EQUAL(std::string("plain text"), sanitize("plain text"));
        CPPUNIT_ASSERT_EQUAL(std::string("?[2Jevil?name?"), sanitize("\x1b[2Jevil\nname\x7f"));
        CPPUNIT_ASSERT_EQUAL(std::string("C1 ? end"), sanitize("C1 \xc2\x9b end")); // CSI
        CPPUNIT_ASSERT_EQUAL(std::string("J\xc3\xb6rg \xe2\x84\xa2"),
                             sanitize("J\xc3\xb6rg \xe2\x84\xa2"));
        CPPUNIT_ASSERT_EQUAL(std::string("a?b?(c"), sanitize("a\xff"
                                                             "b\xc3\x28"
                                                             "c"));
        CPPUNIT_ASSERT_EQUAL(std::string("??"), sanitize("\xc0\xaf"));      // overlong '/'
        CPPUNIT_ASSERT_EQUAL(std::string("???"), sanitize("\xed\xa0\x80")); // a surrogate
    }

    void displayWidthCountsColumns() {
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), displayWidth("alienswarm"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), displayWidth("J\xc3\xb6rg")); // 5 bytes
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), displayWidth("e\xcc\x81"));   // e + combining
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), displayWidth("\xe6\x97\xa5\xe6\x9c\xac")); // wide
        CPPUNIT_ASSERT_EQUAL(std::string("alien~"), truncateToWidth("alienswarm", 6));
        CPPUNIT_ASSERT_EQUAL(std::string("alienswarm"), truncateToWidth("alienswarm", 10));
        CPPUNIT_ASSERT_EQUAL(std::string("J\xc3\xb6~"), truncateToWidth("J\xc3\xb6rg", 3));
    }

    void tableColumnsAreAligned() {
        const std::string table = renderTable(
            {{"ID"}, {"NAME"}, {"SIZE", Align::Right}, {"INSTALLED"}},
            {{"alienswarm", "Alien Swarm", "1.2 GiB", "no"}, {"ggoo", "Goo", "64.0 MiB", "yes"}});
        const auto rows = lines(table);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), rows.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ID          NAME             SIZE  INSTALLED"), rows[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("alienswarm  Alien Swarm   1.2 GiB  no"), rows[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo        Goo          64.0 MiB  yes"), rows[2]);
        CPPUNIT_ASSERT(table.back() != '\n');
        // A short row is padded; an empty table is its header.
        CPPUNIT_ASSERT_EQUAL(std::string("A  B\nx"), renderTable({{"A"}, {"B"}}, {{"x"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("A  B"), renderTable({{"A"}, {"B"}}, {}));
    }

    void tableAlignsNonAsciiByDisplayWidth() {
        const std::string table = renderTable({{"NAME"}, {"V"}}, {{"J\xc3\xb6rg", "1"},
                                                                  {"Bob", "2"},
                                                                  {"\xe6\x97\xa5\xe6\x9c\xac", "3"},
                                                                  {"a\x1b[1m", "4"}});
        const auto rows = lines(table);
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), rows.size());
        // Every V starts at the same display column, whatever the bytes before it.
        for (const auto &row : rows)
            CPPUNIT_ASSERT_EQUAL_MESSAGE(row, std::size_t(7),
                                         displayWidth(row.substr(0, row.size() - 1)));
        CPPUNIT_ASSERT_EQUAL(std::string("a?[1m  4"), rows[4]); // the escape is defused
    }

    void bytesRatesAndTimes() {
        CPPUNIT_ASSERT_EQUAL(std::string("0 B"), formatBytes(0));
        CPPUNIT_ASSERT_EQUAL(std::string("1023 B"), formatBytes(1023));
        CPPUNIT_ASSERT_EQUAL(std::string("1.5 KiB"), formatBytes(1536));
        CPPUNIT_ASSERT_EQUAL(std::string("64.0 MiB"), formatBytes(64ull << 20));
        CPPUNIT_ASSERT_EQUAL(std::string("2.5 GiB"), formatBytes(5ull << 29));
        CPPUNIT_ASSERT_EQUAL(std::string("24.0/64.0 MiB"),
                             formatBytePair(24ull << 20, 64ull << 20));
        CPPUNIT_ASSERT_EQUAL(std::string("0.5/2.0 GiB"), formatBytePair(1ull << 29, 2ull << 30));
        CPPUNIT_ASSERT_EQUAL(std::string("10/900 B"), formatBytePair(10, 900));
        CPPUNIT_ASSERT_EQUAL(std::string("15.9 MiB/s"), formatRate(15.94));
        CPPUNIT_ASSERT_EQUAL(std::string("0.0 MiB/s"), formatRate(-3));
        CPPUNIT_ASSERT_EQUAL(std::string("0:00"), formatEta(0));
        CPPUNIT_ASSERT_EQUAL(std::string("0:07"), formatEta(6.6));
        CPPUNIT_ASSERT_EQUAL(std::string("12:34"), formatEta(754));
        CPPUNIT_ASSERT_EQUAL(std::string("1:02:03"), formatEta(3723));
        CPPUNIT_ASSERT_EQUAL(std::string("--:--"), formatEta(-1));
        CPPUNIT_ASSERT_EQUAL(std::string("--:--"), formatEta(100.0 * 3600));
        CPPUNIT_ASSERT_EQUAL(std::string("850 ms"), formatDuration(850));
        CPPUNIT_ASSERT_EQUAL(std::string("4.1 s"), formatDuration(4100));
        CPPUNIT_ASSERT_EQUAL(std::string("2m05s"), formatDuration(125000));
        CPPUNIT_ASSERT_EQUAL(std::string("1h02m05s"), formatDuration(3725000));
        CPPUNIT_ASSERT_EQUAL(std::string("1 peer"), plural(1, "peer", "peers"));
        CPPUNIT_ASSERT_EQUAL(std::string("0 peers"), plural(0, "peer", "peers"));
        // ETA: bytes left at the current rate; unknown without a rate.
        Progress p{"ggoo", 32ull << 20, 64ull << 20, 16.0, 1};
        CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, etaSeconds(p), 1e-9);
        p.mibPerSecond = 0;
        CPPUNIT_ASSERT_EQUAL(-1.0, etaSeconds(p));
    }

    void progressLineFitsAndShowsEverything() {
        Progress p{"ggoo", 16ull << 20, 64ull << 20, 16.0, 1};
        const std::string wide = progressLine(p, 160);
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo          [#######-----------------------]   25%  "
                                         "16.0/64.0 MiB  16.0 MiB/s  1 peer  ETA 0:03"),
                             wide);
        // 80 columns: a shorter bar, never wider than 79.
        const std::string narrow = progressLine(p, 80);
        CPPUNIT_ASSERT_MESSAGE(narrow, displayWidth(narrow) <= 79);
        CPPUNIT_ASSERT_MESSAGE(narrow, contains(narrow, "[") && contains(narrow, "ETA 0:03"));
        // Too narrow for a bar: the numbers stay, then the line is cut.
        const std::string tight = progressLine(p, 70);
        CPPUNIT_ASSERT_MESSAGE(tight, !contains(tight, "[") && contains(tight, "16.0 MiB/s"));
        CPPUNIT_ASSERT(displayWidth(progressLine(p, 30)) <= 29);
        // Unknown rate, several peers, done, a long hostile name.
        Progress q{"a-very-long-game-name-that-goes-on\x1b[2J", 64ull << 20, 64ull << 20, 0, 3};
        const std::string done = progressLine(q, 160);
        CPPUNIT_ASSERT_MESSAGE(done, contains(done, "[##############################]  100%"));
        CPPUNIT_ASSERT_MESSAGE(done, contains(done, "-.- MiB/s  3 peers  ETA --:--"));
        CPPUNIT_ASSERT_MESSAGE(done, done.find('\x1b') == std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(done, contains(done, "a-very-long-game-name-t~  ["));
        Progress empty{"g", 0, 0, 0, 0};
        CPPUNIT_ASSERT_MESSAGE(progressLine(empty, 120),
                               contains(progressLine(empty, 120), "  0%"));
    }

    void liveAreaRedrawsOneBarInPlace() {
        LiveArea area(true);
        // A new bar: clear (nothing drawn yet), draw it; the cursor waits below it.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[Ja 1\n"), area.setBar("a", "a 1"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), area.drawnRows());
        // A second bar: both redrawn from the first bar's row.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[1A\x1b[Ja 1\nb 1\n"), area.setBar("b", "b 1"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), area.drawnRows());
        // An update rewrites only its own row: save cursor, up, CR, text, clear rest, restore.
        CPPUNIT_ASSERT_EQUAL(std::string("\x1b"
                                         "7\x1b[2A\ra 2\x1b[K\x1b"
                                         "8"),
                             area.setBar("a", "a 2"));
        CPPUNIT_ASSERT_EQUAL(std::string("\x1b"
                                         "7\x1b[1A\rb 2\x1b[K\x1b"
                                         "8"),
                             area.setBar("b", "b 2"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), area.drawnRows());
    }

    void liveAreaNeverLeavesHalfABar() {
        LiveArea area(true);
        area.setBar("a", "bar a");
        area.setBar("b", "bar b");
        // A message: the bars go, the message is printed, the bars come back below it.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[2A\x1b[Jpeer connected\nbar a\nbar b\n"),
                             area.print("peer connected"));
        // A finished download: its bar becomes the final line, the other bar stays.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[2A\x1b[Ja: downloaded\nbar b\n"),
                             area.removeBar("a", "a: downloaded"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), area.barCount());
        CPPUNIT_ASSERT(!area.hasBar("a") && area.hasBar("b"));
        // Removing an unknown bar without text does nothing; with text it prints it.
        CPPUNIT_ASSERT_EQUAL(std::string(), area.removeBar("zz", ""));
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[1A\x1b[Jzz failed\nbar b\n"),
                             area.removeBar("zz", "zz failed"));
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[1A\x1b[J"), area.removeBar("b", ""));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), area.drawnRows());
        // Without bars a message still starts on a clean line (a half-typed echo goes).
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[Jhello\n"), area.print("hello"));
    }

    void liveAreaRepairsTheEchoedInputLine() {
        LiveArea area(true);
        // No bars: the echo is already in the scrollback where it belongs.
        CPPUNIT_ASSERT_EQUAL(std::string(), area.inputEntered("list-games", 1));
        area.setBar("a", "bar a");
        area.setBar("b", "bar b");
        // The echo (2 rows) sits under the 2 bars: clear from the first bar, print the typed
        // line, redraw the bars.
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[4A\x1b[Jlist-games\nbar a\nbar b\n"),
                             area.inputEntered("list-games", 2));
        CPPUNIT_ASSERT_EQUAL(std::string("\r\x1b[3A\x1b[J\nbar a\nbar b\n"),
                             area.inputEntered("", 0));
    }

    void notLiveWritesPlainLinesOnly() {
        LiveArea area(false);
        CPPUNIT_ASSERT_EQUAL(std::string(), area.setBar("a", "bar a"));
        CPPUNIT_ASSERT_EQUAL(std::string(), area.setBar("a", "bar a2"));
        CPPUNIT_ASSERT(area.hasBar("a"));
        CPPUNIT_ASSERT_EQUAL(std::string("hello\n"), area.print("hello"));
        CPPUNIT_ASSERT_EQUAL(std::string("a: done\n"), area.removeBar("a", "a: done"));
        CPPUNIT_ASSERT_EQUAL(std::string(), area.removeBar("a", ""));
        CPPUNIT_ASSERT_EQUAL(std::string(), area.inputEntered("x", 1));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), area.drawnRows());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HumanViewTest);
