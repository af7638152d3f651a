// transport-quic tests: self-signed ECDSA P-256 identities made with GnuTLS, shaped like the
// kernel's (certificate DER + PKCS#8 key DER), and their fingerprints computed independently
// of the plugin: SubjectPublicKeyInfo taken from the private key (not from the certificate
// the TLS handshake carries) and hashed with nettle's SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::plugins::quic::testing {

struct TestIdentity {
    std::vector<uint8_t> certDer;
    std::vector<uint8_t> keyDer; // PKCS#8, unencrypted
    std::array<uint8_t, 32> fingerprint{};

    static TestIdentity generate(const std::string &commonName);
    std::vector<uint8_t> fingerprintBytes() const {
        return std::vector<uint8_t>(fingerprint.begin(), fingerprint.end());
    }
};

std::string toHex(const std::vector<uint8_t> &bytes);

} // namespace lanspread::plugins::quic::testing
