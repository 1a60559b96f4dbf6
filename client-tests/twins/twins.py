#!/usr/bin/python3
"""Twin tests: every catalogue profile beside the real thing it claims to be.

For each profile a twin is started on a loopback port: the real OpenSSH 9.2
sshd with the profile's own sshd_config keywords (its own config, host keys,
PID file, never the system's), a real sshd in a broken state where that is
the real cause (host keys deleted under a running sshd, a wrong-permission
privilege-separation directory, a stopped sshd), or a small stand-in
(standin.py) where no daemon can be configured to fail that way. The
profile is served by `sshmock serve`. Each real client runs through its
driver (client-tests/drivers/) against both, with the same command line;
ports, fingerprints, key blobs, temporary paths and timings are normalised,
and exit status and output are compared.

A cell is `identical`, `known` (the difference is listed in
known-differences.txt with its reason and what the C side must change) or
`different`. The run exits 1 when any cell is `different` (or could not
run), 0 otherwise, and ends with `N/M identical` and a
`N passed, N failed` line.

The login user: sshd needs a real account `demo` (password `demo`, the
matrix's keys). None is created on the system: sshd runs in a private mount
namespace (unshare -m) where /etc/passwd and /etc/shadow are bind-mounted
copies with that one extra line, so the account exists for that sshd only
and vanishes with it. This needs root (CI runs as root); without it the
suite exits 77 (skipped) and says why.
"""

import argparse
import concurrent.futures
import difflib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PROFILES = os.path.join(TOP, "profiles")
DRIVERS = os.path.join(TOP, "client-tests", "drivers")
CLIENTS = ["openssh", "plink", "dbclient", "paramiko", "asyncssh", "ssh2", "libssh"]
SSHD = "/usr/sbin/sshd"
COMMAND = "echo hello"
DEMO_UID = 64123          # not in Debian's reserved ranges; only inside the namespace
SKIP = 77

# The sshd_config keywords a profile may carry that mean the same in sshd.
SSHD_KEYWORDS = {
    "kexalgorithms", "ciphers", "macs", "hostkeyalgorithms",
    "pubkeyacceptedalgorithms", "passwordauthentication", "pubkeyauthentication",
    "kbdinteractiveauthentication", "maxauthtries", "logingracetime", "maxstartups",
}

KEYGEN = {  # HostKey generate:TYPE -> ssh-keygen arguments
    "ed25519": ["-t", "ed25519"],
    "ecdsa-256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa-384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa-521": ["-t", "ecdsa", "-b", "521"],
    "rsa-2048": ["-t", "rsa", "-b", "2048"],
    "rsa-3072": ["-t", "rsa", "-b", "3072"],
    "rsa-4096": ["-t", "rsa", "-b", "4096"],
    "rsa-1024": ["-t", "rsa", "-b", "1024"],
    "dsa": ["-t", "dsa"],     # Debian's 9.2 still makes and serves DSA keys
}
DEFAULT_HOSTKEYS = ["ed25519", "rsa-3072", "ecdsa-256"]

# How each catalogue profile is twinned. "sshd" twins run the real sshd
# with the profile's keywords; "state" names the broken state it is put
# in; "standin" names a standin.py mode. "note" is printed under the table.
# Profiles no daemon here can play, and why (listed in the report, so a new
# profile without a twin still fails the suite until it is here or there).
NO_TWIN = {
    "legacy-arcfour-blowfish": "sshd 9.2 has neither arcfour nor blowfish-cbc (removed in 7.6), "
                               "so it cannot offer this server's ciphers at all",
    "legacy-gex-sha1-1024": "sshd 9.2 with a 1024-bit moduli file falls back to a built-in "
                            "2048-bit group for a client asking 2048 or more; the appliance "
                            "this plays sends its 1024-bit group anyway",
    "putty-no-common-cipher": "sshd 9.2 has none of this server's ciphers (Twofish and Serpent "
                              "were never in OpenSSH, CAST-128 went in 7.6), so it cannot offer them",
    "putty-no-common-kex": "sshd 9.2 has none of the vendor's @ssh.com key exchange names, so it "
                           "cannot offer them",
    "legacy-cisco-ios": "sshd 9.2 cannot send an SSH-1.99 identification (protocol 1 is gone); "
                        "the SSH-1.99 exchange hash is also the engine's patch (until it is in, "
                        "plink and paramiko fail on the host key signature)",
}

