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

# Sourced (tests/bootstrap/peer_hint_test.sh), only the functions above are defined.
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
