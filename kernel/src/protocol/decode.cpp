// The peer protocol's validating decode: a control payload to a Message, every field checked
// (types, lengths, game and peer ids, paths, chunk hashes); decode() never throws. See
// messages.hpp for the contract.
#include "framing.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

namespace lanspread::kernel::protocol {

// A GetChunk asks for at most one chunk, which a ChunkData frame carries whole.
static_assert(kMaxDataPayload == catalog::kChunkSize, "one ChunkData frame is one chunk");

// Bounds a Have's list (and so its decode work) well below the control payload limit.
constexpr std::size_t kMaxHaveChunks = std::size_t(1) << 20;
constexpr std::size_t kMaxListeners = 16; // transports one peer listens with

namespace {

using detail::knownType;
using detail::protocolError;
using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// ---------------------------------------------------------------------------------------------
// Decoding. Helpers throw Invalid (never out of this file); decode() turns it into a Status.

struct Invalid {
    std::string field; // "files[2].chunks"; empty for the payload as a whole
    std::string what;
};

// A value quoted for an error message: printable ASCII kept, the rest escaped, long ones cut.
std::string quoted(const std::string &value) {
    constexpr std::size_t kShown = 80;
    bool cut = false;
    const std::string shown = base::escapeForMessage(value, kShown, true, "\"\\", &cut);
    return "\"" + shown + (cut ? "\"..." : "\"");
}

std::string describe(const Var &value) {
    if (value.isEmpty())
        return "null";
    if (value.type() == typeid(std::string))
        return "a string";
    if (value.type() == typeid(bool))
        return "a boolean";
    if (value.type() == typeid(Poco::Int64) && value.extract<Poco::Int64>() < 0)
        return "the negative number " + std::to_string(value.extract<Poco::Int64>());
    if (value.type() == typeid(Poco::Int64) || value.type() == typeid(Poco::UInt64))
        return "a number";
    if (value.type() == typeid(double))
        return "a number with a fraction or exponent";
    if (value.type() == typeid(Object::Ptr))
        return "an object";
    if (value.type() == typeid(Array::Ptr))
        return "an array";
    return "another JSON type";
}

bool isLowerHex64(const std::string &text) {
    if (text.size() != 64)
        return false;
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Poco parses an integer literal just above UINT64_MAX (up to 2^65 - 1) into a wrapped
// UInt64 without complaint, so integer literals are range-checked on the raw text first.
// Only meaningful for text that is otherwise valid JSON (the parser checks that afterwards).
void checkIntegerLiterals(std::string_view text) {
    static constexpr std::string_view kMax = "18446744073709551615";
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        const char c = text[i];
        if (c == '"') { // skip the string, escapes included
            for (++i; i < n && text[i] != '"'; ++i)
                if (text[i] == '\\')
                    ++i;
            ++i;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            ++i;
            continue;
        }
        const std::size_t start = c == '-' ? i + 1 : i;
        std::size_t end = start;
        while (end < n && text[end] >= '0' && text[end] <= '9')
            ++end;
        const bool integer = end >= n || (text[end] != '.' && text[end] != 'e' && text[end] != 'E');
        const std::string_view digits = text.substr(start, end - start);
        if (integer &&
            (digits.size() > kMax.size() || (digits.size() == kMax.size() && digits > kMax)))
            throw Invalid{{},
                          "number " + std::string(c == '-' ? "-" : "") +
                              std::string(digits.substr(0, 40)) +
                              (digits.size() > 40 ? "..." : "") + " is out of range"};
        // Skip the rest of the number (fraction, exponent).
        i = end;
        while (i < n && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.' || text[i] == 'e' ||
                         text[i] == 'E' || text[i] == '+' || text[i] == '-'))
            ++i;
    }
}

// A JSON object being read, with the path that names it in errors ("" for the payload root,
// "files[2]" for an element).
class Fields {
  public:
    Fields(Object::Ptr object, std::string path)
        : _object(std::move(object)), _path(std::move(path)) {}

    std::string name(const std::string &member) const {
        return _path.empty() ? member : _path + "." + member;
    }

    Var get(const std::string &key) const {
        if (!_object->has(key))
            throw Invalid{name(key), "missing"};
        return _object->get(key);
    }

    std::string text(const std::string &member, std::size_t maxLength) const {
        return checkedText(get(member), name(member), maxLength);
    }
    std::string gameId(const std::string &member) const {
        return checkedGameId(get(member), name(member));
    }
    uint64_t number(const std::string &member) const {
        return checkedNumber(get(member), name(member));
    }
    bool boolean(const std::string &member) const {
        const Var value = get(member);
        if (value.type() != typeid(bool))
            throw Invalid{name(member), "expected a boolean, got " + describe(value)};
        return value.extract<bool>();
    }
    bool has(const std::string &member) const { return _object->has(member); }

