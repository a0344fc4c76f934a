#!/bin/sh
# The installer example end to end: MSIs built by examples/msi/build-msi,
# installed by Wine's msiexec on a fresh Windows 10 prefix with WSL, checked
# against the prefix's C:\windows\system32\lxss\tools (byte for byte, from
# the Linux side) and its registry (wine reg query).
#
#   tests/msi/run.sh [BUILD_DIR]          (default: build-msi-test)
#
# BUILD_DIR is set up from scratch: a mingw-w64 cross build (no cmocka
# needed), the MSIs, and the prefix BUILD_DIR/wineprefix (tests/wine/
# prefix.sh).  Kernels A < B < C < D are stand-in x64 bzImages made by
# the image writer of `kservice make-kernel` (kservice-make-kernel, built
# for this machine); E is an empty file.
#
#  0. fresh machine without WSL: msiexec /i A.msi fails and writes nothing
#     (no lxss folder, no Lxss key, no registration, nothing staged)
#  1. fresh machine: msiexec /i A.msi /qn  =>  kernel=A, no kernel.rollback
#  2. msiexec /i B.msi  =>  kernel=B, kernel.rollback=A, one registration
#  3. kservice.exe rollback, msiexec /i C.msi  =>  kernel=C, rollback=A
#  4. msiexec /i B.msi fails (B is bad) and changes nothing
#  5. LxssManager key removed: msiexec /i D.msi fails with the pre-check
#     message in its /l*v log and changes nothing; with a UI (/qb, on an
#     Xvfb display) the message is shown in a message box
#  6. msiexec /a C.msi /qb TARGETDIR=C:\temp extracts a file identical to C
#  7. msiexec /x C.msi: what the README says (the kernels stay)
#  8. the kernel deleted, "install the MSI again" puts it back
#  9. the same version again on an intact machine: nothing changes; the
#     kernel deleted, a repair (REINSTALL=ALL, what /fa does) puts it back;
#     rollback, the documented manual revert (reg delete RollbackKernel),
#     then the same version's MSI: accepted, C boots and is no longer bad
# 10. E.msi (an empty kernel), F.msi (a version its kernel contradicts),
#     G.msi (an arm64 kernel on this x64 machine): the library refuses in
#     the deferred action and the kernels do not change
#
# Needs wixl and msitools, mingw-w64, wine, meson, xvfb (./quickstart.sh
# test installs them); a missing tool fails the run, never skips it.
set -eu

