// First-play launch settings (seed S38; contract in install.hpp): the username goes into the
// first account_name.txt and the PersonaName line of the first SmartSteamEmu.ini, the
// language into the first language.txt; then the marker <state>/games/<id>/launch_settings_
// applied records that this was done, so later plays change nothing.
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/log/log.hpp>

#include "intent_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

namespace lanspread::kernel::install {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr const char *kLogSource = "launch-settings";
constexpr const char *kAccountFile = "account_name.txt";
constexpr const char *kLanguageFile = "language.txt";
constexpr const char *kEmuIniFile = "SmartSteamEmu.ini";
constexpr const char *kPersonaKey = "PersonaName";

struct Found {
    std::optional<std::string> account, language, emuIni;
    bool complete() const { return account && language && emuIni; }
};

// Depth-first, each directory's entries sorted byte-wise; symlinks are skipped (never
// followed, never written through). Stops once all three files are found.
void walk(const fs::path &dir, Found &found, int depth) {
    if (depth > 256 || found.complete())
        return;
    std::error_code ec;
    std::vector<std::pair<std::string, fs::file_type>> entries;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
        std::error_code typeError;
        entries.emplace_back(entry.path().filename().string(),
                             entry.symlink_status(typeError).type());
    }
    if (ec)
        log::warning(kLogSource, "cannot list " + dir.string() + ": " + ec.message());
    std::sort(entries.begin(), entries.end());
    for (const auto &[name, type] : entries) {
        if (found.complete())
            return;
        const fs::path path = dir / name;
        if (type == fs::file_type::directory) {
            walk(path, found, depth + 1);
        } else if (type == fs::file_type::regular) {
            if (!found.account && name == kAccountFile)
                found.account = path.string();
            else if (!found.language && name == kLanguageFile)
                found.language = path.string();
            else if (!found.emuIni && name == kEmuIniFile)
                found.emuIni = path.string();
        }
    }
}

std::string trimBlanks(const std::string &s) {
    std::size_t begin = s.find_first_not_of(" \t");
    if (begin == std::string::npos)
        return {};
    std::size_t end = s.find_last_not_of(" \t");
    return s.substr(begin, end - begin + 1);
}

// The text with the first PersonaName line replaced (ending kept), or nullopt when no line
// has that key. A UTF-8 BOM before the first line is kept.
std::optional<std::string> rewritePersonaName(const std::string &text, const std::string &value) {
    static const std::string kBom = "\xEF\xBB\xBF";
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t newline = text.find('\n', pos);
        std::size_t end = newline == std::string::npos ? text.size() : newline;
        if (end > pos && text[end - 1] == '\r')
            --end; // "\r\n" (or a lone '\r' at EOF) stays part of the ending
        std::size_t start = pos;
        if (pos == 0 && text.compare(0, kBom.size(), kBom) == 0 && end >= kBom.size())
            start = kBom.size();
        const std::string line = text.substr(start, end - start);
        std::size_t equals = line.find('=');
        if (equals != std::string::npos && trimBlanks(line.substr(0, equals)) == kPersonaKey)
            return text.substr(0, start) + kPersonaKey + "=" + value + text.substr(end);
        if (newline == std::string::npos)
            break;
        pos = newline + 1;
    }
    return std::nullopt;
}

Status replaceFile(const std::string &path, const std::string &content) {
    struct stat st {};
    base::AtomicWrite how;
    if (::lstat(path.c_str(), &st) == 0)
        how.mode = st.st_mode & 0777;
    return base::writeFileAtomically(path, content, how);
}

Status checkValue(const char *what, const std::string &value) {
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7f)
            return Status(LANSPREAD_E_INVALID_ARGUMENT,
                          std::string("the ") + what +
                              " must not contain control characters (line breaks would "
                              "corrupt the game's settings files)");
    return Status::ok();
}

} // namespace

Result<LaunchSettingsResult> applyLaunchSettings(const std::string &gamesDir,
                                                 const std::string &stateDir,
                                                 const std::string &gameId,
                                                 const std::string &username,
                                                 const std::string &language) {
    if (gameId.empty() || gameId == "." || gameId == ".." ||
        gameId.find_first_of(std::string("/\0", 2)) != std::string::npos)
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "invalid game id '" + gameId + "'");
    const std::string local = gamesDir + "/" + gameId + "/local";
    if (!base::isRealDirectory(local))
        return Status(LANSPREAD_E_NOT_FOUND,
                      "not-installed: " + gameId + " has no local/ directory to launch");
    if (Status s = checkValue("username", username); !s)
        return s;
    if (Status s = checkValue("language", language); !s)
        return s;

    LaunchSettingsResult result;
    const std::string marker = launchMarkerPath(stateDir, gameId);
    if (base::pathExists(marker)) {
        result.alreadyApplied = true;
        return result;
    }

    Found found;
    walk(local, found, 0);
    if (!username.empty() && found.account) {
        if (Status s = replaceFile(*found.account, username); !s)
            return s;
        result.accountNameWritten = true;
    }
    if (!language.empty() && found.language) {
        if (Status s = replaceFile(*found.language, language); !s)
            return s;
        result.languageWritten = true;
    }
    if (!username.empty() && found.emuIni) {
        auto text = base::readFileNoFollow(*found.emuIni);
        if (!text)
            return text.status();
        if (auto rewritten = rewritePersonaName(text.value(), username)) {
            if (*rewritten != text.value()) {
                if (Status s = replaceFile(*found.emuIni, *rewritten); !s)
                    return s;
            }
            result.personaNameWritten = true;
        }
    }

    std::error_code ec;
    fs::create_directories(gameStateDir(stateDir, gameId), ec);
    if (ec)
        return Status(LANSPREAD_E_IO,
                      "cannot create " + gameStateDir(stateDir, gameId) + ": " + ec.message());
    if (Status s = base::writeFileAtomically(marker, "applied\n"); !s)
        return s;
    log::info(kLogSource, "applied launch settings to " + gameId + ": account_name " +
                              (result.accountNameWritten ? "written" : "not written") +
                              ", language " + (result.languageWritten ? "written" : "not written") +
                              ", PersonaName " +
                              (result.personaNameWritten ? "written" : "not written"));
    return result;
}

} // namespace lanspread::kernel::install
