// The web frontend's HTTP API (docs/web-api.md) against real lanspreadd processes on 127.0.0.1:
// a peer loading org.lanspread.frontend.web (listen = 127.0.0.1:0) next to frontend-cli, a
// second peer as a download source. The API is driven with Poco::Net's HTTP client; event
// streams, hostile requests and stuck clients with raw sockets, so the bytes on the wire are
// exactly the test's. What frontend-cli prints on the same peer is the reference for the
// events the stream must carry. Each test starts its own lab.
#include "scenario_support.hpp"

#include <lanspread/fixtures/archive_writer.hpp>
#include <lanspread/fixtures/game_set.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace lanspread::test;
namespace fx = lanspread::fixtures;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kWebId = "org.lanspread.frontend.web";

// ---- the web peer ----

// Where a web peer's API listens and the token it wants, from <state dir>/frontend-web.url.
struct WebEndpoint {
    std::string host;
    uint16_t port = 0;
    std::string token;
    std::string url; // the whole .url file, trimmed
    std::string hostHeader() const { return host + ":" + std::to_string(port); }
};

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start])))
        ++start;
    return s.substr(start);
}
std::string lower(std::string s) {
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string urlPath(const Peer &peer) {
    return peer.stateDir() + "/frontend-web.url";
}
std::string tokenPath(const Peer &peer) {
    return peer.stateDir() + "/frontend-web.token";
}

// Reads the peer's .url file (waiting up to 10 s for it) and splits it into host, port and
// token: http://<host>:<port>/?token=<token>.
WebEndpoint endpointOf(const Lab &lab, Peer &peer) {
    const std::string path = urlPath(peer);
    lab.waitUntil(
        [&] {
            peer.drain();
            return fs::exists(path) && !trim(readWholeFile(path)).empty();
        },
        10s, peer.label() + " writes " + path);
    WebEndpoint web;
    web.url = trim(readWholeFile(path));
    const std::string scheme = "http://";
    const std::size_t hostAt = web.url.find(scheme);
    const std::size_t slash = web.url.find('/', hostAt + scheme.size());
    const std::size_t tokenAt = web.url.find("?token=");
    lab.check(hostAt == 0 && slash != std::string::npos && tokenAt == slash + 1,
              "the .url file is not http://<host>:<port>/?token=<token>: '" + web.url + "'");
    const std::string hostPort = web.url.substr(scheme.size(), slash - scheme.size());
    const std::size_t colon = hostPort.rfind(':');
    lab.check(colon != std::string::npos, "no port in " + web.url);
    web.host = hostPort.substr(0, colon);
    web.port = static_cast<uint16_t>(std::stoi(hostPort.substr(colon + 1)));
    web.token = web.url.substr(tokenAt + 7);
    lab.check(web.port != 0 && !web.token.empty(), "no port or token in " + web.url);
    return web;
}

// The plugins of a web peer: the harness's default list and the web frontend.
std::string webPlugins() {
    return std::string(Peer::kPlugins) + "," + kWebId;
}
// INI text for the web frontend on an ephemeral loopback port, plus keys ("name = value\n").
std::string webIni(const std::string &keys = "", const std::string &kernelKeys = "") {
    return (kernelKeys.empty() ? "" : "[lanspread]\n" + kernelKeys) + "[plugin." + kWebId +
           "]\nlisten = 127.0.0.1:0\n" + keys;
}

// ---- HTTP through Poco::Net ----

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
    int status = 0;
    std::string contentType;
    std::multimap<std::string, std::string> headers; // lowercased names
    std::string body;
    Json json; // the body, when it is a JSON object

    std::string header(const std::string &name) const {
        auto it = headers.find(lower(name));
        return it == headers.end() ? std::string() : it->second;
    }
    std::string describe() const {
        return "HTTP " + std::to_string(status) + " (" + contentType + ") " + body.substr(0, 600);
    }
};

Json parseObjectOrNull(const std::string &text) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var v = parser.parse(text);
        if (v.type() == typeid(Json))
            return v.extract<Json>();
    } catch (const std::exception &) {
    }
    return {};
}

Headers bearer(const WebEndpoint &web) {
    return {{"Authorization", "Bearer " + web.token}};
}

// One request on a fresh connection; body, when given, is sent with contentType. Poco sets
// Host to host:port unless headers carry one.
Reply request(const WebEndpoint &web, const std::string &method, const std::string &path,
              const Headers &headers, const std::optional<std::string> &body = std::nullopt,
              const std::string &contentType = "application/json",
              std::chrono::seconds timeout = 30s) {
    Reply reply;
    try {
        Poco::Net::HTTPClientSession session(web.host, web.port);
        session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count()), 0));
        Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto &[name, value] : headers)
            if (lower(name) == "host")
                req.setHost(value);
            else
                req.add(name, value);
        if (body) {
            req.setContentType(contentType);
            req.setContentLength(static_cast<std::streamsize>(body->size()));
        }
        std::ostream &out = session.sendRequest(req);
        if (body)
            out << *body;
        Poco::Net::HTTPResponse res;
        std::istream &in = session.receiveResponse(res);
        Poco::StreamCopier::copyToString(in, reply.body);
        reply.status = static_cast<int>(res.getStatus());
        reply.contentType = res.getContentType();
        for (const auto &[name, value] : res)
            reply.headers.emplace(lower(name), value);
    } catch (const Poco::Exception &e) {
        CPPUNIT_FAIL(method + " " + path + " to " + web.hostHeader() + ": " + e.displayText());
    }
    reply.json = parseObjectOrNull(reply.body);
    return reply;
}

Reply getState(const WebEndpoint &web) {
    return request(web, "GET", "/api/v1/state", bearer(web));
}

// POST /api/v1/command with the bearer token: must be 200 with a result object, returned.
Json postCommand(const Lab &lab, const WebEndpoint &web, const std::string &json) {
    Reply r = request(web, "POST", "/api/v1/command", bearer(web), json);
    lab.check(r.status == 200 && !r.json.isNull() && str(r.json, "event") == "result",
              "POST " + json + " answered " + r.describe());
    return r.json;
}
// postCommand() that must succeed; returns its data.
Json postOk(const Lab &lab, const WebEndpoint &web, const std::string &json) {
    Json result = postCommand(lab, web, json);
    lab.check(flag(result, "ok"), "POST " + json + " failed: " + toJson(result));
    Json data = result->getObject("data");
    return data.isNull() ? Json(new Poco::JSON::Object) : data;
}
// postCommand() that must fail; returns its error code.
std::string postError(const Lab &lab, const WebEndpoint &web, const std::string &json) {
    Json result = postCommand(lab, web, json);
    lab.check(result->has("ok") && !flag(result, "ok"),
              "POST " + json + " was expected to fail: " + toJson(result));
    return str(result->getObject("error"), "code");
}

// An HTTP-level error: status, a JSON content type and {"ok":false,"error":{code,message}}.
void expectError(const Lab &lab, const Reply &r, int status, const std::string &code,
                 const std::string &what) {
    lab.check(r.status == status,
              what + ": expected " + std::to_string(status) + " " + code + ", got " + r.describe());
    lab.check(contains(r.contentType, "application/json"),
              what + ": the error's Content-Type is '" + r.contentType + "'");
    Json error = r.json.isNull() ? Json() : r.json->getObject("error");
    lab.check(!r.json.isNull() && r.json->has("ok") && !flag(r.json, "ok") && !error.isNull() &&
                  str(error, "code") == code && !str(error, "message").empty(),
              what + ": the body is not {ok:false, error:{code:" + code + ", message}}: " + r.body);
}

// ---- raw sockets ----

