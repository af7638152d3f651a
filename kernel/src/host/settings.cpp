#include <lanspread/kernel/host/settings.hpp>

#include <Poco/Path.h>
#include <Poco/StringTokenizer.h>

#include <unistd.h>

#include <climits>
#include <stdexcept>

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

Result<Settings> Settings::fromConfig(const Poco::Util::AbstractConfiguration &config) {
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

} // namespace lanspread::kernel::host
