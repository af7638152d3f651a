// PluginLoader against the fake plugins of tests/fake_plugins/: one fake per acceptance rule
// (plugin-abi-notes §4.3), each refused with exactly its LoadFailure and a one-line reason
// naming the file and the rule, plus the positive control, the ABI 1.0 plugin on the 1.1
// kernel, and a C++ plugin whose hook throws. Every plugin gets its own FakeHost, as the
// kernel gives each plugin its own host table.
#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/testing/fake_host.hpp>

#include "plugin_paths.h"

#include <Poco/SharedLibrary.h>
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using lanspread::kernel::host::LoadedPlugin;
using lanspread::kernel::host::LoadFailure;
using lanspread::kernel::host::loadFailureName;
using lanspread::kernel::host::LoadOutcome;
using lanspread::kernel::host::PluginImage;
using lanspread::kernel::host::PluginLoader;
using lanspread::testing::FakeHost;

namespace {

std::string fileName(const std::string &path) {
    return std::filesystem::path(path).filename().string();
}

std::string name(LoadFailure failure) {
    return loadFailureName(failure);
}

} // namespace

class PluginLoaderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PluginLoaderTest);
    CPPUNIT_TEST(goodUnpacker);
    CPPUNIT_TEST(fileNotLoadable);
    CPPUNIT_TEST(unresolvedSymbol);
    CPPUNIT_TEST(noEntrySymbol);
    CPPUNIT_TEST(nullEntry);
    CPPUNIT_TEST(abiMajor2);
    CPPUNIT_TEST(abiMinorNewer);
    CPPUNIT_TEST(entryTooSmall);
    CPPUNIT_TEST(descriptorTooSmall);
    CPPUNIT_TEST(missingRequiredMember);
    CPPUNIT_TEST(emptyId);
    CPPUNIT_TEST(invalidKind);
    CPPUNIT_TEST(duplicateId);
    CPPUNIT_TEST(initFails);
    CPPUNIT_TEST(missingInterface);
    CPPUNIT_TEST(cppThrowsInHook);
    CPPUNIT_TEST(olderMinor);
    CPPUNIT_TEST(olderMinorReadImage);
    CPPUNIT_TEST(rejectionsAreRecorded);
    CPPUNIT_TEST(keepsLoadingAfterRejection);
    CPPUNIT_TEST(shutdownAllShutsDownAccepted);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        _loader = std::make_unique<PluginLoader>([this](const PluginImage &image) {
            _hosts.push_back(std::make_unique<FakeHost>(image.id()));
            _hostPaths.push_back(image.path);
            return _hosts.back()->api();
        });
    }

    // The loader shuts its plugins down through their host tables: it goes first.
    void tearDown() override {
        _loader.reset();
        _hosts.clear();
        _hostPaths.clear();
    }

    // ---- the positive control ----

    void goodUnpacker() {
        LoadOutcome outcome = _loader->load(FAKE_GOOD_UNPACKER);
        CPPUNIT_ASSERT_MESSAGE(outcome.reason, outcome.ok());
        CPPUNIT_ASSERT_EQUAL(name(LoadFailure::None), name(outcome.failure));
        CPPUNIT_ASSERT(outcome.plugin != nullptr);
        CPPUNIT_ASSERT(outcome.plugin->interface != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.test.good_unpacker"), outcome.plugin->id());
        CPPUNIT_ASSERT_EQUAL(uint32_t(LANSPREAD_KIND_UNPACKER), outcome.plugin->kind());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _loader->plugins().size());
        CPPUNIT_ASSERT(_loader->plugins().front().get() == outcome.plugin);
        CPPUNIT_ASSERT(_loader->rejections().empty());

        // One host, made for this plugin and handed to its init().
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hosts.size());
        CPPUNIT_ASSERT_EQUAL(std::string(FAKE_GOOD_UNPACKER), _hostPaths.front());
        CPPUNIT_ASSERT(outcome.plugin->host == _hosts.front()->api());

        // The interface is the plugin's real unpacker table.
        auto *unpacker = static_cast<const lanspread_unpacker_v1 *>(outcome.plugin->interface);
        CPPUNIT_ASSERT(unpacker->struct_size >= sizeof(lanspread_unpacker_v1));
        const uint8_t head[] = {'P', 'K', 3, 4};
        uint32_t score = 99;
        lanspread_status status =
            unpacker->probe(outcome.plugin->state, head, sizeof head, "x.zip", &score);
        CPPUNIT_ASSERT_EQUAL(std::string("OK"), std::string(lanspread_status_name(status)));
        CPPUNIT_ASSERT_EQUAL(uint32_t(0), score);

        // A 1.1 plugin's config_keys survive the copy.
        const PluginImage &image = outcome.plugin->image;
        CPPUNIT_ASSERT(image.descriptor.config_keys != nullptr);
        CPPUNIT_ASSERT(image.descriptor.config_keys[0] != nullptr);
    }

    // ---- one test per rule ----

    void fileNotLoadable() {
        expectStaticRejection(FAKE_NOT_AN_ELF, LoadFailure::FileNotLoadable);
        expectStaticRejection(LANSPREAD_FAKE_PLUGIN_DIR "/no_such_plugin.so",
                              LoadFailure::FileNotLoadable);
    }
    // The header promises RTLD_NOW: an unresolved function must be refused at load time, not
    // kill the process on its first call (a "symbol lookup error" is not catchable).
    void unresolvedSymbol() {
        expectStaticRejection(FAKE_UNRESOLVED_SYMBOL, LoadFailure::FileNotLoadable);
    }
    void noEntrySymbol() {
        expectStaticRejection(FAKE_NO_ENTRY_SYMBOL, LoadFailure::MissingEntrySymbol);
    }
    void nullEntry() { expectStaticRejection(FAKE_NULL_ENTRY, LoadFailure::NullEntry); }
    void abiMajor2() { expectStaticRejection(FAKE_ABI_MAJOR_2, LoadFailure::AbiMajorMismatch); }
    void abiMinorNewer() {
        expectStaticRejection(FAKE_ABI_MINOR_NEWER, LoadFailure::AbiMinorNewer);
    }
    void entryTooSmall() {
        expectStaticRejection(FAKE_ENTRY_TOO_SMALL, LoadFailure::EntryTooSmall);
    }
    void descriptorTooSmall() {
        expectStaticRejection(FAKE_DESCRIPTOR_TOO_SMALL, LoadFailure::DescriptorInvalid);
    }
    void missingRequiredMember() {
        expectStaticRejection(FAKE_MISSING_REQUIRED_MEMBER, LoadFailure::MissingRequiredMember);
    }
    void emptyId() { expectStaticRejection(FAKE_EMPTY_ID, LoadFailure::EmptyDescriptorString); }
    void invalidKind() { expectStaticRejection(FAKE_INVALID_KIND, LoadFailure::InvalidKind); }

    void duplicateId() {
        LoadOutcome first = _loader->load(FAKE_DUPLICATE_ID_A);
        CPPUNIT_ASSERT_MESSAGE(first.reason, first.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.test.duplicate"), first.plugin->id());

        expectRejection(FAKE_DUPLICATE_ID_B, LoadFailure::DuplicateId);
        // The first one stays; the second never got a host, let alone init().
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _loader->plugins().size());
        CPPUNIT_ASSERT_EQUAL(std::string(FAKE_DUPLICATE_ID_A),
                             _loader->plugins().front()->image.path);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hosts.size());
    }

    void initFails() {
        expectRejection(FAKE_INIT_FAILS, LoadFailure::InitFailed);
        // init() ran with its own host and logged why it failed.
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hosts.size());
        CPPUNIT_ASSERT(
            _hosts.front()->logged("cannot open /nonexistent/fake-device", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT(_loader->plugins().empty());
        // The fake's shutdown() and get_interface() abort(): destroying the loader here, and
        // not in tearDown, makes a wrong call kill this very test.
        _loader->shutdownAll();
        _loader.reset();
    }

    void missingInterface() {
        expectRejection(FAKE_MISSING_INTERFACE, LoadFailure::MissingInterface);
        CPPUNIT_ASSERT(_loader->plugins().empty());
        // init() succeeded, so the plugin owns state: it must be shut down exactly once.
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _hosts.size());
        CPPUNIT_ASSERT_EQUAL_MESSAGE("shutdown() calls after the rejection", std::size_t(1),
                                     countLogs(*_hosts.front(), "missing_interface: shutdown"));
        _loader.reset();
        CPPUNIT_ASSERT_EQUAL_MESSAGE("shutdown() calls after the loader is gone", std::size_t(1),
                                     countLogs(*_hosts.front(), "missing_interface: shutdown"));
    }

    void cppThrowsInHook() {
        LoadOutcome outcome = _loader->load(FAKE_CPP_THROWS_IN_HOOK);
        CPPUNIT_ASSERT_MESSAGE(outcome.reason, outcome.ok());
        CPPUNIT_ASSERT(outcome.plugin->interface != nullptr);
        FakeHost *host = hostOf(*outcome.plugin);
        CPPUNIT_ASSERT(host != nullptr);

        auto *unpacker = static_cast<const lanspread_unpacker_v1 *>(outcome.plugin->interface);
        CPPUNIT_ASSERT(unpacker->probe != nullptr);
        const uint8_t head[] = {'P', 'K', 3, 4};
        uint32_t score = 77;
        lanspread_status status =
            unpacker->probe(outcome.plugin->state, head, sizeof head, "x.zip", &score);
        // The exception stopped at the wrapper's trampoline: a status and a log line.
        CPPUNIT_ASSERT_EQUAL(std::string("E_FAILED"), std::string(lanspread_status_name(status)));
        CPPUNIT_ASSERT(host->logged("boom", LANSPREAD_LOG_ERROR));
        CPPUNIT_ASSERT_EQUAL(uint32_t(77), score);

        // And the plugin is still usable afterwards.
        CPPUNIT_ASSERT_EQUAL(std::string("E_FAILED"),
                             std::string(lanspread_status_name(unpacker->probe(
                                 outcome.plugin->state, head, sizeof head, nullptr, &score))));
    }

    // ABI 1.0 layout on the 1.1 kernel: loads, and what the plugin's SDK did not have
    // (descriptor.config_keys) reads NULL although the bytes behind its declared size do not.
    void olderMinor() {
        LoadOutcome outcome = _loader->load(FAKE_OLDER_MINOR);
        CPPUNIT_ASSERT_MESSAGE(outcome.reason, outcome.ok());
        CPPUNIT_ASSERT_EQUAL(name(LoadFailure::None), name(outcome.failure));
        CPPUNIT_ASSERT(outcome.plugin->interface != nullptr);
        const PluginImage &image = outcome.plugin->image;
        assertPoisonBehindDescriptor(image);
        assertOlderMinorImage(image);
    }

    void olderMinorReadImage() {
        lanspread::kernel::host::ImageOutcome outcome = PluginLoader::readImage(FAKE_OLDER_MINOR);
        CPPUNIT_ASSERT_MESSAGE(outcome.reason, outcome.image != nullptr);
        CPPUNIT_ASSERT_EQUAL(name(LoadFailure::None), name(outcome.failure));
        assertPoisonBehindDescriptor(*outcome.image);
        assertOlderMinorImage(*outcome.image);
        CPPUNIT_ASSERT(_hosts.empty()); // readImage runs no plugin code beyond the entry
    }

    // ---- the loader as a whole ----

    void rejectionsAreRecorded() {
        const std::vector<std::pair<std::string, LoadFailure>> bad = {
            {FAKE_NO_ENTRY_SYMBOL, LoadFailure::MissingEntrySymbol},
            {FAKE_ABI_MAJOR_2, LoadFailure::AbiMajorMismatch},
            {FAKE_INVALID_KIND, LoadFailure::InvalidKind},
            {FAKE_INIT_FAILS, LoadFailure::InitFailed},
        };
        std::vector<std::string> reasons;
        for (const auto &[path, failure] : bad) {
            LoadOutcome outcome = _loader->load(path);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path, name(failure), name(outcome.failure));
            reasons.push_back(outcome.reason);
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE("the good one is not a rejection", true,
                                     _loader->load(FAKE_GOOD_UNPACKER).ok());

        const auto &rejections = _loader->rejections();
        CPPUNIT_ASSERT_EQUAL(bad.size(), rejections.size());
        for (std::size_t i = 0; i < bad.size(); ++i) {
            CPPUNIT_ASSERT_EQUAL(bad[i].first, rejections[i].path);
            CPPUNIT_ASSERT_EQUAL(name(bad[i].second), name(rejections[i].failure));
            CPPUNIT_ASSERT_EQUAL(reasons[i], rejections[i].reason);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _loader->plugins().size());
    }

    // A rejection is the plugin's problem, not the kernel's: the same loader keeps working.
    void keepsLoadingAfterRejection() {
        for (const char *path : {FAKE_NO_ENTRY_SYMBOL, FAKE_ENTRY_TOO_SMALL, FAKE_EMPTY_ID,
                                 FAKE_INIT_FAILS, FAKE_MISSING_INTERFACE})
            CPPUNIT_ASSERT_MESSAGE(path, !_loader->load(path).ok());
        CPPUNIT_ASSERT(_loader->plugins().empty());

        LoadOutcome good = _loader->load(FAKE_GOOD_UNPACKER);
        CPPUNIT_ASSERT_MESSAGE(good.reason, good.ok());
        CPPUNIT_ASSERT(good.plugin->interface != nullptr);
        LoadOutcome older = _loader->load(FAKE_OLDER_MINOR);
        CPPUNIT_ASSERT_MESSAGE(older.reason, older.ok());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _loader->plugins().size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), _loader->rejections().size());
    }

    void shutdownAllShutsDownAccepted() {
        CPPUNIT_ASSERT(_loader->load(FAKE_GOOD_UNPACKER).ok());
        CPPUNIT_ASSERT(_loader->load(FAKE_OLDER_MINOR).ok());
        _loader->shutdownAll();
        CPPUNIT_ASSERT(_loader->plugins().empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _hosts.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(*_hosts[0], "good_unpacker: shutdown"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(*_hosts[1], "older_minor: shutdown"));
        _loader.reset(); // nothing left to shut down twice
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(*_hosts[0], "good_unpacker: shutdown"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), countLogs(*_hosts[1], "older_minor: shutdown"));
    }

  private:
    // Loads path and checks it is refused with exactly `expected`, through load()'s outcome
    // and rejections(), with a one-line reason naming the file and the rule.
    void expectRejection(const std::string &path, LoadFailure expected) {
        const std::size_t pluginsBefore = _loader->plugins().size();
        const std::size_t rejectionsBefore = _loader->rejections().size();
        LoadOutcome outcome = _loader->load(path);
        const std::string context =
            fileName(path) + " -> " + name(outcome.failure) + ": " + outcome.reason;

        CPPUNIT_ASSERT_EQUAL_MESSAGE(context, name(expected), name(outcome.failure));
        CPPUNIT_ASSERT_MESSAGE(context, !outcome.ok());
        CPPUNIT_ASSERT_MESSAGE(context, outcome.plugin == nullptr);
        CPPUNIT_ASSERT_MESSAGE("reason names the file: " + context,
                               outcome.reason.find(fileName(path)) != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE("reason names the rule: " + context,
                               outcome.reason.find(name(expected)) != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE("reason is one line: " + context,
                               outcome.reason.find('\n') == std::string::npos);

        CPPUNIT_ASSERT_EQUAL(pluginsBefore, _loader->plugins().size());
        CPPUNIT_ASSERT_EQUAL(rejectionsBefore + 1, _loader->rejections().size());
        const PluginLoader::Rejection &rejection = _loader->rejections().back();
        CPPUNIT_ASSERT_EQUAL(path, rejection.path);
        CPPUNIT_ASSERT_EQUAL(name(expected), name(rejection.failure));
        CPPUNIT_ASSERT_EQUAL(outcome.reason, rejection.reason);
    }

    // A rule checked before init(): the plugin never got a host, so never ran.
    void expectStaticRejection(const std::string &path, LoadFailure expected) {
        expectRejection(path, expected);
        CPPUNIT_ASSERT_MESSAGE(fileName(path) + " got a host table", _hosts.empty());
        // readImage applies the same static rule.
        lanspread::kernel::host::ImageOutcome image = PluginLoader::readImage(path);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(fileName(path) + " via readImage: " + image.reason,
                                     name(expected), name(image.failure));
        CPPUNIT_ASSERT(image.image == nullptr);
    }

    // Guards the fake itself: behind its declared 1.0 size, the descriptor in the library
    // really holds a non-NULL config_keys (so a NULL in the image proves the prefix copy).
    static void assertPoisonBehindDescriptor(const PluginImage &image) {
        CPPUNIT_ASSERT(image.library != nullptr);
        void *symbol = image.library->symbol(LANSPREAD_ENTRY_SYMBOL);
        CPPUNIT_ASSERT(symbol != nullptr);
        auto entryFn = reinterpret_cast<lanspread_plugin_entry_fn>(symbol);
        const lanspread_plugin_entry *raw = entryFn();
        CPPUNIT_ASSERT(raw != nullptr && raw->descriptor != nullptr);
        CPPUNIT_ASSERT_EQUAL(uint32_t(LANSPREAD_DESCRIPTOR_SIZE_V1_0),
                             raw->descriptor->struct_size);
        CPPUNIT_ASSERT(raw->descriptor->config_keys != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("POISON"), std::string(raw->descriptor->config_keys[0]));
    }

    static void assertOlderMinorImage(const PluginImage &image) {
        CPPUNIT_ASSERT_EQUAL(std::string("org.lanspread.test.older_minor"), image.id());
        CPPUNIT_ASSERT_EQUAL(uint16_t(0), image.entry.abi_minor);
        CPPUNIT_ASSERT_EQUAL(uint32_t(LANSPREAD_DESCRIPTOR_SIZE_V1_0),
                             image.declaredDescriptorSize);
        CPPUNIT_ASSERT_EQUAL(uint32_t(sizeof(lanspread_plugin_entry)), image.declaredEntrySize);
        CPPUNIT_ASSERT_MESSAGE("config_keys must read NULL for a 1.0 descriptor",
                               image.descriptor.config_keys == nullptr);
        // Everything inside the 1.0 layout was copied.
        CPPUNIT_ASSERT_EQUAL(uint32_t(LANSPREAD_KIND_UNPACKER), image.descriptor.kind);
        CPPUNIT_ASSERT_EQUAL(std::string("Built against ABI 1.0."),
                             std::string(image.descriptor.description));
    }

    FakeHost *hostOf(const LoadedPlugin &plugin) const {
        for (const auto &host : _hosts)
            if (host->api() == plugin.host)
                return host.get();
        return nullptr;
    }

    static std::size_t countLogs(const FakeHost &host, const std::string &text) {
        auto logs = host.logs();
        return static_cast<std::size_t>(
            std::count_if(logs.begin(), logs.end(), [&](const FakeHost::LogRecord &record) {
                return record.message.find(text) != std::string::npos;
            }));
    }

    // Declared before the loader so they outlive it even without tearDown.
    std::vector<std::unique_ptr<FakeHost>> _hosts;
    std::vector<std::string> _hostPaths;
    std::unique_ptr<PluginLoader> _loader;
};

CPPUNIT_TEST_SUITE_REGISTRATION(PluginLoaderTest);
