#!/usr/bin/env python3
"""The manual page renders without warnings and describes the real command.

usage: man_check.py KSERVICE MANPAGE

- `groff -man -ww -z` and `man --warnings -l` print no warning;
- every command and option that `kservice --help` lists, and every exit
  status it names, appears in the rendered page, so the page cannot fall
  behind the program;
- every option of the SYNOPSIS, OPTIONS and COMMANDS sections and every
  command of COMMANDS is one that `kservice --help` lists, so the page
  cannot promise what the program does not do.
"""

import os
import re
import shutil
import subprocess
import sys


def run(command, env):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env)


def section(rendered, name):
    """The text of one top-level section of the rendered page."""
    match = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)" % name, rendered, re.M | re.S)
    return match.group(1) if match else ""


def page_names_unknown_to_cli(rendered, usage, commands):
    """Options of SYNOPSIS, OPTIONS and COMMANDS and the commands of COMMANDS
    that `kservice --help` does not know.  wsl.exe's own spellings quoted
    by the page (wsl --shutdown, wsl --update --status) are not ours."""
    problems = []
    text = "".join(section(rendered, name) for name in ("SYNOPSIS", "OPTIONS", "COMMANDS"))
    text = re.sub(r"\bwsl(?:\.exe)?(?:\s+--[a-z]+)+", " ", text)
    for option in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))):
        if option not in usage:
            problems.append("the page documents the option %s, which kservice "
                            "--help does not know" % option)
    # A command starts the first line of a tagged paragraph (after a blank).
    for command in re.findall(r"(?:\A|\n\n) {7}([a-z][a-z-]+)\b",
                              section(rendered, "COMMANDS")):
        if command not in commands:
            problems.append("the page documents the command %s, which kservice "
                            "--help does not list" % command)
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    kservice, page = argv
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MANPAGER="cat",
               PAGER="cat", MAN_KEEP_FORMATTING="")
    problems = []

    groff = run(["groff", "-man", "-ww", "-z", page], env)
    if groff.returncode != 0 or groff.stderr.strip() or groff.stdout.strip():
        problems.append("groff -man -ww -z:\n" + groff.stderr + groff.stdout)

    if shutil.which("man") is None:
        problems.append("man (man-db) is not installed")
        rendered = ""
    else:
        man = run(["man", "--warnings", "-E", "UTF-8", "-l", page], env)
        rendered = re.sub(".\b", "", man.stdout)
        if man.returncode != 0 or man.stderr.strip():
            problems.append("man --warnings -l:\n" + man.stderr)
        if "NAME" not in rendered or "kservice" not in rendered:
            problems.append("man -l rendered no page")
    # groff renders \- as U+2212 in some locales: compare on plain hyphens.
    rendered = rendered.replace("\u2212", "-").replace("\u2010", "-")

    usage = subprocess.run([kservice, "--help"], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]+)\b", usage.split("options:")[0], re.M)
    options = set(re.findall(r"(--[a-z][a-z0-9-]*)", usage))
    exit_text = usage.split("exit status:", 1)[-1]
    statuses = re.findall(r"(\d+) [a-z]", exit_text)
    if not commands or not options or not statuses:
        problems.append("could not read commands, options and exit statuses "
                        "from `kservice --help`:\n" + usage)
    for command in commands:
        if not re.search(r"^\s+%s\b" % re.escape(command), rendered, re.M):
            problems.append("the page does not describe the command %s" % command)
    for option in sorted(options):
        if option not in rendered:
            problems.append("the page does not mention the option %s" % option)
    # The other way: every option and command the page documents exists.
    problems += page_names_unknown_to_cli(rendered, usage, commands)
    exit_section = rendered.split("EXIT STATUS", 1)[-1]
    for status in statuses:
        if not re.search(r"^\s+%s\b" % status, exit_section, re.M):
            problems.append("the EXIT STATUS section lacks status %s" % status)
    for section in ("SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                    "EXIT STATUS", "FILES", "EXAMPLES"):
        if not re.search(r"^%s" % section, rendered, re.M):
            problems.append("the page has no %s section" % section)

    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        return 1
    print("man page: no warnings; %d commands, %d options, %d exit statuses documented"
          % (len(commands), len(options), len(statuses)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
