#include "harness.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace lanspread::plugins::quic::testing {

PluginInstance::PluginInstance(FakeHost &h) : host(h) {
    entry = lanspread_plugin_v1();
    if (entry->init(host.api(), &state) != LANSPREAD_OK)
        throw std::runtime_error("transport-quic init failed");
    api = static_cast<const lanspread_transport_v1 *>(
        entry->get_interface(state, LANSPREAD_TRANSPORT_INTERFACE_ID));
    if (api == nullptr)
        throw std::runtime_error("no lanspread.transport/1 interface");
    impl = dynamic_cast<QuicTransport *>(static_cast<Plugin *>(state));
}

PluginInstance::~PluginInstance() {
    entry->shutdown(state);
}

TransportSetup::TransportSetup(const TestIdentity &id, std::string bindAddr)
    : bind(std::move(bindAddr)), identity(&id) {
    config.struct_size = sizeof config;
    config.cert_der = id.certDer.data();
    config.cert_der_len = id.certDer.size();
    config.key_der = id.keyDer.data();
    config.key_der_len = id.keyDer.size();
}

std::string StreamRecord::digest() const {
    sha256_ctx copy = hash;
    std::vector<uint8_t> out(SHA256_DIGEST_SIZE);
    sha256_digest(&copy, SHA256_DIGEST_SIZE, out.data());
    return toHex(out);
}

void fillPattern(uint64_t seed, uint64_t offset, uint8_t *out, std::size_t len) {
    // xorshift over 8-byte words keyed by (seed, word index): random-looking, seekable.
    for (std::size_t i = 0; i < len;) {
        const uint64_t word = (offset + i) / 8;
        uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (word * 0xBF58476D1CE4E5B9ull);
        x ^= x >> 31;
        x *= 0x94D049BB133111EBull;
        x ^= x >> 29;
        const std::size_t from = static_cast<std::size_t>((offset + i) % 8);
        const std::size_t n = std::min<std::size_t>(8 - from, len - i);
        for (std::size_t k = 0; k < n; ++k)
            out[i + k] = static_cast<uint8_t>(x >> (8 * (from + k)));
        i += n;
    }
}

std::string patternDigest(uint64_t seed, uint64_t total) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    std::vector<uint8_t> chunk(1 << 20);
    for (uint64_t at = 0; at < total;) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), total - at));
        fillPattern(seed, at, chunk.data(), n);
        sha256_update(&ctx, n, chunk.data());
        at += n;
    }
    std::vector<uint8_t> out(SHA256_DIGEST_SIZE);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out.data());
    return toHex(out);
}

Recorder::Recorder(std::string name) : _name(std::move(name)) {
    _events.struct_size = sizeof _events;
    _events.user_data = this;
    _events.on_connected = &cbConnected;
    _events.on_stream_opened = &cbOpened;
    _events.on_stream_data = &cbData;
    _events.on_writable = &cbWritable;
    _events.on_closed = &cbClosed;
}

ConnRecord &Recorder::only() {
    if (order.empty())
        throw std::runtime_error(_name + ": no connection was reported");
    return conns[order.front()];
}

std::size_t Recorder::connectedCount() const {
    return static_cast<std::size_t>(std::count_if(
        conns.begin(), conns.end(), [](const auto &c) { return c.second.connected; }));
}

std::size_t Recorder::closedCount() const {
    return static_cast<std::size_t>(
        std::count_if(conns.begin(), conns.end(), [](const auto &c) { return c.second.closed; }));
}

void Recorder::cbConnected(void *ud, lanspread_transport_conn *conn,
                           const lanspread_remote_identity *remote) {
    auto *self = static_cast<Recorder *>(ud);
    ConnRecord &r = self->conns[conn];
    r.conn = conn;
    r.connected = true;
    r.remoteAddr = remote->remote_addr ? remote->remote_addr : "";
    r.fingerprint.assign(remote->key_fingerprint,
                         remote->key_fingerprint + remote->key_fingerprint_len);
    self->order.push_back(conn);
    if (self->onConnected)
        self->onConnected(conn, remote);
}

void Recorder::cbOpened(void *ud, lanspread_transport_conn *conn, uint64_t stream) {
    auto *self = static_cast<Recorder *>(ud);
    self->conns[conn].opened.push_back(stream);
}