TWINS = {
    "modern": {"kind": "sshd"},
    "hardened": {"kind": "sshd"},
    "legacy-kex-group1": {"kind": "sshd"},
    "legacy-ciphers-cbc": {"kind": "sshd"},
    "legacy-macs-sha1": {"kind": "sshd"},
    "legacy-hostkey-ssh-rsa": {"kind": "sshd"},
    "legacy-openssh5": {"kind": "sshd"},
    # Debian's sshd 9.2 still implements ssh-dss, hmac-md5(-96) and
    # hmac-sha1-96 (off by default): configured with the profile's lists,
    # it is the twin.
    "legacy-dss-only": {"kind": "sshd"},
    "legacy-hmac-md5": {"kind": "sshd"},
    "legacy-hmac-sha1-96": {"kind": "sshd"},
    # Debian 12's own sshd at its defaults: the profile's lists are its
    # sshd -T lists (host keys: what it puts on the wire for its three keys).
    "openssh-9-stock": {"kind": "sshd"},
    "pubkey-only": {"kind": "sshd"},
    "too-many-auth-failures": {"kind": "sshd"},
    "rsa-sha1-refused": {"kind": "sshd"},
    "maxstartups": {"kind": "sshd"},
    "hostkey-changed": {"kind": "sshd", "state": "new-key-each-run",
                        "note": "sshd restarted on the same port with a new host key between "
                                "the recording run and the measured run"},
    "hostkeys-missing": {"kind": "sshd", "state": "keys-deleted",
                         "note": "a running sshd whose host key files were deleted (an sshd "
                                 "started without any refuses to start: Connection refused)"},
    "closed-after-client-kexinit": {"kind": "sshd", "state": "no-chroot",
                                    "note": "sshd whose privilege-separated child cannot "
                                            "chroot into /run/sshd (started without "
                                            "CAP_SYS_CHROOT, as in a container that drops it): "
                                            "it dies after the identifications, before "
                                            "sshd's KEXINIT"},
    "privsep-dir-broken": {"kind": "sshd", "state": "privsep-dir-writable",
                           "note": "a running sshd whose /run/sshd is group/other "
                                   "writable (bind-mounted in its namespace)"},
    "ident-stall": {"kind": "sshd", "state": "stopped",
                    "note": "a running sshd stopped with SIGSTOP (the kernel still "
                            "accepts into its backlog)"},
    "corrupt-after-newkeys": {"kind": "sshd", "proxy": "flip",
                              "note": "real sshd behind standin.py flip (one byte of the "
                                      "first encrypted server bytes XOR 0x5a)"},
    "closed-before-ident": {"kind": "standin", "mode": "no-backend",
                            "note": "standin.py no-backend: a TCP proxy whose backend is down"},
    "reset-before-ident": {"kind": "standin", "mode": "reset",
                           "note": "standin.py reset: accept, wait for the client's first bytes, SO_LINGER 0, close"},
    "closed-after-ident": {"kind": "standin", "mode": "ident-then-no-backend",
                           "note": "standin.py ident-then-no-backend: a load balancer that "
                                   "sends the identification, then finds no backend"},
    "protocol-1": {"kind": "standin", "mode": "ssh1",
                   "note": "standin.py ssh1: what OpenSSH 3.9's sshd does with protocol 1 "
                           "only (sends SSH-1.5, answers a 2.0 client 'Protocol major "
                           "versions differ.')"},
}


def log(msg):
    sys.stderr.write("twins: %s\n" % msg)
    sys.stderr.flush()


# -- profiles -------------------------------------------------------------

# What the twin sshd can offer: a profile may name algorithms sshd 9.2 no
# longer implements (arcfour, blowfish-cbc, hmac-md5... offered exactly by
# sshmock, "offer-only"); sshd refuses a config naming them, so the twin gets
# the part it can speak. Cells where a client prints the dropped names are
# then known differences of the twin, not of sshmock.
SSHD_QUERY = {"ciphers": "cipher", "macs": "mac", "kexalgorithms": "kex",
              "hostkeyalgorithms": "key-sig"}
_sshd_can = {}


def sshd_can(keyword):
    q = SSHD_QUERY.get(keyword.lower())
    if q is None:
        return None
    if q not in _sshd_can:
        # sshd has no -Q; ssh of the same OpenSSH build lists the same.
        out = subprocess.run(["ssh", "-Q", q], capture_output=True, text=True).stdout
        _sshd_can[q] = set(out.split())
    return _sshd_can[q]


def sshd_value(keyword, value):
    """The value as the twin sshd can take it (plain lists only)."""
    can = sshd_can(keyword)
    if can is None or value[:1] in "+-^":
        return value
    kept = [a for a in value.split(",") if a in can]
    return ",".join(kept) if kept else value


