#!/usr/bin/env python3
"""Fails when a fuzz dictionary lacks a field of a .proto the target parses.

  fuzz/dict_covers_proto.py PROTO DICT

Every field name in PROTO must appear in DICT as field_<name>="<name>" (text format) and
json_<name>="\\"<name>\\":" (JSON), so the dictionary keeps up with the schema it fuzzes.
"""
import re
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        proto = re.sub(r"//.*", "", f.read())
    with open(argv[2]) as f:
        entries = set(line.strip() for line in f)
    fields = sorted(set(re.findall(
        r"^\s*(?:repeated\s+|optional\s+)?[\w.]+\s+(\w+)\s*=\s*\d+\s*;", proto, re.M)))
    missing = []
    for name in fields:
        for entry in (f'field_{name}="{name}"', f'json_{name}="\\"{name}\\":"'):
            if entry not in entries:
                missing.append(entry)
    for entry in missing:
        print(f"{argv[2]}: missing {entry}")
    print(f"{len(fields)} fields of {argv[1]}, {len(missing)} dictionary entries missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
