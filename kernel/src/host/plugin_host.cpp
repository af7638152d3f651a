#include <lanspread/kernel/host/plugin_host.hpp>
#include <lanspread/kernel/host/settings.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <cstring>

namespace lanspread::kernel::host {

PluginHost::PluginHost(std::string pluginId, Reactor &reactor, EventBus &events,
                       CancelRegistry &cancels, const Poco::Util::AbstractConfiguration &config,
                       ServiceLookup services)
    : _pluginId(std::move(pluginId)), _reactor(reactor), _events(events), _cancels(cancels),
      _config(config), _services(std::move(services)),
      _alive(std::make_shared<std::atomic<bool>>(true)) {
    _api.struct_size = sizeof _api;
    _api.abi_major = LANSPREAD_ABI_MAJOR;
    _api.abi_minor = LANSPREAD_ABI_MINOR;
    _api.host_data = this;
    _api.log = &logFn;
    _api.emit_event = &emitEventFn;
    _api.config_get = &configGetFn;
    _api.watch_fd = &watchFdFn;
    _api.modify_fd = &modifyFdFn;
    _api.unwatch_fd = &unwatchFdFn;
    _api.start_timer = &startTimerFn;
    _api.stop_timer = &stopTimerFn;
    _api.now_ns = &nowFn;
    _api.post = &postFn;
    _api.is_cancelled = &isCancelledFn;
    _api.get_service = &getServiceFn;
}

PluginHost &PluginHost::self(const lanspread_host_api *api) {
    return *static_cast<PluginHost *>(api->host_data);
}

void PluginHost::retire() {
    *_alive = false;
    if (!_watches.empty() || !_timers.empty())
        log::warning(_pluginId, "left " + std::to_string(_watches.size()) + " fd watch(es) and " +
                                    std::to_string(_timers.size()) +
                                    " timer(s) after shutdown; removed them");
    for (uint64_t id : _watches)
        _reactor.unwatchFd(id);
    for (uint64_t id : _timers)
        _reactor.stopTimer(id);
    _watches.clear();
    _timers.clear();
}

void PluginHost::logFn(const lanspread_host_api *api, int32_t level, const char *message) {
    if (api == nullptr)
        return;
    if (level < LANSPREAD_LOG_DEBUG)
        level = LANSPREAD_LOG_DEBUG;
    if (level > LANSPREAD_LOG_ERROR)
        level = LANSPREAD_LOG_ERROR;
    log::write(static_cast<log::Level>(level), self(api)._pluginId, message ? message : "");
}

lanspread_status PluginHost::emitEventFn(const lanspread_host_api *api, const char *topic,
                                         const char *json) {
    if (api == nullptr || topic == nullptr || topic[0] == '\0' || json == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    Poco::JSON::Object::Ptr payload;
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(json);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr))
            payload = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &) {
    }
    if (!payload) {
        log::warning(self(api)._pluginId,
                     std::string("emit_event(") + topic + "): payload is not a JSON object");
        return LANSPREAD_E_INVALID_ARGUMENT;
    }
    // Subscribers (frontends) run on the reactor thread, whichever thread emitted.
    PluginHost &host = self(api);
    if (host._reactor.inReactorThread()) {
        host._events.publish(topic, *payload);
        return LANSPREAD_OK;
    }
    bool queued = host._reactor.post([&events = host._events, name = std::string(topic), payload] {
        events.publish(name, *payload);
    });
    return queued ? LANSPREAD_OK : LANSPREAD_E_FAILED;
}

lanspread_status PluginHost::configGetFn(const lanspread_host_api *api, const char *key,
                                         char *buffer, size_t bufferSize, size_t *outRequired) {
    if (api == nullptr || key == nullptr || outRequired == nullptr ||
        (buffer == nullptr && bufferSize > 0))
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    host._askedKeys.insert(key);
    const std::string fullKey = "plugin." + host._pluginId + "." + key;
    if (!host._config.hasProperty(fullKey)) {
        *outRequired = 0;
        return LANSPREAD_E_NOT_FOUND;
    }
    const std::string value = host._config.getString(fullKey);
    *outRequired = value.size() + 1;
    if (bufferSize < *outRequired)
        return LANSPREAD_E_BUFFER_TOO_SMALL;
    std::memcpy(buffer, value.c_str(), *outRequired);
    return LANSPREAD_OK;
}

