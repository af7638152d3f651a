// quic_sim: the congestion controllers of transport-quic compared on a simulated LAN — the
// plugin's in-memory network (packet-I/O seam) with a switch output port of a given rate and
// buffer in front of the receiver, driven by the FakeHost's manual clock (no sockets, no
// sleeps; the figures are in simulated time and do not depend on the machine's load).
//
//   quic_sim [--cc all|cubic|bbr|bbr2|reno] [--flows N] [--mbit R] [--queue-kb Q]
//            [--rtt-us T] [--seconds S] [--mtu M] [--loss P]
//
// N senders push into one receiver through the bottleneck for S simulated seconds; reported
// over the last two thirds: goodput (sum and per flow), Jain's fairness index, and the share
// of datagrams the full queue dropped.
#include "harness.hpp"
#include "mem_network.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace lanspread::plugins::quic;
using namespace lanspread::plugins::quic::testing;

namespace {

struct Flow {
    lanspread_transport_conn *conn = nullptr;
    uint64_t stream = 0;
    bool connected = false;
};

struct World {
    const lanspread_transport_v1 *api = nullptr;
    std::vector<Flow> flows;
    std::map<lanspread_transport_conn *, uint64_t> received; // receiver side, per connection
    std::vector<uint8_t> zeros = std::vector<uint8_t>(256 * 1024);

    void pump(Flow &f) {
        for (;;) {
            size_t accepted = 0;
            if (api->send(f.conn, f.stream, zeros.data(), zeros.size(), 0, &accepted) !=
                    LANSPREAD_OK ||
                accepted < zeros.size())
                return;
        }
    }
};

lanspread_transport_events senderEvents(World &w) {
    lanspread_transport_events e{};
    e.struct_size = sizeof e;
    e.user_data = &w;
    e.on_connected = [](void *ud, lanspread_transport_conn *c, const lanspread_remote_identity *) {
        auto &world = *static_cast<World *>(ud);
        for (Flow &f : world.flows)
            if (f.conn == c && !f.connected) {
                f.connected = true;
                world.api->open_stream(c, &f.stream);
                world.pump(f);
            }
    };
    e.on_stream_opened = [](void *, lanspread_transport_conn *, uint64_t) {};
    e.on_stream_data = [](void *, lanspread_transport_conn *, uint64_t, const uint8_t *, size_t,
                          uint32_t) {};
    e.on_writable = [](void *ud, lanspread_transport_conn *c, uint64_t) {
        auto &world = *static_cast<World *>(ud);
        for (Flow &f : world.flows)
            if (f.conn == c)
                world.pump(f);
    };
    e.on_closed = [](void *, lanspread_transport_conn *, lanspread_status status, const char *why) {
        if (status != LANSPREAD_OK)
            std::fprintf(stderr, "quic_sim: a sender closed (%s): %s\n",
                         lanspread_status_name(status), why);
    };
    return e;
}

lanspread_transport_events receiverEvents(World &w) {
    lanspread_transport_events e{};
    e.struct_size = sizeof e;
    e.user_data = &w;
    e.on_connected = [](void *, lanspread_transport_conn *, const lanspread_remote_identity *) {};
    e.on_stream_opened = [](void *, lanspread_transport_conn *, uint64_t) {};
    e.on_stream_data = [](void *ud, lanspread_transport_conn *c, uint64_t s, const uint8_t *,
                          size_t n, uint32_t) {
        auto &world = *static_cast<World *>(ud);
        world.received[c] += n;
        world.api->consume(c, s, n);
    };
    e.on_writable = [](void *, lanspread_transport_conn *, uint64_t) {};
    e.on_closed = [](void *, lanspread_transport_conn *, lanspread_status, const char *) {};
    return e;
}

struct Outcome {
    double goodputMbit = 0, fairness = 0, dropShare = 0, minFlowMbit = 0, maxFlowMbit = 0;
};

Outcome simulate(const std::string &cc, int flows, const LinkConfig &link, double seconds) {
    FakeHost host("org.lanspread.transport.quic");
    host.setConfig("cc", cc);
    World world;
    auto rxEvents = receiverEvents(world);
    auto txEvents = senderEvents(world);
    MemNetwork net(lanspread::Host(host.api()), link);
    Outcome out;
    {
        PluginInstance plugin(host);
        plugin.impl->setPacketIoFactory(net.factory());
        world.api = plugin.api;
        const TestIdentity id = TestIdentity::generate("sim");
        TransportSetup listenSetup(id, "10.0.0.1:4433");
        lanspread_transport_endpoint *ep = nullptr;
        plugin.api->listen(plugin.state, listenSetup.get(), &rxEvents, &ep);
        world.flows.resize(static_cast<std::size_t>(flows));
        for (Flow &f : world.flows) {
            TransportSetup setup(id, "0.0.0.0:0");
            plugin.api->connect(plugin.state, setup.get(), "10.0.0.1:4433", &txEvents, &f.conn);
        }
        const uint64_t start = host.now();
        const uint64_t warm = start + static_cast<uint64_t>(seconds / 3 * 1e9);
        const uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
        runUntil(
            host, [&] { return host.now() >= warm; }, end - start);
        auto at1 = world.received;
        const auto drops1 = net.stats().queueDrops, sent1 = net.stats().sent;
        runUntil(
            host, [&] { return host.now() >= end; }, end - start);
        const double window = static_cast<double>(host.now() - warm) / 1e9;
        std::vector<double> rates;
        for (auto &[conn, bytes] : world.received)
            rates.push_back(static_cast<double>(bytes - at1[conn]) * 8 / window / 1e6);
        double sum = 0, sumSq = 0;
        out.minFlowMbit = rates.empty() ? 0 : 1e18;
        for (double r : rates) {
            sum += r;
            sumSq += r * r;
            out.minFlowMbit = std::min(out.minFlowMbit, r);
            out.maxFlowMbit = std::max(out.maxFlowMbit, r);
        }
        out.goodputMbit = sum;
        out.fairness = rates.empty() || sumSq == 0
                           ? 0
                           : sum * sum / (static_cast<double>(rates.size()) * sumSq);
        const auto sent = net.stats().sent - sent1;
        out.dropShare =
            sent ? static_cast<double>(net.stats().queueDrops - drops1) / static_cast<double>(sent)
                 : 0;
        for (Flow &f : world.flows)
            plugin.api->close(f.conn, 0);
        plugin.api->destroy_endpoint(ep);
        host.runUntilIdle(1000);
    }
    return out;
}

} // namespace

