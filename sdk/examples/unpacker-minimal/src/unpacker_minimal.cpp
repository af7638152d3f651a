// unpacker-minimal: a complete lanspread unpacker for uncompressed POSIX ustar archives,
// written with the SDK's C++ wrapper. It reads 512-byte headers through the host's byte
// source and hands entries and data to the kernel; like every unpacker it never writes to
// disk. Unsupported: compression, GNU/pax extensions (their entries come out as OTHER).
#include <lanspread/kinds/unpacker.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

namespace {

constexpr std::size_t kBlock = 512;
using Block = std::array<uint8_t, kBlock>;

// A NUL-terminated (or full-width) text field of the header.
std::string field(const Block &b, std::size_t offset, std::size_t width) {
    const char *p = reinterpret_cast<const char *>(b.data() + offset);
    return std::string(p, strnlen(p, width));
}

// An octal number field: optional leading spaces, digits, then NUL or space.
bool octal(const Block &b, std::size_t offset, std::size_t width, uint64_t &out) {
    std::size_t i = offset, end = offset + width;
    while (i < end && b[i] == ' ')
        ++i;
    out = 0;
    bool any = false;
    for (; i < end && b[i] >= '0' && b[i] <= '7'; ++i, any = true) {
        if (out >> 60)
            return false; // would overflow 64 bits
        out = out * 8 + (b[i] - '0');
    }
    return any && (i == end || b[i] == '\0' || b[i] == ' ');
}

bool isZero(const Block &b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

// The stored checksum equals the byte sum with the checksum field read as spaces.
bool checksumOk(const Block &b) {
    uint64_t stored = 0;
    if (!octal(b, 148, 8, stored))
        return false;
    uint64_t sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i)
        sum += (i >= 148 && i < 156) ? uint64_t(' ') : b[i];
    return sum == stored;
}

class UstarJob final : public lanspread::UnpackJob {
  public:
    UstarJob(lanspread::Host host, lanspread::ByteSource source, lanspread_cancel_handle cancel)
        : _host(host), _source(source), _cancel(cancel) {}

    lanspread::Status nextEntry(lanspread::ArchiveEntry &out) override {
        using lanspread::Status;
        if (_host.isCancelled(_cancel))
            return Status(LANSPREAD_E_CANCELLED);
        if (_ended)
            return Status(LANSPREAD_END);
        // Skip what the host did not read of the previous entry, and its padding.
        if (uint64_t rest = _remaining + _padding; rest > 0) {
            if (Status s = _source.skip(rest); !s)
                return Status(LANSPREAD_E_FATAL, "archive ends inside an entry");
            _remaining = _padding = 0;
        }
        Block h;
        auto got = readBlock(h);
        if (!got)
            return got.status();
        if (!got.value())
            return Status(LANSPREAD_E_FATAL, "archive ends without its end-of-archive blocks");
        if (isZero(h)) { // end of archive: two zero blocks (a lone one at EOF is tolerated)
            auto second = readBlock(h);
            if (!second)
                return second.status();
            if (second.value() && !isZero(h))
                return Status(LANSPREAD_E_FATAL, "data after an end-of-archive block");
            _ended = true;
            return Status(LANSPREAD_END);
        }
        if (std::memcmp(h.data() + 257, "ustar", 5) != 0)
            return Status(LANSPREAD_E_FATAL, "not a ustar header");
        uint64_t size = 0, mode = 0, mtime = 0;
        if (!checksumOk(h) || !octal(h, 124, 12, size) || !octal(h, 100, 8, mode) ||
            !octal(h, 136, 12, mtime))
            return Status(LANSPREAD_E_FATAL, "corrupt ustar header");

        std::string name = field(h, 0, 100), prefix = field(h, 345, 155);
        out.path = prefix.empty() ? name : prefix + "/" + name;
        out.mode = static_cast<uint32_t>(mode & 07777);
        out.mtimeSeconds = static_cast<int64_t>(mtime);
        out.sizeBytes = 0;
        switch (h[156]) {
        case '0':
        case '\0':
            out.type = LANSPREAD_ENTRY_FILE;
            out.sizeBytes = size;
            _remaining = size;
            break;
        case '5': out.type = LANSPREAD_ENTRY_DIRECTORY; break;
        case '2':
            out.type = LANSPREAD_ENTRY_SYMLINK;
            out.linkTarget = field(h, 157, 100);
            break;
        case '1':
        case '3':
        case '4':
        case '6': // links and devices carry no data
            out.type = LANSPREAD_ENTRY_OTHER;
            break;
        default: // unknown types keep their data records; the host may skip them
            out.type = LANSPREAD_ENTRY_OTHER;
            out.sizeBytes = size;
            _remaining = size;
            break;
        }
        _padding = (kBlock - _remaining % kBlock) % kBlock;
        return Status::ok();
    }

    lanspread::Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (_host.isCancelled(_cancel))
            return lanspread::Status(LANSPREAD_E_CANCELLED);
        if (_remaining == 0 || buffer.empty())
            return std::size_t{0};
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(_remaining, buffer.size()));
        auto got = _source.read(buffer.first(want));
        if (!got)
            return got.status();
        if (got.value() == 0)
            return lanspread::Status(LANSPREAD_E_FATAL, "archive ends inside an entry");
        _remaining -= got.value();
        return got.value();
    }

  private:
    // One whole block: true; clean end of the source before it: false; a partial block: E_FATAL.
    lanspread::Result<bool> readBlock(Block &b) {
        std::size_t done = 0;
        while (done < kBlock) {
            auto got = _source.read(std::span(b).subspan(done));
            if (!got)
                return got.status();
            if (got.value() == 0)
                break;
            done += got.value();
        }
        if (done == 0 || done == kBlock)
            return done == kBlock;
        return lanspread::Status(LANSPREAD_E_FATAL, "archive ends inside a header");
    }

    lanspread::Host _host;
    lanspread::ByteSource _source;
    lanspread_cancel_handle _cancel;
    uint64_t _remaining = 0; // data bytes of the current entry not yet read
    uint64_t _padding = 0;   // zero bytes after them up to the block boundary
    bool _ended = false;
};

class UstarUnpacker final : public lanspread::UnpackerPlugin {
  public:
    using UnpackerPlugin::UnpackerPlugin;

    lanspread::Result<uint32_t> probe(std::span<const uint8_t> head,
                                      std::string_view nameHint) override {
        if (head.size() >= 262 && std::memcmp(head.data() + 257, "ustar", 5) == 0)
            return 90u; // sure of the format, but a richer unpacker may bid 100
        return nameHint.ends_with(".tar") ? 10u : 0u;
    }

    lanspread::Result<std::unique_ptr<lanspread::UnpackJob>>
    open(lanspread::ByteSource source, lanspread_cancel_handle cancel) override {
        return std::unique_ptr<lanspread::UnpackJob>(new UstarJob(host(), source, cancel));
    }
};

const char *const kCapabilities[] = {"archive:ustar", nullptr};

} // namespace

LANSPREAD_DECLARE_PLUGIN(UstarUnpacker, LANSPREAD_KIND_UNPACKER,
                         "org.lanspread.example.unpacker-minimal", "Minimal ustar unpacker",
                         "1.0.0", "lanspread", "Reads uncompressed POSIX ustar archives (example)",
                         kCapabilities, nullptr);
