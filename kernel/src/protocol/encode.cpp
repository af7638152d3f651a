// The peer protocol's control messages as JSON payloads, framed (see messages.hpp).
#include "framing.hpp"

#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <limits>
#include <sstream>
#include <stdexcept>

namespace lanspread::kernel::protocol {

namespace {

using detail::putHeader;
using Poco::JSON::Array;
using Poco::JSON::Object;

// ---------------------------------------------------------------------------------------------
// Encoding

Array::Ptr stringArray(const std::vector<std::string> &values) {
    Array::Ptr array = new Array;
    for (const auto &value : values)
        array->add(value);
    return array;
}

Object::Ptr gameJson(const GameSummary &game) {
    Object::Ptr o = new Object;
    o->set("id", game.id);
    o->set("version", game.version);
    o->set("availability", game.availability);
    o->set("downloaded", game.downloaded);
    o->set("installed", game.installed);
    o->set("size", Poco::UInt64(game.sizeBytes));
    o->set("files_digest", game.filesDigest);
    return o;
}

Array::Ptr gamesJson(const std::vector<GameSummary> &games) {
    Array::Ptr array = new Array;
    for (const auto &game : games)
        array->add(gameJson(game));
    return array;
}

// Chunk i is bit (0x80 >> i % 8) of byte i / 8; the last byte's unused bits stay zero.
std::string haveHex(const std::vector<bool> &have) {
    std::vector<uint8_t> bytes((have.size() + 7) / 8, 0);
    for (std::size_t i = 0; i < have.size(); ++i)
        if (have[i])
            bytes[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
    return base::toHex(bytes.data(), bytes.size());
}

Array::Ptr partialsJson(const std::vector<PartialGame> &partials) {
    Array::Ptr array = new Array;
    for (const auto &partial : partials) {
        Object::Ptr o = new Object;
        o->set("id", partial.id);
        o->set("version", partial.version);
        o->set("files_digest", partial.filesDigest);
        o->set("chunk_count", Poco::UInt64(partial.chunkCount));
        o->set("have", haveHex(partial.have));
        array->add(o);
    }
    return array;
}

Object::Ptr helloJson(const Hello &m) {
    Object::Ptr o = new Object;
    o->set("protocol_version", Poco::UInt64(m.protocolVersion));
    o->set("peer_id", m.peerId);
    o->set("name", m.name);
    o->set("listen_addr", m.listenAddr);
    Array::Ptr listeners = new Array;
    for (const auto &listener : m.listeners) {
        Object::Ptr entry = new Object;
        entry->set("transport", listener.transport);
        entry->set("addr", listener.addr);
        listeners->add(entry);
    }
    o->set("listeners", listeners);
    o->set("features", stringArray(m.features));
    o->set("library_revision", Poco::UInt64(m.libraryRevision));
    o->set("games", gamesJson(m.games));
    o->set("partials", partialsJson(m.partials));
    return o;
}

Object::Ptr toJson(const Hello &m) {
    return helloJson(m);
}
Object::Ptr toJson(const HelloAck &m) {
    return helloJson(m.hello);
}

Object::Ptr toJson(const LibraryDelta &m) {
    Object::Ptr o = new Object;
    o->set("revision", Poco::UInt64(m.revision));
    o->set("upserts", gamesJson(m.upserts));
    o->set("removed", stringArray(m.removed));
    o->set("partial_upserts", partialsJson(m.partialUpserts));
    o->set("partial_removed", stringArray(m.partialRemoved));
    return o;
}

Object::Ptr toJson(const Have &m) {
    Object::Ptr o = new Object;
    o->set("game", m.game);
    o->set("files_digest", m.filesDigest);
    Array::Ptr chunks = new Array;
    for (const uint64_t chunk : m.chunks)
        chunks->add(Poco::UInt64(chunk));
    o->set("chunks", chunks);
    return o;
}

Object::Ptr toJson(const GetGame &m) {
    Object::Ptr o = new Object;
    o->set("game", m.game);
    return o;
}

Object::Ptr toJson(const GameFiles &m) {
    Object::Ptr o = new Object;
    o->set("game", m.game);
    o->set("version", m.version);
    Array::Ptr files = new Array;
    for (const auto &file : m.files) {
        Object::Ptr f = new Object;
        f->set("path", file.path);
        f->set("size", Poco::UInt64(file.size));
        f->set("chunks", stringArray(file.chunkHashes));
        files->add(f);
    }
    o->set("files", files);
    return o;
}

Object::Ptr toJson(const GetChunk &m) {
    Object::Ptr o = new Object;
    o->set("game", m.game);
    o->set("path", m.path);
    o->set("offset", Poco::UInt64(m.offset));
    o->set("length", Poco::UInt64(m.length));
    return o;
}

Object::Ptr toJson(const ErrorReply &m) {
    Object::Ptr o = new Object;
    o->set("code", m.code);
    o->set("message", m.message);
    return o;
}

Object::Ptr toJson(const Ping &m) {
    Object::Ptr o = new Object;
    o->set("nonce", Poco::UInt64(m.nonce));
    return o;
}

Object::Ptr toJson(const Pong &m) {
    Object::Ptr o = new Object;
    o->set("nonce", Poco::UInt64(m.nonce));
    return o;
}

Object::Ptr toJson(const Goodbye &m) {
    Object::Ptr o = new Object;
    o->set("reason", m.reason);
    return o;
}

Object::Ptr toJson(const KeyChallenge &m) {
    Object::Ptr o = new Object;
    o->set("scheme", m.scheme);
    o->set("nonce", m.nonce);
    return o;
}

Object::Ptr toJson(const KeyProof &m) {
    Object::Ptr o = new Object;
    o->set("mac", m.mac);
    return o;
}

} // namespace

std::string filesDigest(const GameFiles &files) {
    base::Sha256 sha;
    auto line = [&sha](const std::string &text) {
        sha.update(text.data(), text.size());
        sha.update("\n", 1);
    };
    line("lanspread-files/1");
    line(files.game);
    line(files.version);
    for (const auto &file : files.files) {
        line(file.path);
        line(std::to_string(file.size));
        for (const auto &hash : file.chunkHashes)
            line(hash);
    }
    return sha.hexDigest();
}

std::vector<uint8_t> encode(const Message &message) {
    const Object::Ptr json = std::visit([](const auto &m) { return toJson(m); }, message);
    std::ostringstream text;
    Poco::JSON::Stringifier::condense(json, text);
    const std::string payload = text.str();
    if (payload.size() > std::numeric_limits<uint32_t>::max())
        throw std::length_error("protocol: control payload too large to frame");
    std::vector<uint8_t> frame;
    frame.reserve(kFrameHeaderSize + payload.size());
    putHeader(frame, frameTypeOf(message), static_cast<uint32_t>(payload.size()));
    frame.insert(frame.end(), payload.begin(), payload.end());
    return frame;
}

} // namespace lanspread::kernel::protocol
