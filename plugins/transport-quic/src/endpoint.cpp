#include "endpoint.hpp"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <algorithm>
#include <string_view>

namespace lanspread::plugins::quic {

namespace {
constexpr std::size_t kMaxConnections = 4096; // per listening endpoint
constexpr unsigned kResetsPerSecond = 100;
// RFC 9000 §10.3: a stateless reset must be shorter than the packet that caused it (so two
// endpoints cannot loop), and at least 21 bytes long to look like a short-header packet.
constexpr std::size_t kMinResetTrigger = 43;
} // namespace

std::size_t Endpoint::CidHash::operator()(const CidKey &k) const noexcept {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char *>(k.bytes.data()), k.len));
}

Endpoint::CidKey Endpoint::key(const uint8_t *data, std::size_t len) {
    CidKey k;
    k.len = static_cast<uint8_t>(std::min<std::size_t>(len, k.bytes.size()));
    std::memcpy(k.bytes.data(), data, k.len);
    return k;
}

Endpoint::Endpoint(EndpointOwner &owner, const Host &host, bool server, const Options &options,
                   std::unique_ptr<PacketIo> io, std::shared_ptr<TlsCredentials> credentials,
                   TransportEvents events)
    : _owner(owner), _host(host), _server(server), _options(options), _io(std::move(io)),
      _credentials(std::move(credentials)), _events(events) {
    _io->setReceiver(this);
}

Endpoint::~Endpoint() {
    logRefusals(); // a count still waiting for its second is said now
    _refusalTimer.reset();
    _io->setReceiver(nullptr);
    _touched.clear();
    _connections.clear(); // before _cids: their destructors unregister their ids
    _cids.clear();
}

Result<Connection *> Endpoint::connect(const SockAddr &remote) {
    auto connection =
        std::make_unique<Connection>(*this, false, _io->localAddress(), remote, _events, _options);
    Status st = connection->initClient(_credentials);
    if (!st)
        return st;
    Connection *raw = connection.get();
    _connections.push_back(std::move(connection));
    return raw;
}

void Endpoint::shutdown(lanspread_status status, const std::string &reason) {
    if (_shutdown)
        return;
    _shutdown = true;
    // Index loop: an on_closed callback may (legally) make the host touch other endpoints.
    for (std::size_t i = 0; i < _connections.size(); ++i)
        _connections[i]->terminate(status, reason);
    _io->setReceiver(nullptr);
    _owner.scheduleReap();
}

bool Endpoint::reap() {
    auto dead = [](const std::unique_ptr<Connection> &c) { return c->dead(); };
    _touched.erase(
        std::remove_if(_touched.begin(), _touched.end(), [](Connection *c) { return c->dead(); }),
        _touched.end());
    _connections.erase(std::remove_if(_connections.begin(), _connections.end(), dead),
                       _connections.end());
    return _shutdown || (!_server && _connections.empty());
}

void Endpoint::addCid(const ngtcp2_cid &cid, Connection *connection) {
    _cids[key(cid.data, cid.datalen)] = connection;
}

void Endpoint::removeCid(const ngtcp2_cid &cid) {
    auto it = _cids.find(key(cid.data, cid.datalen));
    if (it != _cids.end())
        _cids.erase(it);
}

void Endpoint::makeResetToken(uint8_t *token, const ngtcp2_cid &cid) const {
    const auto &secret = _credentials->resetSecret();
    ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), &cid);
}

void Endpoint::sendStatelessReset(const SockAddr &to, const ngtcp2_version_cid &vc, std::size_t len,
                                  uint64_t now) {
    if (len < kMinResetTrigger || vc.dcidlen != kCidLen)
        return;
    if (now >= _resetBudgetAt + 1'000'000'000ull) {
        _resetBudgetAt = now;
        _resetBudget = kResetsPerSecond;
    }
    if (_resetBudget == 0)
        return;
    --_resetBudget;
    ngtcp2_cid cid{};
    ngtcp2_cid_init(&cid, vc.dcid, vc.dcidlen);
    uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    makeResetToken(token, cid);
    uint8_t random[kMinResetTrigger];
    const std::size_t randLen = std::min(sizeof random, len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN);
    gnutls_rnd(GNUTLS_RND_NONCE, random, randLen);
    uint8_t packet[kMinResetTrigger + NGTCP2_STATELESS_RESET_TOKENLEN];
    const ngtcp2_ssize n =
        ngtcp2_pkt_write_stateless_reset(packet, sizeof packet, token, random, randLen);
    if (n > 0)
        _io->send(to, packet, static_cast<std::size_t>(n), static_cast<std::size_t>(n));
}

void Endpoint::markTouched(Connection *connection) {
    if (!connection->touched) {
        connection->touched = true;
        _touched.push_back(connection);
    }
}