    Array::Ptr array(const std::string &member) const {
        const Var value = get(member);
        if (value.type() != typeid(Array::Ptr))
            throw Invalid{name(member), "expected an array, got " + describe(value)};
        Array::Ptr array = value.extract<Array::Ptr>();
        if (!array)
            throw Invalid{name(member), "expected an array, got null"};
        return array;
    }

    static std::string checkedText(const Var &value, const std::string &field,
                                   std::size_t maxLength) {
        if (value.type() != typeid(std::string))
            throw Invalid{field, "expected a string, got " + describe(value)};
        std::string text = value.extract<std::string>();
        if (text.size() > maxLength)
            throw Invalid{field, "longer than " + std::to_string(maxLength) + " bytes (" +
                                     std::to_string(text.size()) + ")"};
        if (text.find('\0') != std::string::npos)
            throw Invalid{field, "contains a NUL character"};
        return text;
    }
    static std::string checkedGameId(const Var &value, const std::string &field) {
        std::string id = checkedText(value, field, kMaxIdLength);
        if (!catalog::Catalog::validGameId(id))
            throw Invalid{field, quoted(id) + " is not a valid game id (1-64 of a-z 0-9 . _ -)"};
        return id;
    }
    static uint64_t checkedNumber(const Var &value, const std::string &field) {
        if (value.type() == typeid(Poco::UInt64))
            return value.extract<Poco::UInt64>();
        if (value.type() == typeid(Poco::Int64) && value.extract<Poco::Int64>() >= 0)
            return static_cast<uint64_t>(value.extract<Poco::Int64>());
        throw Invalid{field, "expected a non-negative integer, got " + describe(value)};
    }

  private:
    Object::Ptr _object;
    std::string _path;
};

std::string element(const std::string &arrayField, std::size_t index) {
    return arrayField + "[" + std::to_string(index) + "]";
}

Fields objectAt(const Array::Ptr &array, std::size_t index, const std::string &arrayField) {
    const std::string field = element(arrayField, index);
    const Var value = array->get(static_cast<unsigned>(index));
    if (value.type() != typeid(Object::Ptr) || !value.extract<Object::Ptr>())
        throw Invalid{field, "expected an object, got " + describe(value)};
    return Fields(value.extract<Object::Ptr>(), field);
}

std::vector<std::string> texts(const Fields &in, const std::string &member, std::size_t maxLength) {
    const Array::Ptr array = in.array(member);
    const std::string field = in.name(member);
    std::vector<std::string> out;
    out.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i)
        out.push_back(Fields::checkedText(array->get(static_cast<unsigned>(i)), element(field, i),
                                          maxLength));
    return out;
}

std::vector<std::string> gameIds(const Fields &in, const std::string &member) {
    const Array::Ptr array = in.array(member);
    const std::string field = in.name(member);
    std::vector<std::string> out;
    std::set<std::string> seen;
    out.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
        std::string id =
            Fields::checkedGameId(array->get(static_cast<unsigned>(i)), element(field, i));
        if (!seen.insert(id).second)
            throw Invalid{element(field, i), "game " + quoted(id) + " appears twice"};
        out.push_back(std::move(id));
    }
    return out;
}

std::string peerId(const Fields &in, const std::string &member) {
    std::string id = in.text(member, kMaxIdLength);
    if (!isLowerHex64(id))
        throw Invalid{in.name(member), quoted(id) + " is not a peer id (64 lowercase hex digits)"};
    return id;
}

// A relative, '/'-separated path inside a game: no absolute paths, no empty, "." or ".."
// components, no backslashes (a Windows separator) — it names a file under the game dir.
std::string relativePath(const Fields &in, const std::string &member) {
    std::string path = in.text(member, kMaxPathLength);
    const std::string field = in.name(member);
    if (path.empty())
        throw Invalid{field, "empty path"};
    if (path.find('\\') != std::string::npos)
        throw Invalid{field, quoted(path) + " contains a backslash"};
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = path.find('/', start);
        const std::string_view component = std::string_view(path).substr(
            start, slash == std::string::npos ? std::string::npos : slash - start);
        if (component.empty() || component == "." || component == "..")
            throw Invalid{field, quoted(path) + " is not a relative '/'-separated path"};
        if (slash == std::string::npos)
            break;
        start = slash + 1;
    }
    return path;
}

