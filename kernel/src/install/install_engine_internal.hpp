// Internal to the install engine (kernel/src/install/): the game paths and the filesystem
// steps that transactions and start-up recovery share. Nothing outside this folder includes
// this. One file per job:
//   install_engine.cpp   the transactions: install/update, uninstall, remove; their steps;
//                        crash points
//   recovery.cpp         start-up recovery: every interrupted transaction rolled back or
//                        forward (recover(), and settle() before each transaction)
//   unpacker_choice.cpp  the archives of a game root and the unpacker that reads each
#pragma once

#include <lanspread/kernel/install/install_engine.hpp>

#include <string>
#include <vector>

namespace lanspread::kernel::install::detail {

constexpr const char *kLogSource = "install";

struct GamePaths {
    GamePaths(const std::string &gamesDir, const std::string &gameId)
        : root(gamesDir + "/" + gameId), local(root + "/local"),
          staging(root + "/" + kStagingDirName), backup(root + "/" + kBackupDirName),
          versionIni(root + "/version.ini") {}
    std::string root, local, staging, backup, versionIni;
};

std::string markerOf(const std::string &dir);

// A game id names a direct child of the games dir.
Status checkGameId(const std::string &gameId);

bool hasMarker(const std::string &dir);
Status writeMarker(const std::string &dir);
// The staging marker still holds what install wrote (an archive entry may have replaced it).
bool markerIntact(const std::string &dir);

Status removeTree(const std::string &path);
Status renamePath(const std::string &from, const std::string &to);
// Flushes the filesystem holding dir, so a "promoting" intent never points at extracted data
// that a power loss could still take away.
Status syncFilesystemOf(const std::string &dir);
// Puts an owned backup back as local/ (marker removed first, so it never lands in local/).
Status restoreBackup(const GamePaths &p);
Status clearLaunchMarker(const std::string &stateDir, const std::string &gameId);

std::string join(const std::vector<std::string> &parts, const char *separator);

// Before a transaction: recovers leftovers of an earlier one, then refuses foreign dirs
// (recovery.cpp).
Status settle(const std::string &gamesDir, const std::string &stateDir, const std::string &gameId,
              const char *operation);

} // namespace lanspread::kernel::install::detail
