#!/bin/sh
# The POSIX mock's hive against the real regedit, round trip:
#
# 1. the prefix's Lxss key gets values of every type WSL and other tools
#    leave there (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD,
#    REG_QWORD, REG_BINARY) and `wine regedit /E` exports it: UTF-16LE with
#    a BOM and CRLF, as regedit writes by default;
# 2. the mock (the native kservice, --root) services a machine whose
#    registry.reg is that export (the simulated machine's facts appended in
#    the same encoding): the public page's worked example, install A,
#    update to B, roll back, update to C;
# 3. the mock wrote registry.reg back as UTF-16LE with its BOM;
# 4. `wine regedit /S` imports it into the prefix, and `wine reg query`
#    shows every value the mock holds, the foreign ones unchanged.
#
#   WINEPREFIX=... tests/wine/regedit.sh PATH/TO/native/kservice
#
# The prefix must come from tests/wine/prefix.sh.  Exits non-zero on the
# first difference.
set -eu

KSERVICE=${1:?usage: regedit.sh PATH/TO/native/kservice}
: "${WINEPREFIX:?WINEPREFIX must name a prefix made by tests/wine/prefix.sh}"
export WINEDEBUG=-all
WINE_TIMEOUT=${WINE_TIMEOUT:-120}
LXSS='HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss'
A=4.19.104
B=4.19.121
C=4.19.128

fail() {
    printf 'regedit.sh: FAILED: %s\n' "$*" >&2
    exit 1
}

