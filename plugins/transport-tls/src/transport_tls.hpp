// transport-tls: the plugin object (org.lanspread.transport.tls) — "lanspread.transport/1"
// as TLS 1.3 (wolfSSL) over TCP, streams multiplexed inside. It owns every connection
// (incoming ones from its listening endpoints and the ones connect() made); see README.md.
#pragma once

#include "connection.hpp"
#include "options.hpp"

#include <lanspread/kinds/transport.hpp>

#include <list>
#include <memory>
#include <set>

namespace lanspread::plugins::tls {

class Listener;

class TlsTransport final : public TransportPlugin, public ConnectionOwner {
  public:
    explicit TlsTransport(Host host);
    ~TlsTransport() override;

    Result<std::unique_ptr<TransportEndpoint>> listen(const TransportConfig &config,
                                                      TransportEvents events) override;
    Result<TransportConnection *> connect(const TransportConfig &config,
                                          std::string_view remoteAddr,
                                          TransportEvents events) override;

    // ConnectionOwner
    void scheduleReap() override;

    // From Listener.
    void accepted(Listener *listener, Fd fd, const SockAddr &remote);
    void retireListener(Listener *listener);

    // Tests: live connection objects (closed ones go at the next reap).
    std::size_t connectionCount() const { return _connections.size(); }
    const std::list<std::unique_ptr<Connection>> &connections() const { return _connections; }

  private:
    Options readOptions(const TransportConfig &config) const;
    void reap();

    std::list<std::unique_ptr<Connection>> _connections;
    std::set<Listener *> _listeners;
    Timer _reapTimer;
};

} // namespace lanspread::plugins::tls
