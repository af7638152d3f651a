// What the real-process scenario suites (tests/integration/peer_scenarios_test.cpp,
// scenarios_mesh_test.cpp, scenarios_ops_test.cpp) share beyond the Peer/Lab harness: sizes,
// event-field access, big seeded fixture files, root inspection and the evidence line.
// Header-only.
#pragma once

#include "peer_harness.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace lanspread::test {

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kChunk = 32 * kMiB; // the peer protocol's chunk size
inline const std::string kVersion = lanspread::fixtures::kCatalogVersion;
inline const std::string kEti = "alienswarm.eti";

// ---- JSON field access ("" / 0 when absent or empty) ----

inline std::string str(const Json &o, const std::string &key) {
    return o.isNull() || !o->has(key) || o->get(key).isEmpty() ? std::string()
                                                               : o->get(key).toString();
}
inline uint64_t u64(const Json &o, const std::string &key) {
    if (o.isNull() || !o->has(key) || o->get(key).isEmpty())
        return 0;
    return o->get(key).convert<uint64_t>();
}
inline Peer::Predicate forGame(const std::string &game) {
    return [game](const Json &e) { return str(e, "game") == game; };
}

// ---- fixtures on disk ----

// A seeded pseudo-random file of size bytes, written in 8 MiB pieces.
inline void writeRandomFile(const std::string &path, uint64_t size, uint64_t seed) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (uint64_t offset = 0; offset < size; offset += 8 * kMiB) {
        const std::string piece = lanspread::fixtures::pseudoRandom(
            static_cast<std::size_t>(std::min<uint64_t>(8 * kMiB, size - offset)), seed, offset);
        out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path);
}
inline void writeVersionIni(const std::string &root, const std::string &version = kVersion) {
    writeWholeFile(root + "/version.ini", version + "\n");
}
// <games>/alienswarm/ holding one pseudo-random alienswarm.eti of size bytes, version.ini last.
inline void writeBigAlienswarm(const std::string &gamesDir, uint64_t size, uint64_t seed) {
    const std::string root = gamesDir + "/alienswarm";
    writeRandomFile(root + "/" + kEti, size, seed);
    writeVersionIni(root);
}

// path -> size of the regular files of a game root (reserved root names skipped).
inline std::map<std::string, uint64_t> fileSizes(const std::string &root) {
    namespace fs = std::filesystem;
    std::map<std::string, uint64_t> out;
    if (!fs::is_directory(root))
        return out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        if (it.depth() == 0 && isReservedRootName(it->path().filename().string())) {
            if (it->is_directory())
                it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && !it->is_symlink())
            out[fs::relative(it->path(), root).generic_string()] = it->file_size();
    }
    return out;
}
inline uint64_t totalSize(const std::map<std::string, uint64_t> &sizes) {
    uint64_t total = 0;
    for (const auto &[path, size] : sizes)
        total += size;
    return total;
}

// ---- a peer's view ----

// download-finished.sources as peer_id -> bytes.
inline std::map<std::string, uint64_t> sourcesOf(const Json &finished) {
    std::map<std::string, uint64_t> out;
    Json sources = finished.isNull() ? Json() : finished->getObject("sources");
    if (sources.isNull())
        return out;
    for (const auto &[peer, bytes] : *sources)
        out[peer] = bytes.convert<uint64_t>();
    return out;
}
// The game's row in the peer's list-games "local" (null when absent).
inline Json localGame(Peer &peer, const std::string &game) {
    JsonArray local = peer.listGames()->getArray("local");
    for (std::size_t i = 0; local && i < local->size(); ++i)
        if (str(local->getObject(static_cast<unsigned>(i)), "id") == game)
            return local->getObject(static_cast<unsigned>(i));
    return {};
}
// No operation runs on the game (status active_operations).
inline bool idle(Peer &peer, const std::string &game) {
    Json ops = peer.status()->getObject("active_operations");
    return ops.isNull() || !ops->has(game);
}

// The scenario's one evidence line, on its own line of stdout.
inline void evidence(const std::string &line) {
    std::printf("\n%s\n", line.c_str());
    std::fflush(stdout);
}

} // namespace lanspread::test
