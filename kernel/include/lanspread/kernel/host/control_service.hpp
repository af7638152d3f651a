// The kernel's command and event API, lanspread.control/1 (docs/cli-contract.md). Frontends submit
// JSON command lines and subscribe to event lines through the C table this class serves;
// kernel components register the commands they own with addCommand(). Parsing and
// validation of command lines live here only, so every frontend behaves the same.
#pragma once

#include <lanspread/kernel/contract/error_code.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/services/control.h>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::kernel::host {

class ControlService {
  public:
    // The answer to one command. Call ok() or fail() exactly once, on the reactor thread;
    // a Reply dropped unanswered answers "internal-error" so no command is left hanging.
    class Reply {
      public:
        Reply(Poco::Dynamic::Var id, std::function<void(const std::string &)> deliver);
        Reply(Reply &&) noexcept = default;
        // An unanswered Reply that is overwritten answers internal-error first: no command
        // is ever left without its one result.
        Reply &operator=(Reply &&other) noexcept;
        ~Reply();
        void ok(const Poco::JSON::Object &data);
        void fail(contract::ErrorCode code, const std::string &message);
        void fail(const contract::Failure &failure) { fail(failure.code, failure.message); }

      private:
        void send(const contract::Event &result);
        Poco::Dynamic::Var _id;
        std::function<void(const std::string &)> _deliver; // empty once answered
    };
    using Handler = std::function<void(const Poco::JSON::Object &command, Reply reply)>;

    ControlService(Reactor &reactor, EventBus &events);
    ControlService(const ControlService &) = delete;
    ControlService &operator=(const ControlService &) = delete;

    // Registers cmd. requiredFields are checked before handler runs (a missing one is
    // answered invalid-command naming it). Thread: reactor, or before the reactor runs.
    void addCommand(const std::string &cmd, std::vector<std::string> requiredFields,
                    Handler handler);

    // Parses and dispatches one line; onResult receives the result line. Thread: reactor.
    void handleLine(const std::string &line, std::function<void(const std::string &)> onResult);

    // The C table for host->get_service(LANSPREAD_CONTROL_SERVICE_ID).
    const lanspread_control_v1 *table() const { return &_table; }

    // After this, submit() refuses new commands (the kernel is going down). Thread: any.
    void close() { _closed = true; }

  private:
    struct Command {
        std::vector<std::string> requiredFields;
        Handler handler;
    };
    static lanspread_status submitFn(const lanspread_control_v1 *control, const char *line,
                                     lanspread_control_line_callback onResult, void *userData);
    static lanspread_status subscribeFn(const lanspread_control_v1 *control,
                                        lanspread_control_line_callback onEvent, void *userData,
                                        uint64_t *outSubscription);
    static lanspread_status unsubscribeFn(const lanspread_control_v1 *control,
                                          uint64_t subscription);

    Reactor &_reactor;
    EventBus &_events;
    std::map<std::string, Command> _commands;
    std::atomic<bool> _closed{false};
    lanspread_control_v1 _table{};
};

} // namespace lanspread::kernel::host
