#!/bin/sh
# End-to-end test of the kservice command on temporary simulated machines:
# the public page's worked example, every refusal, the manual revert, the
# missing kernel and its repair.  Each step checks the exit status, the
# output, the kernel files byte for byte and the values in registry.reg;
# each refusal also checks that nothing on disk changed.
#
#   sh scenario.sh PATH/TO/kservice PATH/TO/python3
set -eu

KSERVICE=${1:?usage: scenario.sh KSERVICE PYTHON3}
PYTHON=${2:?usage: scenario.sh KSERVICE PYTHON3}
HERE=$(cd "$(dirname "$0")" && pwd)
REGHAND=$HERE/reghand.py

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT=$WORK/machine
TOOLS=$ROOT/System32/lxss/tools
HIVE=$ROOT/registry.reg
OUT=$WORK/stdout
ERR=$WORK/stderr
LXSS='HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss'

A=4.19.104
B=4.19.121
C=4.19.128

MSG_MISSING='WSL 2 requires an update to its kernel component. For information please visit https://aka.ms/wsl2kernel'
MSG_PRECHECK='This update only applies to machines with the Windows Subsystem for Linux.'
MSG_RESTART='The change takes effect when the Linux of this machine restarts: the running instance keeps its kernel until you save your work and run wsl --shutdown.'
MSG_ROLLBACK_STATE='The WSL 2 kernel is in the rollback state and is using a previous kernel version.'

. "$HERE/common.sh"

# expect STATUS [ARGS...]: run kservice on ROOT, demand the exit status.
# Every JSON report (status/verify --json) must follow the published schema.
SCHEMA=$HERE/../../doc/kservice-status.schema.json
JSON_CHECKED=0
expect() {
    want=$1
    shift
    run_kservice "$want" --root "$ROOT" "$@"
    case " $* " in
    *" --json "*)
        if [ -s "$OUT" ]; then
            "$PYTHON" "$HERE/status_schema.py" "$SCHEMA" "$OUT" ||
                fail "kservice $*: the JSON does not follow $SCHEMA"
            JSON_CHECKED=$((JSON_CHECKED + 1))
        fi
        ;;
    esac
}

# The same, with no --root (for the usage checks).
expect_bare() {
    run_kservice "$@"
}

stdout_has() {
    grep -qF -- "$1" "$OUT" || fail "stdout lacks: $1"
}

stdout_lacks() {
    if grep -qF -- "$1" "$OUT"; then fail "stdout has: $1"; fi
}

stdout_is() {
    [ "$(cat "$OUT")" = "$1" ] || fail "stdout is not: $1"
}

stderr_empty() {
    [ ! -s "$ERR" ] || fail "stderr is not empty"
}

# json EXPR WANT: evaluate the Python expression EXPR over the JSON document
# d that kservice printed; its JSON text must equal WANT.
json() {
    got=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(eval(sys.argv[2], {"d": d})))
' "$OUT" "$1") || fail "stdout is not one JSON document (checking $1)"
    [ "$got" = "$2" ] || fail "JSON $1 is $got, expected $2"
}

