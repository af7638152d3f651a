// unpacker-unrar: a SIDECAR unpacker for RAR archives. It runs an external extractor
// (unrar, unar/lsar or bsdtar) on the archive's local path and streams the extractor's
// stdout to the kernel; like every unpacker it never writes to disk. A streamed archive (no
// local path) is piped into bsdtar's stdin; unrar and unar cannot read one and bid out.
//
// One data process per job, never one per file: a solid RAR can only be decompressed from
// its start, so extracting file by file would be quadratic. The extractor writes the files
// back to back (unrar p, unar -o -) and the job splits that stream by the sizes of the
// listing, checking each file's CRC32 against the listing and the extractor's exit status at
// the end; or it re-writes the archive as a pax stream (bsdtar), which carries its own
// headers. Cancellation and close() kill the process and reap it.
//
// Threads: probe() is stateless and thread-safe; a job runs on one worker at a time.
#include "listing.hpp"
#include "subprocess.hpp"
#include "tar_stream.hpp"
#include "tools.hpp"

#include <lanspread/kinds/unpacker.hpp>

#include <Poco/Checksum.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::plugins::unrar {

namespace {

constexpr uint32_t kScore = 70;                      // libarchive bids 80 on RAR
constexpr std::size_t kMaxListingBytes = 256u << 20; // a listing larger is refused
constexpr uint64_t kMaxLinkTarget = 64 * 1024;       // a link target longer is bogus
constexpr std::size_t kMaxTrailingBytes = 16u << 20; // drained after a tar stream's end

bool isRar(std::span<const uint8_t> head) {
    static const uint8_t rar4[] = {'R', 'a', 'r', '!', 0x1a, 0x07, 0x00};
    static const uint8_t rar5[] = {'R', 'a', 'r', '!', 0x1a, 0x07, 0x01, 0x00};
    return (head.size() >= sizeof rar5 && std::memcmp(head.data(), rar5, sizeof rar5) == 0) ||
           (head.size() >= sizeof rar4 && std::memcmp(head.data(), rar4, sizeof rar4) == 0);
}

// Runs a listing command to completion; its stdout, or E_IO naming the tool and its error.
Result<std::string> runListing(const Host &host, lanspread_cancel_handle cancel,
                               const std::string &program, const std::vector<std::string> &args) {
    auto child = Subprocess::spawn(program, args);
    if (!child)
        return child.status();
    Subprocess &p = *child.value();
    std::string output;
    std::vector<uint8_t> buffer(64 * 1024);
    for (;;) {
        auto got = p.read(buffer, [&] { return host.isCancelled(cancel); });
        if (!got)
            return got.status();
        if (got.value() == 0)
            break;
        if (output.size() + got.value() > kMaxListingBytes)
            return Status(LANSPREAD_E_IO, p.program() + " printed a listing over " +
                                              std::to_string(kMaxListingBytes) + " bytes");
        output.append(reinterpret_cast<const char *>(buffer.data()), got.value());
    }
    int code = p.wait();
    if (code != 0)
        return Status(LANSPREAD_E_IO, p.describeExit(code) + "; it cannot list " + args.back() +
                                          " (damaged, or not an archive it reads)");
    return output;
}

// Reads the child's stdout to its end (discarding it), then waits for the exit code.
int drainAndWait(Subprocess &child, const std::function<bool()> &cancelled,
                 std::size_t limit = kMaxTrailingBytes) {
    std::vector<uint8_t> scratch(16384);
    std::size_t total = 0;
    for (;;) {
        auto got = child.read(scratch, cancelled);
        if (!got || got.value() == 0)
            break;
        total += got.value();
        if (total > limit) {
            child.kill();
            break;
        }
    }
    return child.wait();
}

// ---- unrar and unar: a listing, then one stream of the files' data back to back ----

class ListedJob final : public UnpackJob {
  public:
    ListedJob(Host host, lanspread_cancel_handle cancel, Tool tool, std::string archive,
              std::vector<ListedEntry> entries)
        : _host(host), _cancel(cancel), _tool(std::move(tool)), _archive(std::move(archive)),
          _entries(std::move(entries)) {}

