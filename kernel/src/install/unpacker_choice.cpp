// Which archives a game root holds and which loaded unpacker plugin reads each one (see
// install_engine.hpp): every unpacker probes the archive's first bytes, the highest score wins.
// unpackerBidders is the bidding itself, on head bytes from a file or from a stream.
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/log/log.hpp>

#include "install_engine_internal.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

namespace lanspread::kernel::install {

namespace fs = std::filesystem;
using namespace detail;

namespace {

Result<std::vector<uint8_t>> readHead(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return Status(LANSPREAD_E_IO,
                      "cannot open archive " + path + ": " + base::errnoText(errno));
    std::vector<uint8_t> head(kProbeHeadBytes);
    std::size_t done = 0;
    while (done < head.size()) {
        ssize_t n = ::read(fd, head.data() + done, head.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int error = errno;
            ::close(fd);
            return Status(LANSPREAD_E_IO,
                          "cannot read archive " + path + ": " + base::errnoText(error));
        }
        if (n == 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    head.resize(done);
    return head;
}

} // namespace

std::vector<std::string> rootArchives(const std::string &rootDir) {
    std::vector<std::string> names;
    std::error_code ec;
    fs::directory_iterator it(rootDir, ec);
    if (ec)
        return names;
    for (const auto &entry : it) {
        std::string name = entry.path().filename().string();
        if (name.size() > 4 && name.ends_with(".eti") && entry.is_regular_file(ec) &&
            !entry.is_symlink(ec))
            names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end()); // std::string compares byte-wise
    return names;
}

Result<UnpackerRef> chooseUnpacker(const std::vector<UnpackerRef> &unpackers,
                                   const std::string &archivePath, const std::string &pinnedId) {
    std::vector<uint8_t> head; // a pinned unpacker is used without reading the archive
    if (pinnedId.empty()) {
        auto read = readHead(archivePath);
        if (!read)
            return read.status();
        head = std::move(read.value());
    }
    auto bidders = unpackerBidders(unpackers, head, fs::path(archivePath).filename().string(),
                                   pinnedId, archivePath);
    if (!bidders)
        return bidders.status();
    return bidders.value().front();
}

namespace detail {

Result<std::vector<UnpackerRef>> unpackerBidders(const std::vector<UnpackerRef> &unpackers,
                                                 const std::vector<uint8_t> &head,
                                                 const std::string &nameHint,
                                                 const std::string &pinnedId,
                                                 const std::string &where) {
    if (!pinnedId.empty()) {
        for (const auto &u : unpackers)
            if (u.id == pinnedId)
                return std::vector<UnpackerRef>{u};
        return Status(LANSPREAD_E_NOT_FOUND, "the pinned unpacker " + pinnedId +
                                                 " is not loaded (cannot extract " + where + ")");
    }
    struct Bid {
        uint32_t score;
        std::size_t index;
    };
    std::vector<Bid> bids;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < unpackers.size(); ++i) {
        const UnpackerRef &u = unpackers[i];
        ids.push_back(u.id);
        if (u.vtable == nullptr || u.vtable->probe == nullptr)
            continue;
        uint32_t score = 0;
        lanspread_status rc =
            u.vtable->probe(u.state, head.data(), head.size(), nameHint.c_str(), &score);
        if (rc != LANSPREAD_OK) {
            log::warning(kLogSource, "unpacker " + u.id + " failed to probe " + where + " (" +
                                         lanspread_status_name(rc) + ")");
            continue;
        }
        score = std::min<uint32_t>(score, 100);
        if (score > 0)
            bids.push_back({score, i});
    }
    if (bids.empty())
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "no unpacker can read " + where + " (loaded unpackers: " +
                          (ids.empty() ? std::string("none") : join(ids, ", ")) + ")");
    // Highest score first; a stable sort keeps ties in the list's order.
    std::stable_sort(bids.begin(), bids.end(),
                     [](const Bid &a, const Bid &b) { return a.score > b.score; });
    std::vector<UnpackerRef> bidders;
    for (const Bid &bid : bids)
        bidders.push_back(unpackers[bid.index]);
    return bidders;
}

} // namespace detail

} // namespace lanspread::kernel::install
