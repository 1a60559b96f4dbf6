"""Exact offers (issue 9, item 1) with the real OpenSSH client: what ssh
prints when the negotiation fails is the played server's offer exactly (no
strict-kex marker from a server that predates it), an offer-only pick ends
with a DISCONNECT saying sshmock cannot play it, offer-only names the client
does not pick change nothing, and the matrix counts a cell that cannot be
played apart from passes and failures.

Run: /usr/bin/python3 client-tests/test_offers.py --sshmock build/sshmock
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def offer_line(err, what):
    """The whole "no matching WHAT found. Their offer: ..." part of ssh's
    stderr, up to the end of its line (None if ssh did not print it)."""
    m = re.search(r"no matching %s found\. Their offer: (\S*)\r?$" % re.escape(what), err,
                  re.MULTILINE)
    return m.group(1) if m else None


def temp_profile(d, text):
    path = os.path.join(d, "offer.conf")
    with open(path, "w") as f:
        f.write(text + "Account demo demo\nExecResponse \"echo hello\" 0 \"hello\\n\"\n")
    return path


class OffersTest(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def test_openssh_53_offer_has_no_strict_kex_marker(self):
        # Before exact offers ssh printed "...: diffie-hellman-group1-sha1,
        # kex-strict-s-v00@openssh.com": libssh 0.10.6's marker on a server
        # that predates Terrapin.
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo")
            print("ssh said: %r" % r.err.strip())
            self.assertEqual(r.rc, 255, r)
            self.assertEqual(offer_line(r.err, "key exchange method"),
                             "diffie-hellman-group1-sha1", r)
            srv.wait_events(lambda e: e["event"] == "negotiation_failed"
                            and e["server_offer"] == "diffie-hellman-group1-sha1")

    def test_openssh_96_offer_has_its_markers(self):
        with tempfile.TemporaryDirectory() as d:
            prof = temp_profile(d, "Identification SSH-2.0-OpenSSH_9.6p1\n"
                                   "KexAlgorithms diffie-hellman-group1-sha1\n")
            with h.Server(prof) as srv:
                r = h.run_ssh(srv, "echo hello", password="demo")
                print("ssh said: %r" % r.err.strip())
                self.assertEqual(offer_line(r.err, "key exchange method"),
                                 "diffie-hellman-group1-sha1,ext-info-s,"
                                 "kex-strict-s-v00@openssh.com", r)

    def test_offer_only_mac_is_offered_exactly(self):
        with h.Server(h.profile("legacy-hmac-md5")) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo")
            print("ssh said: %r" % r.err.strip())
            self.assertEqual(r.rc, 255, r)
            self.assertEqual(offer_line(r.err, "MAC"), "hmac-md5,hmac-md5-96", r)

    def test_offer_only_pick_is_refused_plainly(self):
        # umac-128@openssh.com: a MAC ssh picks and no engine of sshmock's
        # runs (hmac-md5 was the example before sshmock's libssh ran it).
        with tempfile.TemporaryDirectory() as d:
            prof = temp_profile(d, "Identification SSH-2.0-OpenSSH_5.8\n"
                                   "Ciphers aes128-ctr\nMACs umac-128@openssh.com\n")
            with h.Server(prof) as srv:
                r = h.run_ssh(srv, "echo hello", password="demo")
                print("ssh said: %r" % r.err.strip())
                self.assertEqual(r.rc, 255, r)
                self.assertRegex(r.err, r"Received disconnect from 127\.0\.0\.1 port %d:3: "
                                 r"sshmock cannot play MAC umac-128@openssh\.com "
                                 r"\(offer-only in this build\)" % srv.port)
                ev = srv.wait_events(lambda e: e["event"] == "cannot_play")
                self.assertEqual(ev[0]["algorithm"], "umac-128@openssh.com", ev)
                self.assertFalse([e for e in srv.events() if e["event"] == "auth"])

    def test_offer_only_names_not_picked_change_nothing(self):
        # hmac-md5 is offered first, but ssh does not want it: libssh's own
        # offer goes out and the exchange runs.
        with tempfile.TemporaryDirectory() as d:
            prof = temp_profile(d, "Identification SSH-2.0-OpenSSH_5.3\n"
                                   "Ciphers aes128-ctr,arcfour256\n"
                                   "MACs hmac-md5,hmac-md5-96,hmac-sha2-256\n")
            with h.Server(prof) as srv:
                r = h.run_ssh(srv, "echo hello", password="demo")
                self.assertEqual((r.rc, r.out), (0, "hello\n"), r)
                kex = srv.wait_events(lambda e: e["event"] == "kex_done")
                print("kex_done: %s" % {k: v for k, v in kex[0].items()
                                        if k.startswith(("cipher", "mac"))})

    def test_check_lists_offer_only_names(self):
        with tempfile.TemporaryDirectory() as d:
            prof = temp_profile(d, "HostKeyAlgorithms x509v3-sign-rsa,ssh-ed25519\n"
                                   "MACs umac-64@openssh.com,hmac-sha2-256\n")
            r = subprocess.run([h.SSHMOCK, "check", prof], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=15, text=True)
        self.assertEqual(r.returncode, 0, r)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("# offer-only")]
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertIn("HostKeyAlgorithms x509v3-sign-rsa", lines[0])
        self.assertIn("MACs umac-64@openssh.com", lines[0])
        self.assertNotIn("hmac-sha2-256", lines[0])
        self.assertNotIn("ssh-ed25519", lines[0])

    def test_matrix_cell_cannot_be_played(self):
        # openssh (a hardened MAC list): fails as against the real server (a
        # pass); its fix picks umac-128@openssh.com, which no build runs:
        # reported as such, and no failure even under --strict.
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "m.json")
            prof = temp_profile(d, "Identification SSH-2.0-OpenSSH_5.8\n"
                                   "Ciphers aes128-ctr\nMACs umac-128@openssh.com\n"
                                   "ClientOptions openssh MACs=hmac-sha2-256\n"
                                   "ClientFix openssh MACs=+umac-128@openssh.com\n"
                                   "Expect openssh fail kex \"no matching MAC found\\. "
                                   "Their offer: umac-128@openssh\\.com\"\n")
            r = subprocess.run([h.SSHMOCK, "matrix", "-q", "--client", "openssh", "--fixes",
                                "--strict", "--json", out, "--state-dir", h.state_dir(),
                                prof],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                               text=True)
            print(r.stdout[-600:])
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("FIX CANNOT BE PLAYED: offer x openssh", r.stdout)
            with open(out) as f:
                doc = json.load(f)
            cells = [c for c in doc["cells"] if c["client"] == "openssh"]
            self.assertEqual(len(cells), 1, doc)
            self.assertEqual(cells[0]["verdict"], "ok", cells)
            self.assertTrue(cells[0]["fix"]["result"]["cannot_play"], cells)
            self.assertFalse(cells[0]["fix"]["result"]["connected"], cells)


if __name__ == "__main__":
    h.main()