    Status nextEntry(ArchiveEntry &out) override {
        if (Status s = usable(); !s)
            return s;
        _current = _next;
        if (_next >= _entries.size()) {
            if (_child && _cursor < _selected.size()) {
                // The host read the last file's bytes without reading on to its end:
                // verify now. Otherwise nobody needs the rest of the stream.
                if (_left == 0 && _cursor + 1 == _selected.size()) {
                    if (Status s = finishEntry(); !s)
                        return s;
                } else {
                    _child->kill();
                }
            }
            return Status(LANSPREAD_END);
        }
        ++_next;
        const ListedEntry &e = _entries[_current];
        if (!e.unreadable.empty()) // not in the data stream; the next entry may work
            return Status(LANSPREAD_E_FAILED, "'" + e.path + "': " + e.unreadable);
        out.type = e.type;
        out.path = e.path;
        out.sizeBytes = e.type == LANSPREAD_ENTRY_FILE ? e.size : 0;
        out.mode = e.mode;
        out.mtimeSeconds = e.mtime;
        out.linkTarget = e.linkTarget;
        if (e.linkTargetInData) {
            if (e.size > kMaxLinkTarget)
                return fatal("link '" + e.path + "' has a " + std::to_string(e.size) +
                             "-byte target");
            std::string target;
            std::vector<uint8_t> buffer(4096);
            for (;;) {
                auto got = readStream(buffer);
                if (!got)
                    return got.status();
                if (got.value() == 0)
                    break;
                target.append(reinterpret_cast<const char *>(buffer.data()), got.value());
            }
            out.linkTarget = std::move(target);
        }
        return Status::ok();
    }

    Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (Status s = usable(); !s)
            return s;
        if (_current >= _entries.size() || _entries[_current].type != LANSPREAD_ENTRY_FILE)
            return std::size_t{0};
        return readStream(buffer);
    }

  private:
    Status usable() {
        if (_host.isCancelled(_cancel)) {
            if (_child)
                _child->kill();
            _dead = true;
            return Status(LANSPREAD_E_CANCELLED);
        }
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the job already failed");
        return Status::ok();
    }

    std::function<bool()> cancelled() {
        return [this] { return _host.isCancelled(_cancel); };
    }

