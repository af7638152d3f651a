// A raw lanspread peer for hostile-peer tests: a real transport plugin (.so: transport-quic or
// transport-tls) loaded the way the kernel loads it (PluginLoader + PluginHost on a kernel
// Reactor running on its own thread), a kernel Identity, and direct access to connections and
// streams, so a test can send any bytes — well-formed protocol frames or garbage — and see
// exactly what comes back. Only the SDK's transport contract (kinds/transport.h) is assumed:
// stream ids are whatever open_stream returns, a peer's reset is on_stream_data(len 0,
// LANSPREAD_STREAM_RESET).
//
// Every transport call runs on the reactor thread (LoopThread::call); received stream bytes
// are kept per stream and consumed at once (the window never stalls). Test-thread accessors
// wait on a condition variable. Header-only; links lanspread::kernel.
#pragma once

#include "kernel_test_support.hpp"

#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/plugin_host.hpp>
#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kernel/protocol/messages.hpp>
#include <lanspread/kinds/transport.h>

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace lanspread::test {

class RawPeer {
  public:
    struct StreamView {
        std::vector<uint8_t> data; // everything received so far
        bool fin = false;          // the remote finished its side
        bool reset = false;        // the remote reset the stream
        bool ended() const { return fin || reset; }
    };
    struct ConnView {
        bool connected = false;
        bool closed = false;
        lanspread_status closeStatus = LANSPREAD_OK;
        std::string closeReason;
        std::string remoteFingerprint;       // lowercase hex
        std::vector<uint64_t> remoteStreams; // streams the remote opened
    };

    // Loads the transport plugin at pluginPath with its own PluginHost (plugin id as the
    // kernel would see it) and an empty configuration.
    RawPeer(const std::string &pluginPath, kernel::peers::Identity identity)
        : _identity(std::move(identity)) {
        _config = new Poco::Util::MapConfiguration();
        _events.struct_size = sizeof _events;
        _events.user_data = this;
        _events.on_connected = [](void *u, lanspread_transport_conn *c,
                                  const lanspread_remote_identity *r) {
            static_cast<RawPeer *>(u)->onConnected(c, r);
        };
        _events.on_stream_opened = [](void *u, lanspread_transport_conn *c, uint64_t s) {
            static_cast<RawPeer *>(u)->onStreamOpened(c, s);
        };
        _events.on_stream_data = [](void *u, lanspread_transport_conn *c, uint64_t s,
                                    const uint8_t *d, size_t n, uint32_t f) {
            static_cast<RawPeer *>(u)->onStreamData(c, s, d, n, f);
        };
        _events.on_writable = [](void *u, lanspread_transport_conn *c, uint64_t s) {
            static_cast<RawPeer *>(u)->onWritable(c, s);
        };
        _events.on_closed = [](void *u, lanspread_transport_conn *c, lanspread_status st,
                               const char *why) {
            static_cast<RawPeer *>(u)->onClosed(c, st, why);
        };
        std::string failure;
        _loop.call([&] {
            const auto image = kernel::host::PluginLoader::readImage(pluginPath);
            const std::string id = image.image ? image.image->id() : "transport";
            _host = std::make_unique<kernel::host::PluginHost>(
                id, _loop.reactor, _bus, _cancels, *_config,
                [](const std::string &) -> const void * { return nullptr; });
            _loader = std::make_unique<kernel::host::PluginLoader>(
                [this](const kernel::host::PluginImage &) { return _host->api(); });
            auto outcome = _loader->load(pluginPath);
            if (!outcome.ok()) {
                failure = "loading " + pluginPath + ": " + outcome.reason;
                return;
            }
            if (outcome.plugin->kind() != LANSPREAD_KIND_TRANSPORT) {
                failure = pluginPath + " is not a transport plugin";
                return;
            }
            _api = static_cast<const lanspread_transport_v1 *>(outcome.plugin->interface);
            _state = outcome.plugin->state;
        });
        if (!failure.empty()) {
            shutdown();
            throw std::runtime_error(failure);
        }
    }
    ~RawPeer() { shutdown(); }
    RawPeer(const RawPeer &) = delete;
    RawPeer &operator=(const RawPeer &) = delete;

    const kernel::peers::Identity &identity() const { return _identity; }

    // Starts a connection to addr; returns its handle (use waitConnected).
    int connect(const std::string &addr) {
        int handle = -1;
        std::string failure;
        _loop.call([&] {
            lanspread_transport_config config{};
            config.struct_size = sizeof config;
            config.bind_addr = nullptr;
            config.cert_der = _identity.certDer.data();
            config.cert_der_len = _identity.certDer.size();
            config.key_der = _identity.keyDer.data();
            config.key_der_len = _identity.keyDer.size();
            auto conn = std::make_unique<Conn>();
            {
                std::lock_guard<std::mutex> lock(_mutex);
                handle = static_cast<int>(_conns.size());
                _conns.push_back(std::move(conn));
                _connecting = handle;
            }
            lanspread_transport_conn *raw = nullptr;
            const lanspread_status st =
                _api->connect(_state, &config, addr.c_str(), &_events, &raw);
            std::lock_guard<std::mutex> lock(_mutex);
            _connecting = -1;
            if (st != LANSPREAD_OK || raw == nullptr) {
                failure = std::string("connect(") + addr + ") failed: " + lanspread_status_name(st);
                return;
            }
            _conns[static_cast<std::size_t>(handle)]->conn = raw;
        });
        if (!failure.empty())
            throw std::runtime_error(failure);
        return handle;
    }

    // Waits for the handshake (true) or for the connection to close first (false).
    bool waitConnected(int handle, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(_mutex);
        Conn &c = *_conns.at(static_cast<std::size_t>(handle));
        _changed.wait_for(lock, timeout, [&] { return c.view.connected || c.view.closed; });
        return c.view.connected && !c.view.closed;
    }
    bool waitClosed(int handle, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(_mutex);
        Conn &c = *_conns.at(static_cast<std::size_t>(handle));
        return _changed.wait_for(lock, timeout, [&] { return c.view.closed; });
    }
    ConnView conn(int handle) {
        std::lock_guard<std::mutex> lock(_mutex);
        return _conns.at(static_cast<std::size_t>(handle))->view;
    }

    // Opens a bidirectional stream (throws when the transport refuses).
    uint64_t openStream(int handle) {
        uint64_t id = 0;
        lanspread_status st = LANSPREAD_E_FATAL;
        _loop.call([&] {
            lanspread_transport_conn *raw = liveConn(handle);
            if (raw == nullptr)
                return;
            st = _api->open_stream(raw, &id);
            if (st == LANSPREAD_OK) {
                std::lock_guard<std::mutex> lock(_mutex);
                _conns.at(static_cast<std::size_t>(handle))->streams[id];
            }
        });
        if (st != LANSPREAD_OK)
            throw std::runtime_error(std::string("open_stream failed: ") +
                                     lanspread_status_name(st));
        return id;
    }

    // Queues bytes (and FIN after them) on a stream; what the transport does not take now is
    // sent on on_writable.
    void send(int handle, uint64_t stream, const std::vector<uint8_t> &bytes, bool fin) {
        _loop.call([&] {
            {
                std::lock_guard<std::mutex> lock(_mutex);
                Stream &s = _conns.at(static_cast<std::size_t>(handle))->streams[stream];
                s.out.insert(s.out.end(), bytes.begin(), bytes.end());
                s.outFin = s.outFin || fin;
            }
            flush(handle, stream);
        });
    }

    // Aborts a stream from this side.
    void resetStream(int handle, uint64_t stream, uint64_t appError) {
        _loop.call([&] {
            if (lanspread_transport_conn *raw = liveConn(handle))
                _api->reset_stream(raw, stream, appError);
        });
    }

    // Waits until the remote ended the stream (FIN or reset) or the connection closed;
    // returns what was received either way.
    StreamView waitStreamEnd(int handle, uint64_t stream, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(_mutex);
        Conn &c = *_conns.at(static_cast<std::size_t>(handle));
        _changed.wait_for(lock, timeout,
                          [&] { return c.view.closed || c.streams[stream].in.ended(); });
        return c.streams[stream].in;
    }
    // Waits until pred(received stream view) holds or the connection closed; returns the view.
    template <class Pred>
    StreamView waitStream(int handle, uint64_t stream, std::chrono::milliseconds timeout,
                          Pred pred) {
        std::unique_lock<std::mutex> lock(_mutex);
        Conn &c = *_conns.at(static_cast<std::size_t>(handle));
        _changed.wait_for(lock, timeout,
                          [&] { return c.view.closed || pred(c.streams[stream].in); });
        return c.streams[stream].in;
    }
    StreamView stream(int handle, uint64_t stream) {
        std::lock_guard<std::mutex> lock(_mutex);
        return _conns.at(static_cast<std::size_t>(handle))->streams[stream].in;
    }

    void close(int handle, uint64_t appError = 0) {
        _loop.call([&] {
            if (lanspread_transport_conn *raw = liveConn(handle))
                _api->close(raw, appError);
        });
    }

    // Closes every connection, shuts the plugin down and stops the reactor. Idempotent.
    void shutdown() {
        if (_shut)
            return;
        _shut = true;
        _loop.call([&] {
            if (_api != nullptr) {
                std::vector<lanspread_transport_conn *> live;
                {
                    std::lock_guard<std::mutex> lock(_mutex);
                    for (auto &c : _conns)
                        if (c->conn != nullptr && !c->view.closed)
                            live.push_back(c->conn);
                }
                for (auto *raw : live)
                    _api->close(raw, 0);
            }
            if (_loader)
                _loader->shutdownAll();
            if (_host)
                _host->retire();
        });
        _loop.stop();
    }

    // Every complete control message in bytes (a ChunkData frame's payload goes to *chunk;
    // its declared length to *chunkLength). Stops at the first protocol violation (*error).
    static std::vector<kernel::protocol::Message>
    parse(const std::vector<uint8_t> &bytes, std::vector<uint8_t> *chunk = nullptr,
          std::optional<uint32_t> *chunkLength = nullptr, std::string *error = nullptr) {
        std::vector<kernel::protocol::Message> out;
        kernel::protocol::FrameReader reader(kernel::protocol::FrameReader::Handler{
            [&](kernel::protocol::Message &&m) { out.push_back(std::move(m)); },
            [&](uint32_t length) {
                if (chunkLength)
                    *chunkLength = length;
            },
            [&](std::span<const uint8_t> piece, uint32_t) {
                if (chunk)
                    chunk->insert(chunk->end(), piece.begin(), piece.end());
            }});
        const Status fed = reader.feed(bytes);
        if (!fed && error)
            *error = fed.message();
        return out;
    }

  private:
    struct Stream {
        StreamView in;
        std::vector<uint8_t> out;
        std::size_t outOffset = 0;
        bool outFin = false;
        bool finSent = false;
    };
    struct Conn {
        lanspread_transport_conn *conn = nullptr;
        ConnView view;
        std::map<uint64_t, Stream> streams;
    };

    static std::string hex(const uint8_t *data, std::size_t len) {
        static const char digits[] = "0123456789abcdef";
        std::string s;
        for (std::size_t i = 0; i < len; ++i) {
            s += digits[data[i] >> 4];
            s += digits[data[i] & 15];
        }
        return s;
    }

    // Reactor thread. The handle's conn if it is still open.
    lanspread_transport_conn *liveConn(int handle) {
        std::lock_guard<std::mutex> lock(_mutex);
        Conn &c = *_conns.at(static_cast<std::size_t>(handle));
        return c.view.closed ? nullptr : c.conn;
    }
    // Reactor thread, _mutex held. The Conn for a transport handle (binding a fresh one to the
    // connection being started).
    Conn *find(lanspread_transport_conn *raw) {
        for (auto &c : _conns)
            if (c->conn == raw && !c->view.closed)
                return c.get();
        if (_connecting >= 0) {
            Conn *c = _conns[static_cast<std::size_t>(_connecting)].get();
            if (c->conn == nullptr) {
                c->conn = raw;
                return c;
            }
        }
        return nullptr;
    }
    int handleOf(const Conn *c) const {
        for (std::size_t i = 0; i < _conns.size(); ++i)
            if (_conns[i].get() == c)
                return static_cast<int>(i);
        return -1;
    }

    void flush(int handle, uint64_t streamId) {
        lanspread_transport_conn *raw = liveConn(handle);
        if (raw == nullptr)
            return;
        for (;;) {
            std::vector<uint8_t> pending;
            bool fin = false;
            {
                std::lock_guard<std::mutex> lock(_mutex);
                Stream &s = _conns.at(static_cast<std::size_t>(handle))->streams[streamId];
                if (s.finSent)
                    return;
                pending.assign(s.out.begin() + static_cast<std::ptrdiff_t>(s.outOffset),
                               s.out.end());
                fin = s.outFin;
                if (pending.empty() && !fin)
                    return;
            }
            size_t accepted = 0;
            const lanspread_status st =
                _api->send(raw, streamId, pending.empty() ? nullptr : pending.data(),
                           pending.size(), fin ? LANSPREAD_STREAM_FIN : 0u, &accepted);
            std::lock_guard<std::mutex> lock(_mutex);
            Stream &s = _conns.at(static_cast<std::size_t>(handle))->streams[streamId];
            if (st != LANSPREAD_OK)
                return;
            s.outOffset += accepted;
            if (accepted == pending.size()) {
                s.finSent = fin;
                return;
            }
            if (accepted == 0)
                return; // on_writable resumes
        }
    }

    void onConnected(lanspread_transport_conn *raw, const lanspread_remote_identity *remote) {
        std::lock_guard<std::mutex> lock(_mutex);
        Conn *c = find(raw);
        if (c == nullptr)
            return;
        c->view.connected = true;
        if (remote != nullptr && remote->key_fingerprint != nullptr)
            c->view.remoteFingerprint = hex(remote->key_fingerprint, remote->key_fingerprint_len);
        _changed.notify_all();
    }
    void onStreamOpened(lanspread_transport_conn *raw, uint64_t streamId) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (Conn *c = find(raw)) {
            c->streams[streamId];
            c->view.remoteStreams.push_back(streamId);
        }
        _changed.notify_all();
    }
    void onStreamData(lanspread_transport_conn *raw, uint64_t streamId, const uint8_t *data,
                      size_t len, uint32_t flags) {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            Conn *c = find(raw);
            if (c == nullptr)
                return;
            StreamView &in = c->streams[streamId].in;
            if (len > 0)
                in.data.insert(in.data.end(), data, data + len);
            in.fin = in.fin || (flags & LANSPREAD_STREAM_FIN) != 0;
            in.reset = in.reset || (flags & LANSPREAD_STREAM_RESET) != 0;
            _changed.notify_all();
        }
        if (len > 0)
            _api->consume(raw, streamId, len);
    }
    void onWritable(lanspread_transport_conn *raw, uint64_t streamId) {
        int handle = -1;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            handle = handleOf(find(raw));
        }
        if (handle < 0)
            return;
        if (streamId != UINT64_MAX) {
            flush(handle, streamId);
            return;
        }
        std::vector<uint64_t> ids;
        {
            std::lock_guard<std::mutex> lock(_mutex);
            for (auto &[id, s] : _conns[static_cast<std::size_t>(handle)]->streams)
                ids.push_back(id);
        }
        for (uint64_t id : ids)
            flush(handle, id);
    }
    void onClosed(lanspread_transport_conn *raw, lanspread_status status, const char *why) {
        std::lock_guard<std::mutex> lock(_mutex);
        Conn *c = find(raw);
        if (c == nullptr)
            return;
        c->view.closed = true;
        c->view.closeStatus = status;
        c->view.closeReason = why != nullptr ? why : "";
        _changed.notify_all();
    }

    kernel::peers::Identity _identity;
    kernel::host::EventBus _bus;
    kernel::host::CancelRegistry _cancels;
    Poco::AutoPtr<Poco::Util::MapConfiguration> _config;
    std::unique_ptr<kernel::host::PluginHost> _host;
    std::unique_ptr<kernel::host::PluginLoader> _loader;
    const lanspread_transport_v1 *_api = nullptr;
    void *_state = nullptr;
    lanspread_transport_events _events{};

    std::mutex _mutex;
    std::condition_variable _changed;
    std::vector<std::unique_ptr<Conn>> _conns; // index = handle
    int _connecting = -1;
    bool _shut = false;

    LoopThread _loop; // last: stopped (in shutdown) before the members above go away
};

} // namespace lanspread::test
