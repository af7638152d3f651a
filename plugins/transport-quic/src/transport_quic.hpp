// transport-quic: the plugin object (org.lanspread.transport.quic) — "lanspread.transport/1"
// over QUIC. It owns every endpoint (listening ones on behalf of the host's handles, and one
// per connect()); see README.md for the design, threads and config keys.
#pragma once

#include "endpoint.hpp"
#include "options.hpp"
#include "packet_io.hpp"

#include <lanspread/kinds/transport.hpp>

#include <memory>
#include <set>
#include <vector>

namespace lanspread::plugins::quic {

class ListenEndpoint;

class QuicTransport final : public TransportPlugin, public EndpointOwner {
  public:
    explicit QuicTransport(Host host);
    ~QuicTransport() override;

    Result<std::unique_ptr<TransportEndpoint>> listen(const TransportConfig &config,
                                                      TransportEvents events) override;
    Result<TransportConnection *> connect(const TransportConfig &config,
                                          std::string_view remoteAddr,
                                          TransportEvents events) override;

    // The packet-I/O seam: how new endpoints get their I/O (default: UDP sockets).
    void setPacketIoFactory(PacketIoFactory factory) { _factory = std::move(factory); }
    // Live endpoints (tests: everything is freed after close/destroy).
    std::size_t endpointCount() const { return _endpoints.size(); }

    // EndpointOwner
    void scheduleReap() override;

    // From ListenEndpoint.
    void retireListener(ListenEndpoint *listener, Endpoint *endpoint);

  private:
    Result<Options> readOptions(const TransportConfig &config) const;
    void reap();

    PacketIoFactory _factory;
    std::vector<std::unique_ptr<Endpoint>> _endpoints;
    std::set<ListenEndpoint *> _listeners;
    Timer _reapTimer;
};

} // namespace lanspread::plugins::quic
