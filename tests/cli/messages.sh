#!/bin/sh
# The messages of the kservice command line, one check each: a missing
# value, an unknown option, an option of another command, a stray argument
# (each names the option and prints the command's usage, exit 2, nothing
# created); COMMAND --help (that usage, exit 0); the lock wait (its line on
# stderr, --lock-timeout, 0 = fail at once); a wrong --root (names the path,
# suggests init-mock); init-mock over a machine (says how to start over);
# make-kernel's refusals; a tools folder others may write (status names
# it with the fix, install and rollback exit 3 and print it).
#
#   sh messages.sh PATH/TO/kservice
set -eu

KSERVICE=${1:?usage: messages.sh KSERVICE}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-messages.XXXXXX")
HOLDER=""
cleanup() {
    [ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ROOT=$WORK/machine
OUT=$WORK/stdout
ERR=$WORK/stderr

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

# run STATUS ARGS...: run kservice, demand the exit status.
run() {
    run_kservice "$@"
}

stderr_lacks() {
    if grep -qF -- "$1" "$ERR"; then fail "stderr has: $1"; fi
}

# usage_error COMMAND MESSAGE ARGS...: exit 2, stdout empty, stderr is the
# message, then COMMAND's usage line and the hint; no file is created or
# changed.
files_now() {
    (cd "$WORK" && find . ! -name stdout ! -name stderr | LC_ALL=C sort |
        while IFS= read -r f; do
            if [ -f "$f" ]; then echo "$f $(cksum <"$f")"; else echo "$f"; fi
        done)
}

usage_error() {
    command=$1
    message=$2
    shift 2
    before=$(files_now)
    run 2 "$@"
    [ "$(files_now)" = "$before" ] || fail "a usage error changed files"
    [ ! -s "$OUT" ] || fail "a usage error printed on stdout"
    [ "$(sed -n 1p "$ERR")" = "$message" ] ||
        fail "first line is not: $message"
    sed -n 2p "$ERR" | grep -q "^usage: kservice \[GLOBAL OPTIONS\] $command" ||
        fail "second line is not the usage of $command"
    stderr_line "Try 'kservice $command --help' for more information."
}

INSTALL_USAGE='usage: kservice [GLOBAL OPTIONS] install FILE [--version V] [--allow-downgrade] [--force] [--sha256 HEX] [--tries N]'

# ---------------------------------------------------------------------------
step "a missing value names the option and its value"
usage_error install 'kservice: install: option --version needs a value: --version V' \
    --root "$ROOT" install A.img --version
stderr_line "$INSTALL_USAGE"
usage_error init-mock 'kservice: init-mock: option --os-build needs a value: --os-build BUILD[.UBR]' \
    --root "$ROOT" init-mock --os-build
# An option is not taken as the value of the one before it.
usage_error install 'kservice: install: option --sha256 needs a value: --sha256 HEX' \
    --root "$ROOT" install A.img --sha256 --force
usage_error status 'kservice: status: option --lock-timeout needs a value: --lock-timeout SECONDS' \
    --root "$ROOT" status --lock-timeout

step "an unknown option is named as unknown"
usage_error status 'kservice: status: unknown option --bogus' --root "$ROOT" status --bogus
usage_error install 'kservice: install: unknown option --versoin' \
    --root "$ROOT" install A.img --versoin=1.2.3
run 2 --bogus status
stderr_line 'kservice: unknown option --bogus'
stderr_line "Try 'kservice --help' for more information."

step "an option of another command is misplaced, not unknown"
usage_error status 'kservice: status: option --force does not go with status; it goes with: install' \
    --root "$ROOT" status --force
usage_error init-mock 'kservice: init-mock: option --json does not go with init-mock; it goes with: status, verify' \
    --root "$ROOT" init-mock --json
run 2 --root "$ROOT" --json status
stderr_line 'kservice: option --json belongs after its command (status, verify), not before it'
usage_error rollback 'kservice: rollback: option --record does not go with rollback; it goes with: boot-path' \
    --root "$ROOT" --update --rollback --record

step "stray and missing arguments, flags with values, bad values"
usage_error status "kservice: status: unexpected argument 'extra'" --root "$ROOT" status extra
usage_error install 'kservice: install: install needs FILE' --root "$ROOT" install
usage_error make-kernel 'kservice: make-kernel: make-kernel needs VERSION OUT' make-kernel 5.15.1
usage_error install 'kservice: install: option --force takes no value' \
    --root "$ROOT" install A.img --force=yes
usage_error init-mock "kservice: init-mock: --arch takes x64 or arm64, not 'sparc'" \
    --root "$ROOT" init-mock --arch sparc
usage_error status "kservice: status: --lock-timeout takes whole seconds from 0 (fail at once) to 86400, not '-1'" \
    --root "$ROOT" status --lock-timeout -1
usage_error status "kservice: status: --mock-elevated takes yes or no, not 'maybe'" \
    --root "$ROOT" --mock-elevated=maybe status
run 2 no-such-command
stderr_line "kservice: unknown command 'no-such-command'"
run 2
stderr_line 'kservice: no command given'

step "COMMAND --help prints that command's usage and exits 0"
for command in init-mock precheck install update rollback revert-rollback \
    repair status verify boot-path make-kernel; do
    run 0 "$command" --help
    name=$command
    [ "$command" = update ] && name=install
    sed -n 1p "$OUT" | grep -q "^usage: kservice \[GLOBAL OPTIONS\] $name" ||
        fail "$command --help does not start with its usage"
    [ ! -s "$ERR" ] || fail "$command --help wrote on stderr"
done
run 0 install A.img --version --help
stdout_line "$INSTALL_USAGE"
run 0 help install
stdout_line "$INSTALL_USAGE"
run 0 --help
grep -q '^usage: kservice' "$OUT" || fail "--help prints no usage"
[ ! -e "$ROOT" ] || fail "--help created ROOT"

step "a wrong --root names the path and suggests init-mock"
run 1 --root "$WORK/no/such/dir" status
stderr_line "kservice: no simulated machine at $WORK/no/such/dir: no such file, key or value"
stderr_line "kservice: make one with 'kservice --root $WORK/no/such/dir init-mock'"
mkdir "$WORK/empty"
run 1 --root "$WORK/empty" install A.img
stderr_line "kservice: make one with 'kservice --root $WORK/empty init-mock'"

step "init-mock over a machine says so and how to start over"
run 0 --root "$ROOT" init-mock
cp "$ROOT/registry.reg" "$WORK/hive.before"
run 1 --root "$ROOT" init-mock --arch arm64
stderr_line "kservice: $ROOT already holds a simulated machine (the file already exists)"
stderr_line "kservice: to start over, delete the folder and run init-mock again: rm -r '$ROOT' && kservice --root '$ROOT' init-mock"
cmp -s "$ROOT/registry.reg" "$WORK/hive.before" || fail "init-mock changed the hive"

step "make-kernel refuses a bad version, size or file"
run 9 make-kernel 5.x "$WORK/bad.img"
stderr_line "kservice: not a valid kernel version: '5.x'"
[ ! -e "$WORK/bad.img" ] || fail "make-kernel wrote a file for a bad version"
usage_error make-kernel "kservice: make-kernel: --size takes a number of bytes from 4096 to 4294967296, not '100'" \
    make-kernel 5.15.1 "$WORK/bad.img" --size 100
run 1 make-kernel 5.15.1 "$WORK/no/such/dir/a.img"
stderr_line "kservice: cannot write $WORK/no/such/dir/a.img: No such file or directory"

# ---------------------------------------------------------------------------
# The lock: another process holds ROOT/kservice.lock (flock, as the POSIX
# backend takes it) until $WORK/release appears.
hold_lock() {
    rm -f "$WORK/held" "$WORK/release"
    flock "$ROOT/kservice.lock" sh -c \
        "touch '$WORK/held'; while [ ! -e '$WORK/release' ]; do sleep 0.1; done" &
    HOLDER=$!
    while [ ! -e "$WORK/held" ]; do sleep 0.05; done
}

release_lock() {
    touch "$WORK/release"
    wait "$HOLDER" || true
    HOLDER=""
}

WAIT_LINE='kservice: another process is servicing this machine; waiting up to 1 seconds for it (--lock-timeout SECONDS changes this)'

step "--lock-timeout 0 fails at once, without waiting"
hold_lock
run 7 --root "$ROOT" status --lock-timeout 0
stderr_line 'kservice: another process is servicing the kernel'
stderr_lacks 'waiting'

step "--lock-timeout 1 says when the wait begins, then fails"
run 7 --lock-timeout 1 --root "$ROOT" status
[ "$(sed -n 1p "$ERR")" = "$WAIT_LINE" ] || fail "the wait line does not come first"
stderr_line 'kservice: another process is servicing the kernel'

step "a wait that ends in time succeeds, after the wait line"
(sleep 1; touch "$WORK/release") &
run 0 --root "$ROOT" --lock-timeout 30 status
stderr_line 'kservice: another process is servicing this machine; waiting up to 30 seconds for it (--lock-timeout SECONDS changes this)'
grep -q '^Kernel version' "$OUT" || fail "status printed no report"
release_lock

step "no line when the lock is free"
run 0 --root "$ROOT" status
[ ! -s "$ERR" ] || fail "status wrote on stderr with the lock free"

# ---------------------------------------------------------------------------
step "a tools folder everyone may write: status names it, install refused with the fix"
TOOLS=$ROOT/System32/lxss/tools
run 0 make-kernel 5.15.1.1 "$WORK/A.img"
run 0 --root "$ROOT" install "$WORK/A.img"
chmod o+w "$TOOLS"
run 0 --root "$ROOT" status
stdout_line "Problem: Someone other than the administrators may change the tools folder, and so choose the kernel this machine boots: $TOOLS: everyone may write (mode 0757); install, rollback, revert and repair are refused until an administrator runs: chmod go-w '$TOOLS'"
run 0 --root "$ROOT" status --json
grep -qF '"others_may_write":["tools_folder"]' "$OUT" ||
    fail "status --json does not list the tools folder in others_may_write"
run 0 make-kernel 5.15.2.1 "$WORK/B.img"
cp "$ROOT/registry.reg" "$WORK/hive.before"
run 3 --root "$ROOT" install "$WORK/B.img"
stderr_line "kservice: someone other than the administrators may change the kernel files or their record"
stderr_line "kservice: someone other than the administrators may change the tools folder ($TOOLS: everyone may write (mode 0757)), and so choose the kernel this machine boots; nothing was changed. Fix it, then retry: chmod go-w '$TOOLS'"
cmp -s "$ROOT/registry.reg" "$WORK/hive.before" || fail "a refused install changed the hive"
run 3 --root "$ROOT" rollback
run 0 --root "$ROOT" boot-path
stdout_line "$TOOLS/kernel"
chmod go-w "$TOOLS"
run 0 --root "$ROOT" install "$WORK/B.img"
run 0 --root "$ROOT" status --json
grep -qF '"others_may_write":[]' "$OUT" || fail "others_may_write is not empty after the fix"

echo "all message checks passed"
