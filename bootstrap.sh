#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine:
#   ./bootstrap.sh peer   install what is missing, build, run a peer on the embedded default config
#   ./bootstrap.sh test   install what is missing, build, run every test (ctest): the release
#                         suites, then the unit and loopback scenario suites under ASan+UBSan
#                         (asan-ubsan), then each libFuzzer target for a bounded time (fuzz)
#   ./bootstrap.sh build  install what is missing and build only
# Re-running is cheap: apt-get runs only when a package is missing, and the build is incremental.
set -euo pipefail

install_packages() {
  local missing=() pkg
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done < scripts/debian-packages.txt
  if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
}

# What to type into the peer: on a terminal frontend-cli is in human mode (typed commands),
# otherwise it reads JSON lines.
peer_hint() {
  if [[ -t 0 ]]; then
    echo "bootstrap: starting a peer (games in ./games, state in ./state); type help for the commands, shutdown to stop"
  else
    echo "bootstrap: starting a peer (games in ./games, state in ./state); it reads JSON commands on standard input, e.g. {\"cmd\":\"status\"} or {\"cmd\":\"shutdown\"}"
  fi
}

# Whether avahi-daemon runs and answers on the system bus: its pid file names a live process
# (--check), and it says it is running (Server.GetState 2 = AVAHI_SERVER_RUNNING, its host
# name established) when dbus-send is there to ask.
avahi_answers() {
  avahi-daemon --check 2>/dev/null || return 1
  command -v dbus-send >/dev/null 2>&1 || return 0
  local state
  state=$(dbus-send --system --print-reply --reply-timeout=1000 --dest=org.freedesktop.Avahi / \
    org.freedesktop.Avahi.Server.GetState 2>/dev/null) || return 1
  [[ "$state" == *"int32 2"* ]]
}

# Whether the system D-Bus answers (a socket left by a dbus-daemon that is gone does not).
dbus_answers() {
  [[ -S /run/dbus/system_bus_socket ]] || return 1
  command -v dbus-send >/dev/null 2>&1 || return 0
  dbus-send --system --print-reply --reply-timeout=2000 --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetId >/dev/null 2>&1
}

# mDNS discovery needs avahi-daemon, which talks over the system D-Bus. On a fresh box it is
# often installed but not running (a container, a chroot, a machine booted without systemd),
# and the peer is then never found. Start it (with dbus) and say so in one line; when that is
# not possible, say why in one line and go on: the peer runs anyway, direct connect works, and
# its status "discovery" says it is not discoverable. With systemd, the unit pulls dbus in; without
# it, dbus-daemon and avahi-daemon are started by hand (each forks and writes its pid file).
ensure_avahi() {
  local how="" i
  if ! command -v avahi-daemon >/dev/null 2>&1; then
    echo "bootstrap: avahi-daemon is not installed, so this peer will not be discoverable on the LAN (direct connect works)"
    return 0
  fi
  if avahi_answers; then
    echo "bootstrap: avahi-daemon is running: this peer will be discoverable on the LAN"
    return 0
  fi
  local systemd=0
  [[ -d /run/systemd/system ]] && systemd=1 # systemd is PID 1 (sd_booted's test)
  if [[ $(id -u) -ne 0 ]]; then
    if ((systemd)); then how="sudo systemctl start avahi-daemon"; else how="run this as root"; fi
    echo "bootstrap: avahi-daemon is not running and starting it needs root ($how), so this peer will not be discoverable on the LAN until then (direct connect works)"
    return 0
  fi
  if ((systemd)); then
    how="systemctl start avahi-daemon"
    systemctl start avahi-daemon >/dev/null 2>&1 || true
  else
    if ! dbus_answers; then
      mkdir -p /run/dbus
      dbus-uuidgen --ensure >/dev/null 2>&1 || true
      # A pid file left by a dbus-daemon that is gone stops a new one from starting (a socket
      # it left is replaced by the new one).
      if [[ -f /run/dbus/pid ]] && ! kill -0 "$(cat /run/dbus/pid 2>/dev/null)" 2>/dev/null; then
        rm -f /run/dbus/pid
      fi
      how="dbus-daemon --system, "
      dbus-daemon --system >/dev/null 2>&1 || true
      for ((i = 0; i < 50; i++)); do
        dbus_answers && break
        sleep 0.1
      done
    fi
    how+="avahi-daemon -D"
    avahi-daemon -D >/dev/null 2>&1 || true
  fi
  for ((i = 0; i < 100; i++)); do
    if avahi_answers; then
      echo "bootstrap: avahi-daemon was not running; started it ($how): this peer will be discoverable on the LAN"
      return 0
    fi
    sleep 0.1
  done
  echo "bootstrap: avahi-daemon is not running and $how did not bring it up within 10 s, so this peer will not be discoverable on the LAN (direct connect works)"
  return 0
}

# Sourced by tests (peer_hint; ensure_avahi inside a netns lab host), only the functions above
# are defined.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

cd "$(dirname "$0")"

mode=${1:-}
case "$mode" in
  peer|test|build) ;;
  *) echo "usage: $0 peer|test|build" >&2; exit 2 ;;
esac

# LANSPREAD_PRESET=<name> builds (and tests) that one preset only.
preset=${LANSPREAD_PRESET:-release}
build_dir="build/$preset"

install_packages
if [[ "$mode" != test || -n "${LANSPREAD_PRESET:-}" ]]; then
  build
  case "$mode" in
    peer)
      ensure_avahi
      peer_hint
      # The embedded default plugins and the web page (not in the default list: one fixed
      # port per machine); its URL, with the access token, is the log's first warning line.
      plugins=$("$build_dir/bin/lanspreadd" --help | sed -n 's/^ *plugins = //p' | head -n 1)
      echo "bootstrap: the web page: open the URL the peer prints (http://127.0.0.1:7878/?token=...)"
      exec "$build_dir/bin/lanspreadd" --plugins "${plugins:+$plugins,}org.lanspread.frontend.web"
      ;;
    test)
      exec ctest --preset "$preset"
      ;;
  esac
  exit 0
fi

# Every suite runs even when an earlier one failed, so one run shows every failure; each
# says what it cost. The test presets choose the labels (CMakePresets.json).
failed=()
for preset in release asan-ubsan fuzz; do
  started=$SECONDS
  echo "bootstrap: === $preset: build ==="
  if build && { echo "bootstrap: === $preset: ctest ==="; ctest --preset "$preset"; }; then
    echo "bootstrap: $preset passed in $((SECONDS - started)) s"
  else
    echo "bootstrap: $preset FAILED after $((SECONDS - started)) s"
    failed+=("$preset")
  fi
done
if ((${#failed[@]})); then
  echo "bootstrap: failed: ${failed[*]}"
  exit 1
fi
echo "bootstrap: every suite passed in $SECONDS s"
