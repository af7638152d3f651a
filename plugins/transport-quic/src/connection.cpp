#include "connection.hpp"

#include "endpoint.hpp"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace lanspread::plugins::quic {

namespace {

constexpr std::size_t kMaxVecs = 16;
// How many rounds of "write, tell writers, write what they added" one activity may run.
constexpr int kActivityRounds = 4;

ngtcp2_addr toAddr(const SockAddr &a) {
    ngtcp2_addr out{};
    out.addr = const_cast<sockaddr *>(a.sa());
    out.addrlen = a.len;
    return out;
}

std::string hex(uint64_t v) {
    char text[32];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(v));
    return text;
}

} // namespace

Connection::Connection(Endpoint &endpoint, bool server, const SockAddr &local,
                       const SockAddr &remote, TransportEvents events, const Options &options)
    : TransportConnection(endpoint.host()), _endpoint(endpoint), _server(server), _local(local),
      _remote(remote), _events(events), _options(options) {
    _connRef.get_conn = &cbGetConn;
    _connRef.user_data = this;
    _self = std::make_shared<Connection *>(this);
}

Connection::~Connection() {
    *_self = nullptr; // a posted flush still queued finds nobody
    _self.reset();
    _expiryTimer.reset();
    for (const ngtcp2_cid &cid : _cids)
        _endpoint.removeCid(cid);
    _streams.clear();
    if (_conn)
        ngtcp2_conn_del(_conn);
    _tls.reset();
}

ngtcp2_conn *Connection::cbGetConn(ngtcp2_crypto_conn_ref *ref) {
    return static_cast<Connection *>(ref->user_data)->_conn;
}

// ---------------------------------------------------------------------------------------------
// creation

void Connection::fillSettings(ngtcp2_settings &s) const {
    ngtcp2_settings_default(&s);
    s.initial_ts = now();
    s.cc_algo = _options.cc;
    s.initial_rtt = _options.initialRttNs;
    s.handshake_timeout = _options.handshakeTimeoutNs;
    // The payload size is the route's (or the configured one), not ngtcp2's 1200 + PMTUD
    // probing up to 1452: on a LAN the interface MTU is the path MTU.
    s.max_tx_udp_payload_size = _maxPayload;
    s.no_tx_udp_payload_size_shaping = 1;
    s.no_pmtud = 1;
    // ACK every ack-eliciting packet at once. We only write after a whole receive batch
    // (recvmmsg/GRO), so this means one ACK per batch, not per packet; with ngtcp2's default
    // of 2, a batch of one packet arms the delayed-ACK timer instead — a timer re-arm per
    // packet at LAN rates, and a sender that waits on it.
    s.ack_thresh = 1;
    // Windows move only as the host consumes (no auto-tuning): max_window stays 0.
}

void Connection::fillParams(ngtcp2_transport_params &p) const {
    ngtcp2_transport_params_default(&p);
    p.initial_max_stream_data_bidi_local = _options.streamWindow;
    p.initial_max_stream_data_bidi_remote = _options.streamWindow;
    p.initial_max_stream_data_uni = 0;
    p.initial_max_data = _options.connWindow;
    p.initial_max_streams_bidi = _options.maxStreams;
    p.initial_max_streams_uni = 0;
    p.max_idle_timeout = _options.idleTimeoutNs;
}

Status Connection::initClient(std::shared_ptr<TlsCredentials> credentials) {
    ngtcp2_cid dcid{}, scid{};
    dcid.datalen = scid.datalen = kCidLen;
    gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, kCidLen);
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, kCidLen);
    Status st = create(dcid, scid, nullptr, std::move(credentials));
    if (st)
        scheduleFlush(); // the first flight goes out on the next loop turn
    return st;
}

Status Connection::initServer(const ngtcp2_pkt_hd &initial,
                              std::shared_ptr<TlsCredentials> credentials) {
    ngtcp2_cid scid{};
    scid.datalen = kCidLen;
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, kCidLen);
    Status st = create(initial.scid, scid, &initial, std::move(credentials));
    if (st) {
        // The client addresses us by its original DCID until it learns our SCID.
        _endpoint.addCid(initial.dcid, this);
        _cids.push_back(initial.dcid);
    }
    return st;
}

