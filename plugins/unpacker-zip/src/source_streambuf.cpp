#include "source_streambuf.hpp"

#include <algorithm>
#include <cstring>

namespace lanspread::plugins::zip {

SourceStreamBuf::SourceStreamBuf(Host host, ByteSource source, lanspread_cancel_handle cancel,
                                 std::size_t bufferBytes)
    : _host(host), _source(source), _cancel(cancel), _buffer(bufferBytes) {
    setg(_buffer.data(), _buffer.data(), _buffer.data());
}

bool SourceStreamBuf::fail(Status status) {
    if (_failure.succeeded())
        _failure = std::move(status);
    return false;
}

std::size_t SourceStreamBuf::readSource(char *buffer, std::size_t capacity) {
    if (!_failure.succeeded())
        return 0;
    if (_host.isCancelled(_cancel)) {
        fail(Status(LANSPREAD_E_CANCELLED, "cancelled"));
        return 0;
    }
    auto got = _source.read(std::span<uint8_t>(reinterpret_cast<uint8_t *>(buffer), capacity));
    if (!got) {
        fail(Status(got.status().code(),
                    "the byte source failed to read at offset " + std::to_string(_sourcePos)));
        return 0;
    }
    _sourcePos += static_cast<int64_t>(got.value());
    return got.value();
}

SourceStreamBuf::int_type SourceStreamBuf::underflow() {
    if (gptr() < egptr())
        return traits_type::to_int_type(*gptr());
    std::size_t got = readSource(_buffer.data(), _buffer.size());
    setg(_buffer.data(), _buffer.data(), _buffer.data() + got);
    return got == 0 ? traits_type::eof() : traits_type::to_int_type(*gptr());
}

std::streamsize SourceStreamBuf::xsgetn(char_type *s, std::streamsize n) {
    std::streamsize done = 0;
    while (done < n) {
        std::streamsize buffered = egptr() - gptr();
        if (buffered > 0) {
            std::streamsize k = std::min(buffered, n - done);
            std::memcpy(s + done, gptr(), static_cast<std::size_t>(k));
            gbump(static_cast<int>(k));
            done += k;
            continue;
        }
        if (n - done >= static_cast<std::streamsize>(_buffer.size())) {
            // Large reads bypass the buffer; it stays empty and positioned at _sourcePos.
            std::size_t got = readSource(s + done, static_cast<std::size_t>(n - done));
            setg(_buffer.data(), _buffer.data(), _buffer.data());
            if (got == 0)
                break;
            done += static_cast<std::streamsize>(got);
            continue;
        }
        if (traits_type::eq_int_type(underflow(), traits_type::eof()))
            break;
    }
    return done;
}

SourceStreamBuf::pos_type SourceStreamBuf::seekoff(off_type off, std::ios_base::seekdir dir,
                                                   std::ios_base::openmode which) {
    const pos_type invalid(off_type(-1));
    if (!(which & std::ios_base::in) || !_failure.succeeded())
        return invalid;
    if (dir == std::ios_base::cur && off == 0)
        return pos_type(position()); // tellg()

    int64_t target = 0;
    if (dir == std::ios_base::end) {
        int64_t at = 0;
        lanspread_status s =
            _source.raw()->seek(_source.raw(), static_cast<int64_t>(off), LANSPREAD_SEEK_END, &at);
        if (s != LANSPREAD_OK) {
            fail(Status(s, "the byte source failed to seek to its end"));
            return invalid;
        }
        _sourcePos = at;
        setg(_buffer.data(), _buffer.data(), _buffer.data());
        return pos_type(at);
    }
    target = dir == std::ios_base::beg ? static_cast<int64_t>(off)
                                       : position() + static_cast<int64_t>(off);
    if (target < 0)
        return invalid;
    // Inside what the buffer holds: move the get pointer only.
    int64_t bufferStart = _sourcePos - (egptr() - eback());
    if (target >= bufferStart && target <= _sourcePos) {
        setg(eback(), eback() + (target - bufferStart), egptr());
        return pos_type(target);
    }
    int64_t at = 0;
    lanspread_status s = _source.raw()->seek(_source.raw(), target, LANSPREAD_SEEK_SET, &at);
    if (s != LANSPREAD_OK) {
        fail(Status(s, "the byte source failed to seek to offset " + std::to_string(target)));
        return invalid;
    }
    _sourcePos = at;
    setg(_buffer.data(), _buffer.data(), _buffer.data());
    return pos_type(at);
}

SourceStreamBuf::pos_type SourceStreamBuf::seekpos(pos_type pos, std::ios_base::openmode which) {
    return seekoff(off_type(pos), std::ios_base::beg, which);
}

} // namespace lanspread::plugins::zip
