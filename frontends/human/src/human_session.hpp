// The human mode as a session, over any way of reaching a peer: typed lines in (commands,
// JSON lines, help), results and events out as human_printer draws them. frontend-cli runs it
// on the daemon's reactor with the control service; the lanspread client runs it in its own
// loop with the control socket. Both hand it the lines they read and the events they get, and
// give it a way to send a command and a way to write bytes.
//
// Thread: one at a time (the caller's loop). Shared (enable_shared_from_this) with every
// pending result, so a result that arrives after close() is dropped, not written.
#pragma once

#include "human_printer.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::human {

class HumanSession : public std::enable_shared_from_this<HumanSession> {
  public:
    using OnResult = std::function<void(const std::string &resultLine)>;
    // Sends one command line; onResult runs once with its result line (on the session's
    // thread). Returns false when the command could not be sent.
    using Submit = std::function<bool(const std::string &commandLine, OnResult onResult)>;
    // Writes bytes (text and escapes) to the output.
    using Write = std::function<void(const std::string &bytes)>;

    // inputFd: where lines are typed (its echo is repaired when it is a terminal); outputFd:
    // where the bytes go (bars are drawn when it is a terminal). idPrefix: the commands' ids
    // are <idPrefix><n>, counting the commands sent.
    HumanSession(Submit submit, Write write, int inputFd, int outputFd, std::string idPrefix);

    // Lines typed (or pasted) together, without their newlines; enterTyped is false for a
    // last line cut by the end of input (no echo to repair).
    void handleLines(std::vector<std::string> lines, bool enterTyped);
    // One line: blank, a JSON command, `help`, or a typed command.
    void handleLine(const std::string &line);
    // An event line from the peer.
    void event(const std::string &line);
    // Writes bytes while the session is open.
    void write(const std::string &bytes);
    // Sends a command that is not the user's, e.g. the status a client asks for at start, and
    // hands its result to onResult instead of printing it. Returns false when not sent.
    bool ask(const std::string &commandLine, OnResult onResult);
    // Ends the session: text (e.g. printer().close() or leave()) is the last thing written.
    void close(const std::string &lastBytes);
    bool open() const { return _open; }
    // Lines added to `help` (a client's own words, e.g. quit).
    void setExtraHelp(std::string text) { _extraHelp = std::move(text); }

    HumanPrinter &printer() { return _printer; }

  private:
    void submit(const std::string &json, const std::string &cmd, const std::string &subject);

    Submit _submit;
    Write _write;
    int _inputFd;
    int _outputFd;
    std::string _idPrefix;
    HumanPrinter _printer;
    std::string _extraHelp;
    uint64_t _nextId = 0;
    bool _open = true;
};

// The terminal's width in columns (80 when fd is not a terminal).
std::size_t terminalColumns(int fd);
// Whether the terminal on fd echoes whole typed lines (canonical mode with echo), so a typed
// line already sits under the bars when it is read.
bool echoesLines(int fd);

} // namespace lanspread::human
