#!/usr/bin/env python3
"""Build the HTML reference into a temporary folder; any warning fails.

usage: doxygen_check.py DOXYGEN DOXYFILE ERRORS_DOX INCLUDE_DIR

Runs the project's Doxyfile (WARN_IF_UNDOCUMENTED, WARN_NO_PARAMDOC,
WARN_AS_ERROR=FAIL_ON_WARNINGS) with the output and the warning log moved to
a temporary folder, so an undocumented public symbol, parameter or return
value, a broken reference or a dot failure fails the test.  Then checks
that the pages a newcomer needs were made: a page for every public header
(Doxygen does not warn about the members of a header whose @file comment is
missing), the main page with the state diagram, and the error page listing
every code of error.h.
"""

import os
import re
import subprocess
import sys
import tempfile


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    doxygen, doxyfile, errors_dox, include_dir = argv
    headers = sorted(name for name in os.listdir(os.path.join(include_dir, "kservice"))
                     if name.endswith(".h"))
    with open(errors_dox, encoding="utf-8") as f:
        codes = re.findall(r"@var (KSVC_E_[A-Z_]+)", f.read())
    with open(doxyfile, encoding="utf-8") as f:
        config = f.read()
    with tempfile.TemporaryDirectory(prefix="ksvc-doxygen-") as work:
        log = os.path.join(work, "warnings.log")
        config += "\nOUTPUT_DIRECTORY = %s\nWARN_LOGFILE = %s\n" % (work, log)
        run = subprocess.run([doxygen, "-"], input=config, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
        warnings = ""
        if os.path.exists(log):
            with open(log, encoding="utf-8") as f:
                warnings = f.read().strip()
        if run.stdout.strip():
            print(run.stdout.rstrip())
        if warnings:
            print(warnings)
            print("FAIL: doxygen warned (%d lines)" % len(warnings.splitlines()))
            return 1
        if run.returncode != 0:
            print("FAIL: doxygen exit status %d" % run.returncode)
            return 1

        html = os.path.join(work, "html")
        with open(os.path.join(html, "index.html"), encoding="utf-8") as f:
            index = f.read()
        problems = []
        for header in headers:
            page = os.path.join(html, header.replace("_", "__").replace(".", "_8") + ".html")
            if not os.path.exists(page):
                problems.append("%s has no documented page: its @file comment is missing"
                                % header)
        if not re.search(r'src="[^"]*\.svg"|data="[^"]*\.svg"', index):
            problems.append("the main page has no drawn state diagram")
        for needed in ("Registry values", "Thread and process safety",
                       "Writing a platform backend"):
            if needed not in index:
                problems.append("the main page lacks the section %r" % needed)
        errors_page = os.path.join(html, "errors.html")
        if not os.path.exists(errors_page):
            problems.append("no error code page (errors.html)")
        else:
            with open(errors_page, encoding="utf-8") as f:
                errors = f.read()
            listed = set(re.findall(r"(KSVC_E_[A-Z_]+)</a>", errors))
            missing = [code for code in codes if code not in listed]
            if not codes or missing:
                problems.append("the error page lacks %s" % (missing or "every code"))
        for problem in problems:
            print("FAIL: " + problem)
        if problems:
            return 1
    print("doxygen: no warnings; main page, state diagram and error page made")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
