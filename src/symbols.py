#!/usr/bin/env python3
"""The symbol list src/libkservice.map is the one source of the exported API.

From it this script makes, for one platform:
  version-script  the GNU ld version script (only that platform's symbols),
  def             the Windows module-definition (.def) file,
  list            the symbol names, one a line,
and checks a built shared library:
  check           its exported symbols equal the list, no more and no fewer
                  (and, for an ELF file, each carries its release node);
                  with --headers, also that the functions the public headers
                  declare with KSVC_API are exactly the list (all platforms).

The tagging convention is described at the top of src/libkservice.map: a
symbol line may end with a comment `/* platform: NAME */`, and such a symbol
exists only on platform NAME (posix or win32).  Untagged symbols exist
everywhere.
"""

import argparse
import glob
import os
import re
import subprocess
import sys

PLATFORMS = ("posix", "win32")

_NODE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*([A-Za-z_][A-Za-z0-9_.]*)?\s*;",
                      re.S)
_TAG_RE = re.compile(r"/\*\s*platform:\s*([a-z0-9_]+)\s*\*/")
_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)


class MapError(Exception):
    """The symbol list does not follow its documented form."""


def parse_map(text):
    """Return [(node, previous_node_or_None, [(symbol, platform_or_None)])]."""
    # Tags are read line by line before comments are dropped, so that a tag
    # belongs to the symbol written on the same line.
    tagged = {}
    for line in text.splitlines():
        tag = _TAG_RE.search(line)
        if not tag:
            continue
        if tag.group(1) not in PLATFORMS:
            raise MapError("unknown platform tag %r in: %s" % (tag.group(1), line.strip()))
        code = _COMMENT_RE.sub("", line).strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*;", code):
            raise MapError("a platform tag must follow one symbol on its line: %s" % line.strip())
        tagged[code[:-1]] = tag.group(1)

    body = _COMMENT_RE.sub("", text)
    nodes = []
    seen = set()
    end = 0
    for match in _NODE_RE.finditer(body):
        if body[end:match.start()].strip():
            raise MapError("unexpected text: %r" % body[end:match.start()].strip())
        end = match.end()
        name, content, previous = match.group(1), match.group(2), match.group(3)
        symbols = []
        section = None
        for token in re.split(r"[;\s]+", content):
            if not token:
                continue
            if token in ("global:", "local:"):
                section = token
                continue
            if section == "local:":
                if token != "*":
                    raise MapError("node %s: only `local: *;` is allowed" % name)
                continue
            if section != "global:":
                raise MapError("node %s: symbol %s outside global:" % (name, token))
            if not re.fullmatch(r"ksvc_[a-z0-9_]+", token):
                raise MapError("node %s: %s is not a public ksvc_ name" % (name, token))
            if token in seen:
                raise MapError("%s is listed twice" % token)
            seen.add(token)
            symbols.append((token, tagged.get(token)))
        nodes.append((name, previous, symbols))
    if body[end:].strip():
        raise MapError("unexpected text: %r" % body[end:].strip())
    if not nodes:
        raise MapError("no version node found")
    return nodes


def symbols_for(nodes, platform):
    """{symbol: node} of the symbols that exist on platform."""
    return {symbol: node
            for node, _previous, symbols in nodes
            for symbol, only in symbols
            if only is None or only == platform}


def version_script(nodes, platform):
    out = ["/* Generated from src/libkservice.map for %s: do not edit. */" % platform]
    for node, previous, symbols in nodes:
        names = [s for s, only in symbols if only is None or only == platform]
        out.append("%s {" % node)
        if names:
            out.append("  global:")
            out.extend("    %s;" % s for s in names)
        if previous is None:
            out.append("  local:")
            out.append("    *;")
        out.append("}%s;" % (" " + previous if previous else ""))
    return "\n".join(out) + "\n"


def def_file(nodes, platform):
    out = ["; Generated from src/libkservice.map for %s: do not edit." % platform, "EXPORTS"]
    out.extend("    %s" % s for s in sorted(symbols_for(nodes, platform)))
    return "\n".join(out) + "\n"


