// Internal to the peer identity (kernel/src/peers/identity*.cpp): the wolfCrypt work the
// identity files are made of and checked with. Nothing outside those files includes this.
// One file per job:
//   identity.cpp         the identity files in <state>/identity/: directory, lock, presence,
//                        loading an existing identity, creating a new one, the peer_id file
//   identity_crypto.cpp  wolfCrypt: RNG and EC keys, DER/PEM, building and verifying the
//                        self-signed certificate, private key parsing, fingerprints
#pragma once

#include <lanspread/result.hpp>

// wolfSSL's headers must see the options the library was built with before anything else:
// DecodedCert's layout depends on them.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(HAVE_ECC) || !defined(WOLFSSL_KEY_GEN)
#error "lanspread's identity needs wolfSSL built with WOLFSSL_CERT_GEN, WOLFSSL_KEY_GEN and ECC"
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::kernel::peers::detail {

constexpr int kCurveId = ECC_SECP256R1;
constexpr int kCurveBytes = 32;

using Bytes = std::vector<uint8_t>;

std::string wolfError(int code);
void initWolfCrypt();
// Clears a buffer that held private key material.
void wipe(void *data, size_t size);

class Rng {
  public:
    Rng() { _rc = wc_InitRng(&_rng); }
    ~Rng() {
        if (_rc == 0)
            wc_FreeRng(&_rng);
    }
    Rng(const Rng &) = delete;
    Rng &operator=(const Rng &) = delete;
    int status() const { return _rc; }
    WC_RNG *get() { return &_rng; }

  private:
    WC_RNG _rng{};
    int _rc = -1;
};

class EccKey {
  public:
    EccKey() { _rc = wc_ecc_init(&_key); }
    ~EccKey() {
        if (_rc == 0)
            wc_ecc_free(&_key);
    }
    EccKey(const EccKey &) = delete;
    EccKey &operator=(const EccKey &) = delete;
    int status() const { return _rc; }
    ecc_key *get() { return &_key; }

  private:
    ecc_key _key{};
    int _rc = -1;
};

// SubjectPublicKeyInfo DER of a key that holds a public point.
Result<Bytes> publicKeyDer(ecc_key *key);
Result<std::string> derToPem(const Bytes &der, int type);
// The self-signed X.509 v3 certificate (DER) for the key: CN=lanspread-<peer_id prefix>,
// OU=<the peer name reduced to characters every parser accepts>.
Result<Bytes> makeSelfSignedCert(ecc_key *key, WC_RNG *rng, const std::string &peerId,
                                 const std::string &peerName);
// Checks that the certificate's signature verifies with its own public key.
Status verifySelfSignature(const Bytes &certDer, const Bytes &spki);
// Decodes a PKCS#8 P-256 private key and returns the SubjectPublicKeyInfo of the public key
// derived from the private scalar (never the public key the file may also carry; that one
// must agree with it).
Result<Bytes> publicKeyOfPrivateKey(const Bytes &pkcs8, WC_RNG *rng);

} // namespace lanspread::kernel::peers::detail
