#include "web_frontend.hpp"

#include "http_listener.hpp"
#include "request_handler.hpp"
#include "token_store.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StringTokenizer.h>
#include <Poco/ThreadPool.h>

#include <dlfcn.h>

#include <filesystem>
#include <sstream>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "0.0.0"
#endif

namespace lanspread::plugins::web {

namespace {

// Threads for requests other than event streams, so a page full of streams never starves a
// command; browsers also hold a few idle keep-alive connections per page.
constexpr int kThreadsBesideStreams = 16;

std::string hostForUrl(const WebSettings &s) {
    if (s.listenHost == "0.0.0.0")
        return "127.0.0.1";
    if (s.listenHost == "::")
        return "[::1]";
    return s.listenHost.find(':') != std::string::npos ? "[" + s.listenHost + "]" : s.listenHost;
}

} // namespace

std::string defaultWwwDir() {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void *>(&defaultWwwDir), &info) == 0 || !info.dli_fname)
        return {};
    std::error_code ec;
    std::filesystem::path dir =
        std::filesystem::weakly_canonical(std::filesystem::path(info.dli_fname), ec).parent_path();
    for (int up = 0; up < 5 && !dir.empty(); ++up, dir = dir.parent_path()) {
        const auto candidate = dir / "share" / "lanspread" / "www";
        if (std::filesystem::is_directory(candidate, ec))
            return candidate.string();
        if (dir == dir.parent_path())
            break;
    }
    return {};
}

// Owns the server and what it shares; lives as long as a pending status callback or the
// session holds it. All members are touched on the reactor only, except through _context.
class WebRuntime : public std::enable_shared_from_this<WebRuntime> {
  public:
    WebRuntime(Host host, ControlClient control, WebSettings settings)
        : _host(host), _control(control),
          _context(std::make_shared<WebContext>(host, control, std::move(settings))) {}

    Status start() {
        const WebSettings &s = _context->settings();
        try {
            Poco::Net::SocketAddress address(s.listenHost, s.listenPort);
            if (address.family() == Poco::Net::IPAddress::IPv6)
                _socket.bind6(address, true, false, true);
            else
                _socket.bind(address, true, false); // no SO_REUSEPORT: a taken port must fail
            _socket.listen(64);
        } catch (const Poco::Exception &e) {
            return Status(LANSPREAD_E_IO, "cannot listen on " + s.listenHost + ":" +
                                              std::to_string(s.listenPort) +
                                              " (config listen): " + e.displayText());
        }
        auto subscription = _control.subscribe(
            [context = _context](const std::string &line) { context->onEvent(line); });
        if (!subscription)
            return subscription.status();
        _subscription = std::move(subscription.value());
        // The state dir (for the token) comes from the kernel's own status, like everything
        // else this frontend knows.
        auto self = shared_from_this();
        if (!_control.submit(R"({"id":"web-start","cmd":"status"})",
                             [self](const std::string &line) { self->serve(line); }))
            return Status(LANSPREAD_E_FAILED, "the peer is shutting down");
        return Status::ok();
    }

    // Thread: reactor.
    void stop() {
        _stopped = true;
        _context->close();
        _subscription.reset();
        if (_listener) {
            _listener->stop();
            _listener.reset();
        }
        _pool.reset();
        _socket.close();
    }

  private:
    // The status result: token, server, URL. Thread: reactor.
    void serve(const std::string &statusLine) {
        if (_stopped)
            return;
        std::string stateDir;
        try {
            Poco::JSON::Parser parser;
            auto result = parser.parse(statusLine).extract<Poco::JSON::Object::Ptr>();
            if (auto data = result->getObject("data"))
                stateDir = data->optValue<std::string>("state_dir", "");
        } catch (const std::exception &) {
        }
        if (stateDir.empty()) {
            _host.error("cannot start the web page: the peer's status has no state_dir");
            return;
        }
        std::string warning;
        auto token = loadOrCreateToken(stateDir, warning);
        if (!warning.empty())
            _host.warning(warning);
        if (!token) {
            _host.error("cannot start the web page: " + token.status().message());
            return;
        }
        _context->setToken(token.value());

        const WebSettings &s = _context->settings();
        const int threads = static_cast<int>(s.maxEventStreams) + kThreadsBesideStreams;
        _pool = std::make_unique<Poco::ThreadPool>("frontend-web", 2, threads, 60);
        Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(threads);
        params->setMaxQueued(64);
        const Poco::Timespan timeout(static_cast<Poco::Timespan::TimeDiff>(s.requestTimeoutMs) *
                                     1000);
        params->setTimeout(timeout);
        params->setKeepAlive(true);
        params->setKeepAliveTimeout(Poco::Timespan(5, 0));
        params->setMaxKeepAliveRequests(1000);
        params->setServerName("lanspread");
        params->setSoftwareVersion("lanspread/" LANSPREAD_VERSION);
        _listener =
            std::make_unique<HttpListener>(_socket, new RequestRouter(_context), params, *_pool);

        const std::string url = "http://" + hostForUrl(s) + ":" +
                                std::to_string(_socket.address().port()) +
                                "/?token=" + token.value();
        if (Status written = writePrivateFile(stateDir + "/frontend-web.url", url + "\n"); !written)
            _host.warning(written.message());
        std::string where = "listening on " + _socket.address().toString();
        if (s.wwwDir.empty())
            _host.warning("the page's files were not found (no share/lanspread/www next to the "
                          "plugin; set www_dir): only the API works");
        // Warning level: the one line a person must see, even when the log shows warnings only.
        _host.warning("open " + url + " in a browser (" + where + "; the token is in " + stateDir +
                      "/frontend-web.token)");
    }

