// The peer protocol (docs/protocol.md): the one place where wire bytes are made and
// read. One PROTOCOL_VERSION, no shims: peers with another version are refused at Hello.
//
// Streams (all bidirectional, over any lanspread.transport/1):
//   control stream  opened by the connecting side right after the transport handshake:
//                   Hello -> HelloAck, then LibraryDelta / Have / Ping / Pong / Goodbye
//                   either way; with a party key, KeyChallenge -> KeyChallenge + KeyProof
//                   -> KeyProof + Hello -> HelloAck (docs/protocol.md#party-key);
//   request stream  one per request, opened by the requester:
//                   GetGame  -> GameFiles | Error, then FIN
//                   GetChunk -> ChunkData (exactly the requested length) | Error, then FIN
//
// Frame: 1 byte type, 4 bytes big-endian payload length, payload. Control payloads are JSON
// objects of at most kMaxControlPayload bytes; a ChunkData payload is raw file bytes, at most
// kMaxDataPayload, and is delivered to the reader piece by piece (never buffered whole).
// Anything malformed, oversized, of unknown type or unexpected on its stream is a protocol
// error: the session answers Error (where it can), logs one line and closes — never a crash.
#pragma once

#include <lanspread/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace lanspread::kernel::protocol {

// 2: 1 MiB chunks, partial games (Hello.partials, LibraryDelta.partial_*), Have,
// GameSummary.files_digest.
constexpr uint32_t PROTOCOL_VERSION = 2;

enum class FrameType : uint8_t {
    Hello = 1,
    HelloAck = 2,
    LibraryDelta = 3,
    GetGame = 4,
    GameFiles = 5,
    GetChunk = 6,
    ChunkData = 7,
    Error = 8,
    Ping = 9,
    Pong = 10,
    Goodbye = 11,
    Have = 12,
    KeyChallenge = 13, // party key: a side's fresh nonce (before Hello, only with a key)
    KeyProof = 14,     // party key: a side's MAC over both peer ids and both nonces
};
const char *frameTypeName(FrameType type); // "Hello", ...; "unknown" for others

constexpr std::size_t kFrameHeaderSize = 5;
constexpr uint32_t kMaxControlPayload = 16u << 20; // a library snapshot or file list
constexpr uint32_t kMaxDataPayload = 1u << 20;     // one chunk (catalog::kChunkSize)
constexpr std::size_t kMaxIdLength = 64;           // game ids, peer ids (64 hex)
constexpr std::size_t kMaxTextLength = 256;        // names, versions, codes, addresses
constexpr std::size_t kMaxPathLength = 4096;       // relative file paths
constexpr std::size_t kMaxMessageText = 1024;      // error messages, goodbye reasons
constexpr uint64_t kMaxChunksPerGame = 1u << 24;   // 16 TiB of 1 MiB chunks

// One game as a peer advertises it (the library snapshot's unit).
struct GameSummary {
    std::string id;
    std::string version;      // version.ini content ("" when not downloaded)
    std::string availability; // "Ready", "Stale", "LocalOnly", "None"
    bool downloaded = false;
    bool installed = false;
    uint64_t sizeBytes = 0;
    // A downloaded game: filesDigest() of the file list it serves; "" otherwise. A download
    // mixes sources only when their digests are the one of its voted list.
    std::string filesDigest;
    bool operator==(const GameSummary &) const = default;
};

// A game the sender is downloading, and which of its chunks it has verified (and so
// serves). Chunks are numbered in file-list order: every file's chunks, files sorted by path.
// On the wire "have" is lowercase hex of ceil(chunkCount / 8) bytes, chunk i being bit
// (0x80 >> i % 8) of byte i / 8, the unused bits of the last byte zero.
struct PartialGame {
    std::string id;
    std::string version;     // the (catalog) version being downloaded
    std::string filesDigest; // filesDigest() of the voted file list
    uint64_t chunkCount = 0; // 1 .. kMaxChunksPerGame
    std::vector<bool> have;  // chunkCount entries
    bool operator==(const PartialGame &) const = default;
};

// One transport the sender listens with: its short name ("quic", "tls") and "ip:port".
struct ListenerAddr {
    std::string transport;
    std::string addr;
    bool operator==(const ListenerAddr &) const = default;
};

// Hello (connecting side) and HelloAck (accepting side) carry the same fields.
struct Hello {
    uint32_t protocolVersion = PROTOCOL_VERSION;
    std::string peerId;     // lowercase hex SHA-256 of the sender's certificate SPKI
    std::string name;       // display name
    std::string listenAddr; // the sender's listener "ip:port" (never an ephemeral source port)
    // Every transport the sender listens with, preferred first (listenAddr is the first's).
    // Optional on the wire: a peer that sends none is reached at listenAddr alone.
    std::vector<ListenerAddr> listeners;
    std::vector<std::string> features;
    uint64_t libraryRevision = 0;
    std::vector<GameSummary> games;    // the full library snapshot
    std::vector<PartialGame> partials; // every game being downloaded, by id
    bool operator==(const Hello &) const = default;
};
struct HelloAck {
    Hello hello;
    bool operator==(const HelloAck &) const = default;
};

// Changes since the last snapshot/delta: upserted games replace the old summary.
struct LibraryDelta {
    uint64_t revision = 0;
    std::vector<GameSummary> upserts;
    std::vector<std::string> removed; // game ids
    // Partial games that began (or restarted with another list) and ended.
    std::vector<PartialGame> partialUpserts;
    std::vector<std::string> partialRemoved; // game ids
    bool operator==(const LibraryDelta &) const = default;
};

