// unpacker-zip: a read-only, seekable std::streambuf over the host's byte source, so that
// Poco::Zip (which wants a seekable std::istream) can read the archive the kernel offers.
//
// Thread: one job's worker thread at a time (like the job that owns it).
#pragma once

#include <lanspread/kinds/unpacker.hpp>

#include <cstdint>
#include <streambuf>
#include <vector>

namespace lanspread::plugins::zip {

class SourceStreamBuf final : public std::streambuf {
  public:
    // source must be seekable (source.seekable()). Reads go through a buffer of bufferBytes.
    SourceStreamBuf(Host host, ByteSource source, lanspread_cancel_handle cancel,
                    std::size_t bufferBytes = 64 * 1024);

    // The first failure of the byte source seen by this buffer (E_IO, E_CANCELLED, ...), or
    // OK. std::istream hides such failures as end-of-file; callers ask here afterwards.
    const Status &failure() const { return _failure; }

  protected:
    int_type underflow() override;
    std::streamsize xsgetn(char_type *s, std::streamsize n) override;
    pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                     std::ios_base::openmode which) override;
    pos_type seekpos(pos_type pos, std::ios_base::openmode which) override;

  private:
    // One read of the source into buffer[0..capacity) at _sourcePos; 0 at end or on failure.
    std::size_t readSource(char *buffer, std::size_t capacity);
    bool fail(Status status);
    int64_t position() const { return _sourcePos - (egptr() - gptr()); }

    Host _host;
    ByteSource _source;
    lanspread_cancel_handle _cancel;
    std::vector<char> _buffer;
    int64_t _sourcePos = 0; // the source's read position, which is where egptr() ends
    Status _failure;
};

} // namespace lanspread::plugins::zip
