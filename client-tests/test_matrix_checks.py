"""What sshmock matrix checks besides a client's words: the stage of an
expected failure, taken from what the server saw, and (with --strict) that
every cell has an expectation at all.

The profiles here are shipped ones with one Expect line changed, written
to a temporary directory (with the demo keys they name).

Run: /usr/bin/python3 client-tests/test_matrix_checks.py --sshmock build/sshmock
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def variant(tmp, shipped, name, edit):
    """profiles/SHIPPED.conf with edit() applied to its text, as TMP/NAME.conf."""
    keys = os.path.join(tmp, "keys")
    if not os.path.isdir(keys):
        shutil.copytree(h.KEYS_DIR, keys)
    text = open(os.path.join(h.PROFILES_DIR, shipped + ".conf")).read()
    changed = edit(text)
    assert changed != text, "the edit changed nothing"
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(changed)
    return path


def matrix(args, tmp):
    out = os.path.join(tmp, "m.json")
    junit = os.path.join(tmp, "m.xml")
    r = subprocess.run([h.SSHMOCK, "matrix", "--client", "openssh", "--quiet",
                        "--state-dir", h.state_dir(), "--json", out, "--junit", junit] + args,
                       capture_output=True, text=True, timeout=120)
    cells = {c["profile"]: c for c in json.load(open(out))["cells"]}
    suite = ET.parse(junit).getroot().find("testsuite")
    return r, cells, suite


class MatrixChecksTest(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def test_stage_comes_from_what_the_server_saw(self):
        with tempfile.TemporaryDirectory() as tmp:
            # ssh fails at key exchange (no common method) and says so; the
            # variant claims it fails at auth, with the very same words.
            wrong = variant(tmp, "legacy-kex-group1", "stage-wrong",
                            lambda t: re.sub(r"^Expect openssh fail kex ",
                                             "Expect openssh fail auth ", t, flags=re.M))
            r, cells, suite = matrix(["legacy-kex-group1", wrong], tmp)
            right, bad = cells["legacy-kex-group1"], cells["stage-wrong"]
            for c in (right, bad):
                self.assertFalse(c["result"]["connected"], c)
                self.assertIn("no matching key exchange method found", c["result"]["stderr"])
                self.assertEqual(c["result"]["server"]["stage"], "kex", c["result"]["server"])
            self.assertEqual(right["verdict"], "ok")
            self.assertTrue(right["stage_ok"])
            self.assertEqual(bad["verdict"], "mismatch")
            self.assertFalse(bad["stage_ok"])
            self.assertIn("expected to fail at auth, the server saw it end at kex", r.stdout)
            self.assertEqual(suite.get("failures"), "1")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)

    def test_strict_fails_a_cell_without_expectation(self):
        with tempfile.TemporaryDirectory() as tmp:
            bare = variant(tmp, "modern", "no-expect",
                           lambda t: re.sub(r"^Expect openssh .*\n", "", t, flags=re.M))
            r, cells, suite = matrix([bare], tmp)
            self.assertTrue(cells["no-expect"]["result"]["connected"], cells)
            self.assertEqual(cells["no-expect"]["verdict"], "unchecked")
            self.assertEqual(suite.get("failures"), "0")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

            r, cells, suite = matrix(["--strict", bare], tmp)
            self.assertTrue(cells["no-expect"]["result"]["connected"], cells)
            self.assertEqual(cells["no-expect"]["verdict"], "unchecked")
            self.assertEqual(suite.get("failures"), "1")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)


if __name__ == "__main__":
    h.main()
