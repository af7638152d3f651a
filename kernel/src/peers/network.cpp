// PeerNetwork: sessions and the handshake. Listening and dialling, the Hello/HelloAck
// exchange that pins a connection to a peer_id (identity, self-connect, version), one
// connection per peer, the control stream's messages, closing, and the transport's
// callbacks. Liveness and re-dials: network_liveness.cpp; streams and their buffers:
// network_streams.cpp; serving: network_serving.cpp and network_upload.cpp; our own
// requests: network_requests.cpp. Shared state: network_internal.hpp.
#include "network_internal.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/contract/events.hpp>

#include <cstdlib>

namespace lanspread::kernel::peers {

using namespace network_detail;

namespace {
constexpr std::size_t kNonce = PartyKey::kNonceBytes;

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
// Whether a transport's close reason names application error `code`. The reason is text for
// the log (transport.h), and the transports spell the code differently: transport-quic writes
// "application error 0x3", transport-tls "application error 3" (strtoull's base 0 reads both).
bool closedWithAppError(const std::string &why, uint64_t code) {
    static const std::string kLabel = "application error ";
    for (auto at = why.find(kLabel); at != std::string::npos; at = why.find(kLabel, at + 1)) {
        const char *digits = why.c_str() + at + kLabel.size();
        char *end = nullptr;
        const unsigned long long value = std::strtoull(digits, &end, 0);
        if (end != digits && value == code)
            return true;
    }
    return false;
}
} // namespace

std::string transportName(const std::string &pluginId) {
    const auto dot = pluginId.rfind('.');
    return dot == std::string::npos ? pluginId : pluginId.substr(dot + 1);
}

struct NetworkCallbacks {
    static PeerNetwork::Listener &listener(void *u) {
        return *static_cast<PeerNetwork::Listener *>(u);
    }
    static PeerNetwork *self(void *u) { return listener(u).network; }
    static void connected(void *u, lanspread_transport_conn *c,
                          const lanspread_remote_identity *r) {
        self(u)->onConnected(listener(u), c, r);
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
      _name(std::move(name)), _delegate(delegate), _uploadBucket(double(kServeBlock)),
      _alive(std::make_shared<bool>(true)) {}

PeerNetwork::~PeerNetwork() {
    *_alive = false;
    stop();
}

Status PeerNetwork::listenWith(Listener &listener, const std::string &bindAddr) {
    lanspread_transport_config config{};
    config.struct_size = sizeof config;
    config.bind_addr = bindAddr.c_str();
    config.cert_der = _identity.certDer.data();
    config.cert_der_len = _identity.certDer.size();
    config.key_der = _identity.keyDer.data();
    config.key_der_len = _identity.keyDer.size();
    config.idle_timeout_ns = _peerTimeoutNs;
    config.keepalive_ns = _peerTimeoutNs / 4;
    const TransportRef &transport = listener.ref;
    lanspread_status st =
        transport.vtable->listen(transport.state, &config, &listener.callbacks, &listener.endpoint);
    if (st != LANSPREAD_OK || listener.endpoint == nullptr) {
        listener.endpoint = nullptr;
        return Status(LANSPREAD_E_IO, "cannot listen on " + bindAddr + " with " + transport.id +
                                          " (" + lanspread_status_name(st) +
                                          "; is the address in use or not local?)");
    }
    char buffer[128];
    size_t required = 0;
    if (transport.vtable->local_address(listener.endpoint, buffer, sizeof buffer, &required) ==
        LANSPREAD_OK)
        listener.listenAddr = buffer;
    else
        listener.listenAddr = bindAddr;
    log::info(kSource, "listening on " + listener.listenAddr + " (" + transport.id + ")");
    return Status::ok();
}

Status PeerNetwork::start(const std::vector<TransportRef> &transports,
                          const std::string &bindAddr) {
    std::optional<Status> firstFailure;
    for (const auto &transport : transports) {
        auto listener = std::make_unique<Listener>();
        listener->network = this;
        listener->ref = transport;
        listener->name = transportName(transport.id);
        auto &callbacks = listener->callbacks;
        callbacks.struct_size = sizeof callbacks;
        callbacks.user_data = listener.get();
        callbacks.on_connected = &NetworkCallbacks::connected;
        callbacks.on_stream_opened = &NetworkCallbacks::opened;
        callbacks.on_stream_data = &NetworkCallbacks::data;
        callbacks.on_writable = &NetworkCallbacks::writable;
        callbacks.on_closed = &NetworkCallbacks::closed;
        // One port number for every transport when the port is left to them, so the address
        // a user types works whichever transport answers it.
        std::string at = bindAddr;
        if (!_listeners.empty() && portOf(bindAddr) == "0")
            at = joinHostPort(hostOf(bindAddr), portOf(_listeners.front()->listenAddr));
        Status listening = listenWith(*listener, at);
        if (!listening && at != bindAddr) {
            log::info(kSource, transport.id + " cannot have port " + portOf(at) + " (" +
                                   listening.message() + "); it takes any free port");
            listening = listenWith(*listener, bindAddr);
        }
        if (!listening) {
            if (!firstFailure)
                firstFailure = listening;
            _listenFailures.emplace_back(transport.id, listening.message());
            continue;
        }
        listener->rank = _listeners.size();
        _listeners.push_back(std::move(listener));
    }
    if (_listeners.empty())
        return firstFailure ? *firstFailure
                            : Status(LANSPREAD_E_IO, "no transport plugin to listen with");
    _listenAddr = _listeners.front()->listenAddr;
    return Status::ok();
}

bool PeerNetwork::running() const {
    for (const auto &listener : _listeners)
        if (listener->endpoint != nullptr)
            return true;
    return false;
}

std::vector<ListenerInfo> PeerNetwork::listeners() const {
    std::vector<ListenerInfo> out;
    for (const auto &listener : _listeners)
        if (listener->endpoint != nullptr)
            out.push_back({listener->name, listener->ref.id, listener->listenAddr});
    return out;
}

const lanspread_transport_v1 &PeerNetwork::vt(const Session &s) {
    return *s.listener->ref.vtable;
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
        vt(*s).close(conn, kAppErrorGoodbye);
    }
    for (auto &listener : _listeners)
        if (listener->endpoint != nullptr) {
            listener->ref.vtable->destroy_endpoint(listener->endpoint);
            listener->endpoint = nullptr;
        }
    for (auto &[id, dial] : _dials)
        if (dial->fallbackTimer != 0)
            _reactor.stopTimer(dial->fallbackTimer);
    _dials.clear();
    if (_refusalTimer != 0) {
        _reactor.stopTimer(_refusalTimer);
        _refusalTimer = 0;
    }
    flushRefusalLog(); // the count still held back is said now
    _sessions.clear();
    _requests.clear();
}

bool PeerNetwork::isOwnAddress(const std::string &addr) const {
    for (const auto &listener : _listeners) {
        const std::string &listenAddr = listener->listenAddr;
        if (addr == listenAddr)
            return true;
        if (portOf(addr) != portOf(listenAddr))
            continue;
        const std::string host = hostOf(addr);
        const std::string own = hostOf(listenAddr);
        const bool loopback = host == "127.0.0.1" || host == "::1" || host == "localhost";
        if (isWildcardHost(own) && (loopback || isWildcardHost(host)))
            return true;
    }
    return false;
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
    for (const auto &listener : _listeners)
        hello.listeners.push_back({listener->name, listener->listenAddr});
    hello.features = {"chunks-v2"}; // 1 MiB chunks, partial games, Have
    _delegate.librarySnapshot(hello.libraryRevision, hello.games, hello.partials);
    s.sentRevision = hello.libraryRevision;
    s.sentGames.clear();
    for (const auto &g : hello.games)
        s.sentGames.insert(g.id);
    s.sentPartials = hello.partials;
    return hello;
}

bool PeerNetwork::dialing(const std::string &addr) const {
    for (const auto &[id, dial] : _dials)
        if (!dial->answered && dial->addr == addr)
            return true;
    for (const auto &[conn, s] : _sessions)
        if (s->outgoing && s->dialAddr == addr && s->state != Session::State::Ready &&
            s->state != Session::State::Closing)
            return true;
    return false;
}

void PeerNetwork::connect(const std::string &addr, const std::string &via, ConnectDone done,
                          const std::string &expectedPeerId,
                          const std::map<std::string, std::string> &addrByTransport) {
    if (!running() || _stopping) {
        done(connectFailed("connect-failed: no transport is running"));
        return;
    }
    if (!expectedPeerId.empty() && partyKeyRefused(expectedPeerId)) {
        // Discovery or a re-dial: this peer failed the party key; trying again every few
        // seconds would only repeat the refusal (a `connect` by address still tries).
        done(connectFailed("connect-failed: party-key-mismatch: peer " +
                           expectedPeerId.substr(0, 12) +
                           " was refused for the party key; not dialled again until restart"));
        return;
    }
    auto dial = std::make_unique<Dial>();
    dial->addr = addr;
    dial->addrByTransport = addrByTransport;
    dial->via = via;
    dial->expectedPeerId = expectedPeerId;
    dial->waiters.push_back(std::move(done));
    const uint64_t id = _nextDial++;
    _dials[id] = std::move(dial);
    dialNext(id);
}

void PeerNetwork::dialNext(uint64_t dialId) {
    auto it = _dials.find(dialId);
    if (it == _dials.end() || _stopping)
        return;
    Dial &dial = *it->second;
    if (dial.answered)
        return;
    if (dial.fallbackTimer != 0) {
        _reactor.stopTimer(dial.fallbackTimer);
        dial.fallbackTimer = 0;
    }
    while (nextTransport(dial)) {
        Listener &listener = *_listeners[dial.next++];
        auto at = dial.addrByTransport.find(listener.name);
        if (startAttempt(dial, dialId, listener,
                         at == dial.addrByTransport.end() ? dial.addr : at->second))
            break;
    }
    if (dial.pending > 0 && nextTransport(dial)) {
        _reactor.startTimer(
            _fallbackNs,
            [this, alive = _alive, dialId] {
                if (!*alive)
                    return;
                auto found = _dials.find(dialId);
                if (found == _dials.end())
                    return;
                found->second->fallbackTimer = 0;
                if (found->second->answered)
                    return;
                log::info(kSource, found->second->addr + ": no connection within " +
                                       std::to_string(_fallbackNs / 1'000'000) +
                                       " ms; trying the next transport as well");
                dialNext(dialId);
            },
            dial.fallbackTimer);
    }
    finishDialIfIdle(dialId);
}

bool PeerNetwork::nextTransport(Dial &dial) const {
    for (; dial.next < _listeners.size(); ++dial.next) {
        const Listener &listener = *_listeners[dial.next];
        if (listener.endpoint != nullptr &&
            (dial.addrByTransport.empty() || dial.addrByTransport.count(listener.name) != 0))
            return true;
    }
    return false;
}

bool PeerNetwork::startAttempt(Dial &dial, uint64_t dialId, Listener &listener,
                               const std::string &addr) {
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
    const TransportRef &transport = listener.ref;
    lanspread_status st = transport.vtable->connect(transport.state, &config, addr.c_str(),
                                                    &listener.callbacks, &conn);
    if (st != LANSPREAD_OK || conn == nullptr) {
        if (!dial.failure)
            dial.failure =
                connectFailed("connect-failed: cannot connect to " + addr +
                              (_listeners.size() > 1 ? " over " + listener.name : std::string()) +
                              " (" + lanspread_status_name(st) + ")");
        return false;
    }
    auto s = std::make_unique<Session>();
    s->conn = conn;
    s->listener = &listener;
    s->dial = dialId;
    s->serial = _nextSerial++;
    s->outgoing = true;
    s->via = dial.via;
    s->dialAddr = addr;
    s->remoteAddr = addr;
    s->expectedPeerId = dial.expectedPeerId;
    ++dial.pending;
    const uint64_t serial = s->serial;
    _reactor.startTimer(
        _helloTimeoutNs,
        [this, conn, serial, alive = _alive] {
            if (!*alive)
                return;
            Session *t = session(conn);
            if (t != nullptr && t->serial == serial && t->state != Session::State::Ready)
                closeSession(*t, "connect-failed", "no handshake within " + helloTimeoutText());
        },
        s->handshakeTimer);
    _sessions[conn] = std::move(s);
    return true;
}

void PeerNetwork::attemptSucceeded(Session &s) {
    const uint64_t dialId = s.dial;
    s.dial = 0;
    auto it = _dials.find(dialId);
    if (it == _dials.end())
        return;
    Dial &dial = *it->second;
    --dial.pending;
    std::vector<ConnectDone> waiters;
    if (!dial.answered) {
        dial.answered = true;
        waiters = std::move(dial.waiters);
        dial.waiters.clear();
    }
    finishDialIfIdle(dialId);
    for (auto &waiter : waiters)
        waiter(s.peerId);
}

void PeerNetwork::attemptFailed(Session &s, const contract::Failure &failure) {
    const uint64_t dialId = s.dial;
    s.dial = 0;
    auto it = _dials.find(dialId);
    if (it == _dials.end())
        return;
    Dial &dial = *it->second;
    --dial.pending;
    // A refusal after the transport connected (identity, self-connect, version) says more
    // than a transport that did not connect; otherwise the preferred transport's failure.
    const bool afterTransport = !s.fingerprint.empty();
    if (!dial.failure || (afterTransport && !dial.failureAfterTransport)) {
        dial.failure = failure;
        dial.failureAfterTransport = afterTransport;
    }
    if (!dial.answered && dial.pending == 0 && nextTransport(dial)) {
        // Every attempt so far failed: the next transport need not wait for the fallback
        // time. Not from inside the transport's callback.
        _reactor.post([this, alive = _alive, dialId] {
            if (*alive)
                dialNext(dialId);
        });
        return;
    }
    finishDialIfIdle(dialId);
}

void PeerNetwork::finishDialIfIdle(uint64_t dialId) {
    auto it = _dials.find(dialId);
    if (it == _dials.end() || it->second->pending > 0)
        return;
    Dial &dial = *it->second;
    if (!dial.answered && nextTransport(dial))
        return; // the next transport is about to be tried
    std::unique_ptr<Dial> done = std::move(it->second);
    _dials.erase(it);
    if (done->fallbackTimer != 0)
        _reactor.stopTimer(done->fallbackTimer);
    if (done->answered)
        return;
    std::string announced;
    for (const auto &[name, at] : done->addrByTransport)
        announced += (announced.empty() ? "" : ",") + name;
    const contract::Failure failure =
        done->failure ? *done->failure
        : announced.empty()
            ? connectFailed("connect-failed: " + done->addr + ": no transport to try")
            : connectFailed("connect-failed: " + done->addr + " listens with " + announced +
                            ", none of which this peer runs");
    for (auto &waiter : done->waiters)
        waiter(failure);
}

void PeerNetwork::onConnected(Listener &listener, lanspread_transport_conn *conn,
                              const lanspread_remote_identity *remote) {
    Session *s = session(conn);
    if (s == nullptr) { // incoming
        auto fresh = std::make_unique<Session>();
        fresh->conn = conn;
        fresh->listener = &listener;
        fresh->serial = _nextSerial++;
        fresh->outgoing = false;
        fresh->via = "incoming";
        s = fresh.get();
        _sessions[conn] = std::move(fresh);
        const uint64_t serial = s->serial;
        _reactor.startTimer(
            _helloTimeoutNs,
            [this, conn, serial, alive = _alive] {
                if (!*alive)
                    return;
                Session *t = session(conn);
                if (t != nullptr && t->serial == serial && t->state != Session::State::Ready)
                    closeSession(*t, "protocol-error", "no Hello within " + helloTimeoutText());
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
    if (!s->outgoing && overAddressCap(*s)) {
        // Closed before it costs a Hello timer's worth of waiting: a flood from one address
        // holds at most max_connections_per_address sessions.
        ++_refusals.connectionsPerAddress;
        logRefusal("connection " + s->remoteAddr +
                   " refused: too-many-connections: " + std::to_string(_maxConnectionsPerAddress) +
                   " connections from its address already (max_connections_per_address)");
        s->silent = true;
        s->state = Session::State::Closing;
        vt(*s).close(conn, kAppErrorTooMany); // on_closed may run inside
        return;
    }
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
    if (vt(*s).open_stream(conn, &streamId) != LANSPREAD_OK) {
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
    if (_partyKey) {
        // Our library waits until the listener proved the key: first only our nonce.
        auto nonce = freshNonce();
        if (!nonce) {
            closeSession(*s, "connect-failed", nonce.status().message());
            return;
        }
        s->ownNonce = nonce.value();
        sendControl(*s, protocol::KeyChallenge{protocol::kPartyKeyScheme,
                                               base::toHex(s->ownNonce->data(), kNonce)});
        return;
    }
    sendControl(*s, ownHello(*s));
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
    std::string why = reason != nullptr && *reason ? reason : lanspread_status_name(status);
    if (s->state != Session::State::Ready && closedWithAppError(why, kAppErrorTooMany))
        why = "too-many-connections: the peer holds too many connections from this address (" +
              why + ")";
    if (s->dial != 0)
        attemptFailed(
            *s,
            connectFailed("connect-failed: " + (s->dialAddr.empty() ? s->remoteAddr : s->dialAddr) +
                          (_listeners.size() > 1 ? " (" + s->listener->name + ")" : std::string()) +
                          ": " + why));
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
    // An incoming connection that ends before its handshake did, closed by the peer or by the
    // transport (its idle timeout can beat the Hello timer): one line, as for a refusal here.
    if (!s->outgoing && !_stopping &&
        (s->state == Session::State::Connecting || s->state == Session::State::Handshaking))
        logRefusal("connection " + s->remoteAddr + " refused: closed before its Hello: " + why);
    if (s->state != Session::State::Ready &&
        !(s->state == Session::State::Closing && !s->peerId.empty() && !s->silent))
        return;
    if (s->silent || s->peerId.empty() || _stopping)
        return;
    if (readySession(s->peerId) != nullptr)
        return; // another connection to the same peer carries on
    if (closedWithAppError(why, kAppErrorDuplicate)) {
        // The peer closed this one as the duplicate of a connection whose handshake has not
        // finished here yet: not a loss, unless that connection never arrives.
        const std::string peerId = s->peerId;
        uint64_t timer = 0;
        _reactor.startTimer(
            _helloTimeoutNs,
            [this, alive = _alive, peerId] {
                if (*alive && !_stopping && readySession(peerId) == nullptr &&
                    _peers.find(peerId) != nullptr)
                    publishLost(peerId, "its other connection never completed", false);
            },
            timer);
        return;
    }
    // A goodbye may arrive as the Goodbye frame or only as the close that follows it.
    s->goodbye = s->goodbye || closedWithAppError(why, kAppErrorGoodbye);
    publishLost(s->peerId,
                s->goodbye ? std::string("goodbye")
                : s->timedOut
                    ? "timeout: silent for " + std::to_string(_peerTimeoutNs / 1'000'000) + " ms"
                    : why,
                !s->goodbye);
}

void PeerNetwork::closeSession(Session &s, const std::string &code, const std::string &why,
                               bool notifyPeer) {
    if (s.state == Session::State::Closing)
        return;
    const bool wasReady = s.state == Session::State::Ready;
    if (!wasReady) {
        logRefusal("connection " + (s.dialAddr.empty() ? s.remoteAddr : s.dialAddr) +
                   " refused: " + code + ": " + why);
        // Refused by either side: the connect command fails with self-connect when it reached
        // this very peer, and with connect-failed naming the refusal otherwise.
        const contract::Failure failure =
            code == "self-connect"
                ? contract::Failure{contract::ErrorCode::SelfConnect, "self-connect: " + why}
                : connectFailed("connect-failed: " + code + ": " + why);
        if (s.dial != 0)
            attemptFailed(s, failure);
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
                    vt(*t).close(conn, kAppErrorProtocol);
            },
            timer);
        return;
    }
    vt(s).close(s.conn, kAppErrorProtocol); // on_closed may run inside
}

void PeerNetwork::onControlMessage(Session &s, protocol::Message &&message) {
    _peers.touch(s.peerId, host::EventBus::nowUnixMs());
    if (s.state == Session::State::Handshaking) {
        if (partyKeyStep(s, message))
            return;
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
            if (error->code == "party-key-mismatch")
                refuseForPartyKey(s, "the peer refused: " + error->message, false);
            else
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
    } else if (auto *have = std::get_if<protocol::Have>(&message)) {
        // A Have may cross the LibraryDelta that ended or restarted its partial game: it is
        // stale, not a protocol error.
        if (_peers.applyHave(s.peerId, *have, host::EventBus::nowUnixMs()))
            _delegate.peerHave(s.peerId, *have);
        else
            log::debug(kSource, "peer " + s.label() + ": Have for " + have->game + " (" +
                                    std::to_string(have->chunks.size()) +
                                    " chunks) matches no partial game of it; ignored");
    } else if (auto *ping = std::get_if<protocol::Ping>(&message)) {
        sendControl(s, protocol::Pong{ping->nonce});
    } else if (std::holds_alternative<protocol::Pong>(message)) {
        // last_seen was refreshed above
    } else if (auto *bye = std::get_if<protocol::Goodbye>(&message)) {
        log::info(kSource, "peer " + s.label() + " says goodbye: " + bye->reason);
        s.goodbye = true;
        s.state = Session::State::Closing;
        vt(s).close(s.conn, kAppErrorGoodbye);
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

bool PeerNetwork::partyKeyStep(Session &s, protocol::Message &message) {
    using Role = PartyKey::Role;
    auto *challenge = std::get_if<protocol::KeyChallenge>(&message);
    auto *proof = std::get_if<protocol::KeyProof>(&message);
    if (!_partyKey) {
        // Only a peer with a key sends these; we hold none, so it cannot join us.
        if (challenge != nullptr || proof != nullptr) {
            refuseForPartyKey(s, "this peer holds no party key (lanspread.party_key is not set "
                                 "here) and the peer requires one");
            return true;
        }
        return false;
    }
    // Both ids come from the transport: our own certificate key and the peer's, so a proof
    // is bound to this pair of keys (a relay in between has keys of its own).
    const std::string &own = _identity.peerId;
    const std::string &peer = s.fingerprint;
    if (challenge != nullptr) {
        // The dialer opens with its nonce; the listener answers with its own (a dialer gets
        // it once, after sending its own).
        if (s.peerNonce || (s.outgoing && !s.ownNonce)) {
            closeSession(s, "protocol-error", "unexpected KeyChallenge");
            return true;
        }
        if (challenge->scheme != protocol::kPartyKeyScheme) {
            refuseForPartyKey(s, "the peer proves its key with " + challenge->scheme +
                                     ", this peer with " + protocol::kPartyKeyScheme);
            return true;
        }
        PartyKey::Nonce nonce{};
        parseHex32(challenge->nonce, nonce); // decode() checked it is 64 lowercase hex
        s.peerNonce = nonce;
        if (s.outgoing)
            return true; // the listener's proof comes next
        auto fresh = freshNonce();
        auto mac = fresh ? _partyKey->proof(Role::Listener, own, peer, nonce, fresh.value())
                         : Result<PartyKey::Mac>(fresh.status());
        if (!mac) {
            closeSession(s, "protocol-error",
                         "cannot prove the party key: " + mac.status().message());
            return true;
        }
        s.ownNonce = fresh.value();
        sendControl(s, protocol::KeyChallenge{protocol::kPartyKeyScheme,
                                              base::toHex(s.ownNonce->data(), kNonce)});
        sendControl(s, protocol::KeyProof{base::toHex(mac.value().data(), mac.value().size())});
        return true;
    }
    if (proof != nullptr) {
        if (!s.ownNonce || !s.peerNonce || s.partyKeyProved) {
            closeSession(s, "protocol-error", "unexpected KeyProof");
            return true;
        }
        PartyKey::Mac mac{};
        parseHex32(proof->mac, mac);
        const Role role = s.outgoing ? Role::Listener : Role::Dialer;
        const PartyKey::Nonce &dialerNonce = s.outgoing ? *s.ownNonce : *s.peerNonce;
        const PartyKey::Nonce &listenerNonce = s.outgoing ? *s.peerNonce : *s.ownNonce;
        if (!_partyKey->verify(mac, role, peer, own, dialerNonce, listenerNonce)) {
            refuseForPartyKey(s, "the peer's proof does not match this peer's party key (it "
                                 "holds another key)");
            return true;
        }
        s.partyKeyProved = true;
        if (s.outgoing) {
            // The listener proved the key: our proof, then our library.
            auto ours = _partyKey->proof(Role::Dialer, own, peer, dialerNonce, listenerNonce);
            if (!ours) {
                closeSession(s, "connect-failed",
                             "cannot prove the party key: " + ours.status().message());
                return true;
            }
            sendControl(s,
                        protocol::KeyProof{base::toHex(ours.value().data(), ours.value().size())});
            sendControl(s, ownHello(s));
        }
        return true;
    }
    const bool hello = std::holds_alternative<protocol::Hello>(message) ||
                       std::holds_alternative<protocol::HelloAck>(message);
    if (hello && !s.partyKeyProved) {
        refuseForPartyKey(s, std::string(s.outgoing ? "HelloAck" : "Hello") +
                                 " before the peer proved the party key (it holds none, or runs "
                                 "a lanspread without party keys); this peer requires one");
        return true;
    }
    if (auto *error = std::get_if<protocol::ErrorReply>(&message);
        error && s.outgoing && !s.partyKeyProved && error->code == "protocol-error") {
        // All we sent is our KeyChallenge: a peer that cannot read it predates party keys.
        refuseForPartyKey(s,
                          "the peer does not take part in the party-key handshake (a "
                          "lanspread without party keys?): " +
                              error->code + ": " + error->message,
                          false);
        return true;
    }
    return false;
}

void PeerNetwork::refuseForPartyKey(Session &s, const std::string &why, bool notifyPeer) {
    const std::string peerId = s.fingerprint;
    const std::string addr = s.dialAddr.empty() ? s.remoteAddr : s.dialAddr;
    if (peerId.size() == 64 && peerId != _identity.peerId) {
        _partyKeyRefused.insert(peerId);
        const contract::Event refused =
            contract::peerRefused(peerId, addr, "party-key-mismatch", why);
        _events.publish(refused.topic, refused.payload);
    }
    closeSession(s, "party-key-mismatch", why, notifyPeer);
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
    // The preferred transport first, then the smaller initiator, then the newest: the same
    // choice at both ends, whichever handshake each end finishes first.
    auto initiator = [this](const Session &x) { return x.outgoing ? _identity.peerId : x.peerId; };
    bool keepNew = true;
    if (other != nullptr && other->listener->rank != s.listener->rank)
        keepNew = s.listener->rank < other->listener->rank;
    else if (other != nullptr && initiator(*other) != initiator(s))
        keepNew = initiator(s) < initiator(*other);
    Session *loser = other == nullptr ? nullptr : (keepNew ? other : &s);
    const Session &kept = loser == &s ? *other : s;

    std::map<std::string, std::string> addrs;
    for (const auto &listener : hello.listeners)
        addrs[listener.transport] = reachableAddr(listener.addr, s.remoteAddr);
    const auto change = _peers.upsert(hello, s.addr, s.outgoing ? s.via : "incoming",
                                      host::EventBus::nowUnixMs(), kept.listener->name, addrs);
    s.state = Session::State::Ready;
    s.lastActivityNs = _reactor.now();
    if (_livenessTimer == 0)
        livenessTick();
    log::info(kSource, "peer " + s.label() + " (" + hello.name + ") connected at " + s.addr +
                           " over " + s.listener->name + ", " + std::to_string(hello.games.size()) +
                           " games");
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
    const std::string peerId = hello.peerId;
    _lost.erase(peerId);            // back: no re-dial needed
    _partyKeyRefused.erase(peerId); // it holds our key now (it restarted with it)
    if (s.dial != 0)
        attemptSucceeded(s);
    if (loser != nullptr) {
        log::info(kSource, "peer " + peerId.substr(0, 12) +
                               ": closing the duplicate connection over " + loser->listener->name +
                               " (" + (loser->outgoing ? "ours" : "theirs") +
                               "); keeping the one over " + kept.listener->name + " (" +
                               (kept.outgoing ? "ours" : "theirs") + ")");
        loser->silent = true;
        loser->state = Session::State::Closing;
        // on_closed may run inside: when the loser is s, s is gone after this.
        vt(*loser).close(loser->conn, kAppErrorDuplicate);
    }
    // Our library or our downloads changed between our Hello and now (the first scan
    // ending, a chunk verified, say): broadcasts missed this session, so it gets the
    // difference now.
    if (loser != &s) {
        protocol::LibraryDelta catchUp;
        std::vector<protocol::GameSummary> games;
        std::vector<protocol::PartialGame> partials;
        _delegate.librarySnapshot(catchUp.revision, games, partials);
        const bool gamesChanged = catchUp.revision != s.sentRevision;
        const bool partialsChanged = partials != s.sentPartials;
        if (gamesChanged) {
            std::set<std::string> now;
            for (auto &g : games)
                now.insert(g.id);
            for (const auto &id : s.sentGames)
                if (!now.count(id))
                    catchUp.removed.push_back(id);
            catchUp.upserts = std::move(games);
        }
        if (partialsChanged) {
            std::set<std::string> now;
            for (const auto &p : partials)
                now.insert(p.id);
            for (const auto &p : s.sentPartials)
                if (!now.count(p.id))
                    catchUp.partialRemoved.push_back(p.id);
            catchUp.partialUpserts = std::move(partials);
        }
        if (gamesChanged || partialsChanged)
            sendControl(s, catchUp);
        s.sentPartials.clear(); // only the catch-up needs it; a bitmap can be megabytes
    }
    _delegate.peerLibraryChanged(peerId);
}

void PeerNetwork::broadcastDelta(const protocol::LibraryDelta &delta) {
    for (auto &[conn, s] : _sessions)
        if (s->state == Session::State::Ready)
            sendControl(*s, delta);
}

void PeerNetwork::broadcastHave(const protocol::Have &have) {
    if (have.chunks.empty())
        return;
    for (auto &[conn, s] : _sessions)
        if (s->state == Session::State::Ready)
            sendControl(*s, have);
}

void PeerNetwork::sendControl(Session &s, const protocol::Message &message) {
    auto it = s.streams.find(s.control);
    if (it == s.streams.end())
        return;
    queueSend(s, *it->second, protocol::encode(message), false);
}

} // namespace lanspread::kernel::peers
