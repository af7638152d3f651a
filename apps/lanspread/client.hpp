// The lanspread client's modes, each a small poll loop over the control socket (and standard
// input, and a signalfd for Ctrl-C where it matters):
//   runCommand     one command from the program's arguments, its result, the exit status;
//   runWatch       the live bars of the running downloads until none runs (or Ctrl-C);
//   runInteractive the human mode on a running peer, as frontend-cli's on its own terminal;
//   runJsonLines   JSONL both ways: standard input to the peer, every line back to standard
//                  output (--json with no command), until the peer closes.
// Everything a person reads is drawn by frontends/human, as in frontend-cli.
#pragma once

#include "control_socket.hpp"

#include <string>
#include <vector>

namespace lanspread::client {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1; // the peer answered ok:false, or went away
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoPeer = 3; // no peer could be reached at the socket

int runCommand(LineConnection &connection, const SocketChoice &socket,
               const std::vector<std::string> &words, bool json);
int runWatch(LineConnection &connection, const SocketChoice &socket, bool json);
int runInteractive(LineConnection &connection, const SocketChoice &socket);
int runJsonLines(LineConnection &connection);

} // namespace lanspread::client
