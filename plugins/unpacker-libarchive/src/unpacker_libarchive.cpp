// unpacker-libarchive: a lanspread unpacker over libarchive 3.6 (RAR4 and RAR5 including
// solid archives, 7z, zip, tar and tar.gz/.xz/.zst/.bz2), written with the SDK's C++ wrapper.
//
// libarchive reads the host's byte source through archive_read_open1 callbacks: read always,
// skip and seek when the source can seek (zip's central directory and 7z's end header need
// seeking; tar and RAR stream). The source's path is never used, so a streamed install's
// source (path NULL, bytes over the network) reads like a file. Entries and data go to the
// kernel's extraction sink; like every unpacker this plugin never writes to disk.
// Threads: probe() is a pure function of its arguments (any thread); one job is driven by
// one worker thread at a time, and jobs share nothing, so several archives can be read at
// once.
#include <lanspread/kinds/unpacker.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using lanspread::Result;
using lanspread::Status;

constexpr std::size_t kReadBlock = 64 * 1024;

bool startsWith(std::span<const uint8_t> head, std::size_t offset, const char *magic,
                std::size_t length) {
    return head.size() >= offset + length && std::memcmp(head.data() + offset, magic, length) == 0;
}

// One open archive. Owns the libarchive reader; the byte source is the host's.
class LibarchiveJob final : public lanspread::UnpackJob {
  public:
    LibarchiveJob(lanspread::Host host, lanspread::ByteSource source,
                  lanspread_cancel_handle cancel)
        : _host(host), _source(source), _cancel(cancel), _buffer(kReadBlock) {}

    ~LibarchiveJob() override {
        if (_archive != nullptr)
            archive_read_free(_archive);
    }
    LibarchiveJob(const LibarchiveJob &) = delete;
    LibarchiveJob &operator=(const LibarchiveJob &) = delete;

    Status open() {
        _archive = archive_read_new();
        if (_archive == nullptr)
            return Status(LANSPREAD_E_NO_MEMORY, "archive_read_new failed");
        archive_read_support_format_rar(_archive);
        archive_read_support_format_rar5(_archive);
        archive_read_support_format_7zip(_archive);
        archive_read_support_format_zip(_archive); // streaming, and seekable when we can seek
        archive_read_support_format_tar(_archive);
        archive_read_support_filter_gzip(_archive);
        archive_read_support_filter_xz(_archive);
        archive_read_support_filter_zstd(_archive);
        archive_read_support_filter_bzip2(_archive);
        archive_read_set_callback_data(_archive, this);
        archive_read_set_read_callback(_archive, &readCallback);
        if (_source.seekable()) {
            archive_read_set_skip_callback(_archive, &skipCallback);
            archive_read_set_seek_callback(_archive, &seekCallback);
        }
        int rc = archive_read_open1(_archive);
        // Checked even when libarchive succeeded: a format bidder whose read failed (zip's
        // looks at the end of every archive) just loses the bid, and libarchive's read-ahead
        // then reports a clean end of archive for the winner.
        if (Status s = sourceFailure(); !s.succeeded())
            return s;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return Status(LANSPREAD_E_UNSUPPORTED,
                          "not an archive libarchive reads: " + errorText());
        return Status::ok();
    }

