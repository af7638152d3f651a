// Fixtures for the streamed-install scenarios (tests/integration/stream_scenarios_test.cpp)
// and the streamed-install bench (tests/netns/netns_stream_test.cpp): a plain ustar archive of
// seeded pseudo-random files and a deflate zip of seeded compressible files, both written piece
// by piece (games of hundreds of MiB to 2 GiB never sit in memory, which the fixtures library's
// in-memory writers would need), the manifest an install of either must produce, a game root
// made of such archives, and a dir's top-level names. Header-only.
#pragma once

#include "peer_harness.hpp"
#include "scenario_support.hpp"

#include <lanspread/fixtures/archive_writer.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace lanspread::test {

// One file of a generated archive: its path inside the archive, its size, the seed of its bytes.
struct RandomMember {
    std::string path;
    uint64_t size = 0;
    uint64_t seed = 0;
};

namespace detail {

constexpr std::size_t kTarBlock = 512;

inline void tarOctal(char *field, std::size_t width, uint64_t value) {
    char text[32];
    std::snprintf(text, sizeof text, "%0*llo", static_cast<int>(width - 1),
                  static_cast<unsigned long long>(value));
    std::memcpy(field, text, width - 1);
    field[width - 1] = '\0';
}

// A ustar header of a regular file (mode 0644, owner root, a fixed mtime).
inline std::string tarFileHeader(const std::string &path, uint64_t size) {
    if (path.empty() || path.size() > 100)
        throw std::invalid_argument("tar member path must be 1..100 bytes: " + path);
    if (size >= (uint64_t(1) << 33))
        throw std::invalid_argument("tar member too large for ustar: " + path);
    std::string h(kTarBlock, '\0');
    std::memcpy(h.data(), path.data(), path.size());
    tarOctal(h.data() + 100, 8, 0644);
    tarOctal(h.data() + 108, 8, 0);
    tarOctal(h.data() + 116, 8, 0);
    tarOctal(h.data() + 124, 12, size);
    tarOctal(h.data() + 136, 12, 1700000000);
    h[156] = '0';
    std::memcpy(h.data() + 257, "ustar", 6);
    std::memcpy(h.data() + 263, "00", 2);
    std::memcpy(h.data() + 265, "root", 4);
    std::memcpy(h.data() + 297, "root", 4);
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : h)
        sum += static_cast<unsigned char>(c);
    std::snprintf(h.data() + 148, 8, "%06o", sum);
    h[155] = ' ';
    return h;
}

} // namespace detail

// Writes a ustar archive of members (regular files of seeded pseudo-random bytes, in the given
// order) to outPath, 8 MiB at a time; returns the manifest an install of it produces
// (member path -> SHA-256 of its bytes).
inline Manifest writeRandomTar(const std::string &outPath,
                               const std::vector<RandomMember> &members) {
    std::filesystem::create_directories(std::filesystem::path(outPath).parent_path());
    std::ofstream out(outPath, std::ios::binary | std::ios::trunc);
    Manifest manifest;
    for (const auto &m : members) {
        const std::string header = detail::tarFileHeader(m.path, m.size);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
        for (uint64_t offset = 0; offset < m.size; offset += 8 * kMiB) {
            const std::string piece = lanspread::fixtures::pseudoRandom(
                static_cast<std::size_t>(std::min<uint64_t>(8 * kMiB, m.size - offset)), m.seed,
                offset);
            sha.update(piece.data(), static_cast<unsigned>(piece.size()));
            out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        }
        const std::size_t pad =
            (detail::kTarBlock - m.size % detail::kTarBlock) % detail::kTarBlock;
        out.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
        manifest[m.path] = Poco::DigestEngine::digestToHex(sha.digest());
    }
    const std::string end(2 * detail::kTarBlock, '\0');
    out.write(end.data(), static_cast<std::streamsize>(end.size()));
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + outPath);
    return manifest;
}

