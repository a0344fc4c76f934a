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

--self-test BASELINE checks the gate itself: it makes three broken copies
of the baseline (an exported function removed, a function's parameter type
changed, two members of a public struct swapped) and requires abidiff, run
as above, to reject each of them and to accept the baseline itself.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


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


def abidiff_status(tool, old, new):
    run = subprocess.run([tool, "--no-added-syms", old, new], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    return run.returncode, run.stdout


def exported_functions(root):
    return sorted((f for f in root.iter("function-decl") if f.get("elf-symbol-id")),
                  key=lambda f: f.get("name"))


def mutate_remove_function(root, public_headers):
    """Drop the first exported function: its symbol and its declaration."""
    victim = exported_functions(root)[0]
    name = victim.get("name")
    for parent in root.iter():
        for child in list(parent):
            if (child.tag == "elf-symbol" and child.get("name") == name) or child is victim:
                parent.remove(child)
    return "removed function %s" % name


def mutate_parameter_type(root, public_headers):
    """Give the first parameter of an exported function another type."""
    types = {d.get("name"): d.get("id") for d in root.iter("type-decl")}
    for function in exported_functions(root):
        parameter = function.find("parameter")
        if parameter is None:
            continue
        old = parameter.get("type-id")
        new = types["char"] if old != types.get("char") else types["int"]
        parameter.set("type-id", new)
        return "changed the type of the first parameter of %s" % function.get("name")
    raise SystemExit("no exported function with a parameter in the baseline")


def mutate_swap_members(root, public_headers):
    """Swap the offsets of the first two members of a public struct."""
    for struct in root.iter("class-decl"):
        members = struct.findall("data-member")
        if (struct.get("filepath") in public_headers and len(members) >= 2 and
                members[0].get("layout-offset-in-bits") != members[1].get("layout-offset-in-bits")):
            first = members[0].get("layout-offset-in-bits")
            members[0].set("layout-offset-in-bits", members[1].get("layout-offset-in-bits"))
            members[1].set("layout-offset-in-bits", first)
            return "swapped the first two members of struct %s" % struct.get("name")
    raise SystemExit("no public struct with two members in the baseline")


def self_test(tool, baseline, headers_dir):
    public_headers = {name for name in os.listdir(headers_dir) if name.endswith(".h")}
    failures = 0
    status, report = abidiff_status(tool, baseline, baseline)
    if status != 0:
        print("FAIL: the baseline differs from itself (abidiff %d)\n%s" % (status, report))
        failures += 1
    with tempfile.TemporaryDirectory(prefix="ksvc-abi-selftest-") as workdir:
        for mutate in (mutate_remove_function, mutate_parameter_type, mutate_swap_members):
            tree = ET.parse(baseline)
            what = mutate(tree.getroot(), public_headers)
            mutant = os.path.join(workdir, mutate.__name__ + ".abi")
            tree.write(mutant, encoding="utf-8", xml_declaration=False)
            status, report = abidiff_status(tool, baseline, mutant)
            if status & 4:
                print("ok   rejected: %s (abidiff exit %d)" % (what, status))
            else:
                print("FAIL: accepted: %s (abidiff exit %d)\n%s" % (what, status, report))
                failures += 1
    return 1 if failures else 0


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--update", action="store_true")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--abidw", required=True)
    parser.add_argument("--abidiff", required=True)
    parser.add_argument("--headers-dir", required=True)
    parser.add_argument("baseline")
    parser.add_argument("library", nargs="?")
    args = parser.parse_args(argv)

    if args.self_test:
        return self_test(args.abidiff, args.baseline, args.headers_dir)
    if not args.library:
        parser.error("the library is required")

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
        status, report = abidiff_status(args.abidiff, args.baseline, current)
    print(report)
    if status == 0:
        print("ABI unchanged against %s" % os.path.basename(args.baseline))
        return 0
    meaning = []
    if status & 1:
        meaning.append("abidiff error")
    if status & 2:
        meaning.append("abidiff usage error")
    if status & 4:
        meaning.append("ABI change")
    if status & 8:
        meaning.append("incompatible ABI change")
    print("FAIL: %s (abidiff exit %d). If the change is deliberate, follow "
          "\"Updating the ABI baseline on purpose\" in README.md."
          % (", ".join(meaning), status))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
