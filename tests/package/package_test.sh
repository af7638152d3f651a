#!/usr/bin/env bash
# package_test: the Debian packages as an admin meets them, on this machine, as root.
#
#   1. builds both packages with cpack from the build tree (into a scratch dir);
#   2. checks their contents and control fields, and runs lintian on both: any error (E:)
#      fails, unless overridden in the package's lintian-overrides file (each with its reason);
#   3. dpkg -i both; checks the user, directories, modes, conffile and the unit
#      (systemd-analyze verify), and that the conffile documents every key;
#   4. starts lanspreadd the way the unit's ExecStart does, as the user lanspread, with the
#      unit's working directory, umask and RUNTIME_DIRECTORY (made as systemd makes it);
#   5. `lanspread status` through the client, and a download through the client from a second
#      peer (the build tree's lanspreadd, as root in a scratch dir) into the packaged daemon,
#      checked by SHA-256;
#   6. stops the daemon, checks it wrote only where the unit lets it, dpkg --purge both, and
#      checks nothing is left: the file lists of /etc, /usr and /var/lib and the user and
#      group databases are as before the install.
# Everything it changed is undone on any exit (trap). Exit 77 (ctest: skipped) when not root
# or not on a dpkg system.
#
# usage: package_test.sh BUILD_DIR   (env: LANSPREAD_CLIENT=1 when the build has the client)
set -uo pipefail

BUILD=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
HAVE_CLIENT=${LANSPREAD_CLIENT:-0}
GAME=cnctw # a game of the bundled catalog, served by the second peer

