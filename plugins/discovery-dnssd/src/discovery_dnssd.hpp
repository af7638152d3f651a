// discovery-dnssd: the plugin object (org.lanspread.discovery.dnssd) — "lanspread.discovery/1"
// over Avahi's Bonjour compat API. See README.md for the design, the compat layer's limits,
// the config keys and the failure behaviour.
//
// Objects:
//   DnssdDiscovery  the plugin (owns the Core); its own C vtable, because advertise() must be
//                   able to return E_IO *and* an advert, which the SDK's C++ wrapper cannot;
//   Core            host, options, the DnsSd backend, the channel reaper, daemon-health logs;
//   Channel         one ServiceRef with its fd watched on the host reactor;
//   Persistent      a ref that must stay up (a registration, a browse): re-created every
//                   retry_ms after it failed;
//   Advert, Browse  the handles given to the host (Browse also runs the resolve → address
//                   lookups and merges what they find).
// Everything runs on the reactor thread.
#pragma once

#include "dnssd_api.hpp"

#include <lanspread/kinds/discovery.hpp>
#include <lanspread/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace lanspread::plugins::dnssd {

constexpr const char *kPluginId = "org.lanspread.discovery.dnssd";
// The reason the plugin reports (LANSPREAD_DISCOVERY_STATE_TOPIC) while avahi-daemon cannot be
// reached: the compat layer's kDNSServiceErr_Unknown from a create call or a live ref.
constexpr const char *kDaemonDownReason = "avahi-daemon is not running";

struct Options {
    std::chrono::milliseconds retry{2000};          // retry_ms
    std::chrono::milliseconds resolveTimeout{5000}; // resolve_timeout_ms
};
// The plugin's config keys; a bad value is logged and replaced by its default.
Options readOptions(const Host &host);

// Create-call errors that retrying cannot fix (a bad type, name or TXT): no retry, and the
// host gets E_INVALID_ARGUMENT.
bool isArgumentError(ErrorCode error);

class Core;

// One live ServiceRef whose fd is watched on the host reactor; when the fd is readable it
// calls processResult(), which delivers the ref's replies. Destroyed only through
// Core::retire(), which defers the destruction while the channel's own callback runs.
class Channel {
  public:
    Channel(Core &core, std::string what);
    ~Channel();
    Channel(const Channel &) = delete;
    Channel &operator=(const Channel &) = delete;

    // Wraps a reply handler: dropped once the channel is retired (so nothing reaches an
    // owner that is gone), and an exception is logged instead of unwinding into the library.
    template <typename Reply>
    std::function<void(const Reply &)> guard(std::function<void(const Reply &)> handler);

    // Takes the created ref and watches its fd. Fails when the host refuses the watch.
    Status attach(std::unique_ptr<ServiceRef> ref);
    ServiceRef &ref() const { return *_ref; }
    const std::string &what() const { return _what; }

    // Called (unless retired) when processResult() fails: the ref is dead.
    std::function<void(ErrorCode)> onFailure;

  private:
    friend class Core;
    static void onReadable(void *userData, int fd, uint32_t revents) noexcept;
    void unwatch();
    void logException(const char *where) const noexcept;

    Core &_core;
    std::string _what;
    std::unique_ptr<ServiceRef> _ref;
    uint64_t _watchId = 0;
    bool _watching = false;
    bool _retired = false;
    bool _dispatching = false;
};

template <typename Reply>
std::function<void(const Reply &)> Channel::guard(std::function<void(const Reply &)> handler) {
    return [this, handler = std::move(handler)](const Reply &reply) {
        if (_retired)
            return;
        try {
            handler(reply);
        } catch (...) {
            logException("DNS-SD reply handler");
        }
    };
}

class Core {
  public:
    Core(Host host, Options options, std::unique_ptr<DnsSd> dnssd);
    ~Core();
    Core(const Core &) = delete;
    Core &operator=(const Core &) = delete;

    const Host &host() const { return _host; }
    const Options &options() const { return _options; }
    DnsSd &dnssd() { return *_dnssd; }
    void setDnsSd(std::unique_ptr<DnsSd> dnssd) { _dnssd = std::move(dnssd); }

    // Unwatches the channel now and frees its ref now, or on the next loop turn when the
    // channel's own processResult() is on the stack.
    void retire(std::unique_ptr<Channel> channel);

    // "2 s", "500 ms": the retry interval for log lines.
    std::string retryText() const;
    // A ref lost avahi-daemon. The first of an outage logs the one line "avahi-daemon is not
    // reachable (...); retrying every 2 s; direct connect still works", the others debug.
    void enterDaemonDown(const std::string &detail);
    // That ref came back, or was stopped; the outage ends when no ref is down any more.
    void leaveDaemonDown() { --_refsDown; }

    // Whether discovery works, reported to the host (LANSPREAD_DISCOVERY_STATE_TOPIC) each
    // time it changes: not-working while any registration or browse is failing and being
    // retried ("avahi-daemon is not running" during an outage, else the last failure),
    // working again once every one is back. A ref that is stopped leaves the count silently
    // (the host is taking discovery down).
    void refFailing(const std::string &detail);
    void refRecovered();
    void refStopped() { --_refsFailing; }

  private:
    void reap();
    void reportState();

    Host _host;
    Options _options;
    std::unique_ptr<DnsSd> _dnssd;
    std::vector<std::unique_ptr<Channel>> _graveyard;
    Timer _reapTimer;
    int _refsDown = 0;            // Persistent refs that lost avahi-daemon and have not recovered
    int _refsFailing = 0;         // Persistent refs failed and being retried, for any reason
    std::string _lastFailure;     // the newest of their failures, for the reported reason
    bool _reportedWorking = true; // what the host last heard (it assumes working until told)
    std::string _reportedReason;
};

