"""OpenSSH's ssh against sshmock: exec with every login method, exit status
and stderr, a pty shell, the auth limits, LoginGraceTime, the legacy
key-exchange profile, the event log, and bad profiles.

Run: /usr/bin/python3 client-tests/test_openssh.py --sshmock build/sshmock
"""

import base64
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LEGACY_OPTS = ["KexAlgorithms=+diffie-hellman-group1-sha1", "HostKeyAlgorithms=+ssh-rsa"]


def blob_fingerprint(b64):
    """SHA256 fingerprint of a base64 public key blob, as ssh-keygen -l shows it."""
    digest = hashlib.sha256(base64.b64decode(b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def key_fingerprint(pub_name):
    """The fingerprint of profiles/keys/<pub_name>."""
    with open(os.path.join(h.KEYS_DIR, pub_name)) as f:
        return blob_fingerprint(f.read().split()[1])


def client_lines(err):
    """ssh's stderr as lines, without the accept-new notice of the first
    connection ("Warning: Permanently added ...")."""
    return [ln for ln in err.replace("\r\n", "\n").split("\n")
            if ln and not ln.startswith("Warning: Permanently added")]


class OpenSSHTest(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def assertExec(self, r, prof, command, user="demo"):
        status, out, err = h.canned(prof, command, user)
        self.assertEqual(r.rc, status, r)
        self.assertEqual(r.out, out, r)
        if err:
            self.assertEqual(client_lines(r.err), err.rstrip("\n").split("\n"), r)

    # -- exec ------------------------------------------------------------
    def test_exec_password(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo")
            self.assertExec(r, prof, "echo hello")
            self.assertEqual(r.out, "hello\n")
            auths = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual([(a["user"], a["method"]) for a in auths], [("demo", "password")])

    def test_exec_publickey_ed25519(self):
        self._publickey("demo_ed25519")

    def test_exec_publickey_rsa(self):
        self._publickey("demo_rsa")

    def _publickey(self, key):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "whoami", key=key)
            self.assertExec(r, prof, "whoami")
            self.assertEqual(r.out, "demo\n")
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual(len(ok), 1, ok)
            self.assertEqual(ok[0]["method"], "publickey")
            self.assertEqual(ok[0]["key"], key_fingerprint(key + ".pub"))

    def test_exit_status_propagates(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "exit 3", key="demo_ed25519")
            self.assertEqual(r.rc, 3, r)
            self.assertEqual(r.rc, h.canned(prof, "exit 3")[0])
            self.assertEqual(r.out, "")
            self.assertEqual(client_lines(r.err), [], r)

    def test_stderr_is_separate(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "stderr-test", key="demo_ed25519")
            self.assertExec(r, prof, "stderr-test")
            self.assertEqual((r.rc, r.out), (2, "out\n"), r)
            self.assertEqual(client_lines(r.err), ["err"], r)

    def test_unknown_command_default_response(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "no-such-command --x", key="demo_ed25519")
            self.assertExec(r, prof, "no-such-command --x")

    def test_keyboard_interactive(self):
        prof = h.profile("modern")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo", kbdint=True)
            self.assertExec(r, prof, "echo hello")
            ok = srv.wait_events(lambda e: e["event"] == "auth" and e["result"] == "success")
            self.assertEqual([a["method"] for a in ok], ["keyboard-interactive"])

    def test_pty_shell(self):
        prof = h.profile("modern")
        prompt = h.profile_setting(prof, "ShellPrompt").replace("%u", "demo")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, None, password="demo", tty=True,
                          interact=[(prompt, "echo hello\r", 0.1),
                                    ("hello\r\n", "exit 4\r", 0.1)])
            self.assertEqual(r.rc, 4, r)
            self.assertIn(prompt + "echo hello\r\nhello\r\n", r.out)
            self.assertIn("Connection to 127.0.0.1 closed.", client_lines(r.err), r)
            self.assertTrue(srv.wait_events(lambda e: e["event"] == "shell_exit"), srv.events())

    # -- the event log ---------------------------------------------------
    def test_event_log(self):
        with h.Server(h.profile("modern")) as srv, h.Workdir() as work:
            r = h.run_ssh(srv, "echo hello", key="demo_ed25519", work=work)
            self.assertEqual(r.rc, 0, r)
            # The host key ssh recorded (accept-new) is one the server logged.
            with open(work.file("known_hosts")) as f:
                recorded = [blob_fingerprint(ln.split()[2]) for ln in f if ln.strip()]
            self.assertEqual(len(recorded), 1, recorded)
            self.assertIn(recorded[0], srv.fingerprints.values())
            srv.wait_events(lambda e: e["event"] == "close")
            evs = [e for e in srv.events() if e["conn"] != 0]
            names = [e["event"] for e in evs]
            for want in ("accept", "client_ident", "kex_done", "auth", "exec", "close"):
                self.assertIn(want, names, names)
            ident = [e for e in evs if e["event"] == "client_ident"][0]["ident"]
            self.assertTrue(ident.startswith("SSH-2.0-OpenSSH_"), ident)
            kex = [e for e in evs if e["event"] == "kex_done"][0]
            self.assertTrue(kex.get("kex"), kex)
            self.assertIn("success", [e["result"] for e in evs if e["event"] == "auth"])
            close = [e for e in evs if e["event"] == "close"][0]
            self.assertEqual(close["by"], "client", close)
            # In order: ident, then kex, then auth, then close.
            order = [names.index(n) for n in ("client_ident", "kex_done", "auth", "close")]
            self.assertEqual(order, sorted(order), names)

    # -- auth limits -----------------------------------------------------
    def test_too_many_authentication_failures(self):
        prof = h.profile("maxauth")
        self.assertEqual(h.profile_setting(prof, "MaxAuthTries"), "3")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "echo hello", password="wrong",
                          options=["NumberOfPasswordPrompts=10"])
            self.assertEqual(r.rc, 255, r)
            lines = client_lines(r.err)
            print("ssh said: %r" % lines)
            prefix = "Received disconnect from 127.0.0.1 port %d:" % srv.port
            hits = [ln for ln in lines if ln.startswith(prefix)]
            self.assertEqual(len(hits), 1, lines)
            self.assertTrue(hits[0].endswith(": Too many authentication failures"), hits)
            self.assertEqual(lines.count("Permission denied, please try again."), 2, lines)
            fails = srv.wait_events(lambda e: e["event"] == "auth" and e["method"] == "password")
            self.assertEqual([e["result"] for e in fails], ["failure"] * 3)
            # The same limit with keyboard-interactive.
            r = h.run_ssh(srv, "echo hello", password="wrong", kbdint=True,
                          options=["NumberOfPasswordPrompts=10"])
            self.assertEqual(r.rc, 255, r)
            lines = client_lines(r.err)
            self.assertTrue(any(ln.startswith(prefix) and
                                ln.endswith(": Too many authentication failures")
                                for ln in lines), lines)

    def test_publickey_only_permission_denied(self):
        prof = h.profile("pubkeyonly")
        with h.Server(prof) as srv:
            # A user with no authorized key: the key is refused.
            r = h.run_ssh(srv, "echo hello", user="nokey", key="demo_rsa")
            self.assertEqual(r.rc, 255, r)
            self.assertIn("nokey@127.0.0.1: Permission denied (publickey).", client_lines(r.err))
            # Asking for a password gets nowhere either: it is not offered.
            r = h.run_ssh(srv, "echo hello", user="demo", password="demo")
            self.assertEqual(r.rc, 255, r)
            self.assertIn("demo@127.0.0.1: Permission denied (publickey).", client_lines(r.err))
            # And the key that is authorized still works.
            r = h.run_ssh(srv, "echo hello", user="demo", key="demo_ed25519")
            self.assertEqual((r.rc, r.out), (0, "hello\n"), r)

    def test_login_grace_time(self):
        prof = h.profile("logingrace")
        grace = int(h.profile_setting(prof, "LoginGraceTime"))
        with h.Server(prof) as srv:
            s = socket.create_connection((srv.host, srv.port), timeout=15)
            try:
                t0 = time.monotonic()
                s.sendall(b"SSH-2.0-OpenSSH_9.2p1 grace-test\r\n")
                got = b""
                while True:
                    try:
                        chunk = s.recv(4096)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    got += chunk
                elapsed = time.monotonic() - t0
            finally:
                s.close()
            print("LoginGraceTime %d: closed after %.2f s" % (grace, elapsed))
            self.assertTrue(got.startswith(b"SSH-2.0-"), got[:80])
            self.assertGreaterEqual(elapsed, grace - 0.5)
            self.assertLess(elapsed, 8.0)
            close = srv.wait_events(lambda e: e["event"] == "close")
            self.assertEqual(close[0]["by"], "server", close)

    # -- the legacy profile ----------------------------------------------
    def test_legacy_kex_refused_by_default(self):
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo")
            self.assertEqual(r.rc, 255, r)
            print("ssh said: %r" % client_lines(r.err))
            self.assertIn("Unable to negotiate with 127.0.0.1 port %d: no matching key exchange "
                          "method found. Their offer: diffie-hellman-group1-sha1" % srv.port, r.err)

    def test_legacy_host_key_refused_with_kex_only(self):
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo", options=LEGACY_OPTS[:1])
            self.assertEqual(r.rc, 255, r)
            self.assertIn("Unable to negotiate with 127.0.0.1 port %d: no matching host key "
                          "type found. Their offer: ssh-rsa" % srv.port, r.err)

    def test_legacy_with_options(self):
        prof = h.profile("legacy-kex-group1")
        with h.Server(prof) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo", options=LEGACY_OPTS)
            self.assertExec(r, prof, "echo hello")
            r = h.run_ssh(srv, "uname -a", key="demo_rsa", options=LEGACY_OPTS)
            self.assertExec(r, prof, "uname -a")
            r = h.run_ssh(srv, "echo hello", key="demo_ed25519", options=LEGACY_OPTS)
            self.assertExec(r, prof, "echo hello")
            kex = srv.wait_events(lambda e: e["event"] == "kex_done", count=3)
            self.assertEqual({e["kex"] for e in kex}, {"diffie-hellman-group1-sha1"}, kex)
            idents = [e["ident"] for e in srv.events() if e["event"] == "client_ident"]
            self.assertTrue(all(i.startswith("SSH-2.0-OpenSSH_") for i in idents), idents)
            print("legacy kex_done: %s" % {k: v for k, v in kex[0].items()
                                            if k.startswith(("kex", "cipher", "mac"))})

    # -- bad profiles ----------------------------------------------------
    def test_bad_profile(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("# a profile with a typo\nPort 2222\nPasswordAuthentcation yes\n")
            r = subprocess.run([h.SSHMOCK, "check", bad], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=15, text=True)
            self.assertEqual(r.returncode, 2, r)
            self.assertIn(bad + ":3:", r.stderr)
            print("check said: %r" % r.stderr)
            r = subprocess.run([h.SSHMOCK, "serve", bad, "--port", "0", "--state-dir",
                                os.path.join(d, "state")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=15, text=True)
            self.assertEqual(r.returncode, 2, r)
            self.assertNotIn("listening on", r.stdout)
            self.assertIn(bad + ":3:", r.stderr)
            for m in h.SANITIZER_MARKERS:
                self.assertNotIn(m, r.stderr)

    def test_check_shipped_profiles(self):
        for name in ("modern", "legacy-kex-group1"):
            r = subprocess.run([h.SSHMOCK, "check", h.profile(name)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=15, text=True)
            self.assertEqual(r.returncode, 0, r)
            for m in h.SANITIZER_MARKERS:
                self.assertNotIn(m, r.stderr)


if __name__ == "__main__":
    h.main()
