// Download phase 4: transfer. The ChunkScheduler hands chunks to sources; arriving bytes go
// to the chunk's writer (download_write.cpp); a written chunk counts only when its hash
// matches, otherwise its source is rejected. Failed requests, lost sources and stalls send
// the work elsewhere; with no source left the download ends with PeersGone.

#include "download_internal.hpp"

#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace lanspread::kernel::transfer {

using namespace detail;

void Download::publishProgress() {
    if (_phase != Phase::Transferring)
        return;
    const uint64_t now = _reactor.now();
    const double seconds = double(now - _lastProgressNs) / 1e9;
    // Bytes move the bar as they arrive, not only when a whole (32 MiB) chunk verifies.
    const uint64_t bytes = _bytesReceived - _lastProgressBytes;
    uint64_t done = _scheduler->bytesDone();
    for (const auto &[key, f] : _inFlight)
        done += f->written;
    std::set<std::string> active;
    for (const auto &[key, f] : _inFlight)
        active.insert(f->peer);
    const contract::Event progress = contract::downloadProgress(
        {_game.id, std::min(done, _scheduler->bytesTotal()), _scheduler->bytesTotal(),
         seconds > 0 ? std::round(double(bytes) / 1048576.0 / seconds * 10) / 10 : 0.0,
         static_cast<int>(active.size())});
    _events.publish(progress.topic, progress.payload);
    _lastProgressNs = now;
    _lastProgressBytes = _bytesReceived;
    // Stalled requests (nothing for kStallNs, and not waiting for our own disk) fail over.
    std::vector<uint64_t> stalled;
    for (const auto &[key, f] : _inFlight)
        if (!f->ended && now - f->lastDataNs > kStallNs)
            stalled.push_back(key);
    for (auto key : stalled) {
        auto it = _inFlight.find(key);
        if (it == _inFlight.end())
            continue;
        _network.cancelRequest(it->second->request); // reset; its onEnd is not called
        onRequestEnd(key, Status(LANSPREAD_E_IO, "no data for 20 s"));
    }
    if (_phase != Phase::Transferring)
        return;
    _reactor.startTimer(
        kProgressIntervalNs,
        [weak = std::weak_ptr<Download>(shared_from_this())] {
            if (auto d = weak.lock()) {
                d->_progressTimer = 0;
                d->publishProgress();
            }
        },
        _progressTimer);
}

void Download::pump() {
    if (_phase != Phase::Transferring || _ending)
        return;
    const uint64_t now = _reactor.now();
    bool issued = true;
    while (issued) {
        issued = false;
        for (const auto &peerId : _scheduler->sources())
            if (auto chunk = _scheduler->next(peerId, now)) {
                request(peerId, *chunk);
                issued = true;
            }
    }
}

void Download::request(const std::string &peerId, std::size_t chunkId) {
    const ChunkTask &task = _scheduler->task(chunkId);
    auto flight = std::make_unique<InFlight>();
    flight->chunk = chunkId;
    flight->peer = peerId;
    flight->startNs = _reactor.now();
    flight->lastDataNs = flight->startNs;
    flight->writer = std::make_shared<ChunkWriter>();
    flight->writer->file = _open.at(task.file);
    const uint64_t key = _nextKey++;
    _inFlight[key] = std::move(flight);
    ++_attempts[chunkId];
    protocol::GetChunk get{_game.id, _files.files[task.file].path, task.offset, task.length};
    std::weak_ptr<Download> weak = shared_from_this();
    peers::PeerNetwork::ChunkHandler handler{[weak, key](std::span<const uint8_t> piece) {
                                                 if (auto d = weak.lock())
                                                     d->onPiece(key, piece);
                                             },
                                             [weak, key](const Status &status) {
                                                 if (auto d = weak.lock())
                                                     d->onRequestEnd(key, status);
                                             }};
    auto id = _network.requestChunk(peerId, get, std::move(handler));
    auto it = _inFlight.find(key);
    if (it != _inFlight.end())
        it->second->request = id;
}

void Download::onPiece(uint64_t key, std::span<const uint8_t> piece) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    f.lastDataNs = _reactor.now();
    _bytesReceived += piece.size();
    // Exactly kWriteBlock per block, so every block but a file's last starts and ends on a
    // 4 KiB boundary (chunks start on 32 MiB ones).
    while (!piece.empty()) {
        if (f.block == nullptr) {
            f.block = _pool->get();
            f.fill = 0;
        }
        const std::size_t n = std::min(piece.size(), kWriteBlock - f.fill);
        std::memcpy(f.block + f.fill, piece.data(), n);
        f.fill += n;
        piece = piece.subspan(n);
        if (f.fill == kWriteBlock)
            submitBlock(key, f);
    }
}

