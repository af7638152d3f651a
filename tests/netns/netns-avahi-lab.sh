#!/usr/bin/env bash
# netns-avahi-lab.sh - simulate a small LAN of N hosts on ONE Linux box (root, no Docker).
#
# The lanspread LAN lab, kept in the project's tests for the netns tests (discovery, swarm)
# (tests/netns/README.md). Adapted for tests/netns: LAB_BROWSE_ONLY (below), shape-host,
# block-udp and udp-drops.
#
#   lan switch : network namespace "$LAB-lan" holding bridge br0 (no IP, no link to the host)
#   host i     : network ns "$LAB-h<i>" (eth0 = veth peer of "vh<i>" on br0, IPv4 $SUBNET.(10+i)/24)
#                + persistent mount ns  (private tmpfs /run => own /run/dbus + /run/avahi-daemon,
#                                        private /dev/shm, per-host /etc/avahi/services, own /sys)
#                + persistent UTS ns    (hostname "$LAB-h<i>")
#                + its own dbus-daemon --system and avahi-daemon (only eth0, IPv4 only)
#
# Nothing is ever attached to the root network namespace: mDNS / test traffic stays
# inside the namespaces created here.  Everything lives under /run/$LAB and in
# namespaces named "$LAB-*"; "down" removes all of it (killing only processes that
# live in those namespaces, by PID).
#
# Usage (as root):
#   netns-avahi-lab.sh up [N]              create N hosts (default 3) and start dbus+avahi in each
#   netns-avahi-lab.sh down                stop everything, remove namespaces/mounts/state
#   netns-avahi-lab.sh exec I [--] CMD...  run CMD inside host I (net+mount+uts ns; cwd kept)
#   netns-avahi-lab.sh lan [--] CMD...     run CMD inside the switch namespace (tc on vh<i>, bridge ...)
#   netns-avahi-lab.sh ip I                print host I's IPv4 address
#   netns-avahi-lab.sh shape RATE [BURST]  tbf-limit every link, both directions (e.g. 1gbit 1mb)
#   netns-avahi-lab.sh shape-host I UP [DOWN]  tbf-limit host I only: UP on its eth0 egress (its
#                                          upload), DOWN on its switch port vh<I> (its download);
#                                          a rate such as 400mbit, or none (unlimited, the default
#                                          for DOWN); LAB_BURST sets the bucket (default 1mb)
#   netns-avahi-lab.sh unshape             remove the rate limits
#   netns-avahi-lab.sh block-udp I         firewall host I (nftables inside its network namespace,
#                                          table inet lab_udp_block): drop every UDP packet in and
#                                          out except mDNS (udp port 5353 either way), like a
#                                          desktop firewall that allows mDNS but blocks an
#                                          application's UDP; TCP is untouched. Needs nft (Debian
#                                          nftables). The rules go with the namespace: down needs
#                                          nothing extra
#   netns-avahi-lab.sh udp-drops I         print "input=N output=M": the UDP packets block-udp
#                                          has dropped on host I so far, each way
#   netns-avahi-lab.sh status              namespaces, addresses, daemons, qdiscs
#   netns-avahi-lab.sh wait-ready I [SECS] wait until host I's avahi-daemon finished startup
#   netns-avahi-lab.sh restart-avahi I     kill -TERM + restart host I's avahi-daemon
#   netns-avahi-lab.sh with N [--] CMD...  up N, run CMD (in the root ns), always down; exit = CMD's
#
# Environment: LAB_NAME (default lanlab), LAB_SUBNET (default 10.77.0), LAB_MTU (1500),
#              LAB_IPV6=1 (keep kernel IPv6 + avahi use-ipv6=yes; default off),
#              LAB_NO_AVAHI=1 (network only: no dbus/avahi daemons),
#              LAB_COMPAT_WARN=1 (exec: keep avahi's "Bonjour compatibility layer" banner),
#              LAB_PRIVATE_DIRS="/abs/dir ..." (each host sees its own empty copy of these dirs,
#                 backed by /run/$LAB/h<i>/private/<dir with / -> _>, readable from outside),
#              LAB_BROWSE_ONLY="I ..." (these hosts' avahi-daemon runs with disable-publishing=yes:
#                 it browses and resolves, but registers nothing, so its services stay unseen).
set -euo pipefail

