#!/usr/bin/env bash
# run-in-lab.sh - run one command inside a fresh netns-avahi-lab (tests/netns), bounded in time,
# and always take the lab down again. ctest's entry point for the netns tests.
#
#   run-in-lab.sh N -- CMD...          LAB_NAME must be set (each test has its own lab, so
#                                      a lab someone else runs under another name is untouched)
#   run-in-lab.sh --down NAME...       take the named labs down, remove their runs' work dirs,
#                                      and check that nothing of them is left (ctest's fixture
#                                      cleanup: it also runs after a test ctest killed at its
#                                      TIMEOUT)
#
# A run records its pid in /run/lanspread-netns-owners/<LAB_NAME> while it owns the lab. A lab
# whose owner is alive is left alone by --down (another ctest's netns_cleanup, from another
# build directory, say) and refused to a second run of the same lab; a dead owner's lab (a run
# ctest killed) is taken down as before.
#
# Env: NETNS_TEST_LIMIT (seconds, default 240): CMD is killed after this long, so the lab's own
#      teardown still runs inside ctest's TIMEOUT (300); LAB_* as for netns-avahi-lab.sh.
# Not root, or a tool missing: exits 1 with the reason (the tests FAIL, they are never skipped).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB="$HERE/netns-avahi-lab.sh"

fail() { echo "netns: FAILED: $*" >&2; exit 1; }

OWNERS=/run/lanspread-netns-owners
# The pid of the live run-in-lab.sh that owns lab $1, if there is one (the environment check
# makes a recycled pid no owner).
owner_of() {
    local pid
    pid=$(cat "$OWNERS/$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$pid" != $$ ] || return 1
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "LAB_NAME=$1" || return 1
    echo "$pid"
}

[ "$(id -u)" = 0 ] || fail "the netns tests must run as root (network namespaces, mounts, \
avahi-daemon per host); CI runs them as root. Exclude them with 'ctest -LE netns'."

if [ "${1:-}" = --down ]; then
    shift
    left=""
    busy=""
    for name in "$@"; do
        if pid=$(owner_of "$name"); then
            echo "netns: lab $name is in use by run-in-lab.sh pid $pid (another run): left alone" >&2
            busy+=" $name"
            continue
        fi
        LAB_NAME=$name "$LAB" down 2>&1 | sed 's/^/  /' >&2 || true
        # the work dir of a run that was killed before it could remove it
        rm -rf "${TMPDIR:-/tmp}"/lanspread-netns-"$name"-??????
        if ip netns list | awk '{print $1}' | grep -q "^$name-"; then left+=" netns:$name-*"; fi
        if [ -e "/run/$name" ]; then left+=" /run/$name"; fi
    done
    [ -z "$left" ] || fail "left behind:$left"
    if [ -n "$busy" ]; then
        echo "netns: the other labs of $* are down, nothing left behind; in use, left alone:$busy"
    else
        echo "netns: labs $* are down, nothing left behind"
    fi
    exit 0
fi

n=${1:?usage: run-in-lab.sh N -- CMD...}; shift
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || fail "no command"
[ -n "${LAB_NAME:-}" ] || fail "LAB_NAME is not set"
# nft: the lab's block-udp (S60's firewalled host).
for tool in ip nsenter unshare mount dbus-daemon avahi-daemon timeout nft; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing (scripts/debian-packages.txt: apt-get install iproute2 util-linux dbus avahi-daemon nftables)"
done
if pid=$(owner_of "$LAB_NAME"); then
    fail "lab $LAB_NAME is in use by run-in-lab.sh pid $pid (another run of this test)"
fi
mkdir -p "$OWNERS"
echo $$ >"$OWNERS/$LAB_NAME"
trap 'rm -f "$OWNERS/$LAB_NAME"; rmdir "$OWNERS" 2>/dev/null || true' EXIT
# A previous run that was killed before its teardown: start from nothing.
if [ -e "/run/$LAB_NAME" ] || ip netns list | awk '{print $1}' | grep -q "^$LAB_NAME-"; then
    echo "netns: lab $LAB_NAME left over from an earlier run: taking it down first" >&2
    "$LAB" down
fi
limit=${NETNS_TEST_LIMIT:-240}
# The command's temp files (the test's peer dirs) go to a dir of this run, removed afterwards even
# when the command was killed (LANSPREAD_KEEP_LAB=1 keeps it for a post-mortem).
work=$(mktemp -d "${TMPDIR:-/tmp}/lanspread-netns-$LAB_NAME-XXXXXX")
# `with`: up, run, always down (its EXIT trap), exit status of the command.
TMPDIR=$work "$LAB" with "$n" -- timeout -k 5 "$limit" "$@" && rc=0 || rc=$?
[ "$rc" = 124 ] && echo "netns: FAILED: the test ran longer than ${limit} s and was killed" >&2
if [ -n "${LANSPREAD_KEEP_LAB:-}" ] && [ "${LANSPREAD_KEEP_LAB}" != 0 ]; then
    echo "netns: kept $work" >&2
else
    rm -rf "$work"
fi
# Nothing of this lab may survive it.
if ip netns list | awk '{print $1}' | grep -q "^$LAB_NAME-" || [ -e "/run/$LAB_NAME" ]; then
    echo "netns: FAILED: lab $LAB_NAME left namespaces or /run/$LAB_NAME behind" >&2
    [ "$rc" = 0 ] && rc=1
fi
exit "$rc"
