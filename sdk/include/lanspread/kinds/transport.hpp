// lanspread plugin SDK — C++20 wrapper for transport plugins ("lanspread.transport/1").
//
// Header-only. Derive from lanspread::TransportPlugin and implement listen() and connect().
// The C handles map to C++ objects the plugin defines:
//   lanspread_transport_endpoint  ->  a TransportEndpoint, owned by the host side: the host's
//                                     destroy_endpoint() deletes it (its destructor stops
//                                     accepting and closes the endpoint's connections);
//   lanspread_transport_conn      ->  a TransportConnection, owned by the plugin: the plugin
//                                     reports on_closed through TransportEvents::closed() and
//                                     then frees the object. Incoming connections are created
//                                     by the plugin and handed to the host with connected().
// Threads and ownership are those of kinds/transport.h: everything on the reactor thread.
#pragma once

#include <lanspread/kinds/transport.h>
#include <lanspread/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread {

// The local side's settings, copied out of the lanspread_transport_config borrowed for a call.
struct TransportConfig {
    std::string bindAddr; // "ip:port"; port 0 = ephemeral
    std::vector<uint8_t> certDer;
    std::vector<uint8_t> keyDer;
    std::chrono::nanoseconds idleTimeout{0}; // 0 = plugin default
    std::chrono::nanoseconds keepalive{0};   // 0 = plugin default

    // Reads only the members the host's struct_size covers; the others stay empty/zero.
    static TransportConfig from(const lanspread_transport_config *config) {
        lanspread_transport_config c{};
        if (config != nullptr)
            std::memcpy(&c, config, std::min<std::size_t>(config->struct_size, sizeof c));
        TransportConfig out;
        if (c.bind_addr != nullptr)
            out.bindAddr = c.bind_addr;
        if (c.cert_der != nullptr)
            out.certDer.assign(c.cert_der, c.cert_der + c.cert_der_len);
        if (c.key_der != nullptr)
            out.keyDer.assign(c.key_der, c.key_der + c.key_der_len);
        out.idleTimeout = std::chrono::nanoseconds(c.idle_timeout_ns);
        out.keepalive = std::chrono::nanoseconds(c.keepalive_ns);
        return out;
    }
};

// What the transport learned about the remote side.
struct RemoteIdentity {
    std::string remoteAddr;              // "ip:port"
    std::vector<uint8_t> keyFingerprint; // SHA-256 of the remote certificate's SPKI DER
};

// A connection. Plugin-defined and plugin-owned (see the file comment).
class TransportConnection {
  public:
    explicit TransportConnection(Host host) : _host(host) {}
    virtual ~TransportConnection() = default;
    TransportConnection(const TransportConnection &) = delete;
    TransportConnection &operator=(const TransportConnection &) = delete;

    // A new bidirectional stream id; E_AGAIN at the stream limit; E_FATAL when gone.
    virtual Result<uint64_t> openStream() = 0;
    // How many bytes were taken (possibly 0: then wait for writable()). flags may carry
    // LANSPREAD_STREAM_FIN, which applies only when every byte was taken.
    virtual Result<std::size_t> send(uint64_t streamId, std::span<const uint8_t> data,
                                     uint32_t flags) = 0;
    // The host processed `bytes` delivered by streamData(): widen the peer's window.
    virtual Status consume(uint64_t streamId, std::size_t bytes) = 0;
    virtual Status resetStream(uint64_t streamId, uint64_t appError) = 0;
    // Starts closing. The plugin reports closed() (possibly before returning) and then frees
    // this object; the wrapper does not touch it after close() returns.
    virtual void close(uint64_t appError) = 0;

    const Host &host() const { return _host; }
    // The C handle of this connection (the same pointer in every callback).
    lanspread_transport_conn *handle() {
        return reinterpret_cast<lanspread_transport_conn *>(this);
    }
    static TransportConnection *fromHandle(lanspread_transport_conn *conn) {
        return reinterpret_cast<TransportConnection *>(conn);
    }

  private:
    Host _host;
};

// A listening endpoint. Destroyed by the host's destroy_endpoint(): the destructor stops
// accepting and closes the endpoint's connections (each reported closed()).
class TransportEndpoint {
  public:
    TransportEndpoint() = default;
    virtual ~TransportEndpoint() = default;
    TransportEndpoint(const TransportEndpoint &) = delete;
    TransportEndpoint &operator=(const TransportEndpoint &) = delete;

