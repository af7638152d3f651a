// discovery-dnssd tests: a scripted DnsSd (the seam of src/dnssd_api.hpp). Each ref has an
// eventfd the FakeHost reactor really polls; the test queues replies on a ref (readable),
// and they are delivered, in order, by the plugin's own processResult() call — the way
// libdns_sd delivers them. It records every call and every ref's life.
#pragma once

#include "dnssd_api.hpp"

#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lanspread::plugins::dnssd::testing {

class FakeDnsSd final : public DnsSd {
  public:
    enum class Kind { Register, Browse, Resolve, Query };

    class Ref final : public ServiceRef {
      public:
        Ref(FakeDnsSd &owner, Kind k) : kind(k), _owner(owner) {
            _fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (_fd < 0)
                throw std::runtime_error("eventfd failed");
            _owner._live.push_back(this);
        }
        ~Ref() override {
            auto &live = _owner._live;
            live.erase(std::remove(live.begin(), live.end(), this), live.end());
            ++_owner._deallocated[static_cast<int>(kind)];
            ::close(_fd);
        }
        int fd() const override { return _fd; }
        ErrorCode processResult() override {
            ++processCalls;
            uint64_t value = 0;
            if (::read(_fd, &value, sizeof value) < 0) {
                // nothing pending: a spurious wake-up
            }
            auto pending = std::move(_pending);
            _pending.clear();
            for (auto &reply : pending)
                reply();
            return _processError;
        }

        // Queues a reply for the next processResult() and makes the fd readable.
        void deliver(std::function<void()> reply) {
            _pending.push_back(std::move(reply));
            signal();
        }
        // The next processResult() fails (the compat layer's pipe broke).
        void failProcess(ErrorCode error) {
            _processError = error;
            signal();
        }

        // Register replies.
        void registered(const std::string &finalName, ErrorCode error = kErrNoError) {
            deliver([this, finalName, error] {
                onRegister(RegisterReply{error, finalName, type + ".", "local."});
            });
        }
        // Browse replies.
        void browseEvent(bool add, const std::string &instance, uint32_t ifIndex,
                         const std::string &replyDomain = "local.") {
            deliver([this, add, instance, ifIndex, replyDomain] {
                onBrowse(BrowseReply{kErrNoError, add, ifIndex, instance, type + ".", replyDomain});
            });
        }
        void browseError(ErrorCode error) {
            deliver([this, error] { onBrowse(BrowseReply{error, false, 0, "", "", ""}); });
        }
        // Resolve replies; port in host order (the fake converts, as avahi does).
        void resolved(const std::string &host, uint16_t port, const std::vector<uint8_t> &txtBytes,
                      ErrorCode error = kErrNoError) {
            deliver([this, host, port, txtBytes, error] {
                ResolveReply r;
                r.error = error;
                r.interfaceIndex = interfaceIndex;
                r.fullName = name + "." + type + "." + domain;
                r.hostTarget = host;
                r.portNetwork = htons(port); // network order, as dns_sd.h delivers it
                r.txt = txtBytes;
                onResolve(r);
            });
        }
        // Query replies.
        void address(std::vector<uint8_t> rdata, bool add = true, uint16_t replyType = kRecordTypeA,
                     ErrorCode error = kErrNoError) {
            deliver([this, rdata, add, replyType, error] {
                QueryReply r;
                r.error = error;
                r.add = add;
                r.interfaceIndex = interfaceIndex;
                r.fullName = name;
                r.rrType = replyType;
                r.rrClass = kRecordClassIn;
                r.rdata = rdata;
                onQuery(r);
            });
        }

        const Kind kind;
        // The call's arguments.
        std::string name; // instance (register/resolve) or full name (query)
        std::string type;
        std::string domain;
        uint32_t interfaceIndex = 0;
        uint16_t portNetwork = 0;
        std::vector<uint8_t> txt;
        uint16_t rrType = 0;
        uint16_t rrClass = 0;
        std::vector<std::vector<uint8_t>> txtUpdates; // DNSServiceUpdateRecord calls
        int processCalls = 0;

        RegisterCallback onRegister;
        BrowseCallback onBrowse;
        ResolveCallback onResolve;
        QueryCallback onQuery;

