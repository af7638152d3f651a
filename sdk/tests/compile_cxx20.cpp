// Every C and C++ header of the SDK must compile as C++20: this file is built with
// -std=c++20 -Wall -Wextra -pedantic -Werror. Each header is included twice (guards and
// #pragma once), and the wrapper's kind bases are instantiated through a small plugin of
// each kind, so template and constexpr code in the headers is compiled too.
#include <lanspread/host.h>
#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/status.h>
#include <lanspread/version.h>

#include <lanspread/host.hpp>
#include <lanspread/kinds/discovery.hpp>
#include <lanspread/kinds/frontend.hpp>
#include <lanspread/kinds/transport.hpp>
#include <lanspread/kinds/unpacker.hpp>
#include <lanspread/plugin.hpp>
#include <lanspread/result.hpp>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <lanspread/host.h>
#include <lanspread/host.hpp>
#include <lanspread/kinds/discovery.hpp>
#include <lanspread/kinds/frontend.hpp>
#include <lanspread/kinds/transport.hpp>
#include <lanspread/kinds/unpacker.hpp>
#include <lanspread/plugin.h>
#include <lanspread/plugin.hpp>
#include <lanspread/result.hpp>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <memory>

namespace {

class CompileUnpacker final : public lanspread::UnpackerPlugin {
  public:
    using UnpackerPlugin::UnpackerPlugin;
    lanspread::Result<uint32_t> probe(std::span<const uint8_t>, std::string_view) override {
        return 0u;
    }
    lanspread::Result<std::unique_ptr<lanspread::UnpackJob>>
    open(lanspread::ByteSource, lanspread_cancel_handle) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
};

class CompileFrontend final : public lanspread::FrontendPlugin {
  public:
    using FrontendPlugin::FrontendPlugin;
    lanspread::Result<std::unique_ptr<lanspread::FrontendSession>> start() override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
};

class CompileTransport final : public lanspread::TransportPlugin {
  public:
    using TransportPlugin::TransportPlugin;
    lanspread::Result<std::unique_ptr<lanspread::TransportEndpoint>>
    listen(const lanspread::TransportConfig &, lanspread::TransportEvents) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
    lanspread::Result<lanspread::TransportConnection *>
    connect(const lanspread::TransportConfig &, std::string_view,
            lanspread::TransportEvents) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
};

class CompileDiscovery final : public lanspread::DiscoveryPlugin {
  public:
    using DiscoveryPlugin::DiscoveryPlugin;
    lanspread::Result<std::unique_ptr<lanspread::DiscoveryAdvert>>
    advertise(const lanspread::ServiceRecord &) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
    lanspread::Result<std::unique_ptr<lanspread::DiscoveryBrowse>>
    browse(std::string_view, lanspread::DiscoveryEvents) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED);
    }
};

template <typename P> bool offers(const char *interfaceId) {
    lanspread::testing::FakeHost host;
    void *state = nullptr;
    using T = lanspread::detail::EntryTrampolines<P>;
    if (T::init(host.api(), &state) != LANSPREAD_OK)
        return false;
    bool ok = T::getInterface(state, interfaceId) != nullptr &&
              T::getInterface(state, "org.example.other/1") == nullptr;
    T::shutdown(state);
    return ok;
}

} // namespace

static const char *const kCapabilities[] = {"archive:none", nullptr};
LANSPREAD_DECLARE_PLUGIN(CompileUnpacker, LANSPREAD_KIND_UNPACKER, "org.lanspread.test.compile",
                         "compile test", "1.0.0", "lanspread", "Checks the headers compile",
                         kCapabilities, nullptr);

int main() {
    bool ok = offers<CompileUnpacker>(LANSPREAD_UNPACKER_INTERFACE_ID) &&
              offers<CompileFrontend>(LANSPREAD_FRONTEND_INTERFACE_ID) &&
              offers<CompileTransport>(LANSPREAD_TRANSPORT_INTERFACE_ID) &&
              offers<CompileDiscovery>(LANSPREAD_DISCOVERY_INTERFACE_ID) &&
              lanspread_plugin_v1()->struct_size == sizeof(lanspread_plugin_entry);
    return ok ? 0 : 1;
}
