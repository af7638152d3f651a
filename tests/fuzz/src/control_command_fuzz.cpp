// Fuzz target: the control service's command parsing (kernel/src/host/control_service.cpp,
// ControlService::handleLine), where every frontend's JSON command line becomes a command.
// The service carries the real command table (names and required fields as the kernel and
// runtime register them); each handler answers with the command it was given. Invariants, for
// any line: exactly one result line, synchronously; it is a JSON object
// {"event":"result","ts_ms":..,"id":..,"ok":..}; "ok" is true only for a JSON object naming a
// known command with every required field present and not null, and the id echoes the line's.
#include "fuzz_support.hpp"

#include <lanspread/kernel/host/control_service.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace host = lanspread::kernel::host;
using lanspread::fuzz::check;

namespace {

// kernel/src/kernel.cpp, runtime/runtime.cpp and runtime/runtime_network.cpp register these.
const std::map<std::string, std::vector<std::string>> &commandTable() {
    static const std::map<std::string, std::vector<std::string>> table = {
        {"status", {}},
        {"shutdown", {}},
        {"list-games", {}},
        {"install", {"game"}},
        {"uninstall", {"game"}},
        {"remove", {"game"}},
        {"play", {"game", "username", "language"}},
        {"set-game-dir", {"path"}},
        {"connect", {"addr"}},
        {"list-peers", {}},
        {"wait-peers", {"count"}},
        {"download", {"game"}},
        {"stream-install", {"game"}},
        {"cancel-download", {"game"}},
    };
    return table;
}

struct Service {
    host::Reactor reactor{host::Reactor::Clock::Virtual};
    host::EventBus events;
    host::ControlService control{reactor, events};
    Service() {
        for (const auto &[name, fields] : commandTable())
            control.addCommand(name, fields,
                               [](const Poco::JSON::Object &command,
                                  host::ControlService::Reply reply) { reply.ok(command); });
    }
};

Poco::JSON::Object::Ptr parseObject(const std::string &text) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var v = parser.parse(text);
        if (v.type() == typeid(Poco::JSON::Object::Ptr))
            return v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &) {
    }
    return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    static Service service;
    const std::string line(reinterpret_cast<const char *>(data), size);
    std::vector<std::string> results;
    service.control.handleLine(line, [&](const std::string &r) { results.push_back(r); });
    check(results.size() == 1,
          "a command line got " + std::to_string(results.size()) + " result lines, not one");
    Poco::JSON::Object::Ptr result = parseObject(results[0]);
    check(!result.isNull(), "the result line is not a JSON object: " + results[0]);
    check(result->has("event") && result->get("event").toString() == "result" &&
              result->has("ts_ms") && result->has("ok") && result->get("ok").isBoolean(),
          "the result line lacks event/ts_ms/ok: " + results[0]);
    const bool ok = result->getValue<bool>("ok");
    check(ok || (result->has("error") && !result->getObject("error").isNull()),
          "a failed result without an error object");

    // What the line should have given, from a parse of our own.
    Poco::JSON::Object::Ptr command = parseObject(line);
    bool expectOk = false;
    if (!command.isNull() && line.size() <= LANSPREAD_CONTROL_MAX_LINE_BYTES &&
        command->has("cmd") && command->get("cmd").isString()) {
        auto it = commandTable().find(command->getValue<std::string>("cmd"));
        expectOk = it != commandTable().end();
        if (expectOk)
            for (const auto &field : it->second)
                if (!command->has(field) || command->get(field).isEmpty())
                    expectOk = false;
    }
    check(ok == expectOk, std::string("the command was ") + (ok ? "accepted" : "refused") +
                              " against expectation: " + results[0]);
    if (!command.isNull() && command->has("id") && !command->get("id").isEmpty() &&
        line.size() <= LANSPREAD_CONTROL_MAX_LINE_BYTES) {
        check(result->has("id") && !result->get("id").isEmpty(),
              "the result lost the command's id: " + results[0]);
    }
    return 0;
}
