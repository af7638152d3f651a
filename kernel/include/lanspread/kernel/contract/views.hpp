// Plain views of domain state, filled by the components that own it and turned into the
// contract's JSON by results.hpp and events.hpp. They hold only what the JSON shows, so the
// contract needs none of the domain's headers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lanspread::kernel::contract {

// A catalog game on this peer's disk (list-games "local", local-library-changed).
struct LocalGameView {
    std::string id;
    std::string name;
    std::string version; // version.ini content, "" when not downloaded
    bool downloaded = false;
    bool installed = false;
    std::string availability; // Ready, Stale, LocalOnly, None
    uint64_t sizeBytes = 0;
};

// A game as a remote peer advertises it.
struct PeerGameView {
    std::string id;
    std::string version;
    std::string availability;
};

// A game a remote peer is downloading: how many of its chunks it has verified and serves.
struct PeerPartialView {
    std::string id;
    std::string version;
    uint64_t chunksHave = 0;
    uint64_t chunkCount = 0;
};

// A connected peer (list-peers, peer-connected, peer-updated).
struct PeerView {
    std::string peerId;
    std::string name;
    std::string addr;                      // its listener "ip:port"
    std::string via;                       // "connect", "mdns" or "incoming"
    std::vector<PeerGameView> games;       // sorted by id
    std::vector<PeerPartialView> partials; // sorted by id
    std::string transport;                 // the connection's transport: "quic", "tls"
};

// A catalog game connected peers offer (list-games "remote").
struct RemoteGameView {
    std::string id;
    std::string name;
    std::string catalogVersion;    // shown as eti_game_version
    uint64_t peerCount = 0;        // complete (ready) sources
    uint64_t partialPeerCount = 0; // peers downloading it at the catalog version
    uint64_t sizeBytes = 0;
};

// Game id -> its running operation's name ("Downloading", "Installing", ...).
using OperationsView = std::map<std::string, std::string>;

// What play wrote into the game's launch settings.
struct LaunchSettingsView {
    bool alreadyApplied = false;
    bool accountNameWritten = false;
    bool languageWritten = false;
    bool personaNameWritten = false;
};

struct PluginView {
    std::string id;
    std::string kind;
    std::string version;
    std::string path;
};

struct RejectedPluginView {
    std::string path; // "" for a plugin id that names no file
    std::string failure;
    std::string reason;
};

// Whether this peer can be found on the LAN (status "discovery"): state "working",
// "not-working" or "off" (no discovery plugin loaded); the plugin it describes ("" when off);
// why it is not working ("" when working or off), a phrase a frontend can put in a sentence
// ("avahi-daemon is not running").
struct DiscoveryView {
    std::string state = "off";
    std::string plugin;
    std::string reason;
};

// The status command: the process's part (the kernel) and the peer's part (the runtime).
struct StatusView {
    std::string name;
    std::string version;
    int pid = 0;
    std::string listenAddr; // the setting, or the transport's real address once it listens
    // Every transport listening, preferred first: short name, plugin id, "ip:port".
    struct TransportView {
        std::string transport;
        std::string plugin;
        std::string listenAddr;
    };
    std::vector<TransportView> transports;
    std::string gamesDir;
    std::string stateDir;
    std::vector<PluginView> plugins;
    std::vector<RejectedPluginView> rejectedPlugins;
    std::string peerId;
    std::string catalog; // where the catalog was loaded from
    OperationsView activeOperations;
    uint32_t protocolVersion = 0;
    std::map<std::string, int> outboundTransfers; // game -> requests being served
    std::size_t peerCount = 0;
    uint64_t libraryRevision = 0;
    DiscoveryView discovery;
};

// One file of a game's file list (got-game-files).
struct FileView {
    std::string path;
    uint64_t size = 0;
};

// One chunk a source delivered (download-chunk-finished, download-chunk-rejected).
struct ChunkView {
    std::string game;
    std::string path;
    uint64_t offset = 0;
    uint64_t bytes = 0;
    std::string peerId;
    std::string peerAddr;
};

struct DownloadProgressView {
    std::string game;
    uint64_t bytesDone = 0;
    uint64_t bytesTotal = 0;
    double mibPerS = 0; // since the last progress event
    int activePeers = 0;
};

struct DownloadFinishedView {
    std::string game;
    uint64_t bytes = 0; // fetched in this run
    uint64_t bytesTotal = 0;
    int64_t durationMs = 0;
    double mibPerS = 0;
    std::map<std::string, uint64_t> bytesBySource; // peer_id -> bytes
};

} // namespace lanspread::kernel::contract
