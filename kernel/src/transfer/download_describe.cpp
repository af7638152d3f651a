// Download phases 1-2: describe (every source is asked for the file list) and vote (the
// list most sources agree on, every path checked before anything is written).

#include "download_internal.hpp"

#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/transfer/manifest_vote.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>

namespace lanspread::kernel::transfer {

using namespace detail;

void Download::start() {
    _pendingAnswers = _askedSources.size();
    auto self = shared_from_this();
    // A source that never answers must not hold the download: vote with what arrived.
    _reactor.startTimer(
        kDescribeTimeoutNs,
        [weak = std::weak_ptr<Download>(self)] {
            auto d = weak.lock();
            if (!d || d->_phase != Phase::Describing)
                return;
            log::warning(kSource, d->_game.id + ": " + std::to_string(d->_pendingAnswers) +
                                      " source(s) gave no file list within 15 s");
            d->_pendingAnswers = 0;
            d->vote();
        },
        _describeTimer);
    for (const auto &peerId : _askedSources)
        _network.requestGameFiles(peerId, _game.id,
                                  [self, peerId](Result<protocol::GameFiles> files) {
                                      self->onDescribed(peerId, std::move(files));
                                  });
}

void Download::onDescribed(const std::string &peerId, Result<protocol::GameFiles> files) {
    if (_phase != Phase::Describing)
        return;
    if (files)
        _answers[peerId] = std::move(files.value());
    else
        log::warning(kSource, _game.id + ": peer " + peerId.substr(0, 12) +
                                  " gave no file list: " + files.status().message());
    if (--_pendingAnswers == 0) {
        if (_describeTimer != 0)
            _reactor.stopTimer(_describeTimer);
        _describeTimer = 0;
        vote();
    }
}

void Download::vote() {
    auto choice = voteManifest(_game.id, _game.version, _answers);
    if (!choice) {
        end({DownloadOutcome::Kind::Failed, choice.status().message()});
        return;
    }
    _files = choice.value().files;
    // The list comes from other peers: every path must be one we would write safely.
    bool hasVersion = false;
    for (std::size_t i = 0; i < _files.files.size(); ++i) {
        const std::string &path = _files.files[i].path;
        hasVersion = hasVersion || path == "version.ini";
        const std::string top = path.substr(0, path.find('/'));
        if (!isNormalisedRelativePath(path) || library::isReservedRootName(top) ||
            (i > 0 && (path <= _files.files[i - 1].path ||
                       path.rfind(_files.files[i - 1].path + "/", 0) == 0))) {
            end({DownloadOutcome::Kind::Failed,
                 "the file list of " + _game.id + " has an unusable path: " + path});
            return;
        }
    }
    if (!hasVersion) {
        end({DownloadOutcome::Kind::Failed,
             "the file list of " + _game.id + " has no version.ini"});
        return;
    }
    std::vector<contract::FileView> fileViews;
    for (const auto &f : _files.files)
        fileViews.push_back({f.path, f.size});
    std::vector<std::string> sourceAddrs;
    for (const auto &p : choice.value().sources)
        sourceAddrs.push_back(addrOf(p));
    const contract::Event got =
        contract::gotGameFiles(_game.id, fileViews, sourceAddrs, choice.value().sources);
    _events.publish(got.topic, got.payload);

    _filesDigest = protocol::filesDigest(_files);
    _votedSources = {choice.value().sources.begin(), choice.value().sources.end()};
    prepare();
}

} // namespace lanspread::kernel::transfer
