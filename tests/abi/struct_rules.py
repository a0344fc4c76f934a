#!/usr/bin/env python3
"""Every public structure a caller fills or reads is versioned.

usage: struct_rules.py INCLUDE_DIR/kservice

For each `typedef struct ksvc_NAME { ... } ksvc_NAME;` in the public headers:
- its first member is `unsigned version`;
- the header defines KSVC_NAME_VERSION and KSVC_NAME_INIT, and the _INIT
  initialiser starts with KSVC_NAME_VERSION.
The structures below are not filled or read by callers as units of their
own, and say why; any other structure must follow the rule, so a new
options or result structure without a version fails this test.
ksvc_platform is checked separately: `unsigned version` first (an `int` in
table version 1).
"""

import glob
import os
import re
import sys

EXEMPT = {
    # Embedded in ksvc_status, which carries the version for both slots.
    "ksvc_slot_status": "part of ksvc_status",
    # Passed between the core and a backend inside one library build.
    "ksvc_file_info": "platform method output, versioned by ksvc_platform",
    "ksvc_reg_change": "platform method input, versioned by ksvc_platform",
    "ksvc_reg_value": "platform method output, versioned by ksvc_platform",
}

STRUCT_RE = re.compile(r"typedef\s+struct\s+(ksvc_[a-z0-9_]+)\s*\{(.*?)\}\s*\1\s*;", re.S)
COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def first_member(body):
    for statement in body.split(";"):
        statement = " ".join(statement.split())
        if statement:
            return statement
    return ""


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    problems = []
    checked = 0
    for header in sorted(glob.glob(os.path.join(argv[0], "*.h"))):
        with open(header, encoding="utf-8") as f:
            text = COMMENT_RE.sub(" ", f.read())
        for match in STRUCT_RE.finditer(text):
            name, body = match.group(1), match.group(2)
            where = "%s (%s)" % (name, os.path.basename(header))
            first = first_member(body)
            if name == "ksvc_platform":
                if first != "unsigned version":
                    problems.append("%s: first member is %r, not 'unsigned version'" % (where, first))
                checked += 1
                continue
            if name in EXEMPT:
                print("exempt %s: %s" % (where, EXEMPT[name]))
                continue
            checked += 1
            if first != "unsigned version":
                problems.append("%s: first member is %r, not 'unsigned version'" % (where, first))
            macro = name.upper()
            version = re.search(r"#define\s+%s_VERSION\s+\d+" % macro, text)
            init = re.search(r"#define\s+%s_INIT\s+(?:\\\s*)?\{\s*(\w+)" % macro, text)
            if not version:
                problems.append("%s: no #define %s_VERSION" % (where, macro))
            if not init:
                problems.append("%s: no #define %s_INIT { ... }" % (where, macro))
            elif init.group(1) != macro + "_VERSION":
                problems.append("%s: %s_INIT starts with %s, not %s_VERSION"
                                % (where, macro, init.group(1), macro))
    for problem in problems:
        print("FAIL: " + problem)
    print("%d structures checked, %d problems" % (checked, len(problems)))
    if checked == 0:
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
