#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/peers/lan_discovery.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <charconv>

namespace lanspread::kernel::peers {

namespace {
constexpr const char *kSource = "discovery";

bool isPeerId(const std::string &id) {
    if (id.size() != 64)
        return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

template <typename T> bool parseNumber(const std::string &text, T &out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// A transport's short name in the record: what transportName() makes of a plugin id.
bool isTransportName(const std::string &name) {
    if (name.empty() || name.size() > 32)
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

// "quic:40001,tls:40001" -> the list; fails on anything else.
bool parseTransports(const std::string &text, std::vector<AnnouncedTransport> &out) {
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t end = text.find(',', at);
        if (end == std::string::npos)
            end = text.size();
        const std::string item = text.substr(at, end - at);
        const std::size_t colon = item.find(':');
        AnnouncedTransport t;
        if (colon == std::string::npos)
            return false;
        t.name = item.substr(0, colon);
        if (!isTransportName(t.name) || !parseNumber(item.substr(colon + 1), t.port) || t.port == 0)
            return false;
        out.push_back(t);
        at = end + 1;
    }
    return !out.empty();
}
} // namespace

std::vector<std::string> encodeAnnouncement(const Announcement &a) {
    // DNS-SD TXT strings are at most 255 bytes each: the name is cut to fit, and the
    // transports list is short by construction (a few names of <= 32 characters).
    std::vector<std::string> txt{"peer_id=" + a.peerId, "proto=" + std::to_string(a.protocol),
                                 "rev=" + std::to_string(a.revision),
                                 "name=" + a.name.substr(0, 200)};
    std::string transports;
    for (const auto &t : a.transports) {
        const std::string item = t.name + ":" + std::to_string(t.port);
        if (transports.size() + item.size() + 1 > 255 - 11)
            break;
        transports += (transports.empty() ? "" : ",") + item;
    }
    if (!transports.empty())
        txt.push_back("transports=" + transports);
    return txt;
}

Result<Announcement> decodeAnnouncement(const std::vector<std::string> &txt) {
    std::map<std::string, std::string> kv;
    for (const auto &item : txt) {
        auto eq = item.find('=');
        kv[item.substr(0, eq)] = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    }
    Announcement a;
    if (!kv.count("peer_id") || !isPeerId(kv["peer_id"]))
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "TXT has no valid peer_id");
    a.peerId = kv["peer_id"];
    if (!kv.count("proto") || !parseNumber(kv["proto"], a.protocol))
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "TXT has no valid proto");
    if (kv.count("rev") && !parseNumber(kv["rev"], a.revision))
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "TXT rev is not a number");
    a.name = kv.count("name") ? kv["name"] : std::string();
    if (kv.count("transports") && !parseTransports(kv["transports"], a.transports))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "TXT transports is not a list of name:port (\"" +
                          kv["transports"].substr(0, 64) + "\")");
    return a;
}

LanDiscovery::LanDiscovery(std::string ownPeerId, Found found)
    : _ownPeerId(std::move(ownPeerId)), _found(std::move(found)) {
    _events.struct_size = sizeof _events;
    _events.user_data = this;
    _events.on_resolved = &LanDiscovery::onResolved;
    _events.on_lost = &LanDiscovery::onLost;
}

LanDiscovery::~LanDiscovery() {
    stop();
}

std::vector<const char *> LanDiscovery::txtPointers(std::vector<std::string> &storage) const {
    storage = encodeAnnouncement(_own);
    std::vector<const char *> pointers;
    for (const auto &s : storage)
        pointers.push_back(s.c_str());
    pointers.push_back(nullptr);
    return pointers;
}

void LanDiscovery::start(std::vector<DiscoveryRef> plugins, const std::string &name, uint16_t port,
                         uint64_t revision, std::vector<AnnouncedTransport> transports) {
    _own =
        Announcement{_ownPeerId, protocol::PROTOCOL_VERSION, revision, name, std::move(transports)};
    for (auto &ref : plugins) {
        Active active{ref};
        // Before advertise(): a plugin may report its state from inside it.
        if (_states.emplace(ref.id, PluginState{}).second)
            _order.push_back(ref.id);
        std::string retrying; // why it does not work yet, when the plugin does not say
        std::vector<std::string> storage;
        auto txt = txtPointers(storage);
        lanspread_service_record record{};
        record.struct_size = sizeof record;
        record.service_type = kServiceType;
        record.instance_name = name.c_str();
        record.port = port;
        record.txt = txt.data();
        lanspread_status st = ref.vtable->advertise(ref.state, &record, &active.advert);
        if (st != LANSPREAD_OK) {
            log::warning(kSource, ref.id + " could not advertise yet (" +
                                      lanspread_status_name(st) +
                                      "); it retries, and direct connect works meanwhile");
            const std::string what =
                std::string("advertising failed (") + lanspread_status_name(st) + ")";
            if (active.advert == nullptr)
                _states[ref.id].refused = what;
            else
                retrying = what + "; retrying";
        }
        st = ref.vtable->browse(ref.state, kServiceType, &_events, &active.browse);
        if (st != LANSPREAD_OK) {
            log::warning(kSource, ref.id + " could not browse (" + lanspread_status_name(st) +
                                      "); peers must be connected by address");
            const std::string what =
                std::string("browsing failed (") + lanspread_status_name(st) + ")";
            if (active.browse == nullptr) {
                if (_states[ref.id].refused.empty())
                    _states[ref.id].refused = what;
            } else if (retrying.empty()) {
                retrying = what + "; retrying";
            }
        }
        PluginState &state = _states[ref.id];
        if (!state.reported && !retrying.empty()) {
            state.working = false;
            state.reason = retrying;
        }
        log::info(kSource,
                  "advertising " + name + " on port " + std::to_string(port) + " via " + ref.id);
        _active.push_back(active);
    }
}

