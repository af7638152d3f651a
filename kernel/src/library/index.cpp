// The library index cache (<state>/library-index.json): the sizes, mtimes and chunk hashes of
// the last scan, so an unchanged file is not hashed again after a restart.
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace lanspread::kernel::library {

void LibraryIndex::load() {
    auto read = base::readFileNoFollow(_path);
    if (!read)
        return; // first run (or unreadable: the next scan rebuilds it)
    const std::string &text = read.value();
    try {
        Poco::JSON::Parser parser;
        auto root = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
        auto games = root->getObject("games");
        if (!games)
            throw Poco::DataFormatException("no games object");
        for (const auto &gameId : games->getNames()) {
            auto g = games->getObject(gameId);
            GameEntry entry;
            entry.versionContent = g->getValue<std::string>("version_ini");
            auto files = g->getObject("files");
            for (const auto &path : files->getNames()) {
                auto f = files->getObject(path);
                IndexedFile file;
                file.path = path;
                file.size = f->getValue<uint64_t>("size");
                file.mtimeNs = f->getValue<int64_t>("mtime_ns");
                auto chunks = f->getArray("chunks");
                for (std::size_t i = 0; i < chunks->size(); ++i)
                    file.chunkHashes.push_back(
                        chunks->getElement<std::string>(static_cast<unsigned>(i)));
                entry.files[path] = std::move(file);
            }
            _games[gameId] = std::move(entry);
        }
    } catch (const Poco::Exception &e) {
        log::warning("library", "index cache " + _path + " is unreadable (" + e.displayText() +
                                    "); rebuilding it");
        _games.clear();
    }
}

Status LibraryIndex::saveIfDirty() {
    if (!_dirty)
        return Status::ok();
    Poco::JSON::Object root;
    root.set("format", 1);
    Poco::JSON::Object games;
    for (const auto &[gameId, entry] : _games) {
        Poco::JSON::Object g;
        g.set("version_ini", entry.versionContent);
        Poco::JSON::Object files;
        for (const auto &[path, file] : entry.files) {
            Poco::JSON::Object f;
            f.set("size", file.size);
            f.set("mtime_ns", file.mtimeNs);
            Poco::JSON::Array chunks;
            for (const auto &h : file.chunkHashes)
                chunks.add(h);
            f.set("chunks", chunks);
            files.set(path, f);
        }
        g.set("files", files);
        games.set(gameId, g);
    }
    root.set("games", games);
    std::ostringstream text;
    root.stringify(text);
    if (Status written = base::writeFileAtomically(_path, text.str()); !written)
        return written;
    _dirty = false;
    return Status::ok();
}

const std::vector<std::string> *LibraryIndex::lookup(const std::string &gameId,
                                                     const std::string &versionContent,
                                                     const std::string &path, uint64_t size,
                                                     int64_t mtime) const {
    auto g = _games.find(gameId);
    if (g == _games.end() || g->second.versionContent != versionContent)
        return nullptr;
    auto f = g->second.files.find(path);
    if (f == g->second.files.end() || f->second.size != size || f->second.mtimeNs != mtime)
        return nullptr;
    return &f->second.chunkHashes;
}

void LibraryIndex::store(const std::string &gameId, const std::string &versionContent,
                         const std::vector<IndexedFile> &files) {
    GameEntry entry;
    entry.versionContent = versionContent;
    for (const auto &f : files)
        entry.files[f.path] = f;
    auto it = _games.find(gameId);
    if (it != _games.end() && it->second.versionContent == entry.versionContent &&
        it->second.files.size() == entry.files.size() &&
        std::equal(it->second.files.begin(), it->second.files.end(), entry.files.begin(),
                   [](const auto &a, const auto &b) {
                       return a.first == b.first && a.second.size == b.second.size &&
                              a.second.mtimeNs == b.second.mtimeNs &&
                              a.second.chunkHashes == b.second.chunkHashes;
                   }))
        return;
    _games[gameId] = std::move(entry);
    _dirty = true;
}

void LibraryIndex::forget(const std::string &gameId) {
    if (_games.erase(gameId))
        _dirty = true;
}

} // namespace lanspread::kernel::library
