#!/bin/sh
# Trial boot on a real VM (issue 12): QEMU boots real Debian kernels that
# the kservice command installs, rolls back and picks on a simulated
# machine.
#
#   sh tests/qemu/scenario.sh PATH/TO/kservice
#
# The kernels (tests/qemu/make-images.py, from the image fetch-kernel.sh
# brings): A = the real Debian kernel, B = the same named a newer version
# with its compressed payload damaged (it installs, but cannot boot),
# C = the real kernel named newer still.  The health check is
# tests/qemu/boot-check (the initramfs's marker on the serial console
# within KSERVICE_QEMU_TIMEOUT seconds).
#
# With the trial commands (kservice boot-begin, boot-confirm, boot --exec,
# install --tries), the scenario of the issue:
#   A installed on trial, begun, booted, confirmed; B installed on trial;
#   `boot --exec boot-check` fails TRIES times (default 3); the next one
#   rolls back by itself (B is bad), boots A and confirms; B is refused by
#   install; C installs, boots and is confirmed; kept: kernel=C, rollback=A.
# Without them (before the trial state lands) the same story by hand:
#   A installed, its boot-path boots; B installed, its boot-path does not
#   boot; rollback; the boot-path is A and boots; C installed and boots;
#   kept: kernel=C, rollback=A; B refused by install, nothing changed.
#
# Every boot's result and time is printed at the end, with the total.
# KSERVICE_QEMU_ACCEL=auto first probes KVM with a 10 s boot of A and uses
# it only when that boot succeeds (default: tcg; see boot-check).
set -eu

KSERVICE=${1:?usage: scenario.sh PATH/TO/kservice}
HERE=$(cd "$(dirname "$0")" && pwd)
BOOT_CHECK=$HERE/boot-check
PYTHON=${PYTHON:-python3}
TRIES=${KSERVICE_QEMU_TRIES:-3}
START=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-qemu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 2' INT TERM HUP
ROOT=$WORK/machine
TOOLS=$ROOT/System32/lxss/tools
IMAGES=$WORK/images
OUT=$WORK/out
export KSERVICE_QEMU_TIMES="$WORK/boots"
: >"$KSERVICE_QEMU_TIMES"

STEP=""
step() {
    STEP=$*
    printf '\n# %s\n' "$STEP"
}

fail() {
    printf 'FAIL [%s]: %s\n' "$STEP" "$*" >&2
    printf -- '--- output of the last command:\n' >&2
    cat "$OUT" >&2 2>/dev/null || true
    exit 1
}

# run WANT COMMAND...: run a command, show its output indented, demand the
# exit status WANT ("fail" = any but 0).
run() {
    want=$1
    shift
    set +e
    "$@" >"$OUT" 2>&1
    got=$?
    set -e
    sed 's/^/    /' "$OUT"
    case $want in
    fail) [ "$got" -ne 0 ] || fail "$*: succeeded, expected a failure" ;;
    *) [ "$got" -eq "$want" ] || fail "$*: exit status $got, expected $want" ;;
    esac
}

ks() {
    "$KSERVICE" --root "$ROOT" "$@"
}

output_has() {
    grep -qF -- "$1" "$OUT" || fail "the output does not say: $1"
}

# same_file SLOT IMAGE: the slot holds IMAGE byte for byte.
same_file() {
    cmp -s "$TOOLS/$1" "$IMAGES/$2" || fail "$1 is not the kernel $2"
}

