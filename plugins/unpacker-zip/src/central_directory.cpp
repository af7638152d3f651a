#include "central_directory.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace lanspread::plugins::zip {

namespace {

constexpr std::size_t kEndRecordSize = 22;
constexpr std::size_t kMaxCommentSize = 0xFFFF;
constexpr std::size_t kLocatorSize = 20;
constexpr std::size_t kZip64EndRecordSize = 56;
constexpr std::size_t kFileHeaderSize = 46;
constexpr uint64_t kMaxDirectoryBytes = uint64_t{1} << 30; // refuse absurd directories
constexpr uint8_t kHostUnix = 3;

uint16_t le16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t *p) {
    return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

Status truncated(const std::string &what) {
    return Status(LANSPREAD_E_FATAL,
                  "not a complete zip archive: " + what + " (truncated file, or not a zip)");
}

bool readAt(std::istream &in, uint64_t offset, uint8_t *buffer, std::size_t n) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset), std::ios::beg);
    if (!in)
        return false;
    in.read(reinterpret_cast<char *>(buffer), static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(in.gcount()) == n;
}

} // namespace

uint32_t unixMode(const CentralRecord &record) {
    return record.hostSystem == kHostUnix ? record.externalAttributes >> 16 : 0;
}

Result<CentralDirectory> readCentralDirectory(std::istream &in) {
    in.clear();
    in.seekg(0, std::ios::end);
    std::streamoff end = in.tellg();
    if (!in || end < 0)
        return Status(LANSPREAD_E_IO, "cannot find the size of the archive");
    uint64_t size = static_cast<uint64_t>(end);
    if (size < kEndRecordSize)
        return truncated("shorter than an end-of-central-directory record");

    // The end record is the last thing in the file, followed only by its comment.
    std::size_t tailSize =
        static_cast<std::size_t>(std::min<uint64_t>(size, kEndRecordSize + kMaxCommentSize));
    std::vector<uint8_t> tail(tailSize);
    uint64_t tailStart = size - tailSize;
    if (!readAt(in, tailStart, tail.data(), tail.size()))
        return Status(LANSPREAD_E_IO, "cannot read the end of the archive");
    std::size_t found = SIZE_MAX;
    for (std::size_t i = tailSize - kEndRecordSize + 1; i-- > 0;) {
        if (std::memcmp(tail.data() + i, "PK\x05\x06", 4) == 0 &&
            i + kEndRecordSize + le16(tail.data() + i + 20) <= tailSize) {
            found = i;
            break;
        }
    }
    if (found == SIZE_MAX)
        return truncated("no end-of-central-directory record");
    const uint8_t *eocd = tail.data() + found;
    uint64_t eocdOffset = tailStart + found;
    uint32_t disk = le16(eocd + 4), directoryDisk = le16(eocd + 6);
    uint64_t count = le16(eocd + 10);
    uint64_t directorySize = le32(eocd + 12);
    uint64_t directoryOffset = le32(eocd + 16);

    if (count == 0xFFFF || directorySize == 0xFFFFFFFF || directoryOffset == 0xFFFFFFFF) {
        // zip64: a locator right before the end record points at the zip64 end record.
        uint8_t locator[kLocatorSize];
        if (eocdOffset < kLocatorSize ||
            !readAt(in, eocdOffset - kLocatorSize, locator, sizeof locator) ||
            std::memcmp(locator, "PK\x06\x07", 4) != 0)
            return truncated("zip64 end-of-central-directory locator missing");
        uint64_t zip64Offset = le64(locator + 8);
        uint8_t record[kZip64EndRecordSize];
        if (zip64Offset > size - kZip64EndRecordSize ||
            !readAt(in, zip64Offset, record, sizeof record) ||
            std::memcmp(record, "PK\x06\x06", 4) != 0)
            return truncated("zip64 end-of-central-directory record missing");
        disk = le32(record + 16);
        directoryDisk = le32(record + 20);
        count = le64(record + 32);
        directorySize = le64(record + 40);
        directoryOffset = le64(record + 48);
    }
    if (disk != 0 || directoryDisk != 0)
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "multi-disk (spanned) zip archives are not supported");
    if (directoryOffset > size || directorySize > size - directoryOffset ||
        directorySize > kMaxDirectoryBytes)
        return truncated("the central directory lies outside the file");

    std::vector<uint8_t> directory(static_cast<std::size_t>(directorySize));
    if (directorySize > 0 && !readAt(in, directoryOffset, directory.data(), directory.size()))
        return Status(LANSPREAD_E_IO, "cannot read the central directory");

    CentralDirectory result;
    result.entryCount = count;
    std::size_t at = 0;
    for (uint64_t i = 0; i < count; ++i) {
        if (directory.size() - at < kFileHeaderSize ||
            std::memcmp(directory.data() + at, "PK\x01\x02", 4) != 0)
            return truncated("central directory entry " + std::to_string(i) + " is damaged");
        const uint8_t *h = directory.data() + at;
        std::size_t nameLength = le16(h + 28), extraLength = le16(h + 30),
                    commentLength = le16(h + 32);
        std::size_t total = kFileHeaderSize + nameLength + extraLength + commentLength;
        if (directory.size() - at < total)
            return truncated("central directory entry " + std::to_string(i) + " is cut short");
        CentralRecord record;
        record.hostSystem = h[5];
        record.externalAttributes = le32(h + 38);
        record.order = static_cast<std::size_t>(i);
        std::string name(reinterpret_cast<const char *>(h + kFileHeaderSize), nameLength);
        result.records.emplace(std::move(name), record); // a duplicate keeps the first
        at += total;
    }
    return result;
}

} // namespace lanspread::plugins::zip
