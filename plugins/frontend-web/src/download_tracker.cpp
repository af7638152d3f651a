#include "download_tracker.hpp"

#include <algorithm>

namespace lanspread::plugins::web {

namespace {

std::string stringField(const Poco::JSON::Object &o, const char *key) {
    return o.has(key) && o.get(key).isString() ? o.getValue<std::string>(key) : std::string();
}

template <typename T> T numberField(const Poco::JSON::Object &o, const char *key) {
    if (!o.has(key))
        return T{};
    const auto &v = o.get(key);
    if (!v.isNumeric())
        return T{};
    try {
        return v.convert<T>();
    } catch (const Poco::Exception &) {
        return T{};
    }
}

bool isDownloadOperation(const std::string &operation) {
    return operation == "Downloading" || operation == "StreamInstalling";
}

} // namespace

void DownloadTracker::apply(const Poco::JSON::Object &event, uint64_t id) {
    const std::string name = stringField(event, "event");
    const std::string game = stringField(event, "game");
    const auto ts = numberField<int64_t>(event, "ts_ms");
    std::lock_guard lock(_mutex);
    _appliedThroughId = id;
    if (name == "download-begin") {
        DownloadView view;
        view.game = game;
        view.bytesTotal = numberField<uint64_t>(event, "bytes_total");
        view.bytesResumed = numberField<uint64_t>(event, "bytes_resumed");
        view.bytesDone = view.bytesResumed;
        if (auto peers = event.getArray("peers"))
            for (std::size_t i = 0; i < peers->size(); ++i)
                if (peers->get(i).isString())
                    view.peers.push_back(peers->getElement<std::string>(i));
        view.startedMs = view.updatedMs = ts;
        _downloads[game] = std::move(view);
        return;
    }
    if (name == "download-finished" || name == "download-failed" || name == "download-cancelled") {
        _downloads.erase(game);
        return;
    }
    if (name == "active-operations") {
        // A download that ended without its final event (the peer restarted a component,
        // or the event was never published) still leaves the table: converge on it.
        auto operations = event.getObject("operations");
        for (auto it = _downloads.begin(); it != _downloads.end();) {
            const bool running = operations && operations->has(it->first) &&
                                 operations->get(it->first).isString() &&
                                 isDownloadOperation(operations->getValue<std::string>(it->first));
            it = running ? std::next(it) : _downloads.erase(it);
        }
        return;
    }
    auto found = _downloads.find(game);
    if (found == _downloads.end())
        return;
    DownloadView &view = found->second;
    if (name == "download-progress") {
        view.bytesDone = numberField<uint64_t>(event, "bytes_done");
        view.bytesTotal = numberField<uint64_t>(event, "bytes_total");
        view.mibPerS = numberField<double>(event, "mib_per_s");
        view.activePeers = numberField<int64_t>(event, "active_peers");
        view.updatedMs = ts;
    } else if (name == "download-chunk-finished") {
        const std::string peerId = stringField(event, "peer_id");
        auto source = std::find_if(view.sources.begin(), view.sources.end(),
                                   [&](const SourceBytes &s) { return s.peerId == peerId; });
        if (source == view.sources.end())
            source = view.sources.insert(view.sources.end(),
                                         SourceBytes{peerId, stringField(event, "peer_addr"), 0});
        source->bytes += numberField<uint64_t>(event, "bytes");
        view.updatedMs = ts;
    }
}

DownloadTracker::Snapshot DownloadTracker::snapshot() const {
    std::lock_guard lock(_mutex);
    Snapshot snap;
    snap.appliedThroughId = _appliedThroughId;
    for (const auto &[game, view] : _downloads)
        snap.downloads.push_back(view);
    return snap;
}

Poco::JSON::Array::Ptr DownloadTracker::toJson(const std::vector<DownloadView> &downloads) {
    Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
    for (const auto &d : downloads) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        o->set("game", d.game);
        o->set("bytes_done", d.bytesDone);
        o->set("bytes_total", d.bytesTotal);
        o->set("bytes_resumed", d.bytesResumed);
        o->set("mib_per_s", d.mibPerS);
        o->set("active_peers", d.activePeers);
        Poco::JSON::Array::Ptr peers = new Poco::JSON::Array;
        for (const auto &p : d.peers)
            peers->add(p);
        o->set("peers", peers);
        Poco::JSON::Array::Ptr sources = new Poco::JSON::Array;
        for (const auto &s : d.sources) {
            Poco::JSON::Object::Ptr so = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            so->set("peer_id", s.peerId);
            so->set("addr", s.addr);
            so->set("bytes", s.bytes);
            sources->add(so);
        }
        o->set("sources", sources);
        o->set("started_ms", d.startedMs);
        o->set("updated_ms", d.updatedMs);
        array->add(o);
    }
    return array;
}

} // namespace lanspread::plugins::web