cd "$(dirname "$0")/../.."
top=$(pwd)
build=${1:-build-msi-test}
case $build in
/*) ;;
*) build=$top/$build ;;
esac

missing=""
for tool in wixl msiextract msiinfo x86_64-w64-mingw32-gcc wine wineserver \
            meson ninja sha256sum cmp timeout xvfb-run; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "tests/msi/run.sh: missing:$missing" >&2
    echo "  install the Debian packages wixl msitools mingw-w64 wine wine64 meson xvfb xauth" >&2
    echo "  (./quickstart.sh test does)" >&2
    exit 1
fi

WINE_TIMEOUT=${WINE_TIMEOUT:-180}
LXSS='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss'
LXSSMANAGER='HKLM\SYSTEM\CurrentControlSet\Services\LxssManager'
UNINSTALL='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
PRODUCT='Windows Subsystem for Linux Update'
PRECHECK_MESSAGE='This update only applies to machines with the Windows Subsystem for Linux.'
A=5.10.102.1
B=5.15.90.1
C=5.15.153.1
D=5.15.167.4
E=5.15.200.1
F=5.15.210.1
G=5.15.220.1

say() {
    printf '\n==== msi: %s\n' "$*"
}

fail() {
    printf '\ntests/msi/run.sh: FAILED: %s\n' "$*" >&2
    exit 1
}

pass() {
    printf 'ok: %s\n' "$*"
}

# ---- build -----------------------------------------------------------------

say "cross build in $build"
rm -rf "$build"
meson setup "$build" --cross-file platform/win32/x86_64-w64-mingw32.ini \
    -Dtests=false >/dev/null
meson compile -C "$build"
KSERVICE=$build/examples/kservice/kservice.exe
[ -f "$build/examples/msi/kservice_ca.dll" ] || fail "no kservice_ca.dll built"
[ -f "$build/examples/msi/kernel-update-sample.msi" ] ||
    fail "the Windows build made no sample MSI although wixl is installed"

work=$build/msi-test
mkdir -p "$work"
say "kernels and MSIs in $work"
# Stand-in x64 bzImages that name their version (the library checks the
# image header); no two versions have equal bytes.
for k in A B C D; do
    eval "version=\$$k"
    "$build/examples/kservice/kservice-make-kernel" "$version" "$work/$k.kernel" x64
done
: >"$work/E.kernel"
cp "$work/D.kernel" "$work/F.kernel"     # names D's version, not F's
"$build/examples/kservice/kservice-make-kernel" "$G" "$work/G.kernel" arm64
for k in A B C D E F G; do
    eval "version=\$$k"
    sh examples/msi/build-msi "$build" "$work/$k.kernel" "$version" "$work/$k.msi"
done
# A second package of C: another ProductCode, the same kernel and version.
sh examples/msi/build-msi "$build" "$work/C.kernel" "$C" "$work/C2.msi"
# The helper that reads and closes a message box (step 5b).
x86_64-w64-mingw32-gcc -std=c99 -Wall -Wextra -Werror -O2 -municode \
    -o "$work/msgbox.exe" tests/msi/msgbox.c

# What Wine cannot show (it runs everything as an administrator), the
# package must still say: the install action is deferred and runs without
# impersonation, the pre-check is immediate.
msiinfo export "$work/A.msi" CustomAction | tr -d '\r' >"$work/actions"
for row in 'KsvcPrecheck	1	KsvcCustomActions	KsvcPrecheck' \
           'KsvcInstall	3073	KsvcCustomActions	KsvcInstall'; do
    grep -qF "$row" "$work/actions" || fail "A.msi's CustomAction table lacks: $row"
done
pass "KsvcPrecheck is immediate (type 1), KsvcInstall deferred without impersonation (3073)"

# ---- the machine -----------------------------------------------------------

export WINEPREFIX="$build/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
# kservice.exe finds libkservice-1.dll in the build folder through WINEPATH.
WINEPATH="Z:$(printf '%s' "$build" | tr / '\\')"
export WINEPATH
stop_wine() {
    timeout 30 wineserver -k >/dev/null 2>&1 || true
}
trap stop_wine EXIT INT TERM

say "a Windows 10 machine with WSL: $WINEPREFIX"
sh tests/wine/prefix.sh "$WINEPREFIX"

TOOLS=$WINEPREFIX/drive_c/windows/system32/lxss/tools
STAGE="$WINEPREFIX/drive_c/Program Files/$PRODUCT"

w() {
    timeout "$WINE_TIMEOUT" "$@"
}

# The Windows path of a Linux path (Wine's Z: drive).
winpath() {
    printf 'Z:%s' "$1" | tr / '\\'
}

# msiexec EXPECT NAME ARGS...: run msiexec with a verbose log in
# $work/NAME.log; EXPECT is 0 or "fail".  Wine passes only the low 8 bits of
# the exit code to Linux (1603 arrives as 67).
MSI_STATUS=0
msiexec() {
    expect=$1
    log=$work/$2.log
    shift 2
    printf '$ msiexec %s\n' "$*"
    set +e
    w wine msiexec "$@" /l*v "$(winpath "$log")"
    MSI_STATUS=$?
    set -e
    tr -d '\r' <"$log" >"$log.txt" 2>/dev/null || : >"$log.txt"
    grep -a '^kservice: \|^This update' "$log.txt" | sed 's/^/    log: /' || true
    case $expect in
    0) [ "$MSI_STATUS" = 0 ] ||
        fail "msiexec $* exited $MSI_STATUS (log: $log)" ;;
    fail) [ "$MSI_STATUS" != 0 ] ||
        fail "msiexec $* succeeded, expected a failure (log: $log)" ;;
    esac
}

# kservice ARGS...: run kservice.exe, show its output, fail on an error.
kservice() {
    printf '$ kservice.exe %s\n' "$*"
    set +e
    w wine "$KSERVICE" "$@" >"$work/kservice.out" 2>&1
    status=$?
    set -e
    tr -d '\r' <"$work/kservice.out" | sed 's/^/    /'
    [ "$status" = 0 ] || fail "kservice.exe $* exited $status"
}

# reg_query ARGS...: `wine reg query ARGS` into $work/reg.out (no CRs).
# Exit 0 when found, 1 when reg says the key or value does not exist; any
# other failure is tried three times (a query right after Wine's server was
# stopped can fail), then fails the run: a failed query never reads as
# "absent".
reg_query() {
    for attempt in 1 2 3; do
        if w wine reg query "$@" >"$work/reg.raw" 2>"$work/reg.err"; then
            tr -d '\r' <"$work/reg.raw" >"$work/reg.out"
            return 0
        fi
        if grep -q 'Unable to find' "$work/reg.raw" "$work/reg.err"; then
            : >"$work/reg.out"
            return 1
        fi
        printf 'note: reg query %s failed (attempt %s): %s\n' "$*" "$attempt" \
            "$(cat "$work/reg.raw" "$work/reg.err" | tr -d '\r' | head -n 1)" >&2
        sleep 2
    done
    fail "wine reg query $* keeps failing"
}

# The data of value $1 under the Lxss key, or "(absent)".
lxss_value() {
    reg_query "$LXSS" /v "$1" || {
        echo "(absent)"
        return 0
    }
    awk -v name="$1" '
        $1 == name { sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]*/, ""); print; found = 1 }
        END { if (!found) print "(absent)" }' "$work/reg.out"
}

