// unpacker-unrar: a reader for the pax (POSIX.1-2001 tar) stream that
// `bsdtar -c -f - --format pax @archive` writes. Converting the archive to a tar stream gives
// exact names, sizes, types, link targets, modes and times together with the data, in
// archive order, from one process, with nothing to guess from human-readable listings.
//
// Reads ustar headers (checksummed), pax 'x' records (path, linkpath, size, mtime), GNU
// 'L'/'K' long names; skips 'g' global records. Thread: the job's worker thread.
#pragma once

#include <lanspread/kinds/unpacker.hpp>

#include <array>
#include <functional>
#include <optional>
#include <string>

namespace lanspread::plugins::unrar {

class TarStreamReader {
  public:
    // Reads up to buffer.size() bytes of the stream; 0 at its end.
    using ReadFn = std::function<Result<std::size_t>(std::span<uint8_t>)>;
    explicit TarStreamReader(ReadFn read) : _read(std::move(read)) {}

    // The next entry (after skipping what is left of the current one's data): OK; END at the
    // end-of-archive blocks; E_FATAL when the stream ends early or a header is corrupt;
    // whatever the read function failed with.
    Status next(ArchiveEntry &out);
    // The current entry's data: 0 at its end. E_FATAL when the stream ends inside it.
    Result<std::size_t> readData(std::span<uint8_t> buffer);
    // Whether the stream ended (cleanly or not) exactly at a block boundary with no header.
    bool sawEndOfStream() const { return _endOfStream; }

  private:
    using Block = std::array<uint8_t, 512>;
    // A whole block: true; the stream ended before it: false; a partial block: E_FATAL.
    Result<bool> readBlock(Block &block);
    Status skip(uint64_t n);
    Result<std::string> readPayload(uint64_t size, const char *what);

    ReadFn _read;
    uint64_t _remaining = 0; // data bytes of the current entry not yet read
    uint64_t _padding = 0;   // then zero bytes up to the block boundary
    bool _endOfStream = false;
};

} // namespace lanspread::plugins::unrar
