// The accept loop in front of Poco's HTTP connection handling. Poco's TCPServer polls its
// listening socket every 250 ms to notice a stop, which costs an idle peer CPU four times a
// second (measured: ~40 ms of CPU a minute against 0 without the plugin, bench B10). Here one
// thread blocks in accept() until a client comes or stop() shuts the socket down, and hands
// each connection to Poco's dispatcher and HTTPServerConnection, which run the handlers on the
// pool. stop() also shuts down the receiving side of every connection still open (an idle
// keep-alive connection, a slow client), so the pool's threads end at once instead of after their
// timeouts.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <memory>
#include <thread>

namespace lanspread::plugins::web {

class ConnectionRegistry; // http_listener.cpp

class HttpListener {
  public:
    // Starts accepting on socket (bound and listening); handlers come from factory and run on
    // pool. Thread: any (the reactor).
    HttpListener(Poco::Net::ServerSocket socket, Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                 Poco::Net::HTTPServerParams::Ptr params, Poco::ThreadPool &pool);
    ~HttpListener(); // stop()

    // Stops accepting, shuts every open connection down, and waits for the pool's threads.
    // Handlers must not wait on the calling thread. Thread: the one that created it.
    void stop();

  private:
    void acceptLoop();

    Poco::Net::ServerSocket _socket;
    Poco::ThreadPool &_pool;
    std::shared_ptr<ConnectionRegistry> _connections;
    class Dispatcher; // owns a reference on Poco's TCPServerDispatcher
    std::unique_ptr<Dispatcher> _dispatcher;
    std::thread _acceptor;
    std::atomic<bool> _stopped{false}; // read by the accept thread
};

} // namespace lanspread::plugins::web