expect_value() {
    got=$(lxss_value "$1")
    [ "$got" = "$2" ] || fail "$1 is \"$got\", expected \"$2\""
    pass "$1 = $2"
}

# expect_slot FILE KERNEL: tools\FILE has the bytes of KERNEL's file, or is
# absent for KERNEL "none".
expect_slot() {
    if [ "$2" = none ]; then
        [ ! -e "$TOOLS/$1" ] || fail "$1 exists, expected none"
        pass "no $1"
        return 0
    fi
    [ -f "$TOOLS/$1" ] || fail "$1 is missing, expected $2"
    cmp -s "$TOOLS/$1" "$work/$2.kernel" || fail "$1 is not kernel $2"
    pass "$1 = $2"
}

# How many products named $PRODUCT are registered.
registrations() {
    reg_query "$UNINSTALL" /s || fail "no $UNINSTALL key"
    grep -c "DisplayName[ \t]*REG_SZ[ \t]*$PRODUCT\$" "$work/reg.out" || true
}

expect_registrations() {
    got=$(registrations)
    [ "$got" = "$1" ] || fail "$got registrations of \"$PRODUCT\", expected $1"
    pass "$1 registration(s) of \"$PRODUCT\""
}

# The staged payloads: the version folders under Program Files.
staged() {
    if [ -d "$STAGE" ]; then
        (cd "$STAGE" && find . -type f | sort | tr '\n' ' ')
    fi
}

expect_staged() {
    got=$(staged)
    [ "$got" = "$1" ] || fail "staged payloads are \"$got\", expected \"$1\""
    pass "staged: ${1:-nothing}"
}

# Everything an install may change: the tools folder's files and bytes,
# every value under the Lxss key, the registrations, the staged payloads.
snapshot() {
    {
        echo "[tools]"
        (cd "$TOOLS" 2>/dev/null && find . -type f | sort | xargs -r sha256sum)
        echo "[Lxss]"
        if reg_query "$LXSS"; then sort "$work/reg.out"; else echo "(no key)"; fi
        echo "[registrations] $(registrations)"
        echo "[staged] $(staged)"
    } >"$1"
}

