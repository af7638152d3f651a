// The peer's identity (see identity.hpp): an ECDSA P-256 key pair and a self-signed X.509 v3
// certificate (ecdsa-with-SHA256), generated with wolfCrypt and kept as PEM in
// <state>/identity/ so that both wolfSSL (transport-tls) and GnuTLS (transport-quic) read them.
// The wolfCrypt work (keys, PEM, the certificate and its checks) is in identity_crypto.cpp.
//
// Files in <state>/identity/ (directory mode 0700):
//   key.pem   "PRIVATE KEY" (PKCS#8), mode 0600, written once and never replaced;
//   cert.pem  "CERTIFICATE", written once and never replaced;
//   peer_id   the peer_id as text, for people and scripts; derived, never trusted on load;
//   .lock     flock()ed while the identity is created or loaded (two daemons on one state
//             dir cannot both create one).
// Each file is written to a temporary name, fsync()ed and renamed into place without
// replacing an existing file (RENAME_NOREPLACE).
#include <lanspread/kernel/base/files.hpp>
#include <lanspread/kernel/base/text.hpp>
#include <lanspread/kernel/peers/identity.hpp>

#include "identity_crypto.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace lanspread::kernel::peers {

namespace {

using detail::Bytes;
using detail::derToPem;
using detail::EccKey;
using detail::initWolfCrypt;
using detail::kCurveBytes;
using detail::kCurveId;
using detail::makeSelfSignedCert;
using detail::publicKeyDer;
using detail::publicKeyOfPrivateKey;
using detail::Rng;
using detail::verifySelfSignature;
using detail::wipe;
using detail::wolfError;

constexpr size_t kMaxPemBytes = 64 * 1024;
constexpr const char *kCertFile = "cert.pem";
constexpr const char *kKeyFile = "key.pem";
constexpr const char *kPeerIdFile = "peer_id";
constexpr const char *kLockFile = ".lock";

// --- files -------------------------------------------------------------------------------

// Identity files are small: anything bigger is not ours, and is refused before it is parsed.
// Buffers that held key material are wiped.
Result<std::string> readSmallFile(const std::string &path) {
    auto text = base::readFileNoFollow(path, kMaxPemBytes, /*wipe=*/true);
    if (!text && text.status().code() == LANSPREAD_E_FAILED)
        return Result<std::string>(LANSPREAD_E_FAILED, text.status().message() +
                                                           ": it is not a lanspread identity file");
    return text;
}

// Writes content to dir/name with the given mode: a temporary file created with O_EXCL,
// fsync()ed, then renamed into place. An existing dir/name is never replaced unless
// replace is true. Callers hold the identity lock, so a leftover temporary file is stale.
Status writeIdentityFile(const std::string &dir, const std::string &name,
                         const std::string &content, mode_t mode, bool replace) {
    base::AtomicWrite how;
    how.mode = mode;
    how.replace = replace;
    how.syncDirectory = false; // the caller syncs the directory once, after every file
    how.tempPath = dir + "/." + name + ".tmp";
    return base::writeFileAtomically(dir + "/" + name, content, how);
}

// An exclusive flock() on <identity>/.lock, released on destruction.
class DirectoryLock {
  public:
    Status acquire(const std::string &dir) {
        const std::string path = dir + "/" + kLockFile;
        _fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (_fd < 0)
            return Status(LANSPREAD_E_IO, "cannot open " + path + ": " + base::errnoText(errno));
        while (::flock(_fd, LOCK_EX) != 0) {
            if (errno != EINTR)
                return Status(LANSPREAD_E_IO,
                              "cannot lock " + path + ": " + base::errnoText(errno));
        }
        return Status::ok();
    }
    DirectoryLock() = default;
    DirectoryLock(const DirectoryLock &) = delete;
    DirectoryLock &operator=(const DirectoryLock &) = delete;
    ~DirectoryLock() {
        if (_fd >= 0)
            ::close(_fd); // closing the last descriptor releases the flock
    }

  private:
    int _fd = -1;
};

enum class Presence { Missing, Present };

Result<Presence> presence(const std::string &path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return Presence::Missing;
        return Result<Presence>(LANSPREAD_E_IO,
                                "cannot stat " + path + ": " + base::errnoText(errno));
    }
    if (!S_ISREG(st.st_mode))
        return Result<Presence>(LANSPREAD_E_FAILED, path + " is not a regular file");
    return Presence::Present;
}

// --- load and create ----------------------------------------------------------------------

struct Paths {
    std::string dir, cert, key, peerId;
};

std::string recreateAdvice(const Paths &paths) {
    return "restore the file from a backup, or delete " + paths.dir +
           " to create a new identity (other peers will then see a new peer_id)";
}

