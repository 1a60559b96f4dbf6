"""PuTTY's plink against sshmock: exec with a password (plink answers the
server's keyboard-interactive prompt with -pw), exit status, stderr, host
key pinning with -hostkey, and what PuTTY says to the legacy profile.

Run: /usr/bin/python3 client-tests/test_plink.py --sshmock build/sshmock
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

KBDINT_NOTICES = ("Keyboard-interactive authentication prompts from server:",
                  "End of keyboard-interactive prompts from server")


def remote_stderr(err):
    """plink's stderr without its own keyboard-interactive notices."""
    return [ln for ln in err.replace("\r\n", "\n").split("\n")
            if ln and ln not in KBDINT_NOTICES]


class PlinkTest(unittest.TestCase):
    def setUp(self):
        h.require("plink", "putty-tools")

    def test_exec_password(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_plink(srv, "echo hello")
            self.assertEqual((r.rc, r.out), h.canned(prof, "echo hello")[:2], r)
            self.assertEqual(r.out, "hello\n")
            self.assertEqual(remote_stderr(r.err), [], r)
            ident = srv.wait_events(lambda e: e["event"] == "client_ident")[0]["ident"]
            self.assertTrue(ident.startswith("SSH-2.0-PuTTY_"), ident)
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual([(a["user"], a["method"]) for a in ok],
                             [("demo", "keyboard-interactive")])

    def test_exit_status(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_plink(srv, "exit 3")
            self.assertEqual((r.rc, r.out), (3, ""), r)
            self.assertEqual(r.rc, h.canned(prof, "exit 3")[0])
            r = h.run_plink(srv, "stderr-test")
            self.assertEqual((r.rc, r.out), (2, "out\n"), r)
            self.assertEqual(remote_stderr(r.err), ["err"], r)

    def test_wrong_password(self):
        with h.Server(h.profile("modern")) as srv:
            r = h.run_plink(srv, "echo hello", password="wrong")
            self.assertEqual(r.rc, 1, r)
            print("plink said: %r" % remote_stderr(r.err))
            self.assertIn("FATAL ERROR: Configured password was not accepted", r.err)

    def test_host_key_pinning(self):
        with h.Server(h.profile("modern")) as srv:
            real = dict(srv.fingerprints)
            # A fingerprint that is none of the server's keys.
            srv.fingerprints = {"ssh-ed25519": "SHA256:" + "A" * 43}
            r = h.run_plink(srv, "echo hello")
            srv.fingerprints = real
            self.assertEqual(r.rc, 1, r)
            self.assertIn("FATAL ERROR: Host key not in manually configured list", r.err)

    def test_legacy_kex_weak_in_batch_mode(self):
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_plink(srv, "echo hello")
            self.assertEqual(r.rc, 1, r)
            print("plink said: %r" % r.err)
            self.assertIn("diffie-hellman-group1-sha1, which is below the configured\n"
                          "warning threshold.", r.err)
            self.assertIn("FATAL ERROR: Cannot confirm a weak crypto primitive in batch mode",
                          r.err)

    def test_hang_ups_are_resets(self):
        # A process that exits with plink's bytes unread: plink reports the
        # reset, as against sshd 9.2 (client-tests/twins), before the banner
        # and after it; it never waits forever (PuTTY 0.78 did, for an end
        # that came in the same read as the identification).
        for name in ("closed-before-ident", "closed-after-ident", "hostkeys-missing",
                     "closed-after-client-kexinit"):
            with self.subTest(profile=name), h.Server(h.profile(name)) as srv:
                r = h.run_plink(srv, "echo hello", extra=["-v"])
                self.assertEqual(r.rc, 1, r)
                self.assertIn("FATAL ERROR: Connection reset by peer", r.err, r)


if __name__ == "__main__":
    h.main()
