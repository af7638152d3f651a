// A real child process for integration tests: stdin/stdout pipes, stderr captured to a
// file, line reads with timeouts, and a wait() that never hangs (it kills on timeout).
// Header-only; POSIX.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lanspread::test {

class ChildProcess {
  public:
    // Starts program with args in workingDir; stderr goes to stderrPath (truncated).
    // extraEnv: "NAME=value" entries added to (or replacing in) the inherited environment.
    ChildProcess(const std::string &program, const std::vector<std::string> &args,
                 const std::string &workingDir, const std::string &stderrPath,
                 const std::vector<std::string> &extraEnv = {})
        : _stderrPath(stderrPath) {
        // The child's environment is built before fork (nothing allocates after it).
        std::vector<std::string> envStrings;
        for (char **e = environ; e != nullptr && *e != nullptr; ++e) {
            std::string entry(*e);
            std::string name = entry.substr(0, entry.find('='));
            bool replaced = false;
            for (const auto &extra : extraEnv)
                replaced = replaced || extra.substr(0, extra.find('=')) == name;
            if (!replaced)
                envStrings.push_back(entry);
        }
        envStrings.insert(envStrings.end(), extraEnv.begin(), extraEnv.end());
        std::vector<char *> envp;
        for (auto &entry : envStrings)
            envp.push_back(entry.data());
        envp.push_back(nullptr);
        std::vector<char *> argv;
        argv.push_back(const_cast<char *>(program.c_str()));
        for (const auto &a : args)
            argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
        _pid = ::fork();
        if (_pid < 0)
            throw std::runtime_error("fork failed");
        if (_pid == 0) {
            int err = ::open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            if (err >= 0)
                ::dup2(err, 2);
            if (::chdir(workingDir.c_str()) != 0)
                ::_exit(126);
            ::execve(program.c_str(), argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        _stdin = in[1];
        _stdout = out[0];
    }
    ~ChildProcess() {
        if (!_exited) {
            ::kill(_pid, SIGKILL);
            int status = 0;
            ::waitpid(_pid, &status, 0);
        }
        closeStdin();
        if (_stdout >= 0)
            ::close(_stdout);
    }
    ChildProcess(const ChildProcess &) = delete;
    ChildProcess &operator=(const ChildProcess &) = delete;

    pid_t pid() const { return _pid; }

    void writeStdin(const std::string &text) {
        std::size_t done = 0;
        while (done < text.size()) {
            ssize_t n = ::write(_stdin, text.data() + done, text.size() - done);
            if (n <= 0)
                throw std::runtime_error("write to child stdin failed");
            done += static_cast<std::size_t>(n);
        }
    }
    void closeStdin() {
        if (_stdin >= 0)
            ::close(_stdin);
        _stdin = -1;
    }

    // The next stdout line (without '\n'), or nullopt at EOF or after timeout.
    std::optional<std::string> readLine(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto nl = _buffer.find('\n');
            if (nl != std::string::npos) {
                std::string line = _buffer.substr(0, nl);
                _buffer.erase(0, nl + 1);
                return line;
            }
            if (_eof)
                return std::nullopt;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            pollfd p{_stdout, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            char chunk[65536];
            ssize_t n = ::read(_stdout, chunk, sizeof chunk);
            if (n <= 0)
                _eof = true;
            else
                _buffer.append(chunk, static_cast<std::size_t>(n));
        }
    }
    // Reads lines until one contains needle (returned) or timeout (nullopt). Every line read
    // is kept in seen() so negative checks can scan the whole window.
    std::optional<std::string> readUntil(const std::string &needle,
                                         std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            auto line = readLine(left);
            if (!line)
                return std::nullopt;
            _seen.push_back(*line);
            if (line->find(needle) != std::string::npos)
                return line;
        }
    }
    const std::vector<std::string> &seen() const { return _seen; }

    // Exit code (or 128+signal), or nullopt if still running at the timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!_exited) {
            int status = 0;
            pid_t r = ::waitpid(_pid, &status, WNOHANG);
            if (r == _pid) {
                _exited = true;
                _exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline)
                return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return _exitCode;
    }
    // wait() as a plain int: the exit code, or -1 when still running at the timeout.
    int waitExit(std::chrono::milliseconds timeout) { return wait(timeout).value_or(-1); }
    void signal(int sig) { ::kill(_pid, sig); }

    std::string stderrText() const {
        std::ifstream in(_stderrPath);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

  private:
    std::string _stderrPath;
    pid_t _pid = -1;
    int _stdin = -1;
    int _stdout = -1;
    std::string _buffer;
    bool _eof = false;
    bool _exited = false;
    int _exitCode = -1;
    std::vector<std::string> _seen;
};

} // namespace lanspread::test
