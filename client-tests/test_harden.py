"""Hardening (issue 8), against the real server binary.

- signals: SIGHUP re-reads the profile as sshd does (new connections get the
  new one, open ones keep theirs, an invalid file is refused with FILE:LINE
  and the old profile keeps serving); SIGUSR1 logs a status line; SIGUSR2
  and SIGPIPE do not end the server.
- close reasons: what libssh refused (garbage after NEWKEYS, a KEXINIT with
  nothing in common) is the server's close with libssh's reason; a client
  that hangs up mid key exchange is the client's.
- a non-loopback listener is announced with one WARNING line on stderr and
  a "warning" event in the JSON log (serve and lab).
- HostKeyRotation connection: generating a connection's keys does not hold
  up the identification of the connections next to it.

Run: /usr/bin/python3 client-tests/test_harden.py --sshmock build/sshmock
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

import paramiko  # noqa: E402  (Debian's python3-paramiko, like the harness)

PROFILE = """\
Description reload test, generation {gen}
Identification SSH-2.0-OpenSSH_9.2p1 gen{gen}
HostKey generate:ed25519
PasswordAuthentication yes
Account demo demo
ExecResponse generation 0 "profile {gen}\\n"
"""


def read_ident(host, port, timeout=5.0):
    """The server's identification line, as a raw client reads it."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        line = b""
        while not line.endswith(b"\n") and len(line) < 256:
            data = s.recv(1)
            if not data:
                break
            line += data
        return line.decode("ascii", "replace").strip()


def server_kexinit_after(host, port, timeout=60.0):
    """Seconds from sending our identification and KEXINIT until the
    server's KEXINIT starts to arrive. The server sends its identification
    at accept; its libssh session (and, with HostKeyRotation connection,
    its keys) is made when the client's first bytes come, so its KEXINIT
    waits for the keys."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        got = b""
        while b"\n" not in got:
            data = s.recv(4096)
            if not data:
                raise OSError("closed before the identification")
            got += data
        rest = got.split(b"\n", 1)[1]
        t0 = time.monotonic()
        s.sendall(b"SSH-2.0-harden_test\r\n" + kexinit())
        while not rest:
            rest = s.recv(4096)
            if not rest:
                raise OSError("closed before the server's KEXINIT")
        return time.monotonic() - t0


def paramiko_client(srv):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect(srv.host, port=srv.port, username="demo", password="demo", timeout=10,
              banner_timeout=10, auth_timeout=10, look_for_keys=False, allow_agent=False)
    return c


def exec_out(client, command):
    _, out, _ = client.exec_command(command, timeout=10)
    return out.read().decode()


def name_list(*names):
    data = b",".join(names)
    return struct.pack(">I", len(data)) + data


def packet(payload):
    pad = 8 - (len(payload) + 5) % 8
    if pad < 4:
        pad += 8
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\0" * pad


def kexinit(kex=b"curve25519-sha256", hostkey=b"ssh-ed25519"):
    return packet(bytes([20]) + os.urandom(16) + name_list(kex) + name_list(hostkey)
                  + name_list(b"aes128-ctr") * 2 + name_list(b"hmac-sha2-256") * 2
                  + name_list(b"none") * 2 + name_list() * 2 + b"\0" + b"\0\0\0\0")


def wait_eof(s, timeout):
    """Reads until the server closes; True when it did within timeout."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


