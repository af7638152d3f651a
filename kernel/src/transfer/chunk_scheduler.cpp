#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/chunk_scheduler.hpp>

#include <cmath>

namespace lanspread::kernel::transfer {

namespace {

// Weight of a new sample in a source's smoothed rate.
constexpr double kRateSmoothing = 0.5;
// A source counts as "faster" for the tail rule only when it is at least this much faster.
constexpr double kTailSpeedRatio = 2.0;

} // namespace

std::vector<ChunkTask> planChunks(const std::vector<protocol::FileDescription> &files) {
    std::vector<ChunkTask> tasks;
    for (std::size_t f = 0; f < files.size(); ++f) {
        const auto &file = files[f];
        const uint64_t count = catalog::chunkCount(file.size);
        for (uint64_t c = 0; c < count; ++c) {
            ChunkTask t;
            t.file = f;
            t.index = c;
            t.offset = c * catalog::kChunkSize;
            t.length = catalog::chunkLength(file.size, c);
            if (c < file.chunkHashes.size())
                t.hash = file.chunkHashes[c];
            tasks.push_back(std::move(t));
        }
    }
    return tasks;
}

ChunkScheduler::ChunkScheduler(const std::vector<protocol::FileDescription> &files,
                               const std::set<std::pair<std::size_t, uint64_t>> &done,
                               unsigned depth)
    : _depth(depth == 0 ? 1 : depth) {
    for (ChunkTask &t : planChunks(files)) {
        _bytesTotal += t.length;
        if (done.count({t.file, t.index})) {
            _state.push_back(State::Done);
            ++_doneCount;
            _bytesDone += t.length;
        } else {
            _state.push_back(State::Pending);
        }
        _tasks.push_back(std::move(t));
    }
    _failedOn.resize(_tasks.size());
}

void ChunkScheduler::addSource(const std::string &peerId) {
    _sources.try_emplace(peerId); // a known source (even a rejected one) stays as it is
}

std::vector<std::size_t> ChunkScheduler::removeSource(const std::string &peerId) {
    auto it = _sources.find(peerId);
    if (it == _sources.end())
        return {};
    std::vector<std::size_t> requeued(it->second.inFlight.begin(), it->second.inFlight.end());
    for (std::size_t id : requeued)
        if (_state[id] == State::InFlight)
            _state[id] = State::Pending;
    if (it->second.rejected)
        it->second.inFlight.clear(); // remembered so that it is never used again
    else
        _sources.erase(it);
    return requeued;
}

std::vector<std::size_t> ChunkScheduler::rejectSource(const std::string &peerId) {
    std::vector<std::size_t> requeued = removeSource(peerId);
    Source &s = _sources[peerId]; // recreated when removeSource dropped it
    s.rejected = true;
    s.inFlight.clear();
    return requeued;
}

bool ChunkScheduler::hasSource(const std::string &peerId) const {
    auto it = _sources.find(peerId);
    return it != _sources.end() && !it->second.rejected;
}

std::vector<std::string> ChunkScheduler::sources() const {
    std::vector<std::string> ids;
    for (const auto &[id, s] : _sources)
        if (!s.rejected)
            ids.push_back(id);
    return ids;
}

std::optional<std::size_t> ChunkScheduler::next(const std::string &peerId, uint64_t nowNs) {
    (void)nowNs; // rates come from completed() durations; kept for the engine's clock
    auto self = _sources.find(peerId);
    if (self == _sources.end() || self->second.rejected)
        return std::nullopt;
    Source &source = self->second;
    if (source.inFlight.size() >= _depth)
        return std::nullopt;

    // Whether another usable source could still take chunk id (one it has not failed on).
    auto otherCanTake = [&](std::size_t id) {
        for (const auto &[otherId, other] : _sources)
            if (otherId != peerId && !other.rejected && !_failedOn[id].count(otherId))
                return true;
        return false;
    };

    // The lowest pending chunk this source has not failed on; a chunk that failed here goes
    // to it again only when no other usable source could take it (e.g. it is the only one).
    std::optional<std::size_t> pick;
    for (std::size_t id = 0; id < _tasks.size() && !pick; ++id) {
        if (_state[id] != State::Pending)
            continue;
        if (!_failedOn[id].count(peerId) || !otherCanTake(id))
            pick = id;
    }
    if (!pick)
        return std::nullopt;

    // Slower sources get less: near the end, hold a fresh chunk back from a measured source
    // when sources at least kTailSpeedRatio faster would get through every pending chunk
    // before this one finished it. This source finishes a new chunk after the ones it has in
    // flight, i.e. after (inFlight + 1) of its request times; a faster source completes
    // (inFlight + 1) * (its rate / this rate) requests in that time, minus the ones it already
    // has in flight, and never fewer than its free slots. A chunk that already failed
    // somewhere is never held back (a faster source may be the one it failed on). Sources
    // without a measurement count as equal (no hold-back).
    if (source.rate > 0 && _failedOn[*pick].empty()) {
        double fastest = 0;
        for (const auto &[otherId, other] : _sources)
            if (!other.rejected && other.rate > fastest)
                fastest = other.rate;
        if (fastest >= kTailSpeedRatio * source.rate) {
            std::size_t capacity = 0;
            for (const auto &[otherId, other] : _sources) {
                if (otherId == peerId || other.rejected ||
                    other.rate < kTailSpeedRatio * source.rate)
                    continue;
                const double window = static_cast<double>(source.inFlight.size() + 1);
                const auto inWindow =
                    static_cast<std::size_t>(std::floor(window * (other.rate / source.rate)));
                const std::size_t freeSlots =
                    other.inFlight.size() < _depth ? _depth - other.inFlight.size() : 0;
                const std::size_t beyondInFlight =
                    inWindow > other.inFlight.size() ? inWindow - other.inFlight.size() : 0;
                capacity += std::max(freeSlots, beyondInFlight);
            }
            if (pendingCount() <= capacity)
                return std::nullopt;
        }
    }

    _state[*pick] = State::InFlight;
    source.inFlight.insert(*pick);
    return pick;
}

void ChunkScheduler::completed(std::size_t chunkId, const std::string &peerId,
                               uint64_t durationNs) {
    if (chunkId >= _tasks.size())
        return;
    auto it = _sources.find(peerId);
    if (it != _sources.end())
        it->second.inFlight.erase(chunkId);
    if (_state[chunkId] == State::Done)
        return;
    _state[chunkId] = State::Done;
    ++_doneCount;
    const uint64_t length = _tasks[chunkId].length;
    _bytesDone += length;
    if (it == _sources.end())
        return;
    Source &s = it->second;
    s.bytes += length;
    s.busyNs += durationNs;
    if (durationNs > 0 && length > 0) {
        const double sample = static_cast<double>(length) * 1e9 / static_cast<double>(durationNs);
        s.rate = s.rate > 0 ? (1 - kRateSmoothing) * s.rate + kRateSmoothing * sample : sample;
    }
}

void ChunkScheduler::failed(std::size_t chunkId, const std::string &peerId) {
    if (chunkId >= _tasks.size())
        return;
    auto it = _sources.find(peerId);
    if (it != _sources.end())
        it->second.inFlight.erase(chunkId);
    if (_state[chunkId] == State::Done)
        return;
    _failedOn[chunkId].insert(peerId);
    // In flight on this source (or already requeued by removeSource): pending again. A chunk
    // that another source has since taken stays with that source.
    bool elsewhere = false;
    for (const auto &[otherId, other] : _sources)
        if (otherId != peerId && other.inFlight.count(chunkId))
            elsewhere = true;
    if (!elsewhere)
        _state[chunkId] = State::Pending;
}

std::size_t ChunkScheduler::pendingCount() const {
    std::size_t n = 0;
    for (State s : _state)
        if (s == State::Pending)
            ++n;
    return n;
}

std::size_t ChunkScheduler::inFlight(const std::string &peerId) const {
    auto it = _sources.find(peerId);
    return it == _sources.end() ? 0 : it->second.inFlight.size();
}

double ChunkScheduler::rate(const std::string &peerId) const {
    auto it = _sources.find(peerId);
    return it == _sources.end() ? 0 : it->second.rate;
}

} // namespace lanspread::kernel::transfer
