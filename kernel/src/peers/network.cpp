#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/peers/network.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <deque>

namespace lanspread::kernel::peers {

namespace {
constexpr const char *kSource = "peer";
constexpr uint64_t kNoStream = UINT64_MAX;
constexpr uint64_t kHandshakeTimeoutNs = 10'000'000'000ull;
constexpr std::size_t kServeBlock = 1u << 20;     // bytes read from disk per worker job
constexpr std::size_t kServeReadAhead = 2u << 20; // bytes queued for the transport per stream
constexpr uint64_t kAppErrorProtocol = 1;
constexpr uint64_t kAppErrorGoodbye = 2;
constexpr uint64_t kAppErrorDuplicate = 3; // "I keep our other connection"
constexpr uint64_t kRedialIntervalNs = 5'000'000'000ull;
constexpr uint64_t kRedialForNs = 600'000'000'000ull; // keep trying a lost peer for 10 min
constexpr uint64_t kCloseLingerNs = 250'000'000ull;   // lets a refusal reach the peer

std::string hostOf(const std::string &addr) {
    if (!addr.empty() && addr.front() == '[') {
        auto close = addr.find(']');
        return close == std::string::npos ? addr : addr.substr(1, close - 1);
    }
    auto colon = addr.rfind(':');
    return colon == std::string::npos ? addr : addr.substr(0, colon);
}
std::string portOf(const std::string &addr) {
    auto colon = addr.rfind(':');
    return colon == std::string::npos ? "" : addr.substr(colon + 1);
}
std::string joinHostPort(const std::string &host, const std::string &port) {
    return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}
bool isWildcardHost(const std::string &host) {
    return host == "0.0.0.0" || host == "::" || host.empty();
}
// Where a peer can be reached: its advertised listener, with a wildcard host replaced by the
// address its packets come from (the port is never the ephemeral source port).
std::string reachableAddr(const std::string &advertised, const std::string &remote) {
    if (!isWildcardHost(hostOf(advertised)))
        return advertised;
    return joinHostPort(hostOf(remote), portOf(advertised));
}

contract::Failure connectFailed(std::string message) {
    return contract::Failure{contract::ErrorCode::ConnectFailed, std::move(message)};
}
} // namespace

// Bytes accepted by us for a stream but not yet by the transport.
struct PeerNetwork::OutBuffer {
    std::deque<std::vector<uint8_t>> pieces;
    std::size_t offset = 0; // into pieces.front()
    std::size_t queued = 0; // bytes not yet sent
    bool fin = false;       // send FIN after the last byte
    bool finSent = false;
};

struct PeerNetwork::Stream {
    enum class Role { Control, Incoming, OutgoingFiles, OutgoingChunk };
    uint64_t id = kNoStream;
    Role role = Role::Incoming;
    std::unique_ptr<protocol::FrameReader> reader;
    OutBuffer out;
    bool recvEnded = false; // FIN or reset received
    // Outgoing requests.
    RequestId request = 0;
    std::function<void(Result<protocol::GameFiles>)> filesDone;
    ChunkHandler chunk;
    uint64_t expected = 0;
    uint64_t received = 0;
    bool dataBegun = false;
    bool responded = false; // the response (or its failure) was reported
    std::size_t dataInFeed = 0;
    // Incoming requests.
    bool requestSeen = false;
    // An incoming stream that failed: further bytes are consumed and ignored (our error
    // answer still goes out; resetting would drop it).
    bool discard = false;
    // An incoming stream reset (by either side) while a disk job runs: it finishes when the
    // job reports back.
    bool aborted = false;
    bool finishQueued = false; // finishSoon() posted
    // Serving a chunk.
    bool serving = false;
    std::string serveGame;
    std::shared_ptr<int> fd; // closed by its deleter
    uint64_t serveOffset = 0;
    uint64_t serveRemaining = 0;
    bool reading = false;
};

struct PeerNetwork::Session {
    enum class State { Connecting, Handshaking, Ready, Closing };
    lanspread_transport_conn *conn = nullptr;
    uint64_t serial = 0;
    bool outgoing = false;
    std::string via;
    std::string dialAddr;   // what connect() was given
    std::string remoteAddr; // transport-level source address
    std::string fingerprint;
    State state = State::Connecting;
    uint64_t control = kNoStream;
    std::string peerId;
    std::string addr;           // reachable listener address
    std::string expectedPeerId; // pinned by discovery ("" = any)
    uint64_t lastActivityNs = 0;
    uint64_t lastPingNs = 0;
    bool timedOut = false; // closed by the liveness check
    // The library our Hello/HelloAck carried: if it changed before the session was Ready,
    // no broadcast reached this peer, so it gets the difference then.
    uint64_t sentRevision = 0;
    std::set<std::string> sentGames;
    bool silent = false; // closing without peer-lost
    bool goodbye = false;
    uint64_t handshakeTimer = 0;
    std::map<uint64_t, std::unique_ptr<Stream>> streams;
    std::vector<ConnectDone> waiters;

