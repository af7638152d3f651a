// Archive entry names (see extraction_sink.hpp): normaliseEntryPath and the lexical rules the
// extraction sink shares with it. Only strings here: nothing touches the filesystem.
#include "entry_path.hpp"

#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/install/extraction_sink.hpp>

#include <algorithm>

namespace lanspread::kernel::install {

namespace detail {

namespace {

constexpr std::size_t kMaxNameInMessage = 200;

// An entry name as it may appear in a message: control bytes escaped, long names cut.
std::string printable(std::string_view raw) {
    bool cut = false;
    std::string out = base::escapeForMessage(raw, kMaxNameInMessage, false, {}, &cut);
    return cut ? out + "..." : out;
}

} // namespace

std::string quoted(std::string_view raw) {
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict overlap for
    // "literal" + a temporary std::string.
    std::string out = "'";
    out += printable(raw);
    out += '\'';
    return out;
}

bool isDriveLetterPrefix(std::string_view path) {
    return path.size() >= 2 && path[1] == ':' &&
           ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'));
}

// A non-empty relative name made only of "." and separators ("./", ".", ".\\."): the root.
bool namesTheRootItself(std::string_view raw) {
    if (raw.empty() || raw[0] == '/' || raw[0] == '\\')
        return false;
    return std::all_of(raw.begin(), raw.end(),
                       [](char c) { return c == '.' || c == '/' || c == '\\'; }) &&
           raw.find("..") == std::string_view::npos;
}

// Splits on '/' (the caller has already turned '\' into '/'), dropping "" and ".".
std::vector<std::string_view> components(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos)
            slash = path.size();
        std::string_view part = path.substr(start, slash - start);
        if (!part.empty() && part != ".")
            out.push_back(part);
        start = slash + 1;
    }
    return out;
}

} // namespace detail

using detail::components;
using detail::isDriveLetterPrefix;
using detail::quoted;

Result<std::string> normaliseEntryPath(const std::string &rawPath, std::size_t maxPathBytes) {
    if (rawPath.find('\0') != std::string::npos)
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "NUL in name " + quoted(rawPath));
    if (rawPath.size() > maxPathBytes)
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "path longer than " +
                                                        std::to_string(maxPathBytes) +
                                                        " bytes: " + quoted(rawPath));
    std::string path = rawPath;
    std::replace(path.begin(), path.end(), '\\', '/');
    if (!path.empty() && path[0] == '/')
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "absolute path " + quoted(rawPath));
    if (isDriveLetterPrefix(path))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      "absolute path (drive letter) " + quoted(rawPath));
    std::string out;
    for (std::string_view part : components(path)) {
        if (part == "..")
            return Status(LANSPREAD_E_INVALID_ARGUMENT, "'..' component in " + quoted(rawPath));
        if (!out.empty())
            out += '/';
        out += part;
    }
    if (out.empty())
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "empty name " + quoted(rawPath));
    return out;
}

} // namespace lanspread::kernel::install
