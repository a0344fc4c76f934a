#!/bin/sh
# The public page's worked example, end to end, with kservice.exe under Wine
# on the prefix's real registry and C:\windows\system32\lxss\tools:
# install A, update to B, roll back (B becomes bad), update to C; then the
# documented manual revert (`reg delete ... /v RollbackKernel`) and a
# pre-check refusal.  `wine reg query` checks what the design says the
# registry holds after each step; the slot files are compared byte for byte
# from the Linux side.
#
#   WINEPREFIX=... tests/wine/example.sh PATH/TO/kservice.exe
#
# The prefix must come from tests/wine/prefix.sh.  Exits non-zero on the
# first difference.
set -eu

KSERVICE=${1:?usage: example.sh PATH/TO/kservice.exe}
: "${WINEPREFIX:?WINEPREFIX must name a prefix made by tests/wine/prefix.sh}"
export WINEDEBUG=-all
WINE_TIMEOUT=${WINE_TIMEOUT:-120}
HERE=$(cd "$(dirname "$0")" && pwd)

LXSS='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss'
TOOLS=$WINEPREFIX/drive_c/windows/system32/lxss/tools
PAYLOADS=$WINEPREFIX/drive_c/payloads
A=4.19.104
B=4.19.121
C=4.19.128

fail() {
    printf 'example.sh: FAILED: %s\n' "$*" >&2
    exit 1
}

step() {
    printf '\n=== %s\n' "$*"
}

# Run kservice.exe and expect exit status $1.
expect() {
    want=$1
    shift
    printf '$ wine kservice.exe %s\n' "$*"
    set +e
    timeout "$WINE_TIMEOUT" wine "$KSERVICE" "$@" >"$WORK/out" 2>&1
    got=$?
    set -e
    tr -d '\r' <"$WORK/out" >"$WORK/out.txt"
    cat "$WORK/out.txt"
    [ "$got" = "$want" ] || fail "kservice $* exited $got, expected $want"
}

# The data of value $1 under the Lxss key, or "(absent)".
reg_value() {
    out=$(timeout "$WINE_TIMEOUT" wine reg query "$LXSS" /v "$1" 2>/dev/null |
        tr -d '\r') || { echo "(absent)"; return; }
    printf '%s\n' "$out" | awk -v n="$1" '$1 == n { sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+/, ""); print; found = 1 }
        END { if (!found) print "(absent)" }'
}

expect_value() {
    got=$(reg_value "$1")
    printf 'reg query %s /v %s: %s\n' "$LXSS" "$1" "$got"
    [ "$got" = "$2" ] || fail "$1 is '$got', expected '$2'"
}

# Which payload slot file $1 is byte for byte.
expect_slot() {
    if [ "$2" = none ]; then
        [ ! -e "$TOOLS/$1" ] || fail "$1 exists, expected none"
        printf '%s: none\n' "$1"
        return
    fi
    cmp -s "$TOOLS/$1" "$PAYLOADS/$2" || fail "$1 is not kernel $2"
    printf '%s: kernel %s (byte for byte)\n' "$1" "$2"
}

