// The human mode, from JSON to words: turns the control service's result and event
// lines (docs/cli-contract.md) into what human_view draws — tables for lists, key: value lines for
// status, one live bar per running download, one plain line per other event, and
// `error: <code>: <message>` for failures. Returns the bytes to write; owns no fd.
// Thread: one at a time (the session calls it on the reactor thread only).
#pragma once

#include "human_view.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <string>

namespace lanspread::human {

class HumanPrinter {
  public:
    // live: draw progress bars with ANSI escapes (the output is a terminal). columns: the
    // terminal's current width, asked for at each bar redraw.
    HumanPrinter(bool live, std::function<std::size_t()> columns);

    // The greeting, in place of the cli-started line.
    std::string started(const std::string &version, long pid);
    // A command's result line; cmd and subject (game, addr, path; may be empty) are what was
    // sent, for the wording. An unparsable line is shown as it is.
    std::string result(const std::string &cmd, const std::string &subject, const std::string &line);
    // An event line.
    std::string event(const std::string &line);
    // Plain text (one or more lines), sanitised, above the bars.
    std::string message(const std::string &text);
    // `error: <code>: <message>`.
    std::string error(const std::string &code, const std::string &message);
    // The terminal echoed typed lines (echoRows rows in all) under the bars: see LiveArea.
    std::string inputEntered(const std::string &typed, std::size_t echoRows);
    // The session ends: every bar still drawn becomes a final "interrupted" line.
    std::string close();
    // The viewer leaves while the peer goes on (the lanspread client quits): every bar becomes
    // a final line saying where its download was, "ggoo: still downloading, 32.0/64.4 MiB".
    std::string leave();
    // Whether this peer can be found on the LAN, from the answer to a `status` the session
    // asked at start (its "discovery" object): one sentence when discovery does not work,
    // "not discoverable: avahi-daemon is not running; direct connect works", else nothing.
    // The discovery-state event says it again only when it changes.
    std::string discovery(const std::string &statusResultLine);
    // Whether a bar is drawn (or, not live, tracked) for a download.
    bool downloading() const { return !_downloads.empty(); }

    const LiveArea &area() const { return _area; }

  private:
    std::string bar(const std::string &game);
    std::string endDownload(const std::string &game, const std::string &finalText);
    std::string peerLabel(const std::string &peerId, const std::string &addr) const;

    LiveArea _area;
    std::function<std::size_t()> _columns;
    struct Running {
        Progress progress;    // what the bar shows
        double beginMs = -1;  // ts_ms of download-begin (-1: not seen)
        uint64_t resumed = 0; // bytes already there at download-begin
    };
    std::map<std::string, Running> _downloads;     // game -> its bar's state
    std::map<std::string, std::string> _peerNames; // peer_id -> name
    std::string _discoveryState; // what was said last: "working", "not-working", or "" (nothing)

    std::string discoveryState(const std::string &state, const std::string &reason);
};

} // namespace lanspread::human
