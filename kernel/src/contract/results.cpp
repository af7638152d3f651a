#include <lanspread/kernel/contract/results.hpp>

#include "view_json.hpp"

#include <Poco/JSON/Array.h>

namespace lanspread::kernel::contract {

namespace {

// Fields appear in the order they are set.
Poco::JSON::Object object() {
    return Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Poco::JSON::Object flag(const std::string &name) {
    Poco::JSON::Object data = object();
    data.set(name, true);
    return data;
}

} // namespace

Event commandSucceeded(const Poco::Dynamic::Var &id, const Poco::JSON::Object &data) {
    Event result{"result", object()};
    result.payload.set("id", id);
    result.payload.set("ok", true);
    result.payload.set("data", data);
    return result;
}

Event commandFailed(const Poco::Dynamic::Var &id, const Failure &failure) {
    Poco::JSON::Object error = object();
    error.set("code", std::string(codeString(failure.code)));
    error.set("message", failure.message);
    Event result{"result", object()};
    result.payload.set("id", id);
    result.payload.set("ok", false);
    result.payload.set("error", error);
    return result;
}

Poco::JSON::Object statusResult(const StatusView &status) {
    Poco::JSON::Object data = object();
    data.set("name", status.name);
    data.set("version", status.version);
    data.set("pid", status.pid);
    data.set("listen_addr", status.listenAddr);
    Poco::JSON::Array transports;
    for (const auto &t : status.transports) {
        Poco::JSON::Object entry = object();
        entry.set("transport", t.transport);
        entry.set("plugin", t.plugin);
        entry.set("listen_addr", t.listenAddr);
        transports.add(entry);
    }
    data.set("transports", transports);
    data.set("games_dir", status.gamesDir);
    data.set("state_dir", status.stateDir);
    Poco::JSON::Array plugins;
    for (const auto &p : status.plugins) {
        Poco::JSON::Object entry = object();
        entry.set("id", p.id);
        entry.set("kind", p.kind);
        entry.set("version", p.version);
        entry.set("path", p.path);
        plugins.add(entry);
    }
    data.set("plugins", plugins);
    Poco::JSON::Array rejected;
    for (const auto &r : status.rejectedPlugins) {
        Poco::JSON::Object entry = object();
        entry.set("path", r.path);
        entry.set("failure", r.failure);
        entry.set("reason", r.reason);
        rejected.add(entry);
    }
    data.set("rejected_plugins", rejected);
    data.set("peer_id", status.peerId);
    data.set("catalog", status.catalog);
    data.set("active_operations", operationsJson(status.activeOperations));
    data.set("protocol_version", status.protocolVersion);
    Poco::JSON::Object outbound = object();
    for (const auto &[game, count] : status.outboundTransfers)
        outbound.set(game, count);
    data.set("outbound_transfers", outbound);
    data.set("peer_count", status.peerCount);
    data.set("library_revision", status.libraryRevision);
    Poco::JSON::Object discovery = object();
    discovery.set("state", status.discovery.state);
    discovery.set("plugin", status.discovery.plugin);
    discovery.set("reason", status.discovery.reason);
    data.set("discovery", discovery);
    return data;
}

Poco::JSON::Object shutdownResult() {
    return flag("shutting_down");
}

Poco::JSON::Object connectResult(const std::string &peerId) {
    Poco::JSON::Object data = object();
    data.set("peer_id", peerId);
    return data;
}

Poco::JSON::Object listPeersResult(const std::vector<PeerView> &peers) {
    Poco::JSON::Array rows;
    for (const auto &peer : peers) {
        Poco::JSON::Object entry = object();
        entry.set("peer_id", peer.peerId);
        entry.set("name", peer.name);
        entry.set("addr", peer.addr);
        entry.set("via", peer.via);
        entry.set("transport", peer.transport);
        entry.set("games", peerGamesJson(peer.games));
        entry.set("partials", peerPartialsJson(peer.partials));
        rows.add(entry);
    }
    Poco::JSON::Object data = object();
    data.set("peers", rows);
    return data;
}

Poco::JSON::Object waitPeersResult(std::size_t peerCount) {
    Poco::JSON::Object data = object();
    data.set("peer_count", peerCount);
    return data;
}

Poco::JSON::Object listGamesResult(const std::vector<LocalGameView> &local,
                                   const std::vector<RemoteGameView> &remote) {
    Poco::JSON::Array remoteRows;
    for (const auto &game : remote) {
        Poco::JSON::Object row = object();
        row.set("id", game.id);
        row.set("name", game.name);
        row.set("eti_game_version", game.catalogVersion);
        row.set("peer_count", game.peerCount);
        row.set("partial_peers", game.partialPeerCount);
        row.set("size", game.sizeBytes);
        remoteRows.add(row);
    }
    Poco::JSON::Object data = object();
    data.set("local", localGamesJson(local));
    data.set("remote", remoteRows);
    return data;
}

Poco::JSON::Object acceptedResult() {
    return flag("accepted");
}

Poco::JSON::Object downloadAcceptedResult(std::size_t sources) {
    Poco::JSON::Object data = flag("accepted");
    data.set("sources", sources);
    return data;
}

Poco::JSON::Object removeResult() {
    return flag("removed");
}

Poco::JSON::Object playResult(const LaunchSettingsView &applied) {
    Poco::JSON::Object data = object();
    data.set("already_applied", applied.alreadyApplied);
    data.set("account_name_written", applied.accountNameWritten);
    data.set("language_written", applied.languageWritten);
    data.set("persona_name_written", applied.personaNameWritten);
    return data;
}

Poco::JSON::Object setGameDirResult(const std::string &gamesDir) {
    Poco::JSON::Object data = flag("accepted");
    data.set("games_dir", gamesDir);
    return data;
}

} // namespace lanspread::kernel::contract
