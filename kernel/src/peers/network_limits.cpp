// PeerNetwork: the limits under hostile load. Incoming connections per remote address
// (lanspread.max_connections_per_address), requests open per peer
// (lanspread.max_requests_per_peer), and the rate limit on refusal lines, so that a flood of
// refused connections or requests costs a few log lines a second, not one line each. The
// Hello timeout (lanspread.hello_timeout_ms) is armed in network.cpp.
#include "network_internal.hpp"

namespace lanspread::kernel::peers {

using namespace network_detail;

namespace {
// The host part of "ip:port" / "[v6]:port".
std::string hostPart(const std::string &addr) {
    if (!addr.empty() && addr.front() == '[') {
        const auto close = addr.find(']');
        return close == std::string::npos ? addr : addr.substr(1, close - 1);
    }
    const auto colon = addr.rfind(':');
    return colon == std::string::npos ? addr : addr.substr(0, colon);
}
// Every peer on this machine connects from a loopback address, and whatever reaches one runs
// here already: a per-address cap could not tell those peers apart.
bool isLoopback(const std::string &host) {
    return host.rfind("127.", 0) == 0 || host == "::1" || host.rfind("::ffff:127.", 0) == 0;
}
} // namespace

bool PeerNetwork::overAddressCap(const Session &s) const {
    const std::string host = hostPart(s.remoteAddr);
    if (host.empty() || isLoopback(host))
        return false;
    std::size_t held = 0;
    for (const auto &[conn, other] : _sessions)
        if (other.get() != &s && !other->outgoing && other->state != Session::State::Closing &&
            hostPart(other->remoteAddr) == host)
            ++held;
    return held >= _maxConnectionsPerAddress;
}

bool PeerNetwork::overRequestCap(const Session &s) const {
    std::size_t open = 0;
    for (const auto &[id, st] : s.streams)
        if (st->role == Stream::Role::Incoming && !st->refused)
            ++open;
    return open >= _maxRequestsPerPeer;
}

std::string PeerNetwork::helloTimeoutText() const {
    const uint64_t ms = _helloTimeoutNs / 1'000'000;
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

void PeerNetwork::logRefusal(const std::string &line) {
    const uint64_t now = _reactor.now();
    if (_refusalLinesInWindow == 0 || now - _refusalWindowNs >= kRefusalLogWindowNs) {
        if (_refusalsHeld > 0)
            flushRefusalLog();
        _refusalWindowNs = now;
        _refusalLinesInWindow = 0;
    }
    if (_refusalLinesInWindow < kRefusalLogBurst) {
        ++_refusalLinesInWindow;
        log::warning(kSource, line);
        return;
    }
    ++_refusalsHeld;
    ++_refusals.linesSuppressed;
    _refusalLatest = line;
    if (_refusalTimer != 0 || _stopping)
        return;
    _reactor.startTimer(
        _refusalWindowNs + kRefusalLogWindowNs -
            std::min(now, _refusalWindowNs + kRefusalLogWindowNs),
        [this, alive = _alive] {
            if (!*alive)
                return;
            _refusalTimer = 0;
            flushRefusalLog();
        },
        _refusalTimer);
}

void PeerNetwork::flushRefusalLog() {
    if (_refusalsHeld == 0)
        return;
    log::warning(kSource, std::to_string(_refusalsHeld) +
                              " more refusals in the last second, not logged one by one "
                              "(the latest: " +
                              _refusalLatest + ")");
    _refusalsHeld = 0;
    _refusalLatest.clear();
    // The summary opens a new window: the next refusals are counted afresh.
    _refusalWindowNs = _reactor.now();
    _refusalLinesInWindow = 1;
}

} // namespace lanspread::kernel::peers
