#include "human_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lanspread::human {

namespace {

// Decodes the UTF-8 code point at text[i]; returns its byte length, or 0 when the bytes
// there are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::size_t decode(std::string_view text, std::size_t i, char32_t &cp) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    std::size_t len = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > text.size())
        return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(text[i + k]);
        if ((b & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool isControl(char32_t cp) {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

std::size_t codePointWidth(char32_t cp) {
    struct Range {
        char32_t first, last;
    };
    static constexpr Range kZero[] = {{0x0300, 0x036F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
                                      {0x200B, 0x200F}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
                                      {0xFE20, 0xFE2F}};
    static constexpr Range kWide[] = {{0x1100, 0x115F},   {0x2E80, 0x303E},  {0x3041, 0x33FF},
                                      {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},  {0xA000, 0xA4CF},
                                      {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},  {0xFE30, 0xFE4F},
                                      {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},  {0x1F300, 0x1F64F},
                                      {0x1F900, 0x1F9FF}, {0x20000, 0x3FFFD}};
    for (const auto &r : kZero)
        if (cp >= r.first && cp <= r.last)
            return 0;
    for (const auto &r : kWide)
        if (cp >= r.first && cp <= r.last)
            return 2;
    return 1;
}

std::string printfString(const char *format, double a, double b = 0) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, a, b);
    return buffer;
}

} // namespace

std::string sanitize(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const std::size_t len = decode(text, i, cp);
        if (len == 0 || isControl(cp)) {
            out.push_back('?');
            i += len == 0 ? 1 : len;
            continue;
        }
        out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

std::size_t displayWidth(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const std::size_t len = decode(text, i, cp);
        width += len == 0 ? 1 : codePointWidth(cp);
        i += len == 0 ? 1 : len;
    }
    return width;
}

std::string truncateToWidth(std::string_view text, std::size_t columns) {
    if (displayWidth(text) <= columns)
        return std::string(text);
    if (columns == 0)
        return std::string();
    std::string out;
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        std::size_t len = decode(text, i, cp);
        const std::size_t w = len == 0 ? 1 : codePointWidth(cp);
        len = len == 0 ? 1 : len;
        if (width + w > columns - 1)
            break;
        out.append(text.substr(i, len));
        width += w;
        i += len;
    }
    return out + "~";
}

std::string renderTable(const std::vector<Column> &columns,
                        const std::vector<std::vector<std::string>> &rows) {
    std::vector<std::vector<std::string>> cells;
    cells.reserve(rows.size() + 1);
    std::vector<std::string> header;
    for (const auto &c : columns)
        header.push_back(sanitize(c.header));
    cells.push_back(std::move(header));
    for (const auto &row : rows) {
        std::vector<std::string> line;
        for (std::size_t i = 0; i < columns.size(); ++i)
            line.push_back(i < row.size() ? sanitize(row[i]) : std::string());
        cells.push_back(std::move(line));
    }
    std::vector<std::size_t> widths(columns.size(), 0);
    for (const auto &line : cells)
        for (std::size_t i = 0; i < line.size(); ++i)
            widths[i] = std::max(widths[i], displayWidth(line[i]));

    std::string out;
    for (std::size_t r = 0; r < cells.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const std::string &cell = cells[r][i];
            const std::string pad(widths[i] - displayWidth(cell), ' ');
            if (i > 0)
                line += "  ";
            line += columns[i].align == Align::Right ? pad + cell : cell + pad;
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        if (r > 0)
            out += '\n';
        out += line;
    }
    return out;
}

std::string formatBytes(uint64_t bytes) {
    static const char *const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024)
        return std::to_string(bytes) + " B";
    double value = double(bytes) / 1024.0;
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
        value /= 1024.0;
        ++unit;
    }
    return printfString("%.1f", value) + " " + kUnits[unit];
}

std::string formatBytePair(uint64_t done, uint64_t total) {
    static const char *const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (total < 1024)
        return std::to_string(done) + "/" + std::to_string(total) + " B";
    double scale = 1024.0;
    std::size_t unit = 0;
    while (double(total) / scale >= 1024.0 && unit + 1 < std::size(kUnits)) {
        scale *= 1024.0;
        ++unit;
    }
    return printfString("%.1f/%.1f", double(done) / scale, double(total) / scale) + " " +
           kUnits[unit];
}

std::string formatRate(double mibPerSecond) {
    return printfString("%.1f", mibPerSecond < 0 ? 0.0 : mibPerSecond) + " MiB/s";
}

std::string formatEta(double seconds) {
    if (!(seconds >= 0) || seconds > 99.0 * 3600.0)
        return "--:--";
    const long long s = std::llround(seconds);
    char buffer[32];
    if (s >= 3600)
        std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, (s % 3600) / 60,
                      s % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
    return buffer;
}