GameSummary gameSummary(const Fields &in) {
    GameSummary game;
    game.id = in.gameId("id");
    game.version = in.text("version", kMaxTextLength);
    game.availability = in.text("availability", kMaxTextLength);
    if (game.availability != "Ready" && game.availability != "Stale" &&
        game.availability != "LocalOnly" && game.availability != "None")
        throw Invalid{in.name("availability"),
                      quoted(game.availability) + " is not one of Ready, Stale, LocalOnly, None"};
    game.downloaded = in.boolean("downloaded");
    game.installed = in.boolean("installed");
    game.sizeBytes = in.number("size");
    game.filesDigest = in.text("files_digest", kMaxIdLength);
    if (!game.filesDigest.empty() && !isLowerHex64(game.filesDigest))
        throw Invalid{in.name("files_digest"),
                      quoted(game.filesDigest) + " is neither \"\" nor 64 lowercase hex digits"};
    return game;
}

std::vector<GameSummary> gameSummaries(const Fields &in, const std::string &member) {
    const Array::Ptr array = in.array(member);
    const std::string field = in.name(member);
    std::vector<GameSummary> out;
    std::set<std::string> seen;
    out.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
        GameSummary game = gameSummary(objectAt(array, i, field));
        if (!seen.insert(game.id).second)
            throw Invalid{element(field, i) + ".id", "game " + quoted(game.id) + " appears twice"};
        out.push_back(std::move(game));
    }
    return out;
}

std::string filesDigestOf(const Fields &in, const std::string &member) {
    std::string digest = in.text(member, kMaxIdLength);
    if (!isLowerHex64(digest))
        throw Invalid{in.name(member),
                      quoted(digest) + " is not a files digest (64 lowercase hex digits)"};
    return digest;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

PartialGame partialGame(const Fields &in) {
    PartialGame game;
    game.id = in.gameId("id");
    game.version = in.text("version", kMaxTextLength);
    game.filesDigest = filesDigestOf(in, "files_digest");
    game.chunkCount = in.number("chunk_count");
    if (game.chunkCount == 0 || game.chunkCount > kMaxChunksPerGame)
        throw Invalid{in.name("chunk_count"), std::to_string(game.chunkCount) + " is not in 1.." +
                                                  std::to_string(kMaxChunksPerGame)};
    const std::size_t bytes = static_cast<std::size_t>((game.chunkCount + 7) / 8);
    const std::string hex = in.text("have", 2 * bytes);
    const std::string field = in.name("have");
    if (hex.size() != 2 * bytes)
        throw Invalid{field, "expected " + std::to_string(2 * bytes) + " hex digits for " +
                                 std::to_string(game.chunkCount) + " chunks, got " +
                                 std::to_string(hex.size())};
    game.have.assign(static_cast<std::size_t>(game.chunkCount), false);
    for (std::size_t b = 0; b < bytes; ++b) {
        const int high = hexValue(hex[2 * b]);
        const int low = hexValue(hex[2 * b + 1]);
        if (high < 0 || low < 0)
            throw Invalid{field, "not lowercase hex (at digit " + std::to_string(2 * b) + ")"};
        const unsigned byte = unsigned(high) << 4 | unsigned(low);
        for (unsigned bit = 0; bit < 8; ++bit) {
            if (!(byte & (0x80u >> bit)))
                continue;
            const uint64_t chunk = uint64_t(b) * 8 + bit;
            if (chunk >= game.chunkCount)
                throw Invalid{field, "bit set for chunk " + std::to_string(chunk) +
                                         " beyond chunk_count " + std::to_string(game.chunkCount)};
            game.have[static_cast<std::size_t>(chunk)] = true;
        }
    }
    return game;
}

std::vector<PartialGame> partialGames(const Fields &in, const std::string &member) {
    const Array::Ptr array = in.array(member);
    const std::string field = in.name(member);
    std::vector<PartialGame> out;
    std::set<std::string> seen;
    out.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
        PartialGame game = partialGame(objectAt(array, i, field));
        if (!seen.insert(game.id).second)
            throw Invalid{element(field, i) + ".id", "game " + quoted(game.id) + " appears twice"};
        out.push_back(std::move(game));
    }
    return out;
}

