// unpacker-zip: a lanspread unpacker for zip archives (stored and deflate) built on Poco::Zip.
//
// A second, independent implementation of "lanspread.unpacker/1" next to unpacker-libarchive:
// it bids lower (60) than libarchive, so it is used when libarchive is absent or when the
// kernel is configured to prefer it. Like every unpacker it never writes to disk.
//
// Poco::Zip needs a seekable std::istream: the host's byte source is wrapped in a
// SourceStreamBuf. Poco::Zip::ZipArchive lists the entries (local headers, central
// directory), Poco::Zip::ZipInputStream reads one entry's data; the central-directory fields
// Poco 1.11 keeps private (Unix mode, symlink bit) come from central_directory.cpp.
//
// Threads: probe() is stateless and thread-safe; a job runs on one worker at a time.
#include "central_directory.hpp"
#include "source_streambuf.hpp"

#include <lanspread/kinds/unpacker.hpp>

#include <Poco/Exception.h>
#include <Poco/Timestamp.h>
#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipCommon.h>
#include <Poco/Zip/ZipFileInfo.h>
#include <Poco/Zip/ZipLocalFileHeader.h>
#include <Poco/Zip/ZipStream.h>

#include <algorithm>
#include <cstring>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::plugins::zip {

namespace {

constexpr uint32_t kScore = 60;                // libarchive bids 80 on zip
constexpr uint64_t kMaxLinkTarget = 64 * 1024; // a symlink target longer than this is bogus
constexpr uint32_t kTypeMask = 0170000, kTypeLink = 0120000, kTypeDir = 0040000,
                   kTypeFile = 0100000;

uint16_t le16(const std::string &s, std::size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) |
                                 (static_cast<uint8_t>(s[at + 1]) << 8));
}

// The modification time from an "extended timestamp" extra field (0x5455), Unix seconds.
bool extendedMtime(const std::string &extra, int64_t &out) {
    std::size_t at = 0;
    while (extra.size() - at >= 4) {
        uint16_t id = le16(extra, at), size = le16(extra, at + 2);
        if (extra.size() - at - 4 < size)
            return false;
        if (id == 0x5455 && size >= 5 && (static_cast<uint8_t>(extra[at + 4]) & 1)) {
            uint32_t v = 0;
            for (int i = 3; i >= 0; --i)
                v = (v << 8) | static_cast<uint8_t>(extra[at + 5 + static_cast<std::size_t>(i)]);
            out = static_cast<int32_t>(v);
            return true;
        }
        at += 4u + size;
    }
    return false;
}

// One entry, in central-directory order.
struct Item {
    const Poco::Zip::ZipLocalFileHeader *header = nullptr;
    std::string name;
    uint32_t type = LANSPREAD_ENTRY_FILE;
    uint64_t size = 0;
    uint32_t mode = 0;
    int64_t mtime = 0;
    std::string unreadable; // why this entry cannot be read, or empty
};

class ZipJob final : public UnpackJob {
  public:
    ZipJob(Host host, ByteSource source, lanspread_cancel_handle cancel)
        : _host(host), _cancel(cancel),
          _buffer(std::make_unique<SourceStreamBuf>(host, source, cancel)),
          _in(std::make_unique<std::istream>(_buffer.get())) {}

    // Reads the directory. Returns the status open() returns.
    Status load() {
        auto directory = readCentralDirectory(*_in);
        if (Status s = sourceFailure(); !s)
            return s;
        if (!directory)
            return directory.status();
        try {
            _in->clear();
            _in->seekg(0, std::ios::beg);
            _archive = std::make_unique<Poco::Zip::ZipArchive>(*_in);
        } catch (const Poco::Exception &e) {
            if (Status s = sourceFailure(); !s)
                return s;
            return Status(LANSPREAD_E_FATAL,
                          "Poco::Zip cannot read the archive: " + e.displayText());
        }
        if (Status s = sourceFailure(); !s)
            return s;

        std::map<std::string, const Poco::Zip::ZipFileInfo *> infos;
        for (auto it = _archive->fileInfoBegin(); it != _archive->fileInfoEnd(); ++it)
            infos.emplace(it->first, &it->second);
        const auto &records = directory.value().records;
        std::vector<std::pair<std::size_t, Item>> ordered;
        for (auto it = _archive->headerBegin(); it != _archive->headerEnd(); ++it) {
            auto record = records.find(it->first);
            if (record == records.end())
                return Status(LANSPREAD_E_FATAL, "entry '" + it->first +
                                                     "' has no central directory record "
                                                     "(truncated or damaged archive)");
            auto info = infos.find(it->first);
            ordered.emplace_back(
                record->second.order,
                describe(it->second, record->second, info == infos.end() ? nullptr : info->second));
        }
        if (ordered.size() != records.size())
            return Status(LANSPREAD_E_FATAL,
                          "the central directory lists " + std::to_string(records.size()) +
                              " entries but only " + std::to_string(ordered.size()) +
                              " have local headers (truncated or damaged archive)");
        std::sort(ordered.begin(), ordered.end(),
                  [](const auto &a, const auto &b) { return a.first < b.first; });
        for (auto &o : ordered)
            _items.push_back(std::move(o.second));
        return Status::ok();
    }

