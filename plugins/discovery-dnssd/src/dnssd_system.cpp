// discovery-dnssd: SystemDnsSd, the DnsSd seam over Avahi's Bonjour compat library
// (dns_sd.h, libdns_sd). A pure forwarder: every decision is made in discovery_dnssd.cpp.
//
// Compat-layer facts this relies on (avahi 0.8, see README.md): flags must be 0; each
// DNSServiceRef is its own D-Bus connection with its own helper thread and its own fd;
// callbacks run only inside DNSServiceProcessResult(); a create call fails at once with
// kDNSServiceErr_Unknown while avahi-daemon is not running.
#include "dnssd_api.hpp"

#include <dns_sd.h>

namespace lanspread::plugins::dnssd {

static_assert(kErrNoError == kDNSServiceErr_NoError);
static_assert(kErrUnknown == kDNSServiceErr_Unknown);
static_assert(kErrNoMemory == kDNSServiceErr_NoMemory);
static_assert(kErrBadParam == kDNSServiceErr_BadParam);
static_assert(kErrBadFlags == kDNSServiceErr_BadFlags);
static_assert(kErrUnsupported == kDNSServiceErr_Unsupported);
static_assert(kErrNameConflict == kDNSServiceErr_NameConflict);
static_assert(kErrInvalid == kDNSServiceErr_Invalid);
static_assert(kErrBadInterfaceIndex == kDNSServiceErr_BadInterfaceIndex);
static_assert(kRecordTypeA == kDNSServiceType_A);
static_assert(kRecordClassIn == kDNSServiceClass_IN);

std::string describeError(ErrorCode error) {
    struct Name {
        ErrorCode code;
        const char *name;
    };
    static constexpr Name kNames[] = {
        {kDNSServiceErr_NoError, "NoError"},
        {kDNSServiceErr_Unknown, "Unknown"},
        {kDNSServiceErr_NoSuchName, "NoSuchName"},
        {kDNSServiceErr_NoMemory, "NoMemory"},
        {kDNSServiceErr_BadParam, "BadParam"},
        {kDNSServiceErr_BadReference, "BadReference"},
        {kDNSServiceErr_BadState, "BadState"},
        {kDNSServiceErr_BadFlags, "BadFlags"},
        {kDNSServiceErr_Unsupported, "Unsupported"},
        {kDNSServiceErr_NotInitialized, "NotInitialized"},
        {kDNSServiceErr_AlreadyRegistered, "AlreadyRegistered"},
        {kDNSServiceErr_NameConflict, "NameConflict"},
        {kDNSServiceErr_Invalid, "Invalid"},
        {kDNSServiceErr_Firewall, "Firewall"},
        {kDNSServiceErr_Incompatible, "Incompatible"},
        {kDNSServiceErr_BadInterfaceIndex, "BadInterfaceIndex"},
        {kDNSServiceErr_Refused, "Refused"},
        {kDNSServiceErr_NoSuchRecord, "NoSuchRecord"},
        {kDNSServiceErr_NoAuth, "NoAuth"},
        {kDNSServiceErr_NoSuchKey, "NoSuchKey"},
    };
    for (const Name &n : kNames)
        if (n.code == error)
            return std::string("kDNSServiceErr_") + n.name + " (" + std::to_string(error) + ")";
    return "DNS-SD error " + std::to_string(error);
}

namespace {

std::string text(const char *s) {
    return s != nullptr ? std::string(s) : std::string();
}

// One DNSServiceRef and the reply callback its context points at.
class SystemRef final : public ServiceRef {
  public:
    ~SystemRef() override {
        if (ref != nullptr)
            DNSServiceRefDeallocate(ref);
    }
    int fd() const override { return DNSServiceRefSockFD(ref); }
    ErrorCode processResult() override { return DNSServiceProcessResult(ref); }