Hello helloFrom(const Fields &in) {
    Hello m;
    const uint64_t version = in.number("protocol_version");
    if (version > std::numeric_limits<uint32_t>::max())
        throw Invalid{in.name("protocol_version"), std::to_string(version) + " is out of range"};
    m.protocolVersion = static_cast<uint32_t>(version);
    m.peerId = peerId(in, "peer_id");
    m.name = in.text("name", kMaxTextLength);
    m.listenAddr = in.text("listen_addr", kMaxTextLength);
    if (in.has("listeners")) { // optional: peers before it send none
        const Array::Ptr listeners = in.array("listeners");
        const std::string field = in.name("listeners");
        if (listeners->size() > kMaxListeners)
            throw Invalid{field, std::to_string(listeners->size()) +
                                     " listeners exceed the limit of " +
                                     std::to_string(kMaxListeners)};
        for (std::size_t i = 0; i < listeners->size(); ++i) {
            const Fields entry = objectAt(listeners, i, field);
            m.listeners.push_back(
                {entry.text("transport", kMaxTextLength), entry.text("addr", kMaxTextLength)});
        }
    }
    m.features = texts(in, "features", kMaxTextLength);
    m.libraryRevision = in.number("library_revision");
    m.games = gameSummaries(in, "games");
    m.partials = partialGames(in, "partials");
    return m;
}

LibraryDelta libraryDeltaFrom(const Fields &in) {
    LibraryDelta m;
    m.revision = in.number("revision");
    m.upserts = gameSummaries(in, "upserts");
    m.removed = gameIds(in, "removed");
    m.partialUpserts = partialGames(in, "partial_upserts");
    m.partialRemoved = gameIds(in, "partial_removed");
    return m;
}

Have haveFrom(const Fields &in) {
    Have m;
    m.game = in.gameId("game");
    m.filesDigest = filesDigestOf(in, "files_digest");
    const Array::Ptr chunks = in.array("chunks");
    const std::string field = in.name("chunks");
    if (chunks->size() > kMaxHaveChunks)
        throw Invalid{field, std::to_string(chunks->size()) + " chunks exceed the limit of " +
                                 std::to_string(kMaxHaveChunks)};
    m.chunks.reserve(chunks->size());
    for (std::size_t i = 0; i < chunks->size(); ++i) {
        const uint64_t chunk =
            Fields::checkedNumber(chunks->get(static_cast<unsigned>(i)), element(field, i));
        if (chunk >= kMaxChunksPerGame)
            throw Invalid{element(field, i), std::to_string(chunk) + " is not below " +
                                                 std::to_string(kMaxChunksPerGame)};
        if (!m.chunks.empty() && chunk <= m.chunks.back())
            throw Invalid{element(field, i),
                          std::to_string(chunk) + " does not ascend (chunks are sorted, unique)"};
        m.chunks.push_back(chunk);
    }
    return m;
}

GetGame getGameFrom(const Fields &in) {
    GetGame m;
    m.game = in.gameId("game");
    return m;
}

GameFiles gameFilesFrom(const Fields &in) {
    GameFiles m;
    m.game = in.gameId("game");
    m.version = in.text("version", kMaxTextLength);
    const Array::Ptr files = in.array("files");
    const std::string field = in.name("files");
    std::set<std::string> seen;
    m.files.reserve(files->size());
    for (std::size_t i = 0; i < files->size(); ++i) {
        const Fields f = objectAt(files, i, field);
        FileDescription file;
        file.path = relativePath(f, "path");
        if (!seen.insert(file.path).second)
            throw Invalid{f.name("path"), quoted(file.path) + " appears twice"};
        file.size = f.number("size");
        const Array::Ptr chunks = f.array("chunks");
        const uint64_t expected = catalog::chunkCount(file.size);
        if (chunks->size() != expected)
            throw Invalid{f.name("chunks"), "expected " + std::to_string(expected) +
                                                " hashes for size " + std::to_string(file.size) +
                                                ", got " + std::to_string(chunks->size())};
        file.chunkHashes.reserve(chunks->size());
        for (std::size_t c = 0; c < chunks->size(); ++c) {
            const std::string hashField = element(f.name("chunks"), c);
            std::string hash =
                Fields::checkedText(chunks->get(static_cast<unsigned>(c)), hashField, kMaxIdLength);
            if (!isLowerHex64(hash))
                throw Invalid{hashField,
                              quoted(hash) + " is not a SHA-256 (64 lowercase hex digits)"};
            file.chunkHashes.push_back(std::move(hash));
        }
        m.files.push_back(std::move(file));
    }
    return m;
}

