// fuzz_make_seeds DIR: writes the protocol seeds of corpus/frame_reader and
// corpus/message_decode with the real encoder (protocol::encode), one of every message with
// every field used, so the fuzzers start from inputs the decoders accept. Rerun it when the
// messages change (tests/fuzz/README.md); the files are checked in.
#include <lanspread/kernel/protocol/messages.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace proto = lanspread::kernel::protocol;

namespace {

void put(const std::filesystem::path &file, const std::vector<uint8_t> &bytes) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
}

const std::string kPeer(64, 'a');
const std::string kHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

proto::Hello hello() {
    proto::Hello h;
    h.peerId = kPeer;
    h.name = "alpha";
    h.listenAddr = "192.168.1.10:4433";
    h.listeners = {{"quic", "192.168.1.10:4433"}, {"tls", "192.168.1.10:4433"}};
    h.features = {"partials"};
    h.libraryRevision = 7;
    h.games = {{"ggoo", "20250301", "Ready", true, true, 1048577, kHash},
               {"css", "", "None", false, false, 0, ""}};
    h.partials = {{"wc3", "1.27", kHash, 10, std::vector<bool>(10, false)}};
    h.partials[0].have[0] = h.partials[0].have[9] = true;
    return h;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    proto::LibraryDelta delta;
    delta.revision = 8;
    delta.upserts = hello().games;
    delta.removed = {"css"};
    delta.partialUpserts = hello().partials;
    delta.partialRemoved = {"wc3"};
    proto::GameFiles files;
    files.game = "ggoo";
    files.version = "20250301";
    files.files = {{"ggoo.eti", 1048577, {kHash, kHash}}, {"version.ini", 9, {kHash}}};
    const std::vector<std::pair<std::string, proto::Message>> messages = {
        {"hello", hello()},
        {"hello-ack", proto::HelloAck{hello()}},
        {"library-delta", delta},
        {"get-game", proto::GetGame{"ggoo"}},
        {"game-files", files},
        {"get-chunk", proto::GetChunk{"ggoo", "ggoo.eti", 1048576, proto::kMaxDataPayload}},
        {"get-chunk-tail", proto::GetChunk{"ggoo", "ggoo.eti", 1048576, 1}},
        {"error", proto::ErrorReply{"unknown-game", "no game 'x' here"}},
        {"ping", proto::Ping{42}},
        {"pong", proto::Pong{42}},
        {"goodbye", proto::Goodbye{"shutdown"}},
        {"have", proto::Have{"wc3", kHash, {1, 2, 8}}},
        {"key-challenge", proto::KeyChallenge{proto::kPartyKeyScheme, kHash}},
        {"key-proof", proto::KeyProof{kHash}},
    };
    std::vector<uint8_t> all = {0xff, 3}; // default control limit, split seed 3
    for (const auto &[name, message] : messages) {
        const std::vector<uint8_t> frame = proto::encode(message);
        // message_decode: [type][payload]
        std::vector<uint8_t> decodeSeed(frame.begin() + 4, frame.end());
        decodeSeed[0] = frame[0];
        put(dir / "message_decode" / name, decodeSeed);
        // frame_reader: [limit: 1][split seed: 1][frames]
        std::vector<uint8_t> readerSeed = {0xff, 1};
        readerSeed.insert(readerSeed.end(), frame.begin(), frame.end());
        put(dir / "frame_reader" / name, readerSeed);
        all.insert(all.end(), frame.begin(), frame.end());
    }
    // A request stream's answer: GetChunk's ChunkData (header + raw bytes), then an Error.
    std::vector<uint8_t> chunk = {0x40, 17};
    const std::vector<uint8_t> header = proto::encodeChunkDataHeader(5);
    chunk.insert(chunk.end(), header.begin(), header.end());
    chunk.insert(chunk.end(), {'h', 'e', 'l', 'l', 'o'});
    const std::vector<uint8_t> error = proto::encode(proto::ErrorReply{"busy", "later"});
    chunk.insert(chunk.end(), error.begin(), error.end());
    put(dir / "frame_reader" / "chunk-data-then-error", chunk);
    put(dir / "frame_reader" / "control-stream", all);
    // A small control limit (200 bytes) that the Hello crosses, and one the GetGame fits.
    std::vector<uint8_t> small = {200, 5};
    const std::vector<uint8_t> h = proto::encode(hello());
    small.insert(small.end(), h.begin(), h.end());
    put(dir / "frame_reader" / "hello-over-small-limit", small);
    std::vector<uint8_t> fits = {40, 2};
    const std::vector<uint8_t> g = proto::encode(proto::GetGame{"ggoo"});
    fits.insert(fits.end(), g.begin(), g.end());
    put(dir / "frame_reader" / "get-game-within-small-limit", fits);
    return 0;
}
