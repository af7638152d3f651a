// lanspread plugin SDK — C++20 wrapper for discovery plugins ("lanspread.discovery/1").
//
// Header-only. Derive from lanspread::DiscoveryPlugin and implement advertise() and browse().
// The C handles map to C++ objects the plugin defines, owned by the host side once returned:
//   lanspread_discovery_advert  ->  a DiscoveryAdvert; stop_advert() deletes it (its
//                                   destructor withdraws the advert);
//   lanspread_discovery_browse  ->  a DiscoveryBrowse; stop_browse() deletes it (its
//                                   destructor stops browsing; no event after it returns).
// Threads and ownership are those of kinds/discovery.h: everything on the reactor thread.
#pragma once

#include <lanspread/kinds/discovery.h>
#include <lanspread/plugin.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread {

namespace detail {
// Copies a NULL-terminated C string list (may be NULL) into strings.
inline std::vector<std::string> copyStringList(const char *const *list) {
    std::vector<std::string> out;
    for (; list != nullptr && *list != nullptr; ++list)
        out.emplace_back(*list);
    return out;
}
} // namespace detail

// A service to advertise, copied out of the lanspread_service_record borrowed for a call.
struct ServiceRecord {
    std::string serviceType;  // "_lanspread._udp"
    std::string instanceName; // preferred; the plugin resolves conflicts itself
    uint16_t port = 0;
    std::vector<std::string> txt; // "key=value"

    // Reads only the members the host's struct_size covers; the others stay empty/zero.
    static ServiceRecord from(const lanspread_service_record *record) {
        lanspread_service_record r{};
        if (record != nullptr)
            std::memcpy(&r, record, std::min<std::size_t>(record->struct_size, sizeof r));
        ServiceRecord out;
        if (r.service_type != nullptr)
            out.serviceType = r.service_type;
        if (r.instance_name != nullptr)
            out.instanceName = r.instance_name;
        out.port = r.port;
        out.txt = detail::copyStringList(r.txt);
        return out;
    }
};

// A service found on the network.
struct DiscoveredService {
    std::string instanceName;
    std::string address; // numeric IPv4 or IPv6
    uint16_t port = 0;
    std::vector<std::string> txt; // "key=value"
};

// A running advert. Deleted by the host's stop_advert(); the destructor withdraws it.
class DiscoveryAdvert {
  public:
    DiscoveryAdvert() = default;
    virtual ~DiscoveryAdvert() = default;
    DiscoveryAdvert(const DiscoveryAdvert &) = delete;
    DiscoveryAdvert &operator=(const DiscoveryAdvert &) = delete;

    // Replaces the advert's TXT record.
    virtual Status updateTxt(const std::vector<std::string> &txt) = 0;
};

// A running browse. Deleted by the host's stop_browse(); the destructor stops browsing, and
// no event of it may reach the host after the destructor returns.
class DiscoveryBrowse {
  public:
    DiscoveryBrowse() = default;
    virtual ~DiscoveryBrowse() = 0;
    DiscoveryBrowse(const DiscoveryBrowse &) = delete;
    DiscoveryBrowse &operator=(const DiscoveryBrowse &) = delete;
};
inline DiscoveryBrowse::~DiscoveryBrowse() = default;

// The host's callback table for one browse, as a C++ value. Borrowed: valid until the
// browse is stopped.
class DiscoveryEvents {
  public:
    explicit DiscoveryEvents(const lanspread_discovery_events *events = nullptr)
        : _events(events) {}
    const lanspread_discovery_events *raw() const { return _events; }
    explicit operator bool() const { return _events != nullptr; }

