#!/usr/bin/env python3
"""The web frontend's bench (issue 16), run by run-web.sh inside a 2-host lab of
tests/netns/netns-avahi-lab.sh (`with`: LAB_SH is set, the lab comes down after this exits).

    WEB_BUILD=DIR WEB_WORK=DIR WEB_RESULTS=FILE WEB_MIB=N WEB_RATE=R WEB_ROUNDS=N WEB_IDLE_S=S \
        [WEB_STREAMS=20] [WEB_IPERF3=1] web_bench.py

(in the environment, as lab_bench.sh's run_lab_bench passes them; LAB_SH comes from the lab's
`with`). WEB_IPERF3=0 leaves iperf3 out.

1. Idle CPU. Host 2 runs two peers side by side, one loading frontend-web and one not (the
   same other plugins); after 5 s each one's utime+stime (/proc/<pid>/stat; and the sum of its
   threads' schedstat run time, in ns) is taken over WEB_IDLE_S seconds, both in the same
   window; then again with one event stream open on the web peer (its client reading).
2. Streams. Host 1 serves a game whose only archive is WEB_MIB MiB of random bytes; host 2's
   receiver loads frontend-web. WEB_ROUNDS rounds, the modes taking turns going first: a
   `download` (install=false) with no event stream open, the same with WEB_STREAMS clients
   (web_streams.py, on host 2 where the API listens on 127.0.0.1) reading the receiver's events
   throughout, and iperf3 TCP host 1 -> host 2 with the same bytes (the link's ceiling). After
   each download the copy is checked (size, SHA-256 of its first and last MiB) and `remove`d.
   A download's MiB/s is the receiver's own download-finished mib_per_s.

Exits non-zero (the smoke test fails) when a peer, a download or an event stream fails: a
stream that is refused, skips an id or never sees download-finished. The figures themselves
are never judged here.
"""
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

build, work, results_file = os.environ["WEB_BUILD"], os.environ["WEB_WORK"], os.environ["WEB_RESULTS"]
here = os.path.dirname(os.path.abspath(__file__))
MIB = int(os.environ["WEB_MIB"])
RATE = os.environ["WEB_RATE"]
ROUNDS = int(os.environ["WEB_ROUNDS"])
IDLE_S = float(os.environ["WEB_IDLE_S"])
STREAMS = int(os.environ.get("WEB_STREAMS", "20"))
IPERF3 = os.environ.get("WEB_IPERF3", "1") == "1"
LAB_SH = os.environ["LAB_SH"]
LANSPREADD = os.path.join(build, "bin", "lanspreadd")
BASE_PLUGINS = "org.lanspread.frontend.cli,org.lanspread.transport.quic,org.lanspread.unpacker.libarchive"
WEB_PLUGIN = "org.lanspread.frontend.web"
HZ = os.sysconf("SC_CLK_TCK")
GAME = "bench"
children = []  # every process started here, killed on the way out


def log(text):
    print(f"web: {text}", flush=True)


def lab(*args, **kw):
    return subprocess.run([LAB_SH, *args], check=True, text=True, **kw)


def host_ip(i):
    return lab("ip", str(i), capture_output=True).stdout.strip()