// A parsed HTTP response head.
struct Head {
    int status = 0;
    std::multimap<std::string, std::string> headers; // lowercased names
    std::string header(const std::string &name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A TCP connection to the web peer that reads with deadlines (poll) and never blocks the test.
class RawConnection {
  public:
    // rcvbuf > 0 shrinks the socket's receive buffer before connecting (a client that reads
    // nothing then stops the server's sends early).
    explicit RawConnection(const WebEndpoint &web, int rcvbuf = 0)
        : _socket(Poco::Net::SocketAddress::IPv4) {
        if (rcvbuf > 0)
            _socket.setReceiveBufferSize(rcvbuf);
        _socket.connect(Poco::Net::SocketAddress(web.host, web.port), Poco::Timespan(5, 0));
    }
    void send(const std::string &bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const int n =
                _socket.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
            if (n <= 0)
                throw std::runtime_error("send failed");
            sent += static_cast<std::size_t>(n);
        }
    }
    // Reads what arrives before deadline into buffer(); false once nothing more can come
    // (EOF, reset) or the deadline passed with nothing read.
    bool readMore(Clock::time_point deadline) {
        if (_closed)
            return false;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
        if (left.count() < 0)
            left = 0us;
        if (!_socket.poll(Poco::Timespan(left.count()),
                          Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR))
            return false;
        char chunk[16384];
        int n = 0;
        try {
            n = _socket.receiveBytes(chunk, sizeof chunk);
        } catch (const Poco::Exception &) {
            n = 0; // reset: the server dropped us
        }
        if (n <= 0) {
            _closed = true;
            return false;
        }
        _buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    // Whether the server closes the connection within timeout (what it sends meanwhile is
    // read and kept).
    bool closedWithin(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!_closed && Clock::now() < deadline)
            readMore(deadline);
        return _closed;
    }
    bool closed() const { return _closed; }
    std::string &buffer() { return _buffer; }

    // Reads until a whole response head arrived; nullopt at the deadline or at EOF before it.
    std::optional<Head> readHead(Clock::time_point deadline) {
        std::size_t end;
        while ((end = _buffer.find("\r\n\r\n")) == std::string::npos)
            if (!readMore(deadline))
                return std::nullopt;
        Head head;
        std::istringstream lines(_buffer.substr(0, end));
        std::string line;
        std::getline(lines, line);
        if (line.rfind("HTTP/1.", 0) == 0 && line.size() >= 12)
            head.status = std::stoi(line.substr(9, 3));
        while (std::getline(lines, line)) {
            line = trim(line);
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos)
                head.headers.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
        }
        _buffer.erase(0, end + 4);
        return head;
    }

  private:
    Poco::Net::StreamSocket _socket;
    std::string _buffer;
    bool _closed = false;
};

// A whole request written raw (Connection: close), its response read to EOF or its length.
struct RawReply {
    Head head;
    std::string body;
    Json json;
    std::string describe() const {
        return "HTTP " + std::to_string(head.status) + " " + body.substr(0, 400);
    }
};
RawReply rawExchange(const Lab &lab, const WebEndpoint &web, const std::string &requestText) {
    RawConnection c(web);
    c.send(requestText);
    const auto deadline = Clock::now() + 15s;
    auto head = c.readHead(deadline);
    lab.check(head.has_value(), "no response head for " + requestText.substr(0, 200));
    RawReply r;
    r.head = *head;
    const std::string length = head->header("content-length");
    if (!length.empty()) {
        const std::size_t want = std::stoul(length);
        while (c.buffer().size() < want && c.readMore(deadline)) {
        }
        r.body = c.buffer().substr(0, want);
    } else {
        while (c.readMore(deadline)) {
        }
        r.body = c.buffer();
    }
    r.json = parseObjectOrNull(r.body);
    return r;
}
// A GET request's text with the bearer token, Connection: close and extra header lines.
std::string rawGet(const WebEndpoint &web, const std::string &target, const std::string &host = "",
                   const std::string &extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: " + (host.empty() ? web.hostHeader() : host) +
           "\r\nAuthorization: Bearer " + web.token + "\r\n" + extra + "Connection: close\r\n\r\n";
}

// ---- the event stream ----

struct SseMessage {
    int64_t id = -1; // -1: the message had no id line
    std::string data;
    Json json;        // data parsed
    std::string name; // json's "event"
};

// A client of GET /api/v1/events on a raw socket: sends the request, reads the head, then
// decodes the body (chunked or not) into Server-Sent Events messages.
class SseClient {
  public:
    // target is the path with its query; extra are header lines ("Name: value\r\n"). The head
    // is read unless readHead is false (a client that never reads).
    SseClient(const WebEndpoint &web, const std::string &target, const std::string &extra = "",
              bool auth = true, int rcvbuf = 0, bool readHead = true)
        : _conn(web, rcvbuf) {
        _conn.send("GET " + target + " HTTP/1.1\r\nHost: " + web.hostHeader() + "\r\n" +
                   (auth ? "Authorization: Bearer " + web.token + "\r\n" : "") +
                   "Accept: text/event-stream\r\n" + extra + "\r\n");
        if (!readHead)
            return;
        auto head = _conn.readHead(Clock::now() + 10s);
        if (!head)
            throw std::runtime_error("no response head for GET " + target);
        _head = *head;
        _chunked = contains(lower(_head.header("transfer-encoding")), "chunked");
        _length = _head.header("content-length");
        decode(); // what came with the head
    }
    int status() const { return _head.status; }
    const Head &head() const { return _head; }
    std::vector<std::string> comments;
    int retryMs = -1;

    // The body of a refused (non-200) stream: read to its length or to EOF.
    std::string errorBody() {
        const auto deadline = Clock::now() + 10s;
        while ((_length.empty() || _body.size() < std::stoul(_length)) && readAndDecode(deadline)) {
        }
        return _body;
    }

    // The next message within timeout; nullopt when none came (or the stream ended).
    std::optional<SseMessage> next(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            if (auto m = parseOne())
                return m;
            if (!readAndDecode(deadline))
                return std::nullopt;
        }
    }
    bool ended() const { return _conn.closed() || _ended; }
    // Whether the server closes the stream within timeout (every message meanwhile is kept
    // for next()).
    bool closedWithin(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!ended() && Clock::now() < deadline)
            readAndDecode(deadline);
        return ended();
    }

  private:
    // Reads more bytes and moves them into _body (de-chunked); false when nothing more came.
    bool readAndDecode(Clock::time_point deadline) {
        const bool got = _conn.readMore(deadline);
        decode();
        return got;
    }
    // Moves the bytes read so far (with the head, or by readMore) into _body, de-chunked.
    void decode() {
        std::string &raw = _conn.buffer();
        if (!_chunked) {
            _body += raw;
            raw.clear();
            return;
        }
        for (;;) {
            if (_chunkLeft == 0) {
                const std::size_t eol = raw.find("\r\n");
                if (eol == std::string::npos)
                    break;
                const std::string sizeLine = raw.substr(0, eol);
                if (sizeLine.empty()) { // the CRLF after a chunk's data
                    raw.erase(0, 2);
                    continue;
                }
                _chunkLeft = std::stoul(sizeLine, nullptr, 16);
                raw.erase(0, eol + 2);
                if (_chunkLeft == 0) {
                    _ended = true;
                    break;
                }
            }
            const std::size_t take = std::min(_chunkLeft, raw.size());
            if (take == 0)
                break;
            _body.append(raw, 0, take);
            raw.erase(0, take);
            _chunkLeft -= take;
        }
    }
    // One whole message (up to a blank line) from _body, if there is one with data; comment
    // and retry lines are recorded on the way.
    std::optional<SseMessage> parseOne() {
        for (;;) {
            std::size_t end = _body.find("\n\n");
            const std::size_t crlf = _body.find("\r\n\r\n");
            std::size_t skip = 2;
            if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
                end = crlf;
                skip = 4;
            }
            if (end == std::string::npos)
                return std::nullopt;
            const std::string block = _body.substr(0, end);
            _body.erase(0, end + skip);
            SseMessage m;
            bool hasData = false;
            std::istringstream lines(block);
            for (std::string line; std::getline(lines, line);) {
                if (!line.empty() && line.back() == '\r')
                    line.pop_back();
                if (line.empty())
                    continue;
                if (line[0] == ':') {
                    comments.push_back(line);
                    continue;
                }
                const std::size_t colon = line.find(':');
                const std::string field = line.substr(0, colon);
                std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
                if (!value.empty() && value[0] == ' ')
                    value.erase(0, 1);
                if (field == "id")
                    m.id = std::stoll(value);
                else if (field == "data") {
                    m.data += (hasData ? "\n" : "") + value;
                    hasData = true;
                } else if (field == "retry")
                    retryMs = std::stoi(value);
            }
            if (!hasData)
                continue;
            m.json = parseObjectOrNull(m.data);
            m.name = str(m.json, "event");
            return m;
        }
    }

    RawConnection _conn;
    Head _head;
    bool _chunked = false;
    bool _ended = false;
    std::string _length;
    std::size_t _chunkLeft = 0;
    std::string _body; // de-chunked bytes not parsed yet
};

