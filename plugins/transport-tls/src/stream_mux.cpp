#include "stream_mux.hpp"

#include <algorithm>

namespace lanspread::plugins::tls {

namespace {
constexpr uint64_t kMaxCredit = 1ull << 62; // more than any window could legitimately add up to
} // namespace

StreamMux::StreamMux(bool client, MuxLimits limits, MuxEvents &events)
    : _client(client), _limits(limits), _events(events), _nextLocalId(client ? 1 : 2),
      _connRecvCredit(limits.connWindow), _nextPeerId(client ? 2 : 1),
      _maxStreamsSent(limits.maxStreams) {
    appendU64Frame(_control, FrameType::Settings, 0,
                   {_limits.streamWindow, _limits.connWindow, _limits.maxStreams});
}

Result<uint64_t> StreamMux::openStream() {
    if (!_peerSettings || _localOpened >= _peerMaxOpen) {
        _openBlocked = true;
        return Result<uint64_t>(LANSPREAD_E_AGAIN, "the peer's stream limit is reached");
    }
    const uint64_t id = _nextLocalId;
    _nextLocalId += 2;
    ++_localOpened;
    Stream &s = _streams[id];
    s.local = true;
    s.credit = _peerStreamWindow;
    s.recvCredit = _limits.streamWindow;
    // An empty DATA frame announces the stream, through the control queue, so the peer
    // learns of streams in the order of their ids whatever order their data goes out in.
    appendDataHeader(_control, 0, id, 0);
    return id;
}

uint64_t StreamMux::room(const Stream &s) const {
    const uint64_t streamRoom =
        s.buffered >= _limits.streamSendBuffer ? 0 : _limits.streamSendBuffer - s.buffered;
    const uint64_t connRoom = _connSendBuffered >= _limits.connSendBuffer
                                  ? 0
                                  : _limits.connSendBuffer - _connSendBuffered;
    return std::min(streamRoom, connRoom);
}

bool StreamMux::sendable(const Stream &s) const {
    if (s.buffered > 0)
        return s.credit > 0 && _connCredit > 0;
    return s.finQueued && !s.finSent;
}

void StreamMux::schedule(uint64_t id, Stream &s) {
    if (!s.scheduled && sendable(s)) {
        s.scheduled = true;
        _ready.push_back(id);
    }
}

Result<std::size_t> StreamMux::send(uint64_t stream, std::span<const uint8_t> data,
                                    uint32_t flags) {
    auto it = _streams.find(stream);
    if (it == _streams.end())
        return Result<std::size_t>(LANSPREAD_E_NOT_FOUND, "unknown or closed stream");
    Stream &s = it->second;
    if (s.finQueued)
        return Result<std::size_t>(LANSPREAD_E_NOT_FOUND, "the stream was already finished");
    const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(data.size(), room(s)));
    if (take > 0) {
        s.chunks.emplace_back(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
        s.buffered += take;
        _connSendBuffered += take;
    }
    if (take < data.size())
        _blocked.insert(stream);
    else if (flags & kStreamFin)
        s.finQueued = true;
    schedule(stream, s);
    return take;
}

void StreamMux::returnConnWindow(uint64_t bytes) {
    _connPendingWindow += bytes;
    if (_connPendingWindow > 0 &&
        _connPendingWindow >= std::max<uint64_t>(1, _limits.connWindow / 4)) {
        appendU64Frame(_control, FrameType::Window, 0, {_connPendingWindow});
        _connRecvCredit += _connPendingWindow;
        _connPendingWindow = 0;
    }
}

Status StreamMux::consume(uint64_t stream, std::size_t bytes) {
    auto it = _streams.find(stream);
    if (it == _streams.end())
        return Status(LANSPREAD_E_NOT_FOUND, "unknown or closed stream");
    Stream &s = it->second;
    const uint64_t n = std::min<uint64_t>(bytes, s.unconsumed);
    s.unconsumed -= n;
    _connUnconsumed -= n;
    if (!s.finReceived) {
        s.pendingWindow += n;
        if (s.pendingWindow > 0 &&
            s.pendingWindow >= std::max<uint64_t>(1, _limits.streamWindow / 4)) {
            appendU64Frame(_control, FrameType::Window, stream, {s.pendingWindow});
            s.recvCredit += s.pendingWindow;
            s.pendingWindow = 0;
        }
    }
    returnConnWindow(n);
    maybeRetire(stream);
    return Status::ok();
}

Status StreamMux::reset(uint64_t stream, uint64_t appError) {
    auto it = _streams.find(stream);
    if (it == _streams.end())
        return Status(LANSPREAD_E_NOT_FOUND, "unknown or closed stream");
    appendU64Frame(_control, FrameType::Reset, stream, {appError});
    erase(it);
    return Status::ok();
}

void StreamMux::queuePing() {
    appendFrame(_control, FrameType::Ping, 0, 0, {});
}

void StreamMux::queueClose(uint64_t appError, std::string_view reason) {
    std::vector<uint8_t> payload;
    for (int shift = 56; shift >= 0; shift -= 8)
        payload.push_back(static_cast<uint8_t>(appError >> shift));
    const std::size_t n = std::min(reason.size(), kMaxCloseReason);
    payload.insert(payload.end(), reason.begin(), reason.begin() + static_cast<std::ptrdiff_t>(n));
    appendFrame(_control, FrameType::Close, 0, 0, payload);
}

void StreamMux::erase(std::map<uint64_t, Stream>::iterator it) {
    Stream &s = it->second;
    _connSendBuffered -= s.buffered;
    if (s.unconsumed > 0) {
        // The host will never consume these: the connection window gets them back now.
        _connUnconsumed -= s.unconsumed;
        returnConnWindow(s.unconsumed);
    }
    if (!s.local)
        ++_peerRetired;
    _blocked.erase(it->first);
    _streams.erase(it);
}

void StreamMux::maybeRetire(uint64_t id) {
    auto it = _streams.find(id);
    if (it == _streams.end())
        return;
    const Stream &s = it->second;
    if (s.finSent && s.finReceived && s.unconsumed == 0)
        erase(it);
}

Status StreamMux::receive(std::span<const uint8_t> bytes) {
    _reader.feed(bytes);
    for (;;) {
        Frame frame;
        std::string error;
        switch (_reader.next(frame, error)) {
        case FrameReader::Next::NeedMore: return Status::ok();
        case FrameReader::Next::Error: return Status(LANSPREAD_E_FAILED, error);
        case FrameReader::Next::Frame: break;
        }
        Status handled = handle(frame);
        if (!handled.succeeded())
            return handled;
        if (_events.halted())
            return Status::ok();
    }
}

Status StreamMux::handle(const Frame &frame) {
    const auto fail = [](std::string text) { return Status(LANSPREAD_E_FAILED, std::move(text)); };
    if (!_peerSettings && frame.type != FrameType::Settings)
        return fail("the first frame is not SETTINGS");
    const bool connFrame = frame.type == FrameType::Settings ||
                           frame.type == FrameType::MaxStreams || frame.type == FrameType::Ping ||
                           frame.type == FrameType::Close;
    if (connFrame && frame.stream != 0)
        return fail("a connection frame names stream " + std::to_string(frame.stream));
    if ((frame.type == FrameType::Data || frame.type == FrameType::Reset) && frame.stream == 0)
        return fail("a stream frame names stream 0");
    const bool oneU64 = frame.type == FrameType::Window || frame.type == FrameType::Reset ||
                        frame.type == FrameType::MaxStreams;
    if (oneU64 && frame.payload.size() != 8)
        return fail("malformed frame of type " + std::to_string(static_cast<int>(frame.type)));

    switch (frame.type) {
    case FrameType::Settings: {
        if (_peerSettings)
            return fail("a second SETTINGS frame");
        if (frame.payload.size() != 24)
            return fail("malformed SETTINGS frame");
        _peerStreamWindow = std::min(readU64(frame.payload.data()), kMaxCredit);
        _connCredit = std::min(readU64(frame.payload.data() + 8), kMaxCredit);
        _peerMaxOpen = readU64(frame.payload.data() + 16);
        _peerSettings = true;
        _events.settingsReceived();
        return Status::ok();
    }
    case FrameType::Data: return handleData(frame);
    case FrameType::Window: {
        const uint64_t increment = readU64(frame.payload.data());
        if (frame.stream == 0) {
            if (increment > kMaxCredit - _connCredit)
                return fail("connection window overflow");
            _connCredit += increment;
            for (auto &[id, s] : _streams)
                schedule(id, s);
            return Status::ok();
        }
        auto it = _streams.find(frame.stream);
        if (it == _streams.end())
            return Status::ok(); // a stream already gone on our side
        if (increment > kMaxCredit - it->second.credit)
            return fail("stream window overflow");
        it->second.credit += increment;
        schedule(frame.stream, it->second);
        return Status::ok();
    }
    case FrameType::Reset: {
        auto it = _streams.find(frame.stream);
        if (it == _streams.end())
            return Status::ok(); // we reset or finished it already
        erase(it);
        _events.streamData(frame.stream, {}, kStreamReset);
        return Status::ok();
    }
    case FrameType::MaxStreams: {
        _peerMaxOpen = std::max(_peerMaxOpen, readU64(frame.payload.data()));
        return Status::ok();
    }
    case FrameType::Ping: return Status::ok();
    case FrameType::Close: {
        if (frame.payload.size() < 8)
            return fail("malformed CLOSE frame");
        const uint64_t error = readU64(frame.payload.data());
        std::string reason(frame.payload.begin() + 8, frame.payload.end());
        _events.peerClosed(error, std::move(reason));
        return Status::ok();
    }
    }
    return fail("unknown frame");
}

Status StreamMux::handleData(const Frame &frame) {
    const uint64_t id = frame.stream;
    const uint64_t len = frame.payload.size();
    const bool fin = (frame.flags & kFrameFin) != 0;
    // Bytes for a stream that is gone on our side (we reset it, or the host had it reset
    // from a callback) still count against the connection window, and are given back at once.
    const auto discard = [&]() -> Status {
        if (len > _connRecvCredit)
            return Status(LANSPREAD_E_FAILED, "connection flow-control window exceeded");
        _connRecvCredit -= len;
        returnConnWindow(len);
        return Status::ok();
    };
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        if (isLocalId(id))
            return id < _nextLocalId
                       ? discard()
                       : Status(LANSPREAD_E_FAILED,
                                "data on stream " + std::to_string(id) + " that was never opened");
        if (id < _nextPeerId)
            return discard();
        if (id > _nextPeerId)
            return Status(LANSPREAD_E_FAILED, "stream " + std::to_string(id) +
                                                  " opened out of order (expected " +
                                                  std::to_string(_nextPeerId) + ")");
        if (_peerOpened >= _limits.maxStreams + _peerRetired)
            return Status(LANSPREAD_E_FAILED, "the peer opened more streams than allowed");
        Stream &s = _streams[id];
        s.credit = _peerStreamWindow;
        s.recvCredit = _limits.streamWindow;
        _nextPeerId += 2;
        ++_peerOpened;
        _events.streamOpened(id);
        if (_events.halted())
            return Status::ok();
        it = _streams.find(id);
        if (it == _streams.end())
            return discard(); // reset from inside on_stream_opened
    }
    Stream &s = it->second;
    if (s.finReceived) {
        if (len > 0 || fin)
            return Status(LANSPREAD_E_FAILED, "data after FIN on stream " + std::to_string(id));
        return Status::ok();
    }
    if (len > s.recvCredit || len > _connRecvCredit)
        return Status(LANSPREAD_E_FAILED,
                      "flow-control window exceeded on stream " + std::to_string(id));
    s.recvCredit -= len;
    _connRecvCredit -= len;
    s.unconsumed += len;
    _connUnconsumed += len;
    if (fin)
        s.finReceived = true;
    if (len == 0 && !fin)
        return Status::ok(); // the stream's announcement
    _events.streamData(id, frame.payload, fin ? kStreamFin : 0);
    if (!_events.halted())
        maybeRetire(id); // s may be gone: the host may have reset it from the callback
    return Status::ok();
}

