// The human mode, the pure part of what people see: text sanitising, display
// widths, aligned tables, byte/rate/ETA formatting, the progress-bar line, and LiveArea, the
// model of the live bars at the bottom of a terminal (it returns the bytes to write, ANSI
// escapes included, and owns no file descriptor). No JSON and no I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lanspread::human {

// ---- text ----

// text with every control character (C0, DEL, C1; tab and newline included) and every byte
// that is not valid UTF-8 replaced by '?', so a name sent by a remote peer cannot move the
// cursor or inject escape sequences. Keeps valid UTF-8.
std::string sanitize(std::string_view text);

// Terminal columns of UTF-8 text: 1 per code point, 0 for combining marks, 2 for East Asian
// wide and emoji code points; an invalid byte counts 1. ASCII is exactly its length.
std::size_t displayWidth(std::string_view text);

// text cut to at most columns display columns (cut text ends with "~").
std::string truncateToWidth(std::string_view text, std::size_t columns);

// ---- tables ----

enum class Align { Left, Right };

struct Column {
    std::string header;
    Align align = Align::Left;
};

// Header and rows, each column as wide as its widest cell (by display width), columns
// separated by two spaces, no trailing spaces, lines joined by '\n' (no final newline).
// Cells are sanitised; a row with fewer cells than columns is padded with empty cells.
std::string renderTable(const std::vector<Column> &columns,
                        const std::vector<std::vector<std::string>> &rows);

// ---- numbers ----

// 1023 B, 1.5 KiB, 64.0 MiB, 2.3 GiB (binary units, one decimal).
std::string formatBytes(uint64_t bytes);
// "24.0/64.0 MiB": done and total in the unit of total.
std::string formatBytePair(uint64_t done, uint64_t total);
// "15.9 MiB/s" (one decimal).
std::string formatRate(double mibPerSecond);
// Remaining time: "0:07", "12:34", "1:02:03"; "--:--" when unknown (seconds < 0) or longer
// than 99 hours.
std::string formatEta(double seconds);
// Elapsed time: "850 ms", "4.1 s", "2m05s", "1h02m05s".
std::string formatDuration(int64_t milliseconds);
// "1 peer", "2 peers".
std::string plural(long long count, const std::string &singular, const std::string &pluralForm);

// ---- progress ----

struct Progress {
    std::string game;
    uint64_t bytesDone = 0;
    uint64_t bytesTotal = 0;
    double mibPerSecond = 0; // the latest rate; <= 0 while unknown
    int peers = 0;
};

// Seconds left at the current rate, or -1 when the rate is unknown.
double etaSeconds(const Progress &p);

// One bar line that fits in columns - 1 display columns (never wraps):
//   "ggoo          [##########--------------------]  33%  21.3/64.0 MiB  15.9 MiB/s  1 peer  ETA
//   0:02"
// The bar shrinks (then goes) on narrow terminals; the line is cut as a last resort.
std::string progressLine(const Progress &p, std::size_t columns);

// ---- the live area ----

// The bottom of a terminal: ordinary messages scroll above, one bar line per running
// download stays below them, and the cursor waits on the (input) line under the bars.
// Every method returns the bytes to write, in one write, for at most one redraw:
//   - setBar on a bar already drawn rewrites only its line, in place (save cursor, up, CR,
//     clear line, restore cursor), so what the user is typing below stays put;
//   - a new bar, a removed bar and a message clear the bars (CR, up, clear to the end of
//     the screen), print the message, and draw the bars again — never half a bar;
//   - inputEntered repairs the screen after the terminal echoed a typed line below the bars.
// When not live (the output is not a terminal), bars are never drawn and no escape is
// written: messages and final lines come out as plain lines.
class LiveArea {
  public:
    explicit LiveArea(bool live) : _live(live) {}

    bool live() const { return _live; }
    std::size_t barCount() const { return _bars.size(); }
    bool hasBar(const std::string &key) const;
    // Rows of bars on the screen above the cursor (what the next clear erases).
    std::size_t drawnRows() const { return _drawn; }

    // Adds the bar of key (drawn last) or replaces its line. line must fit on one row.
    std::string setBar(const std::string &key, const std::string &line);
    // Removes the bar of key, printing finalText (may be empty) where the bars were.
    std::string removeBar(const std::string &key, const std::string &finalText);
    // Prints text (one or more lines, '\n'-separated) above the bars.
    std::string print(const std::string &text);
    // The terminal echoed a typed line (echoRows rows, ending in a newline) under the bars:
    // erase the echo and the bars, print echo (the line as typed) above, redraw the bars.
    // Nothing to do without bars: the echo is already where it belongs.
    std::string inputEntered(const std::string &echo, std::size_t echoRows);

  private:
    std::string clearAll(std::size_t extraRowsAbove = 0);
    std::string drawAll();

    bool _live;
    std::vector<std::pair<std::string, std::string>> _bars; // key, line; in drawing order
    std::size_t _drawn = 0;
};

} // namespace lanspread::human
