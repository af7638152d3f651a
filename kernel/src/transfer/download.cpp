// The download object: construction, cancel, and end(), the single way out of every phase
// (the phases live in download_*.cpp; see download_internal.hpp).

#include "download_internal.hpp"

namespace lanspread::kernel::transfer {

Download::Download(host::Reactor &reactor, host::WorkerPool &workers, host::EventBus &events,
                   peers::PeerNetwork &network, std::string gamesDir, catalog::CatalogGame game,
                   std::vector<std::string> sources, Done done,
                   std::optional<StreamInstallTarget> stream)
    : _reactor(reactor), _workers(workers), _events(events), _network(network),
      _gamesDir(std::move(gamesDir)), _game(std::move(game)), _askedSources(std::move(sources)),
      _done(std::move(done)), _pool(std::make_shared<BlockPool>()), _stream(std::move(stream)) {
    _root = _gamesDir + "/" + _game.id;
}

Download::~Download() {
    if (_progressTimer != 0)
        _reactor.stopTimer(_progressTimer);
    if (_describeTimer != 0)
        _reactor.stopTimer(_describeTimer);
    // The install thread posts its end before it returns; only a stopped reactor drops that
    // post, and then the last reference may go on the install thread itself.
    if (_installThread.joinable()) {
        if (_installThread.get_id() == std::this_thread::get_id())
            _installThread.detach();
        else
            _installThread.join();
    }
}

std::string Download::addrOf(const std::string &peerId) const {
    return _network.peerAddr(peerId);
}

void Download::cancel() {
    if (_ending)
        return;
    end({DownloadOutcome::Kind::Cancelled, "cancelled"});
}

void Download::end(DownloadOutcome outcome) {
    if (!_ending) {
        _ending = true;
        _outcome = std::move(outcome);
        _phase = Phase::Ending;
        if (_progressTimer != 0) {
            _reactor.stopTimer(_progressTimer);
            _progressTimer = 0;
        }
        std::vector<uint64_t> keys;
        for (const auto &[key, f] : _inFlight)
            keys.push_back(key);
        for (auto key : keys)
            dropInFlight(key, true);
        // A streamed install still reading rolls back: its reads fail from now on.
        if (_provider && _outcome.kind != DownloadOutcome::Kind::Finished)
            _provider->fail(_outcome.kind == DownloadOutcome::Kind::Cancelled
                                ? LANSPREAD_E_CANCELLED
                                : LANSPREAD_E_IO,
                            _outcome.error);
    }
    // done runs once every disk job of this download has finished (no stale writes after).
    if (_activeJobs > 0 || !_done)
        return;
    auto done = std::move(_done);
    _done = nullptr;
    _open.clear();
    done(_outcome);
}

} // namespace lanspread::kernel::transfer
