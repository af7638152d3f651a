// unpacker-unrar: one external extractor process, started with posix_spawn (no shell: the
// arguments go to the program exactly as given), its stdout read through a pipe and its
// stderr collected on the side. The destructor kills and reaps a child that is still
// running, so no job leaves a process or a zombie behind.
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
    // Starts program (an absolute path) with argv[1..] = args, stdin from /dev/null, and
    // LC_ALL=C.UTF-8 and TZ=UTC added to the environment (stable, UTF-8, UTC listings).
    // Fails with E_IO naming the program when it cannot be started.
    static Result<std::unique_ptr<Subprocess>> spawn(const std::string &program,
                                                     const std::vector<std::string> &args);

    ~Subprocess();
    Subprocess(const Subprocess &) = delete;
    Subprocess &operator=(const Subprocess &) = delete;

    // Up to buffer.size() bytes of the child's stdout; 0 once it is closed. Waits in slices
    // of 100 ms and returns E_CANCELLED (after killing the child) as soon as cancelled()
    // says so. Collects stderr meanwhile, so a chatty child cannot block on it.
    Result<std::size_t> read(std::span<uint8_t> buffer, const std::function<bool()> &cancelled);

    // Waits for the child to exit (it normally has, once its stdout is closed): its exit code,
    // or 128 + signal number. After `timeout` it is killed. Reads the rest of stderr.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // SIGKILL and reap; nothing when the child is already reaped. Safe to call twice.
    void kill();

    bool running() const { return _pid > 0; }
    pid_t pid() const { return _pid; }
    const std::string &program() const { return _program; }
    // The first non-empty line the child wrote to stderr, or "".
    std::string firstStderrLine() const;
    // "unar exited 1: <first stderr line>" for an exit code from wait().
    std::string describeExit(int code) const;

  private:
    Subprocess() = default;
    void drainStderr();
    void closeFd(int &fd);
    void reaped(int status);

    std::string _program; // for messages: the basename
    pid_t _pid = -1;
    int _out = -1;
    int _err = -1;
    std::string _stderr; // the first kStderrKeep bytes the child wrote there
    int _exitCode = -1;
};

} // namespace lanspread::plugins::unrar