    std::string label() const { return peerId.empty() ? remoteAddr : peerId.substr(0, 12); }
};

struct NetworkCallbacks {
    static PeerNetwork *self(void *u) { return static_cast<PeerNetwork *>(u); }
    static void connected(void *u, lanspread_transport_conn *c,
                          const lanspread_remote_identity *r) {
        self(u)->onConnected(c, r);
    }
    static void opened(void *u, lanspread_transport_conn *c, uint64_t s) {
        self(u)->onStreamOpened(c, s);
    }
    static void data(void *u, lanspread_transport_conn *c, uint64_t s, const uint8_t *d, size_t n,
                     uint32_t f) {
        self(u)->onStreamData(c, s, d, n, f);
    }
    static void writable(void *u, lanspread_transport_conn *c, uint64_t s) {
        self(u)->onWritable(c, s);
    }
    static void closed(void *u, lanspread_transport_conn *c, lanspread_status st, const char *r) {
        self(u)->onClosed(c, st, r);
    }
};

PeerNetwork::PeerNetwork(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
                         const Identity &identity, std::string name, NetworkDelegate &delegate)
    : _reactor(reactor), _workers(workers), _events(events), _identity(identity),
      _name(std::move(name)), _delegate(delegate), _alive(std::make_shared<bool>(true)) {
    _callbacks.struct_size = sizeof _callbacks;
    _callbacks.user_data = this;
    _callbacks.on_connected = &NetworkCallbacks::connected;
    _callbacks.on_stream_opened = &NetworkCallbacks::opened;
    _callbacks.on_stream_data = &NetworkCallbacks::data;
    _callbacks.on_writable = &NetworkCallbacks::writable;
    _callbacks.on_closed = &NetworkCallbacks::closed;
}

PeerNetwork::~PeerNetwork() {
    *_alive = false;
    stop();
}

Status PeerNetwork::start(const TransportRef &transport, const std::string &bindAddr) {
    _transport = transport;
    lanspread_transport_config config{};
    config.struct_size = sizeof config;
    config.bind_addr = bindAddr.c_str();
    config.cert_der = _identity.certDer.data();
    config.cert_der_len = _identity.certDer.size();
    config.key_der = _identity.keyDer.data();
    config.key_der_len = _identity.keyDer.size();
    config.idle_timeout_ns = _peerTimeoutNs;
    config.keepalive_ns = _peerTimeoutNs / 4;
    lanspread_status st =
        _transport.vtable->listen(_transport.state, &config, &_callbacks, &_endpoint);
    if (st != LANSPREAD_OK || _endpoint == nullptr) {
        _endpoint = nullptr;
        return Status(LANSPREAD_E_IO, "cannot listen on " + bindAddr + " with " + transport.id +
                                          " (" + lanspread_status_name(st) +
                                          "; is the address in use or not local?)");
    }
    char buffer[128];
    size_t required = 0;
    if (_transport.vtable->local_address(_endpoint, buffer, sizeof buffer, &required) ==
        LANSPREAD_OK)
        _listenAddr = buffer;
    else
        _listenAddr = bindAddr;
    log::info(kSource, "listening on " + _listenAddr + " (" + transport.id + ")");
    return Status::ok();
}

void PeerNetwork::stop() {
    if (_stopping)
        return;
    _stopping = true;
    std::vector<lanspread_transport_conn *> conns;
    for (auto &[conn, s] : _sessions)
        conns.push_back(conn);
    for (auto *conn : conns) {
        Session *s = session(conn);
        if (s == nullptr)
            continue;
        s->silent = true;
        if (s->state == Session::State::Ready && s->control != kNoStream)
            sendControl(*s, protocol::Goodbye{"shutdown"});
        s->state = Session::State::Closing;
        _transport.vtable->close(conn, kAppErrorGoodbye);
    }
    if (_endpoint != nullptr) {
        _transport.vtable->destroy_endpoint(_endpoint);
        _endpoint = nullptr;
    }
    _sessions.clear();
    _requests.clear();
}

bool PeerNetwork::isOwnAddress(const std::string &addr) const {
    if (_listenAddr.empty())
        return false;
    if (addr == _listenAddr)
        return true;
    if (portOf(addr) != portOf(_listenAddr))
        return false;
    const std::string host = hostOf(addr);
    const std::string own = hostOf(_listenAddr);
    const bool loopback = host == "127.0.0.1" || host == "::1" || host == "localhost";
    return isWildcardHost(own) && (loopback || isWildcardHost(host));
}

PeerNetwork::Session *PeerNetwork::session(lanspread_transport_conn *conn) {
    auto it = _sessions.find(conn);
    return it == _sessions.end() ? nullptr : it->second.get();
}

PeerNetwork::Session *PeerNetwork::readySession(const std::string &peerId) {
    Session *best = nullptr;
    for (auto &[conn, s] : _sessions)
        if (s->state == Session::State::Ready && s->peerId == peerId)
            best = s.get();
    return best;
}

std::string PeerNetwork::peerAddr(const std::string &peerId) const {
    const PeerRecord *r = _peers.find(peerId);
    return r ? r->addr : std::string();
}

protocol::Hello PeerNetwork::ownHello(Session &s) {
    protocol::Hello hello;
    hello.peerId = _identity.peerId;
    hello.name = _name;
    hello.listenAddr = _listenAddr;
    hello.features = {"chunks-v1"};
    _delegate.librarySnapshot(hello.libraryRevision, hello.games);
    s.sentRevision = hello.libraryRevision;
    s.sentGames.clear();
    for (const auto &g : hello.games)
        s.sentGames.insert(g.id);
    return hello;
}

bool PeerNetwork::dialing(const std::string &addr) const {
    for (const auto &[conn, s] : _sessions)
        if (s->outgoing && s->dialAddr == addr && s->state != Session::State::Ready &&
            s->state != Session::State::Closing)
            return true;
    return false;
}

void PeerNetwork::connect(const std::string &addr, const std::string &via, ConnectDone done,
                          const std::string &expectedPeerId) {
    if (_endpoint == nullptr) {
        done(connectFailed("connect-failed: no transport is running"));
        return;
    }
    lanspread_transport_config config{};
    config.struct_size = sizeof config;
    config.bind_addr = "";
    config.cert_der = _identity.certDer.data();
    config.cert_der_len = _identity.certDer.size();
    config.key_der = _identity.keyDer.data();
    config.key_der_len = _identity.keyDer.size();
    config.idle_timeout_ns = _peerTimeoutNs;
    config.keepalive_ns = _peerTimeoutNs / 4;
    lanspread_transport_conn *conn = nullptr;
    lanspread_status st =
        _transport.vtable->connect(_transport.state, &config, addr.c_str(), &_callbacks, &conn);
    if (st != LANSPREAD_OK || conn == nullptr) {
        done(connectFailed("connect-failed: cannot connect to " + addr + " (" +
                           lanspread_status_name(st) + ")"));
        return;
    }
    auto s = std::make_unique<Session>();
    s->conn = conn;
    s->serial = _nextSerial++;
    s->outgoing = true;
    s->via = via;
    s->dialAddr = addr;
    s->remoteAddr = addr;
    s->expectedPeerId = expectedPeerId;
    s->waiters.push_back(std::move(done));
    const uint64_t serial = s->serial;
    _reactor.startTimer(
        kHandshakeTimeoutNs,
        [this, conn, serial, alive = _alive] {
            if (!*alive)
                return;
            Session *t = session(conn);
            if (t != nullptr && t->serial == serial && t->state != Session::State::Ready)
                closeSession(*t, "connect-failed", "no handshake within 10 s");
        },
        s->handshakeTimer);
    _sessions[conn] = std::move(s);
}

void PeerNetwork::onConnected(lanspread_transport_conn *conn,
                              const lanspread_remote_identity *remote) {
    Session *s = session(conn);
    if (s == nullptr) { // incoming
        auto fresh = std::make_unique<Session>();
        fresh->conn = conn;
        fresh->serial = _nextSerial++;
        fresh->outgoing = false;
        fresh->via = "incoming";
        s = fresh.get();
        _sessions[conn] = std::move(fresh);
        const uint64_t serial = s->serial;
        _reactor.startTimer(
            kHandshakeTimeoutNs,
            [this, conn, serial, alive = _alive] {
                if (!*alive)
                    return;
                Session *t = session(conn);
                if (t != nullptr && t->serial == serial && t->state != Session::State::Ready)
                    closeSession(*t, "protocol-error", "no Hello within 10 s");
            },
            s->handshakeTimer);
    }
    if (remote != nullptr) {
        if (remote->remote_addr != nullptr)
            s->remoteAddr = remote->remote_addr;
        if (remote->key_fingerprint != nullptr)
            s->fingerprint = base::toHex(remote->key_fingerprint, remote->key_fingerprint_len);
    }
    s->state = Session::State::Handshaking;
    if (s->fingerprint.size() != 64) {
        closeSession(*s, "identity-mismatch", "the transport reported no key fingerprint");
        return;
    }
    if (!s->outgoing)
        return; // wait for the remote's control stream and Hello
    if (s->fingerprint == _identity.peerId) {
        closeSession(*s, "self-connect", s->dialAddr + " is this peer's own listener");
        return;
    }
    uint64_t streamId = 0;
    if (_transport.vtable->open_stream(conn, &streamId) != LANSPREAD_OK) {
        closeSession(*s, "connect-failed", "cannot open the control stream");
        return;
    }
    auto stream = std::make_unique<Stream>();
    stream->id = streamId;
    stream->role = Stream::Role::Control;
    s->control = streamId;
    Stream &st = *stream;
    s->streams[streamId] = std::move(stream);
    st.reader = std::make_unique<protocol::FrameReader>(
        protocol::FrameReader::Handler{[this, conn](protocol::Message &&m) {
                                           if (Session *t = session(conn))
                                               onControlMessage(*t, std::move(m));
                                       },
                                       nullptr, nullptr});
    sendControl(*s, ownHello(*s));
}

void PeerNetwork::onStreamOpened(lanspread_transport_conn *conn, uint64_t streamId) {
    Session *s = session(conn);
    if (s == nullptr)
        return;
    auto stream = std::make_unique<Stream>();
    stream->id = streamId;
    Stream &st = *stream;
    if (s->control == kNoStream && !s->outgoing) {
        st.role = Stream::Role::Control;
        s->control = streamId;
        st.reader = std::make_unique<protocol::FrameReader>(
            protocol::FrameReader::Handler{[this, conn](protocol::Message &&m) {
                                               if (Session *t = session(conn))
                                                   onControlMessage(*t, std::move(m));
                                           },
                                           nullptr, nullptr});
    } else {
        st.role = Stream::Role::Incoming;
        st.reader = std::make_unique<protocol::FrameReader>(
            protocol::FrameReader::Handler{
                [this, conn, streamId](protocol::Message &&m) {
                    Session *t = session(conn);
                    if (t == nullptr)
                        return;
                    auto it = t->streams.find(streamId);
                    if (it != t->streams.end())
                        onRequestStreamMessage(*t, *it->second, std::move(m));
                },
                [this, conn, streamId](uint32_t) {
                    Session *t = session(conn);
                    if (t == nullptr)
                        return;
                    auto it = t->streams.find(streamId);
                    if (it != t->streams.end())
                        failRequest(*t, *it->second,
                                    Status(LANSPREAD_E_INVALID_ARGUMENT, "ChunkData in a request"));
                },
                nullptr},
            64u << 10); // a request is small: bound what a requester can make us buffer
    }
    s->streams[streamId] = std::move(stream);
}

void PeerNetwork::onStreamData(lanspread_transport_conn *conn, uint64_t streamId,
                               const uint8_t *data, std::size_t len, uint32_t flags) {
    Session *s = session(conn);
    if (s == nullptr)
        return;
    auto it = s->streams.find(streamId);
    if (it == s->streams.end()) {
        // A stream we already finished (or never knew): give the window back, ignore it.
        if (len > 0)
            _transport.vtable->consume(conn, streamId, len);
        return;
    }
    Stream &st = *it->second;
    const uint64_t serial = s->serial;
    s->lastActivityNs = _reactor.now();
    st.dataInFeed = 0;
    Status fed = Status::ok();
    if (len > 0 && st.reader && !st.reader->failed() && !st.discard)
        fed = st.reader->feed(std::span<const uint8_t>(data, len));
    // The handlers may have closed the session or finished the stream.
    s = session(conn);
    if (s == nullptr || s->serial != serial)
        return;
    it = s->streams.find(streamId);
    if (it == s->streams.end()) {
        return;
    }
    Stream &cur = *it->second;
    // Control bytes are processed: consume them now. Chunk bytes are consumed as the
    // download engine releases them (releaseChunkBytes).
    const std::size_t controlBytes = len - std::min(len, cur.dataInFeed);
    if (controlBytes > 0)
        _transport.vtable->consume(conn, streamId, controlBytes);
    if (!fed) {
        if (cur.role == Stream::Role::Control) {
            log::warning(kSource, "peer " + s->label() +
                                      ": protocol error on the control "
                                      "stream: " +
                                      fed.message());
            closeSession(*s, "protocol-error", fed.message());
        } else {
            failRequest(*s, cur, fed);
        }
        return;
    }
    if ((flags & (LANSPREAD_STREAM_FIN | LANSPREAD_STREAM_RESET)) == 0)
        return;
    cur.recvEnded = true;
    const bool reset = (flags & LANSPREAD_STREAM_RESET) != 0;
    switch (cur.role) {
    case Stream::Role::Control:
        if (!s->goodbye && s->state != Session::State::Closing)
            closeSession(*s, "protocol-error", "the control stream ended");
        return;
    case Stream::Role::OutgoingFiles:
    case Stream::Role::OutgoingChunk:
        if (!cur.responded && cur.role == Stream::Role::OutgoingChunk && !reset && cur.dataBegun &&
            cur.received == cur.expected && cur.reader->atFrameBoundary()) {
            cur.responded = true;
            auto onEnd = std::move(cur.chunk.onEnd);
            s->streams.erase(streamId);
            if (onEnd)
                onEnd(Status::ok());
            return;
        }
        if (!cur.responded) {
            std::string why = reset
                                  ? "the peer reset the request"
                                  : (cur.role == Stream::Role::OutgoingChunk && cur.dataBegun
                                         ? "the chunk ended after " + std::to_string(cur.received) +
                                               " of " + std::to_string(cur.expected) + " bytes"
                                         : "the peer sent no answer");
            if (!cur.reader->atFrameBoundary() && !reset)
                why = "the answer was cut off mid-frame";
            failRequest(*s, cur, Status(LANSPREAD_E_IO, why));
            return;
        }
        s->streams.erase(streamId); // answered, and our request went out with FIN
        return;
    case Stream::Role::Incoming:
        if (reset) {
            abortIncoming(*s, cur, false);
            return;
        }
        if (!cur.requestSeen && !cur.discard) {
            failRequest(*s, cur,
                        Status(LANSPREAD_E_INVALID_ARGUMENT, "the request stream had no request"));
            return;
        }
        break;
    }
    if (cur.out.finSent && !cur.reading)
        finishStream(*s, streamId);
}

void PeerNetwork::onWritable(lanspread_transport_conn *conn, uint64_t streamId) {
    Session *s = session(conn);
    if (s == nullptr)
        return;
    if (streamId == UINT64_MAX)
        return; // "may open a stream again": we never wait for that
    auto it = s->streams.find(streamId);
    if (it != s->streams.end())
        flushStream(*s, *it->second);
}

void PeerNetwork::onClosed(lanspread_transport_conn *conn, lanspread_status status,
                           const char *reason) {
    auto it = _sessions.find(conn);
    if (it == _sessions.end())
        return;
    std::unique_ptr<Session> s = std::move(it->second);
    _sessions.erase(it);
    if (s->handshakeTimer != 0)
        _reactor.stopTimer(s->handshakeTimer);
    const std::string why = reason != nullptr && *reason ? reason : lanspread_status_name(status);
    for (auto &waiter : s->waiters)
        waiter(connectFailed(
            "connect-failed: " + (s->dialAddr.empty() ? s->remoteAddr : s->dialAddr) + ": " + why));
    s->waiters.clear();
    // Outgoing requests on this connection fail; incoming ones just stop.
    for (auto &[id, st] : s->streams) {
        if (st->role == Stream::Role::Incoming && st->serving && st->serveGame.size()) {
            if (--_outbound[st->serveGame] <= 0)
                _outbound.erase(st->serveGame);
            st->serving = false;
        }
        if ((st->role == Stream::Role::OutgoingFiles || st->role == Stream::Role::OutgoingChunk) &&
            !st->responded) {
            st->responded = true;
            _requests.erase(st->request);
            const Status lost(LANSPREAD_E_IO, "connection to peer " + s->label() + " lost: " + why);
            if (st->filesDone)
                st->filesDone(lost);
            else if (st->chunk.onEnd)
                st->chunk.onEnd(lost);
        }
    }
    for (auto rit = _requests.begin(); rit != _requests.end();)
        rit = rit->second.first == conn ? _requests.erase(rit) : std::next(rit);
    if (s->state != Session::State::Ready &&
        !(s->state == Session::State::Closing && !s->peerId.empty() && !s->silent))
        return;
    if (s->silent || s->peerId.empty() || _stopping)
        return;
    if (readySession(s->peerId) != nullptr)
        return; // another connection to the same peer carries on
    if (why.find("application error 0x3") != std::string::npos) {
        // The peer closed this one as the duplicate of a connection whose handshake has not
        // finished here yet: not a loss, unless that connection never arrives.
        const std::string peerId = s->peerId;
        uint64_t timer = 0;
        _reactor.startTimer(
            kHandshakeTimeoutNs,
            [this, alive = _alive, peerId] {
                if (*alive && !_stopping && readySession(peerId) == nullptr &&
                    _peers.find(peerId) != nullptr)
                    publishLost(peerId, "its other connection never completed", false);
            },
            timer);
        return;
    }
    // A goodbye may arrive as the Goodbye frame or only as the close that follows it.
    s->goodbye = s->goodbye || why.find("application error 0x2") != std::string::npos;
    publishLost(s->peerId,
                s->goodbye ? std::string("goodbye")
                : s->timedOut
                    ? "timeout: silent for " + std::to_string(_peerTimeoutNs / 1'000'000) + " ms"
                    : why,
                !s->goodbye);
}

void PeerNetwork::publishLost(const std::string &peerId, const std::string &reason, bool redial) {
    const PeerRecord *record = _peers.find(peerId);
    const std::string addr = record ? record->addr : std::string();
    const std::string via = record && record->via != "incoming" ? record->via : "connect";
    const contract::Event lost = contract::peerLost(peerId, addr, reason);
    _peers.remove(peerId);
    log::info(kSource, "peer " + peerId.substr(0, 12) + " lost: " + reason);
    _events.publish(lost.topic, lost.payload);
    // A peer that vanished without a goodbye (crash, cable, partition) may come back at the
    // same address; discovery will not announce it again (its records stay cached), so we
    // try it again for a while.
    if (redial && !addr.empty()) {
        _lost[peerId] = LostPeer{addr, via, _reactor.now() + kRedialForNs};
        if (_redialTimer == 0)
            scheduleRedial();
    }
    _delegate.peerLost(peerId);
}

void PeerNetwork::scheduleRedial() {
    _reactor.startTimer(
        kRedialIntervalNs,
        [this, alive = _alive] {
            if (!*alive)
                return;
            _redialTimer = 0;
            if (_stopping)
                return;
            const uint64_t now = _reactor.now();
            for (auto it = _lost.begin(); it != _lost.end();) {
                const auto &[peerId, lost] = *it;
                if (now > lost.untilNs || _peers.find(peerId) != nullptr) {
                    it = _lost.erase(it);
                    continue;
                }
                if (!dialing(lost.addr))
                    connect(
                        lost.addr, lost.via, [](contract::Outcome<std::string>) {}, peerId);
                ++it;
            }
            if (!_lost.empty())
                scheduleRedial();
        },
        _redialTimer);
}

void PeerNetwork::closeSession(Session &s, const std::string &code, const std::string &why,
                               bool notifyPeer) {
    if (s.state == Session::State::Closing)
        return;
    const bool wasReady = s.state == Session::State::Ready;
    if (!wasReady) {
        log::warning(kSource, "connection " + (s.dialAddr.empty() ? s.remoteAddr : s.dialAddr) +
                                  " refused: " + code + ": " + why);
        // Refused by either side: the connect command fails with self-connect when it reached
        // this very peer, and with connect-failed naming the refusal otherwise.
        const contract::Failure failure =
            code == "self-connect"
                ? contract::Failure{contract::ErrorCode::SelfConnect, "self-connect: " + why}
                : connectFailed("connect-failed: " + code + ": " + why);
        auto waiters = std::move(s.waiters);
        s.waiters.clear();
        for (auto &waiter : waiters)
            waiter(failure);
    }
    s.state = Session::State::Closing;
    if (!wasReady)
        s.silent = true;
    if (s.control != kNoStream && notifyPeer) {
        // The refusal must reach the peer before the connection goes: answer with FIN, then
        // close a moment later (or as soon as the peer closes on reading it).
        auto it = s.streams.find(s.control);
        if (it != s.streams.end())
            queueSend(s, *it->second, protocol::encode(protocol::ErrorReply{code, why}), true);
        auto conn = s.conn;
        const uint64_t serial = s.serial;
        uint64_t timer = 0;
        _reactor.startTimer(
            kCloseLingerNs,
            [this, alive = _alive, conn, serial] {
                if (!*alive)
                    return;
                if (Session *t = session(conn); t && t->serial == serial)
                    _transport.vtable->close(conn, kAppErrorProtocol);
            },
            timer);
        return;
    }
    _transport.vtable->close(s.conn, kAppErrorProtocol); // on_closed may run inside
}

void PeerNetwork::onControlMessage(Session &s, protocol::Message &&message) {
    _peers.touch(s.peerId, host::EventBus::nowUnixMs());
    if (s.state == Session::State::Handshaking) {
        if (auto *hello = std::get_if<protocol::Hello>(&message); hello && !s.outgoing) {
            if (hello->protocolVersion != protocol::PROTOCOL_VERSION) {
                closeSession(s, "version-mismatch",
                             "protocol " + std::to_string(hello->protocolVersion) +
                                 " is not ours (" + std::to_string(protocol::PROTOCOL_VERSION) +
                                 ")");
                return;
            }
            if (hello->peerId == _identity.peerId) {
                closeSession(s, "self-connect", "a connection from this peer itself");
                return;
            }
            if (hello->peerId != s.fingerprint) {
                closeSession(s, "identity-mismatch",
                             "Hello claims peer " + hello->peerId +
                                 " but the certificate's key is " + s.fingerprint);
                return;
            }
            sendControl(s, protocol::HelloAck{ownHello(s)});
            completeHandshake(s, *hello);
            return;
        }
        if (auto *ack = std::get_if<protocol::HelloAck>(&message); ack && s.outgoing) {
            const protocol::Hello &hello = ack->hello;
            if (hello.protocolVersion != protocol::PROTOCOL_VERSION) {
                closeSession(s, "version-mismatch",
                             "peer speaks protocol " + std::to_string(hello.protocolVersion));
                return;
            }
            if (hello.peerId == _identity.peerId) {
                closeSession(s, "self-connect", s.dialAddr + " is this peer's own listener");
                return;
            }
            if (hello.peerId != s.fingerprint) {
                closeSession(s, "identity-mismatch",
                             "HelloAck claims peer " + hello.peerId +
                                 " but the certificate's key is " + s.fingerprint);
                return;
            }
            if (!s.expectedPeerId.empty() && hello.peerId != s.expectedPeerId) {
                closeSession(s, "identity-mismatch",
                             s.dialAddr + " was announced as peer " + s.expectedPeerId +
                                 " but is " + hello.peerId);
                return;
            }
            completeHandshake(s, hello);
            return;
        }
        if (auto *error = std::get_if<protocol::ErrorReply>(&message)) {
            closeSession(s, error->code, "the peer refused: " + error->message, false);
            return;
        }
        closeSession(s, "protocol-error",
                     std::string("unexpected ") +
                         protocol::frameTypeName(protocol::frameTypeOf(message)) +
                         " before the handshake");
        return;
    }
    if (s.state != Session::State::Ready)
        return;
    if (auto *delta = std::get_if<protocol::LibraryDelta>(&message)) {
        _peers.applyDelta(s.peerId, *delta, host::EventBus::nowUnixMs());
        if (const PeerRecord *r = _peers.find(s.peerId)) {
            const contract::Event updated = contract::peerUpdated(peerView(*r));
            _events.publish(updated.topic, updated.payload);
        }
        _delegate.peerLibraryChanged(s.peerId);
    } else if (auto *ping = std::get_if<protocol::Ping>(&message)) {
        sendControl(s, protocol::Pong{ping->nonce});
    } else if (std::holds_alternative<protocol::Pong>(message)) {
        // last_seen was refreshed above
    } else if (auto *bye = std::get_if<protocol::Goodbye>(&message)) {
        log::info(kSource, "peer " + s.label() + " says goodbye: " + bye->reason);
        s.goodbye = true;
        s.state = Session::State::Closing;
        _transport.vtable->close(s.conn, kAppErrorGoodbye);
    } else if (auto *error = std::get_if<protocol::ErrorReply>(&message)) {
        log::warning(kSource,
                     "peer " + s.label() + " reports " + error->code + ": " + error->message);
    } else {
        const std::string what = protocol::frameTypeName(protocol::frameTypeOf(message));
        log::warning(kSource, "peer " + s.label() + ": protocol error: unexpected " + what +
                                  " on the control stream");
        closeSession(s, "protocol-error", "unexpected " + what + " on the control stream");
    }
}

void PeerNetwork::completeHandshake(Session &s, const protocol::Hello &hello) {
    if (s.handshakeTimer != 0) {
        _reactor.stopTimer(s.handshakeTimer);
        s.handshakeTimer = 0;
    }
    s.peerId = hello.peerId;
    s.addr = reachableAddr(hello.listenAddr, s.remoteAddr);
    // One connection per peer: both sides keep the same one.
    Session *other = nullptr;
    for (auto &[conn, candidate] : _sessions)
        if (candidate.get() != &s && candidate->state == Session::State::Ready &&
            candidate->peerId == s.peerId)
            other = candidate.get();
    auto initiator = [this](const Session &x) { return x.outgoing ? _identity.peerId : x.peerId; };
    bool keepNew = true;
    if (other != nullptr && initiator(*other) != initiator(s))
        keepNew = initiator(s) < initiator(*other);
    Session *loser = other == nullptr ? nullptr : (keepNew ? other : &s);

    const auto change =
        _peers.upsert(hello, s.addr, s.outgoing ? s.via : "incoming", host::EventBus::nowUnixMs());
    s.state = Session::State::Ready;
    s.lastActivityNs = _reactor.now();
    if (_livenessTimer == 0)
        livenessTick();
    auto waiters = std::move(s.waiters);
    s.waiters.clear();
    log::info(kSource, "peer " + s.label() + " (" + hello.name + ") connected at " + s.addr + ", " +
                           std::to_string(hello.games.size()) + " games");
    const PeerRecord *record = _peers.find(s.peerId);
    if (change == PeerDb::Upsert::Added) {
        if (s.outgoing && s.via != "mdns") { // discovery announced it when it was found
            const contract::Event found = contract::peerDiscovered(s.peerId, s.addr, s.via);
            _events.publish(found.topic, found.payload);
        }
        // The record was just written from this handshake: its addr is s.addr, its name
        // hello.name.
        const contract::Event connected = contract::peerConnected(peerView(*record));
        _events.publish(connected.topic, connected.payload);
    } else {
        const contract::Event updated = contract::peerUpdated(peerView(*record));
        _events.publish(updated.topic, updated.payload);
    }
    if (loser != nullptr) {
        log::info(kSource, "peer " + s.label() + ": closing a duplicate connection");
        loser->silent = true;
        loser->state = Session::State::Closing;
        _transport.vtable->close(loser->conn, kAppErrorDuplicate);
    }
    // Our library changed between our Hello and now (the first scan ending, say): the
    // broadcast missed this session, so it gets the difference now.
    if (loser != &s) {
        protocol::LibraryDelta catchUp;
        std::vector<protocol::GameSummary> games;
        _delegate.librarySnapshot(catchUp.revision, games);
        if (catchUp.revision != s.sentRevision) {
            std::set<std::string> now;
            for (auto &g : games)
                now.insert(g.id);
            for (const auto &id : s.sentGames)
                if (!now.count(id))
                    catchUp.removed.push_back(id);
            catchUp.upserts = std::move(games);
            sendControl(s, catchUp);
        }
    }
    _lost.erase(hello.peerId); // back: no re-dial needed
    const std::string peerId = hello.peerId;
    for (auto &waiter : waiters)
        waiter(peerId);
    _delegate.peerLibraryChanged(peerId);
}

void PeerNetwork::livenessTick() {
    _livenessTimer = 0;
    if (_stopping)
        return;
    const uint64_t now = _reactor.now();
    const uint64_t pingEvery = _peerTimeoutNs / 4;
    std::vector<lanspread_transport_conn *> silent;
    bool anyReady = false;
    for (auto &[conn, s] : _sessions) {
        if (s->state != Session::State::Ready)
            continue;
        anyReady = true;
        if (now - s->lastActivityNs > _peerTimeoutNs) {
            silent.push_back(conn);
        } else if (now - s->lastActivityNs > pingEvery && now - s->lastPingNs > pingEvery) {
            s->lastPingNs = now;
            sendControl(*s, protocol::Ping{++_pingNonce});
        }
    }
    for (auto *conn : silent)
        if (Session *s = session(conn)) {
            log::warning(kSource, "peer " + s->label() + " sent nothing for " +
                                      std::to_string(_peerTimeoutNs / 1'000'000) +
                                      " ms; dropping it");
            s->state = Session::State::Closing;
            s->timedOut = true;
            _transport.vtable->close(conn, kAppErrorProtocol);
        }
    if (anyReady)
        _reactor.startTimer(
            std::max<uint64_t>(pingEvery / 2, 50'000'000ull),
            [this, alive = _alive] {
                if (*alive)
                    livenessTick();
            },
            _livenessTimer);
}

void PeerNetwork::broadcastDelta(const protocol::LibraryDelta &delta) {
    for (auto &[conn, s] : _sessions)
        if (s->state == Session::State::Ready)
            sendControl(*s, delta);
}

void PeerNetwork::sendControl(Session &s, const protocol::Message &message) {
    auto it = s.streams.find(s.control);
    if (it == s.streams.end())
        return;
    queueSend(s, *it->second, protocol::encode(message), false);
}

void PeerNetwork::queueSend(Session &s, Stream &st, std::vector<uint8_t> bytes, bool fin) {
    if (st.out.finSent)
        return;
    st.out.queued += bytes.size();
    if (!bytes.empty())
        st.out.pieces.push_back(std::move(bytes));
    st.out.fin = st.out.fin || fin;
    flushStream(s, st);
}

void PeerNetwork::flushStream(Session &s, Stream &st) {
    OutBuffer &out = st.out;
    while (!out.pieces.empty()) {
        std::vector<uint8_t> &front = out.pieces.front();
        const std::size_t left = front.size() - out.offset;
        const bool last = out.pieces.size() == 1 && out.fin;
        size_t accepted = 0;
        lanspread_status status =
            _transport.vtable->send(s.conn, st.id, front.data() + out.offset, left,
                                    last ? LANSPREAD_STREAM_FIN : 0u, &accepted);
        if (status != LANSPREAD_OK) {
            // The stream is gone (the requester stopped it) or the connection is: an incoming
            // stream is freed; an outgoing one ends through on_closed or its reset.
            if (st.role == Stream::Role::Incoming)
                abortIncoming(s, st, false);
            return;
        }
        out.offset += accepted;
        out.queued -= accepted;
        if (accepted < left)
            return; // on_writable resumes
        out.pieces.pop_front();
        out.offset = 0;
        if (last)
            out.finSent = true;
    }
    if (out.fin && !out.finSent) {
        size_t accepted = 0;
        if (_transport.vtable->send(s.conn, st.id, nullptr, 0, LANSPREAD_STREAM_FIN, &accepted) ==
            LANSPREAD_OK)
            out.finSent = true;
    }
    if (st.serving)
        pumpServe(s, st);
    if (out.finSent && st.recvEnded && !st.reading && st.role == Stream::Role::Incoming)
        finishSoon(s, st);
}

void PeerNetwork::retireStream(Session &s, uint64_t streamId) {
    auto it = s.streams.find(streamId);
    if (it == s.streams.end())
        return;
    _retired.push_back(std::move(it->second));
    s.streams.erase(it);
    if (_retired.size() == 1)
        _reactor.post([this, alive = _alive] {
            if (*alive)
                _retired.clear();
        });
}

void PeerNetwork::finishSoon(Session &s, Stream &st) {
    // Callers up the stack may still hold st: free it from the reactor's queue instead.
    if (st.finishQueued)
        return;
    st.finishQueued = true;
    _reactor.post([this, alive = _alive, conn = s.conn, serial = s.serial, streamId = st.id] {
        if (!*alive)
            return;
        Session *t = nullptr;
        Stream *cur = liveStream(conn, serial, streamId, t);
        if (cur == nullptr)
            return;
        cur->finishQueued = false;
        if (!cur->reading)
            finishStream(*t, streamId); // else the disk job's result finishes it
    });
}

void PeerNetwork::finishStream(Session &s, uint64_t streamId) {
    auto it = s.streams.find(streamId);
    if (it == s.streams.end())
        return;
    Stream &st = *it->second;
    if (st.serving) {
        if (--_outbound[st.serveGame] <= 0)
            _outbound.erase(st.serveGame);
        st.serving = false;
    }
    s.streams.erase(it);
}

// --- serving ---

void PeerNetwork::onRequestStreamMessage(Session &s, Stream &st, protocol::Message &&message) {
    if (s.state != Session::State::Ready) {
        failRequest(s, st, Status(LANSPREAD_E_INVALID_ARGUMENT, "a request before the handshake"));
        return;
    }
    if (st.requestSeen) {
        failRequest(s, st, Status(LANSPREAD_E_INVALID_ARGUMENT, "a second request on a stream"));
        return;
    }
    st.requestSeen = true;
    if (auto *get = std::get_if<protocol::GetGame>(&message)) {
        auto answer = _delegate.serveGetGame(get->game);
        if (auto *refusal = std::get_if<ServeRefusal>(&answer)) {
            log::info(kSource, "peer " + s.label() + ": GetGame " + get->game +
                                   " refused: " + refusal->code + ": " + refusal->message);
            queueSend(s, st,
                      protocol::encode(protocol::ErrorReply{refusal->code, refusal->message}),
                      true);
        } else {
            queueSend(s, st, protocol::encode(std::get<protocol::GameFiles>(answer)), true);
        }
        return;
    }
    if (auto *chunk = std::get_if<protocol::GetChunk>(&message)) {
        startServeChunk(s, st, *chunk);
        return;
    }
    failRequest(s, st,
                Status(LANSPREAD_E_INVALID_ARGUMENT,
                       std::string("unexpected ") +
                           protocol::frameTypeName(protocol::frameTypeOf(message)) +
                           " on a request stream"));
}

void PeerNetwork::startServeChunk(Session &s, Stream &st, const protocol::GetChunk &request) {
    std::string gameRoot;
    auto decision = _delegate.serveGetChunk(request, gameRoot);
    if (auto *refusal = std::get_if<ServeRefusal>(&decision)) {
        log::info(kSource, "peer " + s.label() + ": GetChunk " + request.game + "/" + request.path +
                               "@" + std::to_string(request.offset) + "+" +
                               std::to_string(request.length) + " refused: " + refusal->code +
                               ": " + refusal->message);
        queueSend(s, st, protocol::encode(protocol::ErrorReply{refusal->code, refusal->message}),
                  true);
        return;
    }
    const auto range = std::get<ServeRange>(decision);
    st.serving = true;
    st.serveGame = request.game;
    ++_outbound[request.game];
    st.serveOffset = range.offset;
    st.serveRemaining = range.length;
    st.reading = true;
    auto conn = s.conn;
    const uint64_t serial = s.serial, streamId = st.id;
    // Open below the game root without following any link (the gate already checked that
    // the path is one the library indexed).
    _workers.submit([this, alive = _alive, conn, serial, streamId, gameRoot, range] {
        int fd = -1;
        std::string error;
        auto root = base::openDirectoryNoFollow(gameRoot);
        if (!root) {
            error = "cannot open the game root";
        } else {
            base::BelowRoot opened =
                base::openFileBelow(root.value().get(), range.relativePath, O_RDONLY);
            fd = opened.fd.release();
            if (fd < 0)
                error = "cannot open " + range.relativePath;
        }
        _reactor.post([this, alive, conn, serial, streamId, fd, error] {
            auto holder = std::shared_ptr<int>(new int(fd), [](int *p) {
                if (*p >= 0)
                    ::close(*p);
                delete p;
            });
            if (!*alive)
                return;
            Session *t = nullptr;
            Stream *found = liveStream(conn, serial, streamId, t);
            if (found == nullptr)
                return;
            Stream &cur = *found;
            cur.reading = false;
            if (cur.aborted) {
                finishStream(*t, streamId);
                return;
            }
            if (fd < 0) {
                log::warning(kSource, "serving " + cur.serveGame + ": " + error);
                queueSend(*t, cur, protocol::encode(protocol::ErrorReply{"io-error", error}), true);
                return;
            }
            cur.fd = holder;
            queueSend(*t, cur,
                      protocol::encodeChunkDataHeader(static_cast<uint32_t>(cur.serveRemaining)),
                      cur.serveRemaining == 0);
            pumpServe(*t, cur);
        });
    });
}

void PeerNetwork::pumpServe(Session &s, Stream &st) {
    if (st.reading || !st.fd || st.serveRemaining == 0 || st.out.queued >= kServeReadAhead)
        return;
    const std::size_t want =
        static_cast<std::size_t>(std::min<uint64_t>(kServeBlock, st.serveRemaining));
    if (!takeUploadBudget(s, st, want))
        return;
    st.reading = true;
    const uint64_t offset = st.serveOffset;
    auto conn = s.conn;
    const uint64_t serial = s.serial, streamId = st.id;
    _workers.submit([this, alive = _alive, fd = st.fd, conn, serial, streamId, want, offset] {
        std::vector<uint8_t> block(want);
        std::size_t got = 0;
        while (got < want) {
            ssize_t n =
                ::pread(*fd, block.data() + got, want - got, static_cast<off_t>(offset + got));
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        const bool ok = got == want;
        _reactor.post(
            [this, alive, conn, serial, streamId, block = std::move(block), ok]() mutable {
                if (!*alive)
                    return;
                Session *t = nullptr;
                Stream *found = liveStream(conn, serial, streamId, t);
                if (found == nullptr)
                    return;
                Stream &cur = *found;
                cur.reading = false;
                if (cur.aborted) {
                    finishStream(*t, streamId);
                    return;
                }
                if (!ok) {
                    // The file shrank under us: the requester sees a short chunk and retries
                    // elsewhere.
                    log::warning(kSource, "serving " + cur.serveGame + ": read failed; resetting");
                    _transport.vtable->reset_stream(conn, streamId, kAppErrorProtocol);
                    finishStream(*t, streamId);
                    return;
                }
                cur.serveOffset += block.size();
                cur.serveRemaining -= std::min<uint64_t>(cur.serveRemaining, block.size());
                const bool last = cur.serveRemaining == 0;
                if (last)
                    cur.fd.reset();
                queueSend(*t, cur, std::move(block), last);
            });
    });
}

bool PeerNetwork::takeUploadBudget(Session &s, Stream &st, std::size_t bytes) {
    if (_uploadRate <= 0)
        return true;
    const uint64_t now = _reactor.now();
    const double burst = double(kServeBlock);
    if (_uploadRefillNs == 0)
        _uploadTokens = burst;
    else
        _uploadTokens =
            std::min(burst, _uploadTokens + _uploadRate * double(now - _uploadRefillNs) / 1e9);
    _uploadRefillNs = now;
    if (_uploadTokens >= double(bytes)) {
        _uploadTokens -= double(bytes);
        return true;
    }
    _uploadWaiters.emplace_back(s.conn, s.serial, st.id);
    if (_uploadTimer == 0) {
        const double waitNs = (double(bytes) - _uploadTokens) / _uploadRate * 1e9;
        _reactor.startTimer(
            static_cast<uint64_t>(waitNs) + 1,
            [this, alive = _alive] {
                if (!*alive)
                    return;
                _uploadTimer = 0;
                auto waiters = std::move(_uploadWaiters);
                _uploadWaiters.clear();
                for (auto &[conn, serial, streamId] : waiters) {
                    Session *t = nullptr;
                    if (Stream *waiting = liveStream(conn, serial, streamId, t))
                        pumpServe(*t, *waiting);
                }
            },
            _uploadTimer);
    }
    return false;
}

PeerNetwork::Stream *PeerNetwork::liveStream(lanspread_transport_conn *conn, uint64_t serial,
                                             uint64_t streamId, Session *&session_) {
    session_ = session(conn);
    if (session_ == nullptr || session_->serial != serial)
        return nullptr; // the connection is gone (its handle may even be reused)
    return findStream(*session_, streamId);
}

PeerNetwork::Stream *PeerNetwork::findStream(Session &s, uint64_t streamId) {
    auto it = s.streams.find(streamId);
    return it == s.streams.end() ? nullptr : it->second.get();
}

void PeerNetwork::abortIncoming(Session &s, Stream &st, bool sendReset) {
    if (sendReset && !st.aborted)
        _transport.vtable->reset_stream(s.conn, st.id, kAppErrorProtocol);
    st.aborted = true;
    st.recvEnded = true;
    st.out.pieces.clear();
    st.out.queued = 0;
    st.out.finSent = true;
    st.serveRemaining = 0;
    st.fd.reset();
    finishSoon(s, st);
}

void PeerNetwork::failRequest(Session &s, Stream &st, const Status &status) {
    if (st.role == Stream::Role::Incoming) {
        log::warning(kSource, "peer " + s.label() + ": protocol error on request stream " +
                                  std::to_string(st.id) + ": " + status.message());
        if (st.serving || st.out.finSent || st.out.fin) {
            // Mid-answer there is no room for an error frame: abort the stream.
            abortIncoming(s, st, true);
            return;
        }
        // Answer the error and ignore whatever else arrives until the requester's FIN.
        st.discard = true;
        const uint64_t streamId = st.id;
        queueSend(s, st, protocol::encode(protocol::ErrorReply{"protocol-error", status.message()}),
                  true);
        if (Stream *again = findStream(s, streamId);
            again && again->out.finSent && again->recvEnded && !again->reading)
            finishSoon(s, *again);
        return;
    }
    if (st.responded)
        return;
    st.responded = true;
    const RequestId request = st.request;
    auto filesDone = std::move(st.filesDone);
    auto onEnd = std::move(st.chunk.onEnd);
    const uint64_t streamId = st.id;
    _transport.vtable->reset_stream(s.conn, streamId, kAppErrorProtocol);
    retireStream(s, streamId); // this may run inside the stream's own FrameReader
    _requests.erase(request);
    if (filesDone)
        filesDone(status);
    else if (onEnd)
        onEnd(status);
}

// --- requests ---

void PeerNetwork::requestGameFiles(const std::string &peerId, const std::string &game,
                                   std::function<void(Result<protocol::GameFiles>)> done) {
    Session *s = readySession(peerId);
    uint64_t streamId = 0;
    if (s == nullptr || _transport.vtable->open_stream(s->conn, &streamId) != LANSPREAD_OK) {
        done(Status(LANSPREAD_E_IO, "peer " + peerId.substr(0, 12) + " is not connected"));
        return;
    }
    auto stream = std::make_unique<Stream>();
    stream->id = streamId;
    stream->role = Stream::Role::OutgoingFiles;
    stream->request = _nextRequest++;
    stream->filesDone = std::move(done);
    auto conn = s->conn;
    stream->reader = std::make_unique<protocol::FrameReader>(protocol::FrameReader::Handler{
        [this, conn, streamId, game](protocol::Message &&m) {
            Session *t = session(conn);
            if (t == nullptr)
                return;
            auto it = t->streams.find(streamId);
            if (it == t->streams.end() || it->second->responded)
                return;
            Stream &cur = *it->second;
            if (auto *files = std::get_if<protocol::GameFiles>(&m); files && files->game == game) {
                cur.responded = true;
                auto cb = std::move(cur.filesDone);
                _requests.erase(cur.request);
                cb(std::move(*files));
            } else if (auto *error = std::get_if<protocol::ErrorReply>(&m)) {
                failRequest(*t, cur,
                            Status(LANSPREAD_E_FAILED, error->code + ": " + error->message));
            } else {
                failRequest(
                    *t, cur,
                    Status(LANSPREAD_E_INVALID_ARGUMENT, "unexpected answer to GetGame " + game));
            }
        },
        [this, conn, streamId](uint32_t) {
            Session *t = session(conn);
            if (t == nullptr)
                return;
            auto it = t->streams.find(streamId);
            if (it != t->streams.end())
                failRequest(*t, *it->second,
                            Status(LANSPREAD_E_INVALID_ARGUMENT, "ChunkData answering GetGame"));
        },
        nullptr});
    _requests[stream->request] = {conn, streamId};
    Stream &st = *stream;
    s->streams[streamId] = std::move(stream);
    queueSend(*s, st, protocol::encode(protocol::GetGame{game}), true);
}

PeerNetwork::RequestId PeerNetwork::requestChunk(const std::string &peerId,
                                                 const protocol::GetChunk &request,
                                                 ChunkHandler handler) {
    Session *s = readySession(peerId);
    uint64_t streamId = 0;
    const RequestId id = _nextRequest++;
    if (s == nullptr || _transport.vtable->open_stream(s->conn, &streamId) != LANSPREAD_OK) {
        auto onEnd = std::move(handler.onEnd);
        _reactor.post([onEnd, peerId] {
            onEnd(Status(LANSPREAD_E_IO, "peer " + peerId.substr(0, 12) + " is not connected"));
        });
        return id;
    }
    auto stream = std::make_unique<Stream>();
    stream->id = streamId;
    stream->role = Stream::Role::OutgoingChunk;
    stream->request = id;
    stream->chunk = std::move(handler);
    stream->expected = request.length;
    auto conn = s->conn;
    auto find = [this, conn, streamId]() -> std::pair<Session *, Stream *> {
        Session *t = session(conn);
        if (t == nullptr)
            return {nullptr, nullptr};
        auto it = t->streams.find(streamId);
        return {t, it == t->streams.end() ? nullptr : it->second.get()};
    };
    stream->reader = std::make_unique<protocol::FrameReader>(protocol::FrameReader::Handler{
        [this, find](protocol::Message &&m) {
            auto [t, cur] = find();
            if (cur == nullptr || cur->responded)
                return;
            if (auto *error = std::get_if<protocol::ErrorReply>(&m))
                failRequest(*t, *cur,
                            Status(LANSPREAD_E_FAILED, error->code + ": " + error->message));
            else
                failRequest(*t, *cur,
                            Status(LANSPREAD_E_INVALID_ARGUMENT, "unexpected answer to GetChunk"));
        },
        [this, find](uint32_t length) {
            auto [t, cur] = find();
            if (cur == nullptr || cur->responded)
                return;
            if (cur->dataBegun || length != cur->expected) {
                failRequest(*t, *cur,
                            Status(LANSPREAD_E_INVALID_ARGUMENT,
                                   "ChunkData of " + std::to_string(length) + " bytes for a " +
                                       std::to_string(cur->expected) + "-byte request"));
                return;
            }
            cur->dataBegun = true;
        },
        [this, find](std::span<const uint8_t> piece, uint32_t) {
            auto [t, cur] = find();
            if (cur == nullptr || cur->responded)
                return;
            cur->dataInFeed += piece.size();
            cur->received += piece.size();
            cur->chunk.onData(piece);
        }});
    _requests[id] = {conn, streamId};
    Stream &st = *stream;
    s->streams[streamId] = std::move(stream);
    queueSend(*s, st, protocol::encode(request), true);
    return id;
}

void PeerNetwork::releaseChunkBytes(RequestId id, std::size_t bytes) {
    auto it = _requests.find(id);
    if (it == _requests.end() || bytes == 0)
        return;
    auto [conn, streamId] = it->second;
    if (session(conn) != nullptr)
        _transport.vtable->consume(conn, streamId, bytes);
}

void PeerNetwork::forgetRequest(RequestId id) {
    _requests.erase(id);
}

void PeerNetwork::cancelRequest(RequestId id) {
    auto it = _requests.find(id);
    if (it == _requests.end())
        return;
    auto [conn, streamId] = it->second;
    _requests.erase(it);
    Session *s = session(conn);
    if (s == nullptr)
        return;
    auto sit = s->streams.find(streamId);
    if (sit != s->streams.end()) {
        sit->second->responded = true;
        retireStream(*s, streamId);
    }
    _transport.vtable->reset_stream(conn, streamId, kAppErrorProtocol);
}

} // namespace lanspread::kernel::peers
