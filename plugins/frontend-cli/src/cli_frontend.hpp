// frontend-cli: the JSONL command/event loop of spec/CLI.md on a pair of file descriptors
// (stdin/stdout by default). Lines read are submitted, unchanged, to the kernel's control
// service — the kernel parses and validates them — and every result and event line is
// written out, one per line. Logs never go to the output fd.
#pragma once

#include <lanspread/kinds/frontend.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace lanspread::plugins::cli {

// Writes whole lines to the output fd. Shared by the session and every pending callback, so
// a result that arrives after stop() is dropped instead of touching a dead session.
class LineWriter {
  public:
    explicit LineWriter(int fd) : _fd(fd) {}
    // Thread: reactor (all results and events are delivered there).
    void write(const std::string &line);
    void close() { _open = false; }

  private:
    int _fd;
    bool _open = true;
};

class CliSession : public FrontendSession {
  public:
    CliSession(Host host, ControlClient control, int inputFd, int outputFd);
    ~CliSession() override;

  private:
    void readLoop();
    void submit(std::string line);

    Host _host;
    ControlClient _control;
    int _inputFd;
    std::shared_ptr<LineWriter> _writer;
    ControlClient::Subscription _subscription;
    int _stopPipe[2] = {-1, -1}; // written by the destructor to wake the reader
    std::thread _reader;
};

class CliFrontend : public FrontendPlugin {
  public:
    explicit CliFrontend(Host host);
    Result<std::unique_ptr<FrontendSession>> start() override;

  private:
    int _inputFd = 0;
    int _outputFd = 1;
};

} // namespace lanspread::plugins::cli
