// Running an archive through an unpacker plugin into the extraction sink (see
// extraction_sink.hpp): FileByteSource offers the archive file to the unpacker;
// extractFromSource feeds every entry an unpacker yields from any byte source into the sink
// and says where a damaged archive broke; extractArchive is it over a FileByteSource.
#include "entry_path.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/install/extraction_sink.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <utility>

namespace lanspread::kernel::install {

namespace {

using detail::quoted;

constexpr std::size_t kDataBufferBytes = std::size_t(1) << 20; // extractFromSource's read size

} // namespace

// ---------------------------------------------------------------------------------------
// FileByteSource

FileByteSource::FileByteSource(const std::string &path, std::function<bool()> cancelled)
    : _path(path), _cancelled(std::move(cancelled)) {
    _source.struct_size = sizeof _source;
    _source.source_data = this;
    _source.path = _path.c_str();
    // The callbacks only touch this object through source_data; they are static functions
    // of this file (no captures), which is what the C ABI needs.
    _source.read = [](const lanspread_byte_source *src, uint8_t *buffer, size_t capacity,
                      size_t *outRead) -> lanspread_status {
        if (src == nullptr || outRead == nullptr || (buffer == nullptr && capacity > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outRead = 0;
        auto *self = static_cast<FileByteSource *>(src->source_data);
        return self->readSome(buffer, capacity, outRead);
    };
    _source.seek = [](const lanspread_byte_source *src, int64_t offset, int32_t whence,
                      int64_t *outPosition) -> lanspread_status {
        if (src == nullptr || outPosition == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto *self = static_cast<FileByteSource *>(src->source_data);
        return self->seekTo(offset, whence, outPosition);
    };
    _source.size = [](const lanspread_byte_source *src, uint64_t *outSize) -> lanspread_status {
        if (src == nullptr || outSize == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto *self = static_cast<FileByteSource *>(src->source_data);
        return self->sizeOf(outSize);
    };
}

FileByteSource::~FileByteSource() {
    if (_fd >= 0)
        ::close(_fd);
}

Status FileByteSource::open() {
    if (_fd >= 0)
        return Status::ok();
    _fd = ::open(_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (_fd < 0)
        return Status(LANSPREAD_E_IO,
                      "cannot open archive '" + _path + "': " + base::errnoText(errno));
    struct stat st {};
    if (::fstat(_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        ::close(_fd);
        _fd = -1;
        return Status(LANSPREAD_E_IO, "archive '" + _path + "' is not a regular file" +
                                          (err ? ": " + base::errnoText(err) : std::string()));
    }
    _size = static_cast<uint64_t>(st.st_size);
    _position = 0;
    (void)::posix_fadvise(_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return Status::ok();
}

lanspread_status FileByteSource::readSome(uint8_t *buffer, std::size_t capacity,
                                          std::size_t *outRead) {
    if (_fd < 0)
        return LANSPREAD_E_IO;
    if (_cancelled && _cancelled())
        return LANSPREAD_E_CANCELLED;
    while (true) {
        ssize_t n = ::pread(_fd, buffer, capacity, static_cast<off_t>(_position));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LANSPREAD_E_IO;
        }
        _position += static_cast<uint64_t>(n);
        *outRead = static_cast<std::size_t>(n);
        return LANSPREAD_OK;
    }
}

lanspread_status FileByteSource::seekTo(int64_t offset, int32_t whence, int64_t *outPosition) {
    if (_fd < 0)
        return LANSPREAD_E_IO;
    int64_t base = 0;
    switch (whence) {
    case LANSPREAD_SEEK_SET: base = 0; break;
    case LANSPREAD_SEEK_CUR: base = static_cast<int64_t>(_position); break;
    case LANSPREAD_SEEK_END: base = static_cast<int64_t>(_size); break;
    default: return LANSPREAD_E_INVALID_ARGUMENT;
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return LANSPREAD_E_INVALID_ARGUMENT;
    _position = static_cast<uint64_t>(base + offset); // past the end is allowed, like lseek
    *outPosition = base + offset;
    return LANSPREAD_OK;
}

lanspread_status FileByteSource::sizeOf(uint64_t *outSize) const {
    if (_fd < 0)
        return LANSPREAD_E_IO;
    *outSize = _size;
    return LANSPREAD_OK;
}

// ---------------------------------------------------------------------------------------
// extractArchive, extractFromSource

Result<ExtractionStats> extractArchive(const lanspread_unpacker_v1 &unpacker, void *unpackerState,
                                       const std::string &archivePath, ExtractionSink &sink,
                                       lanspread_cancel_handle cancel,
                                       std::function<bool()> cancelled) {
    FileByteSource source(archivePath, cancelled);
    if (Status opened = source.open(); !opened)
        return opened;
    return extractFromSource(unpacker, unpackerState, *source.source(), archivePath, sink, cancel,
                             std::move(cancelled));
}

Result<ExtractionStats> extractFromSource(const lanspread_unpacker_v1 &unpacker,
                                          void *unpackerState, const lanspread_byte_source &source,
                                          const std::string &archiveName, ExtractionSink &sink,
                                          lanspread_cancel_handle cancel,
                                          std::function<bool()> cancelled) {
    const std::string where = "archive '" + archiveName + "'";
    constexpr std::size_t kNeeded = offsetof(lanspread_unpacker_v1, close) + sizeof(unpacker.close);
    if (unpacker.struct_size < kNeeded || unpacker.open == nullptr ||
        unpacker.next_entry == nullptr || unpacker.read_data == nullptr ||
        unpacker.close == nullptr)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      where + ": the unpacker's interface table is incomplete");

    lanspread_unpack_job *job = nullptr;
    lanspread_status rc = unpacker.open(unpackerState, &source, cancel, &job);
    if (rc != LANSPREAD_OK || job == nullptr) {
        if (job != nullptr)
            unpacker.close(job);
        if (rc == LANSPREAD_OK)
            rc = LANSPREAD_E_FAILED;
        // E_UNSUPPORTED keeps its code: the caller may offer the source to another unpacker.
        return Status(rc, where + ": the unpacker could not open it (" + lanspread_status_name(rc) +
                              ")");
    }

    std::vector<uint8_t> buffer(kDataBufferBytes);
    Status failure;
    uint64_t index = 0;
    std::string previous; // the last entry read, to say where a corrupt archive broke
    while (true) {
        if (cancelled && cancelled()) {
            failure = Status(LANSPREAD_E_CANCELLED, where + ": cancelled");
            break;
        }
        lanspread_archive_entry entry{};
        entry.struct_size = sizeof entry;
        rc = unpacker.next_entry(job, &entry);
        if (rc == LANSPREAD_END)
            break;
        if (rc != LANSPREAD_OK) {
            // E_FAILED (one unreadable entry) fails the install too: a game installs
            // completely or not at all.
            std::string after = index == 0 ? std::string() : ", after " + quoted(previous);
            failure = Status(rc, where + ": cannot read entry #" + std::to_string(index + 1) +
                                     after + " (" + lanspread_status_name(rc) +
                                     "): the archive is damaged or this unpacker cannot read it");
            break;
        }
        ++index;
        std::string name =
            entry.path != nullptr
                ? std::string(reinterpret_cast<const char *>(entry.path), entry.path_len)
                : std::string();
        previous = name;
        if (Status begun = sink.beginEntry(entry); !begun) {
            failure = Status(begun.code(), where + ": " + begun.message());
            break;
        }
        bool entryDone = false;
        while (!entryDone) {
            std::size_t got = 0;
            rc = unpacker.read_data(job, buffer.data(), buffer.size(), &got);
            if (rc != LANSPREAD_OK && rc != LANSPREAD_END) {
                failure = Status(rc, where + ": cannot read the data of entry " + quoted(name) +
                                         " (" + lanspread_status_name(rc) + ")");
                break;
            }
            if (got > buffer.size()) {
                failure = Status(LANSPREAD_E_FATAL, where +
                                                        ": the unpacker reported more data "
                                                        "than the buffer holds for entry " +
                                                        quoted(name));
                break;
            }
            if (got > 0) {
                if (Status wrote = sink.write(buffer.data(), got); !wrote) {
                    failure = Status(wrote.code(), where + ": " + wrote.message());
                    break;
                }
            }
            // END, or OK with nothing read, ends the entry (never spin on empty reads).
            entryDone = rc == LANSPREAD_END || got == 0;
        }
        if (!failure.succeeded())
            break;
        if (Status ended = sink.endEntry(); !ended) {
            failure = Status(ended.code(), where + ": " + ended.message());
            break;
        }
    }
    unpacker.close(job);
    if (!failure.succeeded()) {
        // The failed entry may be a half-written (or fully written but corrupt) file: remove
        // it now rather than leave it for the sink's destructor.
        sink.abandonEntry();
        return failure;
    }
    return sink.stats();
}

} // namespace lanspread::kernel::install