Status Connection::create(const ngtcp2_cid &dcid, const ngtcp2_cid &scid,
                          const ngtcp2_pkt_hd *initial,
                          std::shared_ptr<TlsCredentials> credentials) {
    _maxPayload =
        _options.maxUdpPayload ? _options.maxUdpPayload : _endpoint.io().pathMaxUdpPayload(_remote);
    _maxPayload = std::clamp<std::size_t>(_maxPayload, 1200, 65527);
    _txBuffer.resize(_endpoint.io().maxSegments(_maxPayload) * _maxPayload);

    ngtcp2_callbacks cb{};
    if (_server) {
        cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
        cb.client_initial = ngtcp2_crypto_client_initial_cb;
        cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.handshake_completed = &cbHandshakeCompleted;
    cb.recv_stream_data = &cbRecvStreamData;
    cb.acked_stream_data_offset = &cbAckedStreamDataOffset;
    cb.stream_open = &cbStreamOpen;
    cb.stream_close = &cbStreamClose;
    cb.stream_reset = &cbStreamReset;
    cb.stream_stop_sending = &cbStreamStopSending;
    cb.extend_max_local_streams_bidi = &cbExtendMaxLocalStreamsBidi;
    cb.extend_max_stream_data = &cbExtendMaxStreamData;
    cb.rand = &cbRand;
    cb.get_new_connection_id = &cbGetNewConnectionId;
    cb.remove_connection_id = &cbRemoveConnectionId;
    cb.recv_stateless_reset = &cbRecvStatelessReset;

    ngtcp2_settings settings;
    fillSettings(settings);
    ngtcp2_transport_params params;
    fillParams(params);
    if (_server) {
        params.original_dcid = initial->dcid;
        params.stateless_reset_token_present = 1;
        _endpoint.makeResetToken(params.stateless_reset_token, scid);
    }
    ngtcp2_path path{};
    path.local = toAddr(_local);
    path.remote = toAddr(_remote);

    const int rv = _server
                       ? ngtcp2_conn_server_new(&_conn, &dcid, &scid, &path, initial->version, &cb,
                                                &settings, &params, nullptr, this)
                       : ngtcp2_conn_client_new(&_conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
                                                &cb, &settings, &params, nullptr, this);
    if (rv != 0)
        return Status(LANSPREAD_E_FAILED, std::string("ngtcp2_conn_new: ") + ngtcp2_strerror(rv));

    auto tls = TlsSession::create(_server, std::move(credentials), &_connRef);
    if (!tls)
        return tls.status();
    _tls = std::move(tls.value());
    ngtcp2_conn_set_tls_native_handle(_conn, _tls->native());
    if (_options.keepaliveNs > 0)
        ngtcp2_conn_set_keep_alive_timeout(_conn, _options.keepaliveNs);

    _endpoint.addCid(scid, this);
    _cids.push_back(scid);
    return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// ngtcp2 callbacks

int Connection::cbHandshakeCompleted(ngtcp2_conn *, void *userData) {
    auto *self = static_cast<Connection *>(userData);
    return self->handshakeCompleted() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

bool Connection::handshakeCompleted() {
    auto fingerprint = _tls->peerFingerprint();
    if (!fingerprint) {
        _failReason = fingerprint.status().message();
        return false;
    }
    if (!_tls->alpnAgreed()) {
        _failReason = std::string("the peer did not agree to ALPN \"") + kAlpn + "\"";
        return false;
    }
    _peerFingerprint = fingerprint.value();
    _state = State::Established;
    reportConnected();
    return true;
}

int Connection::cbRecvStreamData(ngtcp2_conn *, uint32_t flags, int64_t streamId, uint64_t,
                                 const uint8_t *data, std::size_t len, void *userData, void *) {
    auto *self = static_cast<Connection *>(userData);
    Stream *s = self->remoteStream(streamId);
    if (s == nullptr)
        return 0;
    s->delivered += len;
    const bool fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
    if (fin)
        s->recvEnded = true;
    // s may be gone after the host's callback (it may reset or close): not touched again.
    if (!self->_hostClosed && !self->_reportedClosed)
        self->_events.streamData(*self, static_cast<uint64_t>(streamId),
                                 std::span<const uint8_t>(data, len),
                                 fin ? LANSPREAD_STREAM_FIN : 0u);
    return 0;
}

int Connection::cbAckedStreamDataOffset(ngtcp2_conn *, int64_t streamId, uint64_t offset,
                                        uint64_t datalen, void *userData, void *) {
    auto *self = static_cast<Connection *>(userData);
    Stream *s = self->findStream(streamId);
    if (s == nullptr)
        return 0;
    const std::size_t freed = s->tx.ackTo(offset + datalen);
    self->_connBuffered -= freed;
    return 0;
}

int Connection::cbStreamOpen(ngtcp2_conn *, int64_t streamId, void *userData) {
    static_cast<Connection *>(userData)->remoteStream(streamId);
    return 0;
}

int Connection::cbStreamClose(ngtcp2_conn *conn, uint32_t, int64_t streamId, uint64_t,
                              void *userData, void *) {
    auto *self = static_cast<Connection *>(userData);
    self->_counters.streamLosses += ngtcp2_conn_get_stream_loss_count(conn, streamId);
    if (!ngtcp2_conn_is_local_stream(conn, streamId) && ngtcp2_is_bidi_stream(streamId))
        ngtcp2_conn_extend_max_streams_bidi(conn, 1); // the peer may open another one
    Stream *s = self->findStream(streamId);
    if (s == nullptr)
        return 0;
    s->closed = true;
    s->writeClosed = true;
    self->dropStreamTx(*s);
    self->maybeForget(*s);
    return 0;
}

int Connection::cbStreamReset(ngtcp2_conn *, int64_t streamId, uint64_t, uint64_t, void *userData,
                              void *) {
    auto *self = static_cast<Connection *>(userData);
    Stream *s = self->remoteStream(streamId);
    if (s == nullptr || s->recvEnded || s->abandonReported)
        return 0;
    s->recvEnded = true;
    s->abandonReported = true;
    if (!self->_hostClosed && !self->_reportedClosed)
        self->_events.streamData(*self, static_cast<uint64_t>(streamId), {}, kStreamResetFlag);
    return 0;
}

int Connection::cbStreamStopSending(ngtcp2_conn *, int64_t streamId, uint64_t appError,
                                    void *userData, void *) {
    auto *self = static_cast<Connection *>(userData);
    Stream *s = self->findStream(streamId);
    if (s == nullptr)
        return 0;
    // No more sending; the buffer stays until stream_close (see dropStreamTx).
    s->writeClosed = true;
    // RESET_STREAM in answer (ngtcp2 may already have queued it; a second call is harmless).
    self->_deferredResets.push_back(DeferredReset{streamId, appError, true});
    // The host must learn that its answer is unwanted even when the request already ended
    // with FIN (then no stream_reset follows): it is reported like a reset.
    if (!s->abandonReported && !self->_hostClosed && !self->_reportedClosed) {
        s->abandonReported = true;
        self->_events.streamData(*self, static_cast<uint64_t>(streamId), {}, kStreamResetFlag);
    }
    return 0;
}

int Connection::cbExtendMaxLocalStreamsBidi(ngtcp2_conn *, uint64_t, void *userData) {
    auto *self = static_cast<Connection *>(userData);
    if (self->_openBlocked) {
        self->_openBlocked = false;
        self->_openReady = true;
    }
    return 0;
}

int Connection::cbExtendMaxStreamData(ngtcp2_conn *, int64_t streamId, uint64_t, void *userData,
                                      void *) {
    auto *self = static_cast<Connection *>(userData);
    if (Stream *s = self->findStream(streamId); s != nullptr && s->flowBlocked) {
        s->flowBlocked = false;
        self->enqueue(*s);
    }
    return 0;
}

void Connection::cbRand(uint8_t *dest, std::size_t len, const ngtcp2_rand_ctx *) {
    gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

int Connection::cbGetNewConnectionId(ngtcp2_conn *, ngtcp2_cid *cid, uint8_t *token,
                                     std::size_t cidlen, void *userData) {
    auto *self = static_cast<Connection *>(userData);
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    self->_endpoint.makeResetToken(token, *cid);
    self->_endpoint.addCid(*cid, self);
    self->_cids.push_back(*cid);
    return 0;
}

int Connection::cbRemoveConnectionId(ngtcp2_conn *, const ngtcp2_cid *cid, void *userData) {
    auto *self = static_cast<Connection *>(userData);
    self->_endpoint.removeCid(*cid);
    auto &cids = self->_cids;
    cids.erase(std::remove_if(cids.begin(), cids.end(),
                              [&](const ngtcp2_cid &c) { return ngtcp2_cid_eq(&c, cid) != 0; }),
               cids.end());
    return 0;
}

int Connection::cbRecvStatelessReset(ngtcp2_conn *, const ngtcp2_pkt_stateless_reset *,
                                     void *userData) {
    static_cast<Connection *>(userData)->_statelessReset = true; // read_pkt: NGTCP2_ERR_DRAINING
    return 0;
}

// ---------------------------------------------------------------------------------------------
// streams

Connection::Stream *Connection::findStream(int64_t id) {
    auto it = _streams.find(id);
    return it == _streams.end() ? nullptr : it->second.get();
}

Connection::Stream *Connection::remoteStream(int64_t id) {
    if (Stream *s = findStream(id))
        return s;
    // A stream of ours we already forgot, or a unidirectional one (we allow none): ignore.
    if (_conn == nullptr || ngtcp2_conn_is_local_stream(_conn, id) || !ngtcp2_is_bidi_stream(id))
        return nullptr;
    auto stream = std::make_unique<Stream>();
    stream->id = id;
    Stream *s = stream.get();
    _streams.emplace(id, std::move(stream));
    if (!_hostClosed && !_reportedClosed) {
        _events.streamOpened(*this, static_cast<uint64_t>(id));
        s = findStream(id); // the host may have reset it already
    }
    return s;
}

void Connection::enqueue(Stream &s) {
    if (s.queued || s.writeClosed || s.flowBlocked)
        return;
    s.queued = true;
    _sendQueue.push_back(s.id);
}

// Only once ngtcp2 closed the stream (or the connection): until then ngtcp2 may still hold
// ngtcp2_vec pointers into the blocks for retransmission, even after a reset was requested.
void Connection::dropStreamTx(Stream &s) {
    _connBuffered -= s.tx.clear();
}

void Connection::maybeForget(Stream &s) {
    if (s.closed && s.consumed == s.delivered && !s.wantWritable)
        _streams.erase(s.id);
}

std::size_t Connection::roomFor(const Stream &s) const {
    const std::size_t streamCap = static_cast<std::size_t>(_options.streamSendBuffer);
    const std::size_t connCap = static_cast<std::size_t>(_options.connSendBuffer);
    const std::size_t streamRoom = streamCap > s.tx.buffered() ? streamCap - s.tx.buffered() : 0;
    const std::size_t connRoom = connCap > _connBuffered ? connCap - _connBuffered : 0;
    return std::min(streamRoom, connRoom);
}

// ---------------------------------------------------------------------------------------------
// the host's calls

Result<uint64_t> Connection::openStream() {
    if (_conn == nullptr || _hostClosed || _reportedClosed || _state == State::Closing ||
        _state == State::Dead)
        return Result<uint64_t>(LANSPREAD_E_FATAL, "the connection is closed");
    int64_t id = -1;
    const int rv = ngtcp2_conn_open_bidi_stream(_conn, &id, nullptr);
    if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
        _openBlocked = true;
        return Result<uint64_t>(LANSPREAD_E_AGAIN, {});
    }
    if (rv != 0)
        return Result<uint64_t>(LANSPREAD_E_FAILED,
                                std::string("open_stream: ") + ngtcp2_strerror(rv));
    auto stream = std::make_unique<Stream>();
    stream->id = id;
    _streams.emplace(id, std::move(stream));
    return static_cast<uint64_t>(id);
}

Result<std::size_t> Connection::send(uint64_t streamId, std::span<const uint8_t> data,
                                     uint32_t flags) {
    using R = Result<std::size_t>;
    if (_conn == nullptr || _hostClosed || _reportedClosed || _state == State::Closing ||
        _state == State::Dead)
        return R(LANSPREAD_E_FATAL, "the connection is closed");
    Stream *s = streamId <= static_cast<uint64_t>(INT64_MAX)
                    ? findStream(static_cast<int64_t>(streamId))
                    : nullptr;
    if (s == nullptr || s->writeClosed || s->finRequested)
        return R(LANSPREAD_E_NOT_FOUND, {});
    const std::size_t take = std::min(data.size(), roomFor(*s));
    if (take > 0) {
        s->tx.append(data.data(), take);
        _connBuffered += take;
    }
    if (take < data.size()) {
        s->wantWritable = true;
        _wantWritable.insert(s->id);
    } else if (flags & LANSPREAD_STREAM_FIN) {
        s->finRequested = true;
    }
    if (take > 0 || s->finRequested) {
        enqueue(*s);
        scheduleFlush();
    }
    return take;
}

Status Connection::consume(uint64_t streamId, std::size_t bytes) {
    if (_conn == nullptr || _reportedClosed || _state == State::Dead)
        return Status(LANSPREAD_E_FATAL, "the connection is closed");
    Stream *s = streamId <= static_cast<uint64_t>(INT64_MAX)
                    ? findStream(static_cast<int64_t>(streamId))
                    : nullptr;
    if (s == nullptr)
        return Status(LANSPREAD_E_NOT_FOUND);
    // Credit only what was delivered: a host cannot widen the window beyond its buffer.
    const uint64_t n = std::min<uint64_t>(bytes, s->delivered - s->consumed);
    if (n > 0) {
        s->consumed += n;
        if (!s->closed)
            ngtcp2_conn_extend_max_stream_offset(_conn, s->id, n);
        ngtcp2_conn_extend_max_offset(_conn, n);
        scheduleFlush();
    }
    maybeForget(*s);
    return Status::ok();
}

Status Connection::resetStream(uint64_t streamId, uint64_t appError) {
    if (_conn == nullptr || _hostClosed || _reportedClosed || _state == State::Dead)
        return Status(LANSPREAD_E_FATAL, "the connection is closed");
    Stream *s = streamId <= static_cast<uint64_t>(INT64_MAX)
                    ? findStream(static_cast<int64_t>(streamId))
                    : nullptr;
    if (s == nullptr)
        return Status(LANSPREAD_E_NOT_FOUND);
    if (!s->closed) {
        if (_inNgtcp2 > 0) {
            _deferredResets.push_back(DeferredReset{s->id, appError, false});
        } else {
            ++_inNgtcp2;
            ngtcp2_conn_shutdown_stream(_conn, s->id, appError);
            --_inNgtcp2;
            s = findStream(static_cast<int64_t>(streamId));
        }
    }
    if (s != nullptr) {
        s->writeClosed = true; // its buffer goes at stream_close (see dropStreamTx)
        s->recvEnded = true;
        // Bytes delivered but not consumed will never be: give the connection window back.
        const uint64_t unconsumed = s->delivered - s->consumed;
        s->consumed = s->delivered;
        if (unconsumed > 0)
            ngtcp2_conn_extend_max_offset(_conn, unconsumed);
        s->wantWritable = false;
        _wantWritable.erase(s->id);
        maybeForget(*s);
    }
    scheduleFlush();
    return Status::ok();
}

Status Connection::initiateKeyUpdate() {
    if (_conn == nullptr || _state != State::Established)
        return Status(LANSPREAD_E_FATAL, "the connection is not established");
    const int rv = ngtcp2_conn_initiate_key_update(_conn, now());
    if (rv != 0)
        return Status(LANSPREAD_E_AGAIN, ngtcp2_strerror(rv));
    scheduleFlush();
    return Status::ok();
}

void Connection::close(uint64_t appError) {
    if (_hostClosed || _reportedClosed)
        return;
    _hostClosed = true;
    if (_state == State::Dead || _state == State::Closing)
        return;
    if (_inNgtcp2 > 0) {
        _closeRequested = true;
        _closeAppError = appError;
        return;
    }
    ngtcp2_connection_close_error error;
    ngtcp2_connection_close_error_default(&error);
    ngtcp2_connection_close_error_set_application_error(&error, appError, nullptr, 0);
    closeWith(error, LANSPREAD_OK, "closed locally (application error " + hex(appError) + ")");
}

// ---------------------------------------------------------------------------------------------
// input, output, timers

void Connection::onPacket(const SockAddr &from, const uint8_t *data, std::size_t len, uint64_t ts) {
    if (_state == State::Dead)
        return;
    if (_state == State::Closing) {
        // RFC 9000 §10.2.1: answer with the CONNECTION_CLOSE again, ever more sparingly.
        ++_closingPacketsSeen;
        if ((_closingPacketsSeen & (_closingPacketsSeen - 1)) == 0 && !_closePacket.empty())
            _endpoint.io().send(_remote, _closePacket.data(), _closePacket.size(),
                                _closePacket.size());
        return;
    }
    ngtcp2_path path{};
    path.local = toAddr(_local);
    path.remote = toAddr(from);
    ngtcp2_pkt_info pi{};
    _endpoint.markTouched(this);
    ++_counters.packetsIn;
    ++_inNgtcp2;
    const int rv = ngtcp2_conn_read_pkt(_conn, &path, &pi, data, len, ts);
    --_inNgtcp2;
    if (rv != 0 && rv != NGTCP2_ERR_DISCARD_PKT)
        fail(rv);
}

void Connection::afterInput() {
    runAfterActivity();
}

void Connection::onSendReady() {
    _ioBlocked = false;
    runAfterActivity();
}

void Connection::scheduleFlush() {
    if (_inNgtcp2 > 0 || _inActivity || touched || _flushPosted || _state == State::Dead)
        return;
    std::weak_ptr<Connection *> weak = _self;
    ++_counters.flushPosts;
    _flushPosted = host().post([weak] {
        auto self = weak.lock();
        if (self && *self != nullptr) {
            (*self)->_flushPosted = false;
            (*self)->runAfterActivity();
        }
    });
}

void Connection::runAfterActivity() {
    if (_state == State::Dead || _inActivity)
        return;
    _inActivity = true;
    processDeferred();
    bool burstLimited = false;
    for (int round = 0; round < kActivityRounds; ++round) {
        if (_state != State::Handshaking && _state != State::Established)
            break;
        burstLimited = writeOut();
        const std::size_t queuedBefore = _sendQueue.size();
        notifyWritable();
        processDeferred();
        // Write again only for what the host added in on_writable; after a full burst the
        // rest waits for the next loop turn, so input (ACKs) and other connections get a go.
        if (burstLimited || _sendQueue.size() == queuedBefore)
            break;
    }
    _inActivity = false;
    if (burstLimited)
        scheduleFlush();
    updateTimer();
}

void Connection::processDeferred() {
    if (_conn == nullptr || _state == State::Dead)
        return;
    if (_closeRequested) {
        _closeRequested = false;
        ngtcp2_connection_close_error error;
        ngtcp2_connection_close_error_default(&error);
        ngtcp2_connection_close_error_set_application_error(&error, _closeAppError, nullptr, 0);
        closeWith(error, LANSPREAD_OK,
                  "closed locally (application error " + hex(_closeAppError) + ")");
        return;
    }
    auto resets = std::move(_deferredResets);
    _deferredResets.clear();
    for (const DeferredReset &r : resets) {
        ++_inNgtcp2;
        if (r.writeOnly)
            ngtcp2_conn_shutdown_stream_write(_conn, r.id, r.appError);
        else
            ngtcp2_conn_shutdown_stream(_conn, r.id, r.appError);
        --_inNgtcp2;
    }
}

bool Connection::flushBatch(const SockAddr &to, const uint8_t *data, std::size_t len,
                            std::size_t segment) {
    ++_counters.sendCalls;
    _counters.packetsOut += (len + segment - 1) / segment;
    switch (_endpoint.io().send(to, data, len, segment)) {
    case PacketIo::SendResult::Sent:
    case PacketIo::SendResult::Failed: return true; // a failed send is a lost packet
    case PacketIo::SendResult::Blocked: _ioBlocked = true; return false;
    }
    return true;
}

bool Connection::writeOut() {
    if (_conn == nullptr || _ioBlocked ||
        (_state != State::Handshaking && _state != State::Established))
        return false;
    const uint64_t ts = now();
    ++_counters.writeCalls;
    PacketIo &io = _endpoint.io();
    const std::size_t maxSegments = io.maxSegments(_maxPayload);
    // Bursts of ngtcp2's send quantum (never less than one full GSO batch), each followed by
    // ngtcp2_conn_update_pkt_tx_time, for as long as ngtcp2's pacer and congestion window
    // allow (writev returns 0 when they do not; the pacer's next slot is part of
    // ngtcp2_conn_get_expiry). A call writes at most kMaxBytesPerCall, so input is not
    // starved; the rest goes on the next loop turn.
    constexpr std::size_t kMaxBytesPerCall = 4 * 1024 * 1024;
    const std::size_t quantum = ngtcp2_conn_get_send_quantum(_conn);
    const std::size_t burstPackets = std::max(maxSegments, quantum / _maxPayload);
    std::size_t burst = 0, bytesThisCall = 0;

    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    uint8_t *const base = _txBuffer.data();
    std::size_t batchLen = 0, batchCount = 0, segment = 0;
    SockAddr batchTo;
    bool connFlowBlocked = false;
    bool burstLimited = false;
    bool wroteData = false; // pacing is for data: ACK-only writes do not move the pacer
    ngtcp2_vec vecs[kMaxVecs];

    for (;;) {
        Stream *s = nullptr;
        while (!connFlowBlocked && !_sendQueue.empty()) {
            s = findStream(_sendQueue.front());
            if (s != nullptr && !s->writeClosed && !s->flowBlocked &&
                (s->tx.unsent() > 0 || (s->finRequested && !s->finSent)))
                break;
            if (s != nullptr)
                s->queued = false;
            _sendQueue.pop_front();
            s = nullptr;
        }
        int64_t streamId = -1;
        std::size_t nvecs = 0;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        std::size_t offered = 0;
        if (s != nullptr) {
            streamId = s->id;
            nvecs = s->tx.gather(vecs, kMaxVecs);
            for (std::size_t i = 0; i < nvecs; ++i)
                offered += vecs[i].len;
            if (s->finRequested && offered == s->tx.unsent())
                flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        }
        uint8_t *dest = base + batchLen;
        ngtcp2_ssize accepted = -1;
        ++_inNgtcp2;
        const ngtcp2_ssize nwrite =
            ngtcp2_conn_writev_stream(_conn, &ps.path, &pi, dest, _maxPayload, &accepted, flags,
                                      streamId, nvecs ? vecs : nullptr, nvecs, ts);
        --_inNgtcp2;
        if (s != nullptr)
            s = findStream(streamId); // a callback may have dropped it
        if (s != nullptr && accepted >= 0) {
            wroteData = wroteData || accepted > 0;
            s->tx.markWritten(static_cast<std::size_t>(accepted));
            if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) &&
                static_cast<std::size_t>(accepted) == offered)
                s->finSent = true;
        }
        // Round robin: the stream that just wrote goes to the back of the queue.
        if (s != nullptr && !_sendQueue.empty() && _sendQueue.front() == streamId) {
            _sendQueue.pop_front();
            if (s->tx.unsent() > 0 || (s->finRequested && !s->finSent))
                _sendQueue.push_back(streamId);
            else
                s->queued = false;
        }
        if (nwrite < 0) {
            if (nwrite == NGTCP2_ERR_WRITE_MORE)
                continue; // room left in this packet: offer the next stream
            if (nwrite == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                if (s != nullptr && ngtcp2_conn_get_max_stream_data_left(_conn, streamId) == 0) {
                    s->flowBlocked = true; // extend_max_stream_data re-queues it
                } else {
                    connFlowBlocked = true; // MAX_DATA: retried after the next input
                    if (s != nullptr)
                        enqueue(*s);
                }
                continue;
            }
            if (nwrite == NGTCP2_ERR_STREAM_SHUT_WR || nwrite == NGTCP2_ERR_STREAM_NOT_FOUND) {
                if (s != nullptr)
                    s->writeClosed = true; // the buffer goes at stream_close
                continue;
            }
            if (batchLen > 0)
                flushBatch(batchTo, base, batchLen, segment);
            fail(static_cast<int>(nwrite));
            return false;
        }
        if (nwrite == 0)
            break; // congestion window, pacing, or nothing to send
        const std::size_t n = static_cast<std::size_t>(nwrite);
        // One GSO batch: same destination, equal sizes, only the last may be shorter.
        const bool sameTo = batchCount > 0 && ps.path.remote.addrlen == batchTo.len &&
                            std::memcmp(ps.path.remote.addr, batchTo.sa(), batchTo.len) == 0;
        if (batchCount > 0 && (n > segment || !sameTo)) {
            if (!flushBatch(batchTo, base, batchLen, segment)) {
                flushBatch(SockAddr::from(ps.path.remote.addr, ps.path.remote.addrlen), dest, n,
                           n); // queued behind it
                batchLen = batchCount = 0;
                break;
            }
            std::memmove(base, dest, n);
            batchLen = batchCount = 0;
        }
        if (batchCount == 0) {
            segment = n;
            batchTo = SockAddr::from(ps.path.remote.addr, ps.path.remote.addrlen);
        }
        batchLen += n;
        ++batchCount;
        ++burst;
        bytesThisCall += n;
        const bool burstDone = burst >= burstPackets;
        if (n < segment || batchCount >= maxSegments || burstDone) {
            const bool more = flushBatch(batchTo, base, batchLen, segment);
            batchLen = batchCount = 0;
            if (!more)
                break;
        }
        if (burstDone) {
            if (wroteData)
                ngtcp2_conn_update_pkt_tx_time(_conn, ts);
            burst = 0;
            if (bytesThisCall >= kMaxBytesPerCall) {
                burstLimited = true;
                break;
            }
        }
    }
    if (batchLen > 0)
        flushBatch(batchTo, base, batchLen, segment);
    // Skipped after ACK-only writes: their bytes are counted at the next data burst, and the
    // pacer's deadline (part of ngtcp2_conn_get_expiry) would otherwise wake us after every
    // ACK for nothing.
    if (wroteData)
        ngtcp2_conn_update_pkt_tx_time(_conn, ts);
    // Rotate keys well before the AEAD's confidentiality limit (2^23 packets for AES-GCM,
    // RFC 9001 §6.6): at 1472-byte packets that is every ~5.7 GiB. ngtcp2 refuses while the
    // previous update is unconfirmed; then we try again on a later write.
    if (_counters.packetsOut >= _keyUpdateAt && _state == State::Established) {
        if (ngtcp2_conn_initiate_key_update(_conn, ts) == 0)
            _keyUpdateAt = _counters.packetsOut + kKeyUpdatePackets;
        else
            _keyUpdateAt = _counters.packetsOut + 1024;
    }
    return burstLimited && !_ioBlocked;
}

void Connection::notifyWritable() {
    if (_hostClosed || _reportedClosed)
        return;
    if (_openReady) {
        _openReady = false;
        _events.writable(*this, kAnyStream);
        if (_hostClosed || _reportedClosed)
            return;
    }
    if (_wantWritable.empty())
        return;
    const std::size_t cap =
        static_cast<std::size_t>(std::min(_options.streamSendBuffer, _options.connSendBuffer));
    const std::size_t threshold = std::clamp<std::size_t>(cap / 4, 1, 1024 * 1024);
    std::vector<int64_t> ready;
    for (int64_t id : _wantWritable) {
        const Stream *s = findStream(id);
        if (s == nullptr || s->writeClosed || roomFor(*s) >= threshold)
            ready.push_back(id);
    }
    for (int64_t id : ready) {
        _wantWritable.erase(id);
        if (Stream *s = findStream(id)) {
            s->wantWritable = false;
            maybeForget(*s);
        }
        if (_hostClosed || _reportedClosed)
            return;
        _events.writable(*this, static_cast<uint64_t>(id));
    }
}

void Connection::updateTimer() {
    uint64_t expiry = UINT64_MAX;
    if (_state == State::Closing)
        expiry = _closingDeadline;
    else if (_state != State::Dead && _conn != nullptr)
        expiry = ngtcp2_conn_get_expiry(_conn);
    if (expiry == UINT64_MAX)
        return; // a pending timer fires, finds nothing due, and is not re-armed
    if (_expiryTimer.pending() && _expiryDeadline <= expiry)
        return; // fires early, then re-arms for the real deadline
    const uint64_t t = now();
    auto timer = host().startTimer(std::chrono::nanoseconds(expiry > t ? expiry - t : 0),
                                   [this] { onExpiry(); });
    ++_counters.timerArms;
    if (timer) {
        _expiryTimer = std::move(timer.value());
        _expiryDeadline = expiry;
    }
}

void Connection::onExpiry() {
    _expiryDeadline = UINT64_MAX;
    ++_counters.timerFires;
    if (_state == State::Dead)
        return;
    if (_state == State::Closing) {
        if (now() >= _closingDeadline)
            setDead();
        else
            updateTimer();
        return;
    }
    ++_inNgtcp2;
    const int rv = ngtcp2_conn_handle_expiry(_conn, now());
    --_inNgtcp2;
    if (rv != 0) {
        fail(rv);
        return;
    }
    runAfterActivity();
}

// ---------------------------------------------------------------------------------------------
// the end of a connection

void Connection::fail(int liberr) {
    if (_state == State::Closing || _state == State::Dead)
        return;
    ngtcp2_connection_close_error error;
    ngtcp2_connection_close_error_default(&error);
    switch (liberr) {
    case NGTCP2_ERR_DRAINING: enterDraining(); return;
    case NGTCP2_ERR_IDLE_CLOSE:
        reportClosed(LANSPREAD_E_IO,
                     "idle timeout: nothing heard from " + _remote.toString() + " for " +
                         std::to_string(_options.idleTimeoutNs / 1'000'000) + " ms");
        setDead();
        return;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
        reportClosed(LANSPREAD_E_IO, "handshake with " + _remote.toString() + " timed out");
        setDead();
        return;
    case NGTCP2_ERR_DROP_CONN:
        reportClosed(LANSPREAD_E_IO, "connection with " + _remote.toString() + " dropped");
        setDead();
        return;
    case NGTCP2_ERR_CRYPTO: {
        const uint8_t alert = ngtcp2_conn_get_tls_alert(_conn);
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&error, alert, nullptr, 0);
        const char *name = gnutls_alert_get_strname(static_cast<gnutls_alert_description_t>(alert));
        closeWith(error, LANSPREAD_E_FAILED,
                  "TLS handshake with " + _remote.toString() +
                      " failed (alert: " + (name ? name : std::to_string(alert)) + ")");
        return;
    }
    default: break;
    }
    if (liberr == NGTCP2_ERR_CALLBACK_FAILURE && !_failReason.empty()) {
        // Our own refusal during the handshake: no ALPN agreement, or no usable certificate.
        ngtcp2_connection_close_error_set_transport_error_tls_alert(
            &error, _tls && !_tls->alpnAgreed() ? 120 /* no_application_protocol */ : 42, nullptr,
            0);
        closeWith(error, LANSPREAD_E_FAILED,
                  "handshake with " + _remote.toString() + " refused: " + _failReason);
        return;
    }
    ngtcp2_connection_close_error_set_transport_error_liberr(&error, liberr, nullptr, 0);
    closeWith(error, LANSPREAD_E_FAILED,
              "QUIC error with " + _remote.toString() + ": " + ngtcp2_strerror(liberr));
}

