#include "request_handler.hpp"

#include "request_guard.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace lanspread::plugins::web {

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char *kCookieName = "lanspread_token";
constexpr std::chrono::seconds kKeepaliveEvery{15};
constexpr std::chrono::seconds kClosedPageCheck{5};

int64_t nowUnixMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string toJson(const Poco::Dynamic::Var &value) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

// Headers every answer carries: nothing is cached (the token may sit in a URL), nothing is
// sniffed, the page cannot be framed by another site.
void setCommonHeaders(HTTPServerResponse &response) {
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.set("X-Frame-Options", "DENY");
    response.set("Referrer-Policy", "no-referrer");
}

void sendText(HTTPServerResponse &response, HTTPResponse::HTTPStatus status,
              const std::string &contentType, const std::string &body) {
    setCommonHeaders(response);
    response.setStatusAndReason(status);
    response.setContentType(contentType);
    response.setContentLength64(static_cast<Poco::UInt64>(body.size()));
    response.send() << body;
}

void sendJson(HTTPServerResponse &response, HTTPResponse::HTTPStatus status,
              const std::string &json) {
    sendText(response, status, "application/json", json);
}

void sendError(HTTPServerResponse &response, HTTPResponse::HTTPStatus status,
               const std::string &code, const std::string &message) {
    Poco::JSON::Object::Ptr error = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    error->set("code", code);
    error->set("message", message);
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    body->set("ok", false);
    body->set("error", error);
    sendJson(response, status, toJson(body));
}

std::optional<uint64_t> parseId(const std::string &text) {
    return Host::parseUnsigned(text);
}

// The data object of a result line, or null when it is not ok (then `error` says why).
Poco::JSON::Object::Ptr resultData(const std::string &line, std::string &error) {
    try {
        Poco::JSON::Parser parser;
        auto object = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
        if (object && object->optValue<bool>("ok", false))
            return object->getObject("data");
        auto e = object ? object->getObject("error") : nullptr;
        error = e ? e->optValue<std::string>("code", "error") + ": " +
                        e->optValue<std::string>("message", "")
                  : "no result";
    } catch (const std::exception &ex) {
        error = std::string("unreadable result: ") + ex.what();
    }
    return nullptr;
}

// Why text is not one JSON value, or nullopt when it is. Poco's parser takes only an object or
// an array at the top, so a bare scalar (42, "status", null: valid JSON, not a command) is
// checked as the one element of an array; the kernel then answers it invalid-command.
std::optional<std::string> invalidJsonReason(const std::string &text) {
    std::string why;
    try {
        Poco::JSON::Parser parser;
        parser.parse(text);
        return std::nullopt;
    } catch (const Poco::Exception &e) {
        why = e.message();
    }
    try {
        Poco::JSON::Parser parser;
        auto wrapped = parser.parse("[" + text + "\n]").extract<Poco::JSON::Array::Ptr>();
        if (wrapped && wrapped->size() == 1)
            return std::nullopt;
    } catch (const Poco::Exception &) {
    }
    return why;
}

