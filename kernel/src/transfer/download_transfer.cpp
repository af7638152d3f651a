// Download phase 4: transfer. The BlockPicker hands chunks to sources; a chunk's bytes are
// collected in a pooled buffer and, once complete, hashed and written (download_write.cpp).
// Failed requests, lost sources and stalls send the work elsewhere; with no source left the
// download ends with PeersGone.

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
    // Bytes move the bar as they arrive, not only when a chunk verifies.
    const uint64_t bytes = _bytesReceived - _lastProgressBytes;
    uint64_t done = _picker->bytesVerified() - _streamSkippedBytes + _bytesWriting;
    for (const auto &[key, f] : _inFlight)
        done += f->fill;
    const uint64_t total = _picker->bytesTotal() - _streamSkippedBytes;
    std::set<std::string> active;
    for (const auto &[key, f] : _inFlight)
        active.insert(f->peer);
    const contract::Event progress = contract::downloadProgress(
        {_game.id, std::min(done, total), total,
         seconds > 0 ? std::round(double(bytes) / 1048576.0 / seconds * 10) / 10 : 0.0,
         static_cast<int>(active.size())});
    _events.publish(progress.topic, progress.payload);
    _lastProgressNs = now;
    _lastProgressBytes = _bytesReceived;
    // Stalled requests (nothing for kStallNs) fail over.
    std::vector<uint64_t> stalled;
    for (const auto &[key, f] : _inFlight)
        if (now - f->lastDataNs > kStallNs)
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
    // Deferred chunks come due, and a download whose remaining chunks no source has ends
    // once nothing moved for kStallNs.
    checkSources();
    pump();
    if (_phase != Phase::Transferring)
        return;
    startProgressTimer();
}

