// What a peer runs with: paths, name, listen address and the plugins to load, read from a
// layered configuration (embedded default < --config file < command-line flags).
#pragma once

#include <lanspread/result.hpp>

#include <Poco/Util/AbstractConfiguration.h>

#include <string>
#include <vector>

namespace lanspread::kernel::host {

struct Settings {
    std::string name;        // lanspread.name: shown to other peers
    std::string gamesDir;    // lanspread.games
    std::string stateDir;    // lanspread.state
    std::string catalogPath; // lanspread.catalog (empty: the bundled catalog)
    std::string listenAddr;  // lanspread.listen, "ip:port"
    std::string pluginDir;   // lanspread.plugin_dir (empty: <exe>/../lib/lanspread/plugins)
    std::vector<std::string> plugins; // lanspread.plugins: ids or .so paths, comma-separated
    std::string
        logLevel; // lanspread.log_level: debug|info|warning|error, or auto (the app decides)
    double uploadLimitMiBps = 0; // lanspread.upload_limit_mib_s: serving cap, 0 = none
    // lanspread.serve_while_downloading: serve the verified chunks of games being downloaded
    // (the swarm). Off only to measure what the swarm gains.
    bool serveWhileDownloading = true;
    // lanspread.peer_timeout_ms: a peer silent this long is gone (its connection closes);
    // keep-alives go out at a quarter of it, so a live idle peer never hits it.
    int64_t peerTimeoutMs = 10000;
    // lanspread.transport_fallback_ms: how long a dial waits for the preferred transport to
    // connect before it also tries the next one (QUIC over UDP a firewall drops -> TLS).
    int64_t transportFallbackMs = 1500;
    // Limits under hostile load. lanspread.hello_timeout_ms: an incoming connection that sends
    // no Hello this long (a dial with no HelloAck) is closed.
    int64_t helloTimeoutMs = 10000;
    // lanspread.max_connections_per_address: incoming connections one remote address may hold
    // at once (loopback not capped); a real peer needs one.
    int64_t maxConnectionsPerAddress = 8;
    // lanspread.max_requests_per_peer: requests one peer may have open here at once.
    int64_t maxRequestsPerPeer = 64;

    // lanspread.party_key (a passphrase) or lanspread.party_key_file (a file holding the
    // secret): at most one, not empty. Neither: no party key, anyone on the LAN may join.
    // The runtime stretches it once at start (peers/party_key.hpp).
    std::string partyKey;
    std::string partyKeyFile;

    // Reads the lanspread.* keys; fails naming the key when one is malformed or unknown
    // (a misspelt key would otherwise be silently ignored).
    static Result<Settings> fromConfig(const Poco::Util::AbstractConfiguration &config);
};

// The [lanspread] keys the kernel reads: Settings' own, and lanspread.transport and
// lanspread.unpacker (read when the runtime starts).
const std::vector<std::string> &lanspreadKeys();

// Every key set below section ("lanspread", "plugin.<id>"), named relative to it ("tls.cert"
// for plugin.<id>.tls.cert). Keys below one of skip (full section names: another plugin's
// section nested in this one, plugin.a.b inside plugin.a) are left out.
std::vector<std::string> keysBelow(const Poco::Util::AbstractConfiguration &config,
                                   const std::string &section,
                                   const std::vector<std::string> &skip = {});

// Fails on the first key below section (see keysBelow) that is not one of known, in one line
// naming the key and the known key nearest to it. Keys compare without case, as INI keys do.
Status refuseUnknownKeys(const Poco::Util::AbstractConfiguration &config,
                         const std::string &section, const std::vector<std::string> &known,
                         const std::vector<std::string> &skip = {});

// The known key nearest to key by edit distance (without case), or "" when none is near
// enough to be a typo of it (more than two edits and more than a third of the letters).
std::string nearestKey(const std::string &key, const std::vector<std::string> &known);

// The INI text used when no --config is given: every in-tree plugin, ./games, ./state,
// an ephemeral port on all interfaces.
const char *embeddedDefaultConfig();

// Where the in-tree plugins are when none is configured: <dir of exe>/../lib/lanspread/plugins.
std::string defaultPluginDir();

} // namespace lanspread::kernel::host
