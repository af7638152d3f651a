// JSON lines as frontend-cli speaks them on a lanspreadd's stdin/stdout: parse and print
// objects, quote strings, and one command's round trip over a child process's pipes. The Peer
// harness (peer_harness.hpp) builds on these; tests that drive a bare ChildProcess use them
// directly. Header-only; CppUnit assertions.
#pragma once

#include "child_process.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <sstream>
#include <string>

namespace lanspread::test {

using Json = Poco::JSON::Object::Ptr;
using JsonArray = Poco::JSON::Array::Ptr;

inline Json parseJson(const std::string &text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Json>();
}

inline std::string toJson(const Json &object) {
    if (object.isNull())
        return "null";
    std::ostringstream s;
    object->stringify(s);
    return s.str();
}

inline std::string jsonString(const std::string &text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

// Sends {"id":id, ...json} (json is an object literal without an id) on the child's stdin and
// returns the result line naming id, parsed; the lines read before it stay in child.seen().
// Fails the test, with the child's stderr, when no result comes within timeout.
inline Json commandResult(ChildProcess &child, const std::string &id, const std::string &json,
                          std::chrono::milliseconds timeout) {
    child.writeStdin("{\"id\":" + jsonString(id) + "," + json.substr(1) + "\n");
    auto line = child.readUntil("\"id\":" + jsonString(id), timeout);
    CPPUNIT_ASSERT_MESSAGE(json + "\n" + child.stderrText(), line.has_value());
    return parseJson(*line);
}

} // namespace lanspread::test