LAB=${LAB_NAME:-lanlab}
STATE=/run/$LAB
NS_LAN=$LAB-lan
BR=br0
SUBNET=${LAB_SUBNET:-10.77.0}
MTU=${LAB_MTU:-1500}
IPV6=${LAB_IPV6:-0}

die() { echo "lab: $*" >&2; exit 1; }
log() { echo "lab: $*" >&2; }
[ "$(id -u)" = 0 ] || die "must run as root"

hns()  { echo "$LAB-h$1"; }
hip()  { echo "$SUBNET.$((10 + $1))"; }
hdir() { echo "$STATE/h$1"; }
nhosts() { cat "$STATE/nhosts" 2>/dev/null || echo 0; }
check_host() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$(nhosts)" ] || die "no such host: $1 (lab up? hosts: $(nhosts))"
}

# Enter host I's namespaces. --wd keeps the caller's working directory (setns(mnt) would reset it to /).
in_host() {
    local i=$1; shift
    nsenter --net="/run/netns/$(hns "$i")" --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" \
        --wd="$PWD" -- "$@"
}
in_lan() { nsenter --net="/run/netns/$NS_LAN" -- "$@"; }

avahi_conf() { # $1 = host index
    cat <<EOF
# generated by netns-avahi-lab.sh for host $1
[server]
host-name=$LAB-h$1
domain-name=local
use-ipv4=yes
use-ipv6=$([ "$IPV6" = 1 ] && echo yes || echo no)
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
disable-publishing=$(case " ${LAB_BROWSE_ONLY:-} " in *" $1 "*) echo yes ;; *) echo no ;; esac)
publish-hinfo=no
publish-workstation=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no

[reflector]
enable-reflector=no

[rlimits]
EOF
}

start_daemons() { # $1 = host index
    local i=$1 d t0 t1
    d=$(hdir "$i")
    t0=$(date +%s%N)
    # System bus: stock /usr/share/dbus-1/system.conf (socket /run/dbus/system_bus_socket, which is
    # this host's private tmpfs). --nopidfile/--nosyslog: no pid clash, logs go to our file.
    setsid nsenter --net="/run/netns/$(hns "$i")" --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" -- \
        dbus-daemon --system --nofork --nopidfile --nosyslog </dev/null >"$d/dbus.log" 2>&1 &
    echo $! >"$d/dbus.pid"
    local k
    for k in $(seq 100); do in_host "$i" test -S /run/dbus/system_bus_socket && break; sleep 0.05; done
    in_host "$i" test -S /run/dbus/system_bus_socket || die "h$i: dbus-daemon did not come up (see $d/dbus.log)"
    # avahi-daemon in the foreground (no -D => logs to stderr => our file). Default privilege drop
    # to user avahi + chroot(/etc/avahi) works; its pid file /run/avahi-daemon/pid is per host, and
    # /etc/avahi/avahi-daemon.conf is this host's generated file (bind mount).
    setsid nsenter --net="/run/netns/$(hns "$i")" --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" -- \
        avahi-daemon --no-rlimits </dev/null >"$d/avahi.log" 2>&1 &
    echo $! >"$d/avahi.pid"
    echo "$t0" >"$d/avahi.start_ns"
}

wait_ready() { # $1 = host, $2 = timeout seconds
    local i=$1 to=${2:-15} d n t0 t1
    d=$(hdir "$i")
    n=$((to * 20))
    while [ $n -gt 0 ]; do
        if grep -q "Server startup complete" "$d/avahi.log" 2>/dev/null; then
            t0=$(cat "$d/avahi.start_ns"); t1=$(date +%s%N)
            [ -e "$d/avahi.ready_ms" ] || echo $(((t1 - t0) / 1000000)) >"$d/avahi.ready_ms"
            return 0
        fi
        kill -0 "$(cat "$d/avahi.pid")" 2>/dev/null || { cat "$d/avahi.log" >&2; die "h$i: avahi-daemon died"; }
        sleep 0.05; n=$((n - 1))
    done
    cat "$d/avahi.log" >&2
    die "h$i: avahi-daemon not ready after ${to}s"
}