class Profile:
    def __init__(self, name):
        self.name = name
        self.path = os.path.join(PROFILES, name + ".conf")
        self.sshd = []            # (Keyword, value) for sshd_config
        self.hostkeys = []
        self.ident = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
        self.auth = "password"
        self.hold = 0
        self.known_host = False
        self.options = {}         # client -> [KEY=VALUE]
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                kw, _, rest = line.partition(" ")
                rest = rest.strip()
                k = kw.lower()
                if k in SSHD_KEYWORDS:
                    self.sshd.append((kw, sshd_value(kw, rest)))
                elif k == "hostkey":
                    self.hostkeys.append(rest)
                elif k == "identification":
                    self.ident = rest
                elif k == "matrixauth":
                    self.auth = rest
                elif k == "matrixhold":
                    self.hold = int(rest)
                elif k == "matrixknownhost":
                    self.known_host = rest == "yes"
                elif k == "clientoptions":
                    c, _, opt = rest.partition(" ")
                    self.options.setdefault(c, []).extend(opt.split())
        if not self.hostkeys:
            self.hostkeys = ["generate:" + t for t in DEFAULT_HOSTKEYS]


# -- servers --------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening_line(proc, path, what, deadline=15.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with open(path) as f:
            for line in f:
                if line.startswith("listening on ") and line.endswith("\n"):
                    return int(line.rsplit(":", 1)[1])
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before listening" % (what, proc.returncode))
        time.sleep(0.05)
    raise RuntimeError("%s did not print 'listening on' within %.0f s" % (what, deadline))


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Mock:
    """sshmock serve PROFILE --port 0."""

    def __init__(self, sshmock, profile, tmp):
        self.sshmock = sshmock
        self.profile = profile
        self.dir = os.path.join(tmp, "mock")
        os.makedirs(self.dir)
        self.proc = None
        self.port = None

    def start(self):
        out = os.path.join(self.dir, "stdout")
        with open(out, "w") as so, open(os.path.join(self.dir, "stderr"), "w") as se:
            self.proc = subprocess.Popen(
                [self.sshmock, "serve", self.profile.path, "--port", "0",
                 "--state-dir", os.path.join(self.dir, "state")],
                stdin=subprocess.DEVNULL, stdout=so, stderr=se, start_new_session=True)
        self.port = wait_listening_line(self.proc, out, "sshmock")

    def rotate(self):
        pass        # HostKeyRotation does it on each connection

    def stop(self):
        stop(self.proc)


