#!/usr/bin/python3
"""The installed tree, as a user meets it: `cmake --install` into a prefix,
the tree moved elsewhere (it must not name its build or install path), the
installed binary run from another directory, the embedding example built
against it with pkg-config, and the man pages.

  test_install.py --build-dir BUILD
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = None
TIMEOUT = 60


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(argv, **kw)


class InstalledTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sshmock-install-")
        first = os.path.join(cls.tmp, "first")
        r = run(["cmake", "--install", BUILD, "--prefix", first])
        if r.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + r.stdout + r.stderr)
        # Moved after installing: whatever still works names no absolute path.
        cls.prefix = os.path.join(cls.tmp, "moved", "opt")
        os.makedirs(os.path.dirname(cls.prefix))
        shutil.move(first, cls.prefix)
        cls.bin = os.path.join(cls.prefix, "bin", "sshmock")
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home)
        # A clean environment: nothing points back into the source tree.
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("SSHMOCK_")}
        cls.env.update(HOME=cls.home, SSHMOCK_STATE_DIR=os.path.join(cls.tmp, "state"))
        cls.cwd = os.path.join(cls.tmp, "elsewhere")
        os.makedirs(cls.cwd)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sshmock(self, *args, env=None, **kw):
        return run([self.bin] + list(args), cwd=self.cwd, env=env or self.env, **kw)

    def test_layout(self):
        for rel in ["bin/sshmock", "include/sshmock/sshmock.h", "share/man/man1/sshmock.1",
                    "share/man/man5/sshmock-profile.5", "share/sshmock/profiles/modern.conf",
                    "share/sshmock/profiles/keys/demo_ed25519",
                    "libexec/sshmock/drivers/openssh", "libexec/sshmock/sshmock-libssh-client"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel + " is installed")
        key = os.path.join(self.prefix, "share/sshmock/profiles/keys/demo_ed25519")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "the private demo key keeps mode 0600")
        # Text files only: the binary keeps the source tree's profiles/ as its
        # last resort (a binary run from its build directory), and its
        # debug information names the sources; neither is used when
        # installed, which test_list checks from the moved tree.
        grep = run(["grep", "-rlI", TOP, self.prefix])
        self.assertEqual(grep.stdout.strip(), "", "installed text files name the source tree")

    def test_list_finds_the_shipped_profiles_relative_to_itself(self):
        r = self.sshmock("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("legacy-kex-group1", r.stdout)
        self.assertIn(os.path.join(self.prefix, "share", "sshmock", "profiles"), r.stdout,
                      "list says where the profiles came from")

    def test_user_and_path_profiles(self):
        user_dir = os.path.join(self.home, ".config", "sshmock", "profiles")
        path_dir = os.path.join(self.tmp, "team-profiles")
        for d, name in ((user_dir, "mine"), (path_dir, "team")):
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, name + ".conf"), "w") as f:
                f.write("Description %s's own\nAccount demo demo\nHostKey generate:ed25519\n" % name)
        env = dict(self.env, SSHMOCK_PROFILE_PATH=path_dir)
        r = self.sshmock("list", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mine", r.stdout)
        self.assertIn(user_dir, r.stdout)
        self.assertIn(path_dir, r.stdout)
        r = self.sshmock("check", "team", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("team's own", r.stdout)

    def test_serve_an_installed_profile_to_a_real_client(self):
        if shutil.which("ssh") is None:
            self.skipTest("no ssh client (openssh-client)")
        p = subprocess.Popen([self.bin, "serve", "legacy-kex-group1", "--port", "0", "--quiet"],
                             cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
            self.assertIsNotNone(m, "serve printed %r; stderr: %s" % (line, p.stderr.read()
                                                                      if p.poll() is not None else ""))
            r = run(["ssh", "-p", m.group(1), "-o", "BatchMode=yes", "-o",
                     "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "demo@127.0.0.1", "true"], env=self.env)
            self.assertEqual(r.returncode, 255)
            self.assertIn("no matching key exchange method found. Their offer: "
                          "diffie-hellman-group1-sha1", r.stderr)
        finally:
            p.terminate()
            self.assertEqual(p.wait(10), 0)

    def test_matrix_finds_its_drivers(self):
        if shutil.which("ssh") is None:
            self.skipTest("no ssh client (openssh-client)")
        r = self.sshmock("matrix", "legacy-kex-group1", "--client", "openssh", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 as expected", r.stdout)

    def test_embedding_example_builds_with_pkg_config(self):
        if shutil.which("cc") is None or shutil.which("pkg-config") is None:
            self.skipTest("no cc or pkg-config")
        env = dict(self.env, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib", "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "sshmock"], env=env)
        self.assertEqual(flags.returncode, 0, flags.stderr)
        exe = os.path.join(self.tmp, "embed")
        cc = run(["cc", os.path.join(TOP, "examples", "embed.c"), "-o", exe] + flags.stdout.split(),
                 env=env)
        self.assertEqual(cc.returncode, 0, cc.stderr)
        prof = os.path.join(self.prefix, "share", "sshmock", "profiles", "legacy-kex-group1.conf")
        r = run([exe, prof], env=self.env, cwd=self.cwd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"serving .* on 127\.0\.0\.1:\d+")
        self.assertIn("server identification: SSH-2.0-OpenSSH_5.3", r.stdout)

    def test_man_pages(self):
        man1 = open(os.path.join(self.prefix, "share/man/man1/sshmock.1")).read()
        man5 = open(os.path.join(self.prefix, "share/man/man5/sshmock-profile.5")).read()
        # Every command the binary's own help lists has its section.
        cmds = re.findall(r"^  sshmock ([a-z]+)", self.sshmock("--help").stdout, re.M)
        self.assertGreaterEqual(len(cmds), 10, cmds)
        for cmd in cmds:
            self.assertIn(".SS %s" % cmd, man1)
        ref = open(os.path.join(TOP, "docs", "profile-reference.md")).read()
        for kw in re.findall(r"^### `([A-Za-z]+)`", ref, re.M):
            self.assertIn(kw, man5, "sshmock-profile(5) documents " + kw)
        if shutil.which("groff"):
            r = run(["groff", "-t", "-man", "-Tutf8", "-z",
                     os.path.join(self.prefix, "share/man/man5/sshmock-profile.5")])
            self.assertEqual(r.returncode, 0, r.stderr)


def main():
    global BUILD
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args, rest = ap.parse_known_args()
    BUILD = os.path.abspath(args.build_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
