#include <lanspread/kernel/host/settings.hpp>

#include <Poco/Ascii.h>
#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <Poco/StringTokenizer.h>

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <tuple>

#ifndef LANSPREAD_DEFAULT_PLUGINS
#error "LANSPREAD_DEFAULT_PLUGINS must list the in-tree plugin ids (set by kernel/CMakeLists.txt)"
#endif

namespace lanspread::kernel::host {

const char *embeddedDefaultConfig() {
    return "; lanspread's embedded default configuration (used when no --config is given)\n"
           "[lanspread]\n"
           "games = ./games\n"
           "state = ./state\n"
           "listen = 0.0.0.0:0\n"
           "log_level = auto\n"
           "plugins = " LANSPREAD_DEFAULT_PLUGINS "\n";
}

std::string defaultPluginDir() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0)
        return "lib/lanspread/plugins";
    buffer[n] = '\0';
    Poco::Path exe(buffer);
    Poco::Path dir = exe.parent().popDirectory(); // <prefix>/bin/.. = <prefix>
    dir.pushDirectory("lib").pushDirectory("lanspread").pushDirectory("plugins");
    return dir.toString();
}

const std::vector<std::string> &lanspreadKeys() {
    // Settings::fromConfig reads all but the last two; the kernel reads transport and
    // unpacker when the runtime starts (kernel.cpp).
    static const std::vector<std::string> keys = {"games",
                                                  "state",
                                                  "catalog",
                                                  "listen",
                                                  "name",
                                                  "plugin_dir",
                                                  "plugins",
                                                  "log_level",
                                                  "peer_timeout_ms",
                                                  "transport_fallback_ms",
                                                  "upload_limit_mib_s",
                                                  "transport",
                                                  "unpacker",
                                                  "serve_while_downloading",
                                                  "party_key",
                                                  "party_key_file",
                                                  "hello_timeout_ms",
                                                  "max_connections_per_address",
                                                  "max_requests_per_peer"};
    return keys;
}

