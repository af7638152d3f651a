// The party-key scenarios (S61a-S61d, docs/scenarios.md): real lanspreadd processes on
// 127.0.0.1 with lanspread.party_key (a passphrase) or lanspread.party_key_file. Insiders with
// the same key see each other and download (SHA-256 manifests prove the copy); an outsider
// without the key, or with another, completes no session: both sides log party-key-mismatch
// once per attempt and publish peer-refused once, nobody lists the other's games, a download
// finds no source, and nothing dials again in a 5 s window. A peer restarted with a changed
// key joins those holding the new one and is refused by those holding the old.
#include "scenario_support.hpp"

#include <lanspread/fixtures/game_set.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <filesystem>
#include <sstream>
#include <string>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;

namespace {

const std::string kKey = "lan party in room 214, 2026";
const std::string kOtherKey = "another party entirely";
const std::string kMismatch = "party-key-mismatch";

std::string keyIni(const std::string &passphrase) {
    return "[lanspread]\nparty_key = " + passphrase + "\n";
}

// How many lines of the peer's stderr (this run) contain needle.
std::size_t logLines(const Peer &peer, const std::string &needle) {
    std::istringstream log(readWholeFile(peer.stderrPath()));
    std::size_t count = 0;
    for (std::string line; std::getline(log, line);)
        count += line.find(needle) != std::string::npos ? 1 : 0;
    return count;
}

std::size_t refusedEvents(const Peer &peer, const std::string &peerId) {
    return peer
        .events(
            "peer-refused",
            [&](const Json &e) {
                return str(e, "peer_id") == peerId && str(e, "code") == kMismatch;
            },
            peer.runStart())
        .size();
}

} // namespace

class PartyKeyScenariosTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(PartyKeyScenariosTest);
#define LANSPREAD_SCENARIO(test) CPPUNIT_TEST(test);
#include "party_key_scenarios.def"
#undef LANSPREAD_SCENARIO
    CPPUNIT_TEST_SUITE_END();

  public:
    // S61a: alpha holds the key as a passphrase, bravo the same secret in a 0600 key file:
    // they connect, list each other's libraries and bravo downloads bf1942 exactly.
    void S61a_insidersWithTheSameKey() {
        Lab &lab = newLab("S61a");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        const std::string keyFile = lab.dir() + "/party.key";
        writeWholeFile(keyFile, kKey + "\n");
        ::chmod(keyFile.c_str(), 0600);
        Peer &alpha = lab.startPeer("alpha", keyIni(kKey));
        Peer &bravo = lab.startPeer("bravo", "[lanspread]\nparty_key_file = " + keyFile + "\n");

        lab.check(bravo.connect(alpha) == alpha.peerId(), "bravo did not connect to alpha");
        waitRemote(bravo, "bf1942", 1);
        lab.waitUntil([&] { return alpha.peerIds() == std::set<std::string>{bravo.peerId()}; }, 10s,
                      "alpha lists bravo");
        const std::size_t from = bravo.logSize();
        bravo.commandOk(R"({"cmd":"download","game":"bf1942","install":false})");
        const std::size_t end = waitDownloadEnd(bravo, "bf1942", from, 60s);
        auto t = verifyTransfer(bravo, "bf1942", alpha.gameRoot("bf1942"), from, end);
        for (Peer *p : {&alpha, &bravo}) {
            lab.check(logLines(*p, kMismatch) == 0, p->label() + " logged " + kMismatch);
            lab.check(p->events("peer-refused").empty(), p->label() + " refused a peer");
            lab.check(logLines(*p, kKey) == 0, p->label() + " logged the passphrase");
        }
        evidence("S61a: alpha (party_key) and bravo (party_key_file, same secret) connect over " +
                 transportUnderTest() + ", list each other, bravo downloads bf1942 " +
                 std::to_string(t.total) + " B exactly (" + t.sha("bf1942.eti") +
                 "); 0 party-key-mismatch lines, passphrase in no log");
    }

    // S61b: an outsider without a key.
    void S61b_outsiderWithoutKey() {
        outsider("S61b", "");
    }
    // S61c: an outsider with another key.
    void S61c_outsiderWithWrongKey() {
        outsider("S61c", keyIni(kOtherKey));
    }

    // S61d: bravo holds the old key and is refused; restarted with alpha's key it joins and
    // downloads; restarted with the old key again it is refused again.
    void S61d_restartWithChangedKey() {
        Lab &lab = newLab("S61d");
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        Peer &alpha = lab.startPeer("alpha", keyIni(kKey));
        Peer &bravo = lab.addPeer("bravo");
        auto startBravo = [&](const std::string &key) {
            bravo.start("bravo", lab.gamesDirOf("bravo"), lab.stateDirOf("bravo"),
                        lab.catalogPath(), keyIni(key));
        };
        auto refused = [&](const std::string &step) {
            const std::size_t alphaBefore = alpha.logSize();
            Json answer = bravo.command(connectTo(alpha));
            const std::string message = str(answer->getObject("error"), "message");
            lab.check(!flag(answer, "ok") && message.find(kMismatch) != std::string::npos,
                      step + ": connect was answered " + toJson(answer));
            alpha.waitEvent("peer-refused", forPeer(bravo.peerId()), 10s, alphaBefore,
                            step + ": alpha refuses bravo");
            lab.check(bravo.listPeers()->size() == 0 && remoteRows(bravo).empty(),
                      step + ": bravo sees a peer or a game");
            lab.check(bravo.commandError(R"({"cmd":"download","game":"bf1942","install":false})") ==
                          "no-peers-have-game",
                      step + ": the download found a source");
        };

        startBravo(kOtherKey);
        refused("old key");
        lab.check(bravo.shutdown() == 0, "bravo did not shut down cleanly");

        startBravo(kKey); // the key changed: a restart
        lab.check(bravo.connect(alpha) == alpha.peerId(), "bravo with the new key not connected");
        waitRemote(bravo, "bf1942", 1);
        const std::size_t from = bravo.logSize();
        bravo.commandOk(R"({"cmd":"download","game":"bf1942","install":false})");
        const std::size_t end = waitDownloadEnd(bravo, "bf1942", from, 60s);
        auto t = verifyTransfer(bravo, "bf1942", alpha.gameRoot("bf1942"), from, end);
        lab.check(bravo.shutdown() == 0, "bravo did not shut down cleanly");

        std::filesystem::remove_all(lab.gamesDirOf("bravo") + "/bf1942");
        startBravo(kOtherKey); // back to the old key
        refused("old key again");
        lab.check(alpha.listPeers()->size() == 0, "alpha still lists bravo");
        evidence("S61d: bravo with the old key refused (" + kMismatch +
                 "), restarted with the new key joins over " + transportUnderTest() +
                 " and downloads bf1942 exactly (" + t.sha("bf1942.eti") +
                 "), restarted with the old key refused again; alpha published " +
                 std::to_string(alpha.events("peer-refused").size()) + " peer-refused");
    }

  private:
    static std::string connectTo(const Peer &other) {
        return "{\"cmd\":\"connect\",\"addr\":" + jsonString(other.listenAddr()) + "}";
    }

    // The insider (alpha, with kKey and the alpha games) and an outsider (with outsiderIni:
    // no key or another one, and the bravo games) try both directions: each attempt is refused
    // on both sides with one party-key-mismatch line and one peer-refused each, no game is
    // seen either way, a download finds no source, and in 5 s nothing dials again.
    void outsider(const std::string &scenario, const std::string &outsiderIni) {
        Lab &lab = newLab(scenario);
        fx::writeGameSet(lab.gamesDirOf("alpha"), "alpha");
        fx::writeGameSet(lab.gamesDirOf("outsider"), "bravo");
        Peer &alpha = lab.startPeer("alpha", keyIni(kKey));
        Peer &outsider = lab.startPeer("outsider", outsiderIni);
        std::string evidenceCounts;
        int attempt = 0;
        for (auto [dialer, listener] :
             {std::pair<Peer *, Peer *>{&outsider, &alpha}, {&alpha, &outsider}}) {
            ++attempt;
            Json answer = dialer->command(connectTo(*listener));
            Json error = answer->getObject("error");
            lab.check(!flag(answer, "ok") && str(error, "code") == "connect-failed" &&
                          str(error, "message").find(kMismatch) != std::string::npos,
                      dialer->label() + " -> " + listener->label() + ": connect answered " +
                          toJson(answer));
            // Both sides said so: a peer-refused naming the other, and one log line each.
            alpha.waitEvent("peer-refused", forPeer(outsider.peerId()), 10s, alpha.runStart(),
                            "alpha refuses the outsider");
            outsider.waitEvent("peer-refused", forPeer(alpha.peerId()), 10s, outsider.runStart(),
                               "the outsider refuses alpha");
            // The retry-storm window: nothing dials again.
            alpha.drain(5s);
            outsider.drain(500ms);
            for (Peer *p : {&alpha, &outsider}) {
                const Peer &other = p == &alpha ? outsider : alpha;
                const std::size_t lines = logLines(*p, "refused: " + kMismatch);
                const std::size_t events = refusedEvents(*p, other.peerId());
                lab.check(lines == std::size_t(attempt) && events == std::size_t(attempt),
                          p->label() + " after attempt " + std::to_string(attempt) + ": " +
                              std::to_string(lines) + " refusal lines, " + std::to_string(events) +
                              " peer-refused (want " + std::to_string(attempt) + " each)");
                lab.check(p->listPeers()->size() == 0, p->label() + " lists a peer");
                lab.check(remoteRows(*p).empty(), p->label() + " sees a remote game");
                lab.check(p->events("peer-connected").empty(), p->label() + " had a session");
            }
            evidenceCounts += (attempt == 1 ? "" : "; ") + dialer->label() + " dials " +
                              listener->label() + ": " +
                              std::to_string(logLines(alpha, "refused: " + kMismatch)) + "/" +
                              std::to_string(logLines(outsider, "refused: " + kMismatch)) +
                              " lines so far in 5 s";
        }
        // Neither fetches anything from the other.
        lab.check(outsider.commandError(R"({"cmd":"download","game":"bf1942","install":false})") ==
                      "no-peers-have-game",
                  "the outsider's download of alpha's bf1942 found a source");
        lab.check(alpha.commandError(R"({"cmd":"download","game":"bfbc2","install":false})") ==
                      "no-peers-have-game",
                  "alpha's download of the outsider's bfbc2 found a source");
        lab.check(!std::filesystem::exists(outsider.gameRoot("bf1942")) &&
                      !std::filesystem::exists(alpha.gameRoot("bfbc2")),
                  "a game root appeared");
        for (Peer *p : {&alpha, &outsider})
            lab.check(logLines(*p, kKey) == 0 && logLines(*p, kOtherKey) == 0,
                      p->label() + " logged a passphrase");
        evidence(scenario + ": outsider (" +
                 (outsiderIni.empty() ? std::string("no key") : std::string("another key")) +
                 ") and alpha (party_key) over " + transportUnderTest() +
                 ": every attempt refused on both sides with " + kMismatch +
                 " (alpha/outsider refusal lines: " + evidenceCounts +
                 "), 1 peer-refused per side per attempt, 0 peers and 0 remote games either "
                 "way, downloads: no-peers-have-game");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PartyKeyScenariosTest);