std::string describe(const std::vector<SseMessage> &messages, std::size_t last = 12) {
    std::string s;
    const std::size_t from = messages.size() > last ? messages.size() - last : 0;
    for (std::size_t i = from; i < messages.size(); ++i)
        s += "\n    id " + std::to_string(messages[i].id) + ": " + messages[i].data.substr(0, 200);
    return s;
}

// Reads messages from stream until one matches done (which is included); fails after timeout.
// The lab's peers are drained meanwhile so their stdout pipes never fill.
std::vector<SseMessage> readUntil(Lab &lab, SseClient &stream,
                                  const std::function<bool(const SseMessage &)> &done,
                                  std::chrono::milliseconds timeout, const std::string &what) {
    std::vector<SseMessage> got;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        lab.pump();
        auto m = stream.next(100ms);
        if (!m)
            continue;
        got.push_back(*m);
        if (done(*m))
            return got;
    }
    lab.check(false, "the event stream did not bring " + what + " within " +
                         std::to_string(timeout.count()) + " ms; it brought:" + describe(got));
    return got;
}
// Reads exactly count messages; fails when fewer come within timeout.
std::vector<SseMessage> readCount(Lab &lab, SseClient &stream, std::size_t count,
                                  std::chrono::milliseconds timeout, const std::string &what) {
    if (count == 0)
        return {};
    std::size_t read = 0;
    return readUntil(
        lab, stream, [&](const SseMessage &) { return ++read == count; }, timeout, what);
}
std::function<bool(const SseMessage &)> named(const std::string &name, const std::string &game) {
    return [=](const SseMessage &m) { return m.name == name && str(m.json, "game") == game; };
}

// The ids run from first, each one more than the one before.
void checkConsecutive(const Lab &lab, const std::vector<SseMessage> &messages, int64_t first,
                      const std::string &what) {
    int64_t expected = first;
    for (const auto &m : messages) {
        lab.check(m.id == expected, what + ": expected id " + std::to_string(expected) + ", got " +
                                        std::to_string(m.id) + " in:" + describe(messages, 40));
        ++expected;
    }
}

// The index of the first message named name for game; npos when none.
std::size_t indexOf(const std::vector<SseMessage> &messages, const std::string &name,
                    const std::string &game) {
    for (std::size_t i = 0; i < messages.size(); ++i)
        if (messages[i].name == name && str(messages[i].json, "game") == game)
            return i;
    return Peer::npos;
}

int64_t lastEventId(const Lab &lab, const WebEndpoint &web) {
    Reply r = getState(web);
    lab.check(r.status == 200 && !r.json.isNull() && r.json->has("last_event_id"),
              "GET /api/v1/state: " + r.describe());
    return i64(r.json, "last_event_id");
}

// <games>/alienswarm/: alienswarm.eti a stored RAR5 archive of one size-byte pseudo-random
// file (a download of that many 1 MiB chunks whose install is real), version.ini last.
void writeBigInstallableAlienswarm(const std::string &gamesDir, std::size_t size, uint64_t seed) {
    const std::string root = gamesDir + "/alienswarm";
    fs::create_directories(root);
    fx::writeArchive(root + "/" + kEti, fx::Format::Rar5Stored,
                     {fx::fileEntry("payload.bin", fx::pseudoRandom(size, seed))});
    writeVersionIni(root);
}

// File mode bits (e.g. 0600) of path.
unsigned modeOf(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return 0;
    return st.st_mode & 07777;
}
std::string octal(unsigned mode) {
    std::ostringstream s;
    s << std::oct << mode;
    return "0" + s.str();
}
bool isHexToken(const std::string &t) {
    return t.size() == 64 && std::all_of(t.begin(), t.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
           });
}

int64_t msSince(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

} // namespace

class WebApiTest : public ScenarioTest {
    CPPUNIT_TEST_SUITE(WebApiTest);
    CPPUNIT_TEST(commands);
    CPPUNIT_TEST(downloadEventOrder);
    CPPUNIT_TEST(replayAfterReconnect);
    CPPUNIT_TEST(stateSnapshot);
    CPPUNIT_TEST(security);
    CPPUNIT_TEST(malformedJson);
    CPPUNIT_TEST(stuckClientsDoNotBlock);
    CPPUNIT_TEST(tokenFiles);
    CPPUNIT_TEST_SUITE_END();

