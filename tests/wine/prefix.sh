#!/bin/sh
# Make a fresh Wine prefix that looks like a Windows 10 machine with WSL,
# for the Windows build's tests.
#
#   tests/wine/prefix.sh PREFIX_DIR        make PREFIX_DIR (must not exist)
#   tests/wine/prefix.sh --facts PREFIX_DIR  write the machine facts again
#
# Wine 8 reports Windows 7 until `winecfg -v win10`, and its Windows 10
# reports build 18362 with no UBR, so the facts the library's pre-check
# reads are written with `wine reg add` where Windows keeps them.  Wine runs
# quiet (WINEDEBUG=-all) and bounded (timeouts); nothing touches ~/.wine.
set -eu

WINE_TIMEOUT=${WINE_TIMEOUT:-120}
export WINEDEBUG=-all
export WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml="   # no Mono/Gecko install prompts

facts_only=0
if [ "${1:-}" = "--facts" ]; then
    facts_only=1
    shift
fi
prefix=${1:?usage: prefix.sh [--facts] PREFIX_DIR}
case $prefix in
/*) ;;
*) prefix=$(pwd)/$prefix ;;
esac
export WINEPREFIX=$prefix

w() {
    timeout "$WINE_TIMEOUT" "$@"
}

reg_add() {
    w wine reg add "$@" /f >/dev/null
}

if [ "$facts_only" = 0 ]; then
    if [ -e "$prefix" ]; then
        echo "prefix.sh: $prefix exists; use a fresh folder" >&2
        exit 1
    fi
    case $prefix in
    "$HOME/.wine"|"$HOME/.wine/"*)
        echo "prefix.sh: refusing to use ~/.wine" >&2
        exit 1 ;;
    esac
    mkdir -p "$(dirname "$prefix")"
    w wineboot -i >/dev/null 2>&1
    w winecfg -v win10 >/dev/null 2>&1
fi

# The facts, as on a current Windows 10 x64 with WSL enabled
# (ksvc_mock_machine's defaults: build 19045, UBR 3803).
NT='HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
reg_add "$NT" /v CurrentBuildNumber /t REG_SZ /d 19045
reg_add "$NT" /v CurrentBuild /t REG_SZ /d 19045
reg_add "$NT" /v UBR /t REG_DWORD /d 3803
reg_add 'HKLM\SYSTEM\CurrentControlSet\Services\LxssManager' /v Start /t REG_DWORD /d 3
reg_add 'HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment' \
    /v PROCESSOR_ARCHITECTURE /t REG_SZ /d AMD64
w wine reg delete 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending' /f >/dev/null 2>&1 || true
w wineserver -w

# Check what was written, so a prefix that did not take fails here.
w wine reg query "$NT" /v CurrentBuildNumber | grep -q 19045 || {
    echo "prefix.sh: CurrentBuildNumber was not written" >&2
    exit 1
}
w wine reg query 'HKLM\SYSTEM\CurrentControlSet\Services\LxssManager' >/dev/null || {
    echo "prefix.sh: the LxssManager key was not written" >&2
    exit 1
}
echo "prefix.sh: Windows 10 build 19045.3803 x64 with WSL in $prefix"
