#include "tar_stream.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace lanspread::plugins::unrar {

namespace {

constexpr uint64_t kMaxMetaRecord = 1 << 20; // pax / long-name records larger are refused

std::string field(const uint8_t *block, std::size_t offset, std::size_t width) {
    const char *p = reinterpret_cast<const char *>(block + offset);
    return std::string(p, strnlen(p, width));
}

// An octal field (leading spaces, digits, then NUL/space), or base-256 when the first byte
// has its high bit set (how large sizes and times are written without pax).
bool number(const uint8_t *block, std::size_t offset, std::size_t width, uint64_t &out) {
    const uint8_t *p = block + offset;
    out = 0;
    if (p[0] & 0x80) {
        if (p[0] != 0x80)
            return false; // negative or too large
        for (std::size_t i = 1; i < width; ++i) {
            if (out >> 56)
                return false;
            out = (out << 8) | p[i];
        }
        return true;
    }
    std::size_t i = 0;
    while (i < width && p[i] == ' ')
        ++i;
    for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i) {
        if (out >> 60)
            return false;
        out = out * 8 + (p[i] - '0');
    }
    return i == width || p[i] == '\0' || p[i] == ' ';
}

bool checksumOk(const uint8_t *block) {
    uint64_t stored = 0;
    if (!number(block, 148, 8, stored))
        return false;
    uint64_t sum = 0;
    for (std::size_t i = 0; i < 512; ++i)
        sum += (i >= 148 && i < 156) ? uint64_t(' ') : block[i];
    return sum == stored;
}

bool allZero(const uint8_t *block) {
    return std::all_of(block, block + 512, [](uint8_t c) { return c == 0; });
}

struct Pax {
    std::optional<std::string> path, linkpath;
    std::optional<uint64_t> size;
    std::optional<int64_t> mtime;
};

// "<length> <key>=<value>\n" records.
bool parsePax(const std::string &records, Pax &pax) {
    std::size_t at = 0;
    while (at < records.size()) {
        if (records[at] == '\0')
            break; // padding
        std::size_t space = records.find(' ', at);
        if (space == std::string::npos)
            return false;
        uint64_t length = 0;
        auto [end, ec] = std::from_chars(records.data() + at, records.data() + space, length);
        if (ec != std::errc() || end != records.data() + space || length < 5 ||
            length > records.size() - at || records[at + length - 1] != '\n')
            return false;
        std::string record = records.substr(space + 1, at + length - 1 - (space + 1));
        at += length;
        std::size_t eq = record.find('=');
        if (eq == std::string::npos)
            return false;
        std::string key = record.substr(0, eq), value = record.substr(eq + 1);
        if (key == "path") {
            pax.path = value;
        } else if (key == "linkpath") {
            pax.linkpath = value;
        } else if (key == "size") {
            uint64_t v = 0;
            auto [e, c] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (c != std::errc() || e != value.data() + value.size())
                return false;
            pax.size = v;
        } else if (key == "mtime") {
            int64_t v = 0; // "1700000000.123": the seconds are enough
            auto [e, c] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (c == std::errc() && (e == value.data() + value.size() || *e == '.'))
                pax.mtime = v;
        }
    }
    return true;
}

} // namespace

Result<bool> TarStreamReader::readBlock(Block &block) {
    std::size_t done = 0;
    while (done < block.size()) {
        auto got = _read(std::span<uint8_t>(block).subspan(done));
        if (!got)
            return got.status();
        if (got.value() == 0)
            break;
        done += got.value();
    }
    if (done == 0) {
        _endOfStream = true;
        return false;
    }
    if (done < block.size())
        return Status(LANSPREAD_E_FATAL, "the tar stream ends inside a header");
    return true;
}

Status TarStreamReader::skip(uint64_t n) {
    uint8_t scratch[16384];
    while (n > 0) {
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(n, sizeof scratch));
        auto got = _read(std::span<uint8_t>(scratch, want));
        if (!got)
            return got.status();
        if (got.value() == 0)
            return Status(LANSPREAD_E_FATAL, "the tar stream ends inside an entry");
        n -= got.value();
    }
    return Status::ok();
}

