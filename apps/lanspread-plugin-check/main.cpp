// lanspread-plugin-check FILE.so [FILE.so ...]
//
// Loads each plugin through the kernel's real loader (every acceptance rule, in order, in
// one loader so duplicate ids are caught) into the SDK's FakeHost, prints its descriptor,
// runs its kind's conformance checks, shuts it down and checks it left no fd watch or timer
// behind. A failing plugin prints exactly one stdout line "FAIL <path>: <rule>: <reason>";
// the exit status is 0 only when every plugin passed. Plugin logs go to stderr.
#include "conformance.hpp"

#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/testing/fake_host.hpp>

#include <iostream>
#include <map>
#include <memory>

using lanspread::kernel::host::LoadedPlugin;
using lanspread::kernel::host::PluginLoader;
using lanspread::testing::FakeHost;

namespace {

void printDescriptor(const LoadedPlugin &p) {
    const auto &d = p.image.descriptor;
    std::cout << "plugin       " << p.image.path << "\n"
              << "  id          " << d.id << "\n"
              << "  kind        " << lanspread::kernel::host::kindName(d.kind) << "\n"
              << "  name        " << d.name << "\n"
              << "  version     " << d.version << "\n"
              << "  vendor      " << d.vendor << "\n"
              << "  description " << d.description << "\n"
              << "  abi         " << p.image.entry.abi_major << "." << p.image.entry.abi_minor
              << " (entry " << p.image.declaredEntrySize << " bytes, descriptor "
              << p.image.declaredDescriptorSize << " bytes)\n";
    std::cout << "  capabilities";
    for (auto c = d.capabilities; c && *c; ++c)
        std::cout << " " << *c;
    std::cout << "\n";
    for (auto k = d.config_keys; k && *k; ++k)
        std::cout << "  config      " << *k << "\n";
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cerr << "usage: lanspread-plugin-check FILE.so [FILE.so ...]\n"
                     "Loads each plugin through the real loader into a fake host and runs its\n"
                     "kind's conformance checks. Exit 0 only when every plugin conforms.\n";
        return argc < 2 ? 2 : 0;
    }

    std::map<std::string, std::unique_ptr<FakeHost>> hosts; // by path; outlive the loader
    FakeHost *current = nullptr;
    int failures = 0;
    {
        PluginLoader loader([&](const lanspread::kernel::host::PluginImage &image) {
            auto host = std::make_unique<FakeHost>(image.id());
            host->echoLogs(true);
            current = host.get();
            const lanspread_host_api *api = host->api();
            hosts[image.path] = std::move(host);
            return api;
        });
        for (int i = 1; i < argc; ++i) {
            const std::string path = argv[i];
            current = nullptr;
            auto outcome = loader.load(path);
            if (!outcome.ok()) {
                std::cout << "FAIL " << outcome.reason << std::endl;
                ++failures;
                continue;
            }
            const LoadedPlugin &plugin = *outcome.plugin;
            printDescriptor(plugin);
            std::string failure;
            for (const auto &result : lanspread::check::runConformance(plugin, *current)) {
                if (!result.failure.empty()) {
                    failure = result.name + ": " + result.failure;
                    break;
                }
                std::cout << "  check       " << result.name << ": ok\n";
            }
            if (failure.empty() && (current->watchCount() != 0 || current->timerCount() != 0))
                failure = "left " + std::to_string(current->watchCount()) + " fd watch(es) and " +
                          std::to_string(current->timerCount()) + " timer(s) after the checks";
            if (!failure.empty()) {
                std::cout << "FAIL " << path << ": conformance: " << failure << std::endl;
                ++failures;
            } else {
                std::cout << "PASS " << path << std::endl;
            }
        }
        loader.shutdownAll();
        for (auto &[path, host] : hosts)
            if (host->watchCount() != 0 || host->timerCount() != 0) {
                std::cout << "FAIL " << path << ": conformance: shutdown left "
                          << host->watchCount() << " fd watch(es) and " << host->timerCount()
                          << " timer(s)" << std::endl;
                ++failures;
            }
    }
    return failures == 0 ? 0 : 1;
}
