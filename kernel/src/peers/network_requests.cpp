// PeerNetwork: our own requests (the download engine's): GetGame and GetChunk on a new
// stream each, their answers checked and handed over, the chunk bytes released as the
// engine consumes them.
#include "network_internal.hpp"

namespace lanspread::kernel::peers {

using namespace network_detail;

void PeerNetwork::requestGameFiles(const std::string &peerId, const std::string &game,
                                   std::function<void(Result<protocol::GameFiles>)> done) {
    Session *s = readySession(peerId);
    uint64_t streamId = 0;
    if (s == nullptr || vt(*s).open_stream(s->conn, &streamId) != LANSPREAD_OK) {
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
            Stream *found = findStream(*t, streamId);
            if (found == nullptr || found->responded)
                return;
            Stream &cur = *found;
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
            if (Stream *found = findStream(*t, streamId))
                failRequest(*t, *found,
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
    if (s == nullptr || vt(*s).open_stream(s->conn, &streamId) != LANSPREAD_OK) {
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
        return {t, findStream(*t, streamId)};
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
    if (Session *s = session(conn))
        vt(*s).consume(conn, streamId, bytes);
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
    vt(*s).reset_stream(conn, streamId, kAppErrorProtocol);
}

} // namespace lanspread::kernel::peers
