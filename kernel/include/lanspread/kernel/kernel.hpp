// The kernel: owns the reactor thread, the event bus, the worker pool, the control service
// and the loaded plugins, and runs their lifecycle:
//   start(): reactor thread up -> plugins loaded (each rejection logged, never fatal) ->
//            their config sections checked -> runtime and frontends started;
//   stop():  frontends stopped -> control service closed -> plugins shut down in reverse
//            load order -> reactor stopped and joined.
// Apps (lanspreadd) create one Kernel; everything else reaches it through the host API.
#pragma once

#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/control_service.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/plugin_host.hpp>
#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/settings.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/runtime/runtime.hpp>
#include <lanspread/kinds/frontend.h>

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace lanspread::kernel {

class Kernel {
  public:
    Kernel(host::Settings settings, Poco::AutoPtr<Poco::Util::AbstractConfiguration> config);
    ~Kernel(); // stop()s if still running
    Kernel(const Kernel &) = delete;
    Kernel &operator=(const Kernel &) = delete;

    // Loads the catalog and the identity and recovers interrupted installs: everything that
    // can make a peer refuse to start. The error is one line for the user. Call before start().
    Status prepare();
    // Brings the kernel up (see above) and returns once plugins are loaded and frontends
    // started. Fails, with the runtime and frontends not started, when a [plugin.<id>]
    // section holds a key its plugin does not know (one line naming it; the owner then
    // stops). Thread: the owner's (not the reactor).
    Status start();
    // Takes the kernel down (see above). Idempotent. Thread: the owner's (not the reactor).
    void stop();

    // Re-reads the catalog file and rescans the library (lanspreadd's SIGHUP, so `systemctl
    // reload`); a bad file keeps the old catalog, with one log line. No-op unless started.
    // Thread: the owner's (not the reactor).
    void reloadCatalog();

    // Called on the reactor thread when a command (shutdown) asks the process to exit;
    // the owner then calls stop(). Set before start().
    void setExitRequestHandler(std::function<void()> handler) {
        _exitRequested = std::move(handler);
    }

    const host::Settings &settings() const { return _settings; }
    host::Reactor &reactor() { return _reactor; }
    host::EventBus &events() { return _events; }
    host::WorkerPool &workers() { return _workers; }
    host::CancelRegistry &cancels() { return _cancels; }
    host::ControlService &control() { return _control; }
    const host::PluginLoader &plugins() const { return _loader; }

  private:
    void loadPlugins();
    Status refuseUnknownPluginKeys() const;
    void startFrontends();
    void startRuntime();
    void stopFrontends();
    void registerCommands();
    const lanspread_host_api *hostFor(const host::PluginImage &image);
    void releaseHost(const lanspread_host_api *host);
    const void *service(const std::string &serviceId) const;

    host::Settings _settings;
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> _config;
    host::Reactor _reactor;
    host::EventBus _events;
    host::WorkerPool _workers;
    host::CancelRegistry _cancels;
    host::ControlService _control;
    // Every host table ever handed out; kept (retired) for the process lifetime, because a
    // plugin's library is never unloaded and a stray pointer must not reach freed memory.
    std::vector<std::unique_ptr<host::PluginHost>> _hosts;
    host::PluginLoader _loader;
    runtime::PeerRuntime _runtime;
    struct RunningFrontend {
        std::string id;
        const lanspread_frontend_v1 *vtable;
        lanspread_frontend_session *session;
    };
    std::vector<RunningFrontend> _frontends;
    std::vector<std::string> _unresolved; // plugin specs that named no file: "spec: why"
    std::function<void()> _exitRequested;
    std::thread _reactorThread;
    bool _started = false;
    bool _stopped = false;
};

} // namespace lanspread::kernel