# A stand-in x64 kernel image (bzImage header) naming its version, written
# by kservice.exe make-kernel into C:\payloads.
make_kernel() {
    timeout "$WINE_TIMEOUT" wine "$KSERVICE" make-kernel "$1" \
        "C:\\payloads\\$1" --arch x64 >/dev/null 2>&1 ||
        fail "kservice.exe make-kernel $1 failed"
    [ -s "$PAYLOADS/$1" ] || fail "kservice.exe make-kernel wrote no $PAYLOADS/$1"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-wine-example.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

step "a fresh Windows 10 machine with WSL and no kernel"
sh "$HERE/prefix.sh" --facts "$WINEPREFIX"
rm -rf "$TOOLS" "$PAYLOADS"
timeout "$WINE_TIMEOUT" wine reg delete "$LXSS" /f >/dev/null 2>&1 || true
mkdir -p "$PAYLOADS"
make_kernel $A
make_kernel $B
make_kernel $C
make_kernel 4.19.130
make_kernel 4.19.140

expect 0 precheck
expect 5 boot-path
grep -q 'https://aka.ms/wsl2kernel' "$WORK/out.txt" || fail "no missing-kernel message"

step "install A"
expect 0 install 'C:\payloads\'$A --version $A
expect_slot kernel $A
expect_slot kernel.rollback none
expect_value KernelVersion $A
expect_value RollbackKernel "(absent)"

step "update to B: A becomes the rollback kernel"
expect 0 update 'C:\payloads\'$B --version $B
expect_slot kernel $B
expect_slot kernel.rollback $A
expect_value KernelVersion $B
expect_value RollbackKernel "(absent)"

step "roll back: boot A, B is bad"
expect 0 rollback
expect_slot kernel $B
expect_slot kernel.rollback $A
expect_value RollbackKernel $B
expect 0 boot-path
grep -qi 'C:\\windows\\system32\\lxss\\tools\\kernel.rollback$' "$WORK/out.txt" ||
    fail "boot-path is not kernel.rollback"
expect 3 install 'C:\payloads\'$B --version $B

step "update to C: the good rollback kernel A is kept"
expect 0 update 'C:\payloads\'$C --version $C
expect_slot kernel $C
expect_slot kernel.rollback $A
expect_value KernelVersion $C
expect_value RollbackKernel "(absent)"
expect 0 boot-path
grep -qi 'C:\\windows\\system32\\lxss\\tools\\kernel$' "$WORK/out.txt" ||
    fail "boot-path is not kernel"
expect 0 status --json
python3 - "$WORK/out.txt" "$A" "$B" "$C" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
a, b, c = sys.argv[2:5]
assert status["kernel"]["version"] == c, status["kernel"]
assert status["rollback"]["version"] == a, status["rollback"]
assert status["rolled_back"] is False, status
assert b in status["bad_versions"], status["bad_versions"]
print("status --json: kernel %s, rollback %s, bad %s" % (c, a, status["bad_versions"]))
PY
expect 3 install 'C:\payloads\'$B --version $B --allow-downgrade

step "roll back to A, then revert by hand: reg delete ... /v RollbackKernel"
expect 0 rollback
expect_value RollbackKernel $C
timeout "$WINE_TIMEOUT" wine reg delete "$LXSS" /v RollbackKernel /f >/dev/null
expect_value RollbackKernel "(absent)"
expect 0 status --json
python3 - "$WORK/out.txt" "$B" "$C" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
b, c = sys.argv[2:4]
assert status["rolled_back"] is False, status
assert c not in status["bad_versions"], status["bad_versions"]
assert b in status["bad_versions"], status["bad_versions"]
print("after the manual revert: not rolled back, bad %s" % status["bad_versions"])
PY
expect 0 boot-path
grep -qi 'lxss\\tools\\kernel$' "$WORK/out.txt" || fail "boot-path is not kernel"

step "trial boot: D on trial with 2 tries; a launcher whose VM never comes up"
# No VM under Wine: the command boot --exec runs stands in for one.
# kservice.exe itself does: --version exits 0 whatever follows (a VM that
# came up), an unknown option exits 2 (one that did not).
STAND_IN="Z:$(printf '%s' "$(cd "$(dirname "$KSERVICE")" && pwd)/$(basename "$KSERVICE")" | tr / '\\')"
D=4.19.140
expect 0 install 'C:\payloads\'$D --version $D --tries 2
expect_value KServiceTrialVersion $D
expect 1 boot --exec "$STAND_IN" --no-such-option
grep -q 'was not confirmed' "$WORK/out.txt" || fail "no 'not confirmed' line"
expect 1 boot --exec "$STAND_IN" --no-such-option
expect_value KServiceTrialUsed 0x2
expect 0 boot --exec "$STAND_IN" --version
grep -q 'rolled back by itself' "$WORK/out.txt" || fail "no automatic rollback"
grep -q 'boots kernel.rollback' "$WORK/out.txt" ||
    fail "the automatic rollback did not boot kernel.rollback"
expect_value RollbackKernel $D
expect 0 status --json
python3 - "$WORK/out.txt" "$D" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert status["rolled_back"] is True, status
assert d in status["bad_versions"], status["bad_versions"]
auto = status["automatic_rollback"]
assert auto and auto["reason"] == d + " did not confirm a boot in 2 tries", auto
assert status["trial"]["confirmed"] is True, status["trial"]
print("trial: %s rolled back by itself (%s), bad %s" % (d, auto["when"], status["bad_versions"]))
PY
expect 3 install 'C:\payloads\'$D --version $D
expect 0 revert-rollback
expect 0 boot-begin
expect 0 boot-confirm

step "pre-check refusal: WSL not enabled (LxssManager key removed)"
timeout "$WINE_TIMEOUT" wine reg delete 'HKLM\SYSTEM\CurrentControlSet\Services\LxssManager' /f >/dev/null
expect 6 install 'C:\payloads\4.19.130' --version 4.19.130
grep -q 'This update only applies to machines with the Windows Subsystem for Linux.' "$WORK/out.txt" ||
    fail "no pre-check message"
expect_slot kernel $D
expect_value KernelVersion $D
sh "$HERE/prefix.sh" --facts "$WINEPREFIX" >/dev/null

printf '\nexample.sh: the worked example passed under Wine\n'
