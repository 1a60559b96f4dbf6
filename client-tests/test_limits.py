"""Descriptor limits: a server out of descriptors sheds the connections it
cannot hold and keeps accepting; once the flood is gone, a real client gets
through again.

The server runs under RLIMIT_NOFILE 64 (soft and hard, so raising the soft
limit to the hard one cannot lift it), a flood of idle connections
exhausts its descriptors, the flood closes, and then a real OpenSSH exec
must work.

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


if __name__ == "__main__":
    h.main()