def exported_elf(nm, library):
    """{symbol: version node or None} of the defined dynamic symbols."""
    text = subprocess.run([nm, "-D", "--defined-only", library], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout
    exported = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        if kind == "A" and "@" not in name:
            continue  # the version node names themselves (KSVC_1.0)
        symbol, _sep, version = name.partition("@")
        exported[symbol] = version.lstrip("@") or None
    return exported


def exported_pe(objdump, library):
    """{symbol: None} of the names in a DLL's export table (objdump -p)."""
    text = subprocess.run([objdump, "-p", library], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout
    exported = {}
    in_table = False
    for line in text.splitlines():
        if "[Ordinal/Name Pointer] Table" in line:
            in_table = True
            continue
        if in_table:
            match = re.match(r"\s*\[\s*\d+\]\s+(?:\+base\[\s*\d+\]\s+[0-9a-fA-F]+\s+)?(\S+)\s*$", line)
            if not match:
                if line.strip():
                    in_table = False
                continue
            exported[match.group(1)] = None
    return exported


_DECL_RE = re.compile(r"\bKSVC_API\s+[^;{]*?\b(ksvc_[A-Za-z0-9_]+)\s*\(")


def declared_in_headers(headers_dir):
    """Names of the functions the public headers declare with KSVC_API."""
    names = set()
    for header in sorted(glob.glob(os.path.join(headers_dir, "*.h"))):
        with open(header, encoding="utf-8") as f:
            text = _COMMENT_RE.sub(" ", f.read())
        names.update(_DECL_RE.findall(text))
    return names


def check_headers(nodes, headers_dir):
    listed = {symbol for _node, _previous, symbols in nodes for symbol, _only in symbols}
    declared = declared_in_headers(headers_dir)
    problems = []
    for symbol in sorted(declared - listed):
        problems.append("unlisted: %s is declared KSVC_API but not in the symbol list" % symbol)
    for symbol in sorted(listed - declared):
        problems.append("undeclared: %s is in the symbol list but no public header "
                        "declares it with KSVC_API" % symbol)
    return problems


def check(nodes, platform, tool, library, headers_dir=None):
    expected = symbols_for(nodes, platform)
    if platform == "win32":
        exported = exported_pe(tool, library)
    else:
        exported = exported_elf(tool, library)
    problems = []
    for symbol in sorted(set(expected) - set(exported)):
        problems.append("missing: %s is in the symbol list but not exported" % symbol)
    for symbol in sorted(set(exported) - set(expected)):
        problems.append("extra: %s is exported but not in the symbol list" % symbol)
    if platform != "win32":
        for symbol in sorted(set(expected) & set(exported)):
            if exported[symbol] != expected[symbol]:
                problems.append("version: %s is exported as %s, the list says %s"
                                % (symbol, exported[symbol], expected[symbol]))
    if headers_dir:
        problems += check_headers(nodes, headers_dir)
    for problem in problems:
        print(problem)
    print("%d symbols expected, %d exported, %d problems"
          % (len(expected), len(exported), len(problems)))
    return 1 if problems else 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("version-script", "def", "list", "check"))
    parser.add_argument("--platform", choices=PLATFORMS, required=True)
    parser.add_argument("--tool", default=None,
                        help="check: nm (ELF) or objdump (PE) to read the library with")
    parser.add_argument("--headers", default=None,
                        help="check: the public headers folder (include/kservice)")
    parser.add_argument("map")
    parser.add_argument("target", nargs="?",
                        help="output file, or the library for check (default: stdout)")
    args = parser.parse_args(argv)

    with open(args.map, encoding="utf-8") as f:
        try:
            nodes = parse_map(f.read())
        except MapError as e:
            print("%s: %s" % (args.map, e), file=sys.stderr)
            return 1

    if args.command == "check":
        if not args.target:
            parser.error("check needs the library")
        tool = args.tool or ("objdump" if args.platform == "win32" else "nm")
        return check(nodes, args.platform, tool, args.target, args.headers)

    if args.command == "version-script":
        text = version_script(nodes, args.platform)
    elif args.command == "def":
        text = def_file(nodes, args.platform)
    else:
        text = "".join("%s\n" % s for s in sorted(symbols_for(nodes, args.platform)))
    if args.target:
        with open(args.target, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