  public:
    // Every command answers 200 with the kernel's result object: status, list-peers,
    // connect, list-games, a download that installs; an unknown game and bodies that are
    // JSON but not a command are the kernel's ok:false answers, still 200.
    void commands() {
        Lab &lab = newLab("web-commands");
        fx::writeGameSet(lab.gamesDirOf("source"), "bravo");
        Peer &source = lab.startPeer("source");
        Peer &web = startWebPeer(lab, "web");
        const WebEndpoint ep = endpointOf(lab, web);

        Json status = postCommand(lab, ep, R"({"id":"w1","cmd":"status"})");
        lab.check(flag(status, "ok") && str(status, "id") == "w1",
                  "status result " + toJson(status));
        Json data = status->getObject("data");
        lab.check(str(data, "peer_id") == web.peerId(),
                  "status names another peer: " + toJson(data));
        bool listed = false;
        JsonArray plugins = data->getArray("plugins");
        for (std::size_t i = 0; plugins && i < plugins->size(); ++i)
            listed = listed || str(plugins->getObject(static_cast<unsigned>(i)), "id") == kWebId;
        lab.check(listed, "status does not list " + kWebId + ": " + toJson(data));

        lab.check(postOk(lab, ep, R"({"cmd":"list-peers"})")->getArray("peers")->size() == 0,
                  "list-peers before connect is not empty");
        Json connect = postCommand(
            lab, ep, R"({"id":2,"cmd":"connect","addr":)" + jsonString(source.listenAddr()) + "}");
        lab.check(flag(connect, "ok") &&
                      str(connect->getObject("data"), "peer_id") == source.peerId(),
                  "connect answered " + toJson(connect));
        lab.check(connect->get("id").isInteger() && i64(connect, "id") == 2,
                  "connect's result does not carry the id 2: " + toJson(connect));
        JsonArray peers = postOk(lab, ep, R"({"cmd":"list-peers"})")->getArray("peers");
        lab.check(peers->size() == 1 && str(peers->getObject(0), "peer_id") == source.peerId(),
                  "list-peers after connect lists " + std::to_string(peers ? peers->size() : 0) +
                      " peers");

        auto remoteHas = [&](const std::string &game) {
            JsonArray remote = postOk(lab, ep, R"({"cmd":"list-games"})")->getArray("remote");
            for (std::size_t i = 0; remote && i < remote->size(); ++i)
                if (str(remote->getObject(static_cast<unsigned>(i)), "id") == game)
                    return true;
            return false;
        };
        lab.waitUntil([&] { return remoteHas("cnctw"); }, 10s, "list-games remote lists cnctw");

        const std::size_t from = web.logSize();
        Json download = postOk(lab, ep, R"({"cmd":"download","game":"cnctw"})");
        lab.check(flag(download, "accepted") && u64(download, "sources") == 1,
                  "download answered " + toJson(download));
        const std::size_t end = waitDownloadEnd(web, "cnctw", from, 60s);
        lab.check(web.logAt(end).name == "download-finished", "cnctw: " + web.logAt(end).line);
        const std::size_t installed = waitInstallEnd(web, "cnctw", end, 60s);
        lab.check(web.logAt(installed).name == "install-finished",
                  "cnctw: " + web.logAt(installed).line);
        bool local = false;
        JsonArray games = postOk(lab, ep, R"({"cmd":"list-games"})")->getArray("local");
        for (std::size_t i = 0; games && i < games->size(); ++i) {
            Json g = games->getObject(static_cast<unsigned>(i));
            local =
                local || (str(g, "id") == "cnctw" && flag(g, "downloaded") && flag(g, "installed"));
        }
        lab.check(local, "list-games local does not show cnctw downloaded and installed");

        const std::string unknown = postError(lab, ep, R"({"cmd":"download","game":"nope"})");
        lab.check(unknown == "unknown-game", "download of an unknown game: " + unknown);
        for (const std::string body : {"[1,2]", "[]", "{}", R"({"cmd":"frobnicate"})"}) {
            const std::string code = postError(lab, ep, body);
            lab.check(code == "invalid-command", "body " + body + " answered " + code);
        }
        evidence("web commands: status, list-peers, connect (id 2 echoed), list-games, download "
                 "cnctw (installed) ok over POST /api/v1/command; unknown game -> unknown-game, "
                 "array/empty/unknown-cmd bodies -> invalid-command, all HTTP 200");
    }

    // A stream opened before a 64 MiB download (install default true) carries every event
    // with ids one apart, starting with the next new event, in the contract's order:
    // download-begin < download-progress < download-finished < install-finished, and the
    // same events for the game, in the same order, as frontend-cli printed.
    void downloadEventOrder() {
        Lab &lab = newLab("web-order");
        writeBigInstallableAlienswarm(lab.gamesDirOf("source"), 64 * kMiB, 57);
        Peer &source = lab.startPeer("source", peerIni(32));
        Peer &web = startWebPeer(lab, "web");
        const WebEndpoint ep = endpointOf(lab, web);
        postOk(lab, ep, R"({"cmd":"connect","addr":)" + jsonString(source.listenAddr()) + "}");
        waitRemote(web, "alienswarm", 1);

        SseClient stream(ep, "/api/v1/events");
        lab.check(stream.status() == 200 &&
                      contains(stream.head().header("content-type"), "text/event-stream"),
                  "GET /api/v1/events: HTTP " + std::to_string(stream.status()) + " " +
                      stream.head().header("content-type"));
        const int64_t before = lastEventId(lab, ep);
        const std::size_t from = web.logSize();
        postOk(lab, ep, R"({"cmd":"download","game":"alienswarm"})");
        auto got = readUntil(
            lab, stream,
            [](const SseMessage &m) {
                return str(m.json, "game") == "alienswarm" &&
                       (m.name == "install-finished" || m.name == "install-failed" ||
                        m.name == "download-failed");
            },
            90s, "the end of alienswarm's download and install");
        checkConsecutive(lab, got, before + 1, "download stream");
        for (const auto &m : got)
            lab.check(!m.json.isNull() && !m.name.empty() && m.name != "result" &&
                          m.json->has("ts_ms"),
                      "not a contract event: " + m.data);
        const std::size_t begin = indexOf(got, "download-begin", "alienswarm");
        const std::size_t progress = indexOf(got, "download-progress", "alienswarm");
        const std::size_t finished = indexOf(got, "download-finished", "alienswarm");
        const std::size_t installed = indexOf(got, "install-finished", "alienswarm");
        lab.check(begin != Peer::npos && progress != Peer::npos && finished != Peer::npos &&
                      installed != Peer::npos && begin < progress && progress < finished &&
                      finished < installed,
                  "order: download-begin@" + std::to_string(begin) + " download-progress@" +
                      std::to_string(progress) + " download-finished@" + std::to_string(finished) +
                      " install-finished@" + std::to_string(installed) + describe(got, 80));
        std::size_t progressEvents = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            if (got[i].name == "download-progress" && str(got[i].json, "game") == "alienswarm") {
                ++progressEvents;
                lab.check(i > begin && i < finished, "download-progress outside the download");
            }

        // frontend-cli on the same peer saw the same events for the game in the same order.
        const std::size_t cliEnd = waitInstallEnd(web, "alienswarm", from, 30s);
        std::vector<std::string> cli, sse;
        auto signature = [](const Json &e) {
            return str(e, "event") + "@" + str(e, "ts_ms") + "/" + str(e, "offset") + "/" +
                   str(e, "bytes_done");
        };
        for (std::size_t i = from; i <= cliEnd; ++i)
            if (web.logAt(i).name != "result" && str(web.logAt(i).object, "game") == "alienswarm")
                cli.push_back(signature(web.logAt(i).object));
        for (const auto &m : got)
            if (str(m.json, "game") == "alienswarm")
                sse.push_back(signature(m.json));
        lab.check(cli == sse, "the stream's alienswarm events (" + std::to_string(sse.size()) +
                                  ") differ from frontend-cli's (" + std::to_string(cli.size()) +
                                  ")");
        evidence("web event order: " + std::to_string(got.size()) + " events, ids " +
                 std::to_string(got.front().id) + ".." + std::to_string(got.back().id) +
                 " one apart; download-begin@" + std::to_string(begin) + " < " +
                 std::to_string(progressEvents) + " download-progress < download-finished@" +
                 std::to_string(finished) + " < install-finished@" + std::to_string(installed) +
                 "; " + std::to_string(sse.size()) + " alienswarm events equal frontend-cli's");
    }

