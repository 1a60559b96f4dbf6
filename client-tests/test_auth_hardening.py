"""Authentication and channel hardening (issue 8 sections 2 and 3), driven
with paramiko in this process against the real server:

 - a NUL byte in a password, a user name or an exec command does not cut
   the string short: "demo\\0x" is not the password "demo", "demo\\0evil" is
   not the user demo, "echo hello\\0..." is not "echo hello" (sshd's parser
   refuses all three), nor is "demo\\0x" as a keyboard-interactive answer;
 - with AuthenticationMethods publickey,password, the password step cannot
   be done as another account than the key step: the server disconnects,
   as sshd does ("Change of username or service not allowed");
 - a publickey request with a known key and a bad signature is answered
   (USERAUTH_FAILURE), logged and counted towards MaxAuthTries;
 - MaxSessions: session channels past it are refused;
 - a pty shell whose client types without reading does not grow the
   server: its resident size stays bounded.

Run: /usr/bin/python3 client-tests/test_auth_hardening.py --sshmock build/sshmock
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

try:
    import paramiko
    from paramiko.message import Message
except ImportError:  # the tests skip themselves
    paramiko = None

KEY_PATH = os.path.join(h.PROFILES_DIR, "keys", "demo_ed25519")
TIMEOUT = 10.0


def connect(srv):
    """A paramiko transport that finished key exchange."""
    sock = socket.create_connection((srv.host, srv.port), timeout=TIMEOUT)
    t = paramiko.Transport(sock)
    t.auth_timeout = TIMEOUT
    t.banner_timeout = TIMEOUT
    t.start_client(timeout=TIMEOUT)
    return t


def bad_signer(key):
    """key, but every signature it makes is garbage of the right shape."""
    real = key.sign_ssh_data

    def sign(data, algorithm=None):
        m = real(data, algorithm) if algorithm else real(data)
        m.rewind()
        name = m.get_text()
        blob = bytearray(m.get_binary())
        for i in range(len(blob)):
            blob[i] ^= 0x5A
        out = Message()
        out.add_string(name)
        out.add_string(bytes(blob))
        return out

    key.sign_ssh_data = sign
    return key


class AuthHardeningTest(unittest.TestCase):
    def setUp(self):
        if paramiko is None or not h.have_paramiko():
            self.skipTest("paramiko is not importable by %s" % h.DEBIAN_PYTHON)

    def assertLoginRefused(self, srv, user, password):
        t = connect(srv)
        try:
            with self.assertRaises((paramiko.AuthenticationException, paramiko.SSHException,
                                    EOFError, OSError)):
                t.auth_password(user, password)
            self.assertFalse(t.is_authenticated())
        finally:
            t.close()

    def test_nul_in_password_is_not_the_password(self):
        with h.Server(h.profile("modern")) as srv:
            self.assertLoginRefused(srv, "demo", "demo\x00x")
            # The same server still takes the real password: the refusal was
            # about the NUL, not a broken server.
            t = connect(srv)
            try:
                t.auth_password("demo", "demo")
                self.assertTrue(t.is_authenticated())
            finally:
                t.close()
            ok = [e for e in srv.events() if e["event"] == "auth" and e["result"] == "success"]
            self.assertEqual(len(ok), 1, ok)

    def test_nul_in_user_is_not_the_user(self):
        with h.Server(h.profile("modern")) as srv:
            self.assertLoginRefused(srv, "demo\x00evil", "demo")
            ok = [e for e in srv.events() if e["event"] == "auth" and e["result"] == "success"]
            self.assertEqual(ok, [])

    def test_nul_in_keyboard_interactive_answer(self):
        with h.Server(h.profile("modern")) as srv:
            t = connect(srv)
            try:
                with self.assertRaises((paramiko.AuthenticationException, paramiko.SSHException,
                                        EOFError, OSError)):
                    t.auth_interactive("demo", lambda title, instr, prompts: ["demo\x00x"])
                self.assertFalse(t.is_authenticated())
            finally:
                t.close()
            # The real answer, on a new connection, logs in: the length
            # check does not refuse a clean answer.
            t = connect(srv)
            try:
                t.auth_interactive("demo", lambda title, instr, prompts: ["demo"] * len(prompts))
                self.assertTrue(t.is_authenticated())
            finally:
                t.close()
            ok = [e for e in srv.events() if e["event"] == "auth" and e["result"] == "success"]
            self.assertEqual([e["method"] for e in ok], ["keyboard-interactive"])

    def test_nul_in_exec_command_is_refused(self):
        with h.Server(h.profile("modern")) as srv:
            t = connect(srv)
            try:
                t.auth_password("demo", "demo")
                ch = t.open_session(timeout=TIMEOUT)
                ch.settimeout(TIMEOUT)
                with self.assertRaises(paramiko.SSHException):
                    ch.exec_command("echo hello\x00; rm -rf /")
                # A clean command on a fresh channel still runs.
                ch = t.open_session(timeout=TIMEOUT)
                ch.settimeout(TIMEOUT)
                ch.exec_command("echo hello")
                self.assertEqual(ch.makefile("rb").read(), b"hello\n")
                self.assertEqual(ch.recv_exit_status(), 0)
            finally:
                t.close()

    def test_user_change_between_steps_disconnects(self):
        with h.Server(h.profile("twostep")) as srv:
            t = connect(srv)
            try:
                key = paramiko.Ed25519Key.from_private_key_file(KEY_PATH)
                left = t.auth_publickey("demo", key)
                self.assertEqual(left, ["password"])  # partial success as demo
                with self.assertRaises((paramiko.AuthenticationException, paramiko.SSHException,
                                        EOFError, OSError)):
                    t.auth_password("other", "otherpw")
                self.assertFalse(t.is_authenticated())
                # Not a refusal but the end: the server hung up.
                deadline = time.monotonic() + TIMEOUT
                while t.is_active() and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertFalse(t.is_active())
            finally:
                t.close()
            ok = [e for e in srv.events() if e["event"] == "auth" and e["result"] == "success"]
            self.assertEqual(ok, [])

    def test_same_user_both_steps_logs_in(self):
        with h.Server(h.profile("twostep")) as srv:
            t = connect(srv)
            try:
                key = paramiko.Ed25519Key.from_private_key_file(KEY_PATH)
                self.assertEqual(t.auth_publickey("demo", key), ["password"])
                t.auth_password("demo", "demo")
                self.assertTrue(t.is_authenticated())
            finally:
                t.close()

    def test_bad_signature_is_answered_and_counted(self):
        with h.Server(h.profile("modern")) as srv:
            t = connect(srv)
            try:
                key = bad_signer(paramiko.Ed25519Key.from_private_key_file(KEY_PATH))
                start = time.monotonic()
                with self.assertRaises(paramiko.AuthenticationException):
                    t.auth_publickey("demo", key)
                # Answered, not left to the client's own timeout.
                self.assertLess(time.monotonic() - start, TIMEOUT / 2)
                # Counted: MaxAuthTries is 6 in modern; five more bad
                # signatures end the connection.
                ended = False
                for _ in range(5):
                    try:
                        t.auth_publickey("demo", key)
                    except paramiko.AuthenticationException:
                        continue
                    except (paramiko.SSHException, EOFError, OSError):
                        ended = True
                        break
                end_deadline = time.monotonic() + TIMEOUT
                while not ended and t.is_active() and time.monotonic() < end_deadline:
                    time.sleep(0.05)
                self.assertFalse(t.is_active())
            finally:
                t.close()
            fails = srv.wait_events(lambda e: e["event"] == "auth" and e["method"] == "publickey"
                                    and e["result"] == "failure", count=6, timeout=TIMEOUT)
            self.assertEqual(len(fails), 6, fails)
            srv.wait_events(lambda e: e["event"] == "max_auth_tries", timeout=TIMEOUT)

    def test_max_sessions(self):
        prof = h.profile("twostep")
        self.assertEqual(h.profile_setting(prof, "MaxSessions"), "10")
        with h.Server(prof) as srv:
            t = connect(srv)
            try:
                key = paramiko.Ed25519Key.from_private_key_file(KEY_PATH)
                t.auth_publickey("demo", key)
                t.auth_password("demo", "demo")
                chans = [t.open_session(timeout=TIMEOUT) for _ in range(10)]
                with self.assertRaises(paramiko.ChannelException) as cm:
                    t.open_session(timeout=TIMEOUT)
                self.assertEqual(cm.exception.code,
                                 paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)
                # Closing one makes room for one.
                chans[0].close()
                deadline = time.monotonic() + TIMEOUT
                again = None
                while again is None and time.monotonic() < deadline:
                    try:
                        again = t.open_session(timeout=TIMEOUT)
                    except paramiko.ChannelException:
                        time.sleep(0.1)
                self.assertIsNotNone(again)
            finally:
                t.close()

    def test_pty_echo_without_reading_stays_bounded(self):
        # An ASan build keeps freed memory in quarantine (256 MB), which
        # would show churn as growth: this server runs without it, so its
        # size is what it really holds (leaks are still checked at exit).
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((saved + ":") if saved else "") + "quarantine_size_mb=0"
        try:
            self._pty_echo_without_reading()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved

    def _pty_echo_without_reading(self):
        with h.Server(h.profile("modern")) as srv:
            t = connect(srv)
            try:
                t.auth_password("demo", "demo")
                rss0 = h.proc_rss_kb(srv.pid)
                ch = t.open_session(timeout=TIMEOUT)
                ch.get_pty()
                ch.invoke_shell()
                ch.settimeout(0.2)
                # Type without ever reading: paramiko's own window (2 MB)
                # fills first, then the server must stop taking input.
                # Whole lines: each is echoed, answered ("not found") and
                # prompted for, so output grows with input.
                chunk = (b"x" * 63 + b"\n") * 64
                peak = rss0
                sent = 0
                end = time.monotonic() + 6.0
                while time.monotonic() < end:
                    try:
                        sent += ch.send(chunk)
                    except socket.timeout:
                        pass
                    peak = max(peak, h.proc_rss_kb(srv.pid))
                print("pty echo: sent %d bytes, server RSS %d kB -> peak %d kB"
                      % (sent, rss0, peak))
                self.assertLess(peak - rss0, 16 * 1024, "server grew by %d kB" % (peak - rss0))
            finally:
                t.close()


    def test_pty_held_input_is_answered_once_client_reads(self):
        # The client types 200000 lines, reads nothing for a while (the
        # server stops taking input: output is over its bound), then reads.
        # Every line must still be answered: input held back is taken again
        # once the output drains, without waiting for more input.
        lines = 200000
        with h.Server(h.profile("modern")) as srv:
            t = connect(srv)
            try:
                t.auth_password("demo", "demo")
                ch = t.open_session(timeout=TIMEOUT)
                ch.get_pty()
                ch.set_combine_stderr(True)
                ch.invoke_shell()
                ch.settimeout(TIMEOUT)
                data = b"echo hello\n" * lines + b"exit 7\n"
                sent = [0]

                def writer():
                    while sent[0] < len(data):
                        sent[0] += ch.send(data[sent[0]:sent[0] + 32768])

                import threading
                w = threading.Thread(target=writer, daemon=True)
                w.start()
                time.sleep(1.0)
                self.assertLess(sent[0], len(data))  # the server held back
                got = bytearray()
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    chunk = ch.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                w.join(TIMEOUT)
                self.assertEqual(ch.recv_exit_status(), 7)
                self.assertEqual(got.count(b"\r\nhello\r\n"), lines)
            finally:
                t.close()

if __name__ == "__main__":
    h.main()
