// transport-tls: the tunables, read from the plugin's config keys (host->config_get) and the
// per-call lanspread_transport_config. README.md lists them with their defaults.
#pragma once

#include "stream_mux.hpp"

#include <lanspread/host.hpp>
#include <lanspread/kinds/transport.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lanspread::plugins::tls {

struct Options {
    uint64_t idleTimeoutNs = 30'000'000'000ull;      // idle_timeout_ms
    uint64_t keepaliveNs = 10'000'000'000ull;        // keepalive_ms (0 = off)
    uint64_t handshakeTimeoutNs = 10'000'000'000ull; // handshake_timeout_ms
    MuxLimits mux;                         // max_streams, stream_window_bytes, conn_window_bytes,
                                           // send_buffer_bytes, conn_send_buffer_bytes
    std::size_t outputBuffer = 256 * 1024; // output_buffer_bytes: TLS records waiting for the
                                           // socket before no more frames are encrypted
    // max_pending_handshakes: incoming connections accepted but not yet connected (TCP open,
    // TLS handshake or SETTINGS pending), across the plugin's listeners; one more is closed
    // at once. Each costs a socket, a TLS session and buffers until handshake_timeout_ms, so
    // this bounds what a flood of silent or slow connections can hold.
    std::size_t maxPendingHandshakes = 256;
    // max_pending_handshakes_per_address: of those, from one remote address (loopback not
    // capped: every peer on this machine comes from it); one more is closed at accept, before
    // any TLS work. A real peer has at most one handshake pending per transport.
    std::size_t maxPendingPerAddress = 8;

    // Reads every key; a malformed value is reported in `warnings` and the default kept.
    static Options read(const Host &host, const TransportConfig &config,
                        std::vector<std::string> &warnings);
};

// The descriptor's config_keys list (NULL-terminated).
extern const char *const kConfigKeys[];

} // namespace lanspread::plugins::tls
