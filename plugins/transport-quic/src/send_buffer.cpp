#include "send_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace lanspread::plugins::quic {

namespace {

// Freed blocks are kept for reuse (reactor thread only), up to 16 MiB of them.
constexpr std::size_t kPoolCap = 1024;

std::vector<uint8_t *> &pool() {
    static thread_local struct Pool {
        std::vector<uint8_t *> blocks;
        ~Pool() {
            for (uint8_t *b : blocks)
                delete[] b;
        }
    } p;
    return p.blocks;
}

uint8_t *takeBlock() {
    auto &p = pool();
    if (p.empty())
        return new uint8_t[SendBuffer::kBlockSize];
    uint8_t *b = p.back();
    p.pop_back();
    return b;
}

void giveBlock(uint8_t *b) {
    auto &p = pool();
    if (p.size() < kPoolCap)
        p.push_back(b);
    else
        delete[] b;
}

} // namespace

void SendBuffer::append(const uint8_t *data, std::size_t len) {
    while (len > 0) {
        if (_blocks.empty() || _blocks.back().used == kBlockSize)
            _blocks.push_back(Block{takeBlock(), _end, 0});
        Block &tail = _blocks.back();
        const std::size_t n = std::min(len, kBlockSize - tail.used);
        std::memcpy(tail.data + tail.used, data, n);
        tail.used += n;
        _end += n;
        data += n;
        len -= n;
    }
}

std::size_t SendBuffer::gather(ngtcp2_vec *vecs, std::size_t maxVecs) const {
    std::size_t count = 0;
    uint64_t at = _written;
    for (std::size_t i = _writeBlock; i < _blocks.size() && count < maxVecs; ++i) {
        const Block &b = _blocks[i];
        if (at >= b.start + b.used)
            continue;
        const std::size_t skip = static_cast<std::size_t>(at - b.start);
        vecs[count].base = b.data + skip;
        vecs[count].len = b.used - skip;
        at = b.start + b.used;
        ++count;
    }
    return count;
}

void SendBuffer::markWritten(std::size_t n) {
    _written += n;
    while (_writeBlock < _blocks.size() &&
           _written >= _blocks[_writeBlock].start + _blocks[_writeBlock].used &&
           _blocks[_writeBlock].used == kBlockSize)
        ++_writeBlock;
}

std::size_t SendBuffer::ackTo(uint64_t offset) {
    offset = std::min(offset, _end);
    if (offset <= _acked)
        return 0;
    const std::size_t freed = static_cast<std::size_t>(offset - _acked);
    _acked = offset;
    // Free blocks wholly acknowledged; a partly filled tail goes too once everything in it is
    // acknowledged (the next append starts a fresh block), so idle streams hold no memory.
    while (!_blocks.empty()) {
        const Block &front = _blocks.front();
        if (front.start + front.used > _acked)
            break;
        if (front.used < kBlockSize && _blocks.size() > 1)
            break; // cannot happen: only the tail is partial
        giveBlock(front.data);
        _blocks.pop_front();
        if (_writeBlock > 0)
            --_writeBlock;
    }
    return freed;
}

std::size_t SendBuffer::clear() {
    const std::size_t dropped = buffered();
    for (const Block &b : _blocks)
        giveBlock(b.data);
    _blocks.clear();
    _writeBlock = 0;
    _acked = _written = _end;
    return dropped;
}

} // namespace lanspread::plugins::quic
