#include "tools.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace lanspread::plugins::unrar {

namespace {

bool isExecutableFile(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

// The first executable `name` in the directories of PATH, or "".
std::string findOnPath(const std::string &name) {
    const char *env = std::getenv("PATH");
    std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= path.size()) {
        std::size_t end = path.find(':', at);
        if (end == std::string::npos)
            end = path.size();
        std::string dir = path.substr(at, end - at);
        at = end + 1;
        if (dir.empty() || dir[0] != '/')
            continue; // relative PATH entries depend on the daemon's cwd: ignore them
        std::string candidate = dir + "/" + name;
        if (isExecutableFile(candidate))
            return candidate;
    }
    return "";
}

std::string dirname(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string basename(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status unsupported(const std::string &message) {
    return Status(LANSPREAD_E_UNSUPPORTED, "unpacker-unrar: " + message);
}

Result<ToolKind> kindFromName(const std::string &name) {
    if (name == "unrar")
        return ToolKind::Unrar;
    if (name == "unar" || name == "lsar")
        return ToolKind::Unar;
    if (name == "bsdtar")
        return ToolKind::Bsdtar;
    return unsupported("config tool=" + name + " is not one of unrar, unar, bsdtar");
}

// A tool found from PATH, or "" for each missing program.
Tool fromPath(ToolKind kind) {
    Tool t;
    t.kind = kind;
    switch (kind) {
    case ToolKind::Unrar: t.program = findOnPath("unrar"); break;
    case ToolKind::Unar:
        t.program = findOnPath("unar");
        t.lister = findOnPath("lsar");
        if (t.program.empty() || t.lister.empty())
            t.program.clear();
        break;
    case ToolKind::Bsdtar: t.program = findOnPath("bsdtar"); break;
    }
    return t;
}

} // namespace

const char *toolName(ToolKind kind) {
    switch (kind) {
    case ToolKind::Unrar: return "unrar";
    case ToolKind::Unar: return "unar";
    case ToolKind::Bsdtar: return "bsdtar";
    }
    return "?";
}

Result<Tool> resolveTool(const std::string &pinnedTool, const std::string &toolPath) {
    if (!toolPath.empty()) {
        if (toolPath[0] != '/')
            return unsupported("tool_path=" + toolPath + " must be an absolute path");
        if (!isExecutableFile(toolPath))
            return unsupported("tool_path=" + toolPath +
                               " is not an executable file; install unar or fix tool_path");
        ToolKind kind;
        if (!pinnedTool.empty()) {
            auto k = kindFromName(pinnedTool);
            if (!k)
                return k.status();
            kind = k.value();
        } else {
            std::string base = basename(toolPath);
            if (base.rfind("unrar", 0) == 0)
                kind = ToolKind::Unrar;
            else if (base.rfind("unar", 0) == 0 || base.rfind("lsar", 0) == 0)
                kind = ToolKind::Unar;
            else if (base.find("bsdtar") != std::string::npos)
                kind = ToolKind::Bsdtar;
            else
                return unsupported("cannot tell which extractor tool_path=" + toolPath +
                                   " is; set tool to unrar, unar or bsdtar");
        }
        Tool t;
        t.kind = kind;
        t.program = toolPath;
        if (kind == ToolKind::Unar) {
            std::string dir = dirname(toolPath);
            if (basename(toolPath).rfind("lsar", 0) == 0)
                t.program = dir + "/unar";
            t.lister = dir + "/lsar";
            if (!isExecutableFile(t.program) || !isExecutableFile(t.lister))
                return unsupported("unar needs both unar and lsar in " + dir +
                                   "; install unar or fix tool_path");
        }
        return t;
    }
    if (!pinnedTool.empty()) {
        auto k = kindFromName(pinnedTool);
        if (!k)
            return k.status();
        Tool t = fromPath(k.value());
        if (t.program.empty())
            return unsupported(
                std::string("config tool=") + pinnedTool + " but " +
                (k.value() == ToolKind::Unar ? "unar and lsar are" : pinnedTool + " is") +
                " not on PATH; install it or set tool_path");
        return t;
    }
    for (ToolKind kind : {ToolKind::Unrar, ToolKind::Unar, ToolKind::Bsdtar}) {
        Tool t = fromPath(kind);
        if (!t.program.empty())
            return t;
    }
    return unsupported("no extractor found (tried unrar, unar/lsar, bsdtar); install unar or "
                       "set tool_path");
}

std::string safePathArgument(const std::string &path) {
    return !path.empty() && path[0] == '/' ? path : "./" + path;
}

std::vector<std::string> listingArguments(ToolKind kind, const std::string &archive) {
    switch (kind) {
    case ToolKind::Unrar: // technical listing, no comments, never ask for a password
        return {"lt", "-c-", "-p-", "--", archive};
    case ToolKind::Unar: // JSON; no recursion into archives inside the archive
        return {"-j", "-nr", archive};
    case ToolKind::Bsdtar: break; // the pax stream carries its own listing
    }
    return {};
}

std::vector<std::string> dataArguments(ToolKind kind, const std::string &archive,
                                       const std::vector<int64_t> &unarIndexes) {
    switch (kind) {
    case ToolKind::Unrar: // every file to stdout, back to back; no messages on stdout
        return {"p", "-inul", "-p-", "--", archive};
    case ToolKind::Unar: {
        std::vector<std::string> args = {"-q", "-o", "-", "-nr", "-k", "skip", "-i", archive};
        for (int64_t index : unarIndexes)
            args.push_back(std::to_string(index));
        return args;
    }
    case ToolKind::Bsdtar: // the archive re-written as a pax stream, names unaltered (-P)
        return {"-c", "-f",          "-",         "--format",    "pax",
                "-P", "--no-xattrs", "--no-acls", "--no-fflags", "@" + archive};
    }
    return {};
}

} // namespace lanspread::plugins::unrar
