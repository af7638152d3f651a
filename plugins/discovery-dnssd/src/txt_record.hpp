// discovery-dnssd: TXT records ("key=value" strings <-> DNS TXT rdata) and instance names,
// with the Bonjour API's TXTRecord* helpers.
#pragma once

#include <lanspread/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread::plugins::dnssd {

// The most a TXT item (key, '=', value) may hold: one length byte's worth (RFC 6763 §6.1).
inline constexpr std::size_t kMaxTxtItem = 255;
// The most a DNS-SD instance name may hold: one DNS label (RFC 6763 §4.1.1).
inline constexpr std::size_t kMaxInstanceName = 63;

// Encodes "key=value" items with TXTRecordCreate/TXTRecordSetValue, in order. "key" (no '=')
// is a boolean attribute, "key=" an empty value; a value may contain '=' (the first '='
// splits). Fails with E_INVALID_ARGUMENT naming the item when a key is empty or an item is
// over 255 bytes. A key given twice keeps its last value (TXTRecordSetValue replaces).
Result<std::vector<uint8_t>> encodeTxt(const std::vector<std::string> &items);

// Decodes TXT rdata with TXTRecordGetCount/TXTRecordGetItemAtIndex into "key=value" items
// ("key" for a boolean attribute). Skips empty items (an empty TXT record is one zero-length
// string) and stops at a malformed length byte.
std::vector<std::string> decodeTxt(const uint8_t *data, std::size_t size);

// name cut to at most kMaxInstanceName bytes without splitting a UTF-8 sequence.
std::string truncateInstanceName(std::string_view name);

} // namespace lanspread::plugins::dnssd
