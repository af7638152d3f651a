// The stream provider (stream_provider.hpp): verified chunks held in memory and read by an
// unpacker through a pathless byte source. One mutex guards everything; the reader waits on
// _arrived for the chunk under its read position; bytes are copied outside the lock (the
// reader keeps its own reference to the chunk meanwhile), and released chunks are given back
// (their deleter runs) and wake is called only after the lock is let go.
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/install/stream_provider.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace lanspread::kernel::install {

namespace {

constexpr const char *kLogSource = "install";

uint64_t chunkIndexAt(uint64_t position) {
    return position / catalog::kChunkSize;
}

uint64_t distance(uint64_t a, uint64_t b) {
    return a > b ? a - b : b - a;
}

} // namespace

StreamProvider::StreamProvider(std::vector<StreamArchive> archives, StreamBudget budget,
                               std::function<void()> wake)
    : _archives(std::move(archives)), _budget(budget), _wake(std::move(wake)) {
    // A window larger than what may be held would drop the chunks it just fetched.
    _windowChunks = std::max<std::size_t>(1, std::min(_budget.windowChunks, _budget.maxHeldChunks));
    uint64_t order = 0;
    for (std::size_t k = 0; k < _archives.size(); ++k) {
        _firstOrder.push_back(order);
        order += chunksOf(k);
    }

    _source.struct_size = sizeof _source;
    _source.source_data = this;
    _source.path = nullptr; // no file behind it: a sidecar unpacker refuses it at open()
    _source.read = [](const lanspread_byte_source *src, uint8_t *buffer, size_t capacity,
                      size_t *outRead) -> lanspread_status {
        if (src == nullptr || outRead == nullptr || (buffer == nullptr && capacity > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outRead = 0;
        return static_cast<StreamProvider *>(src->source_data)->readSome(buffer, capacity, outRead);
    };
    _source.seek = [](const lanspread_byte_source *src, int64_t offset, int32_t whence,
                      int64_t *outPosition) -> lanspread_status {
        if (src == nullptr || outPosition == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        return static_cast<StreamProvider *>(src->source_data)->seekTo(offset, whence, outPosition);
    };
    _source.size = [](const lanspread_byte_source *src, uint64_t *outSize) -> lanspread_status {
        if (src == nullptr || outSize == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        auto *self = static_cast<StreamProvider *>(src->source_data);
        std::lock_guard lock(self->_mutex);
        *outSize =
            self->_current < self->_archives.size() ? self->_archives[self->_current].size : 0;
        return LANSPREAD_OK;
    };
}

StreamProvider::~StreamProvider() = default;

// ---------------------------------------------------------------------------------------
// Locked helpers

uint64_t StreamProvider::chunksOf(std::size_t archive) const {
    const uint64_t size = _archives[archive].size;
    return size == 0 ? 0 : catalog::chunkCount(size);
}

std::optional<StreamProvider::Place> StreamProvider::placeOf(std::size_t chunkId) const {
    for (std::size_t k = 0; k < _archives.size(); ++k) {
        const std::size_t first = _archives[k].firstChunk;
        if (chunkId >= first && chunkId - first < chunksOf(k))
            return Place{k, chunkId - first};
    }
    return std::nullopt;
}

uint64_t StreamProvider::orderOf(const Place &place) const {
    return _firstOrder[place.archive] + place.index;
}

uint64_t StreamProvider::readOrderLocked() const {
    if (_current >= _archives.size())
        return _firstOrder.empty() ? 0 : _firstOrder.back() + chunksOf(_archives.size() - 1);
    if (_position >= _archives[_current].size)
        return _firstOrder[_current] + chunksOf(_current);
    return orderOf({_current, chunkIndexAt(_position)});
}

std::vector<std::size_t> StreamProvider::windowLocked() const {
    std::vector<std::size_t> window;
    if (_failed || _current >= _archives.size())
        return window;
    std::size_t archive = _current;
    uint64_t index =
        _position < _archives[_current].size ? chunkIndexAt(_position) : chunksOf(_current);
    while (window.size() < _windowChunks && archive < _archives.size()) {
        if (index >= chunksOf(archive)) {
            ++archive;
            index = 0;
            continue;
        }
        window.push_back(_archives[archive].firstChunk + static_cast<std::size_t>(index));
        ++index;
    }
    return window;
}

std::vector<std::size_t> StreamProvider::wantedLocked() const {
    std::vector<std::size_t> wanted = windowLocked();
    wanted.erase(std::remove_if(wanted.begin(), wanted.end(),
                                [this](std::size_t id) { return _held.count(id) != 0; }),
                 wanted.end());
    return wanted;
}

void StreamProvider::releaseLocked(std::size_t chunkId, std::vector<ChunkBytes> &released) {
    auto it = _held.find(chunkId);
    if (it == _held.end())
        return;
    _heldBytes -= it->second.size;
    released.push_back(std::move(it->second.bytes));
    _held.erase(it);
}

void StreamProvider::enforceBudgetLocked(std::vector<ChunkBytes> &released) {
    const uint64_t readOrder = readOrderLocked();
    // The victim's rank, the larger the sooner it goes: its tier (2 behind the read position,
    // 1 ahead of it outside the window, 0 in the window), then how far it is from the read
    // position.
    using Rank = std::pair<int, uint64_t>;
    while (_held.size() > _budget.maxHeldChunks) {
        std::optional<std::size_t> victim;
        Rank victimRank{};
        for (const auto &[id, held] : _held) {
            const std::optional<Place> place = placeOf(id);
            if (!place)
                continue;
            const uint64_t order = orderOf(*place);
            if (order == readOrder)
                continue; // the chunk under the read position: the reader needs it now
            int tier = 0;
            if (order < readOrder)
                tier = 2;
            else if (order - readOrder >= _windowChunks)
                tier = 1;
            const Rank rank{tier, distance(order, readOrder)};
            if (!victim || rank > victimRank) {
                victim = id;
                victimRank = rank;
            }
        }
        if (!victim)
            break;
        releaseLocked(*victim, released);
    }
}

// ---------------------------------------------------------------------------------------
// Fetcher side

std::vector<std::size_t> StreamProvider::wanted() const {
    std::lock_guard lock(_mutex);
    return wantedLocked();
}

void StreamProvider::deliver(std::size_t chunkId, ChunkBytes bytes, std::size_t size) {
    std::vector<ChunkBytes> released;
    {
        std::lock_guard lock(_mutex);
        if (_failed || _held.count(chunkId) != 0)
            return;
        const std::optional<Place> place = placeOf(chunkId);
        if (!place)
            return;
        const uint64_t expected =
            catalog::chunkLength(_archives[place->archive].size, place->index);
        if (size != expected || (size > 0 && bytes == nullptr)) {
            const std::string what = bytes == nullptr && size > 0
                                         ? std::string("without its bytes")
                                         : "with " + std::to_string(size) + " bytes instead of " +
                                               std::to_string(expected);
            log::warning(kLogSource, "stream: chunk " + std::to_string(chunkId) + " of archive '" +
                                         _archives[place->archive].name + "' delivered " + what +
                                         "; ignored");
            return;
        }
        if (place->archive < _current)
            return; // an archive already read: the reader never goes back to it
        _held[chunkId] = Held{std::move(bytes), size};
        _heldBytes += size;
        enforceBudgetLocked(released); // may drop the chunk just taken
        _peakHeldBytes = std::max(_peakHeldBytes, _heldBytes);
    }
    _arrived.notify_all();
    // released goes out of scope here, after the lock: the buffers' deleters run unlocked.
}

void StreamProvider::fail(lanspread_status status, std::string why) {
    std::vector<ChunkBytes> released;
    {
        std::lock_guard lock(_mutex);
        if (_failed)
            return;
        _failed = true;
        _failStatus = status == LANSPREAD_OK ? LANSPREAD_E_IO : status;
        _failWhy = why.empty() ? std::string("the stream failed") : std::move(why);
        for (auto &[id, held] : _held)
            released.push_back(std::move(held.bytes));
        _held.clear();
        _heldBytes = 0;
        // A blocked reader is woken now and has the failure to act on (roll back): from here
        // it is working, not waiting, even before its thread is scheduled.
        _readerWaiting = false;
    }
    _arrived.notify_all();
}

bool StreamProvider::failed() const {
    std::lock_guard lock(_mutex);
    return _failed;
}

Status StreamProvider::failure() const {
    std::lock_guard lock(_mutex);
    return _failed ? Status(_failStatus, _failWhy) : Status::ok();
}

uint64_t StreamProvider::heldBytes() const {
    std::lock_guard lock(_mutex);
    return _heldBytes;
}

uint64_t StreamProvider::peakHeldBytes() const {
    std::lock_guard lock(_mutex);
    return _peakHeldBytes;
}

// ---------------------------------------------------------------------------------------
// Reader side

void StreamProvider::open(std::size_t archive) {
    std::vector<ChunkBytes> released;
    {
        std::lock_guard lock(_mutex);
        if (archive >= _archives.size() || archive < _current)
            return; // archives are read in order; the engine never asks otherwise
        _current = archive;
        _position = 0;
        _lastError.clear();
        std::vector<std::size_t> earlier;
        for (const auto &[id, held] : _held) {
            const std::optional<Place> place = placeOf(id);
            if (place && place->archive < archive)
                earlier.push_back(id);
        }
        for (std::size_t id : earlier)
            releaseLocked(id, released);
    }
    if (_wake)
        _wake();
}

Result<std::vector<uint8_t>> StreamProvider::head(std::size_t maxBytes) {
    std::unique_lock lock(_mutex);
    if (_current >= _archives.size())
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "the stream has no archive to probe");
    const StreamArchive &archive = _archives[_current];
    if (archive.size == 0 || maxBytes == 0)
        return std::vector<uint8_t>();
    const std::size_t first = archive.firstChunk;
    waitForChunk(lock, first);
    if (_failed)
        return Status(_failStatus, _failWhy);
    const Held &held = _held.at(first);
    const std::size_t length = std::min(maxBytes, held.size);
    return std::vector<uint8_t>(held.bytes.get(), held.bytes.get() + length);
}

void StreamProvider::waitForChunk(std::unique_lock<std::mutex> &lock, std::size_t chunkId) {
    _readerWaiting = true;
    _arrived.wait(lock, [&] { return _failed || _held.count(chunkId) != 0; });
    _readerWaiting = false;
}

bool StreamProvider::readerWaiting() const {
    return _readerWaiting;
}

std::string StreamProvider::lastError() const {
    std::lock_guard lock(_mutex);
    return _lastError;
}

lanspread_status StreamProvider::readSome(uint8_t *buffer, std::size_t capacity,
                                          std::size_t *outRead) {
    ChunkBytes bytes;
    std::size_t offset = 0, length = 0;
    bool moved = false;
    {
        std::unique_lock lock(_mutex);
        if (_failed) {
            _lastError = _failWhy;
            return _failStatus;
        }
        if (_current >= _archives.size())
            return LANSPREAD_E_IO;
        const StreamArchive &archive = _archives[_current];
        if (_position >= archive.size || capacity == 0)
            return LANSPREAD_OK; // end of the archive: nothing read
        const uint64_t index = chunkIndexAt(_position);
        const std::size_t chunkId = archive.firstChunk + static_cast<std::size_t>(index);
        waitForChunk(lock, chunkId);
        if (_failed) {
            _lastError = _failWhy;
            return _failStatus;
        }
        const Held &held = _held.at(chunkId);
        offset = static_cast<std::size_t>(_position - index * catalog::kChunkSize);
        length = std::min(capacity, held.size - offset); // up to the chunk's end
        bytes = held.bytes;
        // The chunk stays held (a zip reader comes back to it): only the budget lets it go.
        const uint64_t before = readOrderLocked();
        _position += length;
        moved = readOrderLocked() != before;
    }
    std::memcpy(buffer, bytes.get() + offset, length);
    *outRead = length;
    // Another chunk is under the read position: the window moved, its end is to be fetched.
    if (moved && _wake)
        _wake();
    return LANSPREAD_OK;
}

lanspread_status StreamProvider::seekTo(int64_t offset, int32_t whence, int64_t *outPosition) {
    bool moved = false;
    {
        std::lock_guard lock(_mutex);
        if (_failed) {
            _lastError = _failWhy;
            return _failStatus;
        }
        if (_current >= _archives.size())
            return LANSPREAD_E_IO;
        const uint64_t size = _archives[_current].size;
        int64_t base = 0;
        switch (whence) {
        case LANSPREAD_SEEK_SET: base = 0; break;
        case LANSPREAD_SEEK_CUR: base = static_cast<int64_t>(_position); break;
        case LANSPREAD_SEEK_END: base = static_cast<int64_t>(size); break;
        default:
            _lastError = "seek with an unknown origin " + std::to_string(whence);
            return LANSPREAD_E_INVALID_ARGUMENT;
        }
        const bool overflows = offset > 0 && base > std::numeric_limits<int64_t>::max() - offset;
        if (overflows || base + offset < 0 || static_cast<uint64_t>(base + offset) > size) {
            _lastError = "seek outside archive '" + _archives[_current].name + "' (" +
                         std::to_string(size) + " bytes)";
            return LANSPREAD_E_INVALID_ARGUMENT;
        }
        const uint64_t before = readOrderLocked();
        _position = static_cast<uint64_t>(base + offset);
        moved = readOrderLocked() != before;
        *outPosition = base + offset;
    }
    // Another chunk is under the read position: the window moved, the fetcher must look.
    if (moved && _wake)
        _wake();
    return LANSPREAD_OK;
}

} // namespace lanspread::kernel::install
