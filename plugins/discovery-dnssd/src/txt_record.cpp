#include "txt_record.hpp"

#include <dns_sd.h>

namespace lanspread::plugins::dnssd {

namespace {
// A TXTRecordRef that is always deallocated.
class TxtBuilder {
  public:
    TxtBuilder() { TXTRecordCreate(&_ref, 0, nullptr); }
    ~TxtBuilder() { TXTRecordDeallocate(&_ref); }
    TxtBuilder(const TxtBuilder &) = delete;
    TxtBuilder &operator=(const TxtBuilder &) = delete;
    TXTRecordRef *get() { return &_ref; }

  private:
    TXTRecordRef _ref;
};
} // namespace

Result<std::vector<uint8_t>> encodeTxt(const std::vector<std::string> &items) {
    TxtBuilder txt;
    for (const std::string &item : items) {
        const std::size_t eq = item.find('=');
        const std::string key = item.substr(0, eq);
        if (key.empty())
            return Status(LANSPREAD_E_INVALID_ARGUMENT, "TXT item \"" + item + "\" has no key");
        if (item.size() > kMaxTxtItem)
            return Status(LANSPREAD_E_INVALID_ARGUMENT,
                          "TXT item \"" + key + "=...\" is " + std::to_string(item.size()) +
                              " bytes; DNS-SD allows " + std::to_string(kMaxTxtItem));
        DNSServiceErrorType e;
        if (eq == std::string::npos) {
            e = TXTRecordSetValue(txt.get(), key.c_str(), 0, nullptr);
        } else {
            const std::string_view value = std::string_view(item).substr(eq + 1);
            e = TXTRecordSetValue(txt.get(), key.c_str(), static_cast<uint8_t>(value.size()),
                                  value.data());
        }
        if (e != kDNSServiceErr_NoError)
            return Status(LANSPREAD_E_INVALID_ARGUMENT, "TXT item \"" + key +
                                                            "\" refused by TXTRecordSetValue (" +
                                                            std::to_string(e) + ")");
    }
    const auto *bytes = static_cast<const uint8_t *>(TXTRecordGetBytesPtr(txt.get()));
    return std::vector<uint8_t>(bytes, bytes + TXTRecordGetLength(txt.get()));
}

std::vector<std::string> decodeTxt(const uint8_t *data, std::size_t size) {
    std::vector<std::string> items;
    if (data == nullptr || size == 0)
        return items;
    const auto length = static_cast<uint16_t>(size > UINT16_MAX ? UINT16_MAX : size);
    const uint16_t count = TXTRecordGetCount(length, data);
    for (uint16_t i = 0; i < count; ++i) {
        char key[kMaxTxtItem + 1];
        uint8_t valueLength = 0;
        const void *value = nullptr;
        if (TXTRecordGetItemAtIndex(length, data, i, sizeof key, key, &valueLength, &value) !=
            kDNSServiceErr_NoError)
            break;
        std::string item = key;
        if (item.empty())
            continue;
        if (value != nullptr) {
            item += '=';
            item.append(static_cast<const char *>(value), valueLength);
        }
        items.push_back(std::move(item));
    }
    return items;
}

std::string truncateInstanceName(std::string_view name) {
    if (name.size() <= kMaxInstanceName)
        return std::string(name);
    std::size_t end = kMaxInstanceName;
    // Back off continuation bytes (10xxxxxx) so that the cut lands on a sequence start.
    while (end > 0 && (static_cast<unsigned char>(name[end]) & 0xC0) == 0x80)
        --end;
    return std::string(name.substr(0, end));
}

} // namespace lanspread::plugins::dnssd