say() { printf 'package_test: %s\n' "$*"; }
fail() {
    printf 'package_test: FAILED: %s\n' "$*" >&2
    exit 1
}
section() { printf '\npackage_test: ==== %s ====\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    say "skipped: needs root (dpkg -i, a system user, running the daemon as that user)"
    exit 77
fi
if ! command -v dpkg >/dev/null || ! command -v cpack >/dev/null; then
    say "skipped: needs a dpkg system with cpack"
    exit 77
fi
for tool in lintian systemd-analyze setpriv sha256sum dpkg-deb; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: install the packages of scripts/debian-packages.txt (./bootstrap.sh build)"
done
# Never fight a real installation: this test installs and purges the packages itself.
for pkg in lanspread lanspread-sdk-dev; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then
        fail "the package $pkg is already installed on this machine; purge it before running this test"
    fi
done
if getent passwd lanspread >/dev/null || getent group lanspread >/dev/null; then
    fail "a user or group lanspread already exists; this test creates and removes them"
fi
for path in /run/lanspread /var/lib/lanspread /etc/lanspread; do
    [[ -e "$path" ]] && fail "$path already exists; this test creates and removes it"
done

WORK=$(mktemp -d /tmp/lanspread-package-test.XXXXXX)
chmod 0755 "$WORK" # the daemon user reads nothing here, but `lanspread` as other users runs from it
DAEMON_PID=""
SEEDER_PID=""
SEEDER_IN=""
INSTALLED=0
CLEANUP_FAILED=0

cleanup() {
    local rc=$?
    set +e
    [[ -n "$DAEMON_PID" ]] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    [[ -n "$SEEDER_IN" ]] && exec {SEEDER_IN}>&-
    [[ -n "$SEEDER_PID" ]] && kill "$SEEDER_PID" 2>/dev/null && wait "$SEEDER_PID" 2>/dev/null
    if ((INSTALLED)); then
        say "cleanup: purging the packages"
        dpkg --purge lanspread-sdk-dev lanspread >"$WORK/cleanup-purge.log" 2>&1 ||
            { cat "$WORK/cleanup-purge.log"; CLEANUP_FAILED=1; }
    fi
    rm -rf /run/lanspread
    # A purge that went wrong must not leave the user behind for the next run.
    getent passwd lanspread >/dev/null && userdel lanspread 2>/dev/null
    getent group lanspread >/dev/null && groupdel lanspread 2>/dev/null
    rm -rf /var/lib/lanspread /etc/lanspread
    rm -rf "$WORK"
    if ((CLEANUP_FAILED)) && ((rc == 0)); then
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Snapshot of what a package may touch, to compare after the purge. dpkg's and apt's own
# databases change with every install by design and are left out.
snapshot() {
    find /etc /usr /var/lib -xdev \
        \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf \) -prune -o -print |
        LC_ALL=C sort
}

# ---------------------------------------------------------------------------------------
section "1. build the packages (cpack, from $BUILD)"
cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/cpack" >"$WORK/cpack.log" 2>&1 ||
    { cat "$WORK/cpack.log"; fail "cpack failed"; }
grep -E '^CPack: - package: ' "$WORK/cpack.log"
VERSION=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
RELEASE=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_RELEASE "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
ARCH=$(dpkg --print-architecture)
DEB="$WORK/cpack/lanspread_${VERSION}-${RELEASE}_${ARCH}.deb"
SDK_DEB="$WORK/cpack/lanspread-sdk-dev_${VERSION}-${RELEASE}_${ARCH}.deb"
[[ -f "$DEB" && -f "$SDK_DEB" ]] ||
    fail "expected $(basename "$DEB") and $(basename "$SDK_DEB"); cpack made: $(ls "$WORK/cpack")"

# ---------------------------------------------------------------------------------------
section "2. contents and control fields"
for deb in "$DEB" "$SDK_DEB"; do
    dpkg-deb --info "$deb"
    dpkg-deb --contents "$deb" | awk '{print "  " $1, $2, $6, $7, $8}'
done
contents=$(dpkg-deb --contents "$DEB" | awk '{print $6}')
expect=(./usr/bin/lanspreadd ./usr/share/lanspread/catalog.json ./usr/share/lanspread/www/index.html
    ./lib/systemd/system/lanspread.service ./etc/lanspread/lanspread.ini
    ./usr/share/doc/lanspread/copyright ./usr/share/doc/lanspread/changelog.Debian.gz
    ./usr/share/doc/lanspread/configuration.md ./usr/share/doc/lanspread/README.Debian)
for so in "$BUILD"/lib/lanspread/plugins/lanspread-*.so; do
    # The SDK's example plugin is built next to the others but is not one of lanspread's.
    [[ $(basename "$so") == lanspread-unpacker-minimal.so ]] && continue
    expect+=("./usr/lib/lanspread/plugins/$(basename "$so")")
done
((HAVE_CLIENT)) && expect+=(./usr/bin/lanspread)
for path in "${expect[@]}"; do
    grep -qxF "$path" <<<"$contents" || fail "lanspread.deb lacks $path"
done
sdk_contents=$(dpkg-deb --contents "$SDK_DEB" | awk '{print $6}')
for pattern in '^\./usr/bin/lanspread-plugin-check$' '^\./usr/include/lanspread/plugin\.h$' \
    '/cmake/LanspreadSDK/LanspreadSDKConfig\.cmake$' '/cmake/LanspreadSDK/LanspreadPlugin\.cmake$' \
    '^\./usr/share/lanspread-sdk/examples/unpacker-minimal/CMakeLists\.txt$' \
    '^\./usr/share/doc/lanspread-sdk-dev/copyright$'; do
    grep -qE "$pattern" <<<"$sdk_contents" || fail "lanspread-sdk-dev.deb has no file matching $pattern"
done
# Nothing of one package in the other, and nothing from the build or source tree's paths.
grep -qE 'lanspread-plugin-check|/include/' <<<"$contents" && fail "lanspread.deb holds SDK files"
grep -qE 'lanspreadd$|/plugins/' <<<"$sdk_contents" && fail "lanspread-sdk-dev.deb holds runtime files"
[[ $(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles) == /etc/lanspread/lanspread.ini ]] ||
    fail "conffiles of lanspread.deb is not exactly /etc/lanspread/lanspread.ini"
dpkg-deb -f "$DEB" Recommends | grep -qw avahi-daemon || fail "lanspread does not recommend avahi-daemon"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in adduser libc6 libpoco; do
    grep -q "$lib" <<<"$depends" || fail "lanspread's Depends lack $lib (shlibdeps): $depends"
done
dpkg-deb -f "$SDK_DEB" Depends | grep -q libc6 || fail "lanspread-sdk-dev's Depends lack shlibdeps"
say "contents and control fields as expected"

# ---------------------------------------------------------------------------------------
section "3. lintian"
lintian_failed=0
for deb in "$DEB" "$SDK_DEB"; do
    say "lintian --display-info --show-overrides $(basename "$deb"):"
    lintian --display-info --show-overrides "$deb" >"$WORK/lintian.out" 2>&1
    lintian_rc=$?
    if [[ -s "$WORK/lintian.out" ]]; then cat "$WORK/lintian.out"; else echo "(no tags)"; fi
    if grep -q '^E: ' "$WORK/lintian.out"; then
        say "lintian reports errors for $(basename "$deb")"
        lintian_failed=1
    elif ((lintian_rc != 0 && lintian_rc != 2)); then
        say "lintian itself failed (exit $lintian_rc)"
        lintian_failed=1
    fi
done
((lintian_failed)) && fail "lintian errors (above); fix them or override them with a reason in packaging/debian/<package>.lintian-overrides"

# ---------------------------------------------------------------------------------------
section "4. dpkg -i"
snapshot >"$WORK/before.list"
cp /etc/passwd "$WORK/passwd.before"
cp /etc/group "$WORK/group.before"
INSTALLED=1
if ! dpkg -i "$DEB" "$SDK_DEB" >"$WORK/dpkg-i.log" 2>&1; then
    cat "$WORK/dpkg-i.log"
    say "dpkg -i failed; completing the dependencies from what apt already has (offline)"
    apt-get install -f -y --no-download >"$WORK/apt-f.log" 2>&1 || true
    cat "$WORK/apt-f.log"
fi
cat "$WORK/dpkg-i.log"
for pkg in lanspread lanspread-sdk-dev; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg") == "install ok installed" ]] ||
        fail "$pkg is not installed after dpkg -i"
done

# The user, its group, the directories and their modes, the conffile.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd lanspread) || fail "no user lanspread"
((uid < 1000)) || fail "lanspread is not a system user (uid $uid)"
[[ $(getent group lanspread | cut -d: -f3) == "$gid" ]] || fail "lanspread's primary group is not lanspread"
[[ "$home" == /var/lib/lanspread ]] || fail "lanspread's home is $home, not /var/lib/lanspread"
[[ "$shell" == */nologin || "$shell" == /bin/false ]] || fail "lanspread has a login shell: $shell"
say "user lanspread: uid $uid, group lanspread ($gid), home $home, shell $shell"
check_mode() { # path mode owner group
    local got
    got=$(stat -c '%a %U %G' "$1") || fail "$1 is missing"
    [[ "$got" == "$2 $3 $4" ]] || fail "$1 is $got, expected $2 $3 $4"
    say "$1: $got"
}
check_mode /var/lib/lanspread 750 lanspread lanspread
check_mode /var/lib/lanspread/games 750 lanspread lanspread
check_mode /etc/lanspread/lanspread.ini 644 root root
check_mode /usr/bin/lanspreadd 755 root root
check_mode /lib/systemd/system/lanspread.service 644 root root
dpkg-query -W -f='${Conffiles}\n' lanspread | grep -q '^ /etc/lanspread/lanspread.ini [0-9a-f]\{32\}' ||
    fail "dpkg does not list /etc/lanspread/lanspread.ini as a conffile"
say "dpkg lists /etc/lanspread/lanspread.ini as a conffile"
if [[ -x /usr/bin/deb-systemd-helper ]]; then
    [[ -L /etc/systemd/system/multi-user.target.wants/lanspread.service ]] ||
        fail "lanspread.service is not enabled (no multi-user.target.wants link)"
    say "lanspread.service enabled (multi-user.target.wants), not started: systemd is $(
        [[ -d /run/systemd/system ]] && echo running || echo "not the running init here")"