Result<Identity> loadExisting(const Paths &paths, WC_RNG *rng) {
    // Certificate.
    auto certPem = readSmallFile(paths.cert);
    if (!certPem)
        return Result<Identity>(certPem.status());
    Bytes certDer(certPem.value().size() + 1);
    int n = wc_CertPemToDer(reinterpret_cast<const unsigned char *>(certPem.value().data()),
                            static_cast<int>(certPem.value().size()), certDer.data(),
                            static_cast<int>(certDer.size()), CERT_TYPE);
    if (n <= 0)
        return Result<Identity>(LANSPREAD_E_FAILED, paths.cert + " is not a PEM certificate (" +
                                                        wolfError(n) + "); " +
                                                        recreateAdvice(paths));
    certDer.resize(static_cast<size_t>(n));
    auto certSpki = certificatePublicKey(certDer);
    if (!certSpki)
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.cert + " is unusable: " + certSpki.status().message() + "; " +
                                    recreateAdvice(paths));
    Status signature = verifySelfSignature(certDer, certSpki.value());
    if (!signature)
        return Result<Identity>(LANSPREAD_E_FAILED, paths.cert +
                                                        " is unusable: " + signature.message() +
                                                        "; " + recreateAdvice(paths));

    // Private key.
    auto keyPem = readSmallFile(paths.key);
    if (!keyPem)
        return Result<Identity>(keyPem.status());
    Bytes keyDer(keyPem.value().size() + 1);
    n = wc_KeyPemToDer(reinterpret_cast<const unsigned char *>(keyPem.value().data()),
                       static_cast<int>(keyPem.value().size()), keyDer.data(),
                       static_cast<int>(keyDer.size()), nullptr);
    wipe(keyPem.value().data(), keyPem.value().size());
    if (n <= 0) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.key + " is not an unencrypted PEM private key (" +
                                    wolfError(n) + "); " + recreateAdvice(paths));
    }
    wipe(keyDer.data() + n, keyDer.size() - static_cast<size_t>(n));
    keyDer.resize(static_cast<size_t>(n));
    auto keySpki = publicKeyOfPrivateKey(keyDer, rng);
    if (!keySpki) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                paths.key + " is unusable: " + keySpki.status().message() + "; " +
                                    recreateAdvice(paths));
    }
    if (keySpki.value() != certSpki.value()) {
        wipe(keyDer.data(), keyDer.size());
        return Result<Identity>(LANSPREAD_E_FAILED,
                                "the private key in " + paths.key +
                                    " does not match the public key of the certificate in " +
                                    paths.cert + " (files from two different identities?); " +
                                    "restore the matching pair from a backup, or delete " +
                                    paths.dir + " to create a new identity (other peers will " +
                                    "then see a new peer_id)");
    }

    Identity identity;
    identity.peerId = fingerprintPublicKey(certSpki.value());
    identity.certDer = std::move(certDer);
    identity.keyDer = std::move(keyDer);
    identity.certPath = paths.cert;
    identity.keyPath = paths.key;
    return identity;
}

Status createNew(const Paths &paths, const std::string &peerName, WC_RNG *rng) {
    EccKey key;
    if (key.status() != 0)
        return Status(LANSPREAD_E_FAILED, "wc_ecc_init failed: " + wolfError(key.status()));
    int rc = wc_ecc_make_key_ex(rng, kCurveBytes, key.get(), kCurveId);
    if (rc != 0)
        return Status(LANSPREAD_E_FAILED, "cannot generate a P-256 key: " + wolfError(rc));
    auto spki = publicKeyDer(key.get());
    if (!spki)
        return spki.status();
    const std::string peerId = fingerprintPublicKey(spki.value());

    Bytes pkcs8(512);
    word32 pkcs8Size = static_cast<word32>(pkcs8.size());
    rc = wc_EccKeyToPKCS8(key.get(), pkcs8.data(), &pkcs8Size);
    if (rc <= 0) {
        wipe(pkcs8.data(), pkcs8.size());
        return Status(LANSPREAD_E_FAILED,
                      "cannot encode the private key as PKCS#8: " + wolfError(rc));
    }
    pkcs8.resize(pkcs8Size);
    auto keyPem = derToPem(pkcs8, PKCS8_PRIVATEKEY_TYPE);
    wipe(pkcs8.data(), pkcs8.size());
    if (!keyPem)
        return keyPem.status();

    auto certDer = makeSelfSignedCert(key.get(), rng, peerId, peerName);
    if (!certDer) {
        wipe(keyPem.value().data(), keyPem.value().size());
        return certDer.status();
    }
    auto certPem = derToPem(certDer.value(), CERT_TYPE);
    if (!certPem) {
        wipe(keyPem.value().data(), keyPem.value().size());
        return certPem.status();
    }

    // The key first: a crash between the two renames leaves key.pem alone, which the next
    // start reports instead of replacing.
    Status written = writeIdentityFile(paths.dir, kKeyFile, keyPem.value(), 0600, false);
    wipe(keyPem.value().data(), keyPem.value().size());
    if (!written)
        return written;
    written = writeIdentityFile(paths.dir, kCertFile, certPem.value(), 0644, false);
    if (!written) {
        // The key was created by this call, under the lock, and nobody has used it yet:
        // take it back so that the next start can try again instead of finding half an
        // identity.
        ::unlink(paths.key.c_str());
        return written;
    }
    return base::fsyncDirectory(paths.dir);
}

