// LanDiscovery: the TXT announcement format, which found services become connect
// candidates (another protocol, a missing peer_id and our own advert are ignored), and
// whether each plugin works (status "discovery": its reports, else its start status). The
// discovery plugin is a tiny in-test table that records the advert and hands back the
// browse callbacks, so the glue is driven exactly as a real plugin would.
#include <lanspread/kernel/peers/lan_discovery.hpp>
#include <lanspread/kernel/protocol/messages.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <functional>
#include <map>

#include <string>
#include <vector>

using namespace lanspread::kernel::peers;

namespace {

struct FakeDiscovery {
    const lanspread_discovery_events *events = nullptr;
    std::vector<std::string> advertisedTxt;
    std::string advertisedName;
    uint16_t port = 0;
    int stops = 0;
    // What advertise()/browse() answer, whether they hand out a handle with it, and what
    // advertise() does first (a real plugin emits its state from inside it).
    lanspread_status advertiseStatus = LANSPREAD_OK;
    bool advertHandle = true;
    lanspread_status browseStatus = LANSPREAD_OK;
    bool browseHandle = true;
    std::function<void()> duringAdvertise;
};
FakeDiscovery *g_fake = nullptr;

lanspread_status advertise(void *, const lanspread_service_record *record,
                           lanspread_discovery_advert **out) {
    g_fake->advertisedName = record->instance_name;
    g_fake->port = record->port;
    g_fake->advertisedTxt.clear();
    for (auto t = record->txt; *t != nullptr; ++t)
        g_fake->advertisedTxt.emplace_back(*t);
    if (g_fake->duringAdvertise)
        g_fake->duringAdvertise();
    *out = g_fake->advertHandle ? reinterpret_cast<lanspread_discovery_advert *>(g_fake) : nullptr;
    return g_fake->advertiseStatus;
}
lanspread_status updateTxt(lanspread_discovery_advert *, const char *const *txt) {
    g_fake->advertisedTxt.clear();
    for (auto t = txt; *t != nullptr; ++t)
        g_fake->advertisedTxt.emplace_back(*t);
    return LANSPREAD_OK;
}
void stopAdvert(lanspread_discovery_advert *) {
    ++g_fake->stops;
}
lanspread_status browse(void *, const char *, const lanspread_discovery_events *events,
                        lanspread_discovery_browse **out) {
    g_fake->events = events;
    *out = g_fake->browseHandle ? reinterpret_cast<lanspread_discovery_browse *>(g_fake) : nullptr;
    return g_fake->browseStatus;
}
void stopBrowse(lanspread_discovery_browse *) {
    ++g_fake->stops;
    g_fake->events = nullptr;
}
const lanspread_discovery_v1 kTable = {
    sizeof(lanspread_discovery_v1), &advertise, &updateTxt, &stopAdvert, &browse, &stopBrowse};

const std::string kOwn(64, 'a');
const std::string kOther(64, 'b');

void resolve(const std::string &name, const char *address, uint16_t port,
             std::vector<std::string> txt) {
    std::vector<const char *> pointers;
    for (auto &t : txt)
        pointers.push_back(t.c_str());
    pointers.push_back(nullptr);
    lanspread_discovered_service service{sizeof service, name.c_str(), address, port,
                                         pointers.data()};
    g_fake->events->on_resolved(g_fake->events->user_data, &service);
}

} // namespace

class LanDiscoveryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LanDiscoveryTest);
    CPPUNIT_TEST(announcementRoundTrips);
    CPPUNIT_TEST(announcementErrorsNameTheKey);
    CPPUNIT_TEST(advertisesAndFollowsTheRevision);
    CPPUNIT_TEST(foundPeersBecomeCandidatesOthersAreIgnored);
    CPPUNIT_TEST(stateFollowsThePluginsReports);
    CPPUNIT_TEST(stateReportedInsideAdvertiseWinsOverItsStatus);
    CPPUNIT_TEST(silentPluginIsJudgedByItsStartStatus);
    CPPUNIT_TEST(refusedBrowseNeverWorks);
    CPPUNIT_TEST(aWorkingPluginIsShownFirst);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override { g_fake = &_fake; }
    void tearDown() override { g_fake = nullptr; }

    void announcementRoundTrips() {
        Announcement a{kOther, 1, 42, "bravo's rig", {}};
        auto decoded = decodeAnnouncement(encodeAnnouncement(a));
        CPPUNIT_ASSERT(decoded.ok());
        CPPUNIT_ASSERT_EQUAL(a.peerId, decoded.value().peerId);
        CPPUNIT_ASSERT_EQUAL(a.protocol, decoded.value().protocol);
        CPPUNIT_ASSERT_EQUAL(a.revision, decoded.value().revision);
        CPPUNIT_ASSERT_EQUAL(a.name, decoded.value().name);
        CPPUNIT_ASSERT(decoded.value().transports.empty());
        // The transports, preferred first, each with its port.
        a.transports = {{"quic", 40001}, {"tls", 40002}};
        const auto txt = encodeAnnouncement(a);
        CPPUNIT_ASSERT(std::find(txt.begin(), txt.end(), "transports=quic:40001,tls:40002") !=
                       txt.end());
        decoded = decodeAnnouncement(txt);
        CPPUNIT_ASSERT(decoded.ok());
        CPPUNIT_ASSERT(a.transports == decoded.value().transports);
        // Every TXT string fits DNS-SD's 255-byte limit, even with a long name.
        for (const auto &t : encodeAnnouncement({kOther, 1, 1, std::string(1000, 'n'), {}}))
            CPPUNIT_ASSERT(t.size() <= 255);
    }

    void announcementErrorsNameTheKey() {
        auto noId = decodeAnnouncement({"proto=1"});
        CPPUNIT_ASSERT(!noId.ok());
        CPPUNIT_ASSERT(noId.status().message().find("peer_id") != std::string::npos);
        auto shortId = decodeAnnouncement({"peer_id=abc", "proto=1"});
        CPPUNIT_ASSERT(!shortId.ok());
        auto upper = decodeAnnouncement({"peer_id=" + std::string(64, 'A'), "proto=1"});
        CPPUNIT_ASSERT(!upper.ok());
        auto noProto = decodeAnnouncement({"peer_id=" + kOther});
        CPPUNIT_ASSERT(!noProto.ok());
        CPPUNIT_ASSERT(noProto.status().message().find("proto") != std::string::npos);
        CPPUNIT_ASSERT(!decodeAnnouncement({"peer_id=" + kOther, "proto=1x"}).ok());
        CPPUNIT_ASSERT(!decodeAnnouncement({"peer_id=" + kOther, "proto=1", "rev=-1"}).ok());
        for (const std::string bad : {"", "quic", "quic:", "quic:0", "quic:65536", "QUIC:1",
                                      "quic:1,", ",tls:2", "quic:1;tls:2", "a b:1"}) {
            auto decoded =
                decodeAnnouncement({"peer_id=" + kOther, "proto=1", "transports=" + bad});
            CPPUNIT_ASSERT_MESSAGE(bad, !decoded.ok());
            CPPUNIT_ASSERT_MESSAGE(bad, decoded.status().message().find("transports") !=
                                            std::string::npos);
        }
    }

    void advertisesAndFollowsTheRevision() {
        LanDiscovery discovery(kOwn, [](const std::string &, const std::string &,
                                        const std::map<std::string, std::string> &) {});
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 7,
                        {{"quic", 4433}, {"tls", 4434}});
        CPPUNIT_ASSERT_EQUAL(std::string("alpha"), _fake.advertisedName);
        CPPUNIT_ASSERT_EQUAL(uint16_t(4433), _fake.port);
        auto own = decodeAnnouncement(_fake.advertisedTxt);
        CPPUNIT_ASSERT(own.ok());
        CPPUNIT_ASSERT_EQUAL(kOwn, own.value().peerId);
        CPPUNIT_ASSERT_EQUAL(lanspread::kernel::protocol::PROTOCOL_VERSION, own.value().protocol);
        CPPUNIT_ASSERT_EQUAL(uint64_t(7), own.value().revision);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), own.value().transports.size());
        CPPUNIT_ASSERT_EQUAL(uint16_t(4434), own.value().transports[1].port);
        discovery.updateRevision(8);
        CPPUNIT_ASSERT_EQUAL(uint64_t(8), decodeAnnouncement(_fake.advertisedTxt).value().revision);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2),
                             decodeAnnouncement(_fake.advertisedTxt).value().transports.size());
        discovery.stop();
        CPPUNIT_ASSERT_EQUAL(2, _fake.stops);
    }

    void foundPeersBecomeCandidatesOthersAreIgnored() {
        std::vector<std::pair<std::string, std::string>> found;
        std::vector<std::map<std::string, std::string>> foundTransports;
        LanDiscovery discovery(kOwn, [&](const std::string &id, const std::string &addr,
                                         const std::map<std::string, std::string> &byTransport) {
            found.emplace_back(id, addr);
            foundTransports.push_back(byTransport);
        });
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 1);
        const std::string proto =
            "proto=" + std::to_string(lanspread::kernel::protocol::PROTOCOL_VERSION);
        resolve("self", "10.0.0.1", 4433, {"peer_id=" + kOwn, proto});
        resolve("old", "10.0.0.2", 4433, {"peer_id=" + kOther, "proto=999"});
        resolve("anon", "10.0.0.3", 4433, {proto});
        resolve("bravo", "10.0.0.4", 5000, {"peer_id=" + kOther, proto, "rev=3", "name=bravo"});
        resolve("v6", "fe80::1", 5001,
                {"peer_id=" + kOther, proto, "transports=quic:5001,tls:5002"});
        resolve("garbled", "10.0.0.5", 5000, {"peer_id=" + kOther, proto, "transports=quic"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), found.size());
        CPPUNIT_ASSERT_EQUAL(kOther, found[0].first);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.4:5000"), found[0].second);
        CPPUNIT_ASSERT(foundTransports[0].empty());
        CPPUNIT_ASSERT_EQUAL(std::string("[fe80::1]:5001"), found[1].second);
        const std::map<std::string, std::string> v6{{"quic", "[fe80::1]:5001"},
                                                    {"tls", "[fe80::1]:5002"}};
        CPPUNIT_ASSERT(v6 == foundTransports[1]);
    }

    void stateFollowsThePluginsReports() {
        LanDiscovery discovery(kOwn, ignoreFound());
        checkView(discovery, "off", "", ""); // before start: nothing to show
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 1);
        checkView(discovery, "working", "fake", "");
        discovery.reportState("fake", "not-working", "avahi-daemon is not running");
        checkView(discovery, "not-working", "fake", "avahi-daemon is not running");
        // Another plugin's report, and a state that is neither, change nothing.
        discovery.reportState("org.other", "working", "");
        discovery.reportState("fake", "sleeping", "");
        checkView(discovery, "not-working", "fake", "avahi-daemon is not running");
        discovery.reportState("fake", "working", "stale words");
        checkView(discovery, "working", "fake", "");
        discovery.reportState("fake", "not-working", "");
        checkView(discovery, "not-working", "fake", "the plugin reports that it is not working");
        discovery.stop();
        checkView(discovery, "off", "", "");
    }

    // A plugin whose daemon is unreachable reports it from inside advertise(), which then
    // returns E_IO with a handle: the plugin's reason is shown, not the status.
    void stateReportedInsideAdvertiseWinsOverItsStatus() {
        LanDiscovery discovery(kOwn, ignoreFound());
        _fake.advertiseStatus = LANSPREAD_E_IO;
        _fake.duringAdvertise = [&] {
            discovery.reportState("fake", "not-working", "avahi-daemon is not running");
        };
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 1);
        checkView(discovery, "not-working", "fake", "avahi-daemon is not running");
        discovery.reportState("fake", "working", ""); // it came back
        checkView(discovery, "working", "fake", "");
    }

    void silentPluginIsJudgedByItsStartStatus() {
        LanDiscovery discovery(kOwn, ignoreFound());
        _fake.advertiseStatus = LANSPREAD_E_IO; // with a handle: it retries
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 1);
        checkView(discovery, "not-working", "fake", "advertising failed (E_IO); retrying");
        discovery.reportState("fake", "working", "");
        checkView(discovery, "working", "fake", "");
    }

    // browse() failing without a handle is never retried: no later report makes it work.
    void refusedBrowseNeverWorks() {
        LanDiscovery discovery(kOwn, ignoreFound());
        _fake.browseStatus = LANSPREAD_E_INVALID_ARGUMENT;
        _fake.browseHandle = false;
        discovery.start({{"fake", &kTable, nullptr}}, "alpha", 4433, 1);
        checkView(discovery, "not-working", "fake", "browsing failed (E_INVALID_ARGUMENT)");
        discovery.reportState("fake", "working", "");
        checkView(discovery, "not-working", "fake", "browsing failed (E_INVALID_ARGUMENT)");
    }

    void aWorkingPluginIsShownFirst() {
        LanDiscovery discovery(kOwn, ignoreFound());
        discovery.start({{"first", &kTable, nullptr}, {"second", &kTable, nullptr}}, "alpha", 4433,
                        1);
        discovery.reportState("first", "not-working", "its daemon is gone");
        checkView(discovery, "working", "second", "");
        discovery.reportState("second", "not-working", "its daemon is gone too");
        checkView(discovery, "not-working", "first", "its daemon is gone");
    }

  private:
    static LanDiscovery::Found ignoreFound() {
        return [](const std::string &, const std::string &,
                  const std::map<std::string, std::string> &) {};
    }
    static void checkView(const LanDiscovery &discovery, const std::string &state,
                          const std::string &plugin, const std::string &reason) {
        const auto view = discovery.view();
        CPPUNIT_ASSERT_EQUAL(state, view.state);
        CPPUNIT_ASSERT_EQUAL(plugin, view.plugin);
        CPPUNIT_ASSERT_EQUAL(reason, view.reason);
    }

    FakeDiscovery _fake;
};

CPPUNIT_TEST_SUITE_REGISTRATION(LanDiscoveryTest);
