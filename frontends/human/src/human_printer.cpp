#include "human_printer.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

namespace lanspread::human {

namespace {

using Object = Poco::JSON::Object::Ptr;
using Array = Poco::JSON::Array::Ptr;
using Var = Poco::Dynamic::Var;

// The object of a JSON line (keys in their order), or null when it is not one.
Object parseObject(const std::string &line) {
    try {
        Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
        Var value = parser.parse(line);
        if (value.type() == typeid(Object))
            return value.extract<Object>();
    } catch (const std::exception &) {
    }
    return nullptr;
}

std::string compact(const Var &value) {
    std::ostringstream out;
    try {
        Poco::JSON::Stringifier::stringify(value, out);
    } catch (const std::exception &) {
        return "?";
    }
    return out.str();
}

std::string text(const Var &value) {
    if (value.isEmpty())
        return std::string();
    if (value.isString())
        return value.extract<std::string>();
    if (value.isNumeric() || value.isBoolean()) {
        try {
            return value.convert<std::string>();
        } catch (const std::exception &) {
        }
    }
    return compact(value);
}

std::string str(const Object &o, const std::string &key) {
    return o && o->has(key) ? text(o->get(key)) : std::string();
}

double num(const Object &o, const std::string &key) {
    if (!o || !o->has(key))
        return 0;
    try {
        return o->get(key).convert<double>();
    } catch (const std::exception &) {
        return 0;
    }
}

uint64_t u64(const Object &o, const std::string &key) {
    const double v = num(o, key);
    return v > 0 ? static_cast<uint64_t>(v) : 0;
}

bool flag(const Object &o, const std::string &key) {
    if (!o || !o->has(key))
        return false;
    try {
        return o->get(key).convert<bool>();
    } catch (const std::exception &) {
        return false;
    }
}

std::size_t countOf(const Object &o, const std::string &key) {
    if (!o || !o->has(key))
        return 0;
    if (Array a = o->getArray(key))
        return a->size();
    if (Object inner = o->getObject(key))
        return inner->size();
    return 0;
}

std::string yesNo(bool b) {
    return b ? "yes" : "no";
}

std::string indent(const std::string &block, const std::string &prefix) {
    std::string out = prefix;
    for (char c : block) {
        out.push_back(c);
        if (c == '\n')
            out += prefix;
    }
    return out;
}

// Every line of text sanitised (the newlines stay).
std::string sanitizeLines(const std::string &text) {
    std::string out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t nl = text.find('\n', start);
        out += sanitize(std::string_view(text).substr(start, nl - start));
        if (nl == std::string::npos)
            return out;
        out += '\n';
        start = nl + 1;
    }
}

// A value for a key: value line: scalars as they are, {} and [] as "none", an object of
// scalars as "k v, k v", an array as its items joined.
std::string valueText(const Var &value) {
    if (value.type() == typeid(Object)) {
        Object o = value.extract<Object>();
        if (!o || o->size() == 0)
            return "none";
        std::string out;
        for (const auto &name : o->getNames()) {
            const std::string item = text(o->get(name));
            if (!item.empty()) // "plugin " with nothing after it says nothing
                out += (out.empty() ? "" : ", ") + name + " " + item;
        }
        return out.empty() ? "none" : out;
    }
    if (value.type() == typeid(Array)) {
        Array a = value.extract<Array>();
        if (!a || a->size() == 0)
            return "none";
        std::string out;
        for (std::size_t i = 0; i < a->size(); ++i)
            out += (i ? ", " : "") + text(a->get(static_cast<unsigned>(i)));
        return out;
    }
    return text(value);
}

// key: value lines, values aligned; an array of objects under a key becomes a table.
std::string keyValues(const Object &data) {
    std::size_t width = 0;
    for (const auto &name : data->getNames())
        width = std::max(width, name.size() + 1);
    std::string out;
    for (const auto &name : data->getNames()) {
        const Var value = data->get(name);
        std::string key = name + ":";
        key.resize(width, ' ');
        if (!out.empty())
            out += '\n';
        Array rows = value.type() == typeid(Array) ? value.extract<Array>() : nullptr;
        if (rows && rows->size() > 0 && rows->getObject(0)) {
            // The first object's keys are the columns; a "path" column is left out.
            std::vector<Column> columns;
            std::vector<std::string> keys;
            for (const auto &k : rows->getObject(0)->getNames())
                if (k != "path") {
                    keys.push_back(k);
                    std::string header = k;
                    std::transform(header.begin(), header.end(), header.begin(),
                                   [](unsigned char c) { return char(std::toupper(c)); });
                    columns.push_back({header});
                }
            std::vector<std::vector<std::string>> cells;
            for (std::size_t i = 0; i < rows->size(); ++i) {
                Object row = rows->getObject(static_cast<unsigned>(i));
                std::vector<std::string> line;
                for (const auto &k : keys)
                    line.push_back(str(row, k));
                cells.push_back(std::move(line));
            }
            out += key + " " + std::to_string(rows->size()) + "\n" +
                   indent(renderTable(columns, cells), "  ");
            continue;
        }
        out += key + " " + valueText(value);
    }
    return out;
}

std::string errorLine(const Object &result) {
    Object e = result ? result->getObject("error") : nullptr;
    const std::string code = e ? str(e, "code") : std::string();
    const std::string message = e ? str(e, "message") : std::string();
    return "error: " + (code.empty() ? std::string("failed") : code) +
           (message.empty() ? std::string() : ": " + message);
}

std::string localGames(const Array &games) {
    if (!games || games->size() == 0)
        return "local games: none";
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < games->size(); ++i) {
        Object g = games->getObject(static_cast<unsigned>(i));
        rows.push_back({str(g, "id"), str(g, "name"), str(g, "version"),
                        g && g->has("size") ? formatBytes(u64(g, "size")) : std::string(),
                        yesNo(flag(g, "downloaded")), yesNo(flag(g, "installed")),
                        str(g, "availability")});
    }
    return "local games (" + std::to_string(games->size()) + "):\n" +
           indent(renderTable({{"ID"},
                               {"NAME"},
                               {"VERSION"},
                               {"SIZE", Align::Right},
                               {"DOWNLOADED"},
                               {"INSTALLED"},
                               {"AVAILABILITY"}},
                              rows),
                  "  ");
}

