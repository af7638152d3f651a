// PeerNetwork's private parts, shared by the files that implement it (network.cpp and
// network_*.cpp, one job each): the constants of the session protocol and the state of a
// session and of a stream. Nothing outside kernel/src/peers/ includes this.
#pragma once

#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/peers/network.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lanspread::kernel::peers {

namespace network_detail {
inline constexpr const char *kSource = "peer";
inline constexpr uint64_t kNoStream = UINT64_MAX;
inline constexpr std::size_t kServeBlock = 1u << 20; // bytes read from disk per worker job
// Bytes queued for the transport per stream.
inline constexpr std::size_t kServeReadAhead = 2u << 20;
inline constexpr uint64_t kAppErrorProtocol = 1;
inline constexpr uint64_t kAppErrorGoodbye = 2;
inline constexpr uint64_t kAppErrorDuplicate = 3; // "I keep our other connection"
// "Too many connections from your address" (lanspread.max_connections_per_address).
inline constexpr uint64_t kAppErrorTooMany = 4;
// Refusal warnings logged one by one per second; the rest go into one line a second.
inline constexpr unsigned kRefusalLogBurst = 10;
inline constexpr uint64_t kRefusalLogWindowNs = 1'000'000'000ull;
inline constexpr uint64_t kRedialIntervalNs = 5'000'000'000ull;
inline constexpr uint64_t kRedialForNs = 600'000'000'000ull; // keep trying a lost peer for 10 min
inline constexpr uint64_t kCloseLingerNs = 250'000'000ull;   // lets a refusal reach the peer
} // namespace network_detail

// One transport listening: the callbacks' user_data, so an incoming connection is known to
// come from it.
struct PeerNetwork::Listener {
    PeerNetwork *network = nullptr;
    TransportRef ref;
    std::string name;     // transportName(ref.id)
    std::size_t rank = 0; // position in the order of preference
    lanspread_transport_events callbacks{};
    lanspread_transport_endpoint *endpoint = nullptr;
    std::string listenAddr;
};

// One connect(): an attempt per transport, the next one started after the fallback time or
// when all so far failed. Answered once: by the first handshake to complete, or by the most
// telling failure once every transport failed. Kept until its last attempt ends (a slower
// attempt over a preferred transport may still complete; then one-per-peer keeps it).
struct PeerNetwork::Dial {
    std::string addr;
    std::map<std::string, std::string> addrByTransport;
    std::string via;
    std::string expectedPeerId;
    std::size_t next = 0;    // the listener to try next
    std::size_t pending = 0; // attempts under way
    bool answered = false;
    std::vector<ConnectDone> waiters;
    std::optional<contract::Failure> failure;
    bool failureAfterTransport = false; // the failing attempt got past the transport handshake
    uint64_t fallbackTimer = 0;
};

// Bytes accepted by us for a stream but not yet by the transport.
struct PeerNetwork::OutBuffer {
    std::deque<std::vector<uint8_t>> pieces;
    std::size_t offset = 0; // into pieces.front()
    std::size_t queued = 0; // bytes not yet sent
    bool fin = false;       // send FIN after the last byte
    bool finSent = false;
};

struct PeerNetwork::Stream {
    enum class Role { Control, Incoming, OutgoingFiles, OutgoingChunk };
    uint64_t id = network_detail::kNoStream;
    Role role = Role::Incoming;
    std::unique_ptr<protocol::FrameReader> reader;
    OutBuffer out;
    bool recvEnded = false; // FIN or reset received
    // Outgoing requests.
    RequestId request = 0;
    std::function<void(Result<protocol::GameFiles>)> filesDone;
    ChunkHandler chunk;
    uint64_t expected = 0;
    uint64_t received = 0;
    bool dataBegun = false;
    bool responded = false; // the response (or its failure) was reported
    std::size_t dataInFeed = 0;
    // Incoming requests.
    bool requestSeen = false;
    // An incoming stream that failed: further bytes are consumed and ignored (our error
    // answer still goes out; resetting would drop it).
    bool discard = false;
    // An incoming stream reset (by either side) while a disk job runs: it finishes when the
    // job reports back.
    bool aborted = false;
    bool finishQueued = false; // finishSoon() posted
    // Refused at once as one request too many (too-many-requests): not counted as open.
    bool refused = false;
    // Serving a chunk.
    bool serving = false;
    std::string serveGame;
    std::shared_ptr<int> fd; // closed by its deleter
    uint64_t serveOffset = 0;
    uint64_t serveRemaining = 0;
    bool reading = false;
};

struct PeerNetwork::Session {
    enum class State { Connecting, Handshaking, Ready, Closing };
    lanspread_transport_conn *conn = nullptr;
    Listener *listener = nullptr; // the transport it runs over
    uint64_t dial = 0;            // the connect() it is an attempt of, until it reports (0: none)
    uint64_t serial = 0;
    bool outgoing = false;
    std::string via;
    std::string dialAddr;   // what connect() was given
    std::string remoteAddr; // transport-level source address
    std::string fingerprint;
    State state = State::Connecting;
    uint64_t control = network_detail::kNoStream;
    std::string peerId;
    std::string addr;           // reachable listener address
    std::string expectedPeerId; // pinned by discovery ("" = any)
    uint64_t lastActivityNs = 0;
    uint64_t lastPingNs = 0;
    bool timedOut = false; // closed by the liveness check
    // The library our Hello/HelloAck carried: if it changed before the session was Ready,
    // no broadcast reached this peer, so it gets the difference then.
    uint64_t sentRevision = 0;
    std::set<std::string> sentGames;
    std::vector<protocol::PartialGame> sentPartials; // kept until the handshake completes
    bool silent = false;                             // closing without peer-lost
    bool goodbye = false;
    // The party-key handshake (with a key only): each side's nonce, and whether the peer
    // proved the key (then, and only then, our library may go out).
    std::optional<PartyKey::Nonce> ownNonce;
    std::optional<PartyKey::Nonce> peerNonce;
    bool partyKeyProved = false;
    uint64_t handshakeTimer = 0;
    std::map<uint64_t, std::unique_ptr<Stream>> streams;

    std::string label() const { return peerId.empty() ? remoteAddr : peerId.substr(0, 12); }
};

} // namespace lanspread::kernel::peers
