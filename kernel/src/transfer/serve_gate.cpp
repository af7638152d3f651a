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

std::variant<protocol::GameFiles, peers::ServeRefusal> gateGetGame(const catalog::Catalog &catalog,
                                                                   const library::LocalGame *local,
                                                                   bool busy,
                                                                   const std::string &game) {
    if (auto refusal = gateGame(catalog, local, busy, game))
        return *refusal;
    protocol::GameFiles answer;
    answer.game = game;
    answer.version = local->version;
    answer.files.reserve(local->files.size());
    for (const auto &f : local->files)
        answer.files.push_back(protocol::FileDescription{f.path, f.size, f.chunkHashes});
    return answer;
}

std::variant<peers::ServeRange, peers::ServeRefusal>
gateGetChunk(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
             const protocol::GetChunk &request) {
    if (auto refusal = gateGame(catalog, local, busy, request.game))
        return *refusal;
    if (!isNormalisedRelativePath(request.path))
        return refuse("bad-path", "path \"" + request.path + "\" of game " + request.game +
                                      " is not a normalised relative path outside local/");
    const library::IndexedFile *file = nullptr;
    for (const auto &f : local->files)
        if (f.path == request.path) {
            file = &f;
            break;
        }
    if (!file)
        return refuse("bad-path",
                      "path \"" + request.path + "\" is not a file of game " + request.game);
    const std::string range = std::to_string(request.offset) + "+" +
                              std::to_string(request.length) + " of " + request.path + " (" +
                              std::to_string(file->size) + " bytes)";
    if (request.offset > file->size)
        return refuse("out-of-range", "offset past the end: " + range);
    if (request.length > catalog::kChunkSize)
        return refuse("out-of-range", "length above the chunk size: " + range);
    if (request.length > file->size - request.offset) // offset <= size: no overflow
        return refuse("out-of-range", "range past the end: " + range);
    if (request.length == 0 && file->size != 0)
        return refuse("out-of-range", "empty range of a non-empty file: " + range);
    return peers::ServeRange{file->path, request.offset, request.length};
}

} // namespace lanspread::kernel::transfer
