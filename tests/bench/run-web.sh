#!/usr/bin/env bash
# The web frontend's bench (issue 16, docs/benchmarks.md, B10): what loading frontend-web costs
# a peer when idle, and whether 20 open event streams slow a download. In a 2-host lab of
# tests/netns/netns-avahi-lab.sh (no avahi), every port tbf-shaped to RATE both ways, it runs
# tests/bench/web_bench.py (the peers and the measurements; web_streams.py is the SSE clients):
#   1. idle: two peers on host 2, one with org.lanspread.frontend.web and one without, CPU ms
#      per minute over IDLE_S seconds in the same window, then again with one event stream open;
#   2. ROUNDS rounds, the modes taking turns going first: a download of a MIB MiB game from
#      host 1 by host 2 (which loads frontend-web) with no event stream, the same with 20 SSE
#      clients reading the receiver's events, and iperf3 TCP on the same link (the ceiling).
#
#   tests/bench/run-web.sh [BUILD_DIR]                  (default build/release)
#   env: MIB=512  RATE=500mbit  ROUNDS=3  IDLE_S=30  STREAMS=20  LAB_NAME=lsnd-web
#        OUT=<BUILD_DIR>/bench  WEB_INSTALL=0: do not install iperf3 (then no iperf3 row)
#        NETNS_TEST_LIMIT: seconds the lab run may take (default from the sizes)
#
# Writes OUT/web.md, OUT/web.json and OUT/web.log. Root only (network namespaces). The lab is
# taken down and every process of it killed on exit, also on failure (run-in-lab.sh).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build/release}
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench}
MIB=${MIB:-512}
RATE=${RATE:-500mbit}
ROUNDS=${ROUNDS:-3}
IDLE_S=${IDLE_S:-30}
STREAMS=${STREAMS:-20}
export LAB_NAME=${LAB_NAME:-lsnd-web}

