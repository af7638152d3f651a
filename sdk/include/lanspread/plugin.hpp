// lanspread plugin SDK — C++20 wrapper: the plugin base class, the exception guard and
// LANSPREAD_DECLARE_PLUGIN (plugin side).
//
// Header-only. A C++ plugin derives from a kind base (UnpackerPlugin, FrontendPlugin, ...
// in kinds/*.hpp), whose constructor receives the Host, and declares itself once:
//
//   LANSPREAD_DECLARE_PLUGIN(MyUnpacker, LANSPREAD_KIND_UNPACKER, "org.example.unpacker.foo",
//                            "Foo unpacker", "1.0.0", "Example Corp", "Reads .foo archives",
//                            kCapabilities, kConfigKeys);
//
// which defines the static descriptor and entry and the exported lanspread_plugin_v1().
// Every C entry point the wrapper installs is a noexcept trampoline: an exception thrown by
// plugin code never unwinds into the kernel; it is logged through the host and becomes
// LANSPREAD_E_FAILED (or the status carried by a lanspread::StatusError).
#pragma once

#include <lanspread/host.hpp>
#include <lanspread/plugin.h>
#include <lanspread/result.hpp>

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>

namespace lanspread {

// Base of every C++ plugin object; one instance per init(), deleted by shutdown().
class Plugin {
  public:
    explicit Plugin(Host host) : _host(host) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin &) = delete;
    Plugin &operator=(const Plugin &) = delete;

    // The C interface table for a versioned interface id, or nullptr. Kind bases implement
    // it; a plugin offering extra interfaces overrides it and falls back to the base.
    virtual const void *interfaceFor(std::string_view interfaceId) = 0;

    const Host &host() const { return _host; }

  private:
    Host _host;
};

namespace detail {

// Runs fn inside the exception barrier every trampoline needs. fn returns a Status or a
// lanspread_status. Thread: whatever thread the hook is called on.
template <typename Fn>
lanspread_status guard(const Host &host, const char *hook, Fn &&fn) noexcept {
    try {
        if constexpr (std::is_same_v<std::invoke_result_t<Fn>, Status>) {
            Status status = fn();
            if (!status.succeeded() && !status.message().empty() && host)
                host.log(LogLevel::Error, std::string(hook) + ": " + status.message());
            return status.code();
        } else {
            return fn();
        }
    } catch (const StatusError &e) {
        if (host)
            host.log(LogLevel::Error, std::string(hook) + ": " + e.what());
        return e.status().succeeded() ? LANSPREAD_E_FAILED : e.status().code();
    } catch (const std::exception &e) {
        if (host)
            host.log(LogLevel::Error, std::string("exception in ") + hook + ": " + e.what());
        return LANSPREAD_E_FAILED;
    } catch (...) {
        if (host)
            host.log(LogLevel::Error, std::string("unknown exception in ") + hook);
        return LANSPREAD_E_FAILED;
    }
}

// The entry's three functions for one plugin class.
template <typename PluginClass> struct EntryTrampolines {
    static_assert(std::is_base_of_v<Plugin, PluginClass>, "plugins derive from a kind base");

    static lanspread_status init(const lanspread_host_api *api, void **outState) noexcept {
        if (api == nullptr || outState == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outState = nullptr;
        Host host(api);
        return guard(host, "init", [&]() -> lanspread_status {
            Plugin *plugin = new PluginClass(host);
            *outState = plugin;
            return LANSPREAD_OK;
        });
    }

    static void shutdown(void *state) noexcept {
        if (state == nullptr)
            return;
        auto *plugin = static_cast<Plugin *>(state);
        const lanspread_host_api *api = plugin->host().api();
        // Destructors are noexcept; nothing can escape here.
        delete plugin;
        // The host runs none of the plugin's pending posted tasks from now on (host.h).
        PendingTasks::releaseAll(api);
    }

    static const void *getInterface(void *state, const char *interfaceId) noexcept {
        if (state == nullptr || interfaceId == nullptr)
            return nullptr;
        auto *plugin = static_cast<Plugin *>(state);
        const void *table = nullptr;
        lanspread_status status = guard(plugin->host(), "get_interface", [&]() -> lanspread_status {
            table = plugin->interfaceFor(interfaceId);
            return LANSPREAD_OK;
        });
        return status == LANSPREAD_OK ? table : nullptr;
    }
};

} // namespace detail
} // namespace lanspread

// Defines the plugin's static descriptor and entry, and the one exported symbol.
// capabilities and configKeys are NULL-terminated `static const char *const[]` or nullptr.
// Everything is constant-initialised: no static constructor runs at load time.
#define LANSPREAD_DECLARE_PLUGIN(PluginClass, kind, id, name, version, vendor, description,        \
                                 capabilities, configKeys)                                         \
    static const lanspread_plugin_descriptor lanspread_declared_descriptor_ = {                    \
        sizeof(lanspread_plugin_descriptor),                                                       \
        (kind),                                                                                    \
        (id),                                                                                      \
        (name),                                                                                    \
        (version),                                                                                 \
        (vendor),                                                                                  \
        (description),                                                                             \
        (capabilities),                                                                            \
        (configKeys)};                                                                             \
    static const lanspread_plugin_entry lanspread_declared_entry_ = {                              \
        sizeof(lanspread_plugin_entry),                                                            \
        LANSPREAD_ABI_MAJOR,                                                                       \
        LANSPREAD_ABI_MINOR,                                                                       \
        &lanspread_declared_descriptor_,                                                           \
        &::lanspread::detail::EntryTrampolines<PluginClass>::init,                                 \
        &::lanspread::detail::EntryTrampolines<PluginClass>::shutdown,                             \
        &::lanspread::detail::EntryTrampolines<PluginClass>::getInterface};                        \
    extern "C" LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {          \
        return &lanspread_declared_entry_;                                                         \
    }