    Status nextEntry(lanspread::ArchiveEntry &out) override {
        if (_host.isCancelled(_cancel))
            return Status(LANSPREAD_E_CANCELLED);
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the archive already failed");
        // Data of the previous entry the host did not read is skipped by libarchive.
        // ARCHIVE_RETRY means a damaged header that libarchive could skip by resynchronising
        // on a later one (tar does that after a lying size). An install must not silently
        // lose bytes, so it is as fatal as any other corruption.
        struct archive_entry *entry = nullptr;
        int rc = archive_read_next_header(_archive, &entry);
        if (sourceFailed()) // whatever libarchive made of it (an end of archive, even)
            return failure(rc, where("header after") + errorText(), true);
        if (rc == ARCHIVE_EOF)
            return Status(LANSPREAD_END);
        if (rc == ARCHIVE_WARN)
            _host.warning(where("next header") + errorText());
        else if (rc != ARCHIVE_OK)
            return failure(rc, where("header after") + errorText(), true);

        describe(entry, out);
        _name = out.path;
        _isFile = out.type == LANSPREAD_ENTRY_FILE;
        _sizeKnown = _isFile && archive_entry_size_is_set(entry);
        _declared = out.sizeBytes;
        _produced = 0;
        _dataDone = !_isFile;
        return Status::ok();
    }

    Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (_host.isCancelled(_cancel))
            return Status(LANSPREAD_E_CANCELLED);
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the archive already failed");
        // Only regular files carry data (libarchive's RAR5 reader fails data reads of
        // directories; symlink targets are in the entry).
        if (_dataDone || buffer.empty())
            return std::size_t{0};
        la_ssize_t n = ARCHIVE_RETRY;
        for (int attempt = 0; attempt < 8 && (n == ARCHIVE_RETRY || n == ARCHIVE_WARN); ++attempt)
            n = archive_read_data(_archive, buffer.data(), buffer.size());
        if (n < 0 || sourceFailed())
            return failure(static_cast<int>(n), "entry '" + _name + "': " + errorText(), false);
        auto got = static_cast<std::size_t>(n);
        _produced += got;
        if (_sizeKnown && _produced > _declared)
            return dataLie("more data than declared (" + std::to_string(_declared) +
                           " bytes declared)");
        if (got == 0) {
            _dataDone = true;
            if (_sizeKnown && _produced < _declared)
                return dataLie("less data than declared (" + std::to_string(_produced) + " of " +
                               std::to_string(_declared) + " bytes)");
        }
        return got;
    }

  private:
    void describe(struct archive_entry *entry, lanspread::ArchiveEntry &out) {
        out.path = text(archive_entry_pathname_utf8(entry), archive_entry_pathname(entry));
        const char *hardlinkUtf8 = archive_entry_hardlink_utf8(entry);
        const char *hardlink = archive_entry_hardlink(entry);
        out.sizeBytes = 0;
        if ((hardlinkUtf8 && *hardlinkUtf8) || (hardlink && *hardlink)) {
            // Checked first: tar hardlinks have file type 0, other formats AE_IFREG.
            out.type = LANSPREAD_ENTRY_HARDLINK;
            out.linkTarget = text(hardlinkUtf8, hardlink);
        } else {
            switch (archive_entry_filetype(entry)) {
            case AE_IFREG:
                out.type = LANSPREAD_ENTRY_FILE;
                if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0)
                    out.sizeBytes = static_cast<uint64_t>(archive_entry_size(entry));
                break;
            case AE_IFDIR: out.type = LANSPREAD_ENTRY_DIRECTORY; break;
            case AE_IFLNK:
                out.type = LANSPREAD_ENTRY_SYMLINK;
                out.linkTarget =
                    text(archive_entry_symlink_utf8(entry), archive_entry_symlink(entry));
                break;
            default: out.type = LANSPREAD_ENTRY_OTHER; break; // devices, fifos, sockets
            }
        }
        out.mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
        out.mtimeSeconds = archive_entry_mtime_is_set(entry) ? archive_entry_mtime(entry) : 0;
    }

    // UTF-8 when libarchive can give it, else the raw stored bytes, else empty.
    static std::string text(const char *utf8, const char *raw) {
        if (utf8 != nullptr)
            return utf8;
        return raw != nullptr ? std::string(raw) : std::string();
    }

    std::string errorText() const {
        const char *s = _archive ? archive_error_string(_archive) : nullptr;
        return s ? s : "unknown libarchive error";
    }

    std::string where(const char *what) const {
        return _name.empty() ? std::string(what) + ": "
                             : std::string(what) + " entry '" + _name + "': ";
    }

    bool sourceFailed() const { return _cancelled || _sourceError != LANSPREAD_OK; }

    // What the byte source reported, if a read/seek of ours failed.
    Status sourceFailure() const {
        if (_cancelled)
            return Status(LANSPREAD_E_CANCELLED);
        if (_sourceError != LANSPREAD_OK)
            return Status(_sourceError, "byte source failed: " + errorText());
        return Status::ok();
    }

    // A libarchive failure: the source's own status when it caused it (E_CANCELLED, E_IO),
    // else E_FAILED for a header libarchive can skip (ARCHIVE_FAILED) and E_FATAL for the rest
    // (corrupt or truncated archives, bad data, CRC mismatches).
    Status failure(int rc, const std::string &message, bool header) {
        if (Status s = sourceFailure(); !s.succeeded()) {
            _dead = true;
            if (s.code() == LANSPREAD_E_CANCELLED)
                return s;
            return Status(s.code(), message);
        }
        if (header && rc == ARCHIVE_FAILED) // this entry is unreadable; the next may work
            return Status(LANSPREAD_E_FAILED, message);
        _dead = true;
        return Status(LANSPREAD_E_FATAL, message);
    }

    Status dataLie(const std::string &what) {
        _dead = true;
        return Status(LANSPREAD_E_FATAL, "entry '" + _name + "': " + what);
    }

    // ---- libarchive callbacks (called on the job's worker thread, inside libarchive) ----
    static la_ssize_t readCallback(struct archive *a, void *userData, const void **block) {
        auto *self = static_cast<LibarchiveJob *>(userData);
        if (self->_host.isCancelled(self->_cancel)) {
            self->_cancelled = true;
            archive_set_error(a, ECANCELED, "cancelled");
            return -1;
        }
        auto got = self->_source.read(std::span<uint8_t>(self->_buffer));
        if (!got) {
            if (got.status().code() == LANSPREAD_E_CANCELLED)
                self->_cancelled = true;
            else
                self->_sourceError =
                    got.status().code() == LANSPREAD_E_IO ? LANSPREAD_E_IO : got.status().code();
            archive_set_error(a, EIO, "byte source read failed (%s)",
                              lanspread_status_name(got.status().code()));
            return -1;
        }
        *block = self->_buffer.data();
        self->_position += got.value();
        return static_cast<la_ssize_t>(got.value());
    }

    // Skips forward by seeking; returns how far it went (0 lets libarchive read instead).
    static la_int64_t skipCallback(struct archive *, void *userData, la_int64_t request) {
        auto *self = static_cast<LibarchiveJob *>(userData);
        if (request <= 0 || self->_host.isCancelled(self->_cancel))
            return 0;
        const lanspread_byte_source *raw = self->_source.raw();
        if (raw->size != nullptr) { // never skip past the end: libarchive must see it
            uint64_t total = 0;
            if (raw->size(raw, &total) == LANSPREAD_OK) {
                if (self->_position >= static_cast<int64_t>(total))
                    return 0;
                request =
                    std::min<la_int64_t>(request, static_cast<la_int64_t>(total) - self->_position);
            }
        }
        int64_t position = 0;
        if (raw->seek(raw, request, LANSPREAD_SEEK_CUR, &position) != LANSPREAD_OK)
            return 0; // fall back to reading
        la_int64_t moved = position - self->_position;
        self->_position = position;
        return moved < 0 ? 0 : moved;
    }

    static la_int64_t seekCallback(struct archive *a, void *userData, la_int64_t offset,
                                   int whence) {
        auto *self = static_cast<LibarchiveJob *>(userData);
        if (self->_host.isCancelled(self->_cancel)) {
            self->_cancelled = true;
            archive_set_error(a, ECANCELED, "cancelled");
            return ARCHIVE_FATAL;
        }
        int32_t origin = whence == SEEK_SET   ? LANSPREAD_SEEK_SET
                         : whence == SEEK_CUR ? LANSPREAD_SEEK_CUR
                                              : LANSPREAD_SEEK_END;
        const lanspread_byte_source *raw = self->_source.raw();
        int64_t position = 0;
        lanspread_status s = raw->seek(raw, offset, origin, &position);
        if (s != LANSPREAD_OK) {
            if (s == LANSPREAD_E_CANCELLED)
                self->_cancelled = true;
            else if (s == LANSPREAD_E_IO)
                self->_sourceError = s;
            archive_set_error(a, EIO, "byte source seek failed (%s)", lanspread_status_name(s));
            return ARCHIVE_FATAL;
        }
        self->_position = position;
        return position;
    }

    lanspread::Host _host;
    lanspread::ByteSource _source;
    lanspread_cancel_handle _cancel;
    std::vector<uint8_t> _buffer; // the block libarchive reads from
    struct archive *_archive = nullptr;
    int64_t _position = 0;
    bool _cancelled = false;
    lanspread_status _sourceError = LANSPREAD_OK;
    bool _dead = false; // after E_FATAL/E_CANCELLED/E_IO only close() is left
    // The current entry.
    std::string _name;
    bool _isFile = false;
    bool _sizeKnown = false;
    bool _dataDone = true;
    uint64_t _declared = 0;
    uint64_t _produced = 0;
};