Result<std::string> TarStreamReader::readPayload(uint64_t size, const char *what) {
    if (size > kMaxMetaRecord)
        return Status(LANSPREAD_E_FATAL, std::string("oversized ") + what + " record");
    std::string payload(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    while (done < payload.size()) {
        auto got = _read(std::span<uint8_t>(reinterpret_cast<uint8_t *>(payload.data()) + done,
                                            payload.size() - done));
        if (!got)
            return got.status();
        if (got.value() == 0)
            return Status(LANSPREAD_E_FATAL, "the tar stream ends inside a header");
        done += got.value();
    }
    if (Status s = skip((512 - size % 512) % 512); !s)
        return s;
    return payload;
}

Status TarStreamReader::next(ArchiveEntry &out) {
    if (uint64_t rest = _remaining + _padding; rest > 0) {
        if (Status s = skip(rest); !s)
            return s;
        _remaining = _padding = 0;
    }
    Pax pax;
    std::optional<std::string> longName, longLink;
    for (;;) {
        Block h;
        auto got = readBlock(h);
        if (!got)
            return got.status();
        if (!got.value())
            return Status(LANSPREAD_E_FATAL, "the tar stream ends without its end-of-archive "
                                             "blocks");
        if (allZero(h.data())) {
            Block second;
            auto again = readBlock(second);
            if (!again)
                return again.status();
            return Status(LANSPREAD_END);
        }
        if (!checksumOk(h.data()))
            return Status(LANSPREAD_E_FATAL, "corrupt tar header in the extractor's output");
        uint64_t size = 0, mode = 0, mtime = 0;
        if (!number(h.data(), 124, 12, size) || !number(h.data(), 100, 8, mode))
            return Status(LANSPREAD_E_FATAL, "corrupt tar header in the extractor's output");
        number(h.data(), 136, 12, mtime);
        char type = static_cast<char>(h[156]);

        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            auto payload = readPayload(size, type == 'x' || type == 'g' ? "pax" : "long name");
            if (!payload)
                return payload.status();
            if (type == 'x' && !parsePax(payload.value(), pax))
                return Status(LANSPREAD_E_FATAL, "corrupt pax record in the extractor's output");
            if (type == 'L')
                longName = std::string(payload.value().c_str());
            if (type == 'K')
                longLink = std::string(payload.value().c_str());
            continue; // 'g' (global) records carry nothing the entries need
        }

        std::string name = field(h.data(), 0, 100);
        if (std::memcmp(h.data() + 257, "ustar", 5) == 0) {
            std::string prefix = field(h.data(), 345, 155);
            if (!prefix.empty())
                name = prefix + "/" + name;
        }
        out.path = pax.path ? *pax.path : longName ? *longName : name;
        out.linkTarget = pax.linkpath ? *pax.linkpath
                         : longLink   ? *longLink
                                      : field(h.data(), 157, 100);
        if (pax.size)
            size = *pax.size;
        out.mode = static_cast<uint32_t>(mode & 07777);
        out.mtimeSeconds = pax.mtime ? *pax.mtime : static_cast<int64_t>(mtime);
        out.sizeBytes = 0;
        switch (type) {
        case '0':
        case '\0':
        case '7':
            out.type = LANSPREAD_ENTRY_FILE;
            out.sizeBytes = size;
            out.linkTarget.clear();
            break;
        case '1': out.type = LANSPREAD_ENTRY_HARDLINK; break;
        case '2': out.type = LANSPREAD_ENTRY_SYMLINK; break;
        case '5':
            out.type = LANSPREAD_ENTRY_DIRECTORY;
            out.linkTarget.clear();
            break;
        default: // devices, FIFOs, unknown types: the sink refuses OTHER
            out.type = LANSPREAD_ENTRY_OTHER;
            out.linkTarget.clear();
            break;
        }
        // Only files expose their data; any other record's data is skipped by next().
        _remaining = size;
        _padding = (512 - size % 512) % 512;
        if (out.type != LANSPREAD_ENTRY_FILE) {
            if (Status s = skip(_remaining + _padding); !s)
                return s;
            _remaining = _padding = 0;
        }
        return Status::ok();
    }
}

Result<std::size_t> TarStreamReader::readData(std::span<uint8_t> buffer) {
    if (_remaining == 0 || buffer.empty())
        return std::size_t{0};
    std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(_remaining, buffer.size()));
    auto got = _read(buffer.first(want));
    if (!got)
        return got.status();
    if (got.value() == 0)
        return Status(LANSPREAD_E_FATAL, "the tar stream ends inside an entry");
    _remaining -= got.value();
    return got.value();
}

} // namespace lanspread::plugins::unrar
