#include "human_session.hpp"

#include "human_command.hpp"
#include "human_view.hpp"

#include <lanspread/services/control.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <utility>

namespace lanspread::human {

namespace {

// A line longer than the control service reads is sent as it is, for the service to refuse
// (the answer names the limit), whatever it holds.
constexpr std::size_t kMaxLineBytes = LANSPREAD_CONTROL_MAX_LINE_BYTES;

// cmd and the positional subject (game, addr or path) of a JSON command line, for the
// wording of its result; empty when the line is not a JSON object.
std::pair<std::string, std::string> describeJsonCommand(const std::string &line) {
    try {
        Poco::JSON::Parser parser;
        auto object = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
        auto field = [&](const char *key) {
            return object->has(key) && object->get(key).isString()
                       ? object->getValue<std::string>(key)
                       : std::string();
        };
        std::string subject = field("game");
        if (subject.empty())
            subject = field("addr");
        if (subject.empty())
            subject = field("path");
        return {field("cmd"), subject};
    } catch (const std::exception &) {
        return {};
    }
}

} // namespace

std::size_t terminalColumns(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

bool echoesLines(int fd) {
    termios t{};
    if (::isatty(fd) != 1 || ::tcgetattr(fd, &t) != 0)
        return false;
    return (t.c_lflag & ECHO) && (t.c_lflag & ICANON);
}

HumanSession::HumanSession(Submit submit, Write write, int inputFd, int outputFd,
                           std::string idPrefix)
    : _submit(std::move(submit)), _write(std::move(write)), _inputFd(inputFd), _outputFd(outputFd),
      _idPrefix(std::move(idPrefix)),
      _printer(::isatty(outputFd) == 1, [outputFd] { return terminalColumns(outputFd); }) {}

void HumanSession::write(const std::string &bytes) {
    if (_open && !bytes.empty())
        _write(bytes);
}

void HumanSession::handleLines(std::vector<std::string> lines, bool enterTyped) {
    if (!_open)
        return;
    for (auto &line : lines)
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
    if (enterTyped && echoesLines(_inputFd) && ::isatty(_outputFd) == 1) {
        // The terminal echoed the lines under the bars: each takes a row per full width.
        const std::size_t columns = terminalColumns(_outputFd);
        std::size_t rows = 0;
        std::string echo;
        for (const auto &line : lines) {
            const std::size_t width = displayWidth(line);
            rows += width == 0 ? 1 : (width + columns - 1) / columns;
            echo += (echo.empty() ? "" : "\n") + line;
        }
        write(_printer.inputEntered(echo, rows));
    }
    for (const auto &line : lines)
        handleLine(line);
}

void HumanSession::handleLine(const std::string &line) {
    if (!_open)
        return;
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos)
        return; // blank lines are not commands
    if (line.size() > kMaxLineBytes) {
        submit(line, "", ""); // refused by the service as too long, whatever it holds
        return;
    }
    if (line[first] == '{') {
        auto [cmd, subject] = describeJsonCommand(line);
        submit(line, cmd, subject);
        return;
    }
    // Ids count the commands sent: a refused line does not use one.
    HumanLine parsed = parseHumanLine(line, _idPrefix + std::to_string(_nextId + 1));
    if (parsed.kind == HumanLine::Kind::Command)
        ++_nextId;
    switch (parsed.kind) {
    case HumanLine::Kind::Empty: return;
    case HumanLine::Kind::Help:
        write(_printer.message(humanHelp() + (_extraHelp.empty() ? "" : "\n" + _extraHelp)));
        return;
    case HumanLine::Kind::Error: write(_printer.error("invalid-command", parsed.error)); return;
    case HumanLine::Kind::Command: submit(parsed.json, parsed.cmd, parsed.subject); return;
    }
}

void HumanSession::event(const std::string &line) {
    if (_open)
        write(_printer.event(line));
}

void HumanSession::submit(const std::string &json, const std::string &cmd,
                          const std::string &subject) {
    auto self = shared_from_this();
    if (!_submit(json, [self, cmd, subject](const std::string &result) {
            self->write(self->_printer.result(cmd, subject, result));
        }))
        write(_printer.error("io-error", "the peer is shutting down; command not sent"));
}

bool HumanSession::ask(const std::string &commandLine, OnResult onResult) {
    if (!_open)
        return false;
    auto self = shared_from_this();
    return _submit(commandLine, [self, onResult = std::move(onResult)](const std::string &result) {
        if (self->_open)
            onResult(result);
    });
}

void HumanSession::close(const std::string &lastBytes) {
    write(lastBytes);
    _open = false;
}

} // namespace lanspread::human
