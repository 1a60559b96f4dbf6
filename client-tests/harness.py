"""Shared helpers for the client tests: run the real sshmock server, run real
SSH clients against it, each in its own process under a timeout.

Every test file is a stdlib unittest module run by Debian's /usr/bin/python3
(which has paramiko) and ends with harness.main(), which takes
`--sshmock PATH` (or $SSHMOCK_BIN) for the server binary and exits 77 when
every test of the file was skipped, so that ctest reports the file as
skipped, never as passed.

    with Server(profile("modern")) as srv:
        r = run_ssh(srv, "echo hello", password="demo")
        assert r.rc == 0 and r.out == "hello\\n"

On leaving the `with`, the server gets SIGTERM and must exit 0 within 10 s
with no sanitizer report on its stderr; anything else fails the test.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
PROFILES_DIR = os.path.join(SOURCE_DIR, "profiles")
TEST_PROFILES_DIR = os.path.join(HERE, "profiles")
KEYS_DIR = os.path.join(PROFILES_DIR, "keys")

# Debian's interpreter: the one with paramiko. Client helper scripts run on it.
DEBIAN_PYTHON = "/usr/bin/python3"

SERVER_START_TIMEOUT = 15.0
SERVER_STOP_TIMEOUT = 10.0
CLIENT_TIMEOUT = 30.0
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")  # also in python/sshmock

# Set by main() from --sshmock or $SSHMOCK_BIN.
SSHMOCK = os.environ.get("SSHMOCK_BIN")

# One state directory per test process: host keys are generated once
# (rsa-3072 takes a moment) and reused by every server the process starts,
# the way a real server keeps its keys across restarts.
_state_dir = None


def state_dir():
    global _state_dir
    if _state_dir is None:
        _state_dir = tempfile.mkdtemp(prefix="sshmock-state-")
    return _state_dir


def profile(name):
    """Path of a shipped profile (profiles/NAME.conf) or a test-only one
    (client-tests/profiles/NAME.conf)."""
    for d in (TEST_PROFILES_DIR, PROFILES_DIR):
        p = os.path.join(d, name + ".conf")
        if os.path.exists(p):
            return p
    # A missing profile is a broken test, never a skipped one: a typo or a
    # deleted file must not turn a check green.
    raise AssertionError("profile %s.conf does not exist in %s or %s"
                         % (name, TEST_PROFILES_DIR, PROFILES_DIR))


# ---------------------------------------------------------------------------
# Reading canned responses out of a profile, so the tests compare what a
# client printed with what the profile declares.

def _tokens(line):
    """Splits a profile line into words; double quotes group, backslash
    escapes are kept for _unescape."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] == "#":
            break
        word = []
        while i < n and line[i] not in " \t":
            if line[i] == '"':
                i += 1
                while i < n and line[i] != '"':
                    if line[i] == "\\" and i + 1 < n:
                        word.append(line[i:i + 2])
                        i += 2
                    else:
                        word.append(line[i])
                        i += 1
                i += 1
            else:
                word.append(line[i])
                i += 1
        out.append("".join(word))
    return out


def _unescape(s):
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt == "x" and i + 3 < len(s):
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _expand(s, user, command):
    out = []
    i = 0
    while i < len(s):
        if s[i] == "%" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "u":
                out.append(user)
            elif nxt == "c":
                out.append(command)
            elif nxt == "%":
                out.append("%")
            else:
                out.append(s[i:i + 2])
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def canned(profile_path, command, user="demo"):
    """(exit status, stdout, stderr) the profile declares for `command`."""
    default = None
    with open(profile_path, encoding="utf-8") as f:
        for raw in f:
            words = _tokens(raw.strip())
            if not words:
                continue
            kw = words[0].lower()
            if kw == "execresponse" and len(words) >= 3:
                if _unescape(words[1]) == command:
                    out = words[3] if len(words) > 3 else ""
                    err = words[4] if len(words) > 4 else ""
                    return (int(words[2]),
                            _expand(_unescape(out), user, command),
                            _expand(_unescape(err), user, command))
            elif kw == "defaultexecresponse" and len(words) >= 2:
                default = words[1:]
    if default is None:
        raise AssertionError("%s declares no response for %r" % (profile_path, command))
    out = default[1] if len(default) > 1 else ""
    err = default[2] if len(default) > 2 else ""
    return (int(default[0]), _expand(_unescape(out), user, command),
            _expand(_unescape(err), user, command))