    Status nextEntry(ArchiveEntry &out) override {
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the job already failed");
        if (_host.isCancelled(_cancel))
            return Status(LANSPREAD_E_CANCELLED);
        _data.reset();
        _current = nullptr;
        if (_next >= _items.size())
            return Status(LANSPREAD_END);
        Item &item = _items[_next++];
        if (!item.unreadable.empty())
            return Status(LANSPREAD_E_FAILED, "entry '" + item.name + "': " + item.unreadable);
        out.type = item.type;
        out.path = item.name;
        out.mode = item.mode;
        out.mtimeSeconds = item.mtime;
        out.sizeBytes = item.type == LANSPREAD_ENTRY_FILE ? item.size : 0;
        if (item.type == LANSPREAD_ENTRY_SYMLINK) {
            if (item.size > kMaxLinkTarget)
                return fatal(item, "symlink target of " + std::to_string(item.size) +
                                       " bytes is too long");
            auto target = readAll(item);
            if (!target)
                return target.status();
            out.linkTarget = std::move(target.value());
            return Status::ok();
        }
        if (item.type == LANSPREAD_ENTRY_FILE)
            _current = &item;
        _delivered = 0;
        return Status::ok();
    }

    Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (_dead)
            return Status(LANSPREAD_E_FATAL, "the job already failed");
        if (_host.isCancelled(_cancel))
            return Status(LANSPREAD_E_CANCELLED);
        if (_current == nullptr || buffer.empty())
            return std::size_t{0};
        try {
            if (!_data)
                openData(*_current);
            _data->read(reinterpret_cast<char *>(buffer.data()),
                        static_cast<std::streamsize>(buffer.size()));
            std::size_t got = static_cast<std::size_t>(_data->gcount());
            if (Status s = sourceFailure(); !s)
                return s;
            _delivered += got;
            if (_delivered > _current->size)
                return fatal(*_current, "more data than the declared " +
                                            std::to_string(_current->size) + " bytes");
            if (got == 0) {
                if (_delivered != _current->size)
                    return fatal(*_current, "data ends after " + std::to_string(_delivered) +
                                                " of " + std::to_string(_current->size) + " bytes");
                _data.reset();
                _current = nullptr;
            }
            return got;
        } catch (const Poco::Exception &e) {
            return caught(*_current, e.displayText());
        } catch (const std::exception &e) {
            return caught(*_current, e.what());
        }
    }

  private:
    Item describe(const Poco::Zip::ZipLocalFileHeader &header, const CentralRecord &record,
                  const Poco::Zip::ZipFileInfo *info) {
        Item item;
        item.header = &header;
        item.name = header.getFileName();
        item.size = info ? info->getUncompressedSize() : header.getUncompressedSize();
        uint32_t mode = unixMode(record);
        item.mode = mode & 07777;
        if (!extendedMtime(header.getExtraField(), item.mtime))
            item.mtime = header.lastModifiedAt().timestamp().epochTime(); // DOS time as UTC
        uint32_t kind = mode & kTypeMask;
        if (kind == kTypeLink)
            item.type = LANSPREAD_ENTRY_SYMLINK;
        // Poco's isDirectory() reads the name's last byte, before the string for an empty
        // name (UB; found by tests/fuzz unpacker_zip): an empty name is no directory (the
        // sink refuses the entry by its name).
        else if (kind == kTypeDir || (!item.name.empty() && header.isDirectory()) ||
                 (mode == 0 && (record.externalAttributes & 0x10) && item.size == 0))
            item.type = LANSPREAD_ENTRY_DIRECTORY; // MS-DOS directory attribute
        else if (kind == 0 || kind == kTypeFile)
            item.type = LANSPREAD_ENTRY_FILE;
        else
            item.type = LANSPREAD_ENTRY_OTHER; // fifo, device, socket: the sink refuses them
        if (item.type == LANSPREAD_ENTRY_FILE || item.type == LANSPREAD_ENTRY_SYMLINK) {
            if (header.isEncrypted())
                item.unreadable = "encrypted entries are not supported";
            else if (header.getCompressionMethod() != Poco::Zip::ZipCommon::CM_STORE &&
                     header.getCompressionMethod() != Poco::Zip::ZipCommon::CM_DEFLATE)
                item.unreadable = "compression method " +
                                  std::to_string(header.getCompressionMethod()) +
                                  " is not supported (only stored and deflate)";
        }
        return item;
    }

    void openData(const Item &item) {
        _in->clear(); // Poco leaves the archive stream failed after parsing or an entry
        _data = std::make_unique<Poco::Zip::ZipInputStream>(*_in, *item.header, true);
        _data->exceptions(std::ios::badbit); // CRC and inflate errors surface as exceptions
        _delivered = 0;
    }

    Result<std::string> readAll(Item &item) {
        try {
            openData(item);
            std::string bytes(static_cast<std::size_t>(item.size), '\0');
            _data->read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            std::size_t got = static_cast<std::size_t>(_data->gcount());
            if (got == bytes.size()) {
                char extra;
                _data->read(&extra, 1); // reach the end so that Poco checks the CRC
                got += static_cast<std::size_t>(_data->gcount());
            }
            if (Status s = sourceFailure(); !s)
                return s;
            _data.reset();
            if (got != bytes.size())
                return fatal(item, "symlink target is " + std::to_string(got) +
                                       " bytes, the directory says " + std::to_string(item.size));
            return bytes;
        } catch (const Poco::Exception &e) {
            return caught(item, e.displayText());
        } catch (const std::exception &e) {
            return caught(item, e.what());
        }
    }

    // The byte source's failure (cancellation, I/O) takes precedence over what Poco made
    // of the short read it caused.
    Status sourceFailure() {
        const Status &f = _buffer->failure();
        if (f.succeeded())
            return Status::ok();
        _dead = true;
        return f;
    }

    Status caught(const Item &item, const std::string &what) {
        if (Status s = sourceFailure(); !s)
            return s;
        return fatal(item, what);
    }

    Status fatal(const Item &item, const std::string &what) {
        _dead = true;
        _data.reset();
        return Status(LANSPREAD_E_FATAL, "entry '" + item.name + "': " + what);
    }

    Host _host;
    lanspread_cancel_handle _cancel;
    // Declaration order is destruction order reversed: the entry stream goes before the
    // archive, the archive before the istream, the istream before its buffer.
    std::unique_ptr<SourceStreamBuf> _buffer;
    std::unique_ptr<std::istream> _in;
    std::unique_ptr<Poco::Zip::ZipArchive> _archive;
    std::vector<Item> _items;
    std::unique_ptr<Poco::Zip::ZipInputStream> _data;
    std::size_t _next = 0;
    Item *_current = nullptr; // the FILE entry whose data read_data returns
    uint64_t _delivered = 0;
    bool _dead = false;
};

