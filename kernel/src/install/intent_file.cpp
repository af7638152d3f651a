// The install intent file and the small atomic-write helpers of the install engine.
#include "intent_file.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <system_error>

namespace lanspread::kernel::install::detail {

namespace fs = std::filesystem;

std::string errnoText(int error) {
    return std::strerror(error);
}

std::string gameStateDir(const std::string &stateDir, const std::string &gameId) {
    return stateDir + "/games/" + gameId;
}
std::string intentPath(const std::string &stateDir, const std::string &gameId) {
    return gameStateDir(stateDir, gameId) + "/install_intent.json";
}
std::string launchMarkerPath(const std::string &stateDir, const std::string &gameId) {
    return gameStateDir(stateDir, gameId) + "/launch_settings_applied";
}

bool pathExists(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}
bool isRealDirectory(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool isRegularFile(const std::string &path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status fsyncDirectory(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot open directory " + path + ": " + errnoText(errno));
    int rc = ::fsync(fd);
    int error = errno;
    ::close(fd);
    if (rc != 0)
        return Status(LANSPREAD_E_IO, "cannot fsync directory " + path + ": " + errnoText(error));
    return Status::ok();
}

Status removeFileIfPresent(const std::string &path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Status(LANSPREAD_E_IO, "cannot remove " + path + ": " + errnoText(errno));
    return Status::ok();
}

std::string tempPathFor(const std::string &path) {
    return path + ".lanspread-tmp";
}

Status writeFileAtomically(const std::string &path, const std::string &content, unsigned mode) {
    const std::string temp = tempPathFor(path);
    ::unlink(temp.c_str()); // a leftover of an interrupted write
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    static_cast<mode_t>(mode));
    if (fd < 0)
        return Status(LANSPREAD_E_IO, "cannot create " + temp + ": " + errnoText(errno));
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int error = errno;
            ::close(fd);
            ::unlink(temp.c_str());
            return Status(LANSPREAD_E_IO, "cannot write " + temp + ": " + errnoText(error));
        }
        done += static_cast<std::size_t>(n);
    }
    // The umask may have narrowed the mode; the caller asked for exactly this one.
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0) {
        int error = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO, "cannot sync " + temp + ": " + errnoText(error));
    }
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        int error = errno;
        ::unlink(temp.c_str());
        return Status(LANSPREAD_E_IO,
                      "cannot rename " + temp + " to " + path + ": " + errnoText(error));
    }
    return fsyncDirectory(fs::path(path).parent_path().string());
}

Result<std::string> readWholeFile(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return Status(errno == ENOENT ? LANSPREAD_E_NOT_FOUND : LANSPREAD_E_IO,
                      "cannot open " + path + ": " + errnoText(errno));
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int error = errno;
            ::close(fd);
            return Status(LANSPREAD_E_IO, "cannot read " + path + ": " + errnoText(error));
        }
        if (n == 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

Status writeIntent(const std::string &stateDir, const std::string &gameId,
                   const InstallIntent &intent) {
    const std::string dir = gameStateDir(stateDir, gameId);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return Status(LANSPREAD_E_IO, "cannot create " + dir + ": " + ec.message());

    Poco::JSON::Object object;
    object.set("op", intent.op);
    object.set("phase", intent.phase);
    Poco::JSON::Array archives;
    for (const auto &a : intent.archives)
        archives.add(a);
    object.set("archives", archives);
    std::ostringstream text;
    object.stringify(text);
    text << '\n';
    Status written = writeFileAtomically(intentPath(stateDir, gameId), text.str());
    if (!written)
        return Status(written.code(),
                      "cannot record the install intent of " + gameId + ": " + written.message());
    return written;
}

Result<std::optional<InstallIntent>> readIntent(const std::string &stateDir,
                                                const std::string &gameId) {
    const std::string path = intentPath(stateDir, gameId);
    if (!pathExists(path))
        return std::optional<InstallIntent>();
    auto text = readWholeFile(path);
    if (!text)
        return text.status();
    const Status invalid(LANSPREAD_E_INVALID_ARGUMENT, "install intent " + path +
                                                           " is not valid (expected a JSON object "
                                                           "with op and phase)");
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(text.value());
        auto object = parsed.extract<Poco::JSON::Object::Ptr>();
        if (!object || !object->has("op") || !object->has("phase"))
            return invalid;
        InstallIntent intent;
        intent.op = object->getValue<std::string>("op");
        intent.phase = object->getValue<std::string>("phase");
        if (auto archives = object->getArray("archives"))
            for (std::size_t i = 0; i < archives->size(); ++i)
                intent.archives.push_back(
                    archives->getElement<std::string>(static_cast<unsigned int>(i)));
        const bool known = ((intent.op == "install" || intent.op == "update") &&
                            (intent.phase == "extracting" || intent.phase == "promoting")) ||
                           (intent.op == "uninstall" && intent.phase == "moving");
        if (!known)
            return Status(LANSPREAD_E_INVALID_ARGUMENT, "install intent " + path +
                                                            " names an unknown op/phase '" +
                                                            intent.op + "/" + intent.phase + "'");
        return std::optional<InstallIntent>(std::move(intent));
    } catch (const Poco::Exception &) {
        return invalid;
    } catch (const std::exception &) {
        return invalid;
    }
}

Status removeIntent(const std::string &stateDir, const std::string &gameId) {
    const std::string path = intentPath(stateDir, gameId);
    ::unlink(tempPathFor(path).c_str());
    if (Status removed = removeFileIfPresent(path); !removed)
        return removed;
    if (isRealDirectory(gameStateDir(stateDir, gameId)))
        return fsyncDirectory(gameStateDir(stateDir, gameId));
    return Status::ok();
}

} // namespace lanspread::kernel::install::detail
