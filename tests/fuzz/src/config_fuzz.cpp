// Fuzz target: config parsing (kernel/src/host/settings.cpp, Settings::fromConfig, with
// refuseUnknownKeys/keysBelow/nearestKey), over an INI file layered on the embedded default
// the way lanspreadd does it (apps/lanspreadd/main.cpp: default < --config file). Input: the
// INI text. Invariants: once Poco has read the INI (a malformed file stops lanspreadd there,
// with Poco's message), fromConfig never throws — it fails naming the key — and the settings it
// accepts hold their documented ranges.
#include "fuzz_support.hpp"

#include <lanspread/kernel/host/settings.hpp>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <sstream>
#include <string>

namespace host = lanspread::kernel::host;
using lanspread::fuzz::check;
using lanspread::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    const std::string text(reinterpret_cast<const char *>(data), size);
    Poco::AutoPtr<Poco::Util::LayeredConfiguration> config(new Poco::Util::LayeredConfiguration);
    try {
        std::istringstream defaults(host::embeddedDefaultConfig());
        config->add(new Poco::Util::IniFileConfiguration(defaults), 0);
        std::istringstream file(text);
        config->add(new Poco::Util::IniFileConfiguration(file), 100);
    } catch (const Poco::Exception &) {
        return 0; // Poco refuses the file as INI: lanspreadd stops with Poco's message
    }
    try {
        auto settings = host::Settings::fromConfig(*config);
        if (!settings.ok()) {
            check(!settings.status().message().empty(), "a refused config without a message");
            return 0;
        }
        const host::Settings &s = settings.value();
        check(s.peerTimeoutMs >= 1000 && s.peerTimeoutMs <= 3600000,
              "peer_timeout_ms out of range was accepted");
        check(s.transportFallbackMs >= 0 && s.transportFallbackMs <= 60000,
              "transport_fallback_ms out of range was accepted");
        check(s.uploadLimitMiBps >= 0, "a negative upload limit was accepted");
        check(!s.gamesDir.empty() && !s.stateDir.empty() && !s.listenAddr.empty(),
              "an empty games/state/listen was accepted");
        for (const auto &p : s.plugins)
            check(!p.empty(), "an empty plugin name was accepted");
    } catch (const std::exception &e) {
        fail(std::string("Settings::fromConfig threw instead of failing: ") + e.what());
    }
    return 0;
}
