// unpacker-zip: the few central-directory fields Poco::Zip 1.11 keeps private.
//
// Poco's ZipFileInfo has the "version made by" host and the external file attributes (where
// Unix zips keep st_mode, including S_IFLNK for symbolic links) but does not expose them.
// This reader walks the central directory (end record, zip64 end record and locator, file
// headers) for exactly those fields, keyed by entry name. Everything else — the listing, the
// local headers, the data — stays Poco's.
#pragma once

#include <lanspread/result.hpp>

#include <cstdint>
#include <istream>
#include <map>
#include <string>

namespace lanspread::plugins::zip {

struct CentralRecord {
    uint8_t hostSystem = 0; // high byte of "version made by": 3 = Unix
    uint32_t externalAttributes = 0;
    std::size_t order = 0; // position in the central directory
};

struct CentralDirectory {
    std::map<std::string, CentralRecord> records;
    uint64_t entryCount = 0; // as the end record declares it
};

// Reads the central directory of the zip archive in `in` (seekable). Fails with E_FATAL when
// there is no end-of-central-directory record or the directory is cut short (a truncated or
// non-zip file), E_UNSUPPORTED for a multi-disk (spanned) archive.
Result<CentralDirectory> readCentralDirectory(std::istream &in);

// Unix st_mode from a record, or 0 when the entry was not made on Unix.
uint32_t unixMode(const CentralRecord &record);

} // namespace lanspread::plugins::zip