    // The current entry's bytes from the data stream; 0 at their end (after the CRC check).
    Result<std::size_t> readStream(std::span<uint8_t> buffer) {
        const ListedEntry &e = _entries[_current];
        if (e.streamBytes() == 0 || buffer.empty())
            return std::size_t{0};
        if (!_child) {
            if (Status s = startStream(); !s)
                return s;
        }
        // Skip the data of earlier entries the host did not read.
        while (_cursor < _selected.size() && _selected[_cursor] < _current) {
            if (Status s = discardEntry(); !s)
                return s;
        }
        if (_cursor >= _selected.size() || _selected[_cursor] != _current)
            return std::size_t{0}; // this entry's data was read already
        if (_left == 0) {
            if (Status s = finishEntry(); !s)
                return s;
            return std::size_t{0};
        }
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(_left, buffer.size()));
        auto got = pull(buffer.first(want));
        if (!got)
            return got.status();
        return got.value();
    }

    Status startStream() {
        _selected.clear();
        std::vector<int64_t> indexes;
        for (std::size_t i = 0; i < _entries.size(); ++i) {
            if (_entries[i].streamBytes() == 0)
                continue;
            // unar extracts exactly the chosen entries; unrar p writes every file.
            if (_tool.kind == ToolKind::Unar && i < _current)
                continue;
            _selected.push_back(i);
            indexes.push_back(_entries[i].index);
        }
        auto child = Subprocess::spawn(_tool.program, dataArguments(_tool.kind, _archive, indexes));
        if (!child)
            return fail(child.status());
        _child = std::move(child.value());
        _cursor = 0;
        beginEntry();
        return Status::ok();
    }

    void beginEntry() {
        _crc = Poco::Checksum(Poco::Checksum::TYPE_CRC32);
        _left = _cursor < _selected.size() ? _entries[_selected[_cursor]].streamBytes() : 0;
    }

    // Up to buffer.size() (<= _left) bytes of the selected entry at the cursor.
    Result<std::size_t> pull(std::span<uint8_t> buffer) {
        auto got = _child->read(buffer, cancelled());
        if (!got) {
            if (got.status().code() == LANSPREAD_E_CANCELLED)
                _dead = true;
            else
                return fail(got.status());
            return got.status();
        }
        if (got.value() == 0) {
            const ListedEntry &e = _entries[_selected[_cursor]];
            uint64_t had = e.streamBytes() - _left;
            int code = _child->wait(std::chrono::seconds(5));
            return fatal(_child->program() + "'s output ended after " + std::to_string(had) +
                         " of the " + std::to_string(e.streamBytes()) + " bytes of '" + e.path +
                         "' (truncated or damaged archive); " + _child->describeExit(code));
        }
        _crc.update(reinterpret_cast<const char *>(buffer.data()),
                    static_cast<unsigned>(got.value()));
        _left -= got.value();
        return got.value();
    }

    Status discardEntry() {
        std::vector<uint8_t> scratch(65536);
        while (_left > 0) {
            std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(_left, scratch.size()));
            auto got = pull(std::span<uint8_t>(scratch.data(), want));
            if (!got)
                return got.status();
        }
        return finishEntry();
    }

    // The entry at the cursor is complete: check its CRC, move on; after the last, check
    // that the stream ends there and the extractor succeeded.
    Status finishEntry() {
        const ListedEntry &e = _entries[_selected[_cursor]];
        if (e.crc32 && *e.crc32 != _crc.checksum())
            return fatal("the data of '" + e.path + "' does not match its CRC32 (corrupt " +
                         "archive, or " + _child->program() + "'s output is out of step with " +
                         "its listing)");
        ++_cursor;
        beginEntry();
        if (_cursor < _selected.size())
            return Status::ok();
        uint8_t extra[1];
        auto more = _child->read(extra, cancelled());
        if (!more)
            return fail(more.status());
        if (more.value() != 0)
            return fatal(_child->program() + " wrote more data than its listing declares");
        int code = _child->wait();
        if (code != 0)
            return fatal(_child->describeExit(code));
        return Status::ok();
    }

    Status fail(Status status) {
        _dead = true;
        if (_child)
            _child->kill();
        return status;
    }
    Status fatal(const std::string &message) { return fail(Status(LANSPREAD_E_FATAL, message)); }

    Host _host;
    lanspread_cancel_handle _cancel;
    Tool _tool;
    std::string _archive;
    std::vector<ListedEntry> _entries;
    std::size_t _next = 0;                           // the entry next_entry() returns next
    std::size_t _current = SIZE_MAX;                 // the entry last returned
    std::unique_ptr<Subprocess> _child;              // the data process, once data is needed
    std::vector<std::size_t> _selected;              // entries whose data the stream carries
    std::size_t _cursor = 0;                         // the one in _selected now streaming
    uint64_t _left = 0;                              // its bytes not yet read
    Poco::Checksum _crc{Poco::Checksum::TYPE_CRC32}; // of its bytes read so far
    bool _dead = false;
};

// ---- bsdtar: the archive re-written as a pax stream ----

class TarJob final : public UnpackJob {
  public:
    TarJob(Host host, lanspread_cancel_handle cancel, std::unique_ptr<Subprocess> child)
        : _host(host), _cancel(cancel), _child(std::move(child)),
          _reader([this](std::span<uint8_t> buffer) {
              return _child->read(buffer, [this] { return _host.isCancelled(_cancel); });
          }) {}

