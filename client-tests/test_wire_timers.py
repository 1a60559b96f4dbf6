"""Wire timers: every timed fault keeps its own timer.

The wire once had one timer for all of its waits (a delay's end, the next
throttle tick, the wait for the client's identification before the
server-ident rules run, ...). A profile with a delay or a throttle and a
server-ident rule lost the delay's or the throttle's timer to the wait, and
the server's bytes stayed held until LoginGraceTime: the client saw nothing.

Each test here is a raw socket that plays a client: it waits a little, so
that the server's identification reaches the (holding) relay first, sends
its own identification, then reads. It must get the server's
identification, the bytes the server-ident rule sends, and the server's
KEXINIT, within a bound far below LoginGraceTime.

Run: /usr/bin/python3 client-tests/test_wire_timers.py --sshmock build/sshmock
"""

import os
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

IDENT = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
SENT = b"sshmock-wire-timers\r\n"
READ_BOUND = 6.0   # seconds; the profiles' timed faults need well under 2 s


def write_profile(tmp, faults):
    path = os.path.join(tmp, "timers.conf")
    with open(path, "w") as f:
        f.write("Description wire timers test\n")
        f.write("Identification %s\n" % IDENT.decode())
        f.write("HostKey generate:ed25519\n")
        f.write("LoginGraceTime 60\n")
        f.write("Account demo demo\n")
        for line in faults:
            f.write("Fault %s\n" % line)
    return path


def read_until(s, pred, seconds):
    """Reads until pred(bytes so far) holds, EOF, or `seconds` pass."""
    got = b""
    deadline = time.monotonic() + seconds
    while not pred(got):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not data:
            break
        got += data
    return got


def has_kexinit(data):
    """The server's KEXINIT (message 20) right after the lines before it."""
    end = data.find(SENT)
    if end < 0:
        return False
    rest = data[end + len(SENT):]
    return len(rest) >= 6 and rest[5] == 20


class WireTimersTest(unittest.TestCase):
    def run_client(self, faults):
        with tempfile.TemporaryDirectory(prefix="sshmock-timers-") as tmp:
            with h.Server(write_profile(tmp, faults)) as srv:
                s = socket.create_connection((srv.host, srv.port), timeout=5)
                try:
                    # The server's identification is written at accept: let
                    # it reach the relay (which holds it) before ours comes.
                    time.sleep(0.3)
                    s.sendall(b"SSH-2.0-rawclient_1.0\r\n")
                    start = time.monotonic()
                    got = read_until(s, has_kexinit, READ_BOUND)
                    took = time.monotonic() - start
                finally:
                    s.close()
        return got, took

    def check(self, got, took):
        self.assertTrue(got.startswith(IDENT + b"\r\n"),
                        "no identification from the server within %.1f s: %r"
                        % (READ_BOUND, got[:80]))
        self.assertIn(SENT, got, "the server-ident rule's bytes never came: %r" % got[:120])
        self.assertLess(got.index(IDENT), got.index(SENT))
        self.assertTrue(has_kexinit(got), "no KEXINIT after the rule's bytes "
                        "(%d bytes in %.1f s)" % (len(got), took))

    def test_delay_then_server_ident_rule(self):
        got, took = self.run_client(["accept delay 500ms",
                                     'server-ident send "%s"' % SENT.decode().replace("\r\n", "\\r\\n")])
        self.check(got, took)

    def test_throttle_then_server_ident_rule(self):
        got, took = self.run_client(["accept throttle 20000",
                                     'server-ident send "%s"' % SENT.decode().replace("\r\n", "\\r\\n")])
        self.check(got, took)


if __name__ == "__main__":
    h.main()