      private:
        void signal() {
            uint64_t one = 1;
            if (::write(_fd, &one, sizeof one) < 0)
                throw std::runtime_error("eventfd write failed");
        }
        FakeDnsSd &_owner;
        int _fd = -1;
        std::vector<std::function<void()>> _pending;
        ErrorCode _processError = kErrNoError;
    };

    // ---- the script ----
    bool daemonUp = true;                // false: every create call fails with kErrUnknown
    ErrorCode createError = kErrNoError; // forced error of every create call (when daemonUp)

    // ---- what happened ----
    int created(Kind k) const { return _created[static_cast<int>(k)]; }
    int deallocated(Kind k) const { return _deallocated[static_cast<int>(k)]; }
    int attempts(Kind k) const { return _attempts[static_cast<int>(k)]; }
    std::size_t liveCount() const { return _live.size(); }
    std::size_t liveCount(Kind k) const {
        return static_cast<std::size_t>(
            std::count_if(_live.begin(), _live.end(), [k](Ref *r) { return r->kind == k; }));
    }
    // The newest live ref of a kind (and name, when given), or nullptr.
    Ref *live(Kind k, const std::string &name = {}) const {
        for (auto it = _live.rbegin(); it != _live.rend(); ++it)
            if ((*it)->kind == k && (name.empty() || (*it)->name == name))
                return *it;
        return nullptr;
    }

    // ---- DnsSd ----
    ErrorCode registerService(const std::string &name, const std::string &type,
                              uint16_t portNetwork, const std::vector<uint8_t> &txt,
                              RegisterCallback callback,
                              std::unique_ptr<ServiceRef> *out) override {
        Ref *ref = nullptr;
        if (ErrorCode e = begin(Kind::Register, out, &ref); e != kErrNoError)
            return e;
        ref->name = name;
        ref->type = type;
        ref->portNetwork = portNetwork;
        ref->txt = txt;
        ref->onRegister = std::move(callback);
        return kErrNoError;
    }
    ErrorCode updateTxt(ServiceRef &registration, const std::vector<uint8_t> &txt) override {
        if (!daemonUp)
            return kErrUnknown;
        static_cast<Ref &>(registration).txtUpdates.push_back(txt);
        return updateError;
    }
    ErrorCode browse(const std::string &type, BrowseCallback callback,
                     std::unique_ptr<ServiceRef> *out) override {
        Ref *ref = nullptr;
        if (ErrorCode e = begin(Kind::Browse, out, &ref); e != kErrNoError)
            return e;
        ref->type = type;
        ref->onBrowse = std::move(callback);
        return kErrNoError;
    }
    ErrorCode resolve(const std::string &name, const std::string &type, const std::string &domain,
                      uint32_t interfaceIndex, ResolveCallback callback,
                      std::unique_ptr<ServiceRef> *out) override {
        Ref *ref = nullptr;
        if (ErrorCode e = begin(Kind::Resolve, out, &ref); e != kErrNoError)
            return e;
        ref->name = name;
        ref->type = type;
        ref->domain = domain;
        ref->interfaceIndex = interfaceIndex;
        ref->onResolve = std::move(callback);
        return kErrNoError;
    }
    ErrorCode queryRecord(const std::string &fullName, uint32_t interfaceIndex, uint16_t rrType,
                          uint16_t rrClass, QueryCallback callback,
                          std::unique_ptr<ServiceRef> *out) override {
        Ref *ref = nullptr;
        if (ErrorCode e = begin(Kind::Query, out, &ref); e != kErrNoError)
            return e;
        ref->name = fullName;
        ref->interfaceIndex = interfaceIndex;
        ref->rrType = rrType;
        ref->rrClass = rrClass;
        ref->onQuery = std::move(callback);
        return kErrNoError;
    }

    ErrorCode updateError = kErrNoError;

  private:
    ErrorCode begin(Kind k, std::unique_ptr<ServiceRef> *out, Ref **ref) {
        ++_attempts[static_cast<int>(k)];
        if (!daemonUp)
            return kErrUnknown;
        if (createError != kErrNoError)
            return createError;
        auto created = std::make_unique<Ref>(*this, k);
        *ref = created.get();
        *out = std::move(created);
        ++_created[static_cast<int>(k)];
        return kErrNoError;
    }

    std::vector<Ref *> _live;
    int _created[4] = {};
    int _deallocated[4] = {};
    int _attempts[4] = {};
};

} // namespace lanspread::plugins::dnssd::testing
