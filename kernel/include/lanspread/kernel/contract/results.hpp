// The results of the command contract, built here and nowhere else: the "data" object of
// each command's success, and the result line's payload around it
// ({"event":"result","id":...,"ok":true,"data":{...}} or "ok":false with
// "error":{"code","message"}). Field names, order and JSON types are the contract
// frontends and scripts parse; change them only on purpose.
#pragma once

#include <lanspread/kernel/contract/error_code.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/contract/views.hpp>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <cstddef>
#include <string>
#include <vector>

namespace lanspread::kernel::contract {

// The result line of command id (topic "result"; id is echoed as the command gave it).
Event commandSucceeded(const Poco::Dynamic::Var &id, const Poco::JSON::Object &data);
Event commandFailed(const Poco::Dynamic::Var &id, const Failure &failure);

// The data of each command's success.
Poco::JSON::Object statusResult(const StatusView &status);
Poco::JSON::Object shutdownResult();
Poco::JSON::Object connectResult(const std::string &peerId);
Poco::JSON::Object listPeersResult(const std::vector<PeerView> &peers);
Poco::JSON::Object waitPeersResult(std::size_t peerCount);
Poco::JSON::Object listGamesResult(const std::vector<LocalGameView> &local,
                                   const std::vector<RemoteGameView> &remote);
// install, uninstall and cancel-download: {"accepted":true}
Poco::JSON::Object acceptedResult();
Poco::JSON::Object downloadAcceptedResult(std::size_t sources);
Poco::JSON::Object removeResult();
Poco::JSON::Object playResult(const LaunchSettingsView &applied);
Poco::JSON::Object setGameDirResult(const std::string &gamesDir);

} // namespace lanspread::kernel::contract
