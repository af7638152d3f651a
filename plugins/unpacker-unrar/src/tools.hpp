// unpacker-unrar: which external extractor to run, and its exact command lines.
//
// Order when nothing is pinned: `unrar` (RARLAB), then `unar` + `lsar`, then `bsdtar`, each
// looked up on PATH. Config: `tool` pins one of unrar|unar|bsdtar; `tool_path` names the
// binary (for unar, lsar is expected next to it). No shell is involved anywhere: every
// command is an argument vector, and the archive path is made absolute or "./"-prefixed so
// it can never be read as an option.
#pragma once

#include <lanspread/result.hpp>

#include <string>
#include <vector>

namespace lanspread::plugins::unrar {

enum class ToolKind { Unrar, Unar, Bsdtar };

const char *toolName(ToolKind kind);

struct Tool {
    ToolKind kind = ToolKind::Unar;
    std::string program; // unrar, unar or bsdtar (absolute path)
    std::string lister;  // lsar for unar; empty otherwise
};

// Resolves the tool from the config values (empty = unset) and PATH. Fails with
// E_UNSUPPORTED and a message saying what was tried and what to do.
Result<Tool> resolveTool(const std::string &pinnedTool, const std::string &toolPath);

// path as an argument no tool can take for an option ("-x.rar" -> "./-x.rar").
std::string safePathArgument(const std::string &path);

// The listing command (unrar lt / lsar -j) for archive (already a safe path argument).
std::vector<std::string> listingArguments(ToolKind kind, const std::string &archive);

// The data command: unrar p (every file, in order), unar -o - -i <indexes> (the given
// entries, in order), bsdtar -c --format pax @archive (the whole archive as a pax stream).
std::vector<std::string> dataArguments(ToolKind kind, const std::string &archive,
                                       const std::vector<int64_t> &unarIndexes = {});

} // namespace lanspread::plugins::unrar