GetChunk getChunkFrom(const Fields &in) {
    GetChunk m;
    m.game = in.gameId("game");
    m.path = relativePath(in, "path");
    m.offset = in.number("offset");
    m.length = in.number("length");
    if (m.length > kMaxDataPayload)
        throw Invalid{in.name("length"), std::to_string(m.length) + " exceeds the " +
                                             std::to_string(kMaxDataPayload) +
                                             "-byte ChunkData limit"};
    if (m.offset > std::numeric_limits<uint64_t>::max() - m.length)
        throw Invalid{in.name("offset"), "offset + length overflows"};
    return m;
}

ErrorReply errorReplyFrom(const Fields &in) {
    ErrorReply m;
    m.code = in.text("code", kMaxTextLength);
    if (m.code.empty())
        throw Invalid{in.name("code"), "empty"};
    m.message = in.text("message", kMaxMessageText);
    return m;
}

Goodbye goodbyeFrom(const Fields &in) {
    Goodbye m;
    m.reason = in.text("reason", kMaxMessageText);
    return m;
}

// 32 bytes as 64 lowercase hex digits: a party-key nonce or MAC.
std::string hex32(const Fields &in, const std::string &member, const std::string &what) {
    std::string value = in.text(member, kMaxIdLength);
    if (!isLowerHex64(value))
        throw Invalid{in.name(member),
                      quoted(value) + " is not a " + what + " (64 lowercase hex digits)"};
    return value;
}

KeyChallenge keyChallengeFrom(const Fields &in) {
    KeyChallenge m;
    m.scheme = in.text("scheme", kMaxTextLength);
    if (m.scheme.empty())
        throw Invalid{in.name("scheme"), "empty"};
    m.nonce = hex32(in, "nonce", "nonce");
    return m;
}

Message messageFrom(FrameType type, const Fields &in) {
    switch (type) {
    case FrameType::Hello: return helloFrom(in);
    case FrameType::HelloAck: return HelloAck{helloFrom(in)};
    case FrameType::LibraryDelta: return libraryDeltaFrom(in);
    case FrameType::GetGame: return getGameFrom(in);
    case FrameType::GameFiles: return gameFilesFrom(in);
    case FrameType::GetChunk: return getChunkFrom(in);
    case FrameType::Error: return errorReplyFrom(in);
    case FrameType::Ping: return Ping{in.number("nonce")};
    case FrameType::Pong: return Pong{in.number("nonce")};
    case FrameType::Goodbye: return goodbyeFrom(in);
    case FrameType::Have: return haveFrom(in);
    case FrameType::KeyChallenge: return keyChallengeFrom(in);
    case FrameType::KeyProof: return KeyProof{hex32(in, "mac", "MAC")};
    case FrameType::ChunkData: break;
    }
    throw Invalid{{}, "not a control message"}; // unreachable: decode() checks the type first
}

} // namespace

Result<Message> decode(FrameType type, std::span<const uint8_t> payload) {
    const auto raw = static_cast<uint8_t>(type);
    if (!knownType(raw))
        return protocolError("unknown frame type " + std::to_string(raw));
    const std::string frame = frameTypeName(type);
    if (type == FrameType::ChunkData)
        return protocolError("ChunkData: raw data, not a control message");
    if (payload.size() > kMaxControlPayload)
        return protocolError(frame + ": payload of " + std::to_string(payload.size()) +
                             " bytes exceeds the " + std::to_string(kMaxControlPayload) +
                             "-byte limit");
    try {
        const std::string text(reinterpret_cast<const char *>(payload.data()), payload.size());
        Object::Ptr root;
        try {
            checkIntegerLiterals(text);
            Poco::JSON::Parser parser;
            parser.setDepth(16); // the deepest message nests 4 levels
            const Var parsed = parser.parse(text);
            if (parsed.type() == typeid(Object::Ptr))
                root = parsed.extract<Object::Ptr>();
        } catch (const Invalid &invalid) {
            return protocolError(frame + ": payload is not valid JSON (" + invalid.what + ")");
        } catch (const Poco::Exception &e) {
            return protocolError(frame + ": payload is not valid JSON (" + e.displayText() + ")");
        }
        if (!root)
            return protocolError(frame + ": payload is not a JSON object");
        return messageFrom(type, Fields(root, ""));
    } catch (const Invalid &invalid) {
        return protocolError(frame + ": " + (invalid.field.empty() ? "" : invalid.field + ": ") +
                             invalid.what);
    } catch (const Poco::Exception &e) {
        return protocolError(frame + ": " + e.displayText());
    } catch (const std::exception &e) {
        return protocolError(frame + ": " + e.what());
    } catch (...) {
        return protocolError(frame + ": unexpected failure while decoding");
    }
}

} // namespace lanspread::kernel::protocol