    // A stream closed after id L and reopened with Last-Event-ID: L, or ?since=L, gets exactly
    // the events after L, in order, then live ones; since above the newest id, or below the
    // oldest kept (replay_events = 64), starts with web-replay-gap.
    void replayAfterReconnect() {
        Lab &lab = newLab("web-replay");
        fx::writeGameSet(lab.gamesDirOf("source"), "bravo");
        Peer &source = lab.startPeer("source");
        Peer &web = startWebPeer(lab, "web", "replay_events = 64\n");
        const WebEndpoint ep = endpointOf(lab, web);
        postOk(lab, ep, R"({"cmd":"connect","addr":)" + jsonString(source.listenAddr()) + "}");
        waitRemote(web, "cnctw", 1);
        // A download nobody serves: one no-peers-have-game event, the test's event source.
        const std::string noSource = R"({"cmd":"download","game":"cod5"})";

        // Read up to a known event, note its id, go away.
        int64_t seen = 0;
        {
            SseClient first(ep, "/api/v1/events");
            lab.check(first.status() == 200, "first stream: " + std::to_string(first.status()));
            lab.check(postError(lab, ep, noSource) == "no-peers-have-game", "cod5 has a source");
            auto got = readUntil(lab, first, named("no-peers-have-game", "cod5"), 10s,
                                 "no-peers-have-game");
            seen = got.back().id;
        }
        // Meanwhile: a whole download and install.
        {
            SseClient monitor(ep, "/api/v1/events");
            postOk(lab, ep, R"({"cmd":"download","game":"cnctw"})");
            readUntil(lab, monitor, named("install-finished", "cnctw"), 60s,
                      "cnctw install-finished");
            lab.waitUntil([&] { return idle(web, "cnctw"); }, 10s, "cnctw operation ends");
            web.drain(300ms);
        }
        const int64_t newest = lastEventId(lab, ep);
        lab.check(newest - seen >= 5 && newest - seen < 64, "the download published " +
                                                                std::to_string(newest - seen) +
                                                                " events (expected 5..63)");

        SseClient byHeader(ep, "/api/v1/events", "Last-Event-ID: " + std::to_string(seen) + "\r\n");
        auto replayed = readCount(lab, byHeader, static_cast<std::size_t>(newest - seen), 10s,
                                  "the replay after Last-Event-ID");
        checkConsecutive(lab, replayed, seen + 1, "replay after Last-Event-ID");
        const std::size_t b = indexOf(replayed, "download-begin", "cnctw");
        const std::size_t f = indexOf(replayed, "download-finished", "cnctw");
        const std::size_t i = indexOf(replayed, "install-finished", "cnctw");
        lab.check(b != Peer::npos && b < f && f < i && i != Peer::npos,
                  "the replay lacks cnctw's download:" + describe(replayed, 64));

        SseClient bySince(ep, "/api/v1/events?since=" + std::to_string(seen));
        auto replayed2 = readCount(lab, bySince, replayed.size(), 10s, "the replay after since");
        checkConsecutive(lab, replayed2, seen + 1, "replay after since");
        for (std::size_t k = 0; k < replayed.size(); ++k)
            lab.check(replayed[k].data == replayed2[k].data,
                      "the two replays differ at id " + std::to_string(replayed[k].id));

        // Both given: the header wins (a browser reconnecting keeps its URL's since=).
        {
            SseClient both(ep, "/api/v1/events?since=" + std::to_string(seen + 3),
                           "Last-Event-ID: " + std::to_string(seen) + "\r\n");
            auto first = readCount(lab, both, 1, 10s, "the replay with both header and since");
            lab.check(first[0].id == seen + 1, "with Last-Event-ID " + std::to_string(seen) +
                                                   " and since=" + std::to_string(seen + 3) +
                                                   " the replay began with" + describe(first));
        }
        expectError(lab, request(ep, "GET", "/api/v1/events?since=abc", bearer(ep)), 400,
                    "bad-request", "since=abc");

        // Then the live events, on both, with the next ids.
        postError(lab, ep, noSource);
        for (SseClient *s : {&byHeader, &bySince}) {
            auto live = readCount(lab, *s, 1, 10s, "a live event after the replay");
            lab.check(live[0].id == newest + 1 && live[0].name == "no-peers-have-game",
                      "after the replay came" + describe(live));
        }

        // since above the newest id (a peer restarted since the page saw it): the gap first,
        // with the newest id, then live events.
        const int64_t now = newest + 1;
        SseClient future(ep, "/api/v1/events?since=" + std::to_string(now + 1000));
        auto gap = readCount(lab, future, 1, 10s, "web-replay-gap for a future since");
        lab.check(gap[0].name == "web-replay-gap" && gap[0].id == now &&
                      i64(gap[0].json, "since") == now + 1000 && gap[0].json->has("oldest_id"),
                  "since above the newest id began with" + describe(gap));
        postError(lab, ep, noSource);
        auto afterGap = readCount(lab, future, 1, 10s, "a live event after the gap");
        lab.check(afterGap[0].id == now + 1 && afterGap[0].name == "no-peers-have-game",
                  "after the gap came" + describe(afterGap));

        // Push the first replay's events out of the 64 kept.
        {
            SseClient monitor(ep, "/api/v1/events");
            for (int k = 0; k < 70; ++k)
                postError(lab, ep, noSource);
            int refusals = 0;
            readUntil(
                lab, monitor,
                [&](const SseMessage &m) {
                    return m.name == "no-peers-have-game" && ++refusals == 70;
                },
                20s, "70 no-peers-have-game events");
        }
        const int64_t last = lastEventId(lab, ep);
        const int64_t oldest = last - 63;
        SseClient evicted(ep, "/api/v1/events?since=" + std::to_string(seen));
        auto gap2 = readCount(lab, evicted, 1, 10s, "web-replay-gap for an evicted since");
        lab.check(gap2[0].name == "web-replay-gap" && gap2[0].id == last &&
                      i64(gap2[0].json, "since") == seen &&
                      i64(gap2[0].json, "oldest_id") == oldest,
                  "since=" + std::to_string(seen) + " with ids " + std::to_string(oldest) + ".." +
                      std::to_string(last) + " kept began with" + describe(gap2));
        // The oldest kept one's predecessor is still a whole replay: all 64, no gap.
        SseClient edge(ep, "/api/v1/events?since=" + std::to_string(oldest - 1));
        auto all = readCount(lab, edge, 64, 10s, "the 64 kept events");
        checkConsecutive(lab, all, oldest, "replay of every kept event");
        evidence("web replay: closed at id " + std::to_string(seen) + ", " +
                 std::to_string(newest - seen) +
                 " events later Last-Event-ID and ?since both replay ids " +
                 std::to_string(seen + 1) + ".." + std::to_string(newest) +
                 " identically, then live id " + std::to_string(newest + 1) +
                 "; since=newest+1000 -> web-replay-gap id " + std::to_string(now) +
                 "; after 70 more, since=" + std::to_string(seen) + " -> gap oldest_id " +
                 std::to_string(oldest) + ", since=" + std::to_string(oldest - 1) +
                 " -> all 64 kept");
    }

