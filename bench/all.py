#!/usr/bin/python3
"""Every figure of issue 11 in one run and one table: sshmock beside
OpenSSH's sshd and dropbear, started by this run on loopback.

  cpu       server CPU per connection (its process and every child it
            waited for, from /proc), and the client's own CPU for the same
            connections (real OpenSSH ssh, one at a time): key exchange up
            to a refused authentication; the same with key login and an
            exec; legacy diffie-hellman-group1-sha1 + ssh-rsa (2048-bit
            host key in OpenSSH format) up to authentication.
  memory    the server's PSS per connection with K connections held: TCP
            open and silent, identification sent, after key exchange.
  rate      handshakes per second with sshmock --workers 1..CPUs, and the
            peers, C clients at a time.
  latency   sequential `ssh host 'echo hello'`: p50/p90/p99, and how many
            runs a delayed-ACK stall (40 ms) would show; between the runs,
            the same ssh with -G (no connection) as the machine's own tail.
  idle      N silent connections held (bench/idle.py), memory per
            connection, and one real ssh exec among them.

The machine is shared: figures are medians where repeated, and noisy;
compare the columns of one run. sshd and dropbear need root (privilege
separation; dropbear's key login is given a private /root in a mount
namespace of its own); without them their column says why.

  /usr/bin/python3 bench/all.py [--quick] [--sshmock build/sshmock] [--only cpu,memory,...]
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import idle  # noqa: E402
import latency  # noqa: E402
from bench import Server, free_port  # noqa: E402
from scale import cpu_seconds, group1_profile, memory_state  # noqa: E402

PEERS = ("sshmock", "openssh-sshd", "dropbear")
DEMO_PUB = os.path.join(TOP, "profiles/keys/demo_ed25519.pub")
T0 = time.monotonic()


def progress(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


# --- servers ---------------------------------------------------------------------

class Peers:
    """Makes each server for a kind of run: modern (curve25519 + ed25519) or
    legacy (group1 + ssh-rsa 2048); extra goes to sshmock."""

    def __init__(self, sshmock, tmp):
        self.sshmock, self.tmp = sshmock, tmp
        self.rsa = os.path.join(tmp, "rsa2048")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f",
                        self.rsa], check=True)
        self.ed = os.path.join(tmp, "ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.ed],
                       check=True)
        self.roomy = idle.roomy_profile(tmp)
        self.group1 = group1_profile(tmp, self.rsa)
        # dropbear reads ~root/.ssh/authorized_keys only: a private home
        self.home = os.path.join(tmp, "root-home")
        os.makedirs(os.path.join(self.home, ".ssh"), mode=0o700)
        os.chmod(self.home, 0o700)
        shutil.copyfile(DEMO_PUB, os.path.join(self.home, ".ssh/authorized_keys"))
        os.chmod(os.path.join(self.home, ".ssh/authorized_keys"), 0o600)

    def user(self, name):
        return "demo" if name == "sshmock" else "root"

    def make(self, name, kind="modern", extra=()):
        port = free_port()
        if name == "sshmock":
            prof = self.group1 if kind == "legacy" else self.roomy
            return Server(name, [self.sshmock, "serve", prof, "--port", str(port), "--quiet",
                                 "--state-dir", os.path.join(self.tmp, "state")] +
                          list(extra), port)
        if os.geteuid() != 0:
            return Server(name, [], port, why_not="needs root")
        if name == "openssh-sshd":
            sshd = shutil.which("sshd") or "/usr/sbin/sshd"
            if not os.path.exists(sshd):
                return Server(name, [], port, why_not="not installed (openssh-server)")
            cfg = os.path.join(self.tmp, "sshd_config_%d" % port)
            with open(cfg, "w") as f:
                f.write("Port %d\nListenAddress 127.0.0.1\nPidFile none\nUsePAM no\n"
                        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
                        "StrictModes no\nAuthorizedKeysFile %s\nUseDNS no\nLogLevel ERROR\n"
                        "MaxStartups 100000:30:100000\nLoginGraceTime 0\n" % (port, DEMO_PUB))
                if kind == "legacy":
                    f.write("HostKey %s\nKexAlgorithms diffie-hellman-group1-sha1\n"
                            "HostKeyAlgorithms ssh-rsa\n" % self.rsa)
                else:
                    f.write("HostKey %s\n" % self.ed)
            os.makedirs("/run/sshd", exist_ok=True)
            return Server(name, [sshd, "-D", "-e", "-f", cfg], port)
        dropbear = shutil.which("dropbear") or "/usr/sbin/dropbear"
        if not os.path.exists(dropbear) or not shutil.which("unshare"):
            return Server(name, [], port, why_not="not installed (dropbear-bin, unshare)")
        key = os.path.join(self.tmp, "dropbear_%s_%d" % (kind, port))
        subprocess.run(["dropbearkey", "-t", "rsa" if kind == "legacy" else "ed25519",
                        "-s", "2048", "-f", key] if kind == "legacy" else
                       ["dropbearkey", "-t", "ed25519", "-f", key],
                       capture_output=True, check=True)
        script = "mount --bind %s /root && exec %s -F -E -s -r %s -p 127.0.0.1:%d" % (
            self.home, dropbear, key, port)
        return Server(name, ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                      port)


# --- clients ---------------------------------------------------------------------

LEGACY = ["-o", "KexAlgorithms=diffie-hellman-group1-sha1", "-o", "HostKeyAlgorithms=ssh-rsa"]


def ssh_once(port, kh, user, key=None, extra=(), command="true"):
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=" + kh, "-o", "ConnectTimeout=10"] + list(extra)
    if key is None:
        argv += ["-o", "PreferredAuthentications=none"]
    else:
        argv += ["-i", key, "-o", "IdentitiesOnly=yes"]
    r = subprocess.run(argv + ["-p", str(port), "%s@127.0.0.1" % user, command],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if key is None:
        return "Permission denied" in r.stderr
    return r.returncode == 0


class CpuMeter:
    """Server CPU in seconds: a cgroup (v1 cpuacct) of its own when one can
    be made, so that every process it forks counts, at nanosecond
    resolution; else /proc (the process and the children it waited for,
    in clock ticks)."""

    def __init__(self, pid):
        self.pid, self.dir = pid, None
        base = "/sys/fs/cgroup/cpuacct"
        try:
            d = os.path.join(base, "sshmock-bench-%d" % pid)
            os.mkdir(d)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("%d\n" % pid)
            self.dir = d
        except OSError:
            pass

    def seconds(self):
        if self.dir is None:
            return cpu_seconds(self.pid)
        with open(os.path.join(self.dir, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def close(self):
        if self.dir is None:
            return
        for _ in range(50):  # the server's processes leave it as they exit
            try:
                os.rmdir(self.dir)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cpu_row(peers, kind, n, key):
    """{server: (server ms, client ms, ok)} for n sequential connections."""
    out = {}
    for name in PEERS:
        meter = None
        srv = peers.make(name, "legacy" if kind == "legacy" else "modern")
        if not srv.start():
            out[name] = srv.why_not
            continue
        try:
            kh = os.path.join(peers.tmp, "kh-cpu-%d" % srv.port)
            user = peers.user(name) if kind == "exec" else "bench"
            k = key if kind == "exec" else None
            extra = LEGACY if kind == "legacy" else ()
            meter = CpuMeter(srv.proc.pid)
            ssh_once(srv.port, kh, user, k, extra)  # warm-up, known_hosts
            time.sleep(0.2)
            s0, c0 = meter.seconds(), children_cpu()
            ok = sum(ssh_once(srv.port, kh, user, k, extra) for _ in range(n))
            time.sleep(0.3)  # the last connection's processes finish
            s1, c1 = meter.seconds(), children_cpu()
            out[name] = ((s1 - s0) / n * 1000, (c1 - c0) / n * 1000, ok) if ok else \
                "no connection got through (%s)" % ("no group1 + ssh-rsa" if kind == "legacy"
                                                     else "refused")
        finally:
            srv.stop()
            if meter is not None:
                meter.close()
    return out


def memory_rows(peers, k):
    out = {}
    for state in ("silent", "ident", "kex"):
        for name in PEERS:
            srv = peers.make(name)
            if not srv.start():
                out[(state, name)] = srv.why_not
                continue
            try:
                # dropbear refuses a sixth unauthenticated connection from
                # one address (MAX_UNAUTH_PER_IP, fixed when it is built)
                out[(state, name)] = memory_state(srv, state, 5 if name == "dropbear" else k)
            finally:
                srv.stop()
            progress("memory %s %s: %s" % (state, name, out[(state, name)]))
    return out


def rate_rows(peers, n, c, workers):
    from scale import handshakes
    out = {}
    runs = [("sshmock", ["--workers", str(w)], "sshmock --workers %d" % w)
            for w in range(1, workers + 1)] + [(p, (), p) for p in PEERS[1:]]
    for name, extra, label in runs:
        srv = peers.make(name, extra=extra)
        if not srv.start():
            out[label] = srv.why_not
            continue
        try:
            kh = os.path.join(peers.tmp, "kh-rate-%d" % srv.port)
            handshakes(srv.port, kh, 4, 2)
            ok, wall = handshakes(srv.port, kh, n, c)
            out[label] = (ok / wall, ok)  # refused ones are not handshakes
        finally:
            srv.stop()
        progress("rate %s: %s" % (label, out[label]))
    return out


def latency_rows(peers, n, key):
    out = {}
    for name in PEERS:
        srv = peers.make(name)
        if not srv.start():
            out[name] = srv.why_not
            continue
        try:
            out[name] = latency.measure(srv, peers.user(name), key, n, peers.tmp)
        finally:
            srv.stop()
        progress("latency %s: %s" % (name, out[name] if isinstance(out[name], str) else
                                     "p50 %.1f ms" % out[name]["p50"]))
    return out


# --- the table ---------------------------------------------------------------------

def cell(v, fmt):
    if v is None:
        return "-"
    if isinstance(v, str):
        return "n/a"
    return fmt(v)


def print_table(res, a):
    notes = []
    w = 20

    def row(label, cells):
        print("| %-44s | %s |" % (label, " | ".join("%-*s" % (w, c) for c in cells)))

    print()
    row("per connection (%s run)" % ("--quick" if a.quick else "full"),
        list(PEERS) + ["client's own CPU"])
    print("|%s|%s|" % ("-" * 46, "|".join("-" * (w + 2) for _ in range(len(PEERS) + 1))))
    for key, label in (("kex", "CPU ms, curve25519 + ed25519, kex + auth"),
                       ("exec", "CPU ms, same + key login + exec"),
                       ("legacy", "CPU ms, group1 + ssh-rsa 2048, kex + auth")):
        r = res.get("cpu_" + key)
        if r is None:
            continue
        cells = [cell(r[p], lambda v: "%.2f (%d/%d ok)" % (v[0], v[2], a.n)) for p in PEERS]
        mine = r.get("sshmock")
        cells.append(cell(mine, lambda v: "%.2f" % v[1]))
        row(label, cells)
        notes += ["%s %s: %s" % (key, p, r[p]) for p in PEERS if isinstance(r[p], str)]
    m = res.get("memory")
    if m is not None:
        for state, label in (("silent", "memory KiB, TCP open, nothing sent"),
                             ("ident", "memory KiB, identification sent"),
                             ("kex", "memory KiB, after key exchange")):
            row(label + " (%d held)" % a.k,
                [cell(m[(state, p)], lambda v: "%.1f (%.1f fd)" % v) for p in PEERS] + [""])
        notes.append("memory: dropbear is measured with 5 connections held: it refuses more "
                     "unauthenticated ones from one address (MAX_UNAUTH_PER_IP)")
    r = res.get("rate")
    if r is not None:
        for label, v in r.items():
            if label.startswith("sshmock"):
                row("handshakes/s, %s" % label,
                    [cell(v, lambda v: "%.1f (%d/%d ok)" % (v[0], v[1], a.rate_n)), "", "", ""])
        row("handshakes/s, %d clients at a time" % a.c,
            [""] + [cell(r[p], lambda v: "%.1f (%d/%d ok)" % (v[0], v[1], a.rate_n))
                    for p in PEERS[1:]] + [""])
    r = res.get("latency")
    if r is not None:
        row("ssh exec ms p50 / p90 / p99 (%d in a row)" % a.lat,
            [cell(r[p], lambda v: "%.0f / %.0f / %.0f" % (v["p50"], v["p90"], v["p99"]))
             for p in PEERS] + [""])
        row("  the same ssh -G, no connection: p50 / p90",
            [cell(r[p], lambda v: "%.0f / %.0f" % (v["alone_p50"], v["alone_p90"]))
             for p in PEERS] + [""])
        row("  runs > fastest + 30 ms (stalls), ok",
            [cell(r[p], lambda v: "%d, %d/%d ok" % (v["over40"], v["ok"], v["n"]))
             for p in PEERS] + [""])
    r = res.get("idle")
    if r is not None:
        if "error" in r:
            row("idle connections", [r["error"], "", "", ""])
        else:
            row("idle connections held (of %d)" % r["n"],
                ["%d, %.2f KiB each" % (r["held"], r["kib_per_conn"]),
                 "see memory, silent", "see memory, silent", ""])
            row("  ssh exec among them",
                ["%s, %.0f ms" % ("ok" if r["exec_ok"] else "FAILED", r["exec_ms"]), "", "", ""])
            notes.append("idle: %s" % r["needed"])
    for n in notes:
        print("note: %s" % n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build/sshmock"))
    ap.add_argument("--quick", action="store_true", help="small counts: a few minutes")
    ap.add_argument("--only", default="cpu,memory,rate,latency,idle")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    a.n = 10 if a.quick else 50          # connections per CPU figure
    a.k = 100 if a.quick else 300        # connections held per memory figure
    a.c = 8                              # clients at a time (rate)
    a.rate_n = 60 if a.quick else 300    # handshakes per rate figure
    a.lat = 30 if a.quick else 100       # execs in a row (latency)
    a.idle = 20000 if a.quick else 100000
    if not os.path.exists(a.sshmock):
        sys.exit("all: %s not built" % a.sshmock)
    only = a.only.split(",")
    tmp = tempfile.mkdtemp(prefix="sshmock-all-")
    res = {}
    try:
        peers = Peers(os.path.abspath(a.sshmock), tmp)
        key = latency.demo_key(tmp)
        if "cpu" in only:
            for kind in ("kex", "exec", "legacy"):
                progress("cpu %s: %d connections per server" % (kind, a.n))
                res["cpu_" + kind] = cpu_row(peers, kind, a.n, key)
        if "memory" in only:
            progress("memory: %d connections held per state and server" % a.k)
            res["memory"] = memory_rows(peers, a.k)
        if "rate" in only:
            progress("rate: %d handshakes, %d at a time" % (a.rate_n, a.c))
            res["rate"] = rate_rows(peers, a.rate_n, a.c, a.workers)
        if "latency" in only:
            progress("latency: %d execs in a row per server" % a.lat)
            res["latency"] = latency_rows(peers, a.lat, key)
        if "idle" in only:
            res["idle"] = idle.run(os.path.abspath(a.sshmock), a.idle, tmp, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(res, a)


if __name__ == "__main__":
    main()