class ZipUnpacker final : public UnpackerPlugin {
  public:
    using UnpackerPlugin::UnpackerPlugin;

    Result<uint32_t> probe(std::span<const uint8_t> head, std::string_view) override {
        if (head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
            ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
            return kScore;
        return 0u;
    }

    Result<std::unique_ptr<UnpackJob>> open(ByteSource source,
                                            lanspread_cancel_handle cancel) override {
        if (!source.seekable())
            return Status(LANSPREAD_E_UNSUPPORTED,
                          "unpacker-zip needs a seekable byte source (zip keeps its directory "
                          "at the end); this source cannot seek");
        if (host().isCancelled(cancel))
            return Status(LANSPREAD_E_CANCELLED);
        int64_t at = 0;
        if (lanspread_status s = source.raw()->seek(source.raw(), 0, LANSPREAD_SEEK_SET, &at);
            s != LANSPREAD_OK)
            return Status(s, "the byte source cannot seek to its start");
        auto job = std::make_unique<ZipJob>(host(), source, cancel);
        Status loaded = job->load();
        if (!loaded)
            return loaded;
        return std::unique_ptr<UnpackJob>(std::move(job));
    }
};

const char *const kCapabilities[] = {"archive:zip", nullptr};

} // namespace

} // namespace lanspread::plugins::zip

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::zip::ZipUnpacker, LANSPREAD_KIND_UNPACKER,
                         "org.lanspread.unpacker.zip", "Zip unpacker (Poco::Zip)", "1.0.0",
                         "lanspread", "Reads zip archives (stored, deflate) with Poco::Zip",
                         lanspread::plugins::zip::kCapabilities, nullptr)