std::string formatDuration(int64_t milliseconds) {
    if (milliseconds < 0)
        milliseconds = 0;
    if (milliseconds < 1000)
        return std::to_string(milliseconds) + " ms";
    if (milliseconds < 60000)
        return printfString("%.1f", double(milliseconds) / 1000.0) + " s";
    const long long s = milliseconds / 1000;
    char buffer[48];
    if (s < 3600)
        std::snprintf(buffer, sizeof buffer, "%lldm%02llds", s / 60, s % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%lldh%02lldm%02llds", s / 3600, (s % 3600) / 60,
                      s % 60);
    return buffer;
}

std::string plural(long long count, const std::string &singular, const std::string &pluralForm) {
    return std::to_string(count) + " " + (count == 1 ? singular : pluralForm);
}

double etaSeconds(const Progress &p) {
    if (!(p.mibPerSecond > 0))
        return -1;
    const uint64_t left = p.bytesTotal > p.bytesDone ? p.bytesTotal - p.bytesDone : 0;
    return double(left) / (p.mibPerSecond * 1048576.0);
}

std::string progressLine(const Progress &p, std::size_t columns) {
    const std::size_t limit = columns > 1 ? columns - 1 : 0;
    std::string name = truncateToWidth(sanitize(p.game), 24);
    const std::size_t nameWidth = displayWidth(name);
    if (nameWidth < 12)
        name += std::string(12 - nameWidth, ' ');

    const uint64_t done = std::min(p.bytesDone, p.bytesTotal);
    const int percent = p.bytesTotal == 0 ? 0 : int(double(done) * 100.0 / double(p.bytesTotal));
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%%", percent);
    const std::string rate = p.mibPerSecond > 0 ? formatRate(p.mibPerSecond) : "-.- MiB/s";
    const std::string tail = std::string(pct) + "  " + formatBytePair(p.bytesDone, p.bytesTotal) +
                             "  " + rate + "  " + plural(p.peers, "peer", "peers") + "  ETA " +
                             formatEta(etaSeconds(p));

    const std::size_t fixed = displayWidth(name) + 2 + displayWidth(tail);
    std::string line;
    if (limit >= fixed + 4 + 8) {
        const std::size_t barWidth = std::min<std::size_t>(30, limit - fixed - 4);
        const std::size_t filled =
            p.bytesTotal == 0 ? 0
                              : std::size_t(double(barWidth) * double(done) / double(p.bytesTotal));
        line = name + "  [" + std::string(filled, '#') + std::string(barWidth - filled, '-') +
               "]  " + tail;
    } else {
        line = name + "  " + tail;
    }
    return truncateToWidth(line, limit);
}

// ---- LiveArea ----

bool LiveArea::hasBar(const std::string &key) const {
    return std::any_of(_bars.begin(), _bars.end(), [&](const auto &b) { return b.first == key; });
}

std::string LiveArea::clearAll(std::size_t extraRowsAbove) {
    // The cursor is on the input line, _drawn (+ extra) rows below the first bar row.
    std::string out = "\r";
    const std::size_t up = _drawn + extraRowsAbove;
    if (up > 0)
        out += "\x1b[" + std::to_string(up) + "A";
    out += "\x1b[J";
    _drawn = 0;
    return out;
}

std::string LiveArea::drawAll() {
    std::string out;
    for (const auto &bar : _bars)
        out += bar.second + "\n";
    _drawn = _bars.size();
    return out;
}

std::string LiveArea::setBar(const std::string &key, const std::string &line) {
    auto it =
        std::find_if(_bars.begin(), _bars.end(), [&](const auto &b) { return b.first == key; });
    if (!_live) {
        if (it == _bars.end())
            _bars.emplace_back(key, line);
        else
            it->second = line;
        return std::string();
    }
    if (it != _bars.end()) {
        it->second = line;
        const auto index = static_cast<std::size_t>(it - _bars.begin());
        if (_drawn == _bars.size()) {
            // In place: only this row changes, and the cursor goes back where it was.
            const std::size_t up = _drawn - index;
            return "\x1b"
                   "7\x1b[" +
                   std::to_string(up) + "A\r" + line +
                   "\x1b[K\x1b"
                   "8";
        }
    } else {
        _bars.emplace_back(key, line);
    }
    std::string out = clearAll();
    return out + drawAll();
}

std::string LiveArea::removeBar(const std::string &key, const std::string &finalText) {
    auto it =
        std::find_if(_bars.begin(), _bars.end(), [&](const auto &b) { return b.first == key; });
    const bool had = it != _bars.end();
    if (had)
        _bars.erase(it);
    if (!_live)
        return finalText.empty() ? std::string() : finalText + "\n";
    if (!had && finalText.empty())
        return std::string();
    std::string out = clearAll();
    if (!finalText.empty())
        out += finalText + "\n";
    return out + drawAll();
}

std::string LiveArea::print(const std::string &text) {
    if (!_live)
        return text + "\n";
    std::string out = clearAll();
    out += text + "\n";
    return out + drawAll();
}

std::string LiveArea::inputEntered(const std::string &echo, std::size_t echoRows) {
    if (!_live || _drawn == 0)
        return std::string();
    std::string out = clearAll(std::max<std::size_t>(1, echoRows));
    out += echo + "\n";
    return out + drawAll();
}

} // namespace lanspread::human
