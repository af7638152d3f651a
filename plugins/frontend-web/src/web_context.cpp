#include "web_context.hpp"

#include <Poco/JSON/Parser.h>

#include <chrono>
#include <memory>

namespace lanspread::plugins::web {

WebContext::WebContext(Host host, ControlClient control, WebSettings settings)
    : _host(host), _control(control), _settings(std::move(settings)),
      _firstEventId(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()) *
                        1000 +
                    1),
      _events(static_cast<std::size_t>(_settings.replayEvents), _firstEventId),
      _downloads(_firstEventId - 1) {}

void WebContext::onEvent(const std::string &line) {
    const uint64_t id = _events.append(line);
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(line);
        if (auto object = parsed.extract<Poco::JSON::Object::Ptr>())
            _downloads.apply(*object, id);
    } catch (const std::exception &) {
        // Not an object: kept for the streams as it is, nothing to track.
    }
}

WebContext::Outcome WebContext::runCommands(const std::vector<std::string> &lines,
                                            std::vector<std::string> &results,
                                            std::chrono::milliseconds timeout) {
    struct Pending {
        std::vector<std::optional<std::string>> results;
        std::size_t remaining = 0;
    };
    auto pending = std::make_shared<Pending>();
    pending->results.resize(lines.size());
    pending->remaining = lines.size();
    {
        std::lock_guard lock(_mutex);
        if (_closed)
            return Outcome::ShuttingDown;
    }
    auto self = shared_from_this();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const bool submitted = _control.submit(lines[i], [self, pending, i](const std::string &r) {
            {
                std::lock_guard lock(self->_mutex);
                pending->results[i] = r;
                --pending->remaining;
            }
            self->_answered.notify_all();
        });
        if (!submitted)
            return Outcome::ShuttingDown; // the kernel is stopping; callbacks already queued die
                                          // with `pending`, which they share
    }
    std::unique_lock lock(_mutex);
    const bool done =
        _answered.wait_for(lock, timeout, [&] { return _closed || pending->remaining == 0; });
    if (pending->remaining != 0)
        return done ? Outcome::ShuttingDown : Outcome::TimedOut;
    results.clear();
    for (auto &r : pending->results)
        results.push_back(std::move(*r));
    return Outcome::Answered;
}

void WebContext::close() {
    {
        std::lock_guard lock(_mutex);
        _closed = true;
    }
    _answered.notify_all();
    _events.close();
}

bool WebContext::closed() const {
    std::lock_guard lock(_mutex);
    return _closed;
}

} // namespace lanspread::plugins::web
