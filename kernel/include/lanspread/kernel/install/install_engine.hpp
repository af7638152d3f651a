// Install transactions (docs/on-disk-layout.md): turning a downloaded game root's
// archives into <games>/<id>/local/, updating it, uninstalling it, removing the downloaded
// files, and recovering from a crash at any point. Every step that matters is recorded in
// an intent file, <state>/games/<id>/install_intent.json (written atomically: temp + fsync +
// rename), and the reserved directories <root>/.local.installing/ and <root>/.local.backup/
// are only ever deleted when an intent or their .lanspread_owned marker proves lanspread made
// them. After recover(), every game is either in its old state or its new state — never a
// mix — and no staging directory is left behind.
//
// All archive bytes go through the kernel's ExtractionSink; the unpacker is chosen by probe
// bidding among the loaded unpacker plugins (a pinned plugin id overrides the bidding).
// Threads: every member blocks on disk and runs on a worker thread; one game is never
// handled by two calls at once (the kernel's operations table guarantees it).
#pragma once

#include <lanspread/kernel/contract/error_code.hpp>
#include <lanspread/kernel/install/extraction_sink.hpp>
#include <lanspread/kernel/install/stream_provider.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/result.hpp>

#include <functional>
#include <string>
#include <vector>

namespace lanspread::kernel::install {

// On-disk layout of a transaction (decided here; recover() relies on it):
//   - <root>/.local.installing/ is the staging dir and also the ExtractionSink's root. Right
//     after creating it, install writes the marker file .local.installing/.lanspread_owned,
//     and removes it again just before renaming .local.installing/ to local/, so the marker
//     never ends up in local/. An archive entry that would replace the marker (a top-level
//     ".lanspread_owned") fails the install: that name is reserved.
//   - <root>/.local.backup/ is the old local/ renamed aside (update, uninstall); the marker
//     .local.backup/.lanspread_owned is written into it right after the rename and removed
//     before a rollback renames it back to local/.
//   - A reserved dir is lanspread's when it holds a regular-file marker, or when the intent
//     covers it: an install/update intent covers .local.installing/ (install refuses to start
//     while a foreign one exists) and, in phase "promoting", .local.backup/; an uninstall
//     intent covers .local.backup/. Anything else is foreign: logged, never deleted.
// Recovery outcomes: install/update "extracting" -> rolled back (staging deleted, local/
// untouched); "promoting" -> rolled forward whenever staging survives (extraction had
// finished), else the promotion had completed (backup deleted), else the backup is restored;
// uninstall -> finished when local/ is gone, else the game stays installed.
inline constexpr const char *kStagingDirName = ".local.installing";
inline constexpr const char *kBackupDirName = ".local.backup";
inline constexpr const char *kOwnedMarkerName = ".lanspread_owned";

// A loaded unpacker plugin as the install engine uses it.
struct UnpackerRef {
    std::string id; // plugin id
    const lanspread_unpacker_v1 *vtable = nullptr;
    void *state = nullptr;
};

// The archives of a game root that install extracts: regular files named *.eti directly in
// the root, in sorted (byte-wise) order.
std::vector<std::string> rootArchives(const std::string &rootDir);

// Highest probe score wins (ties: earlier in the list); pinnedId, when non-empty, must name
// one of them and is used without bidding. Fails naming the archive when nobody bids > 0.
Result<UnpackerRef> chooseUnpacker(const std::vector<UnpackerRef> &unpackers,
                                   const std::string &archivePath, const std::string &pinnedId);

struct InstallOutcome {
    bool updated = false; // an existing local/ was replaced
    ExtractionStats stats;
    std::vector<std::string> archives;    // in the order extracted
    std::vector<std::string> unpackerIds; // the plugin chosen per archive
};

class InstallEngine {
  public:
    InstallEngine(std::string gamesDir, std::string stateDir, std::vector<UnpackerRef> unpackers,
                  std::string pinnedUnpackerId = {}, ExtractionLimits limits = {});

