#!/bin/sh
# Write a stand-in kernel image: not a bootable kernel, but a file whose
# header says what a real one says, so the library's payload checks see an
# x64 bzImage or an arm64 Image that names VERSION.
#
#   sh fake-kernel.sh VERSION FILE [x64|arm64]
#
# x64: the bzImage setup header (Documentation/arch/x86/boot.rst): setup_sects
# at 0x1F1, boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, boot protocol 2.15 at
# 0x206, at 0x20E the kernel_version pointer (string at pointer + 0x200),
# xloadflags bit 0 (64-bit) at 0x236.
# arm64: the Image header's magic "ARM\x64" at 0x38 and a "Linux version"
# banner inside (Documentation/arch/arm64/booting.rst).
#
# The rest of the 72 KiB is text naming the version, so images of different
# versions differ in every block.
set -eu

VERSION=${1:?usage: fake-kernel.sh VERSION FILE [x64|arm64]}
FILE=${2:?usage: fake-kernel.sh VERSION FILE [x64|arm64]}
ARCH=${3:-x64}

# put OFFSET FORMAT [ARGS]: write printf's output at OFFSET, in place.
put() {
    offset=$1
    shift
    # shellcheck disable=SC2059 # the format is ours
    printf "$@" | dd of="$FILE" bs=1 seek="$offset" conv=notrunc 2>/dev/null
}

awk -v v="$VERSION" 'BEGIN { for (i = 0; i < 2048; i++)
    printf "kernel %-16s block %05d\n", v, i }' >"$FILE"

case $ARCH in
x64)
    put 497 '\004'      # 0x1F1 setup_sects: 4, so 2560 bytes of setup
    put 510 '\125\252'  # 0x1FE boot flag 0xAA55
    put 514 'HdrS'      # 0x202 magic
    put 518 '\017\002'  # 0x206 boot protocol 2.15
    put 526 '\000\004'  # 0x20E kernel_version at 0x400 + 0x200
    put 566 '\001\000'  # 0x236 xloadflags: 64-bit kernel
    put 1536 '%s (kservice@example) #1 SMP\000' "$VERSION"
    ;;
arm64)
    put 56 'ARM\144'    # 0x38 magic "ARM\x64"
    put 4096 'Linux version %s (kservice@example) #1 SMP\000' "$VERSION"
    ;;
*)
    echo "fake-kernel.sh: unknown architecture $ARCH" >&2
    exit 2
    ;;
esac
