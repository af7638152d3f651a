// Start-up recovery (see install_engine.hpp and the transitions listed in install_engine.cpp):
// every game with an intent or a reserved directory is rolled back or forward so that it is in
// its old or its new state; a reserved directory no intent covers is only deleted when its
// marker proves it is lanspread's. settle() runs the same recovery before each transaction.
// A "stream-install" intent is recovered like an install's (it never has a backup), and the
// game root goes too when the attempt created it and it is left empty.
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/log/log.hpp>

#include "install_engine_internal.hpp"
#include "intent_file.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

namespace lanspread::kernel::install {

namespace fs = std::filesystem;
using namespace detail;

namespace {

struct RecoveryReport {
    std::string line;
    bool foreign = false; // a reserved dir was left alone (log as a warning)
    bool failed = false;  // a step failed; the intent is kept
};

// Recovers one game (see install.hpp for the outcomes). nullopt: nothing to do.
std::optional<RecoveryReport> recoverGame(const std::string &gamesDir, const std::string &stateDir,
                                          const std::string &gameId) {
    const GamePaths p(gamesDir, gameId);
    const std::string intentFile = intentPath(stateDir, gameId);
    const bool intentFilePresent =
        base::pathExists(intentFile) || base::pathExists(base::tempPathFor(intentFile));
    if (!intentFilePresent && !base::pathExists(p.staging) && !base::pathExists(p.backup))
        return std::nullopt;

    RecoveryReport report;
    std::vector<std::string> notes;
    auto step = [&](const Status &s) {
        if (!s) {
            report.failed = true;
            notes.push_back("FAILED: " + s.message());
        }
        return s.succeeded();
    };

    std::optional<InstallIntent> intent;
    if (auto read = readIntent(stateDir, gameId); !read)
        notes.push_back("ignored an unreadable intent (" + read.status().message() + ")");
    else
        intent = read.value();

    std::string what = "leftover reserved directories";
    if (intent) {
        const bool installOp = intent->op != "uninstall";
        what = "interrupted " + intent->op + " (" + intent->phase + ")";
        std::error_code rootError;
        if (!fs::is_directory(p.root, rootError)) { // a symlinked root is fine
            notes.push_back("the game directory is gone");
        } else if (installOp && intent->phase == "extracting") {
            // Extraction had not finished: roll back.
            if (base::pathExists(p.staging) && step(removeTree(p.staging)))
                notes.push_back("deleted the unfinished " + std::string(kStagingDirName));
            notes.push_back(base::isRealDirectory(p.local) ? "local/ left at the old version"
                                                           : "the game stays not installed");
        } else if (installOp) { // promoting: extraction had finished
            if (base::isRealDirectory(p.staging)) {
                bool ok = true;
                if (base::isRealDirectory(p.local)) {
                    if (base::pathExists(p.backup))
                        ok = step(removeTree(p.backup));
                    ok = ok && step(renamePath(p.local, p.backup));
                    if (ok)
                        (void)writeMarker(p.backup); // the intent covers it anyway
                }
                ok = ok && step(base::removeFileIfPresent(markerOf(p.staging)));
                ok = ok && step(renamePath(p.staging, p.local));
                if (ok) {
                    notes.push_back("promoted the extracted new version (rolled forward)");
                    step(clearLaunchMarker(stateDir, gameId));
                    if (base::pathExists(p.backup) && step(removeTree(p.backup)))
                        notes.push_back("deleted the backup of the old version");
                } else if (!base::isRealDirectory(p.local) && base::isRealDirectory(p.backup) &&
                           step(restoreBackup(p))) {
                    notes.push_back("restored the old version from the backup");
                }
            } else if (base::isRealDirectory(p.local)) {
                notes.push_back("the promotion had completed");
                step(clearLaunchMarker(stateDir, gameId));
                if (base::pathExists(p.backup) && step(removeTree(p.backup)))
                    notes.push_back("deleted the backup of the old version");
            } else if (base::isRealDirectory(p.backup)) {
                if (step(restoreBackup(p)))
                    notes.push_back("the new version is gone; restored the old version from "
                                    "the backup");
            } else {
                notes.push_back("nothing on disk to recover");
            }
        } else { // uninstall
            if (base::isRealDirectory(p.local)) {
                notes.push_back("local/ had not been moved; the game stays installed");
            } else {
                if (base::pathExists(p.backup) && step(removeTree(p.backup)))
                    notes.push_back("finished deleting the old local/");
                else if (!report.failed)
                    notes.push_back("the uninstall had completed");
                step(clearLaunchMarker(stateDir, gameId));
            }
        }
    }

    // What no intent covers: only a marker proves ownership.
    if (!report.failed) {
        if (base::pathExists(p.staging)) {
            if (hasMarker(p.staging)) {
                if (step(removeTree(p.staging)))
                    notes.push_back("deleted a leftover " + std::string(kStagingDirName));
            } else {
                report.foreign = true;
                notes.push_back("left " + p.staging + " alone: no intent and no " +
                                kOwnedMarkerName + " marker prove it is lanspread's");
            }
        }
        if (base::pathExists(p.backup)) {
            if (hasMarker(p.backup)) {
                if (base::isRealDirectory(p.local)) {
                    if (step(removeTree(p.backup)))
                        notes.push_back("deleted a leftover " + std::string(kBackupDirName));
                } else if (!base::pathExists(p.local) && step(restoreBackup(p))) {
                    notes.push_back("restored local/ from a leftover " +
                                    std::string(kBackupDirName));
                }
            } else {
                report.foreign = true;
                notes.push_back("left " + p.backup + " alone: no intent and no " +
                                kOwnedMarkerName + " marker prove it is lanspread's");
            }
        }
    }

    // A streamed install that created the root and did not finish leaves no empty root
    // behind (a promoted one has local/ in it, a downloaded one its files: both stay).
    if (!report.failed && intent && intent->op == "stream-install" && intent->rootCreated) {
        auto removed = removeDirectoryIfEmpty(p.root);
        if (step(removed.status()) && removed.value())
            notes.push_back("removed the empty game directory the attempt had created");
    }

    if (!report.failed) {
        if (intentFilePresent)
            step(removeIntent(stateDir, gameId));
    } else {
        notes.push_back("kept the intent for the next start");
    }
    report.line = "recovery of " + gameId + ": " + what + ": " + join(notes, "; ");
    return report;
}

void logReport(const RecoveryReport &report) {
    if (report.failed)
        log::error(kLogSource, report.line);
    else if (report.foreign)
        log::warning(kLogSource, report.line);
    else
        log::info(kLogSource, report.line);
}

} // namespace

namespace detail {

// Before a transaction: recovers leftovers of an earlier one, then refuses foreign dirs.
Status settle(const std::string &gamesDir, const std::string &stateDir, const std::string &gameId,
              const char *operation) {
    const GamePaths p(gamesDir, gameId);
    if (auto report = recoverGame(gamesDir, stateDir, gameId))
        logReport(*report);
    for (const std::string &dir : {p.staging, p.backup})
        if (base::pathExists(dir))
            return Status(LANSPREAD_E_FAILED,
                          std::string("cannot ") + operation + " " + gameId + ": " + dir +
                              " exists and is not lanspread's (no " + kOwnedMarkerName +
                              " marker); move it out of the way and try again");
    if (base::pathExists(intentPath(stateDir, gameId)))
        return Status(LANSPREAD_E_FAILED, std::string("cannot ") + operation + " " + gameId +
                                              ": an interrupted transaction could not be "
                                              "recovered (see the log)");
    return Status::ok();
}

} // namespace detail

std::vector<std::string> InstallEngine::recover() {
    // Every game with an intent (or a leftover intent temp) or a reserved dir.
    std::vector<std::string> ids;
    std::error_code ec;
    const std::string stateGames = _stateDir + "/games";
    if (base::isRealDirectory(stateGames)) {
        for (const auto &entry : fs::directory_iterator(stateGames, ec)) {
            std::string id = entry.path().filename().string();
            const std::string intent = intentPath(_stateDir, id);
            if (base::pathExists(intent) || base::pathExists(base::tempPathFor(intent)))
                ids.push_back(id);
        }
    }
    for (const auto &entry : fs::directory_iterator(_gamesDir, ec)) {
        std::string id = entry.path().filename().string();
        const GamePaths p(_gamesDir, id);
        if (base::pathExists(p.staging) || base::pathExists(p.backup))
            ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

    std::vector<std::string> lines;
    for (const auto &id : ids) {
        if (!checkGameId(id))
            continue;
        if (auto report = recoverGame(_gamesDir, _stateDir, id)) {
            logReport(*report);
            lines.push_back(report->line);
        }
    }
    return lines;
}

} // namespace lanspread::kernel::install