fi

# An admin's edit of the conffile survives a reinstall (the upgrade path of the maintainer
# scripts: postinst configure with the old version), and the user is not made again.
echo "; edited by package_test $$" >>/etc/lanspread/lanspread.ini
dpkg -i "$DEB" >"$WORK/reinstall.log" 2>&1 || { cat "$WORK/reinstall.log"; fail "reinstalling lanspread failed"; }
grep -qx "; edited by package_test $$" /etc/lanspread/lanspread.ini || fail "a reinstall lost the admin's edit of the conffile"
[[ $(id -u lanspread) == "$uid" ]] || fail "a reinstall changed the user lanspread"
say "reinstall: the conffile keeps the admin's edit, the user keeps uid $uid"

section "4b. systemd-analyze verify"
if systemd-analyze verify /lib/systemd/system/lanspread.service >"$WORK/verify.log" 2>&1; then
    cat "$WORK/verify.log"
    say "systemd-analyze verify: clean"
else
    cat "$WORK/verify.log"
    fail "systemd-analyze verify reports the problems above"
fi
# The sandbox's exposure score, for the record (offline: no systemd needed).
systemd-analyze security --offline=true /lib/systemd/system/lanspread.service 2>&1 | tail -n 1

section "4c. the conffile documents every key, and every default it shows is accepted"
ini=/etc/lanspread/lanspread.ini
# [section] -> keys written in it, commented (";key =", "; key =") or not.
ini_keys() { # section
    awk -v want="$1" '
        /^;? ?\[/ { s = $0; sub(/^;? ?\[/, "", s); sub(/\].*/, "", s); next }
        s == want && /^;? ?[a-z_]+ =/ { k = $0; sub(/^;? ?/, "", k); sub(/ =.*/, "", k); print k }
    ' "$ini"
}
missing=0
kernel_keys=$(awk '/^## `\[lanspread\]`/ { on = 1; next } /^## / { on = 0 }
                   on && /^\| `[a-z_]+` \|/ { k = $2; gsub(/`/, "", k); print k }' \
    /usr/share/doc/lanspread/configuration.md)
[[ -n "$kernel_keys" ]] || fail "no kernel keys found in configuration.md"
for key in $kernel_keys; do
    ini_keys lanspread | grep -qx "$key" || { say "[lanspread] $key is not in $ini"; missing=1; }
done
for so in /usr/lib/lanspread/plugins/*.so; do
    lanspread-plugin-check "$so" >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out"; fail "lanspread-plugin-check $so failed"; }
    id=$(awk '$1 == "id" { print $2; exit }' "$WORK/check.out")
    for key in $(awk '$1 == "config" { k = $2; sub(/:$/, "", k); print k }' "$WORK/check.out"); do
        ini_keys "plugin.$id" | grep -qx "$key" || { say "[plugin.$id] $key is not in $ini"; missing=1; }
    done
done
((missing)) && fail "the conffile does not document every key (above)"
say "every kernel key (configuration.md) and every key each installed plugin declares is in $ini"
# Every ";key = default" line uncommented: the peer must start with all of them, so no
# documented default is wrong or misspelt (an unknown key would stop it with exit 78).
mkdir -p "$WORK/defaults"
sed -E 's/^;([a-z_]+ =)/\1/; s/^listen = 127\.0\.0\.1:7878$/listen = 127.0.0.1:0/' "$ini" >"$WORK/defaults/all.ini"
env -u RUNTIME_DIRECTORY /usr/bin/lanspreadd --config "$WORK/defaults/all.ini" --games "$WORK/defaults/games" \
    --state "$WORK/defaults/state" --listen 127.0.0.1:0 </dev/null 2>"$WORK/defaults/log" &
defaults_pid=$!
for _ in $(seq 100); do
    grep -q 'catalog .* with [0-9]* games' "$WORK/defaults/log" && grep -q 'loaded org.lanspread.discovery.dnssd' "$WORK/defaults/log" && break
    kill -0 "$defaults_pid" 2>/dev/null || break
    sleep 0.1
done
sleep 1
if ! kill -0 "$defaults_pid" 2>/dev/null; then
    wait "$defaults_pid"
    cat "$WORK/defaults/log"
    fail "lanspreadd stopped (exit $?) with every documented default uncommented"
fi
kill "$defaults_pid"
wait "$defaults_pid" || { cat "$WORK/defaults/log"; fail "lanspreadd with every default did not stop cleanly"; }
# A refused plugin, an unread section or a value a plugin does not take ("config key=...").
grep -E 'rejected|not loaded|is not read|unknown key|config [a-z_]+=' "$WORK/defaults/log" &&
    { cat "$WORK/defaults/log"; fail "a documented default was refused or not read (above)"; }
say "lanspreadd starts with every documented default uncommented; no key refused or unread"

# ---------------------------------------------------------------------------------------
section "5. lanspreadd as the unit runs it"
unit=/lib/systemd/system/lanspread.service
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exec_start=$(unit_value ExecStart)
user=$(unit_value User)
group=$(unit_value Group)
workdir=$(unit_value WorkingDirectory)
umask_value=$(unit_value UMask)
runtime_mode=$(unit_value RuntimeDirectoryMode)
[[ -n "$exec_start" && -n "$user" && -n "$workdir" && -n "$umask_value" ]] || fail "the unit lacks ExecStart, User, WorkingDirectory or UMask"
say "ExecStart=$exec_start User=$user Group=$group WorkingDirectory=$workdir UMask=$umask_value"
# What systemd does before ExecStart: RuntimeDirectory=lanspread with its mode and owner,
# StateDirectory (made by postinst here), the environment it sets.
install -d -m "$runtime_mode" -o "$user" -g "$group" /run/lanspread
check_mode /run/lanspread "${runtime_mode#0}" "$user" "$group"
read -r -a exec_argv <<<"$exec_start"
# MemoryDenyWriteExecute=yes, reproduced with the kernel's own switch for it (prctl
# PR_SET_MDWE, Linux >= 6.3, kept across execve): writable+executable memory and making a
# mapping executable are refused for the daemon and every sidecar it starts. So the download
# and install below prove the unit's setting breaks nothing they use.
mdwe_launcher='import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])'
if grep -qx 'MemoryDenyWriteExecute=yes' "$unit" && command -v python3 >/dev/null &&
    python3 -c "$mdwe_launcher" /bin/true 2>"$WORK/mdwe.err"; then
    exec_argv=(python3 -c "$mdwe_launcher" "${exec_argv[@]}")
    say "MemoryDenyWriteExecute: lanspreadd runs under prctl(PR_SET_MDWE)"
else
    say "MemoryDenyWriteExecute: not reproduced ($(cat "$WORK/mdwe.err" 2>/dev/null || echo "no python3")); checked through /proc/PID/maps only"
fi
(
    cd "$workdir" || exit 1
    umask "$umask_value"
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 HOME="$workdir" USER="$user" LOGNAME="$user" SHELL=/usr/sbin/nologin \
        RUNTIME_DIRECTORY=/run/lanspread STATE_DIRECTORY=/var/lib/lanspread \
        CONFIGURATION_DIRECTORY=/etc/lanspread \
        setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        --inh-caps=-all --bounding-set=-all -- "${exec_argv[@]}"
) </dev/null >"$WORK/daemon.out" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 200); do
    [[ -S /run/lanspread/control.sock ]] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/daemon.log"; fail "lanspreadd exited at start"; }
    sleep 0.1
done
[[ -S /run/lanspread/control.sock ]] || { cat "$WORK/daemon.log"; fail "no /run/lanspread/control.sock after 20 s"; }
[[ $(stat -c %U "/proc/$DAEMON_PID") == "$user" ]] || fail "lanspreadd does not run as $user"
say "lanspreadd runs as $(ps -o user:12=,group:12=,pid=,args= -p "$DAEMON_PID")"
check_mode /run/lanspread/control.sock 660 "$user" "$group"

if ((HAVE_CLIENT)); then
    section "5b. lanspread status through the client"
    lanspread status >"$WORK/status.out" 2>&1 || { cat "$WORK/status.out" "$WORK/daemon.log"; fail "lanspread status failed"; }
    cat "$WORK/status.out"
    lanspread --json status >"$WORK/status.json" 2>&1 || fail "lanspread --json status failed"
    grep -q '"org.lanspread.frontend.socket"' "$WORK/status.json" || fail "status lists no frontend-socket"
    grep -q '"org.lanspread.frontend.web"' "$WORK/status.json" || fail "status lists no frontend-web"
    grep -q '"/var/lib/lanspread/games"' "$WORK/status.json" || fail "status shows another games dir"
    grep -q '"rejected_plugins":\[\]' "$WORK/status.json" || fail "status lists rejected plugins"
    # Group lanspread may use the socket; anyone else gets one clear sentence.
    lanspread_gid=$(getent group lanspread | cut -d: -f3)
    setpriv --reuid=nobody --regid=nogroup --groups="$lanspread_gid" -- lanspread status >/dev/null 2>"$WORK/member.err" ||
        { cat "$WORK/member.err"; fail "a member of the group lanspread cannot run lanspread status"; }
    # Outside the group: the default socket and the one named with --socket both answer one
    # sentence that says it is a matter of permission (/run/lanspread is 0750, so such a
    # user cannot even see whether the socket is there).
    for how in default --socket; do
        args=(status)
        [[ "$how" == --socket ]] && args=(--socket /run/lanspread/control.sock status)
        if setpriv --reuid=nobody --regid=nogroup --clear-groups -- lanspread "${args[@]}" >/dev/null 2>"$WORK/denied.err"; then
            fail "a user outside the group lanspread could use the control socket"
        fi
        say "a user outside the group lanspread ($how socket) is told: $(cat "$WORK/denied.err")"
        [[ $(wc -l <"$WORK/denied.err") -eq 1 ]] || fail "the permission error is not one line"
        grep -qi 'permission' "$WORK/denied.err" || fail "the error does not say it is a matter of permission"
    done

    section "5c. a download from a second peer through the client"
    version=$(sed -n "s/.*\"id\": \"$GAME\",.*\"version\": \"\([^\"]*\)\".*/\1/p" /usr/share/lanspread/catalog.json)
    [[ -n "$version" ]] || fail "$GAME is not in the bundled catalog"
    seeder="$WORK/seeder"
    mkdir -p "$seeder/games/$GAME" "$seeder/files/bin"
    echo "$version" >"$seeder/games/$GAME/version.ini"
    head -c $((6 * 1024 * 1024 + 12345)) /dev/urandom >"$seeder/files/bin/data.bin"
    echo "package_test $$" >"$seeder/files/readme.txt"
    tar -C "$seeder/files" -cf "$seeder/games/$GAME/$GAME.eti" .
    mkfifo "$WORK/seeder.in"
    "$BUILD/bin/lanspreadd" --games "$seeder/games" --state "$seeder/state" --listen 127.0.0.1:0 \
        --name "package-test-seeder-$$" --json \
        --plugins org.lanspread.frontend.cli,org.lanspread.transport.quic,org.lanspread.transport.tls,org.lanspread.unpacker.libarchive \
        <"$WORK/seeder.in" >"$WORK/seeder.out" 2>"$WORK/seeder.log" &
    SEEDER_PID=$!
    exec {SEEDER_IN}>"$WORK/seeder.in"
    for _ in $(seq 200); do
        grep -q '"event":"local-peer-ready"' "$WORK/seeder.out" && break
        sleep 0.1
    done
    seeder_addr=$(sed -n 's/.*"event":"local-peer-ready".*"listen_addr":"\([^"]*\)".*/\1/p' "$WORK/seeder.out" | head -n 1)
    [[ -n "$seeder_addr" ]] || { cat "$WORK/seeder.log" "$WORK/seeder.out"; fail "the second peer did not start"; }
    say "second peer (build tree, root) serves $GAME $version at $seeder_addr"
    lanspread connect "$seeder_addr" || fail "lanspread connect $seeder_addr failed"
    # The download needs the second peer's library (its Hello) first. It serves only $GAME, so
    # that is the first row of "remote".
    for _ in $(seq 100); do
        lanspread --json list-games >"$WORK/games.json" 2>&1
        grep -q "\"remote\":\[[^]]*\"id\":\"$GAME\"" "$WORK/games.json" && break
        sleep 0.1
    done
    grep -q "\"remote\":\[[^]]*\"id\":\"$GAME\"" "$WORK/games.json" ||
        { cat "$WORK/games.json"; fail "the packaged peer does not see $GAME on the second peer"; }
    lanspread download "$GAME" || { cat "$WORK/daemon.log"; fail "lanspread download $GAME failed"; }
    state=""
    for _ in $(seq 600); do
        lanspread --json list-games >"$WORK/games.json" 2>&1
        if grep -q "\"id\":\"$GAME\"[^}]*\"availability\":\"Ready\"[^}]*\"installed\":true\|\"id\":\"$GAME\"[^}]*\"installed\":true[^}]*\"availability\":\"Ready\"" "$WORK/games.json"; then
            state=ready
            break
        fi
        sleep 0.2
    done
    [[ "$state" == ready ]] || { cat "$WORK/games.json" "$WORK/daemon.log"; fail "$GAME is not downloaded and installed after 120 s"; }
    lanspread list-games
    got=/var/lib/lanspread/games/$GAME
    for pair in "$GAME.eti:$seeder/games/$GAME/$GAME.eti" "local/bin/data.bin:$seeder/files/bin/data.bin" \
        "local/readme.txt:$seeder/files/readme.txt"; do
        mine=$(sha256sum <"$got/${pair%%:*}" | cut -d' ' -f1)
        theirs=$(sha256sum <"${pair#*:}" | cut -d' ' -f1)
        [[ "$mine" == "$theirs" ]] || fail "$got/${pair%%:*} differs from the second peer's ($mine vs $theirs)"
        say "sha256 $mine  $got/${pair%%:*} (the same as the second peer's)"
    done
    [[ $(stat -c %U "$got/local/bin/data.bin") == "$user" ]] || fail "the installed files are not owned by $user"
    # frontend-cli keeps the peer running when its input closes: ask it to stop.
    echo '{"id":"bye","cmd":"shutdown"}' >&"$SEEDER_IN"
    exec {SEEDER_IN}>&-
    SEEDER_IN=""
    wait "$SEEDER_PID" || fail "the second peer did not stop cleanly"
    SEEDER_PID=""
else
    section "5b/5c. SKIPPED: this build has no lanspread client (apps/lanspread): status and the download are not run"
    grep -m1 'catalog .* with [0-9]* games' "$WORK/daemon.log" || fail "the daemon logged no start line"
fi

# MemoryDenyWriteExecute=yes refuses writable+executable and anonymous executable memory;
# the running peer (after a download and an install) has none.
if awk '$2 ~ /w.x/ || ($2 ~ /x/ && $6 == "") { found = 1; print } END { exit !found }' "/proc/$DAEMON_PID/maps"; then
    fail "lanspreadd has writable+executable or anonymous executable memory (above): MemoryDenyWriteExecute would kill it"
fi
say "no W+X or anonymous executable mapping in lanspreadd (MemoryDenyWriteExecute holds)"

# ---------------------------------------------------------------------------------------
section "6. stop, check what it wrote, purge"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
daemon_rc=$?
DAEMON_PID=""
((daemon_rc == 0)) || { cat "$WORK/daemon.log"; fail "lanspreadd exited $daemon_rc on SIGTERM"; }
say "lanspreadd stopped on SIGTERM (exit 0); its log:"
sed 's/^/  | /' "$WORK/daemon.log"
[[ -e /run/lanspread/control.sock ]] && fail "the control socket is left after the daemon stopped"
# Everything the daemon created is owned by its user: it must all be where the unit lets it
# write (ProtectSystem=strict with StateDirectory and RuntimeDirectory).
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path "$WORK" \) -prune -o -user "$user" -print \
    >"$WORK/owned.list" 2>/dev/null
find /run /tmp /var/tmp -user "$user" -print >>"$WORK/owned.list" 2>/dev/null
outside=$(grep -vE '^(/var/lib/lanspread|/run/lanspread)(/|$)' "$WORK/owned.list")
[[ -z "$outside" ]] || fail "lanspreadd wrote outside /var/lib/lanspread and /run/lanspread: $outside"
say "$(wc -l <"$WORK/owned.list") paths owned by $user, all under /var/lib/lanspread or /run/lanspread"
rm -rf /run/lanspread # systemd removes the RuntimeDirectory when the service stops

dpkg --purge lanspread-sdk-dev lanspread >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg --purge failed"; }
cat "$WORK/purge.log"
INSTALLED=0
for pkg in lanspread lanspread-sdk-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed' && fail "$pkg is still installed"
done
for path in /etc/lanspread /var/lib/lanspread /usr/lib/lanspread /usr/share/lanspread \
    /usr/share/doc/lanspread /usr/share/doc/lanspread-sdk-dev /usr/include/lanspread \
    /usr/bin/lanspreadd /usr/bin/lanspread /usr/bin/lanspread-plugin-check \
    /lib/systemd/system/lanspread.service /etc/systemd/system/multi-user.target.wants/lanspread.service; do
    [[ -e "$path" || -L "$path" ]] && fail "$path is left after the purge"
done
getent passwd lanspread && fail "the user lanspread is left after the purge"
getent group lanspread && fail "the group lanspread is left after the purge"
cmp -s /etc/passwd "$WORK/passwd.before" || fail "/etc/passwd differs from before the install"
cmp -s /etc/group "$WORK/group.before" || fail "/etc/group differs from before the install"
snapshot >"$WORK/after.list"
if ! diff -u "$WORK/before.list" "$WORK/after.list" >"$WORK/leftover.diff"; then
    cat "$WORK/leftover.diff"
    fail "/etc, /usr or /var/lib differ from before the install (above)"
fi
say "after the purge /etc, /usr and /var/lib hold the same paths as before ($(wc -l <"$WORK/after.list") paths); user and group gone"
say "PASSED"
