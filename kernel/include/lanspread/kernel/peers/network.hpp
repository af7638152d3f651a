// The peer network: connections to other peers over a lanspread.transport/1 plugin, the
// handshake that pins each connection to a peer_id, and the streams that carry requests
// (wire format: protocol/messages.hpp). It owns the peer DB and publishes the peer events of
// docs/cli-contract.md (peer-discovered, peer-connected, peer-updated, peer-lost).
//
// Several transports: the network listens with each (in the configured order, on the same
// port number where it is free) and advertises them all in Hello. A dial tries the first
// transport, and the next one whenever the attempts so far have not connected within the
// fallback time (or have all failed); the first handshake to complete answers the dial.
//
// One connection per peer: when a second connection to a known peer_id completes its
// handshake, both sides keep the same one and close the other without a peer-lost: the one
// over the transport earlier in the configured order (every peer is assumed to list them in
// the same order); between equals, the one initiated by the smaller peer_id; among
// connections from the same initiator, the newest.
//
// Serving (GetGame, GetChunk) asks the ServeHandler for the decision (the serve gates) and
// reads file bytes on the worker pool, a block at a time, only as fast as the transport takes
// them. Thread: reactor, everything.
#pragma once

#include <lanspread/kernel/contract/error_code.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kernel/peers/party_key.hpp>
#include <lanspread/kernel/peers/peer_db.hpp>
#include <lanspread/kernel/peers/serve_decision.hpp>
#include <lanspread/kernel/peers/token_bucket.hpp>
#include <lanspread/kernel/protocol/messages.hpp>
#include <lanspread/kinds/transport.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace lanspread::kernel::peers {

struct TransportRef {
    std::string id; // plugin id
    const lanspread_transport_v1 *vtable = nullptr;
    void *state = nullptr;
};

// The short name a transport goes by on the wire and in list-peers: the last dot-separated
// part of its plugin id ("org.lanspread.transport.quic" -> "quic").
std::string transportName(const std::string &pluginId);

// One transport this peer listens with.
struct ListenerInfo {
    std::string transport; // short name
    std::string pluginId;
    std::string addr; // bound "ip:port"
};

// What the network needs from the rest of the peer. Thread: reactor.
class NetworkDelegate {
  public:
    virtual ~NetworkDelegate() = default;
    // The local library as advertised in Hello, and the games being downloaded.
    virtual void librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games,
                                 std::vector<protocol::PartialGame> &partials) = 0;
    virtual std::variant<protocol::GameFiles, ServeRefusal>
    serveGetGame(const std::string &game) = 0;
    // peerId asks for a range. On success: the absolute path of the game root the range's
    // file lives in.
    virtual std::variant<ServeRange, ServeRefusal> serveGetChunk(const std::string &peerId,
                                                                 const protocol::GetChunk &request,
                                                                 std::string &gameRoot) = 0;
    // A peer is gone (closed, goodbye, refused): downloads drop it as a source.
    virtual void peerLost(const std::string &peerId) = 0;
    // A peer's library changed (snapshot or delta, partial games included).
    virtual void peerLibraryChanged(const std::string &peerId) = 0;
    // A peer verified more chunks of a partial game (already applied to the peer DB).
    virtual void peerHave(const std::string &peerId, const protocol::Have &have) = 0;
};

class PeerNetwork {
  public:
    PeerNetwork(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
                const Identity &identity, std::string name, NetworkDelegate &delegate);
    ~PeerNetwork();
    PeerNetwork(const PeerNetwork &) = delete;
    PeerNetwork &operator=(const PeerNetwork &) = delete;