int main(int argc, char **argv) {
    std::string ccArg = "all";
    int flows = 4;
    double mbit = 1000, seconds = 3, loss = 0;
    uint64_t queueKb = 256, rttUs = 200, mtu = 1500;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--cc")
            ccArg = v;
        else if (k == "--flows")
            flows = std::atoi(v.c_str());
        else if (k == "--mbit")
            mbit = std::atof(v.c_str());
        else if (k == "--queue-kb")
            queueKb = std::strtoull(v.c_str(), nullptr, 10);
        else if (k == "--rtt-us")
            rttUs = std::strtoull(v.c_str(), nullptr, 10);
        else if (k == "--seconds")
            seconds = std::atof(v.c_str());
        else if (k == "--mtu")
            mtu = std::strtoull(v.c_str(), nullptr, 10);
        else if (k == "--loss")
            loss = std::atof(v.c_str());
        else {
            std::fprintf(stderr, "quic_sim: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    LinkConfig link;
    link.delayNs = rttUs * 1000 / 2;
    link.rateBytesPerSec = static_cast<uint64_t>(mbit * 1e6 / 8);
    link.queueBytes = queueKb * 1024;
    link.mtu = mtu;
    link.loss = loss;
    std::vector<std::string> ccs = ccArg == "all"
                                       ? std::vector<std::string>{"cubic", "bbr", "bbr2", "reno"}
                                       : std::vector<std::string>{ccArg};
    std::printf("%d flows -> 1 receiver, %.0f Mbit/s port, %llu KiB buffer, RTT %llu us, MTU "
                "%llu, loss %.3f, %.1f s simulated\n",
                flows, mbit, static_cast<unsigned long long>(queueKb),
                static_cast<unsigned long long>(rttUs), static_cast<unsigned long long>(mtu), loss,
                seconds);
    std::printf("| cc | goodput Mbit/s | of link | slowest flow | fastest flow | Jain fairness | "
                "queue drops |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const std::string &cc : ccs) {
        Outcome o = simulate(cc, flows, link, seconds);
        std::printf("| %s | %.0f | %.0f%% | %.0f | %.0f | %.3f | %.2f%% |\n", cc.c_str(),
                    o.goodputMbit, 100 * o.goodputMbit / mbit, o.minFlowMbit, o.maxFlowMbit,
                    o.fairness, 100 * o.dropShare);
        std::fflush(stdout);
    }
    return 0;
}