std::string remoteGames(const Array &games) {
    if (!games || games->size() == 0)
        return "remote games: none (connect <ip:port> to a peer that has some)";
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < games->size(); ++i) {
        Object g = games->getObject(static_cast<unsigned>(i));
        // Peers still downloading it serve what they have verified: "2 (+3 downloading)".
        std::string peerCount = str(g, "peer_count");
        const uint64_t downloading = u64(g, "partial_peers");
        if (downloading > 0)
            peerCount += " (+" + std::to_string(downloading) + " downloading)";
        // Only downloading peers know it: its size is not known yet.
        const bool sizeKnown = u64(g, "peer_count") > 0 || u64(g, "size") > 0;
        rows.push_back({str(g, "id"), str(g, "name"), str(g, "eti_game_version"), peerCount,
                        sizeKnown ? formatBytes(u64(g, "size")) : std::string("-")});
    }
    return "remote games (" + std::to_string(games->size()) + "):\n" +
           indent(
               renderTable(
                   {{"ID"}, {"NAME"}, {"VERSION"}, {"PEERS", Align::Right}, {"SIZE", Align::Right}},
                   rows),
               "  ");
}

// A peer's games, then the ones it is downloading: "ggoo, css (Stale), ut (downloading 7/40)".
std::string gameList(const Array &games, const Array &partials) {
    std::string out;
    for (std::size_t i = 0; games && i < games->size(); ++i) {
        Object g = games->getObject(static_cast<unsigned>(i));
        std::string item = str(g, "id");
        const std::string availability = str(g, "availability");
        if (!availability.empty() && availability != "Ready")
            item += " (" + availability + ")";
        out += (out.empty() ? "" : ", ") + item;
    }
    for (std::size_t i = 0; partials && i < partials->size(); ++i) {
        Object p = partials->getObject(static_cast<unsigned>(i));
        out += (out.empty() ? "" : ", ") + str(p, "id") + " (downloading " + str(p, "chunks_have") +
               "/" + str(p, "chunk_count") + ")";
    }
    return out.empty() ? "-" : out;
}