// A registration or browse that must stay up: when its ref fails (avahi-daemon went away,
// or an error reply), it is torn down and re-created every retry_ms until that works.
class Persistent {
  public:
    Persistent(Core &core, std::string what);
    virtual ~Persistent();
    Persistent(const Persistent &) = delete;
    Persistent &operator=(const Persistent &) = delete;

  protected:
    // Creates the ref: a Channel whose replies go to the subclass. Returns its error.
    virtual ErrorCode create(std::unique_ptr<Channel> *out) = 0;
    // The channel was torn down after a failure (a browse forgets what it found).
    virtual void onTornDown() {}

    // The first attempt. On an error that is not isArgumentError() it logs and schedules
    // the retries. Returns the create call's error.
    ErrorCode startFirst();
    // Tears the live channel down after a failure and schedules the retries.
    void fail(const std::string &where, ErrorCode error);
    // Retires the channel and stops retrying (destructors).
    void stop();
    Channel *channel() const { return _channel.get(); }
    Core &core() const { return _core; }
    const std::string &what() const { return _what; }

  private:
    ErrorCode tryCreate();
    void report(const std::string &where, ErrorCode error);
    // Counts this ref in Core's failing refs until it recovers or stops (once per outage).
    void markFailing(const std::string &detail);
    void scheduleRetry();
    void onRetry();

    Core &_core;
    std::string _what; // "registration of \"x\" (_lanspread._udp)"
    std::unique_ptr<Channel> _channel;
    Timer _retryTimer;
    ErrorCode _lastError = kErrNoError; // the last failure logged (repeats go to debug)
    bool _daemonDown = false;           // counted in Core's outage
    bool _failing = false;              // counted in Core's refFailing
};

class Advert final : public DiscoveryAdvert, private Persistent {
  public:
    Advert(Core &core, ServiceRecord record, std::vector<uint8_t> txt);
    ~Advert() override;

    ErrorCode start() { return startFirst(); }
    Status updateTxt(const std::vector<std::string> &txt) override;

    const Host &host() const { return core().host(); }
    // The name avahi registered (after a rename), "" until the registration callback.
    const std::string &registeredName() const { return _registeredName; }

  private:
    ErrorCode create(std::unique_ptr<Channel> *out) override;
    void onTornDown() override;
    void onRegistered(const RegisterReply &reply);

    ServiceRecord _record;
    std::vector<uint8_t> _txt;
    std::string _registeredName;
};

class Browse final : public DiscoveryBrowse, private Persistent {
  public:
    Browse(Core &core, std::string type, DiscoveryEvents events);
    ~Browse() override;

    ErrorCode start() { return startFirst(); }

  private:
    // Where one instance was seen: Avahi reports an instance once per interface and
    // protocol (IPv4/IPv6 give the same key twice), each Add matched by a Remove.
    struct PresenceKey {
        uint32_t interfaceIndex = 0;
        std::string domain;
        bool operator<(const PresenceKey &o) const {
            return std::tie(interfaceIndex, domain) < std::tie(o.interfaceIndex, o.domain);
        }
    };
    // A resolve, then an A-record query, for one presence; each step a short-lived ref.
    struct Lookup {
        Lookup(Core &core, std::string name, std::string type, PresenceKey key);
        ~Lookup();
        Lookup(const Lookup &) = delete;
        Lookup &operator=(const Lookup &) = delete;

        Core &core;
        std::string name;
        std::string type;
        PresenceKey key;
        std::unique_ptr<Channel> channel;
        Timer timeout;
        std::string hostTarget;
        uint16_t port = 0;
        std::vector<std::string> txt;
    };
    struct Instance {
        std::map<PresenceKey, int> presences;
        std::map<PresenceKey, std::unique_ptr<Lookup>> lookups;
        bool reported = false; // on_resolved was emitted (so on_lost is owed)
        DiscoveredService last;
    };

    ErrorCode create(std::unique_ptr<Channel> *out) override;
    void onTornDown() override;

    void onBrowseReply(const BrowseReply &reply);
    void startLookup(Instance &instance, const std::string &name, const std::string &type,
                     const PresenceKey &key);
    void onResolveReply(Lookup &lookup, const ResolveReply &reply);
    void onQueryReply(Lookup &lookup, const QueryReply &reply);
    void lookupFailed(Lookup &lookup, const char *step, ErrorCode error);
    void armTimeout(Lookup &lookup, const char *step);
    void finishLookup(Lookup &lookup); // destroys it
    void report(DiscoveredService service);

    std::string _type;
    DiscoveryEvents _events;
    std::map<std::string, Instance> _instances;
};

class DnssdDiscovery final : public Plugin {
  public:
    explicit DnssdDiscovery(Host host);
    ~DnssdDiscovery() override;

    const void *interfaceFor(std::string_view interfaceId) override;

    // The seam: replaces the DNS-SD backend (tests; call before advertise/browse).
    void setDnsSd(std::unique_ptr<DnsSd> dnssd) { _core->setDnsSd(std::move(dnssd)); }
    const Options &options() const { return _core->options(); }

    // What the vtable calls. advertise() may return E_IO together with an advert.
    lanspread_status advertise(const ServiceRecord &record, std::unique_ptr<Advert> *out);
    lanspread_status browse(const std::string &type, DiscoveryEvents events,
                            std::unique_ptr<Browse> *out);

  private:
    std::unique_ptr<Core> _core;
};

} // namespace lanspread::plugins::dnssd
