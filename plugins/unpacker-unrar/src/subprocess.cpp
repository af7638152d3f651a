#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char **environ;

namespace lanspread::plugins::unrar {

namespace {

constexpr std::size_t kStderrKeep = 8192;
constexpr int kPollSliceMs = 100;
constexpr std::size_t kInputChunk = 64 * 1024;

std::string basename(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The parent's environment with LC_ALL and TZ replaced.
std::vector<std::string> childEnvironment() {
    std::vector<std::string> env;
    for (char **e = environ; e && *e; ++e) {
        std::string_view v(*e);
        if (v.starts_with("LC_ALL=") || v.starts_with("TZ="))
            continue;
        env.emplace_back(v);
    }
    env.emplace_back("LC_ALL=C.UTF-8");
    env.emplace_back("TZ=UTC");
    return env;
}

std::vector<char *> pointers(std::vector<std::string> &strings) {
    std::vector<char *> p;
    for (auto &s : strings)
        p.push_back(s.data());
    p.push_back(nullptr);
    return p;
}

// posix_spawn* helpers return an error number instead of setting errno.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    bool haveActions = false, haveAttributes = false;
    ~SpawnSetup() {
        if (haveActions)
            posix_spawn_file_actions_destroy(&actions);
        if (haveAttributes)
            posix_spawnattr_destroy(&attributes);
    }
};

} // namespace

Result<std::unique_ptr<Subprocess>>
Subprocess::spawn(const std::string &program, const std::vector<std::string> &args, InputFn input) {
    std::unique_ptr<Subprocess> child(new Subprocess());
    child->_program = basename(program);
    int outPipe[2] = {-1, -1}, errPipe[2] = {-1, -1}, inSocket[2] = {-1, -1};
    if (::pipe2(outPipe, O_CLOEXEC) != 0)
        return Status(LANSPREAD_E_IO, "pipe: " + std::string(std::strerror(errno)));
    if (::pipe2(errPipe, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(outPipe[0]);
        ::close(outPipe[1]);
        return Status(LANSPREAD_E_IO, "pipe: " + std::string(std::strerror(e)));
    }
    child->_out = outPipe[0];
    child->_err = errPipe[0];
    // stdin is a socket rather than a pipe: send(MSG_NOSIGNAL) to a child that stopped
    // reading fails with EPIPE instead of raising SIGPIPE in the host process.
    if (input && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inSocket) != 0) {
        int e = errno;
        ::close(outPipe[1]);
        ::close(errPipe[1]);
        return Status(LANSPREAD_E_IO, "socketpair: " + std::string(std::strerror(e)));
    }
    child->_in = inSocket[0]; // -1 without input
    if (input) {
        child->_input = std::move(input);
        child->_inputBuffer.resize(kInputChunk);
    }

    SpawnSetup setup;
    int rc = posix_spawn_file_actions_init(&setup.actions);
    setup.haveActions = rc == 0;
    if (rc == 0)
        rc = inSocket[1] >= 0
                 ? posix_spawn_file_actions_adddup2(&setup.actions, inSocket[1], 0)
                 : posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&setup.actions, outPipe[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&setup.actions, errPipe[1], 2);
    if (rc == 0) // the host's other descriptors stay out of the child
        rc = posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
    if (rc == 0) {
        rc = posix_spawnattr_init(&setup.attributes);
        setup.haveAttributes = rc == 0;
    }
    sigset_t defaults, empty;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    // A host that ignores SIGPIPE must not hand that on: a child whose reader went away
    // (close() of an unfinished job) should die of it, not spin on EPIPE.
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD})
        sigaddset(&defaults, s);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&setup.attributes, &empty);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&setup.attributes,
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0) {
        std::vector<std::string> argvStrings;
        argvStrings.push_back(program);
        argvStrings.insert(argvStrings.end(), args.begin(), args.end());
        std::vector<std::string> envStrings = childEnvironment();
        auto argv = pointers(argvStrings);
        auto envp = pointers(envStrings);
        pid_t pid = -1;
        rc = posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attributes, argv.data(),
                         envp.data());
        if (rc == 0)
            child->_pid = pid;
    }
    ::close(outPipe[1]);
    ::close(errPipe[1]);
    if (inSocket[1] >= 0)
        ::close(inSocket[1]);
    if (rc != 0)
        return Status(LANSPREAD_E_IO, "cannot start " + program + ": " + std::strerror(rc));
    ::fcntl(child->_out, F_SETFL, ::fcntl(child->_out, F_GETFL) | O_NONBLOCK);
    ::fcntl(child->_err, F_SETFL, ::fcntl(child->_err, F_GETFL) | O_NONBLOCK);
    if (child->_in >= 0)
        ::fcntl(child->_in, F_SETFL, ::fcntl(child->_in, F_GETFL) | O_NONBLOCK);
    return child;
}

Subprocess::~Subprocess() {
    kill();
    closeFd(_in);
    closeFd(_out);
    closeFd(_err);
}

void Subprocess::closeFd(int &fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

void Subprocess::drainStderr() {
    char buffer[4096];
    while (_err >= 0) {
        ssize_t n = ::read(_err, buffer, sizeof buffer);
        if (n > 0) {
            if (_stderr.size() < kStderrKeep)
                _stderr.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n),
                                                             kStderrKeep - _stderr.size()));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            closeFd(_err); // the child closed stderr (exited)
        return;            // EAGAIN: nothing more for now
    }
}

