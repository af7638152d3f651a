// frontend-socket: one client on the control socket, a JSONL session like frontend-cli's JSONL
// mode. Lines read are submitted to the control service as they are (the kernel parses and
// validates them); every result and every event is written back, one per line, in the order
// the reactor delivers them.
//
// Nothing here may block the reactor: the socket is non-blocking, and what the client has not
// read yet waits in a bounded buffer. A client whose buffer passes the limit (it does not read)
// is disconnected, so it never holds the reactor or the other clients back. Commands keep
// running when their client goes; their results are dropped.
//
// Thread: reactor (every method, every callback).
#pragma once

#include <lanspread/kinds/frontend.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lanspread::plugins::socket {

struct ConnectionLimits {
    std::size_t maxOutputBytes = 8u << 20; // unread output before the client is cut off
    std::size_t maxPendingCommands = 256;  // unanswered commands before reading pauses
};

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
  public:
    // fd: a connected, non-blocking socket, owned from now on. label: "client 3 (pid 1234,
    // uid 1000)", for the log. onGone runs once, later (posted), after the connection closed.
    ClientConnection(Host host, ControlClient control, int fd, std::string label,
                     ConnectionLimits limits, std::function<void()> onGone);
    ~ClientConnection();

    Status start(); // starts reading
    // An event line for the client.
    void event(const std::string &line);
    // Closes at once (the session stops); no log line. Outside the connection's own callback.
    void release();
    bool closed() const { return _closed; }
    std::size_t queuedBytes() const { return _out.size() - _outStart; }
    const std::string &label() const { return _label; }

  private:
    void onReady(uint32_t revents);
    // Reads what is there; false once the input is closed or the connection is.
    void readInput();
    void submit(std::string line);
    void onResult(const std::string &line);
    void append(const std::string &line);
    void flush();
    void updateWatch();
    void finishIfDone();
    // Marks the connection closed and shuts the socket down; the descriptor and the watch go
    // in a posted task (never inside the watch's own callback). why: for the log, "" for none.
    void close(const std::string &why, bool warning);

    Host _host;
    ControlClient _control;
    int _fd;
    std::string _label;
    ConnectionLimits _limits;
    std::function<void()> _onGone;
    FdWatch _watch;
    uint32_t _watching = 0;
    std::string _line; // the line being read: at most kKeptLineBytes of it
    std::string _out;  // written from _outStart on
    std::size_t _outStart = 0;
    std::size_t _pending = 0; // commands submitted and not answered
    bool _inputClosed = false;
    bool _closed = false;
    bool _released = false;
};

} // namespace lanspread::plugins::socket
