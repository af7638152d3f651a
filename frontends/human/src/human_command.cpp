#include "human_command.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace lanspread::human {

namespace {

enum class Arg { None, Game, Addr, Path, Count };

struct Spec {
    const char *name;
    Arg arg;
    const char *usage;
    const char *summary;
};

// Only commands the kernel's control service registers (kernel.cpp, runtime/*.cpp); the
// integration test lanspreadd_test sends each of these to a real peer and fails on one it
// does not know.
const Spec kSpecs[] = {
    {"status", Arg::None, "status", "this peer: id, address, plugins, running operations"},
    {"list-games", Arg::None, "list-games", "local games, and the games connected peers offer"},
    {"list-peers", Arg::None, "list-peers", "connected peers and their games"},
    {"connect", Arg::Addr, "connect <ip:port>", "connect to a peer"},
    {"wait-peers", Arg::Count, "wait-peers <count> [timeout_ms=10000]",
     "wait until that many peers are connected"},
    {"download", Arg::Game, "download <game> [install=true|false]",
     "download a game from the peers (then install it, unless install=false)"},
    {"stream-install", Arg::Game, "stream-install <game>",
     "install from the peers without storing the archives (low disk)"},
    {"cancel-download", Arg::Game, "cancel-download <game>",
     "stop a running download or stream-install"},
    {"install", Arg::Game, "install <game>", "install a downloaded game"},
    {"uninstall", Arg::Game, "uninstall <game>", "uninstall a game (the download stays)"},
    {"remove", Arg::Game, "remove <game>", "delete the downloaded files of a game not installed"},
    {"play", Arg::Game, "play <game> username=<name> language=<language>",
     "write the launch settings of an installed game"},
    {"set-game-dir", Arg::Path, "set-game-dir <path>", "use another games directory"},
    {"shutdown", Arg::None, "shutdown", "say goodbye to the peers and stop this peer"},
};

const Spec *findSpec(std::string_view name) {
    for (const auto &s : kSpecs)
        if (name == s.name)
            return &s;
    return nullptr;
}

const char *fieldOf(Arg arg) {
    switch (arg) {
    case Arg::Game: return "game";
    case Arg::Addr: return "addr";
    case Arg::Path: return "path";
    case Arg::Count: return "count";
    case Arg::None: break;
    }
    return "";
}

const char *describe(Arg arg) {
    switch (arg) {
    case Arg::Game: return "a game";
    case Arg::Addr: return "an address (ip:port)";
    case Arg::Path: return "a path";
    case Arg::Count: return "a number of peers";
    case Arg::None: break;
    }
    return "";
}

struct Word {
    std::string text;
    std::size_t eq = std::string::npos;     // the first unquoted '=', if any
    std::size_t quoted = std::string::npos; // where the first quote or escape began
};

bool isKey(std::string_view key) {
    if (key.empty())
        return false;
    const char c0 = key[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
        return false;
    for (char c : key)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    return true;
}

// Splits line into words; nullopt (and error) for an unterminated quote or a final backslash.
std::optional<std::vector<Word>> split(std::string_view line, std::string &error) {
    std::vector<Word> words;
    Word word;
    bool inWord = false;
    char quote = 0;
    auto markQuoted = [&] {
        if (word.quoted == std::string::npos)
            word.quoted = word.text.size();
    };
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < line.size() &&
                       (line[i + 1] == '"' || line[i + 1] == '\\')) {
                word.text.push_back(line[++i]);
            } else {
                word.text.push_back(c);
            }
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (inWord)
                words.push_back(std::move(word));
            word = Word{};
            inWord = false;
            continue;
        }
        inWord = true;
        if (c == '"' || c == '\'') {
            markQuoted();
            quote = c;
        } else if (c == '\\') {
            if (i + 1 >= line.size()) {
                error = "the line ends with a backslash";
                return std::nullopt;
            }
            markQuoted();
            word.text.push_back(line[++i]);
        } else {
            if (c == '=' && word.eq == std::string::npos && word.quoted == std::string::npos)
                word.eq = word.text.size();
            word.text.push_back(c);
        }
    }
    if (quote != 0) {
        error = std::string("unterminated quote (") + quote + ")";
        return std::nullopt;
    }
    if (inWord)
        words.push_back(std::move(word));
    return words;
}

// The JSON value of an unquoted word: true/false, an integer, or a string.
std::string typedValue(const std::string &text) {
    if (text == "true" || text == "false")
        return text;
    const bool digits =
        !text.empty() &&
        text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == std::string::npos;
    if (digits && text != "-") {
        int64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size())
            return std::to_string(value);
    }
    return jsonQuote(text);
}

HumanLine fail(std::string message) {
    HumanLine out;
    out.kind = HumanLine::Kind::Error;
    out.error = std::move(message);
    return out;
}

} // namespace

