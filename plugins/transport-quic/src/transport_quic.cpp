// transport-quic: the plugin entry, listen() and connect().
#include "transport_quic.hpp"

#include "udp_io.hpp"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/version.h>

#include <algorithm>

namespace lanspread::plugins::quic {

// The host's handle for a listening endpoint. Destroying it (destroy_endpoint) terminates the
// endpoint's connections at once (each reports on_closed before destroy_endpoint returns);
// the memory goes on the next loop turn, never from inside one of our own callbacks.
class ListenEndpoint final : public TransportEndpoint {
  public:
    ListenEndpoint(QuicTransport *plugin, Endpoint *endpoint)
        : _plugin(plugin), _endpoint(endpoint), _address(endpoint->io().localAddress().toString()) {
    }
    ~ListenEndpoint() override {
        if (_plugin != nullptr)
            _plugin->retireListener(this, _endpoint);
    }
    Result<std::string> localAddress() const override { return _address; }
    // The plugin is shutting down first (a host bug, tolerated): forget it.
    void detach() {
        _plugin = nullptr;
        _endpoint = nullptr;
    }

  private:
    QuicTransport *_plugin;
    Endpoint *_endpoint;
    std::string _address;
};

QuicTransport::QuicTransport(Host host)
    : TransportPlugin(host),
      _factory([](const Host &h, const SockAddr &bindAddr, const Options &options) {
          return UdpPacketIo::open(h, bindAddr, options);
      }) {}

QuicTransport::~QuicTransport() {
    for (ListenEndpoint *listener : _listeners)
        listener->detach();
    _listeners.clear();
    for (auto &endpoint : _endpoints)
        endpoint->shutdown(LANSPREAD_E_CANCELLED, "the QUIC transport is shutting down");
    _endpoints.clear();
    _reapTimer.reset();
}

Result<Options> QuicTransport::readOptions(const TransportConfig &config) const {
    std::vector<std::string> warnings;
    Options options = Options::read(host(), config, warnings);
    for (const std::string &w : warnings)
        host().warning(w);
    return options;
}

Result<std::unique_ptr<TransportEndpoint>> QuicTransport::listen(const TransportConfig &config,
                                                                 TransportEvents events) {
    using R = Result<std::unique_ptr<TransportEndpoint>>;
    auto bindAddr = SockAddr::parse(config.bindAddr);
    if (!bindAddr)
        return R(bindAddr.status());
    auto options = readOptions(config);
    auto credentials = TlsCredentials::create(config.certDer, config.keyDer);
    if (!credentials)
        return R(credentials.status());
    auto io = _factory(host(), bindAddr.value(), options.value());
    if (!io)
        return R(LANSPREAD_E_IO,
                 "cannot listen on " + config.bindAddr + ": " + io.status().message());
    auto endpoint = std::make_unique<Endpoint>(*this, host(), true, options.value(),
                                               std::move(io.value()), credentials.value(), events);
    auto handle = std::make_unique<ListenEndpoint>(this, endpoint.get());
    host().info("listening on " + endpoint->io().localAddress().toString() + " (QUIC, cc " +
                ccName(options.value().cc) + ", stream window " +
                std::to_string(options.value().streamWindow) + ", connection window " +
                std::to_string(options.value().connWindow) + ")");
    _listeners.insert(handle.get());
    _endpoints.push_back(std::move(endpoint));
    return R(std::unique_ptr<TransportEndpoint>(std::move(handle)));
}

Result<TransportConnection *> QuicTransport::connect(const TransportConfig &config,
                                                     std::string_view remoteAddr,
                                                     TransportEvents events) {
    using R = Result<TransportConnection *>;
    auto remote = SockAddr::parse(remoteAddr);
    if (!remote)
        return R(remote.status());
    if (remote.value().port() == 0)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "cannot connect to " + std::string(remoteAddr) + ": port 0");
    SockAddr bindAddr = SockAddr::anyLike(remote.value());
    if (!config.bindAddr.empty()) {
        auto parsed = SockAddr::parse(config.bindAddr);
        if (!parsed)
            return R(parsed.status());
        bindAddr = parsed.value();
    }
    auto options = readOptions(config);
    auto credentials = TlsCredentials::create(config.certDer, config.keyDer);
    if (!credentials)
        return R(credentials.status());
    auto io = _factory(host(), bindAddr, options.value());
    if (!io)
        return R(LANSPREAD_E_IO,
                 "cannot connect to " + std::string(remoteAddr) + ": " + io.status().message());
    auto endpoint = std::make_unique<Endpoint>(*this, host(), false, options.value(),
                                               std::move(io.value()), credentials.value(), events);
    auto connection = endpoint->connect(remote.value());
    if (!connection)
        return R(connection.status());
    _endpoints.push_back(std::move(endpoint));
    return R(static_cast<TransportConnection *>(connection.value()));
}

void QuicTransport::retireListener(ListenEndpoint *listener, Endpoint *endpoint) {
    _listeners.erase(listener);
    if (endpoint != nullptr)
        endpoint->shutdown(LANSPREAD_E_CANCELLED, "the listening endpoint was destroyed");
}

void QuicTransport::scheduleReap() {
    if (_reapTimer.pending())
        return;
    auto timer = host().startTimer(std::chrono::nanoseconds(0), [this] { reap(); });
    if (timer)
        _reapTimer = std::move(timer.value());
}

void QuicTransport::reap() {
    // Endpoints (and their connections) are freed here, from a timer of the plugin's own,
    // never from inside a socket or connection callback that may still be on the stack.
    for (std::size_t i = 0; i < _endpoints.size();) {
        if (_endpoints[i]->reap())
            _endpoints.erase(_endpoints.begin() + static_cast<std::ptrdiff_t>(i));
        else
            ++i;
    }
}

namespace {
const char *const kCapabilities[] = {"quic:v1",          "quic:ngtcp2-" NGTCP2_VERSION,
                                     "tls:gnutls",       "alpn:lanspread/1",
                                     "auth:mutual-spki", "udp:gso",
                                     "udp:gro",          nullptr};
} // namespace

} // namespace lanspread::plugins::quic

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::quic::QuicTransport, LANSPREAD_KIND_TRANSPORT,
                         "org.lanspread.transport.quic", "QUIC transport", "0.1.0", "lanspread",
                         "Secure multiplexed byte streams over QUIC (ngtcp2 + GnuTLS), mutually "
                         "authenticated by certificate public-key fingerprints",
                         lanspread::plugins::quic::kCapabilities,
                         lanspread::plugins::quic::kConfigKeys);
