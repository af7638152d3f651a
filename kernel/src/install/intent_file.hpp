// Internal to the install engine (kernel/src/install/install_engine.cpp, recovery.cpp,
// launch_settings.cpp): the install intent file <state>/games/<id>/install_intent.json, small
// atomic file writes, and the filesystem helpers both use. Nothing outside kernel/src/install
// includes this. The file-system helpers are base/files.hpp.
//
// Intent file format (one JSON object, written by writeIntent only):
//   {"op": "install" | "update" | "stream-install" | "uninstall",
//    "phase": "extracting" | "promoting"   (install, update, stream-install)
//           | "moving"                      (uninstall),
//    "archives": ["a.eti", ...]             (install, update, stream-install: root archive
//                                            names, in order),
//    "root_created": true | false           (stream-install only: the attempt created the
//                                            game root, so a rollback removes it again when
//                                            it is empty; absent means false)}
#pragma once

#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/result.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lanspread::kernel::install::detail {

struct InstallIntent {
    std::string op;
    std::string phase;
    std::vector<std::string> archives;
    bool rootCreated = false; // stream-install: this attempt created the game root
};

// <stateDir>/games/<gameId>
std::string gameStateDir(const std::string &stateDir, const std::string &gameId);
// <stateDir>/games/<gameId>/install_intent.json
std::string intentPath(const std::string &stateDir, const std::string &gameId);
// <stateDir>/games/<gameId>/launch_settings_applied
std::string launchMarkerPath(const std::string &stateDir, const std::string &gameId);

// Creates <state>/games/<id>/ if needed and replaces the intent atomically (temp + fsync +
// rename + fsync of the directory).
Status writeIntent(const std::string &stateDir, const std::string &gameId,
                   const InstallIntent &intent);
// nullopt when there is no intent file; a failed Result (E_INVALID_ARGUMENT) when the file
// exists but is not a valid intent, E_IO when it cannot be read.
Result<std::optional<InstallIntent>> readIntent(const std::string &stateDir,
                                                const std::string &gameId);
// Removes the intent (and a leftover temp file of an interrupted write); a missing file is
// fine. The directory is fsynced so the removal is durable.
Status removeIntent(const std::string &stateDir, const std::string &gameId);

} // namespace lanspread::kernel::install::detail
