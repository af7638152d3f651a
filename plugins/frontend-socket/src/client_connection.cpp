#include "client_connection.hpp"

#include <lanspread/services/control.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace lanspread::plugins::socket {

namespace {

// As in frontend-cli: a line longer than the control service reads is not buffered whole. Its
// first kKeptLineBytes are kept (one past the limit, + 1 for the CR of a CRLF line) and
// submitted, and the service refuses them as too long, naming the limit.
constexpr std::size_t kMaxLineBytes = LANSPREAD_CONTROL_MAX_LINE_BYTES;
constexpr std::size_t kKeptLineBytes = kMaxLineBytes + 2;
// Read at most this much per readiness, so one chatty client cannot hold the reactor; the
// watch is level-triggered, so the rest is read on the next turn.
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerTurn = 4;

// "256 KiB", "8.0 MiB".
std::string size(std::size_t bytes) {
    if (bytes < (1u << 20))
        return std::to_string(bytes / 1024) + " KiB";
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / 1048576.0);
    return text;
}

} // namespace

ClientConnection::ClientConnection(Host host, ControlClient control, int fd, std::string label,
                                   ConnectionLimits limits, std::function<void()> onGone)
    : _host(host), _control(control), _fd(fd), _label(std::move(label)), _limits(limits),
      _onGone(std::move(onGone)) {}

ClientConnection::~ClientConnection() {
    release();
}

Status ClientConnection::start() {
    std::weak_ptr<ClientConnection> weak = weak_from_this();
    auto watch = _host.watchFd(_fd, LANSPREAD_FD_READ, [weak](int, uint32_t revents) {
        if (auto self = weak.lock())
            self->onReady(revents);
    });
    if (!watch)
        return watch.status();
    _watch = std::move(watch.value());
    _watching = LANSPREAD_FD_READ;
    return Status::ok();
}

void ClientConnection::onReady(uint32_t revents) {
    if (_closed)
        return;
    if (revents & LANSPREAD_FD_WRITE)
        flush();
    if (!_closed && (_watching & LANSPREAD_FD_READ) &&
        (revents & (LANSPREAD_FD_READ | LANSPREAD_FD_HANGUP | LANSPREAD_FD_ERROR)))
        readInput();
    if (_closed)
        return;
    if (revents & (LANSPREAD_FD_HANGUP | LANSPREAD_FD_ERROR)) {
        // Both directions are gone: what it sent is submitted, its answers can go nowhere.
        close("disconnected", false);
        return;
    }
    updateWatch();
}

void ClientConnection::readInput() {
    char buffer[kReadChunk];
    for (int turn = 0; turn < kReadsPerTurn && !_closed; ++turn) {
        const ssize_t n = ::recv(_fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            close(std::string("read failed: ") + std::strerror(errno), false);
            return;
        }
        if (n == 0) {
            // The client closed its side: answer what it asked, then close (finishIfDone).
            if (!_line.empty())
                submit(std::exchange(_line, std::string()));
            _inputClosed = true;
            updateWatch();
            finishIfDone();
            return;
        }
        std::size_t start = 0;
        const auto size = static_cast<std::size_t>(n);
        while (start < size && !_closed) {
            const void *found = std::memchr(buffer + start, '\n', size - start);
            const std::size_t end =
                found ? static_cast<std::size_t>(static_cast<const char *>(found) - buffer) : size;
            const std::size_t room = kKeptLineBytes - std::min(kKeptLineBytes, _line.size());
            _line.append(buffer + start, std::min(room, end - start));
            if (!found)
                break;
            submit(std::exchange(_line, std::string()));
            start = end + 1;
        }
        if (_pending >= _limits.maxPendingCommands)
            return; // reading pauses (updateWatch) until answers come back
    }
}

void ClientConnection::submit(std::string line) {
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
        return; // blank lines are not commands
    ++_pending;
    auto self = shared_from_this();
    if (!_control.submit(line, [self](const std::string &result) { self->onResult(result); })) {
        --_pending;
        _host.warning("the kernel is shutting down; a command of " + _label + " was not submitted");
    }
}

void ClientConnection::onResult(const std::string &line) {
    if (_pending > 0)
        --_pending;
    if (_closed)
        return;
    append(line);
    if (_closed)
        return;
    updateWatch();
    finishIfDone();
}

void ClientConnection::event(const std::string &line) {
    // Once its input is closed and its commands are answered, the client only waits for the
    // rest of its output: no new events.
    if (_closed || (_inputClosed && _pending == 0))
        return;
    append(line);
}

void ClientConnection::append(const std::string &line) {
    if (_closed)
        return;
    const std::size_t queued = queuedBytes();
    if (queued + line.size() + 1 > _limits.maxOutputBytes) {
        close("does not read what the peer sends: " + size(queued) + " waiting, the limit is " +
                  size(_limits.maxOutputBytes) + " (max_output_bytes); disconnected",
              true);
        return;
    }
    if (queued == 0) {
        _out.clear();
        _outStart = 0;
    }
    _out += line;
    _out += '\n';
    flush();
}

void ClientConnection::flush() {
    while (!_closed && queuedBytes() > 0) {
        const ssize_t n =
            ::send(_fd, _out.data() + _outStart, queuedBytes(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            close(errno == EPIPE || errno == ECONNRESET
                      ? std::string("disconnected")
                      : std::string("write failed: ") + std::strerror(errno),
                  false);
            return;
        }
        _outStart += static_cast<std::size_t>(n);
    }
    if (_closed)
        return;
    if (queuedBytes() == 0) {
        _out.clear();
        _outStart = 0;
    } else if (_outStart > (1u << 20) && _outStart > _out.size() / 2) {
        _out.erase(0, _outStart); // keep the buffer from growing with what was sent
        _outStart = 0;
    }
    updateWatch();
    finishIfDone();
}

void ClientConnection::updateWatch() {
    if (_closed || !_watch.active())
        return;
    uint32_t wanted = 0;
    if (!_inputClosed && _pending < _limits.maxPendingCommands)
        wanted |= LANSPREAD_FD_READ;
    if (queuedBytes() > 0)
        wanted |= LANSPREAD_FD_WRITE;
    if (wanted != _watching && _watch.modify(wanted).succeeded())
        _watching = wanted;
}

void ClientConnection::finishIfDone() {
    if (!_closed && _inputClosed && _pending == 0 && queuedBytes() == 0)
        close("closed its input; every command is answered", false);
}

void ClientConnection::close(const std::string &why, bool warning) {
    if (_closed)
        return;
    _closed = true;
    if (warning)
        _host.warning(_label + " " + why);
    else if (!why.empty())
        _host.debug(_label + ": " + why);
    ::shutdown(_fd, SHUT_RDWR); // the client sees the end now
    _out.clear();
    _outStart = 0;
    _line.clear();
    // The watch (whose callback may be running now) and the descriptor go on the next turn.
    auto self = shared_from_this();
    _host.post([self] {
        self->release();
        if (auto gone = std::exchange(self->_onGone, nullptr))
            gone();
    });
    // If the host refused the task (shutting down), the session's stop releases it.
}

void ClientConnection::release() {
    if (_released)
        return;
    _released = true;
    _closed = true;
    _watch.reset();
    if (_fd >= 0)
        ::close(_fd);
    _fd = -1;
}

} // namespace lanspread::plugins::socket
