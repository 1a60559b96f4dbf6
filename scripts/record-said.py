#!/usr/bin/env python3
"""Records what each real client printed as the profiles' Said lines.

  scripts/record-said.py [--sshmock build/sshmock] [PROFILE...]
  scripts/record-said.py --json m.json [PROFILE...]

Runs `sshmock matrix --json` on the profiles (or reads a report made
earlier with --json FILE) and, for every cell that did what its Expect line
says, writes the client's own words right after that Expect line, replacing
the Said lines it had:

  * a client that fails: the lines its Expect pattern matches in what it
    printed (stdout, a newline, stderr: the text the matrix checks), each
    whole and trimmed; lines inside the match that the pattern does not need
    (it skips them with ".*") are left out, so the usual result is the one
    to three lines a person would quote;
  * a client that connects: the first line of its output (the command's).

The words are normalised the way the parser reads them back: the server's
port becomes P ("port P", "127.0.0.1:P", "[127.0.0.1]:P"), a SHA256
fingerprint "SHA256:...", a base64 public key "AAAA...", the matrix's
scratch known_hosts ".../known_hosts", and an interactive question printed
before the answer on the same line (plink's "Store key in cache? (y/n,
...) ") is left out. The parser checks each client's Said
lines against its Expect pattern (P read as a port number), so this script
only writes what `sshmock check` will accept; it checks the same before
writing. A cell that did not do as expected is reported and left alone:
re-record its Expect line first. Only the clients in the report are
rewritten, so one client can be re-recorded from a run of its own
(`sshmock matrix --client libssh --json m.json ...`, then --json m.json):
under a busy full matrix libssh sometimes loses its kex error to
"Socket error: No such file or directory", which its patterns allow but a
reader learns nothing from.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PROFILES = os.path.join(TOP, "profiles")
MAX_LINES = 6   # more than this is a pattern to rethink, not words to show

PORT_RE = re.compile(r"(\bport |\b127\.0\.0\.1\]?:|\blocalhost\]?:)([0-9]{1,5})\b")
FPR_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
# A public key in base64 (paramiko prints the one it got and the one it
# expected): generated per run, so it says nothing to a reader.
KEY_RE = re.compile(r"AAAA[A-Za-z0-9+/]{40,}={0,2}")
# The matrix's scratch known_hosts files.
TMP_RE = re.compile(r"/tmp/sshmock-matrix-[^/\s]+/known_hosts[-0-9]*")
# An interactive question the client printed without a newline (plink's
# "Store key in cache? (y/n, ...) "): the answer follows on the same line.
PROMPT_RE = re.compile(r"^.*\? \(y/n[^)]*\) (?=\S)")


def normalise(line):
    line = PROMPT_RE.sub("", line)
    line = PORT_RE.sub(lambda m: m.group(1) + "P", line)
    line = KEY_RE.sub("AAAA...", line)
    line = TMP_RE.sub(".../known_hosts", line)
    return FPR_RE.sub("SHA256:...", line)


def as_checked(lines, port=2222):
    """The text the parser matches the pattern against (matrix.c)."""
    text = "\n".join(lines)
    return re.sub(r"(?:(?<=port )|(?<=:))P(?![A-Za-z0-9_])", str(port), text)


def matches(pattern, text):
    # POSIX ERE as the shipped patterns write it reads the same in Python;
    # POSIX '.' matches a newline too, hence DOTALL.
    return re.search(pattern, text, re.S) is not None


def said_for_failure(pattern, text):
    m = re.search(pattern, text, re.S)
    if m is None:
        return None
    lines = text.split("\n")
    first = text.count("\n", 0, m.start())
    last = text.count("\n", 0, max(m.start(), m.end() - 1))
    keep = [ln.strip() for ln in lines[first:last + 1]]
    if not matches(pattern, "\n".join(keep)):
        return None
    # Leave out the lines in between that the pattern does not need.
    i = 1
    while i < len(keep) - 1:
        trial = keep[:i] + keep[i + 1:]
        if matches(pattern, "\n".join(trial)):
            keep = trial
        else:
            i += 1
    return keep


def said_for_cell(cell):
    res = cell["result"]
    exp = cell["expected"]
    pattern = exp.get("pattern")
    text = (res.get("stdout") or "") + "\n" + (res.get("stderr") or "")
    if pattern:
        lines = said_for_failure(pattern, text)
    elif res.get("connected"):
        lines = [(res.get("stdout") or "").split("\n")[0].strip()]
    else:
        lines = [res.get("message", "").strip()]
    if not lines or not any(lines) or len(lines) > MAX_LINES:
        return None
    lines = [normalise(ln) for ln in lines]
    if pattern and not matches(pattern, as_checked(lines)):
        return None
    return lines


def quote(line):
    return '"' + line.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite(path, said):
    """Said lines go right after their client's Expect line; old ones go."""
    with open(path, encoding="utf-8") as f:
        old = f.read().split("\n")
    new = []
    for ln in old:
        words = ln.split()
        if words[:1] == ["Said"] and len(words) > 1 and words[1] in said:
            continue
        new.append(ln)
        if words[:1] == ["Expect"] and len(words) > 1 and words[1] in said:
            new.extend("Said %s %s" % (words[1], quote(s)) for s in said[words[1]])
    if new != old:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(new))
        return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1].strip())
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build", "sshmock"))
    ap.add_argument("--json", help="a matrix --json report to read instead of running one")
    ap.add_argument("profiles", nargs="*", help="profile names (default: all shipped)")
    a = ap.parse_args()

    if a.json:
        with open(a.json, encoding="utf-8") as f:
            report = json.load(f)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "m.json")
            names = [os.path.join(PROFILES, p + ".conf") for p in a.profiles]
            r = subprocess.run([a.sshmock, "matrix", "-q", "--json", out] + names)
            if not os.path.exists(out):
                sys.exit("record-said: the matrix wrote no report (exit %d)" % r.returncode)
            with open(out, encoding="utf-8") as f:
                report = json.load(f)

    by_profile = {}
    problems = 0
    for cell in report["cells"]:
        if a.profiles and cell["profile"] not in a.profiles:
            continue
        if cell["model"] != cell["client"]:
            continue   # a custom client's words are not the stock client's
        if cell["verdict"] != "ok":
            print("record-said: %s %s: %s, not recorded" %
                  (cell["profile"], cell["client"], cell["verdict"]), file=sys.stderr)
            problems += 1
            continue
        lines = said_for_cell(cell)
        if lines is None:
            print("record-said: %s %s: no lines of its output fit its pattern, "
                  "not recorded" % (cell["profile"], cell["client"]), file=sys.stderr)
            problems += 1
            continue
        by_profile.setdefault(cell["profile"], {})[cell["client"]] = lines

    for name, said in sorted(by_profile.items()):
        path = os.path.join(PROFILES, name + ".conf")
        if not os.path.exists(path):
            print("record-said: %s: not a shipped profile, skipped" % name, file=sys.stderr)
            continue
        if rewrite(path, said):
            print("record-said: %s: %d clients recorded" % (name, len(said)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
