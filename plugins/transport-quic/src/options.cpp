#include "options.hpp"

#include <algorithm>
#include <limits>
#include <optional>

namespace lanspread::plugins::quic {

const char *const kConfigKeys[] = {
    "cc: congestion control, cubic|bbr|bbr2|reno (default cubic)",
    "idle_timeout_ms: close a connection silent this long (default 30000)",
    "keepalive_ms: send a PING after this much quiet, 0 = off (default 10000)",
    "handshake_timeout_ms: give up a handshake after this long (default 10000)",
    "max_streams: concurrent bidirectional streams the peer may open (default 4096)",
    "stream_window_bytes: per-stream receive window, extended as the host consumes "
    "(default 16777216)",
    "conn_window_bytes: per-connection receive window and send-buffer cap (default 67108864)",
    "send_buffer_bytes: bytes one stream may hold accepted but unacknowledged (default 4194304)",
    "socket_buffer_bytes: SO_SNDBUF/SO_RCVBUF, forced when privileged (default 33554432)",
    "max_udp_payload: largest UDP payload sent, or auto = route MTU minus headers "
    "(default auto)",
    "gso: UDP generic segmentation offload for sending, on|off (default on)",
    "gro: UDP generic receive offload, on|off (default on)",
    "max_pending_handshakes: incoming connections of a listener still in their handshake; "
    "more Initials are dropped (default 256)",
    "max_pending_handshakes_per_address: of those, from one remote address, loopback not "
    "capped (default 8)",
    nullptr};

const char *ccName(ngtcp2_cc_algo cc) {
    switch (cc) {
    case NGTCP2_CC_ALGO_RENO: return "reno";
    case NGTCP2_CC_ALGO_CUBIC: return "cubic";
    case NGTCP2_CC_ALGO_BBR: return "bbr";
    case NGTCP2_CC_ALGO_BBR2: return "bbr2";
    }
    return "?";
}

namespace {

void readBool(const Host &host, const char *key, bool &value, std::vector<std::string> &warnings) {
    auto text = host.config(key);
    if (!text)
        return;
    if (*text == "on" || *text == "true" || *text == "1")
        value = true;
    else if (*text == "off" || *text == "false" || *text == "0")
        value = false;
    else
        warnings.push_back(std::string("config ") + key + "=\"" + *text +
                           "\" is not on/off; using " + (value ? "on" : "off"));
}

} // namespace

Options Options::read(const Host &host, const TransportConfig &config,
                      std::vector<std::string> &warnings) {
    Options o;
    if (auto cc = host.config("cc")) {
        if (*cc == "cubic")
            o.cc = NGTCP2_CC_ALGO_CUBIC;
        else if (*cc == "bbr")
            o.cc = NGTCP2_CC_ALGO_BBR;
        else if (*cc == "bbr2")
            o.cc = NGTCP2_CC_ALGO_BBR2;
        else if (*cc == "reno")
            o.cc = NGTCP2_CC_ALGO_RENO;
        else
            warnings.push_back("config cc=\"" + *cc + "\" is not cubic|bbr|bbr2|reno; using " +
                               ccName(o.cc));
    }
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

    host.configNumber("max_streams", 1, 1u << 20, o.maxStreams, warnings);
    constexpr uint64_t kMaxWindow = 1ull << 32;
    host.configNumber("stream_window_bytes", 16 * 1024, kMaxWindow, o.streamWindow, warnings);
    host.configNumber("conn_window_bytes", 16 * 1024, kMaxWindow, o.connWindow, warnings);
    o.connSendBuffer = o.connWindow;
    host.configNumber("send_buffer_bytes", 16 * 1024, kMaxWindow, o.streamSendBuffer, warnings);
    o.connSendBuffer = std::max(o.connSendBuffer, o.streamSendBuffer);
    uint64_t socketBuffer = static_cast<uint64_t>(o.socketBuffer);
    host.configNumber("socket_buffer_bytes", 0, 1ull << 30, socketBuffer, warnings);
    o.socketBuffer = static_cast<int>(socketBuffer);

    if (auto payload = host.config("max_udp_payload"); payload && *payload != "auto") {
        auto parsed = Host::parseUnsigned(*payload);
        if (!parsed || *parsed < 1200 || *parsed > 65527)
            warnings.push_back("config max_udp_payload=\"" + *payload +
                               "\" is not auto or a number in 1200..65527; using auto");
        else
            o.maxUdpPayload = static_cast<std::size_t>(*parsed);
    }
    uint64_t pending = o.maxPendingHandshakes, perAddress = o.maxPendingPerAddress;
    host.configNumber("max_pending_handshakes", 1, 65536, pending, warnings);
    host.configNumber("max_pending_handshakes_per_address", 1, 65536, perAddress, warnings);
    o.maxPendingHandshakes = static_cast<std::size_t>(pending);
    o.maxPendingPerAddress = static_cast<std::size_t>(perAddress);
    readBool(host, "gso", o.gso, warnings);
    readBool(host, "gro", o.gro, warnings);
    return o;
}

} // namespace lanspread::plugins::quic
