#!/usr/bin/python3
"""Latency of one whole SSH exec, sequentially: N real `ssh HOST 'echo hello'`
(public key, demo key) against sshmock and against OpenSSH's sshd, in the
same run, on loopback. Prints p50/p90/p99/max per server.

One exec is the CI pattern (connect, key exchange, auth, one command,
close). A delayed-ACK stall in the handshake shows here as a bimodal
distribution (tens of milliseconds apart), which a mean hides. Between two
execs the same client runs once more with -G (starts, reads its options,
exits, no connection): its p50/p90 is what the machine's load alone does
to one process, next to which the execs' tail can be judged.

sshd runs as `sshd -D -e -f CONFIG` with its own host key, public keys only
and `AuthorizedKeysFile` pointing at the demo key; it needs root
(privilege separation), else its column says why it is missing.

  /usr/bin/python3 bench/latency.py [--sshmock build/sshmock] [-n 100]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench import Server, free_port  # noqa: E402


def demo_key(tmp):
    """ssh refuses a key file others can read: a private copy."""
    key = os.path.join(tmp, "demo_ed25519")
    shutil.copyfile(os.path.join(TOP, "profiles/keys/demo_ed25519"), key)
    os.chmod(key, 0o600)
    return key


def sshmock_server(binary, tmp, extra=()):
    port = free_port()
    return Server("sshmock", [binary, "serve", os.path.join(TOP, "profiles/modern.conf"),
                              "--port", str(port), "--quiet", "--state-dir",
                              os.path.join(tmp, "state")] + list(extra), port), "demo"


def sshd_server(tmp):
    port = free_port()
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    why = None
    if not os.path.exists(sshd):
        why = "not installed (openssh-server)"
    elif os.geteuid() != 0:
        why = "needs root for privilege separation"
    argv = []
    user = "root"
    if why is None:
        key = os.path.join(tmp, "sshd_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        cfg = os.path.join(tmp, "sshd_config")
        with open(cfg, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
                    "StrictModes no\nAuthorizedKeysFile %s\nUseDNS no\nLogLevel ERROR\n"
                    "MaxStartups 1000:30:1000\n"
                    % (port, key, os.path.join(TOP, "profiles/keys/demo_ed25519.pub")))
        os.makedirs("/run/sshd", exist_ok=True)
        argv = [sshd, "-D", "-e", "-f", cfg]
    return Server("openssh-sshd", argv, port, why_not=why), user


def exec_once(port, user, key, kh):
    t0 = time.monotonic()
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-i", key,
                        "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=" + kh, "-o", "ConnectTimeout=10",
                        "-p", str(port), "%s@127.0.0.1" % user, "echo hello"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and r.stdout == "hello\n", time.monotonic() - t0, r.stderr


def client_alone(port, user, key, kh):
    """The same ssh command line with -G: the client starts, reads its
    options and exits without connecting. Timed between the execs, it
    shows what the machine alone adds to one process's latency (its tail
    is the load, not any server)."""
    t0 = time.monotonic()
    subprocess.run(["ssh", "-G", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes",
                    "-o", "UserKnownHostsFile=" + kh, "-p", str(port), "%s@127.0.0.1" % user],
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return time.monotonic() - t0


def pct(sorted_ms, q):
    return sorted_ms[min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))]


def measure(srv, user, key, n, tmp):
    kh = os.path.join(tmp, "kh-" + srv.name)
    oks, lat, alone, err = 0, [], [], ""
    exec_once(srv.port, user, key, kh)  # warm-up: known_hosts, page cache
    for _ in range(n):
        ok, dt, e = exec_once(srv.port, user, key, kh)
        oks += ok
        lat.append(dt * 1000)
        if not ok and not err:
            err = e.strip()[-200:]
        alone.append(client_alone(srv.port, user, key, kh) * 1000)
    lat.sort()
    alone.sort()
    return {"ok": oks, "n": n, "p50": pct(lat, .5), "p90": pct(lat, .9), "p99": pct(lat, .99),
            "max": lat[-1], "over40": sum(1 for x in lat if x > lat[0] + 30), "err": err,
            "alone_p50": pct(alone, .5), "alone_p90": pct(alone, .9)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build/sshmock"))
    ap.add_argument("--label", default="sshmock", help="name of the sshmock row")
    ap.add_argument("-n", type=int, default=100, help="execs per server")
    ap.add_argument("--no-sshd", action="store_true", help="sshmock only")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sshmock-lat-")
    rows = []
    try:
        key = demo_key(tmp)
        mock, mock_user = sshmock_server(a.sshmock, tmp)
        mock.name = a.label
        servers = [(mock, mock_user)] + ([] if a.no_sshd else [sshd_server(tmp)])
        for srv, user in servers:
            if not srv.start():
                rows.append((srv.name, None, srv.why_not))
                continue
            try:
                rows.append((srv.name, measure(srv, user, key, a.n, tmp), None))
            finally:
                srv.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d sequential `ssh HOST 'echo hello'` (ed25519 key) per server, milliseconds" % a.n)
    print("%-16s %7s %7s %7s %7s %7s %9s %13s" % ("server", "ok", "p50", "p90", "p99", "max",
                                                  ">min+30", "ssh -G p50/90"))
    for name, m, why in rows:
        if m is None:
            print("%-16s skipped: %s" % (name, why))
            continue
        print("%-16s %3d/%-3d %7.1f %7.1f %7.1f %7.1f %9d %6.1f/%-6.1f" % (
            name, m["ok"], m["n"], m["p50"], m["p90"], m["p99"], m["max"], m["over40"],
            m["alone_p50"], m["alone_p90"]))
        if m["err"]:
            print("  first failure: %s" % m["err"])


if __name__ == "__main__":
    main()
