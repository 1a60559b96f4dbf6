"""dropbear's dbclient against sshmock: exec with a password
(DROPBEAR_PASSWORD), exit status, stderr, and what dropbear says when no
key exchange method is common.

Run: /usr/bin/python3 client-tests/test_dbclient.py --sshmock build/sshmock
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def last_line(err):
    lines = [ln for ln in err.replace("\r\n", "\n").split("\n") if ln]
    return lines[-1] if lines else ""


class DbclientTest(unittest.TestCase):
    def setUp(self):
        h.require("dbclient", "dropbear-bin")

    def test_exec_password(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_dbclient(srv, "echo hello")
            self.assertEqual((r.rc, r.out), h.canned(prof, "echo hello")[:2], r)
            self.assertEqual(r.out, "hello\n")
            # dbclient -y accepts the key and says which: the server's ed25519 key.
            self.assertIn("(ssh-ed25519 fingerprint %s)" % srv.fingerprints["ssh-ed25519"], r.err)
            ident = srv.wait_events(lambda e: e["event"] == "client_ident")[0]["ident"]
            self.assertTrue(ident.startswith("SSH-2.0-dropbear_"), ident)
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual(len(ok), 1, ok)
            self.assertEqual(ok[0]["user"], "demo")

    def test_exit_status(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_dbclient(srv, "exit 3")
            self.assertEqual((r.rc, r.out), (3, ""), r)
            self.assertEqual(r.rc, h.canned(prof, "exit 3")[0])
            r = h.run_dbclient(srv, "stderr-test")
            self.assertEqual((r.rc, r.out), (2, "out\n"), r)
            self.assertEqual(last_line(r.err), "err", r)

    def test_publickey_only_no_auth_methods(self):
        with h.Server(h.profile("pubkeyonly")) as srv:
            r = h.run_dbclient(srv, "echo hello", user="nokey")
            self.assertEqual(r.rc, 1, r)
            self.assertEqual(last_line(r.err), "dbclient: Connection to nokey@127.0.0.1:%d "
                             "exited: No auth methods could be used." % srv.port, r)

    def test_too_many_authentication_failures(self):
        with h.Server(h.profile("maxauth")) as srv:
            r = h.run_dbclient(srv, "echo hello", password="wrong")
            print("dbclient said: %r" % last_line(r.err))
            self.assertEqual(last_line(r.err), "dbclient: Connection to demo@127.0.0.1:%d "
                             "exited: Disconnect received" % srv.port, r)
            self.assertNotEqual(r.out, "hello\n")

    # dropbear sends its KEXINIT (and a guessed key exchange packet) in the
    # same write as its identification; the server must still put its own
    # KEXINIT on the wire before it gives up, or dbclient only says "Remote
    # closed the connection" (an early server build did that).
    def test_legacy_kex_no_match(self):
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_dbclient(srv, "echo hello")
            print("dbclient said: %r" % last_line(r.err))
            self.assertEqual(r.rc, 1, r)
            self.assertEqual(last_line(r.err), "dbclient: Connection to demo@127.0.0.1:%d "
                             "exited: No matching algo kex" % srv.port, r)
            nf = srv.wait_events(lambda e: e["event"] == "negotiation_failed")
            self.assertEqual([e["list"] for e in nf], ["kex_algorithms"], nf)


if __name__ == "__main__":
    h.main()
