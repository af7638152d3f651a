// The party key's cryptography (peers/party_key.hpp): PBKDF2 stretching, the proof MAC, its
// constant-time check and the key file's rules. The expected values were computed once with
// Python's hashlib and hmac (an implementation independent of wolfCrypt):
//   hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple',
//                       b'lanspread party key v1', 600000)
//   hmac.new(key, b'lanspread party-key proof v1\x00' + role + prover + verifier
//            + bytes(range(32)) + bytes(range(32, 64)), hashlib.sha256)
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/peers/party_key.hpp>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using lanspread::kernel::base::toHex;
using lanspread::kernel::peers::constantTimeEqual;
using lanspread::kernel::peers::freshNonce;
using lanspread::kernel::peers::parseHex32;
using lanspread::kernel::peers::PartyKey;
using Role = PartyKey::Role;

namespace {

const std::string kPassphrase = "correct horse battery staple";
// PBKDF2-HMAC-SHA256(kPassphrase, "lanspread party key v1", 600000 and 1000 iterations).
const std::string kStretchedFull =
    "9a78938f6e55aa3b82d6c0ba727ae4149cb13574494cd7c6d8eeb9487066ed9b";
const std::string kStretched1000 =
    "997ade46880759cbcb5d12faa3b6760659e4a3a04f1467ba44f23bede5addf73";
// The same for "secret" (a key file's contents), 1000 iterations.
const std::string kSecret1000 = "21ff317b2087a359bd7920a01c9e978b19a31fb79744adebaef9ae350fd3ce62";
const std::string kDialerId = "6a5089da00000000000000000000000000000000000000000000000000000000";
const std::string kListenerId = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
// With the 1000-iteration key: the dialer's proof (prover kDialerId, verifier kListenerId) and
// the listener's (prover kListenerId, verifier kDialerId), nonces 0..31 and 32..63.
const std::string kDialerProof = "838115eb4aa281e5fac67c180c2b5382561e63c0b0855737824f9f0474313b5a";
const std::string kListenerProof =
    "6602cecfceffc74c91ee1b907bc819cf1bc5067f26cc8fafdfd71204ef2ce0c3";

PartyKey::Nonce counting(uint8_t first) {
    PartyKey::Nonce nonce{};
    for (std::size_t i = 0; i < nonce.size(); ++i)
        nonce[i] = static_cast<uint8_t>(first + i);
    return nonce;
}

std::string hex(const std::array<uint8_t, 32> &bytes) {
    return toHex(bytes.data(), bytes.size());
}

PartyKey testKey() {
    auto key = PartyKey::fromPassphrase(kPassphrase, 1000);
    CPPUNIT_ASSERT(key);
    return key.value();
}

class TempDir {
  public:
    TempDir() {
        char pattern[] = "/tmp/party_key_test.XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(pattern) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string &name, const std::string &content, mode_t mode) const {
        const std::string at = path + "/" + name;
        std::ofstream(at, std::ios::binary) << content;
        CPPUNIT_ASSERT_EQUAL(0, ::chmod(at.c_str(), mode));
        return at;
    }
    std::string path;
};

void expectFileError(const std::string &path, const std::string &fragment) {
    auto key = PartyKey::fromFile(path, 1000);
    CPPUNIT_ASSERT_MESSAGE(path + " was accepted", !key);
    const std::string message = key.status().message();
    CPPUNIT_ASSERT_MESSAGE(message, message.find(fragment) != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE(message, message.find(path) != std::string::npos);
}

} // namespace

class PartyKeyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PartyKeyTest);
    CPPUNIT_TEST(stretchesLikePythonsPbkdf2);
    CPPUNIT_TEST(stretchesWithTheStatedIterationsAndSalt);
    CPPUNIT_TEST(refusesAnEmptyPassphrase);
    CPPUNIT_TEST(proofsMatchPythonsHmac);
    CPPUNIT_TEST(verifyTakesTheRightProofOnly);
    CPPUNIT_TEST(anotherKeyFailsVerification);
    CPPUNIT_TEST(constantTimeEqualComparesEveryByte);
    CPPUNIT_TEST(keyFileIsTheSameSecretAsThePassphrase);
    CPPUNIT_TEST(keyFileRules);
    CPPUNIT_TEST(noncesAreFreshAndHexParses);
    CPPUNIT_TEST_SUITE_END();

  public:
    void stretchesLikePythonsPbkdf2() {
        CPPUNIT_ASSERT_EQUAL(kStretched1000, hex(testKey().stretched()));
    }

    void stretchesWithTheStatedIterationsAndSalt() {
        // The real count (600,000), as the peer runs it: ~0.5 s.
        CPPUNIT_ASSERT_EQUAL(600'000u, PartyKey::kIterations);
        auto key = PartyKey::fromPassphrase(kPassphrase);
        CPPUNIT_ASSERT(key);
        CPPUNIT_ASSERT_EQUAL(kStretchedFull, hex(key.value().stretched()));
    }

    void refusesAnEmptyPassphrase() {
        auto key = PartyKey::fromPassphrase("", 1000);
        CPPUNIT_ASSERT(!key);
        CPPUNIT_ASSERT(key.status().message().find("empty") != std::string::npos);
    }

    void proofsMatchPythonsHmac() {
        const PartyKey key = testKey();
        const auto dialer =
            key.proof(Role::Dialer, kDialerId, kListenerId, counting(0), counting(32));
        const auto listener =
            key.proof(Role::Listener, kListenerId, kDialerId, counting(0), counting(32));
        CPPUNIT_ASSERT(dialer && listener);
        CPPUNIT_ASSERT_EQUAL(kDialerProof, hex(dialer.value()));
        CPPUNIT_ASSERT_EQUAL(kListenerProof, hex(listener.value()));
    }

    void verifyTakesTheRightProofOnly() {
        const PartyKey key = testKey();
        PartyKey::Mac mac{};
        CPPUNIT_ASSERT(parseHex32(kDialerProof, mac));
        CPPUNIT_ASSERT(
            key.verify(mac, Role::Dialer, kDialerId, kListenerId, counting(0), counting(32)));
        // Reflected: the dialer's proof offered as the listener's.
        CPPUNIT_ASSERT(
            !key.verify(mac, Role::Listener, kDialerId, kListenerId, counting(0), counting(32)));
        // The ids swapped (a proof for the other direction).
        CPPUNIT_ASSERT(
            !key.verify(mac, Role::Dialer, kListenerId, kDialerId, counting(0), counting(32)));
        // Replayed on another connection: either nonce differs.
        CPPUNIT_ASSERT(
            !key.verify(mac, Role::Dialer, kDialerId, kListenerId, counting(1), counting(32)));
        CPPUNIT_ASSERT(
            !key.verify(mac, Role::Dialer, kDialerId, kListenerId, counting(0), counting(33)));
        // The nonces in the other order.
        CPPUNIT_ASSERT(
            !key.verify(mac, Role::Dialer, kDialerId, kListenerId, counting(32), counting(0)));
        // One bit off, in the first byte and in the last.
        for (std::size_t at : {std::size_t(0), mac.size() - 1}) {
            PartyKey::Mac bad = mac;
            bad[at] ^= 0x01;
            CPPUNIT_ASSERT(
                !key.verify(bad, Role::Dialer, kDialerId, kListenerId, counting(0), counting(32)));
        }
    }

    void anotherKeyFailsVerification() {
        const PartyKey ours = testKey();
        auto other = PartyKey::fromPassphrase(kPassphrase + "!", 1000);
        auto fewerRounds = PartyKey::fromPassphrase(kPassphrase, 999);
        CPPUNIT_ASSERT(other && fewerRounds);
        for (const PartyKey *theirs : {&other.value(), &fewerRounds.value()}) {
            const auto mac =
                theirs->proof(Role::Dialer, kDialerId, kListenerId, counting(0), counting(32));
            CPPUNIT_ASSERT(mac);
            CPPUNIT_ASSERT(!ours.verify(mac.value(), Role::Dialer, kDialerId, kListenerId,
                                        counting(0), counting(32)));
        }
    }

    void constantTimeEqualComparesEveryByte() {
        const PartyKey::Nonce a = counting(7);
        for (std::size_t at = 0; at < a.size(); ++at) {
            PartyKey::Nonce b = a;
            b[at] ^= 0x80;
            CPPUNIT_ASSERT(!constantTimeEqual(a.data(), b.data(), a.size()));
        }
        PartyKey::Nonce same = a;
        CPPUNIT_ASSERT(constantTimeEqual(a.data(), same.data(), a.size()));
    }

    void keyFileIsTheSameSecretAsThePassphrase() {
        TempDir dir;
        for (const std::string &content : {std::string("secret"), std::string("secret\n"),
                                           std::string("secret\r\n"), std::string("secret\n\n")}) {
            auto key = PartyKey::fromFile(dir.file("key", content, 0600), 1000);
            CPPUNIT_ASSERT_MESSAGE(key ? "" : key.status().message(), key);
            CPPUNIT_ASSERT_EQUAL(kSecret1000, hex(key.value().stretched()));
        }
        // Binary key material is used as it is (only trailing line ends go).
        const std::string binary("\x00\x01\xff secret\x00", 11);
        auto key = PartyKey::fromFile(dir.file("binary", binary, 0400), 1000);
        auto same = PartyKey::fromPassphrase(binary, 1000);
        CPPUNIT_ASSERT(key && same);
        CPPUNIT_ASSERT(key.value().stretched() == same.value().stretched());
    }

    void keyFileRules() {
        TempDir dir;
        expectFileError(dir.path + "/missing", "cannot be read");
        expectFileError(dir.file("empty", "", 0600), "is empty");
        expectFileError(dir.file("newlines", "\n\r\n", 0600), "is empty");
        expectFileError(dir.file("group", "secret", 0640), "chmod 600");
        expectFileError(dir.file("world", "secret", 0604), "mode 0604");
        expectFileError(dir.file("writable", "secret", 0620), "group or others");
        expectFileError(dir.file("big", std::string(PartyKey::kMaxFileBytes + 1, 'x'), 0600),
                        "at most");
        expectFileError(dir.path, "not a regular file");
        if (::geteuid() != 0) // root reads anything
            expectFileError(dir.file("unreadable", "secret", 0200), "cannot be read");
        CPPUNIT_ASSERT(PartyKey::fromFile(
            dir.file("ok", std::string(PartyKey::kMaxFileBytes, 'x'), 0600), 1000));
    }

    void noncesAreFreshAndHexParses() {
        auto a = freshNonce();
        auto b = freshNonce();
        CPPUNIT_ASSERT(a && b);
        CPPUNIT_ASSERT(a.value() != b.value());
        std::array<uint8_t, 32> parsed{};
        CPPUNIT_ASSERT(parseHex32(hex(a.value()), parsed));
        CPPUNIT_ASSERT(parsed == a.value());
        CPPUNIT_ASSERT(!parseHex32(std::string(63, 'a'), parsed));
        CPPUNIT_ASSERT(!parseHex32(std::string(64, 'A'), parsed));
        CPPUNIT_ASSERT(!parseHex32(std::string(62, 'a') + "g0", parsed));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PartyKeyTest);
