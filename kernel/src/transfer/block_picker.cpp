#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/transfer/block_picker.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <tuple>

namespace lanspread::kernel::transfer {

namespace {

bool contains(const std::vector<std::string> &ids, const std::string &id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

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

BlockPicker::BlockPicker(const std::vector<protocol::FileDescription> &files,
                         const std::set<std::pair<std::size_t, uint64_t>> &done,
                         BlockPickerSettings settings)
    : _order(settings.order), _depth(settings.depth == 0 ? 1 : settings.depth) {
    const uint64_t blockSize =
        settings.blockSize == 0 ? BlockPickerSettings{}.blockSize : settings.blockSize;
    for (ChunkTask &task : planChunks(files)) {
        const std::size_t f = task.file;
        const uint64_t c = task.index;
        PlannedChunk chunk;
        static_cast<ChunkTask &>(chunk) = std::move(task);
        chunk.firstBlock = _blocks.size();
        chunk.blockCount =
            chunk.length == 0
                ? 1
                : static_cast<std::size_t>((chunk.length + blockSize - 1) / blockSize);
        const std::size_t chunkId = _chunks.size();
        for (std::size_t b = 0; b < chunk.blockCount; ++b) {
            PlannedBlock block;
            block.chunk = chunkId;
            block.file = f;
            block.offset = chunk.offset + b * blockSize;
            block.length = std::min(blockSize, chunk.length - b * blockSize);
            _blocks.push_back(block);
        }
        ChunkState state;
        _bytesTotal += chunk.length;
        if (done.count({f, c})) {
            state.verified = true;
            state.received = chunk.blockCount;
            ++_verifiedCount;
            _bytesVerified += chunk.length;
        } else {
            state.pending = chunk.blockCount;
        }
        _chunkState.push_back(state);
        _chunks.push_back(std::move(chunk));
    }
    _blockState.resize(_blocks.size());
    for (std::size_t c = 0; c < _chunks.size(); ++c)
        if (_chunkState[c].verified)
            for (std::size_t b = 0; b < _chunks[c].blockCount; ++b)
                _blockState[_chunks[c].firstBlock + b].received = true;
    // The tie order: a Fisher-Yates shuffle driven by mt19937_64, whose output the standard
    // fixes, so a seed gives the same order with every standard library.
    std::vector<std::size_t> order(_chunks.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::mt19937_64 random(settings.seed);
    for (std::size_t i = order.size(); i > 1; --i)
        std::swap(order[i - 1], order[random() % i]);
    for (std::size_t rank = 0; rank < order.size(); ++rank)
        _chunkState[order[rank]].tieRank = rank;
}

bool BlockPicker::has(const Source &s, std::size_t chunkId) const {
    return s.complete || (chunkId < s.has.size() && s.has[chunkId]);
}

bool BlockPicker::pinAllows(std::size_t chunkId, const std::string &peerId) const {
    const ChunkState &c = _chunkState[chunkId];
    return !c.pinToOne || c.pinnedTo.empty() || c.pinnedTo == peerId;
}

void BlockPicker::addSource(const std::string &peerId) {
    Source &s = _sources[peerId];
    if (s.rejected || s.complete)
        return;
    forgetAvailability(s); // its partial counts, replaced by the complete count
    s.has.clear();
    s.complete = true;
    ++_completeSources;
}

void BlockPicker::setAvailability(const std::string &peerId, const std::vector<bool> &chunks) {
    Source &s = _sources[peerId];
    if (s.rejected)
        return;
    forgetAvailability(s);
    s.complete = false;
    s.has.assign(_chunks.size(), false);
    for (std::size_t c = 0; c < std::min(chunks.size(), _chunks.size()); ++c)
        if (chunks[c]) {
            s.has[c] = true;
            ++_chunkState[c].partialHave;
        }
}

void BlockPicker::addHave(const std::string &peerId, std::size_t chunkId) {
    if (chunkId >= _chunks.size())
        return;
    Source &s = _sources[peerId];
    if (s.rejected || s.complete)
        return;
    s.has.resize(_chunks.size(), false);
    if (!s.has[chunkId]) {
        s.has[chunkId] = true;
        ++_chunkState[chunkId].partialHave;
    }
}

void BlockPicker::forgetAvailability(Source &source) {
    if (source.rejected)
        return;
    if (source.complete) {
        --_completeSources;
        return;
    }
    for (std::size_t c = 0; c < source.has.size(); ++c)
        if (source.has[c])
            --_chunkState[c].partialHave;
}

std::vector<std::size_t> BlockPicker::takeBack(const std::string &peerId, Source &source) {
    std::vector<std::size_t> ids;
    for (const auto &[blockId, at] : source.sent)
        ids.push_back(blockId);
    source.sent.clear();
    for (std::size_t blockId : ids)
        dropCopy(blockId);
    for (ChunkState &c : _chunkState)
        if (c.pinnedTo == peerId)
            c.pinnedTo.clear(); // the next source to take one of its blocks gets all of them
    return ids;
}

std::vector<std::size_t> BlockPicker::removeSource(const std::string &peerId) {
    auto it = _sources.find(peerId);
    if (it == _sources.end() || it->second.rejected)
        return {}; // a rejected source stays remembered, with nothing in flight
    std::vector<std::size_t> ids = takeBack(peerId, it->second);
    forgetAvailability(it->second);
    _sources.erase(it);
    return ids;
}

std::vector<std::size_t> BlockPicker::rejectSource(const std::string &peerId) {
    Source &s = _sources[peerId];
    if (s.rejected)
        return {};
    std::vector<std::size_t> ids = takeBack(peerId, s);
    forgetAvailability(s);
    s.rejected = true;
    s.complete = false;
    s.has.clear();
    return ids;
}

void BlockPicker::setDepth(const std::string &peerId, unsigned depth) {
    auto it = _sources.find(peerId);
    if (it != _sources.end())
        it->second.depth = depth == 0 ? 1 : depth;
}

bool BlockPicker::hasSource(const std::string &peerId) const {
    auto it = _sources.find(peerId);
    return it != _sources.end() && usable(it->second);
}

std::vector<std::string> BlockPicker::sources() const {
    std::vector<std::string> ids;
    for (const auto &[id, s] : _sources)
        if (usable(s))
            ids.push_back(id);
    return ids;
}

bool BlockPicker::sourceHas(const std::string &peerId, std::size_t chunkId) const {
    auto it = _sources.find(peerId);
    return it != _sources.end() && usable(it->second) && chunkId < _chunks.size() &&
           has(it->second, chunkId);
}

bool BlockPicker::otherSourceHas(std::size_t chunkId, const std::string &peerId,
                                 const std::vector<std::string> &excluded) const {
    for (const auto &[id, s] : _sources)
        if (id != peerId && usable(s) && has(s, chunkId) && !contains(excluded, id))
            return true;
    return false;
}

bool BlockPicker::deferred(const BlockState &block, const std::string &peerId,
                           uint64_t nowNs) const {
    auto it = block.deferredOn.find(peerId);
    return it != block.deferredOn.end() && nowNs < it->second;
}

std::optional<std::size_t> BlockPicker::pendingBlockFor(std::size_t chunkId,
                                                        const std::string &peerId, uint64_t nowNs) {
    const PlannedChunk &chunk = _chunks[chunkId];
    const bool pinnedHere = _chunkState[chunkId].pinnedTo == peerId;
    for (std::size_t b = chunk.firstBlock; b < chunk.firstBlock + chunk.blockCount; ++b) {
        const BlockState &state = _blockState[b];
        if (state.received || state.copies > 0)
            continue;
        // A block that failed on this source waits for another one that has not failed it,
        // unless the chunk is pinned here (no other source may take it).
        if (!pinnedHere && contains(state.failedOn, peerId) &&
            otherSourceHas(chunkId, peerId, state.failedOn))
            continue;
        if (!pinnedHere && deferred(state, peerId, nowNs))
            continue;
        return b;
    }
    return std::nullopt;
}

bool BlockPicker::anyTakeablePending() const {
    for (std::size_t c = 0; c < _chunks.size(); ++c)
        if (!_chunkState[c].verified && _chunkState[c].pending > 0 && availability(c) > 0)
            return true;
    return false;
}

std::optional<std::size_t> BlockPicker::endgameBlockFor(const std::string &peerId, uint64_t nowNs) {
    const Source &self = _sources.at(peerId);
    std::optional<std::size_t> best;
    uint64_t bestAt = 0;
    for (const auto &[otherId, other] : _sources) {
        if (otherId == peerId || !usable(other))
            continue;
        for (const auto &[blockId, at] : other.sent) {
            const BlockState &state = _blockState[blockId];
            const std::size_t chunkId = _blocks[blockId].chunk;
            if (state.copies != 1 || state.received || self.sent.count(blockId) ||
                !has(self, chunkId) || !pinAllows(chunkId, peerId) ||
                contains(state.failedOn, peerId) || deferred(state, peerId, nowNs))
                continue;
            if (!best || at < bestAt || (at == bestAt && blockId < *best)) {
                best = blockId;
                bestAt = at;
            }
        }
    }
    return best;
}

std::optional<std::size_t> BlockPicker::wantedBlockFor(const std::string &peerId,
                                                       const Source &source, uint64_t nowNs) {
    for (std::size_t c : _wanted) {
        const ChunkState &state = _chunkState[c];
        if (state.verified || state.pending == 0 || !has(source, c) || !pinAllows(c, peerId))
            continue;
        if (auto blockId = pendingBlockFor(c, peerId, nowNs))
            return blockId;
    }
    // Endgame as soon as this source has nothing pending to take, not only once no source
    // has: a stream waits on its head chunk, so a free slot is best spent racing a copy of
    // it against the one source fetching it.
    return wantedEndgameBlockFor(peerId, source, nowNs);
}

std::optional<std::size_t> BlockPicker::wantedEndgameBlockFor(const std::string &peerId,
                                                              const Source &source,
                                                              uint64_t nowNs) {
    for (std::size_t c : _wanted) {
        if (_chunkState[c].verified || !has(source, c) || !pinAllows(c, peerId))
            continue;
        const PlannedChunk &chunk = _chunks[c];
        for (std::size_t b = chunk.firstBlock; b < chunk.firstBlock + chunk.blockCount; ++b) {
            const BlockState &state = _blockState[b];
            // copies == 1 and not here: in flight on exactly one other source.
            if (state.copies != 1 || state.received || source.sent.count(b) ||
                contains(state.failedOn, peerId) || deferred(state, peerId, nowNs))
                continue;
            return b;
        }
    }
    return std::nullopt;
}

void BlockPicker::give(std::size_t blockId, const std::string &peerId, Source &source,
                       uint64_t nowNs) {
    BlockState &state = _blockState[blockId];
    ChunkState &chunk = _chunkState[_blocks[blockId].chunk];
    if (state.copies++ == 0)
        --chunk.pending;
    if (chunk.pinToOne && chunk.pinnedTo.empty())
        chunk.pinnedTo = peerId;
    source.sent[blockId] = nowNs;
}

void BlockPicker::dropCopy(std::size_t blockId) {
    BlockState &state = _blockState[blockId];
    if (state.copies == 0)
        return;
    if (--state.copies == 0 && !state.received && !_chunkState[_blocks[blockId].chunk].verified)
        ++_chunkState[_blocks[blockId].chunk].pending;
}

std::optional<std::size_t> BlockPicker::next(const std::string &peerId, uint64_t nowNs) {
    auto self = _sources.find(peerId);
    if (self == _sources.end() || !usable(self->second))
        return std::nullopt;
    Source &source = self->second;
    if (source.sent.size() >= (source.depth != 0 ? source.depth : _depth))
        return std::nullopt;
    if (_order == BlockPickerSettings::Order::InOrder) {
        const std::optional<std::size_t> pick = wantedBlockFor(peerId, source, nowNs);
        if (pick)
            give(*pick, peerId, source, nowNs);
        return pick;
    }

    // Started chunks first (0 before 1), then the rarest, then the random tie order.
    using Key = std::tuple<int, std::size_t, uint64_t>;
    std::optional<std::size_t> pick;
    Key pickKey{};
    for (std::size_t c = 0; c < _chunks.size(); ++c) {
        const ChunkState &state = _chunkState[c];
        if (state.verified || state.pending == 0 || !has(source, c) || !pinAllows(c, peerId))
            continue;
        const Key key{state.pending < _chunks[c].blockCount ? 0 : 1, availability(c),
                      state.tieRank};
        if (pick && !(key < pickKey))
            continue;
        if (auto blockId = pendingBlockFor(c, peerId, nowNs)) {
            pick = blockId;
            pickKey = key;
        }
    }
    // Endgame only once every block some source could fetch is asked for: before that a
    // second copy would take a slot from a block nobody is fetching yet.
    if (!pick && !anyTakeablePending())
        pick = endgameBlockFor(peerId, nowNs);
    if (pick)
        give(*pick, peerId, source, nowNs);
    return pick;
}

BlockArrival BlockPicker::blockReceived(std::size_t blockId, const std::string &peerId) {
    BlockArrival arrival;
    if (blockId >= _blocks.size())
        return arrival;
    auto it = _sources.find(peerId);
    if (it == _sources.end() || it->second.sent.erase(blockId) == 0)
        return arrival; // not in flight there: given back meanwhile, or never asked for
    BlockState &state = _blockState[blockId];
    ChunkState &chunk = _chunkState[_blocks[blockId].chunk];
    if (state.received || chunk.verified) {
        dropCopy(blockId); // the copy that lost the race
        return arrival;
    }
    --state.copies;
    state.received = true;
    state.from = peerId;
    ++chunk.received;
    for (auto &[otherId, other] : _sources)
        if (otherId != peerId && other.sent.erase(blockId) > 0) {
            --state.copies;
            arrival.cancel.push_back(otherId);
        }
    arrival.accepted = true;
    arrival.chunkReady = chunk.received == _chunks[_blocks[blockId].chunk].blockCount;
    return arrival;
}

void BlockPicker::blockFailed(std::size_t blockId, const std::string &peerId) {
    if (blockId >= _blocks.size())
        return;
    auto it = _sources.find(peerId);
    if (it == _sources.end() || it->second.sent.erase(blockId) == 0)
        return;
    BlockState &state = _blockState[blockId];
    if (!contains(state.failedOn, peerId))
        state.failedOn.push_back(peerId);
    dropCopy(blockId);
}

void BlockPicker::blockDeferred(std::size_t blockId, const std::string &peerId, uint64_t untilNs) {
    if (blockId >= _blocks.size())
        return;
    auto it = _sources.find(peerId);
    if (it == _sources.end() || it->second.sent.erase(blockId) == 0)
        return;
    _blockState[blockId].deferredOn[peerId] = untilNs;
    dropCopy(blockId);
}

bool BlockPicker::chunkVerified(std::size_t chunkId) {
    if (chunkId >= _chunks.size())
        return false;
    ChunkState &state = _chunkState[chunkId];
    const PlannedChunk &chunk = _chunks[chunkId];
    if (state.verified || state.received != chunk.blockCount)
        return false;
    state.verified = true;
    state.pinToOne = false;
    state.pinnedTo.clear();
    ++_verifiedCount;
    _bytesVerified += chunk.length;
    for (std::size_t b = chunk.firstBlock; b < chunk.firstBlock + chunk.blockCount; ++b) {
        _blockState[b].failedOn.clear();
        _blockState[b].deferredOn.clear();
    }
    return true;
}

std::vector<std::string> BlockPicker::chunkFailed(std::size_t chunkId) {
    if (chunkId >= _chunks.size() || _chunkState[chunkId].verified)
        return {};
    ChunkState &state = _chunkState[chunkId];
    const PlannedChunk &chunk = _chunks[chunkId];
    std::set<std::string> senders;
    for (std::size_t b = chunk.firstBlock; b < chunk.firstBlock + chunk.blockCount; ++b) {
        BlockState &block = _blockState[b];
        if (!block.received)
            continue;
        senders.insert(block.from);
        block.received = false;
        block.from.clear();
        if (block.copies == 0)
            ++state.pending;
    }
    state.received = 0;
    // One sender is the culprit; among several, fetching the retry from one source alone
    // makes a second failure name it.
    state.pinToOne = senders.size() > 1;
    state.pinnedTo.clear();
    return {senders.begin(), senders.end()};
}

void BlockPicker::setWanted(std::vector<std::size_t> chunkIds) {
    // Verified chunks stay in the list and are skipped when picking: refetch() may make one
    // wanted again without a new list.
    chunkIds.erase(std::remove_if(chunkIds.begin(), chunkIds.end(),
                                  [&](std::size_t c) { return c >= _chunks.size(); }),
                   chunkIds.end());
    _wanted = std::move(chunkIds);
}

void BlockPicker::refetch(std::size_t chunkId) {
    if (chunkId >= _chunks.size() || !_chunkState[chunkId].verified)
        return;
    ChunkState &state = _chunkState[chunkId];
    const PlannedChunk &chunk = _chunks[chunkId];
    state.verified = false;
    state.received = 0;
    state.pending = chunk.blockCount;
    --_verifiedCount;
    _bytesVerified -= chunk.length;
    for (std::size_t b = chunk.firstBlock; b < chunk.firstBlock + chunk.blockCount; ++b) {
        BlockState &block = _blockState[b];
        block.received = false;
        // Already 0: when a block's copy is accepted, every other copy is cancelled, and an
        // arrived block is never given again.
        block.copies = 0;
        block.from.clear();
        block.failedOn.clear();
        block.deferredOn.clear();
    }
}

std::vector<bool> BlockPicker::verifiedChunks() const {
    std::vector<bool> verified(_chunks.size());
    for (std::size_t c = 0; c < _chunks.size(); ++c)
        verified[c] = _chunkState[c].verified;
    return verified;
}

std::size_t BlockPicker::pendingCount() const {
    std::size_t n = 0;
    for (const ChunkState &c : _chunkState)
        n += c.pending;
    return n;
}

std::size_t BlockPicker::inFlight(const std::string &peerId) const {
    auto it = _sources.find(peerId);
    return it == _sources.end() ? 0 : it->second.sent.size();
}

std::size_t BlockPicker::availability(std::size_t chunkId) const {
    return chunkId < _chunks.size() ? _completeSources + _chunkState[chunkId].partialHave : 0;
}

std::vector<std::size_t> BlockPicker::stuckChunks() const {
    std::vector<std::size_t> stuck;
    for (std::size_t c = 0; c < _chunks.size(); ++c)
        if (!_chunkState[c].verified && _chunkState[c].received < _chunks[c].blockCount &&
            availability(c) == 0)
            stuck.push_back(c);
    return stuck;
}

} // namespace lanspread::kernel::transfer
