#!/usr/bin/env python3
"""Make the three kernels of the QEMU scenario from one real bzImage.

    python3 tests/qemu/make-images.py REAL_BZIMAGE OUTDIR

writes OUTDIR/A, OUTDIR/B, OUTDIR/C and OUTDIR/versions (shell assignments
A_VERSION=..., B_VERSION=..., C_VERSION=...):

  A  the real kernel, unchanged;
  B  the real kernel named a newer version, with 4 KiB in the middle of its
     compressed payload inverted: its setup header is intact, so the
     library takes it for a kernel image and installs it, but the
     decompressor finds the payload corrupt and halts ("Probing EDD" is
     the last line), so it never reaches /init;
  C  the real kernel named a newer version still: it boots like A.

The library takes the installed version from the bzImage's kernel_version
string (the 16-bit pointer at 0x20E, + 0x200; the first word of that
string, see src/image.c), and orders versions by their numbers first
(6.1.0-57-amd64 < 6.1.1-57-amd64 < 6.1.2-57-amd64).  So B and C are named
by raising the last digit of the numeric part of that word, in place: the
string keeps its length, nothing else moves, and the decompressor and the
kernel never read it, so C still boots.
"""
import os
import struct
import sys

SETUP_SECTS = 0x1F1
BOOT_FLAG = 0x1FE
MAGIC = 0x202
KERNEL_VERSION = 0x20E
PAYLOAD_OFFSET = 0x248  # from the start of the protected-mode code
PAYLOAD_LENGTH = 0x24C
DAMAGE = 4096


def die(why):
    sys.exit("make-images: " + why)


def u16(data, at):
    return struct.unpack_from("<H", data, at)[0]


def u32(data, at):
    return struct.unpack_from("<I", data, at)[0]


def check_bzimage(data, path):
    if data[MAGIC:MAGIC + 4] != b"HdrS" or u16(data, BOOT_FLAG) != 0xAA55:
        die(path + ": not an x86 bzImage (no HdrS at 0x202 or 0xAA55 at "
            "0x1FE)")


def version_span(data):
    """Offset and end of the version word of the kernel_version string."""
    at = u16(data, KERNEL_VERSION) + 0x200
    end = at
    while data[end] not in (0, 0x20):
        end += 1
    return at, end


def numeric_end(word):
    """Offset in @word just past its dotted numbers (before any suffix)."""
    end = 0
    while end < len(word) and (word[end:end + 1].isdigit() or
                               word[end:end + 1] == b"."):
        end += 1
    return end


def renamed(data, step):
    """A copy of @data whose version's last number is raised by @step."""
    at, end = version_span(data)
    last = at + numeric_end(data[at:end]) - 1
    digit = data[last] - ord("0")
    if not 0 <= digit <= 9 - step:
        die("cannot raise the last digit of %r by %d in place"
            % (data[at:end].decode(), step))
    out = bytearray(data)
    out[last] = ord("0") + digit + step
    return out


def damaged(data):
    """A copy of @data with 4 KiB in the middle of its payload inverted."""
    setup_sects = data[SETUP_SECTS] or 4
    start = (setup_sects + 1) * 512 + u32(data, PAYLOAD_OFFSET)
    length = u32(data, PAYLOAD_LENGTH)
    if length < 4 * DAMAGE or start + length > len(data):
        die("the payload (%d bytes at %d) is not inside the file" %
            (length, start))
    middle = start + length // 2
    out = bytearray(data)
    out[middle:middle + DAMAGE] = bytes(b ^ 0xFF
                                        for b in data[middle:middle + DAMAGE])
    return out


def version_of(data):
    at, end = version_span(data)
    return data[at:end].decode()


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make-images.py REAL_BZIMAGE OUTDIR")
    real, outdir = sys.argv[1], sys.argv[2]
    with open(real, "rb") as f:
        a = f.read()
    check_bzimage(a, real)
    b = damaged(renamed(a, 1))
    c = renamed(a, 2)
    setup_end = (a[SETUP_SECTS] or 4) * 512 + 512
    for name, image in (("B", b), ("C", c)):
        # Only the version digit (and B's payload) differ from A.
        if sum(x != y for x, y in zip(a[:setup_end], image[:setup_end])) != 1:
            die(name + ": the setup code changed beyond the version digit")
    os.makedirs(outdir, exist_ok=True)
    lines = []
    for name, image in (("A", a), ("B", b), ("C", c)):
        write(os.path.join(outdir, name), image)
        lines.append("%s_VERSION=%s\n" % (name, version_of(image)))
    write(os.path.join(outdir, "versions"), "".join(lines).encode())
    sys.stdout.write("".join(lines))


main()
