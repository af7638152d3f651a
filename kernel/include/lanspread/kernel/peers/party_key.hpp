// The party key (lanspread.party_key / lanspread.party_key_file, docs/configuration.md): an
// opt-in shared secret that peers prove to each other during the handshake before either
// side's library goes out (docs/protocol.md#party-key). The secret is stretched once, at
// start, with PBKDF2-HMAC-SHA256 (fixed salt, kIterations); a proof is HMAC-SHA256 under the
// stretched key over the prover's role, both peer ids and both sides' fresh nonces, so a
// proof is good for one connection, one direction and one pair of peers only. The key and
// the passphrase never go on the wire. Thread: any (no shared state).
#pragma once

#include <lanspread/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lanspread::kernel::peers {

class PartyKey {
  public:
    static constexpr std::size_t kKeyBytes = 32;   // the stretched key
    static constexpr std::size_t kNonceBytes = 32; // one side's challenge
    static constexpr std::size_t kMacBytes = 32;   // HMAC-SHA256
    // OWASP's 2023 figure for PBKDF2-HMAC-SHA256: ~0.55 s once at start on a 2020s core
    // (wolfCrypt in portable C), and as much for every guess an attacker makes offline.
    static constexpr uint32_t kIterations = 600'000;
    // Domain separation: a key stretched for lanspread is useless for anything else.
    static constexpr std::string_view kSalt = "lanspread party key v1";
    // Prefix of every proof's MAC input (followed by a 0 byte).
    static constexpr std::string_view kProofLabel = "lanspread party-key proof v1";
    // A key file holds at most this many bytes (a passphrase, or random bytes).
    static constexpr std::size_t kMaxFileBytes = 64 * 1024;

    using Key = std::array<uint8_t, kKeyBytes>;
    using Nonce = std::array<uint8_t, kNonceBytes>;
    using Mac = std::array<uint8_t, kMacBytes>;
    // Who makes a proof: the side that dialled, or the one that accepted. Part of the MAC
    // input, so a proof reflected back at its maker is not a proof for the other role.
    enum class Role : uint8_t { Dialer = 'D', Listener = 'L' };

    // Stretches a passphrase (not empty). iterations: kIterations except in tests.
    static Result<PartyKey> fromPassphrase(std::string_view passphrase,
                                           uint32_t iterations = kIterations);
    // Reads a key file and stretches its contents like a passphrase (one trailing line end
    // or several are dropped, so `echo secret > file` and party_key = secret are the same
    // key). Fails, naming the file, when it cannot be read, is not a regular file, is empty,
    // is longer than kMaxFileBytes, or is readable or writable by group or others.
    static Result<PartyKey> fromFile(const std::string &path, uint32_t iterations = kIterations);
    // A key that is already stretched (tests).
    static PartyKey fromStretched(const Key &key) { return PartyKey(key); }

    PartyKey(const PartyKey &other) = default;
    PartyKey &operator=(const PartyKey &other) = default;
    ~PartyKey();

    // The proof `role` sends: HMAC-SHA256(key, kProofLabel || 0x00 || role || proverId ||
    // verifierId || dialerNonce || listenerNonce), the ids as their 64 hex characters. Fails
    // only if wolfCrypt does.
    Result<Mac> proof(Role role, const std::string &proverId, const std::string &verifierId,
                      const Nonce &dialerNonce, const Nonce &listenerNonce) const;
    // Whether mac is that proof; compares in constant time (false if wolfCrypt fails).
    bool verify(const Mac &mac, Role role, const std::string &proverId,
                const std::string &verifierId, const Nonce &dialerNonce,
                const Nonce &listenerNonce) const;
    const Key &stretched() const { return _key; }

  private:
    explicit PartyKey(const Key &key) : _key(key) {}
    Key _key{};
};

// 32 bytes from the kernel's random source (getrandom).
Result<PartyKey::Nonce> freshNonce();
// Equal lengths and bytes, in time that depends on the length only.
bool constantTimeEqual(const uint8_t *a, const uint8_t *b, std::size_t length);
// 64 lowercase hex digits to 32 bytes; false when the text is anything else.
bool parseHex32(const std::string &hex, std::array<uint8_t, 32> &out);

} // namespace lanspread::kernel::peers
