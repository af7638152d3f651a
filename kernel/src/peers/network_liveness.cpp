// PeerNetwork: liveness and re-dials. Idle peers are pinged and silent ones dropped after
// the peer timeout; a peer lost without a goodbye is dialled again for a while, since
// discovery will not announce it twice.
#include "network_internal.hpp"

#include <lanspread/kernel/contract/events.hpp>

namespace lanspread::kernel::peers {

using namespace network_detail;

void PeerNetwork::publishLost(const std::string &peerId, const std::string &reason, bool redial) {
    const PeerRecord *record = _peers.find(peerId);
    const std::string addr = record ? record->addr : std::string();
    const std::string via = record && record->via != "incoming" ? record->via : "connect";
    const std::map<std::string, std::string> addrs =
        record ? record->addrs : std::map<std::string, std::string>();
    const contract::Event lost = contract::peerLost(peerId, addr, reason);
    _peers.remove(peerId);
    log::info(kSource, "peer " + peerId.substr(0, 12) + " lost: " + reason);
    _events.publish(lost.topic, lost.payload);
    // A peer that vanished without a goodbye (crash, cable, partition) may come back at the
    // same address; discovery will not announce it again (its records stay cached), so we
    // try it again for a while.
    if (redial && !addr.empty()) {
        _lost[peerId] = LostPeer{addr, addrs, via, _reactor.now() + kRedialForNs};
        if (_redialTimer == 0)
            scheduleRedial();
    }
    _delegate.peerLost(peerId);
}

void PeerNetwork::scheduleRedial() {
    _reactor.startTimer(
        kRedialIntervalNs,
        [this, alive = _alive] {
            if (!*alive)
                return;
            _redialTimer = 0;
            if (_stopping)
                return;
            const uint64_t now = _reactor.now();
            for (auto it = _lost.begin(); it != _lost.end();) {
                const auto &[peerId, lost] = *it;
                // A peer that came back with another party key was refused: it stays refused
                // until one of us restarts, so re-dialling it would only repeat that.
                if (now > lost.untilNs || _peers.find(peerId) != nullptr ||
                    partyKeyRefused(peerId)) {
                    it = _lost.erase(it);
                    continue;
                }
                if (!dialing(lost.addr))
                    connect(
                        lost.addr, lost.via, [](contract::Outcome<std::string>) {}, peerId,
                        lost.addrs);
                ++it;
            }
            if (!_lost.empty())
                scheduleRedial();
        },
        _redialTimer);
}

void PeerNetwork::livenessTick() {
    _livenessTimer = 0;
    if (_stopping)
        return;
    const uint64_t now = _reactor.now();
    const uint64_t pingEvery = _peerTimeoutNs / 4;
    std::vector<lanspread_transport_conn *> silent;
    bool anyReady = false;
    for (auto &[conn, s] : _sessions) {
        if (s->state != Session::State::Ready)
            continue;
        anyReady = true;
        if (now - s->lastActivityNs > _peerTimeoutNs) {
            silent.push_back(conn);
        } else if (now - s->lastActivityNs > pingEvery && now - s->lastPingNs > pingEvery) {
            s->lastPingNs = now;
            sendControl(*s, protocol::Ping{++_pingNonce});
        }
    }
    for (auto *conn : silent)
        if (Session *s = session(conn)) {
            log::warning(kSource, "peer " + s->label() + " sent nothing for " +
                                      std::to_string(_peerTimeoutNs / 1'000'000) +
                                      " ms; dropping it");
            s->state = Session::State::Closing;
            s->timedOut = true;
            vt(*s).close(conn, kAppErrorProtocol);
        }
    if (anyReady)
        _reactor.startTimer(
            std::max<uint64_t>(pingEvery / 2, 50'000'000ull),
            [this, alive = _alive] {
                if (*alive)
                    livenessTick();
            },
            _livenessTimer);
}

} // namespace lanspread::kernel::peers