Status PluginHost::refuseUnknownConfigKeys(const lanspread_plugin_descriptor &descriptor,
                                           const std::vector<std::string> &otherSections) const {
    std::vector<std::string> known(_askedKeys.begin(), _askedKeys.end());
    for (const char *const *line = descriptor.config_keys; line && *line; ++line) {
        std::string key(*line, std::strcspn(*line, ":"));
        Poco::trimInPlace(key);
        if (!key.empty())
            known.push_back(key);
    }
    return refuseUnknownKeys(_config, configSection(), known, otherSections);
}

lanspread_status PluginHost::watchFdFn(const lanspread_host_api *api, int fd, uint32_t events,
                                       lanspread_fd_callback callback, void *userData,
                                       uint64_t *outWatchId) {
    if (api == nullptr || callback == nullptr || outWatchId == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    lanspread_status status = host._reactor.watchFd(
        fd, events,
        [callback, userData](int readyFd, uint32_t revents) {
            callback(userData, readyFd, revents);
        },
        *outWatchId);
    if (status == LANSPREAD_OK)
        host._watches.insert(*outWatchId);
    return status;
}

lanspread_status PluginHost::modifyFdFn(const lanspread_host_api *api, uint64_t watchId,
                                        uint32_t events) {
    if (api == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    if (!host._watches.count(watchId))
        return LANSPREAD_E_NOT_FOUND; // not this plugin's watch
    return host._reactor.modifyFd(watchId, events);
}

lanspread_status PluginHost::unwatchFdFn(const lanspread_host_api *api, uint64_t watchId) {
    if (api == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    if (!host._watches.erase(watchId))
        return LANSPREAD_E_NOT_FOUND;
    return host._reactor.unwatchFd(watchId);
}

lanspread_status PluginHost::startTimerFn(const lanspread_host_api *api, uint64_t delayNs,
                                          lanspread_timer_callback callback, void *userData,
                                          uint64_t *outTimerId) {
    if (api == nullptr || callback == nullptr || outTimerId == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    // The reactor assigns the id only when startTimer returns; the callback reads it from
    // this shared slot to report it and to forget it.
    auto id = std::make_shared<uint64_t>(0);
    lanspread_status status = host._reactor.startTimer(
        delayNs,
        [&host, id, callback, userData] {
            host._timers.erase(*id); // dead before the callback runs, as host.h says
            callback(userData, *id);
        },
        *id);
    if (status != LANSPREAD_OK)
        return status;
    host._timers.insert(*id);
    *outTimerId = *id;
    return LANSPREAD_OK;
}

lanspread_status PluginHost::stopTimerFn(const lanspread_host_api *api, uint64_t timerId) {
    if (api == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    if (!host._timers.erase(timerId))
        return LANSPREAD_E_NOT_FOUND;
    return host._reactor.stopTimer(timerId);
}

uint64_t PluginHost::nowFn(const lanspread_host_api *api) {
    // The reactor's clock, so plugins' timers and timestamps agree with it (virtual in tests).
    return api == nullptr ? Reactor::nowNs() : self(api)._reactor.now();
}

lanspread_status PluginHost::postFn(const lanspread_host_api *api, lanspread_task_callback callback,
                                    void *userData) {
    if (api == nullptr || callback == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    PluginHost &host = self(api);
    if (!*host._alive)
        return LANSPREAD_E_FAILED;
    auto alive = host._alive;
    bool queued = host._reactor.post([alive, callback, userData] {
        if (*alive)
            callback(userData);
    });
    return queued ? LANSPREAD_OK : LANSPREAD_E_FAILED;
}

int32_t PluginHost::isCancelledFn(const lanspread_host_api *api, lanspread_cancel_handle token) {
    if (api == nullptr || token == LANSPREAD_CANCEL_NONE)
        return 0;
    return self(api)._cancels.isCancelled(token) ? 1 : 0;
}

const void *PluginHost::getServiceFn(const lanspread_host_api *api, const char *serviceId) {
    if (api == nullptr || serviceId == nullptr)
        return nullptr;
    PluginHost &host = self(api);
    return host._services ? host._services(serviceId) : nullptr;
}

} // namespace lanspread::kernel::host