class Twin:
    """The real thing: sshd (maybe in a broken state, maybe behind a
    proxy) or a stand-in."""

    def __init__(self, profile, tmp, shared):
        self.profile = profile
        self.spec = TWINS[profile.name]
        self.dir = os.path.join(tmp, "twin")
        os.makedirs(self.dir)
        self.shared = shared
        self.procs = []
        self.port = None
        self.generation = 0

    # sshd ---------------------------------------------------------------
    def _keys(self):
        paths = []
        for i, hk in enumerate(self.profile.hostkeys):
            if hk == "none":
                hk = "generate:ed25519"   # keys-deleted: it had keys when it started
            t = hk.split(":", 1)[1]
            path = os.path.join(self.dir, "hostkey%d-%d_%s" % (self.generation, i, t))
            for old in (path, path + ".pub"):     # a start tried again
                if os.path.exists(old):
                    os.unlink(old)
            subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", "", "-f", path] + KEYGEN[t],
                           check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            paths.append(path)
        return paths

    def _sshd_config(self, port, keys):
        lines = ["Port %d" % port, "ListenAddress 127.0.0.1",
                 "PidFile %s/sshd.pid" % self.dir,
                 "UsePAM yes",                      # as Debian's sshd_config
                 "AuthorizedKeysFile %s" % self.shared["authorized_keys"],
                 # The key file lives under /tmp (1777), which StrictModes
                 # refuses; the server's design is not at stake there.
                 "StrictModes no",
                 "PermitRootLogin no", "PrintMotd no", "LogLevel VERBOSE"]
        lines += ["HostKey %s" % k for k in keys]
        lines += ["%s %s" % kv for kv in self.profile.sshd]
        path = os.path.join(self.dir, "sshd_config")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _start_sshd(self, port):
        keys = self._keys()
        self.keys = keys
        cfg = self._sshd_config(port, keys)
        t = subprocess.run([SSHD, "-t", "-f", cfg], capture_output=True, text=True)
        if t.returncode != 0:
            raise RuntimeError("sshd -t refused the twin's config: %s" % t.stderr.strip())
        mounts = ["mount --bind %s /etc/passwd" % self.shared["passwd"],
                  "mount --bind %s /etc/shadow" % self.shared["shadow"]]
        if self.spec.get("state") == "privsep-dir-writable":
            # Good at start (sshd checks it then and refuses to start),
            # broken while it runs: see start().
            bad = os.path.join(self.dir, "run-sshd")
            os.makedirs(bad, exist_ok=True)
            os.chmod(bad, 0o755)
            mounts.append("mount --bind %s /run/sshd" % bad)
        script = "set -e; %s; exec %s -D -e -f %s" % ("; ".join(mounts), SSHD, cfg)
        if self.spec.get("state") == "no-chroot":
            # Root without CAP_SYS_CHROOT in its bounding set: sshd starts
            # and listens, and each connection's privsep child fails its
            # chroot("/run/sshd") (fatal ... [preauth]).
            script = "set -e; %s; exec capsh --drop=cap_sys_chroot -- -c 'exec %s -D -e -f %s'" % (
                "; ".join(mounts), SSHD, cfg)
        logpath = os.path.join(self.dir, "sshd.log")
        start = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        err = open(logpath, "a")
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
        self.procs.append(proc)
        # Ready when sshd itself says so: a connection probe could reach
        # another program that took the port, and would take one of the
        # MaxStartups slots.
        ready = "Server listening on 127.0.0.1 port %d." % port
        end = time.monotonic() + 15
        while True:
            with open(logpath) as f:
                f.seek(start)
                text = f.read()
            if ready in text:
                return proc
            if proc.poll() is not None or time.monotonic() > end:
                stop(proc)
                self.procs.remove(proc)
                tail = text.strip().splitlines()[-3:]
                raise RuntimeError("sshd did not listen on port %d (exit %s); its log ends: %s"
                                   % (port, proc.returncode, " | ".join(tail)))
            time.sleep(0.05)

    def _start_sshd_retrying(self, port=None):
        """The port comes from binding port 0 and closing it, so another
        program on the machine may take it before sshd binds it ("Address
        already in use"): try another one, a bounded number of times (the
        same one again, after a pause, when it must stay the same)."""
        for attempt in range(5):
            p = port if port is not None else free_port()
            try:
                return p, self._start_sshd(p)
            except RuntimeError as e:
                err = e
                log("%s: sshd did not start on port %d (%s); trying again"
                    % (self.profile.name, p, e))
                time.sleep(0.5)
        raise err

    def start(self):
        kind = self.spec["kind"]
        if kind == "standin":
            out = os.path.join(self.dir, "standin.out")
            with open(out, "w") as so:
                proc = subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "standin.py"), self.spec["mode"],
                     "--ident", self.profile.ident],
                    stdin=subprocess.DEVNULL, stdout=so, stderr=subprocess.STDOUT,
                    start_new_session=True)
            self.procs.append(proc)
            self.port = wait_listening_line(proc, out, "standin.py")
            return
        self.sshd_port, self.sshd = self._start_sshd_retrying()
        self.port = self.sshd_port
        state = self.spec.get("state")
        if state == "keys-deleted":
            for k in self.keys:
                os.unlink(k)
                os.unlink(k + ".pub")
        elif state == "privsep-dir-writable":
            os.chmod(os.path.join(self.dir, "run-sshd"), 0o777)
        elif state == "stopped":
            os.killpg(self.sshd.pid, signal.SIGSTOP)
        if self.spec.get("proxy"):
            out = os.path.join(self.dir, "proxy.out")
            with open(out, "w") as so:
                proc = subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "standin.py"), self.spec["proxy"],
                     "--upstream", str(self.sshd_port)],
                    stdin=subprocess.DEVNULL, stdout=so, stderr=subprocess.STDOUT,
                    start_new_session=True)
            self.procs.append(proc)
            self.port = wait_listening_line(proc, out, "standin.py")

    def rotate(self):
        """A new host key on the same port: stop sshd, start it again."""
        if self.spec.get("state") != "new-key-each-run":
            return
        stop(self.sshd)
        self.procs.remove(self.sshd)
        self.generation += 1
        _, self.sshd = self._start_sshd_retrying(self.sshd_port)

    def stop(self):
        for p in self.procs:
            stop(p)


