"""The catalogue commands: sshmock list, explain and lab, run for real.

list names every shipped profile with its description; explain prints the
explanation, what each client prints and the fixes; lab serves every profile
at once, one port each, prints the map, and a real ssh gets the scenario of
the port it connects to; SIGTERM stops it with exit status 0.

Run: /usr/bin/python3 client-tests/test_cli.py --sshmock build/sshmock
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

NAMES = sorted(f[:-5] for f in os.listdir(h.PROFILES_DIR) if f.endswith(".conf"))


def run(*args, timeout=30):
    return subprocess.run([h.SSHMOCK] + list(args), capture_output=True, text=True,
                          timeout=timeout)


class CliTest(unittest.TestCase):
    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for cmd in ("serve", "check", "list", "explain", "lab", "matrix"):
            self.assertIn("sshmock " + cmd, r.stdout)
        for cmd in ("serve", "check", "lab", "matrix", "explain"):
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertIn("Usage: sshmock " + cmd, r.stdout)
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)

    def test_list(self):
        r = run("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [ln.split()[0] for ln in r.stdout.splitlines()
                  if ln.strip() and not ln.startswith("#")]
        self.assertIn("# %s (shipped)" % h.PROFILES_DIR, r.stdout)
        self.assertEqual(listed, NAMES)
        self.assertRegex(r.stdout, r"legacy-kex-group1 +Old OpenSSH 5\.3 server")

    def test_explain(self):
        r = run("explain", "legacy-kex-group1")
        self.assertEqual(r.returncode, 0, r.stderr)
        for part in ("What is going on", "diffie-hellman-group1-sha1",
                     "What each client does (measured with the real clients)",
                     "Fix on the client side", "-oKexAlgorithms=+diffie-hellman-group1-sha1",
                     "Per client (what sshmock matrix --fixes tries)", "Fix on the server side",
                     "Play it: sshmock serve legacy-kex-group1"):
            self.assertIn(part, r.stdout)
        r = run("explain", "no-such-profile")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-profile", r.stderr)

    def test_explain_shows_clients_words(self):
        """explain shows what the real client printed (the profile's Said
        lines), not the regex; --patterns / -p add the regex."""
        h.require("ssh", "openssh-client")
        with h.Server(h.profile("legacy-kex-group1")) as srv:
            r = h.run_ssh(srv, "echo hello", password="demo")
        self.assertNotEqual(r.rc, 0, r)
        said = [ln.strip() for ln in r.err.splitlines() if "Unable to negotiate" in ln]
        self.assertEqual(len(said), 1, r)
        # The profile writes the server's port as P (it differs every run).
        words = said[0].replace("127.0.0.1 port %d:" % srv.port, "127.0.0.1 port P:")
        self.assertTrue(words.startswith(
            "Unable to negotiate with 127.0.0.1 port P: no matching key exchange method "
            "found. Their offer: diffie-hellman-group1-sha1"), words)
        regex = "no matching key exchange method found\\. Their offer: diffie-hellman-group1-sha1"

        r = run("explain", "legacy-kex-group1")
        self.assertEqual(r.returncode, 0, r.stderr)
        block = re.search(r"^  openssh +fails at kex\n((?:  {10,}.*\n)+)", r.stdout, re.M)
        self.assertIsNotNone(block, r.stdout)
        self.assertEqual(block.group(1).strip(), words)
        self.assertNotIn(regex, r.stdout)
        self.assertNotIn("output matching", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^  paramiko +connects\n +hello$")

        for flag in ("--patterns", "-p"):
            r = run("explain", flag, "legacy-kex-group1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(words + "\n", r.stdout)
            self.assertIn("(output matching: %s)" % regex, r.stdout)
        r = run("explain", "--help")
        self.assertIn("-p, --patterns", r.stdout)
        r = run("explain", "--bogus", "legacy-kex-group1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument '--bogus'", r.stderr)

    def test_lab(self):
        h.require("ssh", "openssh-client")
        proc = subprocess.Popen([h.SSHMOCK, "lab", "--base-port", "0", "--quiet",
                                 "--state-dir", h.state_dir()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ports = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                m = re.match(r"^(\d+) +(\S+) +(.*)$", line)
                if m:
                    ports[m.group(2)] = int(m.group(1))
                if line.startswith("lab ready"):
                    break
            self.assertEqual(sorted(ports), NAMES, "the map lists every profile")
            self.assertEqual(len(set(ports.values())), len(NAMES), "one port each")

            class Port:  # what run_ssh needs of a server
                host = "127.0.0.1"

            srv = Port()
            srv.port = ports["modern"]
            r = h.run_ssh(srv, "echo hello", password="demo")
            self.assertEqual((r.rc, r.out), (0, "hello\n"), r)
            srv.port = ports["legacy-kex-group1"]
            r = h.run_ssh(srv, "echo hello", password="demo")
            self.assertEqual(r.rc, 255, r)
            self.assertIn("no matching key exchange method found. Their offer: "
                          "diffie-hellman-group1-sha1", r.err)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = None
            err = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(rc, 0, err[-2000:])
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(bad, err)


if __name__ == "__main__":
    h.main()
