#include <lanspread/kernel/transfer/serve_spreader.hpp>

#include <iterator>

namespace lanspread::kernel::transfer {

bool ServeSpreader::admit(const std::string &game, std::size_t chunkId, std::size_t chunkCount,
                          const std::string &requester, uint64_t nowNs,
                          const std::function<bool(const std::string &)> &relays) {
    if (chunkId >= chunkCount)
        return true; // not a chunk this bookkeeping knows: the gates decide alone
    Game &g = _games[game];
    const auto recent = [&](uint64_t atNs) { return atNs != 0 && nowNs - atNs < _windowNs; };
    for (auto it = g.requesters.begin(); it != g.requesters.end();)
        it = recent(it->second) ? std::next(it) : g.requesters.erase(it);
    // Nobody asked within the window: a new round of downloads starts from scratch.
    if (g.requesters.empty() || g.chunks.size() != chunkCount) {
        g.chunks.assign(chunkCount, Served{});
        g.servedOnce = 0;
    }
    g.requesters[requester] = nowNs;
    Served &chunk = g.chunks[chunkId];
    // Served this round to another peer that is still fetching the game (it asked within the
    // window) and relays it. Two requesters at least, so a lone downloader never gets here.
    if (g.servedOnce < chunkCount && chunk.atNs != 0 && chunk.to != requester &&
        g.requesters.count(chunk.to) > 0 && (!relays || relays(chunk.to)))
        return false;
    if (chunk.atNs == 0)
        ++g.servedOnce;
    chunk.to = requester;
    chunk.atNs = nowNs;
    return true;
}

} // namespace lanspread::kernel::transfer
