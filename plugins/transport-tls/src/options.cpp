#include "options.hpp"

#include <optional>

namespace lanspread::plugins::tls {

const char *const kConfigKeys[] = {
    "idle_timeout_ms: close a connection that received nothing this long (default 30000)",
    "keepalive_ms: send a PING frame after this much quiet, 0 = off (default 10000)",
    "handshake_timeout_ms: give up a TCP connect + TLS handshake after this long "
    "(default 10000)",
    "max_streams: concurrent streams the peer may open (default 4096)",
    "stream_window_bytes: per-stream receive window, extended as the host consumes "
    "(default 16777216)",
    "conn_window_bytes: per-connection receive window (default 67108864)",
    "send_buffer_bytes: bytes one stream may hold accepted but not yet sent (default 4194304)",
    "conn_send_buffer_bytes: the same for all streams of a connection (default 67108864)",
    "output_buffer_bytes: encrypted bytes waiting for the socket before sending pauses "
    "(default 262144)",
    "max_pending_handshakes: incoming connections still in their handshake at once; more are "
    "closed at accept (default 256)",
    "max_pending_handshakes_per_address: of those, from one remote address, loopback not "
    "capped; more are closed at accept (default 8)",
    nullptr};

Options Options::read(const Host &host, const TransportConfig &config,
                      std::vector<std::string> &warnings) {
    Options o;
    constexpr uint64_t kMs = 1'000'000;
    uint64_t idleMs = o.idleTimeoutNs / kMs, keepaliveMs = o.keepaliveNs / kMs,
             handshakeMs = o.handshakeTimeoutNs / kMs;
    host.configNumber("idle_timeout_ms", 10, 24ull * 3600 * 1000, idleMs, warnings);
    host.configNumber("keepalive_ms", 0, 24ull * 3600 * 1000, keepaliveMs, warnings);
    host.configNumber("handshake_timeout_ms", 10, 3600ull * 1000, handshakeMs, warnings);
    o.idleTimeoutNs = idleMs * kMs;
    o.keepaliveNs = keepaliveMs * kMs;
    o.handshakeTimeoutNs = handshakeMs * kMs;
    // The call's own values win over the config keys (transport.h: 0 = plugin default).
    if (config.idleTimeout.count() > 0)
        o.idleTimeoutNs = static_cast<uint64_t>(config.idleTimeout.count());
    if (config.keepalive.count() > 0)
        o.keepaliveNs = static_cast<uint64_t>(config.keepalive.count());

    constexpr uint64_t kMaxWindow = 1ull << 32;
    host.configNumber("max_streams", 1, 1u << 20, o.mux.maxStreams, warnings);
    host.configNumber("stream_window_bytes", 16 * 1024, kMaxWindow, o.mux.streamWindow, warnings);
    host.configNumber("conn_window_bytes", 16 * 1024, kMaxWindow, o.mux.connWindow, warnings);
    host.configNumber("send_buffer_bytes", 16 * 1024, kMaxWindow, o.mux.streamSendBuffer, warnings);
    host.configNumber("conn_send_buffer_bytes", 16 * 1024, kMaxWindow, o.mux.connSendBuffer,
                      warnings);
    uint64_t output = o.outputBuffer;
    host.configNumber("output_buffer_bytes", 16 * 1024, 64ull << 20, output, warnings);
    o.outputBuffer = static_cast<std::size_t>(output);
    uint64_t pending = o.maxPendingHandshakes;
    host.configNumber("max_pending_handshakes", 1, 65536, pending, warnings);
    o.maxPendingHandshakes = static_cast<std::size_t>(pending);
    uint64_t perAddress = o.maxPendingPerAddress;
    host.configNumber("max_pending_handshakes_per_address", 1, 65536, perAddress, warnings);
    o.maxPendingPerAddress = static_cast<std::size_t>(perAddress);
    return o;
}

} // namespace lanspread::plugins::tls