cmd_up() {
    local n=${1:-3} i d
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "bad host count: $n"
    [ -e "$STATE" ] && die "$STATE exists: lab already up? run '$0 down' first"
    ip netns list | awk '{print $1}' | grep -q "^$LAB-" && die "namespaces $LAB-* exist: run '$0 down' first"

    mkdir -p "$STATE/ns"
    echo "$n" >"$STATE/nhosts"
    # ns files of mount namespaces can only be bind-mounted onto a non-shared mount.
    mount --bind "$STATE/ns" "$STATE/ns"
    mount --make-private "$STATE/ns"
    for d in ${LAB_PRIVATE_DIRS:-}; do
        case $d in /run|/run/*) die "LAB_PRIVATE_DIRS: $d is under /run (already private per host)" ;;
                   /*) mkdir -p "$d" ;; *) die "LAB_PRIVATE_DIRS entries must be absolute: $d" ;; esac
    done

    # --- the switch ---
    ip netns add "$NS_LAN"
    in_lan sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$NS_LAN" link set lo up
    ip -n "$NS_LAN" link add "$BR" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n "$NS_LAN" link set "$BR" mtu "$MTU" up

    for i in $(seq "$n"); do
        d=$(hdir "$i"); mkdir -p "$d/services"
        ip netns add "$(hns "$i")"
        ip -n "$NS_LAN" link add "vh$i" mtu "$MTU" type veth peer name eth0 mtu "$MTU" netns "$(hns "$i")"
        ip -n "$NS_LAN" link set "vh$i" master "$BR" up
        ip -n "$(hns "$i")" link set eth0 address "$(printf '02:4c:41:4e:%02x:%02x' $((i / 256)) $((i % 256)))"
        if [ "$IPV6" != 1 ]; then
            nsenter --net="/run/netns/$(hns "$i")" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        fi
        ip -n "$(hns "$i")" link set lo up
        ip -n "$(hns "$i")" addr add "$(hip "$i")/24" brd + dev eth0
        ip -n "$(hns "$i")" link set eth0 multicast on up

        avahi_conf "$i" >"$d/avahi-daemon.conf"   # bind-mounted over /etc/avahi/avahi-daemon.conf
        # persistent mount + UTS namespaces for the host (bound to files, no holder process)
        touch "$STATE/ns/h$i.mnt" "$STATE/ns/h$i.uts"
        nsenter --net="/run/netns/$(hns "$i")" -- \
            unshare --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" --propagation private -- \
            /bin/sh -ec '
                hostname "$1"
                # per-host files first (their sources live under /run, hidden once /run is replaced)
                mount --bind "$2/avahi-daemon.conf" /etc/avahi/avahi-daemon.conf
                mount --bind "$2/services" /etc/avahi/services          # static services per host
                for p in $4; do                                         # LAB_PRIVATE_DIRS
                    src="$2/private/$(echo "$p" | sed "s|^/||; s|/|_|g")"
                    mkdir -p "$src" && mount --bind "$src" "$p"
                done
                # drop the copies of nsfs mounts (other hosts'"'"' netns/uts files) that the new mount
                # ns inherited, so nothing pins those namespaces after "down"
                awk '"'"'{for(f=7;$f!="-";f++);if($(f+1)=="nsfs")print $5}'"'"' /proc/self/mountinfo |
                    while read -r m; do umount -l "$m"; done
                umount -l "$3" 2>/dev/null || true
                # private /run, like a fresh boot: /run/dbus/system_bus_socket, /run/avahi-daemon/{pid,socket}
                mount -t tmpfs -o mode=0755,size=16m lab-run /run
                mkdir -p /run/dbus /run/lock /run/user; chmod 1777 /run/lock; ln -s /dev/shm /run/shm
                mount -t tmpfs -o mode=1777,size=64m lab-shm /dev/shm   # POSIX shm/sem names per host
                mount -t sysfs lab-sys /sys                             # /sys/class/net of this netns
            ' sh "$LAB-h$i" "$d" "$STATE/ns" "${LAB_PRIVATE_DIRS:-}"
    done

    # bridge ports are forwarding immediately (stp off); wait for carrier anyway
    for i in $(seq "$n"); do
        for _ in $(seq 50); do
            ip -n "$(hns "$i")" -br link show eth0 | grep -q LOWER_UP && break; sleep 0.02
        done
    done

    if [ "${LAB_NO_AVAHI:-0}" != 1 ]; then
        for i in $(seq "$n"); do start_daemons "$i"; done
        for i in $(seq "$n"); do wait_ready "$i" 15; done
        for i in $(seq "$n"); do log "h$i $(hip "$i") dbus+avahi ready after $(cat "$(hdir "$i")/avahi.ready_ms") ms"; done
    fi
    log "up: $n hosts on $SUBNET.0/24 (switch ns $NS_LAN)"
}

kill_ns_procs() { # $1 = netns name; TERM, wait, KILL. Only PIDs inside OUR namespace.
    local ns=$1 pids k
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2>/dev/null || true
    for k in $(seq 40); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] || return 0
        sleep 0.05
    done
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
}

cmd_down() {
    local ns f
    for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB-" || true); do
        kill_ns_procs "$ns"
    done
    for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB-" || true); do
        ip netns del "$ns" || log "could not delete netns $ns"
    done
    if [ -d "$STATE/ns" ]; then
        for f in "$STATE"/ns/*; do [ -e "$f" ] && { umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || true; }; done
        umount "$STATE/ns" 2>/dev/null || umount -l "$STATE/ns" 2>/dev/null || true
    fi
    rm -rf "$STATE"
    log "down: done ($(ip netns list | grep -c "^$LAB-" || true) $LAB-* namespaces left)"
}

cmd_shape() {
    local rate=${1:?rate, e.g. 1gbit} burst=${2:-1mb} i
    for i in $(seq "$(nhosts)"); do
        # host egress (upload) and switch-port egress (download): full-duplex link of RATE
        ip netns exec "$(hns "$i")" tc qdisc replace dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
        in_lan tc qdisc replace dev "vh$i" root tbf rate "$rate" burst "$burst" latency 50ms
    done
}

# tbf of RATE on DEV in network namespace NS, or no qdisc at all when RATE is none.
set_rate() { # $1 = netns, $2 = dev, $3 = rate or none, $4 = burst
    if [ "$3" = none ]; then
        ip netns exec "$1" tc qdisc del dev "$2" root 2>/dev/null || true
    else
        ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$3" burst "$4" latency 50ms
    fi
}

cmd_shape_host() {
    local i=${1:?host index} up=${2:?upload rate, e.g. 400mbit, or none} down=${3:-none}
    check_host "$i"
    set_rate "$(hns "$i")" eth0 "$up" "${LAB_BURST:-1mb}"   # what host i sends: its upload
    set_rate "$NS_LAN" "vh$i" "$down" "${LAB_BURST:-1mb}"   # what the switch sends it: its download
}

cmd_unshape() {
    local i
    for i in $(seq "$(nhosts)"); do
        ip netns exec "$(hns "$i")" tc qdisc del dev eth0 root 2>/dev/null || true
        in_lan tc qdisc del dev "vh$i" root 2>/dev/null || true
    done
}

# block-udp's ruleset, in host I's network namespace only. mDNS is UDP too (5353 to and from
# 224.0.0.251; a unicast answer to a legacy query leaves 5353 for another port), so it stays
# allowed either way: dropping it would hide the host from discovery as well.
UDP_BLOCK_TABLE=lab_udp_block
cmd_block_udp() {
    local i=${1:?host index}
    check_host "$i"
    command -v nft >/dev/null || die "block-udp needs nft (apt-get install nftables)"
    ip netns exec "$(hns "$i")" nft -f - <<EOF
table inet $UDP_BLOCK_TABLE {
    chain input {
        type filter hook input priority filter; policy accept;
        udp dport 5353 accept
        udp sport 5353 accept
        meta l4proto udp counter drop
    }
    chain output {
        type filter hook output priority filter; policy accept;
        udp sport 5353 accept
        udp dport 5353 accept
        meta l4proto udp counter drop
    }
}
EOF
    log "h$i: every UDP packet but mDNS (port 5353) is dropped, in and out"
}

cmd_udp_drops() {
    local i=${1:?host index} chain n out=""
    check_host "$i"
    for chain in input output; do
        n=$(ip netns exec "$(hns "$i")" nft list chain inet "$UDP_BLOCK_TABLE" "$chain" 2>/dev/null |
            sed -n 's/.*udp counter packets \([0-9]*\) bytes [0-9]* drop.*/\1/p') || true
        [ -n "$n" ] || die "h$i has no UDP block (block-udp $i first)"
        out+="${out:+ }$chain=$n"
    done
    echo "$out"
}