w() {
    timeout "$WINE_TIMEOUT" wine "$@"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-wine-regedit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT=$WORK/root
# Wine's view of the work folder (Z: is the Unix root).
# shellcheck disable=SC1003 # '\\' is one backslash for tr
WWORK="Z:$(printf '%s' "$WORK" | tr / '\\')"

echo "=== the prefix's Lxss key, with values of every type"
w reg delete "$LXSS" /f >/dev/null 2>&1 || true
w reg add "$LXSS" /v DefaultDistribution /d '{0f2a1c5e-1111-2222-3333-444455556666}' /f >/dev/null
w reg add "$LXSS" /v DistroPath /t REG_EXPAND_SZ /d '%LOCALAPPDATA%\wsl' /f >/dev/null
w reg add "$LXSS" /v Tags /t REG_MULTI_SZ /d 'one\0two' /f >/dev/null
w reg add "$LXSS" /v Flags /t REG_DWORD /d 15 /f >/dev/null
w reg add "$LXSS" /v Big /t REG_QWORD /d 0x1122334455667788 /f >/dev/null
w reg add "$LXSS" /v Blob /t REG_BINARY /d deadbeef00112233445566778899aabbccddeeff0011223344 /f >/dev/null

echo "=== wine regedit /E"
w regedit /E "$WWORK\\lxss.reg" "$LXSS"
[ -s "$WORK/lxss.reg" ] || fail "regedit wrote no export"
[ "$(head -c 2 "$WORK/lxss.reg" | od -An -tx1 | tr -d ' ')" = fffe ] ||
    fail "the export is not UTF-16LE with a BOM"

echo "=== the mock's machine, its registry.reg that export"
"$KSERVICE" --root "$ROOT" init-mock >/dev/null
# The facts of the simulated machine, after regedit's Lxss section, in the
# export's encoding: one file regedit could have written.
{
    cat "$WORK/lxss.reg"
    tail -n +2 "$ROOT/registry.reg" | grep -v '^\[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss\]' |
        sed 's/$/\r/; s/\r\r$/\r/' | iconv -f UTF-8 -t UTF-16LE
} >"$WORK/registry.reg"
mv "$WORK/registry.reg" "$ROOT/registry.reg"

echo "=== the worked example on it"
for v in $A $B $C; do
    "$KSERVICE" make-kernel "$v" "$WORK/$v" --arch x64 >/dev/null ||
        fail "make-kernel $v"
done
"$KSERVICE" --root "$ROOT" install "$WORK/$A" >/dev/null || fail "install A"
"$KSERVICE" --root "$ROOT" install "$WORK/$B" >/dev/null || fail "update to B"
"$KSERVICE" --root "$ROOT" rollback >/dev/null || fail "rollback"
"$KSERVICE" --root "$ROOT" install "$WORK/$C" >/dev/null || fail "update to C"
"$KSERVICE" --root "$ROOT" status

echo "=== written back as regedit wrote it"
[ "$(head -c 2 "$ROOT/registry.reg" | od -An -tx1 | tr -d ' ')" = fffe ] ||
    fail "registry.reg is no longer UTF-16LE with a BOM"
iconv -f UTF-16LE -t UTF-8 "$ROOT/registry.reg" | tr -d '\r' |
    sed '1s/^\xEF\xBB\xBF//' >"$WORK/mock.txt"

echo "=== wine regedit /S, then wine reg query"
w reg delete "$LXSS" /f >/dev/null 2>&1 || true
# shellcheck disable=SC1003 # '\\' is one backslash for tr
w regedit /S "$(printf 'Z:%s' "$ROOT/registry.reg" | tr / '\\')"
w reg query "$LXSS" | tr -d '\r' >"$WORK/query.txt"
cat "$WORK/query.txt"
# Wine 8's reg query prints a REG_QWORD as "(null)": those are compared in
# a second export instead.
w regedit /E "$WWORK\\back.reg" "$LXSS"
iconv -f UTF-16LE -t UTF-8 "$WORK/back.reg" | tr -d '\r' >"$WORK/back.txt"

# Every value of the mock's Lxss section, as reg query shows it.
python3 - "$WORK/mock.txt" "$WORK/query.txt" "$WORK/back.txt" <<'PY'
import re, sys

mock, query, back = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
section = re.search(r"^\[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\"
                    r"CurrentVersion\\Lxss\]\n(.*?)(?:\n\n|\Z)", mock, re.S | re.M)
if not section:
    sys.exit("regedit.sh: FAILED: no Lxss section in the mock's hive")
text = section.group(1).replace("\\\n  ", "")
shown = {}
for line in query.splitlines():
    m = re.match(r"^\s+(\S+)\s+(REG_\w+)\s*(.*)$", line)
    if m:
        shown[m.group(1)] = (m.group(2), m.group(3))
count = 0
for line in text.splitlines():
    m = re.match(r'^"((?:[^"\\]|\\.)*)"=(.*)$', line)
    if not m:
        continue
    name, data = m.group(1), m.group(2)
    if name not in shown:
        sys.exit("regedit.sh: FAILED: %s is not in the prefix after /S" % name)
    kind, value = shown[name]
    if data.startswith('"'):
        want = ("REG_SZ", data[1:-1].replace('\\\\', '\\'))
    elif data.startswith("dword:"):
        want = ("REG_DWORD", "0x%x" % int(data[6:], 16))
    else:
        m2 = re.match(r"hex(?:\((\w+)\))?:(.*)$", data)
        typ = int(m2.group(1) or "3", 16)
        raw = bytes(int(b, 16) for b in m2.group(2).split(",") if b)
        if typ == 3:
            want = ("REG_BINARY", raw.hex().upper())
        elif typ == 0xb:
            if ('"%s"=%s' % (name, data)) not in back.replace("\\\n  ", ""):
                sys.exit("regedit.sh: FAILED: %s is not %s in the export after /S"
                         % (name, data))
            count += 1
            continue
        elif typ in (2, 7):
            parts = raw.decode("utf-16-le").rstrip("\0").split("\0")
            want = ("REG_EXPAND_SZ" if typ == 2 else "REG_MULTI_SZ",
                    "\\0".join(parts))
        else:
            continue
    if (kind, value) != want:
        sys.exit("regedit.sh: FAILED: %s is %r after /S, the mock holds %r"
                 % (name, (kind, value), want))
    count += 1
for name in ("KernelVersion", "DefaultDistribution", "Tags", "Big", "Blob"):
    if name not in shown:
        sys.exit("regedit.sh: FAILED: %s missing after the round trip" % name)
print("regedit.sh: %d values of the mock's hive read back by reg query" % count)
PY
echo "regedit.sh: passed"