void Endpoint::onDatagrams(const SockAddr &from, const uint8_t *data, std::size_t len,
                           std::size_t segmentSize) {
    if (_shutdown)
        return;
    if (_batchNow == 0)
        _batchNow = static_cast<uint64_t>(_host.now().count());
    if (segmentSize == 0)
        segmentSize = len;
    for (std::size_t at = 0; at < len; at += segmentSize)
        onPacket(from, data + at, std::min(segmentSize, len - at), _batchNow);
}

void Endpoint::onPacket(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t now) {
    Connection *connection = nullptr;
    if (!_server) {
        // One connection per client endpoint; ngtcp2 drops what is not addressed to it.
        if (!_connections.empty())
            connection = _connections.front().get();
    } else {
        ngtcp2_version_cid vc{};
        if (ngtcp2_pkt_decode_version_cid(&vc, data, len, kCidLen) != 0)
            return; // garbage, or a version we do not speak (LAN peers all speak v1)
        auto it = _cids.find(key(vc.dcid, vc.dcidlen));
        if (it == _cids.end()) {
            if (data[0] & 0x80)
                accept(from, data, len, now); // long header: maybe a new client's Initial
            else
                sendStatelessReset(from, vc, len, now); // a connection we do not know (any more)
            return;
        }
        connection = it->second;
    }
    if (connection != nullptr && !connection->dead())
        connection->onPacket(from, data, len, now);
}

void Endpoint::accept(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t now) {
    if (_connections.size() >= kMaxConnections)
        return;
    ngtcp2_pkt_hd hd{};
    if (ngtcp2_accept(&hd, data, len) != 0)
        return; // not a client Initial: a stray packet of a connection we no longer have
    if (std::string why; overPendingCap(from, why)) {
        noteRefusal(from, why);
        return;
    }
    auto connection =
        std::make_unique<Connection>(*this, true, _io->localAddress(), from, _events, _options);
    Status st = connection->initServer(hd, _credentials);
    if (!st) {
        _host.warning("cannot accept a connection from " + from.toString() + ": " + st.describe());
        return;
    }
    Connection *raw = connection.get();
    _connections.push_back(std::move(connection));
    raw->onPacket(from, data, len, now);
}

bool Endpoint::overPendingCap(const SockAddr &from, std::string &why) const {
    const bool capAddress = !from.isLoopback();
    std::size_t pending = 0, fromHost = 0;
    for (const auto &c : _connections) {
        if (!c->pendingIncoming())
            continue;
        ++pending;
        if (capAddress && c->remote().sameHost(from))
            ++fromHost;
    }
    if (pending >= _options.maxPendingHandshakes) {
        why = std::to_string(_options.maxPendingHandshakes) +
              " incoming handshakes already in progress (max_pending_handshakes)";
        return true;
    }
    if (capAddress && fromHost >= _options.maxPendingPerAddress) {
        why = std::to_string(_options.maxPendingPerAddress) +
              " incoming handshakes from its address already in progress "
              "(max_pending_handshakes_per_address)";
        return true;
    }
    return false;
}

void Endpoint::noteRefusal(const SockAddr &from, const std::string &why) {
    ++_refusedTotal;
    ++_refusedUnlogged;
    _refusedLast = from.toString();
    _refusedWhy = why;
    constexpr std::chrono::nanoseconds kLogEvery = std::chrono::seconds(1);
    const std::chrono::nanoseconds now = _host.now();
    if (!_refusalLoggedAt || now - *_refusalLoggedAt >= kLogEvery) {
        logRefusals();
        return;
    }
    if (_refusalTimer.pending())
        return;
    auto timer = _host.startTimer(*_refusalLoggedAt + kLogEvery - now, [this] { logRefusals(); });
    if (timer)
        _refusalTimer = std::move(timer.value());
}

void Endpoint::logRefusals() {
    if (_refusedUnlogged == 0)
        return;
    if (_refusedUnlogged == 1)
        _host.warning("refused a connection from " + _refusedLast + ": " + _refusedWhy);
    else
        _host.warning("refused " + std::to_string(_refusedUnlogged) +
                      " connection attempts (Initials; the latest from " + _refusedLast +
                      "): " + _refusedWhy);
    _refusedUnlogged = 0;
    _refusalLoggedAt = _host.now();
}

void Endpoint::onReceiveDone() {
    _batchNow = 0;
    std::vector<Connection *> touched;
    touched.swap(_touched);
    for (Connection *c : touched) {
        c->touched = false;
        if (!c->dead())
            c->afterInput();
    }
}

void Endpoint::onSendReady() {
    for (std::size_t i = 0; i < _connections.size(); ++i)
        if (!_connections[i]->dead())
            _connections[i]->onSendReady();
}

} // namespace lanspread::plugins::quic
