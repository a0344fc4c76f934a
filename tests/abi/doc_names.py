#!/usr/bin/env python3
"""Every API name the docs use exists in the public headers.

usage: doc_names.py INCLUDE_DIR SYMBOL_MAP DOC...

The names are the identifiers that start with ksvc_ or KSVC_ (functions,
types, macros, enum constants).  A name counts as existing when the code of
a public header (comments removed) declares it, or, for the error codes,
when the error list X-macro of error.h makes it (KSVC_E_ + its NAME).
Checked: every DOC given (README.md, doc/mainpage.md) and the
comments of the public headers themselves, so a renamed function cannot
stay behind in prose.  A name written as a call, `name()`, must be a
function (`ksvc_status()` names a type: the function is ksvc_status_get());
a family `KSVC_VERSION_*` must have a member; a release node `KSVC_1.0`
must be of a major release in the symbol list.  Internal
names (ksvc__...) are not API and may be named where the text says so.
"""

import os
import re
import sys

NAME = re.compile(r"\b(?:ksvc|KSVC)_[A-Za-z0-9_]*[A-Za-z0-9](?:_\*|\.[0-9]+|\(\))?")
# Names that the text uses as examples, not as API: the placeholder of a new
# function (README, "Updating the ABI"), of an error code (error.h's
# XX(NAME, ...)), and the string ksvc_error_name() returns for an unknown
# code.  Symbol-list nodes (KSVC_1.0) are checked against the map instead.
NOT_API = {"ksvc_new_call", "KSVC_E_NAME", "KSVC_E_UNKNOWN"}
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def header_texts(include_dir):
    folder = os.path.join(include_dir, "kservice")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".h"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                yield "include/kservice/" + name, f.read()


def declared_names(include_dir):
    """(every name the headers' code has, the names of their functions)"""
    names, functions = set(), set()
    for _, text in header_texts(include_dir):
        code = COMMENT.sub(" ", text)
        names.update(re.findall(r"\b(?:ksvc|KSVC)_\w+", code))
        functions.update(re.findall(r"\bKSVC_API\b[^;(]*?\b(ksvc_\w+)\s*\(", code))
        # The error list: F(X, NAME, value, CLASS, message) (or, before
        # 1.1, XX(NAME, value, message)) makes KSVC_E_NAME.
        names.update("KSVC_E_" + n for n in
                     re.findall(r"\b(?:XX|F)\((?:X,\s*)?([A-Z_]+),", code))
    return names, functions


def problem(name, declared, functions, nodes):
    """Why the use of name is wrong, or None."""
    if name in NOT_API:
        return None
    if re.fullmatch(r"KSVC_[0-9]+\.[0-9]+", name):
        # A released node, or the next one of the same major (the text on
        # adding functions shows KSVC_1.1).
        major = name.split(".")[0] + "."
        return None if any(node.startswith(major) for node in nodes) else \
            "a symbol-list node of a major that src/libkservice.map lacks"
    if name.endswith("_*"):
        prefix = name[:-1]
        return None if any(d.startswith(prefix) for d in declared) else \
            "a family of names of which no public header declares one"
    if name.endswith("()"):
        return None if name[:-2] in functions else "a function that no public header declares"
    return None if name in declared else "a name that no public header declares"


def used_names(label, text):
    """(label:line, name) for every API name in text, internal ones left out."""
    for number, line in enumerate(text.splitlines(), 1):
        for name in NAME.findall(line):
            if not name.lower().startswith("ksvc__"):
                yield "%s:%d" % (label, number), name


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    include_dir, symbol_map, docs = argv[0], argv[1], argv[2:]
    declared, functions = declared_names(include_dir)
    with open(symbol_map, encoding="utf-8") as f:
        nodes = set(re.findall(r"^(KSVC_[0-9]+\.[0-9]+)\s*\{", f.read(), re.M))
    uses = []
    for path in docs:
        with open(path, encoding="utf-8") as f:
            uses += used_names(os.path.basename(path), f.read())
    for label, text in header_texts(include_dir):
        # Keep the line numbers: blank out the code, keep the comments.
        kept = []
        for m in re.finditer(r"/\*.*?\*/|//[^\n]*|[^/]+|/", text, re.S):
            chunk = m.group(0)
            kept.append(chunk if chunk.startswith(("/*", "//"))
                        else re.sub(r"[^\n]", " ", chunk))
        uses += used_names(label, "".join(kept))
    missing = [(where, name, problem(name, declared, functions, nodes))
               for where, name in uses]
    missing = [entry for entry in missing if entry[2] is not None]
    for where, name, why in missing:
        print("FAIL: %s names %s: %s" % (where, name, why))
    if missing:
        return 1
    print("doc names: %d uses of %d names, all declared in the public headers"
          % (len(uses), len(set(name for _, name in uses))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
