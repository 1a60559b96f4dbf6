#!/usr/bin/python3
"""The container image, as a user meets it: built from docker/Dockerfile,
run with its default command (the lab), healthy, served to real clients
from the host, running as a non-root user, stopped cleanly by SIGTERM; then
the CI examples in docs/ci run against it as their services.

Uses docker when a Docker engine answers, else podman (on this project's
machines through ../shared/tools/container-env, which also provides a local
Debian 12 base image since no registry is reachable). Where no engine works
the test is skipped, with the reason, never passed.

  test_container.py [--engine docker|podman] [--base-image IMAGE] [--keep-image]
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
IMAGE = "localhost/sshmock:ci-test"
ENGINE = None
ENV = dict(os.environ)
BASE_IMAGE = None
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"]


def run(argv, timeout=120, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, timeout=timeout, env=kw.pop("env", ENV), **kw)


def engine(*args, timeout=120, **kw):
    return run([ENGINE] + list(args), timeout=timeout, **kw)


def container_env_tool():
    """This project's machines provide ../shared/tools/container-env (podman
    with a local Debian 12 base image, no registry needed); look for it
    beside the checkout and above it, or where $SSHMOCK_CONTAINER_ENV says."""
    # The same library path on every machine of this project: a CI clone
    # may live anywhere.
    cands = [os.environ.get("SSHMOCK_CONTAINER_ENV", ""), "/work/shared/tools/container-env"]
    d = TOP
    for _ in range(4):
        d = os.path.dirname(d)
        cands.append(os.path.join(d, "shared", "tools", "container-env"))
    for c in cands:
        if c and os.path.exists(c):
            return c
    return None


def find_engine(wanted):
    """(engine, base image, None) or (None, None, why not)."""
    if wanted in (None, "docker") and shutil.which("docker"):
        if run(["docker", "info"], timeout=20).returncode == 0:
            return "docker", None, None
        if wanted == "docker":
            return None, None, "docker is installed but no Docker engine answers"
    env_tool = container_env_tool()
    if env_tool:
        r = run(["bash", env_tool], timeout=900)
        if r.returncode != 0:
            return None, None, "container-env failed: " + r.stderr.strip()[-300:]
        for m in re.finditer(r"^export (\w+)=(.*)$", r.stdout, re.M):
            ENV[m.group(1)] = shlex.split(m.group(2))[0] if m.group(2) else ""
        return "podman", "localhost/debian:bookworm", None
    if shutil.which("podman") and run(["podman", "info"], timeout=60).returncode == 0:
        # The Dockerfile's default base comes from a registry: without one
        # (and without container-env's local image) nothing can be built.
        if run(["podman", "image", "exists", "debian:bookworm-slim"], timeout=60).returncode != 0 \
                and run(["podman", "pull", "-q", "debian:bookworm-slim"], timeout=120).returncode != 0:
            return None, None, ("podman works but no Debian 12 base image is here and no "
                                "registry answers (set SSHMOCK_CONTAINER_ENV to container-env)")
        return "podman", None, None
    return None, None, "no container engine works here (no Docker engine, no podman)"


def wait_for(pred, what, limit):
    end = time.monotonic() + limit
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError("waited %.0f s for %s" % (limit, what))


class Image(unittest.TestCase):
    container = None

    @classmethod
    def setUpClass(cls):
        args = ["build", "-f", os.path.join(TOP, "docker", "Dockerfile"), "-t", IMAGE]
        if BASE_IMAGE:
            args += ["--build-arg", "BASE_IMAGE=" + BASE_IMAGE]
        if ENGINE == "podman":
            args += ["--format", "docker"]  # OCI images drop HEALTHCHECK
        t0 = time.monotonic()
        r = engine(*(args + [TOP]), timeout=1800)
        if r.returncode != 0:
            raise AssertionError("image build failed:\n" + (r.stdout + r.stderr)[-4000:])
        print("image built in %.0f s" % (time.monotonic() - t0), file=sys.stderr)
        cls.name = "sshmock-ci-%d" % os.getpid()
        # The lab's ports published on the host's loopback only, as a CI
        # service's ports are.
        r = engine("run", "-d", "--name", cls.name, "-p", "127.0.0.1:2200-2230:2200-2230", IMAGE)
        if r.returncode != 0:
            raise AssertionError("container did not start: " + r.stderr)
        cls.container = cls.name

    @classmethod
    def tearDownClass(cls):
        if cls.container:
            engine("rm", "-f", cls.container)
        if not KEEP:
            engine("rmi", "-f", IMAGE)

    def lab_port(self, profile):
        r = engine("exec", self.container, "sshmock", "lab", "--print-port", profile)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout.strip())

    def healthy(self):
        return engine("exec", self.container, "sshmock", "probe", "127.0.0.1:2200").returncode == 0

    def test_1_lab_is_healthy_and_prints_its_map(self):
        wait_for(self.healthy, "the lab's first port to answer", 60)
        logs = engine("logs", self.container)
        out = logs.stdout + logs.stderr
        self.assertIn("legacy-kex-group1", out)
        self.assertRegex(out, r"lab ready: \d+ profiles")

    def test_2_real_client_meets_a_legacy_server(self):
        if shutil.which("ssh") is None:
            self.skipTest("no ssh client on the host (openssh-client)")
        wait_for(self.healthy, "the lab", 60)
        port = self.lab_port("legacy-kex-group1")
        r = run(["ssh", "-p", str(port)] + SSH_OPTS + ["demo@127.0.0.1", "true"], timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertIn("no matching key exchange method found. Their offer: "
                      "diffie-hellman-group1-sha1", r.stderr)

    def test_2_real_client_logs_in_and_runs_a_command(self):
        if shutil.which("ssh") is None:
            self.skipTest("no ssh client on the host (openssh-client)")
        wait_for(self.healthy, "the lab", 60)
        port = self.lab_port("modern")
        with tempfile.TemporaryDirectory() as d:
            key = os.path.join(d, "id")
            shutil.copy(os.path.join(TOP, "profiles", "keys", "demo_ed25519"), key)
            os.chmod(key, 0o600)
            r = run(["ssh", "-p", str(port), "-i", key, "-o", "IdentitiesOnly=yes"] + SSH_OPTS +
                    ["demo@127.0.0.1", "echo hello"], timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "hello\n")

    def test_3_runs_as_non_root(self):
        r = engine("exec", self.container, "id", "-u")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(r.stdout.strip(), "0")

    def test_4_github_actions_steps(self):
        """The example job's steps, run against this container as its
        service (docker exec -> the engine in use)."""
        if shutil.which("ssh") is None:
            self.skipTest("no ssh client on the host (openssh-client)")
        wait_for(self.healthy, "the lab", 60)
        with open(os.path.join(TOP, "docs", "ci", "github-actions.yml")) as f:
            text = f.read()
        job = text[text.index("  scenarios:"):]
        opts = re.search(r"SSH_OPTS: (.*)", job).group(1)
        steps = re.findall(r"run: \|\n((?:          .*\n|\n)+)", job)
        self.assertGreaterEqual(len(steps), 3, "the example has its steps")
        with tempfile.TemporaryDirectory() as d:
            bindir = os.path.join(d, "bin")
            os.makedirs(bindir)
            if ENGINE != "docker":
                os.symlink(shutil.which(ENGINE), os.path.join(bindir, "docker"))
            env = dict(ENV, SSHMOCK_CONTAINER=self.container, SSH_OPTS=opts,
                       PATH=bindir + ":" + ENV.get("PATH", ""))
            for i, body in enumerate(steps):
                script = "set -e\n" + "\n".join(l[10:] for l in body.splitlines())
                r = run(["bash", "-c", script], cwd=d, env=env, timeout=60)
                self.assertEqual(r.returncode, 0, "step %d failed:\n%s\n%s%s"
                                 % (i + 1, script, r.stdout, r.stderr))

    def test_5_gitlab_ci_services(self):
        """The example job: each service is the image serving one profile
        under its alias on a network of its own; the job's script runs in
        a container of the same image (which has the OpenSSH client)."""
        with open(os.path.join(TOP, "docs", "ci", "gitlab-ci.yml")) as f:
            text = f.read()
        opts = re.search(r"SSH_OPTS: (.*)", text).group(1)
        services = re.findall(r"alias: (\S+)\n\s+command: (\[.*\])", text)
        script = re.findall(r"^    - (.*)$", text.split("  script:")[1], re.M)
        self.assertGreaterEqual(len(services), 3)
        net = "sshmock-ci-net-%d" % os.getpid()
        started = []
        r = engine("network", "create", net)
        if r.returncode != 0:
            self.skipTest("this engine cannot create a network here: " + r.stderr.strip()[-200:])
        try:
            for alias, cmd in services:
                argv = eval(cmd, {})  # a JSON-like list of strings from our own example
                name = "%s-%s" % (net, alias)
                r = engine("run", "-d", "--name", name, "--network", net,
                           "--network-alias", alias, IMAGE, *argv)
                self.assertEqual(r.returncode, 0, r.stderr)
                started.append(name)
            for name in started:
                wait_for(lambda n=name: engine("exec", n, "sshmock", "probe",
                                               "127.0.0.1:2222").returncode == 0,
                         "service " + name, 60)
            body = "set -e\n" + "\n".join(script)
            r = engine("run", "--rm", "--network", net, "-e", "SSH_OPTS=" + opts,
                       "--entrypoint", "/bin/sh", IMAGE, "-c", "cd /tmp && " + body, timeout=120)
            self.assertEqual(r.returncode, 0, "the job's script failed:\n%s\n%s%s"
                             % (body, r.stdout, r.stderr))
        finally:
            for name in started:
                engine("rm", "-f", name)
            engine("network", "rm", "-f", net)

    def test_9_sigterm_stops_it_cleanly(self):
        r = engine("stop", "-t", "10", self.container, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = engine("inspect", "--format", "{{.State.ExitCode}}", self.container)
        self.assertEqual(r.stdout.strip(), "0", "exit status after SIGTERM")


KEEP = False


def main():
    global ENGINE, BASE_IMAGE, KEEP
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["docker", "podman"])
    ap.add_argument("--base-image")
    ap.add_argument("--keep-image", action="store_true")
    args, rest = ap.parse_known_args()
    ENGINE, base, why = find_engine(args.engine)
    if ENGINE is None:
        print("skipped container: %s" % why)
        return SKIP
    BASE_IMAGE = args.base_image or base
    KEEP = args.keep_image
    # An engine that cannot start any container (inside another container
    # without /dev/fuse, say) says nothing about our image: skip, saying why.
    # One that can start the base image but not build ours is a failure.
    smoke = engine("run", "--rm", BASE_IMAGE or "debian:bookworm-slim", "true", timeout=300)
    if smoke.returncode != 0:
        print("skipped container: %s cannot run a container here: %s"
              % (ENGINE, (smoke.stderr or smoke.stdout).strip().splitlines()[-1:]))
        return SKIP
    print("container engine: %s%s" % (ENGINE, ", base image " + BASE_IMAGE if BASE_IMAGE else ""),
          file=sys.stderr)
    prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