    // Listens on bindAddr ("ip:port") with each transport, in order of preference. A
    // transport after the first asks for the first one's port when bindAddr's is 0 (a peer is
    // then one port number on UDP and TCP alike) and takes any port if that one is taken.
    // Fails when no transport listens (the error says which address and why); a transport
    // that cannot listen while another can is left out and named in listenFailures().
    Status start(const std::vector<TransportRef> &transports, const std::string &bindAddr);
    Status start(const TransportRef &transport, const std::string &bindAddr) {
        return start(std::vector<TransportRef>{transport}, bindAddr);
    }
    // Sends Goodbye to every peer and closes every connection (peer-lost is not published
    // for our own shutdown). Thread: reactor, before the transport plugin shuts down.
    void stop();
    bool running() const;
    // Caps the bytes per second served to all peers together (0 = no cap): a host whose
    // own game must not lag can share at a polite rate. A token bucket with a 1 MiB burst.
    void setUploadLimit(double bytesPerSecond) { _uploadBucket.setRate(bytesPerSecond); }
    // How long a silent peer lasts before its connection closes (transport idle timeout).
    void setPeerTimeout(uint64_t ns) { _peerTimeoutNs = ns; }
    // How long a dial waits for a transport to connect before it also tries the next one.
    void setTransportFallback(uint64_t ns) { _fallbackNs = ns; }
    // The party key (lanspread.party_key): with one, a connection completes only with a
    // peer that proves the same key before either library goes out, and a peer that fails
    // (party-key-mismatch, by either side) is not dialled again by discovery or re-dial
    // until this peer restarts; `connect` still tries it. Set before start().
    void setPartyKey(std::optional<PartyKey> key) { _partyKey = std::move(key); }
    // Whether peerId was refused for the party key (so discovery leaves it alone).
    bool partyKeyRefused(const std::string &peerId) const {
        return _partyKeyRefused.count(peerId) != 0;
    }
    // Limits under hostile load (docs/configuration.md). How long an incoming connection may
    // take to send its Hello, and a dial to get its HelloAck, before it is closed.
    void setHelloTimeout(uint64_t ns) { _helloTimeoutNs = ns; }
    // Incoming connections from one remote address held at once (Hello pending or connected);
    // one more is closed as soon as its transport reports it (close code 4). Loopback
    // addresses are not capped: every peer on this machine comes from one of them.
    void setMaxConnectionsPerAddress(std::size_t n) { _maxConnectionsPerAddress = n; }
    // Requests (streams) one peer may have open here at once; one more is answered with Error
    // `too-many-requests` at once, its request unread.
    void setMaxRequestsPerPeer(std::size_t n) { _maxRequestsPerPeer = n; }
    // What the limits refused so far, and the refusal lines the log's rate limit held back
    // (each is counted in a summary line instead). Tests and diagnostics.
    struct Refusals {
        uint64_t connectionsPerAddress = 0;
        uint64_t requestsPerPeer = 0;
        uint64_t linesSuppressed = 0;
    };
    const Refusals &refusals() const { return _refusals; }

    // The first (preferred) transport's bound listener "ip:port" ("" before start()).
    const std::string &listenAddr() const { return _listenAddr; }
    // Every transport listening, in order of preference.
    std::vector<ListenerInfo> listeners() const;
    // The transports that could not listen: (plugin id, why).
    const std::vector<std::pair<std::string, std::string>> &listenFailures() const {
        return _listenFailures;
    }
    // Whether addr names this peer's own listener (the self-connect check of `connect`).
    bool isOwnAddress(const std::string &addr) const;

    // The remote peer_id, or why there is no connection: SelfConnect when addr is this peer,
    // ConnectFailed for everything else (the message names the refusal, e.g.
    // "connect-failed: identity-mismatch: ...").
    using ConnectDone = std::function<void(contract::Outcome<std::string>)>;
    // Connects and handshakes, trying the transports in order (see above). expectedPeerId
    // (from discovery) pins the identity: a different key is refused (identity-mismatch).
    // addrByTransport: the transports the peer announced (short name -> "ip:port", from the
    // mDNS record); when it is not empty the dial tries only those, each at its address, in
    // this peer's order of preference. Empty: every transport dials addr.
    void connect(const std::string &addr, const std::string &via, ConnectDone done,
                 const std::string &expectedPeerId = {},
                 const std::map<std::string, std::string> &addrByTransport = {});
    // Whether a handshake to addr is under way (discovery does not dial twice).
    bool dialing(const std::string &addr) const;

    // Sends a LibraryDelta to every connected peer.
    void broadcastDelta(const protocol::LibraryDelta &delta);
    // Sends a Have to every connected peer.
    void broadcastHave(const protocol::Have &have);

    const PeerDb &peers() const { return _peers; }

