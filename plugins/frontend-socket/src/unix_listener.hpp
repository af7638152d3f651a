// frontend-socket's socket file: where it goes, replacing a stale one, refusing a live one,
// its mode and group, and removing it again. Plain POSIX; no host, no reactor.
#pragma once

#include <lanspread/result.hpp>

#include <sys/types.h>

#include <string>

namespace lanspread::plugins::socket {

// The socket path when the config names none: $RUNTIME_DIRECTORY/control.sock when systemd
// gave the service a runtime directory (its first entry, if it lists several), else "" (the
// caller then uses <state dir>/control.sock).
std::string runtimeDirectorySocket();

// A listening Unix stream socket bound at a path. Owns the descriptor.
class UnixListener {
  public:
    UnixListener() = default;
    UnixListener(const UnixListener &) = delete;
    UnixListener &operator=(const UnixListener &) = delete;
    UnixListener(UnixListener &&other) noexcept;
    UnixListener &operator=(UnixListener &&other) noexcept;
    ~UnixListener() { close(); }

    // Binds and listens at path (non-blocking, close-on-exec), mode 0660, and group `group`
    // when that group exists (empty: the file keeps the daemon's group). A socket file left
    // by a peer that did not stop cleanly (connect() is refused) is replaced; a peer answering
    // there, a path that is not a socket, or a path longer than sockaddr_un holds fail with
    // one sentence. note says what became of the group, for the log line.
    static Result<UnixListener> listen(const std::string &path, const std::string &group,
                                       std::string &note);

    int fd() const { return _fd; }
    const std::string &path() const { return _path; }
    // Closes the descriptor and removes the socket file, if the file is still the one this
    // listener bound (a newer peer may have replaced it).
    void close();

  private:
    int _fd = -1;
    std::string _path;
    dev_t _dev = 0;
    ino_t _ino = 0;
};

} // namespace lanspread::plugins::socket
