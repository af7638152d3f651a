#!/usr/bin/env bash
# The streamed-install bench (B9, docs/benchmarks.md): a seeder and a receiver in network
# namespaces (tests/netns/netns-avahi-lab.sh, no avahi: the peers meet by `connect`), every port
# tbf-shaped to RATE both ways, a game of STREAM_FILES files of MIB MiB in all in one .eti:
# STREAM_FORMAT=tar (pseudo-random bytes, nothing to compress; the install copies) or zip
# (deflate, bytes it compresses to about 0.57; the install inflates, CPU-bound as a real game's
# is; MIB=1792 makes a ~1 GiB zip). In the same run, round after round, on a fresh receiver
# each time:
#   (a) stream-install                     command -> install-finished
#   (b) download install=false, install    command -> install-finished (the pair; install is
#                                          sent once the download's operation has ended)
#   (c) download install=false alone       command -> download-finished
# It is NetnsStreamTest::streamBench (tests/netns/netns_stream_test.cpp), which checks every
# result by SHA-256; this script only runs it and formats its numbers.
#
#   tests/bench/run-stream.sh MIB RATE [BUILD_DIR]      e.g. 1024 1gbit build/release
#   env: OUT=<BUILD_DIR>/bench  LAB_NAME=lsnd-stream  STREAM_ROUNDS=3  STREAM_FILES=8
#        STREAM_FORMAT=tar
#
# Prints each mode's times, the ratios stream/(download+install) and stream/download (median,
# min, max), the receiver's peak RSS (VmHWM) per mode, the bytes stream-install fetched per
# archive byte (above 1 when chunks were fetched twice) and the CPU seconds receiver (and its
# busiest thread) and seeder spent in each run; writes OUT/stream.md and OUT/stream.json. Root
# only (network namespaces).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
usage="usage: run-stream.sh MIB RATE [BUILD_DIR]   (e.g. 1024 1gbit build/release)"
MIB=${1:?$usage}
RATE=${2:?$usage}
BUILD=${3:-build/release}
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench}
export LAB_NAME=${LAB_NAME:-lsnd-stream}
export STREAM_ROUNDS=${STREAM_ROUNDS:-3}
export STREAM_FILES=${STREAM_FILES:-8}
export STREAM_FORMAT=${STREAM_FORMAT:-tar}
TEST=$BUILD/bin/netns_stream_test

[[ $MIB =~ ^[0-9]+$ && $MIB -ge $STREAM_FILES ]] || { echo "run-stream: MIB must be a whole number of MiB, at least STREAM_FILES ($STREAM_FILES)" >&2; exit 2; }
[[ $RATE =~ ^[0-9.]+[kmg]bit$ ]] || { echo "run-stream: RATE must be a tc rate such as 1gbit" >&2; exit 2; }
[[ $STREAM_FORMAT == tar || $STREAM_FORMAT == zip ]] || { echo "run-stream: STREAM_FORMAT must be tar or zip" >&2; exit 2; }
[[ $STREAM_ROUNDS =~ ^[0-9]+$ && $STREAM_ROUNDS -ge 1 ]] || { echo "run-stream: STREAM_ROUNDS must be >= 1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-stream: needs root (network namespaces)" >&2; exit 2; }
for f in "$TEST" "$BUILD/bin/lanspreadd" "$BUILD/lib/lanspread/plugins/lanspread-transport-quic.so" \
         "$BUILD/lib/lanspread/plugins/lanspread-unpacker-libarchive.so"; do
  [ -e "$f" ] || { echo "run-stream: $f is missing: build netns_stream_test in $BUILD first" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "run-stream: python3 is missing" >&2; exit 2; }
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lanspread-stream-XXXXXX)
trap 'cp "$WORK/test.log" "$OUT/stream.log" 2>/dev/null; rm -rf "$WORK"' EXIT
source "$HERE/lab_bench.sh"
# Three transfers per round at RATE, at least 5 MiB/s each, plus the installs and start-up
# (a zip of MIB MiB is ~0.6 MIB MiB, but takes ~1 minute a GiB to write).
LIMIT=${NETNS_TEST_LIMIT:-$((240 + STREAM_ROUNDS * 3 * MIB / 5))}
run_lab_bench run-stream 2 "$TEST" NetnsStreamTest::streamBench \
  STREAM_MIB="$MIB" STREAM_RATE="$RATE" STREAM_RESULTS="$WORK/stream-run.json"
grep -oE '(B9:|stream[0-9]+:|pair[0-9]+:|download[0-9]+:).*' "$WORK/test.log" || true

COMMAND="tests/bench/run-stream.sh $MIB $RATE ${3:-build/release}"
[ "$STREAM_FORMAT" = tar ] || COMMAND="STREAM_FORMAT=$STREAM_FORMAT $COMMAND"
python3 - "$HERE" "$WORK/stream-run.json" "$OUT" "$COMMAND" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import bench_report
run_file, out, command, load_before, load_after = sys.argv[2:]
r = bench_report.load(run_file, command, load_before, load_after)
json.dump(r, open(os.path.join(out, "stream.json"), "w"), indent=2)

s = lambda ms: f"{ms / 1000:.2f}"
mib = lambda kib: f"{kib / 1024:.1f}" if kib >= 0 else "?"
lines = [f"## B9 streamed install: {r['mib']} MiB of files in a {r['archive_bytes'] / 2**20:.0f} "
         f"MiB {r['format']} ({r['files']} files), seeder -> receiver, "
         f"every port {r['rate']} both ways, {r['rounds']} round(s)", "",
         bench_report.hardware_line(r), "",
         "| round | stream-install s | download+install s (download s, install s) | download s | "
         "peak RSS stream / pair / download MiB | stream fetched × archive |",
         "| ---: | ---: | ---: | ---: | ---: | ---: |"]
for i in range(r["rounds"]):
    lines.append(f"| {i + 1} | {s(r['stream_ms'][i])} | {s(r['pair_ms'][i])} "
                 f"({s(r['pair_download_ms'][i])}, {s(r['pair_install_ms'][i])}) | "
                 f"{s(r['download_ms'][i])} | "
                 f"{mib(r['stream_peak_rss_kib'][i])} / {mib(r['pair_peak_rss_kib'][i])} / "
                 f"{mib(r['download_peak_rss_kib'][i])} | "
                 f"{r['stream_fetched_bytes'][i] / r['archive_bytes']:.3f} |")
lines += ["", "CPU seconds from the command to the mode's last event: receiver (its busiest "
          "thread) / seeder", "",
          "| round | stream-install | download+install | download |", "| ---: | ---: | ---: | ---: |"]
cpu = lambda mode, i: (f"{s(r[mode + '_cpu_ms'][i])} ({s(r[mode + '_busiest_thread_ms'][i])}) / "
                       f"{s(r[mode + '_seeder_cpu_ms'][i])}")
for i in range(r["rounds"]):
    lines.append(f"| {i + 1} | {cpu('stream', i)} | {cpu('pair', i)} | {cpu('download', i)} |")
sp, sd = r["stream_over_pair"], r["stream_over_download"]
lines += ["", f"stream / (download+install): **{sp['median']:.2f}** (min {sp['min']:.2f}, "
          f"max {sp['max']:.2f}); stream / download: **{sd['median']:.2f}** "
          f"(min {sd['min']:.2f}, max {sd['max']:.2f}); receiver peak RSS during stream-install "
          f"**{mib(max(r['stream_peak_rss_kib']))} MiB**.", "", f"Command: `{command}`"]
open(os.path.join(out, "stream.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "run-stream: wrote $OUT/stream.md and $OUT/stream.json" >&2