std::string peers(const Array &list) {
    if (!list || list->size() == 0)
        return "no peers connected (connect <ip:port>)";
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < list->size(); ++i) {
        Object p = list->getObject(static_cast<unsigned>(i));
        rows.push_back(
            {str(p, "name"), str(p, "addr"), str(p, "peer_id").substr(0, 16), str(p, "via"),
             str(p, "transport"),
             gameList(p ? p->getArray("games") : nullptr, p ? p->getArray("partials") : nullptr)});
    }
    // TRANSPORT shows a fallback: a peer reached over tls where quic is preferred.
    return "peers (" + std::to_string(list->size()) + "):\n" +
           indent(
               renderTable({{"NAME"}, {"ADDRESS"}, {"PEER ID"}, {"VIA"}, {"TRANSPORT"}, {"GAMES"}},
                           rows),
               "  ");
}

// The fields of an event other than event and ts_ms, as "key=value" words.
std::string otherFields(const Object &e) {
    std::string out;
    for (const auto &name : e->getNames())
        if (name != "event" && name != "ts_ms")
            out += (out.empty() ? "" : " ") + name + "=" + text(e->get(name));
    return out;
}

} // namespace

HumanPrinter::HumanPrinter(bool live, std::function<std::size_t()> columns)
    : _area(live), _columns(std::move(columns)) {}

std::string HumanPrinter::message(const std::string &text) {
    return _area.print(sanitizeLines(text));
}

std::string HumanPrinter::error(const std::string &code, const std::string &message) {
    return this->message("error: " + code + ": " + message);
}

std::string HumanPrinter::inputEntered(const std::string &typed, std::size_t echoRows) {
    return _area.inputEntered(sanitizeLines(typed), echoRows);
}

std::string HumanPrinter::close() {
    std::string out;
    while (!_downloads.empty()) {
        const std::string game = _downloads.begin()->first;
        const Progress p = _downloads.begin()->second.progress;
        out += endDownload(game, game + ": download interrupted at " +
                                     formatBytePair(p.bytesDone, p.bytesTotal));
    }
    return out;
}

std::string HumanPrinter::leave() {
    std::string out;
    while (!_downloads.empty()) {
        const std::string game = _downloads.begin()->first;
        const Progress p = _downloads.begin()->second.progress;
        out += endDownload(game, game + ": still downloading, " +
                                     formatBytePair(p.bytesDone, p.bytesTotal));
    }
    return out;
}

std::string HumanPrinter::discovery(const std::string &statusResultLine) {
    Object r = parseObject(statusResultLine);
    Object data = r ? r->getObject("data") : nullptr;
    Object d = data ? data->getObject("discovery") : nullptr;
    return d ? discoveryState(str(d, "state"), str(d, "reason")) : std::string();
}

std::string HumanPrinter::discoveryState(const std::string &state, const std::string &reason) {
    std::string out;
    if (state == "not-working" && _discoveryState != state)
        out = message("not discoverable: " +
                      (reason.empty() ? std::string("discovery does not work") : reason) +
                      "; direct connect works");
    else if (state == "working" && _discoveryState == "not-working")
        out = message("discoverable again: peers on the LAN can find this one");
    if (state == "working" || state == "not-working")
        _discoveryState = state;
    return out;
}

std::string HumanPrinter::started(const std::string &version, long pid) {
    return message("lanspread " + version + " (pid " + std::to_string(pid) +
                   ") - type help for the commands; JSON lines work too");
}

