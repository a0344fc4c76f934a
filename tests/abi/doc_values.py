#!/usr/bin/env python3
"""The reference names every registry value and file the library owns.

usage: doc_values.py INTERNAL_H DOCUMENT...

Every value name (KSVC__V_*) and tools-folder file name (KSVC__F_*) that
src/internal.h defines must appear in every DOCUMENT (doc/mainpage.md,
doc/kservice.1, README.md's tables), so a new value cannot ship
undocumented in one of them.
"""

import re
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    internal, *documents = argv
    with open(internal, encoding="utf-8") as f:
        names = re.findall(r'#define\s+KSVC__[VF]_\w+\s+"([^"]+)"', f.read())
    if not names:
        print("FAIL: no KSVC__V_/KSVC__F_ names found in %s" % internal)
        return 1
    problems = []
    for document in documents:
        with open(document, encoding="utf-8") as f:
            # The man page escapes hyphens as \-.
            text = f.read().replace("\\-", "-")
        for name in names:
            if name not in text:
                problems.append("%s does not document %s" % (document, name))
    for problem in problems:
        print("FAIL: " + problem)
    print("%d names, %d documents, %d problems" % (len(names), len(documents), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
