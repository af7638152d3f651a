// lanspread plugin SDK — an in-memory lanspread_byte_source for unpacker plugin tests.
//
// Header-only, no dependencies beyond the C++ standard library. MemoryByteSource owns a copy
// of an archive's bytes and offers them through the C byte source of kinds/unpacker.h the
// way the kernel offers a file or a network stream, with knobs for the awkward cases:
//   - short reads: at most maxReadBytes per read() (setMaxReadBytes);
//   - a streamed install's source: the path is NULL (the default) and setStreamedReads()
//     serves small pieces of changing odd sizes, one read blocking first;
//   - a network stream: seekable == false leaves the seek and size members NULL;
//   - a local file: setPath() fills the path member (sidecar unpackers use only that);
//   - cancellation: while the cancelled predicate returns true, read() gives E_CANCELLED;
//   - faults: the read fault hook sees the read position and may return an error status;
//     failReadsFrom() is the common one, a stream that fails part-way;
//   - observation: the beforeRead hook runs before every read() with the number of bytes
//     delivered so far (bytesDelivered()), e.g. to fire a cancel token mid-archive.
// Seeking past the end is allowed, like lseek; reads there return 0 bytes (end of archive).
//
// Ownership: source() points into this object and stays valid until it is destroyed, so
// keep the MemoryByteSource alive from open() until close() returns; it can be neither
// copied nor moved. Thread: not synchronised. Configure it before open(); afterwards the
// plugin calls it from the job's worker thread and the hooks run on that thread.
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/status.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lanspread::testing {

class MemoryByteSource {
  public:
    static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

    // Called before every read() with bytesDelivered() so far.
    using BeforeRead = std::function<void(uint64_t bytesDelivered)>;
    // While it returns true, read() returns E_CANCELLED and delivers nothing.
    using Cancelled = std::function<bool()>;
    // Sees the position the read starts at; a status other than OK fails that read with it.
    using ReadFault = std::function<lanspread_status(uint64_t position)>;

    explicit MemoryByteSource(std::string bytes, std::size_t maxReadBytes = kUnlimited,
                              bool seekable = true)
        : _bytes(std::move(bytes)), _maxReadBytes(std::max<std::size_t>(maxReadBytes, 1)) {
        _api.struct_size = sizeof _api;
        _api.source_data = this;
        _api.read = &readFn;
        setSeekable(seekable);
    }
    explicit MemoryByteSource(const std::vector<uint8_t> &bytes,
                              std::size_t maxReadBytes = kUnlimited, bool seekable = true)
        : MemoryByteSource(std::string(bytes.begin(), bytes.end()), maxReadBytes, seekable) {}
    MemoryByteSource(const MemoryByteSource &) = delete;
    MemoryByteSource &operator=(const MemoryByteSource &) = delete;

    // The C byte source to pass to lanspread_unpacker_v1::open().
    const lanspread_byte_source *source() const { return &_api; }

    // ---- options (set before open()) ----
    // At most n bytes per read(); n == 0 is treated as 1.
    void setMaxReadBytes(std::size_t n) { _maxReadBytes = std::max<std::size_t>(n, 1); }
    // false: the seek and size members are NULL, as for a network stream.
    void setSeekable(bool seekable) {
        _api.seek = seekable ? &seekFn : nullptr;
        _api.size = seekable ? &sizeFn : nullptr;
    }
    // The path member: a local file holding the same bytes; std::nullopt leaves it NULL.
    void setPath(std::optional<std::string> path) {
        _path = std::move(path);
        _api.path = _path ? _path->c_str() : nullptr;
    }
    // Reads the way a streamed install's source serves them (with the path left NULL):
    // every read() delivers at most a piece of changing odd size, 1 to 4093 bytes in a fixed
    // pseudo-random order (and at most setMaxReadBytes()), so an unpacker meets reads that
    // split its headers and records anywhere; the blockingRead-th read() (counting from 1,
    // 0 = none) first sleeps for blockFor, on the calling thread, like a read waiting for
    // a chunk from the network. It never fails a read. An unpacker that works through it
    // should produce what it produces from the same bytes read whole; readCalls() shows how
    // many pieces it took.
    void setStreamedReads(std::size_t blockingRead = 0,
                          std::chrono::milliseconds blockFor = std::chrono::milliseconds(0)) {
        _streamed = true;
        _blockingRead = blockingRead;
        _blockFor = blockFor;
    }
    void setCancelled(Cancelled cancelled) { _cancelled = std::move(cancelled); }
    void setBeforeRead(BeforeRead hook) { _beforeRead = std::move(hook); }
    void setReadFault(ReadFault fault) { _readFault = std::move(fault); }
    // A stream that fails part-way: every read() starting at or past position returns
    // status (E_IO by default, what the kernel's source returns when no peer can serve a
    // chunk) and delivers nothing; the reads before it are served. Replaces the read fault.
    void failReadsFrom(uint64_t position, lanspread_status status = LANSPREAD_E_IO) {
        setReadFault(
            [position, status](uint64_t at) { return at >= position ? status : LANSPREAD_OK; });
    }

    // ---- observation ----
    uint64_t bytesDelivered() const { return _delivered; }
    // Every read() call so far, whatever it returned.
    uint64_t readCalls() const { return _readCalls; }
    uint64_t position() const { return _position; }
    const std::string &bytes() const { return _bytes; }

  private:
    static MemoryByteSource &self(const lanspread_byte_source *s) {
        return *static_cast<MemoryByteSource *>(s->source_data);
    }

    static lanspread_status readFn(const lanspread_byte_source *s, uint8_t *buffer, size_t capacity,
                                   size_t *outRead) {
        MemoryByteSource &m = self(s);
        *outRead = 0;
        const uint64_t call = m._readCalls++; // counting from 0
        if (m._beforeRead)
            m._beforeRead(m._delivered);
        std::size_t piece = m._maxReadBytes;
        if (m._streamed) {
            // 7919 is prime to 4093, so the sizes run through every value before repeating.
            piece = std::min<std::size_t>(piece, 1 + static_cast<std::size_t>(call * 7919 % 4093));
            if (call + 1 == m._blockingRead)
                std::this_thread::sleep_for(m._blockFor);
        }
        if (m._cancelled && m._cancelled())
            return LANSPREAD_E_CANCELLED;
        if (m._readFault) {
            lanspread_status fault = m._readFault(m._position);
            if (fault != LANSPREAD_OK)
                return fault;
        }
        std::size_t n = std::min({capacity, piece, m._bytes.size() - m._position});
        if (n > 0)
            std::memcpy(buffer, m._bytes.data() + m._position, n);
        m._position += n;
        m._delivered += n;
        *outRead = n;
        return LANSPREAD_OK;
    }

    static lanspread_status seekFn(const lanspread_byte_source *s, int64_t offset, int32_t whence,
                                   int64_t *outPosition) {
        MemoryByteSource &m = self(s);
        int64_t base;
        switch (whence) {
        case LANSPREAD_SEEK_SET: base = 0; break;
        case LANSPREAD_SEEK_CUR: base = static_cast<int64_t>(m._position); break;
        case LANSPREAD_SEEK_END: base = static_cast<int64_t>(m._bytes.size()); break;
        default: return LANSPREAD_E_INVALID_ARGUMENT;
        }
        int64_t target = base + offset;
        if (target < 0)
            return LANSPREAD_E_INVALID_ARGUMENT;
        // Past the end is allowed (like lseek); reads there return 0 bytes.
        m._position = std::min(static_cast<std::size_t>(target), m._bytes.size());
        *outPosition = target;
        return LANSPREAD_OK;
    }

    static lanspread_status sizeFn(const lanspread_byte_source *s, uint64_t *outSizeBytes) {
        *outSizeBytes = self(s)._bytes.size();
        return LANSPREAD_OK;
    }

    lanspread_byte_source _api{};
    std::string _bytes;
    std::size_t _position = 0;
    std::size_t _maxReadBytes;
    uint64_t _delivered = 0;
    uint64_t _readCalls = 0;
    bool _streamed = false;
    std::size_t _blockingRead = 0;
    std::chrono::milliseconds _blockFor{0};
    std::optional<std::string> _path;
    BeforeRead _beforeRead;
    Cancelled _cancelled;
    ReadFault _readFault;
};

} // namespace lanspread::testing
