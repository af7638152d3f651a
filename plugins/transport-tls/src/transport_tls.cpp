// transport-tls: the plugin entry, listen() and connect().
#include "transport_tls.hpp"

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/version.h>

namespace lanspread::plugins::tls {

// The host's handle for a listening endpoint. Destroying it (destroy_endpoint) stops
// accepting and ends the endpoint's connections (each reports on_closed before
// destroy_endpoint returns); their memory goes on the next loop turn.
class Listener final : public TransportEndpoint {
  public:
    Listener(TlsTransport *plugin, Host host, Fd fd, SockAddr address,
             std::shared_ptr<TlsContext> tlsContext, Options listenOptions,
             TransportEvents hostEvents)
        : context(std::move(tlsContext)), options(listenOptions), events(hostEvents),
          _plugin(plugin), _host(host), _fd(std::move(fd)), _address(address.toString()) {}
    ~Listener() override {
        _watch.reset();
        if (_plugin != nullptr)
            _plugin->retireListener(this);
    }
    Status start() {
        auto watch =
            _host.watchFd(_fd.get(), LANSPREAD_FD_READ, [this](int, uint32_t) { acceptPending(); });
        if (!watch)
            return watch.status();
        _watch = std::move(watch.value());
        return Status::ok();
    }
    Result<std::string> localAddress() const override { return _address; }
    // The plugin is shutting down first (a host bug, tolerated): forget it.
    void detach() {
        _plugin = nullptr;
        _watch.reset();
    }

    const std::shared_ptr<TlsContext> context;
    const Options options;
    const TransportEvents events;

  private:
    void acceptPending() {
        for (int i = 0; i < 64 && _plugin != nullptr; ++i) {
            SockAddr remote;
            auto fd = acceptTcp(_fd.get(), remote);
            if (!fd) {
                if (fd.status().code() != LANSPREAD_E_AGAIN)
                    _host.warning("on " + _address + ": " + fd.status().message());
                return;
            }
            _plugin->accepted(this, std::move(fd.value()), remote);
        }
    }

