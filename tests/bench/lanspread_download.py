#!/usr/bin/env python3
"""One lanspread download for the B1 benchmark (docs/benchmarks.md): two real lanspreadd processes
on loopback over TRANSPORT (quic or tls: the only transport both load), the source serving
BLOB as the only archive of a catalog game, the receiver running `download` with install=false.
Prints one line for run-b1.sh:

    download-<transport> <mib_per_s> <receiver_cpu_s_per_gib> <sender_cpu_s_per_gib> <receiver_peak_rss_mib>

mib_per_s is the receiver's own download-finished figure (first request to version.ini
committed, every chunk SHA-256-verified and written). The downloaded copy is compared with
the source by size and SHA-256 of its first and last MiB, then removed.

    lanspread_download.py BUILD_DIR BLOB WORK_DIR [TRANSPORT] [key]

With "key", both peers hold the same party key (lanspread.party_key, docs/configuration.md)
and the row is download-<transport>-key: the key costs one handshake exchange, nothing per
byte, so this row should match the keyless one.
"""
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

build, blob, work = sys.argv[1:4]
transport = sys.argv[4] if len(sys.argv) > 4 else "quic"
if transport not in ("quic", "tls"):
    raise SystemExit(f"lanspread_download: TRANSPORT is quic or tls, not {transport}")
keyed = len(sys.argv) > 5 and sys.argv[5] == "key"
if len(sys.argv) > 5 and not keyed:
    raise SystemExit(f"lanspread_download: the fifth argument is 'key' or nothing, not {sys.argv[5]}")
plugins = ("org.lanspread.frontend.cli,org.lanspread.unpacker.libarchive,"
           f"org.lanspread.transport.{transport}")
lanspreadd = os.path.join(build, "bin", "lanspreadd")
hz = os.sysconf("SC_CLK_TCK")
size = os.path.getsize(blob)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peer:
    def __init__(self, name, catalog):
        root = os.path.join(work, name)
        self.games = os.path.join(root, "games")
        os.makedirs(self.games, exist_ok=True)
        os.makedirs(os.path.join(root, "state"), exist_ok=True)
        config = []
        if keyed:
            ini = os.path.join(root, "lanspread.ini")
            with open(ini, "w") as f:
                f.write("[lanspread]\nparty_key = b1 bench party\n")
            config = ["--config", ini]
        self.proc = subprocess.Popen(
            [lanspreadd, *config, "--games", self.games, "--state", os.path.join(root, "state"),
             "--catalog", catalog, "--listen", "127.0.0.1:0", "--name", name,
             "--plugins", plugins, "--log-level", "warning"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(root, "stderr.log"), "w"), text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.serial = 0
        ready = self.wait(lambda e: e.get("event") == "local-peer-ready", 120)
        self.addr = ready["listen_addr"]

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait(self, predicate, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if predicate(event):
                return event
        raise SystemExit(f"lanspread_download: timed out waiting on {self.proc.args[-1]}")

    def command(self, cmd, **fields):
        self.serial += 1
        fields.update(id=str(self.serial), cmd=cmd)
        self.proc.stdin.write(json.dumps(fields) + "\n")
        self.proc.stdin.flush()
        result = self.wait(lambda e: e.get("event") == "result" and e.get("id") == str(self.serial), 60)
        if not result["ok"]:
            raise SystemExit(f"lanspread_download: {cmd} failed: {result['error']}")
        return result

    def stop(self):
        try:
            self.command("shutdown")
            self.proc.wait(30)
        except Exception:
            self.proc.kill()


def edge_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return h.hexdigest()


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
catalog = os.path.join(work, "catalog.json")
json.dump({"games": [{"id": "bench", "name": "B1 blob", "version": "1", "description": "B1"}]},
          open(catalog, "w"))
source = Peer("source", catalog)
os.makedirs(os.path.join(source.games, "bench"))
try:
    os.link(blob, os.path.join(source.games, "bench", "bench.eti"))  # same bytes, no copy
except OSError:
    shutil.copyfile(blob, os.path.join(source.games, "bench", "bench.eti"))
with open(os.path.join(source.games, "bench", "version.ini"), "w") as f:
    f.write("1\n")
# The source indexes (hashes) the new root before it offers it.
source.wait(lambda e: e.get("event") == "local-library-changed" and
            any(g["id"] == "bench" and g["availability"] == "Ready" for g in e["games"]), 300)
receiver = Peer("receiver", catalog)
receiver.command("connect", addr=source.addr)
cpu_rx, cpu_tx = cpu_seconds(receiver.proc.pid), cpu_seconds(source.proc.pid)
receiver.command("download", game="bench", install=False)
done = receiver.wait(lambda e: e.get("event") in ("download-finished", "download-failed"), 600)
cpu_rx, cpu_tx = cpu_seconds(receiver.proc.pid) - cpu_rx, cpu_seconds(source.proc.pid) - cpu_tx
rss = peak_rss_mib(receiver.proc.pid)
if done["event"] != "download-finished":
    raise SystemExit(f"lanspread_download: {done}")
copy = os.path.join(receiver.games, "bench", "bench.eti")
if os.path.getsize(copy) != size or edge_hash(copy) != edge_hash(blob):
    raise SystemExit("lanspread_download: the downloaded copy differs from the source")
receiver.stop()
source.stop()
gib = size / 2**30
print(f"download-{transport}{'-key' if keyed else ''} {done['mib_per_s']:.1f} {cpu_rx / gib:.3f} {cpu_tx / gib:.3f} {rss:.1f}")
shutil.rmtree(work, ignore_errors=True)