    // Reads the first header, so that an archive bsdtar cannot read fails open().
    Status start() {
        Status s = readHeader(_pending);
        if (s.code() == LANSPREAD_E_CANCELLED)
            return s;
        if (!s.succeeded() || (s.code() == LANSPREAD_END && _exitCode != 0))
            return Status(LANSPREAD_E_IO, s.message());
        _havePending = true;
        _pendingStatus = s.code();
        return Status::ok();
    }

    Status nextEntry(ArchiveEntry &out) override {
        if (_host.isCancelled(_cancel))
            return cancelled();
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the job already failed");
        if (_havePending) {
            _havePending = false;
            out = std::move(_pending);
            return Status(_pendingStatus);
        }
        return readHeader(out);
    }

    Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (_host.isCancelled(_cancel))
            return cancelled();
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the job already failed");
        auto got = _reader.readData(buffer);
        if (!got)
            return failed(got.status());
        return got.value();
    }

  private:
    Status readHeader(ArchiveEntry &out) {
        if (_ended)
            return Status(LANSPREAD_END);
        Status s = _reader.next(out);
        if (s.code() == LANSPREAD_END) {
            _ended = true;
            _exitCode = drainAndWait(*_child, [this] { return _host.isCancelled(_cancel); });
            if (_exitCode != 0)
                return failed(Status(LANSPREAD_E_FATAL, _child->describeExit(_exitCode)));
            return s;
        }
        if (!s.succeeded())
            return failed(s);
        return s;
    }

    Status cancelled() {
        _child->kill();
        _dead = true;
        return Status(LANSPREAD_E_CANCELLED);
    }

    // A stream error usually means bsdtar failed: its exit status and stderr say why.
    Status failed(const Status &s) {
        _dead = true;
        if (s.code() == LANSPREAD_E_CANCELLED) {
            _child->kill();
            return s;
        }
        std::string message = s.message();
        if (s.code() == LANSPREAD_E_FATAL && _child->running()) {
            _exitCode = drainAndWait(*_child, [this] { return _host.isCancelled(_cancel); });
            if (_exitCode != 0 && message.find(_child->program()) == std::string::npos)
                message += "; " + _child->describeExit(_exitCode);
        }
        _child->kill();
        return Status(s.code(), message);
    }

    Host _host;
    lanspread_cancel_handle _cancel;
    std::unique_ptr<Subprocess> _child;
    TarStreamReader _reader;
    ArchiveEntry _pending;
    bool _havePending = false;
    lanspread_status _pendingStatus = LANSPREAD_OK;
    bool _ended = false;
    int _exitCode = 0;
    bool _dead = false;
};

class UnrarUnpacker final : public UnpackerPlugin {
  public:
    // Config is read here, on the thread that runs init() (host.h: config_get is
    // reactor-only); open() runs on workers.
    explicit UnrarUnpacker(Host host)
        : UnpackerPlugin(host), _tool(host.config("tool", "")),
          _toolPath(host.config("tool_path", "")) {
        if (!_tool.empty() && _tool != "unrar" && _tool != "unar" && _tool != "bsdtar")
            host.warning("config tool=" + _tool +
                         " is not one of unrar, unar, bsdtar; every open() will fail");
    }

    Result<uint32_t> probe(std::span<const uint8_t> head, std::string_view) override {
        return isRar(head) ? kScore : 0u;
    }

