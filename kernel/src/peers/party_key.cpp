// The party key's cryptography (party_key.hpp): PBKDF2-HMAC-SHA256 stretching, HMAC-SHA256
// proofs and their constant-time check, with wolfCrypt; the key file's checks.
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/peers/party_key.hpp>

// wolfSSL's headers must see the options the library was built with before anything else.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>

#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/pwdbased.h>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace lanspread::kernel::peers {

namespace {

// Clears memory that held a secret; volatile so the compiler cannot drop the stores.
void wipe(void *data, std::size_t size) {
    volatile uint8_t *p = static_cast<volatile uint8_t *>(data);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = 0;
}

std::string octalMode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

class HmacSha256 {
  public:
    HmacSha256() { _rc = wc_HmacInit(&_hmac, nullptr, INVALID_DEVID); }
    ~HmacSha256() {
        if (_rc == 0)
            wc_HmacFree(&_hmac);
    }
    HmacSha256(const HmacSha256 &) = delete;
    HmacSha256 &operator=(const HmacSha256 &) = delete;
    bool key(const uint8_t *key, std::size_t size) {
        return _rc == 0 && wc_HmacSetKey(&_hmac, WC_SHA256, key, static_cast<word32>(size)) == 0;
    }
    bool update(const void *data, std::size_t size) {
        return wc_HmacUpdate(&_hmac, static_cast<const byte *>(data), static_cast<word32>(size)) ==
               0;
    }
    bool final(uint8_t *out) { return wc_HmacFinal(&_hmac, out) == 0; }

  private:
    Hmac _hmac{};
    int _rc = -1;
};

} // namespace

PartyKey::~PartyKey() {
    wipe(_key.data(), _key.size());
}

Result<PartyKey> PartyKey::fromPassphrase(std::string_view passphrase, uint32_t iterations) {
    if (passphrase.empty())
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "the party key is empty");
    if (iterations == 0 || iterations > uint32_t(INT32_MAX))
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "PBKDF2 iteration count out of range");
    Key key{};
    const int rc =
        wc_PBKDF2(key.data(), reinterpret_cast<const byte *>(passphrase.data()),
                  static_cast<int>(passphrase.size()), reinterpret_cast<const byte *>(kSalt.data()),
                  static_cast<int>(kSalt.size()), static_cast<int>(iterations),
                  static_cast<int>(key.size()), WC_SHA256);
    if (rc != 0) {
        wipe(key.data(), key.size());
        return Status(LANSPREAD_E_IO, "cannot stretch the party key (wolfCrypt wc_PBKDF2: " +
                                          std::to_string(rc) + ")");
    }
    PartyKey party(key);
    wipe(key.data(), key.size());
    return party;
}

Result<PartyKey> PartyKey::fromFile(const std::string &path, uint32_t iterations) {
    const std::string name = "lanspread.party_key_file " + path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return Status(LANSPREAD_E_IO, name + " cannot be read: " + base::errnoText(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return Status(LANSPREAD_E_IO, name + " cannot be read: " + base::errnoText(errno));
    if (!S_ISREG(st.st_mode))
        return Status(LANSPREAD_E_INVALID_ARGUMENT, name + " is not a regular file");
    // Like ssh with a private key: a secret others can read is no secret, and one others can
    // write is not ours.
    if ((st.st_mode & 077) != 0)
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      name + " is accessible by group or others (mode " + octalMode(st.st_mode) +
                          "); chmod 600 " + path);
    if (st.st_size > off_t(kMaxFileBytes))
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      name + " is " + std::to_string(st.st_size) + " bytes; at most " +
                          std::to_string(kMaxFileBytes) + " are read");
    std::vector<uint8_t> secret(kMaxFileBytes + 1);
    std::size_t filled = 0;
    while (filled < secret.size()) {
        const ssize_t n = ::read(fd, secret.data() + filled, secret.size() - filled);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wipe(secret.data(), secret.size());
            return Status(LANSPREAD_E_IO, name + " cannot be read: " + base::errnoText(errno));
        }
        if (n == 0)
            break;
        filled += std::size_t(n);
    }
    if (filled > kMaxFileBytes) {
        wipe(secret.data(), secret.size());
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      name + " is longer than " + std::to_string(kMaxFileBytes) + " bytes");
    }
    while (filled > 0 && (secret[filled - 1] == '\n' || secret[filled - 1] == '\r'))
        --filled;
    if (filled == 0) {
        wipe(secret.data(), secret.size());
        return Status(LANSPREAD_E_INVALID_ARGUMENT,
                      name + " is empty; put a passphrase or random bytes in it (e.g. head -c 32 "
                             "/dev/urandom > FILE)");
    }
    auto key = fromPassphrase(
        std::string_view(reinterpret_cast<const char *>(secret.data()), filled), iterations);
    wipe(secret.data(), secret.size());
    return key;
}

Result<PartyKey::Mac> PartyKey::proof(Role role, const std::string &proverId,
                                      const std::string &verifierId, const Nonce &dialerNonce,
                                      const Nonce &listenerNonce) const {
    HmacSha256 hmac;
    const uint8_t separator = 0;
    const auto roleByte = static_cast<uint8_t>(role);
    Mac mac{};
    const bool ok =
        hmac.key(_key.data(), _key.size()) && hmac.update(kProofLabel.data(), kProofLabel.size()) &&
        hmac.update(&separator, 1) && hmac.update(&roleByte, 1) &&
        hmac.update(proverId.data(), proverId.size()) &&
        hmac.update(verifierId.data(), verifierId.size()) &&
        hmac.update(dialerNonce.data(), dialerNonce.size()) &&
        hmac.update(listenerNonce.data(), listenerNonce.size()) && hmac.final(mac.data());
    if (!ok)
        return Status(LANSPREAD_E_IO, "wolfCrypt HMAC-SHA256 failed");
    return mac;
}

bool PartyKey::verify(const Mac &mac, Role role, const std::string &proverId,
                      const std::string &verifierId, const Nonce &dialerNonce,
                      const Nonce &listenerNonce) const {
    const auto expected = proof(role, proverId, verifierId, dialerNonce, listenerNonce);
    return expected && constantTimeEqual(mac.data(), expected.value().data(), mac.size());
}

Result<PartyKey::Nonce> freshNonce() {
    PartyKey::Nonce nonce{};
    std::size_t filled = 0;
    while (filled < nonce.size()) {
        const ssize_t n = ::getrandom(nonce.data() + filled, nonce.size() - filled, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Status(LANSPREAD_E_IO, "getrandom: " + base::errnoText(errno));
        filled += std::size_t(n);
    }
    return nonce;
}

bool constantTimeEqual(const uint8_t *a, const uint8_t *b, std::size_t length) {
    // Every byte is looked at whatever the first difference: the time says nothing about
    // how much of a guessed MAC was right.
    volatile uint8_t difference = 0;
    for (std::size_t i = 0; i < length; ++i)
        difference = static_cast<uint8_t>(difference | (a[i] ^ b[i]));
    return difference == 0;
}

bool parseHex32(const std::string &hex, std::array<uint8_t, 32> &out) {
    if (hex.size() != 64)
        return false;
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 32; ++i) {
        const int high = value(hex[2 * i]);
        const int low = value(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        out[i] = static_cast<uint8_t>(high << 4 | low);
    }
    return true;
}

} // namespace lanspread::kernel::peers
