#include "mem_network.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

namespace lanspread::plugins::quic::testing {

class MemNetwork::Port final : public PacketIo {
  public:
    Port(MemNetwork &net, SockAddr address) : _net(&net), _address(std::move(address)) {
        _key = _address.toString();
        _net->_ports[_key] = this;
    }
    ~Port() override {
        if (_net != nullptr)
            _net->_ports.erase(_key);
    }
    void detach() { _net = nullptr; }

    void setReceiver(PacketReceiver *receiver) override { _receiver = receiver; }
    const SockAddr &localAddress() const override { return _address; }
    SendResult send(const SockAddr &to, const uint8_t *data, std::size_t len,
                    std::size_t segment) override {
        if (_net != nullptr)
            _net->transmit(*this, to, data, len, segment == 0 ? len : segment);
        return SendResult::Sent;
    }
    std::size_t maxSegments(std::size_t) const override {
        return _net ? _net->_config.maxSegments : 1;
    }
    std::size_t pathMaxUdpPayload(const SockAddr &) const override {
        return _net ? _net->_config.mtu - 28 : 1200;
    }

    PacketReceiver *receiver() const { return _receiver; }
    const std::string &key() const { return _key; }
    uint64_t lastDeliverAt = 0;

  private:
    MemNetwork *_net;
    SockAddr _address;
    std::string _key;
    PacketReceiver *_receiver = nullptr;
};

MemNetwork::MemNetwork(const Host &host, LinkConfig config)
    : _host(host), _config(config), _rng(config.seed) {}

MemNetwork::~MemNetwork() {
    for (auto &[key, port] : _ports)
        port->detach();
}

PacketIoFactory MemNetwork::factory() {
    return [this](const Host &, const SockAddr &bindAddr,
                  const Options &) -> Result<std::unique_ptr<PacketIo>> {
        SockAddr address = bindAddr;
        auto *v4 = reinterpret_cast<sockaddr_in *>(&address.storage);
        if (address.family() != AF_INET)
            return Result<std::unique_ptr<PacketIo>>(LANSPREAD_E_IO, "IPv4 only in memory");
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
            v4->sin_addr.s_addr = htonl(0x0a000000u | (_nextHost++ & 0xffffff));
        if (v4->sin_port == 0)
            v4->sin_port = htons(_nextPort++);
        if (_ports.count(address.toString()))
            return Result<std::unique_ptr<PacketIo>>(LANSPREAD_E_IO,
                                                     address.toString() + " is in use");
        return std::unique_ptr<PacketIo>(new Port(*this, address));
    };
}

void MemNetwork::transmit(Port &from, const SockAddr &to, const uint8_t *data, std::size_t len,
                          std::size_t segment) {
    const uint64_t now = static_cast<uint64_t>(_host.now().count());
    for (std::size_t at = 0; at < len; at += segment) {
        const std::size_t n = std::min(segment, len - at);
        ++_stats.sent;
        if (_partitioned || n > _config.mtu - 28 ||
            (_config.loss > 0 &&
             std::uniform_real_distribution<double>(0.0, 1.0)(_rng) < _config.loss)) {
            ++_stats.dropped;
            continue;
        }
        uint64_t jitter = 0;
        if (_config.jitterNs > 0)
            jitter = std::uniform_int_distribution<uint64_t>(0, _config.jitterNs)(_rng);
        std::string toKey = to.toString();
        uint64_t departs = now;
        if (_config.rateBytesPerSec > 0) {
            uint64_t &freeAt = _egressFreeAt[toKey];
            const uint64_t start = std::max(now, freeAt);
            const uint64_t backlog = (start - now) * _config.rateBytesPerSec / 1'000'000'000ull;
            if (_config.queueBytes > 0 && backlog + n > _config.queueBytes) {
                ++_stats.dropped;
                ++_stats.queueDrops;
                continue;
            }
            freeAt = start + (n + 28) * 1'000'000'000ull / _config.rateBytesPerSec;
            departs = freeAt;
        }
        InFlight f{departs + _config.delayNs + jitter, _sequence++, from.localAddress(),
                   std::move(toKey), std::vector<uint8_t>(data + at, data + at + n)};
        if (f.deliverAt < from.lastDeliverAt)
            ++_stats.reordered;
        from.lastDeliverAt = std::max(from.lastDeliverAt, f.deliverAt);
        _queue.push(std::move(f));
    }
    arm();
}

void MemNetwork::arm() {
    if (_queue.empty())
        return;
    const uint64_t at = _queue.top().deliverAt;
    if (_timer.pending() && _timerAt <= at)
        return;
    const uint64_t now = static_cast<uint64_t>(_host.now().count());
    auto timer = _host.startTimer(std::chrono::nanoseconds(at > now ? at - now : 0),
                                  [this] { deliverDue(); });
    if (timer) {
        _timer = std::move(timer.value());
        _timerAt = at;
    }
}

void MemNetwork::deliverDue() {
    _timerAt = UINT64_MAX;
    const uint64_t now = static_cast<uint64_t>(_host.now().count());
    std::vector<std::string> touched;
    while (!_queue.empty() && _queue.top().deliverAt <= now) {
        InFlight f = std::move(const_cast<InFlight &>(_queue.top()));
        _queue.pop();
        auto it = _ports.find(f.to);
        if (it == _ports.end() || it->second->receiver() == nullptr) {
            ++_stats.dropped; // nobody listens there (ICMP unreachable, ignored by QUIC)
            continue;
        }
        ++_stats.delivered;
        _stats.bytes += f.bytes.size();
        it->second->receiver()->onDatagrams(f.from, f.bytes.data(), f.bytes.size(), f.bytes.size());
        if (std::find(touched.begin(), touched.end(), f.to) == touched.end())
            touched.push_back(f.to);
    }
    for (const std::string &to : touched) {
        auto it = _ports.find(to);
        if (it != _ports.end() && it->second->receiver() != nullptr)
            it->second->receiver()->onReceiveDone();
    }
    arm();
}

} // namespace lanspread::plugins::quic::testing