    // /api/v1/state: last_event_id, status, peers, games and the running download with its
    // sources' bytes; with the stream opened at since=last_event_id the snapshot's source
    // bytes plus the later chunk events add up to download-finished's sources.
    void stateSnapshot() {
        Lab &lab = newLab("web-state");
        writeBigInstallableAlienswarm(lab.gamesDirOf("source"), 64 * kMiB, 58);
        Peer &source = lab.startPeer("source", peerIni(12));
        Peer &web = startWebPeer(lab, "web");
        const WebEndpoint ep = endpointOf(lab, web);
        postOk(lab, ep, R"({"cmd":"connect","addr":)" + jsonString(source.listenAddr()) + "}");
        waitRemote(web, "alienswarm", 1);

        Reply idleState = getState(ep);
        Json s = idleState.json;
        lab.check(idleState.status == 200 && flag(s, "ok") && s->has("last_event_id") &&
                      s->get("last_event_id").isInteger() && i64(s, "last_event_id") >= 1,
                  "GET /api/v1/state: " + idleState.describe());
        lab.check(str(s->getObject("status"), "peer_id") == web.peerId(),
                  "state.status is not the peer's status: " + idleState.body.substr(0, 400));
        JsonArray peers = s->getArray("peers");
        lab.check(peers && peers->size() == 1 &&
                      str(peers->getObject(0), "peer_id") == source.peerId(),
                  "state.peers does not list the source: " + idleState.body.substr(0, 600));
        Json games = s->getObject("games");
        bool remote = false;
        JsonArray remoteRows = games.isNull() ? JsonArray() : games->getArray("remote");
        for (std::size_t i = 0; remoteRows && i < remoteRows->size(); ++i)
            remote = remote ||
                     str(remoteRows->getObject(static_cast<unsigned>(i)), "id") == "alienswarm";
        lab.check(remote && games->getArray("local"),
                  "state.games lacks local or remote alienswarm: " + idleState.body.substr(0, 600));
        lab.check(s->getArray("downloads") && s->getArray("downloads")->size() == 0,
                  "state.downloads is not an empty array while idle");

        postOk(lab, ep, R"({"cmd":"download","game":"alienswarm"})");
        Json row, snapshot;
        lab.waitUntil(
            [&] {
                lab.pump();
                Reply r = getState(ep);
                JsonArray downloads = r.json.isNull() ? JsonArray() : r.json->getArray("downloads");
                for (std::size_t i = 0; downloads && i < downloads->size(); ++i) {
                    Json d = downloads->getObject(static_cast<unsigned>(i));
                    JsonArray sources = d->getArray("sources");
                    if (str(d, "game") == "alienswarm" && u64(d, "bytes_done") > 0 && sources &&
                        sources->size() == 1 && u64(sources->getObject(0), "bytes") > 0 &&
                        u64(d, "bytes_done") < u64(d, "bytes_total")) {
                        row = d;
                        snapshot = r.json;
                        return true;
                    }
                }
                return false;
            },
            20s, "state.downloads shows alienswarm running with a source's bytes");
        const uint64_t total = totalSize(fileSizes(source.gameRoot("alienswarm")));
        Json src = row->getArray("sources")->getObject(0);
        JsonArray rowPeers = row->getArray("peers");
        lab.check(
            u64(row, "bytes_total") == total && u64(row, "bytes_done") <= total &&
                u64(row, "active_peers") == 1 && rowPeers && rowPeers->size() == 1 &&
                rowPeers->getElement<std::string>(0) == source.listenAddr() &&
                str(src, "peer_id") == source.peerId() && str(src, "addr") == source.listenAddr() &&
                u64(src, "bytes") <= total && i64(row, "started_ms") > 0 &&
                i64(row, "started_ms") <= i64(row, "updated_ms") && row->has("mib_per_s") &&
                row->has("bytes_resumed"),
            "the download row " + toJson(row) + " (source holds " + std::to_string(total) + " B)");
        Json ops = snapshot->getObject("status")->getObject("active_operations");
        lab.check(str(ops, "alienswarm") == "Downloading",
                  "state.status.active_operations: " + toJson(ops));

        // The snapshot plus the stream from its last_event_id: nothing missed.
        const int64_t at = i64(snapshot, "last_event_id");
        SseClient stream(ep, "/api/v1/events?since=" + std::to_string(at));
        auto got = readUntil(lab, stream, named("download-finished", "alienswarm"), 60s,
                             "alienswarm download-finished");
        checkConsecutive(lab, got, at + 1, "stream after the snapshot");
        uint64_t later = 0;
        for (const auto &m : got)
            if (m.name == "download-chunk-finished" && str(m.json, "game") == "alienswarm")
                later += u64(m.json, "bytes");
        const auto finishedSources = sourcesOf(got.back().json);
        const uint64_t finalBytes =
            finishedSources.count(source.peerId()) ? finishedSources.at(source.peerId()) : 0;
        lab.check(u64(src, "bytes") + later == finalBytes,
                  "snapshot source bytes " + std::to_string(u64(src, "bytes")) + " + " +
                      std::to_string(later) + " from later chunk events != download-finished " +
                      toJson(got.back().json));
        readUntil(lab, stream, named("install-finished", "alienswarm"), 60s,
                  "alienswarm install-finished");
        lab.waitUntil(
            [&] {
                Reply r = getState(ep);
                return r.status == 200 && !r.json.isNull() && r.json->getArray("downloads") &&
                       r.json->getArray("downloads")->size() == 0;
            },
            10s, "state.downloads empties after the download");
        evidence("web state: last_event_id " + std::to_string(at) + ", peers [source], games " +
                 "remote alienswarm, downloads row " + std::to_string(u64(row, "bytes_done")) +
                 "/" + std::to_string(total) + " B, source " + shortId(str(src, "peer_id")) + " " +
                 std::to_string(u64(src, "bytes")) + " B + " + std::to_string(later) + " B in " +
                 std::to_string(got.size()) + " later events = " + std::to_string(finalBytes) +
                 " B (download-finished); empty after");
    }

