// The serving gates (S12): the one place that decides whether this peer hands out a game's
// file list or a byte range of one of its files. A request is served only when
//   - the game id is in the local catalog,
//   - the game is downloaded (root version.ini committed) at the catalog's version (Ready),
//   - no operation (download, install, ...) runs on it,
//   - the path is a normalised relative path (no "", ".", "..", leading '/', '\\', NUL or
//     "//"), not under local/, and is one of the files the library indexed for the game,
//   - offset + length lies within that file and length <= catalog::kChunkSize (length 0 only
//     for an empty file).
// Refusals carry the protocol error code to answer and a message for the log.
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/peers/serve_decision.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <optional>
#include <string>
#include <variant>

namespace lanspread::kernel::transfer {

// True for "a/b.eti"-style paths: see the file comment.
bool isNormalisedRelativePath(const std::string &path);

// local: the library's current record of the game (nullptr if none); busy: an operation
// runs on it. On success the GameFiles to answer (built from the library index).
std::variant<protocol::GameFiles, peers::ServeRefusal> gateGetGame(const catalog::Catalog &catalog,
                                                                   const library::LocalGame *local,
                                                                   bool busy,
                                                                   const std::string &game);

std::variant<peers::ServeRange, peers::ServeRefusal>
gateGetChunk(const catalog::Catalog &catalog, const library::LocalGame *local, bool busy,
             const protocol::GetChunk &request);

} // namespace lanspread::kernel::transfer
