// PeerNetwork: serving requests. GetGame and GetChunk go to the NetworkDelegate for the
// decision; a granted range is read on the worker pool, a block at a time, only as fast as
// the transport takes it (and the upload limit allows: network_upload.cpp).
#include "network_internal.hpp"

#include <lanspread/kernel/base/files.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace lanspread::kernel::peers {

using namespace network_detail;

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
    auto decision = _delegate.serveGetChunk(s.peerId, request, gameRoot);
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
            Stream *found = servedStreamAfterRead(conn, serial, streamId, t);
            if (found == nullptr)
                return;
            Stream &cur = *found;
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
                Stream *found = servedStreamAfterRead(conn, serial, streamId, t);
                if (found == nullptr)
                    return;
                Stream &cur = *found;
                if (!ok) {
                    // The file shrank under us: the requester sees a short chunk and retries
                    // elsewhere.
                    log::warning(kSource, "serving " + cur.serveGame + ": read failed; resetting");
                    vt(*t).reset_stream(conn, streamId, kAppErrorProtocol);
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

PeerNetwork::Stream *PeerNetwork::servedStreamAfterRead(lanspread_transport_conn *conn,
                                                        uint64_t serial, uint64_t streamId,
                                                        Session *&session_) {
    Stream *found = liveStream(conn, serial, streamId, session_);
    if (found == nullptr)
        return nullptr;
    found->reading = false;
    if (found->aborted) {
        finishStream(*session_, streamId);
        return nullptr;
    }
    return found;
}

} // namespace lanspread::kernel::peers
