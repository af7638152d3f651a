// The lanspread client's side of a peer's control socket (plugins/frontend-socket): which
// socket to use, connecting with one clear sentence when it fails, and a non-blocking line
// connection the client's poll loop drives.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lanspread::client {

// Where a systemd service's socket is (RuntimeDirectory=lanspread), and where a peer started
// in the current directory with the default config puts it (<./state>/control.sock).
inline constexpr const char *kServiceSocket = "/run/lanspread/control.sock";
inline constexpr const char *kLocalSocket = "./state/control.sock";

struct SocketChoice {
    std::string path;
    // Neither --socket nor $LANSPREAD_SOCKET named it: the well-known places were tried.
    bool guessed = false;
};

// --socket, else $LANSPREAD_SOCKET, else kServiceSocket if it exists, else kLocalSocket.
SocketChoice chooseSocket(const std::optional<std::string> &flag, const char *environment,
                          const std::function<bool(const std::string &)> &exists);

// A connected control socket, or the one sentence saying why not (starting "lanspread: ").
struct Connected {
    int fd = -1;
    std::string error;
};
Connected connectTo(const SocketChoice &socket);

// The sentence for a failed connect(2) with errno error.
std::string connectError(const SocketChoice &socket, int error);

// A line connection over a connected, non-blocking socket: lines queued to send, lines read.
class LineConnection {
  public:
    explicit LineConnection(int fd) : _fd(fd) {}
    LineConnection(const LineConnection &) = delete;
    LineConnection &operator=(const LineConnection &) = delete;
    ~LineConnection();

    int fd() const { return _fd; }
    // Queues bytes (a line and its newline) and writes what the socket takes now.
    bool send(const std::string &bytes);
    // Whether bytes wait to be written (poll for POLLOUT).
    bool wantsWrite() const { return _outStart < _out.size(); }
    // Writes what the socket takes; false when the peer is gone.
    bool flush();
    // Closes the writing side once everything queued is written (the peer then answers what
    // it was asked and closes).
    void finishWriting();
    // Reads what is there; complete lines (without '\n') are appended to lines. false once the
    // peer closed the connection (or it failed): then no more lines come.
    bool read(std::vector<std::string> &lines);

  private:
    int _fd;
    std::string _out;
    std::size_t _outStart = 0;
    std::string _in;
    bool _finishWriting = false;
    bool _writeShut = false;
};

} // namespace lanspread::client
