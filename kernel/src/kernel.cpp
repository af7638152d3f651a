#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/kernel.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/services/control.h>

#include <Poco/String.h>

#include <unistd.h>

#include <algorithm>
#include <future>
#include <optional>
#include <sstream>

namespace lanspread::kernel {

namespace {
constexpr const char *kSource = "kernel";

// Runs fn on the reactor thread and waits for it: start() and stop() sequence plugin hooks,
// which must run there.
void runOnReactor(host::Reactor &reactor, const std::function<void()> &fn) {
    std::promise<void> done;
    auto future = done.get_future();
    if (!reactor.post([&] {
            fn();
            done.set_value();
        }))
        return;
    future.wait();
}
} // namespace

Kernel::Kernel(host::Settings settings, Poco::AutoPtr<Poco::Util::AbstractConfiguration> config)
    : _settings(std::move(settings)), _config(std::move(config)), _control(_reactor, _events),
      _loader([this](const host::PluginImage &image) { return hostFor(image); },
              [this](const lanspread_host_api *host) { releaseHost(host); }),
      _runtime(_settings, _reactor, _workers, _events, _control, _cancels) {
    registerCommands();
}

Kernel::~Kernel() {
    stop();
}

const lanspread_host_api *Kernel::hostFor(const host::PluginImage &image) {
    auto host = std::make_unique<host::PluginHost>(
        image.id(), _reactor, _events, _cancels, *_config,
        [this](const std::string &serviceId) { return service(serviceId); });
    const lanspread_host_api *api = host->api();
    _hosts.push_back(std::move(host));
    return api;
}

void Kernel::releaseHost(const lanspread_host_api *host) {
    for (auto &candidate : _hosts)
        if (candidate->api() == host)
            candidate->retire();
}

const void *Kernel::service(const std::string &serviceId) const {
    if (serviceId == LANSPREAD_CONTROL_SERVICE_ID)
        return _control.table();
    return nullptr;
}

Status Kernel::prepare() {
    return _runtime.prepare();
}

void Kernel::startRuntime() {
    std::vector<install::UnpackerRef> unpackers;
    for (const auto &plugin : _loader.plugins())
        if (plugin->kind() == LANSPREAD_KIND_UNPACKER)
            unpackers.push_back({plugin->id(),
                                 static_cast<const lanspread_unpacker_v1 *>(plugin->interface),
                                 plugin->state});
    // The transports, preferred first: those lanspread.transport lists (comma-separated), in
    // its order; else every one loaded, in load order (the order of lanspread.plugins).
    std::vector<peers::TransportRef> loaded;
    for (const auto &plugin : _loader.plugins())
        if (plugin->kind() == LANSPREAD_KIND_TRANSPORT)
            loaded.push_back(peers::TransportRef{
                plugin->id(), static_cast<const lanspread_transport_v1 *>(plugin->interface),
                plugin->state});
    std::vector<peers::TransportRef> transports;
    const std::string wanted = _config->getString("lanspread.transport", "");
    std::stringstream list(wanted);
    for (std::string id; std::getline(list, id, ',');) {
        id = Poco::trim(id);
        if (id.empty())
            continue;
        auto it = std::find_if(loaded.begin(), loaded.end(),
                               [&](const peers::TransportRef &t) { return t.id == id; });
        if (it == loaded.end())
            log::error(kSource, "lanspread.transport names " + id +
                                    ", which is not a loaded transport plugin");
        else if (std::none_of(transports.begin(), transports.end(),
                              [&](const peers::TransportRef &t) { return t.id == id; }))
            transports.push_back(*it);
    }
    if (Poco::trim(wanted).empty())
        transports = loaded;
    if (transports.empty())
        log::error(kSource, loaded.empty()
                                ? "no transport plugin is loaded: this peer cannot reach others"
                                : "lanspread.transport names no loaded transport plugin: this "
                                  "peer cannot reach others");
    std::vector<peers::DiscoveryRef> discovery;
    for (const auto &plugin : _loader.plugins())
        if (plugin->kind() == LANSPREAD_KIND_DISCOVERY)
            discovery.push_back({plugin->id(),
                                 static_cast<const lanspread_discovery_v1 *>(plugin->interface),
                                 plugin->state});
    _runtime.start(std::move(unpackers), _config->getString("lanspread.unpacker", ""), transports,
                   std::move(discovery));
}

Status Kernel::start() {
    if (_started)
        return Status();
    _started = true;
    _reactorThread = std::thread([this] { _reactor.run(); });
    Status configured;
    runOnReactor(_reactor, [this, &configured] {
        loadPlugins();
        configured = refuseUnknownPluginKeys();
        if (!configured)
            return;
        startRuntime();
        startFrontends();
    });
    return configured;
}

void Kernel::reloadCatalog() {
    if (!_started || _stopped)
        return;
    runOnReactor(_reactor, [this] { _runtime.reloadCatalog(); });
}

Status Kernel::refuseUnknownPluginKeys() const {
    std::vector<std::string> sections;
    for (const auto &host : _hosts)
        sections.push_back(host->configSection());
    for (const auto &plugin : _loader.plugins())
        for (const auto &host : _hosts)
            if (host->api() == plugin->host)
                if (Status known =
                        host->refuseUnknownConfigKeys(plugin->image.descriptor, sections);
                    !known)
                    return known;
    // Every plugin that got as far as a host table (loaded or rejected in init) has its
    // section in `sections`. A section of none of them (a plugin not listed in
    // lanspread.plugins, or not found) is not an error, as the peer runs without a plugin it
    // cannot load; but nothing reads it, which is said.
    for (const auto &key : host::keysBelow(*_config, "plugin", sections))
        log::warning(kSource, "config key plugin." + key +
                                  " is not read: no loaded plugin has that section");
    return Status();
}

void Kernel::loadPlugins() {
    for (const std::string &spec : _settings.plugins) {
        Result<std::string> path = host::resolvePluginSpec(spec, _settings.pluginDir);
        if (!path) {
            log::error(kSource, "plugin " + spec + " not loaded: " + path.status().message());
            _unresolved.push_back(spec + ": " + path.status().message());
            continue;
        }
        host::LoadOutcome outcome = _loader.load(path.value());
        if (!outcome.ok()) {
            log::error(kSource, "plugin rejected: " + outcome.reason);
            continue;
        }
        const host::LoadedPlugin &p = *outcome.plugin;
        log::info(kSource, "loaded " + p.id() + " " + p.image.descriptor.version + " (" +
                               host::kindName(p.kind()) + ") from " + p.image.path);
    }
}

void Kernel::startFrontends() {
    for (const auto &plugin : _loader.plugins()) {
        if (plugin->kind() != LANSPREAD_KIND_FRONTEND)
            continue;
        auto *vtable = static_cast<const lanspread_frontend_v1 *>(plugin->interface);
        lanspread_frontend_session *session = nullptr;
        lanspread_status status = vtable->start(plugin->state, &session);
        if (status != LANSPREAD_OK) {
            log::error(kSource, "frontend " + plugin->id() + " failed to start (" +
                                    lanspread_status_name(status) + "); the peer keeps running");
            continue;
        }
        _frontends.push_back({plugin->id(), vtable, session});
    }
}

void Kernel::stopFrontends() {
    for (auto it = _frontends.rbegin(); it != _frontends.rend(); ++it)
        it->vtable->stop(it->session);
    _frontends.clear();
}

void Kernel::stop() {
    if (!_started || _stopped)
        return;
    _stopped = true;
    // 1. No new commands; running operations see their cancel tokens.
    _control.close();
    _cancels.cancelAll();
    // 2. Running jobs finish (quickly, cancelled) and post their results; they may still
    //    call unpacker plugins, so plugins stay up until they are done.
    _workers.shutdown();
    // 3. On the reactor, the posted results run first (FIFO), so every accepted command
    //    still gets its one result line; then frontends, the runtime and plugins stop.
    runOnReactor(_reactor, [this] {
        stopFrontends();
        _runtime.stop();
        _loader.shutdownAll(); // each shutdown retires its host (releaseHost)
    });
    _reactor.stop();
    if (_reactorThread.joinable())
        _reactorThread.join();
}

void Kernel::registerCommands() {
    _control.addCommand(
        "status", {}, [this](const Poco::JSON::Object &, host::ControlService::Reply reply) {
            contract::StatusView status;
            status.name = _settings.name;
            status.version = LANSPREAD_VERSION;
            status.pid = static_cast<int>(::getpid());
            status.listenAddr = _settings.listenAddr;
            status.gamesDir = _settings.gamesDir;
            status.stateDir = _settings.stateDir;
            for (const auto &p : _loader.plugins())
                status.plugins.push_back({p->id(), host::kindName(p->kind()),
                                          p->image.descriptor.version, p->image.path});
            for (const auto &r : _loader.rejections())
                status.rejectedPlugins.push_back({r.path, loadFailureName(r.failure), r.reason});
            for (const auto &u : _unresolved)
                status.rejectedPlugins.push_back({"", "not-found", u});
            _runtime.addStatusFields(status);
            reply.ok(contract::statusResult(status));
        });

    _control.addCommand("shutdown", {},
                        [this](const Poco::JSON::Object &, host::ControlService::Reply reply) {
                            reply.ok(contract::shutdownResult());
                            log::info(kSource, "shutdown requested by command");
                            if (_exitRequested)
                                _exitRequested();
                        });
}

} // namespace lanspread::kernel