# The files and values a refused command must leave alone.
snapshot() {
    (cd "$ROOT" && sha256sum registry.reg System32/lxss/tools/*)
}

# status_is DESCRIPTION PYTHON-EXPRESSION: the expression holds for s, the
# object `kservice status --json` prints.
status_is() {
    ks status --json >"$WORK/status.json" 2>"$OUT" || fail "status --json"
    "$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$WORK/status.json" "$2" ||
        fail "status: not $1: $(cat "$WORK/status.json")"
}

# kept KERNEL ROLLBACK ROLLED_BACK BAD: the pair of slots and what boots.
kept() {
    status_is "kernel=$1, rollback=$2, rolled back $3, bad [$4]" "
s['kernel']['version'] == '$1' and s['kernel']['intact'] and
s['rollback']['version'] == '$2' and s['rollback']['intact'] and
s['rolled_back'] == $3 and
s['effective'] == ('kernel.rollback' if $3 else 'kernel') and
s['bad_versions'] == [v for v in ['$4'] if v]"
}

# boot_path_is SLOT: boot-path names that slot.
boot_path_is() {
    run 0 ks boot-path
    [ "$(cat "$OUT")" = "$TOOLS/$1" ] || fail "boot-path is not $TOOLS/$1"
}

# boots WANT SLOT: boot-check boots the slot (WANT 0) or does not (fail).
boots() {
    run "$1" "$BOOT_CHECK" "$TOOLS/$2"
}

has_trial_commands() {
    help=$("$KSERVICE" --help 2>&1) || return 1
    for word in boot-begin boot-confirm --exec --tries; do
        case $help in *"$word"*) ;; *) return 1 ;; esac
    done
}

# The trial fields of `status --json` (doc/kservice-status.schema.json):
# s['trial'] = {on_trial, tries, tries_left, confirmed} for the kernel the
# machine boots, s['automatic_rollback'] = {reason, when} or null.
#   trial_is SLOT on_trial TRIES_LEFT | SLOT confirmed | auto_rollback TRIES
# (SLOT only names the step: the trial is of the kernel the machine boots.)
trial_is() {
    case $2 in
    on_trial)
        status_is "$1 on trial with $3 tries left" "
s['trial']['on_trial'] and s['trial']['tries_left'] == $3"
        ;;
    confirmed)
        status_is "$1 confirmed" "
not s['trial']['on_trial'] and s['trial']['confirmed']"
        ;;
    auto_rollback)
        status_is "rolled back by itself after $3 tries" "
s['automatic_rollback']['reason'].endswith(
    'did not confirm a boot in $3 tries') and s['automatic_rollback']['when']"
        ;;
    esac
}

prepare() {
    step "the kernels: a real Debian x86-64 image and two copies"
    kernel=$(sh "$HERE/fetch-kernel.sh") || fail "no kernel image"
    printf '    real kernel: %s\n' "$kernel"
    run 0 "$PYTHON" "$HERE/make-images.py" "$kernel" "$IMAGES"
    # shellcheck source=/dev/null # A_VERSION=... written by make-images.py
    . "$IMAGES/versions"
    if [ "${KSERVICE_QEMU_ACCEL:-tcg}" = auto ]; then
        step "probe KVM: a 10 s boot of A"
        if KSERVICE_QEMU_ACCEL=kvm KSERVICE_QEMU_TIMEOUT=10 \
            KSERVICE_QEMU_TIMES=/dev/null "$BOOT_CHECK" "$IMAGES/A"; then
            KSERVICE_QEMU_ACCEL=kvm
        else
            KSERVICE_QEMU_ACCEL=tcg
        fi
        echo "    using $KSERVICE_QEMU_ACCEL"
        export KSERVICE_QEMU_ACCEL
    fi
    step "a simulated machine"
    run 0 ks init-mock
}

refuse_b() {
    step "B is refused by install, and nothing changes"
    snapshot >"$WORK/before"
    run 3 ks install "$IMAGES/B"
    output_has "marked bad"
    snapshot >"$WORK/after"
    cmp -s "$WORK/before" "$WORK/after" || fail "the refused install changed files"
}

reduced_scenario() {
    step "A installed; its boot-path boots"
    run 0 ks install "$IMAGES/A"
    boot_path_is kernel
    same_file kernel A
    boots 0 kernel
    run 0 ks boot-path --record

    step "B installed; it cannot boot"
    run 0 ks install "$IMAGES/B"
    same_file kernel B
    same_file kernel.rollback A
    boot_path_is kernel
    boots fail kernel
    output_has "did not boot"

    step "rollback: the boot-path is A again and boots"
    run 0 ks rollback
    boot_path_is kernel.rollback
    same_file kernel.rollback A
    boots 0 kernel.rollback
    run 0 ks boot-path --record
    kept "$B_VERSION" "$A_VERSION" True "$B_VERSION"

    step "C installed; it boots"
    run 0 ks install "$IMAGES/C"
    boot_path_is kernel
    same_file kernel C
    same_file kernel.rollback A
    boots 0 kernel
    run 0 ks boot-path --record
    kept "$C_VERSION" "$A_VERSION" False "$B_VERSION"

    refuse_b
    kept "$C_VERSION" "$A_VERSION" False "$B_VERSION"
}

trial_scenario() {
    step "A installed on trial; begun, booted by QEMU, confirmed"
    run 0 ks install --tries "$TRIES" "$IMAGES/A"
    trial_is kernel on_trial "$TRIES"
    run 0 ks boot-begin
    [ "$(tail -n 1 "$OUT")" = "$TOOLS/kernel" ] || fail "begin: not kernel"
    trial_is kernel on_trial $((TRIES - 1))
    boots 0 kernel
    run 0 ks boot-confirm
    trial_is kernel confirmed

    step "B installed on trial; boot-path counts nothing"
    run 0 ks install --tries "$TRIES" "$IMAGES/B"
    same_file kernel B
    same_file kernel.rollback A
    boot_path_is kernel
    trial_is kernel on_trial "$TRIES"

    try=1
    while [ "$try" -le "$TRIES" ]; do
        step "boot --exec boot-check, try $try of $TRIES: B does not boot"
        run fail ks boot --exec "$BOOT_CHECK"
        output_has "$TOOLS/kernel did not boot"
        trial_is kernel on_trial $((TRIES - try))
        try=$((try + 1))
    done

    step "the next begin rolls back by itself; QEMU boots A; confirmed"
    run 0 ks boot --exec "$BOOT_CHECK"
    output_has "$TOOLS/kernel.rollback booted"
    same_file kernel.rollback A
    kept "$B_VERSION" "$A_VERSION" True "$B_VERSION"
    trial_is x auto_rollback "$TRIES"
    trial_is rollback confirmed

    refuse_b
    # TODO(lead): B through the MSI path (tests/msi) is refused as well.

    step "C installed on trial; boot --exec boots it and confirms"
    run 0 ks install --tries "$TRIES" "$IMAGES/C"
    same_file kernel C
    same_file kernel.rollback A
    run 0 ks boot --exec "$BOOT_CHECK"
    output_has "$TOOLS/kernel booted"
    trial_is kernel confirmed
    kept "$C_VERSION" "$A_VERSION" False "$B_VERSION"
}

report() {
    printf '\n# boots (result, seconds, kernel)\n'
    n=0
    while read -r result seconds kernel; do
        n=$((n + 1))
        printf '  %2d. %-8s %5s s  %s\n' "$n" "$result" "$seconds" \
            "${kernel#"$ROOT"/}"
    done <"$KSERVICE_QEMU_TIMES"
    printf 'qemu scenario (%s): passed, %d boots, %d s in all\n' "$1" "$n" \
        $(($(date +%s) - START))
}

prepare
if has_trial_commands; then
    trial_scenario
    report "trial boot"
else
    echo
    echo "kservice has no trial commands yet (boot-begin, boot-confirm," \
        "boot --exec, install --tries): running the scenario by hand"
    reduced_scenario
    report "by hand, without the trial commands"
fi
