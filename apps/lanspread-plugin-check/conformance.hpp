// Kind-specific conformance checks of lanspread-plugin-check: what every plugin of a kind
// must do beyond loading. Each check drives the plugin's C interface as the kernel would,
// under the SDK's FakeHost, and returns "" or a one-line reason.
#pragma once

#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/testing/fake_host.hpp>

#include <string>
#include <vector>

namespace lanspread::check {

struct CheckResult {
    std::string name;    // "probe on empty input"
    std::string failure; // "" when passed
};

// Runs every check for the plugin's kind; stops at the first failure.
std::vector<CheckResult> runConformance(const kernel::host::LoadedPlugin &plugin,
                                        testing::FakeHost &host);

} // namespace lanspread::check