void StreamMux::produce(std::vector<uint8_t> &out, std::size_t budget) {
    if (_limits.maxStreams + _peerRetired > _maxStreamsSent) {
        _maxStreamsSent = _limits.maxStreams + _peerRetired;
        appendU64Frame(_control, FrameType::MaxStreams, 0, {_maxStreamsSent});
    }
    out.insert(out.end(), _control.begin(), _control.end());
    _control.clear();
    while (out.size() < budget && !_ready.empty()) {
        const uint64_t id = _ready.front();
        _ready.pop_front();
        auto it = _streams.find(id);
        if (it == _streams.end())
            continue;
        Stream &s = it->second;
        s.scheduled = false;
        if (!sendable(s))
            continue; // waiting for credit: a WINDOW frame schedules it again
        const uint64_t n = std::min<uint64_t>({s.buffered, s.credit, _connCredit, kMaxPayload});
        const bool fin = s.finQueued && !s.finSent && n == s.buffered;
        appendDataHeader(out, fin ? kFrameFin : 0, id, static_cast<std::size_t>(n));
        for (uint64_t left = n; left > 0;) {
            std::vector<uint8_t> &chunk = s.chunks.front();
            const std::size_t take =
                static_cast<std::size_t>(std::min<uint64_t>(left, chunk.size() - s.headOffset));
            out.insert(out.end(), chunk.begin() + static_cast<std::ptrdiff_t>(s.headOffset),
                       chunk.begin() + static_cast<std::ptrdiff_t>(s.headOffset + take));
            s.headOffset += take;
            left -= take;
            if (s.headOffset == chunk.size()) {
                s.chunks.pop_front();
                s.headOffset = 0;
            }
        }
        s.buffered -= n;
        _connSendBuffered -= n;
        s.credit -= n;
        _connCredit -= n;
        if (fin) {
            s.finSent = true;
            maybeRetire(id);
            continue;
        }
        schedule(id, s);
    }
}

std::vector<uint64_t> StreamMux::takeWritable() {
    std::vector<uint64_t> out;
    const uint64_t threshold = std::min<uint64_t>(
        std::min(_limits.streamSendBuffer, _limits.connSendBuffer) / 4, 1ull << 20);
    for (auto it = _blocked.begin(); it != _blocked.end();) {
        auto s = _streams.find(*it);
        if (s == _streams.end()) {
            it = _blocked.erase(it);
        } else if (room(s->second) >= std::max<uint64_t>(threshold, 1)) {
            out.push_back(*it);
            it = _blocked.erase(it);
        } else {
            ++it;
        }
    }
    if (_openBlocked && _peerSettings && _localOpened < _peerMaxOpen) {
        _openBlocked = false;
        out.push_back(kAnyStream);
    }
    return out;
}

bool StreamMux::hasOutput() const {
    if (!_control.empty() || _limits.maxStreams + _peerRetired > _maxStreamsSent)
        return true;
    for (uint64_t id : _ready) {
        auto it = _streams.find(id);
        if (it != _streams.end() && sendable(it->second))
            return true;
    }
    return false;
}

} // namespace lanspread::plugins::tls
