// Fuzz target: discovery-dnssd's TXT decoding (plugins/discovery-dnssd/src/txt_record.cpp),
// what any host on the LAN can put in an mDNS answer. Input: [mode: 1 byte][rdata].
// Invariants: decodeTxt never crashes or reads past the rdata; every item it returns fits a
// TXT string (<= 255 bytes) and is not empty; when the keys are distinct and all non-empty,
// encodeTxt of the items decodes back to the same items. truncateInstanceName (mode bit 0, on
// the rdata as a name) keeps at most 63 bytes, a prefix of the name, and never cuts a UTF-8
// sequence of a valid name.
#include "fuzz_support.hpp"

#include "txt_record.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace dnssd = lanspread::plugins::dnssd;
using lanspread::fuzz::check;
using lanspread::fuzz::validUtf8;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    if (size < 1)
        return 0;
    const uint8_t mode = data[0];
    // A copy of exactly the rdata, so ASan sees any read past its end.
    const std::vector<uint8_t> rdata(data + 1, data + size);
    if (mode & 1) {
        const std::string name(rdata.begin(), rdata.end());
        const std::string cut = dnssd::truncateInstanceName(name);
        check(cut.size() <= dnssd::kMaxInstanceName, "an instance name over 63 bytes");
        check(name.compare(0, cut.size(), cut) == 0, "a truncated name is not a prefix");
        if (validUtf8(name))
            check(validUtf8(cut), "truncation split a UTF-8 sequence");
    }
    const std::vector<std::string> items = dnssd::decodeTxt(rdata.data(), rdata.size());
    std::set<std::string> keys;
    bool roundTrips = true;
    for (const auto &item : items) {
        check(!item.empty() && item.size() <= dnssd::kMaxTxtItem, "a TXT item of impossible size");
        // Keys compare without case (RFC 6763 section 6.4), as TXTRecordSetValue replaces.
        std::string key = item.substr(0, item.find('='));
        for (char &c : key)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (key.empty() || !keys.insert(key).second)
            roundTrips = false;
    }
    if (!roundTrips)
        return 0;
    auto encoded = dnssd::encodeTxt(items);
    check(encoded.ok(), "encodeTxt refuses what decodeTxt gave: " +
                            (encoded.ok() ? std::string() : encoded.status().message()));
    const std::vector<std::string> again =
        dnssd::decodeTxt(encoded.value().data(), encoded.value().size());
    check(again == items, "TXT items changed in a round trip");
    return 0;
}
