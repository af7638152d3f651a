// The swarm side of a download: which peers serve its file list (complete ones and partial
// ones, which download it too), what they announce as they verify chunks, and what this peer
// serves of the game meanwhile (the serve gates ask servable()/chunkVerified()).

#include "download_internal.hpp"

#include <lanspread/kernel/log/log.hpp>

#include <algorithm>

namespace lanspread::kernel::transfer {

using namespace detail;

void Download::refreshSource(const std::string &peerId) {
    if (!_picker)
        return;
    const peers::PeerRecord *record = _network.peers().find(peerId);
    if (record == nullptr)
        return; // gone: peerLost() handles it
    // Complete: it has the game Ready at the catalog's version with this very list (it said
    // so in the vote, or its advertised digest is ours).
    auto game = record->games.find(_game.id);
    if (game != record->games.end() && game->second.availability == "Ready" &&
        game->second.version == _game.version &&
        (_votedSources.count(peerId) > 0 || game->second.filesDigest == _filesDigest)) {
        _picker->addSource(peerId); // no-op when it already is a complete source
        _lastAdvanceNs = _reactor.now();
        return;
    }
    const protocol::PartialGame *partial = _network.peers().partial(peerId, _game.id);
    if (partial != nullptr && partial->version == _game.version &&
        partial->filesDigest == _filesDigest && partial->chunkCount == _picker->chunkCount()) {
        _picker->setAvailability(peerId, partial->have);
        _lastAdvanceNs = _reactor.now();
        return;
    }
    // It serves this list no more (or never did).
    if (_picker->hasSource(peerId)) {
        dropRequestsTo(peerId, true);
        _picker->removeSource(peerId);
    }
}

void Download::peerChanged(const std::string &peerId) {
    if (_phase != Phase::Transferring || _ending)
        return;
    refreshSource(peerId);
    checkSources();
    pump();
}

void Download::peerHave(const std::string &peerId, const protocol::Have &have) {
    if (_phase != Phase::Transferring || _ending || have.game != _game.id ||
        have.filesDigest != _filesDigest)
        return;
    if (!_picker->hasSource(peerId)) {
        refreshSource(peerId); // a partial source this download has not seen yet
    } else {
        for (uint64_t chunk : have.chunks)
            if (chunk < _picker->chunkCount())
                _picker->addHave(peerId, static_cast<std::size_t>(chunk));
    }
    _lastAdvanceNs = _reactor.now();
    pump();
}

bool Download::chunkVerified(std::size_t file, uint64_t index) const {
    if (!_picker || file >= _firstChunkOfFile.size() ||
        index >= catalog::chunkCount(_files.files[file].size))
        return false;
    return _picker->isVerified(_firstChunkOfFile[file] + static_cast<std::size_t>(index));
}

std::string Download::diskPath(std::size_t file) const {
    const std::string &path = _files.files.at(file).path;
    return path == "version.ini" && !_committed ? kVersionTemp : path;
}

DownloadingGame Download::servingView() const {
    DownloadingGame view;
    view.files = &_files;
    view.chunkVerified = [this](std::size_t file, uint64_t index) {
        return chunkVerified(file, index);
    };
    view.diskPath = [this](std::size_t file) { return diskPath(file); };
    return view;
}

protocol::PartialGame Download::partialGame() const {
    protocol::PartialGame partial;
    partial.id = _game.id;
    partial.version = _files.version;
    partial.filesDigest = _filesDigest;
    if (_picker) {
        partial.chunkCount = _picker->chunkCount();
        partial.have = _picker->verifiedChunks();
    }
    return partial;
}

std::vector<uint64_t> Download::takeNewlyVerified() {
    std::vector<uint64_t> chunks(_newlyVerified.begin(), _newlyVerified.end());
    _newlyVerified.clear();
    std::sort(chunks.begin(), chunks.end());
    chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
    return chunks;
}

} // namespace lanspread::kernel::transfer
