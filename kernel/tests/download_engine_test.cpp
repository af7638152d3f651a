// The download engine (transfer::Download) on the simulated network (support/sim_transport.hpp),
// in virtual time: a receiver with real PeerNetworks and a real Download, sources with real
// game roots in temporary directories, scanned by the library and served through the serve
// gates as PeerRuntime serves them. Only the wire is simulated, so link rates, a host that
// falls silent and a source whose bytes differ from its advertised hashes are all exact and
// repeatable, and minutes of timeouts take milliseconds.
#include "support/sim_transport.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/kernel/base/sha256.hpp>
#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/catalog/chunks.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/host/worker_pool.hpp>
#include <lanspread/kernel/install/install_engine.hpp>
#include <lanspread/kernel/library/library.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kernel/peers/network.hpp>
#include <lanspread/kernel/transfer/download.hpp>
#include <lanspread/kernel/transfer/serve_gate.hpp>
#include <lanspread/plugin.h>
#include <lanspread/testing/fake_host.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

// The SDK example's ustar unpacker (unpacker_minimal_objects): a real plugin for the streamed
// installs below.
extern "C" const lanspread_plugin_entry *lanspread_plugin_v1(void);

namespace {

using namespace lanspread::kernel;
using testing::runUntil;
using testing::SimNetwork;
using Kind = transfer::DownloadOutcome::Kind;

namespace fs = std::filesystem;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr const char *kGameId = "arena";
constexpr const char *kReceiverIp = "10.0.0.1";

// A temporary directory, removed with everything in it.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string &prefix) {
        std::string pattern = "/tmp/" + prefix + ".XXXXXX";
        path = ::mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

// Identities take a while to generate: four, made once for every test.
const std::vector<peers::Identity> &identities() {
    struct Store {
        TempDir dir{"download_engine_ids"};
        std::vector<peers::Identity> ids;
        Store() {
            for (int i = 0; i < 4; ++i) {
                auto id = peers::Identity::loadOrCreate((dir.path / std::to_string(i)).string(),
                                                        "peer" + std::to_string(i));
                if (!id.ok())
                    throw std::runtime_error(id.status().describe());
                ids.push_back(id.value());
            }
        }
    };
    static Store store;
    return store.ids;
}

// Bytes that differ per seed and per position (so every chunk has its own hash).
std::string patternBytes(std::size_t size, uint64_t seed) {
    std::string bytes(size, '\0');
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (std::size_t i = 0; i < size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(bytes.data() + i, &x, std::min<std::size_t>(8, size - i));
    }
    return bytes;
}

// A game's small root files: relative path -> content.
using Files = std::map<std::string, std::string>;
// Files of more than one chunk, not held in memory: relative path -> size (the bytes are
// patternBytes, a MiB at a time).
using BigFiles = std::map<std::string, uint64_t>;

// version.ini ("1") and `count` parts of `size` bytes: one chunk each.
Files partsGame(std::size_t count, std::size_t size) {
    Files files{{"version.ini", "1\n"}};
    for (std::size_t i = 0; i < count; ++i) {
        std::string name = "data/part" + std::to_string(10 + i) + ".bin";
        files[name] = patternBytes(size, 100 + i);
    }
    return files;
}

void writeFile(const fs::path &path, const std::string &content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    CPPUNIT_ASSERT_MESSAGE("cannot write " + path.string(), out.good());
}

std::string readFile(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void writeBigFile(const fs::path &path, uint64_t size) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (uint64_t at = 0; at < size; at += kMiB) {
        const std::string block = patternBytes(std::min(kMiB, size - at), size + at);
        out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    out.close();
    CPPUNIT_ASSERT_MESSAGE("cannot write " + path.string(), out.good());
}

// Flips bits of one byte of a file in place.
void flipByte(const fs::path &path, uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    const char old = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(old ^ 0x5a));
    f.close();
    CPPUNIT_ASSERT_MESSAGE("cannot change " + path.string(), f.good());
}

std::string sha256OfFile(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buffer(kMiB);
    base::Sha256 hash;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    return hash.hexDigest();
}

// The SHA-256 of every regular file below root, by relative path.
std::map<std::string, std::string> digestsBelow(const fs::path &root) {
    std::map<std::string, std::string> found;
    for (const auto &entry : fs::recursive_directory_iterator(root))
        if (entry.is_regular_file())
            found[fs::relative(entry.path(), root).generic_string()] = sha256OfFile(entry.path());
    return found;
}

catalog::Catalog testCatalog() {
    return catalog::Catalog::parse(
               std::string("{\"games\":[{\"id\":\"") + kGameId +
                   "\",\"name\":\"Arena\",\"version\":\"1\",\"description\":\"\"}]}",
               "download_engine_test")
        .value();
}

struct Event {
    std::string topic;
    Poco::JSON::Object::Ptr body;
};

// The events a peer's bus published, parsed.
struct EventLog {
    std::vector<Event> events;
    void attach(host::EventBus &bus) {
        bus.subscribe([this](const std::string &topic, const std::string &line) {
            Poco::JSON::Parser parser;
            events.push_back({topic, parser.parse(line).extract<Poco::JSON::Object::Ptr>()});
        });
    }
    std::vector<Poco::JSON::Object::Ptr> all(const std::string &topic) const {
        std::vector<Poco::JSON::Object::Ptr> found;
        for (const auto &e : events)
            if (e.topic == topic)
                found.push_back(e.body);
        return found;
    }
    std::size_t count(const std::string &topic) const { return all(topic).size(); }
    // The topics of the download's own events, in order (peer events left out).
    std::vector<std::string> downloadTopics() const {
        std::vector<std::string> topics;
        for (const auto &e : events)
            if (e.topic == "got-game-files" || e.topic.rfind("download-", 0) == 0)
                topics.push_back(e.topic);
        return topics;
    }
    Poco::JSON::Object::Ptr last(const std::string &topic) const {
        auto found = all(topic);
        return found.empty() ? nullptr : found.back();
    }
    // Bytes of download-chunk-finished events per peer_id.
    std::map<std::string, uint64_t> chunkBytesBySource() const {
        std::map<std::string, uint64_t> bytes;
        for (const auto &e : all("download-chunk-finished"))
            bytes[e->getValue<std::string>("peer_id")] += e->getValue<uint64_t>("bytes");
        return bytes;
    }
};

// A peer that has the game: a real root on disk, indexed by the library's scan, answering
// GetGame and GetChunk as PeerRuntime does (the serve gates over that index). Made partial
// (makePartial), it advertises the game as being downloaded with only some chunks verified,
// and serves those alone, through the gates' DownloadingGame path, as a peer still
// downloading does.
struct Source : peers::NetworkDelegate {
    std::string ip;
    const peers::Identity &identity;
    const catalog::Catalog &catalog;
    fs::path gamesDir;
    library::LocalGame local;
    std::map<std::string, std::string> digests;   // SHA-256 of each file as written
    std::optional<std::vector<bool>> partialHave; // by chunk id, when partial
    protocol::GameFiles list;                     // the list it serves
    std::size_t refusals = 0;                     // GetChunk requests the gates refused
    host::EventBus bus;
    std::unique_ptr<peers::PeerNetwork> net;

