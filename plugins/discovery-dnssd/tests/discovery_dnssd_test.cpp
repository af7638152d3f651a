// discovery-dnssd driven through its C entry and vtable, as the kernel drives it, with the
// SDK's FakeHost (manual reactor and clock) and a scripted DnsSd behind the plugin's seam
// (fake_dnssd.hpp). TXT encoding runs the real TXTRecord* code of libdns_sd.
#include "discovery_dnssd.hpp"
#include "fake_dnssd.hpp"
#include "txt_record.hpp"

#include <lanspread/kinds/discovery.h>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

using lanspread::plugins::dnssd::decodeTxt;
using lanspread::plugins::dnssd::DnssdDiscovery;
using lanspread::plugins::dnssd::encodeTxt;
using lanspread::plugins::dnssd::kErrBadParam;
using lanspread::plugins::dnssd::kErrInvalid;
using lanspread::plugins::dnssd::kErrUnknown;
using lanspread::plugins::dnssd::kRecordClassIn;
using lanspread::plugins::dnssd::kRecordTypeA;
using lanspread::plugins::dnssd::truncateInstanceName;
using lanspread::plugins::dnssd::testing::FakeDnsSd;
using Kind = FakeDnsSd::Kind;
using Strings = std::vector<std::string>;
using Bytes = std::vector<uint8_t>;

namespace {

// libdns_sd prints its "Apple Bonjour compatibility layer" banner on first use otherwise.
const bool kQuietCompat = (setenv("AVAHI_COMPAT_NOWARN", "1", 0), true);

constexpr uint64_t kMs = 1'000'000;
const char *const kType = "_lanspread._udp";

Bytes txtBytes(const Strings &items) {
    auto encoded = encodeTxt(items);
    CPPUNIT_ASSERT_MESSAGE(encoded.status().describe(), encoded.ok());
    return encoded.value();
}

// The host side of one browse: records every event; a hook can act from inside on_resolved.
struct Recorder {
    struct Found {
        std::string name;
        std::string address;
        uint16_t port;
        Strings txt;
    };
    std::vector<Found> resolved;
    Strings lost;
    std::function<void()> onResolvedHook;
    std::function<void()> onLostHook;
    lanspread_discovery_events table{};

    Recorder() {
        table.struct_size = sizeof table;
        table.user_data = this;
        table.on_resolved = [](void *ud, const lanspread_discovered_service *s) {
            auto *self = static_cast<Recorder *>(ud);
            Found f{s->instance_name, s->address, s->port, {}};
            for (const char *const *t = s->txt; t != nullptr && *t != nullptr; ++t)
                f.txt.emplace_back(*t);
            self->resolved.push_back(f);
            if (self->onResolvedHook)
                self->onResolvedHook();
        };
        table.on_lost = [](void *ud, const char *name) {
            auto *self = static_cast<Recorder *>(ud);
            self->lost.emplace_back(name);
            if (self->onLostHook)
                self->onLostHook();
        };
    }
};

} // namespace

class DiscoveryDnssdTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DiscoveryDnssdTest);
    CPPUNIT_TEST(txtRoundTrip);
    CPPUNIT_TEST(txtLimits);
    CPPUNIT_TEST(instanceNameIsOneLabel);
    CPPUNIT_TEST(descriptorAndConfig);
    CPPUNIT_TEST(advertiseRegistersAndUpdatesTxt);
    CPPUNIT_TEST(advertiseRefusesBadInput);
    CPPUNIT_TEST(advertiseWhileDaemonDownReturnsIoAndRetries);
    CPPUNIT_TEST(advertFailureIsRecreated);
    CPPUNIT_TEST(reportsItsStateWhenItChanges);
    CPPUNIT_TEST(browseResolvesAndDeduplicates);
    CPPUNIT_TEST(lostOnlyAfterResolved);
    CPPUNIT_TEST(browseErrorRecreatesAndReportsAgain);
    CPPUNIT_TEST(browseWhileDaemonDown);
    CPPUNIT_TEST(resolveAndQueryTimeoutsFreeTheRef);
    CPPUNIT_TEST(failedLookupsAreFreed);
    CPPUNIT_TEST(stopBrowseUnwatchesEverything);
    CPPUNIT_TEST(stopBrowseFromInsideOnResolved);
    CPPUNIT_TEST(stopBrowseFromInsideOnLost);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {}
    void tearDown() override { shutdown(); }

    // ---- TXT ----------------------------------------------------------------------------

    void txtRoundTrip() {
        const Strings items = {
            "peer_id=0123456789abcdef", "proto=1", "rev=42", "flag", "empty=", "eq=a=b==c",
            "name=J\xc3\xb6rg's PC",    "sp=a b c"};
        const Bytes bytes = txtBytes(items);
        CPPUNIT_ASSERT(decodeTxt(bytes.data(), bytes.size()) == items);

        // The wire form: one length byte per item; "key" has no '=', "key=" an empty value.
        CPPUNIT_ASSERT(txtBytes({"k=v"}) == (Bytes{3, 'k', '=', 'v'}));
        CPPUNIT_ASSERT(txtBytes({"flag"}) == (Bytes{4, 'f', 'l', 'a', 'g'}));
        CPPUNIT_ASSERT(txtBytes({"e="}) == (Bytes{2, 'e', '='}));
        CPPUNIT_ASSERT(txtBytes({"a=x=y"}) == (Bytes{5, 'a', '=', 'x', '=', 'y'}));

        // Nothing to say: no bytes; avahi's empty TXT record (one empty string) decodes to
        // nothing; a length byte past the end stops decoding.
        CPPUNIT_ASSERT(txtBytes({}).empty());
        CPPUNIT_ASSERT(decodeTxt(nullptr, 0).empty());
        const Bytes emptyRecord = {0};
        CPPUNIT_ASSERT(decodeTxt(emptyRecord.data(), emptyRecord.size()).empty());
        const Bytes truncated = {3, 'a', '=', 'b', 9, 'c', '='};
        CPPUNIT_ASSERT(decodeTxt(truncated.data(), truncated.size()) == Strings{"a=b"});

        // A key given twice keeps its last value (TXTRecordSetValue replaces).
        const Bytes twice = txtBytes({"rev=1", "rev=2"});
        CPPUNIT_ASSERT(decodeTxt(twice.data(), twice.size()) == Strings{"rev=2"});
    }

    void txtLimits() {
        // 255 bytes per item (key, '=', value) is the most one length byte can say.
        const std::string item255 = "k=" + std::string(253, 'x');
        const Bytes ok = txtBytes({item255});
        CPPUNIT_ASSERT_EQUAL(std::size_t(256), ok.size());
        CPPUNIT_ASSERT(decodeTxt(ok.data(), ok.size()) == Strings{item255});
        const std::string key255(255, 'k');
        CPPUNIT_ASSERT(encodeTxt({key255}).ok());

        for (const std::string &bad : {item255 + "x", key255 + "k", "k=" + std::string(300, 'v'),
                                       std::string("=value"), std::string()}) {
            auto r = encodeTxt({"good=1", bad});
            CPPUNIT_ASSERT_MESSAGE(bad.substr(0, 20), !r.ok());
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, r.status().code());
        }
    }

    void instanceNameIsOneLabel() {
        CPPUNIT_ASSERT_EQUAL(std::string("peer"), truncateInstanceName("peer"));
        CPPUNIT_ASSERT_EQUAL(std::string(63, 'a'), truncateInstanceName(std::string(70, 'a')));
        // Never split a UTF-8 sequence: 62 bytes + "ö" (2 bytes) is cut before the "ö".
        CPPUNIT_ASSERT_EQUAL(std::string(62, 'a'),
                             truncateInstanceName(std::string(62, 'a') + "\xc3\xb6zz"));
    }

    // ---- plugin basics ------------------------------------------------------------------

    void descriptorAndConfig() {
        const lanspread_plugin_entry *entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.discovery.dnssd"),
                             std::string(entry->descriptor->id));
        CPPUNIT_ASSERT_EQUAL(int32_t(LANSPREAD_KIND_DISCOVERY), int32_t(entry->descriptor->kind));
        std::string keys;
        for (const char *const *k = entry->descriptor->config_keys; k && *k; ++k)
            keys += std::string(*k) + "\n";
        CPPUNIT_ASSERT(keys.find("retry_ms:") != std::string::npos);
        CPPUNIT_ASSERT(keys.find("resolve_timeout_ms:") != std::string::npos);

        start({});
        CPPUNIT_ASSERT_EQUAL(int64_t(2000), int64_t(_plugin->options().retry.count()));
        CPPUNIT_ASSERT_EQUAL(int64_t(5000), int64_t(_plugin->options().resolveTimeout.count()));
        CPPUNIT_ASSERT(_entry->get_interface(_state, "lanspread.discovery/2") == nullptr);
        shutdown();

        start({{"retry_ms", "abc"}, {"resolve_timeout_ms", "750"}});
        CPPUNIT_ASSERT_EQUAL(int64_t(2000), int64_t(_plugin->options().retry.count()));
        CPPUNIT_ASSERT_EQUAL(int64_t(750), int64_t(_plugin->options().resolveTimeout.count()));
        CPPUNIT_ASSERT(_host->logged("retry_ms=\"abc\"", LANSPREAD_LOG_WARNING));
        shutdown();

        // Out of range: below 100 ms would spin on a dead daemon.
        start({{"retry_ms", "50"}, {"resolve_timeout_ms", "99999999"}});
        CPPUNIT_ASSERT_EQUAL(int64_t(2000), int64_t(_plugin->options().retry.count()));
        CPPUNIT_ASSERT_EQUAL(int64_t(5000), int64_t(_plugin->options().resolveTimeout.count()));
        CPPUNIT_ASSERT(_host->logged("retry_ms=\"50\"", LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT(_host->logged("resolve_timeout_ms=\"99999999\"", LANSPREAD_LOG_WARNING));
    }

    // ---- advertise ----------------------------------------------------------------------

    void advertiseRegistersAndUpdatesTxt() {
        start();
        const Strings txt = {"peer_id=ab12", "proto=1", "rev=3", "name=peer A"};
        lanspread_discovery_advert *advert = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, advertise("peer A", 47100, txt, &advert));
        CPPUNIT_ASSERT(advert != nullptr);

        FakeDnsSd::Ref *ref = _fake->live(Kind::Register);
        CPPUNIT_ASSERT(ref != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("peer A"), ref->name);
        CPPUNIT_ASSERT_EQUAL(std::string(kType), ref->type);
        // The port goes to DNSServiceRegister in network byte order: 47100 = 0xB7FC.
        const auto *portBytes = reinterpret_cast<const uint8_t *>(&ref->portNetwork);
        CPPUNIT_ASSERT_EQUAL(0xB7, int(portBytes[0]));
        CPPUNIT_ASSERT_EQUAL(0xFC, int(portBytes[1]));
        CPPUNIT_ASSERT(decodeTxt(ref->txt.data(), ref->txt.size()) == txt);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount());

        // avahi renamed it after a conflict: the final name is logged.
        ref->registered("peer A #2");
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_host->logged("advertising \"peer A #2\"", LANSPREAD_LOG_INFO));
        CPPUNIT_ASSERT(_host->logged("renamed from \"peer A\"", LANSPREAD_LOG_INFO));

        const Strings txt2 = {"peer_id=ab12", "proto=1", "rev=4", "name=peer A"};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, updateTxt(advert, txt2));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), ref->txtUpdates.size());
        CPPUNIT_ASSERT(decodeTxt(ref->txtUpdates[0].data(), ref->txtUpdates[0].size()) == txt2);
        CPPUNIT_ASSERT_EQUAL(1, _fake->created(Kind::Register)); // updated in place

        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    void advertiseRefusesBadInput() {
        start();
        lanspread_discovery_advert *advert = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             advertise("peer", 1, {"k=" + std::string(300, 'v')}, &advert));
        CPPUNIT_ASSERT(advert == nullptr);
        CPPUNIT_ASSERT_EQUAL(0, _fake->attempts(Kind::Register));

        // A type avahi refuses is not retried.
        _fake->createError = kErrInvalid;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, advertise("peer", 1, {}, &advert));
        CPPUNIT_ASSERT(advert == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        _fake->createError = 0;

        // A bad TXT update is refused and nothing reaches avahi.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, advertise("peer", 1, {"a=1"}, &advert));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, updateTxt(advert, {"=x"}));
        CPPUNIT_ASSERT(_fake->live(Kind::Register)->txtUpdates.empty());
        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
    }

    void advertiseWhileDaemonDownReturnsIoAndRetries() {
        start({{"retry_ms", "500"}});
        _fake->daemonUp = false;
        lanspread_discovery_advert *advert = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, advertise("peer A", 47100, {"rev=1"}, &advert));
        CPPUNIT_ASSERT_MESSAGE("the advert is returned with E_IO", advert != nullptr);
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));
        CPPUNIT_ASSERT(_host->logged("retrying every 500 ms; direct connect still works",
                                     LANSPREAD_LOG_WARNING));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->timerCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());

        // A TXT update while away is kept for the registration to come.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, updateTxt(advert, {"rev=2"}));

        // Retries fail quietly (still one warning) ...
        _host->advance(499 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(1, _fake->attempts(Kind::Register));
        _host->advance(1 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(2, _fake->attempts(Kind::Register));
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(3, _fake->attempts(Kind::Register));
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));

        // ... until avahi-daemon is back.
        _fake->daemonUp = true;
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        FakeDnsSd::Ref *ref = _fake->live(Kind::Register);
        CPPUNIT_ASSERT(ref != nullptr);
        CPPUNIT_ASSERT(decodeTxt(ref->txt.data(), ref->txt.size()) == Strings{"rev=2"});
        CPPUNIT_ASSERT(_host->logged("recovered", LANSPREAD_LOG_INFO));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount());
        _host->advance(5000 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(4, _fake->attempts(Kind::Register)); // no retry once up

        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());

        // Stopping an advert that is still retrying stops its timer.
        _fake->daemonUp = false;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, advertise("peer B", 1, {}, &advert));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->timerCount());
        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        CPPUNIT_ASSERT_EQUAL(2, countLogs("avahi-daemon is not reachable"));
        // That ended the outage (no ref is down any more): the next one is reported again.
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, advertise("peer D", 1, {}, &advert));
        CPPUNIT_ASSERT_EQUAL(3, countLogs("avahi-daemon is not reachable"));
        _vt->stop_advert(advert);

        // Another error than "daemon away" is retried as well, and logged once, not at
        // every retry.
        _fake->daemonUp = true;
        _fake->createError = lanspread::plugins::dnssd::kErrNoMemory;
        const int before = _fake->attempts(Kind::Register);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, advertise("peer C", 1, {}, &advert));
        for (int i = 0; i < 3; ++i) {
            _host->advance(500 * kMs);
            _host->runUntilIdle();
        }
        CPPUNIT_ASSERT_EQUAL(before + 4, _fake->attempts(Kind::Register));
        CPPUNIT_ASSERT_EQUAL(1, countLogs("kDNSServiceErr_NoMemory"));
        _fake->createError = 0;
        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    void advertFailureIsRecreated() {
        start({{"retry_ms", "500"}});
        lanspread_discovery_advert *advert = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, advertise("peer A", 47100, {"rev=1"}, &advert));
        _fake->live(Kind::Register)->registered("peer A");
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(1, countLogs("advertising \"peer A\"", LANSPREAD_LOG_INFO));

        // avahi-daemon stopped: the registration callback reports kDNSServiceErr_Unknown.
        _fake->live(Kind::Register)->registered("peer A", kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(1, _fake->deallocated(Kind::Register));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));
        CPPUNIT_ASSERT(_host->logged("kDNSServiceErr_Unknown (-65537)", LANSPREAD_LOG_WARNING));

        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(2, _fake->created(Kind::Register));
        _fake->live(Kind::Register)->registered("peer A");
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(
            2, countLogs("advertising \"peer A\"", LANSPREAD_LOG_INFO)); // logged again

        // The compat layer's pipe broke: DNSServiceProcessResult fails. Same recovery, and a
        // new outage gets its own warning.
        _fake->live(Kind::Register)->failProcess(kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(2, countLogs("avahi-daemon is not reachable"));
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(3, _fake->created(Kind::Register));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount());

        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    // The kernel's status "discovery" follows what the plugin emits on
    // LANSPREAD_DISCOVERY_STATE_TOPIC: one event per change, never per retry, none when a ref
    // is stopped.
    void reportsItsStateWhenItChanges() {
        start({{"retry_ms", "500"}});
        const std::string down = stateJson("not-working", "avahi-daemon is not running");
        const std::string up = stateJson("working", "");
        Recorder rec;
        _fake->daemonUp = false;
        lanspread_discovery_advert *advert = nullptr;
        lanspread_discovery_browse *browse = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, advertise("peer A", 47100, {"rev=1"}, &advert));
        CPPUNIT_ASSERT(stateEvents() == Strings{down}); // from inside advertise()
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->browse(_state, kType, &rec.table, &browse));
        for (int i = 0; i < 3; ++i) {
            _host->advance(500 * kMs);
            _host->runUntilIdle();
        }
        CPPUNIT_ASSERT(stateEvents() == Strings{down}); // the browse and the retries: no news

        _fake->daemonUp = true;
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_fake->live(Kind::Register) && _fake->live(Kind::Browse));
        CPPUNIT_ASSERT(stateEvents() == (Strings{down, up}));

        // The daemon goes away under a live registration, and comes back.
        _fake->live(Kind::Register)->registered("peer A", kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(stateEvents() == (Strings{down, up, down}));
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(stateEvents() == (Strings{down, up, down, up}));

        // Another failure is reported with what failed.
        _fake->live(Kind::Register)->registered("peer A", lanspread::plugins::dnssd::kErrNoMemory);
        _host->runUntilIdle();
        const std::string noMemory =
            stateJson("not-working", "registration of \\\"peer A\\\" (_lanspread._udp): "
                                     "registration callback kDNSServiceErr_NoMemory (-65539)");
        CPPUNIT_ASSERT(stateEvents() == (Strings{down, up, down, up, noMemory}));
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(stateEvents() == (Strings{down, up, down, up, noMemory, up}));

        // Stopping refs that are failing (the host takes discovery down) says nothing.
        _fake->daemonUp = false;
        _fake->live(Kind::Browse)->failProcess(kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), stateEvents().size());
        _vt->stop_browse(browse);
        _vt->stop_advert(advert);
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), stateEvents().size());
        for (const auto &e : _host->events())
            CPPUNIT_ASSERT_EQUAL(std::string(LANSPREAD_DISCOVERY_STATE_TOPIC), e.topic);
    }

    // ---- browse -------------------------------------------------------------------------

    void browseResolvesAndDeduplicates() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        CPPUNIT_ASSERT_EQUAL(std::string(kType), browser->type);
        const Strings txt = {"peer_id=ab12", "proto=1", "rev=3"};

        // IPv4 and IPv6 report the same instance twice on one interface: one resolve.
        browser->browseEvent(true, "peer A", 2);
        browser->browseEvent(true, "peer A", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(1, _fake->created(Kind::Resolve));
        FakeDnsSd::Ref *resolver = _fake->live(Kind::Resolve, "peer A");
        CPPUNIT_ASSERT_EQUAL(std::string("_lanspread._udp."), resolver->type);
        CPPUNIT_ASSERT_EQUAL(std::string("local."), resolver->domain);
        CPPUNIT_ASSERT_EQUAL(uint32_t(2), resolver->interfaceIndex);

        // Resolved: the resolve ref goes, an A query for the host target comes.
        resolver->resolved("lanlab-h1.local.", 47100, txtBytes(txt));
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(1, _fake->deallocated(Kind::Resolve));
        FakeDnsSd::Ref *query = _fake->live(Kind::Query);
        CPPUNIT_ASSERT(query != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("lanlab-h1.local."), query->name);
        CPPUNIT_ASSERT_EQUAL(kRecordTypeA, query->rrType);
        CPPUNIT_ASSERT_EQUAL(kRecordClassIn, query->rrClass);
        CPPUNIT_ASSERT_EQUAL(uint32_t(2), query->interfaceIndex);
        CPPUNIT_ASSERT(rec.resolved.empty());

        query->address({10, 77, 0, 11});
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(std::string("peer A"), rec.resolved[0].name);
        CPPUNIT_ASSERT_EQUAL(std::string("10.77.0.11"), rec.resolved[0].address);
        CPPUNIT_ASSERT_EQUAL(uint16_t(47100), rec.resolved[0].port);
        CPPUNIT_ASSERT(rec.resolved[0].txt == txt);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount()); // only the browse ref
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());

        // The same instance on another interface, same answer: merged, no second event.
        resolveFully(browser, "peer A", 3, 47100, txt, {10, 77, 0, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rec.resolved.size());
        // Another interface with a changed port: reported again.
        resolveFully(browser, "peer A", 4, 47101, txt, {10, 77, 0, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(uint16_t(47101), rec.resolved[1].port);
        // ... and with a changed TXT.
        const Strings txt2 = {"peer_id=ab12", "proto=1", "rev=4"};
        resolveFully(browser, "peer A", 5, 47101, txt2, {10, 77, 0, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), rec.resolved.size());
        CPPUNIT_ASSERT(rec.resolved[2].txt == txt2);
        // ... and with a changed address.
        resolveFully(browser, "peer A", 6, 47101, txt2, {10, 77, 1, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(std::string("10.77.1.11"), rec.resolved[3].address);

        // Lost only when the last presence is removed, and once.
        for (uint32_t ifIndex : {2u, 2u, 3u, 4u, 5u}) {
            browser->browseEvent(false, "peer A", ifIndex);
            _host->runUntilIdle();
            CPPUNIT_ASSERT(rec.lost.empty());
        }
        browser->browseEvent(false, "peer A", 6);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(rec.lost == Strings{"peer A"});
        browser->browseEvent(false, "peer A", 6);
        browser->browseEvent(false, "someone else", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(rec.lost == Strings{"peer A"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), rec.resolved.size());

        // Back after a goodbye: a new on_resolved even though nothing changed.
        resolveFully(browser, "peer A", 2, 47101, txt2, {10, 77, 1, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), rec.resolved.size());

        _vt->stop_browse(browse);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
    }

    void lostOnlyAfterResolved() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        browser->browseEvent(true, "peer B", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_fake->live(Kind::Resolve, "peer B") != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->timerCount()); // its timeout

        // Gone before it resolved: its resolve is freed, and the host never heard of it.
        browser->browseEvent(false, "peer B", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(1, _fake->deallocated(Kind::Resolve));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        CPPUNIT_ASSERT(rec.lost.empty());
        CPPUNIT_ASSERT(rec.resolved.empty());

        // Remove on one interface while still present on another: that lookup stops.
        browser->browseEvent(true, "peer C", 2);
        browser->browseEvent(true, "peer C", 3);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _fake->liveCount(Kind::Resolve));
        browser->browseEvent(false, "peer C", 3);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount(Kind::Resolve));
        CPPUNIT_ASSERT_EQUAL(uint32_t(2), _fake->live(Kind::Resolve, "peer C")->interfaceIndex);
        CPPUNIT_ASSERT(rec.lost.empty());

        _vt->stop_browse(browse);
    }

    void browseErrorRecreatesAndReportsAgain() {
        start({{"retry_ms", "500"}});
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        resolveFully(browser, "peer A", 2, 47100, {"rev=1"}, {10, 77, 0, 11});
        resolveFully(browser, "peer B", 2, 47100, {"rev=1"}, {10, 77, 0, 12});
        browser->browseEvent(true, "peer C", 2); // still resolving when the daemon goes
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _fake->liveCount());

        // avahi-daemon restarted: the browse callback reports kDNSServiceErr_Unknown.
        browser->browseError(kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount()); // browse and C's resolve
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->timerCount()); // the retry
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));
        CPPUNIT_ASSERT_MESSAGE("no on_lost for what was known", rec.lost.empty());

        // Not back yet at the first retry; back at the second.
        _fake->daemonUp = false;
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        _fake->daemonUp = true;
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        browser = _fake->live(Kind::Browse);
        CPPUNIT_ASSERT(browser != nullptr);
        CPPUNIT_ASSERT_EQUAL(2, _fake->created(Kind::Browse));
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));
        CPPUNIT_ASSERT(_host->logged("browse of _lanspread._udp: recovered", LANSPREAD_LOG_INFO));

        // The new browse reports A again, unchanged: on_resolved again, not suppressed.
        resolveFully(browser, "peer A", 2, 47100, {"rev=1"}, {10, 77, 0, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(std::string("peer A"), rec.resolved[2].name);
        // B was not seen again: a Remove for it means nothing to the new browse.
        browser->browseEvent(false, "peer B", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(rec.lost.empty());

        // DNSServiceProcessResult failing tears the browse down the same way.
        browser->failProcess(kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(2, countLogs("avahi-daemon is not reachable"));
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(3, _fake->created(Kind::Browse));
        resolveFully(_fake->live(Kind::Browse), "peer A", 2, 47100, {"rev=1"}, {10, 77, 0, 11});
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), rec.resolved.size());
        CPPUNIT_ASSERT(rec.lost.empty());

        _vt->stop_browse(browse);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    void browseWhileDaemonDown() {
        start({{"retry_ms", "500"}});
        Recorder rec;
        _fake->daemonUp = false;
        lanspread_discovery_browse *browse = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->browse(_state, kType, &rec.table, &browse));
        CPPUNIT_ASSERT(browse != nullptr);
        CPPUNIT_ASSERT_EQUAL(1, countLogs("avahi-daemon is not reachable"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->timerCount());
        _fake->daemonUp = true;
        _host->advance(500 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_fake->live(Kind::Browse) != nullptr);
        _vt->stop_browse(browse);

        // Still retrying when stopped: no timer left.
        _fake->daemonUp = false;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->browse(_state, kType, &rec.table, &browse));
        _vt->stop_browse(browse);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());

        // A type avahi refuses fails the call, without a handle or retries.
        _fake->daemonUp = true;
        _fake->createError = kErrBadParam;
        browse = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             _vt->browse(_state, "lanspread", &rec.table, &browse));
        CPPUNIT_ASSERT(browse == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    void resolveAndQueryTimeoutsFreeTheRef() {
        start({{"resolve_timeout_ms", "1000"}});
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);

        // A resolve that never answers.
        browser->browseEvent(true, "peer A", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount(Kind::Resolve));
        _host->advance(999 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount(Kind::Resolve));
        _host->advance(1 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount(Kind::Resolve));
        CPPUNIT_ASSERT_EQUAL(1, _fake->deallocated(Kind::Resolve));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount()); // the browse
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        CPPUNIT_ASSERT(_host->logged("resolve for \"peer A\" timed out after 1000 ms"));

        // An address query that never answers (its own 1000 ms after the resolve answered).
        browser->browseEvent(true, "peer B", 2);
        _host->runUntilIdle();
        _host->advance(600 * kMs);
        _fake->live(Kind::Resolve, "peer B")->resolved("lanlab-h2.local.", 1, {});
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount(Kind::Query));
        _host->advance(999 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount(Kind::Query));
        _host->advance(1 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount(Kind::Query));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        CPPUNIT_ASSERT(rec.resolved.empty());

        // A later Add elsewhere tries again.
        resolveFully(browser, "peer A", 3, 47100, {}, {10, 0, 0, 1});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rec.resolved.size());
        CPPUNIT_ASSERT(rec.resolved[0].txt.empty());
        _vt->stop_browse(browse);
    }

    void failedLookupsAreFreed() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);

        // The resolve reports an error: freed, nothing reported, the browse stays.
        browser->browseEvent(true, "peer A", 2);
        _host->runUntilIdle();
        _fake->live(Kind::Resolve)->resolved("", 0, {}, kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount());
        CPPUNIT_ASSERT(_fake->live(Kind::Browse) == browser);

        // The query: a removal and an AAAA-sized answer are ignored, an error frees it.
        browser->browseEvent(true, "peer B", 2);
        _host->runUntilIdle();
        _fake->live(Kind::Resolve)->resolved("lanlab-h2.local.", 1, {});
        _host->runUntilIdle();
        FakeDnsSd::Ref *query = _fake->live(Kind::Query);
        query->address({10, 0, 0, 2}, false);
        query->address(Bytes(16, 0xfe), true, 28);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_fake->live(Kind::Query) == query);
        query->address({}, false, 0, kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount());
        CPPUNIT_ASSERT(rec.resolved.empty());

        // DNSServiceProcessResult failing on a resolve or a query ref frees it at once (its
        // fd would stay readable, and the reactor would spin until the timeout).
        browser->browseEvent(true, "peer D", 2);
        _host->runUntilIdle();
        _fake->live(Kind::Resolve, "peer D")->failProcess(kErrUnknown);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        browser->browseEvent(true, "peer E", 2);
        _host->runUntilIdle();
        _fake->live(Kind::Resolve, "peer E")->resolved("lanlab-h5.local.", 1, {});
        _host->runUntilIdle();
        FakeDnsSd::Ref *failing = _fake->live(Kind::Query, "lanlab-h5.local.");
        failing->failProcess(kErrUnknown);
        _host->runOnce();
        CPPUNIT_ASSERT_EQUAL_MESSAGE("unwatched at once", std::size_t(1), _host->watchCount());
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount());
        CPPUNIT_ASSERT(rec.resolved.empty());

        // A resolve that cannot even be created leaves nothing behind.
        _fake->createError = kErrUnknown;
        browser->browseEvent(true, "peer C", 2);
        _host->runUntilIdle();
        _fake->createError = 0;
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        _vt->stop_browse(browse);
    }

    void stopBrowseUnwatchesEverything() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        resolveFully(browser, "peer C", 2, 1, {}, {10, 0, 0, 3});
        browser->browseEvent(true, "peer A", 2); // resolve in flight
        browser->browseEvent(true, "peer B", 2); // query in flight
        _host->runUntilIdle();
        _fake->live(Kind::Resolve, "peer B")->resolved("lanlab-h2.local.", 1, {});
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _host->timerCount());
        // Something is pending on every ref when the host stops.
        _fake->live(Kind::Resolve, "peer A")->resolved("lanlab-h1.local.", 1, {});
        _fake->live(Kind::Query)->address({10, 0, 0, 2});
        browser->browseEvent(false, "peer C", 2);

        _vt->stop_browse(browse);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
        _host->advance(60'000 * kMs);
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rec.resolved.size()); // peer C, before the stop
        CPPUNIT_ASSERT(rec.lost.empty());
    }

    void stopBrowseFromInsideOnResolved() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        browser->browseEvent(true, "peer A", 2);
        browser->browseEvent(true, "peer B", 2);
        _host->runUntilIdle();
        _fake->live(Kind::Resolve, "peer A")->resolved("lanlab-h1.local.", 1, {});
        _fake->live(Kind::Resolve, "peer B")->resolved("lanlab-h2.local.", 1, {});
        _host->runUntilIdle();
        rec.onResolvedHook = [&] { _vt->stop_browse(browse); };
        // Two answers in one DNSServiceProcessResult; the host stops after the first.
        FakeDnsSd::Ref *query = _fake->live(Kind::Query, "lanlab-h1.local.");
        query->address({10, 0, 0, 1});
        query->address({10, 0, 0, 9});
        _fake->live(Kind::Query, "lanlab-h2.local.")->address({10, 0, 0, 2});
        _host->runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rec.resolved.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

    void stopBrowseFromInsideOnLost() {
        start();
        Recorder rec;
        lanspread_discovery_browse *browse = startBrowse(rec);
        FakeDnsSd::Ref *browser = _fake->live(Kind::Browse);
        resolveFully(browser, "peer A", 2, 1, {}, {10, 0, 0, 1});
        resolveFully(browser, "peer B", 2, 1, {}, {10, 0, 0, 2});
        browser->browseEvent(true, "peer C", 2); // resolving
        _host->runUntilIdle();
        rec.onLostHook = [&] { _vt->stop_browse(browse); };
        // Three replies in one DNSServiceProcessResult; the host stops at the first on_lost.
        browser->browseEvent(false, "peer A", 2);
        browser->browseEvent(false, "peer B", 2);
        browser->browseEvent(true, "peer D", 2);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(rec.lost == Strings{"peer A"});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _fake->liveCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->watchCount());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), _host->timerCount());
    }

  private:
    void start(const std::vector<std::pair<std::string, std::string>> &config = {}) {
        _host = std::make_unique<lanspread::testing::FakeHost>("org.lanspread.discovery.dnssd");
        if (std::getenv("DNSSD_TEST_ECHO") != nullptr)
            _host->echoLogs(true);
        for (const auto &[k, v] : config)
            _host->setConfig(k, v);
        _entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _entry->init(_host->api(), &_state));
        _plugin = dynamic_cast<DnssdDiscovery *>(static_cast<lanspread::Plugin *>(_state));
        CPPUNIT_ASSERT(_plugin != nullptr);
        auto fake = std::make_unique<FakeDnsSd>();
        _fake = fake.get();
        _plugin->setDnsSd(std::move(fake));
        _vt = static_cast<const lanspread_discovery_v1 *>(
            _entry->get_interface(_state, LANSPREAD_DISCOVERY_INTERFACE_ID));
        CPPUNIT_ASSERT(_vt != nullptr);
    }

    void shutdown() {
        if (_state == nullptr)
            return;
        _host->runUntilIdle();
        _entry->shutdown(_state);
        _state = nullptr;
        CPPUNIT_ASSERT_MESSAGE("an exception reached a trampoline",
                               !_host->logged("exception", LANSPREAD_LOG_ERROR));
    }

    lanspread_status advertise(const std::string &name, uint16_t port, const Strings &txt,
                               lanspread_discovery_advert **out) {
        std::vector<const char *> items;
        for (const auto &t : txt)
            items.push_back(t.c_str());
        items.push_back(nullptr);
        lanspread_service_record record{};
        record.struct_size = sizeof record;
        record.service_type = kType;
        record.instance_name = name.c_str();
        record.port = port;
        record.txt = items.data();
        *out = nullptr;
        return _vt->advertise(_state, &record, out);
    }

    lanspread_status updateTxt(lanspread_discovery_advert *advert, const Strings &txt) {
        std::vector<const char *> items;
        for (const auto &t : txt)
            items.push_back(t.c_str());
        items.push_back(nullptr);
        return _vt->update_txt(advert, items.data());
    }

    lanspread_discovery_browse *startBrowse(Recorder &rec) {
        lanspread_discovery_browse *browse = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, _vt->browse(_state, kType, &rec.table, &browse));
        CPPUNIT_ASSERT(browse != nullptr);
        CPPUNIT_ASSERT(_fake->live(Kind::Browse) != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _host->watchCount());
        return browse;
    }

    // Add on an interface, then answer its resolve and its A query.
    void resolveFully(FakeDnsSd::Ref *browser, const std::string &name, uint32_t ifIndex,
                      uint16_t port, const Strings &txt, const Bytes &ipv4) {
        browser->browseEvent(true, name, ifIndex);
        _host->runUntilIdle();
        FakeDnsSd::Ref *resolver = _fake->live(Kind::Resolve, name);
        CPPUNIT_ASSERT_MESSAGE("a resolve for " + name, resolver != nullptr);
        CPPUNIT_ASSERT_EQUAL(ifIndex, resolver->interfaceIndex);
        const std::string host = "host-of-" + std::to_string(ifIndex) + ".local.";
        resolver->resolved(host, port, txtBytes(txt));
        _host->runUntilIdle();
        FakeDnsSd::Ref *query = _fake->live(Kind::Query, host);
        CPPUNIT_ASSERT_MESSAGE("an A query for " + host, query != nullptr);
        query->address(ipv4);
        _host->runUntilIdle();
        CPPUNIT_ASSERT(_fake->live(Kind::Query, host) == nullptr);
    }

    // Log lines at warning or above that contain text.
    // The payloads the plugin emitted on LANSPREAD_DISCOVERY_STATE_TOPIC, in order.
    Strings stateEvents() const {
        Strings out;
        for (const auto &e : _host->events())
            if (e.topic == LANSPREAD_DISCOVERY_STATE_TOPIC)
                out.push_back(e.json);
        return out;
    }
    static std::string stateJson(const std::string &state, const std::string &reason) {
        return R"({"plugin":"org.lanspread.discovery.dnssd","state":")" + state +
               R"(","reason":")" + reason + R"("})";
    }

    int countLogs(const std::string &text, int32_t minLevel = LANSPREAD_LOG_WARNING) const {
        int n = 0;
        for (const auto &r : _host->logs())
            if (r.level >= minLevel && r.message.find(text) != std::string::npos)
                ++n;
        return n;
    }

    std::unique_ptr<lanspread::testing::FakeHost> _host;
    const lanspread_plugin_entry *_entry = nullptr;
    void *_state = nullptr;
    DnssdDiscovery *_plugin = nullptr;
    FakeDnsSd *_fake = nullptr;
    const lanspread_discovery_v1 *_vt = nullptr;
};

CPPUNIT_TEST_SUITE_REGISTRATION(DiscoveryDnssdTest);