    // The token in each of its forms, Host and Origin checks, body size and media type,
    // methods and paths, each refusal with its status and JSON error code.
    void security() {
        Lab &lab = newLab("web-security");
        Peer &web = startWebPeer(lab, "web", "max_body_bytes = 4096\n");
        const WebEndpoint ep = endpointOf(lab, web);
        std::string wrong = ep.token;
        wrong.back() = wrong.back() == '0' ? '1' : '0';
        const std::string status = R"({"cmd":"status"})";
        auto ok = [&](const Reply &r, const std::string &what) {
            lab.check(r.status == 200 && flag(r.json, "ok"), what + ": " + r.describe());
        };

        // No token, a wrong one, a longer and a shorter one.
        expectError(lab, request(ep, "GET", "/api/v1/state", {}), 401, "unauthorized",
                    "state without a token");
        expectError(lab, request(ep, "POST", "/api/v1/command", {}, status), 401, "unauthorized",
                    "command without a token");
        {
            SseClient events(ep, "/api/v1/events", "", false);
            Reply r;
            r.status = events.status();
            r.contentType = events.head().header("content-type");
            r.body = events.errorBody();
            r.json = parseObjectOrNull(r.body);
            expectError(lab, r, 401, "unauthorized", "events without a token");
        }
        for (const std::string &bad :
             {wrong, ep.token + "0", ep.token.substr(0, 63), std::string()}) {
            expectError(lab,
                        request(ep, "GET", "/api/v1/state", {{"Authorization", "Bearer " + bad}}),
                        401, "unauthorized", "Bearer '" + bad + "'");
            expectError(lab, request(ep, "GET", "/api/v1/state", {{"X-Lanspread-Token", bad}}), 401,
                        "unauthorized", "X-Lanspread-Token '" + bad + "'");
            expectError(lab,
                        request(ep, "GET", "/api/v1/state", {{"Cookie", "lanspread_token=" + bad}}),
                        401, "unauthorized", "cookie '" + bad + "'");
            expectError(lab, request(ep, "GET", "/api/v1/state?token=" + bad, {}), 401,
                        "unauthorized", "query token '" + bad + "'");
        }
        // The right token in each form.
        ok(request(ep, "GET", "/api/v1/state", bearer(ep)), "Bearer token");
        ok(request(ep, "GET", "/api/v1/state", {{"X-Lanspread-Token", ep.token}}),
           "X-Lanspread-Token");
        ok(request(ep, "GET", "/api/v1/state",
                   {{"Cookie", "theme=dark; lanspread_token=" + ep.token}}),
           "cookie");
        ok(request(ep, "GET", "/api/v1/state?token=" + ep.token, {}), "query token on GET");
        ok(request(ep, "POST", "/api/v1/command", {{"Cookie", "lanspread_token=" + ep.token}},
                   status),
           "command with the cookie");
        expectError(lab, request(ep, "POST", "/api/v1/command?token=" + ep.token, {}, status), 401,
                    "unauthorized", "command with the token only in the query (GET only)");
        // Opening the URL sets the cookie and redirects to /.
        Reply open = request(ep, "GET", "/?token=" + ep.token, {});
        std::string cookie;
        for (auto [it, end] = open.headers.equal_range("set-cookie"); it != end; ++it)
            if (contains(it->second, "lanspread_token="))
                cookie = it->second;
        lab.check(open.status >= 301 && open.status <= 308 && open.header("location") == "/" &&
                      contains(cookie, "lanspread_token=" + ep.token) &&
                      contains(lower(cookie), "httponly") &&
                      contains(lower(cookie), "samesite=strict"),
                  "GET /?token=: " + open.describe() + " Location '" + open.header("location") +
                      "' Set-Cookie '" + cookie + "'");

        // Origin must be the page itself; Host an IP literal, localhost or allowed_hosts.
        expectError(lab,
                    request(ep, "POST", "/api/v1/command",
                            {bearer(ep)[0], {"Origin", "http://evil.example"}}, status),
                    403, "forbidden-origin", "Origin http://evil.example");
        expectError(
            lab,
            request(ep, "GET", "/api/v1/state", {bearer(ep)[0], {"Origin", "http://evil.example"}}),
            403, "forbidden-origin", "GET with Origin http://evil.example");
        expectError(
            lab,
            request(ep, "POST", "/api/v1/command",
                    {bearer(ep)[0], {"Origin", "http://127.0.0.1:" + std::to_string(ep.port + 1)}},
                    status),
            403, "forbidden-origin", "Origin on another port");
        ok(request(ep, "POST", "/api/v1/command",
                   {bearer(ep)[0], {"Origin", "http://" + ep.hostHeader()}}, status),
           "Origin http://<Host>");
        expectError(lab,
                    request(ep, "POST", "/api/v1/command",
                            {bearer(ep)[0], {"Host", "evil.example:7878"}}, status),
                    403, "forbidden-host", "Host evil.example:7878");
        // A rebinding page: its Origin matches its Host, and the Host is not ours.
        expectError(lab,
                    request(ep, "POST", "/api/v1/command",
                            {bearer(ep)[0],
                             {"Host", "evil.example:" + std::to_string(ep.port)},
                             {"Origin", "http://evil.example:" + std::to_string(ep.port)}},
                            status),
                    403, "forbidden-host", "rebinding Host and Origin evil.example");
        ok(request(ep, "POST", "/api/v1/command",
                   {bearer(ep)[0],
                    {"Host", "localhost:" + std::to_string(ep.port)},
                    {"Origin", "http://localhost:" + std::to_string(ep.port)}},
                   status),
           "Host and Origin localhost");

        // Body size (max_body_bytes = 4096) and media type.
        const std::string fits = R"({"cmd":"status"})" + std::string(4096 - 16, ' ');
        ok(request(ep, "POST", "/api/v1/command", bearer(ep), fits), "a 4096-byte body");
        const std::string tooBig = R"({"cmd":"status"})" + std::string(5000 - 16, ' ');
        expectError(lab, request(ep, "POST", "/api/v1/command", bearer(ep), tooBig), 413,
                    "body-too-large", "a 5000-byte body");
        expectError(lab, request(ep, "POST", "/api/v1/command", bearer(ep), status, "text/plain"),
                    415, "unsupported-media-type", "a text/plain body");
        ok(request(ep, "POST", "/api/v1/command", bearer(ep), status,
                   "application/json; charset=utf-8"),
           "application/json; charset=utf-8");

        // Methods and paths.
        expectError(lab, request(ep, "GET", "/api/v1/command", bearer(ep)), 405,
                    "method-not-allowed", "GET /api/v1/command");
        expectError(lab, request(ep, "GET", "/api/v1/nope", bearer(ep)), 404, "not-found",
                    "GET /api/v1/nope");
        for (const std::string target :
             {"/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
              "/..%2f..%2f..%2fetc%2fpasswd", "/api/../../etc/passwd", "/etc/passwd"}) {
            RawReply r = rawExchange(lab, ep, rawGet(ep, target));
            lab.check(r.head.status == 404 &&
                          str(r.json->getObject("error"), "code") == "not-found",
                      "GET " + target + ": " + r.describe());
            lab.check(!contains(r.body, "root:"), "GET " + target + " served /etc/passwd");
        }
        evidence("web security: 401 unauthorized without a token and with wrong/longer/shorter/"
                 "empty ones in all 4 forms; 200 with Bearer, X-Lanspread-Token, cookie, GET "
                 "query; /?token= sets an HttpOnly SameSite=Strict cookie; 403 forbidden-origin "
                 "(evil, other port), 403 forbidden-host (evil Host, rebinding); 413 at 5000 B "
                 "(4096 ok); 415 text/plain; 405 GET command; 404 for unknown and ../ paths");
    }

    // A body that is not JSON: 400 invalid-json whose message says so.
    void malformedJson() {
        Lab &lab = newLab("web-json");
        Peer &web = startWebPeer(lab, "web");
        const WebEndpoint ep = endpointOf(lab, web);
        for (const std::string body : {R"({"cmd":)", "", "{cmd: status}", R"({"cmd":"status"}})"}) {
            Reply r = request(ep, "POST", "/api/v1/command", bearer(ep), body);
            expectError(lab, r, 400, "invalid-json", "body '" + body + "'");
            const std::string message = str(r.json->getObject("error"), "message");
            lab.check(contains(message, "not valid JSON"),
                      "the invalid-json message does not say the body is not valid JSON: " +
                          message);
        }
        // The peer still answers.
        lab.check(flag(postCommand(lab, ep, R"({"cmd":"status"})"), "ok"), "status after");
        evidence("web malformed JSON: 4 bodies -> 400 invalid-json, 'not valid JSON'");
    }

