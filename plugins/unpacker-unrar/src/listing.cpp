#include "listing.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cctype>
#include <charconv>
#include <ctime>

namespace lanspread::plugins::unrar {

namespace {

bool parseUnsigned(std::string_view text, uint64_t &out, int base = 10) {
    if (text.empty())
        return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && end == text.data() + text.size();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// ---- lsar -j ----

bool flag(const Poco::JSON::Object &o, const char *key) {
    if (!o.has(key))
        return false;
    try {
        return o.getValue<int64_t>(key) != 0;
    } catch (const Poco::Exception &) {
        return false;
    }
}

std::optional<uint64_t> number(const Poco::JSON::Object &o, const char *key) {
    if (!o.has(key))
        return std::nullopt;
    try {
        int64_t v = o.getValue<int64_t>(key);
        if (v < 0)
            return std::nullopt;
        return static_cast<uint64_t>(v);
    } catch (const Poco::Exception &) {
        return std::nullopt;
    }
}

std::optional<std::string> text(const Poco::JSON::Object &o, const char *key) {
    if (!o.has(key))
        return std::nullopt;
    Poco::Dynamic::Var v = o.get(key);
    if (!v.isString())
        return std::nullopt;
    return v.extract<std::string>();
}

uint32_t lsarMode(const Poco::JSON::Object &o) {
    if (auto p = number(o, "XADPosixPermissions"))
        return static_cast<uint32_t>(*p) & 07777;
    // RAR5 keeps st_mode in its attributes when the host OS is Unix (RAR5OS 1).
    if (number(o, "RAR5OS") == std::optional<uint64_t>(1))
        if (auto a = number(o, "RAR5Attributes"))
            return static_cast<uint32_t>(*a) & 07777;
    // RAR 1.5-4.x: host OS 3 is Unix.
    if (number(o, "RAROS") == std::optional<uint64_t>(3))
        if (auto a = number(o, "RARAttributes"))
            return static_cast<uint32_t>(*a) & 07777;
    return 0;
}

Result<ListedEntry> lsarEntry(const Poco::JSON::Object &o, std::size_t position) {
    ListedEntry e;
    auto name = text(o, "XADFileName");
    if (!name)
        return Status(LANSPREAD_E_FATAL,
                      "lsar listing entry " + std::to_string(position) + " has no file name");
    e.path = *name;
    auto index = number(o, "XADIndex");
    e.index = index ? static_cast<int64_t>(*index) : static_cast<int64_t>(position);
    e.mode = lsarMode(o);
    if (auto date = text(o, "XADLastModificationDate"))
        e.mtime = parseTimestamp(*date).value_or(0);
    auto size = number(o, "XADFileSize");
    if (flag(o, "XADIsEncrypted"))
        e.unreadable = "the entry is encrypted (passwords are not supported)";
    if (flag(o, "XADIsDirectory")) {
        e.type = LANSPREAD_ENTRY_DIRECTORY;
    } else if (flag(o, "XADIsHardLink")) {
        e.type = LANSPREAD_ENTRY_HARDLINK;
        e.linkTarget = text(o, "XADLinkDestination").value_or("");
    } else if (flag(o, "XADIsLink")) {
        e.type = LANSPREAD_ENTRY_SYMLINK;
        if (auto target = text(o, "XADLinkDestination")) {
            e.linkTarget = *target;
        } else { // the target is the entry's data (zip, RAR 4)
            if (!size)
                return Status(LANSPREAD_E_FATAL,
                              "lsar gives neither a target nor a size for link '" + e.path + "'");
            e.linkTargetInData = true;
            e.size = *size;
        }
    } else if (flag(o, "XADIsCharacterDevice") || flag(o, "XADIsBlockDevice") ||
               flag(o, "XADIsFIFO")) {
        e.type = LANSPREAD_ENTRY_OTHER;
    } else {
        e.type = LANSPREAD_ENTRY_FILE;
        if (!size)
            return Status(LANSPREAD_E_FATAL, "lsar gives no size for '" + e.path + "'");
        e.size = *size;
        for (const char *key : {"RAR5CRC32", "RARCRC32", "ZipCRC32"})
            if (auto crc = number(o, key)) {
                e.crc32 = static_cast<uint32_t>(*crc);
                break;
            }
    }
    return e;
}

// ---- unrar lt ----

uint32_t unrarType(std::string_view type) {
    if (type == "File")
        return LANSPREAD_ENTRY_FILE;
    if (type == "Directory")
        return LANSPREAD_ENTRY_DIRECTORY;
    if (type == "Unix symbolic link" || type == "Windows symbolic link")
        return LANSPREAD_ENTRY_SYMLINK;
    if (type == "Hard link")
        return LANSPREAD_ENTRY_HARDLINK;
    return LANSPREAD_ENTRY_OTHER; // "NTFS junction point", "File reference", ...
}

struct UnrarBlock {
    std::string name, type, target, size, attributes, crc, mtime;
    bool haveTarget = false;
};

Result<ListedEntry> unrarEntry(const UnrarBlock &b) {
    ListedEntry e;
    e.path = b.name;
    e.type = b.type.empty() ? LANSPREAD_ENTRY_FILE : unrarType(b.type);
    e.mode = parseModeString(b.attributes);
    if (auto t = parseTimestamp(b.mtime))
        e.mtime = *t;
    uint64_t size = 0;
    bool haveSize = parseUnsigned(b.size, size);
    if (e.type == LANSPREAD_ENTRY_FILE) {
        if (!haveSize)
            return Status(LANSPREAD_E_FATAL, "unrar listing gives no size for '" + e.path + "'");
        e.size = size;
        uint64_t crc = 0;
        if (parseUnsigned(b.crc, crc, 16) && crc <= 0xFFFFFFFFu)
            e.crc32 = static_cast<uint32_t>(crc);
    } else if (e.type == LANSPREAD_ENTRY_SYMLINK || e.type == LANSPREAD_ENTRY_HARDLINK) {
        if (b.haveTarget) {
            e.linkTarget = b.target;
        } else if (e.type == LANSPREAD_ENTRY_SYMLINK && haveSize && size > 0) {
            e.linkTargetInData = true; // RAR 4: the target is the data
            e.size = size;
        }
    }
    return e;
}

} // namespace

std::optional<int64_t> parseTimestamp(std::string_view t) {
    auto digits = [&](std::size_t at, std::size_t width, int &out) {
        if (t.size() < at + width)
            return false;
        out = 0;
        for (std::size_t i = at; i < at + width; ++i) {
            if (!std::isdigit(static_cast<unsigned char>(t[i])))
                return false;
            out = out * 10 + (t[i] - '0');
        }
        return true;
    };
    // "YYYY-MM-DD HH:MM:SS", then an optional ",fraction" (unrar) and " +hhmm" (lsar).
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(0, 4, year) || t[4] != '-' || !digits(5, 2, month) || t[7] != '-' ||
        !digits(8, 2, day) || t[10] != ' ' || !digits(11, 2, hour) || t[13] != ':' ||
        !digits(14, 2, minute) || t[16] != ':' || !digits(17, 2, second))
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    int64_t seconds = static_cast<int64_t>(timegm(&tm));
    std::size_t sign = t.find_first_of("+-", 19);
    int hh = 0, mm = 0;
    if (sign != std::string_view::npos && digits(sign + 1, 2, hh) && digits(sign + 3, 2, mm)) {
        int64_t offset = (hh * 60 + mm) * 60;
        seconds += t[sign] == '+' ? -offset : offset;
    }
    return seconds;
}

uint32_t parseModeString(std::string_view s) {
    if (s.size() != 10 || std::string_view("-dlbcps").find(s[0]) == std::string_view::npos)
        return 0;
    uint32_t mode = 0;
    const char *letters = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) {
        char c = s[static_cast<std::size_t>(i) + 1];
        bool exec = (i % 3) == 2;
        if (c == letters[i] || (exec && (c == 's' || c == 't')))
            mode |= 1u << (8 - i);
        else if (!(c == '-' || (exec && (c == 'S' || c == 'T'))))
            return 0;
        if (exec && (c == 's' || c == 'S'))
            mode |= i == 2 ? 04000u : 02000u;
        if (exec && (c == 't' || c == 'T') && i == 8)
            mode |= 01000u;
    }
    return mode;
}

