#!/usr/bin/env bash
# B1 (docs/benchmarks.md): single-source transfer on loopback, lanspread's transports (a whole
# download and the bare transport, each over transport-quic and transport-tls) next to what a
# user would set up instead (curl from nginx) and the TCP ceiling (iperf3), in one run, RUNS
# times each; writes a Markdown table and a JSON file with medians and ratios.
#
#   tests/bench/run-b1.sh [BUILD_DIR]        (default build/release)
#   env: GIB=2 RUNS=3 OUT=<BUILD_DIR>/bench TRANSPORTS="quic tls"
#        QUIC_SET="cc=bbr max_udp_payload=1472" (transport-quic keys for its pump)
#        PARTY_KEY=1 adds a download row per transport with both peers holding a party key
#
# Needs: iperf3, nginx (nginx-light), curl, python3 (scripts/bench-packages.txt, installed by this script). nginx runs
# from a temporary prefix with its own config on 127.0.0.1 and is stopped afterwards.
set -euo pipefail

BUILD=${1:-build/release}
GIB=${GIB:-2}
RUNS=${RUNS:-3}
OUT=${OUT:-$BUILD/bench}
QUIC_SET=${QUIC_SET:-}
TRANSPORTS=${TRANSPORTS:-quic tls}
PARTY_KEY=${PARTY_KEY:-0}
PUMP=$BUILD/bin/transport_pump
PLUGINS=$BUILD/lib/lanspread/plugins

# The reference tools: installed from scripts/bench-packages.txt when missing.
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$(dirname "$0")/../../scripts/bench-packages.txt"
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for tool in iperf3 nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "run-b1: $tool is missing (apt-get install it)" >&2; exit 2; }
done
for t in $TRANSPORTS; do
  [[ $t == quic || $t == tls ]] || { echo "run-b1: TRANSPORTS names quic and tls, not $t" >&2; exit 2; }
  [[ -f $PLUGINS/lanspread-transport-$t.so ]] ||
    { echo "run-b1: build lanspread-transport-$t.so in $BUILD first" >&2; exit 2; }
done
[[ -x $PUMP && -x $BUILD/bin/lanspreadd ]] ||
  { echo "run-b1: build lanspreadd, transport_pump and the plugins in $BUILD first" >&2; exit 2; }
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lanspread-b1-XXXXXX)
NGINX_PID=""
IPERF_PID=""
cleanup() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  [[ -n $IPERF_PID ]] && kill "$IPERF_PID" 2>/dev/null && wait "$IPERF_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# utime+stime of a process and its reaped children, in seconds
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15+$16+$17)/hz}' "/proc/$1/stat"; }

RESULTS=$WORK/results.txt
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the file nginx serves: GIB GiB of random bytes, no holes, in the page cache ----
mkdir -p "$WORK/www" "$WORK/logs" "$WORK/tmp"
head -c "$((GIB * 1024 * 1024 * 1024))" /dev/urandom >"$WORK/www/blob"
# nginx's worker drops to an unprivileged user when started as root: let it read the file.
chmod a+rx "$WORK" "$WORK/www" && chmod a+r "$WORK/www/blob"
cat "$WORK/www/blob" >/dev/null
BYTES=$(stat -c %s "$WORK/www/blob")

# ---- nginx: one worker, sendfile, on 127.0.0.1 ----
NGINX_PORT=$(free_port)
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$NGINX_PORT/blob" && break; sleep 0.1; done
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)

# ---- iperf3 server ----
IPERF_PORT=$(free_port)
iperf3 -s -p "$IPERF_PORT" >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3

run_pump() { # TRANSPORT
  local args=()
  [[ $1 == quic ]] && for kv in $QUIC_SET; do args+=(--set "$kv"); done
  local out
  out=$("$PUMP" --fork --gib "$GIB" --quiet --transport "$1" \
    --plugin "$PLUGINS/lanspread-transport-$1.so" "${args[@]}")
  local rx tx
  rx=$(grep '^role=receiver' <<<"$out")
  tx=$(grep '^role=sender' <<<"$out")
  local mibs rcpu scpu
  mibs=$(sed -E 's/.*mib_per_s=([0-9.]+).*/\1/' <<<"$rx")
  rcpu=$(sed -E 's/.*cpu_s_per_gib=([0-9.]+).*/\1/' <<<"$rx")
  scpu=$(sed -E 's/.*cpu_s_per_gib=([0-9.]+).*/\1/' <<<"$tx")
  echo "pump-$1 $mibs $rcpu $scpu" >>"$RESULTS"
}

run_curl() {
  local before after line size secs
  before=$(cpu_of "$NGINX_WORKER")
  line=$(python3 - "$NGINX_PORT" <<'PY'
import resource, subprocess, sys
port = sys.argv[1]
out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}",
                      f"http://127.0.0.1:{port}/blob"], capture_output=True, text=True, check=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(out.stdout.strip(), ru.ru_utime + ru.ru_stime)
PY
)
  after=$(cpu_of "$NGINX_WORKER")
  read -r size secs ccpu <<<"$line"
  [[ $size == "$BYTES" ]] || { echo "run-b1: curl got $size of $BYTES bytes" >&2; exit 1; }
  python3 - "$size" "$secs" "$ccpu" "$before" "$after" >>"$RESULTS" <<'PY'
import sys
size, secs, ccpu, before, after = map(float, sys.argv[1:])
gib = size / 2**30
print(f"curl {size / 2**20 / secs:.1f} {ccpu / gib:.3f} {(after - before) / gib:.3f}")
PY
}

