// lanspread: the client of a running lanspread peer. It talks to the peer's control socket
// (plugins/frontend-socket) with the commands of docs/cli-contract.md and shows the answers as
// the human mode does (frontends/human), or as JSON lines with --json.
#include "client.hpp"

#include "human_command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "0.0.0"
#endif

namespace {

using namespace lanspread::client;

const char *const kUsage =
    R"(usage: lanspread [--socket PATH] [--json] [COMMAND [ARGS...]]

Talks to a running lanspread peer (lanspreadd) through its control socket.

  lanspread                   interactive: type commands, see events and download bars;
                              quit or Ctrl-D leaves (the peer keeps running)
  lanspread status            one command: its result as a table or a sentence
  lanspread list-games        (the commands and their arguments: lanspread help)
  lanspread download ggoo     a long operation (download, stream-install, install,
                              uninstall) prints that it started and returns at once
  lanspread watch             the live bars of the running downloads, until none runs
                              (Ctrl-C leaves; the downloads go on)

options:
  --socket PATH   the peer's control socket; default: $LANSPREAD_SOCKET, else
                  /run/lanspread/control.sock if it exists (the service), else
                  ./state/control.sock (a peer started in this directory)
  --json          print JSON lines: a command's result line, or watch's events; with
                  no command, JSONL both ways (standard input to the peer)
  --help          this text
  --version       the client's version

exit status: 0 ok, 1 the peer answered with an error (or went away), 2 a usage error,
3 no peer could be reached at the socket
)";

int usageError(const std::string &sentence) {
    std::fprintf(stderr, "lanspread: %s (lanspread --help)\n", sentence.c_str());
    return kExitUsage;
}

} // namespace

int main(int argc, char **argv) {
    std::optional<std::string> socketFlag;
    bool json = false;
    std::vector<std::string> words;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg.empty() || arg[0] != '-')
            break;
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        }
        if (arg == "--version") {
            std::puts("lanspread " LANSPREAD_VERSION);
            return kExitOk;
        }
        if (arg == "--json") {
            json = true;
        } else if (arg == "--socket") {
            if (i + 1 >= argc)
                return usageError("--socket needs a path");
            socketFlag = argv[++i];
        } else if (arg.rfind("--socket=", 0) == 0) {
            socketFlag = arg.substr(9);
        } else {
            return usageError("unknown option " + arg);
        }
    }
    for (; i < argc; ++i)
        words.emplace_back(argv[i]);

    const bool watch = !words.empty() && words[0] == "watch";
    if (watch && words.size() > 1)
        return usageError("watch takes no argument, got '" + words[1] + "'");
    if (!words.empty() && !watch) {
        // Checked before connecting: a typo needs no peer to be told.
        const auto parsed = lanspread::human::parseHumanWords(words, "lanspread-1");
        if (parsed.kind == lanspread::human::HumanLine::Kind::Help) {
            std::printf("%s\n  watch\n      the live bars of the running downloads, until none "
                        "runs\n",
                        lanspread::human::humanHelp().c_str());
            return kExitOk;
        }
        if (parsed.kind == lanspread::human::HumanLine::Kind::Error) {
            // The parser's sentence already says where the list is (help).
            std::fprintf(stderr, "lanspread: %s\n", parsed.error.c_str());
            return kExitUsage;
        }
    }

    const SocketChoice socket =
        chooseSocket(socketFlag, std::getenv("LANSPREAD_SOCKET"), [](const std::string &path) {
            // A socket in a directory this user may not search (/run/lanspread is 0750) is
            // there all the same: choosing it makes the error "permission denied", not "no
            // peer is running".
            struct stat st {};
            return ::stat(path.c_str(), &st) == 0 || errno == EACCES;
        });
    const Connected connected = connectTo(socket);
    if (connected.fd < 0) {
        std::fprintf(stderr, "%s\n", connected.error.c_str());
        return kExitNoPeer;
    }
    LineConnection connection(connected.fd);
    if (watch)
        return runWatch(connection, socket, json);
    if (!words.empty())
        return runCommand(connection, socket, words, json);
    if (json)
        return runJsonLines(connection);
    return runInteractive(connection, socket);
}