def profile_setting(profile_path, keyword):
    """The value of the first `keyword` line in a profile (its words joined
    by one space, quotes and escapes decoded), or None."""
    with open(profile_path, encoding="utf-8") as f:
        for raw in f:
            words = _tokens(raw.strip())
            if len(words) >= 2 and words[0].lower() == keyword.lower():
                return " ".join(_unescape(w) for w in words[1:])
    return None


# ---------------------------------------------------------------------------
# The server

# The server wrapper test suites use (python/sshmock, `pip install ./python`):
# the project's own tests run through the same code users import.
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))
import sshmock as _sshmock  # noqa: E402

ServerError = _sshmock.ServerError


class Server(_sshmock.Server):
    """`sshmock serve PROFILE --port 0` for the length of a `with`: the
    packaged helper, with this suite's binary, shared state directory (host
    keys made once per run) and log dump on failure."""

    def __init__(self, profile_path, extra_args=()):
        if not SSHMOCK:
            raise ServerError("no server binary: pass --sshmock PATH or set SSHMOCK_BIN")
        super().__init__(profile_path, binary=SSHMOCK, args=extra_args, state_dir=state_dir(),
                         start_timeout=SERVER_START_TIMEOUT, stop_timeout=SERVER_STOP_TIMEOUT)
        self.profile_path = profile_path
        self.extra_args = list(extra_args)

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except ServerError:
            if exc is None:
                raise
            # The body already failed: report both, the body's error first.
            sys.stderr.write("server check also failed after the test's error:\n%s\n"
                             % sys.exc_info()[1])
        finally:
            if exc is not None:
                self.dump_log(sys.stderr)
            self._cleanup()
        return False

    @property
    def json_path(self):
        return self.log_path

    def dump_log(self, out, n=40):
        try:
            out.write("---- sshmock stderr (last %d lines) ----\n%s\n----\n" % (n, self.tail(n)))
        except OSError:
            pass

    def wait_events(self, pred, count=1, timeout=5.0, what=None):
        return self.wait_event(pred, count=count, timeout=timeout, what=what)

    def conn_events(self, conn):
        return [e for e in self.events() if e.get("conn") == conn]


# ---------------------------------------------------------------------------
# Clients

class ClientTimeout(AssertionError):
    pass


class ClientResult:
    """What a client did: exit code, stdout, stderr (text). For paramiko,
    `out`/`err` are the remote command's streams and `error` is the
    exception paramiko raised, if any."""

    def __init__(self, rc, out, err, argv=None, error=None, extra=None):
        self.rc = rc
        self.out = out
        self.err = err
        self.argv = argv
        self.error = error
        self.extra = extra or {}

    def __iter__(self):
        return iter((self.rc, self.out, self.err))

    def __repr__(self):
        return "ClientResult(rc=%r, out=%r, err=%r%s)" % (
            self.rc, self.out, self.err, ", error=%r" % self.error if self.error else "")


def engine():
    """"bundled" or "system": the engine the build under test uses (CTest
    passes SSHMOCK_ENGINE; run by hand, the binary's --version says)."""
    if os.environ.get("SSHMOCK_ENGINE"):
        return os.environ["SSHMOCK_ENGINE"]
    r = subprocess.run([SSHMOCK, "--version"], capture_output=True, text=True, timeout=10)
    return "bundled" if "engine: bundled" in r.stdout else "system"


def have(program):
    return shutil.which(program) is not None


_paramiko_ok = None


