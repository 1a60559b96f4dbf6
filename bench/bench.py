#!/usr/bin/python3
"""Side-by-side figures: sshmock against OpenSSH's sshd and dropbear, in the
same run, on loopback.

  handshakes  N real `ssh` clients (C at a time) do the whole key exchange
              and stop at authentication (PreferredAuthentications=none), so
              no system user is needed: handshakes per second, latency.
  memory      K idle connections that have sent their identification and
              read the server's: the server's memory before and after
              (proportional set size of the server and all its processes,
              since sshd and dropbear fork one per connection).

These machines are shared and noisy: compare the columns of one run, not
figures across runs. sshd needs root (privilege separation); without it, or
without a peer installed, that column says why it is missing.

  /usr/bin/python3 bench/bench.py [--sshmock build/sshmock] [-n 200] [-c 4] [-k 200]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, limit=15.0):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def pss_kb(pid):
    """PSS of a process and its descendants, in KiB."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                             text=True).stdout
        pids += [int(x) for x in out.split()]
        # one more level: sshd's per-connection monitor has a child
        for p in list(pids[1:]):
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p)], capture_output=True,
                                 text=True).stdout
            pids += [int(x) for x in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Server:
    def __init__(self, name, argv, port, env=None, why_not=None):
        self.name, self.argv, self.port, self.env = name, argv, port, env
        self.why_not = why_not
        self.proc = None

    def start(self):
        if self.why_not:
            return False
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=self.env)
        if not wait_port(self.port, self.proc):
            self.why_not = "did not start (%s)" % " ".join(self.argv[:3])
            self.stop()
            return False
        time.sleep(0.2)
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_servers(sshmock, tmp):
    servers = []
    port = free_port()
    servers.append(Server("sshmock", [sshmock, "serve", os.path.join(TOP, "profiles/modern.conf"),
                                      "--port", str(port), "--quiet", "--state-dir",
                                      os.path.join(tmp, "state")], port))

    port = free_port()
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    why = None
    if not os.path.exists(sshd):
        why = "not installed (openssh-server)"
    elif os.geteuid() != 0:
        why = "needs root for privilege separation"
    argv = None
    if why is None:
        key = os.path.join(tmp, "sshd_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        cfg = os.path.join(tmp, "sshd_config")
        with open(cfg, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\n"
                    "PasswordAuthentication yes\nMaxStartups 1000:30:1000\nUseDNS no\n"
                    "LogLevel ERROR\nAuthorizedKeysFile none\n" % (port, key))
        os.makedirs("/run/sshd", exist_ok=True)
        argv = [sshd, "-D", "-e", "-f", cfg]
    servers.append(Server("openssh-sshd", argv or [], port, why_not=why))

    port = free_port()
    dropbear = shutil.which("dropbear") or "/usr/sbin/dropbear"
    why = None if os.path.exists(dropbear) else "not installed (dropbear-bin)"
    argv = None
    if why is None:
        key = os.path.join(tmp, "dropbear_ed25519_host_key")
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", key], capture_output=True,
                       check=True)
        argv = [dropbear, "-F", "-E", "-s", "-r", key, "-p", "127.0.0.1:%d" % port]
    servers.append(Server("dropbear", argv or [], port, why_not=why))
    return servers


def handshake_once(port, kh):
    t0 = time.monotonic()
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + kh,
                        "-o", "PreferredAuthentications=none", "-o", "ConnectTimeout=10",
                        "-p", str(port), "bench@127.0.0.1", "true"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    ok = "Permission denied" in r.stderr
    return ok, time.monotonic() - t0


def bench_handshakes(srv, n, c, tmp):
    import concurrent.futures
    kh = os.path.join(tmp, "kh-" + srv.name)
    oks, lat = 0, []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(c) as ex:
        for ok, dt in ex.map(lambda _: handshake_once(srv.port, kh), range(n)):
            oks += ok
            lat.append(dt)
    wall = time.monotonic() - t0
    lat.sort()
    return {"ok": oks, "n": n, "wall": wall, "rate": n / wall,
            "p50": lat[len(lat) // 2] * 1000, "p95": lat[int(len(lat) * 0.95) - 1] * 1000}


def bench_memory(srv, k):
    before = pss_kb(srv.proc.pid)
    socks = []
    for _ in range(k):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"SSH-2.0-sshmock_bench\r\n")
        socks.append(s)
    for s in socks:
        try:
            s.recv(256)
        except OSError:
            pass
    time.sleep(1.0)
    after = pss_kb(srv.proc.pid)
    for s in socks:
        s.close()
    return before, after


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build/sshmock"))
    ap.add_argument("-n", type=int, default=200, help="handshakes per server")
    ap.add_argument("-c", type=int, default=4, help="concurrent clients")
    ap.add_argument("-k", type=int, default=200, help="idle connections for memory")
    a = ap.parse_args()
    if not os.path.exists(a.sshmock):
        sys.exit("bench: %s not built" % a.sshmock)
    tmp = tempfile.mkdtemp(prefix="sshmock-bench-")
    rows = []
    try:
        for srv in make_servers(a.sshmock, tmp):
            if not srv.start():
                rows.append((srv.name, None, None, srv.why_not))
                continue
            try:
                hs = bench_handshakes(srv, a.n, a.c, tmp)
                mem = bench_memory(srv, a.k) if a.k > 0 else None
                rows.append((srv.name, hs, mem, None))
            finally:
                srv.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("handshakes: %d per server, %d at a time, real OpenSSH client, up to authentication"
          % (a.n, a.c))
    print("memory: PSS of the server and its processes, before and with %d idle connections" % a.k)
    print("%-14s %9s %11s %9s %9s %11s %11s %12s" % ("server", "ok", "handshake/s", "p50 ms",
                                                     "p95 ms", "idle KiB", "+%d KiB" % a.k,
                                                     "KiB/conn"))
    for name, hs, mem, why in rows:
        if hs is None:
            print("%-14s %s" % (name, "skipped: " + why))
            continue
        line = "%-14s %5d/%-3d %11.1f %9.1f %9.1f" % (name, hs["ok"], hs["n"], hs["rate"],
                                                      hs["p50"], hs["p95"])
        if mem:
            line += " %11d %11d %12.1f" % (mem[0], mem[1], (mem[1] - mem[0]) / max(a.k, 1))
        print(line)


if __name__ == "__main__":
    main()