def make_shared(tmp):
    """The demo account and keys, shared by every twin of the run."""
    home = os.path.join(tmp, "demo-home")
    os.makedirs(home)
    os.chown(home, DEMO_UID, 65534)
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    for k in ("demo_ed25519", "demo_rsa"):
        shutil.copy(os.path.join(PROFILES, "keys", k), os.path.join(keys, k))
        os.chmod(os.path.join(keys, k), 0o600)
    ak = os.path.join(tmp, "authorized_keys")
    with open(ak, "w") as f:
        for k in ("demo_ed25519.pub", "demo_rsa.pub"):
            with open(os.path.join(PROFILES, "keys", k)) as pub:
                f.write(pub.read().strip() + "\n")
    os.chmod(ak, 0o644)
    h = subprocess.run(["openssl", "passwd", "-6", "-salt", "twinsalt", "demo"],
                       capture_output=True, text=True, check=True).stdout.strip()
    with open("/etc/passwd") as f:
        passwd = f.read()
    with open("/etc/shadow") as f:
        shadow = f.read()
    pw = os.path.join(tmp, "passwd")
    with open(pw, "w") as f:
        f.write(passwd.rstrip("\n") + "\ndemo:x:%d:65534:demo:%s:/bin/sh\n" % (DEMO_UID, home))
    sh = os.path.join(tmp, "shadow")
    with open(sh, "w") as f:
        f.write(shadow.rstrip("\n") + "\ndemo:%s:19000:0:99999:7:::\n" % h)
    os.chmod(sh, 0o640)
    return {"home": home, "authorized_keys": ak, "passwd": pw, "shadow": sh,
            "key_ed25519": os.path.join(keys, "demo_ed25519"),
            "key_rsa": os.path.join(keys, "demo_rsa")}


# -- clients --------------------------------------------------------------

def driver_argv(client, port, profile, shared, known_hosts, timeout):
    argv = [os.path.join(DRIVERS, client), "--host", "127.0.0.1", "--port", str(port),
            "--user", "demo"]
    if profile.auth == "key":
        argv += ["--key", shared["key_ed25519"]]
    elif profile.auth == "key-rsa":
        argv += ["--key", shared["key_rsa"]]
    elif profile.auth == "wrong-password":
        argv += ["--password", "not-the-password"]
    else:
        argv += ["--password", "demo"]
    argv += ["--known-hosts", known_hosts, "--timeout", str(timeout)]
    for o in profile.options.get(client, []):
        argv += ["--opt", o]
    return argv + ["--command", COMMAND]


def run_driver(argv, build_dir, limit):
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    if build_dir:
        env["SSHMOCK_BUILD_DIR"] = build_dir
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           timeout=limit)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "killed", e.stdout or b"", (e.stderr or b"") + \
            b"\ntwins: the driver did not end within %d s\n" % limit
    return {"rc": rc, "stdout": out.decode("utf-8", "replace"),
            "stderr": err.decode("utf-8", "replace"), "seconds": time.monotonic() - t0}


# -- normalising ------------------------------------------------------------

def normalise(text, ports, profile, twin_side):
    """What does not say anything about the server: ports, fingerprints,
    key blobs, temporary paths, timings. On the twin side, where sshd 9.2
    stands for a profile whose identification names another version, that
    version (sshd cannot send another) is replaced by the profile's."""
    for p in sorted(ports, key=lambda x: -len(str(x))):
        text = re.sub(r"(?<![0-9])%d(?![0-9])" % p, "<PORT>", text)
    # The client's own ephemeral port and object addresses.
    text = re.sub(r"(Local address: [0-9a-f.:]+, port )\d+", r"\1<LPORT>", text)
    text = re.sub(r"\b0x[0-9a-f]{6,}\b", "0x<ADDR>", text)
    # dbclient shortens the expected one.
    text = re.sub(r"SHA256:[A-Za-z0-9+/]{10,43}", "SHA256:<FP>", text)
    text = re.sub(r"b'[0-9a-f]{32}'", "b'<MD5>'", text)     # paramiko's key hashes
    text = re.sub(r"MD5:([0-9a-f]{2}:){15}[0-9a-f]{2}", "MD5:<FP>", text)
    text = re.sub(r"(?<![0-9a-f:])([0-9a-f]{2}:){15}[0-9a-f]{2}(?![0-9a-f:])", "<FP>", text)
    text = re.sub(r"AAAA[A-Za-z0-9+/]{40,}={0,2}", "<KEYBLOB>", text)
    text = re.sub(r"/tmp/[^\s'\",)]+", "<TMP>", text)
    text = re.sub(r"\b\d+(\.\d+)? ?(s|ms|sec|seconds)\b", "<T>", text)
    # Whether this CPU accelerates a hash is not the server's doing.
    text = re.sub(r"\((SHA-NI accelerated|unaccelerated)\)", "(<ACCEL>)", text)
    # The Debian patch level of the installed sshd is not the server's design.
    text = re.sub(r"(OpenSSH_9\.2p1 Debian-2\+deb12u)\d+", r"\1N", text)
    if twin_side and not profile.ident.startswith("SSH-2.0-OpenSSH_9.2p1"):
        sw = profile.ident.split("-", 2)[2]
        text = text.replace("OpenSSH_9.2p1 Debian-2+deb12uN", sw)
        text = text.replace("OpenSSH_9.2p1", sw.split(" ")[0])
    return text


