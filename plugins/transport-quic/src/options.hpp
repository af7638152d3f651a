// transport-quic: the tunables, read from the plugin's config keys (host->config_get) and the
// per-call lanspread_transport_config. Defaults are sized for a 1–10 Gbit/s, sub-millisecond
// LAN; README.md says how they were chosen.
#pragma once

#include <lanspread/host.hpp>
#include <lanspread/kinds/transport.hpp>

#include <ngtcp2/ngtcp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::plugins::quic {

constexpr uint64_t kMiB = 1024 * 1024;

struct Options {
    ngtcp2_cc_algo cc = NGTCP2_CC_ALGO_CUBIC;
    uint64_t idleTimeoutNs = 30'000'000'000ull;      // idle_timeout_ms
    uint64_t keepaliveNs = 10'000'000'000ull;        // keepalive_ms (0 = off)
    uint64_t handshakeTimeoutNs = 10'000'000'000ull; // handshake_timeout_ms
    uint64_t maxStreams = 4096;                      // max_streams (concurrent, per direction)
    uint64_t streamWindow = 16 * kMiB;               // stream_window_bytes
    uint64_t connWindow = 64 * kMiB;                 // conn_window_bytes
    uint64_t streamSendBuffer = 4 * kMiB;            // send_buffer_bytes (per stream)
    uint64_t connSendBuffer = 64 * kMiB;             // = conn_window_bytes (all streams)
    int socketBuffer = 32 * static_cast<int>(kMiB);  // socket_buffer_bytes
    std::size_t maxUdpPayload = 0;                   // max_udp_payload (0 = auto, from route MTU)
    bool gso = true;                                 // gso
    bool gro = true;                                 // gro
    uint64_t initialRttNs = 25'000'000ull;           // LAN-sized first PTO
    // max_pending_handshakes: incoming connections of one listening endpoint still in their
    // handshake; max_pending_handshakes_per_address: of those, from one remote address
    // (loopback not capped: every peer on this machine comes from it). A client Initial
    // beyond either is dropped before any crypto work (the client's retransmission may find
    // room later), so a flood of Initials costs a parse each, not a TLS handshake.
    std::size_t maxPendingHandshakes = 256;
    std::size_t maxPendingPerAddress = 8;

    // Reads every key; a malformed value is reported in `warnings` and the default kept.
    static Options read(const Host &host, const TransportConfig &config,
                        std::vector<std::string> &warnings);
};

const char *ccName(ngtcp2_cc_algo cc);

// The descriptor's config_keys list (NULL-terminated).
extern const char *const kConfigKeys[];

} // namespace lanspread::plugins::quic
