// The peer's identity: a key pair and a self-signed X.509 certificate kept in
// <state>/identity/, generated with wolfCrypt on first start and reused afterwards. The
// peer_id is the lowercase hex SHA-256 of the certificate's SubjectPublicKeyInfo (DER) —
// the same fingerprint a transport reports for a remote peer (lanspread_remote_identity),
// so the kernel can pin a connection to the peer_id it expects.
#pragma once

#include <lanspread/result.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::kernel::peers {

struct Identity {
    std::string peerId;           // 64 lowercase hex chars
    std::vector<uint8_t> certDer; // self-signed certificate, DER
    std::vector<uint8_t> keyDer;  // private key, PKCS#8 DER
    std::string certPath;         // <state>/identity/cert.pem
    std::string keyPath;          // <state>/identity/key.pem (mode 0600)

    // Loads the identity from <stateDir>/identity/, creating it on first use. Fails with a
    // message naming the file when an existing identity is unreadable or inconsistent (the
    // key does not match the certificate): it never silently replaces an identity.
    static Result<Identity> loadOrCreate(const std::string &stateDir, const std::string &peerName);
};

// The peer_id for a DER SubjectPublicKeyInfo (lowercase hex SHA-256).
std::string fingerprintPublicKey(const std::vector<uint8_t> &subjectPublicKeyInfoDer);
// Extracts the SubjectPublicKeyInfo DER from a DER certificate (for fingerprinting a remote
// peer's certificate). Fails on malformed input.
Result<std::vector<uint8_t>> certificatePublicKey(const std::vector<uint8_t> &certDer);

} // namespace lanspread::kernel::peers