namespace {

void collectKeys(const Poco::Util::AbstractConfiguration &config, const std::string &full,
                 const std::string &relative, const std::vector<std::string> &skip,
                 std::vector<std::string> &out) {
    Poco::Util::AbstractConfiguration::Keys children;
    config.keys(full, children);
    for (const auto &child : children) {
        const std::string childFull = full + "." + child;
        const std::string childRelative = relative.empty() ? child : relative + "." + child;
        bool skipped = false;
        for (const auto &section : skip)
            skipped = skipped || Poco::icompare(section, childFull) == 0;
        if (skipped)
            continue;
        if (config.hasProperty(childFull))
            out.push_back(childRelative);
        collectKeys(config, childFull, childRelative, skip, out);
    }
}

// Levenshtein distance, without case.
std::size_t editDistance(const std::string &a, const std::string &b) {
    std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        previous[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const bool same = Poco::Ascii::toLower(a[i - 1]) == Poco::Ascii::toLower(b[j - 1]);
            current[j] =
                std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

} // namespace

std::vector<std::string> keysBelow(const Poco::Util::AbstractConfiguration &config,
                                   const std::string &section,
                                   const std::vector<std::string> &skip) {
    std::vector<std::string> out;
    collectKeys(config, section, "", skip, out);
    return out;
}

std::string nearestKey(const std::string &key, const std::vector<std::string> &known) {
    std::string best;
    std::size_t bestDistance = 0;
    for (const auto &candidate : known) {
        const std::size_t distance = editDistance(key, candidate);
        if (best.empty() || distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    // A typo: two edits, or up to a third of the letters of a long key.
    const std::size_t allowed = std::max<std::size_t>(2, std::max(key.size(), best.size()) / 3);
    return !best.empty() && bestDistance <= allowed ? best : std::string();
}

Status refuseUnknownKeys(const Poco::Util::AbstractConfiguration &config,
                         const std::string &section, const std::vector<std::string> &known,
                         const std::vector<std::string> &skip) {
    for (const auto &key : keysBelow(config, section, skip)) {
        bool isKnown = false;
        for (const auto &k : known)
            isKnown = isKnown || Poco::icompare(k, key) == 0;
        if (isKnown)
            continue;
        std::string hint;
        if (const std::string nearest = nearestKey(key, known); !nearest.empty()) {
            hint = "did you mean " + nearest + "?";
        } else if (known.empty()) {
            hint = "it reads no keys";
        } else {
            hint = "known keys:";
            for (const auto &k : known)
                hint += " " + k;
        }
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "unknown key " + key + " in [" + section + "] (" + hint + ")");
    }
    return Status();
}

namespace {

// fromConfig without its guard: Poco's getInt64 throws on a value that is not an integer.
Result<Settings> readSettings(const Poco::Util::AbstractConfiguration &config) {
    if (Status known = refuseUnknownKeys(config, "lanspread", lanspreadKeys()); !known)
        return known;
    Settings s;
    s.gamesDir = config.getString("lanspread.games", "./games");
    s.stateDir = config.getString("lanspread.state", "./state");
    s.catalogPath = config.getString("lanspread.catalog", "");
    s.listenAddr = config.getString("lanspread.listen", "0.0.0.0:0");
    s.pluginDir = config.getString("lanspread.plugin_dir", "");
    s.logLevel = config.getString("lanspread.log_level", "auto");
    s.name = config.getString("lanspread.name", "");
    if (s.name.empty()) {
        char host[256] = {};
        s.name = ::gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "lanspread-peer";
    }
    if (s.pluginDir.empty())
        s.pluginDir = defaultPluginDir();
    s.peerTimeoutMs = config.getInt64("lanspread.peer_timeout_ms", 10000);
    if (s.peerTimeoutMs < 1000 || s.peerTimeoutMs > 3600000)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.peer_timeout_ms must be between 1000 and 3600000, got " +
                          std::to_string(s.peerTimeoutMs));
    s.transportFallbackMs = config.getInt64("lanspread.transport_fallback_ms", 1500);
    if (s.transportFallbackMs < 0 || s.transportFallbackMs > 60000)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.transport_fallback_ms must be between 0 and 60000, got " +
                          std::to_string(s.transportFallbackMs));
    for (const auto &[key, value, low, high, fallback] :
         {std::tuple<const char *, int64_t *, int64_t, int64_t, int64_t>{
              "hello_timeout_ms", &s.helloTimeoutMs, 1000, 60000, 10000},
          {"max_connections_per_address", &s.maxConnectionsPerAddress, 1, 4096, 8},
          {"max_requests_per_peer", &s.maxRequestsPerPeer, 1, 4096, 64}}) {
        *value = config.getInt64(std::string("lanspread.") + key, fallback);
        if (*value < low || *value > high)
            return Status(LANSPREAD_E_INVALID_ARGUMENT,
                          std::string("lanspread.") + key + " must be between " +
                              std::to_string(low) + " and " + std::to_string(high) + ", got " +
                              std::to_string(*value));
    }
    const std::string limit = config.getString("lanspread.upload_limit_mib_s", "0");
    try {
        std::size_t used = 0;
        s.uploadLimitMiBps = std::stod(limit, &used);
        if (used != limit.size() || !(s.uploadLimitMiBps >= 0))
            throw std::invalid_argument(limit);
    } catch (const std::exception &) {
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.upload_limit_mib_s must be a number >= 0 (MiB/s, 0 = no limit), "
                      "got '" +
                          limit + "'");
    }
    const bool hasKey = config.hasProperty("lanspread.party_key");
    const bool hasKeyFile = config.hasProperty("lanspread.party_key_file");
    if (hasKey && hasKeyFile)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.party_key and lanspread.party_key_file are both set; set one "
                      "(a passphrase, or a file that holds the secret)");
    s.partyKey = config.getString("lanspread.party_key", "");
    s.partyKeyFile = config.getString("lanspread.party_key_file", "");
    if (hasKey && s.partyKey.empty())
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.party_key is empty; give a passphrase, or remove the key to let "
                      "anyone on the LAN join");
    if (hasKeyFile && s.partyKeyFile.empty())
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.party_key_file is empty; give the path of the key file, or "
                      "remove the key to let anyone on the LAN join");
    const std::string serve = config.getString("lanspread.serve_while_downloading", "true");
    if (serve == "true" || serve == "on" || serve == "1")
        s.serveWhileDownloading = true;
    else if (serve == "false" || serve == "off" || serve == "0")
        s.serveWhileDownloading = false;
    else
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.serve_while_downloading must be true or false, got '" + serve +
                          "'");
    Poco::StringTokenizer list(config.getString("lanspread.plugins", ""), ",",
                               Poco::StringTokenizer::TOK_TRIM |
                                   Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    s.plugins.assign(list.begin(), list.end());

    for (const auto &[key, value] :
         {std::pair<const char *, const std::string *>{"lanspread.games", &s.gamesDir},
          {"lanspread.state", &s.stateDir},
          {"lanspread.listen", &s.listenAddr}})
        if (value->empty())
            return Status(LANSPREAD_E_INVALID_ARGUMENT, std::string(key) + " must not be empty");
    // ip:port, with an IPv6 address in brackets ([::1]:0): a bare IPv6 address has colons of
    // its own, so "::1" would otherwise read as host ":" and port 1.
    const auto colon = s.listenAddr.rfind(':');
    const bool ipv6 = s.listenAddr.find(':') != colon;
    const bool bracketed =
        s.listenAddr.front() == '[' && colon > 1 && s.listenAddr[colon - 1] == ']';
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.listenAddr.size() ||
        (ipv6 && !bracketed))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.listen must be ip:port (IPv6 as [addr]:port), got '" +
                          s.listenAddr + "'");
    const std::string port = s.listenAddr.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "lanspread.listen has an invalid port '" + port + "' (0-65535)");
    return s;
}

} // namespace

Result<Settings> Settings::fromConfig(const Poco::Util::AbstractConfiguration &config) {
    try {
        return readSettings(config);
    } catch (const Poco::SyntaxException &e) {
        // "peer_timeout_ms = 10s" failed deep in Poco ("Not a valid integer: 10s") and used to
        // escape as an exception (lanspreadd exited 70 without naming the key; found by
        // tests/fuzz config). Name the key whose value it is, like every other bad value.
        for (const std::string &key : keysBelow(config, "lanspread")) {
            const std::string value = config.getString("lanspread." + key, "");
            if (e.message().size() >= value.size() + 2 &&
                e.message().compare(e.message().size() - value.size() - 2, std::string::npos,
                                    ": " + value) == 0)
                return Status(LANSPREAD_E_INVALID_ARGUMENT,
                              "lanspread." + key + " must be an integer, got '" + value + "'");
        }
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "a [lanspread] number is malformed: " + e.message());
    }
}

} // namespace lanspread::kernel::host
