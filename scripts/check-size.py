#!/usr/bin/env python3
"""Checks the size limits of the server's C code: no file over 1200 lines,
no function over 120 lines, unless a comment on the line before the
function says why ("size: ..."). Prints what is over and exits 1.

Functions are found the way this code base writes them (return type on
its own line, the name at the start of the next line, the body's braces in
column 0), which is what scripts in the style guide's projects rely on too.

    scripts/check-size.py [--top N]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server")
MAX_FILE = 1200
MAX_FUNC = 120
NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")


def functions(lines):
    """(name, first line, length, excused) of each function definition."""
    out = []
    i = 0
    while i < len(lines):
        m = NAME.match(lines[i])
        if m and not lines[i].rstrip().endswith(";"):
            j = i
            while j < len(lines) and lines[j] != "{":
                if lines[j].rstrip().endswith(";"):
                    break
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                before = "\n".join(lines[max(0, i - 6):i])
                out.append((m.group(1), i + 1, k - i + 1, "size:" in before))
                i = k
        i += 1
    return out


def main():
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 0
    bad = 0
    allf = []
    for dirpath, _, files in sorted(os.walk(ROOT)):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, os.path.join(ROOT, ".."))
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
            if len(lines) > MAX_FILE:
                print("check-size: %s has %d lines (limit %d)" % (rel, len(lines), MAX_FILE))
                bad += 1
            for name, line, length, excused in functions(lines):
                allf.append((length, "%s:%d %s" % (rel, line, name)))
                if length > MAX_FUNC and not excused:
                    print("check-size: %s:%d %s() has %d lines (limit %d)"
                          % (rel, line, name, length, MAX_FUNC))
                    bad += 1
    for length, where in sorted(allf, reverse=True)[:top]:
        print("%5d  %s" % (length, where))
    if bad:
        return 1
    print("check-size: %d functions, none over %d lines; no file over %d lines"
          % (len(allf), MAX_FUNC, MAX_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
