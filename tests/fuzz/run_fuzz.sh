#!/bin/sh
# run_fuzz.sh BINARY TARGET SOURCE_DIR WORK_DIR SECONDS [libFuzzer flags...]
# What `ctest -L fuzz` runs for one target (tests/fuzz/README.md): first every input in
# regressions/TARGET, each once (a crash fixed once must stay fixed), then a fuzzing run of
# SECONDS seconds over a scratch corpus in WORK_DIR seeded from corpus/TARGET and the
# regressions. The checked-in corpus is read, never written. Any crash, leak, sanitizer report,
# timeout or out-of-memory exits non-zero, and the input is saved in WORK_DIR/artifacts/.
set -eu
bin=$1 target=$2 src=$3 work=$4 seconds=$5
shift 5
seeds=$src/corpus/$target
regressions=$src/regressions/$target
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
# The extraction targets' staging fences go here, not into /tmp (a crash leaves one behind).
TMPDIR=$work/tmp
export TMPDIR
# Every sanitizer report is fatal and shows where it happened.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS ASAN_OPTIONS

dict=
[ -f "$src/dict/$target.dict" ] && dict="-dict=$src/dict/$target.dict"

if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
    echo "== $target: replaying $(ls -A "$regressions" | wc -l) regression input(s)"
    # Files (not a directory) make libFuzzer run each input once and exit.
    find "$regressions" -type f -print0 | xargs -0 "$bin" -timeout=25 -rss_limit_mb=2048 "$@"
fi

echo "== $target: fuzzing for $seconds s"
# shellcheck disable=SC2086 # $dict is one word or none
exec "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" $dict "$@" "$work/corpus" "$seeds" \
    $( [ -d "$regressions" ] && echo "$regressions" )