void Download::startProgressTimer() {
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

void Download::beginTransfer(uint64_t bytesTotal, uint64_t bytesResumed) {
    _phase = Phase::Transferring;
    _attempts.assign(_picker->chunkCount(), 0);
    _startNs = _reactor.now();
    _lastAdvanceNs = _startNs;
    _lastProgressNs = _startNs;
    _lastProgressBytes = _bytesReceived;
    std::vector<std::string> sourceAddrs;
    for (const auto &p : _picker->sources())
        sourceAddrs.push_back(addrOf(p));
    const contract::Event begin =
        contract::downloadBegin(_game.id, bytesTotal, bytesResumed, sourceAddrs);
    _events.publish(begin.topic, begin.payload);
    startProgressTimer();
}

void Download::pump() {
    if (_phase != Phase::Transferring || _ending)
        return;
    const uint64_t now = _reactor.now();
    // Round-robin over the sources, one chunk each per turn, so that the cap on chunk buffers
    // does not go to whichever source comes first.
    bool issued = true;
    while (issued) {
        issued = false;
        for (const auto &peerId : _picker->sources()) {
            if (_inFlight.size() + _chunksWriting >= kMaxChunkBuffers)
                return;
            if (auto block = _picker->next(peerId, now)) {
                request(peerId, _picker->block(*block).chunk);
                issued = true;
            }
        }
    }
}

void Download::request(const std::string &peerId, std::size_t chunkId) {
    const PlannedChunk &chunk = _picker->chunk(chunkId);
    auto flight = std::make_unique<InFlight>();
    flight->chunk = chunkId;
    flight->peer = peerId;
    flight->startNs = _reactor.now();
    flight->lastDataNs = flight->startNs;
    const uint64_t key = _nextKey++;
    _inFlight[key] = std::move(flight);
    ++_attempts[chunkId];
    protocol::GetChunk get{_game.id, _files.files[chunk.file].path, chunk.offset, chunk.length};
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
    const uint64_t length = _picker->chunk(f.chunk).length;
    if (f.block == nullptr)
        f.block = _pool->get();
    // The network delivers exactly the requested length; more would be a protocol error that
    // it reports through onEnd.
    const std::size_t n =
        static_cast<std::size_t>(std::min<uint64_t>(piece.size(), length - f.fill));
    std::memcpy(f.block + f.fill, piece.data(), n);
    f.fill += n;
    // The bytes are ours now: the sender may push more (the buffer bounds the memory).
    _network.releaseChunkBytes(f.request, piece.size());
}

void Download::onRequestEnd(uint64_t key, const Status &status) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    const std::string peerId = f.peer;
    const std::size_t chunk = f.chunk;
    const std::size_t blockId = _picker->chunk(chunk).firstBlock;
    if (status && f.fill == _picker->chunk(chunk).length) {
        adaptDepth(peerId, _reactor.now() - f.startNs);
        const BlockArrival arrival = _picker->blockReceived(blockId, peerId);
        // Endgame: the other copies of this chunk are no longer needed.
        for (const auto &loser : arrival.cancel) {
            std::vector<uint64_t> keys;
            for (const auto &[k, other] : _inFlight)
                if (other->peer == loser && other->chunk == chunk)
                    keys.push_back(k);
            for (auto k : keys)
                dropInFlight(k, true);
        }
        if (!arrival.accepted) {
            dropInFlight(key, false); // a copy that lost the race
            pump();
            return;
        }
        verifyAndWrite(key);
        pump();
        return;
    }
    const std::string why = status ? "a short chunk" : status.message();
    dropInFlight(key, false);
    // A seeder spreading its chunks among several requesters: fetch this one from the peer it
    // went to, or from here a little later. Not a failure of the source.
    if (why.rfind("elsewhere:", 0) == 0) {
        _picker->blockDeferred(blockId, peerId, _reactor.now() + kElsewhereRetryNs);
        --_attempts[chunk];
        pump();
        return;
    }
    // The request failed on this source: the chunk goes back to the queue.
    log::warning(kSource, _game.id + ": chunk " + std::to_string(chunk) + " from " +
                              peerId.substr(0, 12) + " failed: " + why);
    _picker->blockFailed(blockId, peerId);
    if (_attempts[chunk] >= kMaxChunkAttempts) {
        end({DownloadOutcome::Kind::Failed, "chunk " + std::to_string(chunk) + " of " + _game.id +
                                                " failed " + std::to_string(_attempts[chunk]) +
                                                " times; last: " + why});
        return;
    }
    if (++_failuresBySource[peerId] >= kMaxSourceFailures && _picker->hasSource(peerId))
        sourceFailed(peerId, why);
    checkSources();
    pump();
}

void Download::adaptDepth(const std::string &peerId, uint64_t latencyNs) {
    unsigned &depth = _depthBySource.try_emplace(peerId, kStartDepth).first->second;
    if (latencyNs < kTargetLatencyNs / 2 && depth < kMaxDepth)
        ++depth;
    else if (latencyNs > kTargetLatencyNs && depth > 1)
        --depth;
    _picker->setDepth(peerId, depth);
}