Result<std::vector<ListedEntry>> parseLsarJson(const std::string &json) {
    Poco::JSON::Object::Ptr root;
    try {
        Poco::JSON::Parser parser;
        root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &e) {
        return Status(LANSPREAD_E_FATAL, "lsar printed no JSON listing: " + e.displayText());
    } catch (const std::exception &e) {
        return Status(LANSPREAD_E_FATAL, std::string("lsar printed no JSON listing: ") + e.what());
    }
    if (!root)
        return Status(LANSPREAD_E_FATAL, "lsar printed no JSON object");
    if (auto error = number(*root, "lsarError"); error && *error != 0)
        return Status(LANSPREAD_E_FATAL, "lsar reported error " + std::to_string(*error));
    Poco::JSON::Array::Ptr contents = root->getArray("lsarContents");
    if (!contents)
        return Status(LANSPREAD_E_FATAL, "lsar listing has no lsarContents");
    std::vector<ListedEntry> entries;
    for (std::size_t i = 0; i < contents->size(); ++i) {
        Poco::JSON::Object::Ptr o = contents->getObject(static_cast<unsigned>(i));
        if (!o)
            return Status(LANSPREAD_E_FATAL,
                          "lsar listing entry " + std::to_string(i) + " is not an object");
        if (flag(*o, "XADIsResourceFork"))
            continue; // Mac resource forks: unar runs with -k skip
        auto e = lsarEntry(*o, i);
        if (!e)
            return e.status();
        entries.push_back(std::move(e.value()));
    }
    return entries;
}