void Connection::enterDraining() {
    if (_statelessReset) {
        reportClosed(LANSPREAD_E_IO, _remote.toString() +
                                         " reset the connection: it no longer knows it "
                                         "(restarted?)");
        setDead();
        return;
    }
    ngtcp2_connection_close_error error;
    ngtcp2_conn_get_connection_close_error(_conn, &error);
    std::string reason =
        error.reason && error.reasonlen
            ? " (" + std::string(reinterpret_cast<char *>(error.reason), error.reasonlen) + ")"
            : std::string();
    lanspread_status status = LANSPREAD_END;
    std::string text;
    if (error.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
        text = error.error_code == 0 ? "closed by " + _remote.toString()
                                     : "closed by " + _remote.toString() +
                                           " with application error " + hex(error.error_code);
        if (error.error_code != 0)
            status = LANSPREAD_E_FAILED;
    } else if (error.error_code == NGTCP2_NO_ERROR) {
        text = "closed by " + _remote.toString();
    } else {
        status = LANSPREAD_E_FAILED;
        text = "closed by " + _remote.toString() + " with transport error " + hex(error.error_code);
    }
    reportClosed(status, text + reason);
    setDead(); // draining: nothing more may be sent; stray packets are dropped
}

void Connection::closeWith(const ngtcp2_connection_close_error &error, lanspread_status status,
                           const std::string &reason) {
    ngtcp2_ssize n = 0;
    if (_conn != nullptr && !ngtcp2_conn_is_in_closing_period(_conn) &&
        !ngtcp2_conn_is_in_draining_period(_conn)) {
        ngtcp2_path_storage ps;
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_pkt_info pi{};
        ++_inNgtcp2;
        n = ngtcp2_conn_write_connection_close(_conn, &ps.path, &pi, _txBuffer.data(), _maxPayload,
                                               &error, now());
        --_inNgtcp2;
    }
    for (auto &[id, s] : _streams)
        dropStreamTx(*s);
    _sendQueue.clear();
    if (n > 0) {
        _closePacket.assign(_txBuffer.data(), _txBuffer.data() + n);
        _endpoint.io().send(_remote, _closePacket.data(), _closePacket.size(), _closePacket.size());
        _state = State::Closing;
        _closingDeadline = now() + 3 * ngtcp2_conn_get_pto(_conn);
        updateTimer();
        reportClosed(status, reason);
        return;
    }
    reportClosed(status, reason);
    setDead();
}

