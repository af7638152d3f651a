// Download: the streamed install (docs/streamed-install.md). After the vote, instead of
// preparing files on disk, the root archives' chunks are planned in order, the install
// transaction (InstallEngine::streamInstall) starts on its own thread reading from a
// StreamProvider, and the picker is told which chunks the provider wants next. A verified
// chunk goes to the provider (download_write.cpp hands over its buffer); nothing but the
// install's staging directory is ever written.

#include "download_internal.hpp"

#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <atomic>
#include <random>

namespace lanspread::kernel::transfer {

using namespace detail;

namespace {
// A root archive, as install::rootArchives() finds them on disk: "*.eti" directly in the root.
bool isRootArchive(const std::string &path) {
    return path.find('/') == std::string::npos && path.size() > 4 &&
           path.compare(path.size() - 4, 4, ".eti") == 0;
}
} // namespace

void Download::prepareStream() {
    _phase = Phase::Preparing;
    // The file list is sorted by path (the vote checked it), so its root archives come in
    // the sorted order install uses.
    std::vector<install::StreamArchive> archives;
    std::set<std::pair<std::size_t, uint64_t>> skipped; // chunks the stream never fetches
    _firstChunkOfFile.clear();
    std::size_t next = 0;
    _streamSkippedBytes = 0;
    for (std::size_t i = 0; i < _files.files.size(); ++i) {
        const auto &f = _files.files[i];
        _firstChunkOfFile.push_back(next);
        const uint64_t chunks = catalog::chunkCount(f.size);
        if (isRootArchive(f.path)) {
            archives.push_back({f.path, f.size, next});
        } else {
            for (uint64_t c = 0; c < chunks; ++c)
                skipped.insert({i, c});
            _streamSkippedBytes += f.size;
        }
        next += static_cast<std::size_t>(chunks);
    }
    if (archives.empty()) {
        end({DownloadOutcome::Kind::Failed,
             "nothing to install: the file list of " + _game.id + " has no .eti archive"});
        return;
    }

    BlockPickerSettings settings;
    settings.blockSize = catalog::kChunkSize; // a request is a whole chunk
    settings.depth = kStartDepth;
    settings.seed = std::random_device{}();
    settings.order = BlockPickerSettings::Order::InOrder;
    _picker = std::make_unique<BlockPicker>(_files.files, skipped, settings);
    for (const auto &[peerId, record] : _network.peers().peers())
        refreshSource(peerId);

    // The provider wakes the fetcher from the install's thread: one post at a time.
    auto wakePosted = std::make_shared<std::atomic<bool>>(false);
    std::weak_ptr<Download> weak = shared_from_this();
    host::Reactor &reactor = _reactor;
    _provider = std::make_shared<install::StreamProvider>(std::move(archives), _stream->budget,
                                                          [weak, wakePosted, &reactor] {
                                                              if (wakePosted->exchange(true))
                                                                  return;
                                                              reactor.post([weak, wakePosted] {
                                                                  wakePosted->store(false);
                                                                  if (auto d = weak.lock())
                                                                      d->streamWanted();
                                                              });
                                                          });

    beginTransfer(_picker->bytesTotal() - _streamSkippedBytes, 0);
    log::info(kSource, _game.id + ": streaming " + std::to_string(_provider->archives().size()) +
                           " archive(s), " +
                           std::to_string(_picker->bytesTotal() - _streamSkippedBytes) +
                           " bytes, into an install");

    // The install reads on its own thread: it blocks for the whole stream, and the worker
    // pool must stay free for hashing the chunks it waits for.
    ++_activeJobs;
    _installRunning = true;
    auto self = shared_from_this();
    auto provider = _provider;
    const StreamInstallTarget target = *_stream;
    const std::string gameId = _game.id;
    _installThread = std::thread([self, provider, target, gameId] {
        auto onExtracting = [self, gameId] {
            self->_reactor.post([self, gameId] {
                if (self->_ending)
                    return;
                const contract::Event begun = contract::installBegin(gameId, false);
                self->_events.publish(begun.topic, begun.payload);
            });
        };
        Result<install::InstallOutcome> outcome = target.engine->streamInstall(
            gameId, *provider, target.cancel, target.cancelled, onExtracting);
        self->_installRunning = false;
        self->_reactor.post([self, outcome = std::move(outcome)]() mutable {
            if (self->_installThread.joinable())
                self->_installThread.join();
            --self->_activeJobs;
            self->streamInstalled(std::move(outcome));
        });
    });

    streamWanted();
}

void Download::streamWanted() {
    if (_phase != Phase::Transferring || _ending || !_provider)
        return;
    std::vector<std::size_t> wanted = _provider->wanted();
    // A wanted chunk the picker counts as verified was released by the provider (the reader
    // went back to it): it is fetched again.
    for (std::size_t chunk : wanted)
        if (chunk < _picker->chunkCount() && _picker->isVerified(chunk))
            _picker->refetch(chunk);
    _picker->setWanted(std::move(wanted));
    checkSources();
    pump();
}

void Download::streamDelivered(std::size_t chunkId, uint8_t *block) {
    const PlannedChunk &chunk = _picker->chunk(chunkId);
    std::shared_ptr<BlockPool> pool = _pool;
    install::StreamProvider::ChunkBytes bytes(block, [pool](const uint8_t *b) {
        if (b != nullptr)
            pool->put(const_cast<uint8_t *>(b));
    });
    _provider->deliver(chunkId, std::move(bytes), static_cast<std::size_t>(chunk.length));
    streamWanted();
}

void Download::publishStreamFinished() {
    const uint64_t durationNs = std::max<uint64_t>(1, _reactor.now() - _startNs);
    const int64_t durationMs = std::max<int64_t>(1, int64_t(durationNs / 1'000'000));
    const double mibPerS = double(_bytesFetched) / 1048576.0 / (double(durationMs) / 1000.0);
    const contract::Event finished = contract::downloadFinished(
        {_game.id, _bytesFetched, _picker->bytesTotal() - _streamSkippedBytes, durationMs, mibPerS,
         _bytesBySource});
    _events.publish(finished.topic, finished.payload);
    log::info(kSource, _game.id + ": streamed " + std::to_string(_bytesFetched) + " bytes in " +
                           std::to_string(durationMs) + " ms (" + std::to_string(mibPerS) +
                           " MiB/s); peak " + std::to_string(_provider->peakHeldBytes()) +
                           " bytes held for the unpacker");
}

void Download::streamInstalled(Result<install::InstallOutcome> outcome) {
    if (_ending) {
        end(_outcome); // a cancel or a failure already decided the outcome
        return;
    }
    if (!outcome) {
        end({outcome.status().code() == LANSPREAD_E_CANCELLED ? DownloadOutcome::Kind::Cancelled
                                                              : DownloadOutcome::Kind::Failed,
             outcome.status().message()});
        return;
    }
    // download-finished only now: a stream whose archive turns out unreadable after its last
    // chunk arrived is a failed download, never a finished one.
    publishStreamFinished();
    DownloadOutcome finished{DownloadOutcome::Kind::Finished, "", outcome.value()};
    end(std::move(finished));
}

} // namespace lanspread::kernel::transfer
