// The serving gates (S12): the one place that decides whether this peer hands out a game's
// file list or a byte range of one of its files. A request is served only when
//   - the game id is in the local catalog, and either
//   - the game is downloaded (root version.ini committed) at the catalog's version (Ready),
//     and no operation that rewrites its files runs on it (an install only reads them), or
//   - this peer is downloading it at the catalog's version (the swarm): then the file list
//     is the voted one, and a range is served only when every chunk it touches is verified
//     on disk (never unverified bytes),
// and, for a range,
//   - the path is a normalised relative path (no "", ".", "..", leading '/', '\\', NUL or
//     "//"), not under local/, and is one of the files the library indexed for the game,
//   - offset + length lies within that file and length <= catalog::kChunkSize (length 0 only
//     for an empty file).
// A seeder with several requesters may also refuse a range as "elsewhere" (serve_spreader.hpp).
// Refusals carry the protocol error code to answer and a message for the log.
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/peers/serve_decision.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <lanspread/kernel/transfer/serve_spreader.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace lanspread::kernel::transfer {

// True for "a/b.eti"-style paths: see the file comment.
bool isNormalisedRelativePath(const std::string &path);

// A game this peer is downloading, as the gates see it (Download::servingView()).
struct DownloadingGame {
    const protocol::GameFiles *files = nullptr; // the voted list
    // Whether chunk `index` of files->files[file] is verified on disk.
    std::function<bool(std::size_t file, uint64_t index)> chunkVerified;
    // Where files->files[file] is below the game root (version.ini has a temporary name
    // until the download commits).
    std::function<std::string(std::size_t file)> diskPath;
};

// Spreading a seeder's chunks among several requesters (serve_spreader.hpp).
struct Spreading {
    ServeSpreader &spreader;
    std::string requester; // peer_id
    uint64_t nowNs = 0;
    // Whether a peer relays the game's chunks to others: it advertises the game as a partial
    // one (it downloads it and serves what it verified). A streamed install or a peer that
    // left does not, so a chunk it got is no reason to refuse it to anyone. Empty: every
    // peer relays.
    std::function<bool(const std::string &peerId)> relays;
};

// The file list a downloaded game is served with (GetGame), from the library's index; its
// filesDigest() is what this peer advertises for the game.
protocol::GameFiles servedFileList(const library::LocalGame &local);

// local: the library's current record of the game (nullptr if none); busy: an operation that
// rewrites the game's files runs on it; downloading: the game's download when this peer
// serves it while downloading (nullptr otherwise). On success the GameFiles to answer (built
// from the library index, or the download's voted list).
std::variant<protocol::GameFiles, peers::ServeRefusal>
gateGetGame(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
            const std::string &game, const DownloadingGame *downloading = nullptr);

// spreading: nullptr serves every servable range; it applies to a Ready game only (a peer
// still downloading relays whatever it has verified).
std::variant<peers::ServeRange, peers::ServeRefusal>
gateGetChunk(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
             const protocol::GetChunk &request, const DownloadingGame *downloading = nullptr,
             Spreading *spreading = nullptr);

} // namespace lanspread::kernel::transfer