# expect_unchanged BEFORE WHAT [ignore-stamps]: with ignore-stamps, the
# slot fingerprints (KServiceKernelStamp, KServiceRollbackStamp) are left
# out: they name the file's identity and change time, which a file written
# anew has fresh even when its bytes (compared above them) are the same.
expect_unchanged() {
    snapshot "$work/after.snap"
    if [ "${3:-}" = ignore-stamps ]; then
        grep -v 'KService[A-Za-z]*Stamp' "$1" >"$work/before.cmp"
        grep -v 'KService[A-Za-z]*Stamp' "$work/after.snap" >"$work/after.cmp"
    else
        cp "$1" "$work/before.cmp"
        cp "$work/after.snap" "$work/after.cmp"
    fi
    if ! cmp -s "$work/before.cmp" "$work/after.cmp"; then
        diff "$work/before.cmp" "$work/after.cmp" >&2 || true
        fail "$2 changed the machine"
    fi
    pass "$2 changed nothing (tools, Lxss key, registrations, staged files)"
}

expect_log() {
    grep -aqF -- "$2" "$work/$1.log.txt" || fail "the $1 log lacks: $2"
    pass "the $1 log says: $2"
}

expect_no_log() {
    if grep -aqF -- "$2" "$work/$1.log.txt"; then
        fail "the $1 log says: $2"
    fi
    pass "the $1 log does not say: $2"
}

# ---- 0: nothing written on a machine the pre-check refuses -----------------

say "0. fresh machine, WSL not enabled: msiexec /i A.msi /qn"
w wine reg delete "$LXSSMANAGER" /f >/dev/null
msiexec fail A-nowsl /i "$(winpath "$work/A.msi")" /qn
expect_log A-nowsl "$PRECHECK_MESSAGE The Windows Subsystem for Linux is not enabled."
[ ! -e "$WINEPREFIX/drive_c/windows/system32/lxss" ] ||
    fail "the refused install made $(cd "$WINEPREFIX/drive_c/windows/system32" && find lxss | tr '\n' ' ')"
pass "no System32\\lxss folder"
if reg_query "$LXSS"; then
    fail "the refused install made the Lxss key"
fi
pass "no Lxss key"
expect_registrations 0
expect_staged ""
sh tests/wine/prefix.sh --facts "$WINEPREFIX" >/dev/null

# ---- 1-3: the worked example through real installers -----------------------

say "1. fresh machine: msiexec /i A.msi /qn"
msiexec 0 A /i "$(winpath "$work/A.msi")" /qn
expect_slot kernel A
expect_slot kernel.rollback none
expect_value KernelVersion "$A"
expect_value RollbackKernel "(absent)"
expect_registrations 1
expect_staged "./$A/kernel "

say "2. msiexec /i B.msi /qn: B replaces A, A becomes kernel.rollback"
msiexec 0 B /i "$(winpath "$work/B.msi")" /qn
expect_slot kernel B
expect_slot kernel.rollback A
expect_value KernelVersion "$B"
expect_registrations 1
expect_staged "./$B/kernel "

say "3. kservice.exe rollback (B is bad), then msiexec /i C.msi /qn"
kservice rollback
expect_value RollbackKernel "$B"
msiexec 0 C /i "$(winpath "$work/C.msi")" /qn
expect_slot kernel C
expect_slot kernel.rollback A
expect_value KernelVersion "$C"
expect_value RollbackKernel "(absent)"
expect_registrations 1
expect_staged "./$C/kernel "

# ---- 4-5: refusals ---------------------------------------------------------

say "4. msiexec /i B.msi /qn again: B was rolled back from"
snapshot "$work/before.snap"
msiexec fail B-again /i "$(winpath "$work/B.msi")" /qn
expect_log B-again "this kernel version was rolled back from and is marked bad"
expect_unchanged "$work/before.snap" "the refused B"

say "5. WSL not enabled (no LxssManager key): msiexec /i D.msi /qn"
w wine reg delete "$LXSSMANAGER" /f >/dev/null
snapshot "$work/before.snap"
msiexec fail D /i "$(winpath "$work/D.msi")" /qn
expect_log D "$PRECHECK_MESSAGE The Windows Subsystem for Linux is not enabled."
expect_unchanged "$work/before.snap" "the pre-check refusal"

