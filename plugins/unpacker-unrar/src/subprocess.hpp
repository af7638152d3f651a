// unpacker-unrar: one external extractor process, started with posix_spawn (no shell: the
// arguments go to the program exactly as given), its stdout read through a pipe and its
// stderr collected on the side. Its stdin is /dev/null, or the archive's bytes pulled from the
// host's byte source while the child's output is read (a streamed archive with no local
// file). The destructor kills and reaps a child that is still running, so no job leaves a
// process or a zombie behind.
//
// Thread: one job's worker thread at a time.
#pragma once

#include <lanspread/result.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lanspread::plugins::unrar {

class Subprocess {
  public:
    // Fills a buffer with the next bytes for the child's stdin: 0 at their end, or the status
    // that stops the child (E_IO, E_CANCELLED). It may block until bytes arrive.
    using InputFn = std::function<Result<std::size_t>(std::span<uint8_t>)>;

    // Starts program (an absolute path) with argv[1..] = args, and LC_ALL=C.UTF-8 and TZ=UTC
    // added to the environment (stable, UTF-8, UTC listings). stdin is /dev/null without
    // input; with it, stdin is fed from input inside read() whenever the child's stdout has
    // nothing to give, and closed at input's end. Fails with E_IO naming the program when it
    // cannot be started.
    static Result<std::unique_ptr<Subprocess>>
    spawn(const std::string &program, const std::vector<std::string> &args, InputFn input = {});

    ~Subprocess();
    Subprocess(const Subprocess &) = delete;
    Subprocess &operator=(const Subprocess &) = delete;

    // Up to buffer.size() bytes of the child's stdout; 0 once it is closed. Waits in slices
    // of 100 ms and returns E_CANCELLED (after killing the child) as soon as cancelled()
    // says so. Collects stderr meanwhile, so a chatty child cannot block on it, and feeds
    // stdin from the input function while stdout is empty. When the input function fails,
    // the child is killed and its status is returned, saying how many bytes were fed.
    Result<std::size_t> read(std::span<uint8_t> buffer, const std::function<bool()> &cancelled);

    // Waits for the child to exit (it normally has, once its stdout is closed): its exit code,
    // or 128 + signal number. After `timeout` it is killed. Closes its stdin first (a child
    // that closed its stdout wants no more input) and reads the rest of stderr.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // SIGKILL and reap; nothing when the child is already reaped. Safe to call twice.
    void kill();

    bool running() const { return _pid > 0; }
    pid_t pid() const { return _pid; }
    const std::string &program() const { return _program; }
    // Bytes of input the child has accepted so far.
    uint64_t inputFed() const { return _inputFed; }
    // The first non-empty line the child wrote to stderr, or "".
    std::string firstStderrLine() const;
    // "unar exited 1: <first stderr line>" for an exit code from wait().
    std::string describeExit(int code) const;

  private:
    Subprocess() = default;
    void drainStderr();
    // Writes input to stdin until the socket is full (or the input ends: stdin is closed).
    // Blocks only inside the input function.
    Status feedInput();
    void closeFd(int &fd);
    void reaped(int status);

    std::string _program; // for messages: the basename
    pid_t _pid = -1;
    int _out = -1;
    int _err = -1;
    int _in = -1; // our end of the child's stdin, while there is input to feed
    InputFn _input;
    std::vector<uint8_t> _inputBuffer; // [_inputAt, _inputEnd) is pulled but not yet accepted
    std::size_t _inputAt = 0, _inputEnd = 0;
    uint64_t _inputFed = 0;
    std::string _stderr; // the first kStderrKeep bytes the child wrote there
    int _exitCode = -1;
};

} // namespace lanspread::plugins::unrar
