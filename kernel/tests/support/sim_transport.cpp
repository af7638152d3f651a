#include "sim_transport.hpp"

#include <lanspread/kernel/peers/identity.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

namespace lanspread::kernel::testing {

namespace {

constexpr uint16_t kFirstPort = 40000;

std::string hex(uint64_t v) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(v));
    return buffer;
}

// "a.b.c.d:port" -> (ip, port); false when it is not one.
bool splitAddr(const std::string &addr, std::string &ip, uint16_t &port) {
    const auto colon = addr.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size())
        return false;
    ip = addr.substr(0, colon);
    if (ip.find_first_not_of("0123456789.") != std::string::npos)
        return false;
    const std::string digits = addr.substr(colon + 1);
    if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
        return false;
    const unsigned long value = std::stoul(digits);
    if (value > std::numeric_limits<uint16_t>::max())
        return false;
    port = static_cast<uint16_t>(value);
    return true;
}

// The fingerprint a transport reports for a certificate: the raw SHA-256 of its
// SubjectPublicKeyInfo (empty when the certificate does not parse).
std::vector<uint8_t> certificateFingerprint(const lanspread_transport_config &config) {
    const std::vector<uint8_t> cert(config.cert_der, config.cert_der + config.cert_der_len);
    auto spki = peers::certificatePublicKey(cert);
    if (!spki.ok())
        return {};
    const std::string text = peers::fingerprintPublicKey(spki.value());
    std::vector<uint8_t> raw;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        raw.push_back(static_cast<uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
    return raw;
}

std::pair<std::string, std::string> unordered(const std::string &a, const std::string &b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

} // namespace

struct SimNetwork::Host {
    SimNetwork *net = nullptr;
    std::string ip;
    bool crashed = false;
    uint16_t nextPort = kFirstPort;
    std::map<uint16_t, Endpoint *> listeners;
    std::size_t dials = 0;
};

struct SimNetwork::Endpoint {
    SimNetwork *net = nullptr;
    Host *host = nullptr;
    uint16_t port = 0;
    std::string reportedAddr; // what local_address() says
    const lanspread_transport_events *events = nullptr;
    std::vector<uint8_t> fingerprint;
    bool destroyed = false;
};

struct SimNetwork::Stream {
    uint64_t id = 0;
    uint64_t sent = 0;
    uint64_t sendLimit = 0; // the reader's window plus what it has consumed
    bool finSent = false;
    bool wantWritable = false;
    bool finReceived = false;
    bool reset = false; // abandoned by either side: no more data either way
};

struct SimNetwork::Conn {
    SimNetwork *net = nullptr;
    Host *host = nullptr;
    Endpoint *endpoint = nullptr; // the listener that accepted it (nullptr: dialled)
    const lanspread_transport_events *events = nullptr;
    enum class State { Connecting, Open, Closed };
    State state = State::Connecting;
    bool known = false; // the host holds the handle (connect() returned it / on_connected)
    bool dialler = false;
    std::string localAddr;
    std::string remoteAddr; // as the remote identity reports it
    std::string peerIp;
    std::vector<uint8_t> fingerprint; // of this side's own certificate
    Conn *peer = nullptr;
    uint64_t extraDelayNs = 0;  // this side's own share of the link's connection jitter
    uint64_t lastDeliverAt = 0; // what it sends arrives in order
    uint64_t nextStream = 0;
    std::map<uint64_t, Stream> streams;

    lanspread_transport_conn *handle() {
        return reinterpret_cast<lanspread_transport_conn *>(this);
    }
    bool open() const { return state == State::Open; }
};

struct SimNetwork::Link {
    std::string from;
    std::string to;
    SimLink config;
    struct Item {
        std::size_t bytes = 0;
        std::function<void()> deliver;
    };
    // By (delivery time, send order): one connection's items never overtake each other,
    // another connection's may.
    std::map<std::pair<uint64_t, uint64_t>, Item> queue;
    uint64_t nextSequence = 0;
    uint64_t senderFreeAt = 0; // when the sender's port has serialised what it queued
    uint64_t timer = 0;
    Traffic traffic;
};

// The C table: each entry finds the SimNetwork through its handle.
struct SimTransportCalls {
    using Net = SimNetwork;
    static Net::Conn &conn(lanspread_transport_conn *c) {
        return *reinterpret_cast<Net::Conn *>(c);
    }

    static lanspread_status listen(void *state, const lanspread_transport_config *config,
                                   const lanspread_transport_events *events,
                                   lanspread_transport_endpoint **out) {
        if (state == nullptr || config == nullptr || events == nullptr || out == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto &host = *static_cast<Net::Host *>(state);
        Net::Endpoint *endpoint = nullptr;
        const lanspread_status st = host.net->listen(host, *config, events, endpoint);
        *out = reinterpret_cast<lanspread_transport_endpoint *>(endpoint);
        return st;
    }
    static lanspread_status localAddress(lanspread_transport_endpoint *e, char *buffer, size_t size,
                                         size_t *required) {
        const std::string &addr = reinterpret_cast<Net::Endpoint *>(e)->reportedAddr;
        if (required != nullptr)
            *required = addr.size() + 1;
        if (buffer == nullptr || size < addr.size() + 1)
            return LANSPREAD_E_BUFFER_TOO_SMALL;
        std::memcpy(buffer, addr.c_str(), addr.size() + 1);
        return LANSPREAD_OK;
    }
    static void destroyEndpoint(lanspread_transport_endpoint *e) {
        auto &endpoint = *reinterpret_cast<Net::Endpoint *>(e);
        endpoint.net->destroyEndpoint(endpoint);
    }
    static lanspread_status connect(void *state, const lanspread_transport_config *config,
                                    const char *remoteAddr,
                                    const lanspread_transport_events *events,
                                    lanspread_transport_conn **out) {
        if (state == nullptr || config == nullptr || remoteAddr == nullptr || events == nullptr ||
            out == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto &host = *static_cast<Net::Host *>(state);
        Net::Conn *conn = nullptr;
        const lanspread_status st = host.net->connect(host, *config, remoteAddr, events, conn);
        *out = conn ? conn->handle() : nullptr;
        return st;
    }
    static lanspread_status openStream(lanspread_transport_conn *c, uint64_t *out) {
        return out ? conn(c).net->openStream(conn(c), *out) : LANSPREAD_E_INVALID_ARGUMENT;
    }
    static lanspread_status send(lanspread_transport_conn *c, uint64_t streamId,
                                 const uint8_t *data, size_t len, uint32_t flags,
                                 size_t *accepted) {
        std::size_t taken = 0;
        const lanspread_status st = conn(c).net->sendOn(conn(c), streamId, data, len, flags, taken);
        if (accepted != nullptr)
            *accepted = taken;
        return st;
    }
    static lanspread_status consume(lanspread_transport_conn *c, uint64_t streamId, size_t n) {
        return conn(c).net->consume(conn(c), streamId, n);
    }
    static lanspread_status resetStream(lanspread_transport_conn *c, uint64_t streamId, uint64_t) {
        return conn(c).net->resetStream(conn(c), streamId);
    }
    static void close(lanspread_transport_conn *c, uint64_t appError) {
        conn(c).net->close(conn(c), appError);
    }

    static const lanspread_transport_v1 *table() {
        static const lanspread_transport_v1 vtable = [] {
            lanspread_transport_v1 t{};
            t.struct_size = sizeof t;
            t.listen = &listen;
            t.local_address = &localAddress;
            t.destroy_endpoint = &destroyEndpoint;
            t.connect = &connect;
            t.open_stream = &openStream;
            t.send = &send;
            t.consume = &consume;
            t.reset_stream = &resetStream;
            t.close = &close;
            return t;
        }();
        return &vtable;
    }
};

SimNetwork::SimNetwork(host::Reactor &reactor, SimLink defaults, uint64_t seed)
    : _reactor(reactor), _defaults(defaults), _random(seed), _alive(std::make_shared<bool>(true)) {}

SimNetwork::~SimNetwork() {
    *_alive = false;
    for (auto &[key, link] : _links)
        if (link->timer != 0)
            _reactor.stopTimer(link->timer);
}

peers::TransportRef SimNetwork::transport(const std::string &ip, const std::string &pluginId) {
    return peers::TransportRef{pluginId, SimTransportCalls::table(), &host(ip)};
}

SimNetwork::Host &SimNetwork::host(const std::string &ip) {
    auto &slot = _hosts[ip];
    if (!slot) {
        slot = std::make_unique<Host>();
        slot->net = this;
        slot->ip = ip;
    }
    return *slot;
}

SimNetwork::Host *SimNetwork::findHost(const std::string &ip) {
    auto it = _hosts.find(ip);
    return it == _hosts.end() ? nullptr : it->second.get();
}

SimLink &SimNetwork::link(const std::string &from, const std::string &to) {
    return linkState(from, to).config;
}

SimNetwork::Link &SimNetwork::linkState(const std::string &from, const std::string &to) {
    auto &slot = _links[{from, to}];
    if (!slot) {
        slot = std::make_unique<Link>();
        slot->from = from;
        slot->to = to;
        slot->config = _defaults;
    }
    return *slot;
}

SimNetwork::Traffic SimNetwork::traffic(const std::string &from, const std::string &to) const {
    auto it = _links.find({from, to});
    return it == _links.end() ? Traffic{} : it->second->traffic;
}

std::size_t SimNetwork::openConnections(const std::string &ip) const {
    std::size_t n = 0;
    for (const auto &conn : _conns)
        if (conn->host->ip == ip && conn->open())
            ++n;
    return n;
}

std::size_t SimNetwork::dials(const std::string &ip) const {
    auto it = _hosts.find(ip);
    return it == _hosts.end() ? 0 : it->second->dials;
}

bool SimNetwork::partitioned(const std::string &a, const std::string &b) const {
    return _partitions.count(unordered(a, b)) != 0;
}

void SimNetwork::setPartitioned(const std::string &a, const std::string &b, bool on) {
    if (!on) {
        _partitions.erase(unordered(a, b));
        // What waited at the links leaves now, in order, one latency away.
        for (auto *link : {&linkState(a, b), &linkState(b, a)}) {
            const uint64_t earliest = _reactor.now() + link->config.latencyNs;
            std::map<std::pair<uint64_t, uint64_t>, Link::Item> requeued;
            for (auto &[key, item] : link->queue)
                requeued.emplace(std::make_pair(std::max(key.first, earliest), key.second),
                                 std::move(item));
            link->queue.swap(requeued);
            arm(*link);
        }
        return;
    }
    _partitions.insert(unordered(a, b));
}

void SimNetwork::crash(const std::string &ip) {
    host(ip).crashed = true;
}

void SimNetwork::breakConnections(const std::string &a, const std::string &b,
                                  const std::string &reason) {
    _reactor.post([this, alive = _alive, a, b, reason] {
        if (!*alive)
            return;
        std::vector<Conn *> broken;
        for (auto &conn : _conns)
            if (conn->state != Conn::State::Closed && ((conn->host->ip == a && conn->peerIp == b) ||
                                                       (conn->host->ip == b && conn->peerIp == a)))
                broken.push_back(conn.get());
        for (Conn *conn : broken)
            endLocally(*conn, LANSPREAD_E_IO, reason);
    });
}

// --- links ---

void SimNetwork::send(const std::string &from, const std::string &to, std::size_t bytes,
                      std::function<void()> deliver, Conn *sender) {
    Link &link = linkState(from, to);
    const uint64_t now = _reactor.now();
    uint64_t departs = std::max(now, link.senderFreeAt);
    if (link.config.bytesPerSecond > 0)
        departs += static_cast<uint64_t>(double(bytes) * 1e9 / link.config.bytesPerSecond);
    link.senderFreeAt = departs;
    uint64_t at = departs + link.config.latencyNs;
    if (sender != nullptr) {
        at = std::max(at + sender->extraDelayNs, sender->lastDeliverAt);
        sender->lastDeliverAt = at;
    }
    link.queue.emplace(std::make_pair(at, link.nextSequence++),
                       Link::Item{bytes, std::move(deliver)});
    arm(link);
}

void SimNetwork::drawJitter(Conn &conn) {
    const uint64_t jitter = linkState(conn.host->ip, conn.peerIp).config.connectionJitterNs;
    conn.extraDelayNs = jitter == 0 ? 0 : _random() % (jitter + 1);
}

void SimNetwork::arm(Link &link) {
    if (link.timer != 0 || link.queue.empty() || partitioned(link.from, link.to))
        return;
    const uint64_t now = _reactor.now();
    const uint64_t at = link.queue.begin()->first.first;
    _reactor.startTimer(
        at > now ? at - now : 0,
        [this, alive = _alive, from = link.from, to = link.to] {
            if (*alive)
                pump(linkState(from, to));
        },
        link.timer);
}

void SimNetwork::pump(Link &link) {
    link.timer = 0;
    while (!link.queue.empty() && link.queue.begin()->first.first <= _reactor.now()) {
        if (partitioned(link.from, link.to))
            return; // held: the heal re-arms
        Link::Item item = std::move(link.queue.begin()->second);
        link.queue.erase(link.queue.begin());
        const Host *from = findHost(link.from);
        const Host *to = findHost(link.to);
        if (from == nullptr || to == nullptr || from->crashed || to->crashed)
            continue; // into the void
        ++link.traffic.segments;
        link.traffic.streamBytes += item.bytes;
        if (item.bytes > 0)
            link.traffic.lastDataAtNs = _reactor.now();
        item.deliver();
    }
    arm(link);
}

// --- endpoints and connections ---

lanspread_status SimNetwork::listen(Host &host, const lanspread_transport_config &config,
                                    const lanspread_transport_events *events, Endpoint *&out) {
    std::string ip;
    uint16_t port = 0;
    const std::string bind = config.bind_addr ? config.bind_addr : "";
    if (!splitAddr(bind, ip, port))
        return LANSPREAD_E_INVALID_ARGUMENT;
    if (ip != "0.0.0.0" && ip != host.ip && ip != "127.0.0.1")
        return LANSPREAD_E_IO; // no such address on this host
    if (port == 0)
        port = host.nextPort++;
    if (host.listeners.count(port))
        return LANSPREAD_E_IO; // in use
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->net = this;
    endpoint->host = &host;
    endpoint->port = port;
    endpoint->reportedAddr = ip + ":" + std::to_string(port);
    endpoint->events = events;
    endpoint->fingerprint = certificateFingerprint(config);
    host.listeners[port] = endpoint.get();
    out = endpoint.get();
    _endpoints.push_back(std::move(endpoint));
    return LANSPREAD_OK;
}

void SimNetwork::destroyEndpoint(Endpoint &endpoint) {
    if (endpoint.destroyed)
        return;
    endpoint.destroyed = true;
    endpoint.host->listeners.erase(endpoint.port);
    std::vector<Conn *> accepted;
    for (auto &conn : _conns)
        if (conn->endpoint == &endpoint && conn->state != Conn::State::Closed)
            accepted.push_back(conn.get());
    for (Conn *conn : accepted)
        close(*conn, 0);
}

lanspread_status SimNetwork::connect(Host &host, const lanspread_transport_config &config,
                                     const std::string &remoteAddr,
                                     const lanspread_transport_events *events, Conn *&out) {
    std::string ip;
    uint16_t port = 0;
    if (!splitAddr(remoteAddr, ip, port) || port == 0)
        return LANSPREAD_E_INVALID_ARGUMENT;
    const std::string target = ip == "127.0.0.1" ? host.ip : ip;
    ++host.dials;
    auto conn = std::make_unique<Conn>();
    conn->net = this;
    conn->host = &host;
    conn->events = events;
    conn->dialler = true;
    conn->known = true;
    conn->localAddr = host.ip + ":" + std::to_string(host.nextPort++);
    conn->remoteAddr = remoteAddr;
    conn->peerIp = target;
    conn->fingerprint = certificateFingerprint(config);
    Conn *client = conn.get();
    _conns.push_back(std::move(conn));
    drawJitter(*client);
    send(
        host.ip, target, 0, [this, client, target, port] { accept(*client, target, port); },
        client);
    out = client;
    return LANSPREAD_OK;
}

void SimNetwork::accept(Conn &client, const std::string &targetIp, uint16_t port) {
    if (client.state == Conn::State::Closed)
        return;
    Host *target = findHost(targetIp);
    if (target == nullptr)
        return; // nobody there: silence
    auto listener = target->listeners.find(port);
    if (listener == target->listeners.end()) {
        send(
            targetIp, client.host->ip, 0,
            [this, &client, targetIp, port] {
                if (client.state != Conn::State::Closed)
                    endLocally(client, LANSPREAD_E_IO,
                               "connection refused by " + targetIp + ":" + std::to_string(port));
            },
            nullptr);
        return;
    }
    Endpoint &endpoint = *listener->second;
    auto conn = std::make_unique<Conn>();
    conn->net = this;
    conn->host = target;
    conn->endpoint = &endpoint;
    conn->events = endpoint.events;
    conn->localAddr = targetIp + ":" + std::to_string(port);
    conn->remoteAddr = client.localAddr;
    conn->peerIp = client.host->ip;
    conn->fingerprint = endpoint.fingerprint;
    conn->nextStream = 1;
    conn->peer = &client;
    client.peer = conn.get();
    Conn *server = conn.get();
    _conns.push_back(std::move(conn));
    drawJitter(*server);
    // One round trip: the dialler is connected; half a trip later, the listener. The
    // listener's news leaves first, so it is connected before the dialler's first data.
    send(
        targetIp, client.host->ip, 0,
        [this, &client, server] {
            if (client.state == Conn::State::Closed)
                return;
            client.state = Conn::State::Open;
            send(
                client.host->ip, server->host->ip, 0,
                [this, &client, server] {
                    if (server->state == Conn::State::Closed)
                        return;
                    if (server->endpoint->destroyed) {
                        close(*server, 0);
                        return;
                    }
                    server->state = Conn::State::Open;
                    server->known = true;
                    lanspread_remote_identity remote{};
                    remote.struct_size = sizeof remote;
                    remote.remote_addr = server->remoteAddr.c_str();
                    remote.key_fingerprint = client.fingerprint.data();
                    remote.key_fingerprint_len = client.fingerprint.size();
                    server->events->on_connected(server->events->user_data, server->handle(),
                                                 &remote);
                },
                &client);
            lanspread_remote_identity remote{};
            remote.struct_size = sizeof remote;
            remote.remote_addr = client.remoteAddr.c_str();
            remote.key_fingerprint = server->fingerprint.data();
            remote.key_fingerprint_len = server->fingerprint.size();
            client.events->on_connected(client.events->user_data, client.handle(), &remote);
        },
        server);
}

void SimNetwork::endLocally(Conn &conn, lanspread_status status, const std::string &reason) {
    if (conn.state == Conn::State::Closed)
        return;
    conn.state = Conn::State::Closed;
    if (conn.known)
        conn.events->on_closed(conn.events->user_data, conn.handle(), status, reason.c_str());
}

void SimNetwork::close(Conn &conn, uint64_t appError) {
    if (conn.state == Conn::State::Closed)
        return;
    // The other end hears of it one latency later (unless the close is lost on the way).
    const std::string by = conn.localAddr;
    send(
        conn.host->ip, conn.peerIp, 0,
        [this, &conn, by, appError] {
            Conn *peer = conn.peer;
            if (peer == nullptr)
                return;
            if (appError == 0)
                endLocally(*peer, LANSPREAD_END, "closed by " + by);
            else
                endLocally(*peer, LANSPREAD_E_FAILED,
                           "closed by " + by + " with application error " + hex(appError));
        },
        &conn);
    endLocally(conn, LANSPREAD_OK, "closed locally (application error " + hex(appError) + ")");
}

// --- streams ---

SimNetwork::Stream *SimNetwork::stream(Conn &conn, uint64_t streamId) {
    auto it = conn.streams.find(streamId);
    return it == conn.streams.end() ? nullptr : &it->second;
}

lanspread_status SimNetwork::openStream(Conn &conn, uint64_t &outStreamId) {
    if (!conn.open())
        return LANSPREAD_E_FATAL;
    const uint64_t id = conn.nextStream;
    conn.nextStream += 4;
    Stream &st = conn.streams[id];
    st.id = id;
    st.sendLimit = _streamWindow;
    outStreamId = id;
    return LANSPREAD_OK;
}

lanspread_status SimNetwork::sendOn(Conn &conn, uint64_t streamId, const uint8_t *data,
                                    std::size_t len, uint32_t flags, std::size_t &accepted) {
    accepted = 0;
    if (!conn.open())
        return LANSPREAD_E_FATAL;
    Stream *st = stream(conn, streamId);
    if (st == nullptr || st->reset || st->finSent)
        return LANSPREAD_E_NOT_FOUND;
    const uint64_t credit = st->sendLimit - std::min(st->sendLimit, st->sent);
    const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(len, credit));
    const bool fin = (flags & LANSPREAD_STREAM_FIN) != 0 && take == len;
    if (take < len)
        st->wantWritable = true;
    accepted = take;
    if (take == 0 && !fin)
        return LANSPREAD_OK;
    st->sent += take;
    st->finSent = fin;
    Conn *peerConn = conn.peer;
    const std::size_t segment =
        std::max<std::size_t>(1, linkState(conn.host->ip, conn.peerIp).config.segmentBytes);
    std::size_t offset = 0;
    do {
        const std::size_t n = std::min(segment, take - offset);
        const bool last = offset + n == take;
        std::vector<uint8_t> bytes(data + offset, data + offset + n);
        send(
            conn.host->ip, conn.peerIp, n,
            [this, peerConn, streamId, bytes = std::move(bytes), fin = fin && last]() mutable {
                if (peerConn != nullptr)
                    deliverData(*peerConn, streamId, std::move(bytes), fin);
            },
            &conn);
        offset += n;
    } while (offset < take);
    return LANSPREAD_OK;
}

void SimNetwork::deliverData(Conn &to, uint64_t streamId, std::vector<uint8_t> bytes, bool fin) {
    if (!to.open())
        return;
    Stream *st = stream(to, streamId);
    if (st == nullptr) {
        Stream &fresh = to.streams[streamId];
        fresh.id = streamId;
        fresh.sendLimit = _streamWindow;
        to.events->on_stream_opened(to.events->user_data, to.handle(), streamId);
        if (!to.open())
            return;
        st = stream(to, streamId);
    }
    if (st->reset || st->finReceived)
        return; // abandoned here: what was in flight is dropped
    st->finReceived = fin;
    to.events->on_stream_data(to.events->user_data, to.handle(), streamId, bytes.data(),
                              bytes.size(), fin ? LANSPREAD_STREAM_FIN : 0u);
}

lanspread_status SimNetwork::consume(Conn &conn, uint64_t streamId, std::size_t bytes) {
    if (!conn.open())
        return LANSPREAD_E_NOT_FOUND;
    Stream *st = stream(conn, streamId);
    if (st == nullptr)
        return LANSPREAD_E_NOT_FOUND;
    if (bytes == 0 || st->reset)
        return LANSPREAD_OK;
    Conn *peerConn = conn.peer;
    send(
        conn.host->ip, conn.peerIp, 0,
        [this, peerConn, streamId, bytes] {
            if (peerConn == nullptr || !peerConn->open())
                return;
            Stream *writer = stream(*peerConn, streamId);
            if (writer == nullptr || writer->reset)
                return;
            writer->sendLimit += bytes;
            if (writer->wantWritable && !writer->finSent) {
                writer->wantWritable = false;
                peerConn->events->on_writable(peerConn->events->user_data, peerConn->handle(),
                                              streamId);
            }
        },
        &conn);
    return LANSPREAD_OK;
}

lanspread_status SimNetwork::resetStream(Conn &conn, uint64_t streamId) {
    if (!conn.open())
        return LANSPREAD_E_FATAL;
    Stream *st = stream(conn, streamId);
    if (st == nullptr)
        return LANSPREAD_E_NOT_FOUND;
    if (st->reset)
        return LANSPREAD_OK;
    st->reset = true;
    Conn *peerConn = conn.peer;
    send(
        conn.host->ip, conn.peerIp, 0,
        [peerConn, streamId, this] {
            if (peerConn == nullptr || !peerConn->open())
                return;
            Stream *other = stream(*peerConn, streamId);
            // Unknown there (nothing was ever sent), or already done both ways: nothing to say.
            if (other == nullptr || other->reset || (other->finReceived && other->finSent))
                return;
            other->reset = true;
            peerConn->events->on_stream_data(peerConn->events->user_data, peerConn->handle(),
                                             streamId, nullptr, 0, LANSPREAD_STREAM_RESET);
        },
        &conn);
    return LANSPREAD_OK;
}

// --- driving the reactor ---

void holdTimeForWorkers(host::Reactor &reactor, host::WorkerPool &workers) {
    reactor.holdTimeWhile([&workers] { return workers.busy(); });
}

bool runUntil(host::Reactor &reactor, const std::function<bool()> &done, uint64_t virtualLimitNs,
              std::chrono::milliseconds wallLimit) {
    const uint64_t virtualEnd = reactor.now() + virtualLimitNs;
    const auto wallEnd = std::chrono::steady_clock::now() + wallLimit;
    // A timer at the limit, so an otherwise quiet loop still reaches it.
    uint64_t limitTimer = 0;
    reactor.startTimer(
        virtualLimitNs, [] {}, limitTimer);
    reactor.runUntil([&] {
        return done() || reactor.now() >= virtualEnd || std::chrono::steady_clock::now() > wallEnd;
    });
    reactor.stopTimer(limitTimer);
    return done();
}

bool runFor(host::Reactor &reactor, uint64_t ns, std::chrono::milliseconds wallLimit) {
    const uint64_t end = reactor.now() + ns;
    runUntil(
        reactor, [&] { return reactor.now() >= end; }, ns, wallLimit);
    return reactor.now() >= end;
}

} // namespace lanspread::kernel::testing
