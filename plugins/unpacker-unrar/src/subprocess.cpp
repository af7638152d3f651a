#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

Result<std::unique_ptr<Subprocess>> Subprocess::spawn(const std::string &program,
                                                      const std::vector<std::string> &args) {
    std::unique_ptr<Subprocess> child(new Subprocess());
    child->_program = basename(program);
    int outPipe[2] = {-1, -1}, errPipe[2] = {-1, -1};
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

    SpawnSetup setup;
    int rc = posix_spawn_file_actions_init(&setup.actions);
    setup.haveActions = rc == 0;
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
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
    if (rc != 0)
        return Status(LANSPREAD_E_IO, "cannot start " + program + ": " + std::strerror(rc));
    ::fcntl(child->_out, F_SETFL, ::fcntl(child->_out, F_GETFL) | O_NONBLOCK);
    ::fcntl(child->_err, F_SETFL, ::fcntl(child->_err, F_GETFL) | O_NONBLOCK);
    return child;
}

Subprocess::~Subprocess() {
    kill();
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
            return std::size_t{0};
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return Status(LANSPREAD_E_IO,
                          "reading the output of " + _program + ": " + std::strerror(errno));
        pollfd fds[2] = {{_out, POLLIN, 0}, {_err, POLLIN, 0}};
        int count = _err >= 0 ? 2 : 1;
        if (::poll(fds, static_cast<nfds_t>(count), kPollSliceMs) < 0 && errno != EINTR)
            return Status(LANSPREAD_E_IO, "poll: " + std::string(std::strerror(errno)));
        if (count == 2 && fds[1].revents != 0)
            drainStderr();
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
