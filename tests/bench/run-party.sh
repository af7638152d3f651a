#!/usr/bin/env bash
# The LAN-party bench (B8, docs/benchmarks.md; B4 is the same with 4 receivers): one seeder and
# N receivers in network namespaces (tests/netns/netns-avahi-lab.sh, no avahi: the peers meet by
# `connect`), every host's port tbf-shaped to RATE both ways, a game of MIB MiB of random bytes.
# First T1, one receiver alone on the same lab; then all N receivers send `download` at once.
# It is NetnsSwarmTest::partyBench, the party of ctest S58 without its bounds (every copy is
# still checked by SHA-256); this script only runs it and formats its numbers.
#
#   tests/bench/run-party.sh N MIB RATE [BUILD_DIR]      e.g. 8 256 100mbit build/release
#   env: OUT=<BUILD_DIR>/bench  LAB_NAME=lsnd-party
#        SWARM_NO_RELAY=1  receivers run with serve_while_downloading = false (the swarm off)
#        README=<repo>/README.md  the table a row is appended to (README=none: no row)
#
# Prints T1, each receiver's time and MiB/s, the bytes each peer uploaded, the ratio last/T1 and
# the seeder's upload in games; writes OUT/party.md and OUT/party.json and appends a row to the
# "LAN party" table under "Performance" in README.md. Root only (network namespaces).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
usage="usage: run-party.sh N MIB RATE [BUILD_DIR]   (e.g. 8 256 100mbit build/release)"
N=${1:?$usage}
MIB=${2:?$usage}
RATE=${3:?$usage}
BUILD=${4:-build/release}
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench}
README=${README:-$REPO/README.md}
export LAB_NAME=${LAB_NAME:-lsnd-party}
TEST=$BUILD/bin/netns_swarm_test

[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 60 ]] || { echo "run-party: N must be 1..60" >&2; exit 2; }
[[ $MIB =~ ^[0-9]+$ && $MIB -ge 1 ]] || { echo "run-party: MIB must be a whole number of MiB" >&2; exit 2; }
[[ $RATE =~ ^[0-9.]+[kmg]bit$ ]] || { echo "run-party: RATE must be a tc rate such as 100mbit" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-party: needs root (network namespaces)" >&2; exit 2; }
for f in "$TEST" "$BUILD/bin/lanspreadd" "$BUILD/lib/lanspread/plugins/lanspread-transport-quic.so"; do
  [ -e "$f" ] || { echo "run-party: $f is missing: build netns_swarm_test in $BUILD first" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "run-party: python3 is missing" >&2; exit 2; }
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/lanspread-party-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
source "$HERE/lab_bench.sh"
# One copy at RATE, in seconds; the run may take T1 plus, with the swarm off, N copies more.
ONE=$(python3 -c "import re,sys; v,u=re.fullmatch(r'([0-9.]+)([kmg])bit',sys.argv[2]).groups(); \
print(int(int(sys.argv[1])*8.388608/(float(v)*{'k':1e-3,'m':1,'g':1e3}[u]))+1)" "$MIB" "$RATE")
LIMIT=${NETNS_TEST_LIMIT:-$((300 + (N + 6) * ONE * 3 / 2))}
run_lab_bench run-party $((N + 1)) "$TEST" NetnsSwarmTest::partyBench \
  PARTY_MIB="$MIB" PARTY_RATE="$RATE" PARTY_RESULTS="$WORK/party-run.json"
grep '^party:' "$WORK/test.log" || true

COMMAND="${SWARM_NO_RELAY:+SWARM_NO_RELAY=$SWARM_NO_RELAY }tests/bench/run-party.sh $N $MIB $RATE ${4:-build/release}"
python3 - "$HERE" "$WORK/party-run.json" "$OUT" "$README" "$COMMAND" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import bench_report
run_file, out, readme, command, load_before, load_after = sys.argv[2:]
r = bench_report.load(run_file, command, load_before, load_after)
cpu = r["hardware"]["cpu"]
json.dump(r, open(os.path.join(out, "party.json"), "w"), indent=2)

s = lambda ms: f"{ms / 1000:.1f}"
relay = "off (serve_while_downloading = false)" if r["no_relay"] else "on"
lines = [f"## LAN party: 1 seeder + {r['receivers']} receivers, {r['mib']} MiB, every port "
         f"{r['rate']} both ways, serving while downloading {relay}", "",
         bench_report.hardware_line(r), "",
         f"T1 (one receiver alone, same lab, same run): **{s(r['t1_ms'])} s**", "",
         "| peer | download s | MiB/s | uploaded MiB | CPU s |", "| --- | ---: | ---: | ---: | ---: |"]
up, cpu_s = r["uploaded_bytes"], r["cpu_s"]
for label, ms in r["times_ms"].items():
    lines.append(f"| {label} | {s(ms)} | {r['mib_per_s'].get(label, 0):.1f} | "
                 f"{up.get(label, 0) / 2**20:.1f} | {cpu_s.get(label, 0):.1f} |")
lines.append(f"| {r['seeder']} (seeder, T1 included) | | | {up.get(r['seeder'], 0) / 2**20:.1f} | "
             f"{cpu_s.get(r['seeder'], 0):.1f} |")
lines += ["", f"Last receiver: {s(r['last_ms'])} s = **{r['ratio']:.2f}× T1**; the seeder uploaded "
          f"**{r['seeder_upload_x']:.2f}×** the game; aggregate {r['aggregate_mib_per_s']:.1f} MiB/s.",
          "", f"Command: `{command}`"]
open(os.path.join(out, "party.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))

if readme != "none":
    header = "| command | receivers | game MiB | port rate | T1 s | last s | last / T1 | seeder upload × game | aggregate MiB/s | nproc | CPU |"
    text = open(readme).read().split("\n")
    if header not in text:
        sys.exit(f"run-party: no LAN party table in {readme} (its header row: {header})")
    at = text.index(header) + 2  # past the header and its --- row
    while at < len(text) and text[at].startswith("|"):
        at += 1
    row = (f"| `{command}` | {r['receivers']} | {r['mib']} | {r['rate']} | {s(r['t1_ms'])} | "
           f"{s(r['last_ms'])} | {r['ratio']:.2f} | {r['seeder_upload_x']:.2f} | "
           f"{r['aggregate_mib_per_s']:.1f} | {os.cpu_count()} | {cpu} |")
    text.insert(at, row)
    open(readme, "w").write("\n".join(text))
    print(f"\nrun-party: added to {readme}:\n{row}")
PY
echo "run-party: wrote $OUT/party.md and $OUT/party.json" >&2
