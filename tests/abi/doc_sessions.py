#!/usr/bin/env python3
"""Run every example session of the docs and compare the output shown.

usage: doc_sessions.py KSERVICE DOC...

A session is a block of shell commands with their output: in a Markdown
file a fenced block whose first line starts with "$ ", in a manual page an
.EX/.EE block that does.  The sessions of one document run in order, each
continuing the one before, in a fresh temporary folder with `kservice` on
the PATH; the path /tmp/machine of the docs stands for a folder inside it.
Each command's standard output followed by its standard error (the order a
terminal shows for kservice, which reports after it prints) must match the
lines shown under it:

- a line "..." stands for one or more lines;
- a line ending in " ..." stands for any line that starts with the rest;
- `echo $?` shows the exit status of the command before it.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

MACHINE = "/tmp/machine"


def roff_text(line):
    """The text a manual page line shows, for the escapes sessions use."""
    for escape, text in (("\\-", "-"), ("\\&", ""), ("\\(aq", "'"),
                         ("\\(lq", '"'), ("\\(rq", '"'), ("\\e", "\\")):
        line = line.replace(escape, text)
    return line


def sessions_of(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".md"):
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", text, re.S | re.M)
    else:
        blocks = [roff_text(block) for block in
                  re.findall(r"^\.EX\n(.*?)^\.EE$", text, re.S | re.M)]
    return [block.splitlines() for block in blocks if block.startswith("$ ")]


def steps_of(session):
    """[(command, [expected lines])]"""
    steps = []
    for line in session:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def lines_match(expected, got):
    if not expected:
        return not got
    first = expected[0]
    if first == "...":
        return any(lines_match(expected[1:], got[k:]) for k in range(1, len(got) + 1))
    if not got:
        return False
    if first.endswith(" ..."):
        ok = got[0].startswith(first[:-3])
    else:
        ok = got[0] == first
    return ok and lines_match(expected[1:], got[1:])


def run_sessions(kservice, sessions, label):
    """The problems of a document's sessions, [] when they ran as shown."""
    work = tempfile.mkdtemp(prefix="ksvc-doc-session-")
    try:
        bindir = os.path.join(work, "bin")
        os.mkdir(bindir)
        # A link, not a wrapper: under the sanitizers nothing may be preloaded.
        os.symlink(kservice, os.path.join(bindir, "kservice"))
        cwd = os.path.join(work, "cwd")
        os.mkdir(cwd)
        machine = os.path.join(work, "machine")
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"],
                   LC_ALL="C")
        status = 0
        steps = [(number, step) for number, session in enumerate(sessions, 1)
                 for step in steps_of(session)]
        for number, (command, expected) in steps:
            if command == "echo $?":
                got = [str(status)]
            else:
                done = subprocess.run(command.replace(MACHINE, machine), shell=True,
                                      cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE,
                                      universal_newlines=True)
                status = done.returncode
                got = (done.stdout + done.stderr).replace(machine, MACHINE).splitlines()
            if not lines_match(expected, got):
                return ["%s, session %d: $ %s\n  shown:\n    %s\n  printed:\n    %s"
                        % (label, number, command, "\n    ".join(expected),
                           "\n    ".join(got))]
        return []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    kservice, docs = os.path.abspath(argv[0]), argv[1:]
    problems, count = [], 0
    for path in docs:
        sessions = sessions_of(path)
        if not sessions:
            problems.append("%s has no example session" % path)
        count += len(sessions)
        problems += run_sessions(kservice, sessions, os.path.basename(path))
    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        return 1
    print("doc sessions: %d sessions ran as shown" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
