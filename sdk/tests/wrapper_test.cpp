// Tests of the header-only C++ wrapper (plugin.hpp, host.hpp, result.hpp, kinds/*.hpp).
//
// Small plugins of every kind are written with the wrapper and then driven only through
// their C entry and vtables, as the kernel does, with lanspread::testing::FakeHost as the
// host. The central promise: an exception thrown by plugin code in any hook or callback
// becomes a status code and a logged error, never a crash or an unwind through C frames.
#include <lanspread/kinds/discovery.hpp>
#include <lanspread/kinds/frontend.hpp>
#include <lanspread/kinds/transport.hpp>
#include <lanspread/kinds/unpacker.hpp>
#include <lanspread/plugin.hpp>
#include <lanspread/result.hpp>
#include <lanspread/testing/fake_host.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using lanspread::Host;
using lanspread::Result;
using lanspread::Status;
using lanspread::StatusError;
using lanspread::testing::FakeHost;

namespace {

// Throws the way the test asked: "std" (std::runtime_error), "status" (StatusError E_IO) or
// "int" (not an exception class at all).
[[noreturn]] void throwAs(const std::string &kind, const std::string &hook) {
    if (kind == "status")
        throw StatusError(LANSPREAD_E_IO, "status from " + hook);
    if (kind == "int")
        throw 42;
    throw std::runtime_error("boom in " + hook);
}

// ---- an unpacker: throws in the hook named by its config key "throw_in" ----

class TestJob final : public lanspread::UnpackJob {
  public:
    TestJob(std::string throwIn, std::string kind)
        : _throwIn(std::move(throwIn)), _kind(std::move(kind)) {}
    Status nextEntry(lanspread::ArchiveEntry &out) override {
        if (_throwIn == "next_entry")
            throwAs(_kind, "next_entry");
        if (_index == 2)
            return Status(LANSPREAD_END);
        if (_index++ == 0) {
            out.type = LANSPREAD_ENTRY_FILE;
            out.path = "dir/a.txt";
            out.sizeBytes = 5;
            out.mode = 0644;
            out.mtimeSeconds = 1234;
        } else {
            out.type = LANSPREAD_ENTRY_SYMLINK;
            out.path = "dir/link";
            out.linkTarget = "a.txt";
        }
        _sent = 0;
        return Status::ok();
    }
    Result<std::size_t> readData(std::span<uint8_t> buffer) override {
        if (_throwIn == "read_data")
            throwAs(_kind, "read_data");
        static const char kData[] = "hello";
        std::size_t n = std::min<std::size_t>(buffer.size(), 5 - _sent);
        std::memcpy(buffer.data(), kData + _sent, n);
        _sent += n;
        return n;
    }

  private:
    std::string _throwIn, _kind;
    int _index = 0;
    std::size_t _sent = 0;
};

class TestUnpacker final : public lanspread::UnpackerPlugin {
  public:
    explicit TestUnpacker(Host host)
        : UnpackerPlugin(host), _throwIn(host.config("throw_in", "")),
          _kind(host.config("throw_kind", "std")) {
        if (_throwIn == "init")
            throwAs(_kind, "init");
    }
    Result<uint32_t> probe(std::span<const uint8_t> head, std::string_view) override {
        if (_throwIn == "probe")
            throwAs(_kind, "probe");
        return head.empty() ? 0u : 150u; // the wrapper clamps to 100
    }
    Result<std::unique_ptr<lanspread::UnpackJob>> open(lanspread::ByteSource,
                                                       lanspread_cancel_handle) override {
        if (_throwIn == "open")
            throwAs(_kind, "open");
        return std::unique_ptr<lanspread::UnpackJob>(new TestJob(_throwIn, _kind));
    }

  private:
    std::string _throwIn, _kind;
};

// ---- a frontend whose start() throws ----

class TestFrontend final : public lanspread::FrontendPlugin {
  public:
    using FrontendPlugin::FrontendPlugin;
    Result<std::unique_ptr<lanspread::FrontendSession>> start() override {
        throw std::runtime_error("boom in start");
    }
};

// ---- a transport ----

int gEndpointsDestroyed = 0;
int gConnectionsFreed = 0;
lanspread::TransportConfig gLastConfig;

class TestConnection final : public lanspread::TransportConnection {
  public:
    TestConnection(Host host, lanspread::TransportEvents events)
        : TransportConnection(host), _events(events) {}
    ~TestConnection() override { ++gConnectionsFreed; }
    Result<uint64_t> openStream() override { return _nextStream += 4; }
    Result<std::size_t> send(uint64_t, std::span<const uint8_t> data, uint32_t) override {
        if (data.size() > 100)
            throw std::length_error("boom in send");
        return data.size() > 4 ? std::size_t{4} : data.size(); // partial acceptance
    }
    Status consume(uint64_t, std::size_t) override {
        return Status(LANSPREAD_E_NOT_FOUND, "no such stream");
    }
    Status resetStream(uint64_t, uint64_t) override {
        throw StatusError(LANSPREAD_E_FATAL, "connection gone");
    }
    void close(uint64_t) override {
        _events.closed(*this, LANSPREAD_OK, "closed by host");
        delete this; // the plugin owns its connections
    }

