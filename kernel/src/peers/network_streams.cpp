// PeerNetwork: streams. A new stream's role (control or request), bytes in (framing,
// flow-control credit, FIN and reset), bytes out (queued until the transport takes
// them), and the end of a stream: finished, failed or abandoned, freed only once nothing
// up the stack or on a worker holds it.
#include "network_internal.hpp"

namespace lanspread::kernel::peers {

using namespace network_detail;

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
            protocol::FrameReader::Handler{[this, conn, streamId](protocol::Message &&m) {
                                               Session *t = session(conn);
                                               if (t == nullptr)
                                                   return;
                                               if (Stream *found = findStream(*t, streamId))
                                                   onRequestStreamMessage(*t, *found, std::move(m));
                                           },
                                           [this, conn, streamId](uint32_t) {
                                               Session *t = session(conn);
                                               if (t == nullptr)
                                                   return;
                                               if (Stream *found = findStream(*t, streamId))
                                                   failRequest(*t, *found,
                                                               Status(LANSPREAD_E_INVALID_ARGUMENT,
                                                                      "ChunkData in a request"));
                                           },
                                           nullptr},
            64u << 10); // a request is small: bound what a requester can make us buffer
        if (overRequestCap(*s)) {
            // One request too many: answered at once, its request never read (an honest
            // downloader keeps far fewer in flight: docs/protocol.md, Serving).
            ++_refusals.requestsPerPeer;
            logRefusal("peer " + s->label() + ": request refused: too-many-requests: " +
                       std::to_string(_maxRequestsPerPeer) +
                       " requests open already (max_requests_per_peer)");
            st.refused = true;
            st.discard = true;
            s->streams[streamId] = std::move(stream);
            queueSend(*s, st,
                      protocol::encode(protocol::ErrorReply{
                          "too-many-requests", std::to_string(_maxRequestsPerPeer) +
                                                   " requests are open on this connection"}),
                      true);
            return;
        }
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
            vt(*s).consume(conn, streamId, len);
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
        vt(*s).consume(conn, streamId, controlBytes);
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
    if (Stream *found = findStream(*s, streamId))
        flushStream(*s, *found);
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
        lanspread_status status = vt(s).send(s.conn, st.id, front.data() + out.offset, left,
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
        if (vt(s).send(s.conn, st.id, nullptr, 0, LANSPREAD_STREAM_FIN, &accepted) == LANSPREAD_OK)
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
        vt(s).reset_stream(s.conn, st.id, kAppErrorProtocol);
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
    vt(s).reset_stream(s.conn, streamId, kAppErrorProtocol);
    retireStream(s, streamId); // this may run inside the stream's own FrameReader
    _requests.erase(request);
    if (filesDone)
        filesDone(status);
    else if (onEnd)
        onEnd(status);
}

} // namespace lanspread::kernel::peers
