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
    // lanspread.peer_timeout_ms: a peer silent this long is gone (its connection closes);
    // keep-alives go out at a quarter of it, so a live idle peer never hits it.
    int64_t peerTimeoutMs = 10000;

    // Reads the lanspread.* keys; fails naming the key when one is malformed.
    static Result<Settings> fromConfig(const Poco::Util::AbstractConfiguration &config);
};

// The INI text used when no --config is given: every in-tree plugin, ./games, ./state,
// an ephemeral port on all interfaces.
const char *embeddedDefaultConfig();

// Where the in-tree plugins are when none is configured: <dir of exe>/../lib/lanspread/plugins.
std::string defaultPluginDir();

} // namespace lanspread::kernel::host