    // --- requests (the download engine) ---
    using RequestId = uint64_t;
    void requestGameFiles(const std::string &peerId, const std::string &game,
                          std::function<void(Result<protocol::GameFiles>)> done);
    struct ChunkHandler {
        // A piece of the chunk's bytes, in order (borrowed for the call). The receiver must
        // later call releaseChunkBytes(id, n) for every byte it was given: that is what lets
        // the sender push more (flow control bounds the receiver's memory).
        std::function<void(std::span<const uint8_t> piece)> onData;
        // The request ended: OK once every byte arrived; otherwise why it failed. Called once.
        std::function<void(const Status &status)> onEnd;
    };
    RequestId requestChunk(const std::string &peerId, const protocol::GetChunk &request,
                           ChunkHandler handler);
    void releaseChunkBytes(RequestId id, std::size_t bytes);
    // Abandons a request (its onEnd is not called; the stream is reset).
    void cancelRequest(RequestId id);
    // After onEnd, once every byte was released: the request's bookkeeping can go.
    void forgetRequest(RequestId id);
    std::string peerAddr(const std::string &peerId) const;

    // Serving: active GetChunk streams per game (status "outbound_transfers").
    const std::map<std::string, int> &outboundTransfers() const { return _outbound; }

  private:
    struct Session;
    struct Stream;
    struct OutBuffer;
    struct Listener;
    struct Dial;
    friend struct NetworkCallbacks;

    // Transport callbacks.
    void onConnected(Listener &listener, lanspread_transport_conn *conn,
                     const lanspread_remote_identity *remote);
    void onStreamOpened(lanspread_transport_conn *conn, uint64_t streamId);
    void onStreamData(lanspread_transport_conn *conn, uint64_t streamId, const uint8_t *data,
                      std::size_t len, uint32_t flags);
    void onWritable(lanspread_transport_conn *conn, uint64_t streamId);
    void onClosed(lanspread_transport_conn *conn, lanspread_status status, const char *reason);

    Session *session(lanspread_transport_conn *conn);
    // The transport a session runs over.
    static const lanspread_transport_v1 &vt(const Session &s);
    // Dials: one attempt per transport (dialNext starts the next one and arms the fallback
    // timer); an attempt's session reports back once, success or failure.
    void dialNext(uint64_t dialId);
    // Moves dial.next to the next transport the dial may use (listening here and, when the
    // peer announced its transports, one of them); false when there is none.
    bool nextTransport(Dial &dial) const;
    bool startAttempt(Dial &dial, uint64_t dialId, Listener &listener, const std::string &addr);
    Status listenWith(Listener &listener, const std::string &bindAddr);
    void attemptSucceeded(Session &s);
    void attemptFailed(Session &s, const contract::Failure &failure);
    void finishDialIfIdle(uint64_t dialId);
    Session *readySession(const std::string &peerId);
    void onControlMessage(Session &s, protocol::Message &&message);
    void completeHandshake(Session &s, const protocol::Hello &hello);
    // The party-key steps before Hello (KeyChallenge, KeyProof, and a Hello or HelloAck that
    // comes without them). True when it took the message (or refused the session).
    bool partyKeyStep(Session &s, protocol::Message &message);
    // Refuses with party-key-mismatch, remembers the peer and publishes peer-refused.
    void refuseForPartyKey(Session &s, const std::string &why, bool notifyPeer = true);
    void sendControl(Session &s, const protocol::Message &message);
    // Refuses or ends a session; notifyPeer sends an ErrorReply{code, why} first.
    void closeSession(Session &s, const std::string &code, const std::string &why,
                      bool notifyPeer = true);
    void dropSession(lanspread_transport_conn *conn, const std::string &reason);
    // Liveness: pings idle peers and closes those silent for the peer timeout.
    void livenessTick();
    protocol::Hello ownHello(Session &s);
    // Drops a peer from the DB and publishes peer-lost; redial: try its address again later.
    void publishLost(const std::string &peerId, const std::string &reason, bool redial);
    void scheduleRedial();

