// LAN discovery glue: advertises this peer through every loaded lanspread.discovery/1 plugin
// and turns what they find into candidates for the peer network. The service type is
// "_lanspread._udp"; the TXT record carries peer_id, proto (PROTOCOL_VERSION), rev (library
// revision), name and transports (each transport the peer listens with and its port,
// preferred first: "quic:40001,tls:40001"; the SRV port is the first one's). A dialer then
// tries only the transports the peer has, each at its own port. A found service with another
// protocol is ignored with one log line per instance; one without a valid peer_id, or with our
// own, is ignored. It also keeps whether each plugin works (status "discovery"): what the
// plugin last said in a LANSPREAD_DISCOVERY_STATE_TOPIC event, else what advertise() and
// browse() returned. Thread: reactor.
#pragma once

#include <lanspread/kernel/contract/views.hpp>
#include <lanspread/kinds/discovery.h>
#include <lanspread/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::peers {

constexpr const char *kServiceType = "_lanspread._udp";

struct DiscoveryRef {
    std::string id; // plugin id
    const lanspread_discovery_v1 *vtable = nullptr;
    void *state = nullptr;
};

// A transport a peer listens with: its short name ("quic", "tls") and port.
struct AnnouncedTransport {
    std::string name;
    uint16_t port = 0;
    bool operator==(const AnnouncedTransport &) const = default;
};

// What a TXT record says about a peer. Exposed for tests.
struct Announcement {
    std::string peerId;
    uint32_t protocol = 0;
    uint64_t revision = 0;
    std::string name;
    // Preferred first; empty when the record has none (a peer before the key: dial every
    // transport at the SRV port).
    std::vector<AnnouncedTransport> transports;
};
std::vector<std::string> encodeAnnouncement(const Announcement &a); // "key=value" strings
// Fails naming the missing or malformed key.
Result<Announcement> decodeAnnouncement(const std::vector<std::string> &txt);

class LanDiscovery {
  public:
    // A peer to connect to: the peer_id it announced, its SRV "ip:port", and where each
    // transport it announced listens (short name -> "ip:port"; empty when it announced none).
    using Found = std::function<void(const std::string &peerId, const std::string &addr,
                                     const std::map<std::string, std::string> &addrByTransport)>;

    LanDiscovery(std::string ownPeerId, Found found);
    ~LanDiscovery();
    LanDiscovery(const LanDiscovery &) = delete;
    LanDiscovery &operator=(const LanDiscovery &) = delete;

    // Advertises (name, port, revision, transports) and browses with every plugin. port is
    // the SRV port: the preferred transport's.
    void start(std::vector<DiscoveryRef> plugins, const std::string &name, uint16_t port,
               uint64_t revision, std::vector<AnnouncedTransport> transports = {});
    // The library revision changed: the TXT record follows.
    void updateRevision(uint64_t revision);
    void stop();

    // A plugin's LANSPREAD_DISCOVERY_STATE_TOPIC event: state "working" or "not-working", and
    // why not. May come from inside start() (a daemon unreachable at once). Ignored, with a
    // log line, for a plugin start() was not given or a state that is neither.
    void reportState(const std::string &pluginId, const std::string &state,
                     const std::string &reason);
    // What status shows: the first plugin (in start order) that works, else the first one;
    // state "off" before start() or with no plugin.
    contract::DiscoveryView view() const;

  private:
    struct Active {
        DiscoveryRef ref;
        lanspread_discovery_advert *advert = nullptr;
        lanspread_discovery_browse *browse = nullptr;
    };
    static void onResolved(void *user, const lanspread_discovered_service *service);
    static void onLost(void *user, const char *instance);
    std::vector<const char *> txtPointers(std::vector<std::string> &storage) const;

    std::string _ownPeerId;
    Found _found;
    Announcement _own;
    std::vector<Active> _active;
    lanspread_discovery_events _events{};
    std::set<std::string> _warned; // instances already logged as ignored

    struct PluginState {
        bool reported = false; // the plugin has said itself (reportState), which then counts
        bool working = true;
        std::string reason;
        // advertise() or browse() failed and gave no handle: that part never retries, so the
        // plugin does not work whatever it reports later.
        std::string refused;
    };
    std::vector<std::string> _order; // plugin ids, in start order
    std::map<std::string, PluginState> _states;
};

} // namespace lanspread::kernel::peers
