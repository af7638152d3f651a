// discovery-dnssd: the DNS-SD seam. DnsSd is the handful of Bonjour-API (dns_sd.h) calls the
// plugin makes, as thin pass-throughs: the same arguments in the same encodings (ports in
// network byte order, TXT and rdata as raw bytes). SystemDnsSd (dnssd_system.cpp) forwards
// them to Avahi's compat library; the unit tests script a fake. Everything the plugin decides
// (TXT encoding, de-duplication, lifetimes, retries, timeouts) lives above this line.
//
// Threads: the plugin calls everything on the reactor thread. Reply callbacks run only
// inside ServiceRef::processResult() of the ref they belong to (as in dns_sd.h); a reply may
// arrive more than once per processResult().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::plugins::dnssd {

// DNSServiceErrorType values (dns_sd.h); dnssd_system.cpp checks that they match.
using ErrorCode = int32_t;
inline constexpr ErrorCode kErrNoError = 0;
inline constexpr ErrorCode kErrUnknown = -65537; // avahi: daemon not running / went away
inline constexpr ErrorCode kErrNoMemory = -65539;
inline constexpr ErrorCode kErrBadParam = -65540;
inline constexpr ErrorCode kErrBadFlags = -65543;
inline constexpr ErrorCode kErrUnsupported = -65544;
inline constexpr ErrorCode kErrNameConflict = -65548;
inline constexpr ErrorCode kErrInvalid = -65549;
inline constexpr ErrorCode kErrBadInterfaceIndex = -65552;

inline constexpr uint16_t kRecordTypeA = 1;   // kDNSServiceType_A
inline constexpr uint16_t kRecordClassIn = 1; // kDNSServiceClass_IN

// "kDNSServiceErr_Unknown (-65537)".
std::string describeError(ErrorCode error);

// One DNSServiceRef. Destroying it is DNSServiceRefDeallocate().
class ServiceRef {
  public:
    ServiceRef() = default;
    virtual ~ServiceRef() = default;
    ServiceRef(const ServiceRef &) = delete;
    ServiceRef &operator=(const ServiceRef &) = delete;

    // DNSServiceRefSockFD(): readable when processResult() has something to deliver.
    virtual int fd() const = 0;
    // DNSServiceProcessResult(): runs the ref's reply callbacks.
    virtual ErrorCode processResult() = 0;
};

struct RegisterReply {
    ErrorCode error = kErrNoError;
    std::string name; // the registered (possibly renamed) instance name
    std::string type;
    std::string domain;
};

struct BrowseReply {
    ErrorCode error = kErrNoError;
    bool add = false; // kDNSServiceFlagsAdd: Add, else Remove
    uint32_t interfaceIndex = 0;
    std::string name;
    std::string type; // "_lanspread._udp."
    std::string domain;
};

struct ResolveReply {
    ErrorCode error = kErrNoError;
    uint32_t interfaceIndex = 0;
    std::string fullName;
    std::string hostTarget;   // "lanlab-h1.local."
    uint16_t portNetwork = 0; // network byte order, as dns_sd.h delivers it
    std::vector<uint8_t> txt; // raw TXT rdata
};

struct QueryReply {
    ErrorCode error = kErrNoError;
    bool add = false;
    uint32_t interfaceIndex = 0;
    std::string fullName;
    uint16_t rrType = 0;
    uint16_t rrClass = 0;
    std::vector<uint8_t> rdata;
};

using RegisterCallback = std::function<void(const RegisterReply &)>;
using BrowseCallback = std::function<void(const BrowseReply &)>;
using ResolveCallback = std::function<void(const ResolveReply &)>;
using QueryCallback = std::function<void(const QueryReply &)>;

// The dns_sd.h calls (flags are always 0: the compat layer supports nothing else). Each
// creating call returns kErrNoError and sets *out, or an error and leaves *out empty.
class DnsSd {
  public:
    DnsSd() = default;
    virtual ~DnsSd() = default;
    DnsSd(const DnsSd &) = delete;
    DnsSd &operator=(const DnsSd &) = delete;

    // DNSServiceRegister on every interface, default domain and host; name "" = the host name.
    virtual ErrorCode registerService(const std::string &name, const std::string &type,
                                      uint16_t portNetwork, const std::vector<uint8_t> &txt,
                                      RegisterCallback callback,
                                      std::unique_ptr<ServiceRef> *out) = 0;
    // DNSServiceUpdateRecord(ref, NULL, 0, txt): replaces a registration's TXT record.
    virtual ErrorCode updateTxt(ServiceRef &registration, const std::vector<uint8_t> &txt) = 0;
    // DNSServiceBrowse on every interface and the default domains.
    virtual ErrorCode browse(const std::string &type, BrowseCallback callback,
                             std::unique_ptr<ServiceRef> *out) = 0;
    // DNSServiceResolve.
    virtual ErrorCode resolve(const std::string &name, const std::string &type,
                              const std::string &domain, uint32_t interfaceIndex,
                              ResolveCallback callback, std::unique_ptr<ServiceRef> *out) = 0;
    // DNSServiceQueryRecord.
    virtual ErrorCode queryRecord(const std::string &fullName, uint32_t interfaceIndex,
                                  uint16_t rrType, uint16_t rrClass, QueryCallback callback,
                                  std::unique_ptr<ServiceRef> *out) = 0;
};

// The real thing: Avahi's Bonjour compat library (libdns_sd). Creating it contacts nothing.
std::unique_ptr<DnsSd> makeSystemDnsSd();

} // namespace lanspread::plugins::dnssd