def output_of(run):
    """The client's words as compared: stdout, then stderr, and the status."""
    return run["stdout"] + ("\n--- stderr ---\n" if run["stderr"] else "") + run["stderr"]


def first_difference(a, b):
    """The first line where the twin's output and the mock's part ways:
    (twin's line, mock's line), "(nothing)" where one side has no line."""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a.splitlines(),
                                                       b.splitlines(), autojunk=False).get_opcodes():
        if tag != "equal":
            x = a.splitlines()[i1] if i1 < i2 else "(nothing)"
            y = b.splitlines()[j1] if j1 < j2 else "(nothing)"
            return x.strip()[:160], y.strip()[:160]
    return "(same)", "(same)"


# -- known differences ----------------------------------------------------

MASKS = []     # (compiled regex, replacement, reason): see known-differences.txt


def load_known(path):
    """The per-cell entries, {(profile, client): reason}; `mask` lines go
    to MASKS."""
    known = {}
    if not os.path.exists(path):
        return known
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.startswith("mask "):
                m = re.match(r"mask (.+?) =>(.*?);; (.+)$", line)
                if not m:
                    raise SystemExit("%s:%d: expected mask REGEX => REPLACEMENT ;; REASON"
                                     % (path, n))
                MASKS.append((re.compile(m.group(1)), m.group(2).strip(), m.group(3)))
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise SystemExit("%s:%d: expected PROFILE CLIENT REASON" % (path, n))
            known[(parts[0], parts[1])] = parts[2]
    return known


def known_reason(known, profile, client):
    return known.get((profile, client)) or known.get((profile, "*"))


# -- one profile ------------------------------------------------------------

def hold_connections(port, n):
    """N idle connections the server counts as unauthenticated. sshd
    counts a connection until its child has seen it close, so the probe
    that found the port open may still hold a slot: a held connection the
    server refused at once (it says "Exceeded MaxStartups" or closes) is
    opened again, a bounded number of times."""
    held = []
    if n == 0:
        return held
    time.sleep(0.5)
    for _ in range(n):
        for attempt in range(10):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.settimeout(0.5)
            try:
                data = s.recv(64, socket.MSG_PEEK)
            except socket.timeout:
                data = b"(nothing yet)"
            if data.startswith(b"SSH-") or data == b"(nothing yet)":
                held.append(s)
                break
            s.close()
            time.sleep(0.3)
        else:
            raise RuntimeError("could not hold %d connections on port %d" % (n, port))
    time.sleep(0.3)
    return held


def cell(client, one, ports, profile, retries):
    """Runs the client against both sides until one output of the twin's
    equals one of the mock's, at most 1 + retries times each: a client that
    is racy by itself (libssh's KEXINIT-or-close race, paramiko's threads)
    prints one of several things against the same server, and the cell is
    identical when the mock can make it print what the twin does."""
    runs = {"twin": [], "mock": []}
    for attempt in range(1 + retries):
        for side in ("twin", "mock"):
            r = one(client, side, attempt)
            r["norm"] = normalise(output_of(r), ports, profile, side == "twin")
            r["masked"], r["masks"] = apply_masks(r["norm"])
            runs[side].append(r)
        for t in runs["twin"]:
            for m in runs["mock"]:
                if t["rc"] == m["rc"] and t["norm"] == m["norm"]:
                    return {"twin": t, "mock": m, "attempts": attempt + 1, "same": True}
    # Identical but for documented differences sshmock cannot remove.
    for t in runs["twin"]:
        for m in runs["mock"]:
            if t["rc"] == m["rc"] and t["masked"] == m["masked"]:
                return {"twin": t, "mock": m, "attempts": 1 + retries, "same": False,
                        "masked_same": sorted(set(t["masks"]) | set(m["masks"]))}
    return {"twin": runs["twin"][0], "mock": runs["mock"][0], "attempts": 1 + retries,
            "same": False,
            "variants": {side: sorted({r["norm"] for r in runs[side]}) for side in runs}}


def apply_masks(text):
    """The text with every mask applied, and the reasons of those that
    changed it."""
    used = []
    for rx, repl, reason in MASKS:
        new = rx.sub(repl, text)
        if new != text:
            used.append(reason)
            text = new
    return text, used