cmd_status() {
    local i d
    echo "netns: $(ip netns list | awk '{print $1}' | grep "^$LAB-" | tr '\n' ' ')"
    in_lan bridge link show 2>/dev/null || true
    for i in $(seq "$(nhosts)"); do
        d=$(hdir "$i")
        printf 'h%s %s  hostname=%s  ' "$i" "$(hip "$i")" "$(in_host "$i" hostname)"
        printf 'dbus=%s avahi=%s  ' \
            "$(kill -0 "$(cat "$d/dbus.pid" 2>/dev/null)" 2>/dev/null && cat "$d/dbus.pid" || echo down)" \
            "$(kill -0 "$(cat "$d/avahi.pid" 2>/dev/null)" 2>/dev/null && cat "$d/avahi.pid" || echo down)"
        ip netns exec "$(hns "$i")" tc qdisc show dev eth0 | head -1
    done
}

sub=${1:-}; shift || true
case "$sub" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    exec)
        i=${1:?host index}; shift; [ "${1:-}" = -- ] && shift
        check_host "$i"
        [ $# -gt 0 ] || die "exec: no command"
        # The host's system bus is at the default path inside its mount ns. The compat layer's banner is
        # silenced unless LAB_COMPAT_WARN=1 (any value of AVAHI_COMPAT_NOWARN, even 0, silences it).
        envargs=(-u DBUS_SYSTEM_BUS_ADDRESS)
        if [ "${LAB_COMPAT_WARN:-0}" = 1 ]; then envargs+=(-u AVAHI_COMPAT_NOWARN); else envargs+=(AVAHI_COMPAT_NOWARN=1); fi
        exec nsenter --net="/run/netns/$(hns "$i")" --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" \
            --wd="$PWD" -- env "${envargs[@]}" "$@" ;;
    lan) [ "${1:-}" = -- ] && shift; exec nsenter --net="/run/netns/$NS_LAN" -- "$@" ;;
    ip) check_host "${1:?host index}"; hip "$1" ;;
    shape) cmd_shape "$@" ;;
    shape-host) cmd_shape_host "$@" ;;
    unshape) cmd_unshape ;;
    block-udp) cmd_block_udp "$@" ;;
    udp-drops) cmd_udp_drops "$@" ;;
    status) cmd_status ;;
    wait-ready) check_host "${1:?host index}"; wait_ready "$1" "${2:-15}" ;;
    restart-avahi)
        i=${1:?host index}; check_host "$i"; d=$(hdir "$i")
        kill -TERM "$(cat "$d/avahi.pid")" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$(cat "$d/avahi.pid")" 2>/dev/null || break; sleep 0.05; done
        rm -f "$d/avahi.ready_ms"; cat "$d/avahi.log" >>"$d/avahi.log.old"
        date +%s%N >"$d/avahi.start_ns"
        setsid nsenter --net="/run/netns/$(hns "$i")" --mount="$STATE/ns/h$i.mnt" --uts="$STATE/ns/h$i.uts" -- \
            avahi-daemon --no-rlimits </dev/null >"$d/avahi.log" 2>&1 &
        echo $! >"$d/avahi.pid"
        wait_ready "$i" 15
        log "h$i avahi restarted, ready after $(cat "$d/avahi.ready_ms") ms" ;;
    with)
        n=${1:?host count}; shift; [ "${1:-}" = -- ] && shift
        [ $# -gt 0 ] || die "with: no command"
        trap '"$0" down' EXIT
        trap 'exit 130' INT TERM
        "$0" up "$n"
        export LAB_SH; LAB_SH=$(readlink -f "$0")   # so CMD can call "$LAB_SH exec I -- ..."
        rc=0; "$@" || rc=$?
        exit $rc ;;
    *) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 64 ;;
esac