class Signals(unittest.TestCase):
    def test_sighup_reloads_and_keeps_open_connections(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "reload.conf")
            with open(path, "w") as f:
                f.write(PROFILE.format(gen=1))
            with h.Server(path) as srv:
                self.assertTrue(read_ident(srv.host, srv.port).endswith("gen1"))
                old = paramiko_client(srv)
                try:
                    self.assertEqual(exec_out(old, "generation"), "profile 1\n")
                    with open(path, "w") as f:
                        f.write(PROFILE.format(gen=2))
                    os.kill(srv.pid, signal.SIGHUP)
                    srv.wait_event(lambda e: e.get("event") == "reloaded", timeout=10)
                    # The server lives on, and a new client meets the new profile.
                    self.assertIsNone(srv.proc.poll(), "SIGHUP ended the server")
                    self.assertTrue(read_ident(srv.host, srv.port).endswith("gen2"))
                    new = paramiko_client(srv)
                    try:
                        self.assertEqual(exec_out(new, "generation"), "profile 2\n")
                    finally:
                        new.close()
                    # The connection that was open keeps the profile it began with.
                    self.assertEqual(exec_out(old, "generation"), "profile 1\n")

                    # An invalid file: refused at FILE:LINE, the current one stays.
                    with open(path, "w") as f:
                        f.write(PROFILE.format(gen=3) + "NoSuchKeyword yes\n")
                    os.kill(srv.pid, signal.SIGHUP)
                    ev, = srv.wait_event(lambda e: e.get("event") == "reload_failed",
                                         timeout=10)
                    self.assertTrue(ev["reason"].startswith(path + ":7: "), ev)
                    self.assertIn("NoSuchKeyword", ev["reason"])
                    self.assertIsNone(srv.proc.poll(), "an invalid profile ended the server")
                    self.assertTrue(read_ident(srv.host, srv.port).endswith("gen2"))
                    self.assertEqual(exec_out(old, "generation"), "profile 1\n")
                finally:
                    old.close()

    def test_usr1_status_usr2_pipe_ignored(self):
        with h.Server(h.profile("modern")) as srv:
            c = paramiko_client(srv)
            try:
                os.kill(srv.pid, signal.SIGUSR1)
                ev, = srv.wait_event(lambda e: e.get("event") == "status", timeout=10)
                self.assertEqual(ev["open"], "1", ev)
                self.assertEqual(ev["connections"], "1", ev)
                for sig in (signal.SIGUSR2, signal.SIGPIPE):
                    os.kill(srv.pid, sig)
                time.sleep(0.3)
                self.assertIsNone(srv.proc.poll(), "SIGUSR2 or SIGPIPE ended the server")
                # Still serving, the open connection included.
                self.assertEqual(exec_out(c, "echo hello"), "hello\n")
                self.assertTrue(read_ident(srv.host, srv.port).startswith("SSH-2.0-"))
            finally:
                c.close()


class CloseReasons(unittest.TestCase):
    def close_event(self, srv, conn):
        ev, = srv.wait_event(lambda e: e.get("event") == "close" and e.get("conn") == conn,
                             timeout=10)
        return ev

    def test_garbage_after_newkeys_is_a_protocol_error(self):
        with h.Server(h.profile("modern")) as srv:
            t = paramiko.Transport((srv.host, srv.port))
            try:
                t.start_client(timeout=10)  # key exchange done, NEWKEYS both ways
                t.sock.sendall(os.urandom(512))
                # The server ends it (the client holds its side open).
                deadline = time.monotonic() + 10
                while t.is_active() and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertFalse(t.is_active(), "the server did not end the connection")
                ev = self.close_event(srv, 1)
            finally:
                t.close()
            self.assertEqual(ev["by"], "server", ev)
            self.assertTrue(ev["reason"].startswith("protocol error: "), ev)
            self.assertNotIn("not closed yet", ev["reason"])

    def raw_kex(self, srv, payload):
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            s.sendall(b"SSH-2.0-OpenSSH_9.2p1 harden-test\r\n" + payload)
            self.assertTrue(wait_eof(s, 10), "the server did not hang up")
        finally:
            s.close()

    def test_no_common_algorithm_is_a_key_exchange_failure(self):
        with h.Server(h.profile("modern")) as srv:
            self.raw_kex(srv, kexinit(kex=b"no-such-kex@example.com"))
            self.raw_kex(srv, kexinit(hostkey=b"ssh-dss"))
            # The wire negotiates the client's offer against the exact
            # one before libssh sees it (wire/offer.c), and says which list
            # had no match in OpenSSH's words.
            for conn, what in ((1, "no matching key exchange method"),
                               (2, "no matching host key type")):
                ev = self.close_event(srv, conn)
                self.assertEqual(ev["by"], "server", ev)
                self.assertTrue(ev["reason"].startswith("key exchange failed: "), ev)
                self.assertIn(what, ev["reason"])

    def test_client_gone_mid_kex_is_the_clients(self):
        with h.Server(h.profile("modern")) as srv:
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            s.sendall(b"SSH-2.0-OpenSSH_9.2p1 harden-test\r\n" + kexinit())
            s.settimeout(5)
            got = b""
            while got.count(b"\n") < 1 or len(got) < 200:  # identification + KEXINIT
                data = s.recv(4096)
                if not data:
                    break
                got += data
            s.shutdown(socket.SHUT_WR)
            wait_eof(s, 5)
            s.close()
            ev = self.close_event(srv, 1)
            self.assertEqual(ev["by"], "client", ev)
            self.assertEqual(ev["state"], "kex", ev)
            self.assertTrue(ev["reason"], ev)


