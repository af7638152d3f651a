// Fuzz target, built once per unpacker plugin (fuzz_unpacker_libarchive, fuzz_unpacker_zip):
// the plugin's own code, linked from its <plugin>_objects library, driven through the SDK's
// FakeHost and an in-memory byte source exactly as the kernel drives it, with its entries going
// into the kernel's extraction sink (install::extractFromSource), inside the staging fence.
//
// Input: [mode: 1 byte][archive bytes]. Mode bit 0: streamed reads (small odd pieces, as a
// streamed install delivers them); bit 1: a source with no seek/size (a network stream);
// bit 2: read through the SDK's unpacker_driver instead of the sink, which checks the
// plugin's side of kinds/unpacker.h (a breach aborts). Invariants: no crash, no sanitizer
// report, probe() scores 0..100, the plugin keeps its C contract, and the sink's fence holds.
#include "fuzz_support.hpp"

#include <lanspread/kernel/install/extraction_sink.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>
#include <lanspread/testing/memory_byte_source.hpp>
#include <lanspread/testing/unpacker_driver.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace install = lanspread::kernel::install;
using lanspread::fuzz::check;
using lanspread::fuzz::Fence;

namespace {

struct Plugin {
    lanspread::testing::FakeHost host{"org.lanspread.fuzz.unpacker"};
    const lanspread_plugin_entry *entry = nullptr;
    void *state = nullptr;
    const lanspread_unpacker_v1 *vt = nullptr;
    Plugin() {
        entry = lanspread_plugin_v1();
        check(entry != nullptr && entry->init(host.api(), &state) == LANSPREAD_OK,
              "the plugin does not initialise");
        vt = static_cast<const lanspread_unpacker_v1 *>(
            entry->get_interface(state, LANSPREAD_UNPACKER_INTERFACE_ID));
        check(vt != nullptr, "the plugin has no unpacker interface");
    }
    // Never shut down: libFuzzer exits without running it, and a static's destructor order
    // against the host's would only add noise.
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    static Plugin plugin;
    static Fence fence;
    if (size < 1)
        return 0;
    const uint8_t mode = data[0];
    const std::string archive(reinterpret_cast<const char *>(data + 1), size - 1);

    uint32_t score = 0;
    lanspread_status probed = plugin.vt->probe(
        plugin.state, reinterpret_cast<const uint8_t *>(archive.data()),
        std::min<std::size_t>(archive.size(), 4096), (mode & 8) ? "game.eti" : nullptr, &score);
    check(probed == LANSPREAD_OK && score <= 100, "probe() failed or scored over 100");

    lanspread::testing::MemoryByteSource source(
        archive, lanspread::testing::MemoryByteSource::kUnlimited, (mode & 2) == 0);
    if (mode & 1)
        source.setStreamedReads();

    if (mode & 4) {
        auto result = lanspread::testing::readAllEntries(*plugin.vt, plugin.state, source.source(),
                                                         LANSPREAD_CANCEL_NONE, 4096);
        check(result.contractError.empty(),
              "the plugin broke its contract: " + result.contractError);
        return 0;
    }

    install::ExtractionLimits limits;
    limits.maxTotalBytes = 64u << 20; // a bomb stops here, not on the disk
    limits.maxEntries = 10000;
    {
        install::ExtractionSink sink(fence.staging(), limits, {});
        auto stats = install::extractFromSource(*plugin.vt, plugin.state, *source.source(),
                                                "fuzz.eti", sink, LANSPREAD_CANCEL_NONE, {});
        if (!stats.ok())
            check(!stats.status().message().empty(), "a failed extraction without a message");
    }
    fence.verify();
    fence.reset();
    return 0;
}
