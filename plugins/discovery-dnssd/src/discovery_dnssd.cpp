#include "discovery_dnssd.hpp"

#include "txt_record.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <exception>
#include <utility>

namespace lanspread::plugins::dnssd {

// ---- options ---------------------------------------------------------------------------

namespace {
std::chrono::milliseconds readMs(const Host &host, const char *key,
                                 std::chrono::milliseconds fallback, uint64_t min, uint64_t max) {
    auto text = host.config(key);
    if (!text)
        return fallback;
    uint64_t value = 0;
    const char *end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || value < min || value > max) {
        host.warning(std::string("config ") + key + "=\"" + *text +
                     "\" is not a number of ms in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]; using " + std::to_string(fallback.count()));
        return fallback;
    }
    return std::chrono::milliseconds(value);
}
} // namespace

Options readOptions(const Host &host) {
    Options options;
    options.retry = readMs(host, "retry_ms", options.retry, 100, 3'600'000);
    options.resolveTimeout =
        readMs(host, "resolve_timeout_ms", options.resolveTimeout, 100, 600'000);
    return options;
}

bool isArgumentError(ErrorCode error) {
    return error == kErrBadParam || error == kErrInvalid || error == kErrUnsupported ||
           error == kErrBadFlags || error == kErrBadInterfaceIndex;
}

// ---- Channel ---------------------------------------------------------------------------

Channel::Channel(Core &core, std::string what) : _core(core), _what(std::move(what)) {}

Channel::~Channel() {
    unwatch();
    _ref.reset(); // DNSServiceRefDeallocate
}

Status Channel::attach(std::unique_ptr<ServiceRef> ref) {
    _ref = std::move(ref);
    const lanspread_host_api *api = _core.host().api();
    lanspread_status s =
        api->watch_fd(api, _ref->fd(), LANSPREAD_FD_READ, &Channel::onReadable, this, &_watchId);
    if (s != LANSPREAD_OK)
        return Status(s, "cannot watch the fd of the " + _what);
    _watching = true;
    return Status::ok();
}

void Channel::unwatch() {
    if (!_watching)
        return;
    const lanspread_host_api *api = _core.host().api();
    api->unwatch_fd(api, _watchId);
    _watching = false;
}

void Channel::logException(const char *where) const noexcept {
    try {
        throw;
    } catch (const std::exception &e) {
        try {
            _core.host().error(std::string("exception in ") + where + " (" + _what +
                               "): " + e.what());
        } catch (...) {
        }
    } catch (...) {
        try {
            _core.host().error(std::string("unknown exception in ") + where + " (" + _what + ")");
        } catch (...) {
        }
    }
}

void Channel::onReadable(void *userData, int, uint32_t) noexcept {
    auto *self = static_cast<Channel *>(userData);
    // While _dispatching, Core::retire() parks this channel instead of freeing it, so it
    // stays valid until this function returns (replies may retire it, or the host may stop
    // the owning browse from inside on_resolved).
    self->_dispatching = true;
    ErrorCode error = kErrNoError;
    try {
        error = self->_ref->processResult();
    } catch (...) {
        self->logException("DNSServiceProcessResult");
        error = kErrUnknown;
    }
    if (error != kErrNoError && !self->_retired && self->onFailure) {
        try {
            self->onFailure(error);
        } catch (...) {
            self->logException("failure handler");
        }
    }
    self->_dispatching = false;
}

// ---- Core ------------------------------------------------------------------------------

Core::Core(Host host, Options options, std::unique_ptr<DnsSd> dnssd)
    : _host(host), _options(options), _dnssd(std::move(dnssd)) {}

Core::~Core() {
    _reapTimer.reset();
    _graveyard.clear();
}

void Core::retire(std::unique_ptr<Channel> channel) {
    if (!channel)
        return;
    channel->_retired = true;
    channel->unwatch();
    if (!channel->_dispatching)
        return; // freed here: the ref is deallocated now
    _graveyard.push_back(std::move(channel));
    if (!_reapTimer.pending()) {
        auto timer = _host.startTimer(std::chrono::nanoseconds(0), [this] { reap(); });
        if (timer)
            _reapTimer = std::move(timer.value());
    }
}

void Core::reap() {
    auto dead = std::move(_graveyard);
    _graveyard.clear();
    dead.clear();
}

std::string Core::retryText() const {
    const auto ms = _options.retry.count();
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

void Core::enterDaemonDown(const std::string &detail) {
    if (_refsDown++ > 0) {
        _host.debug(detail);
        return;
    }
    _host.warning("avahi-daemon is not reachable (" + detail + "); retrying every " + retryText() +
                  "; direct connect still works");
}

namespace {
// A JSON string literal of text (quotes, backslashes and control characters escaped).
std::string jsonString(const std::string &text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            static const char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}
} // namespace

void Core::refFailing(const std::string &detail) {
    ++_refsFailing;
    _lastFailure = detail;
    reportState();
}

void Core::refRecovered() {
    --_refsFailing;
    reportState();
}

void Core::reportState() {
    const bool working = _refsFailing <= 0;
    const std::string reason = working         ? std::string()
                               : _refsDown > 0 ? std::string(kDaemonDownReason)
                                               : _lastFailure;
    if (working == _reportedWorking && reason == _reportedReason)
        return;
    _reportedWorking = working;
    _reportedReason = reason;
    const std::string payload = std::string("{\"plugin\":") + jsonString(kPluginId) +
                                ",\"state\":\"" + (working ? "working" : "not-working") +
                                "\",\"reason\":" + jsonString(reason) + "}";
    if (Status emitted = _host.emitEvent(LANSPREAD_DISCOVERY_STATE_TOPIC, payload); !emitted)
        _host.debug("could not report the discovery state: " + emitted.describe());
}

// ---- Persistent ------------------------------------------------------------------------

Persistent::Persistent(Core &core, std::string what) : _core(core), _what(std::move(what)) {}

Persistent::~Persistent() {
    stop();
}

void Persistent::stop() {
    _retryTimer.reset();
    _core.retire(std::move(_channel));
    if (_daemonDown) {
        _daemonDown = false;
        _core.leaveDaemonDown();
    }
    if (_failing) {
        _failing = false;
        _core.refStopped();
    }
}

ErrorCode Persistent::tryCreate() {
    std::unique_ptr<Channel> channel;
    const ErrorCode error = create(&channel);
    if (error != kErrNoError)
        return error;
    channel->onFailure = [this](ErrorCode e) { fail("DNSServiceProcessResult", e); };
    _channel = std::move(channel);
    return kErrNoError;
}

ErrorCode Persistent::startFirst() {
    const ErrorCode error = tryCreate();
    if (error == kErrNoError || isArgumentError(error))
        return error;
    report("create", error);
    markFailing(_what + ": create " + describeError(error));
    scheduleRetry();
    return error;
}

void Persistent::fail(const std::string &where, ErrorCode error) {
    _core.retire(std::move(_channel));
    onTornDown();
    report(where, error);
    markFailing(_what + ": " + where + " " + describeError(error));
    scheduleRetry();
}

void Persistent::markFailing(const std::string &detail) {
    if (_failing)
        return;
    _failing = true;
    _core.refFailing(detail);
}

void Persistent::report(const std::string &where, ErrorCode error) {
    const std::string detail = _what + ": " + where + " " + describeError(error);
    if (error == _lastError) {
        _core.host().debug(detail + " (again)");
        return;
    }
    _lastError = error;
    if (error == kErrUnknown && !_daemonDown) {
        _daemonDown = true;
        _core.enterDaemonDown(detail);
        return;
    }
    _core.host().warning(detail + "; retrying every " + _core.retryText());
}

void Persistent::scheduleRetry() {
    auto timer = _core.host().startTimer(_core.options().retry, [this] { onRetry(); });
    if (timer)
        _retryTimer = std::move(timer.value());
    else
        _core.host().error(_what + ": cannot start the retry timer; giving up");
}

void Persistent::onRetry() {
    const ErrorCode error = tryCreate();
    if (error == kErrNoError) {
        _lastError = kErrNoError;
        if (_daemonDown) {
            _daemonDown = false;
            _core.leaveDaemonDown();
            _core.host().info(_what + ": recovered, avahi-daemon is reachable again");
        } else {
            _core.host().info(_what + ": recovered");
        }
        if (_failing) {
            _failing = false;
            _core.refRecovered();
        }
        return;
    }
    report("create", error);
    scheduleRetry();
}

// ---- Advert ----------------------------------------------------------------------------

Advert::Advert(Core &core, ServiceRecord record, std::vector<uint8_t> txt)
    : Persistent(core,
                 "registration of \"" + record.instanceName + "\" (" + record.serviceType + ")"),
      _record(std::move(record)), _txt(std::move(txt)) {}

Advert::~Advert() {
    stop();
}

ErrorCode Advert::create(std::unique_ptr<Channel> *out) {
    auto channel = std::make_unique<Channel>(core(), what());
    std::unique_ptr<ServiceRef> ref;
    const ErrorCode error = core().dnssd().registerService(
        _record.instanceName, _record.serviceType, htons(_record.port), _txt,
        channel->guard<RegisterReply>([this](const RegisterReply &r) { onRegistered(r); }), &ref);
    if (error != kErrNoError)
        return error;
    if (Status watched = channel->attach(std::move(ref)); !watched) {
        core().host().error(watched.describe());
        return kErrUnknown;
    }
    *out = std::move(channel);
    return kErrNoError;
}

void Advert::onTornDown() {
    _registeredName.clear();
}

void Advert::onRegistered(const RegisterReply &reply) {
    if (reply.error != kErrNoError) {
        fail("registration callback", reply.error);
        return;
    }
    if (reply.name == _registeredName)
        return;
    _registeredName = reply.name;
    std::string line = "advertising \"" + reply.name + "\" (" + _record.serviceType + ", port " +
                       std::to_string(_record.port) + ")";
    if (!_record.instanceName.empty() && reply.name != _record.instanceName)
        line += ", renamed from \"" + _record.instanceName + "\" after a name conflict";
    core().host().info(line);
}

Status Advert::updateTxt(const std::vector<std::string> &txt) {
    auto encoded = encodeTxt(txt);
    if (!encoded)
        return encoded.status();
    _txt = std::move(encoded.value());
    Channel *live = channel();
    if (live == nullptr)
        return Status::ok(); // avahi-daemon is away: the next registration carries it
    const ErrorCode error = core().dnssd().updateTxt(live->ref(), _txt);
    if (error == kErrNoError)
        return Status::ok();
    if (isArgumentError(error))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "DNSServiceUpdateRecord refused the TXT: " + describeError(error));
    fail("DNSServiceUpdateRecord", error); // re-registers with the new TXT
    return Status::ok();
}

// ---- Browse ----------------------------------------------------------------------------

Browse::Lookup::Lookup(Core &c, std::string n, std::string t, PresenceKey k)
    : core(c), name(std::move(n)), type(std::move(t)), key(std::move(k)) {}

Browse::Lookup::~Lookup() {
    core.retire(std::move(channel));
}

Browse::Browse(Core &core, std::string type, DiscoveryEvents events)
    : Persistent(core, "browse of " + type), _type(std::move(type)), _events(events) {}

Browse::~Browse() {
    stop();
    _instances.clear();
}

ErrorCode Browse::create(std::unique_ptr<Channel> *out) {
    auto channel = std::make_unique<Channel>(core(), what());
    std::unique_ptr<ServiceRef> ref;
    const ErrorCode error = core().dnssd().browse(
        _type, channel->guard<BrowseReply>([this](const BrowseReply &r) { onBrowseReply(r); }),
        &ref);
    if (error != kErrNoError)
        return error;
    if (Status watched = channel->attach(std::move(ref)); !watched) {
        core().host().error(watched.describe());
        return kErrUnknown;
    }
    *out = std::move(channel);
    return kErrNoError;
}

void Browse::onTornDown() {
    // Forget everything without on_lost: the host keeps what it has until the new browse
    // reports it again (and then on_resolved comes again, however unchanged).
    _instances.clear();
}

void Browse::onBrowseReply(const BrowseReply &reply) {
    if (reply.error != kErrNoError) {
        fail("browse callback", reply.error);
        return;
    }
    const PresenceKey key{reply.interfaceIndex, reply.domain};
    if (reply.add) {
        Instance &instance = _instances[reply.name];
        if (++instance.presences[key] == 1)
            startLookup(instance, reply.name, reply.type, key);
        return;
    }
    auto it = _instances.find(reply.name);
    if (it == _instances.end())
        return;
    Instance &instance = it->second;
    auto presence = instance.presences.find(key);
    if (presence == instance.presences.end())
        return;
    if (--presence->second > 0)
        return;
    instance.presences.erase(presence);
    instance.lookups.erase(key);
    if (!instance.presences.empty())
        return;
    const bool owed = instance.reported;
    const std::string name = it->first;
    _instances.erase(it);
    if (owed) {
        core().host().debug("lost \"" + name + "\"");
        _events.lost(name); // last: the host may stop this browse from inside
    }
}

void Browse::startLookup(Instance &instance, const std::string &name, const std::string &type,
                         const PresenceKey &key) {
    auto lookup = std::make_unique<Lookup>(core(), name, type, key);
    auto channel = std::make_unique<Channel>(core(), "resolve of \"" + name + "\"");
    Lookup *raw = lookup.get();
    std::unique_ptr<ServiceRef> ref;
    const ErrorCode error =
        core().dnssd().resolve(name, type, key.domain, key.interfaceIndex,
                               channel->guard<ResolveReply>(
                                   [this, raw](const ResolveReply &r) { onResolveReply(*raw, r); }),
                               &ref);
    if (error != kErrNoError) {
        core().host().debug("DNSServiceResolve of \"" + name +
                            "\" failed: " + describeError(error));
        return;
    }
    if (Status watched = channel->attach(std::move(ref)); !watched) {
        core().host().error(watched.describe());
        return;
    }
    channel->onFailure = [this, raw](ErrorCode e) { lookupFailed(*raw, "resolve", e); };
    lookup->channel = std::move(channel);
    armTimeout(*lookup, "resolve");
    instance.lookups[key] = std::move(lookup);
}

void Browse::onResolveReply(Lookup &lookup, const ResolveReply &reply) {
    if (reply.error != kErrNoError || reply.hostTarget.empty()) {
        core().host().debug("resolve of \"" + lookup.name +
                            "\" failed: " + describeError(reply.error));
        finishLookup(lookup);
        return;
    }
    lookup.hostTarget = reply.hostTarget;
    lookup.port = ntohs(reply.portNetwork);
    lookup.txt = decodeTxt(reply.txt.data(), reply.txt.size());
    core().retire(std::move(lookup.channel)); // answered: this ref is done

    // The compat layer has no DNSServiceGetAddrInfo: ask for the host target's A record.
    auto channel = std::make_unique<Channel>(core(), "address query for " + lookup.hostTarget);
    Lookup *raw = &lookup;
    std::unique_ptr<ServiceRef> ref;
    const ErrorCode error = core().dnssd().queryRecord(
        lookup.hostTarget, lookup.key.interfaceIndex, kRecordTypeA, kRecordClassIn,
        channel->guard<QueryReply>([this, raw](const QueryReply &r) { onQueryReply(*raw, r); }),
        &ref);
    if (error != kErrNoError) {
        core().host().debug("DNSServiceQueryRecord of " + lookup.hostTarget +
                            " failed: " + describeError(error));
        finishLookup(lookup);
        return;
    }
    if (Status watched = channel->attach(std::move(ref)); !watched) {
        core().host().error(watched.describe());
        finishLookup(lookup);
        return;
    }
    channel->onFailure = [this, raw](ErrorCode e) { lookupFailed(*raw, "address query", e); };
    lookup.channel = std::move(channel);
    armTimeout(lookup, "address query");
}

void Browse::onQueryReply(Lookup &lookup, const QueryReply &reply) {
    if (reply.error != kErrNoError) {
        core().host().debug("address query for " + lookup.hostTarget +
                            " failed: " + describeError(reply.error));
        finishLookup(lookup);
        return;
    }
    if (!reply.add || reply.rrType != kRecordTypeA || reply.rdata.size() != 4)
        return; // not an IPv4 address (yet)
    char text[INET_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET, reply.rdata.data(), text, sizeof text) == nullptr)
        return;
    DiscoveredService service{lookup.name, text, lookup.port, lookup.txt};
    finishLookup(lookup);
    report(std::move(service));
}