  private:
    lanspread::TransportEvents _events;
    uint64_t _nextStream = 0;
};

class TestEndpoint final : public lanspread::TransportEndpoint {
  public:
    ~TestEndpoint() override { ++gEndpointsDestroyed; }
    Result<std::string> localAddress() const override {
        return std::string("192.168.100.200:65000");
    }
};

class TestTransport final : public lanspread::TransportPlugin {
  public:
    using TransportPlugin::TransportPlugin;
    Result<std::unique_ptr<lanspread::TransportEndpoint>>
    listen(const lanspread::TransportConfig &config, lanspread::TransportEvents) override {
        gLastConfig = config;
        return std::unique_ptr<lanspread::TransportEndpoint>(new TestEndpoint);
    }
    Result<lanspread::TransportConnection *> connect(const lanspread::TransportConfig &,
                                                     std::string_view remoteAddr,
                                                     lanspread::TransportEvents events) override {
        if (remoteAddr == "throw:1")
            throw std::runtime_error("boom in connect");
        auto *conn = new TestConnection(host(), events);
        events.connected(*conn, {std::string(remoteAddr), std::vector<uint8_t>(32, 0xAB)});
        return conn;
    }
};

// What the host side of the transport saw.
struct TransportRecorder {
    lanspread_transport_events events{};
    lanspread_transport_conn *connected = nullptr;
    std::string remoteAddr;
    std::size_t fingerprintLen = 0;
    lanspread_transport_conn *closed = nullptr;
    std::string closeReason;
    TransportRecorder() {
        events.struct_size = sizeof events;
        events.user_data = this;
        events.on_connected = [](void *u, lanspread_transport_conn *c,
                                 const lanspread_remote_identity *r) {
            auto *self = static_cast<TransportRecorder *>(u);
            self->connected = c;
            self->remoteAddr = r->remote_addr;
            self->fingerprintLen = r->key_fingerprint_len;
        };
        events.on_closed = [](void *u, lanspread_transport_conn *c, lanspread_status,
                              const char *reason) {
            auto *self = static_cast<TransportRecorder *>(u);
            self->closed = c;
            self->closeReason = reason;
        };
    }
};

// ---- a discovery ----

int gBrowsesStopped = 0;
std::vector<std::string> gLastTxt;

class TestAdvert final : public lanspread::DiscoveryAdvert {
  public:
    Status updateTxt(const std::vector<std::string> &txt) override {
        if (txt.empty())
            throw std::invalid_argument("boom in update_txt");
        gLastTxt = txt;
        return Status::ok();
    }
};

class TestBrowse final : public lanspread::DiscoveryBrowse {
  public:
    ~TestBrowse() override { ++gBrowsesStopped; }
};

class TestDiscovery final : public lanspread::DiscoveryPlugin {
  public:
    using DiscoveryPlugin::DiscoveryPlugin;
    Result<std::unique_ptr<lanspread::DiscoveryAdvert>>
    advertise(const lanspread::ServiceRecord &record) override {
        if (record.instanceName == "throw")
            throw std::runtime_error("boom in advertise");
        gLastTxt = record.txt;
        return std::unique_ptr<lanspread::DiscoveryAdvert>(new TestAdvert);
    }
    Result<std::unique_ptr<lanspread::DiscoveryBrowse>>
    browse(std::string_view serviceType, lanspread::DiscoveryEvents events) override {
        events.resolved({"peer-1", "10.0.0.2", 7000, {"id=abc", "v=1"}});
        events.lost(std::string(serviceType) + "-gone");
        return std::unique_ptr<lanspread::DiscoveryBrowse>(new TestBrowse);
    }
};

// A plugin of class P started through its C entry functions, shut down on scope exit.
template <typename P> struct Started {
    using Entry = lanspread::detail::EntryTrampolines<P>;
    void *state = nullptr;
    lanspread_status status;
    explicit Started(FakeHost &host) : status(Entry::init(host.api(), &state)) {}
    ~Started() {
        if (state)
            Entry::shutdown(state);
    }
    template <typename Table> const Table *table(const char *id) const {
        return static_cast<const Table *>(Entry::getInterface(state, id));
    }
};

// A host byte source that is never read by the test plugin.
lanspread_status readNothing(const lanspread_byte_source *, uint8_t *, size_t, size_t *outRead) {
    *outRead = 0;
    return LANSPREAD_OK;
}

} // namespace

static const char *const kCapabilities[] = {"archive:test", nullptr};
static const char *const kConfigKeys[] = {"throw_in: the hook that throws (default none)", nullptr};
LANSPREAD_DECLARE_PLUGIN(TestUnpacker, LANSPREAD_KIND_UNPACKER, "org.lanspread.test.wrapper",
                         "Wrapper test unpacker", "0.0.1", "lanspread", "Throws on request",
                         kCapabilities, kConfigKeys);

class WrapperTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WrapperTest);
    CPPUNIT_TEST(testDeclareSetsStructSizes);
    CPPUNIT_TEST(testUnknownInterfaceIsNull);
    CPPUNIT_TEST(testUnpackerWorks);
    CPPUNIT_TEST(testThrowInInit);
    CPPUNIT_TEST(testThrowInProbe);
    CPPUNIT_TEST(testThrowInOpen);
    CPPUNIT_TEST(testThrowInNextEntry);
    CPPUNIT_TEST(testThrowInReadData);
    CPPUNIT_TEST(testNonStdExceptionBecomesFailed);
    CPPUNIT_TEST(testStatusErrorCarriesCode);
    CPPUNIT_TEST(testThrowInFrontendStart);
    CPPUNIT_TEST(testTransport);
    CPPUNIT_TEST(testConfigNumber);
    CPPUNIT_TEST(testDiscovery);
    CPPUNIT_TEST(testThrowInFdCallback);
    CPPUNIT_TEST(testThrowInTimerCallback);
    CPPUNIT_TEST(testThrowInPostedTask);
    CPPUNIT_TEST(testShutdownReleasesPendingPostedTasks);
    CPPUNIT_TEST(testConfigBufferGrowth);
    CPPUNIT_TEST(testFdWatchRaii);
    CPPUNIT_TEST(testTimerRaii);
    CPPUNIT_TEST(testNextEntryWritesOnlyCallerStructSize);
    CPPUNIT_TEST(testResult);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        gEndpointsDestroyed = gConnectionsFreed = gBrowsesStopped = 0;
        gLastTxt.clear();
        gLastConfig = {};
    }

    void testDeclareSetsStructSizes() {
        const lanspread_plugin_entry *entry = lanspread_plugin_v1();
        CPPUNIT_ASSERT(entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(sizeof(lanspread_plugin_entry)),
                             entry->struct_size);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint16_t>(LANSPREAD_ABI_MAJOR), entry->abi_major);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint16_t>(LANSPREAD_ABI_MINOR), entry->abi_minor);
        const lanspread_plugin_descriptor *d = entry->descriptor;
        CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(sizeof(lanspread_plugin_descriptor)),
                             d->struct_size);
        CPPUNIT_ASSERT(LANSPREAD_HAS_MEMBER(lanspread_plugin_descriptor, d, config_keys));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_KIND_UNPACKER, d->kind);
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.test.wrapper"), std::string(d->id));
        CPPUNIT_ASSERT_EQUAL(std::string("archive:test"), std::string(d->capabilities[0]));
        CPPUNIT_ASSERT(d->config_keys == kConfigKeys);
        CPPUNIT_ASSERT(entry->init && entry->shutdown && entry->get_interface);

        FakeHost host;
        void *state = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, entry->init(host.api(), &state));
        auto *vt = static_cast<const lanspread_unpacker_v1 *>(
            entry->get_interface(state, LANSPREAD_UNPACKER_INTERFACE_ID));
        CPPUNIT_ASSERT(vt != nullptr);
        CPPUNIT_ASSERT_EQUAL(static_cast<uint32_t>(sizeof(lanspread_unpacker_v1)), vt->struct_size);
        entry->shutdown(state);

        // Every kind's vtable carries its struct_size too.
        Started<TestFrontend> f(host);
        CPPUNIT_ASSERT_EQUAL(
            static_cast<uint32_t>(sizeof(lanspread_frontend_v1)),
            f.table<lanspread_frontend_v1>(LANSPREAD_FRONTEND_INTERFACE_ID)->struct_size);
        Started<TestTransport> t(host);
        CPPUNIT_ASSERT_EQUAL(
            static_cast<uint32_t>(sizeof(lanspread_transport_v1)),
            t.table<lanspread_transport_v1>(LANSPREAD_TRANSPORT_INTERFACE_ID)->struct_size);
        Started<TestDiscovery> di(host);
        CPPUNIT_ASSERT_EQUAL(
            static_cast<uint32_t>(sizeof(lanspread_discovery_v1)),
            di.table<lanspread_discovery_v1>(LANSPREAD_DISCOVERY_INTERFACE_ID)->struct_size);
    }

    void testUnknownInterfaceIsNull() {
        FakeHost host;
        Started<TestUnpacker> p(host);
        CPPUNIT_ASSERT(p.table<void>(LANSPREAD_TRANSPORT_INTERFACE_ID) == nullptr);
        CPPUNIT_ASSERT(p.table<void>("lanspread.unpacker/2") == nullptr);
        CPPUNIT_ASSERT(lanspread_plugin_v1()->get_interface(p.state, nullptr) == nullptr);
    }

    void testUnpackerWorks() {
        FakeHost host;
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        uint8_t head[4] = {1, 2, 3, 4};
        uint32_t score = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->probe(p.state, head, 4, nullptr, &score));
        CPPUNIT_ASSERT_EQUAL(100u, score);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             vt->probe(p.state, nullptr, 4, nullptr, &score));
        lanspread_unpack_job *job = openJob(vt, p.state);
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->next_entry(job, &e));
        CPPUNIT_ASSERT_EQUAL(std::string("dir/a.txt"),
                             std::string(reinterpret_cast<const char *>(e.path), e.path_len));
        CPPUNIT_ASSERT_EQUAL(uint64_t{5}, e.size_bytes);
        CPPUNIT_ASSERT(e.link_target == nullptr);
        uint8_t buffer[3];
        size_t got = 0;
        std::string data;
        lanspread_status s;
        while ((s = vt->read_data(job, buffer, sizeof buffer, &got)) == LANSPREAD_OK)
            data.append(reinterpret_cast<char *>(buffer), got);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, s);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, got);
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), data);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->next_entry(job, &e));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_SYMLINK, e.type);
        CPPUNIT_ASSERT_EQUAL(
            std::string("a.txt"),
            std::string(reinterpret_cast<const char *>(e.link_target), e.link_target_len));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_END, vt->next_entry(job, &e));
        vt->close(job);
        CPPUNIT_ASSERT(host.logs().empty());
    }

    void testThrowInInit() {
        FakeHost host;
        host.setConfig("throw_in", "init");
        void *state = reinterpret_cast<void *>(0x1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, lanspread_plugin_v1()->init(host.api(), &state));
        CPPUNIT_ASSERT(state == nullptr);
        CPPUNIT_ASSERT(host.logged("exception in init: boom in init", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             lanspread_plugin_v1()->init(nullptr, &state));
    }

    void testThrowInProbe() {
        FakeHost host;
        host.setConfig("throw_in", "probe");
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        uint32_t score = 77;
        uint8_t head[1] = {0};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->probe(p.state, head, 1, "x", &score));
        CPPUNIT_ASSERT_EQUAL(77u, score);
        CPPUNIT_ASSERT(host.logged("exception in probe: boom in probe", LANSPREAD_LOG_ERROR));
    }

    void testThrowInOpen() {
        FakeHost host;
        host.setConfig("throw_in", "open");
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        lanspread_byte_source source = byteSource();
        lanspread_unpack_job *job = reinterpret_cast<lanspread_unpack_job *>(0x1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED,
                             vt->open(p.state, &source, LANSPREAD_CANCEL_NONE, &job));
        CPPUNIT_ASSERT(job == nullptr);
        CPPUNIT_ASSERT(host.logged("exception in open: boom in open", LANSPREAD_LOG_ERROR));
    }

    void testThrowInNextEntry() {
        FakeHost host;
        host.setConfig("throw_in", "next_entry");
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        lanspread_unpack_job *job = openJob(vt, p.state);
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->next_entry(job, &e));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->next_entry(job, &e)); // handle still usable
        vt->close(job);
        CPPUNIT_ASSERT(host.logged("exception in next_entry: boom", LANSPREAD_LOG_ERROR));
    }

    void testThrowInReadData() {
        FakeHost host;
        host.setConfig("throw_in", "read_data");
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        lanspread_unpack_job *job = openJob(vt, p.state);
        lanspread_archive_entry e{};
        e.struct_size = sizeof e;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->next_entry(job, &e));
        uint8_t buffer[8];
        size_t got = 99;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->read_data(job, buffer, sizeof buffer, &got));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, got);
        vt->close(job);
        CPPUNIT_ASSERT(host.logged("exception in read_data: boom", LANSPREAD_LOG_ERROR));
    }

    void testNonStdExceptionBecomesFailed() {
        FakeHost host;
        host.setConfig("throw_in", "probe");
        host.setConfig("throw_kind", "int");
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        uint32_t score = 0;
        uint8_t head[1] = {0};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->probe(p.state, head, 1, nullptr, &score));
        CPPUNIT_ASSERT(host.logged("unknown exception in probe", LANSPREAD_LOG_ERROR));

        FakeHost initHost;
        initHost.setConfig("throw_in", "init");
        initHost.setConfig("throw_kind", "int");
        Started<TestUnpacker> q(initHost);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, q.status);
        CPPUNIT_ASSERT(initHost.logged("unknown exception in init"));
    }

    void testStatusErrorCarriesCode() {
        StatusError error(LANSPREAD_E_IO, "disk on fire");
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_IO, error.status().code());
        CPPUNIT_ASSERT_EQUAL(std::string("disk on fire"), error.status().message());
        CPPUNIT_ASSERT_EQUAL(std::string("E_IO: disk on fire"), std::string(error.what()));

        const char *hooks[] = {"init", "probe", "open", "next_entry", "read_data"};
        for (const char *hook : hooks) {
            FakeHost host;
            host.setConfig("throw_in", hook);
            host.setConfig("throw_kind", "status");
            Started<TestUnpacker> p(host);
            lanspread_status s = p.status;
            if (p.state) {
                auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
                uint8_t buffer[8] = {1};
                size_t got = 0;
                uint32_t score = 0;
                lanspread_byte_source source = byteSource();
                lanspread_unpack_job *job = nullptr;
                lanspread_archive_entry e{};
                e.struct_size = sizeof e;
                std::string h = hook;
                if (h == "probe")
                    s = vt->probe(p.state, buffer, 1, nullptr, &score);
                else if ((s = vt->open(p.state, &source, LANSPREAD_CANCEL_NONE, &job)) ==
                         LANSPREAD_OK) {
                    s = vt->next_entry(job, &e);
                    if (s == LANSPREAD_OK)
                        s = vt->read_data(job, buffer, sizeof buffer, &got);
                    vt->close(job);
                }
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE(hook, LANSPREAD_E_IO, s);
            CPPUNIT_ASSERT_MESSAGE(hook,
                                   host.logged(std::string(hook) + ": E_IO: status from " + hook,
                                               LANSPREAD_LOG_ERROR));
        }

        // A StatusError that carries a success code still reports a failure.
        FakeHost host;
        lanspread_status s = lanspread::detail::guard(Host(host.api()), "hook", []() -> Status {
            throw StatusError(Status(LANSPREAD_OK, "odd"));
        });
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, s);
    }

    void testThrowInFrontendStart() {
        FakeHost host;
        Started<TestFrontend> p(host);
        auto *vt = p.table<lanspread_frontend_v1>(LANSPREAD_FRONTEND_INTERFACE_ID);
        CPPUNIT_ASSERT(vt != nullptr);
        lanspread_frontend_session *session = reinterpret_cast<lanspread_frontend_session *>(0x1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->start(p.state, &session));
        CPPUNIT_ASSERT(session == nullptr);
        CPPUNIT_ASSERT(host.logged("exception in start: boom in start", LANSPREAD_LOG_ERROR));
    }

    void testConfigNumber() {
        FakeHost fake;
        fake.setConfig("good", "42");
        fake.setConfig("low", "3");
        fake.setConfig("junk", "12x");
        fake.setConfig("negative", "-1");
        fake.setConfig("empty", "");
        const lanspread::Host host(fake.api());
        std::vector<std::string> warnings;
        uint64_t value = 7;
        CPPUNIT_ASSERT(host.configNumber("unset", 0, 100, value, warnings));
        CPPUNIT_ASSERT_EQUAL(uint64_t(7), value);
        CPPUNIT_ASSERT(host.configNumber("good", 0, 100, value, warnings));
        CPPUNIT_ASSERT_EQUAL(uint64_t(42), value);
        CPPUNIT_ASSERT(warnings.empty());
        for (const char *bad : {"low", "junk", "negative", "empty"}) {
            CPPUNIT_ASSERT_MESSAGE(bad, !host.configNumber(bad, 10, 100, value, warnings));
            CPPUNIT_ASSERT_EQUAL(uint64_t(42), value); // kept
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), warnings.size());
        CPPUNIT_ASSERT_EQUAL(
            std::string("config junk=\"12x\" is not a number in 10..100; using 42"), warnings[1]);
    }

    void testTransport() {
        FakeHost host;
        Started<TestTransport> p(host);
        auto *vt = p.table<lanspread_transport_v1>(LANSPREAD_TRANSPORT_INTERFACE_ID);
        CPPUNIT_ASSERT(vt != nullptr);
        TransportRecorder rec;

        // listen, with a config from an older host (struct ends before keepalive_ns).
        uint8_t cert[3] = {1, 2, 3};
        lanspread_transport_config config{};
        config.struct_size = offsetof(lanspread_transport_config, keepalive_ns);
        config.bind_addr = "0.0.0.0:0";
        config.cert_der = cert;
        config.cert_der_len = sizeof cert;
        config.idle_timeout_ns = 5;
        config.keepalive_ns = 99; // beyond struct_size: must read as 0
        lanspread_transport_endpoint *endpoint = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->listen(p.state, &config, &rec.events, &endpoint));
        CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0:0"), gLastConfig.bindAddr);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, gLastConfig.certDer.size());
        CPPUNIT_ASSERT_EQUAL(int64_t{5}, static_cast<int64_t>(gLastConfig.idleTimeout.count()));
        CPPUNIT_ASSERT_EQUAL(int64_t{0}, static_cast<int64_t>(gLastConfig.keepalive.count()));

        char small[8];
        size_t required = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_BUFFER_TOO_SMALL,
                             vt->local_address(endpoint, small, sizeof small, &required));
        CPPUNIT_ASSERT_EQUAL(std::strlen("192.168.100.200:65000") + 1, required);
        std::vector<char> big(required);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             vt->local_address(endpoint, big.data(), big.size(), &required));
        CPPUNIT_ASSERT_EQUAL(std::string("192.168.100.200:65000"), std::string(big.data()));
        vt->destroy_endpoint(endpoint);
        CPPUNIT_ASSERT_EQUAL(1, gEndpointsDestroyed);

        // connect: the handle the host gets back is the one on_connected saw.
        config.struct_size = sizeof config;
        lanspread_transport_conn *conn = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             vt->connect(p.state, &config, "10.0.0.1:7000", &rec.events, &conn));
        CPPUNIT_ASSERT(conn != nullptr && conn == rec.connected);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.1:7000"), rec.remoteAddr);
        CPPUNIT_ASSERT_EQUAL(std::size_t{32}, rec.fingerprintLen);

        uint64_t stream = 0;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->open_stream(conn, &stream));
        CPPUNIT_ASSERT_EQUAL(uint64_t{4}, stream);
        uint8_t data[200] = {0};
        size_t accepted = 99;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->send(conn, stream, data, 10, 0, &accepted));
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, accepted);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->send(conn, stream, data, 200, 0, &accepted));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, accepted);
        CPPUNIT_ASSERT(host.logged("exception in send: boom in send", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, vt->consume(conn, stream, 10));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FATAL, vt->reset_stream(conn, stream, 1));
        CPPUNIT_ASSERT(host.logged("reset_stream: E_FATAL: connection gone"));

        vt->close(conn, 0);
        CPPUNIT_ASSERT(rec.closed == conn);
        CPPUNIT_ASSERT_EQUAL(std::string("closed by host"), rec.closeReason);
        CPPUNIT_ASSERT_EQUAL(1, gConnectionsFreed);

        conn = reinterpret_cast<lanspread_transport_conn *>(0x1);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED,
                             vt->connect(p.state, &config, "throw:1", &rec.events, &conn));
        CPPUNIT_ASSERT(conn == nullptr);
        CPPUNIT_ASSERT(host.logged("exception in connect: boom in connect", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT,
                             vt->connect(p.state, &config, nullptr, &rec.events, &conn));
    }

    void testDiscovery() {
        FakeHost host;
        Started<TestDiscovery> p(host);
        auto *vt = p.table<lanspread_discovery_v1>(LANSPREAD_DISCOVERY_INTERFACE_ID);
        CPPUNIT_ASSERT(vt != nullptr);

        const char *txt[] = {"id=me", "rev=3", nullptr};
        lanspread_service_record record{};
        record.struct_size = sizeof record;
        record.service_type = "_lanspread._udp";
        record.instance_name = "me";
        record.port = 7000;
        record.txt = txt;
        lanspread_discovery_advert *advert = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->advertise(p.state, &record, &advert));
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, gLastTxt.size());
        CPPUNIT_ASSERT_EQUAL(std::string("rev=3"), gLastTxt[1]);
        const char *newTxt[] = {"id=me", "rev=4", "x=y", nullptr};
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->update_txt(advert, newTxt));
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, gLastTxt.size());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->update_txt(advert, nullptr));
        CPPUNIT_ASSERT(host.logged("exception in update_txt: boom in update_txt"));
        vt->stop_advert(advert);

        record.instance_name = "throw";
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, vt->advertise(p.state, &record, &advert));
        CPPUNIT_ASSERT(advert == nullptr);
        CPPUNIT_ASSERT(host.logged("exception in advertise: boom in advertise"));

        struct Seen {
            std::string name, address, txt0, lost;
            uint16_t port = 0;
        } seen;
        lanspread_discovery_events events{};
        events.struct_size = sizeof events;
        events.user_data = &seen;
        events.on_resolved = [](void *u, const lanspread_discovered_service *s) {
            auto *x = static_cast<Seen *>(u);
            x->name = s->instance_name;
            x->address = s->address;
            x->port = s->port;
            x->txt0 = s->txt[0];
            CPPUNIT_ASSERT(s->txt[2] == nullptr);
        };
        events.on_lost = [](void *u, const char *name) { static_cast<Seen *>(u)->lost = name; };
        lanspread_discovery_browse *browse = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK,
                             vt->browse(p.state, "_lanspread._udp", &events, &browse));
        CPPUNIT_ASSERT_EQUAL(std::string("peer-1"), seen.name);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.2"), seen.address);
        CPPUNIT_ASSERT_EQUAL(uint16_t{7000}, seen.port);
        CPPUNIT_ASSERT_EQUAL(std::string("id=abc"), seen.txt0);
        CPPUNIT_ASSERT_EQUAL(std::string("_lanspread._udp-gone"), seen.lost);
        vt->stop_browse(browse);
        CPPUNIT_ASSERT_EQUAL(1, gBrowsesStopped);
    }

    void testThrowInFdCallback() {
        FakeHost host;
        Host h(host.api());
        int fds[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(fds));
        int calls = 0;
        {
            auto watch = h.watchFd(fds[0], LANSPREAD_FD_READ, [&](int, uint32_t) {
                ++calls;
                throw std::runtime_error("fd boom");
            });
            CPPUNIT_ASSERT(watch.ok());
            CPPUNIT_ASSERT_EQUAL(ssize_t{1}, ::write(fds[1], "x", 1));
            host.runOnce();
            CPPUNIT_ASSERT_EQUAL(1, calls);
            CPPUNIT_ASSERT(host.logged("exception in fd callback: fd boom", LANSPREAD_LOG_ERROR));
        }
        ::close(fds[0]);
        ::close(fds[1]);
    }

    void testThrowInTimerCallback() {
        FakeHost host;
        Host h(host.api());
        auto timer = h.startTimer(std::chrono::milliseconds(5), [] { throw 3.5; });
        CPPUNIT_ASSERT(timer.ok() && timer.value().pending());
        host.advance(5'000'000);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.runOnce());
        CPPUNIT_ASSERT(!timer.value().pending());
        CPPUNIT_ASSERT(host.logged("unknown exception in timer callback", LANSPREAD_LOG_ERROR));
        auto second = h.startTimer(std::chrono::nanoseconds(0),
                                   [] { throw std::out_of_range("timer boom"); });
        host.runUntilIdle();
        CPPUNIT_ASSERT(host.logged("exception in timer callback: timer boom"));
    }

    void testThrowInPostedTask() {
        FakeHost host;
        Host h(host.api());
        bool ran = false;
        CPPUNIT_ASSERT(h.post([] { throw std::runtime_error("post boom"); }));
        CPPUNIT_ASSERT(h.post([&] { ran = true; }));
        host.runUntilIdle();
        CPPUNIT_ASSERT(ran);
        CPPUNIT_ASSERT(host.logged("exception in posted task: post boom", LANSPREAD_LOG_ERROR));
        host.refusePosts();
        CPPUNIT_ASSERT(!h.post([] {}));
    }

    // A task the host accepted but never ran before the plugin shut down (the kernel drops
    // those, host.h) is destroyed unrun when shutdown() returns: what it captured is freed,
    // and a late run of the stale task by the host does nothing.
    void testShutdownReleasesPendingPostedTasks() {
        FakeHost host;
        auto captured = std::make_shared<int>(7);
        bool ran = false;
        {
            Started<TestFrontend> plugin(host);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, plugin.status);
            Host h(host.api());
            CPPUNIT_ASSERT(h.post([captured, &ran] { ran = *captured == 7; }));
            CPPUNIT_ASSERT_EQUAL(std::size_t{1},
                                 lanspread::detail::PendingTasks::pendingFor(host.api()));
            CPPUNIT_ASSERT_EQUAL(2L, captured.use_count());
        } // shutdown()
        CPPUNIT_ASSERT_EQUAL(1L, captured.use_count());
        CPPUNIT_ASSERT_EQUAL(std::size_t{0},
                             lanspread::detail::PendingTasks::pendingFor(host.api()));
        host.runUntilIdle(); // the host's stale queue entry finds nothing to run
        CPPUNIT_ASSERT(!ran);

        // A task that ran is no longer pending, and a refused one is not kept either.
        Host h(host.api());
        CPPUNIT_ASSERT(h.post([&ran] { ran = true; }));
        host.runUntilIdle();
        CPPUNIT_ASSERT(ran);
        host.refusePosts();
        CPPUNIT_ASSERT(!h.post([captured] {}));
        CPPUNIT_ASSERT_EQUAL(1L, captured.use_count());
        CPPUNIT_ASSERT_EQUAL(std::size_t{0},
                             lanspread::detail::PendingTasks::pendingFor(host.api()));
    }

    void testConfigBufferGrowth() {
        FakeHost host;
        Host h(host.api());
        std::string longValue;
        for (int i = 0; i < 30; ++i)
            longValue += "segment" + std::to_string(i) + ";"; // ~ 270 bytes
        CPPUNIT_ASSERT(longValue.size() > 64);
        host.setConfig("long", longValue);
        host.setConfig("exact63", std::string(63, 'a')); // fits the first 64-byte buffer
        host.setConfig("exact64", std::string(64, 'b')); // needs 65 with the NUL
        host.setConfig("empty", "");
        CPPUNIT_ASSERT(h.config("long") == std::optional<std::string>(longValue));
        CPPUNIT_ASSERT(h.config("exact63") == std::optional<std::string>(std::string(63, 'a')));
        CPPUNIT_ASSERT(h.config("exact64") == std::optional<std::string>(std::string(64, 'b')));
        CPPUNIT_ASSERT(h.config("empty") == std::optional<std::string>(std::string()));
        CPPUNIT_ASSERT(!h.config("missing").has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("dflt"), h.config("missing", "dflt"));
        CPPUNIT_ASSERT_EQUAL(longValue, h.config("long", "dflt"));
    }

    void testFdWatchRaii() {
        FakeHost host;
        Host h(host.api());
        int fds[2];
        CPPUNIT_ASSERT_EQUAL(0, ::pipe(fds));
        int calls = 0;
        {
            auto watch = h.watchFd(fds[0], LANSPREAD_FD_READ, [&](int, uint32_t) { ++calls; });
            CPPUNIT_ASSERT(watch.ok());
            CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.watchCount());
            lanspread::FdWatch moved = std::move(watch.value());
            CPPUNIT_ASSERT(!watch.value().active());
            CPPUNIT_ASSERT(moved.active());
            CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.watchCount());
            CPPUNIT_ASSERT_EQUAL(ssize_t{1}, ::write(fds[1], "x", 1));
            host.runOnce();
            CPPUNIT_ASSERT_EQUAL(1, calls);
            CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, moved.modify(LANSPREAD_FD_WRITE).code());
            host.runOnce(); // readable but no longer watched for reading
            CPPUNIT_ASSERT_EQUAL(1, calls);
        } // unwatched here
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.watchCount());
        host.runOnce();
        CPPUNIT_ASSERT_EQUAL(1, calls);
        lanspread::FdWatch inactive;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, inactive.modify(LANSPREAD_FD_READ).code());
        ::close(fds[0]);
        ::close(fds[1]);
    }

    void testTimerRaii() {
        FakeHost host;
        Host h(host.api());
        int fired = 0;
        {
            auto timer = h.startTimer(std::chrono::milliseconds(10), [&] { ++fired; });
            CPPUNIT_ASSERT(timer.ok());
            CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.timerCount());
        } // stopped here
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, host.timerCount());
        host.advance(20'000'000);
        host.runUntilIdle();
        CPPUNIT_ASSERT_EQUAL(0, fired);

        auto timer = h.startTimer(std::chrono::milliseconds(1), [&] { ++fired; });
        lanspread::Timer kept = std::move(timer.value());
        CPPUNIT_ASSERT(kept.pending());
        host.advance(1'000'000);
        host.runOnce();
        CPPUNIT_ASSERT_EQUAL(1, fired);
        CPPUNIT_ASSERT(!kept.pending());
        kept.reset(); // after firing: must not stop an unrelated timer
        auto other = h.startTimer(std::chrono::milliseconds(1), [&] { fired += 10; });
        kept.reset();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, host.timerCount());
        host.advance(1'000'000);
        host.runOnce();
        CPPUNIT_ASSERT_EQUAL(11, fired);
    }

    // A host built against an older SDK passes a smaller lanspread_archive_entry: the
    // wrapper must write only struct_size bytes of it.
    void testNextEntryWritesOnlyCallerStructSize() {
        FakeHost host;
        Started<TestUnpacker> p(host);
        auto *vt = p.table<lanspread_unpacker_v1>(LANSPREAD_UNPACKER_INTERFACE_ID);
        lanspread_unpack_job *job = openJob(vt, p.state);
        constexpr uint32_t kSmall = offsetof(lanspread_archive_entry, mode);
        alignas(lanspread_archive_entry) unsigned char raw[sizeof(lanspread_archive_entry) + 32];
        std::memset(raw, 0xCD, sizeof raw);
        auto *e = reinterpret_cast<lanspread_archive_entry *>(raw);
        e->struct_size = kSmall;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->next_entry(job, e));
        CPPUNIT_ASSERT_EQUAL(kSmall, e->struct_size);
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_ENTRY_FILE, e->type);
        CPPUNIT_ASSERT_EQUAL(std::size_t{9}, e->path_len);
        CPPUNIT_ASSERT_EQUAL(uint64_t{5}, e->size_bytes);
        for (std::size_t i = kSmall; i < sizeof raw; ++i)
            CPPUNIT_ASSERT_EQUAL_MESSAGE("byte " + std::to_string(i), 0xCD, int(raw[i]));
        e->struct_size = 4; // too small to hold even the type
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_INVALID_ARGUMENT, vt->next_entry(job, e));
        vt->close(job);
    }

    void testResult() {
        Result<int> good(7);
        CPPUNIT_ASSERT(good.ok() && static_cast<bool>(good));
        CPPUNIT_ASSERT_EQUAL(7, good.value());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, good.status().code());
        CPPUNIT_ASSERT_EQUAL(7, good.valueOr(1));

        Result<int> bad(LANSPREAD_E_NOT_FOUND, "no key");
        CPPUNIT_ASSERT(!bad.ok() && !static_cast<bool>(bad));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_NOT_FOUND, bad.status().code());
        CPPUNIT_ASSERT_EQUAL(std::string("E_NOT_FOUND: no key"), bad.status().describe());
        CPPUNIT_ASSERT_EQUAL(1, bad.valueOr(1));
        CPPUNIT_ASSERT_THROW(bad.value(), std::logic_error);
        const Result<int> &constBad = bad;
        CPPUNIT_ASSERT_THROW(constBad.value(), std::logic_error);

        // A "failure" built from a success status is still a failure.
        Result<std::string> odd(Status::ok());
        CPPUNIT_ASSERT(!odd.ok());
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, odd.status().code());
        Result<std::string> end(Status(LANSPREAD_END));
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_E_FAILED, end.status().code());

        // Move-only values.
        Result<std::unique_ptr<int>> owned(std::make_unique<int>(5));
        std::unique_ptr<int> taken = std::move(owned.value());
        CPPUNIT_ASSERT_EQUAL(5, *taken);

        Status st(LANSPREAD_END);
        CPPUNIT_ASSERT(st.succeeded() && static_cast<bool>(st));
        CPPUNIT_ASSERT(!Status(LANSPREAD_E_AGAIN).succeeded());
        CPPUNIT_ASSERT_EQUAL(std::string("E_AGAIN"), Status(LANSPREAD_E_AGAIN).describe());
    }

  private:
    static lanspread_byte_source byteSource() {
        lanspread_byte_source source{};
        source.struct_size = sizeof source;
        source.read = &readNothing;
        return source;
    }
    lanspread_unpack_job *openJob(const lanspread_unpacker_v1 *vt, void *state) {
        _source = byteSource();
        lanspread_unpack_job *job = nullptr;
        CPPUNIT_ASSERT_EQUAL(LANSPREAD_OK, vt->open(state, &_source, LANSPREAD_CANCEL_NONE, &job));
        CPPUNIT_ASSERT(job != nullptr);
        return job;
    }
    lanspread_byte_source _source{};
};

CPPUNIT_TEST_SUITE_REGISTRATION(WrapperTest);
