#!/bin/sh
# Build the tiny initramfs of the QEMU stage from Debian's busybox-static:
#
#   sh tests/qemu/make-initramfs.sh OUT.cpio.gz
#
# It holds only /bin/busybox and /init.  /init mounts devtmpfs (an external
# initramfs has no /dev/console of its own, and making a device node would
# need root), writes the marker line `KSERVICE-BOOT-OK <uname -r>` straight
# to the first serial port, and powers the VM off: reaching /init of an
# initramfs is the proof that the kernel decompressed, started and ran user
# space.  tests/qemu/boot-check looks for that line.
set -eu

out=${1:?usage: make-initramfs.sh OUT.cpio.gz}
busybox=${BUSYBOX:-/bin/busybox}
# The initramfs has no libraries: busybox must be linked statically.
linkage=$(LC_ALL=C ldd "$busybox" 2>&1 || true)
case $linkage in
*"not a dynamic executable"* | *"statically linked"*) ;;
*)
    echo "make-initramfs: $busybox is not a static busybox" \
        "(install the Debian package busybox-static)" >&2
    exit 1
    ;;
esac
"$busybox" --list | grep -qx poweroff || {
    echo "make-initramfs: $busybox has no poweroff applet" >&2
    exit 1
}
command -v cpio >/dev/null 2>&1 || {
    echo "make-initramfs: cpio is missing (install the Debian package cpio)" >&2
    exit 1
}

tree=$(mktemp -d "${TMPDIR:-/tmp}/kservice-initramfs.XXXXXX")
trap 'rm -rf "$tree"' EXIT INT TERM
mkdir "$tree/bin" "$tree/dev" "$tree/proc"
cp "$busybox" "$tree/bin/busybox"
cat >"$tree/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox echo "KSERVICE-BOOT-OK $(/bin/busybox uname -r)" >/dev/ttyS0
/bin/busybox poweroff -f
INIT
chmod 755 "$tree/init"
(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
    gzip -1 >"$out.$$.tmp"
mv "$out.$$.tmp" "$out"