// Keeps <identity>/peer_id in step with the identity; failures only cost the convenience.
void writePeerIdFile(const Paths &paths, const std::string &peerId) {
    auto existing = readSmallFile(paths.peerId);
    if (existing && existing.value() == peerId + "\n")
        return;
    (void)writeIdentityFile(paths.dir, kPeerIdFile, peerId + "\n", 0644, true);
}

Status makeIdentityDirectory(const std::string &stateDir, const std::string &dir) {
    std::error_code ec;
    std::filesystem::create_directories(stateDir, ec);
    if (ec)
        return Status(LANSPREAD_E_IO,
                      "cannot create the state directory " + stateDir + ": " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return Status(LANSPREAD_E_IO, "cannot create " + dir + ": " + base::errnoText(errno));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return Status(LANSPREAD_E_IO, "cannot stat " + dir + ": " + base::errnoText(errno));
    if (!S_ISDIR(st.st_mode))
        return Status(LANSPREAD_E_FAILED, dir + " exists but is not a directory");
    return Status::ok();
}

} // namespace

Result<Identity> Identity::loadOrCreate(const std::string &stateDir, const std::string &peerName) {
    if (stateDir.empty())
        return Result<Identity>(LANSPREAD_E_INVALID_ARGUMENT, "the state directory is not set");
    initWolfCrypt();
    // Debian's wolfSSL has FP_ECC: ECC operations fill a per-thread cache of precomputed
    // points (about 1.6 MB) that is only released by wc_ecc_fp_free() on the same thread.
    // Creating or loading the identity happens once, so release it rather than leak it
    // when the calling thread ends. Declared first, so it runs after every key is freed.
    struct FixedPointCacheRelease {
        FixedPointCacheRelease() = default;
        FixedPointCacheRelease(const FixedPointCacheRelease &) = delete;
        FixedPointCacheRelease &operator=(const FixedPointCacheRelease &) = delete;
        ~FixedPointCacheRelease() {
#ifdef FP_ECC
            wc_ecc_fp_free();
#endif
        }
    } releaseCache;

    Paths paths;
    paths.dir = stateDir + "/identity";
    paths.cert = paths.dir + "/" + kCertFile;
    paths.key = paths.dir + "/" + kKeyFile;
    paths.peerId = paths.dir + "/" + kPeerIdFile;

    Status made = makeIdentityDirectory(stateDir, paths.dir);
    if (!made)
        return Result<Identity>(made);
    DirectoryLock lock;
    Status locked = lock.acquire(paths.dir);
    if (!locked)
        return Result<Identity>(locked);

    Rng rng;
    if (rng.status() != 0)
        return Result<Identity>(LANSPREAD_E_FAILED, "cannot initialise the random generator: " +
                                                        wolfError(rng.status()));

    auto cert = presence(paths.cert);
    if (!cert)
        return Result<Identity>(cert.status());
    auto key = presence(paths.key);
    if (!key)
        return Result<Identity>(key.status());

    const bool haveCert = cert.value() == Presence::Present;
    const bool haveKey = key.value() == Presence::Present;
    if (haveCert != haveKey) {
        const std::string &present = haveCert ? paths.cert : paths.key;
        const std::string &missing = haveCert ? paths.key : paths.cert;
        return Result<Identity>(
            LANSPREAD_E_FAILED,
            "the identity is incomplete: " + present + " exists but " + missing +
                " is missing; lanspread will not replace it: " + "restore " + missing +
                " from a backup, or delete " + paths.dir +
                " to create a new identity (other peers will " + "then see a new peer_id)");
    }
    if (!haveCert) {
        Status created = createNew(paths, peerName, rng.get());
        if (!created)
            return Result<Identity>(LANSPREAD_E_FAILED, "cannot create the peer identity in " +
                                                            paths.dir + ": " + created.describe());
    }
    // Created or not, the identity comes back through the same checks.
    auto identity = loadExisting(paths, rng.get());
    if (identity)
        writePeerIdFile(paths, identity.value().peerId);
    return identity;
}

} // namespace lanspread::kernel::peers
