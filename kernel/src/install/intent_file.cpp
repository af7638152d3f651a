// The install intent file of the install engine.
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

std::string gameStateDir(const std::string &stateDir, const std::string &gameId) {
    return stateDir + "/games/" + gameId;
}
std::string intentPath(const std::string &stateDir, const std::string &gameId) {
    return gameStateDir(stateDir, gameId) + "/install_intent.json";
}
std::string launchMarkerPath(const std::string &stateDir, const std::string &gameId) {
    return gameStateDir(stateDir, gameId) + "/launch_settings_applied";
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
    if (intent.op == "stream-install")
        object.set("root_created", intent.rootCreated);
    std::ostringstream text;
    object.stringify(text);
    text << '\n';
    Status written = base::writeFileAtomically(intentPath(stateDir, gameId), text.str());
    if (!written)
        return Status(written.code(),
                      "cannot record the install intent of " + gameId + ": " + written.message());
    return written;
}

Result<std::optional<InstallIntent>> readIntent(const std::string &stateDir,
                                                const std::string &gameId) {
    const std::string path = intentPath(stateDir, gameId);
    if (!base::pathExists(path))
        return std::optional<InstallIntent>();
    auto text = base::readFileNoFollow(path);
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
        if (object->has("root_created"))
            intent.rootCreated = object->getValue<bool>("root_created");
        const bool known =
            ((intent.op == "install" || intent.op == "update" || intent.op == "stream-install") &&
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
    ::unlink(base::tempPathFor(path).c_str());
    if (Status removed = base::removeFileIfPresent(path); !removed)
        return removed;
    if (base::isRealDirectory(gameStateDir(stateDir, gameId)))
        return base::fsyncDirectory(gameStateDir(stateDir, gameId));
    return Status::ok();
}

} // namespace lanspread::kernel::install::detail
