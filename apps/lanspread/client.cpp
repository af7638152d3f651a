#include "client.hpp"

#include "human_command.hpp"
#include "human_printer.hpp"
#include "human_session.hpp"

#include <lanspread/services/control.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "0.0.0"
#endif

namespace lanspread::client {

namespace {

using human::HumanLine;
using human::HumanPrinter;
using human::HumanSession;
using Object = Poco::JSON::Object::Ptr;

// As frontend-cli: of a typed line longer than the control service reads, one byte past the
// limit (+1 for a CR) is kept and sent, and the service's answer says it is too long.
constexpr std::size_t kKeptLineBytes = LANSPREAD_CONTROL_MAX_LINE_BYTES + 2;

Object parseObject(const std::string &line) {
    try {
        Poco::JSON::Parser parser;
        auto value = parser.parse(line);
        if (value.type() == typeid(Object))
            return value.extract<Object>();
    } catch (const std::exception &) {
    }
    return nullptr;
}

std::string field(const Object &o, const char *key) {
    if (!o || !o->has(key))
        return {};
    try {
        return o->get(key).convert<std::string>();
    } catch (const std::exception &) {
        return {};
    }
}

// Writes all of bytes to fd (standard output: blocking is fine, it is ours).
bool writeAll(int fd, const std::string &bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void say(const std::string &sentence) {
    writeAll(2, sentence + "\n");
}

// when: "" or " before answering".
std::string peerGone(const SocketChoice &socket, const std::string &when = "") {
    return "lanspread: the peer at " + socket.path + " closed the connection" + when +
           " (it is stopping, or stopped)";
}

// Ctrl-C and SIGTERM as readable events, so a loop can put the screen in order and leave.
class Signals {
  public:
    Signals() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        _fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    ~Signals() {
        if (_fd >= 0)
            ::close(_fd);
    }
    int fd() const { return _fd; }
    bool fired() {
        signalfd_siginfo info{};
        return _fd >= 0 && ::read(_fd, &info, sizeof info) == sizeof info;
    }

  private:
    int _fd = -1;
};

// Results and events on the connection: results come back in the order the commands were
// sent (the control service answers one client's commands in order), so each result goes to
// the oldest waiting callback; every other line is an event.
class PeerLink {
  public:
    using OnLine = std::function<void(const std::string &)>;
    explicit PeerLink(LineConnection &connection) : _connection(connection) {}

    bool submit(const std::string &line, OnLine onResult) {
        if (_closed || !_connection.send(line + "\n"))
            return false;
        _waiting.push_back(std::move(onResult));
        return true;
    }
    std::size_t waiting() const { return _waiting.size(); }
    bool closed() const { return _closed; }

    // One poll turn's worth of socket work; false once the peer closed the connection.
    bool handle(short revents) {
        if ((revents & POLLOUT) && !_connection.flush())
            return close();
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            std::vector<std::string> lines;
            const bool open = _connection.read(lines);
            for (const auto &line : lines)
                dispatch(line);
            if (!open)
                return close();
        }
        return true;
    }
    pollfd pollEntry() const {
        return {_connection.fd(),
                static_cast<short>(POLLIN | (_connection.wantsWrite() ? POLLOUT : 0)), 0};
    }

    OnLine onEvent;

  private:
    void dispatch(const std::string &line) {
        Object o = parseObject(line);
        if (o && field(o, "event") == "result" && !_waiting.empty()) {
            OnLine onResult = std::move(_waiting.front());
            _waiting.pop_front();
            onResult(line);
            return;
        }
        if (onEvent)
            onEvent(line);
    }
    bool close() {
        _closed = true;
        return false;
    }

    LineConnection &_connection;
    std::deque<OnLine> _waiting;
    bool _closed = false;
};

// poll() on entries, retried on EINTR.
void waitFor(std::vector<pollfd> &entries) {
    while (::poll(entries.data(), entries.size(), -1) < 0 && errno == EINTR) {
    }
}

// The games a running-operations object ({game: operation}) is downloading.
std::set<std::string> downloadsIn(const Object &operations) {
    std::set<std::string> games;
    if (!operations)
        return games;
    for (const auto &game : operations->getNames()) {
        const std::string op = field(operations, game.c_str());
        if (op == "Downloading" || op == "StreamInstalling")
            games.insert(game);
    }
    return games;
}

} // namespace

int runCommand(LineConnection &connection, const SocketChoice &socket,
               const std::vector<std::string> &words, bool json) {
    const HumanLine parsed = human::parseHumanWords(words, "lanspread-1");
    PeerLink link(connection);
    std::optional<std::string> answer;
    if (!link.submit(parsed.json, [&](const std::string &line) { answer = line; })) {
        say(peerGone(socket));
        return kExitFailed;
    }
    while (!answer) {
        std::vector<pollfd> entries{link.pollEntry()};
        waitFor(entries);
        if (!link.handle(entries[0].revents) && !answer) {
            say(peerGone(socket, " before answering"));
            return kExitFailed;
        }
    }
    Object result = parseObject(*answer);
    const bool ok = result && result->has("ok") && result->get("ok").isBoolean() &&
                    result->getValue<bool>("ok");
    if (json) {
        writeAll(1, *answer + "\n");
        return ok ? kExitOk : kExitFailed;
    }
    if (!ok) {
        Object error = result ? result->getObject("error") : nullptr;
        const std::string code = field(error, "code");
        const std::string message = field(error, "message");
        say("lanspread: " + (code.empty() ? std::string("failed") : code) +
            (message.empty() ? std::string() : ": " + human::sanitize(message)));
        return kExitFailed;
    }
    // Not live: one command's answer is plain text (no escapes), on a terminal or not, so
    // `lanspread status` prints exactly the human mode's table.
    HumanPrinter printer(false, [] { return human::terminalColumns(1); });
    writeAll(1, printer.result(parsed.cmd, parsed.subject, *answer));
    return kExitOk;
}

int runWatch(LineConnection &connection, const SocketChoice &socket, bool json) {
    Signals signals;
    PeerLink link(connection);
    HumanPrinter printer(::isatty(1) == 1, [] { return human::terminalColumns(1); });
    bool snapshot = false; // the status answer came: from now on active-operations decides
    bool done = false;
    link.onEvent = [&](const std::string &line) {
        writeAll(1, json ? line + "\n" : printer.event(line));
        if (!snapshot)
            return;
        Object e = parseObject(line);
        if (field(e, "event") == "active-operations" &&
            downloadsIn(e->getObject("operations")).empty())
            done = true;
    };
    const bool sent =
        link.submit(R"({"id":"lanspread-watch","cmd":"status"})", [&](const std::string &line) {
            snapshot = true;
            Object r = parseObject(line);
            Object data = r ? r->getObject("data") : nullptr;
            if (!downloadsIn(data ? data->getObject("active_operations") : nullptr).empty())
                return;
            if (!json && !printer.downloading())
                writeAll(1, printer.message("no download is running"));
            done = true;
        });
    if (!sent) {
        say(peerGone(socket));
        return kExitFailed;
    }
    while (!done) {
        std::vector<pollfd> entries{link.pollEntry(), {signals.fd(), POLLIN, 0}};
        waitFor(entries);
        if (entries[1].revents & POLLIN && signals.fired())
            break; // Ctrl-C: the downloads go on without us
        if (!link.handle(entries[0].revents)) {
            if (!json)
                writeAll(1, printer.leave());
            say(peerGone(socket));
            return kExitFailed;
        }
    }
    if (!json)
        writeAll(1, printer.leave());
    return kExitOk;
}

int runInteractive(LineConnection &connection, const SocketChoice &socket) {
    Signals signals;
    PeerLink link(connection);
    bool shutdownSent = false;
    auto session = std::make_shared<HumanSession>(
        [&](const std::string &line, HumanSession::OnResult onResult) {
            Object command = line.size() <= kKeptLineBytes ? parseObject(line) : nullptr;
            shutdownSent = shutdownSent || field(command, "cmd") == "shutdown";
            return link.submit(line, std::move(onResult));
        },
        [](const std::string &bytes) { writeAll(1, bytes); }, 0, 1, "lanspread-");
    session->setExtraHelp("  quit (or Ctrl-D)\n      leave; the peer keeps running");
    link.onEvent = [&](const std::string &line) { session->event(line); };

    // Who we are talking to, instead of the daemon's greeting.
    session->ask(R"({"id":"lanspread-hello","cmd":"status"})", [&](const std::string &line) {
        Object r = parseObject(line);
        Object data = r ? r->getObject("data") : nullptr;
        if (!data) {
            session->write(session->printer().result("status", "", line));
            return;
        }
        session->write(session->printer().message(
            "connected to peer " + field(data, "name") + " (lanspread " + field(data, "version") +
            ", pid " + field(data, "pid") + ") at " + socket.path +
            " - type help for the commands; quit or Ctrl-D leaves, the peer keeps running"));
        session->write(session->printer().discovery(line));
    });

    std::string pending;   // the line being typed: at most kKeptLineBytes of it
    bool inputOpen = true; // standard input still reads
    bool leave = false;
    while (!leave) {
        std::vector<pollfd> entries{link.pollEntry(), {signals.fd(), POLLIN, 0}};
        if (inputOpen)
            entries.push_back({0, POLLIN, 0});
        waitFor(entries);
        if (entries[1].revents & POLLIN && signals.fired())
            break;
        if (!link.handle(entries[0].revents)) {
            std::string last = session->printer().leave();
            if (shutdownSent) {
                session->close(last + session->printer().message("the peer stopped"));
                return kExitOk;
            }
            session->close(last);
            say(peerGone(socket));
            return kExitFailed;
        }
        if (!inputOpen) {
            // Ctrl-D (or the end of a piped script): leave once every command is answered.
            leave = link.waiting() == 0;
            continue;
        }
        if (!(entries[2].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        // Lines typed (or pasted) together are handled together, so their echo is repaired
        // in one go: read what is already waiting before handling.
        std::vector<std::string> batch;
        bool typed = true;
        for (int reads = 0; reads < 256; ++reads) {
            char buffer[65536];
            const ssize_t n = ::read(0, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                inputOpen = false;
                if (!pending.empty()) {
                    batch.push_back(std::exchange(pending, std::string()));
                    typed = false;
                }
                break;
            }
            for (ssize_t i = 0; i < n; ++i) {
                if (buffer[i] != '\n') {
                    if (pending.size() < kKeptLineBytes)
                        pending.push_back(buffer[i]);
                    continue;
                }
                batch.push_back(std::exchange(pending, std::string()));
            }
            pollfd more{0, POLLIN, 0};
            if (::poll(&more, 1, 0) <= 0 || !(more.revents & POLLIN))
                break;
        }
        // quit/exit (a word of this client, not a command of the peer) ends the batch.
        std::vector<std::string> lines;
        for (auto &line : batch) {
            const std::size_t first = line.find_first_not_of(" \t");
            const std::size_t last = line.find_last_not_of(" \t\r");
            const std::string word =
                first == std::string::npos ? std::string() : line.substr(first, last - first + 1);
            if (word == "quit" || word == "exit") {
                leave = true;
                break;
            }
            lines.push_back(std::move(line));
        }
        session->handleLines(std::move(lines), typed);
        if (!inputOpen && link.waiting() == 0)
            leave = true;
    }
    std::string last = session->printer().leave();
    session->close(last + session->printer().message("left; the peer keeps running"));
    return kExitOk;
}

int runJsonLines(LineConnection &connection) {
    bool inputOpen = true;
    for (;;) {
        std::vector<pollfd> entries{
            {connection.fd(), static_cast<short>(POLLIN | (connection.wantsWrite() ? POLLOUT : 0)),
             0}};
        if (inputOpen)
            entries.push_back({0, POLLIN, 0});
        waitFor(entries);
        if ((entries[0].revents & POLLOUT) && !connection.flush())
            return kExitOk; // the peer went away
        if (entries[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            std::vector<std::string> lines;
            const bool open = connection.read(lines);
            std::string out;
            for (const auto &line : lines)
                out += line + "\n";
            if (!writeAll(1, out))
                return kExitFailed;
            if (!open)
                return kExitOk; // every command answered (or the peer stopped)
        }
        if (inputOpen && (entries[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buffer[65536];
            const ssize_t n = ::read(0, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                inputOpen = false;
                connection.finishWriting(); // the peer answers what it was asked, then closes
            } else if (!connection.send(std::string(buffer, static_cast<std::size_t>(n)))) {
                return kExitOk;
            }
        }
    }
}

} // namespace lanspread::client
