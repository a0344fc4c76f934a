#!/usr/bin/env python3
"""Validate `kservice status --json` output against doc/kservice-status.schema.json.

usage: status_schema.py SCHEMA FILE...     each FILE holds one output
       status_schema.py --self-test SCHEMA

Uses Debian's python3-jsonschema (Draft 7).  --self-test checks the schema
itself: it is a valid Draft 7 schema, every member it lists has a
description, a real status validates, and documents that break it (a
member missing, a wrong type, an unknown slot name) are rejected, so the
schema cannot silently accept anything.
"""

import copy
import json
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("FAIL: python3-jsonschema is not installed (Debian: apt-get install "
             "python3-jsonschema)")

EXAMPLE = {
    "kernel": {"present": True, "version": "5.15.133.1", "image_version": "5.15.133.1",
               "intact": True, "bad": False, "size": 73728, "sha256": "ab" * 32},
    "rollback": {"present": False, "version": None, "image_version": None,
                 "intact": False, "bad": False, "size": 0, "sha256": None},
    "rolled_back": False, "rolled_back_from": None, "effective": "kernel",
    "bad_versions": ["5.15.121.1"], "restart_required": True, "problems": [],
    "others_may_write": ["tools_folder", "registry"],
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def undocumented(schema, where="schema"):
    """Members of `properties` without a description, recursively."""
    missing = []
    if isinstance(schema, dict):
        for name, member in schema.get("properties", {}).items():
            if "description" not in member:
                missing.append("%s.%s" % (where, name))
        for key, value in schema.items():
            missing += undocumented(value, "%s.%s" % (where, key))
    return missing


def self_test(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    problems = ["%s has no description" % name for name in undocumented(schema)]
    if not validator.is_valid(EXAMPLE):
        problems.append("a real status is rejected")
    grown = copy.deepcopy(EXAMPLE)
    grown["trial_boot"] = {"pending": False}
    grown["kernel"]["class"] = "verified"
    if not validator.is_valid(grown):
        problems.append("members added by a later version are rejected")
    broken = []
    for mutate in (lambda d: d.pop("kernel"),
                   lambda d: d["kernel"].pop("intact"),
                   lambda d: d.__setitem__("effective", "kernel.old"),
                   lambda d: d["kernel"].__setitem__("size", -1),
                   lambda d: d["kernel"].__setitem__("sha256", "xyz"),
                   lambda d: d.__setitem__("rolled_back", "no"),
                   lambda d: d["rollback"].__setitem__("image_version", "not a version"),
                   lambda d: d.__setitem__("bad_versions", "5.15.121.1"),
                   lambda d: d.__setitem__("others_may_write", ["System32"]),
                   lambda d: d.__setitem__("others_may_write", ["kernel", "kernel"])):
        document = copy.deepcopy(EXAMPLE)
        mutate(document)
        broken.append(document)
    for number, document in enumerate(broken, 1):
        if validator.is_valid(document):
            problems.append("broken document %d is accepted" % number)
    return problems


def main(argv):
    if len(argv) == 2 and argv[0] == "--self-test":
        problems = self_test(load(argv[1]))
        for problem in problems:
            print("FAIL: " + problem)
        if not problems:
            print("status schema: valid Draft 7, documented, strict where it must be")
        return 1 if problems else 0
    if len(argv) < 2:
        print(__doc__)
        return 2
    validator = jsonschema.Draft7Validator(load(argv[0]))
    failures = 0
    for path in argv[1:]:
        try:
            document = load(path)
        except ValueError as error:
            print("FAIL: %s is not JSON: %s" % (path, error))
            failures += 1
            continue
        for error in validator.iter_errors(document):
            print("FAIL: %s: %s at %s" % (path, error.message,
                                         "/".join(str(p) for p in error.path)))
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
