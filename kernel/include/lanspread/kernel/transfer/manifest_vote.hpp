// Which file list a download trusts (S7, S8, S15-S17, S36). Every ready source answers
// GetGame with its file descriptions; identical answers (same paths, sizes and per-chunk
// hashes, same version) vote together. The answer with the most votes wins and only the
// peers that gave it become sources. A tie for first place is a conflict: the download fails
// rather than guess (two sources, two different lists => conflict).
#pragma once

#include <lanspread/kernel/protocol/messages.hpp>
#include <lanspread/result.hpp>

#include <map>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

struct ManifestChoice {
    protocol::GameFiles files;
    std::vector<std::string> sources; // peer ids that sent exactly this list, sorted
    std::size_t voters = 0;           // how many answers were counted in total
};

// answers: peer_id -> that peer's GameFiles. Answers whose game or version differ from
// game/expectedVersion do not vote. Errors: none valid ("no source described <game>"), or a
// tie ("conflicting file lists for <game>: ..." naming the groups).
Result<ManifestChoice> voteManifest(const std::string &game, const std::string &expectedVersion,
                                    const std::map<std::string, protocol::GameFiles> &answers);

} // namespace lanspread::kernel::transfer