// Bytes [offset, offset + size) of a seeded stream that deflate compresses to about 0.57 of its
// size: each byte is one of 16 letters, drawn from fixtures::pseudoRandom's stream (4 bits of
// entropy a byte, and LZ77 finds only short matches). Inflating it costs about as much CPU per
// output byte as real game data does (measured on this project's machines: zlib inflates it
// and a tar of shared libraries at the same ~150 MB/s), so it stands in for a compressed game.
inline std::string compressibleBytes(std::size_t size, uint64_t seed, uint64_t offset) {
    static constexpr char kLetters[] = "abcdefghijklmnop";
    std::string bytes = lanspread::fixtures::pseudoRandom(size, seed, offset);
    for (char &c : bytes)
        c = kLetters[static_cast<unsigned char>(c) & 0x0Fu];
    return bytes;
}

// Writes a zip (deflate at zlib's default level, as zip tools make them) of members, regular
// files of compressibleBytes in the given order, to outPath, 8 MiB at a time; returns the
// manifest an install of it produces (member path -> SHA-256 of its bytes).
inline Manifest writeCompressibleZip(const std::string &outPath,
                                     const std::vector<RandomMember> &members) {
    std::filesystem::create_directories(std::filesystem::path(outPath).parent_path());
    std::unique_ptr<struct archive, int (*)(struct archive *)> a(archive_write_new(),
                                                                 &archive_write_free);
    auto check = [&](int rc, const std::string &what) {
        if (rc < ARCHIVE_WARN) {
            const char *why = archive_error_string(a.get());
            throw std::runtime_error("zip " + outPath + ": " + what + ": " +
                                     (why ? why : "unknown libarchive error"));
        }
    };
    check(archive_write_set_format_zip(a.get()), "set format");
    check(archive_write_zip_set_compression_deflate(a.get()), "deflate");
    check(archive_write_open_filename(a.get(), outPath.c_str()), "open");
    Manifest manifest;
    for (const auto &m : members) {
        std::unique_ptr<struct archive_entry, void (*)(struct archive_entry *)> e(
            archive_entry_new(), &archive_entry_free);
        archive_entry_copy_pathname(e.get(), m.path.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_mtime(e.get(), 1700000000, 0);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(m.size));
        check(archive_write_header(a.get(), e.get()), "header of " + m.path);
        Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
        for (uint64_t offset = 0; offset < m.size; offset += 8 * kMiB) {
            const std::string piece = compressibleBytes(
                static_cast<std::size_t>(std::min<uint64_t>(8 * kMiB, m.size - offset)), m.seed,
                offset);
            sha.update(piece.data(), static_cast<unsigned>(piece.size()));
            for (std::size_t done = 0; done < piece.size();) {
                const la_ssize_t n =
                    archive_write_data(a.get(), piece.data() + done, piece.size() - done);
                if (n <= 0)
                    check(ARCHIVE_FATAL, "data of " + m.path);
                done += static_cast<std::size_t>(n);
            }
        }
        manifest[m.path] = Poco::DigestEngine::digestToHex(sha.digest());
    }
    check(archive_write_close(a.get()), "close");
    return manifest;
}

// `count` members named <dir>/part<i>.bin of `size` bytes each (seeds seed, seed+1, ...).
inline std::vector<RandomMember> randomMembers(const std::string &dir, int count, uint64_t size,
                                               uint64_t seed) {
    std::vector<RandomMember> out;
    for (int i = 0; i < count; ++i)
        out.push_back({dir + "/part" + std::to_string(i) + ".bin", size, seed + uint64_t(i)});
    return out;
}

// The manifest of in-memory fixture entries as an install of their archive produces it
// (regular files only; a later entry of the same path wins, as a later archive's does).
inline Manifest entriesManifest(const std::vector<lanspread::fixtures::Entry> &entries) {
    Manifest out;
    for (const auto &e : entries)
        if (e.type == lanspread::fixtures::Entry::Type::File)
            out[e.path] = lanspread::fixtures::sha256Hex(e.data);
    return out;
}

// Every top-level name of a dir, hidden and reserved ones included (empty when it is absent).
inline std::set<std::string> topLevelNames(const std::string &dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); ++it)
        out.insert(it->path().filename().string());
    return out;
}

// Every regular file's size below dir, summed (0 when it is absent).
inline uint64_t treeBytes(const std::string &dir) {
    uint64_t total = 0;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        return 0;
    for (auto it = std::filesystem::recursive_directory_iterator(dir);
         it != std::filesystem::recursive_directory_iterator(); ++it)
        if (it->is_regular_file() && !it->is_symlink())
            total += it->file_size();
    return total;
}

} // namespace lanspread::test