void Download::onRequestEnd(uint64_t key, const Status &status) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    if (status) {
        f.ended = true;
        submitBlock(key, f); // the last, partial block
        maybeVerify(key);
        return;
    }
    // The request failed on this source: the chunk goes back to the queue.
    const std::string peerId = f.peer;
    const std::size_t chunk = f.chunk;
    log::warning(kSource, _game.id + ": chunk " + std::to_string(chunk) + " from " +
                              peerId.substr(0, 12) + " failed: " + status.message());
    dropInFlight(key, false);
    if (_scheduler->hasSource(peerId))
        _scheduler->failed(chunk, peerId);
    if (_attempts[chunk] >= kMaxChunkAttempts) {
        end({DownloadOutcome::Kind::Failed, "chunk " + std::to_string(chunk) + " of " + _game.id +
                                                " failed " + std::to_string(_attempts[chunk]) +
                                                " times; last: " + status.message()});
        return;
    }
    if (++_failuresBySource[peerId] >= kMaxSourceFailures && _scheduler->hasSource(peerId))
        sourceFailed(peerId, status.message());
    checkSources();
    pump();
}

void Download::maybeVerify(uint64_t key) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    const ChunkTask &task = _scheduler->task(f.chunk);
    if (!f.ended || f.written != task.length || f.submitted != task.length)
        return;
    const std::string digest = f.writer->hash.hexDigest();
    const std::string peerId = f.peer;
    const std::size_t chunk = f.chunk;
    const std::string &path = _files.files[task.file].path;
    if (digest != task.hash) {
        const contract::Event rejected = contract::downloadChunkRejected(
            {_game.id, path, task.offset, task.length, peerId, addrOf(peerId)},
            "sha256 " + digest + " != advertised " + task.hash);
        _events.publish(rejected.topic, rejected.payload);
        log::warning(kSource, _game.id + ": peer " + peerId.substr(0, 12) + " (" + addrOf(peerId) +
                                  ") sent a bad chunk of " + path + " at " +
                                  std::to_string(task.offset) +
                                  "; it is no longer a source for this download");
        _network.forgetRequest(f.request);
        _inFlight.erase(it);
        _scheduler->failed(chunk, peerId);
        sourceFailed(peerId, "sent data that does not match its chunk hashes");
        checkSources();
        pump();
        return;
    }
    _scheduler->completed(chunk, peerId, _reactor.now() - f.startNs);
    _bytesBySource[peerId] += task.length;
    _bytesFetched += task.length;
    _failuresBySource[peerId] = 0;
    _network.forgetRequest(f.request);
    _inFlight.erase(it);
    const contract::Event finished = contract::downloadChunkFinished(
        {_game.id, path, task.offset, task.length, peerId, addrOf(peerId)});
    _events.publish(finished.topic, finished.payload);
    if (_scheduler->finished())
        commit();
    else
        pump();
}

void Download::dropInFlight(uint64_t key, bool cancelRequest) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    it->second->writer->abandoned = true;
    if (it->second->block != nullptr)
        _pool->put(it->second->block);
    if (cancelRequest)
        _network.cancelRequest(it->second->request);
    else
        _network.forgetRequest(it->second->request);
    _inFlight.erase(it);
}

void Download::sourceFailed(const std::string &peerId, const std::string &why) {
    std::vector<uint64_t> keys;
    for (const auto &[key, f] : _inFlight)
        if (f->peer == peerId)
            keys.push_back(key);
    for (auto key : keys)
        dropInFlight(key, true);
    _scheduler->rejectSource(peerId);
    log::warning(kSource, _game.id + ": dropped source " + peerId.substr(0, 12) + ": " + why);
}

void Download::peerLost(const std::string &peerId) {
    if (_phase == Phase::Describing) {
        // Its GetGame fails through the connection loss; nothing else to do.
        return;
    }
    if (_phase != Phase::Transferring || !_scheduler || !_scheduler->hasSource(peerId))
        return;
    std::vector<uint64_t> keys;
    for (const auto &[key, f] : _inFlight)
        if (f->peer == peerId)
            keys.push_back(key);
    for (auto key : keys)
        dropInFlight(key, false);
    _scheduler->removeSource(peerId);
    log::info(kSource, _game.id + ": source " + peerId.substr(0, 12) + " is gone");
    checkSources();
    pump();
}

void Download::checkSources() {
    if (_phase != Phase::Transferring || _ending || _scheduler->finished())
        return;
    if (_scheduler->sources().empty()) {
        const contract::Event gone = contract::downloadPeersGone(_game.id);
        _events.publish(gone.topic, gone.payload);
        end({DownloadOutcome::Kind::PeersGone,
             "every source of " + _game.id + " is gone (" +
                 std::to_string(_scheduler->bytesDone()) + " of " +
                 std::to_string(_scheduler->bytesTotal()) +
                 " bytes verified; they are kept for a resumed download)"});
    }
}

} // namespace lanspread::kernel::transfer
