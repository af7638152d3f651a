// frontend-cli: the JSONL command/event loop of docs/cli-contract.md on a pair of file descriptors
// (stdin/stdout by default). Lines read are submitted, unchanged, to the kernel's control
// service — the kernel parses and validates them — and every result and event line is
// written out, one per line. Logs never go to the output fd.
//
// Human mode (config key mode = human, or auto with a terminal on the input fd): typed
// `<cmd> <arg> [key=value ...]` lines become JSON commands (human_command), and results and
// events are written for people (human_printer): tables, live progress bars, plain lines; the
// session logic is frontends/human's HumanSession, shared with the lanspread client.
#pragma once

#include <lanspread/kinds/frontend.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace lanspread::human {
class HumanSession; // frontends/human: human mode's reactor-side state
} // namespace lanspread::human

namespace lanspread::plugins::cli {

// Writes whole lines to the output fd. Shared by the session and every pending callback, so
// a result that arrives after stop() is dropped instead of touching a dead session.
class LineWriter {
  public:
    explicit LineWriter(int fd) : _fd(fd) {}
    // Thread: reactor (all results and events are delivered there).
    void write(const std::string &line) { writeRaw(line + "\n"); }
    // Writes bytes as they are (human mode's text and escapes). Thread: reactor.
    void writeRaw(const std::string &bytes);
    void close() { _open = false; }

  private:
    int _fd;
    bool _open = true;
};

// How the session talks: JSONL both ways, or human mode; auto picks human mode when the
// input fd is a terminal.
enum class Mode { Auto, Json, Human };

class CliSession : public FrontendSession {
  public:
    CliSession(Host host, ControlClient control, int inputFd, int outputFd, bool human = false);
    ~CliSession() override;

  private:
    void readLoop();
    void submit(std::string line);
    // A complete input line, submitted as it is. Thread: the reader thread (JSON mode).
    void deliver(std::string line);
    // Human mode: lines read together (a paste arrives at once, its echo too), posted to the
    // reactor as one batch; enterTyped is false for a last line cut by the end of input.
    // Thread: the reader thread.
    void deliverHuman(std::vector<std::string> lines, bool enterTyped);

    Host _host;
    ControlClient _control;
    int _inputFd;
    std::shared_ptr<LineWriter> _writer;
    ControlClient::Subscription _subscription;
    std::shared_ptr<human::HumanSession> _human; // null in JSON mode
    int _stopPipe[2] = {-1, -1};                 // written by the destructor to wake the reader
    std::thread _reader;
};

class CliFrontend : public FrontendPlugin {
  public:
    explicit CliFrontend(Host host);
    Result<std::unique_ptr<FrontendSession>> start() override;

  private:
    int _inputFd = 0;
    int _outputFd = 1;
    Mode _mode = Mode::Auto;
};

} // namespace lanspread::plugins::cli