run_iperf() {
  iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -n "$((GIB * 1024))M" -J >"$WORK/iperf.json"
  python3 - "$WORK/iperf.json" >>"$RESULTS" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["end"]
secs = d["sum_received"]["seconds"]
size = d["sum_received"]["bytes"]
gib = size / 2**30
cpu = d["cpu_utilization_percent"]
# iperf3 reports CPU as a percentage of the test's wall time, per host.
print(f"iperf3 {size / 2**20 / secs:.1f} {cpu['remote_total'] / 100 * secs / gib:.3f} "
      f"{cpu['host_total'] / 100 * secs / gib:.3f}")
PY
}

# A whole lanspread download: two lanspreadd processes, GetChunk over TRANSPORT, every chunk
# SHA-256-verified and written to disk on the receiver (tests/bench/lanspread_download.py).
run_download() { # TRANSPORT [key]
  python3 "$(dirname "$0")/lanspread_download.py" "$BUILD" "$WORK/www/blob" "$WORK/download" "$@" \
    >>"$RESULTS"
}

# Interleaved, so a burst of load elsewhere on the machine hits every tool alike.
for run in $(seq "$RUNS"); do
  echo "run-b1: run $run/$RUNS" >&2
  for t in $TRANSPORTS; do
    run_download "$t"
    [[ $PARTY_KEY == 1 ]] && run_download "$t" key
    run_pump "$t"
  done
  run_curl
  run_iperf
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RESULTS" "$OUT" "$GIB" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$QUIC_SET" <<'PY'
import json, os, platform, statistics, subprocess, sys
results, out, gib, runs, load_before, load_after, quic_set = sys.argv[1:]
rows = {}
rss = {}
for line in open(results):
    tool, mibs, rcpu, scpu, *extra = line.split()
    rows.setdefault(tool, []).append((float(mibs), float(rcpu), float(scpu)))
    if extra:
        rss.setdefault(tool, []).append(float(extra[0]))
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "?")
hardware = {"nproc": os.cpu_count(), "cpu": cpu_model, "kernel": platform.release(),
            "load_before": load_before, "load_after": load_after}
med = {t: statistics.median(v[0] for v in r) for t, r in rows.items()}
report = {"benchmark": "B1 loopback single-source transfer", "gib": float(gib), "runs": int(runs),
          "quic_settings": quic_set, "hardware": hardware, "tools": {}}
names = {"download-quic": "lanspread download over transport-quic (2 lanspreadd, verified, written to disk)",
         "download-tls": "lanspread download over transport-tls (2 lanspreadd, verified, written to disk)",
         "download-quic-key": "the same over transport-quic, both peers holding a party key",
         "download-tls-key": "the same over transport-tls, both peers holding a party key",
         "pump-quic": "transport-quic alone (transport_pump, 2 processes)",
         "pump-tls": "transport-tls alone (transport_pump, 2 processes)",
         "curl": "curl from nginx (sendfile)", "iperf3": "iperf3 TCP (ceiling)"}
# Each row's own transport's pump is its "× pump"; curl and iperf3 are set against quic's.
pump_of = lambda t: "pump-" + (t.split("-")[1] if "-" in t else "quic")
for t, r in rows.items():
    report["tools"][t] = {
        "name": names[t], "mib_per_s": [v[0] for v in r],
        "median_mib_per_s": med[t], "min": min(v[0] for v in r), "max": max(v[0] for v in r),
        "median_receiver_cpu_s_per_gib": statistics.median(v[1] for v in r),
        "median_sender_cpu_s_per_gib": statistics.median(v[2] for v in r),
        "ratio_to_curl": med[t] / med["curl"] if med.get("curl") else None,
        "ratio_to_iperf3": med[t] / med["iperf3"] if med.get("iperf3") else None,
        "ratio_to_pump": med[t] / med[pump_of(t)] if med.get(pump_of(t)) else None,
        "max_receiver_peak_rss_mib": max(rss[t]) if t in rss else None}
json.dump(report, open(os.path.join(out, "b1.json"), "w"), indent=2)
lines = [f"## B1: {gib} GiB over loopback, {runs} runs each, interleaved",
         "",
         f"Hardware: nproc {hardware['nproc']}, {hardware['cpu']}, Linux {hardware['kernel']}; "
         f"load average before {load_before}, after {load_after}"
         + (f"; QUIC settings: {quic_set}" if quic_set else ""),
         "",
         "| what | median MiB/s | min | max | receiver CPU s/GiB | sender CPU s/GiB | × curl/nginx | × iperf3 | × pump | receiver peak RSS MiB |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for t in ("download-quic", "download-quic-key", "download-tls", "download-tls-key", "pump-quic",
          "pump-tls", "curl", "iperf3"):
    if t not in report["tools"]:
        continue
    e = report["tools"][t]
    lines.append(f"| {e['name']} | {e['median_mib_per_s']:.0f} | {e['min']:.0f} | {e['max']:.0f} | "
                 f"{e['median_receiver_cpu_s_per_gib']:.2f} | {e['median_sender_cpu_s_per_gib']:.2f} | "
                 f"{e['ratio_to_curl']:.2f} | {e['ratio_to_iperf3']:.2f} | "
                 + (f"{e['ratio_to_pump']:.2f} | " if e['ratio_to_pump'] else "— | ")
                 + (f"{e['max_receiver_peak_rss_mib']:.0f} |" if e['max_receiver_peak_rss_mib'] else "— |"))
open(os.path.join(out, "b1.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "run-b1: wrote $OUT/b1.md and $OUT/b1.json" >&2