void Browse::armTimeout(Lookup &lookup, const char *step) {
    Lookup *raw = &lookup;
    auto timer = core().host().startTimer(core().options().resolveTimeout, [this, raw, step] {
        core().host().debug(std::string(step) + " for \"" + raw->name + "\" timed out after " +
                            std::to_string(core().options().resolveTimeout.count()) + " ms");
        finishLookup(*raw);
    });
    if (timer)
        lookup.timeout = std::move(timer.value());
}

void Browse::lookupFailed(Lookup &lookup, const char *step, ErrorCode error) {
    // DNSServiceProcessResult failed: the ref is dead (its fd would stay readable).
    core().host().debug(std::string(step) + " for \"" + lookup.name +
                        "\" failed: " + describeError(error));
    finishLookup(lookup);
}

void Browse::finishLookup(Lookup &lookup) {
    const std::string name = lookup.name;
    const PresenceKey key = lookup.key;
    auto it = _instances.find(name);
    if (it == _instances.end())
        return;
    auto found = it->second.lookups.find(key);
    if (found != it->second.lookups.end() && found->second.get() == &lookup)
        it->second.lookups.erase(found); // lookup is gone from here on
}

void Browse::report(DiscoveredService service) {
    auto it = _instances.find(service.instanceName);
    if (it == _instances.end())
        return;
    Instance &instance = it->second;
    if (instance.reported && instance.last.address == service.address &&
        instance.last.port == service.port && instance.last.txt == service.txt)
        return; // the same instance again (another interface, IPv4 and IPv6): merged
    instance.reported = true;
    instance.last = service;
    core().host().debug("resolved \"" + service.instanceName + "\" to " + service.address + ":" +
                        std::to_string(service.port));
    _events.resolved(service); // last: the host may stop this browse from inside
}

