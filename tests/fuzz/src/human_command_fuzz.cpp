// Fuzz target: the human-mode command line (frontends/human/src/human_command.cpp), what a
// person types, quotes and backslashes included. Input: [id: len8 + bytes][line without '\n'].
// Invariants: parseHumanLine never crashes; a Command's json is one JSON object (checked with
// Poco's parser whenever the line and id are valid UTF-8) whose "id" is the id given and whose
// "cmd" is the command's name, one of humanCommandNames(); an Error says why in one line;
// jsonQuote of any valid UTF-8 text parses back to that text.
#include "fuzz_support.hpp"

#include "human_command.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cli = lanspread::human;
using lanspread::fuzz::Bytes;
using lanspread::fuzz::check;
using lanspread::fuzz::validUtf8;

namespace {

Poco::Dynamic::Var parse(const std::string &json, std::string &error) {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(json);
    } catch (const Poco::Exception &e) {
        error = e.displayText();
    }
    return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    Bytes in(data, size);
    const std::string id = in.str8();
    const std::string line(in.rest());
    // The frontend cuts its input at '\n' (cli_frontend.cpp), so a line never holds one.
    if (line.find('\n') != std::string::npos)
        return 0;
    const cli::HumanLine parsed = cli::parseHumanLine(line, id);
    const bool utf8 = validUtf8(line) && validUtf8(id);

    if (utf8) {
        std::string error;
        // In an array: Poco's parser takes only an object or an array at the top.
        Poco::Dynamic::Var quoted = parse("[" + cli::jsonQuote(line) + "]", error);
        check(quoted.type() == typeid(Poco::JSON::Array::Ptr) &&
                  quoted.extract<Poco::JSON::Array::Ptr>()->size() == 1 &&
                  quoted.extract<Poco::JSON::Array::Ptr>()->get(0).isString() &&
                  quoted.extract<Poco::JSON::Array::Ptr>()->getElement<std::string>(0) == line,
              "jsonQuote does not round-trip: " + error);
    }
    switch (parsed.kind) {
    case cli::HumanLine::Kind::Command: {
        const auto names = cli::humanCommandNames();
        check(std::find(names.begin(), names.end(), parsed.cmd) != names.end(),
              "a Command with an unknown name: " + parsed.cmd);
        check(!parsed.json.empty() && parsed.json.find('\n') == std::string::npos,
              "a command's JSON is empty or not one line");
        if (!utf8)
            break;
        std::string error;
        Poco::Dynamic::Var v = parse(parsed.json, error);
        check(v.type() == typeid(Poco::JSON::Object::Ptr),
              "a command's JSON is not an object: " + parsed.json + " (" + error + ")");
        auto object = v.extract<Poco::JSON::Object::Ptr>();
        check(object->has("id") && object->get("id").isString() &&
                  object->getValue<std::string>("id") == id,
              "a command's JSON lost its id: " + parsed.json);
        check(object->has("cmd") && object->get("cmd").isString() &&
                  object->getValue<std::string>("cmd") == parsed.cmd,
              "a command's JSON names another command: " + parsed.json);
        break;
    }
    case cli::HumanLine::Kind::Error:
        check(!parsed.error.empty() && parsed.error.find('\n') == std::string::npos,
              "an error that is empty or more than one line");
        break;
    case cli::HumanLine::Kind::Empty:
    case cli::HumanLine::Kind::Help: break;
    }
    return 0;
}