    // The bound "ip:port".
    virtual Result<std::string> localAddress() const = 0;
};

// The host's callback table, as a C++ value. Borrowed: valid while the handles it was given
// with live. Every call goes straight to the host on the calling (reactor) thread.
class TransportEvents {
  public:
    explicit TransportEvents(const lanspread_transport_events *events = nullptr)
        : _events(events) {}
    const lanspread_transport_events *raw() const { return _events; }
    explicit operator bool() const { return _events != nullptr; }

    void connected(TransportConnection &conn, const RemoteIdentity &remote) const {
        if (_events == nullptr || _events->on_connected == nullptr)
            return;
        lanspread_remote_identity id{};
        id.struct_size = sizeof id;
        id.remote_addr = remote.remoteAddr.c_str();
        id.key_fingerprint = remote.keyFingerprint.data();
        id.key_fingerprint_len = remote.keyFingerprint.size();
        _events->on_connected(_events->user_data, conn.handle(), &id);
    }
    void streamOpened(TransportConnection &conn, uint64_t streamId) const {
        if (_events != nullptr && _events->on_stream_opened != nullptr)
            _events->on_stream_opened(_events->user_data, conn.handle(), streamId);
    }
    void streamData(TransportConnection &conn, uint64_t streamId, std::span<const uint8_t> data,
                    uint32_t flags = 0) const {
        if (_events != nullptr && _events->on_stream_data != nullptr)
            _events->on_stream_data(_events->user_data, conn.handle(), streamId, data.data(),
                                    data.size(), flags);
    }
    void writable(TransportConnection &conn, uint64_t streamId) const {
        if (_events != nullptr && _events->on_writable != nullptr)
            _events->on_writable(_events->user_data, conn.handle(), streamId);
    }
    // After this the host forgets conn; the plugin frees it.
    void closed(TransportConnection &conn, lanspread_status status, std::string_view reason) const {
        if (_events == nullptr || _events->on_closed == nullptr)
            return;
        std::string text(reason);
        _events->on_closed(_events->user_data, conn.handle(), status, text.c_str());
    }

  private:
    const lanspread_transport_events *_events;
};

class TransportPlugin : public Plugin {
  public:
    using Plugin::Plugin;

    virtual Result<std::unique_ptr<TransportEndpoint>> listen(const TransportConfig &config,
                                                              TransportEvents events) = 0;
    // The returned connection stays the plugin's (see TransportConnection::close()); then
    // connected() or closed() follows through events.
    virtual Result<TransportConnection *>
    connect(const TransportConfig &config, std::string_view remoteAddr, TransportEvents events) = 0;

    const void *interfaceFor(std::string_view interfaceId) override {
        return interfaceId == LANSPREAD_TRANSPORT_INTERFACE_ID ? &kVtable : nullptr;
    }

  private:
    // What a lanspread_transport_endpoint* really points at.
    struct EndpointHolder {
        Host host;
        std::unique_ptr<TransportEndpoint> endpoint;
    };
    static EndpointHolder *holder(lanspread_transport_endpoint *endpoint) {
        return reinterpret_cast<EndpointHolder *>(endpoint);
    }
    static TransportPlugin *self(void *state) {
        return static_cast<TransportPlugin *>(static_cast<Plugin *>(state));
    }

    static lanspread_status listenTrampoline(void *state, const lanspread_transport_config *config,
                                             const lanspread_transport_events *events,
                                             lanspread_transport_endpoint **outEndpoint) noexcept {
        if (state == nullptr || config == nullptr || events == nullptr || outEndpoint == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outEndpoint = nullptr;
        TransportPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "listen", [&]() -> Status {
            auto endpoint = plugin->listen(TransportConfig::from(config), TransportEvents(events));
            if (!endpoint)
                return endpoint.status();
            if (!endpoint.value())
                return Status(LANSPREAD_E_FAILED, "listen returned no endpoint");
            auto *h = new EndpointHolder{plugin->host(), std::move(endpoint.value())};
            *outEndpoint = reinterpret_cast<lanspread_transport_endpoint *>(h);
            return Status::ok();
        });
    }