    DNSServiceRef ref = nullptr;
    RegisterCallback onRegister;
    BrowseCallback onBrowse;
    ResolveCallback onResolve;
    QueryCallback onQuery;
};

// The C callbacks: called from inside DNSServiceProcessResult(), so nothing may unwind
// through them (the plugin's handlers catch their own exceptions; this is the last net).
void DNSSD_API registerReply(DNSServiceRef, DNSServiceFlags, DNSServiceErrorType errorCode,
                             const char *name, const char *regtype, const char *domain,
                             void *context) noexcept {
    try {
        auto *self = static_cast<SystemRef *>(context);
        self->onRegister(RegisterReply{errorCode, text(name), text(regtype), text(domain)});
    } catch (...) {
    }
}

void DNSSD_API browseReply(DNSServiceRef, DNSServiceFlags flags, uint32_t interfaceIndex,
                           DNSServiceErrorType errorCode, const char *serviceName,
                           const char *regtype, const char *replyDomain, void *context) noexcept {
    try {
        auto *self = static_cast<SystemRef *>(context);
        self->onBrowse(BrowseReply{errorCode, (flags & kDNSServiceFlagsAdd) != 0, interfaceIndex,
                                   text(serviceName), text(regtype), text(replyDomain)});
    } catch (...) {
    }
}

void DNSSD_API resolveReply(DNSServiceRef, DNSServiceFlags, uint32_t interfaceIndex,
                            DNSServiceErrorType errorCode, const char *fullname,
                            const char *hosttarget, uint16_t port, uint16_t txtLen,
                            const unsigned char *txtRecord, void *context) noexcept {
    try {
        auto *self = static_cast<SystemRef *>(context);
        ResolveReply reply;
        reply.error = errorCode;
        reply.interfaceIndex = interfaceIndex;
        reply.fullName = text(fullname);
        reply.hostTarget = text(hosttarget);
        reply.portNetwork = port;
        if (txtRecord != nullptr)
            reply.txt.assign(txtRecord, txtRecord + txtLen);
        self->onResolve(reply);
    } catch (...) {
    }
}

void DNSSD_API queryReply(DNSServiceRef, DNSServiceFlags flags, uint32_t interfaceIndex,
                          DNSServiceErrorType errorCode, const char *fullname, uint16_t rrtype,
                          uint16_t rrclass, uint16_t rdlen, const void *rdata, uint32_t,
                          void *context) noexcept {
    try {
        auto *self = static_cast<SystemRef *>(context);
        QueryReply reply;
        reply.error = errorCode;
        reply.add = (flags & kDNSServiceFlagsAdd) != 0;
        reply.interfaceIndex = interfaceIndex;
        reply.fullName = text(fullname);
        reply.rrType = rrtype;
        reply.rrClass = rrclass;
        if (rdata != nullptr) {
            const auto *bytes = static_cast<const uint8_t *>(rdata);
            reply.rdata.assign(bytes, bytes + rdlen);
        }
        self->onQuery(reply);
    } catch (...) {
    }
}

// Hands a created ref out, or forgets it when the call failed (the library freed it).
ErrorCode finish(DNSServiceErrorType error, std::unique_ptr<SystemRef> ref,
                 std::unique_ptr<ServiceRef> *out) {
    if (error != kDNSServiceErr_NoError || ref->ref == nullptr) {
        ref->ref = nullptr;
        return error != kDNSServiceErr_NoError ? error : kDNSServiceErr_Unknown;
    }
    *out = std::move(ref);
    return kDNSServiceErr_NoError;
}

class SystemDnsSd final : public DnsSd {
  public:
    ErrorCode registerService(const std::string &name, const std::string &type,
                              uint16_t portNetwork, const std::vector<uint8_t> &txt,
                              RegisterCallback callback,
                              std::unique_ptr<ServiceRef> *out) override {
        auto ref = std::make_unique<SystemRef>();
        ref->onRegister = std::move(callback);
        static const uint8_t kEmpty = 0;
        DNSServiceErrorType e = DNSServiceRegister(
            &ref->ref, 0, kDNSServiceInterfaceIndexAny, name.empty() ? nullptr : name.c_str(),
            type.c_str(), nullptr, nullptr, portNetwork, static_cast<uint16_t>(txt.size()),
            txt.empty() ? &kEmpty : txt.data(), &registerReply, ref.get());
        return finish(e, std::move(ref), out);
    }

    ErrorCode updateTxt(ServiceRef &registration, const std::vector<uint8_t> &txt) override {
        static const uint8_t kEmpty = 0;
        return DNSServiceUpdateRecord(static_cast<SystemRef &>(registration).ref, nullptr, 0,
                                      static_cast<uint16_t>(txt.size()),
                                      txt.empty() ? &kEmpty : txt.data(), 0);
    }

    ErrorCode browse(const std::string &type, BrowseCallback callback,
                     std::unique_ptr<ServiceRef> *out) override {
        auto ref = std::make_unique<SystemRef>();
        ref->onBrowse = std::move(callback);
        DNSServiceErrorType e = DNSServiceBrowse(&ref->ref, 0, kDNSServiceInterfaceIndexAny,
                                                 type.c_str(), nullptr, &browseReply, ref.get());
        return finish(e, std::move(ref), out);
    }

    ErrorCode resolve(const std::string &name, const std::string &type, const std::string &domain,
                      uint32_t interfaceIndex, ResolveCallback callback,
                      std::unique_ptr<ServiceRef> *out) override {
        auto ref = std::make_unique<SystemRef>();
        ref->onResolve = std::move(callback);
        DNSServiceErrorType e =
            DNSServiceResolve(&ref->ref, 0, interfaceIndex, name.c_str(), type.c_str(),
                              domain.c_str(), &resolveReply, ref.get());
        return finish(e, std::move(ref), out);
    }

    ErrorCode queryRecord(const std::string &fullName, uint32_t interfaceIndex, uint16_t rrType,
                          uint16_t rrClass, QueryCallback callback,
                          std::unique_ptr<ServiceRef> *out) override {
        auto ref = std::make_unique<SystemRef>();
        ref->onQuery = std::move(callback);
        DNSServiceErrorType e =
            DNSServiceQueryRecord(&ref->ref, 0, interfaceIndex, fullName.c_str(), rrType, rrClass,
                                  &queryReply, ref.get());
        return finish(e, std::move(ref), out);
    }
};

} // namespace

std::unique_ptr<DnsSd> makeSystemDnsSd() {
    return std::make_unique<SystemDnsSd>();
}

} // namespace lanspread::plugins::dnssd