std::string HumanPrinter::result(const std::string &cmd, const std::string &subject,
                                 const std::string &line) {
    Object r = parseObject(line);
    if (!r)
        return message(line);
    if (!flag(r, "ok"))
        return message(errorLine(r));
    Object data = r->getObject("data");
    if (!data)
        data = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    const std::string game = subject.empty() ? str(data, "game") : subject;

    if (cmd == "status")
        return message(keyValues(data));
    if (cmd == "list-games")
        return message(localGames(data->getArray("local")) + "\n" +
                       remoteGames(data->getArray("remote")));
    if (cmd == "list-peers")
        return message(peers(data->getArray("peers")));
    if (cmd == "connect")
        return message("connected to " + (subject.empty() ? std::string("the peer") : subject) +
                       " (peer " + str(data, "peer_id").substr(0, 16) + ")");
    if (cmd == "wait-peers")
        return message(plural(static_cast<long long>(u64(data, "peer_count")), "peer", "peers") +
                       " connected");
    if (cmd == "download")
        return message(game + ": download started");
    if (cmd == "stream-install")
        return message(game + ": stream-install started (the archives are not stored)");
    if (cmd == "cancel-download")
        return message(game + ": cancelling the download");
    if (cmd == "install")
        return message(game + ": install started");
    if (cmd == "uninstall")
        return message(game + ": uninstall started");
    if (cmd == "remove")
        return message(game + ": downloaded files removed");
    if (cmd == "play")
        return message(game + ": launch settings " +
                       (flag(data, "already_applied") ? "were already applied" : "written") + "\n" +
                       keyValues(data));
    if (cmd == "set-game-dir")
        return message("games directory: " + subject + " (rescanning)");
    if (cmd == "shutdown")
        return message("shutting down: saying goodbye to the peers");
    return message(data->size() == 0 ? std::string("ok") : "ok\n" + keyValues(data));
}

std::string HumanPrinter::bar(const std::string &game) {
    return _area.setBar(game, progressLine(_downloads[game].progress, _columns ? _columns() : 80));
}

std::string HumanPrinter::endDownload(const std::string &game, const std::string &finalText) {
    _downloads.erase(game);
    return _area.removeBar(game, sanitizeLines(finalText));
}

std::string HumanPrinter::peerLabel(const std::string &peerId, const std::string &addr) const {
    auto it = _peerNames.find(peerId);
    const std::string name = it == _peerNames.end() ? std::string() : it->second;
    if (name.empty())
        return addr.empty() ? peerId.substr(0, 16) : addr;
    return name + " at " + addr;
}