def have_paramiko():
    global _paramiko_ok
    if _paramiko_ok is None:
        try:
            r = subprocess.run([DEBIAN_PYTHON, "-c", "import paramiko"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            _paramiko_ok = r.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _paramiko_ok = False
    return _paramiko_ok


def require(program, package):
    """Skips the calling test when `program` is not installed."""
    if not have(program):
        raise unittest.SkipTest("%s is not installed (Debian package %s)" % (program, package))


def client_env(home):
    """The caller's environment without any agent, with HOME in the test's
    temporary directory, so no user configuration or key leaks in."""
    env = dict(os.environ)
    for k in ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE",
              "DISPLAY", "DROPBEAR_PASSWORD", "LD_PRELOAD"):
        env.pop(k, None)
    env["HOME"] = home
    env["LC_ALL"] = "C"
    return env


def run_client(argv, env, timeout=CLIENT_TIMEOUT, interact=None, cwd=None):
    """Runs a client in its own process group; kills the group after
    `timeout`. `interact` is a list of (expect, send, delay): wait until
    stdout contains `expect` (None: don't wait), sleep `delay`, write `send`
    to the client's stdin; stdin stays open until the client exits."""
    tmp = tempfile.mkdtemp(prefix="sshmock-cli-")
    out_path = os.path.join(tmp, "out")
    err_path = os.path.join(tmp, "err")
    try:
        with open(out_path, "wb") as so, open(err_path, "wb") as se:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=so, stderr=se,
                                    stdin=subprocess.PIPE if interact else subprocess.DEVNULL,
                                    start_new_session=True)

        def read(path):
            with open(path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")

        deadline = time.monotonic() + timeout
        feeder_error = []
        missed = []

        def feed():
            try:
                for expect, send, delay in interact:
                    while expect is not None and expect not in read(out_path):
                        if proc.poll() is not None or time.monotonic() > deadline:
                            missed.append(expect)
                            return
                        time.sleep(0.02)
                    time.sleep(delay)
                    proc.stdin.write(send.encode())
                    proc.stdin.flush()
            except (BrokenPipeError, OSError) as e:
                feeder_error.append(e)

        feeder = None
        if interact:
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
        try:
            rc = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise ClientTimeout("client did not finish within %.0f s: %s\nstdout: %r\nstderr: %r"
                                % (timeout, " ".join(shlex.quote(a) for a in argv),
                                   read(out_path), read(err_path)))
        finally:
            if feeder is not None:
                feeder.join(timeout=2)
            if proc.stdin:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        if missed:
            # The script waited for text the client never printed: the
            # rest of it was never sent, whatever the exit status says.
            raise AssertionError("client never printed %r (exit %s): %s\nstdout: %r\n"
                                 "stderr: %r" % (missed[0], rc,
                                                 " ".join(shlex.quote(a) for a in argv),
                                                 read(out_path), read(err_path)))
        return ClientResult(rc, read(out_path), read(err_path), argv=argv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Workdir:
    """A temporary directory for one client run: HOME, known_hosts, keys
    (mode 0600), askpass script."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="sshmock-client-")
        self.home = os.path.join(self.path, "home")
        os.mkdir(self.home, 0o700)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)
        return False

    def file(self, name):
        return os.path.join(self.path, name)

    def key(self, name):
        """A private key from profiles/keys, copied here with mode 0600
        (git does not keep modes; ssh refuses a readable key)."""
        dst = self.file(name)
        if not os.path.exists(dst):
            shutil.copyfile(os.path.join(KEYS_DIR, name), dst)
            os.chmod(dst, 0o600)
            pub = os.path.join(KEYS_DIR, name + ".pub")
            if os.path.exists(pub):
                shutil.copyfile(pub, dst + ".pub")
        return dst

    def askpass(self, password):
        path = self.file("askpass.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nprintf '%%s\\n' %s\n" % shlex.quote(password))
        os.chmod(path, 0o700)
        return path


def run_ssh(srv, command, user="demo", password=None, key=None, options=(),
            kbdint=False, tty=False, interact=None, timeout=CLIENT_TIMEOUT, work=None):
    """OpenSSH's ssh. With `password`, SSH_ASKPASS answers every prompt
    (password, or keyboard-interactive with kbdint=True); with `key`
    (a file name in profiles/keys), public key only, BatchMode."""
    own = work is None
    work = work or Workdir()
    try:
        env = client_env(work.home)
        # The caller's options come first: OpenSSH keeps the first value it
        # is given for an option, so they override the defaults below.
        argv = ["ssh", "-F", "/dev/null"]
        for o in options:
            argv += ["-o", o]
        argv += ["-o", "UserKnownHostsFile=" + work.file("known_hosts"),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=accept-new",
                "-o", "ConnectTimeout=10",
                "-o", "IdentitiesOnly=yes",
                "-o", "IdentityAgent=none"]
        if key is not None:
            argv += ["-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
                     "-i", work.key(key)]
        elif password is not None:
            env["SSH_ASKPASS"] = work.askpass(password)
            env["SSH_ASKPASS_REQUIRE"] = "force"
            env["DISPLAY"] = ":0"
            argv += ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
                     "-o", "PreferredAuthentications=" +
                     ("keyboard-interactive" if kbdint else "password")]
        else:
            argv += ["-o", "BatchMode=yes"]
        if tty:
            argv.append("-tt")
        argv += ["-p", str(srv.port), "%s@%s" % (user, srv.host)]
        if command is not None:
            argv.append(command)
        return run_client(argv, env, timeout=timeout, interact=interact)
    finally:
        if own:
            work.__exit__()


def run_plink(srv, command, user="demo", password="demo", extra=(), timeout=CLIENT_TIMEOUT):
    """PuTTY's plink, batch mode, the server's host keys given with -hostkey
    (PuTTY keeps known keys in ~/.putty, under a temporary HOME here)."""
    with Workdir() as work:
        env = client_env(work.home)
        argv = ["plink", "-batch", "-ssh", "-P", str(srv.port)]
        for fp in srv.fingerprints.values():
            argv += ["-hostkey", fp]
        if password is not None:
            argv += ["-pw", password]
        argv += list(extra)
        argv += ["%s@%s" % (user, srv.host), command]
        return run_client(argv, env, timeout=timeout)


def run_dbclient(srv, command, user="demo", password="demo", extra=(), timeout=CLIENT_TIMEOUT):
    """dropbear's dbclient: -y accepts the host key, DROPBEAR_PASSWORD answers
    the password prompt, stdin is /dev/null."""
    with Workdir() as work:
        env = client_env(work.home)
        if password is not None:
            env["DROPBEAR_PASSWORD"] = password
        argv = ["dbclient", "-y", "-p", str(srv.port)] + list(extra) + \
               ["%s@%s" % (user, srv.host), command]
        return run_client(argv, env, timeout=timeout)


PARAMIKO_CLIENT = os.path.join(HERE, "paramiko_client.py")


def run_paramiko(srv, command, user="demo", password=None, key=None,
                 disabled_kex=(), timeout=CLIENT_TIMEOUT):
    """paramiko in a child process (so a hang can be killed). Returns the
    remote command's exit status and streams; `error` is "Type: message"
    when paramiko raised; extra["host_key_fingerprint"] is the key it got."""
    with Workdir() as work:
        env = client_env(work.home)
        argv = [DEBIAN_PYTHON, "-W", "ignore", PARAMIKO_CLIENT,
                "--host", srv.host, "--port", str(srv.port), "--user", user,
                "--timeout", "15"]
        if password is not None:
            argv += ["--password", password]
        if key is not None:
            argv += ["--key", work.key(key)]
        for k in disabled_kex:
            argv += ["--disable-kex", k]
        if command is not None:
            argv += ["--command", command]
        r = run_client(argv, env, timeout=timeout)
        try:
            res = json.loads(r.out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("paramiko helper printed no result (exit %s)\nstdout: %r\n"
                                 "stderr: %r" % (r.rc, r.out, r.err))
        if res.get("ok"):
            return ClientResult(res.get("exit_status"), res.get("stdout", ""),
                                res.get("stderr", ""), argv=argv, extra=res)
        return ClientResult(None, "", r.err, argv=argv,
                            error="%s: %s" % (res.get("error_type"), res.get("error")),
                            extra=res)


# ---------------------------------------------------------------------------
# Sockets

def proc_fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------
# Entry point

def main():
    global SSHMOCK
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--sshmock", default=os.environ.get("SSHMOCK_BIN"))
    args, rest = ap.parse_known_args()
    if args.sshmock:
        SSHMOCK = os.path.abspath(args.sshmock)
    if not SSHMOCK or not os.access(SSHMOCK, os.X_OK):
        sys.stderr.write("client tests: no sshmock binary (pass --sshmock PATH or set "
                         "SSHMOCK_BIN; got %r)\n" % SSHMOCK)
        sys.exit(1)
    os.environ["SSHMOCK_BIN"] = SSHMOCK
    try:
        prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest,
                             exit=False, verbosity=2)
    finally:
        if _state_dir is not None:
            shutil.rmtree(_state_dir, ignore_errors=True)
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    if res.testsRun == 0:
        sys.stderr.write("client tests: no test ran\n")
        sys.exit(1)
    if len(res.skipped) == res.testsRun:
        sys.stderr.write("client tests: every test was skipped: %s\n"
                         % "; ".join(sorted({reason for _, reason in res.skipped})))
        sys.exit(77)
    sys.exit(0)