void Connection::terminate(lanspread_status status, const std::string &reason) {
    if (_state == State::Dead)
        return;
    if (_state != State::Closing) {
        if (_inNgtcp2 > 0 || _conn == nullptr) {
            reportClosed(status, reason);
        } else {
            ngtcp2_connection_close_error error;
            ngtcp2_connection_close_error_default(&error);
            closeWith(error, status, reason);
        }
    }
    setDead();
}

void Connection::reportConnected() {
    if (_reportedConnected || _reportedClosed || _hostClosed)
        return;
    _reportedConnected = true;
    RemoteIdentity remote;
    remote.remoteAddr = _remote.toString();
    remote.keyFingerprint.assign(_peerFingerprint.begin(), _peerFingerprint.end());
    _events.connected(*this, remote);
}

void Connection::reportClosed(lanspread_status status, const std::string &reason) {
    if (_reportedClosed)
        return;
    _reportedClosed = true;
    _wantWritable.clear();
    _openReady = false;
    host().debug("connection with " + _remote.toString() + " ends (" + reason +
                 "): " + describeStats());
    if (hostKnows())
        _events.closed(*this, status, reason);
    else
        host().debug("incoming connection from " + _remote.toString() +
                     " ended before its handshake: " + reason);
}

void Connection::setDead() {
    if (_state == State::Dead)
        return;
    _state = State::Dead;
    _expiryTimer.reset();
    _endpoint.owner().scheduleReap();
}

std::string Connection::describeStats() const {
    if (_conn == nullptr)
        return "no connection";
    ngtcp2_conn_stat st{};
    ngtcp2_conn_get_conn_stat(_conn, &st);
    return "cwnd " + std::to_string(st.cwnd) + ", srtt " + std::to_string(st.smoothed_rtt / 1000) +
           " us, in flight " + std::to_string(st.bytes_in_flight) + ", payload " +
           std::to_string(_maxPayload) + ", buffered " + std::to_string(_connBuffered) +
           "; packets in " + std::to_string(_counters.packetsIn) + ", out " +
           std::to_string(_counters.packetsOut) + " in " + std::to_string(_counters.sendCalls) +
           " sends and " + std::to_string(_counters.writeCalls) + " write calls; timer arms " +
           std::to_string(_counters.timerArms) + ", fires " + std::to_string(_counters.timerFires) +
           "; flush posts " + std::to_string(_counters.flushPosts) + "; stream packets lost " +
           std::to_string(_counters.streamLosses);
}

} // namespace lanspread::plugins::quic