    TlsTransport *_plugin;
    Host _host;
    Fd _fd;
    std::string _address;
    FdWatch _watch;
};

TlsTransport::TlsTransport(Host host) : TransportPlugin(host) {
    wolfSSL_Init(); // reference-counted; the kernel's own use is unaffected
}

TlsTransport::~TlsTransport() {
    for (Listener *listener : _listeners)
        listener->detach();
    _listeners.clear();
    for (auto &connection : _connections)
        connection->terminate(LANSPREAD_E_CANCELLED, "the TLS transport is shutting down");
    _connections.clear();
    _reapTimer.reset();
    logOverCapRefusals(); // a count still waiting for its second is said now
    _overCapTimer.reset();
    logHeldRefusals();
    _refusalTimer.reset();
    wolfSSL_Cleanup();
}

Options TlsTransport::readOptions(const TransportConfig &config) const {
    std::vector<std::string> warnings;
    Options options = Options::read(host(), config, warnings);
    for (const std::string &w : warnings)
        host().warning(w);
    return options;
}

Result<std::unique_ptr<TransportEndpoint>> TlsTransport::listen(const TransportConfig &config,
                                                                TransportEvents events) {
    using R = Result<std::unique_ptr<TransportEndpoint>>;
    auto bindAddr = SockAddr::parse(config.bindAddr);
    if (!bindAddr)
        return R(LANSPREAD_E_IO, bindAddr.status().message());
    Options options = readOptions(config);
    auto context = TlsContext::create(true, config.certDer, config.keyDer);
    if (!context)
        return R(context.status());
    auto fd = listenTcp(bindAddr.value());
    if (!fd)
        return R(LANSPREAD_E_IO,
                 "cannot listen on " + config.bindAddr + ": " + fd.status().message());
    auto bound = localAddress(fd.value().get());
    if (!bound)
        return R(bound.status());
    auto listener = std::make_unique<Listener>(this, host(), std::move(fd.value()), bound.value(),
                                               context.value(), options, events);
    Status started = listener->start();
    if (!started.succeeded())
        return R(started);
    host().info("listening on " + bound.value().toString() + " (TLS 1.3 over TCP, stream window " +
                std::to_string(options.mux.streamWindow) + ", connection window " +
                std::to_string(options.mux.connWindow) + ")");
    _listeners.insert(listener.get());
    return R(std::unique_ptr<TransportEndpoint>(std::move(listener)));
}

void TlsTransport::accepted(Listener *listener, Fd fd, const SockAddr &remote) {
    if (_pendingHandshakes >= listener->options.maxPendingHandshakes) {
        // Closed at once (fd goes out of scope): the peer learns right away, and the
        // connection costs nothing beyond this accept.
        refuseOverCap(remote, std::to_string(listener->options.maxPendingHandshakes) +
                                  " incoming handshakes already in progress "
                                  "(max_pending_handshakes)");
        return;
    }
    if ((_capLoopback || !remote.isLoopback()) &&
        pendingFrom(remote) >= listener->options.maxPendingPerAddress) {
        refuseOverCap(remote, std::to_string(listener->options.maxPendingPerAddress) +
                                  " incoming handshakes from its address already in progress "
                                  "(max_pending_handshakes_per_address)");
        return;
    }
    ++_pendingHandshakes; // until Connection calls incomingHandshakeEnded()
    auto connection =
        std::make_unique<Connection>(host(), *this, listener->options, listener->context,
                                     listener->events, std::move(fd), remote, listener);
    Connection *raw = connection.get();
    _connections.push_back(std::move(connection));
    Status started = raw->start();
    if (!started.succeeded())
        raw->terminate(LANSPREAD_E_FAILED, started.message());
}

Result<TransportConnection *> TlsTransport::connect(const TransportConfig &config,
                                                    std::string_view remoteAddr,
                                                    TransportEvents events) {
    using R = Result<TransportConnection *>;
    auto remote = SockAddr::parse(remoteAddr);
    if (!remote)
        return R(remote.status());
    if (remote.value().port() == 0)
        return R(LANSPREAD_E_INVALID_ARGUMENT,
                 "cannot connect to " + std::string(remoteAddr) + ": port 0");
    Options options = readOptions(config);
    auto context = TlsContext::create(false, config.certDer, config.keyDer);
    if (!context)
        return R(context.status());
    auto fd = connectTcp(remote.value());
    if (!fd)
        return R(LANSPREAD_E_IO, fd.status().message());
    auto connection = std::make_unique<Connection>(host(), *this, options, context.value(), events,
                                                   std::move(fd.value()), remote.value(), nullptr);
    Status started = connection->start();
    if (!started.succeeded())
        return R(started);
    Connection *raw = connection.get();
    _connections.push_back(std::move(connection));
    return R(static_cast<TransportConnection *>(raw));
}

void TlsTransport::retireListener(Listener *listener) {
    _listeners.erase(listener);
    for (auto &connection : _connections)
        if (connection->listener() == listener)
            connection->terminate(LANSPREAD_E_CANCELLED, "the listening endpoint was destroyed");
}

void TlsTransport::incomingHandshakeEnded() {
    if (_pendingHandshakes > 0)
        --_pendingHandshakes;
}

std::size_t TlsTransport::pendingFrom(const SockAddr &remote) const {
    std::size_t n = 0;
    for (const auto &connection : _connections)
        if (connection->pendingIncoming() && connection->remote().sameHost(remote))
            ++n;
    return n;
}

void TlsTransport::refusedIncoming(const std::string &line) {
    constexpr unsigned kRefusalBurst = 10;
    constexpr std::chrono::nanoseconds kWindow = std::chrono::seconds(1);
    const std::chrono::nanoseconds now = host().now();
    if (!_refusalWindow || now - *_refusalWindow >= kWindow) {
        logHeldRefusals();
        _refusalWindow = now;
        _refusalLines = 0;
    }
    if (_refusalLines < kRefusalBurst) {
        ++_refusalLines;
        host().warning(line);
        return;
    }
    ++_refusalsHeld;
    ++_refusalLinesSuppressed;
    _refusalLatest = line;
    if (_refusalTimer.pending())
        return;
    auto timer = host().startTimer(*_refusalWindow + kWindow - now, [this] {
        logHeldRefusals();
        _refusalWindow = host().now();
        _refusalLines = 0;
    });
    if (timer)
        _refusalTimer = std::move(timer.value());
}

void TlsTransport::logHeldRefusals() {
    if (_refusalsHeld == 0)
        return;
    host().warning(std::to_string(_refusalsHeld) +
                   " more connections refused in the last second, not logged one by one (the "
                   "latest: " +
                   _refusalLatest + ")");
    _refusalsHeld = 0;
    _refusalLatest.clear();
}

void TlsTransport::refuseOverCap(const SockAddr &remote, const std::string &why) {
    ++_overCapUnlogged;
    _overCapLast = remote.toString();
    _overCapWhy = why;
    constexpr std::chrono::nanoseconds kLogEvery = std::chrono::seconds(1);
    const std::chrono::nanoseconds now = host().now();
    if (!_overCapLoggedAt || now - *_overCapLoggedAt >= kLogEvery) {
        logOverCapRefusals();
        return;
    }
    // Within a second of the last line: counted, and said in one line when the second is up.
    if (_overCapTimer.pending())
        return;
    auto timer =
        host().startTimer(*_overCapLoggedAt + kLogEvery - now, [this] { logOverCapRefusals(); });
    if (timer)
        _overCapTimer = std::move(timer.value());
}

void TlsTransport::logOverCapRefusals() {
    if (_overCapUnlogged == 0)
        return;
    const std::string &why = _overCapWhy;
    if (_overCapUnlogged == 1)
        host().warning("refused a connection from " + _overCapLast + ": " + why);
    else
        host().warning("refused " + std::to_string(_overCapUnlogged) +
                       " connections (the latest from " + _overCapLast + "): " + why);
    _overCapUnlogged = 0;
    _overCapLoggedAt = host().now();
}

void TlsTransport::scheduleReap() {
    if (_reapTimer.pending())
        return;
    auto timer = host().startTimer(std::chrono::nanoseconds(0), [this] { reap(); });
    if (timer)
        _reapTimer = std::move(timer.value());
}

void TlsTransport::reap() {
    // Connections are freed here, from a timer of the plugin's own, never from inside one of
    // their socket, timer or host callbacks that may still be on the stack.
    _connections.remove_if([](const std::unique_ptr<Connection> &c) { return c->closed(); });
}

namespace {
const char *const kCapabilities[] = {"tls:1.3",
                                     "tls:wolfssl-" LIBWOLFSSL_VERSION_STRING,
                                     "alpn:lanspread/1",
                                     "auth:mutual-spki",
                                     "tcp",
                                     "mux:credit-flow-control",
                                     nullptr};
} // namespace

} // namespace lanspread::plugins::tls

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::tls::TlsTransport, LANSPREAD_KIND_TRANSPORT,
                         "org.lanspread.transport.tls", "TLS transport", "0.1.0", "lanspread",
                         "Secure multiplexed byte streams over TLS 1.3 on TCP (wolfSSL), mutually "
                         "authenticated by certificate public-key fingerprints",
                         lanspread::plugins::tls::kCapabilities,
                         lanspread::plugins::tls::kConfigKeys);
