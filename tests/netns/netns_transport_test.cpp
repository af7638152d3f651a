// Several transports on a simulated LAN (issue 15, transport-tls): lab hosts in network
// namespaces, each with its own avahi-daemon (tests/netns/netns-avahi-lab.sh), each running a
// real lanspreadd that loads transport-quic and transport-tls (QUIC preferred) and only mDNS
// discovery (no `connect` command anywhere). One ctest per test (netns_transport_tests.def),
// each in a lab of its own that run-in-lab.sh brings up and always takes down:
//
//   S60_udpBlocked  h3's firewall (nftables in its namespace: the lab's block-udp) drops every
//                   UDP packet but mDNS. All three still list each other: h1-h2 over QUIC,
//                   every connection of h3 over TLS (the dial's fallback), one connection per
//                   pair and no peer-lost; h1 downloads h3's game over TLS, exact.
//
// S60_FALLBACK_MS sets lanspread.transport_fallback_ms on every peer (default: the kernel's
// 1500). With 60000, TLS is tried only once QUIC's 10 s handshake timeout has failed the
// attempt, and S60 must fail its bound. Each test prints one evidence line (S60:).
#include "netns_harness.hpp"

#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace lanspread::netns;
namespace fx = lanspread::fixtures;

namespace {

const std::string kGame = "alienswarm";
// A few tens of MiB: a real transfer over TLS that still takes only a second or two.
constexpr uint64_t kGameBytes = 48 * kMiB;

// What a peer with both transports loads: QUIC first (preferred), TLS second, and mDNS.
constexpr const char *kBothTransports =
    "org.lanspread.frontend.cli,org.lanspread.transport.quic,org.lanspread.transport.tls,"
    "org.lanspread.unpacker.libarchive,org.lanspread.discovery.dnssd";

// The kernel's handshake timeout (network_internal.hpp, kHandshakeTimeoutNs): a QUIC attempt
// that never connects fails after this long, and the dial then tries TLS whatever
// transport_fallback_ms says.
constexpr int64_t kHandshakeTimeoutMs = 10000;
// All three list each other within this long after h3 started. It lies below the handshake
// timeout, so only the fallback (1500 ms) can meet it, not a TLS dial that waited for QUIC to
// fail; the rest of the margin is for a loaded machine (h3's start-up, mDNS, the handshakes).
constexpr int64_t kMeshBoundMs = 8000;

std::string envOr(const char *name, const std::string &fallback) {
    const char *v = ::getenv(name);
    return v && *v ? v : fallback;
}

std::string seconds(int64_t ms) {
    char s[32];
    std::snprintf(s, sizeof s, "%.1f s", static_cast<double>(ms) / 1000);
    return s;
}
std::string fixed(double v, int decimals) {
    char s[32];
    std::snprintf(s, sizeof s, "%.*f", decimals, v);
    return s;
}

// How many lines of a file contain needle.
int countLines(const std::string &path, const std::string &needle) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line))
        n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
}

// The UDP packets h<host>'s block-udp dropped so far, each way (the lab's udp-drops).
struct UdpDrops {
    long in = -1, out = -1;
};
UdpDrops udpDrops(NetLab &lab, int host) {
    const std::string cmd = std::string(LAB_SCRIPT) + " udp-drops " + std::to_string(host);
    FILE *pipe = ::popen(cmd.c_str(), "r");
    lab.check(pipe != nullptr, "cannot run " + cmd);
    std::string text;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
        text += buffer;
    const int status = ::pclose(pipe);
    UdpDrops drops;
    const bool read = std::sscanf(text.c_str(), "input=%ld output=%ld", &drops.in, &drops.out) == 2;
    lab.check(status == 0 && read, "cannot read h" + std::to_string(host) +
                                       "'s UDP drop counters (" + cmd + "): '" + text + "'");
    return drops;
}

// One list-peers row as S60 judges it.
struct Row {
    std::string transport, via;
};

} // namespace

class NetnsTransportTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(NetnsTransportTest);
#define NETNS_TRANSPORT_TEST(test, ctestName, hosts, limit) CPPUNIT_TEST(test);
#include "netns_transport_tests.def"
#undef NETNS_TRANSPORT_TEST
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        // The harness puts LANSPREAD_TEST_TRANSPORT's transport in transport-quic's place in
        // every plugin list (peer_harness.hpp). These peers load both transports on purpose, so
        // their list must reach lanspreadd as written.
        ::unsetenv("LANSPREAD_TEST_TRANSPORT");
    }
    void tearDown() override {
        _peers.clear();
        _lab.reset();
    }

    // S60: h3 drops every UDP packet except mDNS (udp port 5353, in and out), the way a
    // desktop firewall that allows mDNS but blocks an application's UDP does; dropping all UDP
    // would hide h3 from mDNS too, and the scenario's peers find each other by mDNS alone. The
    // block is in place before h3's lanspreadd starts. Every peer loads QUIC and TLS and only
    // mDNS discovery, and none is sent `connect`.
    void S60_udpBlocked() {
        NetLab &lab = newLab("S60", 3);
        lab.check(runLab("block-udp 3") == 0, "could not block UDP on h3 (nft)");
        const UdpDrops before = udpDrops(lab, 3);
        writeBigAlienswarm(lab.gamesDirOf("h3"), kGameBytes, 60);
        const std::string fallbackMs = envOr("S60_FALLBACK_MS", "");
        const std::string ini =
            fallbackMs.empty() ? "" : "[lanspread]\ntransport_fallback_ms = " + fallbackMs + "\n";

        // One at a time, each once its advert is on the LAN (resolved by a browser on h1), as
        // the discovery tests start theirs: a newcomer finds the others in its avahi cache
        // and dials them first. h3's advert resolving on h1 shows mDNS passes h3's firewall.
        Probe &watch = lab.startProbe("join-watch", 1, {"browse", "-w", "90"});
        for (int h = 1; h <= 3; ++h) {
            HostPeer &p = startPeer("h" + std::to_string(h), h, ini);
            const bool announced =
                watch
                    .waitFor(
                        [&](const ProbeLine &l) {
                            return l.kind == "RESOLVED" &&
                                   l.field("txt").find("peer_id=" + p.peerId()) !=
                                       std::string::npos;
                        },
                        15s)
                    .has_value();
            lab.check(announced, p.label() + "'s advert was not resolved on h1 within 15 s");
        }
        watch.stop();
        HostPeer &h1 = *_peers[0];
        HostPeer &h3 = *_peers[2];
        for (HostPeer *p : _peers)
            checkListening(*p);

        // All three list each other, over mDNS alone.
        lab.waitUntil(
            [&] {
                drainAll();
                for (HostPeer *self : _peers)
                    if (self->peerIds() != othersOf(*self))
                        return false;
                return true;
            },
            30s, "every host lists the two others (h3 only reachable over TLS)");
        int64_t meshAt = 0; // the last peer-connected of the mesh
        for (HostPeer *p : _peers)
            for (const auto &e : p->events("peer-connected"))
                meshAt = std::max(meshAt, i64(e, "ts_ms"));
        const auto rowsAtMesh = allRows();

        // h1 downloads h3's game: h3 is its only source, reached over TLS.
        lab.waitUntil(
            [&] {
                drainAll();
                return remotePeerCount(h1, kGame) == 1;
            },
            20s, "h1 lists h3's " + kGame);
        const Manifest expected = manifest(h3.gameRoot(kGame));
        const uint64_t total = totalSize(fileSizes(h3.gameRoot(kGame)));
        const std::size_t from = h1.logSize();
        const int64_t sentMs = wallMs();
        h1.commandOk("{\"cmd\":\"download\",\"game\":\"" + kGame + "\",\"install\":false}");
        std::size_t end = Peer::npos;
        lab.waitUntil(
            [&] {
                drainAll();
                end =
                    h1.findAnyEvent({"download-finished", "download-failed", "download-cancelled"},
                                    forGame(kGame), 0ms, from);
                return end != Peer::npos;
            },
            120s, "h1's download of " + kGame + " from h3 ends");
        lab.check(h1.logAt(end).name == "download-finished",
                  "h1: expected download-finished, got " + h1.logAt(end).line);
        const Json finished = h1.logAt(end).object;
        const int64_t downloadMs = i64(finished, "ts_ms") - sentMs;
        const auto sources = sourcesOf(finished);
        const Manifest copy = manifest(h1.gameRoot(kGame));
        const bool exact = copy == expected;
        const ChunkTally chunks = tallyChunks(h1, kGame, from, end);

        // QUIC attempts that never connected fail after the handshake timeout: that must not
        // cost a connection either, so the connections are judged only after it has passed
        // for every dial (h3 started last), still reading every peer's output.
        while (wallMs() < h3.startedAtMs() + kHandshakeTimeoutMs + 2000) {
            drainAll();
            std::this_thread::sleep_for(50ms);
        }
        const auto rowsAtEnd = allRows();
        const UdpDrops drops = udpDrops(lab, 3);
        const PeerLabels labels = labelsOf(std::vector<Peer *>(_peers.begin(), _peers.end()));
        std::string transports, connectedCounts, lostEvents, fallbacks;
        std::size_t lost = 0;
        bool oneEach = true;
        for (HostPeer *self : _peers) {
            transports += (transports.empty() ? " " : ", ") + self->label() + ":";
            for (HostPeer *other : _peers) {
                if (other == self)
                    continue;
                const auto row = rowsAtEnd.at(self).find(other->peerId());
                transports += " " + other->label() + "=" +
                              (row == rowsAtEnd.at(self).end() ? "-" : row->second.transport);
                const std::size_t n =
                    self->events("peer-connected", forPeer(other->peerId())).size();
                oneEach = oneEach && n == 1;
                connectedCounts +=
                    " " + self->label() + "->" + other->label() + "=" + std::to_string(n);
            }
            for (const auto &e : self->events("peer-lost")) {
                lostEvents += " " + self->label() + ": " + toJson(e);
                ++lost;
            }
            fallbacks +=
                " " + self->label() + "=" +
                std::to_string(countLines(self->stderrPath(), "trying the next transport as well"));
        }
        const double mibPerS = downloadMs > 0 ? static_cast<double>(total) / kMiB /
                                                    (static_cast<double>(downloadMs) / 1000)
                                              : 0;
        evidence("S60: h3 drops every UDP packet but mDNS (udp port 5353), in and out; over mDNS "
                 "alone (no connect) all three listed each other " +
                 seconds(meshAt - h3.startedAtMs()) + " after h3 started (" +
                 seconds(meshAt - h1.startedAtMs()) + " after h1; bound " + seconds(kMeshBoundMs) +
                 " after h3, fallback " +
                 (fallbackMs.empty() ? std::string("1500 (default)") : fallbackMs) +
                 " ms); list-peers transport" + transports + "; peer-connected per pair and side:" +
                 connectedCounts + ", peer-lost " + std::to_string(lost) +
                 "; h3's firewall dropped " + std::to_string(drops.in - before.in) +
                 " UDP packets in and " + std::to_string(drops.out - before.out) +
                 " out; 'trying the next transport' logged:" + fallbacks + "; h1 downloaded " +
                 fixed(static_cast<double>(total) / kMiB, 1) + " MiB from h3 in " +
                 seconds(downloadMs) + " = " + fixed(mibPerS, 1) + " MiB/s, sources " +
                 describeBytes(sources, labels) + ", " +
                 (exact ? "exact (sha256 " + kEti + "=" + expected.at(kEti).substr(0, 12) + ")"
                        : std::string("NOT exact")));

        lab.check(meshAt - h3.startedAtMs() <= kMeshBoundMs,
                  "the three listed each other only " + seconds(meshAt - h3.startedAtMs()) +
                      " after h3 started (bound " + seconds(kMeshBoundMs) +
                      "): TLS did not come at the fallback time");
        for (const auto *rows : {&rowsAtMesh, &rowsAtEnd}) {
            const std::string when =
                rows == &rowsAtMesh ? "when all three listed each other" : "at the end";
            for (HostPeer *self : _peers) {
                for (const auto &[peerId, row] : rows->at(self)) {
                    auto other = std::find_if(_peers.begin(), _peers.end(),
                                              [&](HostPeer *p) { return p->peerId() == peerId; });
                    lab.check(other != _peers.end() && *other != self,
                              self->label() + " lists an unknown peer " + shortId(peerId));
                    const std::string want =
                        self->host() == 3 || (*other)->host() == 3 ? "tls" : "quic";
                    lab.check(row.transport == want, when + ": " + self->label() + " lists " +
                                                         (*other)->label() + " over '" +
                                                         row.transport + "', expected " + want);
                    lab.check(row.via == "mdns" || row.via == "incoming",
                              when + ": " + self->label() + " lists " + (*other)->label() +
                                  " via '" + row.via + "' (mDNS alone: mdns or incoming)");
                }
                lab.check(rows->at(self).size() == 2, when + ": " + self->label() + " lists " +
                                                          std::to_string(rows->at(self).size()) +
                                                          " peers, not 2");
            }
        }
        lab.check(oneEach, "not exactly one peer-connected per pair and side:" + connectedCounts);
        lab.check(lostEvents.empty(), "peer-lost events:" + lostEvents);
        for (HostPeer *p : _peers)
            for (const auto &e : p->events("peer-discovered"))
                lab.check(str(e, "via") == "mdns",
                          p->label() + ": peer-discovered not via mdns: " + toJson(e));
        lab.check(drops.in - before.in + drops.out - before.out > 0,
                  "h3's firewall dropped no UDP packet: nobody tried QUIC with h3, so the "
                  "fallback was not exercised");
        lab.check(exact, "h1's copy differs from h3's:" + manifestDiff(expected, copy));
        lab.check(u64(finished, "bytes_total") == total && u64(finished, "bytes") == total,
                  "h1: download-finished " + toJson(finished) + ", the game holds " +
                      std::to_string(total) + " B");
        lab.check(sources == std::map<std::string, uint64_t>{{h3.peerId(), total}},
                  "h1's download-finished.sources " + describeBytes(sources, labels) +
                      ", expected all " + std::to_string(total) + " B from h3");
        lab.check(chunks.duplicates() == 0, "h1: chunks verified twice:" + chunks.duplicated());
        lab.check(chunks.bytesByPeer == sources,
                  "h1: download-finished.sources disagree with the download-chunk-finished "
                  "events");
        for (HostPeer *p : _peers)
            checkJsonOnly(lab, *p);
    }

  private:
    NetLab &newLab(const std::string &scenario, int hosts) {
        _peers.clear();
        _lab = std::make_unique<NetLab>(scenario);
        _lab->check(labHosts() >= hosts, "the lab has " + std::to_string(labHosts()) +
                                             " hosts, this test needs " + std::to_string(hosts));
        _lab->writeCatalog(fx::catalogJson());
        return *_lab;
    }
    HostPeer &startPeer(const std::string &label, int host, const std::string &ini) {
        HostPeer &p = _lab->startPeer(label, host, ini, kBothTransports);
        _peers.push_back(&p);
        return p;
    }
    // Reads what every peer wrote: a peer whose stdout pipe is full blocks its event loop.
    void drainAll() {
        for (HostPeer *p : _peers)
            p->drain(5ms);
    }
    std::set<std::string> othersOf(const HostPeer &self) const {
        std::set<std::string> ids;
        for (HostPeer *p : _peers)
            if (p != &self)
                ids.insert(p->peerId());
        return ids;
    }
    // Every peer's list-peers rows by peer_id.
    std::map<HostPeer *, std::map<std::string, Row>> allRows() {
        std::map<HostPeer *, std::map<std::string, Row>> out;
        for (HostPeer *self : _peers) {
            auto &rows = out[self];
            JsonArray list = self->listPeers();
            for (std::size_t i = 0; list && i < list->size(); ++i) {
                Json row = list->getObject(static_cast<unsigned>(i));
                rows[str(row, "peer_id")] = Row{str(row, "transport"), str(row, "via")};
            }
        }
        return out;
    }
    // The peer listens with both transports, QUIC first: on h3 too, where it is the firewall
    // and not a missing listener that keeps QUIC out.
    void checkListening(HostPeer &p) {
        std::vector<std::string> names;
        std::string listed;
        JsonArray listening = p.status()->getArray("transports");
        for (std::size_t i = 0; listening && i < listening->size(); ++i) {
            names.push_back(str(listening->getObject(static_cast<unsigned>(i)), "transport"));
            listed += " " + names.back();
        }
        _lab->check(names == std::vector<std::string>{"quic", "tls"},
                    p.label() + "'s status lists the transports {" + listed +
                        " }, expected quic then tls");
    }

    std::unique_ptr<NetLab> _lab;
    std::vector<HostPeer *> _peers; // h1, h2, h3
};

CPPUNIT_TEST_SUITE_REGISTRATION(NetnsTransportTest);
