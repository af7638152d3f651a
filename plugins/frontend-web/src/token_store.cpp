#include "token_store.hpp"

#include "request_guard.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lanspread::plugins::web {

namespace {

std::string errnoText() {
    return std::strerror(errno);
}

Result<std::string> randomToken() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Status(LANSPREAD_E_IO,
                          "cannot read random bytes for the access token: " + errnoText());
        got += static_cast<std::size_t>(n);
    }
    static const char kHex[] = "0123456789abcdef";
    std::string token;
    for (unsigned char b : bytes) {
        token.push_back(kHex[b >> 4]);
        token.push_back(kHex[b & 15]);
    }
    return token;
}

} // namespace

Status writePrivateFile(const std::string &path, const std::string &text) {
    const std::string temp = path + ".tmp";
    ::unlink(temp.c_str());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot create " + temp + ": " + errnoText());
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const std::string why = errnoText();
            ::close(fd);
            ::unlink(temp.c_str());
            return Status(LANSPREAD_E_IO, "cannot write " + temp + ": " + why);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
        const std::string why = errnoText();
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO, "cannot write " + temp + ": " + why);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string why = errnoText();
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO, "cannot rename " + temp + " to " + path + ": " + why);
    }
    return Status::ok();
}

Result<std::string> loadOrCreateToken(const std::string &stateDir, std::string &warning) {
    const std::string path = stateDir + "/frontend-web.token";
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            return Status(LANSPREAD_E_IO, "cannot read " + path + ": " + errnoText());
        auto token = randomToken();
        if (!token)
            return token.status();
        if (Status written = writePrivateFile(path, token.value() + "\n"); !written)
            return written;
        return token.value();
    }
    if (!S_ISREG(st.st_mode))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      path + " is not a regular file; remove it to get a new access token");
    if ((st.st_mode & 077) != 0) {
        if (::chmod(path.c_str(), 0600) != 0)
            return Status(LANSPREAD_E_IO, path +
                                              " is accessible by group or others and cannot "
                                              "be made private: " +
                                              errnoText());
        warning = path + " was accessible by group or others; made it 0600";
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot read " + path + ": " + errnoText());
    char buffer[130];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ::close(fd);
    std::string text = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    if (!isTokenShaped(text))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      path + " does not hold an access token (64 lowercase hex digits); remove it "
                             "to get a new one");
    return text;
}

} // namespace lanspread::plugins::web