class Handler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit Handler(std::shared_ptr<WebContext> context) : _ctx(std::move(context)) {}

    void handleRequest(HTTPServerRequest &request, HTTPServerResponse &response) override {
        try {
            handle(request, response);
        } catch (const Poco::Exception &e) {
            // The client went away or sent something Poco cannot read: nothing to answer on
            // a broken connection; on a live one, say what happened.
            if (!response.sent())
                sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "bad-request",
                          "the request could not be read: " + e.displayText());
        } catch (const std::exception &e) {
            if (!response.sent())
                sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal-error",
                          e.what());
        }
    }

  private:
    void handle(HTTPServerRequest &request, HTTPServerResponse &response) {
        const std::string host = request.has("Host") ? request.get("Host") : std::string();
        if (!hostAllowed(host, _ctx->settings().allowedHosts))
            return sendError(response, HTTPResponse::HTTP_FORBIDDEN, "forbidden-host",
                             "the Host header '" + host +
                                 "' is not this server's address; add the name to "
                                 "allowed_hosts to use it");
        if (request.has("Origin") && !originAllowed(request.get("Origin"), host))
            return sendError(response, HTTPResponse::HTTP_FORBIDDEN, "forbidden-origin",
                             "requests from the origin '" + request.get("Origin") +
                                 "' are not allowed; only the page itself may call the API");

        // Routing looks at the raw path: an encoded character never names a file or an API.
        const std::string &uri = request.getURI();
        const auto question = uri.find('?');
        const std::string path = uri.substr(0, question);
        Poco::URI::QueryParameters query;
        try {
            query = Poco::URI(uri).getQueryParameters();
        } catch (const Poco::Exception &) {
            return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "bad-request",
                             "the request URI cannot be parsed");
        }
        auto queryValue = [&](const std::string &key) -> std::optional<std::string> {
            for (const auto &[k, v] : query)
                if (k == key)
                    return v;
            return std::nullopt;
        };

        const bool isGet = request.getMethod() == HTTPServerRequest::HTTP_GET ||
                           request.getMethod() == HTTPServerRequest::HTTP_HEAD;
        const auto queryToken = isGet ? queryValue("token") : std::nullopt;
        const bool viaQuery = queryToken && tokenMatches(*queryToken, _ctx->token());
        if (!viaQuery && !authorized(request)) {
            const bool api = path.rfind("/api/", 0) == 0;
            if (!api && isGet)
                return sendText(response, HTTPResponse::HTTP_UNAUTHORIZED,
                                "text/plain; charset=utf-8",
                                "lanspread: this page needs its access token. Open the URL the "
                                "peer printed in its log (it ends in ?token=...), or see "
                                "frontend-web.url in the peer's state directory.\n");
            return sendError(response, HTTPResponse::HTTP_UNAUTHORIZED, "unauthorized",
                             queryToken || request.has("Authorization") ||
                                     request.has("X-Lanspread-Token") || request.hasCredentials()
                                 ? "the access token is wrong"
                                 : "the request has no access token (Authorization: Bearer "
                                   "<token>, X-Lanspread-Token, or the page's cookie)");
        }

        if (path == "/api/v1/command")
            return handleCommand(request, response);
        if (path == "/api/v1/state")
            return isGet ? handleState(response) : methodNotAllowed(response, "GET");
        if (path == "/api/v1/events")
            return isGet ? handleEvents(request, response, queryValue("since"))
                         : methodNotAllowed(response, "GET");
        if (path.rfind("/api/", 0) == 0)
            return sendError(response, HTTPResponse::HTTP_NOT_FOUND, "not-found",
                             "there is no API at " + path + " (see docs/web-api.md)");
        if (!isGet)
            return methodNotAllowed(response, "GET");
        if (viaQuery) {
            // The token came in the URL: keep it in a cookie and drop it from the address bar
            // (and from the browser's history).
            setCommonHeaders(response);
            Poco::Net::HTTPCookie cookie(kCookieName, _ctx->token());
            cookie.setPath("/");
            cookie.setHttpOnly(true);
            cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
            response.addCookie(cookie);
            response.set("Location", path);
            response.setStatusAndReason(HTTPResponse::HTTP_SEE_OTHER);
            response.setContentLength(0);
            response.send();
            return;
        }
        return servePageFile(path, response);
    }

    bool authorized(const HTTPServerRequest &request) const {
        const std::string &token = _ctx->token();
        if (request.has("Authorization"))
            if (auto bearer = bearerToken(request.get("Authorization")))
                return tokenMatches(*bearer, token);
        if (request.has("X-Lanspread-Token"))
            return tokenMatches(request.get("X-Lanspread-Token"), token);
        if (request.has("Cookie"))
            if (auto cookie = cookieValue(request.get("Cookie"), kCookieName))
                return tokenMatches(*cookie, token);
        return false;
    }

    void methodNotAllowed(HTTPServerResponse &response, const std::string &allowed) {
        response.set("Allow", allowed);
        sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                  "use " + allowed + " here");
    }

    // The body, at most max_body_bytes; nullopt (and the 413 sent) when it is longer.
    std::optional<std::string> readBody(HTTPServerRequest &request, HTTPServerResponse &response) {
        const uint64_t limit = _ctx->settings().maxBodyBytes;
        auto tooLarge = [&] {
            response.setKeepAlive(false); // the rest of the body is never read
            sendError(response, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "body-too-large",
                      "the request body is larger than " + std::to_string(limit) +
                          " bytes (max_body_bytes)");
            return std::nullopt;
        };
        if (request.hasContentLength() &&
            static_cast<uint64_t>(request.getContentLength64()) > limit)
            return tooLarge();
        std::string body;
        std::istream &in = request.stream();
        char buffer[8192];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
            body.append(buffer, static_cast<std::size_t>(in.gcount()));
            if (body.size() > limit)
                return tooLarge();
        }
        return body;
    }

    void handleCommand(HTTPServerRequest &request, HTTPServerResponse &response) {
        if (request.getMethod() != HTTPServerRequest::HTTP_POST)
            return methodNotAllowed(response, "POST");
        const std::string contentType = request.getContentType();
        if (contentType.rfind("application/json", 0) != 0) {
            response.setKeepAlive(false);
            return sendError(
                response, HTTPResponse::HTTP_UNSUPPORTEDMEDIATYPE, "unsupported-media-type",
                "send the command as Content-Type: application/json (got '" + contentType + "')");
        }
        auto body = readBody(request, response);
        if (!body)
            return;
        if (auto why = invalidJsonReason(*body))
            return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "invalid-json",
                             "the body is not valid JSON: " + *why);
        // The control service reads one line; a JSON text has no raw line breaks inside its
        // strings, so turning them into spaces keeps the command as it was.
        for (char &c : *body)
            if (c == '\n' || c == '\r')
                c = ' ';
        std::vector<std::string> results;
        if (!run({*body}, results, response))
            return;
        sendJson(response, HTTPResponse::HTTP_OK, results.front());
    }

    bool run(const std::vector<std::string> &lines, std::vector<std::string> &results,
             HTTPServerResponse &response) {
        switch (_ctx->runCommands(lines, results, kCommandTimeout)) {
        case WebContext::Outcome::Answered: return true;
        case WebContext::Outcome::ShuttingDown:
            sendError(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "shutting-down",
                      "the peer is shutting down");
            return false;
        case WebContext::Outcome::TimedOut:
            sendError(response, HTTPResponse::HTTP_GATEWAY_TIMEOUT, "timeout",
                      "the peer did not answer within " + std::to_string(kCommandTimeout.count()) +
                          " s");
            return false;
        }
        return false;
    }

    void handleState(HTTPServerResponse &response) {
        // The tracker first: every event after its id is replayed to a stream opened with
        // since=last_event_id, and the command results below are at least as new.
        const auto snapshot = _ctx->downloads().snapshot();
        std::vector<std::string> results;
        if (!run({R"({"id":"web-state-status","cmd":"status"})",
                  R"({"id":"web-state-peers","cmd":"list-peers"})",
                  R"({"id":"web-state-games","cmd":"list-games"})"},
                 results, response))
            return;
        std::string error;
        auto status = resultData(results[0], error);
        auto peers = status ? resultData(results[1], error) : nullptr;
        auto games = peers ? resultData(results[2], error) : nullptr;
        if (!games)
            return sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal-error",
                             "the peer could not describe its state: " + error);
        Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        body->set("ok", true);
        body->set("last_event_id", snapshot.appliedThroughId);
        body->set("status", status);
        body->set("peers", peers->getArray("peers"));
        body->set("games", games);
        body->set("downloads", DownloadTracker::toJson(snapshot.downloads));
        sendJson(response, HTTPResponse::HTTP_OK, toJson(body));
    }

    void handleEvents(HTTPServerRequest &request, HTTPServerResponse &response,
                      const std::optional<std::string> &sinceQuery) {
        std::optional<uint64_t> since;
        const std::optional<std::string> sinceText =
            request.has("Last-Event-ID") ? std::optional(request.get("Last-Event-ID")) : sinceQuery;
        if (sinceText) {
            since = parseId(*sinceText);
            if (!since)
                return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "bad-request",
                                 "since / Last-Event-ID must be an event id (a whole number), "
                                 "got '" +
                                     *sinceText + "'");
        }
        const uint64_t limit = _ctx->settings().maxEventStreams;
        if (_ctx->openStreams.fetch_add(1) >= limit) {
            _ctx->openStreams.fetch_sub(1);
            return sendError(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                             "too-many-event-streams",
                             "already " + std::to_string(limit) +
                                 " event streams are open (max_event_streams); close a page");
        }
        struct Release {
            WebContext &ctx;
            ~Release() { ctx.openStreams.fetch_sub(1); }
        } release{*_ctx};

        // A client that cannot take an event within the request timeout loses its stream
        // (its own thread waits; nobody else does).
        auto &socket = static_cast<Poco::Net::HTTPServerRequestImpl &>(request).socket();
        socket.setSendTimeout(Poco::Timespan(
            static_cast<Poco::Timespan::TimeDiff>(_ctx->settings().requestTimeoutMs) * 1000));
        setCommonHeaders(response);
        response.setContentType("text/event-stream");
        response.setKeepAlive(false);
        response.setChunkedTransferEncoding(false);
        std::ostream &out = response.send();
        out << "retry: 1000\n\n";
        out.flush();

        uint64_t cursor = since ? *since : _ctx->events().newestId();
        auto lastWrite = std::chrono::steady_clock::now();
        while (out.good()) {
            // Wakes for each event, and every few seconds to notice a closed page (its thread
            // and stream slot come back) and to send the keep-alive.
            EventLog::Batch batch = _ctx->events().after(cursor, kClosedPageCheck);
            if (batch.closed)
                break;
            bool wrote = false;
            if (batch.gap) {
                Poco::JSON::Object::Ptr gap = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
                gap->set("event", "web-replay-gap");
                gap->set("ts_ms", nowUnixMs());
                gap->set("since", cursor);
                gap->set("oldest_id", batch.oldestId);
                out << "id: " << batch.newestId << "\ndata: " << toJson(gap) << "\n\n";
                cursor = batch.newestId;
                wrote = true;
            }
            for (const auto &entry : batch.entries) {
                out << "id: " << entry.id << "\ndata: " << *entry.line << "\n\n";
                cursor = entry.id;
                wrote = true;
            }
            const auto now = std::chrono::steady_clock::now();
            if (!wrote && now - lastWrite >= kKeepaliveEvery) {
                out << ": keepalive\n\n";
                wrote = true;
            }
            if (wrote) {
                out.flush();
                lastWrite = now;
            }
            // A closed page: its socket reads as end-of-stream. Ends the thread now rather
            // than at the next failed write.
            if (socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ) &&
                socket.available() <= 0)
                break;
        }
    }

    void servePageFile(const std::string &path, HTTPServerResponse &response) {
        const auto name = pageFileFor(path);
        const std::string file = name ? _ctx->settings().wwwDir + "/" + *name : std::string();
        struct stat st {};
        if (!name || ::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
            return sendError(response, HTTPResponse::HTTP_NOT_FOUND, "not-found",
                             "there is no page file at " + path);
        std::ifstream in(file, std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        if (!in.good() && !in.eof())
            return sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal-error",
                             "cannot read " + file);
        // The page runs only its own files: no inline script, nothing from elsewhere.
        response.set("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'self'");
        sendText(response, HTTPResponse::HTTP_OK, contentTypeFor(*name), content.str());
    }

    std::shared_ptr<WebContext> _ctx;
};

} // namespace

Poco::Net::HTTPRequestHandler *
RequestRouter::createRequestHandler(const Poco::Net::HTTPServerRequest &) {
    return new Handler(_context);
}

} // namespace lanspread::plugins::web
