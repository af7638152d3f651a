#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

namespace lanspread::kernel::transfer {

namespace {

peers::ServeRefusal refuse(const char *code, std::string message) {
    return peers::ServeRefusal{code, std::move(message)};
}

// The game-level gates shared by GetGame and GetChunk; nullopt when the game may be served.
std::optional<peers::ServeRefusal> gateGame(const catalog::Catalog &catalog,
                                            const library::LocalGame *local, bool busy,
                                            const std::string &game) {
    const catalog::CatalogGame *entry = catalog.find(game);
    if (!entry)
        return refuse("unknown-game", "game " + game + " is not in the catalog");
    if (!local || !local->downloaded)
        return refuse("not-servable", "game " + game + " is not downloaded here");
    if (local->availability != "Ready" || local->version != entry->version)
        return refuse("not-servable", "game " + game + " is at version \"" + local->version +
                                          "\" (" + local->availability + "), not the catalog's \"" +
                                          entry->version + "\"");
    if (busy)
        return refuse("busy", "an operation is running on game " + game);
    return std::nullopt;
}

bool downloadingAtCatalogVersion(const catalog::Catalog &catalog,
                                 const DownloadingGame *downloading, const std::string &game) {
    const catalog::CatalogGame *entry = catalog.find(game);
    return entry != nullptr && downloading != nullptr && downloading->files != nullptr &&
           downloading->files->game == game && downloading->files->version == entry->version;
}

} // namespace

bool isNormalisedRelativePath(const std::string &path) {
    if (path.empty() || path.size() > protocol::kMaxPathLength)
        return false;
    if (path.front() == '/' || path.back() == '/')
        return false;
    if (path.find('\\') != std::string::npos || path.find('\0') != std::string::npos)
        return false;
    // local/ is the installed tree: never served.
    if (path == "local" || path.rfind("local/", 0) == 0)
        return false;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        const std::string_view component(path.data() + start, end - start);
        if (component.empty() || component == "." || component == "..")
            return false; // "" covers "//"
        start = end + 1;
    }
    return true;
}

protocol::GameFiles servedFileList(const library::LocalGame &local) {
    protocol::GameFiles list;
    list.game = local.id;
    list.version = local.version;
    list.files.reserve(local.files.size());
    for (const auto &f : local.files)
        list.files.push_back(protocol::FileDescription{f.path, f.size, f.chunkHashes});
    return list;
}

std::variant<protocol::GameFiles, peers::ServeRefusal>
gateGetGame(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
            const std::string &game, const DownloadingGame *downloading) {
    auto refusal = gateGame(catalog, local, busy, game);
    if (!refusal)
        return servedFileList(*local);
    if (downloadingAtCatalogVersion(catalog, downloading, game))
        return *downloading->files;
    return *refusal;
}

std::variant<peers::ServeRange, peers::ServeRefusal>
gateGetChunk(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
             const protocol::GetChunk &request, const DownloadingGame *downloading,
             Spreading *spreading) {
    auto refusal = gateGame(catalog, local, busy, request.game);
    const bool partial = refusal && downloadingAtCatalogVersion(catalog, downloading, request.game);
    if (refusal && !partial)
        return *refusal;
    if (!isNormalisedRelativePath(request.path))
        return refuse("bad-path", "path \"" + request.path + "\" of game " + request.game +
                                      " is not a normalised relative path outside local/");
    // The list served: the library's index, or the download's voted list. Chunk ids count
    // every file's chunks in list order.
    std::optional<std::size_t> fileIndex;
    uint64_t fileSize = 0;
    std::size_t firstChunk = 0, chunkTotal = 0;
    const auto visit = [&](std::size_t i, const std::string &path, uint64_t size) {
        if (!fileIndex && path == request.path) {
            fileIndex = i;
            fileSize = size;
            firstChunk = chunkTotal;
        }
        chunkTotal += static_cast<std::size_t>(catalog::chunkCount(size));
    };
    if (partial)
        for (std::size_t i = 0; i < downloading->files->files.size(); ++i)
            visit(i, downloading->files->files[i].path, downloading->files->files[i].size);
    else
        for (std::size_t i = 0; i < local->files.size(); ++i)
            visit(i, local->files[i].path, local->files[i].size);
    if (!fileIndex)
        return refuse("bad-path",
                      "path \"" + request.path + "\" is not a file of game " + request.game);
    const std::string range = std::to_string(request.offset) + "+" +
                              std::to_string(request.length) + " of " + request.path + " (" +
                              std::to_string(fileSize) + " bytes)";
    if (request.offset > fileSize)
        return refuse("out-of-range", "offset past the end: " + range);
    if (request.length > catalog::kChunkSize)
        return refuse("out-of-range", "length above the chunk size: " + range);
    if (request.length > fileSize - request.offset) // offset <= size: no overflow
        return refuse("out-of-range", "range past the end: " + range);
    if (request.length == 0 && fileSize != 0)
        return refuse("out-of-range", "empty range of a non-empty file: " + range);
    const uint64_t firstIndex = request.offset / catalog::kChunkSize;
    const uint64_t lastIndex = request.length == 0
                                   ? firstIndex
                                   : (request.offset + request.length - 1) / catalog::kChunkSize;
    if (partial) {
        for (uint64_t c = firstIndex; c <= lastIndex; ++c)
            if (!downloading->chunkVerified(*fileIndex, c))
                return refuse("not-servable", "game " + request.game +
                                                  " is being downloaded here and " + range +
                                                  " is not verified yet");
    }
    // Spreading is a seeder's rule: a peer still downloading relays what it has to anyone.
    if (spreading != nullptr && !partial &&
        !spreading->spreader.admit(request.game, firstChunk + static_cast<std::size_t>(firstIndex),
                                   chunkTotal, spreading->requester, spreading->nowNs,
                                   spreading->relays))
        return refuse("elsewhere", "chunk " + std::to_string(firstIndex) + " of " + request.path +
                                       " went to another peer moments ago: fetch it from there");
    if (partial)
        return peers::ServeRange{downloading->diskPath(*fileIndex), request.offset, request.length};
    return peers::ServeRange{local->files[*fileIndex].path, request.offset, request.length};
}

} // namespace lanspread::kernel::transfer
