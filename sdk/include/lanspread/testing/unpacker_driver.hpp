// lanspread plugin SDK — drives an unpacker's C vtable the way the kernel does, for tests.
//
// Header-only, no dependencies beyond the C++ standard library. readAllEntries() opens a
// byte source (see memory_byte_source.hpp), calls next_entry() until it stops, reads every
// entry's data in fixed-size read_data() calls, and always closes the job it opened, even
// after E_FATAL. It records everything the plugin produced up to the first failure,
// including the entry whose data failed with the bytes read before the failure, and
// checks the plugin's side of the contract in kinds/unpacker.h (no job from a failed open,
// 0 < *out_read <= capacity for OK, ...): a breach is described in contractError, never
// thrown or asserted, so any test framework can report it. entriesDifference() compares two
// extractions the same way.
//
// Ownership: the vtable, state and source are borrowed for the call; the result owns
// copies of every path, link target and data byte. Thread: call it on one thread; it
// plays the job's worker thread for the whole job (open .. close).
#pragma once

#include <lanspread/kinds/unpacker.h>
#include <lanspread/status.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::testing {

// One archive entry as the plugin described it, with the data the host read.
struct ExtractedEntry {
    uint32_t type = 0; // LANSPREAD_ENTRY_*
    std::string path;  // raw bytes as stored
    uint64_t sizeBytes = 0;
    uint32_t mode = 0;
    int64_t mtimeSeconds = 0;
    std::string linkTarget; // empty when the plugin gave NULL
    std::string data;       // empty when the data was skipped
};

// The entry's raw path bytes (the plugin's pointer is valid until the next call).
inline std::string entryPath(const lanspread_archive_entry &entry) {
    return entry.path ? std::string(reinterpret_cast<const char *>(entry.path), entry.path_len)
                      : std::string();
}

// A copy of what next_entry() wrote into entry; data is left empty.
inline ExtractedEntry describeEntry(const lanspread_archive_entry &entry) {
    ExtractedEntry e;
    e.type = entry.type;
    e.path = entryPath(entry);
    e.sizeBytes = entry.size_bytes;
    e.mode = entry.mode;
    e.mtimeSeconds = entry.mtime_s;
    if (entry.link_target)
        e.linkTarget.assign(reinterpret_cast<const char *>(entry.link_target),
                            entry.link_target_len);
    return e;
}

// "" when got describes the same entries as want, in the same order, with equal type, path,
// size, mode, mtime, link target and data; otherwise the first difference, for a test's
// failure message (e.g. an archive read through a streamed source against the same archive
// read through its path). Compares copies only: no plugin call, any thread.
inline std::string entriesDifference(const std::vector<ExtractedEntry> &want,
                                     const std::vector<ExtractedEntry> &got) {
    if (got.size() != want.size())
        return std::to_string(got.size()) + " entries, not " + std::to_string(want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        const ExtractedEntry &w = want[i], &g = got[i];
        const std::string at = "entry " + std::to_string(i) + " '" + w.path + "': ";
        if (g.path != w.path)
            return at + "path '" + g.path + "'";
        if (g.type != w.type)
            return at + "type " + std::to_string(g.type) + ", not " + std::to_string(w.type);
        if (g.sizeBytes != w.sizeBytes)
            return at + "size " + std::to_string(g.sizeBytes) + ", not " +
                   std::to_string(w.sizeBytes);
        if (g.mode != w.mode)
            return at + "mode " + std::to_string(g.mode) + ", not " + std::to_string(w.mode);
        if (g.mtimeSeconds != w.mtimeSeconds)
            return at + "mtime " + std::to_string(g.mtimeSeconds) + ", not " +
                   std::to_string(w.mtimeSeconds);
        if (g.linkTarget != w.linkTarget)
            return at + "link target '" + g.linkTarget + "', not '" + w.linkTarget + "'";
        if (g.data != w.data)
            return at + std::to_string(g.data.size()) + " data bytes differ from the " +
                   std::to_string(w.data.size()) + " expected";
    }
    return std::string();
}