void LanDiscovery::updateRevision(uint64_t revision) {
    if (_own.revision == revision)
        return;
    _own.revision = revision;
    for (auto &active : _active) {
        if (active.advert == nullptr)
            continue;
        std::vector<std::string> storage;
        auto txt = txtPointers(storage);
        active.ref.vtable->update_txt(active.advert, txt.data());
    }
}

void LanDiscovery::stop() {
    for (auto &active : _active) {
        if (active.browse != nullptr)
            active.ref.vtable->stop_browse(active.browse);
        if (active.advert != nullptr)
            active.ref.vtable->stop_advert(active.advert);
    }
    _active.clear();
    _states.clear();
    _order.clear();
}

void LanDiscovery::reportState(const std::string &pluginId, const std::string &state,
                               const std::string &reason) {
    auto it = _states.find(pluginId);
    if (it == _states.end()) {
        log::debug(kSource, "ignoring a discovery state from " + pluginId +
                                ", which is not a discovery plugin this peer started");
        return;
    }
    if (state != "working" && state != "not-working") {
        log::warning(kSource, pluginId + " reported discovery state '" + state +
                                  "', which is neither working nor not-working; ignored");
        return;
    }
    PluginState &s = it->second;
    s.reported = true;
    s.working = state == "working";
    s.reason = s.working        ? std::string()
               : reason.empty() ? "the plugin reports that it is not working"
                                : reason;
}

contract::DiscoveryView LanDiscovery::view() const {
    contract::DiscoveryView first;
    for (const auto &id : _order) {
        const PluginState &s = _states.at(id);
        contract::DiscoveryView v;
        v.plugin = id;
        if (s.refused.empty() && s.working) {
            v.state = "working";
            return v;
        }
        v.state = "not-working";
        v.reason = s.refused.empty() ? s.reason : s.refused;
        if (first.plugin.empty())
            first = v;
    }
    return first; // "off" when there is no plugin
}

void LanDiscovery::onResolved(void *user, const lanspread_discovered_service *service) {
    auto *self = static_cast<LanDiscovery *>(user);
    if (service == nullptr || service->address == nullptr)
        return;
    const std::string instance = service->instance_name ? service->instance_name : "";
    std::vector<std::string> txt;
    for (const char *const *t = service->txt; t != nullptr && *t != nullptr; ++t)
        txt.emplace_back(*t);
    auto announced = decodeAnnouncement(txt);
    if (!announced) {
        if (self->_warned.insert(instance).second)
            log::info(kSource,
                      "ignoring service '" + instance + "': " + announced.status().message());
        return;
    }
    const Announcement &a = announced.value();
    if (a.protocol != protocol::PROTOCOL_VERSION) {
        if (self->_warned.insert(instance).second)
            log::warning(kSource, "ignoring peer '" + instance + "' at " + service->address +
                                      ": it speaks protocol " + std::to_string(a.protocol) +
                                      ", this peer " + std::to_string(protocol::PROTOCOL_VERSION));
        return;
    }
    if (a.peerId == self->_ownPeerId)
        return;
    const std::string host = service->address;
    const std::string bracketed = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    const std::string addr = bracketed + ":" + std::to_string(service->port);
    std::map<std::string, std::string> addrByTransport;
    for (const auto &t : a.transports)
        addrByTransport.emplace(t.name, bracketed + ":" + std::to_string(t.port));
    self->_found(a.peerId, addr, addrByTransport);
}

void LanDiscovery::onLost(void *, const char *) {
    // Nothing to do: a peer that left said goodbye or is dropped by the liveness check;
    // an mDNS removal alone is no proof (the connection may still be fine).
}

} // namespace lanspread::kernel::peers