say "5b. the same with a UI: msiexec /i D.msi /qb on a virtual display"
# Wine's desktop picks its display when it starts: restart it inside Xvfb,
# and again after, so that later steps do not talk to a display that went.
w wineserver -k >/dev/null 2>&1 || true
w wineserver -w >/dev/null 2>&1 || true
cat >"$work/ui.sh" <<UI
( timeout "$WINE_TIMEOUT" wine msiexec /i '$(winpath "$work/D.msi")' /qb \\
      /l*v '$(winpath "$work/D-ui.log")'; echo \$? >'$work/D-ui.status' ) &
timeout "$WINE_TIMEOUT" wine '$work/msgbox.exe' 'Windows Installer' 60 \\
    >'$work/D-ui.box' 2>&1
echo \$? >'$work/D-ui.box-status'
wait
UI
xvfb-run -a sh "$work/ui.sh" 2>/dev/null || true
w wineserver -k >/dev/null 2>&1 || true
w wineserver -w >/dev/null 2>&1 || true
tr -d '\r' <"$work/D-ui.box" | sed 's/^/    on screen: /'
[ "$(cat "$work/D-ui.box-status")" = 0 ] || fail "no message box on screen"
[ "$(cat "$work/D-ui.status")" != 0 ] || fail "msiexec /qb D.msi succeeded"
grep -qF "$PRECHECK_MESSAGE The Windows Subsystem for Linux is not enabled." \
    "$work/D-ui.box" || fail "the message box does not show the pre-check message"
pass "with a UI the pre-check message is shown in a message box"
expect_unchanged "$work/before.snap" "the pre-check refusal with a UI"
sh tests/wine/prefix.sh --facts "$WINEPREFIX" >/dev/null

# ---- 6: the manual remedy --------------------------------------------------

say "6. msiexec /a C.msi /qb TARGETDIR=C:\\temp extracts the kernel"
extracted="$WINEPREFIX/drive_c/temp/$PRODUCT/$C/kernel"
snapshot "$work/before.snap"
msiexec any admin /a "$(winpath "$work/C.msi")" /qb 'TARGETDIR=C:\temp'
if [ "$MSI_STATUS" = 0 ]; then
    pass "msiexec /a ran"
elif [ "$MSI_STATUS" = 90 ]; then
    # 1626 (ERROR_FUNCTION_NOT_CALLED) & 255: Wine 8's msiexec has no
    # administrative install ("Administrative installs are not currently
    # supported"; its ADMIN action does not exist).  Check that the package
    # holds what Windows' msiexec /a runs, then extract with msitools, which
    # lays files out the way an administrative install does.
    printf 'NOTE: Wine 8 msiexec cannot run /a (exit 1626); checking the\n'
    printf '      AdminExecuteSequence and extracting with msiextract instead\n'
    msiinfo export "$work/C.msi" AdminExecuteSequence | tr -d '\r' >"$work/admin.seq"
    for action in InstallFiles InstallAdminPackage; do
        grep -q "^$action	" "$work/admin.seq" ||
            fail "C.msi's AdminExecuteSequence lacks $action"
    done
    pass "C.msi's AdminExecuteSequence has InstallFiles and InstallAdminPackage"
    msiextract -C "$WINEPREFIX/drive_c/temp" "$work/C.msi" >/dev/null
else
    fail "msiexec /a exited $MSI_STATUS"
fi
[ -f "$extracted" ] || fail "no $extracted"
cmp -s "$extracted" "$work/C.kernel" || fail "the extracted kernel differs from C"
pass "C:\\temp\\$PRODUCT\\$C\\kernel is byte-identical to C"
expect_unchanged "$work/before.snap" "the administrative install"

# ---- 7-10: uninstall and reinstall -----------------------------------------

say "7. msiexec /x C.msi /qn: the payload and registration go, the kernels stay"
snapshot "$work/before.snap"
msiexec 0 uninstall /x "$(winpath "$work/C.msi")" /qn
expect_registrations 0
expect_staged ""
expect_slot kernel C
expect_slot kernel.rollback A
expect_value KernelVersion "$C"
expect_value RollbackKernel "(absent)"
# Nothing but the registration and the staged file changed.
sed '/^\[registrations\]/d; /^\[staged\]/d' "$work/before.snap" >"$work/before.kernels"
snapshot "$work/after.snap"
sed '/^\[registrations\]/d; /^\[staged\]/d' "$work/after.snap" >"$work/after.kernels"
cmp -s "$work/before.kernels" "$work/after.kernels" ||
    fail "uninstall changed the kernels or the Lxss key"
