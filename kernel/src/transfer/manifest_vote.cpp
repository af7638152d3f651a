#include <lanspread/kernel/transfer/manifest_vote.hpp>

#include <algorithm>

namespace lanspread::kernel::transfer {

namespace {

struct Group {
    const protocol::GameFiles *files = nullptr;
    std::vector<std::string> peers; // sorted: answers are visited in peer_id order
};

std::string joinPeers(const std::vector<std::string> &peers) {
    std::string text = "[";
    for (std::size_t i = 0; i < peers.size(); ++i) {
        if (i)
            text += ", ";
        text += peers[i];
    }
    return text + "]";
}

// The first place where two file lists (both sorted by path) disagree, for the log.
std::string firstDifference(const std::vector<protocol::FileDescription> &a,
                            const std::vector<protocol::FileDescription> &b) {
    const std::size_t common = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < common; ++i) {
        const auto &fa = a[i];
        const auto &fb = b[i];
        if (fa.path != fb.path)
            return "path " + fa.path + " vs " + fb.path;
        if (fa.size != fb.size)
            return fa.path + " size " + std::to_string(fa.size) + " vs " + std::to_string(fb.size);
        const std::size_t hashes = std::min(fa.chunkHashes.size(), fb.chunkHashes.size());
        for (std::size_t c = 0; c < hashes; ++c)
            if (fa.chunkHashes[c] != fb.chunkHashes[c])
                return fa.path + " chunk " + std::to_string(c) + " hash differs";
        if (fa.chunkHashes.size() != fb.chunkHashes.size())
            return fa.path + " chunk count " + std::to_string(fa.chunkHashes.size()) + " vs " +
                   std::to_string(fb.chunkHashes.size());
    }
    if (a.size() > common)
        return a[common].path + " only in the first list";
    if (b.size() > common)
        return b[common].path + " only in the second list";
    return "no difference in the files";
}

} // namespace

Result<ManifestChoice> voteManifest(const std::string &game, const std::string &expectedVersion,
                                    const std::map<std::string, protocol::GameFiles> &answers) {
    std::vector<Group> groups;
    std::size_t voters = 0;
    for (const auto &[peerId, files] : answers) {
        if (files.game != game || files.version != expectedVersion)
            continue; // another game or a stale version never votes (S15-S17, S36)
        ++voters;
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const Group &g) { return g.files->files == files.files; });
        if (it == groups.end())
            groups.push_back(Group{&files, {peerId}});
        else
            it->peers.push_back(peerId);
    }
    if (groups.empty())
        return Status(LANSPREAD_E_NOT_FOUND,
                      "no source described " + game + " at version " + expectedVersion);

    // Most votes first; among equals, the group whose first peer sorts first (deterministic).
    std::stable_sort(groups.begin(), groups.end(), [](const Group &a, const Group &b) {
        return a.peers.size() > b.peers.size();
    });
    if (groups.size() > 1 && groups[0].peers.size() == groups[1].peers.size()) {
        std::string message = "conflicting file lists for " + game + ": ";
        for (std::size_t i = 0; i < groups.size(); ++i) {
            if (i)
                message += " vs ";
            message += joinPeers(groups[i].peers);
        }
        message += " (" + std::to_string(groups[0].peers.size()) +
                   " vote(s) each for the top two); first difference: " +
                   firstDifference(groups[0].files->files, groups[1].files->files);
        return Status(LANSPREAD_E_FAILED, message);
    }

    ManifestChoice choice;
    choice.files = *groups[0].files;
    choice.sources = groups[0].peers;
    choice.voters = voters;
    return choice;
}

} // namespace lanspread::kernel::transfer