    // Installs (or, when local/ exists, updates) game from its root archives. Requires the
    // root's version.ini (else "not-downloaded"). Clears the launch-settings marker.
    // Errors (message prefixes the frontends can rely on): E_NOT_FOUND "not-downloaded: ..."
    // and "nothing to install: ..."; E_UNSUPPORTED when no unpacker bids; E_CANCELLED; a
    // refused archive entry or I/O failure as reported by the sink. On any failure nothing
    // is half-installed: staging is deleted and an old local/ is back in place. Leftovers of
    // an earlier interrupted transaction of this game are recovered first; a foreign
    // reserved dir (no marker, no intent) makes it fail with E_FAILED naming the dir.
    // The archives share one ExtractionSink, so the limits bound the whole install; a later
    // archive's file replaces an earlier one's. An update replaces local/ exactly: files the
    // game created inside local/ are not carried over.
    Result<InstallOutcome> install(const std::string &gameId, lanspread_cancel_handle cancel,
                                   std::function<bool()> cancelled);
    // Streamed install (docs/streamed-install.md): installs game from the provider's
    // archives, in the provider's order, as their verified bytes arrive; no archive and no
    // root version.ini is ever written, so the result is installed and not downloaded
    // (LocalOnly). The same transaction as install (intent "stream-install", staging,
    // promote; recover() rolls an interrupted one back), with these differences: an existing
    // local/ is refused ("already-installed: ...", E_INVALID_ARGUMENT) and left untouched;
    // the root is created when missing and, on failure or in recovery, removed again when
    // the attempt created it and it is empty. Each archive's unpacker is chosen by bidding on
    // its first bytes (provider.head()); a bidder whose open() refuses the pathless source
    // (E_UNSUPPORTED) hands it to the next bidder. Errors: the stream's failure (E_IO with
    // the fetcher's reason, E_CANCELLED), "nothing to install" without archives, an unpacker
    // or sink failure as install reports it. On any failure nothing is left: no local/, no
    // staging, no intent. onExtracting, when set, runs (on this thread) once staging exists,
    // right before the first archive is read.
    Result<InstallOutcome> streamInstall(const std::string &gameId, StreamProvider &provider,
                                         lanspread_cancel_handle cancel,
                                         std::function<bool()> cancelled,
                                         std::function<void()> onExtracting = {});
    // Removes local/ and keeps every root file (so a reinstall needs no download). Also clears
    // the launch-settings marker. E_NOT_FOUND "not-installed: ..." when there is no local/.
    Status uninstall(const std::string &gameId);
    // Deletes the downloaded files of a game that is not installed: the whole root. Refuses
    // with AlreadyInstalled while local/ exists, with IoError while a reserved dir or an
    // intent exists, and with NotDownloaded without a root or without a regular root
    // version.ini (seed: the root is deleted only after finding the sentinel); a symlinked
    // root or an unusable id is refused (IoError), as is any failure to delete. version.ini
    // is deleted first, so an interrupted remove never leaves a root that looks downloaded.
    contract::Outcome<void> remove(const std::string &gameId);
    // Finishes or rolls back every interrupted transaction under gamesDir; one log line per
    // game it touched (also returned; a foreign reserved dir is logged as a warning). An
    // intent whose recovery failed is kept so the next start retries. Call once at startup,
    // before anything else uses the games dir.
    std::vector<std::string> recover();

    const std::string &gamesDir() const { return _gamesDir; }

  private:
    std::string _gamesDir;
    std::string _stateDir;
    std::vector<UnpackerRef> _unpackers;
    std::string _pinnedUnpackerId;
    ExtractionLimits _limits;
};

// First-play launch settings (seed S38): on the first play of a game, write username into
// the first account_name.txt and into the PersonaName line of the first SmartSteamEmu.ini
// (keeping that line's ending), and language into the first language.txt, searching the whole
// local/ tree in sorted order; then write <state>/games/<id>/launch_settings_applied. Later
// plays change nothing and report already_applied. An install or update clears the marker.
// Details: "first" = first in a depth-first walk that visits each directory's entries sorted
// byte-wise by name (symlinks are neither followed nor written); file names match exactly.
// The PersonaName line is the first line of that file whose key (text before '=', spaces
// and tabs trimmed) is exactly "PersonaName"; it becomes "PersonaName=<username>" followed by
// the line's original ending ("\r\n", "\n", or none at EOF); every other byte is kept. The
// .txt files get exactly the value, no newline. Files are replaced atomically keeping their
// mode. An empty username (language) writes nothing for it. The marker is written even when
// no file matched. Errors: E_NOT_FOUND "not-installed: ..." without local/;
// E_INVALID_ARGUMENT when a value contains a control character (it would break the file).
struct LaunchSettingsResult {
    bool alreadyApplied = false;
    bool accountNameWritten = false;
    bool languageWritten = false;
    bool personaNameWritten = false;
};
Result<LaunchSettingsResult> applyLaunchSettings(const std::string &gamesDir,
                                                 const std::string &stateDir,
                                                 const std::string &gameId,
                                                 const std::string &username,
                                                 const std::string &language);

// Fault injection for the crash tests: when the environment variable LANSPREAD_CRASH_AT
// equals point, the process kills itself with SIGKILL right there (a real crash, no cleanup).
// Points are named "<operation>:<step>": install:after-first-archive, install:before-promote,
// install:after-backup, install:after-promote, uninstall:after-move, uninstall:after-delete,
// stream-install:after-first-archive.
void crashPoint(const char *point);

} // namespace lanspread::kernel::install