void Recorder::cbData(void *ud, lanspread_transport_conn *conn, uint64_t stream,
                      const uint8_t *data, size_t len, uint32_t flags) {
    auto *self = static_cast<Recorder *>(ud);
    StreamRecord &s = self->conns[conn].streams[stream];
    s.bytes += len;
    if (len > 0)
        sha256_update(&s.hash, len, data);
    if (self->keepData)
        s.kept.insert(s.kept.end(), data, data + len);
    if (flags & LANSPREAD_STREAM_FIN)
        s.fin = true;
    if (flags & kStreamResetFlag)
        s.reset = true;
    if (self->autoConsume && len > 0 && self->api)
        self->api->consume(conn, stream, len);
    if (self->echo && self->api && !(flags & kStreamResetFlag)) {
        self->queueBytes(conn, stream, std::vector<uint8_t>(data, data + len),
                         (flags & LANSPREAD_STREAM_FIN) != 0);
    }
    if (self->onData)
        self->onData(conn, stream, data, len, flags);
}

void Recorder::cbWritable(void *ud, lanspread_transport_conn *conn, uint64_t stream) {
    auto *self = static_cast<Recorder *>(ud);
    ConnRecord &r = self->conns[conn];
    if (stream == kAnyStream) {
        ++r.openReadyCalls;
        return;
    }
    ++r.writableCalls;
    self->pump(conn, stream);
}

void Recorder::cbClosed(void *ud, lanspread_transport_conn *conn, lanspread_status status,
                        const char *reason) {
    auto *self = static_cast<Recorder *>(ud);
    ConnRecord &r = self->conns[conn];
    r.conn = conn;
    r.closed = true;
    r.closeStatus = status;
    r.closeReason = reason ? reason : "";
    // The handle is dead: forget what we meant to send on it.
    for (auto it = self->_out.begin(); it != self->_out.end();) {
        if (it->first.first == conn)
            it = self->_out.erase(it);
        else
            ++it;
    }
    if (self->onClosed)
        self->onClosed(conn, status, reason);
}

void Recorder::queue(lanspread_transport_conn *conn, uint64_t stream, uint64_t total, uint64_t seed,
                     bool fin) {
    Outbound &o = _out[{conn, stream}];
    o.total += total;
    o.seed = seed;
    o.fin = fin;
    pump(conn, stream);
}

void Recorder::queueBytes(lanspread_transport_conn *conn, uint64_t stream,
                          std::vector<uint8_t> bytes, bool fin) {
    Outbound &o = _out[{conn, stream}];
    o.seed = UINT64_MAX;
    o.bytes.erase(o.bytes.begin(), o.bytes.begin() + static_cast<std::ptrdiff_t>(o.sent - o.base));
    o.base = o.sent;
    o.bytes.insert(o.bytes.end(), bytes.begin(), bytes.end());
    o.total += bytes.size();
    o.fin = fin;
    pump(conn, stream);
}

void Recorder::pump(lanspread_transport_conn *conn, uint64_t stream) {
    auto it = _out.find({conn, stream});
    if (it == _out.end() || api == nullptr)
        return;
    Outbound &o = it->second;
    std::vector<uint8_t> chunk;
    while (o.sent < o.total || (o.fin && !o.finSent)) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<uint64_t>(256 * 1024, o.total - o.sent));
        const uint8_t *data = nullptr;
        if (o.seed == UINT64_MAX) {
            data = o.bytes.data() + (o.sent - o.base);
        } else {
            chunk.resize(n);
            fillPattern(o.seed, o.sent, chunk.data(), n);
            data = chunk.data();
        }
        const bool last = o.sent + n == o.total;
        const uint32_t flags = last && o.fin ? LANSPREAD_STREAM_FIN : 0;
        size_t accepted = 0;
        lanspread_status s = api->send(conn, stream, data, n, flags, &accepted);
        lastSendStatus = s;
        if (s != LANSPREAD_OK)
            return;
        o.sent += accepted;
        if (last && o.fin && accepted == n)
            o.finSent = true;
        if (accepted < n)
            return; // on_writable brings us back
        if (n == 0 && !o.fin)
            return;
    }
}

bool Recorder::allSent() const {
    return std::all_of(_out.begin(), _out.end(), [](const auto &e) {
        return e.second.sent == e.second.total && (!e.second.fin || e.second.finSent);
    });
}

uint64_t Recorder::bytesAccepted() const {
    uint64_t total = 0;
    for (const auto &e : _out)
        total += e.second.sent;
    return total;
}

bool runUntil(FakeHost &host, const std::function<bool()> &pred, uint64_t limitNs) {
    const uint64_t end = host.now() + limitNs;
    while (!pred()) {
        if (host.runOnce() == 0) {
            if (host.now() >= end || !host.advanceToNextTimer())
                return pred();
        } else if (host.now() > end) {
            return pred();
        }
    }
    return true;
}

} // namespace lanspread::plugins::quic::testing
