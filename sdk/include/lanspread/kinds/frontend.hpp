// lanspread plugin SDK — C++20 wrapper for frontend plugins ("lanspread.frontend/1"), and
// a small C++ view of the control service they talk to.
//
// Header-only. Derive from lanspread::FrontendPlugin and return a FrontendSession from
// start(); destroying the session is stop(). Thread: reactor, as kinds/frontend.h says.
#pragma once

#include <lanspread/kinds/frontend.h>
#include <lanspread/plugin.hpp>
#include <lanspread/services/control.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace lanspread {

// A running frontend. Its destructor must end every use of the control service.
class FrontendSession {
  public:
    virtual ~FrontendSession() = default;
};

// C++ handle over lanspread_control_v1. Borrowed from the host; valid until shutdown().
class ControlClient {
  public:
    explicit ControlClient(const lanspread_control_v1 *control = nullptr) : _control(control) {}
    explicit operator bool() const { return _control != nullptr; }

    // Submits one command line; onResult runs once on the reactor thread with the result
    // line. Thread: any. Returns false when the kernel refused it (shutting down).
    bool submit(std::string_view commandLine,
                std::function<void(const std::string &)> onResult) const {
        std::string line(commandLine);
        auto *heap = new std::function<void(const std::string &)>(std::move(onResult));
        if (_control->submit(_control, line.c_str(), &resultTrampoline, heap) != LANSPREAD_OK) {
            delete heap;
            return false;
        }
        return true;
    }

    // An event subscription that ends when this object dies. Thread: reactor.
    class Subscription {
      public:
        Subscription() = default;
        Subscription(Subscription &&o) noexcept { *this = std::move(o); }
        Subscription &operator=(Subscription &&o) noexcept {
            if (this != &o) {
                reset();
                _control = std::exchange(o._control, nullptr);
                _id = o._id;
                _callback = std::move(o._callback);
            }
            return *this;
        }
        ~Subscription() { reset(); }
        void reset() {
            if (_control)
                _control->unsubscribe(_control, _id);
            _control = nullptr;
            _callback.reset();
        }

      private:
        friend class ControlClient;
        const lanspread_control_v1 *_control = nullptr;
        uint64_t _id = 0;
        std::unique_ptr<std::function<void(const std::string &)>> _callback;
    };

    Result<Subscription> subscribe(std::function<void(const std::string &)> onEvent) const {
        Subscription sub;
        sub._callback =
            std::make_unique<std::function<void(const std::string &)>>(std::move(onEvent));
        uint64_t id = 0;
        lanspread_status s =
            _control->subscribe(_control, &eventTrampoline, sub._callback.get(), &id);
        if (s != LANSPREAD_OK)
            return Status(s, "subscribe failed");
        sub._control = _control;
        sub._id = id;
        return sub;
    }

  private:
    static void resultTrampoline(void *userData, const char *line) noexcept {
        std::unique_ptr<std::function<void(const std::string &)>> fn(
            static_cast<std::function<void(const std::string &)> *>(userData));
        try {
            (*fn)(line ? std::string(line) : std::string());
        } catch (...) {
        }
    }
    static void eventTrampoline(void *userData, const char *line) noexcept {
        try {
            (*static_cast<std::function<void(const std::string &)> *>(userData))(
                line ? std::string(line) : std::string());
        } catch (...) {
        }
    }
    const lanspread_control_v1 *_control;
};

class FrontendPlugin : public Plugin {
  public:
    using Plugin::Plugin;

    virtual Result<std::unique_ptr<FrontendSession>> start() = 0;

    // The kernel's control service (null under a host without one).
    ControlClient control() const {
        return ControlClient(host().service<lanspread_control_v1>(LANSPREAD_CONTROL_SERVICE_ID));
    }

    const void *interfaceFor(std::string_view interfaceId) override {
        return interfaceId == LANSPREAD_FRONTEND_INTERFACE_ID ? &kVtable : nullptr;
    }

  private:
    struct SessionHolder {
        Host host;
        std::unique_ptr<FrontendSession> session;
    };
    static lanspread_status startTrampoline(void *state,
                                            lanspread_frontend_session **outSession) noexcept {
        if (state == nullptr || outSession == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outSession = nullptr;
        auto *plugin = static_cast<FrontendPlugin *>(static_cast<Plugin *>(state));
        return detail::guard(plugin->host(), "start", [&]() -> Status {
            auto session = plugin->start();
            if (!session)
                return session.status();
            *outSession = reinterpret_cast<lanspread_frontend_session *>(
                new SessionHolder{plugin->host(), std::move(session.value())});
            return Status::ok();
        });
    }
    static void stopTrampoline(lanspread_frontend_session *session) noexcept {
        delete reinterpret_cast<SessionHolder *>(session);
    }
    static constexpr lanspread_frontend_v1 kVtable = {sizeof(lanspread_frontend_v1),
                                                      &startTrampoline, &stopTrampoline};
};

} // namespace lanspread
