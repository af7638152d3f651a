// The one audited place that turns archive entries into files (docs/on-disk-layout.md). Every
// unpacker plugin's output flows through here; nothing else in lanspread writes archive
// contents to disk. It refuses, with a clear error naming the entry: ".." components,
// absolute paths, empty or NUL-containing names, symlinks whose target leaves the root,
// writing through a symlink, hardlinks to anything but an already extracted file inside the
// root, device/fifo entries, data beyond the entry's declared size or short of it, and
// anything over the byte/entry quotas; it honours cancellation between every write.
// Paths are normalised: '\' is treated as a separator (archives made on Windows), "." and
// empty components are dropped. Files are created with O_NOFOLLOW under directories opened
// with O_NOFOLLOW, so a symlink planted by an earlier entry can never redirect a write.
// The exact policies (duplicate entries replace regular files, symlink targets are stored in
// their lexically normalised form, file modes & 0755, a "./" directory entry is the root
// itself) are listed at the top of kernel/src/install/extraction_sink.cpp. Linux only.
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/result.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lanspread::kernel::install {

struct ExtractionLimits {
    uint64_t maxTotalBytes = uint64_t(4) << 40; // 4 TiB: bounded, never hit by a real game
    uint64_t maxEntries = 2'000'000;
    std::size_t maxPathBytes = 4096;
};

struct ExtractionStats {
    uint64_t files = 0;
    uint64_t directories = 0;
    uint64_t symlinks = 0;
    uint64_t hardlinks = 0;
    uint64_t bytes = 0;
};

class ExtractionSink {
  public:
    // root must exist and be a directory the caller owns (an install's staging dir).
    // cancelled is polled between writes (may be empty).
    ExtractionSink(std::string root, ExtractionLimits limits, std::function<bool()> cancelled);
    ~ExtractionSink();
    ExtractionSink(const ExtractionSink &) = delete;
    ExtractionSink &operator=(const ExtractionSink &) = delete;

    // Validates and creates the entry (directories and links complete here; a file is then
    // filled by write() and completed by endEntry()). Errors are E_INVALID_ARGUMENT for a
    // refused entry, E_IO for a filesystem failure, E_CANCELLED; message names the entry.
    Status beginEntry(const lanspread_archive_entry &entry);
    Status write(const uint8_t *data, std::size_t length);
    Status endEntry();

    const ExtractionStats &stats() const { return _stats; }
    const std::string &root() const { return _root; }

  private:
    struct State;
    // Drops the entry in progress; a partly (or wholly, but then failed) written file is
    // removed. extractFromSource calls it when the unpacker fails inside an entry.
    void abandonEntry();
    friend Result<ExtractionStats> extractFromSource(const lanspread_unpacker_v1 &, void *,
                                                     const lanspread_byte_source &,
                                                     const std::string &, ExtractionSink &,
                                                     lanspread_cancel_handle,
                                                     std::function<bool()>);
    std::string _root;
    ExtractionLimits _limits;
    std::function<bool()> _cancelled;
    ExtractionStats _stats;
    State *_state; // open file, current entry, root dir fd
};

// The normalised relative path of an archive entry name, or a failed Status saying why it
// is refused. Exposed for tests and for the serve gates' shared rules.
Result<std::string> normaliseEntryPath(const std::string &rawPath, std::size_t maxPathBytes);

// A local file offered to an unpacker as a lanspread_byte_source (read/seek/size/path).
// read() returns E_CANCELLED once cancelled() is true.
class FileByteSource {
  public:
    FileByteSource(const std::string &path, std::function<bool()> cancelled);
    ~FileByteSource();
    FileByteSource(const FileByteSource &) = delete;
    FileByteSource &operator=(const FileByteSource &) = delete;
    Status open();
    const lanspread_byte_source *source() const { return &_source; }

  private:
    // The byte source's callbacks (reads with pread at _position; size from fstat at open).
    lanspread_status readSome(uint8_t *buffer, std::size_t capacity, std::size_t *outRead);
    lanspread_status seekTo(int64_t offset, int32_t whence, int64_t *outPosition);
    lanspread_status sizeOf(uint64_t *outSize) const;

    std::string _path;
    std::function<bool()> _cancelled;
    int _fd = -1;
    uint64_t _size = 0;
    uint64_t _position = 0;
    lanspread_byte_source _source{};
};

// Runs a whole archive through an unpacker (open, every entry, read_data until END, close)
// into sink. Thread: a worker thread (the unpacker's job calls are [worker-thread]).
Result<ExtractionStats> extractArchive(const lanspread_unpacker_v1 &unpacker, void *unpackerState,
                                       const std::string &archivePath, ExtractionSink &sink,
                                       lanspread_cancel_handle cancel,
                                       std::function<bool()> cancelled);
// The same over any byte source (a FileByteSource, or the stream provider's pathless one);
// archiveName names it in messages. An open() that returns E_UNSUPPORTED fails with that
// code, so that a caller can offer the source to another unpacker.
Result<ExtractionStats> extractFromSource(const lanspread_unpacker_v1 &unpacker,
                                          void *unpackerState, const lanspread_byte_source &source,
                                          const std::string &archiveName, ExtractionSink &sink,
                                          lanspread_cancel_handle cancel,
                                          std::function<bool()> cancelled);

} // namespace lanspread::kernel::install