pass "uninstall left the tools folder and every Lxss value as they were"
kservice boot-path
pass "the machine still boots C"

say "8. kernel deleted: install the MSI again (the public page's remedy 3)"
rm -f "$TOOLS/kernel"
if w wine "$KSERVICE" boot-path >/dev/null 2>&1; then
    fail "boot-path succeeded with the kernel deleted"
fi
pass "boot-path fails with the kernel deleted"
msiexec 0 C-again /i "$(winpath "$work/C.msi")" /qn
expect_log C-again "installs $C as kernel; kernel.rollback ($A) stays"
expect_slot kernel C
expect_slot kernel.rollback A
expect_value KernelVersion "$C"
expect_registrations 1

say "9. another package of C on an intact machine: nothing to do"
snapshot "$work/before.snap"
msiexec 0 C2 /i "$(winpath "$work/C2.msi")" /qn
expect_log C2 "already installed and intact; nothing to do"
expect_no_log C2 "installed from"
expect_unchanged "$work/before.snap" "the same version again"
# A repair (msiexec /fa) is an install with REINSTALL=ALL; Wine 8's /f
# switch does not find the product (exit 1605 for a package path, 1 for a
# product code), so the properties /fa stands for are given to /i.
rm -f "$TOOLS/kernel"
msiexec 0 repair /i "$(winpath "$work/C2.msi")" /qn REINSTALL=ALL REINSTALLMODE=amus
expect_log repair "installs $C as kernel; kernel.rollback ($A) stays"
expect_slot kernel C
expect_slot kernel.rollback A
expect_unchanged "$work/before.snap" "the repair of the deleted kernel" \
    ignore-stamps
kservice rollback
expect_value RollbackKernel "$C"
w wine reg delete "$LXSS" /v RollbackKernel /f >/dev/null
msiexec 0 C-reverted /i "$(winpath "$work/C.msi")" /qn
expect_log C-reverted "already installed and intact; nothing to do"
expect_slot kernel C
expect_slot kernel.rollback A
expect_value RollbackKernel "(absent)"
kservice status
grep -q "$C" "$work/kservice.out" || fail "status does not name $C"
if tr -d '\r' <"$work/kservice.out" | grep -i 'bad' | grep -qF "$C"; then
    fail "$C is still marked bad after the manual revert"
fi
pass "after the manual revert C boots and is not marked bad"

say "10. payloads the library refuses in the deferred action"
# refused_in_deferred NAME MESSAGE: NAME.msi fails with MESSAGE in its log
# and neither the tools folder nor a value under the Lxss key changes.
refused_in_deferred() {
    snapshot "$work/before.snap"
    sed '/^\[registrations\]/d; /^\[staged\]/d' "$work/before.snap" >"$work/before.kernels"
    msiexec fail "$1" /i "$(winpath "$work/$1.msi")" /qn
    expect_log "$1" "$2"
    snapshot "$work/after.snap"
    sed '/^\[registrations\]/d; /^\[staged\]/d' "$work/after.snap" >"$work/after.kernels"
    cmp -s "$work/before.kernels" "$work/after.kernels" ||
        fail "the refused $1 changed the kernels or the Lxss key"
    pass "the refused $1 left the tools folder and every Lxss value as they were"
}
refused_in_deferred E "kservice: the payload is not a usable kernel file"
printf 'note: %s registration(s) of "%s" after the failed E (Windows rolls the\n' \
    "$(registrations)" "$PRODUCT"
printf '      removal of the previous product back; Wine 8 does not)\n'
refused_in_deferred F "kservice: the version given differs from the one inside the kernel image"
refused_in_deferred G "kservice: the kernel image is built for another processor architecture"

stop_wine
# The prefix is large; a failed run keeps it for a look inside.
rm -rf "$WINEPREFIX"
say "passed: the installer example under Wine's msiexec ($build)"