[[ $MIB =~ ^[0-9]+$ && $MIB -ge 2 ]] || { echo "run-web: MIB must be a whole number of MiB >= 2" >&2; exit 2; }
[[ $RATE =~ ^[0-9.]+[kmg]bit$ ]] || { echo "run-web: RATE must be a tc rate such as 500mbit" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || { echo "run-web: ROUNDS must be >= 1" >&2; exit 2; }
[[ $IDLE_S =~ ^[0-9]+$ && $IDLE_S -ge 1 ]] || { echo "run-web: IDLE_S must be whole seconds >= 1" >&2; exit 2; }
[[ $STREAMS =~ ^[0-9]+$ && $STREAMS -ge 1 && $STREAMS -le 32 ]] ||
  { echo "run-web: STREAMS must be 1..32 (the plugin's default max_event_streams)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-web: needs root (network namespaces)" >&2; exit 2; }
for f in "$BUILD/bin/lanspreadd" "$BUILD/lib/lanspread/plugins/lanspread-frontend-web.so" \
         "$BUILD/lib/lanspread/plugins/lanspread-frontend-cli.so" \
         "$BUILD/lib/lanspread/plugins/lanspread-transport-quic.so" \
         "$BUILD/lib/lanspread/plugins/lanspread-unpacker-libarchive.so"; do
  [ -e "$f" ] || { echo "run-web: $f is missing: build lanspreadd frontend_web frontend_cli transport_quic unpacker_libarchive in $BUILD first" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "run-web: python3 is missing" >&2; exit 2; }
if ! command -v iperf3 >/dev/null && [ "${WEB_INSTALL:-1}" != 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null
fi
IPERF3=0
command -v iperf3 >/dev/null && IPERF3=1
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lanspread-web-XXXXXX)
trap 'cp "$WORK/test.log" "$OUT/web.log" 2>/dev/null; rm -rf "$WORK"' EXIT
source "$HERE/lab_bench.sh"
# Each transfer may take MIB/5 s (5 MiB/s) before the lab run is cut off.
LIMIT=${NETNS_TEST_LIMIT:-$((140 + 2 * IDLE_S + ROUNDS * (3 * MIB / 5 + 30)))}
run_lab_bench run-web 2 python3 "$HERE/web_bench.py" \
  WEB_BUILD="$BUILD" WEB_WORK="$WORK/run" WEB_RESULTS="$WORK/web-run.json" WEB_MIB="$MIB" \
  WEB_RATE="$RATE" WEB_ROUNDS="$ROUNDS" WEB_IDLE_S="$IDLE_S" WEB_STREAMS="$STREAMS" WEB_IPERF3="$IPERF3"
grep -E '^web: round' "$WORK/test.log" || true

COMMAND="MIB=$MIB RATE=$RATE ROUNDS=$ROUNDS IDLE_S=$IDLE_S tests/bench/run-web.sh ${1:-build/release}"
python3 - "$HERE" "$WORK/web-run.json" "$OUT" "$COMMAND" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, os, statistics, sys
sys.path.insert(0, sys.argv[1])
import bench_report
run_file, out, command, load_before, load_after = sys.argv[2:]
r = bench_report.load(run_file, command, load_before, load_after)
med = statistics.median
runs = r["runs"]
speed = {m: [x["mib_per_s"] for x in runs[m]] for m in r["modes"]}
ratios = [w / n for w, n in zip(speed["streams"], speed["none"])]
ratio = med(speed["streams"]) / med(speed["none"])
idle = r["idle"]
a, b = idle["window_no_stream"], idle["window_one_stream"]
r["summary"] = {
    "idle_cpu_ms_per_min": {"without_web": a["idle-plain"]["cpu_ms_per_min"],
                            "with_web": a["idle-web"]["cpu_ms_per_min"],
                            "without_web_second_window": b["idle-plain"]["cpu_ms_per_min"],
                            "with_web_one_stream": b["idle-web"]["cpu_ms_per_min"]},
    "median_mib_per_s": {m: med(v) for m, v in speed.items()},
    "ratio_streams_to_none": round(ratio, 4),
    "ratio_per_round": [round(x, 4) for x in ratios],
    "within_5_percent": ratio >= 0.95,
}
json.dump(r, open(os.path.join(out, "web.json"), "w"), indent=2)

def core_pct(ms_per_min):
    return f"{ms_per_min / 600:.3f} %"

lines = [f"## Web frontend (issue 16): idle CPU, and {r['streams']} event streams during a download",
         "", bench_report.hardware_line(r), "",
         f"### Idle: two peers side by side on host 2, {r['idle_s']:g} s windows",
         "",
         "| peer | CPU ms/min (utime+stime, ticks of "
         f"{1000 // r['clk_tck']} ms) | CPU ms/min (threads' schedstat) | threads |",
         "| --- | ---: | ---: | ---: |"]
rows = [("without frontend-web", a["idle-plain"]), ("with frontend-web", a["idle-web"]),
        ("without frontend-web (second window)", b["idle-plain"]),
        ("with frontend-web, one event stream open", b["idle-web"])]
for name, v in rows:
    lines.append(f"| {name} | {v['cpu_ms_per_min']:.1f} | {v['sched_ms_per_min']:.1f} | {v['threads']} |")
extra = a["idle-web"]["sched_ms_per_min"] - a["idle-plain"]["sched_ms_per_min"]
extra1 = b["idle-web"]["sched_ms_per_min"] - b["idle-plain"]["sched_ms_per_min"]
s = idle["idle_stream"]
lines += ["",
          f"frontend-web adds {extra:.1f} ms of CPU per minute idle (schedstat; {core_pct(extra)} of "
          f"one core), {extra1:.1f} ms/min ({core_pct(extra1)}) with one event stream open. The idle "
          f"stream received {s['events']} events and {s['keepalives']} keepalive comments; its "
          f"client used {idle['idle_stream_client_cpu_s']:.2f} s of CPU.",
          "",
          f"### Download: {r['mib']} MiB, one source -> one receiver (with frontend-web), every port "
          f"{r['rate']} both ways, {r['rounds']} round(s), interleaved",
          "",
          "| what | median MiB/s | min | max | × iperf3 | receiver CPU s (median) |",
          "| --- | ---: | ---: | ---: | ---: | ---: |"]
names = {"iperf3": "iperf3 TCP (the link's ceiling)", "none": "download, no event stream",
         "streams": f"download, {r['streams']} event streams reading"}
for m in r["modes"]:
    v = speed[m]
    x = f"{med(v) / med(speed['iperf3']):.2f}" if "iperf3" in r["modes"] else "—"
    cpu = (f"{med([y['receiver_cpu_s'] for y in runs[m]]):.2f}" if m != "iperf3" else "—")
    lines.append(f"| {names[m]} | {med(v):.1f} | {min(v):.1f} | {max(v):.1f} | {x} | {cpu} |")
verdict = "within 5 %" if ratio >= 0.95 else "NOT within 5 %"
lines += ["",
          f"With / without streams: **{ratio:.3f}** (median / median; per round "
          f"{', '.join(f'{x:.3f}' for x in ratios)}): {verdict}.", "",
          "Events each stream received (every one parsed, ids without gaps, each saw "
          "`download-finished`):", ""]
for i, run in enumerate(runs["streams"], 1):
    ev = run["events_per_stream"]
    kinds = run["streams"][0]["by_event"]
    lines.append(f"- round {i}: {len(ev)} streams, {min(ev)}–{max(ev)} events each "
                 f"({', '.join(f'{k} {n}' for k, n in kinds.items())} on stream 1); "
                 f"the clients used {run['client_cpu_s']:.2f} s of CPU")
lines += ["", f"Command: `{command}`"]
open(os.path.join(out, "web.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "run-web: wrote $OUT/web.md and $OUT/web.json" >&2