// ---- the plugin ------------------------------------------------------------------------

DnssdDiscovery::DnssdDiscovery(Host host)
    : Plugin(host), _core(std::make_unique<Core>(host, readOptions(host), makeSystemDnsSd())) {}

DnssdDiscovery::~DnssdDiscovery() = default;

lanspread_status DnssdDiscovery::advertise(const ServiceRecord &in, std::unique_ptr<Advert> *out) {
    const Host &h = host();
    if (in.serviceType.empty()) {
        h.error("advertise: the service record has no service type");
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    auto txt = encodeTxt(in.txt);
    if (!txt) {
        h.error("advertise: " + txt.status().message());
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    ServiceRecord record = in;
    record.instanceName = truncateInstanceName(in.instanceName);
    if (record.instanceName != in.instanceName)
        h.info("advertise: instance name cut to " + std::to_string(kMaxInstanceName) +
               " bytes (one DNS label): \"" + record.instanceName + "\"");
    auto advert = std::make_unique<Advert>(*_core, std::move(record), std::move(txt.value()));
    const ErrorCode error = advert->start();
    if (error == kErrNoError) {
        *out = std::move(advert);
        return LANSPREAD_OK;
    }
    if (isArgumentError(error)) {
        h.error("advertise: DNSServiceRegister refused \"" + in.instanceName + "\" (" +
                in.serviceType + "): " + describeError(error));
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    *out = std::move(advert); // logged; it keeps retrying in the background
    return LANSPREAD_E_IO;
}

lanspread_status DnssdDiscovery::browse(const std::string &type, DiscoveryEvents events,
                                        std::unique_ptr<Browse> *out) {
    if (type.empty()) {
        host().error("browse: no service type");
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    auto browse = std::make_unique<Browse>(*_core, type, events);
    const ErrorCode error = browse->start();
    if (isArgumentError(error)) {
        host().error("browse: DNSServiceBrowse refused " + type + ": " + describeError(error));
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    *out = std::move(browse); // OK, also while avahi-daemon is away (logged, retrying)
    return LANSPREAD_OK;
}

// ---- the C vtable ----------------------------------------------------------------------
// Not DiscoveryPlugin's: its advertise() returns either a status or an advert, and
// discovery.h wants E_IO *with* the advert when avahi-daemon is unreachable.

namespace {

DnssdDiscovery *pluginOf(void *state) {
    return static_cast<DnssdDiscovery *>(static_cast<Plugin *>(state));
}

lanspread_status advertiseFn(void *state, const lanspread_service_record *record,
                             lanspread_discovery_advert **outAdvert) noexcept {
    if (state == nullptr || record == nullptr || outAdvert == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    *outAdvert = nullptr;
    DnssdDiscovery *plugin = pluginOf(state);
    return detail::guard(plugin->host(), "advertise", [&]() -> lanspread_status {
        std::unique_ptr<Advert> advert;
        const lanspread_status status = plugin->advertise(ServiceRecord::from(record), &advert);
        *outAdvert = reinterpret_cast<lanspread_discovery_advert *>(advert.release());
        return status;
    });
}

lanspread_status updateTxtFn(lanspread_discovery_advert *handle, const char *const *txt) noexcept {
    if (handle == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    auto *advert = reinterpret_cast<Advert *>(handle);
    return detail::guard(advert->host(), "update_txt", [&]() -> Status {
        return advert->updateTxt(lanspread::detail::copyStringList(txt));
    });
}

void stopAdvertFn(lanspread_discovery_advert *handle) noexcept {
    delete reinterpret_cast<Advert *>(handle);
}

lanspread_status browseFn(void *state, const char *serviceType,
                          const lanspread_discovery_events *events,
                          lanspread_discovery_browse **outBrowse) noexcept {
    if (state == nullptr || serviceType == nullptr || events == nullptr || outBrowse == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    *outBrowse = nullptr;
    DnssdDiscovery *plugin = pluginOf(state);
    return detail::guard(plugin->host(), "browse", [&]() -> lanspread_status {
        std::unique_ptr<Browse> browse;
        const lanspread_status status =
            plugin->browse(serviceType, DiscoveryEvents(events), &browse);
        *outBrowse = reinterpret_cast<lanspread_discovery_browse *>(browse.release());
        return status;
    });
}

void stopBrowseFn(lanspread_discovery_browse *handle) noexcept {
    delete reinterpret_cast<Browse *>(handle);
}

constexpr lanspread_discovery_v1 kVtable = {sizeof(lanspread_discovery_v1),
                                            &advertiseFn,
                                            &updateTxtFn,
                                            &stopAdvertFn,
                                            &browseFn,
                                            &stopBrowseFn};

} // namespace

const void *DnssdDiscovery::interfaceFor(std::string_view interfaceId) {
    return interfaceId == LANSPREAD_DISCOVERY_INTERFACE_ID ? &kVtable : nullptr;
}

} // namespace lanspread::plugins::dnssd

namespace {
const char *const kCapabilities[] = {"dns-sd", "mdns:avahi", "address:ipv4", nullptr};
const char *const kConfigKeys[] = {
    "retry_ms: re-create a registration or browse this often after avahi-daemon went away or "
    "refused it (default 2000)",
    "resolve_timeout_ms: give up a resolve or address query that has not answered after this "
    "long (default 5000)",
    nullptr};
} // namespace

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::dnssd::DnssdDiscovery, LANSPREAD_KIND_DISCOVERY,
                         lanspread::plugins::dnssd::kPluginId, "DNS-SD discovery (Avahi)", "1.0.0",
                         "lanspread",
                         "Advertises this peer and finds others with mDNS/DNS-SD through "
                         "avahi-daemon's Bonjour compat API (libdns_sd)",
                         kCapabilities, kConfigKeys)
