#include "view_json.hpp"

namespace lanspread::kernel::contract {

Poco::JSON::Array localGamesJson(const std::vector<LocalGameView> &games) {
    Poco::JSON::Array rows;
    for (const auto &game : games) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("id", game.id);
        o.set("name", game.name);
        o.set("version", game.version);
        o.set("downloaded", game.downloaded);
        o.set("installed", game.installed);
        o.set("availability", game.availability);
        o.set("size", game.sizeBytes);
        rows.add(o);
    }
    return rows;
}

Poco::JSON::Array peerGamesJson(const std::vector<PeerGameView> &games) {
    Poco::JSON::Array rows;
    for (const auto &game : games) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("id", game.id);
        o.set("version", game.version);
        o.set("availability", game.availability);
        rows.add(o);
    }
    return rows;
}

Poco::JSON::Array peerPartialsJson(const std::vector<PeerPartialView> &partials) {
    Poco::JSON::Array rows;
    for (const auto &partial : partials) {
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        o.set("id", partial.id);
        o.set("version", partial.version);
        o.set("chunks_have", partial.chunksHave);
        o.set("chunk_count", partial.chunkCount);
        rows.add(o);
    }
    return rows;
}

Poco::JSON::Object operationsJson(const OperationsView &operations) {
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto &[game, operation] : operations)
        o.set(game, operation);
    return o;
}

} // namespace lanspread::kernel::contract
