#include "cli_frontend.hpp"

#include "human_session.hpp"

#include <lanspread/services/control.h>

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

using human::HumanSession;

namespace {

// A command line longer than the control service reads is not buffered whole: its first
// kKeptLineBytes are kept (one past the limit, + 1 for the CR of a CRLF line, which is
// dropped) and submitted, and the service refuses them as too long, naming the limit (so the
// answer is the same in every frontend, and memory stays bounded).
constexpr std::size_t kMaxLineBytes = LANSPREAD_CONTROL_MAX_LINE_BYTES;
constexpr std::size_t kKeptLineBytes = kMaxLineBytes + 2;

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
    return Status(LANSPREAD_E_INVALID_ARGUMENT, std::string("config key ") + key +
                                                    " must be a file descriptor number, got '" +
                                                    *value + "'");
}

Result<Mode> parseMode(const Host &host) {
    auto value = host.config("mode");
    if (!value || *value == "auto")
        return Mode::Auto;
    if (*value == "json")
        return Mode::Json;
    if (*value == "human")
        return Mode::Human;
    return Status(LANSPREAD_E_INVALID_ARGUMENT,
                  "config key mode must be auto, json or human, got '" + *value + "'");
}

} // namespace

void LineWriter::writeRaw(const std::string &bytes) {
    if (!_open)
        return;
    const char *p = bytes.data();
    std::size_t left = bytes.size();
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

CliSession::CliSession(Host host, ControlClient control, int inputFd, int outputFd, bool human)
    : _host(host), _control(control), _inputFd(inputFd),
      _writer(std::make_shared<LineWriter>(outputFd)) {
    if (::pipe2(_stopPipe, O_CLOEXEC) != 0)
        throw StatusError(LANSPREAD_E_IO, std::string("pipe2: ") + std::strerror(errno));

    if (human) {
        auto writer = _writer;
        _human = std::make_shared<HumanSession>(
            [control](const std::string &line, HumanSession::OnResult onResult) {
                return control.submit(line, std::move(onResult));
            },
            [writer](const std::string &bytes) { writer->writeRaw(bytes); }, inputFd, outputFd,
            "cli-");
        _human->write(_human->printer().started(LANSPREAD_VERSION, static_cast<long>(::getpid())));
        auto state = _human;
        auto subscription =
            _control.subscribe([state](const std::string &line) { state->event(line); });
        if (!subscription) {
            ::close(_stopPipe[0]);
            ::close(_stopPipe[1]);
            throw StatusError(subscription.status());
        }
        _subscription = std::move(subscription.value());
        // Whether peers can find this one is said once, in a sentence, when they cannot
        // (status "discovery"); the printer says it again only when it changes.
        _human->ask(R"({"id":"cli-start","cmd":"status"})", [state](const std::string &line) {
            state->write(state->printer().discovery(line));
        });
        _reader = std::thread([this] { readLoop(); });
        return;
    }

    // The version is a plain semver string, so no JSON escaping is needed.
    _writer->write("{\"event\":\"cli-started\",\"ts_ms\":" + std::to_string(nowUnixMs()) +
                   ",\"version\":\"" LANSPREAD_VERSION "\",\"pid\":" + std::to_string(::getpid()) +
                   "}");

    auto writer = _writer;
    auto subscription =
        _control.subscribe([writer](const std::string &line) { writer->write(line); });
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
    if (_human)
        _human->close(_human->printer().close()); // no bar stays behind a stopped peer
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

void CliSession::deliver(std::string line) {
    submit(std::move(line));
}

void CliSession::deliverHuman(std::vector<std::string> lines, bool enterTyped) {
    if (lines.empty())
        return;
    if (!_host.post([state = _human, lines = std::move(lines), enterTyped]() mutable {
            state->handleLines(std::move(lines), enterTyped);
        }))
        _host.warning("the kernel is shutting down; command not submitted");
}

// Thread: the reader thread. Only [any-thread] services are used here (submit, post, log).
void CliSession::readLoop() {
    std::string pending;            // at most kKeptLineBytes of the line being read
    std::vector<std::string> batch; // human mode: complete lines not yet posted
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
            if (_human) {
                deliverHuman(std::move(batch), true);
                if (!pending.empty())
                    deliverHuman({std::move(pending)}, false);
            } else if (!pending.empty()) {
                deliver(std::move(pending));
            }
            _host.info("standard input closed; the peer keeps running (send the shutdown "
                       "command or SIGTERM to stop it)");
            if (_human)
                _host.post([state = _human] {
                    if (state->open())
                        state->write(state->printer().message(
                            "input closed; the peer keeps running (SIGTERM stops it)"));
                });
            return;
        }
        for (ssize_t i = 0; i < n; ++i) {
            if (buffer[i] != '\n') {
                if (pending.size() < kKeptLineBytes)
                    pending.push_back(buffer[i]);
                continue;
            }
            if (_human)
                batch.push_back(std::move(pending));
            else
                deliver(std::move(pending));
            pending.clear();
        }
        if (_human && !batch.empty()) {
            // A terminal hands out one line per read: gather what is already waiting (its
            // echo is already on the screen) before posting.
            pollfd more{_inputFd, POLLIN, 0};
            if (batch.size() < 256 && ::poll(&more, 1, 0) > 0 && (more.revents & POLLIN))
                continue;
            deliverHuman(std::move(batch), true);
            batch.clear();
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
    auto mode = parseMode(this->host());
    if (!mode)
        throw StatusError(mode.status());
    _mode = mode.value();
}

Result<std::unique_ptr<FrontendSession>> CliFrontend::start() {
    ControlClient client = control();
    if (!client)
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "the host offers no " LANSPREAD_CONTROL_SERVICE_ID " service");
    const bool human = _mode == Mode::Human || (_mode == Mode::Auto && ::isatty(_inputFd) == 1);
    if (human)
        host().info("human mode: typed commands, tables and progress bars (mode = json for JSONL)");
    return std::unique_ptr<FrontendSession>(
        std::make_unique<CliSession>(host(), client, _inputFd, _outputFd, human));
}

} // namespace lanspread::plugins::cli

namespace {
const char *const kCapabilities[] = {"frontend:jsonl", nullptr};
const char *const kConfigKeys[] = {
    "input_fd: file descriptor commands are read from (default 0, standard input)",
    "output_fd: file descriptor results and events are written to (default 1, standard output)",
    "mode: auto, json or human (default auto: human mode when the input is a terminal)", nullptr};
} // namespace

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::cli::CliFrontend, LANSPREAD_KIND_FRONTEND,
                         "org.lanspread.frontend.cli", "Command-line frontend", LANSPREAD_VERSION,
                         "lanspread", "JSONL commands on standard input, events on standard output",
                         kCapabilities, kConfigKeys)