    void onRequestStreamMessage(Session &s, Stream &st, protocol::Message &&message);
    void startServeChunk(Session &s, Stream &st, const protocol::GetChunk &request);
    void pumpServe(Session &s, Stream &st);
    void queueSend(Session &s, Stream &st, std::vector<uint8_t> bytes, bool fin);
    void flushStream(Session &s, Stream &st);
    void finishStream(Session &s, uint64_t streamId);
    void failRequest(Session &s, Stream &st, const Status &status);
    Stream *findStream(Session &s, uint64_t streamId);
    // The stream a posted task or disk job refers to, if its connection (same serial) and the
    // stream still exist; session_ receives the session.
    Stream *liveStream(lanspread_transport_conn *conn, uint64_t serial, uint64_t streamId,
                       Session *&session_);
    // After a serving disk read: the stream still waiting for its result, or nullptr when the
    // connection or stream is gone, or the stream was aborted meanwhile (then it is freed).
    Stream *servedStreamAfterRead(lanspread_transport_conn *conn, uint64_t serial,
                                  uint64_t streamId, Session *&session_);
    // An incoming stream is dead (reset either way): drop its answer and free it as soon as
    // no disk job holds it.
    void abortIncoming(Session &s, Stream &st, bool sendReset);
    // Frees an incoming stream once the current call stack is done with it.
    void finishSoon(Session &s, Stream &st);
    // Forgets a stream now but frees it later: it may be the one whose reader is running.
    void retireStream(Session &s, uint64_t streamId);
    // Takes `bytes` of upload budget, or false (the stream is queued for the refill timer).
    bool takeUploadBudget(Session &s, Stream &st, std::size_t bytes);
    // Limits (network_limits.cpp). Whether an incoming session's address already holds the
    // most connections it may; whether a peer already has the most requests open it may.
    bool overAddressCap(const Session &s) const;
    bool overRequestCap(const Session &s) const;
    // A refusal's warning line, rate-limited: at most kRefusalLogBurst a second one by one,
    // the rest counted in one line when the second is up (a flood is not a log flood).
    void logRefusal(const std::string &line);
    // The Hello timeout as its refusal says it ("10 s", "1500 ms").
    std::string helloTimeoutText() const;
    void flushRefusalLog();

    host::Reactor &_reactor;
    host::WorkerPool &_workers;
    host::EventBus &_events;
    const Identity &_identity;
    std::string _name;
    NetworkDelegate &_delegate;
    std::vector<std::unique_ptr<Listener>> _listeners; // in order of preference
    std::vector<std::pair<std::string, std::string>> _listenFailures;
    std::string _listenAddr;
    uint64_t _fallbackNs = 1'500'000'000ull;
    std::map<uint64_t, std::unique_ptr<Dial>> _dials;
    uint64_t _nextDial = 1;
    PeerDb _peers;
    std::map<lanspread_transport_conn *, std::unique_ptr<Session>> _sessions;
    std::map<RequestId, std::pair<lanspread_transport_conn *, uint64_t>> _requests;
    RequestId _nextRequest = 1;
    uint64_t _nextSerial = 1;
    std::map<std::string, int> _outbound;
    std::vector<std::unique_ptr<Stream>> _retired; // freed from the reactor queue
    // The upload limit; its burst is one serve block.
    TokenBucket _uploadBucket;
    uint64_t _peerTimeoutNs = 10'000'000'000ull;
    uint64_t _livenessTimer = 0;
    struct LostPeer {
        std::string addr;
        std::map<std::string, std::string> addrs; // by transport
        std::string via;
        uint64_t untilNs = 0;
    };
    std::map<std::string, LostPeer> _lost; // peers to re-dial, by peer_id
    uint64_t _redialTimer = 0;
    uint64_t _pingNonce = 0;
    uint64_t _uploadTimer = 0;
    std::vector<std::tuple<lanspread_transport_conn *, uint64_t, uint64_t>> _uploadWaiters;
    uint64_t _helloTimeoutNs = 10'000'000'000ull;
    std::size_t _maxConnectionsPerAddress = 8;
    std::size_t _maxRequestsPerPeer = 64;
    Refusals _refusals;
    uint64_t _refusalWindowNs = 0; // when the current second of refusal lines began
    unsigned _refusalLinesInWindow = 0;
    uint64_t _refusalsHeld = 0; // refusals not logged one by one in this window
    std::string _refusalLatest; // the latest of them
    uint64_t _refusalTimer = 0;
    std::optional<PartyKey> _partyKey;
    std::set<std::string> _partyKeyRefused; // peer ids, until restart
    std::shared_ptr<bool> _alive;
    bool _stopping = false;
};

} // namespace lanspread::kernel::peers
