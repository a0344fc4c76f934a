#!/bin/sh
# Time `kservice.exe install` of a large kernel under Wine: the cost of
# hashing and copying it on the Win32 backend.
#
#   WINEPREFIX=... tests/wine/bench-install.sh PATH/TO/kservice.exe [MIB] [RUNS]
#
# The prefix must come from tests/wine/prefix.sh; WINEPATH must name the
# folder of libkservice-1.dll, as Wine sees it (run.sh sets both).  Each run starts from an
# empty machine (no slot files, no Lxss values) and installs a stand-in x64
# kernel of MIB MiB (default 128), in
# the page cache as after a download (made by kservice.exe make-kernel).  Prints every run's wall time and the
# median, then the median of `kservice.exe boot-path` on the installed
# machine: the cost of starting a Wine process, which every install time
# includes.
set -eu

KSERVICE=${1:?usage: bench-install.sh PATH/TO/kservice.exe [MIB] [RUNS]}
MIB=${2:-128}
RUNS=${3:-5}
: "${WINEPREFIX:?WINEPREFIX must name a prefix made by tests/wine/prefix.sh}"
export WINEDEBUG=-all
LXSS='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss'
TOOLS=$WINEPREFIX/drive_c/windows/system32/lxss/tools
PAYLOADS=$WINEPREFIX/drive_c/payloads
VERSION=5.15.153.1

now() {
    date +%s.%N
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

mkdir -p "$PAYLOADS"
timeout 600 wine "$KSERVICE" make-kernel "$VERSION" 'C:\payloads\big' \
    --arch x64 --size $((MIB * 1024 * 1024)) >/dev/null ||
    { echo "bench-install.sh: make-kernel failed" >&2; exit 1; }
cat "$PAYLOADS/big" >/dev/null

times=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    rm -rf "$TOOLS"
    timeout 60 wine reg delete "$LXSS" /f >/dev/null 2>&1 || true
    sync
    start=$(now)
    timeout 600 wine "$KSERVICE" install 'C:\payloads\big' \
        --version "$VERSION" >"$PAYLOADS/out" 2>&1 ||
        { cat "$PAYLOADS/out" >&2; exit 1; }
    end=$(now)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    echo "install of $MIB MiB, run $i: $t s"
    times="$times $t"
done
# shellcheck disable=SC2086 # $times is a list, one time a word
echo "install median: $(printf '%s\n' $times | median) s"

times=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    start=$(now)
    timeout 60 wine "$KSERVICE" boot-path >"$PAYLOADS/out" 2>&1 ||
        { cat "$PAYLOADS/out" >&2; exit 1; }
    end=$(now)
    times="$times $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')"
done
# shellcheck disable=SC2086 # $times is a list, one time a word
echo "boot-path median (process start-up): $(printf '%s\n' $times | median) s"
