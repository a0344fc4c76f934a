#!/usr/bin/env python3
"""The C example on the main page compiles and links against the library.

usage: doc_example.py MAINPAGE_MD INCLUDE_DIR LIBRARY --cc CC...

Every ~~~{.c} block of doc/mainpage.md that defines main() is compiled as
C99 with -Wall -Wextra -Werror -pedantic and linked with the built library,
so the first program a newcomer copies cannot fall behind the API.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("mainpage")
    parser.add_argument("include_dir")
    parser.add_argument("library")
    parser.add_argument("--cc", nargs="+", required=True)
    args = parser.parse_args(argv)

    with open(args.mainpage, encoding="utf-8") as f:
        blocks = re.findall(r"^~~~\{\.c\}\n(.*?)^~~~$", f.read(), re.S | re.M)
    programs = [block for block in blocks if re.search(r"\bint main\(", block)]
    if not programs:
        print("FAIL: no C program on the main page")
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ksvc-doc-example-") as work:
        for number, program in enumerate(programs, 1):
            source = os.path.join(work, "example%d.c" % number)
            with open(source, "w", encoding="utf-8") as f:
                f.write(program)
            command = args.cc + ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                                 "-I", args.include_dir, source, "-o", source + ".exe",
                                 args.library]
            run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True)
            if run.returncode != 0:
                print("FAIL: example %d:\n$ %s\n%s" % (number, " ".join(command), run.stdout))
                failures += 1
            else:
                print("ok   example %d compiles and links" % number)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