std::string jsonQuote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
                out += buffer;
            } else {
                out.push_back(c);
            }
        }
    }
    return out + "\"";
}

namespace {

// The command in words (already split and unquoted).
HumanLine fromWords(const std::vector<Word> *words, std::string_view id) {
    if (words->empty())
        return HumanLine{};
    const std::string &name = words->front().text;
    if (name == "help" || name == "?") {
        HumanLine out;
        out.kind = HumanLine::Kind::Help;
        return out;
    }
    const Spec *spec = findSpec(name);
    if (spec == nullptr)
        return fail("unknown command '" + name + "' (type help for the list)");
    const std::string usage = std::string(" (usage: ") + spec->usage + ")";
    const std::string positionalField = fieldOf(spec->arg);

    std::optional<Word> positional;
    struct Field {
        std::string key, json, raw;
    };
    std::vector<Field> fields;
    for (std::size_t i = 1; i < words->size(); ++i) {
        const Word &w = (*words)[i];
        if (w.eq != std::string::npos) {
            const std::string key = w.text.substr(0, w.eq);
            if (key.empty())
                return fail("'" + w.text + "' has no name before '='" + usage);
            if (isKey(key)) {
                if (key == "id")
                    return fail("id is chosen by the CLI; type a JSON line to set your own");
                if (key == "cmd")
                    return fail("cmd is the first word of the line, not a field");
                if (key == positionalField && positional)
                    return fail(key + " given twice" + usage);
                for (const auto &f : fields)
                    if (f.key == key)
                        return fail(key + " given twice" + usage);
                const std::string value = w.text.substr(w.eq + 1);
                fields.push_back(
                    {key, w.quoted == std::string::npos ? typedValue(value) : jsonQuote(value),
                     value});
                continue;
            }
        }
        if (spec->arg == Arg::None)
            return fail(std::string(spec->name) + " takes no argument, got '" + w.text + "'" +
                        usage);
        if (positional)
            return fail("too many arguments for " + name + ": '" + w.text + "'" + usage);
        for (const auto &f : fields)
            if (f.key == positionalField)
                return fail(positionalField + " given twice" + usage);
        positional = w;
    }

    std::string positionalJson;
    if (positional) {
        if (spec->arg == Arg::Count) {
            positionalJson = positional->quoted == std::string::npos ? typedValue(positional->text)
                                                                     : jsonQuote(positional->text);
            if (positionalJson.empty() || positionalJson[0] == '"' || positionalJson[0] == '-' ||
                positionalJson == "true" || positionalJson == "false")
                return fail(name + " needs " + describe(spec->arg) + ", got '" + positional->text +
                            "'" + usage);
        } else {
            if (positional->text.empty())
                return fail(name + " needs " + describe(spec->arg) + ", got an empty one" + usage);
            positionalJson = jsonQuote(positional->text);
        }
    } else if (spec->arg != Arg::None) {
        bool given = false;
        for (const auto &f : fields)
            given = given || f.key == positionalField;
        if (!given)
            return fail(name + " needs " + describe(spec->arg) + usage);
    }

    HumanLine out;
    out.kind = HumanLine::Kind::Command;
    out.cmd = spec->name;
    if (positional)
        out.subject = positional->text;
    out.json = "{\"id\":" + jsonQuote(id) + ",\"cmd\":" + jsonQuote(spec->name);
    if (positional)
        out.json += "," + jsonQuote(positionalField) + ":" + positionalJson;
    for (const auto &f : fields) {
        out.json += "," + jsonQuote(f.key) + ":" + f.json;
        if (f.key == positionalField)
            out.subject = f.raw;
    }
    out.json += "}";
    return out;
}

} // namespace

HumanLine parseHumanLine(std::string_view line, std::string_view id) {
    std::string error;
    auto words = split(line, error);
    if (!words)
        return fail(error);
    return fromWords(&*words, id);
}

HumanLine parseHumanWords(const std::vector<std::string> &args, std::string_view id) {
    std::vector<Word> words;
    for (const auto &arg : args) {
        Word word;
        word.text = arg;
        word.eq = arg.find('='); // no quotes to hide an '=' behind: the shell removed them
        words.push_back(std::move(word));
    }
    return fromWords(&words, id);
}

std::vector<std::string> humanCommandNames() {
    std::vector<std::string> names;
    for (const auto &s : kSpecs)
        names.emplace_back(s.name);
    return names;
}

std::string humanHelp() {
    // Usage on one line, what it does on the next: fits 80 columns.
    std::string out = "commands (a line starting with { is sent as JSON, see "
                      "docs/cli-contract.md):";
    for (const auto &s : kSpecs)
        out += std::string("\n  ") + s.usage + "\n      " + s.summary;
    return out + "\n  help\n      this list";
}

} // namespace lanspread::human
