#include <lanspread/kernel/peers/peer_db.hpp>

#include <algorithm>

namespace lanspread::kernel::peers {

namespace {

// Games or partial games of a snapshot, by id.
template <typename T> std::map<std::string, T> byId(const std::vector<T> &items) {
    std::map<std::string, T> map;
    for (const auto &item : items)
        map[item.id] = item; // a repeated id: the last one wins, like a delta upsert
    return map;
}

bool downloadsCatalogVersion(const PeerRecord &peer, const catalog::CatalogGame &game) {
    auto it = peer.partials.find(game.id);
    return it != peer.partials.end() && it->second.version == game.version;
}

bool servesCatalogVersion(const PeerRecord &peer, const catalog::CatalogGame &game) {
    auto it = peer.games.find(game.id);
    if (it == peer.games.end())
        return false;
    const protocol::GameSummary &s = it->second;
    return s.downloaded && s.availability == "Ready" && s.version == game.version;
}

} // namespace

PeerDb::Upsert PeerDb::upsert(const protocol::Hello &hello, const std::string &addr,
                              const std::string &via, int64_t nowMs, const std::string &transport,
                              const std::map<std::string, std::string> &addrs) {
    auto it = _peers.find(hello.peerId);
    Upsert outcome = Upsert::Added;
    if (it == _peers.end()) {
        it = _peers.emplace(hello.peerId, PeerRecord{}).first;
        it->second.peerId = hello.peerId;
    } else {
        outcome = it->second.addr == addr ? Upsert::Updated : Upsert::AddressChanged;
    }
    PeerRecord &record = it->second;
    record.name = hello.name;
    record.addr = addr;
    record.via = via;
    record.transport = transport;
    record.addrs = addrs;
    record.libraryRevision = hello.libraryRevision;
    record.games = byId(hello.games);
    record.partials = byId(hello.partials);
    record.lastSeenMs = nowMs;
    return outcome;
}

bool PeerDb::applyDelta(const std::string &peerId, const protocol::LibraryDelta &delta,
                        int64_t nowMs) {
    auto it = _peers.find(peerId);
    if (it == _peers.end())
        return false;
    PeerRecord &record = it->second;
    for (const auto &g : delta.upserts)
        record.games[g.id] = g;
    for (const auto &id : delta.removed)
        record.games.erase(id);
    for (const auto &p : delta.partialUpserts)
        record.partials[p.id] = p;
    for (const auto &id : delta.partialRemoved)
        record.partials.erase(id);
    record.libraryRevision = delta.revision;
    record.lastSeenMs = nowMs;
    return true;
}

bool PeerDb::applyHave(const std::string &peerId, const protocol::Have &have, int64_t nowMs) {
    auto it = _peers.find(peerId);
    if (it == _peers.end())
        return false;
    auto partial = it->second.partials.find(have.game);
    if (partial == it->second.partials.end() || partial->second.filesDigest != have.filesDigest)
        return false;
    std::vector<bool> &bits = partial->second.have;
    // Checked whole before any bit is set: a Have is applied entirely or not at all.
    for (const uint64_t chunk : have.chunks)
        if (chunk >= bits.size())
            return false;
    for (const uint64_t chunk : have.chunks)
        bits[static_cast<std::size_t>(chunk)] = true;
    it->second.lastSeenMs = nowMs;
    return true;
}

void PeerDb::touch(const std::string &peerId, int64_t nowMs) {
    auto it = _peers.find(peerId);
    if (it != _peers.end())
        it->second.lastSeenMs = nowMs;
}

bool PeerDb::remove(const std::string &peerId) {
    return _peers.erase(peerId) > 0;
}

const PeerRecord *PeerDb::find(const std::string &peerId) const {
    auto it = _peers.find(peerId);
    return it == _peers.end() ? nullptr : &it->second;
}

std::vector<std::string> PeerDb::readySources(const catalog::CatalogGame &game) const {
    std::vector<std::string> ids;
    for (const auto &[id, peer] : _peers) // std::map: already sorted by peer_id
        if (servesCatalogVersion(peer, game))
            ids.push_back(id);
    return ids;
}

std::vector<std::string> PeerDb::partialSources(const catalog::CatalogGame &game) const {
    std::vector<std::string> ids;
    for (const auto &[id, peer] : _peers) // std::map: already sorted by peer_id
        if (downloadsCatalogVersion(peer, game))
            ids.push_back(id);
    return ids;
}

const protocol::PartialGame *PeerDb::partial(const std::string &peerId,
                                             const std::string &gameId) const {
    const PeerRecord *peer = find(peerId);
    if (!peer)
        return nullptr;
    auto it = peer->partials.find(gameId);
    return it == peer->partials.end() ? nullptr : &it->second;
}

contract::PeerView peerView(const PeerRecord &record) {
    contract::PeerView view{record.peerId,   record.name, record.addr, record.via, {}, {},
                            record.transport};
    for (const auto &[gameId, summary] : record.games)
        view.games.push_back({gameId, summary.version, summary.availability});
    for (const auto &[gameId, partial] : record.partials) {
        const auto have =
            static_cast<uint64_t>(std::count(partial.have.begin(), partial.have.end(), true));
        view.partials.push_back({gameId, partial.version, have, partial.chunkCount});
    }
    return view;
}

std::vector<contract::PeerView> PeerDb::peerViews() const {
    std::vector<contract::PeerView> views;
    for (const auto &[id, peer] : _peers)
        views.push_back(peerView(peer));
    return views;
}

std::vector<contract::RemoteGameView> PeerDb::remoteGames(const catalog::Catalog &catalog) const {
    std::vector<const catalog::CatalogGame *> games;
    for (const auto &g : catalog.games())
        games.push_back(&g);
    std::sort(
        games.begin(), games.end(),
        [](const catalog::CatalogGame *a, const catalog::CatalogGame *b) { return a->id < b->id; });

    std::vector<contract::RemoteGameView> rows;
    for (const catalog::CatalogGame *game : games) {
        std::size_t peerCount = 0;
        std::size_t partialPeerCount = 0;
        std::map<uint64_t, std::size_t> sizeVotes; // sizeBytes -> how many ready sources
        for (const auto &[id, peer] : _peers) {
            if (downloadsCatalogVersion(peer, *game))
                ++partialPeerCount;
            if (!servesCatalogVersion(peer, *game))
                continue;
            ++peerCount;
            ++sizeVotes[peer.games.at(game->id).sizeBytes];
        }
        if (peerCount == 0 && partialPeerCount == 0)
            continue;
        // The most common size (0 while only partial sources know the game); a tie goes to the
        // largest (the map is ascending, so >=).
        uint64_t size = 0;
        std::size_t best = 0;
        for (const auto &[bytes, votes] : sizeVotes)
            if (votes >= best) {
                best = votes;
                size = bytes;
            }
        rows.push_back({game->id, game->name, game->version, peerCount, partialPeerCount, size});
    }
    return rows;
}

} // namespace lanspread::kernel::peers