WARNING = re.compile(r"^WARNING: listening on (\S+) port (\d+): every profile's demo accounts "
                     r"and keys are public; anyone who can reach this port can log in$",
                     re.M)


class Exposure(unittest.TestCase):
    def test_serve_warns_on_a_public_address(self):
        # Bound for a moment on every address; nothing connects to it.
        with h.Server(h.profile("modern"), extra_args=["--listen", "0.0.0.0"]) as srv:
            found = WARNING.findall(srv.stderr())
            self.assertEqual(found, [("0.0.0.0", str(srv.port))], srv.stderr())
            ev, = srv.wait_event(lambda e: e.get("event") == "warning", timeout=5)
            self.assertEqual(ev["addr"], "0.0.0.0")
        with h.Server(h.profile("modern")) as srv:
            self.assertEqual(WARNING.findall(srv.stderr()), [])
            self.assertEqual([e for e in srv.events() if e.get("event") == "warning"], [])

    def test_lab_warns_once(self):
        proc = subprocess.Popen([h.SSHMOCK, "lab", "--base-port", "0", "--quiet",
                                 "--listen", "0.0.0.0", "--state-dir", h.state_dir()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            ready = False
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                if line.startswith("lab ready:"):
                    ready = True
                    break
            self.assertTrue(ready, "the lab did not say it was ready")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(len(WARNING.findall(err)), 1, err)


class Rotation(unittest.TestCase):
    """HostKeyRotation connection with RSA 3072: four clients connect at
    once while a session is open. Their keys are made off the loop, so the
    open session answers at once instead of after four key generations
    (which, done on the loop, also held every identification)."""

    PROFILE = ("Description rotation\nHostKey generate:rsa-3072\n"
               "HostKeyRotation connection\nAccount demo demo\n"
               "ExecResponse \"echo hello\" 0 \"hello\\n\"\n")

    def test_key_generation_does_not_block_the_loop(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rotation.conf")
            with open(path, "w") as f:
                f.write(self.PROFILE)
            with h.Server(path) as srv:
                c = paramiko_client(srv)
                times = []
                errors = []
                start = threading.Event()

                def one():
                    start.wait()
                    try:
                        times.append(server_kexinit_after(srv.host, srv.port))
                    except OSError as e:
                        errors.append(repr(e))

                threads = [threading.Thread(target=one) for _ in range(4)]
                try:
                    for t in threads:
                        t.start()
                    start.set()
                    time.sleep(0.05)  # the four are accepted (on the loop)
                    t0 = time.monotonic()
                    self.assertEqual(exec_out(c, "echo hello"), "hello\n")
                    exec_took = time.monotonic() - t0
                finally:
                    start.set()
                    for t in threads:
                        t.join(90)
                    c.close()
                self.assertEqual(errors, [])
                self.assertEqual(len(times), 4)
                times.sort()
                sys.stderr.write("rotation: server KEXINITs after %s s; exec on the open "
                                 "session took %.3f s\n"
                                 % (", ".join("%.3f" % t for t in times), exec_took))
                # On the loop, the exec waited for the key generations as
                # long as the KEXINITs did; off it, it does not.
                self.assertLess(exec_took, times[0] / 2, (exec_took, times))

    def test_clients_that_leave_before_their_keys(self):
        # Each connection ends while its keys are still being made; the
        # server then reloads and stops with jobs in flight. It must exit
        # cleanly (the harness fails on a sanitizer report or a non-zero
        # exit), having closed every one of them.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rotation.conf")
            with open(path, "w") as f:
                f.write(self.PROFILE)
            with h.Server(path) as srv:
                for _ in range(4):
                    s = socket.create_connection((srv.host, srv.port), timeout=5)
                    s.close()
                srv.wait_event(lambda e: e.get("event") == "close", count=4, timeout=60)
                socks = [socket.create_connection((srv.host, srv.port), timeout=5)
                         for _ in range(3)]
                srv.wait_event(lambda e: e.get("event") == "accept", count=7, timeout=10)
                os.kill(srv.pid, signal.SIGHUP)
                srv.wait_event(lambda e: e.get("event") == "reloaded", timeout=30)
                for s in socks:
                    s.close()
                # The context's stop: SIGTERM while keys may still be in the making.


if __name__ == "__main__":
    h.main()
