// The peer DB (docs/protocol.md): every remote peer this process has completed a
// handshake with, keyed by peer_id — never by the transport's source address, which is an
// ephemeral port for outgoing connections. A peer keeps its advertised listener address and
// its library as last announced (Hello snapshot, then LibraryDeltas). The same peer_id seen
// on a new address updates the record in place (S11, S28). Thread: reactor.
#pragma once

#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/contract/views.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lanspread::kernel::peers {

struct PeerRecord {
    std::string peerId;
    std::string name;
    std::string addr;                         // advertised listener "ip:port"
    std::string via;                          // how it was found: "connect" or "mdns"
    std::string transport;                    // the connection's transport ("quic", "tls")
    std::map<std::string, std::string> addrs; // every listener it advertised, by transport
    uint64_t libraryRevision = 0;
    std::map<std::string, protocol::GameSummary> games;    // by game id
    std::map<std::string, protocol::PartialGame> partials; // games it downloads, by id
    int64_t lastSeenMs = 0;
};

// The peer as list-peers and the peer events show it (games sorted by id).
contract::PeerView peerView(const PeerRecord &record);

class PeerDb {
  public:
    enum class Upsert { Added, AddressChanged, Updated };

    // Records a completed handshake: the full snapshot replaces the library. An existing
    // record with the same peer_id keeps its identity; addr/name/library are replaced.
    // transport: the connection kept; addrs: its listeners by transport (reachable form).
    Upsert upsert(const protocol::Hello &hello, const std::string &addr, const std::string &via,
                  int64_t nowMs, const std::string &transport = {},
                  const std::map<std::string, std::string> &addrs = {});
    // Applies a LibraryDelta; false when the peer is unknown (the delta is ignored).
    bool applyDelta(const std::string &peerId, const protocol::LibraryDelta &delta, int64_t nowMs);
    // Marks the chunks of a Have in the peer's partial game; false (nothing changes) when the
    // peer is unknown, has no partial of that game with that digest, or a chunk is out of
    // range.
    bool applyHave(const std::string &peerId, const protocol::Have &have, int64_t nowMs);
    void touch(const std::string &peerId, int64_t nowMs);
    bool remove(const std::string &peerId);

    const PeerRecord *find(const std::string &peerId) const;
    const std::map<std::string, PeerRecord> &peers() const { return _peers; }
    std::size_t size() const { return _peers.size(); }

    // Peers that may serve game: they advertise it Ready at exactly the catalog's version
    // (S15-S17, S36: stale versions are never sources and never vote). Sorted by peer_id.
    std::vector<std::string> readySources(const catalog::CatalogGame &game) const;
    // Peers downloading game at the catalog's version (any file list). Sorted by peer_id.
    std::vector<std::string> partialSources(const catalog::CatalogGame &game) const;
    // The peer's partial game, or nullptr.
    const protocol::PartialGame *partial(const std::string &peerId,
                                         const std::string &gameId) const;

    // list-peers: every peer, sorted by peer_id.
    std::vector<contract::PeerView> peerViews() const;
    // list-games "remote": one row per catalog game with at least one ready or partial
    // source (counted apart), its size the one most ready sources advertise. Games not in the
    // catalog are never listed (S35). Sorted by id.
    std::vector<contract::RemoteGameView> remoteGames(const catalog::Catalog &catalog) const;

  private:
    std::map<std::string, PeerRecord> _peers;
};

} // namespace lanspread::kernel::peers
