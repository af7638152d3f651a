#include "socket_frontend.hpp"

#include <lanspread/services/control.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "0.0.0"
#endif

namespace lanspread::plugins::socket {

namespace {

// "client 3 (pid 1234, uid 1000)": who is on the other end, from the kernel (SO_PEERCRED).
std::string describeClient(int fd, uint64_t number) {
    std::string label = "client " + std::to_string(number);
    ucred cred{};
    socklen_t size = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0)
        label += " (pid " + std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid) + ")";
    return label;
}

std::string absolute(const std::string &path) {
    std::error_code ec;
    auto full = std::filesystem::absolute(path, ec);
    return ec ? path : full.lexically_normal().string();
}

} // namespace

SocketServer::SocketServer(Host host, ControlClient control, SocketSettings settings)
    : _host(host), _control(control), _settings(std::move(settings)) {}

Status SocketServer::start() {
    std::weak_ptr<SocketServer> weak = weak_from_this();
    auto subscription = _control.subscribe([weak](const std::string &line) {
        auto self = weak.lock();
        if (!self || self->_stopped)
            return;
        // A client cut off here is only marked closed: the map changes on a later turn.
        for (auto &[number, client] : self->_clients)
            client->event(line);
    });
    if (!subscription)
        return subscription.status();
    _subscription = std::move(subscription.value());

    std::string path = _settings.path;
    if (path.empty())
        path = runtimeDirectorySocket();
    if (!path.empty())
        return listenAt(path);
    // The state dir comes from the kernel's own status, like everything this frontend knows.
    auto self = shared_from_this();
    if (!_control.submit(R"({"id":"socket-start","cmd":"status"})",
                         [self](const std::string &line) { self->onStatus(line); }))
        return Status(LANSPREAD_E_FAILED, "the peer is shutting down");
    return Status::ok();
}

void SocketServer::onStatus(const std::string &line) {
    if (_stopped)
        return;
    std::string stateDir;
    try {
        Poco::JSON::Parser parser;
        auto result = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
        if (auto data = result->getObject("data"))
            stateDir = data->optValue<std::string>("state_dir", "");
    } catch (const std::exception &) {
    }
    if (stateDir.empty()) {
        _host.error("no control socket: the peer's status has no state_dir (set path in "
                    "[plugin.org.lanspread.frontend.socket])");
        return;
    }
    if (Status listening = listenAt(stateDir + "/control.sock"); !listening)
        _host.error("no control socket: " + listening.message());
}

Status SocketServer::listenAt(const std::string &path) {
    std::string note;
    auto listener = UnixListener::listen(path, _settings.group, note);
    if (!listener)
        return listener.status();
    _listener = std::move(listener.value());
    std::weak_ptr<SocketServer> weak = weak_from_this();
    auto watch = _host.watchFd(_listener.fd(), LANSPREAD_FD_READ, [weak](int, uint32_t) {
        if (auto self = weak.lock())
            self->onAcceptable();
    });
    if (!watch) {
        _listener.close();
        return Status(LANSPREAD_E_IO,
                      "cannot watch the control socket: " + watch.status().message());
    }
    _listenWatch = std::move(watch.value());
    _host.info("control socket at " + absolute(path) + " (mode 0660" +
               (note.empty() ? std::string() : ", " + note) + ")");
    return Status::ok();
}

void SocketServer::onAcceptable() {
    if (_stopped)
        return;
    for (;;) {
        const int fd = ::accept4(_listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            // Out of descriptors, most likely: the listener stays readable, so accepting
            // pauses for a second instead of spinning the reactor.
            _host.warning(std::string("cannot accept a control connection: ") +
                          std::strerror(errno) + "; trying again in a second");
            pauseAccepting();
            return;
        }
        std::size_t open = 0;
        for (const auto &[number, client] : _clients)
            open += client->closed() ? 0 : 1;
        const uint64_t number = _nextClient++;
        std::string label = describeClient(fd, number);
        if (open >= _settings.maxClients) {
            _host.warning("refused " + label + ": " + std::to_string(open) +
                          " clients are connected already (max_clients)");
            ::close(fd);
            continue;
        }
        std::weak_ptr<SocketServer> weak = weak_from_this();
        auto client = std::make_shared<ClientConnection>(_host, _control, fd, label,
                                                         _settings.limits, [weak, number] {
                                                             if (auto self = weak.lock())
                                                                 self->_clients.erase(number);
                                                         });
        if (Status started = client->start(); !started) {
            _host.warning("cannot serve " + label + ": " + started.message());
            client->release();
            continue;
        }
        _host.debug(label + " connected");
        _clients.emplace(number, std::move(client));
    }
}

void SocketServer::pauseAccepting() {
    _listenWatch.modify(0);
    std::weak_ptr<SocketServer> weak = weak_from_this();
    auto timer = _host.startTimer(std::chrono::seconds(1), [weak] {
        if (auto self = weak.lock(); self && !self->_stopped)
            self->_listenWatch.modify(LANSPREAD_FD_READ);
    });
    if (timer)
        _resumeAccepting = std::move(timer.value());
}

void SocketServer::stop() {
    if (_stopped)
        return;
    _stopped = true;
    _subscription.reset();
    for (auto &[number, client] : _clients)
        client->release();
    _clients.clear();
    _resumeAccepting.reset();
    _listenWatch.reset();
    _listener.close(); // removes the socket file
}

SocketFrontend::SocketFrontend(Host host) : FrontendPlugin(host) {
    if (auto path = this->host().config("path")) {
        if (path->empty())
            throw StatusError(LANSPREAD_E_INVALID_ARGUMENT,
                              "config key path is empty (leave it out for the default)");
        _settings.path = *path;
    }
    _settings.group = this->host().config("group", _settings.group);
    std::vector<std::string> warnings;
    uint64_t maxOutput = _settings.limits.maxOutputBytes;
    this->host().configNumber("max_output_bytes", 64 * 1024, 1ull << 30, maxOutput, warnings);
    _settings.limits.maxOutputBytes = static_cast<std::size_t>(maxOutput);
    this->host().configNumber("max_clients", 1, 4096, _settings.maxClients, warnings);
    for (const auto &w : warnings)
        this->host().warning(w);
}

Result<std::unique_ptr<FrontendSession>> SocketFrontend::start() {
    ControlClient client = control();
    if (!client)
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "the host offers no " LANSPREAD_CONTROL_SERVICE_ID " service");
    auto server = std::make_shared<SocketServer>(host(), client, _settings);
    if (Status started = server->start(); !started) {
        server->stop();
        return started;
    }
    return std::unique_ptr<FrontendSession>(std::make_unique<SocketSession>(std::move(server)));
}

} // namespace lanspread::plugins::socket

namespace {
const char *const kCapabilities[] = {"frontend:jsonl", "frontend:unix-socket", nullptr};
const char *const kConfigKeys[] = {
    "path: the control socket (default $RUNTIME_DIRECTORY/control.sock under systemd, else "
    "<state dir>/control.sock)",
    "group: the socket's group when that group exists (default lanspread; empty: unchanged)",
    "max_output_bytes: output a client has not read before it is disconnected (default 8388608)",
    "max_clients: connections at once (default 64)", nullptr};
} // namespace

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::socket::SocketFrontend, LANSPREAD_KIND_FRONTEND,
                         "org.lanspread.frontend.socket", "Control socket frontend",
                         LANSPREAD_VERSION, "lanspread",
                         "JSONL sessions on a Unix socket, for the lanspread client", kCapabilities,
                         kConfigKeys)
