# Sourced by the netns benchmark scripts (run-link.sh, run-stream.sh, run-party.sh): what they
# do alike. Needs HERE (tests/bench), WORK (a temporary dir) and LIMIT (seconds) set.

# run_lab_bench NAME HOSTS TEST METHOD [VAR=value...]
# Runs `TEST METHOD` with the VARs in a lab of HOSTS network-namespace hosts without avahi
# (tests/netns/run-in-lab.sh: up, run, always down), its output in $WORK/test.log, and sets
# LOAD_BEFORE and LOAD_AFTER (the load averages around it). On failure prints the log and exits.
run_lab_bench() {
  local name=$1 hosts=$2 test=$3 method=$4
  shift 4
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  env LAB_NO_AVAHI=1 NETNS_TEST_LIMIT="$LIMIT" "$@" "$HERE/../netns/run-in-lab.sh" "$hosts" -- \
    "$test" "$method" >"$WORK/test.log" 2>&1 ||
    { cat "$WORK/test.log" >&2; echo "$name: the bench failed (log above)" >&2; exit 1; }
  LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}
