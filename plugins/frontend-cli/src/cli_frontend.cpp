#include "cli_frontend.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "0.0.0"
#endif

namespace lanspread::plugins::cli {

namespace {

// A command line longer than this is not a command: it is refused locally rather than
// buffered without bound.
constexpr std::size_t kMaxLineBytes = 1 << 20;

int64_t nowUnixMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<int> parseFd(const Host &host, const char *key, int fallback) {
    auto value = host.config(key);
    if (!value)
        return fallback;
    try {
        std::size_t used = 0;
        int fd = std::stoi(*value, &used);
        if (used == value->size() && fd >= 0)
            return fd;
    } catch (const std::exception &) {
    }
    return Status(LANSPREAD_E_INVALID_ARGUMENT,
                  std::string("config key ") + key + " must be a file descriptor number, got '" +
                      *value + "'");
}

} // namespace

void LineWriter::write(const std::string &line) {
    if (!_open)
        return;
    std::string out = line;
    out.push_back('\n');
    const char *p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
        ssize_t n = ::write(_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd pfd{_fd, POLLOUT, 0};
            ::poll(&pfd, 1, 1000);
            continue;
        }
        if (n <= 0) {
            _open = false; // the reader of our output went away; keep the peer running
            return;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

CliSession::CliSession(Host host, ControlClient control, int inputFd, int outputFd)
    : _host(host), _control(control), _inputFd(inputFd),
      _writer(std::make_shared<LineWriter>(outputFd)) {
    if (::pipe2(_stopPipe, O_CLOEXEC) != 0)
        throw StatusError(LANSPREAD_E_IO, std::string("pipe2: ") + std::strerror(errno));

    // The version is a plain semver string, so no JSON escaping is needed.
    _writer->write("{\"event\":\"cli-started\",\"ts_ms\":" + std::to_string(nowUnixMs()) +
                   ",\"version\":\"" LANSPREAD_VERSION "\",\"pid\":" + std::to_string(::getpid()) +
                   "}");

    auto writer = _writer;
    auto subscription = _control.subscribe([writer](const std::string &line) { writer->write(line); });
    if (!subscription)
        throw StatusError(subscription.status());
    _subscription = std::move(subscription.value());

    _reader = std::thread([this] { readLoop(); });
}

CliSession::~CliSession() {
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(_stopPipe[1], &byte, 1);
    if (_reader.joinable())
        _reader.join();
    _subscription.reset();
    _writer->close();
    ::close(_stopPipe[0]);
    ::close(_stopPipe[1]);
}

void CliSession::submit(std::string line) {
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
        return; // blank lines are not commands
    auto writer = _writer;
    if (!_control.submit(line, [writer](const std::string &result) { writer->write(result); }))
        _host.warning("the kernel is shutting down; command not submitted");
}

// Thread: the reader thread. Only [any-thread] services are used here (submit, log).
void CliSession::readLoop() {
    std::string pending;
    bool overlong = false;
    char buffer[65536];
    for (;;) {
        pollfd fds[2] = {{_inputFd, POLLIN, 0}, {_stopPipe[0], POLLIN, 0}};
        int ready = ::poll(fds, 2, -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0 || (fds[1].revents & POLLIN))
            return;
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = ::read(_inputFd, buffer, sizeof buffer);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (!pending.empty() && !overlong)
                submit(std::move(pending));
            _host.info("standard input closed; the peer keeps running (send the shutdown "
                       "command or SIGTERM to stop it)");
            return;
        }
        for (ssize_t i = 0; i < n; ++i) {
            if (buffer[i] != '\n') {
                if (pending.size() < kMaxLineBytes)
                    pending.push_back(buffer[i]);
                else
                    overlong = true;
                continue;
            }
            if (overlong)
                submit("{\"cmd\":\"<line longer than 1 MiB>\"}"); // answered invalid-command
            else
                submit(std::move(pending));
            pending.clear();
            overlong = false;
        }
    }
}

CliFrontend::CliFrontend(Host host) : FrontendPlugin(host) {
    auto in = parseFd(this->host(), "input_fd", 0);
    auto out = parseFd(this->host(), "output_fd", 1);
    if (!in)
        throw StatusError(in.status());
    if (!out)
        throw StatusError(out.status());
    _inputFd = in.value();
    _outputFd = out.value();
}

Result<std::unique_ptr<FrontendSession>> CliFrontend::start() {
    ControlClient client = control();
    if (!client)
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "the host offers no " LANSPREAD_CONTROL_SERVICE_ID " service");
    return std::unique_ptr<FrontendSession>(
        std::make_unique<CliSession>(host(), client, _inputFd, _outputFd));
}

} // namespace lanspread::plugins::cli

namespace {
const char *const kCapabilities[] = {"frontend:jsonl", nullptr};
const char *const kConfigKeys[] = {
    "input_fd: file descriptor commands are read from (default 0, standard input)",
    "output_fd: file descriptor results and events are written to (default 1, standard output)",
    nullptr};
} // namespace

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::cli::CliFrontend, LANSPREAD_KIND_FRONTEND,
                         "org.lanspread.frontend.cli", "Command-line frontend", LANSPREAD_VERSION,
                         "lanspread", "JSONL commands on standard input, events on standard output",
                         kCapabilities, kConfigKeys)
