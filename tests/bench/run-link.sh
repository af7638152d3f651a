#!/usr/bin/env bash
# B2 (docs/benchmarks.md): one source and one receiver on a shaped link in network namespaces
# (tests/netns/netns-avahi-lab.sh, no avahi), every port tbf-shaped to RATE both ways: iperf3 TCP
# (the ceiling), a `download` over transport-quic and one over transport-tls, interleaved,
# LINK_ROUNDS rounds. It is NetnsLinkTest::linkBench (tests/netns/netns_link_test.cpp); this
# script installs iperf3 when missing, runs it and formats its numbers.
#
#   tests/bench/run-link.sh MIB RATE [BUILD_DIR]       e.g. 1024 1gbit build/release
#   env: LINK_ROUNDS=3  OUT=<BUILD_DIR>/bench  LAB_NAME=lsnd-link
#        LINK_INSTALL=0  do not install iperf3 (the smoke test: then no iperf3 column)
#
# Writes OUT/link.md, OUT/link.json and OUT/link.log. Root only (network namespaces).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
usage="usage: run-link.sh MIB RATE [BUILD_DIR]   (e.g. 1024 1gbit build/release)"
MIB=${1:?$usage}
RATE=${2:?$usage}
BUILD=${3:-build/release}
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench}
export LAB_NAME=${LAB_NAME:-lsnd-link}
export LINK_ROUNDS=${LINK_ROUNDS:-3}
TEST=$BUILD/bin/netns_link_test

[[ $MIB =~ ^[0-9]+$ && $MIB -ge 1 ]] || { echo "run-link: MIB must be a whole number of MiB" >&2; exit 2; }
[[ $RATE =~ ^[0-9.]+[kmg]bit$ ]] || { echo "run-link: RATE must be a tc rate such as 1gbit" >&2; exit 2; }
[[ $LINK_ROUNDS =~ ^[0-9]+$ && $LINK_ROUNDS -ge 1 ]] || { echo "run-link: LINK_ROUNDS must be >= 1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-link: needs root (network namespaces)" >&2; exit 2; }
for f in "$TEST" "$BUILD/bin/lanspreadd" "$BUILD/lib/lanspread/plugins/lanspread-transport-quic.so" \
         "$BUILD/lib/lanspread/plugins/lanspread-transport-tls.so"; do
  [ -e "$f" ] || { echo "run-link: $f is missing: build netns_link_test in $BUILD first" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "run-link: python3 is missing" >&2; exit 2; }
if ! command -v iperf3 >/dev/null && [ "${LINK_INSTALL:-1}" != 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null
fi
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lanspread-link-XXXXXX)
trap 'cp "$WORK/test.log" "$OUT/link.log" 2>/dev/null; rm -rf "$WORK"' EXIT
source "$HERE/lab_bench.sh"
LIMIT=${NETNS_TEST_LIMIT:-$((240 + LINK_ROUNDS * 3 * MIB / 5))}
run_lab_bench run-link 2 "$TEST" NetnsLinkTest::linkBench \
  LINK_MIB="$MIB" LINK_RATE="$RATE" LINK_RESULTS="$WORK/link-run.json"
grep -oE '(B2:|iperf3-[0-9]+:|quic[0-9]+:|tls[0-9]+:).*' "$WORK/test.log" || true

COMMAND="tests/bench/run-link.sh $MIB $RATE ${3:-build/release}"
python3 - "$HERE" "$WORK/link-run.json" "$OUT" "$COMMAND" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, os, statistics, sys
sys.path.insert(0, sys.argv[1])
import bench_report
run_file, out, command, load_before, load_after = sys.argv[2:]
r = bench_report.load(run_file, command, load_before, load_after)
json.dump(r, open(os.path.join(out, "link.json"), "w"), indent=2)
names = {"iperf3": "iperf3 TCP (the link's ceiling)",
         "quic": "lanspread download over transport-quic",
         "tls": "lanspread download over transport-tls"}
med = lambda k: statistics.median(r[k])
lines = [f"## B2: {r['mib']} MiB, one seeder -> one receiver, every port {r['rate']} both ways, "
         f"{r['rounds']} round(s), interleaved", "",
         bench_report.hardware_line(r), "",
         "| what | median MiB/s | min | max | × iperf3 | receiver CPU s/GiB | sender CPU s/GiB |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for mode in r["modes"]:
    v = r[mode + "_mib_per_s"]
    ratio = (f"{med(mode + '_mib_per_s') / med('iperf3_mib_per_s'):.2f}"
             if "iperf3" in r["modes"] else "—")
    lines.append(f"| {names[mode]} | {med(mode + '_mib_per_s'):.1f} | {min(v):.1f} | {max(v):.1f} | "
                 f"{ratio} | {med(mode + '_receiver_cpu_s_per_gib'):.2f} | "
                 f"{med(mode + '_sender_cpu_s_per_gib'):.2f} |")
lines += ["", f"Command: `{command}`"]
open(os.path.join(out, "link.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "run-link: wrote $OUT/link.md and $OUT/link.json" >&2
