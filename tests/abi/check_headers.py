#!/usr/bin/env python3
"""Each public header compiles alone, twice included, as C99 and as C++.

usage: check_headers.py INCLUDE_DIR --cc CC... [--cxx CXX...]

Every *.h in INCLUDE_DIR/kservice is compiled in a file of its own that
includes nothing else, with -Wall -Wextra -Werror -pedantic, once as shared
use and once with -DKSVC_STATIC.  A header that leans on another header's
includes, uses a compiler extension or is not C++-clean fails.
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile

STRICT = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
LANGUAGES = {
    # name: (standard flags, extra warnings, file suffix)
    "C99": (["-std=c99"], ["-Wstrict-prototypes", "-Wmissing-prototypes"], ".c"),
    "C++11": (["-std=c++11"], ["-Wold-style-cast"], ".cpp"),
}
PROGRAM = """#include <kservice/%(header)s>
#include <kservice/%(header)s> /* a second time: the include guard holds */
int main(void) { return 0; }
"""


def compile_one(compiler, language, include_dir, header, defines, workdir):
    std, extra, suffix = LANGUAGES[language]
    source = os.path.join(workdir, "alone_%s%s" % (header.replace(".", "_"), suffix))
    with open(source, "w", encoding="utf-8") as f:
        f.write(PROGRAM % {"header": header})
    command = (compiler + std + STRICT + extra + defines +
               ["-I", include_dir, "-c", source, "-o", source + ".o"])
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    label = "%s %-6s %s" % (header, language, " ".join(defines) or "(shared use)")
    if run.returncode != 0 or run.stdout.strip():
        print("FAIL %s\n  $ %s\n%s" % (label, " ".join(command), run.stdout))
        return False
    print("ok   %s" % label)
    return True


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("include_dir")
    parser.add_argument("--cc", nargs="+", required=True)
    parser.add_argument("--cxx", nargs="+", required=True)
    args = parser.parse_args(argv)

    headers = sorted(os.path.basename(h) for h in
                     glob.glob(os.path.join(args.include_dir, "kservice", "*.h")))
    if not headers:
        print("no headers found under %s/kservice" % args.include_dir)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ksvc-headers-") as workdir:
        for header in headers:
            for language, compiler in (("C99", args.cc), ("C++11", args.cxx)):
                for defines in ([], ["-DKSVC_STATIC"]):
                    if not compile_one(compiler, language, args.include_dir,
                                       header, defines, workdir):
                        failures += 1
    print("%d headers, %d failures" % (len(headers), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
