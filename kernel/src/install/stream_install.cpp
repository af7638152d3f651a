// InstallEngine::streamInstall: the streamed install transaction (install_engine.hpp). The
// same steps as install (install_engine.cpp), in this order, so that recover() maps a crash
// at any point to "not installed" (extracting) or "installed" (promoting):
//
//   refuse an existing local/ -> intent(stream-install, extracting, root_created)
//   -> [mkdir root] -> mkdir .local.installing + marker -> per archive: open the stream at
//   it, bid on its head, extract (a bidder refusing the pathless source hands over to the
//   next) -> syncfs -> intent(promoting) -> .local.installing -> local -> clear launch marker
//   -> remove intent
//
// A rollback deletes staging, then the root when this attempt created it and it is empty,
// then the intent.
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/log/log.hpp>

#include "install_engine_internal.hpp"
#include "intent_file.hpp"

#include <cerrno>
#include <sys/stat.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace lanspread::kernel::install {

namespace fs = std::filesystem;
using namespace detail;

namespace {

uint64_t entriesOf(const ExtractionStats &stats) {
    return stats.files + stats.directories + stats.symlinks + stats.hardlinks;
}

} // namespace

Result<InstallOutcome> InstallEngine::streamInstall(const std::string &gameId,
                                                    StreamProvider &provider,
                                                    lanspread_cancel_handle cancel,
                                                    std::function<bool()> cancelled,
                                                    std::function<void()> onExtracting) {
    if (Status s = checkGameId(gameId); !s)
        return s;
    const GamePaths p(_gamesDir, gameId);
    const std::vector<StreamArchive> &archives = provider.archives();
    if (archives.empty())
        return Status(LANSPREAD_E_NOT_FOUND,
                      "nothing to install: the stream of " + gameId + " has no archive");
    const auto alreadyInstalled = [&] {
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "already-installed: " + gameId + " is installed; uninstall it first");
    };
    if (base::pathExists(p.local))
        return alreadyInstalled();
    std::error_code ec;
    if (base::pathExists(p.root) && !fs::is_directory(p.root, ec)) // a symlinked root is fine
        return Status(LANSPREAD_E_FAILED, "cannot install " + gameId + ": " + p.root +
                                              " exists but is not a directory; move it away");
    if (Status s = settle(_gamesDir, _stateDir, gameId, "stream-install"); !s)
        return s;
    if (base::pathExists(p.local)) // recovery finished an earlier install
        return alreadyInstalled();

    InstallIntent intent{"stream-install", "extracting", {}, !base::pathExists(p.root)};
    for (const auto &archive : archives)
        intent.archives.push_back(archive.name);
    if (Status s = writeIntent(_stateDir, gameId, intent); !s)
        return s;
    log::info(kLogSource, "stream-installing " + gameId + " from " +
                              std::to_string(archives.size()) + " archive(s)");

    bool rootMade = false, stagingCreated = false;
    // Undoes everything and returns why. The intent is kept only when the undo itself failed,
    // so the next start's recovery finishes it.
    auto fail = [&](Status why) -> Status {
        bool clean = true;
        if (stagingCreated && base::pathExists(p.staging)) {
            if (Status s = removeTree(p.staging); !s) {
                log::error(kLogSource, s.message());
                clean = false;
            }
        }
        if (clean && rootMade) {
            if (auto removed = removeDirectoryIfEmpty(p.root); !removed) {
                log::error(kLogSource, removed.status().message());
                clean = false;
            }
        }
        return finishRollback(clean, _stateDir, gameId, "stream install", std::move(why));
    };
    auto isCancelled = [&] { return cancelled && cancelled(); };
    auto cannot = [&](const Status &why) {
        return Status(why.code(), "cannot install " + gameId + ": " + why.message());
    };

    if (intent.rootCreated) {
        if (::mkdir(p.root.c_str(), 0755) != 0)
            return fail(
                Status(LANSPREAD_E_IO, "cannot create " + p.root + ": " + base::errnoText(errno)));
        rootMade = true;
        if (Status s = base::fsyncDirectory(_gamesDir); !s)
            log::warning(kLogSource, s.message());
    }
    if (Status s = createStaging(p, stagingCreated); !s)
        return fail(s);
    if (onExtracting)
        onExtracting();

    InstallOutcome outcome;
    {
        ExtractionSink sink(p.staging, _limits, cancelled);
        // One archive from the stream: the bidders on its head in score order until one reads
        // it; the one that did, or why none could.
        auto extractStreamed = [&](std::size_t k) -> Result<std::string> {
            const StreamArchive &archive = archives[k];
            const std::string where = "archive '" + archive.name + "'";
            provider.open(k);
            auto head = provider.head(kProbeHeadBytes);
            if (!head)
                return head.status();
            auto bidders = unpackerBidders(_unpackers, head.value(), archive.name,
                                           _pinnedUnpackerId, where + " from a stream");
            if (!bidders)
                return bidders.status();
            std::vector<std::string> refused;
            for (const UnpackerRef &unpacker : bidders.value()) {
                if (!refused.empty())
                    provider.open(k); // the next bidder starts over at 0
                const uint64_t entriesBefore = entriesOf(sink.stats());
                auto extracted =
                    extractFromSource(*unpacker.vtable, unpacker.state, *provider.source(),
                                      archive.name, sink, cancel, cancelled);
                if (extracted)
                    return unpacker.id;
                if (provider.failed()) // the stream's reason, not how the unpacker took it
                    return provider.failure();
                // Only a refusal before any entry was written hands the archive over.
                if (extracted.status().code() != LANSPREAD_E_UNSUPPORTED ||
                    entriesOf(sink.stats()) != entriesBefore)
                    return extracted.status();
                log::info(kLogSource, "unpacker " + unpacker.id + " cannot read " + where +
                                          " from a stream (" + extracted.status().message() +
                                          "); trying the next bidder");
                refused.push_back(unpacker.id);
            }
            return Status(LANSPREAD_E_UNSUPPORTED, "no unpacker can read " + where +
                                                       " from a stream (refused by " +
                                                       join(refused, ", ") + ")");
        };

        for (std::size_t k = 0; k < archives.size(); ++k) {
            if (isCancelled())
                return fail(Status(LANSPREAD_E_CANCELLED, "install of " + gameId + " cancelled"));
            auto used = extractStreamed(k);
            if (!used)
                return fail(cannot(used.status()));
            if (Status s = checkStagingMarker(p, gameId, archives[k].name); !s)
                return fail(s);
            outcome.archives.push_back(archives[k].name);
            outcome.unpackerIds.push_back(used.value());
            if (k == 0)
                crashPoint("stream-install:after-first-archive");
        }
        outcome.stats = sink.stats();
    }
    if (isCancelled())
        return fail(Status(LANSPREAD_E_CANCELLED, "install of " + gameId + " cancelled"));

    // Promote.
    if (Status s = syncFilesystemOf(p.staging); !s)
        return fail(s);
    intent.phase = "promoting";
    if (Status s = writeIntent(_stateDir, gameId, intent); !s)
        return fail(s);
    if (Status s = promoteStaging(p); !s)
        return fail(s);
    stagingCreated = false;

    // Installed. What is left is cleanup: failures are logged and left to startup recovery.
    bool clean = true;
    if (Status s = clearLaunchMarker(_stateDir, gameId); !s) {
        log::warning(kLogSource, s.message());
        clean = false;
    }
    if (clean) {
        if (Status s = removeIntent(_stateDir, gameId); !s)
            log::warning(kLogSource, s.message());
    } else {
        log::warning(kLogSource,
                     "cleanup after stream-installing " + gameId + " is left to startup recovery");
    }
    log::info(kLogSource, "stream-installed " + gameId + ": " +
                              std::to_string(outcome.stats.files) + " files, " +
                              std::to_string(outcome.stats.bytes) + " bytes");
    return outcome;
}

} // namespace lanspread::kernel::install
