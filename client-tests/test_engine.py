"""The bundled engine (cmake/engine.cmake, engine/libssh/patches) with real
clients: what the system libssh 0.10.6 could not play.

  - a client identification of 132 and 253 bytes (RFC 4253 allows 255;
    libssh refused more than 128: paramiko could not connect);
  - a DISCONNECT with the `disconnect` fault's own reason code after NEWKEYS
    (libssh could only send 11), as OpenSSH prints it;
  - the strict-kex marker following the played server once key exchange
    runs (libssh added it to every KEXINIT);
  - an SSH-1.99 identification played through to login (the wire tap's
    rewrite broke the exchange hash).

Each test skips, saying why, when the build uses the system engine
(-DSSHMOCK_ENGINE=system, passed by CTest in SSHMOCK_ENGINE), where
`sshmock check` lists these as limits. SSHMOCK_ENGINE=bundled runs them
against any binary (the old one fails them).

Run: /usr/bin/python3 client-tests/test_engine.py --sshmock build/sshmock
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PATCH_DIR = os.path.join(TOP, "engine", "libssh", "patches")

# paramiko in a child (a hang can be killed): connect with the given
# identification, log in as demo/demo, run "echo hello", print its output.
PARAMIKO_IDENT = r"""
import socket, sys, paramiko
ident, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
t = paramiko.Transport(s)
t.local_version = ident
t.banner_timeout = 10
t.start_client(timeout=10)
t.auth_password("demo", "demo")
ch = t.open_session(timeout=10)
ch.settimeout(10)
ch.exec_command("echo hello")
out = b""
while True:
    b = ch.recv(1024)
    if not b:
        break
    out += b
print("remote said: %s" % out.decode().strip())
t.close()
"""


def version():
    r = subprocess.run([os.environ["SSHMOCK_BIN"], "--version"], capture_output=True,
                       text=True, timeout=10)
    return r.stdout.strip()


def temp_profile(d, text):
    path = os.path.join(d, "engine.conf")
    with open(path, "w") as f:
        f.write(text + "Account demo demo\nExecResponse \"echo hello\" 0 \"hello\\n\"\n")
    return path


def peer_kex_line(err):
    """The KEX algorithms of the server's KEXINIT, from ssh -vvv's
    "peer server KEXINIT proposal" block (None when ssh printed none)."""
    m = re.search(r"peer server KEXINIT proposal\s*\r?\ndebug2: KEX algorithms: (\S*)", err)
    return m.group(1) if m else None


class EngineTest(unittest.TestCase):
    def setUp(self):
        # CTest passes the configured engine; run by hand, the binary says.
        # A binary that should be bundled but is not fails, never skips.
        v = version()
        engine = os.environ.get("SSHMOCK_ENGINE") or ("bundled" if "engine: bundled" in v
                                                      else "system")
        if engine == "system":
            self.skipTest("built with the system engine (%s): it cannot play this" % v)

    def test_version_and_check_name_the_engine(self):
        patches = sorted(p for p in os.listdir(PATCH_DIR) if p.endswith(".patch"))
        want = "bundled libssh 0.10.6 + %d patches" % len(patches)
        self.assertIn("engine: " + want, version())
        r = subprocess.run([os.environ["SSHMOCK_BIN"], "check", "modern"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\n# engine: %s\n" % want, r.stdout)
        self.assertNotIn("engine cannot play", r.stdout)

    def paramiko_with_ident(self, ident):
        if not h.have_paramiko():
            self.skipTest("paramiko is not installed")
        with h.Server(h.profile("modern")) as srv:
            with h.Workdir() as work:
                r = h.run_client([h.DEBIAN_PYTHON, "-W", "ignore", "-c", PARAMIKO_IDENT, ident,
                                  str(srv.port)], h.client_env(work.home))
            print("paramiko (%d-byte identification): rc=%s %r" % (len(ident), r.rc,
                                                                    (r.out + r.err)[-300:]))
            self.assertEqual(r.rc, 0, r)
            self.assertIn("remote said: hello", r.out)
            srv.wait_events(lambda e: e["event"] == "auth" and e.get("result") == "success",
                            what="a successful login")

    def test_paramiko_132_byte_identification_connects(self):
        # Issue 8: "a paramiko client with a 132-byte version string cannot
        # connect" (libssh: "Receiving banner: too large banner").
        ident = "SSH-2.0-paramiko_" + "x" * (132 - 17)
        self.assertEqual(len(ident), 132)
        self.paramiko_with_ident(ident)

    def test_paramiko_253_byte_identification_connects(self):
        # 253 characters + CR LF = RFC 4253's 255.
        ident = "SSH-2.0-paramiko_" + "y" * (253 - 17)
        self.paramiko_with_ident(ident)

    def test_disconnect_fault_after_newkeys_sends_its_code(self):
        # Encrypted stages: only the engine can write the DISCONNECT. The
        # system libssh sent reason 11 and, from these stages, lost the
        # packet with the socket (ssh: "Connection ... closed by remote host").
        h.require("ssh", "openssh-client")
        for stage, code in (("auth-success", 9), ("channel-open", 2)):
            with self.subTest(stage=stage), tempfile.TemporaryDirectory() as d:
                prof = temp_profile(d, "Fault %s disconnect %d \"going away now\"\n"
                                    % (stage, code))
                with h.Server(prof) as srv:
                    r = h.run_ssh(srv, "echo hello", password="demo")
                    print("%s: ssh said: %r" % (stage, r.err.strip()))
                    self.assertEqual(r.rc, 255, r)
                    # OpenSSH: "Received disconnect from H port P:CODE: TEXT".
                    self.assertRegex(r.err, r"Received disconnect from 127\.0\.0\.1 port "
                                            r"[0-9]+:%d: going away now" % code)

    def test_strict_kex_marker_follows_the_played_server(self):
        h.require("ssh", "openssh-client")
        cases = [
            # OpenSSH 5.3 predates Terrapin: no marker, and login still works
            # (no strict sequence numbers on either side).
            ("Identification SSH-2.0-OpenSSH_5.3\n", False),
            ("Identification SSH-2.0-OpenSSH_5.3\nStrictKex yes\n", True),
            ("Identification SSH-2.0-OpenSSH_9.6p1\n", True),
        ]
        for text, marker in cases:
            with self.subTest(profile=text.strip()), tempfile.TemporaryDirectory() as d:
                with h.Server(temp_profile(d, text)) as srv:
                    r = h.run_ssh(srv, "echo hello", password="demo",
                                  options=("LogLevel=DEBUG3",))
                    kex = peer_kex_line(r.err)
                    print("%s: server KEX algorithms %s" % (text.strip(), kex))
                    self.assertEqual(r.rc, 0, r)
                    self.assertEqual(r.out.strip(), "hello")
                    self.assertIsNotNone(kex, r)
                    self.assertEqual("kex-strict-s-v00@openssh.com" in kex.split(","), marker, kex)

    def test_ssh_199_identification_logs_in(self):
        h.require("ssh", "openssh-client")
        with tempfile.TemporaryDirectory() as d:
            prof = temp_profile(d, "Identification SSH-1.99-Cisco-1.25\n")
            with h.Server(prof) as srv:
                r = h.run_ssh(srv, "echo hello", password="demo", options=("LogLevel=DEBUG1",))
                print("ssh said: %r" % r.err.strip()[-400:])
                self.assertRegex(r.err, r"Remote protocol version 1\.99, remote software "
                                        r"version Cisco-1\.25")
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.out.strip(), "hello")


if __name__ == "__main__":
    h.main()
