// Shared by the fuzz targets in tests/fuzz/src: a byte consumer that turns the fuzzer's input
// into structured choices, an invariant check that aborts (so libFuzzer records the input as
// a crash), and the staging fence the extraction targets write into.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace lanspread::fuzz {

// A broken invariant: say which, then abort. libFuzzer turns the abort into a crash report
// and keeps the input (crash-<sha1>), which then goes to tests/fuzz/regressions/<target>/.
[[noreturn]] inline void fail(const std::string &what) {
    std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}
inline void check(bool ok, const std::string &what) {
    if (!ok)
        fail(what);
}

// Reads the fuzzer's bytes front to back; past the end every read yields zeros / empty, so a
// target never needs to test for the end before a choice.
class Bytes {
  public:
    Bytes(const uint8_t *data, std::size_t size) : _data(data), _size(size) {}
    bool empty() const { return _pos >= _size; }
    std::size_t left() const { return _size - _pos; }
    uint8_t u8() { return _pos < _size ? _data[_pos++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
    uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
    // Up to n bytes (fewer at the end).
    std::string_view take(std::size_t n) {
        n = std::min(n, left());
        std::string_view out(reinterpret_cast<const char *>(_data + _pos), n);
        _pos += n;
        return out;
    }
    // A string led by its one-byte length.
    std::string str8() { return std::string(take(u8())); }
    std::string_view rest() { return take(left()); }

  private:
    const uint8_t *_data;
    std::size_t _size;
    std::size_t _pos = 0;
};

// A temp directory holding `staging/` (the extraction root) and a sentinel file beside it.
// After each input, verify() checks nothing appeared or changed outside staging and that no
// link inside it resolves outside it; reset() empties staging for the next input.
class Fence {
  public:
    Fence() {
        // Under $TMPDIR (run_fuzz.sh points it into the build tree, so a crashed run's
        // leftovers stay there), else /tmp.
        const char *tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/lanspread-fuzz-XXXXXX";
        const char *dir = ::mkdtemp(pattern.data());
        check(dir != nullptr, "mkdtemp failed");
        _top = dir;
        _staging = _top / "staging";
        std::filesystem::create_directory(_staging);
        std::FILE *f = std::fopen((_top / "sentinel").c_str(), "w");
        check(f != nullptr, "cannot create the sentinel");
        std::fputs("outside the staging dir", f);
        std::fclose(f);
    }
    ~Fence() {
        std::error_code ec;
        std::filesystem::remove_all(_top, ec);
    }
    std::string staging() const { return _staging.string(); }

    void verify() const {
        std::error_code ec;
        std::size_t entries = 0;
        for (const auto &e : std::filesystem::directory_iterator(_top, ec)) {
            ++entries;
            const std::string name = e.path().filename().string();
            check(name == "staging" || name == "sentinel",
                  "something was written outside the staging dir: " + e.path().string());
        }
        check(!ec && entries == 2, "the fence around the staging dir changed");
        struct stat st {};
        check(::lstat((_top / "sentinel").c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                  st.st_size == 23 && st.st_nlink == 1,
              "the sentinel beside the staging dir was touched");
        check(::lstat(_staging.c_str(), &st) == 0 && S_ISDIR(st.st_mode),
              "the staging dir is no longer a directory");
        for (auto it = std::filesystem::recursive_directory_iterator(
                 _staging, std::filesystem::directory_options::none, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            const auto &p = it->path();
            check(::lstat(p.c_str(), &st) == 0, "cannot lstat " + p.string());
            check(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode),
                  "a device, fifo or socket was created: " + p.string());
            check((st.st_mode & (S_ISUID | S_ISGID | S_ISVTX)) == 0,
                  "a setuid/setgid/sticky bit was set on " + p.string());
            if (S_ISLNK(st.st_mode)) {
                std::filesystem::path target = std::filesystem::read_symlink(p, ec);
                check(!ec && target.is_relative(), "an absolute symlink: " + p.string());
                // Lexically, as the sink promises (the kernel would resolve it the same way
                // as long as no component is itself a link, which the sink guarantees).
                const std::string resolved =
                    (p.parent_path() / target).lexically_normal().string() + "/";
                const std::string lexicalRoot = _staging.lexically_normal().string() + "/";
                check(resolved.compare(0, lexicalRoot.size(), lexicalRoot) == 0,
                      "a symlink leaves the staging dir: " + p.string() + " -> " + target.string());
            }
        }
    }

    void reset() const {
        std::error_code ec;
        for (const auto &e : std::filesystem::directory_iterator(_staging, ec))
            std::filesystem::remove_all(e.path(), ec);
        // A directory left without write permission would stop the cleanup.
        check(std::filesystem::is_empty(_staging, ec), "cannot empty the staging dir");
    }

  private:
    std::filesystem::path _top;
    std::filesystem::path _staging;
};

} // namespace lanspread::fuzz

namespace lanspread::fuzz {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool validUtf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0)
            n = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (i + n > s.size())
            return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

} // namespace lanspread::fuzz
