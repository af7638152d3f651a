#include "http_listener.hpp"

#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerDispatcher.h>

#include <sys/socket.h>

#include <chrono>
#include <map>
#include <mutex>

namespace lanspread::plugins::web {

// The connections being served now, so stop() can shut them down.
class ConnectionRegistry {
  public:
    // 0 when stop() already ran: the socket is shut down and must not be served.
    uint64_t add(Poco::Net::StreamSocket &socket) {
        std::lock_guard lock(_mutex);
        if (_closed) {
            socket.shutdownReceive();
            return 0;
        }
        _open.emplace(++_next, socket);
        return _next;
    }
    void remove(uint64_t id) {
        std::lock_guard lock(_mutex);
        _open.erase(id);
    }
    void shutdownAll() {
        std::lock_guard lock(_mutex);
        _closed = true;
        // Only the receiving side: a connection waiting for its next request (or for the
        // rest of a slow one) reads end-of-stream and ends, while a handler still writing its
        // answer (a 503 for a command the stop interrupted) gets it out.
        for (auto &[id, socket] : _open) {
            try {
                socket.shutdownReceive();
            } catch (const Poco::Exception &) {
                // Already gone: nothing to wake.
            }
        }
    }

  private:
    std::mutex _mutex;
    std::map<uint64_t, Poco::Net::StreamSocket> _open;
    uint64_t _next = 0;
    bool _closed = false;
};

namespace {

class TrackedConnection : public Poco::Net::HTTPServerConnection {
  public:
    TrackedConnection(const Poco::Net::StreamSocket &socket,
                      Poco::Net::HTTPServerParams::Ptr params,
                      Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                      std::shared_ptr<ConnectionRegistry> registry)
        : HTTPServerConnection(socket, params, factory), _registry(std::move(registry)) {}

    void run() override {
        const uint64_t id = _registry->add(socket());
        if (id == 0)
            return;
        HTTPServerConnection::run();
        _registry->remove(id);
    }

  private:
    std::shared_ptr<ConnectionRegistry> _registry;
};

class TrackedConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
  public:
    TrackedConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                             Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                             std::shared_ptr<ConnectionRegistry> registry)
        : _params(std::move(params)), _factory(std::move(factory)), _registry(std::move(registry)) {
    }
    Poco::Net::TCPServerConnection *createConnection(const Poco::Net::StreamSocket &s) override {
        return new TrackedConnection(s, _params, _factory, _registry);
    }

  private:
    Poco::Net::HTTPServerParams::Ptr _params;
    Poco::Net::HTTPRequestHandlerFactory::Ptr _factory;
    std::shared_ptr<ConnectionRegistry> _registry;
};

} // namespace

class HttpListener::Dispatcher {
  public:
    Dispatcher(Poco::Net::TCPServerConnectionFactory::Ptr factory, Poco::ThreadPool &pool,
               Poco::Net::HTTPServerParams::Ptr params)
        : _dispatcher(new Poco::Net::TCPServerDispatcher(factory, pool, params)) {}
    ~Dispatcher() { _dispatcher->release(); }
    Poco::Net::TCPServerDispatcher &get() { return *_dispatcher; }

  private:
    Poco::Net::TCPServerDispatcher *_dispatcher; // reference-counted by Poco
};

HttpListener::HttpListener(Poco::Net::ServerSocket socket,
                           Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                           Poco::Net::HTTPServerParams::Ptr params, Poco::ThreadPool &pool)
    : _socket(std::move(socket)), _pool(pool), _connections(std::make_shared<ConnectionRegistry>()),
      _dispatcher(std::make_unique<Dispatcher>(
          new TrackedConnectionFactory(params, factory, _connections), pool, params)) {
    _acceptor = std::thread([this] { acceptLoop(); });
}

HttpListener::~HttpListener() {
    stop();
}

void HttpListener::acceptLoop() {
    for (;;) {
        Poco::Net::StreamSocket client;
        try {
            client = _socket.acceptConnection(); // blocks: no wake-ups while idle
        } catch (const Poco::Exception &) {
            // stop() shut the socket down (accept fails with EINVAL); anything else (EMFILE,
            // a connection reset before accept) is retried unless we are stopping.
            if (_stopped)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        if (_stopped)
            return;
        try {
            client.setNoDelay(true); // small JSON answers and events go out at once
            _dispatcher->get().enqueue(client);
        } catch (const Poco::Exception &) {
            // The dispatcher refused it (queue full): the socket closes when client goes.
        }
    }
}

void HttpListener::stop() {
    if (_stopped)
        return;
    _stopped = true;
    // shutdown(2) on a listening socket wakes a thread blocked in accept(2) on Linux.
    ::shutdown(_socket.impl()->sockfd(), SHUT_RDWR);
    if (_acceptor.joinable())
        _acceptor.join();
    _connections->shutdownAll();
    _dispatcher->get().stop();
    _pool.joinAll();
    _socket.close();
}

} // namespace lanspread::plugins::web
