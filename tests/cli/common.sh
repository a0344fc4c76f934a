# Helpers of the kservice command-line tests (scenario.sh, messages.sh),
# sourced after OUT and ERR (the last run's stdout and stderr) are set.

STEP=""
step() {
    STEP=$*
    printf '# %s\n' "$STEP"
}

fail() {
    printf 'FAIL [%s]: %s\n' "$STEP" "$*" >&2
    printf -- '--- stdout of the last kservice run:\n' >&2
    cat "$OUT" >&2 2>/dev/null || true
    printf -- '--- stderr of the last kservice run:\n' >&2
    cat "$ERR" >&2 2>/dev/null || true
    exit 1
}

# run_kservice STATUS ARGS...: run $KSERVICE with ARGS, demand the status.
run_kservice() {
    want=$1
    shift
    set +e
    "$KSERVICE" "$@" >"$OUT" 2>"$ERR"
    got=$?
    set -e
    [ "$got" -eq "$want" ] ||
        fail "kservice $*: exit status $got, expected $want"
}

# A whole line of stdout / stderr, exactly.
stdout_line() {
    grep -qxF -- "$1" "$OUT" || fail "stdout lacks the line: $1"
}

stderr_line() {
    grep -qxF -- "$1" "$ERR" || fail "stderr lacks the line: $1"
}