// Chunks of a partial game the sender verified since its last Have or PartialGame for it
// (coalesced: one message per game every few hundred ms, not one per chunk). Ascending,
// without repeats; each below the partial's chunkCount.
struct Have {
    std::string game;
    std::string filesDigest;
    std::vector<uint64_t> chunks;
    bool operator==(const Have &) const = default;
};

struct GetGame {
    std::string game;
    bool operator==(const GetGame &) const = default;
};

struct FileDescription {
    std::string path; // relative, '/'-separated
    uint64_t size = 0;
    std::vector<std::string> chunkHashes; // lowercase hex SHA-256 per catalog::kChunkSize chunk
    bool operator==(const FileDescription &) const = default;
};
struct GameFiles {
    std::string game;
    std::string version;
    std::vector<FileDescription> files; // sorted by path
    bool operator==(const GameFiles &) const = default;
};

// The identity of a file list: lowercase hex SHA-256 over its game id, version, and every
// file's path, size and chunk hashes, in order (docs/protocol.md gives the exact bytes).
std::string filesDigest(const GameFiles &files);

struct GetChunk {
    std::string game;
    std::string path;
    uint64_t offset = 0;
    uint64_t length = 0;
    bool operator==(const GetChunk &) const = default;
};

// A refused or failed request, or the reason a session is being closed.
struct ErrorReply {
    std::string code; // stable: "protocol-error", "unknown-game", "not-servable", "busy",
                      // "bad-path", "out-of-range", "io-error", "version-mismatch",
                      // "self-connect", "identity-mismatch", "party-key-mismatch"
    std::string message;
    bool operator==(const ErrorReply &) const = default;
};

struct Ping {
    uint64_t nonce = 0;
    bool operator==(const Ping &) const = default;
};
struct Pong {
    uint64_t nonce = 0;
    bool operator==(const Pong &) const = default;
};
struct Goodbye {
    std::string reason;
    bool operator==(const Goodbye &) const = default;
};

// The party-key handshake (peers with lanspread.party_key only; docs/protocol.md#party-key).
// Sent before Hello on the control stream: the dialer's KeyChallenge, the listener's
// KeyChallenge and KeyProof, then the dialer's KeyProof and Hello. The key never goes on the
// wire: a proof is HMAC-SHA256 under it over both peer ids, both nonces and the prover's role.
constexpr const char *kPartyKeyScheme = "party-key/1";
struct KeyChallenge {
    std::string scheme = kPartyKeyScheme; // how proofs are made; another scheme is a mismatch
    std::string nonce;                    // 32 fresh random bytes, 64 lowercase hex
    bool operator==(const KeyChallenge &) const = default;
};
struct KeyProof {
    std::string mac; // HMAC-SHA256, 64 lowercase hex
    bool operator==(const KeyProof &) const = default;
};

// Every control message (everything but ChunkData, whose payload is raw bytes).
using Message = std::variant<Hello, HelloAck, LibraryDelta, GetGame, GameFiles, GetChunk,
                             ErrorReply, Ping, Pong, Goodbye, Have, KeyChallenge, KeyProof>;
FrameType frameTypeOf(const Message &message);

// The whole frame (header + JSON payload) of a control message.
std::vector<uint8_t> encode(const Message &message);
// The 5-byte header of a ChunkData frame; exactly `length` raw bytes must follow.
std::vector<uint8_t> encodeChunkDataHeader(uint32_t length);

// Decodes one control payload of the given type, checking every field: required members
// present with the right JSON type, strings within their limits, game ids valid catalog
// ids, peer ids 64 lowercase hex, chunk hashes 64 lowercase hex and exactly
// chunkCount(size) of them. The error names the frame and the field.
Result<Message> decode(FrameType type, std::span<const uint8_t> payload);

// Incremental reader for one stream's bytes. Not thread-safe; one per stream direction.
class FrameReader {
  public:
    struct Handler {
        // A complete control message.
        std::function<void(Message &&message)> onMessage;
        // A ChunkData frame begins; `length` raw bytes follow through onData.
        std::function<void(uint32_t length)> onDataBegin;
        // The next piece of the current ChunkData payload (borrowed for the call);
        // remaining is how many bytes of the frame are still to come after it.
        std::function<void(std::span<const uint8_t> piece, uint32_t remaining)> onData;
    };
    explicit FrameReader(Handler handler, uint32_t maxControlPayload = kMaxControlPayload)
        : _handler(std::move(handler)), _maxControl(maxControlPayload) {}

    // Feeds bytes; returns an error (with a message naming what was wrong) on the first
    // protocol violation; after that the reader stays failed and ignores input.
    // Handlers run inside feed(); they may not destroy the reader.
    Status feed(std::span<const uint8_t> bytes);
    // True between frames (no partial header or payload pending): where a FIN is legal.
    bool atFrameBoundary() const;
    bool failed() const { return _failed; }

  private:
    Handler _handler;
    uint32_t _maxControl;
    uint8_t _header[kFrameHeaderSize] = {};
    std::size_t _headerFill = 0;
    bool _inPayload = false;
    FrameType _type = FrameType::Hello;
    uint32_t _length = 0;
    uint32_t _remaining = 0;
    std::vector<uint8_t> _payload; // control payload being collected
    bool _failed = false;
};

} // namespace lanspread::kernel::protocol