class LibarchiveUnpacker final : public lanspread::UnpackerPlugin {
  public:
    using UnpackerPlugin::UnpackerPlugin;

    // Magic numbers only: no I/O, no libarchive, safe on any thread.
    Result<uint32_t> probe(std::span<const uint8_t> head, std::string_view) override {
        if (startsWith(head, 0, "Rar!\x1A\x07\x01\x00", 8) || // RAR5
            startsWith(head, 0, "Rar!\x1A\x07\x00", 7) ||     // RAR 1.5-4.x
            startsWith(head, 0, "7z\xBC\xAF\x27\x1C", 6) ||   // 7z
            startsWith(head, 0, "PK\x03\x04", 4) ||           // zip local file header
            startsWith(head, 0, "PK\x05\x06", 4) ||           // empty zip
            startsWith(head, 257, "ustar", 5))                // POSIX/GNU tar
            return 80u;
        if (startsWith(head, 0, "\x1F\x8B", 2) ||                 // gzip
            startsWith(head, 0, "\xFD\x37\x7A\x58\x5A\x00", 6) || // xz
            startsWith(head, 0, "\x28\xB5\x2F\xFD", 4))           // zstd
            return 70u; // a compressed stream, most likely a tar inside
        return 0u;
    }

    Result<std::unique_ptr<lanspread::UnpackJob>> open(lanspread::ByteSource source,
                                                       lanspread_cancel_handle cancel) override {
        if (host().isCancelled(cancel))
            return Status(LANSPREAD_E_CANCELLED);
        auto job = std::make_unique<LibarchiveJob>(host(), source, cancel);
        if (Status s = job->open(); !s.succeeded())
            return s;
        return std::unique_ptr<lanspread::UnpackJob>(std::move(job));
    }
};

const char *const kCapabilities[] = {
    "archive:rar",    "archive:rar5",   "archive:7z",      "archive:zip", "archive:tar",
    "archive:tar.gz", "archive:tar.xz", "archive:tar.zst", "solid",       nullptr};

} // namespace

LANSPREAD_DECLARE_PLUGIN(LibarchiveUnpacker, LANSPREAD_KIND_UNPACKER,
                         "org.lanspread.unpacker.libarchive", "libarchive unpacker", "1.0.0",
                         "lanspread",
                         "Reads RAR4/RAR5 (incl. solid), 7z, zip and tar(.gz/.xz/.zst) "
                         "archives with libarchive",
                         kCapabilities, nullptr);
