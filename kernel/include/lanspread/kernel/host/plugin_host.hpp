// The kernel's implementation of lanspread_host_api for one plugin. host_data points at
// the PluginHost, so every call knows its plugin: logs are prefixed with the plugin id,
// config is read under "plugin.<id>.", and the watches, timers and posted tasks the plugin
// leaves behind are removed when it shuts down (a posted task never runs into freed state).
#pragma once

#include <lanspread/host.h>
#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/plugin.h>
#include <lanspread/result.hpp>
#include <lanspread/version.h>

#include <Poco/Util/AbstractConfiguration.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::host {

class PluginHost {
  public:
    // Services a plugin may look up with get_service (id -> table).
    using ServiceLookup = std::function<const void *(const std::string &serviceId)>;

    PluginHost(std::string pluginId, Reactor &reactor, EventBus &events, CancelRegistry &cancels,
               const Poco::Util::AbstractConfiguration &config, ServiceLookup services);
    PluginHost(const PluginHost &) = delete;
    PluginHost &operator=(const PluginHost &) = delete;

    const lanspread_host_api *api() const { return &_api; }
    const std::string &pluginId() const { return _pluginId; }

    // The plugin's [plugin.<id>] keys must each be one it knows, else the peer refuses to
    // start (a misspelt key would otherwise be silently ignored). Known: the keys its
    // descriptor declares (config_keys, "key: meaning" lines: the plugin's documented
    // contract, which also covers keys it reads only later, e.g. when a transport listens)
    // and the keys it asked config_get for so far (so a plugin declaring none, like an ABI 1.0
    // one, still has every key it reads in init accepted). Call right after init; fails in one
    // line naming the key and the nearest known one. otherSections: the sections of the other
    // loaded plugins, left out when one is nested in this one's (plugin.a.b inside plugin.a).
    Status refuseUnknownConfigKeys(const lanspread_plugin_descriptor &descriptor,
                                   const std::vector<std::string> &otherSections) const;
    // The section this plugin's keys live in: "plugin.<id>".
    std::string configSection() const { return "plugin." + _pluginId; }

    // Called after the plugin's shutdown(): removes what it left behind (logged as a plugin
    // bug) and makes its queued posts no-ops. Thread: reactor.
    void retire();
    std::size_t liveWatches() const { return _watches.size(); }
    std::size_t liveTimers() const { return _timers.size(); }

  private:
    static PluginHost &self(const lanspread_host_api *api);
    static void logFn(const lanspread_host_api *, int32_t, const char *);
    static lanspread_status emitEventFn(const lanspread_host_api *, const char *, const char *);
    static lanspread_status configGetFn(const lanspread_host_api *, const char *, char *, size_t,
                                        size_t *);
    static lanspread_status watchFdFn(const lanspread_host_api *, int, uint32_t,
                                      lanspread_fd_callback, void *, uint64_t *);
    static lanspread_status modifyFdFn(const lanspread_host_api *, uint64_t, uint32_t);
    static lanspread_status unwatchFdFn(const lanspread_host_api *, uint64_t);
    static lanspread_status startTimerFn(const lanspread_host_api *, uint64_t,
                                         lanspread_timer_callback, void *, uint64_t *);
    static lanspread_status stopTimerFn(const lanspread_host_api *, uint64_t);
    static uint64_t nowFn(const lanspread_host_api *);
    static lanspread_status postFn(const lanspread_host_api *, lanspread_task_callback, void *);
    static int32_t isCancelledFn(const lanspread_host_api *, lanspread_cancel_handle);
    static const void *getServiceFn(const lanspread_host_api *, const char *);

    std::string _pluginId;
    Reactor &_reactor;
    EventBus &_events;
    CancelRegistry &_cancels;
    const Poco::Util::AbstractConfiguration &_config;
    ServiceLookup _services;
    lanspread_host_api _api{};
    std::set<uint64_t> _watches;
    std::set<uint64_t> _timers;
    std::set<std::string> _askedKeys; // every key config_get was called with
    // Shared with every queued post: false once the plugin is retired.
    std::shared_ptr<std::atomic<bool>> _alive;
};

} // namespace lanspread::kernel::host