# reg_value NAME: the data of a value under the Lxss key in registry.reg as
# written there ("text", dword:..., hex(7):...); empty when absent.
reg_value() {
    awk -v key="[$LXSS]" -v name="\"$1\"" '
        { sub(/\r$/, "") }
        /^\[/ { inside = ($0 == key); next }
        inside && index($0, name "=") == 1 {
            print substr($0, length(name) + 2); exit
        }' "$HIVE"
}

reg_is() {
    got=$(reg_value "$1")
    [ "$got" = "$2" ] || fail "registry $1 is '$got', expected '$2'"
}

reg_absent() {
    got=$(reg_value "$1")
    [ -z "$got" ] || fail "registry $1 is '$got', expected no such value"
}

# The versions KServiceBadVersions holds in registry.reg, space-separated,
# read by hand (not through the library); bad_by_hand V... rewrites it.
reg_bad() {
    "$PYTHON" "$REGHAND" "$HIVE" get KServiceBadVersions | tr '\n' ' '
}

reg_bad_is() {
    got=$(reg_bad)
    [ "$got" = "$1" ] || fail "registry KServiceBadVersions is '$got', expected '$1'"
}

bad_by_hand() {
    "$PYTHON" "$REGHAND" "$HIVE" set KServiceBadVersions "$@" ||
        fail "cannot edit registry.reg"
}

# slot_is NAME PAYLOAD: the file in the tools folder equals PAYLOAD's bytes.
slot_is() {
    [ -f "$TOOLS/$1" ] || fail "$1 is missing"
    cmp -s "$TOOLS/$1" "$WORK/$2" || fail "$1 does not hold the bytes of $2"
}

slot_absent() {
    [ ! -e "$TOOLS/$1" ] || fail "$1 exists"
}

# Everything a refused operation must leave alone: every file under ROOT
# (name and content) but the lock file, and the hive's bytes.
snapshot() {
    (cd "$ROOT" && find . ! -name kservice.lock | LC_ALL=C sort |
        while IFS= read -r f; do
            if [ -f "$f" ]; then
                printf '%s %s\n' "$f" "$(cksum <"$f")"
            else
                printf '%s\n' "$f"
            fi
        done) >"$WORK/snapshot.$1"
}

unchanged_since() {
    snapshot now
    cmp -s "$WORK/snapshot.$1" "$WORK/snapshot.now" ||
        fail "files under ROOT changed: $(diff "$WORK/snapshot.$1" \
            "$WORK/snapshot.now" | tr '\n' ' ')"
}

# refused STATUS ARGS...: the command fails with STATUS and changes nothing.
refused() {
    snapshot before
    expect "$@"
    unchanged_since before
    [ -s "$ERR" ] || fail "kservice $*: refused without a message"
}

# A stand-in x64 kernel image whose header names its version.
make_kernel() {
    "$KSERVICE" make-kernel "$1" "$WORK/$1" --arch "${2:-x64}" >/dev/null ||
        fail "kservice make-kernel $*"
}

for v in $A $B $C; do
    make_kernel "$v"
done

# ---------------------------------------------------------------------------
step "usage errors exit 2"
expect_bare 2
expect_bare 2 no-such-command
expect_bare 2 status
grep -qF -- '--root ROOT is required' "$ERR" || fail "no hint about --root"
expect_bare 0 --help
stdout_has 'usage: kservice'
expect 2 install
expect 2 install --version "$A"
expect 2 install "$WORK/$A" "$WORK/$B"
expect 2 install "$WORK/$A" --bogus
expect 2 --mock-elevated=maybe status
expect 2 init-mock --arch sparc
expect 2 init-mock --os-build 19045.x
[ ! -e "$ROOT" ] || fail "a usage error created ROOT"

step "a machine that does not exist"
expect 1 status
stderr_line "kservice: no simulated machine at $ROOT: no such file, key or value"
stderr_line "kservice: make one with 'kservice --root $ROOT init-mock'"

# ---------------------------------------------------------------------------
step "init-mock makes a simulated machine"
expect 0 init-mock
[ -d "$TOOLS" ] || fail "no tools folder"
[ -z "$(ls -A "$TOOLS")" ] || fail "the tools folder is not empty"
[ "$(head -n 1 "$HIVE" | tr -d '\r' | sed 's/^\xef\xbb\xbf//')" = \
    'Windows Registry Editor Version 5.00' ] || fail "hive header"
reg_absent KernelVersion
reg_absent RollbackKernel

step "init-mock refuses an existing machine"
refused 1 init-mock

step "precheck passes on the default machine"
expect 0 precheck
stderr_empty
stdout_has '19045.3803'

step "a fresh machine has no kernel"
expect 0 status --json
json 'd["kernel"]["present"]' false
json 'd["rollback"]["present"]' false
json 'd["effective"]' null
json 'd["rolled_back"]' false
json 'd["bad_versions"]' '[]'
json "d[\"problems\"] == [\"$MSG_MISSING\"]" true
expect 5 boot-path
stderr_line "kservice: $MSG_MISSING"
expect 0 status
stdout_line 'Kernel version: (none)'
stdout_line "$MSG_MISSING"

# ---------------------------------------------------------------------------
step "install A"
expect 0 install "$WORK/$A" --version "$A"
stdout_has "Installed kernel version $A."
stdout_line "$MSG_RESTART"
slot_is kernel "$A"
slot_absent kernel.rollback
reg_is KernelVersion "\"$A\""
reg_absent RollbackKernel
expect 0 status --json
json 'd["kernel"]["version"]' "\"$A\""
json 'd["kernel"]["image_version"]' "\"$A\""
json 'd["kernel"]["intact"]' true
json 'd["kernel"]["sha256"]' "\"$(sha256sum "$WORK/$A" | cut -c1-64)\""
json 'd["rollback"]["present"]' false
json 'd["effective"]' '"kernel"'
json 'd["restart_required"]' true
json 'd["problems"]' '[]'

step "boot-path and --record"
expect 0 boot-path
stdout_is "$TOOLS/kernel"
expect 0 boot-path --record
stdout_is "$TOOLS/kernel"
expect 0 status --json
json 'd["restart_required"]' false

# ---------------------------------------------------------------------------
step "install B: A becomes kernel.rollback"
expect 0 install "$WORK/$B" --version "$B"
slot_is kernel "$B"
slot_is kernel.rollback "$A"
reg_is KernelVersion "\"$B\""
reg_absent RollbackKernel
expect 0 status --json
json 'd["kernel"]["version"]' "\"$B\""
json 'd["rollback"]["version"]' "\"$A\""
json 'd["rollback"]["intact"]' true
json 'd["effective"]' '"kernel"'
json 'd["restart_required"]' true
expect 0 boot-path --record
stdout_is "$TOOLS/kernel"
expect 0 status --json
json 'd["restart_required"]' false
expect 0 status
stdout_line "Kernel version: $B"
stdout_lacks "$MSG_ROLLBACK_STATE"

step "refusals while B is installed"
refused 3 install "$WORK/$B" --version "$B"
stderr_line 'kservice: this kernel version is already installed'
refused 3 install "$WORK/$A" --version "$A"
stderr_line 'kservice: this kernel version is older than the one in use'
refused 9 install "$WORK/$C" --version 'not-a-version'
refused 9 install "$WORK/$C" --version "$C" \
    --sha256 "$(sha256sum "$WORK/$A" | cut -c1-64)"
refused 1 install "$WORK/missing-file" --version "$C"
printf 'just some text, not a kernel\n' >"$WORK/text"
refused 9 install "$WORK/text" --version "$C"
stderr_line 'kservice: the payload is not a usable kernel file'
make_kernel "$C" arm64
mv "$WORK/$C" "$WORK/$C-arm64"
make_kernel "$C"
refused 9 install "$WORK/$C-arm64" --version "$C"
stderr_line 'kservice: the kernel image is built for another processor architecture'
refused 9 install "$WORK/$C" --version 4.19.130
stderr_line 'kservice: the version given differs from the one inside the kernel image'
: >"$WORK/empty"
refused 9 install "$WORK/empty" --version "$C"
stderr_line 'kservice: the payload is not a usable kernel file'
refused 9 install "$WORK/$C" --version "$C" --sha256 not-hex

step "a standard user is refused and changes nothing"
refused 4 --mock-elevated=no rollback
stderr_line 'kservice: this operation requires administrator rights'
refused 4 --mock-elevated=no install "$WORK/$C" --version "$C"
refused 4 --mock-elevated=no revert-rollback
refused 4 --mock-elevated=no repair
snapshot before
expect 0 --mock-elevated=no status --json
unchanged_since before
json 'd["kernel"]["version"]' "\"$B\""

step "another servicer holds the lock: busy, nothing changed"
# flock(1) takes the same flock() lock the POSIX backend uses.
if command -v flock >/dev/null 2>&1; then
    # The subshell becomes the sleep that holds the lock, so killing it
    # releases the lock.
    (flock 9 && touch "$WORK/locked" && exec sleep 30) 9>>"$ROOT/kservice.lock" &
    HOLDER=$!
    tries=0
    while [ ! -e "$WORK/locked" ] && [ "$tries" -lt 100 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    [ -e "$WORK/locked" ] || fail "flock(1) did not take the lock"
    # kservice waits the library's default 10 seconds, then gives up.
    refused 7 install "$WORK/$C" --version "$C"
    stderr_line 'kservice: another process is servicing the kernel'
    kill "$HOLDER"
    wait "$HOLDER" 2>/dev/null || true
    rm -f "$WORK/locked"
else
    echo "# (flock(1) missing: busy case not run)"
fi

# ---------------------------------------------------------------------------
step "rollback (as wsl --update --rollback): boots A, B is bad"
expect 0 --update --rollback
stdout_has "kernel version $B is marked bad"
stdout_line "$MSG_RESTART"
slot_is kernel "$B"
slot_is kernel.rollback "$A"
reg_is RollbackKernel "\"$B\""
reg_is KernelVersion "\"$B\""
reg_bad_is "$B "
expect 0 status --json
json 'd["rolled_back"]' true
json 'd["rolled_back_from"]' "\"$B\""
json 'd["effective"]' '"kernel.rollback"'
json 'd["bad_versions"]' "[\"$B\"]"
json 'd["kernel"]["bad"]' true
json 'd["rollback"]["bad"]' false
json 'd["restart_required"]' true
expect 0 --status
stdout_line "$MSG_ROLLBACK_STATE"
stdout_line "Kernel version: $A"
expect 0 boot-path
stdout_is "$TOOLS/kernel.rollback"

step "refusals while rolled back"
refused 3 rollback
stderr_line 'kservice: the kernel is already in the rollback state'
refused 3 install "$WORK/$B" --version "$B"
stderr_line 'kservice: this kernel version was rolled back from and is marked bad'
refused 3 install "$WORK/$B" --version "$B" --force --allow-downgrade

# ---------------------------------------------------------------------------
step "update to C: kernel = C, kernel.rollback = A (the worked example)"
# No --version: the version is the one the image names.
expect 0 update "$WORK/$C" --sha256 "$(sha256sum "$WORK/$C" | cut -c1-64)"
stdout_line "Installed kernel version $C (read from the image)."
slot_is kernel "$C"
slot_is kernel.rollback "$A"
[ "$(ls -A "$TOOLS" | LC_ALL=C sort | tr '\n' ' ')" = 'kernel kernel.rollback ' ] ||
    fail "the tools folder holds more than the two kernels: $(ls -A "$TOOLS")"
reg_is KernelVersion "\"$C\""
reg_absent RollbackKernel
reg_bad_is "$B "
expect 0 status --json
json 'd["kernel"]["version"]' "\"$C\""
json 'd["rollback"]["version"]' "\"$A\""
json 'd["rolled_back"]' false
json 'd["effective"]' '"kernel"'
json 'd["bad_versions"]' "[\"$B\"]"
json 'd["problems"]' '[]'
expect 0 verify
expect 0 boot-path
stdout_is "$TOOLS/kernel"

step "B is still refused after C"
refused 3 install "$WORK/$B" --version "$B" --allow-downgrade
stderr_line 'kservice: this kernel version was rolled back from and is marked bad'
refused 3 revert-rollback
stderr_line 'kservice: the kernel is not in the rollback state'

# ---------------------------------------------------------------------------
step "rollback from C goes to A, never to B; revert-rollback undoes it"
expect 0 rollback
slot_is kernel "$C"
slot_is kernel.rollback "$A"
reg_is RollbackKernel "\"$C\""
expect 0 status --json
json 'd["effective"]' '"kernel.rollback"'
json 'sorted(d["bad_versions"])' "[\"$B\", \"$C\"]"
reg_bad_is "$B $C "

step "rolled back to A and kernel.rollback lost: never repaired from bad C"
rm "$TOOLS/kernel.rollback"
expect 5 boot-path
stderr_line "kservice: $MSG_MISSING"
refused 5 repair
stderr_line "kservice: $MSG_MISSING"
slot_is kernel "$C"
slot_absent kernel.rollback
cp "$WORK/$A" "$TOOLS/kernel.rollback"
expect 0 verify
expect 0 boot-path
stdout_is "$TOOLS/kernel.rollback"

step "revert-rollback: boots C again, C no longer bad"
expect 0 revert-rollback
stdout_line "$MSG_RESTART"
reg_bad_is "$B "
slot_is kernel "$C"
slot_is kernel.rollback "$A"
reg_absent RollbackKernel
expect 0 status --json
json 'd["rolled_back"]' false
json 'd["effective"]' '"kernel"'
json 'd["bad_versions"]' "[\"$B\"]"

step "a version marked bad by hand is never rolled back to nor booted"
bad_by_hand "$B" "$A"
refused 3 rollback
stderr_line 'kservice: this kernel version was rolled back from and is marked bad'
expect 0 boot-path
stdout_is "$TOOLS/kernel"
bad_by_hand "$B"
expect 0 rollback
bad_by_hand "$B" "$C" "$A"
refused 3 boot-path
stderr_line 'kservice: this kernel version was rolled back from and is marked bad'
bad_by_hand "$B" "$C"
expect 0 revert-rollback
reg_bad_is "$B "

step "the manual revert: delete the RollbackKernel line from registry.reg"
expect 0 rollback
reg_is RollbackKernel "\"$C\""
grep -v '^"RollbackKernel"=' "$HIVE" >"$WORK/hive.edited"
cat "$WORK/hive.edited" >"$HIVE"
reg_absent RollbackKernel
expect 0 --mock-elevated=no status --json
json 'd["rolled_back"]' false
json 'd["effective"]' '"kernel"'
expect 0 status --json
json 'd["rolled_back"]' false
json 'd["effective"]' '"kernel"'
json 'd["bad_versions"]' "[\"$B\"]"
expect 0 boot-path
stdout_is "$TOOLS/kernel"
slot_is kernel "$C"
slot_is kernel.rollback "$A"
refused 3 revert-rollback
refused 3 install "$WORK/$B" --version "$B" --allow-downgrade

# ---------------------------------------------------------------------------
step "a damaged kernel: verify finds it, repair restores it from A"
# Repair copies the only other good kernel, kernel.rollback (A), into
# kernel: C has no intact copy left.
expect 0 boot-path --record
printf 'X' | dd of="$TOOLS/kernel" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 8 verify --json
json 'd["kernel"]["intact"]' false
json 'd["rollback"]["intact"]' true
stderr_line 'kservice: a kernel file does not match its recorded checksum'
refused 4 --mock-elevated=no repair
expect 0 repair
slot_is kernel "$A"
slot_is kernel.rollback "$A"
reg_is KernelVersion "\"$A\""
expect 0 verify --json
json 'd["kernel"]["intact"]' true
json 'd["kernel"]["version"]' "\"$A\""
json 'd["problems"]' '[]'
expect 0 repair
slot_is kernel "$A"

step "the kernel is missing: boot-path gives the message, repair restores"
rm -f "$TOOLS/kernel"
expect 5 boot-path
stderr_line "kservice: $MSG_MISSING"
expect 0 status --json
json 'd["kernel"]["present"]' false
json 'd["effective"]' null
json "\"$MSG_MISSING\" in d[\"problems\"]" true
expect 5 verify
expect 0 repair
slot_is kernel "$A"
slot_is kernel.rollback "$A"
reg_is KernelVersion "\"$A\""
expect 0 boot-path
stdout_is "$TOOLS/kernel"
expect 0 verify --json
json 'd["effective"]' '"kernel"'
json 'd["kernel"]["intact"]' true
json 'd["problems"]' '[]'

step "both kernels missing: repair fails with the missing-kernel message"
rm -f "$TOOLS/kernel" "$TOOLS/kernel.rollback"
refused 5 repair
stderr_line "kservice: $MSG_MISSING"
expect 5 boot-path

# ---------------------------------------------------------------------------
step "a damaged hive is refused and left alone"
cp "$HIVE" "$WORK/hive.good"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\r\n"x"=dword:zz\r\n' >"$HIVE"
refused 1 status
stderr_line 'kservice: the registry hive is damaged'
refused 1 install "$WORK/$C" --version "$C"
cp "$WORK/hive.good" "$HIVE"

# ---------------------------------------------------------------------------
step "pre-check refusals, word for word"
ROOT=$WORK/no-wsl
TOOLS=$ROOT/System32/lxss/tools
HIVE=$ROOT/registry.reg
expect 0 init-mock --wsl disabled
expect 6 precheck
stderr_line "kservice: $MSG_PRECHECK The Windows Subsystem for Linux is not enabled."
refused 6 install "$WORK/$A" --version "$A"
stderr_line "kservice: $MSG_PRECHECK The Windows Subsystem for Linux is not enabled."
slot_absent kernel

ROOT=$WORK/old-windows
expect 0 init-mock --os-build 18362.1048
expect 6 precheck
grep -qF "kservice: $MSG_PRECHECK This version of Windows is too old" "$ERR" ||
    fail "no too-old reason"
ROOT=$WORK/backport
expect 0 init-mock --os-build 18363.1049
expect 0 precheck
ROOT=$WORK/arm64-backport
expect 0 init-mock --os-build 18362.1049 --arch arm64
expect 6 precheck
ROOT=$WORK/reboot
expect 0 init-mock --reboot-pending
expect 6 precheck
stderr_line "kservice: $MSG_PRECHECK A restart is required to finish enabling the Windows Subsystem for Linux."

step "an arm64 machine takes an arm64 Image, not an x64 bzImage"
ROOT=$WORK/arm64
TOOLS=$ROOT/System32/lxss/tools
HIVE=$ROOT/registry.reg
expect 0 init-mock --arch arm64
expect 0 precheck
expect 0 install "$WORK/$C-arm64"
slot_is kernel "$C-arm64"
reg_is KernelVersion "\"$C\""
refused 9 install "$WORK/$A" --allow-downgrade
stderr_line 'kservice: the kernel image is built for another processor architecture'

[ "$JSON_CHECKED" -gt 0 ] || fail "no JSON report was checked against the schema"
echo "PASS: kservice CLI scenario ($JSON_CHECKED JSON reports follow the schema)"
