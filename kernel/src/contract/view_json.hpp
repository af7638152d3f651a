// The JSON of the views that appear both in results and in events, written once.
#pragma once

#include <lanspread/kernel/contract/views.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <vector>

namespace lanspread::kernel::contract {

// {"id","name","version","downloaded","installed","availability","size"} per game
Poco::JSON::Array localGamesJson(const std::vector<LocalGameView> &games);
// [{"id","version","availability"}] in the view's order
Poco::JSON::Array peerGamesJson(const std::vector<PeerGameView> &games);
// [{"id","version","chunks_have","chunk_count"}] in the view's order
Poco::JSON::Array peerPartialsJson(const std::vector<PeerPartialView> &partials);
// {game: operation} in game order
Poco::JSON::Object operationsJson(const OperationsView &operations);

} // namespace lanspread::kernel::contract
