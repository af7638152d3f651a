// The events of the command contract, built here and nowhere else: each builder returns the
// topic and the payload that EventBus::publish() turns into the line
// {"event":topic,"ts_ms":...,...payload}. Field names, order and JSON types are the contract
// frontends and scripts parse; change them only on purpose.
#pragma once

#include <lanspread/kernel/contract/views.hpp>

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::kernel::contract {

struct Event {
    std::string topic;
    Poco::JSON::Object payload;
};

// --- this peer ---
Event localPeerReady(const std::string &peerId, const std::string &listenAddr);
Event runtimeFailed(const std::string &component, const std::string &error);
Event localLibraryChanged(uint64_t revision, const std::vector<LocalGameView> &games);
Event activeOperations(const OperationsView &operations);

// --- other peers ---
// via: "mdns" (discovery found it) or "connect" (a connect command, or a redial)
Event peerDiscovered(const std::string &peerId, const std::string &addr, const std::string &via);
Event peerConnected(const PeerView &peer);
Event peerUpdated(const PeerView &peer);
Event peerLost(const std::string &peerId, const std::string &addr, const std::string &reason);
// A peer's handshake was refused by either side for code (party-key-mismatch): it did not
// join, and it is not dialled again automatically.
Event peerRefused(const std::string &peerId, const std::string &addr, const std::string &code,
                  const std::string &reason);

// --- downloads ---
Event noPeersHaveGame(const std::string &game);
// The voted file list and its sources (peerAddrs[i] is peerIds[i]'s address).
Event gotGameFiles(const std::string &game, const std::vector<FileView> &files,
                   const std::vector<std::string> &peerAddrs,
                   const std::vector<std::string> &peerIds);
Event downloadBegin(const std::string &game, uint64_t bytesTotal, uint64_t bytesResumed,
                    const std::vector<std::string> &peerAddrs);
Event downloadProgress(const DownloadProgressView &progress);
Event downloadChunkFinished(const ChunkView &chunk);
Event downloadChunkRejected(const ChunkView &chunk, const std::string &reason);
Event downloadPeersGone(const std::string &game);
// mbit_per_s is mib_per_s * 8.388608 exactly.
Event downloadFinished(const DownloadFinishedView &finished);
Event downloadFailed(const std::string &game, const std::string &error);
Event downloadCancelled(const std::string &game);

// --- installs ---
Event installBegin(const std::string &game, bool update);
Event installFinished(const std::string &game, uint64_t files, uint64_t bytes, bool updated);
Event installFailed(const std::string &game, const std::string &error);
Event uninstallBegin(const std::string &game);
Event uninstallFinished(const std::string &game);
Event uninstallFailed(const std::string &game, const std::string &error);

} // namespace lanspread::kernel::contract