    // Twenty streams, a client that sent half a request, one that sent headers and part of a
    // body, and a stream that never reads: commands still answer within 1 s, every reading
    // stream gets every event of a download, the stalled requests are dropped after
    // request_timeout_ms; on a peer with max_event_streams = 4 the fifth stream gets 503.
    void stuckClientsDoNotBlock() {
        Lab &lab = newLab("web-stuck");
        fx::writeGameSet(lab.gamesDirOf("source"), "bravo");
        Peer &source = lab.startPeer("source");
        Peer &web = startWebPeer(lab, "web", "request_timeout_ms = 2000\n");
        const WebEndpoint ep = endpointOf(lab, web);
        postOk(lab, ep, R"({"cmd":"connect","addr":)" + jsonString(source.listenAddr()) + "}");
        waitRemote(web, "cnctw", 1);

        std::vector<std::unique_ptr<SseClient>> streams;
        for (int k = 0; k < 20; ++k) {
            streams.push_back(std::make_unique<SseClient>(ep, "/api/v1/events"));
            lab.check(streams.back()->status() == 200,
                      "stream " + std::to_string(k) + ": " +
                          std::to_string(streams.back()->status()));
        }
        RawConnection halfRequest(ep);
        halfRequest.send("POST /api/v1/command HTTP/1.1\r\nHost: " + ep.hostHeader() +
                         "\r\nContent-Le");
        RawConnection halfBody(ep);
        halfBody.send("POST /api/v1/command HTTP/1.1\r\nHost: " + ep.hostHeader() +
                      "\r\nAuthorization: Bearer " + ep.token +
                      "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cmd\"");
        SseClient deaf(ep, "/api/v1/events", "", true, 2048, false); // never reads a byte
        const auto stalledAt = Clock::now();

        int64_t slowest = 0;
        auto timedStatus = [&] {
            const auto start = Clock::now();
            Json result = postCommand(lab, ep, R"({"cmd":"status"})");
            const int64_t ms = msSince(start);
            slowest = std::max(slowest, ms);
            lab.check(flag(result, "ok") && ms < 1000,
                      "status took " + std::to_string(ms) + " ms with stuck clients open");
        };
        for (int k = 0; k < 3; ++k)
            timedStatus();

        const int64_t first = lastEventId(lab, ep) + 1;
        postOk(lab, ep, R"({"cmd":"download","game":"cnctw"})");
        for (int k = 0; k < 50; ++k) // more events for the deaf stream to choke on
            postError(lab, ep, R"({"cmd":"download","game":"cod5"})");
        timedStatus();
        std::size_t events = 0;
        for (std::size_t k = 0; k < streams.size(); ++k) {
            auto got = readUntil(lab, *streams[k], named("install-finished", "cnctw"), 60s,
                                 "cnctw install-finished on stream " + std::to_string(k));
            checkConsecutive(lab, got, first, "stream " + std::to_string(k));
            events = std::max(events, got.size());
        }
        timedStatus();
        lab.check(web.status()->has("peer_id"), "frontend-cli status");

        // The stalled requests are dropped after request_timeout_ms (2 s): the two above by
        // now, and a fresh one, timed.
        lab.check(halfRequest.closedWithin(8s), "a half-sent request is still open after " +
                                                    std::to_string(msSince(stalledAt)) + " ms");
        lab.check(halfBody.closedWithin(8s), "a half-sent body is still open after " +
                                                 std::to_string(msSince(stalledAt)) + " ms");
        RawConnection silent(ep);
        silent.send("GET /api/v1/state HTTP/1.1\r\nHost: " + ep.hostHeader() + "\r\n");
        const auto silentAt = Clock::now();
        lab.check(silent.closedWithin(8s), "a silent request is still open after 8 s");
        const int64_t droppedMs = msSince(silentAt);
        timedStatus();
        // Whether the stream that never read was dropped too depends on how much the loopback
        // socket buffers hold (the server's grows to megabytes): reported, not required.
        const bool deafDropped = deaf.closedWithin(3s);

        Peer &capped = startWebPeer(lab, "capped", "max_event_streams = 4\n");
        const WebEndpoint cep = endpointOf(lab, capped);
        std::vector<std::unique_ptr<SseClient>> four;
        for (int k = 0; k < 4; ++k) {
            four.push_back(std::make_unique<SseClient>(cep, "/api/v1/events"));
            lab.check(four.back()->status() == 200, "capped stream " + std::to_string(k) + ": " +
                                                        std::to_string(four.back()->status()));
        }
        SseClient fifth(cep, "/api/v1/events");
        Reply r;
        r.status = fifth.status();
        r.contentType = fifth.head().header("content-type");
        r.body = fifth.errorBody();
        r.json = parseObjectOrNull(r.body);
        expectError(lab, r, 503, "too-many-event-streams", "the fifth stream of 4");
        const auto start = Clock::now();
        lab.check(flag(postCommand(lab, cep, R"({"cmd":"status"})"), "ok") && msSince(start) < 1000,
                  "status on the capped peer with 4 streams open");
        evidence("web stuck clients: 20 streams + half request + half body + deaf stream: status "
                 "slowest " +
                 std::to_string(slowest) + " ms; every stream got " + std::to_string(events) +
                 " events one apart; stalled requests dropped (a "
                 "silent one after " +
                 std::to_string(droppedMs) +
                 " ms, request_timeout_ms "
                 "2000); deaf stream dropped: " +
                 (deafDropped ? "yes" : "no") +
                 "; max_event_streams 4: 5th -> 503 too-many-event-streams");
    }

    // The token and URL files are 0600; the URL is logged; a restart keeps the token, a
    // deleted token file gives a new one.
    void tokenFiles() {
        Lab &lab = newLab("web-token");
        Peer &web = startWebPeer(lab, "web");
        const WebEndpoint ep = endpointOf(lab, web);
        const std::string token = trim(readWholeFile(tokenPath(web)));
        lab.check(isHexToken(token) && token == ep.token,
                  "token file '" + token + "' vs URL token '" + ep.token + "'");
        lab.check(modeOf(tokenPath(web)) == 0600 && modeOf(urlPath(web)) == 0600,
                  "modes: token " + octal(modeOf(tokenPath(web))) + ", url " +
                      octal(modeOf(urlPath(web))));
        lab.check(ep.host == "127.0.0.1", "URL host " + ep.host);
        lab.waitUntil([&] { return contains(readWholeFile(web.stderrPath()), "open " + ep.url); },
                      5s, "the log names the URL");
        lab.check(request(ep, "GET", "/api/v1/state", bearer(ep)).status == 200, "token works");
        // Ids start from the clock (ms x 1000 + 1), so every id of the next run is above them.
        const int64_t oldRun = lastEventId(lab, ep);
        lab.check(oldRun > web.startedAtMs() * 1000 && oldRun < wallMs() * 1000 &&
                      oldRun < (int64_t(1) << 53),
                  "last_event_id " + std::to_string(oldRun) + " for a peer started at " +
                      std::to_string(web.startedAtMs()) + " ms");

        lab.check(web.shutdown() == 0, "shutdown");
        fs::remove(urlPath(web));
        web.restart();
        const WebEndpoint again = endpointOf(lab, web);
        lab.check(again.token == token && trim(readWholeFile(tokenPath(web))) == token,
                  "the restart changed the token: " + again.token);
        lab.check(modeOf(tokenPath(web)) == 0600 && modeOf(urlPath(web)) == 0600,
                  "modes after restart: token " + octal(modeOf(tokenPath(web))) + ", url " +
                      octal(modeOf(urlPath(web))));
        lab.check(request(again, "GET", "/api/v1/state", bearer(again)).status == 200,
                  "the kept token works after the restart");
        // A page that saw the earlier run reconnects with its last id: told it missed events.
        {
            SseClient stale(again, "/api/v1/events?since=" + std::to_string(oldRun));
            auto gap = readCount(lab, stale, 1, 10s, "web-replay-gap for the earlier run's id");
            lab.check(gap[0].name == "web-replay-gap" && i64(gap[0].json, "since") == oldRun &&
                          gap[0].id > oldRun && i64(gap[0].json, "oldest_id") > oldRun + 1,
                      "the earlier run's id " + std::to_string(oldRun) + " began with" +
                          describe(gap));
        }

        lab.check(web.shutdown() == 0, "second shutdown");
        fs::remove(urlPath(web));
        fs::remove(tokenPath(web));
        web.restart();
        const WebEndpoint fresh = endpointOf(lab, web);
        lab.check(isHexToken(fresh.token) && fresh.token != token &&
                      trim(readWholeFile(tokenPath(web))) == fresh.token &&
                      modeOf(tokenPath(web)) == 0600,
                  "a deleted token file gave '" + fresh.token + "'");
        WebEndpoint old = fresh;
        old.token = token;
        expectError(lab, request(old, "GET", "/api/v1/state", bearer(old)), 401, "unauthorized",
                    "the old token after a new one was made");
        evidence("web token: 64 hex digits, .token and .url 0600, URL logged; a restart keeps "
                 "it (and the earlier run's last id " +
                 std::to_string(oldRun) +
                 " gets web-replay-gap), a deleted token file gives a new one and the old is "
                 "refused");
    }

  private:
    Peer &startWebPeer(Lab &lab, const std::string &label, const std::string &webKeys = "") {
        Peer &p = lab.addPeer(label);
        p.start(label, lab.gamesDirOf(label), lab.stateDirOf(label), lab.catalogPath(),
                webIni(webKeys), webPlugins());
        return p;
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WebApiTest);
