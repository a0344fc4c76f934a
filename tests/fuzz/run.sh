#!/bin/sh
# Build the libFuzzer targets with clang -fsanitize=fuzzer,address,undefined
# and fuzz each one for a bounded time, starting from its committed seed
# corpus (never written to: new inputs go to the build folder).
#
#   sh tests/fuzz/run.sh BUILD_DIR [SECONDS]    (from the top folder)
#
# SECONDS per target defaults to $FUZZ_SECONDS or 30.  A crash, a leak or
# undefined behaviour stops the run and fails; the input is left in BUILD_DIR.
set -eu

out=${1:?usage: run.sh BUILD_DIR [SECONDS]}
seconds=${2:-${FUZZ_SECONDS:-30}}
cc=${CC_FUZZ:-clang}

mkdir -p "$out"
flags="-std=c99 -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -DKSVC_STATIC -Iinclude -Isrc
       -Iplatform/posix -Wall -Wextra -Werror"

# shellcheck disable=SC2086 # $flags is a list of options
build_target() {
    name=$1
    shift
    $cc $flags -o "$out/fuzz_$name" "tests/fuzz/fuzz_$name.c" "$@"
}

build_target hive platform/posix/hive.c platform/posix/hive_parse.c \
    platform/posix/hive_write.c
build_target kver src/kver.c
build_target image src/image.c src/kver.c src/error.c

for name in hive kver image; do
    mkdir -p "$out/corpus-$name"
    echo "fuzz: $name for $seconds s"
    log=$out/fuzz-$name.log
    status=0
    (cd "$out" &&
        ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "./fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 \
            -max_len=70000 "corpus-$name" \
            "$OLDPWD/tests/fuzz/corpus/$name") >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz: $name FAILED (exit status $status), log: $log" >&2
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|INFO: Done)' \
        "$log" || true
done
echo "fuzz: all targets clean"
