// Internal to the install engine (kernel/src/install/): the game paths and the filesystem
// steps that transactions and start-up recovery share. Nothing outside this folder includes
// this. One file per job:
//   install_engine.cpp   the transactions: install/update, uninstall, remove; their steps;
//                        crash points
//   recovery.cpp         start-up recovery: every interrupted transaction rolled back or
//                        forward (recover(), and settle() before each transaction)
//   unpacker_choice.cpp  the archives of a game root and the unpacker that reads each
//   stream_install.cpp   the streamed install transaction (its rollback and recovery share
//                        these steps; recovery.cpp handles its intent too)
#pragma once

#include <lanspread/kernel/install/install_engine.hpp>

#include <cstddef>
#include <cstdint>
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
// Removes dir when it is an empty directory: true when it did, false when dir is missing or
// not empty (the parent is fsynced after a removal). Other failures are errors.
Result<bool> removeDirectoryIfEmpty(const std::string &dir);
Status renamePath(const std::string &from, const std::string &to);
// Flushes the filesystem holding dir, so a "promoting" intent never points at extracted data
// that a power loss could still take away.
Status syncFilesystemOf(const std::string &dir);
// Creates the staging dir and its marker; created says whether the mkdir happened (then a
// rollback must remove it, even when the marker could not be written).
Status createStaging(const GamePaths &p, bool &created);
// After an archive: fails when an entry replaced the staging marker (a reserved name).
Status checkStagingMarker(const GamePaths &p, const std::string &gameId,
                          const std::string &archive);
// Staging becomes local/: its marker removed first (so it never lands in local/), renamed,
// the root fsynced (a failed fsync is only logged: the rename happened).
Status promoteStaging(const GamePaths &p);
// Puts an owned backup back as local/ (marker removed first, so it never lands in local/).
Status restoreBackup(const GamePaths &p);
Status clearLaunchMarker(const std::string &stateDir, const std::string &gameId);

// The end of a failed transaction's undo: the intent goes when the undo was clean (else it
// stays, so the next start's recovery finishes it), and the failure is logged. Returns why.
Status finishRollback(bool clean, const std::string &stateDir, const std::string &gameId,
                      const std::string &what, Status why);

std::string join(const std::vector<std::string> &parts, const char *separator);

// How many bytes of an archive's start the unpackers probe.
constexpr std::size_t kProbeHeadBytes = 8192;
// The unpackers that bid (score > 0) on an archive starting with head and named nameHint,
// highest score first (ties: in the list's order); with pinnedId just that one, no bidding.
// Fails naming where: E_UNSUPPORTED when nobody bids, E_NOT_FOUND when the pinned one is not
// loaded (unpacker_choice.cpp).
Result<std::vector<UnpackerRef>>
unpackerBidders(const std::vector<UnpackerRef> &unpackers, const std::vector<uint8_t> &head,
                const std::string &nameHint, const std::string &pinnedId, const std::string &where);

// Before a transaction: recovers leftovers of an earlier one, then refuses foreign dirs
// (recovery.cpp).
Status settle(const std::string &gamesDir, const std::string &stateDir, const std::string &gameId,
              const char *operation);

} // namespace lanspread::kernel::install::detail
