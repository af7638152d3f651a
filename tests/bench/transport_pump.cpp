// transport_pump: pushes N MiB over one lanspread transport connection (transport-quic or
// transport-tls) between two processes on loopback, and reports throughput and CPU cost for
// each side (B1, docs/benchmarks.md).
//
// The plugin .so is loaded the way the daemon loads it — the kernel's PluginLoader (dlopen +
// lanspread_plugin_v1 + every acceptance rule) with the kernel's PluginHost on the kernel's
// epoll Reactor — and each side authenticates with a kernel Identity (wolfCrypt key and
// self-signed certificate in a temporary state dir); the sender checks that the fingerprint
// the transport reports is the receiver's peer_id.
//
//   transport_pump --serve PORT [--bind IP]            receive one transfer, then exit
//   transport_pump --send IP:PORT (--gib N | --mib N)  send, wait for the receiver's verdict
//   transport_pump --fork (--gib N | --mib N)          both, in two processes (fork)
// Options: --transport quic|tls (default quic: the plugin
//          <bin>/../lib/lanspread/plugins/lanspread-transport-<name>.so), --plugin PATH (another
//          .so of that transport),
//          --verify (SHA-256 both ends; the sender fails on mismatch), --set KEY=VALUE (plugin
//          config key, e.g. --set cc=bbr), --quiet (no kernel log lines below warning),
//          --verbose (debug lines too: socket options, connection statistics at the end).
// Each side prints one line: role=... bytes=... seconds=... mib_per_s=... cpu_s=...
// cpu_s_per_gib=... [sha256=...]. Exit status 0 when the transfer completed (and verified).
#include <lanspread/kernel/host/cancellation.hpp>
#include <lanspread/kernel/host/event_bus.hpp>
#include <lanspread/kernel/host/plugin_host.hpp>
#include <lanspread/kernel/host/plugin_loader.hpp>
#include <lanspread/kernel/host/reactor.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/kernel/peers/identity.hpp>
#include <lanspread/kinds/transport.h>

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <nettle/sha2.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace {

using lanspread::kernel::host::Reactor;

struct Args {
    std::string mode; // serve, send, fork
    std::string serveBind = "127.0.0.1";
    int port = 0;
    std::string target;
    uint64_t bytes = 0;
    std::string transport = "quic"; // the plugin id's last part
    std::string plugin;
    bool verify = false;
    bool quiet = false;
    bool verbose = false;
    std::vector<std::pair<std::string, std::string>> settings;
    std::string expectPeer;
};

[[noreturn]] void usage(const std::string &why) {
    std::fprintf(
        stderr,
        "transport_pump: %s\nusage: transport_pump --serve PORT | --send IP:PORT --gib N | --fork "
        "--gib N  [--mib N] [--transport quic|tls] [--plugin PATH] [--verify] [--set KEY=VALUE] "
        "[--quiet]\n",
        why.c_str());
    std::exit(2);
}

Args parse(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--serve") {
            a.mode = "serve";
            a.port = std::atoi(next().c_str());
        } else if (arg == "--bind") {
            a.serveBind = next();
        } else if (arg == "--send") {
            a.mode = "send";
            a.target = next();
        } else if (arg == "--fork") {
            a.mode = "fork";
        } else if (arg == "--gib") {
            a.bytes = static_cast<uint64_t>(std::atof(next().c_str()) * 1024 * 1024 * 1024);
        } else if (arg == "--mib") {
            a.bytes = static_cast<uint64_t>(std::atof(next().c_str()) * 1024 * 1024);
        } else if (arg == "--transport") {
            a.transport = next();
            if (a.transport != "quic" && a.transport != "tls")
                usage("--transport is quic or tls, not " + a.transport);
        } else if (arg == "--plugin") {
            a.plugin = next();
        } else if (arg == "--verify") {
            a.verify = true;
        } else if (arg == "--quiet") {
            a.quiet = true;
        } else if (arg == "--verbose") {
            a.verbose = true;
        } else if (arg == "--expect-peer") {
            a.expectPeer = next();
        } else if (arg == "--set") {
            std::string kv = next();
            auto eq = kv.find('=');
            if (eq == std::string::npos)
                usage("--set wants KEY=VALUE");
            a.settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        } else {
            usage("unknown argument " + arg);
        }
    }
    if (a.mode.empty())
        usage("choose --serve, --send or --fork");
    if ((a.mode == "send" || a.mode == "fork") && a.bytes == 0)
        usage("--gib or --mib is required");
    if (a.plugin.empty()) {
        std::error_code ec;
        auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        a.plugin = (exe.parent_path() / ".." /
                    ("lib/lanspread/plugins/lanspread-transport-" + a.transport + ".so"))
                       .lexically_normal()
                       .string();
    }
    return a;
}

double cpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string hex(const uint8_t *data, std::size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < len; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

// One side: the kernel's reactor and host for the transport plugin, and an identity.
class Side {
  public:
    // The plugin id the config keys go under.
    std::string pluginId() const { return "org.lanspread.transport." + _args.transport; }

    Side(const Args &args, const std::string &role) : _args(args), _role(role) {
        if (args.quiet)
            lanspread::kernel::log::setThreshold(lanspread::kernel::log::Level::Warning);
        if (args.verbose)
            lanspread::kernel::log::setThreshold(lanspread::kernel::log::Level::Debug);
        char pattern[] = "/tmp/transport-pump-XXXXXX";
        _stateDir = mkdtemp(pattern);
        auto identity = lanspread::kernel::peers::Identity::loadOrCreate(_stateDir, role);
        if (!identity)
            fail("identity: " + identity.status().describe());
        _identity = identity.value();
        _config = new Poco::Util::MapConfiguration();
        for (const auto &[key, value] : args.settings)
            _config->setString("plugin." + pluginId() + "." + key, value);
        _host = std::make_unique<lanspread::kernel::host::PluginHost>(
            pluginId(), _reactor, _bus, _cancels, *_config,
            [](const std::string &) -> const void * { return nullptr; });
        _loader = std::make_unique<lanspread::kernel::host::PluginLoader>(
            [this](const lanspread::kernel::host::PluginImage &) { return _host->api(); });
        auto outcome = _loader->load(args.plugin);
        if (!outcome.ok())
            fail("loading " + args.plugin + ": " + outcome.reason);
        _api = static_cast<const lanspread_transport_v1 *>(outcome.plugin->interface);
        _state = outcome.plugin->state;
        _events.struct_size = sizeof _events;
        _events.user_data = this;
        _events.on_connected = [](void *ud, lanspread_transport_conn *c,
                                  const lanspread_remote_identity *r) {
            static_cast<Side *>(ud)->onConnected(c, r);
        };
        _events.on_stream_opened = [](void *, lanspread_transport_conn *, uint64_t) {};
        _events.on_stream_data = [](void *ud, lanspread_transport_conn *c, uint64_t s,
                                    const uint8_t *d, size_t n,
                                    uint32_t f) { static_cast<Side *>(ud)->onData(c, s, d, n, f); };
        _events.on_writable = [](void *ud, lanspread_transport_conn *c, uint64_t s) {
            static_cast<Side *>(ud)->onWritable(c, s);
        };
        _events.on_closed = [](void *ud, lanspread_transport_conn *c, lanspread_status st,
                               const char *why) { static_cast<Side *>(ud)->onClosed(c, st, why); };
        sha256_init(&_hash);
    }
    ~Side() {
        _loader->shutdownAll();
        _host->retire();
        std::error_code ec;
        std::filesystem::remove_all(_stateDir, ec);
    }

    lanspread_transport_config config(const char *bind) {
        lanspread_transport_config c{};
        c.struct_size = sizeof c;
        c.bind_addr = bind;
        c.cert_der = _identity.certDer.data();
        c.cert_der_len = _identity.certDer.size();
        c.key_der = _identity.keyDer.data();
        c.key_der_len = _identity.keyDer.size();
        return c;
    }

    // Receiver: listens; reports "<port> <peer_id>" through portFd (fork mode) or stdout.
    int serve(int portFd) {
        const std::string bind = _args.serveBind + ":" + std::to_string(_args.port);
        auto cfg = config(bind.c_str());
        if (_api->listen(_state, &cfg, &_events, &_endpoint) != LANSPREAD_OK)
            fail("cannot listen on " + bind);
        char address[128];
        size_t required = 0;
        _api->local_address(_endpoint, address, sizeof address, &required);
        const std::string port = std::strrchr(address, ':') + 1;
        const std::string line = port + " " + _identity.peerId + "\n";
        if (portFd >= 0) {
            [[maybe_unused]] ssize_t n = write(portFd, line.data(), line.size());
            close(portFd);
        } else {
            std::fprintf(stderr, "transport_pump: listening on %s as peer %s\n", address,
                         _identity.peerId.c_str());
        }
        _reactor.run();
        _api->destroy_endpoint(_endpoint);
        return _ok ? 0 : 1;
    }

    // Sender.
    int send() {
        auto cfg = config("");
        cfg.bind_addr = nullptr;
        if (_api->connect(_state, &cfg, _args.target.c_str(), &_events, &_conn) != LANSPREAD_OK)
            fail("cannot connect to " + _args.target);
        _payload.resize(4 * 1024 * 1024);
        std::mt19937_64 rng(20240601);
        for (std::size_t i = 0; i < _payload.size(); i += 8) {
            const uint64_t v = rng();
            std::memcpy(_payload.data() + i, &v, 8);
        }
        _reactor.run();
        return _ok ? 0 : 1;
    }

  private:
    [[noreturn]] void fail(const std::string &why) {
        std::fprintf(stderr, "transport_pump %s: %s\n", _role.c_str(), why.c_str());
        std::error_code ec;
        std::filesystem::remove_all(_stateDir, ec);
        std::exit(1);
    }

    void onConnected(lanspread_transport_conn *conn, const lanspread_remote_identity *remote) {
        const std::string peer = hex(remote->key_fingerprint, remote->key_fingerprint_len);
        if (!_args.expectPeer.empty() && peer != _args.expectPeer) {
            std::fprintf(stderr, "transport_pump %s: peer %s is not the expected %s\n",
                         _role.c_str(), peer.c_str(), _args.expectPeer.c_str());
            _api->close(conn, 1);
            return;
        }
        if (_role != "sender")
            return;
        if (_api->open_stream(conn, &_stream) != LANSPREAD_OK)
            fail("open_stream failed");
        _start = std::chrono::steady_clock::now();
        _cpuStart = cpuSeconds();
        pump();
    }

    void pump() {
        while (_sent < _args.bytes) {
            const std::size_t at = static_cast<std::size_t>(_sent % _payload.size());
            const std::size_t n = static_cast<std::size_t>(
                std::min<uint64_t>(_payload.size() - at, _args.bytes - _sent));
            const uint32_t flags = _sent + n == _args.bytes ? LANSPREAD_STREAM_FIN : 0;
            size_t accepted = 0;
            if (_api->send(_conn, _stream, _payload.data() + at, n, flags, &accepted) !=
                LANSPREAD_OK)
                fail("send failed");
            if (_args.verify && accepted > 0)
                sha256_update(&_hash, accepted, _payload.data() + at);
            _sent += accepted;
            if (accepted < n)
                return; // on_writable
        }
    }

    void onWritable(lanspread_transport_conn *, uint64_t stream) {
        if (_role == "sender" && stream == _stream)
            pump();
    }

    void onData(lanspread_transport_conn *conn, uint64_t stream, const uint8_t *data, size_t n,
                uint32_t flags) {
        if (_role == "sender") { // the receiver's verdict
            _verdict.append(reinterpret_cast<const char *>(data), n);
            _api->consume(conn, stream, n);
            if (flags & LANSPREAD_STREAM_FIN)
                finishSender(conn);
            return;
        }
        if (_received == 0 && n > 0) {
            _start = std::chrono::steady_clock::now();
            _cpuStart = cpuSeconds();
        }
        _received += n;
        if (_args.verify && n > 0)
            sha256_update(&_hash, n, data);
        _api->consume(conn, stream, n);
        if (flags & LANSPREAD_STREAM_FIN) {
            const double secs = elapsed(), cpu = cpuSeconds() - _cpuStart;
            std::string digest = digestHex();
            report("receiver", _received, secs, cpu, digest);
            const std::string verdict = "bytes=" + std::to_string(_received) +
                                        (_args.verify ? " sha256=" + digest : "") + "\n";
            size_t accepted = 0;
            _api->send(conn, stream, reinterpret_cast<const uint8_t *>(verdict.data()),
                       verdict.size(), LANSPREAD_STREAM_FIN, &accepted);
            _ok = true;
        }
    }

    void finishSender(lanspread_transport_conn *conn) {
        const double secs = elapsed(), cpu = cpuSeconds() - _cpuStart;
        const std::string digest = digestHex();
        report("sender", _sent, secs, cpu, digest);
        const std::string want =
            "bytes=" + std::to_string(_sent) + (_args.verify ? " sha256=" + digest : "") + "\n";
        _ok = _verdict == want;
        if (!_ok)
            std::fprintf(stderr, "transport_pump sender: receiver says \"%s\", expected \"%s\"\n",
                         _verdict.c_str(), want.c_str());
        _api->close(conn, 0);
    }

    void onClosed(lanspread_transport_conn *conn, lanspread_status status, const char *why) {
        if (!_ok || _role == "sender")
            std::fprintf(stderr, "transport_pump %s: connection closed (%s): %s\n", _role.c_str(),
                         lanspread_status_name(status), why ? why : "");
        if (conn == _conn)
            _conn = nullptr;
        _reactor.stop();
    }

    double elapsed() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - _start).count();
    }
    std::string digestHex() {
        if (!_args.verify)
            return "";
        uint8_t out[SHA256_DIGEST_SIZE];
        sha256_digest(&_hash, SHA256_DIGEST_SIZE, out);
        return hex(out, sizeof out);
    }
    void report(const char *role, uint64_t bytes, double secs, double cpu,
                const std::string &digest) {
        const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
        const double gib = mib / 1024.0;
        std::printf("role=%s bytes=%llu seconds=%.3f mib_per_s=%.1f cpu_s=%.3f "
                    "cpu_s_per_gib=%.3f%s%s\n",
                    role, static_cast<unsigned long long>(bytes), secs, mib / secs, cpu, cpu / gib,
                    digest.empty() ? "" : " sha256=", digest.c_str());
        std::fflush(stdout);
    }

    const Args &_args;
    std::string _role;
    std::string _stateDir;
    lanspread::kernel::peers::Identity _identity;
    Reactor _reactor;
    lanspread::kernel::host::EventBus _bus;
    lanspread::kernel::host::CancelRegistry _cancels;
    Poco::AutoPtr<Poco::Util::MapConfiguration> _config;
    std::unique_ptr<lanspread::kernel::host::PluginHost> _host;
    std::unique_ptr<lanspread::kernel::host::PluginLoader> _loader;
    const lanspread_transport_v1 *_api = nullptr;
    void *_state = nullptr;
    lanspread_transport_events _events{};
    lanspread_transport_endpoint *_endpoint = nullptr;
    lanspread_transport_conn *_conn = nullptr;
    uint64_t _stream = 0;
    std::vector<uint8_t> _payload;
    uint64_t _sent = 0, _received = 0;
    sha256_ctx _hash{};
    std::string _verdict;
    std::chrono::steady_clock::time_point _start;
    double _cpuStart = 0;
    bool _ok = false;
};

} // namespace

int main(int argc, char **argv) {
    Args args = parse(argc, argv);
    if (args.mode == "serve")
        return Side(args, "receiver").serve(-1);
    if (args.mode == "send")
        return Side(args, "sender").send();

    // fork: the child receives on an ephemeral port and tells the parent port and peer_id.
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    std::fflush(stdout);
    const pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        close(fds[0]);
        Args serveArgs = args;
        serveArgs.port = 0;
        int rc = 1;
        {
            Side receiver(serveArgs, "receiver");
            rc = receiver.serve(fds[1]);
        } // the destructor removes the temporary state dir; _Exit would skip it
        std::_Exit(rc);
    }
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n')
        line += c;
    close(fds[0]);
    const auto space = line.find(' ');
    if (space == std::string::npos) {
        std::fprintf(stderr, "transport_pump: the receiver did not start\n");
        waitpid(child, nullptr, 0);
        return 1;
    }
    Args sendArgs = args;
    sendArgs.target = "127.0.0.1:" + line.substr(0, space);
    sendArgs.expectPeer = line.substr(space + 1);
    int rc = Side(sendArgs, "sender").send();
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = rc ? rc : 1;
    return rc;
}
