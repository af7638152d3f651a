// The human mode's command line: `<cmd> <game-or-addr> [key=value ...]` turned
// into the JSON command of docs/cli-contract.md, or into a clear message when it cannot be
// one (such a line is never sent). Pure: no I/O, no JSON library.
//
// Words are split on spaces and tabs; "double" and 'single' quotes group (a quote may start
// mid-word: username="John Doe"); a backslash escapes the next character outside single
// quotes. A word `key=value` (key: a letter or '_', then letters, digits, '_' or '-') is a
// field; any other word is the positional argument, which is `game` for game commands,
// `addr` for connect, `path` for set-game-dir and `count` for wait-peers. An unquoted value
// true/false is a JSON boolean and an unquoted integer a JSON number; everything else, and
// every quoted value, is a string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lanspread::human {

struct HumanLine {
    enum class Kind {
        Command, // json is the command to submit
        Empty,   // nothing but blanks: nothing to do
        Help,    // `help` (or `?`): print humanHelp()
        Error,   // error says why; nothing is sent
    };
    Kind kind = Kind::Empty;
    std::string cmd;     // the command name (Command)
    std::string subject; // the positional argument as given (game, addr, path), if any
    std::string json;    // {"id":"<id>","cmd":"<cmd>",...} (Command)
    std::string error;   // one line (Error)
};

// Parses one typed line (without its newline); id becomes the command's "id".
HumanLine parseHumanLine(std::string_view line, std::string_view id);

// The same from words already split by a shell (a program's arguments): each argument is one
// word, `key=value` at its first '='; a value is typed as an unquoted one would be (true/false,
// integers), since the shell has removed the quotes. id becomes the command's "id".
HumanLine parseHumanWords(const std::vector<std::string> &args, std::string_view id);

// The commands and their usage, one per line, for `help` (no final newline).
std::string humanHelp();

// The commands a typed line may name, as in humanHelp() (besides help itself).
std::vector<std::string> humanCommandNames();

// The JSON text of a string (quotes included; ", \ and control characters escaped).
std::string jsonQuote(std::string_view text);

} // namespace lanspread::human
