"""Descriptor limits: a server out of descriptors sheds the connections it
cannot hold and keeps accepting; once the flood is gone, a real client gets
through again.

The server runs under RLIMIT_NOFILE 64 (soft and hard, so raising the soft
limit to the hard one cannot lift it), a flood of idle connections
exhausts its descriptors, the flood closes, and then a real OpenSSH exec
must work.

A connection that has not spoken yet costs the server one descriptor (no
socketpair, no libssh session), and still gets our identification at
once. With --workers 2 every worker counts in the same MaxStartups, and a
SIGHUP moves every worker to the new profile.

Run: /usr/bin/python3 client-tests/test_limits.py --sshmock build/sshmock
"""
import os
import resource
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

NOFILE = 64
FLOOD = 150           # well past what 64 descriptors hold
RECOVER_TIMEOUT = 20.0


class LimitedServer(h.Server):
    """h.Server started with RLIMIT_NOFILE lowered in the child."""

    def start(self):
        real = subprocess.Popen

        def popen(*a, **kw):
            kw["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                          (NOFILE, NOFILE))
            return real(*a, **kw)

        subprocess.Popen = popen
        try:
            return super().start()
        finally:
            subprocess.Popen = real


def flood(port, n):
    """Opens n connections that send their identification and wait; returns
    the sockets and how many read a server identification within 2 s."""
    socks, greeted = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"SSH-2.0-flood\r\n")
            socks.append(s)
        except OSError:
            pass
    for s in socks:
        try:
            s.settimeout(0.05)
            if s.recv(64).startswith(b"SSH-2.0-"):
                greeted += 1
        except OSError:
            pass
    return socks, greeted


class Limits(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def test_accepts_again_after_running_out_of_descriptors(self):
        with LimitedServer(h.profile("modern")) as srv:
            socks, greeted = flood(srv.port, FLOOD)
            try:
                # The flood must really have run the server dry, or this
                # test proves nothing.
                self.assertLess(greeted, FLOOD, "the flood did not exhaust %d descriptors"
                                % NOFILE)
            finally:
                for s in socks:
                    s.close()
            deadline = time.monotonic() + RECOVER_TIMEOUT
            last = None
            while time.monotonic() < deadline:
                last = h.run_ssh(srv, "echo hello", key="demo_ed25519", timeout=10)
                if last.rc == 0 and last.out == "hello\n":
                    break
                time.sleep(0.5)
            self.assertIsNotNone(last)
            self.assertEqual((last.rc, last.out), (0, "hello\n"),
                             "no exec got through after the flood: %r" % (last,))


def read_line(sock, timeout=5.0):
    """The first line the server sends (up to LF), or what came before EOF."""
    sock.settimeout(timeout)
    data = b""
    end = time.monotonic() + timeout
    while b"\n" not in data and time.monotonic() < end:
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data


class Silent(unittest.TestCase):
    N = 9  # under the default MaxStartups (10:30:100), which would drop more

    def test_silent_connections_cost_one_descriptor_and_get_the_identification(self):
        with h.Server(h.profile("modern")) as srv:
            base = h.proc_fd_count(srv.pid)
            socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                     for _ in range(self.N)]
            try:
                lines = [read_line(s) for s in socks]
                for line in lines:
                    self.assertTrue(line.startswith(b"SSH-2.0-"), line)
                grown = h.proc_fd_count(srv.pid) - base
                # one socket each (the old design held three)
                self.assertLessEqual(grown, self.N + 2, "descriptors grew by %d for %d silent "
                                     "connections" % (grown, self.N))
                # and a client that then speaks gets through on the same footing
                res = h.run_ssh(srv, "echo hello", key="demo_ed25519")
                self.assertEqual((res.rc, res.out), (0, "hello\n"), repr(res))
            finally:
                for s in socks:
                    s.close()


class Workers(unittest.TestCase):
    def test_maxstartups_counts_across_workers(self):
        h.require("ssh", "openssh-client")
        with h.Server(h.profile("maxstartups"), extra_args=["--workers", "2"]) as srv:
            held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                    for _ in range(2)]
            try:
                for s in held:
                    self.assertTrue(read_line(s).startswith(b"SSH-2.0-"))
                # Each new one lands on either worker (SO_REUSEPORT spreads
                # them); with a count per worker some would be let in.
                for i in range(8):
                    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                    try:
                        self.assertEqual(read_line(s), b"Exceeded MaxStartups\r\n",
                                         "connection %d past MaxStartups 2" % (i + 3))
                    finally:
                        s.close()
            finally:
                for s in held:
                    s.close()
            # the slots free up: a real client gets in again
            deadline = time.monotonic() + RECOVER_TIMEOUT
            res = None
            while time.monotonic() < deadline:
                res = h.run_ssh(srv, "echo hello", key="demo_ed25519", timeout=10)
                if res.rc == 0:
                    break
                time.sleep(0.3)
            self.assertEqual((res.rc, res.out), (0, "hello\n"), repr(res))

    RELOAD_PROFILE = ("Description reload across workers, generation {gen}\n"
                      "HostKey generate:ed25519\nPasswordAuthentication yes\n"
                      "Account demo demo\n"
                      "ExecResponse generation 0 \"profile {gen}\\n\"\n")

    def test_sighup_reloads_every_worker(self):
        # Each of 16 new clients lands on whichever worker the kernel picks
        # (SO_REUSEPORT hashes the source port): all 16 on one of two
        # workers happens once in 32,768 runs; every one must meet the new
        # profile, and the client that was open keeps the old one.
        import paramiko
        import signal
        import tempfile

        def client(srv):
            c = paramiko.SSHClient()
            c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            c.connect(srv.host, port=srv.port, username="demo", password="demo", timeout=10,
                      banner_timeout=10, auth_timeout=10, look_for_keys=False,
                      allow_agent=False)
            return c

        def generation(c):
            _, out, _ = c.exec_command("generation", timeout=10)
            return out.read().decode()

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "reload.conf")
            with open(path, "w") as f:
                f.write(self.RELOAD_PROFILE.format(gen=1))
            with h.Server(path, extra_args=["--workers", "2"]) as srv:
                old = [client(srv) for _ in range(4)]
                try:
                    self.assertEqual([generation(c) for c in old], ["profile 1\n"] * 4)
                    with open(path, "w") as f:
                        f.write(self.RELOAD_PROFILE.format(gen=2))
                    os.kill(srv.pid, signal.SIGHUP)
                    srv.wait_event(lambda e: e.get("event") == "reloaded", timeout=10)
                    self.assertIsNone(srv.proc.poll(), "SIGHUP ended the server")
                    seen = []
                    for _ in range(16):
                        c = client(srv)
                        try:
                            seen.append(generation(c))
                        finally:
                            c.close()
                    self.assertEqual(seen, ["profile 2\n"] * 16)
                    self.assertEqual([generation(c) for c in old], ["profile 1\n"] * 4)
                finally:
                    for c in old:
                        c.close()

    def test_both_workers_serve(self):
        h.require("ssh", "openssh-client")
        with h.Server(h.profile("modern"), extra_args=["--workers", "2"]) as srv:
            threads = len(os.listdir("/proc/%d/task" % srv.pid))
            self.assertGreaterEqual(threads, 2, "one loop thread per worker")
            for _ in range(4):
                res = h.run_ssh(srv, "echo hello", key="demo_ed25519")
                self.assertEqual((res.rc, res.out), (0, "hello\n"), repr(res))


if __name__ == "__main__":
    h.main()