Result<std::vector<ListedEntry>> parseUnrarTechnical(const std::string &listing) {
    std::vector<ListedEntry> entries;
    std::optional<UnrarBlock> block;
    auto flush = [&]() -> Status {
        if (!block)
            return Status::ok();
        auto e = unrarEntry(*block);
        block.reset();
        if (!e)
            return e.status();
        entries.push_back(std::move(e.value()));
        return Status::ok();
    };
    bool sawDetails = false;
    std::size_t at = 0;
    while (at <= listing.size()) {
        std::size_t end = listing.find('\n', at);
        if (end == std::string::npos)
            end = listing.size();
        std::string_view line(listing.data() + at, end - at);
        at = end + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        // "        Name: dir/file.txt": the key is right-aligned before ": ".
        std::size_t colon = line.find(": ");
        if (colon == std::string_view::npos)
            continue;
        std::string_view key = trim(line.substr(0, colon));
        std::string_view value = line.substr(colon + 2);
        if (key == "Details" || key == "Archive")
            sawDetails = true;
        if (key == "Name") {
            if (Status s = flush(); !s)
                return s;
            block.emplace();
            block->name = std::string(value); // names keep their spaces
            continue;
        }
        if (!block)
            continue;
        if (key == "Type")
            block->type = trim(value);
        else if (key == "Target") {
            block->target = std::string(value);
            block->haveTarget = true;
        } else if (key == "Size")
            block->size = trim(value);
        else if (key == "Attributes")
            block->attributes = trim(value);
        else if (key == "CRC32")
            block->crc = trim(value);
        else if (key == "mtime")
            block->mtime = trim(value);
    }
    if (Status s = flush(); !s)
        return s;
    if (!sawDetails && entries.empty())
        return Status(LANSPREAD_E_FATAL, "unrar printed no technical listing (is this RARLAB "
                                         "unrar? unrar-free is not supported; set tool=unar)");
    return entries;
}

} // namespace lanspread::plugins::unrar
