#!/bin/sh
# Reading needs no write access, and a read-only disk is called by its name
# (issue 14, item 3), through the kservice command on real file systems:
#
# - as `nobody` (setpriv), on a machine it may read but not write: status,
#   verify and boot-path work; a change is refused as not elevated;
# - on a ROOT bind-mounted read-only (in a mount namespace of its own, so
#   nothing outlives the test): an administrator's status, verify and
#   boot-path work; install, rollback and repair fail with the headline
#   "the file system or disk is read-only" (never "access denied"), exit 1,
#   and nothing on the machine changed.
#
# Needs root (setpriv, unshare -m, mount); skipped (77) otherwise.
#
#   sh readonly.sh PATH/TO/kservice
set -eu

KSERVICE=${1:?usage: readonly.sh KSERVICE}
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null ||
    ! unshare -m true 2>/dev/null; then
    echo "SKIP: needs root, setpriv and unshare -m"
    exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-readonly.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
chmod 755 "$WORK" # nobody may read the machine, not write it
ROOT=$WORK/machine
OUT=$WORK/stdout
ERR=$WORK/stderr

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

# The machine's files and registry, to show that a refusal changed nothing.
machine_state() {
    (cd "$ROOT" && find . -type f ! -name kservice.lock -exec sha256sum {} + |
        sort)
}

step "a machine with A, then B installed"
run_kservice 0 make-kernel 5.15.1.1 "$WORK/A"
run_kservice 0 make-kernel 5.15.2.1 "$WORK/B"
run_kservice 0 make-kernel 5.15.3.1 "$WORK/C"
chmod 644 "$WORK/A" "$WORK/B" "$WORK/C"
run_kservice 0 --root "$ROOT" init-mock
run_kservice 0 --root "$ROOT" install "$WORK/A"
run_kservice 0 --root "$ROOT" install "$WORK/B"
before=$(machine_state)

step "nobody reads without write access"
for command in status verify boot-path; do
    set +e
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
        "$KSERVICE" --root "$ROOT" --mock-elevated=no $command \
        >"$OUT" 2>"$ERR"
    got=$?
    set -e
    [ "$got" -eq 0 ] || fail "$command as nobody: exit $got, expected 0"
done
stdout_line "$ROOT/System32/lxss/tools/kernel"
[ "$(machine_state)" = "$before" ] || fail "a read as nobody changed the machine"

# Inside a mount namespace: ROOT read-only, then each command.
step "an administrator on a read-only ROOT"
cat >"$WORK/inside.sh" <<'EOF'
set -eu
KSERVICE=$1 ROOT=$2 WORK=$3
mount --bind "$ROOT" "$ROOT"
mount -o remount,bind,ro "$ROOT"
for command in status verify boot-path; do
    "$KSERVICE" --root "$ROOT" $command >"$WORK/$command.out" 2>&1 ||
        { echo "$command: exit $?"; cat "$WORK/$command.out"; exit 1; }
done
for command in "install $WORK/C" rollback repair; do
    set +e
    "$KSERVICE" --root "$ROOT" $command >"$WORK/change.out" 2>"$WORK/change.err"
    got=$?
    set -e
    head -n 1 "$WORK/change.err" >"$WORK/headline"
    grep -qxF "kservice: the file system or disk is read-only" \
        "$WORK/headline" ||
        { echo "$command: headline: $(cat "$WORK/headline")"; exit 1; }
    [ "$got" -eq 1 ] || { echo "$command: exit $got, expected 1"; exit 1; }
done
EOF
set +e
unshare -m sh "$WORK/inside.sh" "$KSERVICE" "$ROOT" "$WORK" >"$OUT" 2>"$ERR"
got=$?
set -e
[ "$got" -eq 0 ] || fail "on the read-only ROOT: $(cat "$OUT")"
[ "$(machine_state)" = "$before" ] ||
    fail "a command on the read-only ROOT changed the machine"

echo "PASS"
