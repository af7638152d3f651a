// The command/event contract (kernel/src/contract): every ErrorCode's stable string, and the
// exact lines a frontend reads for results and events (field names, order, JSON types).
#include <lanspread/kernel/contract/error_code.hpp>
#include <lanspread/kernel/contract/events.hpp>
#include <lanspread/kernel/contract/results.hpp>
#include <lanspread/kernel/host/event_bus.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace contract = lanspread::kernel::contract;
using contract::ErrorCode;
using lanspread::kernel::host::EventBus;

namespace {

// The line a subscriber gets, with the clock's ts_ms replaced by 0 so it compares exactly.
std::string line(const contract::Event &event) {
    const std::string real = EventBus::formatLine(event.topic, event.payload);
    static const std::regex ts("\"ts_ms\":[0-9]+,");
    CPPUNIT_ASSERT_MESSAGE(real, std::regex_search(real, ts));
    return std::regex_replace(real, ts, "\"ts_ms\":0,");
}

// A command's success line around data, as the control service sends it.
std::string resultLine(const Poco::JSON::Object &data) {
    return line(contract::commandSucceeded(std::string("7"), data));
}

} // namespace

class ContractTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ContractTest);
    CPPUNIT_TEST(everyErrorCodeHasItsDocumentedString);
    CPPUNIT_TEST(outcomeCarriesTheValueOrTheFailure);
    CPPUNIT_TEST(failedResultLine);
    CPPUNIT_TEST(succeededResultLineKeepsTheIdsType);
    CPPUNIT_TEST(statusResult);
    CPPUNIT_TEST(listGamesResult);
    CPPUNIT_TEST(smallResults);
    CPPUNIT_TEST(peerEvents);
    CPPUNIT_TEST(downloadEvents);
    CPPUNIT_TEST(libraryAndOperationEvents);
    CPPUNIT_TEST(installEvents);
    CPPUNIT_TEST_SUITE_END();

  public:
    void everyErrorCodeHasItsDocumentedString() {
        // The CLI contract's stable strings (what scripts and the scenario suites match).
        const std::vector<std::pair<ErrorCode, std::string>> documented = {
            {ErrorCode::InvalidCommand, "invalid-command"},
            {ErrorCode::UnknownGame, "unknown-game"},
            {ErrorCode::NoPeersHaveGame, "no-peers-have-game"},
            {ErrorCode::OperationInProgress, "operation-in-progress"},
            {ErrorCode::SelfConnect, "self-connect"},
            {ErrorCode::ConnectFailed, "connect-failed"},
            {ErrorCode::NotDownloaded, "not-downloaded"},
            {ErrorCode::NotDownloading, "not-downloading"},
            {ErrorCode::NotInstalled, "not-installed"},
            {ErrorCode::AlreadyInstalled, "already-installed"},
            {ErrorCode::AlreadyDownloaded, "already-downloaded"},
            {ErrorCode::InsufficientSpace, "insufficient-space"},
            {ErrorCode::Timeout, "timeout"},
            {ErrorCode::IoError, "io-error"},
            {ErrorCode::InternalError, "internal-error"},
        };
        for (const auto &[code, text] : documented)
            CPPUNIT_ASSERT_EQUAL(text, std::string(contract::codeString(code)));
        // Every code is documented above, and no two codes share a string.
        CPPUNIT_ASSERT_EQUAL(contract::kAllErrorCodes.size(), documented.size());
        std::set<std::string> strings;
        for (ErrorCode code : contract::kAllErrorCodes) {
            bool listed = false;
            for (const auto &entry : documented)
                listed = listed || entry.first == code;
            CPPUNIT_ASSERT_MESSAGE(contract::codeString(code), listed);
            CPPUNIT_ASSERT_MESSAGE(contract::codeString(code),
                                   strings.insert(contract::codeString(code)).second);
        }
    }

    void outcomeCarriesTheValueOrTheFailure() {
        contract::Outcome<std::string> connected(std::string("abc"));
        CPPUNIT_ASSERT(connected.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), connected.value());
        CPPUNIT_ASSERT_THROW(connected.failure(), std::logic_error);
        contract::Outcome<std::string> refused(
            contract::Failure{ErrorCode::SelfConnect, "self-connect: that is us"});
        CPPUNIT_ASSERT(!refused);
        CPPUNIT_ASSERT(refused.failure().code == ErrorCode::SelfConnect);
        CPPUNIT_ASSERT_THROW(refused.value(), std::logic_error);
        contract::Outcome<void> done;
        CPPUNIT_ASSERT(done.ok());
        contract::Outcome<void> notDone(contract::Failure{ErrorCode::NotDownloaded, "none"});
        CPPUNIT_ASSERT(notDone.failure().code == ErrorCode::NotDownloaded);
    }

    void failedResultLine() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"result","ts_ms":0,"id":"7","ok":false,)"
                        R"("error":{"code":"operation-in-progress","message":"g is busy"}})"),
            line(contract::commandFailed(std::string("7"),
                                         {ErrorCode::OperationInProgress, "g is busy"})));
        // A line that was not a command has no id: null.
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"result","ts_ms":0,"id":null,"ok":false,)"
                        R"("error":{"code":"invalid-command","message":"not JSON"}})"),
            line(contract::commandFailed(Poco::Dynamic::Var(),
                                         {ErrorCode::InvalidCommand, "not JSON"})));
    }

    void succeededResultLineKeepsTheIdsType() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"result","ts_ms":0,"id":42,"ok":true,"data":{"peer_id":"p"}})"),
            line(contract::commandSucceeded(42, contract::connectResult("p"))));
    }

    void statusResult() {
        contract::StatusView status;
        status.name = "alpha";
        status.version = "1.2.3";
        status.pid = 99;
        status.listenAddr = "127.0.0.1:4433";
        status.transports = {{"quic", "org.lanspread.transport.quic", "127.0.0.1:4433"},
                             {"tls", "org.lanspread.transport.tls", "127.0.0.1:4434"}};
        status.gamesDir = "/g";
        status.stateDir = "/s";
        status.plugins = {{"org.x", "transport", "0.1", "/p/x.so"}};
        status.rejectedPlugins = {{"", "not-found", "org.y"}};
        status.peerId = "abc";
        status.catalog = "/c.json";
        status.activeOperations = {{"ggoo", "Downloading"}};
        status.protocolVersion = 1;
        status.outboundTransfers = {{"cnctw", 2}};
        status.peerCount = 3;
        status.libraryRevision = 5;
        status.discovery = {"not-working", "org.lanspread.discovery.dnssd",
                            "avahi-daemon is not running"};
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"event":"result","ts_ms":0,"id":"7","ok":true,"data":{"name":"alpha",)"
                R"("version":"1.2.3","pid":99,"listen_addr":"127.0.0.1:4433",)"
                R"("transports":[{"transport":"quic","plugin":"org.lanspread.transport.quic",)"
                R"("listen_addr":"127.0.0.1:4433"},{"transport":"tls",)"
                R"("plugin":"org.lanspread.transport.tls","listen_addr":"127.0.0.1:4434"}],)"
                R"("games_dir":"/g",)"
                R"("state_dir":"/s","plugins":[{"id":"org.x","kind":"transport","version":"0.1",)"
                R"("path":"/p/x.so"}],"rejected_plugins":[{"path":"","failure":"not-found",)"
                R"("reason":"org.y"}],"peer_id":"abc","catalog":"/c.json",)"
                R"("active_operations":{"ggoo":"Downloading"},"protocol_version":1,)"
                R"("outbound_transfers":{"cnctw":2},"peer_count":3,"library_revision":5,)"
                R"("discovery":{"state":"not-working","plugin":"org.lanspread.discovery.dnssd",)"
                R"("reason":"avahi-daemon is not running"}}})"),
            resultLine(contract::statusResult(status)));
    }

    void listGamesResult() {
        const std::vector<contract::LocalGameView> local = {
            {"css", "Counter-Strike: Source", "20250301", true, false, "Ready", 1234}};
        // A game only peers downloading it have: no complete source, no size known yet.
        const std::vector<contract::RemoteGameView> remote = {{"ggoo", "Goo", "3", 2, 1, 300},
                                                              {"ut", "UT", "4", 0, 3, 0}};
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"event":"result","ts_ms":0,"id":"7","ok":true,"data":{"local":[{"id":"css",)"
                R"("name":"Counter-Strike: Source","version":"20250301","downloaded":true,)"
                R"("installed":false,"availability":"Ready","size":1234}],"remote":[{"id":"ggoo",)"
                R"("name":"Goo","eti_game_version":"3","peer_count":2,"partial_peers":1,)"
                R"("size":300},{"id":"ut","name":"UT","eti_game_version":"4","peer_count":0,)"
                R"("partial_peers":3,"size":0}]}})"),
            resultLine(contract::listGamesResult(local, remote)));
    }

    void smallResults() {
        const std::string head = R"({"event":"result","ts_ms":0,"id":"7","ok":true,"data":)";
        CPPUNIT_ASSERT_EQUAL(head + R"({"accepted":true}})",
                             resultLine(contract::acceptedResult()));
        CPPUNIT_ASSERT_EQUAL(head + R"({"accepted":true,"sources":2}})",
                             resultLine(contract::downloadAcceptedResult(2)));
        CPPUNIT_ASSERT_EQUAL(head + R"({"removed":true}})", resultLine(contract::removeResult()));
        CPPUNIT_ASSERT_EQUAL(head + R"({"accepted":true,"games_dir":"/new"}})",
                             resultLine(contract::setGameDirResult("/new")));
        CPPUNIT_ASSERT_EQUAL(head + R"({"peer_count":4}})",
                             resultLine(contract::waitPeersResult(4)));
        CPPUNIT_ASSERT_EQUAL(head + R"({"shutting_down":true}})",
                             resultLine(contract::shutdownResult()));
        CPPUNIT_ASSERT_EQUAL(head + R"({"already_applied":false,"account_name_written":true,)"
                                    R"("language_written":false,"persona_name_written":true}})",
                             resultLine(contract::playResult({false, true, false, true})));
        CPPUNIT_ASSERT_EQUAL(head +
                                 R"({"peers":[{"peer_id":"p1","name":"bravo",)"
                                 R"("addr":"10.0.0.2:4433","via":"mdns","transport":"tls",)"
                                 R"("games":[{"id":"ggoo",)"
                                 R"("version":"3","availability":"Ready"}],"partials":[{"id":"ut",)"
                                 R"("version":"4","chunks_have":7,"chunk_count":4000}]}]}})",
                             resultLine(contract::listPeersResult({{"p1",
                                                                    "bravo",
                                                                    "10.0.0.2:4433",
                                                                    "mdns",
                                                                    {{"ggoo", "3", "Ready"}},
                                                                    {{"ut", "4", 7, 4000}},
                                                                    "tls"}})));
    }

    void peerEvents() {
        const contract::PeerView bravo{"p1",
                                       "bravo",
                                       "10.0.0.2:4433",
                                       "connect",
                                       {{"cnctw", "1", "Stale"}, {"ggoo", "3", "Ready"}},
                                       {{"bf", "2", 0, 1}, {"ut", "4", 12, 12}},
                                       "quic"};
        const std::string partials = R"("partials":[{"id":"bf","version":"2","chunks_have":0,)"
                                     R"("chunk_count":1},{"id":"ut","version":"4",)"
                                     R"("chunks_have":12,"chunk_count":12}]})";
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"peer-connected","ts_ms":0,"peer_id":"p1",)"
                        R"("addr":"10.0.0.2:4433","name":"bravo","games":[{"id":"cnctw",)"
                        R"("version":"1","availability":"Stale"},{"id":"ggoo","version":"3",)"
                        R"("availability":"Ready"}],)") +
                partials,
            line(contract::peerConnected(bravo)));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"peer-updated","ts_ms":0,"peer_id":"p1",)"
                        R"("addr":"10.0.0.2:4433","games":[{"id":"cnctw","version":"1",)"
                        R"("availability":"Stale"},{"id":"ggoo","version":"3",)"
                        R"("availability":"Ready"}],)") +
                partials,
            line(contract::peerUpdated(bravo)));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"peer-discovered","ts_ms":0,"peer_id":"p1",)"
                                         R"("addr":"10.0.0.2:4433","via":"mdns"})"),
                             line(contract::peerDiscovered("p1", "10.0.0.2:4433", "mdns")));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"peer-lost","ts_ms":0,"peer_id":"p1","addr":"10.0.0.2:4433",)"
                        R"("reason":"goodbye"})"),
            line(contract::peerLost("p1", "10.0.0.2:4433", "goodbye")));
    }

    void downloadEvents() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"got-game-files","ts_ms":0,"game":"ggoo","files":[)"
                        R"({"path":"ggoo.eti","size":10},{"path":"version.ini","size":2}],)"
                        R"("peers":["a:1","b:2"],"peer_ids":["pa","pb"]})"),
            line(contract::gotGameFiles("ggoo", {{"ggoo.eti", 10}, {"version.ini", 2}},
                                        {"a:1", "b:2"}, {"pa", "pb"})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-begin","ts_ms":0,"game":"ggoo","bytes_total":12,)"
                        R"("bytes_resumed":2,"peers":["a:1"]})"),
            line(contract::downloadBegin("ggoo", 12, 2, {"a:1"})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-progress","ts_ms":0,"game":"ggoo","bytes_done":6,)"
                        R"("bytes_total":12,"mib_per_s":1.5,"active_peers":2})"),
            line(contract::downloadProgress({"ggoo", 6, 12, 1.5, 2})));
        const contract::ChunkView chunk{"ggoo", "ggoo.eti", 33554432, 1024, "pa", "a:1"};
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-chunk-finished","ts_ms":0,"game":"ggoo",)"
                        R"("path":"ggoo.eti","offset":33554432,"bytes":1024,"peer_id":"pa",)"
                        R"("peer_addr":"a:1"})"),
            line(contract::downloadChunkFinished(chunk)));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-chunk-rejected","ts_ms":0,"game":"ggoo",)"
                        R"("path":"ggoo.eti","offset":33554432,"bytes":1024,"peer_id":"pa",)"
                        R"("peer_addr":"a:1","reason":"sha256 x != advertised y"})"),
            line(contract::downloadChunkRejected(chunk, "sha256 x != advertised y")));
        // mbit_per_s is mib_per_s * 8.388608 (2^20 * 8 / 10^6).
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-finished","ts_ms":0,"game":"ggoo","bytes":12,)"
                        R"("bytes_total":12,"duration_ms":2000,"mib_per_s":0.5,)"
                        R"("mbit_per_s":4.194304,"sources":{"pa":8,"pb":4}})"),
            line(contract::downloadFinished({"ggoo", 12, 12, 2000, 0.5, {{"pb", 4}, {"pa", 8}}})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"download-failed","ts_ms":0,"game":"ggoo","error":"tie"})"),
            line(contract::downloadFailed("ggoo", "tie")));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"download-cancelled","ts_ms":0,"game":"g"})"),
                             line(contract::downloadCancelled("g")));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"download-peers-gone","ts_ms":0,"game":"g"})"),
                             line(contract::downloadPeersGone("g")));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"no-peers-have-game","ts_ms":0,"game":"g"})"),
                             line(contract::noPeersHaveGame("g")));
    }

    void libraryAndOperationEvents() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"local-library-changed","ts_ms":0,"revision":3,"games":[)"
                        R"({"id":"css","name":"CSS","version":"","downloaded":false,)"
                        R"("installed":true,"availability":"LocalOnly","size":0}]})"),
            line(contract::localLibraryChanged(3,
                                               {{"css", "CSS", "", false, true, "LocalOnly", 0}})));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"active-operations","ts_ms":0,"operations":)"
                        R"({"a":"Installing","b":"Downloading"}})"),
            line(contract::activeOperations({{"b", "Downloading"}, {"a", "Installing"}})));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"local-peer-ready","ts_ms":0,"peer_id":"p",)"
                                         R"("listen_addr":"0.0.0.0:4433"})"),
                             line(contract::localPeerReady("p", "0.0.0.0:4433")));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"runtime-failed","ts_ms":0,"component":"org.q",)"
                        R"("error":"port in use"})"),
            line(contract::runtimeFailed("org.q", "port in use")));
    }

    void installEvents() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"install-begin","ts_ms":0,"game":"g","update":true})"),
            line(contract::installBegin("g", true)));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"install-finished","ts_ms":0,"game":"g","files":2,)"
                        R"("bytes":30,"updated":false})"),
            line(contract::installFinished("g", 2, 30, false)));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"install-failed","ts_ms":0,"game":"g","error":"e"})"),
            line(contract::installFailed("g", "e")));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"uninstall-begin","ts_ms":0,"game":"g"})"),
                             line(contract::uninstallBegin("g")));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"event":"uninstall-finished","ts_ms":0,"game":"g"})"),
                             line(contract::uninstallFinished("g")));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"event":"uninstall-failed","ts_ms":0,"game":"g","error":"e"})"),
            line(contract::uninstallFailed("g", "e")));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ContractTest);