std::string HumanPrinter::event(const std::string &line) {
    Object e = parseObject(line);
    if (!e)
        return message(line);
    const std::string name = str(e, "event");
    const std::string game = str(e, "game");

    if (name == "download-begin" || name == "download-progress") {
        Running &r = _downloads[game];
        Progress &p = r.progress;
        p.game = game;
        p.bytesTotal = u64(e, "bytes_total");
        if (name == "download-begin") {
            p.bytesDone = r.resumed = u64(e, "bytes_resumed");
            r.beginMs = num(e, "ts_ms");
            p.peers = static_cast<int>(countOf(e, "peers"));
            if (!_area.live())
                return message(game + ": downloading " + formatBytes(p.bytesTotal) + " from " +
                               plural(p.peers, "peer", "peers") +
                               (p.bytesDone > 0 ? ", resuming at " + formatBytes(p.bytesDone)
                                                : std::string()));
        } else {
            p.bytesDone = u64(e, "bytes_done");
            p.peers = static_cast<int>(num(e, "active_peers"));
            p.mibPerSecond = num(e, "mib_per_s");
            // A progress event can report a recent rate of 0 while bytes flow (a source
            // between chunks): then the bar shows the average since download-begin.
            const double elapsedMs = num(e, "ts_ms") - r.beginMs;
            if (!(p.mibPerSecond > 0) && r.beginMs > 0 && elapsedMs >= 500 &&
                p.bytesDone > r.resumed)
                p.mibPerSecond = double(p.bytesDone - r.resumed) / 1048576.0 / (elapsedMs / 1000.0);
        }
        return bar(game);
    }
    if (name == "download-finished") {
        const uint64_t sources = countOf(e, "sources");
        return endDownload(game, game + ": downloaded " + formatBytes(u64(e, "bytes")) + " in " +
                                     formatDuration(static_cast<int64_t>(num(e, "duration_ms"))) +
                                     ", " + formatRate(num(e, "mib_per_s")) + " from " +
                                     plural(static_cast<long long>(sources), "peer", "peers"));
    }
    if (name == "download-failed")
        return endDownload(game, game + ": download failed: " + str(e, "error"));
    if (name == "download-cancelled")
        return endDownload(game, game + ": download cancelled");
    if (name == "download-chunk-finished")
        return std::string(); // the bar says it
    if (name == "active-operations") {
        // The authoritative snapshot: a bar whose game runs nothing any more goes.
        Object ops = e->getObject("operations");
        std::vector<std::string> stale;
        for (const auto &[g, p] : _downloads)
            if (!ops || !ops->has(g))
                stale.push_back(g);
        std::string out;
        for (const auto &g : stale)
            out += endDownload(g, std::string());
        return out;
    }
    if (name == "discovery-state")
        return discoveryState(str(e, "state"), str(e, "reason"));
    if (name == "cli-started")
        return started(str(e, "version"), static_cast<long>(num(e, "pid")));
    if (name == "local-peer-ready")
        return message("ready: listening on " + str(e, "listen_addr") + " as peer " +
                       str(e, "peer_id").substr(0, 16));
    if (name == "local-library-changed") {
        Array games = e->getArray("games");
        std::size_t downloaded = 0, installed = 0;
        for (std::size_t i = 0; games && i < games->size(); ++i) {
            Object g = games->getObject(static_cast<unsigned>(i));
            downloaded += flag(g, "downloaded") ? 1 : 0;
            installed += flag(g, "installed") ? 1 : 0;
        }
        const std::size_t total = games ? games->size() : 0;
        return message("local library: " + plural(static_cast<long long>(total), "game", "games") +
                       " (" + std::to_string(downloaded) + " downloaded, " +
                       std::to_string(installed) + " installed)");
    }
    if (name == "peer-discovered")
        return message("found a peer at " + str(e, "addr") + " (via " + str(e, "via") + ")");
    if (name == "peer-connected" || name == "peer-updated") {
        const std::string peerId = str(e, "peer_id");
        if (e->has("name"))
            _peerNames[peerId] = str(e, "name");
        const auto games = static_cast<long long>(countOf(e, "games"));
        return message(
            std::string(name == "peer-connected" ? "peer connected: " : "peer updated: ") +
            peerLabel(peerId, str(e, "addr")) + ", " + plural(games, "game", "games"));
    }
    if (name == "peer-lost") {
        const std::string peerId = str(e, "peer_id");
        std::string out = message("peer lost: " + peerLabel(peerId, str(e, "addr")) + " (" +
                                  str(e, "reason") + ")");
        _peerNames.erase(peerId);
        return out;
    }
    if (name == "got-game-files")
        return message(
            game + ": " + plural(static_cast<long long>(countOf(e, "files")), "file", "files") +
            " from " + plural(static_cast<long long>(countOf(e, "peers")), "peer", "peers"));
    if (name == "download-peers-gone")
        return message(game + ": every peer with this game is gone");
    if (name == "no-peers-have-game")
        return message(game + ": no connected peer has this game");
    if (name == "install-begin")
        return message(game + ": installing...");
    if (name == "install-finished")
        return message(game + ": installed");
    if (name == "install-failed")
        return message(game + ": install failed: " + str(e, "error"));
    if (name == "uninstall-begin")
        return message(game + ": uninstalling...");
    if (name == "uninstall-finished")
        return message(game + ": uninstalled");
    if (name == "uninstall-failed")
        return message(game + ": uninstall failed: " + str(e, "error"));
    if (name == "runtime-failed")
        return message("error: " + str(e, "component") + " failed: " + str(e, "error"));
    const std::string fields = otherFields(e);
    return message(name + (fields.empty() ? std::string() : ": " + fields));
}

} // namespace lanspread::human
