#!/usr/bin/env python3
"""Meson install script: add `Cflags.private: FLAGS` to an installed .pc file.

usage: pc_static_cflags.py PC_FILE FLAGS...

PC_FILE is relative to the install prefix (or absolute); Meson passes the
prefix, with DESTDIR applied, in MESON_INSTALL_DESTDIR_PREFIX.  Meson's
pkgconfig module writes no Cflags.private (a pkgconf field, read only by
`pkg-config --static`); a static consumer of libkservice needs -DKSVC_STATIC
there.  Running it twice leaves one line.
"""

import os
import sys


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    prefix = os.environ.get("MESON_INSTALL_DESTDIR_PREFIX", "")
    path = os.path.join(prefix, argv[0])
    with open(path, encoding="utf-8") as pc:
        lines = [line for line in pc.read().splitlines()
                 if not line.startswith("Cflags.private:")]
    lines.append("Cflags.private: " + " ".join(argv[1:]))
    with open(path, "w", encoding="utf-8") as pc:
        pc.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
