"""paramiko (2.12, Debian's) against sshmock, each run in a child process:
exec with a password and with the ed25519 key, exit status, stderr, the host
key it was shown, and the legacy group1 profile.

Run: /usr/bin/python3 client-tests/test_paramiko.py --sshmock build/sshmock
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class ParamikoTest(unittest.TestCase):
    def setUp(self):
        if not h.have_paramiko():
            self.skipTest("paramiko is not importable by %s (Debian package python3-paramiko)"
                          % h.DEBIAN_PYTHON)

    def assertCanned(self, r, prof, command):
        self.assertIsNone(r.error, r)
        self.assertEqual((r.rc, r.out, r.err), h.canned(prof, command), r)

    def test_exec_password(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_paramiko(srv, "echo hello", password="demo")
            self.assertCanned(r, prof, "echo hello")
            self.assertEqual(r.out, "hello\n")
            self.assertIn(r.extra["host_key_fingerprint"], srv.fingerprints.values())
            self.assertEqual(r.extra["remote_version"], h.profile_setting(prof, "Identification"))
            ident = srv.wait_events(lambda e: e["event"] == "client_ident")[0]["ident"]
            self.assertTrue(ident.startswith("SSH-2.0-paramiko_"), ident)
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual([(a["user"], a["method"]) for a in ok], [("demo", "password")])

    def test_exec_publickey_ed25519(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_paramiko(srv, "whoami", key="demo_ed25519")
            self.assertCanned(r, prof, "whoami")
            self.assertEqual(r.out, "demo\n")
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual([a["method"] for a in ok], ["publickey"])

    def test_exit_status_and_stderr(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_paramiko(srv, "exit 3", password="demo")
            self.assertCanned(r, prof, "exit 3")
            self.assertEqual(r.rc, 3)
            r = h.run_paramiko(srv, "stderr-test", password="demo")
            self.assertCanned(r, prof, "stderr-test")
            self.assertEqual((r.rc, r.out, r.err), (2, "out\n", "err\n"))

    def test_wrong_password(self):
        with h.Server(h.profile("modern")) as srv:
            r = h.run_paramiko(srv, "echo hello", password="wrong")
            self.assertEqual(r.error, "AuthenticationException: Authentication failed.", r)

    def test_publickey_only(self):
        with h.Server(h.profile("pubkeyonly")) as srv:
            r = h.run_paramiko(srv, "echo hello", user="nokey", password="x")
            self.assertEqual(r.error, "BadAuthenticationType: Bad authentication type; "
                             "allowed types: ['publickey']", r)

    def test_legacy_group1_is_accepted(self):
        # paramiko 2.12 still offers diffie-hellman-group1-sha1 and ssh-rsa by
        # default, so the legacy profile just works for it.
        prof = h.profile("legacy-kex-group1")
        with h.Server(prof) as srv:
            r = h.run_paramiko(srv, "echo hello", password="demo")
            self.assertCanned(r, prof, "echo hello")
            self.assertEqual(r.extra["host_key_type"], "ssh-rsa")
            kex = srv.wait_events(lambda e: e["event"] == "kex_done")
            self.assertEqual(kex[0]["kex"], "diffie-hellman-group1-sha1", kex)

    def test_legacy_group1_refused_when_disabled(self):
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_paramiko(srv, "echo hello", password="demo",
                               disabled_kex=["diffie-hellman-group1-sha1"])
            print("paramiko said: %r" % r.error)
            self.assertEqual(r.error, "IncompatiblePeer: Incompatible ssh peer "
                             "(no acceptable kex algorithm)", r)


if __name__ == "__main__":
    h.main()
