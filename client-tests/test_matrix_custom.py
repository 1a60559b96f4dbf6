"""sshmock matrix with a user's own client command (--custom), and its
reports: the table says where the user's configuration does otherwise than
stock OpenSSH, the JSON, JUnit and HTML files say the same, and the exit
status stays 0 because a difference is the answer, not a failure.

Run: /usr/bin/python3 client-tests/test_matrix_custom.py --sshmock build/sshmock
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CONFIG = os.path.join(h.HERE, "configs", "legacy_friendly_ssh_config")


class MatrixCustomTest(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def test_own_config_against_legacy_and_modern(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = {k: os.path.join(tmp, "m." + k) for k in ("json", "junit", "html")}
            r = subprocess.run(
                [h.SSHMOCK, "matrix", "legacy-kex-group1", "legacy-ciphers-cbc", "modern",
                 "hostkey-changed", "--client", "openssh",
                 "--custom", "mine=ssh -F " + CONFIG, "--fixes", "--quiet",
                 "--state-dir", h.state_dir(),
                 "--json", out["json"], "--junit", out["junit"], "--html", out["html"]],
                capture_output=True, text=True, timeout=240)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            lines = r.stdout.splitlines()
            header = next(ln.split() for ln in lines if ln.startswith("PROFILE"))
            cols = header[1:]  # the clients, in the order they were given
            rows = {}
            for ln in lines:
                w = ln.split()
                if w and w[0] in ("legacy-kex-group1", "modern"):
                    # the table's columns: the profile in 28, then 18 per client
                    rows[w[0]] = {cols[i]: ln[29 + 18 * i:29 + 18 * i + 17].split()
                                  for i in range(len(cols))}
            self.assertEqual(rows["legacy-kex-group1"]["mine"], ["!=", "connect"], r.stdout)
            self.assertEqual(rows["legacy-kex-group1"]["openssh"], ["ok", "fail:kex", "+fix"],
                             r.stdout)
            self.assertEqual(rows["modern"]["mine"], ["ok", "connect"], r.stdout)
            self.assertEqual(rows["modern"]["openssh"], ["ok", "connect"], r.stdout)
            self.assertIn("DIFFERS FROM STOCK openssh: legacy-kex-group1 x mine", r.stdout)
            self.assertRegex(r.stdout, r"[0-9]+ runs in [0-9.]+ s wall time: [0-9.]+ runs/s")

            cells = json.load(open(out["json"]))["cells"]
            by = {(c["profile"], c["client"]): c for c in cells}
            self.assertEqual(by[("legacy-kex-group1", "mine")]["verdict"], "differs")
            self.assertTrue(by[("legacy-kex-group1", "mine")]["result"]["connected"])
            stock = by[("legacy-kex-group1", "openssh")]
            self.assertEqual(stock["verdict"], "ok")
            self.assertIn("no matching key exchange method found", stock["result"]["stderr"])
            self.assertTrue(stock["fix"]["result"]["connected"], stock)
            hk = by[("hostkey-changed", "openssh")]
            self.assertIn("REMOTE HOST IDENTIFICATION HAS CHANGED", hk["result"]["stderr"])

            suite = ET.parse(out["junit"]).getroot().find("testsuite")
            self.assertEqual(suite.get("tests"), str(len(cells)))
            self.assertEqual(suite.get("failures"), "0")

            html = open(out["html"]).read()
            self.assertTrue(html.startswith("<!DOCTYPE html>"))
            self.assertIn("no matching key exchange method found", html)
            self.assertIn("your client differs from the stock one", html)
            self.assertNotIn("<script src", html)  # self-contained


if __name__ == "__main__":
    h.main()