Status Subprocess::feedInput() {
    while (_in >= 0) {
        if (_inputAt == _inputEnd) {
            auto got = _input(_inputBuffer);
            if (!got)
                return got.status();
            if (got.value() == 0) {
                closeFd(_in); // end of the archive: the child reads end-of-file
                return Status::ok();
            }
            _inputAt = 0;
            _inputEnd = got.value();
        }
        ssize_t n = ::send(_in, _inputBuffer.data() + _inputAt, _inputEnd - _inputAt,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            _inputAt += static_cast<std::size_t>(n);
            _inputFed += static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return Status::ok(); // the child has not caught up; poll says when it has
        // EPIPE, ECONNRESET: the child closed its stdin. It read all it wanted (an archive
        // can end before the source does) or it failed; its exit status tells which.
        closeFd(_in);
    }
    return Status::ok();
}

Result<std::size_t> Subprocess::read(std::span<uint8_t> buffer,
                                     const std::function<bool()> &cancelled) {
    for (;;) {
        if (cancelled && cancelled()) {
            kill();
            return Status(LANSPREAD_E_CANCELLED);
        }
        if (_out < 0 || buffer.empty())
            return std::size_t{0};
        ssize_t n = ::read(_out, buffer.data(), buffer.size());
        if (n > 0)
            return static_cast<std::size_t>(n);
        if (n == 0) {
            closeFd(_out);
            closeFd(_in); // a child that closed its output wants no more input
            return std::size_t{0};
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return Status(LANSPREAD_E_IO,
                          "reading the output of " + _program + ": " + std::strerror(errno));
        // stdout is empty: wait for it, for stderr, and for room in stdin. Feeding only while
        // stdout is empty cannot deadlock: a child blocked on a full stdout is drained first,
        // and one blocked on an empty stdin is fed.
        pollfd fds[3] = {{_out, POLLIN, 0}, {_err, POLLIN, 0}, {_in, POLLOUT, 0}};
        if (::poll(fds, 3, kPollSliceMs) < 0 && errno != EINTR)
            return Status(LANSPREAD_E_IO, "poll: " + std::string(std::strerror(errno)));
        if (fds[1].revents != 0)
            drainStderr();
        if (fds[2].revents & (POLLHUP | POLLERR)) {
            closeFd(_in); // the child closed its stdin: pull nothing more from the source
        } else if (fds[2].revents != 0) {
            if (Status fed = feedInput(); !fed) {
                kill();
                if (fed.code() == LANSPREAD_E_CANCELLED)
                    return fed;
                return Status(fed.code(), "the archive stream failed after " +
                                              std::to_string(_inputFed) + " bytes were fed to " +
                                              _program + " (" + lanspread_status_name(fed.code()) +
                                              (fed.message().empty() ? "" : ": " + fed.message()) +
                                              ")");
            }
        }
    }
}

void Subprocess::reaped(int status) {
    _pid = -1;
    if (WIFEXITED(status))
        _exitCode = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        _exitCode = 128 + WTERMSIG(status);
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
    closeFd(_in);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (_pid > 0) {
        drainStderr();
        int status = 0;
        pid_t r = ::waitpid(_pid, &status, WNOHANG);
        if (r == _pid) {
            reaped(status);
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) { // ECHILD: someone else reaped it (SIGCHLD ignored by the host)
            _pid = -1;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill();
            break;
        }
        if (_err >= 0) {
            pollfd fd{_err, POLLIN, 0};
            ::poll(&fd, 1, 10);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    // The child is gone: whatever it wrote to stderr is in the pipe now.
    if (_err >= 0) {
        drainStderr();
        closeFd(_err);
    }
    return _exitCode;
}

void Subprocess::kill() {
    if (_pid <= 0)
        return;
    ::kill(_pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(_pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r == _pid)
        reaped(status);
    else
        _pid = -1;
}

std::string Subprocess::firstStderrLine() const {
    std::size_t at = 0;
    while (at < _stderr.size()) {
        std::size_t end = _stderr.find('\n', at);
        if (end == std::string::npos)
            end = _stderr.size();
        std::string line = _stderr.substr(at, end - at);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        if (!line.empty())
            return line;
        at = end + 1;
    }
    return "";
}

std::string Subprocess::describeExit(int code) const {
    std::string text = _program;
    if (code > 128 && code < 128 + 65)
        text += " was killed by signal " + std::to_string(code - 128);
    else if (code < 0)
        text += " ended with an unknown status";
    else
        text += " exited " + std::to_string(code);
    if (_program.rfind("unrar", 0) == 0) {
        // RARLAB unrar's documented exit codes (it prints nothing with -inul).
        static const char *const meanings[] = {nullptr,
                                               "warning",
                                               "fatal error",
                                               "CRC error",
                                               "locked archive",
                                               "write error",
                                               "cannot open a file",
                                               "wrong option",
                                               "out of memory",
                                               "cannot create a file",
                                               "no files matched",
                                               "wrong password"};
        if (code > 0 && code < 12)
            text += std::string(" (") + meanings[code] + ")";
    }
    std::string line = firstStderrLine();
    return line.empty() ? text : text + ": " + line;
}

} // namespace lanspread::plugins::unrar