def run_profile(name, clients, a, shared, tmp_root, build_dir):
    profile = Profile(name)
    tmp = tempfile.mkdtemp(prefix="%s-" % name, dir=tmp_root)
    mock = Mock(a.sshmock, profile, tmp)
    twin = Twin(profile, tmp, shared)
    results = {}
    limit = int(2 * a.timeout + 30)
    try:
        mock.start()
        twin.start()
        ports = {mock.port, twin.port, getattr(twin, "sshd_port", twin.port)}
        sides = {"twin": twin, "mock": mock}

        def kh(client, side, attempt):
            # Every attempt a fresh client, but for a profile measured on a
            # recorded host key (its recording run is not repeated).
            n = 0 if profile.known_host else attempt
            return os.path.join(tmp, "kh", client, side, str(n), "known_hosts")

        def one(client, side, attempt=0):
            argv = driver_argv(client, sides[side].port, profile, shared,
                               kh(client, side, attempt), a.timeout)
            return run_driver(argv, build_dir, limit)

        serial = profile.hold > 0 or profile.known_host
        workers = 1 if serial else a.inner
        if profile.known_host:
            for c in clients:
                for side in sides:
                    r = one(c, side)
                    if r["rc"] != 0:
                        log("%s %s %s: the recording run failed (%s)" % (name, c, side, r["rc"]))
            for s in sides.values():
                s.rotate()
        held = []
        for s in sides.values():
            held += hold_connections(s.port, profile.hold)
        try:
            with concurrent.futures.ThreadPoolExecutor(workers) as ex:
                retries = 0 if profile.known_host else a.retries
                futs = {c: ex.submit(cell, c, one, ports, profile, retries) for c in clients}
                for c, f in futs.items():
                    results[c] = f.result()
        finally:
            for s in held:
                s.close()
    except Exception as e:   # a server that would not start: every cell says so
        for c in clients:
            results[c] = {"error": "%s: %s" % (type(e).__name__, e)}
    finally:
        mock.stop()
        twin.stop()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def verdict(res, known, profile, client):
    if "error" in res:
        return "error", res["error"]
    if res["same"]:
        return "identical", None
    if res.get("masked_same"):
        return "known", "masked: " + "; ".join(res["masked_same"])
    reason = known_reason(known, profile, client)
    return ("known", reason) if reason else ("different", None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.environ.get("SSHMOCK_BIN",
                                                        os.path.join(TOP, "build", "sshmock")))
    ap.add_argument("--profile", action="append", default=[])
    ap.add_argument("--client", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=2, help="profiles at once")
    ap.add_argument("--inner", type=int, default=2, help="client runs at once per profile")
    ap.add_argument("--timeout", type=int, default=5, help="the drivers' --timeout")
    ap.add_argument("--retries", type=int, default=2,
                    help="extra runs of a cell whose outputs differ (racy clients)")
    ap.add_argument("--known", default=os.path.join(HERE, "known-differences.txt"))
    ap.add_argument("--json", help="write every run (argv, outputs) here")
    ap.add_argument("--markdown", help="write the table as markdown here")
    ap.add_argument("--diff", action="store_true", help="print the diff of every non-identical cell")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    a = ap.parse_args()

    if os.geteuid() != 0:
        print("skipped twins: needs root (sshd twins run in a private mount namespace "
              "with a throwaway demo account)")
        return SKIP
    # Root inside a container may still lack CAP_SYS_ADMIN for a mount
    # namespace: then no sshd twin can run here.
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print("skipped twins: cannot make a private mount namespace here (%s)"
              % (probe.stderr.strip() or "unshare -m failed"))
        return SKIP
    for need in (SSHD, shutil.which("unshare"), shutil.which("ssh-keygen")):
        if not need or not os.path.exists(need):
            print("twins: FAIL: %s is missing (scripts/setup.sh installs openssh-server)" % need)
            return 1
    if not os.path.exists(a.sshmock):
        print("twins: FAIL: no sshmock binary at %s" % a.sshmock)
        return 1
    a.sshmock = os.path.abspath(a.sshmock)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # sshd's privsep directory
    build_dir = os.environ.get("SSHMOCK_BUILD_DIR") or os.path.dirname(a.sshmock)

    names = a.profile or sorted(TWINS)
    for n in names:
        if n not in TWINS:
            print("twins: FAIL: no twin for profile %s" % n)
            return 1
    catalogue = sorted(f[:-5] for f in os.listdir(PROFILES) if f.endswith(".conf"))
    untwinned = [n for n in catalogue if n not in TWINS and n not in NO_TWIN]
    clients = a.client or CLIENTS
    known = load_known(a.known)

    t0 = time.monotonic()
    tmp_root = tempfile.mkdtemp(prefix="sshmock-twins-")
    os.chmod(tmp_root, 0o755)     # the demo account's home is under it
    try:
        shared = make_shared(tmp_root)
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            futs = {n: ex.submit(run_profile, n, clients, a, shared, tmp_root, build_dir)
                    for n in names}
            results = {n: f.result() for n, f in futs.items()}
    finally:
        if not a.keep:
            shutil.rmtree(tmp_root, ignore_errors=True)
    wall = time.monotonic() - t0
    return report(a, names, clients, results, known, untwinned, wall)