    static lanspread_status localAddressTrampoline(lanspread_transport_endpoint *endpoint,
                                                   char *buffer, size_t bufferSize,
                                                   size_t *outRequired) noexcept {
        if (endpoint == nullptr || outRequired == nullptr || (buffer == nullptr && bufferSize > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        EndpointHolder *h = holder(endpoint);
        return detail::guard(h->host, "local_address", [&]() -> Status {
            auto address = h->endpoint->localAddress();
            if (!address)
                return address.status();
            const std::string &text = address.value();
            *outRequired = text.size() + 1;
            if (bufferSize < *outRequired)
                return Status(LANSPREAD_E_BUFFER_TOO_SMALL);
            std::memcpy(buffer, text.c_str(), text.size() + 1);
            return Status::ok();
        });
    }

    static void destroyEndpointTrampoline(lanspread_transport_endpoint *endpoint) noexcept {
        delete holder(endpoint); // destructors are noexcept
    }

    static lanspread_status connectTrampoline(void *state, const lanspread_transport_config *config,
                                              const char *remoteAddr,
                                              const lanspread_transport_events *events,
                                              lanspread_transport_conn **outConn) noexcept {
        if (state == nullptr || config == nullptr || remoteAddr == nullptr || events == nullptr ||
            outConn == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outConn = nullptr;
        TransportPlugin *plugin = self(state);
        return detail::guard(plugin->host(), "connect", [&]() -> Status {
            auto conn =
                plugin->connect(TransportConfig::from(config), remoteAddr, TransportEvents(events));
            if (!conn)
                return conn.status();
            if (conn.value() == nullptr)
                return Status(LANSPREAD_E_FAILED, "connect returned no connection");
            *outConn = conn.value()->handle();
            return Status::ok();
        });
    }

    static lanspread_status openStreamTrampoline(lanspread_transport_conn *conn,
                                                 uint64_t *outStreamId) noexcept {
        if (conn == nullptr || outStreamId == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        TransportConnection *c = TransportConnection::fromHandle(conn);
        return detail::guard(c->host(), "open_stream", [&]() -> Status {
            auto id = c->openStream();
            if (!id)
                return id.status();
            *outStreamId = id.value();
            return Status::ok();
        });
    }

    static lanspread_status sendTrampoline(lanspread_transport_conn *conn, uint64_t streamId,
                                           const uint8_t *data, size_t len, uint32_t flags,
                                           size_t *outAccepted) noexcept {
        if (conn == nullptr || outAccepted == nullptr || (data == nullptr && len > 0))
            return LANSPREAD_E_INVALID_ARGUMENT;
        *outAccepted = 0;
        TransportConnection *c = TransportConnection::fromHandle(conn);
        return detail::guard(c->host(), "send", [&]() -> Status {
            auto accepted = c->send(streamId, std::span<const uint8_t>(data, len), flags);
            if (!accepted)
                return accepted.status();
            *outAccepted = std::min(accepted.value(), len);
            return Status::ok();
        });
    }

    static lanspread_status consumeTrampoline(lanspread_transport_conn *conn, uint64_t streamId,
                                              size_t bytes) noexcept {
        if (conn == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        TransportConnection *c = TransportConnection::fromHandle(conn);
        return detail::guard(c->host(), "consume",
                             [&]() -> Status { return c->consume(streamId, bytes); });
    }

    static lanspread_status resetStreamTrampoline(lanspread_transport_conn *conn, uint64_t streamId,
                                                  uint64_t appError) noexcept {
        if (conn == nullptr)
            return LANSPREAD_E_INVALID_ARGUMENT;
        TransportConnection *c = TransportConnection::fromHandle(conn);
        return detail::guard(c->host(), "reset_stream",
                             [&]() -> Status { return c->resetStream(streamId, appError); });
    }

    static void closeTrampoline(lanspread_transport_conn *conn, uint64_t appError) noexcept {
        if (conn == nullptr)
            return;
        TransportConnection *c = TransportConnection::fromHandle(conn);
        Host host = c->host(); // close() may free c
        detail::guard(host, "close", [&]() -> lanspread_status {
            c->close(appError);
            return LANSPREAD_OK;
        });
    }

    static constexpr lanspread_transport_v1 kVtable = {sizeof(lanspread_transport_v1),
                                                       &listenTrampoline,
                                                       &localAddressTrampoline,
                                                       &destroyEndpointTrampoline,
                                                       &connectTrampoline,
                                                       &openStreamTrampoline,
                                                       &sendTrampoline,
                                                       &consumeTrampoline,
                                                       &resetStreamTrampoline,
                                                       &closeTrampoline};
};

} // namespace lanspread
