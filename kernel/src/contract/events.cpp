#include <lanspread/kernel/contract/events.hpp>

#include "view_json.hpp"

#include <Poco/JSON/Array.h>

namespace lanspread::kernel::contract {

namespace {

// Payload fields appear in the order they are set.
Event event(std::string topic) {
    return Event{std::move(topic), Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER)};
}

Event gameEvent(std::string topic, const std::string &game) {
    Event e = event(std::move(topic));
    e.payload.set("game", game);
    return e;
}

Poco::JSON::Array stringsJson(const std::vector<std::string> &values) {
    Poco::JSON::Array array;
    for (const auto &value : values)
        array.add(value);
    return array;
}

Event chunkEvent(std::string topic, const ChunkView &chunk) {
    Event e = gameEvent(std::move(topic), chunk.game);
    e.payload.set("path", chunk.path);
    e.payload.set("offset", chunk.offset);
    e.payload.set("bytes", chunk.bytes);
    e.payload.set("peer_id", chunk.peerId);
    e.payload.set("peer_addr", chunk.peerAddr);
    return e;
}

} // namespace

Event localPeerReady(const std::string &peerId, const std::string &listenAddr) {
    Event e = event("local-peer-ready");
    e.payload.set("peer_id", peerId);
    e.payload.set("listen_addr", listenAddr);
    return e;
}

Event runtimeFailed(const std::string &component, const std::string &error) {
    Event e = event("runtime-failed");
    e.payload.set("component", component);
    e.payload.set("error", error);
    return e;
}

Event localLibraryChanged(uint64_t revision, const std::vector<LocalGameView> &games) {
    Event e = event("local-library-changed");
    e.payload.set("revision", revision);
    e.payload.set("games", localGamesJson(games));
    return e;
}

Event activeOperations(const OperationsView &operations) {
    Event e = event("active-operations");
    e.payload.set("operations", operationsJson(operations));
    return e;
}

Event peerDiscovered(const std::string &peerId, const std::string &addr, const std::string &via) {
    Event e = event("peer-discovered");
    e.payload.set("peer_id", peerId);
    e.payload.set("addr", addr);
    e.payload.set("via", via);
    return e;
}

Event peerConnected(const PeerView &peer) {
    Event e = event("peer-connected");
    e.payload.set("peer_id", peer.peerId);
    e.payload.set("addr", peer.addr);
    e.payload.set("name", peer.name);
    e.payload.set("games", peerGamesJson(peer.games));
    e.payload.set("partials", peerPartialsJson(peer.partials));
    return e;
}

Event peerUpdated(const PeerView &peer) {
    Event e = event("peer-updated");
    e.payload.set("peer_id", peer.peerId);
    e.payload.set("addr", peer.addr);
    e.payload.set("games", peerGamesJson(peer.games));
    e.payload.set("partials", peerPartialsJson(peer.partials));
    return e;
}

Event peerLost(const std::string &peerId, const std::string &addr, const std::string &reason) {
    Event e = event("peer-lost");
    e.payload.set("peer_id", peerId);
    e.payload.set("addr", addr);
    e.payload.set("reason", reason);
    return e;
}

Event peerRefused(const std::string &peerId, const std::string &addr, const std::string &code,
                  const std::string &reason) {
    Event e = event("peer-refused");
    e.payload.set("peer_id", peerId);
    e.payload.set("addr", addr);
    e.payload.set("code", code);
    e.payload.set("reason", reason);
    return e;
}

Event noPeersHaveGame(const std::string &game) {
    return gameEvent("no-peers-have-game", game);
}

Event gotGameFiles(const std::string &game, const std::vector<FileView> &files,
                   const std::vector<std::string> &peerAddrs,
                   const std::vector<std::string> &peerIds) {
    Event e = gameEvent("got-game-files", game);
    Poco::JSON::Array fileRows;
    for (const auto &f : files) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("path", f.path);
        o.set("size", f.size);
        fileRows.add(o);
    }
    e.payload.set("files", fileRows);
    e.payload.set("peers", stringsJson(peerAddrs));
    e.payload.set("peer_ids", stringsJson(peerIds));
    return e;
}

Event downloadBegin(const std::string &game, uint64_t bytesTotal, uint64_t bytesResumed,
                    const std::vector<std::string> &peerAddrs) {
    Event e = gameEvent("download-begin", game);
    e.payload.set("bytes_total", bytesTotal);
    e.payload.set("bytes_resumed", bytesResumed);
    e.payload.set("peers", stringsJson(peerAddrs));
    return e;
}

Event downloadProgress(const DownloadProgressView &progress) {
    Event e = gameEvent("download-progress", progress.game);
    e.payload.set("bytes_done", progress.bytesDone);
    e.payload.set("bytes_total", progress.bytesTotal);
    e.payload.set("mib_per_s", progress.mibPerS);
    e.payload.set("active_peers", progress.activePeers);
    return e;
}

Event downloadChunkFinished(const ChunkView &chunk) {
    return chunkEvent("download-chunk-finished", chunk);
}

Event downloadChunkRejected(const ChunkView &chunk, const std::string &reason) {
    Event e = chunkEvent("download-chunk-rejected", chunk);
    e.payload.set("reason", reason);
    return e;
}

Event downloadPeersGone(const std::string &game) {
    return gameEvent("download-peers-gone", game);
}

Event downloadFinished(const DownloadFinishedView &finished) {
    Event e = gameEvent("download-finished", finished.game);
    e.payload.set("bytes", finished.bytes);
    e.payload.set("bytes_total", finished.bytesTotal);
    e.payload.set("duration_ms", finished.durationMs);
    e.payload.set("mib_per_s", finished.mibPerS);
    e.payload.set("mbit_per_s", finished.mibPerS * 8.388608);
    Poco::JSON::Object sources(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto &[peerId, bytes] : finished.bytesBySource)
        sources.set(peerId, bytes);
    e.payload.set("sources", sources);
    return e;
}

Event downloadFailed(const std::string &game, const std::string &error) {
    Event e = gameEvent("download-failed", game);
    e.payload.set("error", error);
    return e;
}

Event downloadCancelled(const std::string &game) {
    return gameEvent("download-cancelled", game);
}

Event installBegin(const std::string &game, bool update) {
    Event e = gameEvent("install-begin", game);
    e.payload.set("update", update);
    return e;
}

Event installFinished(const std::string &game, uint64_t files, uint64_t bytes, bool updated) {
    Event e = gameEvent("install-finished", game);
    e.payload.set("files", files);
    e.payload.set("bytes", bytes);
    e.payload.set("updated", updated);
    return e;
}

Event installFailed(const std::string &game, const std::string &error) {
    Event e = gameEvent("install-failed", game);
    e.payload.set("error", error);
    return e;
}

Event uninstallBegin(const std::string &game) {
    return gameEvent("uninstall-begin", game);
}

Event uninstallFinished(const std::string &game) {
    return gameEvent("uninstall-finished", game);
}

Event uninstallFailed(const std::string &game, const std::string &error) {
    Event e = gameEvent("uninstall-failed", game);
    e.payload.set("error", error);
    return e;
}

} // namespace lanspread::kernel::contract
