// frontend-socket: the control service on a Unix stream socket, so programs other than the
// daemon's own terminal talk to a running peer (the `lanspread` client, scripts, socat). Each
// connection is a JSONL session like frontend-cli's JSONL mode (client_connection.hpp).
//
// Start (reactor): subscribe to the events, then bind the socket — at once when its path is
// known (config `path`, or $RUNTIME_DIRECTORY under systemd), so a live socket fails start;
// otherwise when `status` answers with the state dir (<state>/control.sock), as frontend-web
// finds its state dir. Stop (reactor): close every client and the socket, remove the file.
#pragma once

#include "client_connection.hpp"
#include "unix_listener.hpp"

#include <lanspread/kinds/frontend.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace lanspread::plugins::socket {

struct SocketSettings {
    std::string path;                // config `path`; empty: runtime dir, else state dir
    std::string group = "lanspread"; // the socket's group, when it exists; empty: unchanged
    uint64_t maxClients = 64;
    ConnectionLimits limits;
};

class SocketServer : public std::enable_shared_from_this<SocketServer> {
  public:
    SocketServer(Host host, ControlClient control, SocketSettings settings);
    Status start();
    void stop();
    // The bound socket's path ("" until bound).
    const std::string &path() const { return _listener.path(); }
    std::size_t clientCount() const { return _clients.size(); }

  private:
    Status listenAt(const std::string &path);
    void onStatus(const std::string &line);
    void onAcceptable();
    void pauseAccepting();

    Host _host;
    ControlClient _control;
    SocketSettings _settings;
    ControlClient::Subscription _subscription;
    UnixListener _listener;
    FdWatch _listenWatch;
    Timer _resumeAccepting;
    std::map<uint64_t, std::shared_ptr<ClientConnection>> _clients;
    uint64_t _nextClient = 1;
    bool _stopped = false;
};

class SocketSession : public FrontendSession {
  public:
    explicit SocketSession(std::shared_ptr<SocketServer> server) : _server(std::move(server)) {}
    ~SocketSession() override { _server->stop(); }

  private:
    std::shared_ptr<SocketServer> _server;
};

class SocketFrontend : public FrontendPlugin {
  public:
    explicit SocketFrontend(Host host); // reads the config; an empty path throws
    Result<std::unique_ptr<FrontendSession>> start() override;

  private:
    SocketSettings _settings;
};

} // namespace lanspread::plugins::socket
