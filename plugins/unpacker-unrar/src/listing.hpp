// unpacker-unrar: the archive listings the sidecar tools print, parsed into entries.
//
//   lsar -j            JSON: XADFileName, XADFileSize, XADIsDirectory, XADIsLink,
//                      XADLinkDestination, XADIsHardLink, XADIndex, XADPosixPermissions /
//                      RAR5Attributes, XADLastModificationDate, RAR5CRC32 ...
//   unrar lt -c-       "technical" listing: blocks of "Key: value" lines, one block per file
//                      (Name, Type, Target, Size, mtime, Attributes, CRC32, ...)
//
// The data of the files then comes from one extractor process that writes every selected
// file, in listing order, back to back on its stdout; `streamBytes()` says how many bytes of
// that stream belong to an entry.
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread::plugins::unrar {

struct ListedEntry {
    uint32_t type = LANSPREAD_ENTRY_FILE;
    std::string path;
    uint64_t size = 0; // data bytes (a file's size; a link's target length when in the data)
    uint32_t mode = 0;
    int64_t mtime = 0;
    std::string linkTarget;
    bool linkTargetInData = false; // a symlink whose target is its data (zip, RAR4 style)
    std::optional<uint32_t> crc32; // of the data, when the listing gives it
    int64_t index = -1;            // lsar's XADIndex, what `unar -i` selects
    std::string unreadable;        // why the entry cannot be extracted (encrypted), or ""

    // Bytes of this entry in the extractor's data stream.
    uint64_t streamBytes() const {
        if (!unreadable.empty())
            return 0;
        return type == LANSPREAD_ENTRY_FILE || linkTargetInData ? size : 0;
    }
};

// Parses `lsar -j` output. Fails (E_FATAL) when lsar reports an error or the JSON is not a
// listing; a file entry without a size fails too (its data could not be split off).
Result<std::vector<ListedEntry>> parseLsarJson(const std::string &json);

// Parses `unrar lt -c-` output (run with TZ=UTC, so times are UTC).
Result<std::vector<ListedEntry>> parseUnrarTechnical(const std::string &text);

// "2023-11-14 22:13:20 +0000" (lsar) or "2023-11-14 22:13:20,000000000" (unrar, UTC) as
// Unix seconds; nullopt when it does not parse.
std::optional<int64_t> parseTimestamp(std::string_view text);

// "-rwxr-xr-x" / "drwxr-xr-x" / "lrwxrwxrwx" as permission bits (with setuid/setgid/sticky),
// or 0 when text is not such a string.
uint32_t parseModeString(std::string_view text);

} // namespace lanspread::plugins::unrar