    Source(host::Reactor &reactor, host::WorkerPool &workers, SimNetwork &sim,
           const catalog::Catalog &catalog_, const fs::path &dir, std::string ip_,
           const peers::Identity &identity_, const Files &files, const BigFiles &bigFiles)
        : ip(std::move(ip_)), identity(identity_), catalog(catalog_), gamesDir(dir / ip / "games") {
        for (const auto &[path, content] : files)
            writeFile(root() / path, content);
        for (const auto &[path, size] : bigFiles)
            writeBigFile(root() / path, size);
        digests = digestsBelow(root());
        library::LibraryIndex index((dir / ip / "library-index.json").string());
        auto scanned = library::scanGameRoot(gamesDir.string(), *catalog.find(kGameId), index,
                                             [] { return false; });
        CPPUNIT_ASSERT_MESSAGE(scanned.status().describe(), scanned.ok());
        local = scanned.value();
        CPPUNIT_ASSERT_EQUAL(std::string("Ready"), local.availability);
        list = transfer::servedFileList(local);
        net = std::make_unique<peers::PeerNetwork>(reactor, workers, bus, identity, "source-" + ip,
                                                   *this);
        const lanspread::Status started = net->start(sim.transport(ip), "0.0.0.0:0");
        CPPUNIT_ASSERT_MESSAGE(started.describe(), started.succeeded());
    }

    const std::string &peerId() const { return identity.peerId; }
    fs::path root() const { return gamesDir / kGameId; }
    uint64_t bytes() const { return local.sizeBytes; }
    // Chunks with bytes in them (an empty file is complete without a request).
    std::size_t chunksToFetch() const {
        std::size_t n = 0;
        for (const auto &f : local.files)
            n += f.size == 0 ? 0 : catalog::chunkCount(f.size);
        return n;
    }

    // Changes one byte in the middle of every file on disk; the index (and so every answer
    // to GetGame) still describes the original bytes.
    void corruptOnDisk() {
        for (const auto &f : local.files) {
            CPPUNIT_ASSERT(f.size > 0);
            flipByte(root() / f.path, f.size / 2);
        }
    }

    // From now on only the chunks in `have` (by chunk id) are verified here.
    void makePartial(const std::set<std::size_t> &have) {
        std::size_t total = 0;
        for (const auto &f : list.files)
            total += catalog::chunkCount(f.size);
        partialHave = std::vector<bool>(total, false);
        for (std::size_t c : have)
            partialHave->at(c) = true;
    }
    // Verifies more chunks and tells the connected peers (a Have, as the runtime sends).
    void announce(const std::vector<uint64_t> &chunks) {
        for (uint64_t c : chunks)
            partialHave->at(c) = true;
        net->broadcastHave(protocol::Have{local.id, protocol::filesDigest(list), chunks});
    }
    transfer::DownloadingGame downloadingView() {
        transfer::DownloadingGame view;
        view.files = &list;
        view.chunkVerified = [this](std::size_t file, uint64_t index) {
            std::size_t id = 0;
            for (std::size_t f = 0; f < file; ++f)
                id += catalog::chunkCount(list.files[f].size);
            return partialHave->at(id + index);
        };
        view.diskPath = [this](std::size_t file) { return list.files[file].path; };
        return view;
    }

    void librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games,
                         std::vector<protocol::PartialGame> &partials) override {
        revision = 1;
        partials.clear();
        if (partialHave) {
            games.clear();
            protocol::PartialGame partial;
            partial.id = local.id;
            partial.version = local.version;
            partial.filesDigest = protocol::filesDigest(list);
            partial.chunkCount = partialHave->size();
            partial.have = *partialHave;
            partials = {partial};
            return;
        }
        protocol::GameSummary summary;
        summary.id = local.id;
        summary.version = local.version;
        summary.availability = local.availability;
        summary.downloaded = local.downloaded;
        summary.installed = local.installed;
        summary.sizeBytes = local.sizeBytes;
        games = {summary};
    }
    std::variant<protocol::GameFiles, peers::ServeRefusal>
    serveGetGame(const std::string &game) override {
        if (partialHave) {
            const transfer::DownloadingGame view = downloadingView();
            return transfer::gateGetGame(catalog, nullptr, true, game, &view);
        }
        return transfer::gateGetGame(catalog, game == local.id ? &local : nullptr, false, game);
    }
    std::variant<peers::ServeRange, peers::ServeRefusal>
    serveGetChunk(const std::string &, const protocol::GetChunk &request,
                  std::string &gameRoot) override {
        gameRoot = (gamesDir / request.game).string();
        std::variant<peers::ServeRange, peers::ServeRefusal> decision;
        if (partialHave) {
            const transfer::DownloadingGame view = downloadingView();
            decision = transfer::gateGetChunk(catalog, nullptr, true, request, &view);
        } else {
            decision = transfer::gateGetChunk(catalog, request.game == local.id ? &local : nullptr,
                                              false, request);
        }
        refusals += std::holds_alternative<peers::ServeRefusal>(decision) ? 1 : 0;
        return decision;
    }
    void peerLost(const std::string &) override {}
    void peerLibraryChanged(const std::string &) override {}
    void peerHave(const std::string &, const protocol::Have &) override {}
};

