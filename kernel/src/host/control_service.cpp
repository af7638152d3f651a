#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/host/control_service.hpp>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cstring>
#include <sstream>

namespace lanspread::kernel::host {

ControlService::Reply::Reply(Poco::Dynamic::Var id,
                             std::function<void(const std::string &)> deliver)
    : _id(std::move(id)), _deliver(std::move(deliver)) {}

ControlService::Reply::~Reply() {
    if (_deliver)
        fail(contract::ErrorCode::InternalError,
             "the command finished without an answer (a kernel bug)");
}

ControlService::Reply &ControlService::Reply::operator=(Reply &&other) noexcept {
    if (this != &other) {
        if (_deliver)
            fail(contract::ErrorCode::InternalError,
                 "the command's answer was replaced before it was sent (a kernel bug)");
        _id = std::move(other._id);
        _deliver = std::move(other._deliver);
        other._deliver = nullptr;
    }
    return *this;
}

void ControlService::Reply::ok(const Poco::JSON::Object &data) {
    send(contract::commandSucceeded(_id, data));
}

void ControlService::Reply::fail(contract::ErrorCode code, const std::string &message) {
    send(contract::commandFailed(_id, contract::Failure{code, message}));
}

void ControlService::Reply::send(const contract::Event &result) {
    if (!_deliver)
        return; // answered already: the first answer stands
    auto deliver = std::move(_deliver);
    _deliver = nullptr;
    deliver(EventBus::formatLine(result.topic, result.payload));
}

ControlService::ControlService(Reactor &reactor, EventBus &events)
    : _reactor(reactor), _events(events) {
    _table.struct_size = sizeof _table;
    _table.control_data = this;
    _table.submit = &submitFn;
    _table.subscribe = &subscribeFn;
    _table.unsubscribe = &unsubscribeFn;
}

void ControlService::addCommand(const std::string &cmd, std::vector<std::string> requiredFields,
                                Handler handler) {
    _commands[cmd] = Command{std::move(requiredFields), std::move(handler)};
}

void ControlService::handleLine(const std::string &line,
                                std::function<void(const std::string &)> onResult) {
    if (line.size() > LANSPREAD_CONTROL_MAX_LINE_BYTES) {
        Reply(Poco::Dynamic::Var(), std::move(onResult))
            .fail(contract::ErrorCode::InvalidCommand,
                  "the line is too long: a command is at most " +
                      std::to_string(LANSPREAD_CONTROL_MAX_LINE_BYTES) + " bytes (1 MiB)");
        return;
    }
    Poco::JSON::Object::Ptr command;
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(line);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr))
            command = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &) {
    }
    if (!command) {
        Reply(Poco::Dynamic::Var(), std::move(onResult))
            .fail(contract::ErrorCode::InvalidCommand,
                  "not a JSON object: a command is {\"id\":...,\"cmd\":...}");
        return;
    }
    Reply reply(command->has("id") ? command->get("id") : Poco::Dynamic::Var(),
                std::move(onResult));
    if (!command->has("cmd") || !command->get("cmd").isString()) {
        reply.fail(contract::ErrorCode::InvalidCommand, "missing string field 'cmd'");
        return;
    }
    const std::string name = command->getValue<std::string>("cmd");
    auto it = _commands.find(name);
    if (it == _commands.end()) {
        std::string known;
        for (const auto &entry : _commands)
            known += (known.empty() ? "" : ", ") + entry.first;
        reply.fail(contract::ErrorCode::InvalidCommand,
                   "unknown command '" + name + "' (known: " + known + ")");
        return;
    }
    for (const auto &field : it->second.requiredFields)
        if (!command->has(field) || command->get(field).isEmpty()) {
            reply.fail(contract::ErrorCode::InvalidCommand,
                       "command '" + name + "' needs field '" + field + "'");
            return;
        }
    it->second.handler(*command, std::move(reply));
}

lanspread_status ControlService::submitFn(const lanspread_control_v1 *control, const char *line,
                                          lanspread_control_line_callback onResult,
                                          void *userData) {
    if (control == nullptr || line == nullptr || onResult == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    auto *self = static_cast<ControlService *>(control->control_data);
    if (self->_closed)
        return LANSPREAD_E_FAILED;
    // Past the limit, one more byte is all handleLine needs to refuse the line.
    std::string text(line, ::strnlen(line, LANSPREAD_CONTROL_MAX_LINE_BYTES + 1));
    bool posted = self->_reactor.post([self, text = std::move(text), onResult, userData] {
        self->handleLine(text, [onResult, userData](const std::string &result) {
            onResult(userData, result.c_str());
        });
    });
    return posted ? LANSPREAD_OK : LANSPREAD_E_FAILED;
}

lanspread_status ControlService::subscribeFn(const lanspread_control_v1 *control,
                                             lanspread_control_line_callback onEvent,
                                             void *userData, uint64_t *outSubscription) {
    if (control == nullptr || onEvent == nullptr || outSubscription == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    auto *self = static_cast<ControlService *>(control->control_data);
    *outSubscription =
        self->_events.subscribe([onEvent, userData](const std::string &, const std::string &line) {
            onEvent(userData, line.c_str());
        });
    return LANSPREAD_OK;
}

lanspread_status ControlService::unsubscribeFn(const lanspread_control_v1 *control,
                                               uint64_t subscription) {
    if (control == nullptr)
        return LANSPREAD_E_INVALID_ARGUMENT;
    auto *self = static_cast<ControlService *>(control->control_data);
    return self->_events.unsubscribe(subscription) ? LANSPREAD_OK : LANSPREAD_E_NOT_FOUND;
}

} // namespace lanspread::kernel::host