    Result<std::unique_ptr<UnpackJob>> open(ByteSource source,
                                            lanspread_cancel_handle cancel) override {
        if (host().isCancelled(cancel))
            return Status(LANSPREAD_E_CANCELLED);
        std::string path = source.path();
        if (path.empty())
            return openStream(source, cancel);
        auto tool = resolveTool(_tool, _toolPath);
        if (!tool)
            return tool.status();
        const Tool &t = tool.value();
        std::string archive = safePathArgument(path);
        host().debug(std::string("unpacker-unrar: reading ") + path + " with " + t.program);

        if (t.kind == ToolKind::Bsdtar)
            return startTarJob(t, archive, {}, cancel);

        const std::string &lister = t.kind == ToolKind::Unar ? t.lister : t.program;
        auto listing = runListing(host(), cancel, lister, listingArguments(t.kind, archive));
        if (!listing)
            return listing.status();
        auto entries = t.kind == ToolKind::Unar ? parseLsarJson(listing.value())
                                                : parseUnrarTechnical(listing.value());
        if (!entries)
            return Status(LANSPREAD_E_IO, entries.status().message());
        return std::unique_ptr<UnpackJob>(
            new ListedJob(host(), cancel, t, archive, std::move(entries.value())));
    }

  private:
    // A streamed archive (path NULL: its bytes come over the network). Only bsdtar reads an
    // archive from standard input (`@-`); unrar and unar need a file they can seek in. So an
    // unpinned plugin takes bsdtar for streams, and a pin on unrar or unar bids out.
    Result<std::unique_ptr<UnpackJob>> openStream(ByteSource source,
                                                  lanspread_cancel_handle cancel) {
        const bool pinned = !_tool.empty() || !_toolPath.empty();
        auto tool = pinned ? resolveTool(_tool, _toolPath) : resolveTool("bsdtar", "");
        if (!tool) {
            if (pinned)
                return tool.status();
            return Status(LANSPREAD_E_UNSUPPORTED,
                          "unpacker-unrar: this archive is streamed (the byte source has no "
                          "local path) and only bsdtar reads an archive from standard input, "
                          "but bsdtar is not on PATH; install libarchive-tools, or let "
                          "unpacker-libarchive read it");
        }
        const Tool &t = tool.value();
        if (t.kind != ToolKind::Bsdtar)
            return Status(LANSPREAD_E_UNSUPPORTED,
                          std::string("unpacker-unrar: this archive is streamed (the byte source "
                                      "has no local path) and ") +
                              toolName(t.kind) +
                              " cannot read an archive from standard input; set tool=bsdtar "
                              "(libarchive-tools) for streamed installs, or let "
                              "unpacker-libarchive read it");
        host().debug("unpacker-unrar: reading a streamed archive through the stdin of " +
                     t.program);
        // The source is valid until close(), and the job (with its child) ends before that.
        return startTarJob(
            t, "-", [source](std::span<uint8_t> buffer) { return source.read(buffer); }, cancel);
    }

    // bsdtar re-writes the archive (a path argument, or "-" for input) as a pax stream.
    Result<std::unique_ptr<UnpackJob>> startTarJob(const Tool &tool, const std::string &archive,
                                                   Subprocess::InputFn input,
                                                   lanspread_cancel_handle cancel) {
        auto child =
            Subprocess::spawn(tool.program, dataArguments(tool.kind, archive), std::move(input));
        if (!child)
            return child.status();
        auto job = std::make_unique<TarJob>(host(), cancel, std::move(child.value()));
        if (Status s = job->start(); !s)
            return s;
        return std::unique_ptr<UnpackJob>(std::move(job));
    }

    std::string _tool;
    std::string _toolPath;
};

const char *const kCapabilities[] = {"archive:rar", "sidecar", nullptr};
const char *const kConfigKeys[] = {
    "tool: pin the extractor: unrar, unar or bsdtar (default: the first found in that order; "
    "bsdtar for a streamed archive)",
    "tool_path: absolute path of the extractor binary (for unar, lsar must sit next to it)",
    nullptr};

} // namespace

} // namespace lanspread::plugins::unrar

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::unrar::UnrarUnpacker, LANSPREAD_KIND_UNPACKER,
                         "org.lanspread.unpacker.unrar", "RAR unpacker (external extractor)",
                         "1.0.0", "lanspread",
                         "Reads RAR archives by streaming the output of unrar, unar or bsdtar",
                         lanspread::plugins::unrar::kCapabilities,
                         lanspread::plugins::unrar::kConfigKeys)
