// Fuzz target: install::ExtractionSink (kernel/src/install/extraction_sink.cpp and
// entry_path.cpp), fed an arbitrary sequence of entries as an unpacker would give them.
//
// Input: [limits: 1 byte][cancel after: 1 byte] then entries, each
//   [kind: 1][path: len8 + bytes][link target: len8 + bytes][declared size: 4][mode: 2]
//   [writes: 1] then per write [length: 1 byte, scaled][data], and a flag for endEntry.
// Kinds cover every LANSPREAD_ENTRY_* value and a few invalid ones; link targets are also
// given to entries that should not have one. The sink writes into a fresh staging dir inside
// a fence (fuzz_support.hpp). Invariants, checked after every input:
//   - nothing appears or changes outside the staging dir, no symlink inside it points out of
//     it, no device/fifo/socket and no setuid/setgid/sticky bit is ever created;
//   - an entry that ends OK has exactly its declared size in data, and the file is there with
//     those bytes; writing past the declared size never succeeds;
//   - the byte quota holds; once cancelled, no entry begins and no byte is written.
#include "fuzz_support.hpp"

#include <lanspread/kernel/install/extraction_sink.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace install = lanspread::kernel::install;
using lanspread::fuzz::Bytes;
using lanspread::fuzz::check;
using lanspread::fuzz::Fence;

namespace {

// The file at the normalised path, read without following a final link.
bool readBack(const std::string &root, const std::string &path, std::string &out) {
    const std::string full = root + "/" + path;
    int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return false;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n <= 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    static Fence fence;
    // LANSPREAD_FUZZ_DEBUG=1: every call and its status on stderr, to read a crash input.
    static const bool debug = std::getenv("LANSPREAD_FUZZ_DEBUG") != nullptr;
    Bytes in(data, size);

    const uint8_t limitsChoice = in.u8();
    install::ExtractionLimits limits;
    if (limitsChoice & 1)
        limits.maxTotalBytes = limitsChoice * 8u; // a quota a few entries can hit
    if (limitsChoice & 2)
        limits.maxEntries = 1 + (limitsChoice >> 4);
    if (limitsChoice & 4)
        limits.maxPathBytes = 1 + (limitsChoice >> 3);
    const uint8_t cancelAfter = in.u8(); // 0: never
    unsigned polls = 0;
    bool cancelled = false;
    auto isCancelled = [&] {
        if (cancelAfter != 0 && ++polls >= cancelAfter)
            cancelled = true;
        return cancelled;
    };

    {
        install::ExtractionSink sink(fence.staging(), limits, isCancelled);
        uint64_t offered = 0;
        for (int n = 0; n < 48 && !in.empty(); ++n) {
            const uint8_t kind = in.u8();
            const std::string path = in.str8();
            const std::string target = in.str8();
            lanspread_archive_entry entry{};
            entry.struct_size = sizeof entry;
            entry.type = kind % 7; // 0 and 6 are not entry types
            entry.path = reinterpret_cast<const uint8_t *>(path.data());
            entry.path_len = path.size();
            if (kind & 0x80) { // a NULL path with a length, as a broken plugin might give
                entry.path = nullptr;
                entry.path_len = path.size();
            }
            const uint32_t declared = in.u32();
            entry.size_bytes = (kind & 0x40) ? declared : declared & 0x3ff;
            entry.mode = in.u16();
            entry.mtime_s = static_cast<int8_t>(kind) * 1000003;
            const bool wantsTarget =
                entry.type == LANSPREAD_ENTRY_SYMLINK || entry.type == LANSPREAD_ENTRY_HARDLINK;
            if (wantsTarget || (kind & 0x20)) {
                entry.link_target = reinterpret_cast<const uint8_t *>(target.data());
                entry.link_target_len = target.size();
            }
            const bool wasCancelled = cancelled;
            lanspread::Status begun = sink.beginEntry(entry);
            if (debug)
                std::fprintf(stderr, "begin type %u '%s': %s\n", entry.type, path.c_str(),
                             begun.succeeded() ? "ok" : begun.message().c_str());
            check(!(begun.succeeded() && wasCancelled), "an entry began after cancellation");
            const uint8_t writes = in.u8();
            std::string written;
            bool writeFailed = !begun.succeeded();
            for (int w = 0; w < (writes & 7); ++w) {
                const std::size_t len = (in.u8() * std::size_t(1 + (writes >> 3))) % 2048;
                const std::string chunk(in.take(len));
                const bool before = cancelled;
                lanspread::Status st =
                    sink.write(reinterpret_cast<const uint8_t *>(chunk.data()), chunk.size());
                offered += chunk.size();
                if (st.succeeded() && !chunk.empty()) {
                    check(!before, "a write succeeded after cancellation");
                    check(!writeFailed, "a write succeeded after a failed begin or write");
                    written += chunk;
                    check(written.size() <= entry.size_bytes,
                          "a write past the declared size succeeded");
                } else if (!st.succeeded()) {
                    writeFailed = true;
                }
            }
            if (writes & 0x80)
                continue; // leave the entry open: the next beginEntry must cope
            lanspread::Status ended = sink.endEntry();
            if (debug)
                std::fprintf(stderr, "  %zu bytes written, end: %s\n", written.size(),
                             ended.succeeded() ? "ok" : ended.message().c_str());
            if (ended.succeeded() && begun.succeeded() && !writeFailed &&
                entry.type == LANSPREAD_ENTRY_FILE) {
                check(written.size() == entry.size_bytes,
                      "an entry ended OK with " + std::to_string(written.size()) +
                          " bytes, declared " + std::to_string(entry.size_bytes));
                auto normal = install::normaliseEntryPath(path, limits.maxPathBytes);
                check(normal.ok(), "an entry the sink took has a path normaliseEntryPath refuses");
                std::string back;
                if (!normal.value().empty()) {
                    check(readBack(fence.staging(), normal.value(), back),
                          "the file of an entry that ended OK is not there: " + normal.value());
                    check(back == written,
                          "the file holds other bytes than were written: " + normal.value());
                }
            }
        }
        check(sink.stats().bytes <= limits.maxTotalBytes, "the byte quota was exceeded");
        check(sink.stats().bytes <= offered, "the sink counts more bytes than it was given");
    }
    fence.verify();
    fence.reset();
    return 0;
}
