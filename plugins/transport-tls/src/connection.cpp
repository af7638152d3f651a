#include "connection.hpp"

#include <algorithm>
#include <cerrno>

namespace lanspread::plugins::tls {

namespace {
constexpr int kReadsPerEvent = 16; // then other fds get their turn
constexpr std::size_t kFrameBatch = 64 * 1024;
constexpr uint64_t kProtocolError = 1; // the CLOSE code for a framing/flow-control violation
constexpr uint64_t kMs = 1'000'000;
} // namespace

Connection::Connection(Host host, ConnectionOwner &owner, const Options &options,
                       std::shared_ptr<TlsContext> context, TransportEvents events, Fd fd,
                       SockAddr remote, const void *listener)
    : TransportConnection(host), _host(host), _owner(owner), _options(options), _events(events),
      _fd(std::move(fd)), _remote(remote), _remoteText(remote.toString()), _listener(listener),
      _incoming(listener != nullptr), _reported(listener == nullptr),
      _state(listener != nullptr ? State::Handshaking : State::Connecting),
      _context(std::move(context)), _mux(listener == nullptr, options.mux, *this) {}

Connection::~Connection() = default;

Status Connection::start() {
    auto session = TlsSession::create(_context);
    if (!session)
        return session.status();
    _tls = std::move(session.value());
    const uint64_t now = static_cast<uint64_t>(_host.now().count());
    _handshakeDeadline = now + _options.handshakeTimeoutNs;
    _lastReceive = _lastSend = now;
    _watchEvents = _state == State::Connecting ? LANSPREAD_FD_WRITE : LANSPREAD_FD_READ;
    auto watch = _host.watchFd(_fd.get(), _watchEvents,
                               [this](int, uint32_t revents) { onSocket(revents); });
    if (!watch)
        return watch.status();
    _watch = std::move(watch.value());
    armTimer(_options.handshakeTimeoutNs);
    if (_state == State::Handshaking) {
        // The server speaks second, but wolfSSL wants a first call to set itself up.
        advanceHandshake();
    }
    return Status::ok();
}

std::size_t Connection::bufferedBytes() const {
    std::size_t n = static_cast<std::size_t>(_mux.sendBuffered()) + _plain.capacity();
    if (_tls)
        n += _tls->outputBuffered() + _tls->inputBuffered();
    return n;
}

// ---- socket ----

void Connection::onSocket(uint32_t revents) {
    if (_state == State::Closed)
        return;
    if (_state == State::Connecting) {
        const int error = connectError(_fd.get());
        if (error != 0) {
            finish(LANSPREAD_E_IO, "cannot connect to " + _remoteText + ": " + errnoText(error));
            return;
        }
        _state = State::Handshaking;
        advanceHandshake();
        return;
    }
    if (revents & (LANSPREAD_FD_READ | LANSPREAD_FD_ERROR | LANSPREAD_FD_HANGUP)) {
        readSocket();
        if (_state == State::Closed)
            return;
    }
    flush();
}

void Connection::readSocket() {
    for (int i = 0; i < kReadsPerEvent; ++i) {
        const std::span<uint8_t> buffer = _owner.readBuffer();
        const long n = readSome(_fd.get(), buffer.data(), buffer.size());
        if (n > 0) {
            _lastReceive = static_cast<uint64_t>(_host.now().count());
            _tls->feed(buffer.first(static_cast<std::size_t>(n)));
            process();
            if (_state == State::Closed)
                return;
            continue;
        }
        if (n == 0) {
            finish(LANSPREAD_E_IO, _state == State::Open
                                       ? "the peer's connection ended without a close"
                                       : "the peer closed the connection during the handshake");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        finish(LANSPREAD_E_IO, "receive from " + _remoteText + ": " + errnoText(errno));
        return;
    }
}

void Connection::process() {
    if (_state == State::Handshaking) {
        advanceHandshake();
        if (_state != State::AwaitSettings && _state != State::Open)
            return;
    }
    uint8_t plain[16 * 1024 + 64];
    while (_state == State::AwaitSettings || _state == State::Open) {
        std::string error;
        const long n = _tls->read(plain, sizeof plain, error);
        if (n == 0)
            return;
        if (n == -1) {
            finish(LANSPREAD_E_IO, "the peer ended TLS without a close frame");
            return;
        }
        if (n < 0) {
            finish(LANSPREAD_E_FAILED, "TLS error from " + _remoteText + ": " + error);
            return;
        }
        Status handled = _mux.receive(std::span<const uint8_t>(plain, static_cast<std::size_t>(n)));
        if (_state == State::Closed)
            return;
        if (!handled.succeeded()) {
            protocolError(handled.message());
            return;
        }
    }
}

void Connection::advanceHandshake() {
    std::string error;
    switch (_tls->handshake(error)) {
    case TlsSession::Progress::WantMore: flush(); return;
    case TlsSession::Progress::Failed:
        releaseThreadEccCache();
        // Whatever alert wolfSSL queued goes out before the socket closes.
        writeSocket();
        finish(LANSPREAD_E_FAILED, "TLS handshake with " + _remoteText + " failed: " + error);
        return;
    case TlsSession::Progress::Done: releaseThreadEccCache(); break;
    }
    auto fingerprint = _tls->peerFingerprint();
    if (!fingerprint) {
        finish(LANSPREAD_E_FAILED,
               "TLS handshake with " + _remoteText + ": " + fingerprint.status().message());
        return;
    }
    _state = State::AwaitSettings;
    flush(); // our SETTINGS
}

void Connection::flush() {
    _flushTimer.reset();
    if (_state == State::Closed || !_tls)
        return;
    for (;;) {
        if (!encryptFrames() || !writeSocket())
            return;
        // Stop when the socket is full (what is left waits for FD_WRITE) or nothing is left.
        if (_tls->outputBuffered() > 0 ||
            (_state != State::Open && _state != State::AwaitSettings) || !_mux.hasOutput())
            break;
    }
    updateWatch();
    if (_state != State::Open)
        return;
    for (uint64_t stream : _mux.takeWritable()) {
        _events.writable(*this, stream);
        if (_state == State::Closed)
            return;
    }
}

bool Connection::encryptFrames() {
    if (_state != State::AwaitSettings && _state != State::Open)
        return true;
    // Frames are encrypted only while the socket keeps up: a peer that stops reading leaves
    // at most output_buffer_bytes (+ one batch) of records here, and the rest of what the
    // host sent stays in the streams' bounded send buffers.
    while (_tls->outputBuffered() < _options.outputBuffer && _mux.hasOutput()) {
        _plain.clear();
        _mux.produce(_plain, kFrameBatch);
        if (_plain.empty())
            break;
        Status written = _tls->write(_plain);
        if (!written.succeeded()) {
            finish(LANSPREAD_E_FAILED, written.message());
            return false;
        }
    }
    return true;
}

bool Connection::writeSocket() {
    while (_tls->outputBuffered() > 0) {
        auto out = _tls->output();
        const long n = writeSome(_fd.get(), out.data(), out.size());
        if (n > 0) {
            _tls->consumeOutput(static_cast<std::size_t>(n));
            _lastSend = static_cast<uint64_t>(_host.now().count());
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        finish(LANSPREAD_E_IO, "send to " + _remoteText + ": " + errnoText(errno));
        return false;
    }
    return true;
}

void Connection::updateWatch() {
    if (_state == State::Closed)
        return;
    const uint32_t wanted =
        LANSPREAD_FD_READ | (_tls->outputBuffered() > 0 ? LANSPREAD_FD_WRITE : 0u);
    if (wanted != _watchEvents) {
        _watchEvents = wanted;
        _watch.modify(wanted);
    }
}

void Connection::scheduleFlush() {
    if (_flushTimer.pending() || _state == State::Closed)
        return;
    auto timer = _host.startTimer(std::chrono::nanoseconds(0), [this] { flush(); });
    if (timer)
        _flushTimer = std::move(timer.value());
}

// ---- timers ----

void Connection::armTimer(uint64_t delayNs) {
    auto timer = _host.startTimer(std::chrono::nanoseconds(delayNs), [this] { tick(); });
    if (timer)
        _timer = std::move(timer.value());
}

void Connection::tick() {
    if (_state == State::Closed)
        return;
    const uint64_t now = static_cast<uint64_t>(_host.now().count());
    if (_state != State::Open) {
        if (now >= _handshakeDeadline) {
            finish(LANSPREAD_E_IO, "the handshake with " + _remoteText + " timed out after " +
                                       std::to_string(_options.handshakeTimeoutNs / kMs) + " ms");
            return;
        }
        armTimer(_handshakeDeadline - now);
        return;
    }
    const uint64_t idleAt = _lastReceive + _options.idleTimeoutNs;
    if (now >= idleAt) {
        finish(LANSPREAD_E_IO, "idle timeout: nothing from " + _remoteText + " for " +
                                   std::to_string(_options.idleTimeoutNs / kMs) + " ms");
        return;
    }
    uint64_t next = idleAt;
    if (_options.keepaliveNs > 0) {
        if (now >= _lastSend + _options.keepaliveNs) {
            _mux.queuePing();
            flush();
            if (_state == State::Closed)
                return;
            _lastSend = now; // even if the socket is full: the ping is on its way
        }
        next = std::min(next, _lastSend + _options.keepaliveNs);
    }
    armTimer(next - now);
}

// ---- mux events ----

void Connection::settingsReceived() {
    if (_incoming)
        _owner.incomingHandshakeEnded();
    _state = State::Open;
    _lastReceive = static_cast<uint64_t>(_host.now().count());
    armTimer(std::min(_options.idleTimeoutNs,
                      _options.keepaliveNs > 0 ? _options.keepaliveNs : _options.idleTimeoutNs));
    auto fingerprint = _tls->peerFingerprint();
    RemoteIdentity remote;
    remote.remoteAddr = _remoteText;
    remote.keyFingerprint.assign(fingerprint.value().begin(), fingerprint.value().end());
    _reported = true;
    _host.debug("connected " + std::string(_incoming ? "from " : "to ") + _remoteText + " (" +
                _tls->cipherName() + ")");
    _events.connected(*this, remote);
    if (_state == State::Open)
        scheduleFlush(); // streams the host opened before on_connected
}

void Connection::streamOpened(uint64_t stream) {
    _events.streamOpened(*this, stream);
}

void Connection::streamData(uint64_t stream, std::span<const uint8_t> data, uint32_t flags) {
    _events.streamData(*this, stream, data, flags);
    if (_state != State::Closed && (flags & kStreamReset))
        scheduleFlush(); // the stream's send budget is free again: writable for others
}

void Connection::peerClosed(uint64_t appError, std::string reason) {
    std::string text = "closed by the peer";
    if (appError != 0)
        text += " (application error " + std::to_string(appError) + ")";
    if (!reason.empty())
        text += ": " + reason;
    finish(appError == 0 ? LANSPREAD_END : LANSPREAD_E_FAILED, text);
}

// ---- the host's calls ----

Result<uint64_t> Connection::openStream() {
    if (_state == State::Closed)
        return Result<uint64_t>(LANSPREAD_E_FATAL, "the connection is closed");
    auto id = _mux.openStream();
    if (id)
        scheduleFlush();
    return id;
}

Result<std::size_t> Connection::send(uint64_t streamId, std::span<const uint8_t> data,
                                     uint32_t flags) {
    if (_state == State::Closed)
        return Result<std::size_t>(LANSPREAD_E_FATAL, "the connection is closed");
    auto accepted = _mux.send(streamId, data, flags);
    if (accepted)
        scheduleFlush();
    return accepted;
}

Status Connection::consume(uint64_t streamId, std::size_t bytes) {
    if (_state == State::Closed)
        return Status(LANSPREAD_E_NOT_FOUND, "the connection is closed");
    Status s = _mux.consume(streamId, bytes);
    if (_mux.hasOutput())
        scheduleFlush();
    return s;
}

Status Connection::resetStream(uint64_t streamId, uint64_t appError) {
    if (_state == State::Closed)
        return Status(LANSPREAD_E_NOT_FOUND, "the connection is closed");
    Status s = _mux.reset(streamId, appError);
    if (s.succeeded())
        scheduleFlush();
    return s;
}

void Connection::close(uint64_t appError) {
    if (_state == State::Closed)
        return;
    sayGoodbye(appError, "closed by the host");
    finish(LANSPREAD_OK, "closed by the host");
}

void Connection::terminate(lanspread_status status, const std::string &reason) {
    if (_state == State::Closed)
        return;
    sayGoodbye(0, reason);
    finish(status, reason);
}

// ---- ending ----

void Connection::sayGoodbye(uint64_t appError, const std::string &reason) {
    if (_state != State::Open && _state != State::AwaitSettings)
        return;
    // Best effort, one non-blocking write: a CLOSE frame (so the peer learns why at once)
    // and TLS close_notify. Queued stream data is dropped, as with a QUIC close.
    _mux.queueClose(appError, reason);
    _plain.clear();
    _mux.produce(_plain, 0);
    if (_tls->write(_plain).succeeded())
        _tls->shutdown();
    auto out = _tls->output();
    if (!out.empty() && writeSome(_fd.get(), out.data(), out.size()) > 0)
        _lastSend = static_cast<uint64_t>(_host.now().count());
}

void Connection::protocolError(const std::string &text) {
    sayGoodbye(kProtocolError, "protocol error: " + text);
    if (_state != State::Closed)
        finish(LANSPREAD_E_FAILED, "protocol error from " + _remoteText + ": " + text);
}

void Connection::finish(lanspread_status status, const std::string &reason) {
    if (_state == State::Closed)
        return;
    _state = State::Closed;
    _watch.reset();
    _timer.reset();
    _flushTimer.reset();
    _fd.reset();
    if (!_reported)
        releaseThreadEccCache(); // a handshake cut short may have done ECC too
    if (_incoming && !_reported)
        _owner.incomingHandshakeEnded();
    if (_reported)
        _events.closed(*this, status, reason);
    else if (status != LANSPREAD_E_CANCELLED)
        _owner.refusedIncoming("refused a connection from " + _remoteText + ": " + reason);
    _owner.scheduleReap();
}

} // namespace lanspread::plugins::tls
