// lanspread plugin SDK — C++20 wrapper for unpacker plugins ("lanspread.unpacker/1").
//
// Header-only. Derive from lanspread::UnpackerPlugin, implement probe() and open(), and
// return a lanspread::UnpackJob from open(). Threads and ownership are those of
// kinds/unpacker.h: probe on the reactor (thread-safe), a job on one worker at a time.
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace lanspread {

// One archive entry as a C++ value; the wrapper exposes it to the host until the next call.
struct ArchiveEntry {
    uint32_t type = LANSPREAD_ENTRY_FILE;
    std::string path; // raw bytes as stored in the archive
    uint64_t sizeBytes = 0;
    uint32_t mode = 0;
    int64_t mtimeSeconds = 0;
    std::string linkTarget;
};

// The host's byte source. Borrowed: valid while the job is open.
class ByteSource {
  public:
    explicit ByteSource(const lanspread_byte_source *source) : _source(source) {}
    const lanspread_byte_source *raw() const { return _source; }

    // Up to buffer.size() bytes; 0 means end of archive.
    Result<std::size_t> read(std::span<uint8_t> buffer) const {
        std::size_t got = 0;
        lanspread_status s = _source->read(_source, buffer.data(), buffer.size(), &got);
        if (s != LANSPREAD_OK)
            return Status(s, "byte source read failed");
        return got;
    }
    // Fills buffer completely or fails (E_FATAL on a short archive).
    Status readExact(std::span<uint8_t> buffer) const {
        std::size_t done = 0;
        while (done < buffer.size()) {
            auto got = read(buffer.subspan(done));
            if (!got)
                return got.status();
            if (got.value() == 0)
                return Status(LANSPREAD_E_FATAL, "archive ends early");
            done += got.value();
        }
        return Status::ok();
    }
    // Discards n bytes (seeking when the source can).
    Status skip(uint64_t n) const {
        if (_source->seek != nullptr) {
            int64_t position = 0;
            return Status(
                _source->seek(_source, static_cast<int64_t>(n), LANSPREAD_SEEK_CUR, &position));
        }
        uint8_t scratch[16384];
        while (n > 0) {
            std::size_t want = n < sizeof scratch ? static_cast<std::size_t>(n) : sizeof scratch;
            auto got = read(std::span<uint8_t>(scratch, want));
            if (!got)
                return got.status();
            if (got.value() == 0)
                return Status(LANSPREAD_E_FATAL, "archive ends early");
            n -= got.value();
        }
        return Status::ok();
    }
    bool seekable() const { return _source->seek != nullptr; }
    // The archive's file path, or empty when it is not a local file.
    std::string path() const { return _source->path ? std::string(_source->path) : std::string(); }

  private:
    const lanspread_byte_source *_source;
};

// An open archive. Thread: one worker at a time. Destroyed by the host's close().
class UnpackJob {
  public:
    virtual ~UnpackJob() = default;
    // OK with the next entry in out; END when there are no more.
    virtual Status nextEntry(ArchiveEntry &out) = 0;
    // Bytes of the current entry; 0 at its end.
    virtual Result<std::size_t> readData(std::span<uint8_t> buffer) = 0;
};

class UnpackerPlugin : public Plugin {
  public:
    using Plugin::Plugin;

    // 0..100 for an archive starting with head, named nameHint (may be empty). No I/O.
    virtual Result<uint32_t> probe(std::span<const uint8_t> head, std::string_view nameHint) = 0;
    virtual Result<std::unique_ptr<UnpackJob>> open(ByteSource source,
                                                    lanspread_cancel_handle cancel) = 0;

    const void *interfaceFor(std::string_view interfaceId) override {
        return interfaceId == LANSPREAD_UNPACKER_INTERFACE_ID ? &kVtable : nullptr;
    }

  private:
    // What a lanspread_unpack_job* really points at: the job plus the entry the host reads.
    struct JobHolder {
        Host host;
        std::unique_ptr<UnpackJob> job;
        ArchiveEntry current;
    };
    static JobHolder *holder(lanspread_unpack_job *job) {
        return reinterpret_cast<JobHolder *>(job);
    }
    static UnpackerPlugin *self(void *state) {
        return static_cast<UnpackerPlugin *>(static_cast<Plugin *>(state));
    }

    static lanspread_status probeTrampoline(void *state, const uint8_t *head, size_t headLen,
                                            const char *nameHint, uint32_t *outScore) noexcept {
        if (state == nullptr || outScore == nullptr || (head == nullptr && headLen > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        UnpackerPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "probe", [&]() -> Status {
            auto score = plugin->probe(std::span<const uint8_t>(head, headLen),
                                       nameHint ? std::string_view(nameHint) : std::string_view());
            if (!score)
                return score.status();
            *outScore = score.value() > 100 ? 100 : score.value();
            return Status::ok();
        });
    }

    static lanspread_status openTrampoline(void *state, const lanspread_byte_source *source,
                                           lanspread_cancel_handle cancel,
                                           lanspread_unpack_job **outJob) noexcept {
        if (state == nullptr || source == nullptr || source->read == nullptr || outJob == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outJob = nullptr;
        UnpackerPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "open", [&]() -> Status {
            auto job = plugin->open(ByteSource(source), cancel);
            if (!job)
                return job.status();
            auto *h = new JobHolder{plugin->host(), std::move(job.value()), {}};
            *outJob = reinterpret_cast<lanspread_unpack_job *>(h);
            return Status::ok();
        });
    }

    static lanspread_status nextEntryTrampoline(lanspread_unpack_job *job,
                                                lanspread_archive_entry *out) noexcept {
        if (job == nullptr || out == nullptr || out->struct_size < sizeof(uint32_t) * 2)
            return LANSPREAD_E_INVALID_ARGUMENT;
        JobHolder *h = holder(job);
        return detail::guard(h->host, "next_entry", [&]() -> Status {
            h->current = ArchiveEntry{};
            Status s = h->job->nextEntry(h->current);
            if (s.code() != LANSPREAD_OK)
                return s;
            lanspread_archive_entry full{};
            full.struct_size = sizeof full;
            full.type = h->current.type;
            full.path = reinterpret_cast<const uint8_t *>(h->current.path.data());
            full.path_len = h->current.path.size();
            full.size_bytes = h->current.sizeBytes;
            full.mode = h->current.mode;
            full.mtime_s = h->current.mtimeSeconds;
            if (!h->current.linkTarget.empty()) {
                full.link_target = reinterpret_cast<const uint8_t *>(h->current.linkTarget.data());
                full.link_target_len = h->current.linkTarget.size();
            }
            // Write only what the caller's (possibly older) struct has room for.
            uint32_t callerSize = out->struct_size;
            std::size_t n = callerSize < sizeof full ? callerSize : sizeof full;
            std::memcpy(out, &full, n);
            out->struct_size = callerSize;
            return s;
        });
    }

    static lanspread_status readDataTrampoline(lanspread_unpack_job *job, uint8_t *buffer,
                                               size_t capacity, size_t *outRead) noexcept {
        if (job == nullptr || outRead == nullptr || (buffer == nullptr && capacity > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outRead = 0;
        JobHolder *h = holder(job);
        return detail::guard(h->host, "read_data", [&]() -> Status {
            auto got = h->job->readData(std::span<uint8_t>(buffer, capacity));
            if (!got)
                return got.status();
            *outRead = got.value();
            return Status(got.value() == 0 ? LANSPREAD_END : LANSPREAD_OK);
        });
    }

    static void closeTrampoline(lanspread_unpack_job *job) noexcept { delete holder(job); }

    static constexpr lanspread_unpacker_v1 kVtable = {
        sizeof(lanspread_unpacker_v1), &probeTrampoline,    &openTrampoline,
        &nextEntryTrampoline,          &readDataTrampoline, &closeTrampoline};
};

} // namespace lanspread