def racy(res, v):
    """"~": identical only on a later attempt (the real client printed
    something else first: it is racy against this server)."""
    return "~" if v == "identical" and res.get("attempts", 1) > 1 else ""


def report(a, names, clients, results, known, untwinned, wall):
    cells = []
    for n in names:
        for c in clients:
            v, why = verdict(results[n][c], known, n, c)
            cells.append((n, c, v, why))
    width = max(len(n) for n in names) + 2
    print("%-*s" % (width, "PROFILE") + "".join("%-11s" % c for c in clients))
    for n in names:
        row = [v + racy(results[n][c], v) for (p, c, v, _) in cells if p == n]
        print("%-*s" % (width, n) + "".join("%-11s" % v for v in row))
    print()
    bad = [x for x in cells if x[2] in ("different", "error")]
    for (n, c, v, why) in cells:
        if v == "identical":
            continue
        r = results[n][c]
        print("%s %s: %s" % (n, c, v.upper()))
        if v == "error":
            print("    %s" % why)
            continue
        if v == "known":
            print("    known: %s" % why)
        x, y = first_difference(r["twin"]["norm"], r["mock"]["norm"])
        print("    twin: exit %s  %s" % (r["twin"]["rc"], x))
        print("    mock: exit %s  %s" % (r["mock"]["rc"], y))
        if a.diff or v == "different":
            for l in difflib.unified_diff(r["twin"]["norm"].splitlines(),
                                          r["mock"]["norm"].splitlines(),
                                          "twin", "sshmock", lineterm="", n=1):
                print("      " + l)
    stale = [(n, c) for (n, c, v, _) in cells
             if ((v == "identical" and results[n][c].get("attempts", 1) == 1)
                 or (v == "known" and results[n][c].get("masked_same")))
             and (n, c) in known]
    for (n, c) in stale:
        print("note: %s %s is listed as known but was identical (at once, or but for a mask): "
              "when it stays so over several runs, remove its line from known-differences.txt"
              % (n, c))
    for n in untwinned:
        print("FAIL: profile %s has no twin in twins.py (nor a reason in NO_TWIN)" % n)
    for n, why in sorted(NO_TWIN.items()):
        print("no twin for %s: %s" % (n, why))
    print()
    print("~ = identical on a later attempt only: the client printed something else the first "
          "time (a race in the client or in how the server hangs up)")
    for n in names:
        note = TWINS[n].get("note")
        if note:
            print("twin of %s: %s" % (n, note))
    ident = sum(1 for x in cells if x[2] == "identical")
    nknown = sum(1 for x in cells if x[2] == "known")
    print()
    print("%d/%d identical, %d known differences, %d different, %d errors (%.0f s)"
          % (ident, len(cells), nknown, sum(1 for x in cells if x[2] == "different"),
             sum(1 for x in cells if x[2] == "error"), wall))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({n: results[n] for n in names}, f, indent=1)
    if a.markdown:
        write_markdown(a.markdown, names, clients, cells, results)
    passed = len(cells) - len(bad)
    print("twins: %d passed, %d failed" % (passed, len(bad)))
    return 1 if bad or untwinned else 0


def write_markdown(path, names, clients, cells, results):
    mark = {"identical": "=", "known": "known", "different": "DIFF", "error": "error"}
    with open(path, "w") as f:
        f.write("| profile | " + " | ".join(clients) + " |\n")
        f.write("|---|" + "---|" * len(clients) + "\n")
        for n in names:
            row = [mark[v] + racy(results[n][c], v) for (p, c, v, _) in cells if p == n]
            f.write("| %s | %s |\n" % (n, " | ".join(row)))
        f.write("\n= identical, =~ identical on a later attempt only (a racy client), "
                "known: listed in known-differences.txt, DIFF: an undocumented difference\n\n")
        said = {}
        for (n, c, v, why) in cells:
            if v in ("identical", "error"):
                continue
            r = results[n][c]
            if why and why in said:
                reason = ": as %s" % said[why]
            else:
                reason = (": " + why) if why else ""
                said[why] = "%s / %s" % (n, c)
            f.write("- **%s / %s** (%s)%s\n" % (n, c, v, reason))
            x, y = first_difference(r["twin"]["norm"], r["mock"]["norm"])
            f.write("  - real: exit %s, first difference `%s`\n" % (r["twin"]["rc"], x))
            f.write("  - sshmock: exit %s, `%s`\n" % (r["mock"]["rc"], y))

if __name__ == "__main__":
    sys.exit(main())