def spawn(host, argv, **kw):
    """argv inside host `host` (the lab's exec is nsenter + env, which both exec: the pid is argv's)."""
    p = subprocess.Popen([LAB_SH, "exec", str(host), "--", *argv], **kw)
    children.append(p)
    return p


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_ns(pid):
    """{tid: (name, CPU ns)} of the threads alive now (schedstat: finer than the 10 ms ticks)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            ns = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
            out[tid] = (open(f"/proc/{pid}/task/{tid}/comm").read().strip(), ns)
        except (OSError, ValueError):
            pass  # a thread that just ended
    return out


class Peer:
    def __init__(self, name, host, web, catalog=None):
        self.name = name
        root = os.path.join(work, name)
        self.games = os.path.join(root, "games")
        self.state = os.path.join(root, "state")
        os.makedirs(self.games, exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        argv = [LANSPREADD, "--games", self.games, "--state", self.state,
                "--listen", f"{host_ip(host)}:0", "--name", name, "--log-level", "warning",
                "--plugins", (WEB_PLUGIN + "," if web else "") + BASE_PLUGINS]
        if web:
            ini = os.path.join(root, "lanspread.ini")
            with open(ini, "w") as f:
                f.write(f"[plugin.{WEB_PLUGIN}]\nlisten = 127.0.0.1:0\n")
            argv += ["--config", ini]
        if catalog:
            argv += ["--catalog", catalog]
        self.stderr_path = os.path.join(root, "stderr.log")
        self.proc = spawn(host, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=open(self.stderr_path, "w"), text=True, bufsize=1)
        self.pid = self.proc.pid
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.serial = 0
        self.addr = self.wait(lambda e: e.get("event") == "local-peer-ready", 120)["listen_addr"]
        comm = open(f"/proc/{self.pid}/comm").read().strip()
        if comm != "lanspreadd":
            raise SystemExit(f"web_bench: pid {self.pid} is {comm}, not lanspreadd")
        self.url_file = os.path.join(self.state, "frontend-web.url")
        if web:
            deadline = time.time() + 30
            while not (os.path.exists(self.url_file) and os.path.getsize(self.url_file) > 0):
                if time.time() > deadline:
                    raise SystemExit(f"web_bench: {name} wrote no {self.url_file}: {self.stderr_tail()}")
                time.sleep(0.1)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def stderr_tail(self):
        try:
            return open(self.stderr_path).read()[-2000:]
        except OSError:
            return ""

    def wait(self, predicate, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if event is None:
                raise SystemExit(f"web_bench: {self.name} exited: {self.stderr_tail()}")
            if predicate(event):
                return event
        raise SystemExit(f"web_bench: timed out waiting on {self.name}")

    def command(self, cmd, check=True, **fields):
        self.serial += 1
        fields.update(id=str(self.serial), cmd=cmd)
        self.proc.stdin.write(json.dumps(fields) + "\n")
        self.proc.stdin.flush()
        result = self.wait(lambda e: e.get("event") == "result" and e.get("id") == str(self.serial), 120)
        if check and not result["ok"]:
            raise SystemExit(f"web_bench: {self.name}: {cmd} failed: {result['error']}")
        return result

    def stop(self):
        try:
            self.command("shutdown")
            self.proc.wait(30)
        except (Exception, SystemExit):
            self.proc.kill()
            self.proc.wait()


def cpu_ms_per_min(ticks, seconds):
    return ticks * 1000 / HZ / seconds * 60


def measure_idle(peers):
    """utime+stime and schedstat run time of each peer over the same IDLE_S window."""
    t0 = time.monotonic()
    before = {p.name: (cpu_ticks(p.pid), thread_ns(p.pid)) for p in peers}
    time.sleep(IDLE_S)
    after = {p.name: (cpu_ticks(p.pid), thread_ns(p.pid)) for p in peers}
    seconds = time.monotonic() - t0
    out = {}
    for p in peers:
        ticks = after[p.name][0] - before[p.name][0]
        # A thread born in the window counts from 0; one that ended in it is not seen.
        per_thread = {}
        for tid, (name, ns) in after[p.name][1].items():
            delta = ns - before[p.name][1].get(tid, (name, 0))[1]
            if delta > 0:
                per_thread[f"{name}/{tid}"] = round(delta / 1e6 / seconds * 60, 2)
        out[p.name] = {"seconds": round(seconds, 3), "cpu_ticks": ticks,
                       "cpu_ms_per_min": round(cpu_ms_per_min(ticks, seconds), 1),
                       "sched_ms_per_min": round(sum(per_thread.values()), 1),
                       "sched_ms_per_min_per_thread": per_thread,
                       "threads": len(after[p.name][1])}
    return out


class StreamClients:
    """web_streams.py with `n` streams on host 2, reading until close()."""

    def __init__(self, peer, n, until=None):
        argv = ["python3", os.path.join(here, "web_streams.py"), peer.url_file, str(n)]
        if until:
            argv += ["--until", until]
        self.n = n
        self.stderr_path = os.path.join(work, f"web_streams-{time.time_ns()}.log")
        self.proc = spawn(2, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=open(self.stderr_path, "w"), text=True)
        line = self.proc.stdout.readline().strip()
        if line != f"ready {n}":
            self.proc.kill()
            raise SystemExit(f"web_bench: the event streams did not open ({line!r}): "
                             f"{open(self.stderr_path).read()[-2000:]}")
        self.cpu0 = cpu_ticks(self.proc.pid)

    def close(self):
        cpu = cpu_ticks(self.proc.pid) - self.cpu0
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        rc = self.proc.wait(60)
        if rc != 0:
            raise SystemExit(f"web_bench: the event streams failed (rc {rc}): "
                             f"{open(self.stderr_path).read()[-2000:]} {out[-2000:]}")
        report = json.loads(out)
        report["client_cpu_s"] = round(cpu / HZ, 3)
        return report


def idle_phase():
    log(f"idle: two peers on host 2, with and without {WEB_PLUGIN}")
    plain = Peer("idle-plain", 2, web=False)
    web = Peer("idle-web", 2, web=True)
    time.sleep(5)  # settle: the first library scan, the plugin's start
    without_stream = measure_idle([plain, web])
    clients = StreamClients(web, 1)
    time.sleep(1)
    with_stream = measure_idle([plain, web])
    report = clients.close()
    web.stop()
    plain.stop()
    result = {"window_no_stream": without_stream, "window_one_stream": with_stream,
              "idle_stream": report["streams"][0], "idle_stream_client_cpu_s": report["client_cpu_s"]}
    log(f"idle: {json.dumps(result)}")
    return result


def edge_hash(path, size):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return h.hexdigest()


def download(receiver, source, blob, blob_hash, size, streams):
    clients = StreamClients(receiver, streams, until="download-finished") if streams else None
    rx0, tx0 = cpu_ticks(receiver.pid), cpu_ticks(source.pid)
    receiver.command("download", game=GAME, install=False)
    done = receiver.wait(lambda e: e.get("event") in ("download-finished", "download-failed")
                         and e.get("game") == GAME, 60 + MIB * 0.5)
    rx, tx = cpu_ticks(receiver.pid) - rx0, cpu_ticks(source.pid) - tx0
    report = clients.close() if clients else None
    if done["event"] != "download-finished":
        raise SystemExit(f"web_bench: {done}")
    copy = os.path.join(receiver.games, GAME, "bench.eti")
    if os.path.getsize(copy) != size or edge_hash(copy, size) != blob_hash:
        raise SystemExit("web_bench: the downloaded copy differs from the source")
    # The library indexes the new root after download-finished; remove waits for that.
    deadline = time.time() + 120
    while True:
        result = receiver.command("remove", check=False, game=GAME)
        if result["ok"]:
            break
        if result["error"]["code"] != "operation-in-progress" or time.time() > deadline:
            raise SystemExit(f"web_bench: remove failed: {result['error']}")
        time.sleep(0.2)
    run = {"mib_per_s": done["mib_per_s"], "duration_ms": done["duration_ms"], "bytes": done["bytes"],
           "receiver_cpu_s": round(rx / HZ, 3), "source_cpu_s": round(tx / HZ, 3)}
    if report:
        run["streams"] = [{k: s[k] for k in ("events", "keepalives", "first_id", "last_id", "id_gaps",
                                             "by_event")} for s in report["streams"]]
        run["events_per_stream"] = [s["events"] for s in report["streams"]]
        run["client_cpu_s"] = report["client_cpu_s"]
    return run


def iperf3(size, round_no):
    d = os.path.join(work, f"iperf3-{round_no}")
    os.makedirs(d)
    server = spawn(1, ["iperf3", "--server", "--one-off", "--port", "5201", "--bind", host_ip(1)],
                   stdout=open(os.path.join(d, "server.log"), "w"), stderr=subprocess.STDOUT)
    out = None
    for _ in range(50):
        time.sleep(0.1)  # the server binds its port
        p = subprocess.run([LAB_SH, "exec", "2", "--", "iperf3", "--client", host_ip(1), "--port", "5201",
                            "--reverse", "--json", "--bytes", str(size)], capture_output=True, text=True,
                           timeout=60 + MIB * 0.5)
        if p.returncode == 0:
            out = json.loads(p.stdout)
            break
    server.wait(10)
    if out is None:
        raise SystemExit(f"web_bench: iperf3 failed: {p.stdout[-1000:]} {p.stderr[-1000:]}")
    received = out["end"]["sum_received"]
    return {"mib_per_s": round(received["bytes"] / received["seconds"] / 2**20, 1),
            "bytes": received["bytes"], "seconds": received["seconds"]}


def streams_phase():
    size = MIB << 20
    blob = os.path.join(work, "blob")
    with open(blob, "wb") as f, open("/dev/urandom", "rb") as rnd:
        for _ in range(MIB):
            f.write(rnd.read(1 << 20))
    blob_hash = edge_hash(blob, size)
    catalog = os.path.join(work, "catalog.json")
    with open(catalog, "w") as f:
        json.dump({"games": [{"id": GAME, "name": "web bench", "version": "1", "description": "web bench"}]}, f)
    source = Peer("source", 1, web=False, catalog=catalog)
    os.makedirs(os.path.join(source.games, GAME))
    os.link(blob, os.path.join(source.games, GAME, "bench.eti"))
    with open(os.path.join(source.games, GAME, "version.ini"), "w") as f:
        f.write("1\n")
    source.wait(lambda e: e.get("event") == "local-library-changed" and
                any(g["id"] == GAME and g["availability"] == "Ready" for g in e["games"]), 300)
    receiver = Peer("receiver", 2, web=True, catalog=catalog)
    receiver.command("connect", addr=source.addr)
    modes = ["none", "streams"] + (["iperf3"] if IPERF3 else [])
    runs = {m: [] for m in modes}
    for r in range(ROUNDS):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        for mode in order:
            if mode == "iperf3":
                run = iperf3(size, r + 1)
            else:
                run = download(receiver, source, blob, blob_hash, size, STREAMS if mode == "streams" else 0)
            runs[mode].append(run)
            extra = (f", events per stream {min(run['events_per_stream'])}..{max(run['events_per_stream'])}"
                     if "events_per_stream" in run else "")
            log(f"round {r + 1} {mode}: {run['mib_per_s']:.1f} MiB/s{extra}")
    receiver.stop()
    source.stop()
    return {"modes": modes, "runs": runs}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(work, exist_ok=True)
    lab("shape", RATE)
    try:
        result = {"mib": MIB, "rate": RATE, "rounds": ROUNDS, "idle_s": IDLE_S, "streams": STREAMS,
                  "clk_tck": HZ, "idle": idle_phase()}
        result.update(streams_phase())
    finally:
        for p in children:
            if p.poll() is None:
                p.kill()
                p.wait()
    with open(results_file, "w") as f:
        json.dump(result, f, indent=2)


main()
