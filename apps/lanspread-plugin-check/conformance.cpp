#include "conformance.hpp"

#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/testing/memory_byte_source.hpp>

#include <cstring>
#include <functional>
#include <random>

namespace lanspread::check {

namespace {

// Every function-pointer member of a vtable must be set; they are laid out after
// struct_size (padded to pointer alignment) up to sizeof(T).
template <typename T> std::string checkVtable(const void *interface, const char *interfaceId) {
    const T *table = static_cast<const T *>(interface);
    if (table->struct_size < sizeof(T))
        return std::string(interfaceId) + " table struct_size " +
               std::to_string(table->struct_size) + " is below the v1 size " +
               std::to_string(sizeof(T));
    const auto *bytes = reinterpret_cast<const unsigned char *>(table);
    for (std::size_t offset = sizeof(void *); offset + sizeof(void *) <= sizeof(T);
         offset += sizeof(void *)) {
        void *member = nullptr;
        std::memcpy(&member, bytes + offset, sizeof member);
        if (member == nullptr)
            return std::string(interfaceId) + " member at offset " + std::to_string(offset) +
                   " is NULL (every member of a v1 table is required)";
    }
    return "";
}

std::vector<uint8_t> noise(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> out(n);
    for (auto &b : out)
        b = static_cast<uint8_t>(rng());
    return out;
}

std::string probeCheck(const lanspread_unpacker_v1 *u, void *state,
                       const std::vector<uint8_t> &head, const char *hint) {
    uint32_t score = 12345;
    lanspread_status s =
        u->probe(state, head.empty() ? nullptr : head.data(), head.size(), hint, &score);
    if (s != LANSPREAD_OK)
        return std::string("probe returned ") + lanspread_status_name(s) + " (must be OK)";
    if (score > 100)
        return "probe score " + std::to_string(score) + " is above 100";
    return "";
}

// Opening garbage must fail cleanly or yield a bounded entry stream; never crash.
std::string garbageOpenCheck(const lanspread_unpacker_v1 *u, void *state) {
    // An in-memory stream, as the kernel offers an archive: no seek, no size.
    testing::MemoryByteSource source(noise(4096, 7), testing::MemoryByteSource::kUnlimited, false);
    lanspread_unpack_job *job = nullptr;
    lanspread_status s = u->open(state, source.source(), LANSPREAD_CANCEL_NONE, &job);
    if (s != LANSPREAD_OK)
        return job == nullptr ? "" : "open failed but returned a job handle";
    if (job == nullptr)
        return "open returned OK without a job";
    std::string failure;
    for (int i = 0; i < 10000; ++i) {
        lanspread_archive_entry entry{};
        entry.struct_size = sizeof entry;
        s = u->next_entry(job, &entry);
        if (s != LANSPREAD_OK)
            break;
        if (i == 9999)
            failure = "next_entry on 4 KiB of noise never ended";
        uint8_t buffer[4096];
        size_t got = 0;
        for (int j = 0; j < 100000 &&
                        u->read_data(job, buffer, sizeof buffer, &got) == LANSPREAD_OK && got > 0;
             ++j) {
        }
    }
    u->close(job);
    return failure;
}

} // namespace

std::vector<CheckResult> runConformance(const kernel::host::LoadedPlugin &plugin,
                                        testing::FakeHost &host) {
    std::vector<CheckResult> results;
    auto check = [&](const std::string &name, const std::function<std::string()> &fn) {
        if (!results.empty() && !results.back().failure.empty())
            return; // stop at the first failure
        results.push_back({name, fn()});
    };

    const char *interfaceId = kernel::host::kindInterfaceId(plugin.kind());
    switch (plugin.kind()) {
    case LANSPREAD_KIND_UNPACKER:
        check("interface table",
              [&] { return checkVtable<lanspread_unpacker_v1>(plugin.interface, interfaceId); });
        {
            auto *u = static_cast<const lanspread_unpacker_v1 *>(plugin.interface);
            check("probe on empty input", [&] { return probeCheck(u, plugin.state, {}, nullptr); });
            check("probe on 512 zero bytes", [&] {
                return probeCheck(u, plugin.state, std::vector<uint8_t>(512, 0), "zeros.bin");
            });
            check("probe on 4 KiB of noise",
                  [&] { return probeCheck(u, plugin.state, noise(4096, 1), "noise.eti"); });
            check("open on 4 KiB of noise", [&] { return garbageOpenCheck(u, plugin.state); });
        }
        break;
    case LANSPREAD_KIND_TRANSPORT:
        check("interface table",
              [&] { return checkVtable<lanspread_transport_v1>(plugin.interface, interfaceId); });
        break;
    case LANSPREAD_KIND_DISCOVERY:
        check("interface table",
              [&] { return checkVtable<lanspread_discovery_v1>(plugin.interface, interfaceId); });
        break;
    case LANSPREAD_KIND_FRONTEND:
        check("interface table",
              [&] { return checkVtable<lanspread_frontend_v1>(plugin.interface, interfaceId); });
        break;
    default: break;
    }
    check("unknown interface id gives NULL", [&]() -> std::string {
        const void *none =
            plugin.image.entry.get_interface(plugin.state, "lanspread.no-such-interface/1");
        return none == nullptr ? "" : "get_interface returned a table for an unknown id";
    });
    // Let anything the checks queued (posts, zero-delay timers) run before shutdown.
    host.runUntilIdle(1000);
    return results;
}

} // namespace lanspread::check
