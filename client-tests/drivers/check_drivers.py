#!/usr/bin/python3
"""Self-test of the client drivers: every driver against real sshmock
servers, and a table of what each client really printed.

    /usr/bin/python3 client-tests/drivers/check_drivers.py [--sshmock build/sshmock]
        [--client NAME]... [--json FILE] [--no-legacy] [--keep]

For each driver (a client that is not installed is skipped, with its
reason) it starts `sshmock serve PROFILE --port 0` and checks:

  modern           "echo hello" with --password demo prints hello, exit 0;
                   "exit 3" exits 3; a wrong password exits 255;
                   --key demo_ed25519 (no password) prints hello, exit 0
  legacy-kex-group1  without --opt the result the client is known to give
                   (255, or 0 for a client that still offers group1), then
                   with the client's fix (FIXES below) it connects
  hostkey-changed  the first run connects and records the key, the second
                   run with the same --known-hosts exits 255 with the
                   client's own host-key-changed message, which the
                   profile's Expect line for the client matches
  ident-stall      --timeout 3 ends within 6.5 s (the client's own timeout,
                   or the driver's 124), with what the profile's Expect
                   line for the client matches

and, for the report, the other legacy profiles (legacy-ciphers-cbc,
legacy-hostkey-ssh-rsa, legacy-openssh5, legacy-macs-sha1 after a
hardened MAC list) without and with each client's fix; those rows are
informational, not pass/fail.

It ends with a table: one row per case and client, with the exit code, the
time and the first meaningful line the client printed, and the line
"N passed, N failed, N skipped". Exit 0 when nothing failed.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
PROFILES = os.path.join(SOURCE, "profiles")
KEYS = os.path.join(PROFILES, "keys")
CLIENTS = ["openssh", "plink", "dbclient", "paramiko", "asyncssh", "ssh2", "libssh"]
RUN_LIMIT = 60          # no single driver run may take longer than this
STALL_TIMEOUT = 3
STALL_LIMIT = 6.5

# The options that get each client through each legacy profile, as the
# driver's --opt list; None: the client cannot be configured to get through.
# [] : it gets through as it is.
FIXES = {
    "legacy-kex-group1": {
        "openssh": ["KexAlgorithms=+diffie-hellman-group1-sha1", "HostKeyAlgorithms=+ssh-rsa"],
        "plink": ["KEX=ecdh,dh-gex-sha1,dh-group14-sha1,dh-group1-sha1,WARN,rsa"],
        "dbclient": None,
        "paramiko": [],
        "asyncssh": ["kex_algs=+diffie-hellman-group1-sha1"],
        "ssh2": ["kex=+diffie-hellman-group1-sha1"],
        # libssh 0.10 offers no hmac-sha1 either, and OpenSSH 5.3 has no other.
        "libssh": ["KexAlgorithms=+diffie-hellman-group1-sha1", "HostKeyAlgorithms=+ssh-rsa",
                   "MACs=+hmac-sha1"],
    },
    "legacy-ciphers-cbc": {
        "openssh": ["Ciphers=+aes128-cbc"],
        "plink": [],
        "dbclient": None,
        "paramiko": [],
        "asyncssh": ["encryption_algs=+aes128-cbc"],
        "ssh2": ["cipher=+aes128-cbc"],
        "libssh": ["Ciphers=+aes128-cbc"],
    },
    "legacy-hostkey-ssh-rsa": {
        "openssh": ["HostKeyAlgorithms=+ssh-rsa"],
        "plink": [],
        "dbclient": [],
        "paramiko": [],
        "asyncssh": [],
        "ssh2": [],
        "libssh": ["HostKeyAlgorithms=+ssh-rsa"],
    },
    "legacy-openssh5": {
        "openssh": ["HostKeyAlgorithms=+ssh-rsa"],
        "plink": [],
        "dbclient": [],
        "paramiko": [],
        "asyncssh": [],
        "ssh2": [],
        "libssh": ["HostKeyAlgorithms=+ssh-rsa", "MACs=+hmac-sha1"],
    },
    "legacy-macs-sha1": {
        "openssh": ["MACs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1"],
        "plink": [],
        "dbclient": ["MACs=hmac-sha2-256,hmac-sha1"],
        "paramiko": ["macs=hmac-sha2-512,hmac-sha2-256,hmac-sha1"],
        "asyncssh": ["mac_algs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
                     "hmac-sha1"],
        "ssh2": ["hmac=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1"],
        "libssh": ["MACs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1"],
    },
}

# legacy-macs-sha1 is the profile a hardened client configuration meets: a
# MAC list without hmac-sha1, tried first. None: the client has no MAC
# setting (PuTTY).
HARDENED_MACS = {
    "openssh": ["MACs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
    "plink": None,
    "dbclient": ["MACs=hmac-sha2-256"],
    "paramiko": ["macs=hmac-sha2-512,hmac-sha2-256"],
    "asyncssh": ["mac_algs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
    "ssh2": ["hmac=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
    "libssh": ["MACs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
}

# What each client does with legacy-kex-group1 as it comes: paramiko 2.12
# still offers diffie-hellman-group1-sha1 (and ssh-rsa) by default.
GROUP1_DEFAULT_RC = {"paramiko": 0}

# The client's own words for a changed host key (second run of
# hostkey-changed).
HOSTKEY_CHANGED = {
    "openssh": "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "plink": "does not match the one Plink has cached",
    "dbclient": "host key mismatch",
    "paramiko": "BadHostKeyException",
    "asyncssh": "HostKeyNotVerifiable",
    "ssh2": "Host denied (verification failed)",
    "libssh": "SSH_KNOWN_HOSTS_CHANGED",
}

# Lines that say nothing about the outcome: first-contact notices and
# prompts, keyboard-interactive banners.
NOISE = [re.compile(p) for p in (
    r"^Warning: Permanently added ",
    r"^-*\s*(End of )?[Kk]eyboard-interactive (authentication )?prompts",
    r"^Login for \S+$",
    r"^Host '.*' is not in the trusted hosts file\.$",
    r"^\(ssh-[\w-]+ fingerprint SHA256:",
    r"^Do you want to continue connecting\? \(y/n\)",
    r"^The host key is not cached for this server:$",
    r"^  \S+ \(port \d+\)$",
    r"^You have no guarantee that the server is the computer( you)?$",
    r"^think it is\.$",
    r"^The server's [\w-]+ key fingerprint is:$",
    r"^  [\w-]+ \d+ SHA256:",
    r"^If you trust this host, enter",
    r"^cache and carry on connecting\.$",
    r"^If you want to carry on connecting just once",
    r"^the key to the cache, enter",
    r"^If you do not trust this host, press Return",
    r"^connection\.$",
    r"^Store key in cache\? ",
    r"^Access denied$",
    # The context the drivers pass on from the clients' own logs: it says
    # how far the client got, the line that says what happened follows.
    r"^(DEBUG|INFO):(paramiko|asyncssh)\b",
    r"^ssh2 event (greeting|handshake|banner|ready|end|close)\b",
    r"^ssh2 debug: ",
    r"^Event Log: ",
)]


def expected_words(profile, client):
    """The regular expression the profile's `Expect CLIENT fail STAGE
    "REGEX"` line gives for client, compiled the way sshmock matrix reads
    it (POSIX ERE over stdout + stderr, where `.` matches a newline too),
    or None when the profile has none."""
    with open(os.path.join(PROFILES, profile + ".conf"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r'^Expect\s+(\S+)\s+fail\s+\S+\s+"((?:[^"\\]|\\.)*)"\s*$', line)
            if m and m.group(1) == client:
                # The profile language decodes only \" and \\ here.
                pattern = re.sub(r'\\(["\\])', r"\1", m.group(2))
                return re.compile(pattern, re.S)
    return None


def meaningful(err):
    """The first line of a client's stderr that says what happened. A
    dropbear "exited: " line with nothing after it gets its next line."""
    lines = [ln.rstrip() for ln in err.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    keep = [ln for ln in lines if not any(p.search(ln) for p in NOISE)]
    # A line with the words for an error beats lines before it.
    for i, ln in enumerate(keep):
        if re.search(r"FATAL ERROR|exited:|Exited:|Exception|Error|error|denied|Denied|"
                     r"Unable|timed out|Timeout|WARNING|Permission|failed|[Ii]ncompatible|"
                     r"gave up|killed after|not installed|SSH_KNOWN_HOSTS|Disconnect", ln):
            if ln.endswith("exited:") and i + 1 < len(keep):
                return ln + " " + keep[i + 1].strip()
            return ln
    return keep[0] if keep else ""


class Server:
    """One `sshmock serve PROFILE --port 0`, stopped with SIGTERM."""

    def __init__(self, sshmock, profile, state_dir, log_dir):
        self.profile = profile
        self.log = open(os.path.join(log_dir, "server-%s-%d.log" % (profile, time.time_ns())),
                        "wb")
        self.proc = subprocess.Popen(
            [sshmock, "serve", os.path.join(PROFILES, profile + ".conf"), "--port", "0",
             "--state-dir", state_dir], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.log)
        self.port = None
        deadline = time.monotonic() + 60
        buf = b""
        while self.port is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"listening on ([\d.]+):(\d+)\n", buf)
            if m:
                self.host = m.group(1).decode()
                self.port = int(m.group(2))
        line = buf
        if self.port is None:
            self.stop()
            raise RuntimeError("sshmock serve %s did not start: %r" % (profile, line))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Result:
    def __init__(self, rc, out, err, seconds, argv):
        self.rc = rc
        self.out = out
        self.err = err
        self.seconds = seconds
        self.argv = argv
        self.line = meaningful(err)


def run_driver(client, srv, work, command="echo hello", password="demo", keys=(),
               known_hosts=None, timeout=10, opts=()):
    kh = known_hosts or os.path.join(work, "kh-%s-%d" % (client, time.time_ns()))
    argv = [os.path.join(HERE, client), "--host", srv.host, "--port", str(srv.port),
            "--user", "demo", "--known-hosts", kh, "--timeout", str(timeout),
            "--command", command]
    if password is not None:
        argv += ["--password", password]
    for k in keys:
        argv += ["--key", k]
    for o in opts:
        argv += ["--opt", o]
    start = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=RUN_LIMIT)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, e.stdout or b"", (e.stderr or b"") + b"\n(check: run limit hit)"
    return Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  time.monotonic() - start, argv)


class Checker:
    def __init__(self, args):
        self.args = args
        self.rows = []          # (case, client, rc, seconds, line, verdict)
        self.passed = self.failed = self.skipped = 0
        self.details = []

    def record(self, case, client, r, ok=None, note="", opts=(), label=""):
        """One row. The line shown is the first meaningful stderr line, or
        what came on stdout when stderr said nothing; `opts` (or `label`)
        go first."""
        if ok is None:
            verdict = "info"
        elif ok:
            verdict = "ok"
            self.passed += 1
        else:
            verdict = "FAIL"
            self.failed += 1
        if r is None:
            line = note
        else:
            line = r.line
            if not line and r.out.strip():
                line = "stdout: " + r.out.strip().splitlines()[0]
        if opts:
            label = " ".join("--opt " + o for o in opts)
        if label:
            line = label + "  =>  " + line
        rc = "-" if r is None or r.rc is None else str(r.rc)
        secs = "-" if r is None else "%.1f" % r.seconds
        self.rows.append((case, client, rc, secs, line, verdict))
        if r is not None:
            self.details.append({"case": case, "client": client, "rc": r.rc,
                                 "seconds": round(r.seconds, 2), "stdout": r.out,
                                 "stderr": r.err, "argv": r.argv[1:], "verdict": verdict})
        if verdict == "FAIL":
            sys.stderr.write("FAIL %s %s: rc=%s\n  stdout=%r\n  stderr=%r\n"
                             % (case, client, rc, r.out if r else "", r.err if r else note))

    def skip(self, case, client, reason):
        self.skipped += 1
        self.rows.append((case, client, "-", "-", reason, "skip"))


def installed(client):
    """None if the driver can run its client, else why not."""
    p = subprocess.run([os.path.join(HERE, client), "--version"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    if p.returncode == 0:
        return None, p.stdout.strip()
    return (p.stderr.strip() or "exit %d" % p.returncode), None


def check_client(ck, client, sshmock, state, work, keys):
    why, version = installed(client)
    if why:
        ck.skip("(all)", client, why)
        return
    ck.rows.append(("version", client, "0", "-", version, "info"))
    ed25519 = keys["demo_ed25519"]

    with Server(sshmock, "modern", state, work) as srv:
        r = run_driver(client, srv, work)
        ck.record("modern: echo hello, password", client, r,
                  r.rc == 0 and r.out == "hello\n")
        r = run_driver(client, srv, work, command="exit 3")
        ck.record("modern: exit 3", client, r, r.rc == 3)
        # Each wrong password waits as Debian's sshd makes it wait (2.0-4.8 s,
        # AuthFailureDelay pam), and dbclient tries it until MaxAuthTries.
        r = run_driver(client, srv, work, password="wrong", timeout=40)
        ck.record("modern: wrong password", client, r, r.rc == 255)
        r = run_driver(client, srv, work, password=None, keys=[ed25519])
        ck.record("modern: --key ed25519", client, r, r.rc == 0 and r.out == "hello\n")

    with Server(sshmock, "legacy-kex-group1", state, work) as srv:
        r = run_driver(client, srv, work)
        want = GROUP1_DEFAULT_RC.get(client, 255)
        ck.record("legacy-kex-group1: as it comes", client, r, r.rc == want)
        fix = FIXES["legacy-kex-group1"][client]
        if fix is None:
            ck.record("legacy-kex-group1: fix", client, None, None, "no --opt gets it through")
        elif not fix:
            ck.record("legacy-kex-group1: fix", client, None, None, "none needed")
        else:
            r = run_driver(client, srv, work, opts=fix)
            ck.record("legacy-kex-group1: fix", client, r, r.rc == 0 and r.out == "hello\n",
                      opts=fix)

    with Server(sshmock, "hostkey-changed", state, work) as srv:
        kh = os.path.join(work, "kh-changed-" + client)
        r1 = run_driver(client, srv, work, known_hosts=kh)
        ck.record("hostkey-changed: first run", client, r1, r1.rc == 0 and r1.out == "hello\n")
        r2 = run_driver(client, srv, work, known_hosts=kh)
        words = expected_words("hostkey-changed", client)
        ck.record("hostkey-changed: second run", client, r2,
                  r2.rc == 255 and HOSTKEY_CHANGED[client] in r2.err and
                  words is not None and words.search(r2.out + "\n" + r2.err) is not None)

    with Server(sshmock, "ident-stall", state, work) as srv:
        # Ends on time, with the words the profile expects of this client.
        r = run_driver(client, srv, work, timeout=STALL_TIMEOUT)
        words = expected_words("ident-stall", client)
        ck.record("ident-stall: --timeout %d" % STALL_TIMEOUT, client, r,
                  r.rc in (255, 124) and r.seconds <= STALL_LIMIT and
                  words is not None and words.search(r.out + "\n" + r.err) is not None)

    if ck.args.no_legacy:
        return
    for profile in ("legacy-ciphers-cbc", "legacy-hostkey-ssh-rsa", "legacy-openssh5",
                    "legacy-macs-sha1"):
        with Server(sshmock, profile, state, work) as srv:
            if profile == "legacy-macs-sha1":
                hard = HARDENED_MACS[client]
                if hard is None:
                    r = run_driver(client, srv, work)
                    ck.record(profile + ": hardened MACs", client, r,
                              label="(PuTTY has no MAC setting)")
                else:
                    r = run_driver(client, srv, work, opts=hard)
                    ck.record(profile + ": hardened MACs", client, r, opts=hard)
            else:
                r = run_driver(client, srv, work)
                ck.record(profile + ": as it comes", client, r)
            fix = FIXES[profile][client]
            if fix is None:
                ck.record(profile + ": fix", client, None, None, "no --opt gets it through")
            elif not fix:
                ck.record(profile + ": fix", client, None, None, "none needed")
            else:
                r = run_driver(client, srv, work, opts=fix)
                ck.record(profile + ": fix", client, r, opts=fix)


def print_table(rows):
    cases = []
    for row in rows:
        if row[0] not in cases:
            cases.append(row[0])
    width = max(len(r[1]) for r in rows) if rows else 8
    for case in cases:
        print("\n## " + case)
        for (c, client, rc, secs, line, verdict) in rows:
            if c != case:
                continue
            print("  %-*s  %-4s %3s %5s  %s" % (width, client, verdict, rc, secs, line))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sshmock", default=os.environ.get("SSHMOCK_BIN") or
                   os.path.join(SOURCE, "build", "sshmock"))
    p.add_argument("--client", action="append", choices=CLIENTS)
    p.add_argument("--json", help="write every run's argv, stdout and stderr here")
    p.add_argument("--no-legacy", action="store_true",
                   help="skip the informational legacy-profile rows")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (server logs, known-hosts files)")
    args = p.parse_args()
    if not os.access(args.sshmock, os.X_OK):
        # Not a skip: without the server nothing was checked, and CTest
        # must not show that as anything but a failure.
        print("check_drivers: no sshmock binary at %s (build it, or --sshmock)" % args.sshmock)
        print("0 passed, 1 failed, 0 skipped")
        return 1

    work = tempfile.mkdtemp(prefix="sshmock-check-drivers-")
    state = os.path.join(work, "state")
    keys = {}
    for name in ("demo_ed25519", "demo_rsa"):
        dst = os.path.join(work, name)
        shutil.copy(os.path.join(KEYS, name), dst)
        os.chmod(dst, 0o600)
        keys[name] = dst
    ck = Checker(args)
    try:
        for client in args.client or CLIENTS:
            check_client(ck, client, args.sshmock, state, work, keys)
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(ck.details, f, indent=1)
        if args.keep:
            print("check_drivers: work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(ck.rows)
    print()
    print("%d passed, %d failed, %d skipped" % (ck.passed, ck.failed, ck.skipped))
    if ck.failed:
        return 1
    if ck.passed == 0:
        # Every client asked for is missing: skipped (ctest's 77), with
        # each driver's reason in the table above.
        print("check_drivers: no client could run")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