void Download::onVerified(std::size_t chunkId, const std::string &peerId, const std::string &digest,
                          const std::string &writeError, uint8_t *kept) {
    if (_ending || !_picker) {
        if (kept != nullptr)
            _pool->put(kept);
        return;
    }
    const PlannedChunk &chunk = _picker->chunk(chunkId);
    _bytesWriting -= chunk.length;
    --_chunksWriting;
    const std::string &path = _files.files[chunk.file].path;
    if (!writeError.empty()) {
        log::error(kSource, _game.id + ": " + writeError);
        end({DownloadOutcome::Kind::Failed, writeError});
        return;
    }
    if (digest != chunk.hash) {
        const contract::Event rejected = contract::downloadChunkRejected(
            {_game.id, path, chunk.offset, chunk.length, peerId, addrOf(peerId)},
            "sha256 " + digest + " != advertised " + chunk.hash);
        _events.publish(rejected.topic, rejected.payload);
        log::warning(kSource, _game.id + ": peer " + peerId.substr(0, 12) + " (" + addrOf(peerId) +
                                  ") sent a bad chunk of " + path + " at " +
                                  std::to_string(chunk.offset) +
                                  "; it is no longer a source for this download");
        _picker->chunkFailed(chunkId);
        sourceFailed(peerId, "sent data that does not match its chunk hashes");
        checkSources();
        pump();
        return;
    }
    _picker->chunkVerified(chunkId);
    _newlyVerified.push_back(chunkId);
    _lastAdvanceNs = _reactor.now();
    _bytesBySource[peerId] += chunk.length;
    _bytesFetched += chunk.length;
    _failuresBySource[peerId] = 0;
    const contract::Event finished = contract::downloadChunkFinished(
        {_game.id, path, chunk.offset, chunk.length, peerId, addrOf(peerId)});
    _events.publish(finished.topic, finished.payload);
    if (kept != nullptr) {
        streamDelivered(chunkId, kept); // download_stream.cpp
        return;
    }
    if (_picker->finished())
        commit();
    else
        pump();
}

void Download::dropInFlight(uint64_t key, bool cancelRequest) {
    auto it = _inFlight.find(key);
    if (it == _inFlight.end())
        return;
    InFlight &f = *it->second;
    if (f.block != nullptr)
        _pool->put(f.block);
    if (cancelRequest)
        _network.cancelRequest(f.request);
    else
        _network.forgetRequest(f.request);
    _inFlight.erase(it);
}

void Download::dropRequestsTo(const std::string &peerId, bool cancelRequests) {
    std::vector<uint64_t> keys;
    for (const auto &[key, f] : _inFlight)
        if (f->peer == peerId)
            keys.push_back(key);
    for (auto key : keys)
        dropInFlight(key, cancelRequests);
}

void Download::sourceFailed(const std::string &peerId, const std::string &why) {
    dropRequestsTo(peerId, true);
    _picker->rejectSource(peerId);
    log::warning(kSource, _game.id + ": dropped source " + peerId.substr(0, 12) + ": " + why);
}

void Download::peerLost(const std::string &peerId) {
    if (_phase == Phase::Describing) {
        // Its GetGame fails through the connection loss; nothing else to do.
        return;
    }
    if (_phase != Phase::Transferring || !_picker || !_picker->hasSource(peerId))
        return;
    dropRequestsTo(peerId, false);
    _picker->removeSource(peerId);
    log::info(kSource, _game.id + ": source " + peerId.substr(0, 12) + " is gone");
    checkSources();
    pump();
}

void Download::checkSources() {
    if (_phase != Phase::Transferring || _ending || _picker->finished())
        return;
    // A streamed install keeps nothing: it rolls back.
    const std::string verified = _provider
                                     ? std::string(" (the streamed install is rolled back)")
                                     : " (" + std::to_string(_picker->bytesVerified()) + " of " +
                                           std::to_string(_picker->bytesTotal()) +
                                           " bytes verified; they are kept for a resumed download)";
    if (_picker->sources().empty()) {
        const contract::Event gone = contract::downloadPeersGone(_game.id);
        _events.publish(gone.topic, gone.payload);
        end({DownloadOutcome::Kind::PeersGone,
             "every source of " + _game.id + " is gone" + verified});
        return;
    }
    // Only partial sources are left and none of them has what is missing: wait while they
    // may still get it, but not for ever.
    if (_inFlight.empty() && _bytesWriting == 0 && !_picker->finishedPossible() &&
        _reactor.now() - _lastAdvanceNs > kStallNs) {
        const contract::Event gone = contract::downloadPeersGone(_game.id);
        _events.publish(gone.topic, gone.payload);
        end({DownloadOutcome::Kind::PeersGone,
             "no source of " + _game.id + " has the " +
                 std::to_string(_picker->stuckChunks().size()) +
                 " chunk(s) still missing, and none announced one for 20 s" + verified});
    }
}

} // namespace lanspread::kernel::transfer