// Reads the current entry's data in chunkBytes-sized read_data() calls (chunkBytes >= 1),
// appending to out. Returns END when the entry is done, or the first other status. A read
// that returns OK with 0 bytes or more than asked is a breach: it is described in
// *contractError (when given) and stops the loop, returning E_FAILED.
inline lanspread_status readEntryData(const lanspread_unpacker_v1 &unpacker,
                                      lanspread_unpack_job *job, std::string &out,
                                      std::size_t chunkBytes,
                                      std::string *contractError = nullptr) {
    std::vector<uint8_t> buffer(chunkBytes > 0 ? chunkBytes : 1);
    for (;;) {
        size_t got = 0;
        lanspread_status s = unpacker.read_data(job, buffer.data(), buffer.size(), &got);
        if (s != LANSPREAD_OK)
            return s;
        if (got == 0 || got > buffer.size()) {
            if (contractError)
                *contractError = "read_data returned OK with " + std::to_string(got) +
                                 " bytes for a " + std::to_string(buffer.size()) +
                                 "-byte buffer (OK needs 0 < *out_read <= capacity)";
            return LANSPREAD_E_FAILED;
        }
        out.append(reinterpret_cast<const char *>(buffer.data()), got);
    }
}

// Where readAllEntries() stopped.
enum class UnpackStage {
    Open,      // open() failed: no job, no entries
    NextEntry, // next_entry() returned status (END after a complete archive)
    ReadData,  // read_data() of entries.back() returned status
};

struct UnpackResult {
    // END when every entry (and its data) was read; otherwise the first status that was
    // neither OK nor END.
    lanspread_status status = LANSPREAD_OK;
    UnpackStage failedAt = UnpackStage::Open;
    // Every entry next_entry() described, in archive order. After a ReadData failure the
    // last one holds the data read before it.
    std::vector<ExtractedEntry> entries;
    // Empty, or what the plugin did against kinds/unpacker.h.
    std::string contractError;

    bool complete() const { return status == LANSPREAD_END && contractError.empty(); }
};

// Opens source with cancel, reads every entry and its data in chunkBytes-sized read_data()
// calls (chunkBytes == 0: skip every entry's data, as a host that wants only the listing),
// and closes the job. Stops at the first failure; see UnpackResult.
inline UnpackResult readAllEntries(const lanspread_unpacker_v1 &unpacker, void *state,
                                   const lanspread_byte_source *source,
                                   lanspread_cancel_handle cancel = LANSPREAD_CANCEL_NONE,
                                   std::size_t chunkBytes = 65536) {
    UnpackResult result;
    lanspread_unpack_job *job = nullptr;
    result.status = unpacker.open(state, source, cancel, &job);
    if (result.status != LANSPREAD_OK) {
        result.failedAt = UnpackStage::Open;
        if (job != nullptr)
            result.contractError = std::string("open returned ") +
                                   lanspread_status_name(result.status) +
                                   " but set *out_job (it must stay NULL)";
        return result;
    }
    if (job == nullptr) {
        result.contractError = "open returned OK without a job";
        result.status = LANSPREAD_E_FAILED;
        return result;
    }
    for (;;) {
        lanspread_archive_entry entry{};
        entry.struct_size = sizeof entry;
        result.status = unpacker.next_entry(job, &entry);
        if (result.status != LANSPREAD_OK) {
            result.failedAt = UnpackStage::NextEntry;
            break;
        }
        if (entry.path == nullptr && entry.path_len > 0) {
            result.contractError = "next_entry returned OK with a NULL path of length " +
                                   std::to_string(entry.path_len);
            result.status = LANSPREAD_E_FAILED;
            result.failedAt = UnpackStage::NextEntry;
            break;
        }
        result.entries.push_back(describeEntry(entry));
        if (chunkBytes == 0)
            continue;
        result.status = readEntryData(unpacker, job, result.entries.back().data, chunkBytes,
                                      &result.contractError);
        if (result.status != LANSPREAD_END) {
            result.failedAt = UnpackStage::ReadData;
            break;
        }
    }
    unpacker.close(job); // always, even after E_FATAL
    return result;
}

} // namespace lanspread::testing
