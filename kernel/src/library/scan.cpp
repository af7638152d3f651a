// Scanning a game root: which files it has (regular files only, UTF-8 names, reserved names
// skipped), whether it is downloaded (version.ini) and installed (local/), and the chunk hashes
// of each file (taken from the index cache when size and mtime are unchanged).
#include <lanspread/host.h>
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/log/log.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lanspread::kernel::library {

namespace {

constexpr std::size_t kHashBlock = 4 << 20;

std::string trim(const std::string &s) {
    const char *ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos)
        return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

int64_t mtimeNs(const struct stat &st) {
    return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Whether name is valid UTF-8 without control characters: file lists travel as JSON, and a
// name other peers cannot decode would make the whole game unshareable.
bool isPortableName(const std::string &name) {
    for (std::size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        std::size_t extra = c < 0x80           ? 0
                            : (c >> 5) == 0x6  ? 1
                            : (c >> 4) == 0xe  ? 2
                            : (c >> 3) == 0x1e ? 3
                                               : 99;
        if (c < 0x20 || c == 0x7f || extra == 99 || i + extra >= name.size())
            return false;
        for (std::size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(name[i + k]) >> 6) != 0x2)
                return false;
        i += extra + 1;
    }
    return true;
}

// Collects regular files below dir (relative names), skipping reserved names at the top.
Status walk(const std::string &root, const std::string &rel,
            std::vector<std::pair<std::string, struct stat>> &out) {
    const std::string dirPath = rel.empty() ? root : root + "/" + rel;
    DIR *dir = ::opendir(dirPath.c_str());
    if (!dir)
        return Status(LANSPREAD_E_IO, "cannot list " + dirPath + ": " + base::errnoText(errno));
    std::vector<std::string> names;
    while (dirent *e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        if (rel.empty() && isReservedRootName(name))
            continue;
        if (!isPortableName(name)) {
            log::warning("library", "skipping " + dirPath +
                                        "/<non-UTF-8 name>: file names must "
                                        "be UTF-8 to be shared");
            continue;
        }
        names.push_back(std::move(name));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto &name : names) {
        const std::string relPath = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::lstat((root + "/" + relPath).c_str(), &st) != 0)
            continue; // vanished meanwhile
        if (S_ISDIR(st.st_mode)) {
            Status s = walk(root, relPath, out);
            if (!s)
                return s;
        } else if (S_ISREG(st.st_mode)) {
            out.emplace_back(relPath, st);
        } // symlinks, devices: never part of a game's files
    }
    return Status::ok();
}

// The version.ini of a root, never through a symlink.
bool readVersion(const std::string &root, std::string &out) {
    auto text = base::readFileNoFollow(root + "/version.ini", std::size_t(64) << 10);
    if (!text)
        return false;
    out = text.value();
    return true;
}

} // namespace

bool isReservedRootName(const std::string &name) {
    return name == "local" || name.rfind(".local.", 0) == 0 || name.rfind(".lanspread", 0) == 0 ||
           name.rfind(".version.ini", 0) == 0;
}

contract::LocalGameView LocalGame::view() const {
    return contract::LocalGameView{id,        name,         version,  downloaded,
                                   installed, availability, sizeBytes};
}

Result<std::vector<std::string>> hashFileChunks(const std::string &path, uint64_t expectedSize,
                                                const std::function<bool()> &cancelled) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot open " + path + ": " + base::errnoText(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::vector<std::string> hashes;
    std::vector<uint8_t> buffer(kHashBlock);
    uint64_t done = 0;
    base::Sha256 chunk;
    uint64_t inChunk = 0;
    for (;;) {
        if (cancelled && cancelled()) {
            ::close(fd);
            return Status(LANSPREAD_E_CANCELLED, "hashing " + path + " cancelled");
        }
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ::close(fd);
            return Status(LANSPREAD_E_IO, "cannot read " + path + ": " + base::errnoText(errno));
        }
        if (n == 0)
            break;
        std::size_t offset = 0;
        while (offset < static_cast<std::size_t>(n)) {
            std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(
                catalog::kChunkSize - inChunk, static_cast<uint64_t>(n) - offset));
            chunk.update(buffer.data() + offset, take);
            inChunk += take;
            offset += take;
            if (inChunk == catalog::kChunkSize) {
                hashes.push_back(chunk.hexDigest());
                inChunk = 0;
            }
        }
        done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    if (inChunk > 0 || hashes.empty())
        hashes.push_back(chunk.hexDigest()); // last partial chunk, or the empty file's hash
    if (done != expectedSize)
        return Status(LANSPREAD_E_AGAIN, path + " changed while hashing");
    return hashes;
}

Result<LocalGame> scanGameRoot(const std::string &gamesDir, const catalog::CatalogGame &game,
                               LibraryIndex &index, const std::function<bool()> &cancelled) {
    LocalGame g;
    g.id = game.id;
    g.name = game.name;
    const std::string root = gamesDir + "/" + game.id;
    struct stat st {};
    if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status(LANSPREAD_E_NOT_FOUND, root + " is not a game root");

    std::string versionContent;
    struct stat vst {};
    g.downloaded = ::lstat((root + "/version.ini").c_str(), &vst) == 0 && S_ISREG(vst.st_mode) &&
                   readVersion(root, versionContent);
    g.version = g.downloaded ? trim(versionContent) : "";
    struct stat lst {};
    g.installed = ::lstat((root + "/local").c_str(), &lst) == 0 && S_ISDIR(lst.st_mode);
    if (g.downloaded)
        g.availability = g.version == game.version ? "Ready" : "Stale";
    else
        g.availability = g.installed ? "LocalOnly" : "None";

    if (!g.downloaded) {
        index.forget(game.id);
        return g;
    }
    std::vector<std::pair<std::string, struct stat>> found;
    Status listed = walk(root, "", found);
    if (!listed)
        return listed;
    for (const auto &[rel, fst] : found) {
        IndexedFile f;
        f.path = rel;
        f.size = static_cast<uint64_t>(fst.st_size);
        f.mtimeNs = mtimeNs(fst);
        if (auto cached = index.lookup(game.id, versionContent, rel, f.size, f.mtimeNs)) {
            f.chunkHashes = *cached;
        } else {
            auto hashed = hashFileChunks(root + "/" + rel, f.size, cancelled);
            if (!hashed)
                return hashed.status();
            f.chunkHashes = std::move(hashed.value());
        }
        g.sizeBytes += f.size;
        g.files.push_back(std::move(f));
    }
    index.store(game.id, versionContent, g.files);
    return g;
}

} // namespace lanspread::kernel::library