    // The service resolved (again, when its address or TXT changed).
    void resolved(const DiscoveredService &service) const {
        if (_events == nullptr || _events->on_resolved == nullptr)
            return;
        std::vector<const char *> txt;
        txt.reserve(service.txt.size() + 1);
        for (const auto &item : service.txt)
            txt.push_back(item.c_str());
        txt.push_back(nullptr);
        lanspread_discovered_service s{};
        s.struct_size = sizeof s;
        s.instance_name = service.instanceName.c_str();
        s.address = service.address.c_str();
        s.port = service.port;
        s.txt = txt.data();
        _events->on_resolved(_events->user_data, &s);
    }
    void lost(std::string_view instanceName) const {
        if (_events == nullptr || _events->on_lost == nullptr)
            return;
        std::string name(instanceName);
        _events->on_lost(_events->user_data, name.c_str());
    }

  private:
    const lanspread_discovery_events *_events;
};

class DiscoveryPlugin : public Plugin {
  public:
    using Plugin::Plugin;

    virtual Result<std::unique_ptr<DiscoveryAdvert>> advertise(const ServiceRecord &record) = 0;
    virtual Result<std::unique_ptr<DiscoveryBrowse>> browse(std::string_view serviceType,
                                                            DiscoveryEvents events) = 0;

    const void *interfaceFor(std::string_view interfaceId) override {
        return interfaceId == LANSPREAD_DISCOVERY_INTERFACE_ID ? &kVtable : nullptr;
    }

  private:
    // What the C handles really point at.
    struct AdvertHolder {
        Host host;
        std::unique_ptr<DiscoveryAdvert> advert;
    };
    struct BrowseHolder {
        std::unique_ptr<DiscoveryBrowse> browse;
    };
    static DiscoveryPlugin *self(void *state) {
        return static_cast<DiscoveryPlugin *>(static_cast<Plugin *>(state));
    }

    static lanspread_status advertiseTrampoline(void *state, const lanspread_service_record *record,
                                                lanspread_discovery_advert **outAdvert) noexcept {
        if (state == nullptr || record == nullptr || outAdvert == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outAdvert = nullptr;
        DiscoveryPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "advertise", [&]() -> Status {
            auto advert = plugin->advertise(ServiceRecord::from(record));
            if (!advert)
                return advert.status();
            if (!advert.value())
                return Status(LANSPREAD_E_FAILED, "advertise returned no advert");
            *outAdvert = reinterpret_cast<lanspread_discovery_advert *>(
                new AdvertHolder{plugin->host(), std::move(advert.value())});
            return Status::ok();
        });
    }

    static lanspread_status updateTxtTrampoline(lanspread_discovery_advert *advert,
                                                const char *const *txt) noexcept {
        if (advert == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto *h = reinterpret_cast<AdvertHolder *>(advert);
        return detail::guard(h->host, "update_txt", [&]() -> Status {
            return h->advert->updateTxt(detail::copyStringList(txt));
        });
    }

    static void stopAdvertTrampoline(lanspread_discovery_advert *advert) noexcept {
        delete reinterpret_cast<AdvertHolder *>(advert); // destructors are noexcept
    }

    static lanspread_status browseTrampoline(void *state, const char *serviceType,
                                             const lanspread_discovery_events *events,
                                             lanspread_discovery_browse **outBrowse) noexcept {
        if (state == nullptr || serviceType == nullptr || events == nullptr || outBrowse == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outBrowse = nullptr;
        DiscoveryPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "browse", [&]() -> Status {
            auto browse = plugin->browse(serviceType, DiscoveryEvents(events));
            if (!browse)
                return browse.status();
            if (!browse.value())
                return Status(LANSPREAD_E_FAILED, "browse returned no browse");
            *outBrowse = reinterpret_cast<lanspread_discovery_browse *>(
                new BrowseHolder{std::move(browse.value())});
            return Status::ok();
        });
    }

    static void stopBrowseTrampoline(lanspread_discovery_browse *browse) noexcept {
        delete reinterpret_cast<BrowseHolder *>(browse);
    }

    static constexpr lanspread_discovery_v1 kVtable = {
        sizeof(lanspread_discovery_v1), &advertiseTrampoline, &updateTxtTrampoline,
        &stopAdvertTrampoline,          &browseTrampoline,    &stopBrowseTrampoline};
};

} // namespace lanspread