// The downloading peer: an empty library, and, as PeerRuntime does, a lost peer handed to
// the running download.
struct Receiver : peers::NetworkDelegate {
    std::string ip = kReceiverIp;
    fs::path gamesDir;
    host::EventBus bus;
    EventLog log;
    std::unique_ptr<peers::PeerNetwork> net;
    std::shared_ptr<transfer::Download> download; // destroyed before net, which it uses
    std::optional<transfer::DownloadOutcome> outcome;
    std::vector<std::string> lost;
    std::unique_ptr<install::InstallEngine> engine; // streamed installs

    Receiver(host::Reactor &reactor, host::WorkerPool &workers, SimNetwork &sim,
             const fs::path &dir, const peers::Identity &identity)
        : gamesDir(dir / kReceiverIp / "games") {
        fs::create_directories(gamesDir);
        log.attach(bus);
        net = std::make_unique<peers::PeerNetwork>(reactor, workers, bus, identity, "receiver",
                                                   *this);
        const lanspread::Status started = net->start(sim.transport(ip), "0.0.0.0:0");
        CPPUNIT_ASSERT_MESSAGE(started.describe(), started.succeeded());
    }

    fs::path root() const { return gamesDir / kGameId; }

    void librarySnapshot(uint64_t &revision, std::vector<protocol::GameSummary> &games,
                         std::vector<protocol::PartialGame> &) override {
        revision = 1;
        games.clear();
    }
    std::variant<protocol::GameFiles, peers::ServeRefusal>
    serveGetGame(const std::string &game) override {
        return peers::ServeRefusal{"not-servable", game + " is not downloaded here"};
    }
    std::variant<peers::ServeRange, peers::ServeRefusal>
    serveGetChunk(const std::string &, const protocol::GetChunk &request, std::string &) override {
        return peers::ServeRefusal{"not-servable", request.game + " is not downloaded here"};
    }
    void peerLost(const std::string &peerId) override {
        lost.push_back(peerId);
        if (download)
            download->peerLost(peerId);
    }
    void peerLibraryChanged(const std::string &peerId) override {
        if (download)
            download->peerChanged(peerId);
    }
    void peerHave(const std::string &peerId, const protocol::Have &have) override {
        if (download)
            download->peerHave(peerId, have);
    }
};

// The SDK example's ustar unpacker, initialised once through its C entry.
struct UstarUnpacker {
    lanspread::testing::FakeHost host{"org.lanspread.example.unpacker-minimal"};
    const lanspread_plugin_entry *entry = lanspread_plugin_v1();
    void *state = nullptr;
    const lanspread_unpacker_v1 *vtable = nullptr;
    UstarUnpacker() {
        if (entry == nullptr || entry->init(host.api(), &state) != LANSPREAD_OK)
            throw std::runtime_error("the example unpacker does not initialise");
        vtable = static_cast<const lanspread_unpacker_v1 *>(
            entry->get_interface(state, LANSPREAD_UNPACKER_INTERFACE_ID));
        if (vtable == nullptr)
            throw std::runtime_error("the example unpacker has no unpacker interface");
    }
    ~UstarUnpacker() { entry->shutdown(state); }
    install::UnpackerRef ref() const {
        return {"org.lanspread.example.unpacker-minimal", vtable, state};
    }
};

// A game for streamed installs: the tar archive game.eti (files spanning several chunks,
// pseudo-random so every chunk differs), version.ini, a root file that is no archive and a
// file in a subdirectory. expected: what local/ must hold (path -> SHA-256).
struct StreamGame {
    Files files;
    std::map<std::string, std::string> expected;
    uint64_t archiveBytes = 0;
};
StreamGame streamGame(const fs::path &scratch, std::size_t fileCount = 3,
                      std::size_t fileSize = 1536 * kKiB) {
    std::vector<lanspread::fixtures::Entry> entries;
    StreamGame game;
    for (std::size_t i = 0; i < fileCount; ++i) {
        const std::string path = "bin/part" + std::to_string(i) + ".dat";
        std::string data = patternBytes(fileSize + i * 4099, 700 + i);
        game.expected[path] = lanspread::fixtures::sha256Hex(data);
        entries.push_back(lanspread::fixtures::fileEntry(path, std::move(data)));
    }
    const fs::path archive = scratch / "game.tar";
    fs::create_directories(scratch);
    lanspread::fixtures::writeArchive(archive.string(), lanspread::fixtures::Format::Tar, entries);
    game.files["game.eti"] = readFile(archive);
    game.archiveBytes = game.files["game.eti"].size();
    game.files["version.ini"] = "1\n";
    game.files["readme.txt"] = "not an archive\n";
    game.files["extras/notes.txt"] = "not fetched either\n";
    return game;
}