    Host _host;
    ControlClient _control;
    std::shared_ptr<WebContext> _context;
    Poco::Net::ServerSocket _socket;
    ControlClient::Subscription _subscription;
    std::unique_ptr<Poco::ThreadPool> _pool;
    std::unique_ptr<HttpListener> _listener; // stopped and destroyed before _pool
    bool _stopped = false;
};

WebSession::~WebSession() {
    _runtime->stop();
}

WebFrontend::WebFrontend(Host host) : FrontendPlugin(host) {
    if (auto listen = this->host().config("listen")) {
        try {
            Poco::Net::SocketAddress address(*listen);
            _settings.listenHost = address.host().toString();
            _settings.listenPort = address.port();
        } catch (const Poco::Exception &e) {
            throw StatusError(Status(LANSPREAD_E_INVALID_ARGUMENT,
                                     "config key listen must be IP:PORT (IPv6 as [addr]:port), "
                                     "got '" +
                                         *listen + "': " + e.displayText()));
        }
    }
    if (auto hosts = this->host().config("allowed_hosts")) {
        Poco::StringTokenizer names(
            *hosts, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        _settings.allowedHosts.assign(names.begin(), names.end());
    }
    if (auto www = this->host().config("www_dir")) {
        std::error_code ec;
        if (!std::filesystem::is_directory(*www, ec))
            throw StatusError(Status(LANSPREAD_E_INVALID_ARGUMENT,
                                     "config key www_dir names no directory: '" + *www + "'"));
        _settings.wwwDir = *www;
    } else {
        _settings.wwwDir = defaultWwwDir();
    }
    std::vector<std::string> warnings;
    this->host().configNumber("max_body_bytes", 1024, 16u << 20, _settings.maxBodyBytes, warnings);
    this->host().configNumber("max_event_streams", 1, 1024, _settings.maxEventStreams, warnings);
    this->host().configNumber("request_timeout_ms", 1000, 600000, _settings.requestTimeoutMs,
                              warnings);
    this->host().configNumber("replay_events", 16, 1u << 20, _settings.replayEvents, warnings);
    for (const auto &w : warnings)
        this->host().warning(w);
}

Result<std::unique_ptr<FrontendSession>> WebFrontend::start() {
    ControlClient client = control();
    if (!client)
        return Status(LANSPREAD_E_UNSUPPORTED,
                      "the host offers no " LANSPREAD_CONTROL_SERVICE_ID " service");
    auto runtime = std::make_shared<WebRuntime>(host(), client, _settings);
    if (Status started = runtime->start(); !started) {
        runtime->stop();
        return started;
    }
    return std::unique_ptr<FrontendSession>(std::make_unique<WebSession>(std::move(runtime)));
}

} // namespace lanspread::plugins::web

namespace {
const char *const kCapabilities[] = {"frontend:http", nullptr};
const char *const kConfigKeys[] = {
    "listen: IP:PORT of the page and API (default 127.0.0.1:7878; port 0 picks one)",
    "allowed_hosts: extra Host header names, comma-separated (IP literals and localhost always)",
    "www_dir: folder of the page files (default <prefix>/share/lanspread/www)",
    "max_body_bytes: largest request body (default 65536)",
    "max_event_streams: event streams open at once (default 32)",
    "request_timeout_ms: drop a client silent or stuck this long (default 10000)",
    "replay_events: events kept for reconnecting streams (default 2048)",
    nullptr};
} // namespace

LANSPREAD_DECLARE_PLUGIN(lanspread::plugins::web::WebFrontend, LANSPREAD_KIND_FRONTEND,
                         "org.lanspread.frontend.web", "Web frontend", LANSPREAD_VERSION,
                         "lanspread", "A web page and an HTTP API on the control service",
                         kCapabilities, kConfigKeys)
