#!/bin/sh
# The Windows half of the test suite: cross-build libkservice with mingw-w64
# and run everything under Wine in a prefix of its own.
#
#   tests/wine/run.sh [BUILD_DIR]        (default: build-wine)
#
# 1. cmocka for Windows, from Debian's source package (build-cmocka.sh),
#    into BUILD_DIR-cmocka (kept between runs: the source does not change);
# 2. meson setup BUILD_DIR from scratch with the mingw cross file, build;
# 3. a fresh WINEPREFIX in BUILD_DIR/wineprefix made to look like Windows 10
#    build 19045.3803 x64 with WSL (prefix.sh);
# 4. meson test: every suite (core, conformance, policy, crash, errors,
#    world, win32) as .exe
#    under Wine, one at a time, since they share that one machine;
# 5. the worked example with kservice.exe (example.sh);
# 6. the POSIX mock's hive round trip through wine regedit /E and /S
#    (regedit.sh, with a native kservice built in BUILD_DIR-native).
#
# Every tool it needs must be installed (./quickstart.sh test installs
# them); a missing one fails the run, never skips it.
set -eu

cd "$(dirname "$0")/../.."
top=$(pwd)
build=${1:-build-wine}
case $build in
/*) ;;
*) build=$top/$build ;;
esac

missing=""
for tool in x86_64-w64-mingw32-gcc wine wineserver wine64 meson ninja cmake \
            dpkg-source python3 timeout iconv cc; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/lib/wine/$tool" ]; then
        missing="$missing $tool"
    fi
done
if [ -n "$missing" ]; then
    echo "tests/wine/run.sh: missing:$missing" >&2
    echo "  install the Debian packages mingw-w64 wine wine64 cmake dpkg-dev" >&2
    echo "  (./quickstart.sh test does)" >&2
    exit 1
fi

say() {
    printf '\n==== wine: %s\n' "$*"
}

say "cmocka for Windows (Debian source package, mingw-w64)"
sh tests/wine/build-cmocka.sh "$build-cmocka"

say "cross build in $build"
rm -rf "$build"
meson setup "$build" \
    --cross-file platform/win32/x86_64-w64-mingw32.ini \
    --cross-file "$build-cmocka/cmocka-cross.ini"
meson compile -C "$build"

export WINEPREFIX="$build/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
# The DLL beside the programs that use it: Wine looks in WINEPATH too.
# shellcheck disable=SC1003 # '\\' is one backslash for tr
WINEPATH="Z:$(printf '%s' "$build" | tr / '\\')"
export WINEPATH
stop_wine() {
    timeout 30 wineserver -k >/dev/null 2>&1 || true
}
trap stop_wine EXIT INT TERM

say "a Windows 10 machine with WSL: $WINEPREFIX"
sh tests/wine/prefix.sh "$WINEPREFIX"

say "the suites under Wine (one at a time: they share the machine)"
# Wine runs each suite several times slower than Linux does (every sync is a
# real fsync, every call a round trip to wineserver): triple the timeouts.
meson test -C "$build" --num-processes 1 --print-errorlogs \
    --timeout-multiplier 3

say "the worked example with kservice.exe"
sh tests/wine/example.sh "$build/examples/kservice/kservice.exe"

say "the mock's hive against regedit (native kservice in $build-native)"
meson setup "$build-native" --wipe -Dtests=false >/dev/null 2>&1 ||
    meson setup "$build-native" -Dtests=false >/dev/null
meson compile -C "$build-native" examples/kservice/kservice >/dev/null
sh tests/wine/regedit.sh "$build-native/examples/kservice/kservice"

stop_wine
# The prefix is ~700 MB; a failed run keeps it for a look inside.
rm -rf "$WINEPREFIX"
say "passed: suites and worked example under Wine ($build)"