// One receiver and its sources on one simulated network and one virtual-time reactor.
struct Swarm {
    TempDir dir{"download_engine_test"}; // removed last
    catalog::Catalog catalog = testCatalog();
    host::Reactor reactor{host::Reactor::Clock::Virtual};
    host::WorkerPool workers{2};
    SimNetwork sim{reactor};
    std::vector<std::unique_ptr<Source>> sources; // destroyed before the network they use
    std::unique_ptr<Receiver> receiver;

    Swarm() {
        testing::holdTimeForWorkers(reactor, workers);
        receiver = std::make_unique<Receiver>(reactor, workers, sim, dir.path, identities()[0]);
    }
    ~Swarm() {
        receiver.reset();
        sources.clear();
    }

    // A source at ip (10.0.0.2, ...) holding files, connected to the receiver; partialHave:
    // it is a partial source with those chunks verified.
    Source &addSource(const std::string &ip, const Files &files, const BigFiles &bigFiles = {},
                      std::optional<std::set<std::size_t>> partialHave = std::nullopt) {
        const std::size_t n = sources.size() + 1;
        sources.push_back(std::make_unique<Source>(reactor, workers, sim, catalog, dir.path, ip,
                                                   identities().at(n), files, bigFiles));
        Source &source = *sources.back();
        if (partialHave)
            source.makePartial(*partialHave);
        bool done = false, ok = false;
        std::string text;
        receiver->net->connect(listenerOf(*source.net, ip), "connect",
                               [&](contract::Outcome<std::string> outcome) {
                                   done = true;
                                   ok = outcome.ok();
                                   text = ok ? outcome.value() : outcome.failure().message;
                               });
        CPPUNIT_ASSERT(runUntil(reactor, [&] {
            return done && source.net->peers().find(identities()[0].peerId) != nullptr;
        }));
        CPPUNIT_ASSERT_MESSAGE(text, ok);
        CPPUNIT_ASSERT_EQUAL(source.peerId(), text);
        return source;
    }

    // Starts a download from the sources the receiver's peer DB offers, as the download
    // command does.
    void startDownload() {
        const catalog::CatalogGame &game = *catalog.find(kGameId);
        std::vector<std::string> ready = receiver->net->peers().readySources(game);
        for (const auto &p : receiver->net->peers().partialSources(game))
            ready.push_back(p);
        CPPUNIT_ASSERT_EQUAL(sources.size(), ready.size());
        receiver->outcome.reset();
        receiver->download = std::make_shared<transfer::Download>(
            reactor, workers, receiver->bus, *receiver->net, receiver->gamesDir.string(), game,
            ready,
            [this](const transfer::DownloadOutcome &outcome) { receiver->outcome = outcome; });
        receiver->download->start();
    }

    // Starts a streamed install with a small memory budget (so the window moves many times),
    // with the SDK example's ustar unpacker. Time is held while the install unpacks or writes.
    void startStreamInstall(install::StreamBudget budget = {3, 4}) {
        static const UstarUnpacker ustar;
        receiver->engine = std::make_unique<install::InstallEngine>(
            receiver->gamesDir.string(), (dir.path / "receiver-state").string(),
            std::vector<install::UnpackerRef>{ustar.ref()});
        reactor.holdTimeWhile([this] {
            return workers.busy() || (receiver->download && receiver->download->streamExtracting());
        });
        const catalog::CatalogGame &game = *catalog.find(kGameId);
        std::vector<std::string> ready = receiver->net->peers().readySources(game);
        CPPUNIT_ASSERT_EQUAL(sources.size(), ready.size());
        receiver->outcome.reset();
        transfer::StreamInstallTarget target;
        target.engine = receiver->engine.get();
        target.cancelled = [] { return false; };
        target.budget = budget;
        receiver->download = std::make_shared<transfer::Download>(
            reactor, workers, receiver->bus, *receiver->net, receiver->gamesDir.string(), game,
            ready,
            [this](const transfer::DownloadOutcome &outcome) { receiver->outcome = outcome; },
            target);
        receiver->download->start();
    }

    // Runs until the download ended and returns how.
    transfer::DownloadOutcome finish() {
        CPPUNIT_ASSERT(runUntil(reactor, [&] { return receiver->outcome.has_value(); }));
        return *receiver->outcome;
    }

    transfer::DownloadOutcome download() {
        startDownload();
        return finish();
    }

    static std::string listenerOf(const peers::PeerNetwork &net, const std::string &ip) {
        const std::string listen = net.listenAddr();
        return ip + listen.substr(listen.rfind(':'));
    }

    // The receiver's root holds exactly the source's files, each with its SHA-256.
    void assertExact(const Source &source) const {
        const std::map<std::string, std::string> received = digestsBelow(receiver->root());
        for (const auto &[path, digest] : source.digests)
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path, digest,
                                         received.count(path) ? received.at(path) : "(missing)");
        CPPUNIT_ASSERT_EQUAL(source.digests.size(), received.size());
    }

    // Total bytes of the download-finished event's per-source map.
    static std::map<std::string, uint64_t> sourcesOf(const Poco::JSON::Object::Ptr &finished) {
        std::map<std::string, uint64_t> bySource;
        auto object = finished->getObject("sources");
        for (const auto &name : object->getNames())
            bySource[name] = object->getValue<uint64_t>(name);
        return bySource;
    }
};

uint64_t sum(const std::map<std::string, uint64_t> &values) {
    uint64_t total = 0;
    for (const auto &[key, value] : values)
        total += value;
    return total;
}

} // namespace

class DownloadEngineTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DownloadEngineTest);
    CPPUNIT_TEST(singleSourceIsExact);
    CPPUNIT_TEST(fasterSourceServesMore);
    CPPUNIT_TEST(corruptSourceIsRejected);
    CPPUNIT_TEST(lostSourceLeavesTheRestToTheOther);
    CPPUNIT_TEST(onlySourceLostEndsWithPeersGone);
    CPPUNIT_TEST(resumeFetchesOnlyWhatIsMissing);
    CPPUNIT_TEST(partialSourceServesOnlyWhatItAnnounced);
    CPPUNIT_TEST(haveMidDownloadMakesAPartialSourceUseful);
    CPPUNIT_TEST(streamInstallFromTwoSources);
    CPPUNIT_TEST(streamCorruptChunkNeverReachesTheUnpacker);
    CPPUNIT_TEST(streamSourceLostMidwayOtherFinishes);
    CPPUNIT_TEST(streamOnlySourceLostRollsBack);
    CPPUNIT_TEST(streamCancelRollsBack);
    CPPUNIT_TEST_SUITE_END();

  public:
    // Parts of odd sizes, a nested and an empty file: every byte arrives with the source's
    // SHA-256, in the order the events promise, and version.ini is committed last.
    void singleSourceIsExact() {
        Swarm swarm;
        Files files = partsGame(3, 100 * kKiB + 7);
        files["maps/deep/arena.map"] = patternBytes(3 * kKiB + 1, 5);
        files["maps/empty.cfg"] = "";
        const Source &a = swarm.addSource("10.0.0.2", files);

        const transfer::DownloadOutcome outcome = swarm.download();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(a);
        CPPUNIT_ASSERT_EQUAL(std::string("1\n"), readFile(swarm.receiver->root() / "version.ini"));

        const EventLog &log = swarm.receiver->log;
        const std::vector<std::string> topics = log.downloadTopics();
        CPPUNIT_ASSERT(topics.size() > 2);
        CPPUNIT_ASSERT_EQUAL(std::string("got-game-files"), topics[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("download-begin"), topics[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("download-finished"), topics.back());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count("download-chunk-rejected"));
        CPPUNIT_ASSERT_EQUAL(a.chunksToFetch(), log.count("download-chunk-finished"));
        const auto finished = log.last("download-finished");
        CPPUNIT_ASSERT_EQUAL(a.bytes(), finished->getValue<uint64_t>("bytes"));
        CPPUNIT_ASSERT_EQUAL(a.bytes(), finished->getValue<uint64_t>("bytes_total"));
        const std::map<std::string, uint64_t> bySource = Swarm::sourcesOf(finished);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), bySource.size());
        CPPUNIT_ASSERT_EQUAL(a.bytes(), bySource.at(a.peerId()));
    }

    // Two sources, one four times faster: both serve, the faster serves more, and the
    // per-source byte counts of download-finished match the chunks each delivered and add up
    // to the game's size.
    void fasterSourceServesMore() {
        Swarm swarm;
        const Files files = partsGame(20, 256 * kKiB);
        const Source &fast = swarm.addSource("10.0.0.2", files);
        const Source &slow = swarm.addSource("10.0.0.3", files);
        swarm.sim.link(fast.ip, kReceiverIp).bytesPerSecond = 40.0 * kMiB;
        swarm.sim.link(slow.ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;

        const transfer::DownloadOutcome outcome = swarm.download();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(fast);

        const EventLog &log = swarm.receiver->log;
        const auto finished = log.last("download-finished");
        const std::map<std::string, uint64_t> bySource = Swarm::sourcesOf(finished);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), bySource.size());
        CPPUNIT_ASSERT(bySource.at(slow.peerId()) > 0);
        CPPUNIT_ASSERT(bySource.at(fast.peerId()) > 2 * bySource.at(slow.peerId()));
        CPPUNIT_ASSERT_EQUAL(fast.bytes(), sum(bySource));
        CPPUNIT_ASSERT_EQUAL(fast.bytes(), finished->getValue<uint64_t>("bytes"));
        CPPUNIT_ASSERT(log.chunkBytesBySource() == bySource);
        // Each source sent at least what it is credited; beyond that only the endgame's
        // second copies, at most one per request slot of the fast source (8 chunks of
        // 256 KiB), plus framing.
        uint64_t sentTotal = 0;
        for (const Source *s : {&fast, &slow}) {
            const uint64_t sent = swarm.sim.traffic(s->ip, kReceiverIp).streamBytes;
            CPPUNIT_ASSERT(sent >= bySource.at(s->peerId()));
            sentTotal += sent;
        }
        CPPUNIT_ASSERT(sentTotal < fast.bytes() + 8 * 256 * kKiB + 64 * kKiB);
    }

    // One source's bytes differ from the hashes it advertises: each chunk it completes is
    // rejected and named with that source, the source gets nothing more, the honest source
    // fetches those chunks again, and the result is exact.
    void corruptSourceIsRejected() {
        Swarm swarm;
        const Files files = partsGame(12, 256 * kKiB);
        const Source &honest = swarm.addSource("10.0.0.2", files);
        Source &liar = swarm.addSource("10.0.0.3", files);
        liar.corruptOnDisk();

        const transfer::DownloadOutcome outcome = swarm.download();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(honest);

        const EventLog &log = swarm.receiver->log;
        const auto rejected = log.all("download-chunk-rejected");
        CPPUNIT_ASSERT(!rejected.empty());
        std::set<std::pair<std::string, uint64_t>> refetch;
        for (const auto &r : rejected) {
            CPPUNIT_ASSERT_EQUAL(liar.peerId(), r->getValue<std::string>("peer_id"));
            CPPUNIT_ASSERT_EQUAL(Swarm::listenerOf(*liar.net, liar.ip),
                                 r->getValue<std::string>("peer_addr"));
            CPPUNIT_ASSERT(r->getValue<std::string>("reason").find("sha256") != std::string::npos);
            refetch.insert({r->getValue<std::string>("path"), r->getValue<uint64_t>("offset")});
        }
        for (const auto &e : log.all("download-chunk-finished")) {
            CPPUNIT_ASSERT_EQUAL(honest.peerId(), e->getValue<std::string>("peer_id"));
            refetch.erase({e->getValue<std::string>("path"), e->getValue<uint64_t>("offset")});
        }
        CPPUNIT_ASSERT(refetch.empty()); // every rejected chunk came again, from the honest one
        CPPUNIT_ASSERT_EQUAL(honest.chunksToFetch(), log.count("download-chunk-finished"));
        const std::map<std::string, uint64_t> bySource =
            Swarm::sourcesOf(log.last("download-finished"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), bySource.size());
        CPPUNIT_ASSERT_EQUAL(honest.bytes(), bySource.at(honest.peerId()));
    }

    // A source falls silent (kill -9) after delivering a chunk: its chunks in flight go to the
    // other source (endgame copies, or once the peer is lost), and the download finishes
    // exact, each source credited with what it delivered, without waiting for the peer
    // timeout (10 s) to notice the dead one.
    void lostSourceLeavesTheRestToTheOther() {
        Swarm swarm;
        const Files files = partsGame(16, 256 * kKiB);
        const Source &stays = swarm.addSource("10.0.0.2", files);
        const Source &dies = swarm.addSource("10.0.0.3", files);
        for (const Source *s : {&stays, &dies})
            swarm.sim.link(s->ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;

        swarm.startDownload();
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(runUntil(swarm.reactor,
                                [&] { return log.chunkBytesBySource().count(dies.peerId()) > 0; }));
        swarm.sim.crash(dies.ip);
        const uint64_t crashedAt = swarm.reactor.now();
        const uint64_t deliveredBeforeCrash = log.chunkBytesBySource().at(dies.peerId());

        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(stays);
        CPPUNIT_ASSERT(swarm.reactor.now() - crashedAt < 10'000'000'000ull);
        CPPUNIT_ASSERT(swarm.receiver->lost.empty() ||
                       swarm.receiver->lost == std::vector<std::string>{dies.peerId()});
        const std::map<std::string, uint64_t> bySource =
            Swarm::sourcesOf(log.last("download-finished"));
        CPPUNIT_ASSERT_EQUAL(deliveredBeforeCrash, bySource.at(dies.peerId()));
        CPPUNIT_ASSERT_EQUAL(stays.bytes() - deliveredBeforeCrash, bySource.at(stays.peerId()));
        CPPUNIT_ASSERT_EQUAL(stays.chunksToFetch(), log.count("download-chunk-finished"));
    }

    // The only source falls silent: the download ends with peers-gone, the root is not
    // "downloaded" (no version.ini), and what was verified stays on disk for a resume.
    void onlySourceLostEndsWithPeersGone() {
        Swarm swarm;
        const Files files = partsGame(8, 256 * kKiB);
        const Source &only = swarm.addSource("10.0.0.2", files);
        swarm.sim.link(only.ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;

        swarm.startDownload();
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(
            runUntil(swarm.reactor, [&] { return log.count("download-chunk-finished") > 0; }));
        swarm.sim.crash(only.ip);

        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT(outcome.kind == Kind::PeersGone);
        CPPUNIT_ASSERT_MESSAGE(outcome.error,
                               outcome.error.find("every source") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.count("download-peers-gone"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count("download-finished"));
        CPPUNIT_ASSERT(!fs::exists(swarm.receiver->root() / "version.ini"));
        CPPUNIT_ASSERT(log.count("download-chunk-finished") < only.chunksToFetch());
        // Every verified chunk is on disk (these files are one chunk each); version.ini, which
        // the random chunk order may fetch early, under its temporary name.
        for (const auto &e : log.all("download-chunk-finished")) {
            const std::string path = e->getValue<std::string>("path");
            const std::string onDisk = path == "version.ini" ? ".version.ini.download" : path;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path, only.digests.at(path),
                                         sha256OfFile(swarm.receiver->root() / onDisk));
        }
    }

    // A root left by an earlier attempt: the chunks on disk whose hash matches (the first of
    // a two-chunk file, one whole part) are kept and never requested; the file's second
    // chunk (one byte wrong), a wrong part and a missing part are fetched; the old
    // version.ini and a file the list does not name are gone at the end.
    // A fast partial source (a peer still downloading) with 4 of the 8 parts, and a slow
    // complete one: the partial source serves those 4 parts and is never asked for a chunk it
    // has not announced; the rest comes from the complete source; the result is exact.
    void partialSourceServesOnlyWhatItAnnounced() {
        Swarm swarm;
        const Files files = partsGame(8, 512 * kKiB); // chunks 0-7: the parts; 8: version.ini
        const Source &complete = swarm.addSource("10.0.0.2", files);
        Source &partial = swarm.addSource("10.0.0.3", files, {}, std::set<std::size_t>{0, 2, 4, 6});
        swarm.sim.link(complete.ip, kReceiverIp).bytesPerSecond = 2.0 * kMiB;
        swarm.sim.link(partial.ip, kReceiverIp).bytesPerSecond = 40.0 * kMiB;

        const transfer::DownloadOutcome outcome = swarm.download();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(complete);
        const EventLog &log = swarm.receiver->log;
        std::set<std::string> fromPartial;
        for (const auto &e : log.all("download-chunk-finished"))
            if (e->getValue<std::string>("peer_id") == partial.peerId())
                fromPartial.insert(e->getValue<std::string>("path"));
        // It has parts 10, 12, 14, 16; being 20x faster it serves (nearly) all of them.
        for (const auto &path : fromPartial)
            CPPUNIT_ASSERT_MESSAGE(path, path == "data/part10.bin" || path == "data/part12.bin" ||
                                             path == "data/part14.bin" ||
                                             path == "data/part16.bin");
        CPPUNIT_ASSERT(fromPartial.size() >= 3);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), partial.refusals);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count("download-chunk-rejected"));
    }

    // A partial source with nothing verified is useless until it announces chunks: once its
    // Have arrives mid-download, the download fetches them from it (it is 20x faster).
    void haveMidDownloadMakesAPartialSourceUseful() {
        Swarm swarm;
        const Files files = partsGame(16, 512 * kKiB);
        const Source &complete = swarm.addSource("10.0.0.2", files);
        Source &partial = swarm.addSource("10.0.0.3", files, {}, std::set<std::size_t>{});
        swarm.sim.link(complete.ip, kReceiverIp).bytesPerSecond = 1.0 * kMiB;
        swarm.sim.link(partial.ip, kReceiverIp).bytesPerSecond = 40.0 * kMiB;

        swarm.startDownload();
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(
            runUntil(swarm.reactor, [&] { return log.count("download-chunk-finished") >= 1; }));
        std::vector<uint64_t> all;
        for (uint64_t c = 0; c <= 16; ++c)
            all.push_back(c);
        partial.announce(all);
        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(complete);
        const std::map<std::string, uint64_t> bySource =
            Swarm::sourcesOf(log.last("download-finished"));
        CPPUNIT_ASSERT(bySource.count(partial.peerId()) > 0);
        CPPUNIT_ASSERT(bySource.at(partial.peerId()) >= complete.bytes() / 2);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), partial.refusals);
    }

    void resumeFetchesOnlyWhatIsMissing() {
        Swarm swarm;
        const Files files = partsGame(3, 256 * kKiB);
        const uint64_t bigSize = catalog::kChunkSize + 64 * kKiB;
        const Source &a = swarm.addSource("10.0.0.2", files, {{"big.eti", bigSize}});

        const fs::path root = swarm.receiver->root();
        writeBigFile(root / "big.eti", bigSize);
        flipByte(root / "big.eti", catalog::kChunkSize + 10);
        writeFile(root / "data/part10.bin", files.at("data/part10.bin")); // right
        writeFile(root / "data/part11.bin", patternBytes(256 * kKiB, 1)); // wrong, same size
        writeFile(root / "version.ini", "0\n");                           // an older version
        writeFile(root / "old/leftover.bin", "from version 0");

        const transfer::DownloadOutcome outcome = swarm.download();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        swarm.assertExact(a);

        const EventLog &log = swarm.receiver->log;
        const uint64_t kept = catalog::kChunkSize + 256 * kKiB;
        CPPUNIT_ASSERT_EQUAL(kept, log.last("download-begin")->getValue<uint64_t>("bytes_resumed"));
        std::set<std::pair<std::string, uint64_t>> fetched;
        for (const auto &e : log.all("download-chunk-finished"))
            fetched.insert({e->getValue<std::string>("path"), e->getValue<uint64_t>("offset")});
        const std::set<std::pair<std::string, uint64_t>> expected{{"big.eti", catalog::kChunkSize},
                                                                  {"data/part11.bin", 0},
                                                                  {"data/part12.bin", 0},
                                                                  {"version.ini", 0}};
        CPPUNIT_ASSERT(expected == fetched);
        CPPUNIT_ASSERT_EQUAL(expected.size(), log.count("download-chunk-finished"));
        const auto finished = log.last("download-finished");
        CPPUNIT_ASSERT_EQUAL(a.bytes() - kept, finished->getValue<uint64_t>("bytes"));
        CPPUNIT_ASSERT_EQUAL(a.bytes() - kept, Swarm::sourcesOf(finished).at(a.peerId()));
        // The kept chunks never crossed the wire.
        CPPUNIT_ASSERT(swarm.sim.traffic(a.ip, kReceiverIp).streamBytes <
                       a.bytes() - kept + 64 * kKiB);
    }

    // --- streamed installs (download_stream.cpp) ---

    // local/ holds exactly the archive's files, and the root nothing else: no archive, no
    // version.ini, no other root file, no staging.
    static void assertStreamInstalled(const Swarm &swarm, const StreamGame &game) {
        const fs::path root = swarm.receiver->root();
        CPPUNIT_ASSERT(game.expected == digestsBelow(root / "local"));
        std::set<std::string> top;
        for (const auto &entry : fs::directory_iterator(root))
            top.insert(entry.path().filename().string());
        CPPUNIT_ASSERT(top == std::set<std::string>{"local"});
    }
    // Nothing is left of the attempt: the root it created and the intent are gone.
    static void assertRolledBack(const Swarm &swarm) {
        CPPUNIT_ASSERT(!fs::exists(swarm.receiver->root()));
        CPPUNIT_ASSERT(!fs::exists(swarm.dir.path / "receiver-state" / "games" / kGameId /
                                   "install_intent.json"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), swarm.receiver->log.count("download-finished"));
    }

    // Two sources: only the archive's chunks are fetched, from both, in order (never more than
    // the read-ahead window past what was delivered), and local/ is the archive's content.
    void streamInstallFromTwoSources() {
        Swarm swarm;
        const StreamGame game = streamGame(swarm.dir.path / "scratch", 6);
        const Source &a = swarm.addSource("10.0.0.2", game.files);
        const Source &b = swarm.addSource("10.0.0.3", game.files);
        for (const Source *s : {&a, &b})
            swarm.sim.link(s->ip, kReceiverIp).bytesPerSecond = 20.0 * kMiB;

        swarm.startStreamInstall();
        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        CPPUNIT_ASSERT(outcome.installed.has_value());
        CPPUNIT_ASSERT_EQUAL(uint64_t(6), outcome.installed->stats.files);
        assertStreamInstalled(swarm, game);

        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), log.count("install-begin"));
        std::vector<std::string> order;
        for (const auto &e : log.events)
            if (e.topic == "download-begin" || e.topic == "install-begin" ||
                e.topic == "download-finished")
                order.push_back(e.topic);
        CPPUNIT_ASSERT(order == (std::vector<std::string>{"download-begin", "install-begin",
                                                          "download-finished"}));
        CPPUNIT_ASSERT_EQUAL(game.archiveBytes,
                             log.last("download-begin")->getValue<uint64_t>("bytes_total"));
        std::size_t delivered = 0;
        for (const auto &e : log.all("download-chunk-finished")) {
            CPPUNIT_ASSERT_EQUAL(std::string("game.eti"), e->getValue<std::string>("path"));
            // In order: a chunk is wanted only within 3 chunks of the read position, which is
            // never past the chunks delivered so far.
            CPPUNIT_ASSERT(e->getValue<uint64_t>("offset") / kMiB < delivered + 3);
            ++delivered;
        }
        const auto finished = log.last("download-finished");
        CPPUNIT_ASSERT_EQUAL(game.archiveBytes, finished->getValue<uint64_t>("bytes"));
        const std::map<std::string, uint64_t> bySource = Swarm::sourcesOf(finished);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), bySource.size());
        CPPUNIT_ASSERT(bySource.at(a.peerId()) > 0 && bySource.at(b.peerId()) > 0);
        CPPUNIT_ASSERT_EQUAL(game.archiveBytes, sum(bySource));
        CPPUNIT_ASSERT(log.chunkBytesBySource() == bySource);
    }

    // A source whose every archive chunk is wrong: its chunk is rejected before the unpacker
    // sees a byte of it, the chunk comes again from the honest source, and local/ is exact.
    void streamCorruptChunkNeverReachesTheUnpacker() {
        Swarm swarm;
        const StreamGame game = streamGame(swarm.dir.path / "scratch", 6);
        const Source &honest = swarm.addSource("10.0.0.2", game.files);
        Source &liar = swarm.addSource("10.0.0.3", game.files);
        for (uint64_t at = kMiB / 2; at < game.archiveBytes; at += kMiB)
            flipByte(liar.root() / "game.eti", at);
        swarm.sim.link(honest.ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;
        swarm.sim.link(liar.ip, kReceiverIp).bytesPerSecond = 40.0 * kMiB;

        swarm.startStreamInstall();
        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        assertStreamInstalled(swarm, game);
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(log.count("download-chunk-rejected") >= 1);
        for (const auto &r : log.all("download-chunk-rejected"))
            CPPUNIT_ASSERT_EQUAL(liar.peerId(), r->getValue<std::string>("peer_id"));
        const std::map<std::string, uint64_t> bySource =
            Swarm::sourcesOf(log.last("download-finished"));
        CPPUNIT_ASSERT_EQUAL(game.archiveBytes, bySource.at(honest.peerId()));
    }

    // One of two sources falls silent mid-stream: the other serves the rest, the stream goes
    // on without a restart, and each source is credited with what it delivered.
    void streamSourceLostMidwayOtherFinishes() {
        Swarm swarm;
        const StreamGame game = streamGame(swarm.dir.path / "scratch", 8);
        const Source &stays = swarm.addSource("10.0.0.2", game.files);
        const Source &dies = swarm.addSource("10.0.0.3", game.files);
        for (const Source *s : {&stays, &dies})
            swarm.sim.link(s->ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;

        swarm.startStreamInstall();
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(runUntil(swarm.reactor,
                                [&] { return log.chunkBytesBySource().count(dies.peerId()) > 0; }));
        swarm.sim.crash(dies.ip);
        const uint64_t deliveredBeforeCrash = log.chunkBytesBySource().at(dies.peerId());

        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == Kind::Finished);
        assertStreamInstalled(swarm, game);
        const std::map<std::string, uint64_t> bySource =
            Swarm::sourcesOf(log.last("download-finished"));
        CPPUNIT_ASSERT_EQUAL(deliveredBeforeCrash, bySource.at(dies.peerId()));
        CPPUNIT_ASSERT_EQUAL(game.archiveBytes - deliveredBeforeCrash, bySource.at(stays.peerId()));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), log.count("download-chunk-rejected"));
    }

    // The only source falls silent mid-stream: peers-gone, and the install rolls back.
    void streamOnlySourceLostRollsBack() {
        streamInterruptedRollsBack([](Swarm &swarm, Source &only) { swarm.sim.crash(only.ip); },
                                   Kind::PeersGone, 1);
    }

    // cancel() mid-stream: Cancelled, the install rolls back.
    void streamCancelRollsBack() {
        streamInterruptedRollsBack(
            [](Swarm &swarm, Source &) { swarm.receiver->download->cancel(); }, Kind::Cancelled, 0);
    }

    // One source; once the first chunk arrived, interrupt(swarm, source): the stream ends as
    // expected, with peersGoneEvents download-peers-gone events, and nothing is left of it.
    static void streamInterruptedRollsBack(const std::function<void(Swarm &, Source &)> &interrupt,
                                           Kind expected, std::size_t peersGoneEvents) {
        Swarm swarm;
        const StreamGame game = streamGame(swarm.dir.path / "scratch", 8);
        Source &only = swarm.addSource("10.0.0.2", game.files);
        swarm.sim.link(only.ip, kReceiverIp).bytesPerSecond = 10.0 * kMiB;

        swarm.startStreamInstall();
        const EventLog &log = swarm.receiver->log;
        CPPUNIT_ASSERT(
            runUntil(swarm.reactor, [&] { return log.count("download-chunk-finished") > 0; }));
        interrupt(swarm, only);

        const transfer::DownloadOutcome outcome = swarm.finish();
        CPPUNIT_ASSERT_MESSAGE(outcome.error, outcome.kind == expected);
        CPPUNIT_ASSERT_EQUAL(peersGoneEvents, log.count("download-peers-gone"));
        assertRolledBack(swarm);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DownloadEngineTest);
