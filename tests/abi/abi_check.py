#!/usr/bin/env python3
"""Compare the built shared library's ABI with the committed baseline.

usage: abi_check.py [--update] --abidw ABIDW --abidiff ABIDIFF
                    --headers-dir include/kservice BASELINE LIBRARY

The library is described with abidw (Debian's abigail-tools), keeping only
the types of the public headers, and compared with BASELINE by abidiff.
Any reported change fails: a removed or changed function, a changed or
reordered public struct or enum.  Functions added in a new release node are
not changes (--no-added-syms; the symbol-list test covers them).

--update rewrites BASELINE from LIBRARY instead: a release that changes the
ABI on purpose does so (see "Updating the ABI baseline on purpose" in
README.md).  The library must carry debug information (-g).
"""

import argparse
import os
import subprocess
import sys
import tempfile


def abidw(tool, headers_dir, library, out):
    command = [tool, "--headers-dir", headers_dir, "--drop-private-types",
               "--no-corpus-path", "--no-comp-dir-path", "--short-locs",
               "--out-file", out, library]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    if run.returncode != 0:
        print("abidw failed (%d):\n  $ %s\n%s" % (run.returncode, " ".join(command), run.stdout))
        return False
    with open(out, encoding="utf-8") as f:
        text = f.read()
    # Without DWARF abidw writes symbols only: every type would then look
    # removed, which is a broken build, not an ABI change.
    if "<function-decl " not in text or "<class-decl " not in text:
        print("abidw found no debug information in %s: build with -g" % library)
        return False
    return True


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--update", action="store_true")
    parser.add_argument("--abidw", required=True)
    parser.add_argument("--abidiff", required=True)
    parser.add_argument("--headers-dir", required=True)
    parser.add_argument("baseline")
    parser.add_argument("library")
    args = parser.parse_args(argv)

    if args.update:
        if not abidw(args.abidw, args.headers_dir, args.library, args.baseline):
            return 1
        print("wrote %s from %s" % (args.baseline, args.library))
        return 0

    if not os.path.exists(args.baseline):
        print("no ABI baseline at %s" % args.baseline)
        return 1
    with tempfile.TemporaryDirectory(prefix="ksvc-abi-") as workdir:
        current = os.path.join(workdir, "current.abi")
        if not abidw(args.abidw, args.headers_dir, args.library, current):
            return 1
        command = [args.abidiff, "--no-added-syms",
                   args.baseline, current]
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
    print(run.stdout)
    if run.returncode == 0:
        print("ABI unchanged against %s" % os.path.basename(args.baseline))
        return 0
    meaning = []
    if run.returncode & 1:
        meaning.append("abidiff error")
    if run.returncode & 2:
        meaning.append("abidiff usage error")
    if run.returncode & 4:
        meaning.append("ABI change")
    if run.returncode & 8:
        meaning.append("incompatible ABI change")
    print("FAIL: %s (abidiff exit %d). If the change is deliberate, follow "
          "\"Updating the ABI baseline on purpose\" in README.md."
          % (", ".join(meaning), run.returncode))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
