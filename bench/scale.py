#!/usr/bin/python3
"""Scale figures for sshmock, in one command, next to OpenSSH's sshd and
dropbear where they apply:

  rsa       server CPU per legacy handshake (diffie-hellman-group1-sha1 +
            ssh-rsa, 2048-bit host key written by ssh-keygen, i.e. in
            OpenSSH format): what loading RSA keys with their CRT values
            saves.
  latency   see bench/latency.py (sequential execs, p50/p90/p99).
  memory    the server's memory per connection in each state: connected
            and silent, identification sent, after key exchange.
  rate      handshakes per second with 1..N workers (--workers), C clients
            at a time.
  idle      how many idle connections one server holds, and what stops it.

Figures only; the machine is shared and noisy, compare columns of one run.

  /usr/bin/python3 bench/scale.py [--sshmock build/sshmock] [--only rsa,memory,...]
"""
import argparse
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench import Server, free_port, pss_kb  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU of a process and its children that were waited for."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime stime cutime cstime are fields 14-17 (1-based); [0] here is field 3
    return sum(int(x) for x in fields[11:15]) / CLK


def ssh_argv(port, kh, extra=()):
    return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=" + kh, "-o", "PreferredAuthentications=none",
            "-o", "ConnectTimeout=10"] + list(extra) + ["-p", str(port), "bench@127.0.0.1",
                                                         "true"]


def handshakes(port, kh, n, c, extra=()):
    """n handshakes up to authentication, c at a time: (ok, seconds)."""
    def one(_):
        r = subprocess.run(ssh_argv(port, kh, extra), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        return "Permission denied" in r.stderr
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(c) as ex:
        ok = sum(ex.map(one, range(n)))
    return ok, time.monotonic() - t0


# --- rsa ---------------------------------------------------------------------

GROUP1 = ("-o", "KexAlgorithms=+diffie-hellman-group1-sha1",
          "-o", "HostKeyAlgorithms=+ssh-rsa")


def group1_profile(tmp, key):
    src = os.path.join(TOP, "profiles/legacy-kex-group1.conf")
    out = os.path.join(tmp, "group1-keyfile.conf")
    keys = os.path.join(TOP, "profiles/keys") + "/"
    with open(src) as f, open(out, "w") as g:
        for line in f:
            if line.startswith("HostKey generate:"):
                line = "HostKey %s\n" % key
            g.write(line.replace("keys/", keys))
    return out


def bench_rsa(binaries, tmp, n):
    key = os.path.join(tmp, "rsa2048_openssh")
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key],
                   check=True)
    prof = group1_profile(tmp, key)
    rows = []
    for label, binary in binaries:
        port = free_port()
        srv = Server(label, [binary, "serve", prof, "--port", str(port), "--quiet"], port)
        if not srv.start():
            rows.append((label, None, srv.why_not))
            continue
        try:
            kh = os.path.join(tmp, "kh-rsa-" + label)
            handshakes(port, kh, 2, 1, GROUP1)
            c0 = cpu_seconds(srv.proc.pid)
            ok, wall = handshakes(port, kh, n, 1, GROUP1)
            c1 = cpu_seconds(srv.proc.pid)
            rows.append((label, (ok, n, (c1 - c0) / n * 1000, wall / n * 1000), None))
        finally:
            srv.stop()
    print("\n[rsa] %d sequential handshakes, diffie-hellman-group1-sha1 + ssh-rsa, "
          "2048-bit host key in OpenSSH format" % n)
    print("%-22s %8s %16s %14s" % ("server", "ok", "server CPU ms/hs", "wall ms/hs"))
    for label, m, why in rows:
        if m is None:
            print("%-22s skipped: %s" % (label, why))
        else:
            print("%-22s %4d/%-3d %16.2f %14.1f" % (label, m[0], m[1], m[2], m[3]))


# --- memory ------------------------------------------------------------------

def kex_client(port, hold):
    """A paramiko client that does the key exchange and then idles (no
    authentication) until hold is set."""
    import paramiko
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=20)
    hold.wait(120)
    t.close()


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def tree_fds(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    pids = [pid] + [int(x) for x in out.split()]
    for p in list(pids[1:]):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p)], capture_output=True,
                             text=True).stdout
        pids += [int(x) for x in out.split()]
    return sum(fd_count(p) for p in pids)


def memory_state(srv, state, k):
    """(KiB per connection, descriptors per connection) with k connections
    held in state: silent, ident, kex."""
    import threading
    before_kb, before_fd = pss_kb(srv.proc.pid), tree_fds(srv.proc.pid)
    socks, threads, hold = [], [], threading.Event()
    try:
        if state == "kex":
            for _ in range(k):
                th = threading.Thread(target=kex_client, args=(srv.port, hold), daemon=True)
                th.start()
                threads.append(th)
        else:
            for _ in range(k):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                if state == "ident":
                    s.sendall(b"SSH-2.0-OpenSSH_9.2p1 bench\r\n")
                socks.append(s)
        time.sleep(2.0 if state != "kex" else 1.0 + k * 0.03)
        after_kb, after_fd = pss_kb(srv.proc.pid), tree_fds(srv.proc.pid)
    finally:
        hold.set()
        for s in socks:
            s.close()
        for th in threads:
            th.join(30)
    time.sleep(1.0)
    return (after_kb - before_kb) / k, (after_fd - before_fd) / k


def roomy_profile(tmp):
    """modern.conf with room for many unauthenticated connections (sshd gets
    MaxStartups 1000 in bench.py too) and no LoginGraceTime."""
    out = os.path.join(tmp, "modern-roomy.conf")
    keys = os.path.join(TOP, "profiles/keys") + "/"
    with open(os.path.join(TOP, "profiles/modern.conf")) as f, open(out, "w") as g:
        for line in f:
            if not line.startswith(("MaxStartups", "LoginGraceTime")):
                g.write(line.replace("keys/", keys))
        g.write("MaxStartups 1000000:30:1000000\nLoginGraceTime 0\n")
    return out


def peers(binaries, tmp, extra=()):
    """sshmock binaries, sshd and dropbear, as bench.py starts them."""
    from bench import make_servers
    prof = roomy_profile(tmp)
    out = []
    for label, binary in binaries:
        port = free_port()
        out.append(Server(label, [binary, "serve", prof, "--port", str(port), "--quiet",
                                  "--state-dir", os.path.join(tmp, "state")] + list(extra),
                          port))
    sub = tempfile.mkdtemp(dir=tmp)  # make_servers makes fresh host keys
    out += [s for s in make_servers(binaries[-1][1], sub) if s.name != "sshmock"]
    return out


def bench_memory(binaries, tmp, k):
    print("\n[memory] %d connections held in each state (a fresh server each); PSS and "
          "descriptors of the server (all its processes) per connection" % k)
    print("%-22s %16s %16s %16s" % ("server", "silent", "ident sent", "after kex"))
    names = [srv.name for srv in peers(binaries, tmp)]
    for i, name in enumerate(names):
        cells = []
        for state in ("silent", "ident", "kex"):
            srv = peers(binaries, tmp)[i]
            if not srv.start():
                cells = None
                break
            try:
                kb, fds = memory_state(srv, state, k)
                cells.append("%6.1f KiB %3.1ffd" % (kb, fds))
            finally:
                srv.stop()
        if cells is None:
            print("%-22s skipped: %s" % (name, srv.why_not))
        else:
            print("%-22s %s" % (name, " ".join("%16s" % c for c in cells)))


# --- rate ----------------------------------------------------------------------

def bench_rate(binaries, tmp, n, c, max_workers):
    print("\n[rate] %d handshakes per server, %d clients at a time (real OpenSSH, up to "
          "authentication); %d CPUs, shared with the clients" % (n, c, os.cpu_count()))
    print("%-22s %8s %12s" % ("server", "ok", "handshake/s"))
    label, binary = binaries[-1]
    runs = [("%s --workers %d" % (label, w), ["--workers", str(w)])
            for w in range(1, max_workers + 1)]
    servers = []
    for name, extra in runs:
        srv = peers([(name, binary)], tmp, extra)[0]
        servers.append(srv)
    servers += peers([(label, binary)], tmp)[1:]
    for srv in servers:
        if not srv.start():
            print("%-22s skipped: %s" % (srv.name, srv.why_not))
            continue
        try:
            kh = os.path.join(tmp, "kh-rate-%d" % srv.port)
            handshakes(srv.port, kh, 4, 2)
            ok, wall = handshakes(srv.port, kh, n, c)
            print("%-22s %4d/%-3d %12.1f" % (srv.name, ok, n, n / wall))
        finally:
            srv.stop()


# --- idle ------------------------------------------------------------------------

def bench_idle(binaries, tmp, target):
    """Opens up to target silent connections from several loopback source
    addresses; reports how many the server held and what stopped it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target + 1000
    try:
        # root may raise the hard limit (up to fs.nr_open); sshmock, started
        # from here, inherits it and raises its soft limit to it
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    label, binary = binaries[-1]
    srv = peers([(label, binary)], tmp)[0]
    print("\n[idle] up to %d silent connections to one sshmock (sources 127.0.0.1-%d); "
          "open-files limit (client and server) %d" % (target, 1 + target // 20000, limit))
    if not srv.start():
        print("skipped: %s" % srv.why_not)
        return
    socks, stopped = [], "target reached"
    try:
        before_kb = pss_kb(srv.proc.pid)
        t0 = time.monotonic()
        # keep 200 descriptors for measuring (and the client's own use)
        room = min(target, limit - 200)
        if room < target:
            stopped = "open-files hard limit %d (raising it needs CAP_SYS_RESOURCE)" % limit
        for i in range(room):
            try:
                s = socket.socket()
            except OSError as e:
                stopped = "client: %s after %d" % (e.strerror, i)
                break
            try:
                s.bind(("127.0.0.%d" % (1 + i // 20000), 0))
                s.connect(("127.0.0.1", srv.port))
            except OSError as e:
                s.close()
                stopped = "client: %s after %d" % (e.strerror, i)
                break
            socks.append(s)
        time.sleep(2.0)
        held = fd_count(srv.proc.pid)
        after_kb = pss_kb(srv.proc.pid)
        alive = srv.proc.poll() is None
        print("opened %d in %.1f s (%s); server descriptors %d; server PSS %+d KiB "
              "(%.2f KiB/conn); server %s" % (len(socks), time.monotonic() - t0, stopped, held,
                                             after_kb - before_kb,
                                             (after_kb - before_kb) / max(len(socks), 1),
                                             "alive" if alive else "GONE"))
    except OSError as e:
        print("client: %s after %d" % (e, len(socks)))
    finally:
        for s in socks:
            s.close()
        srv.stop()
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build/sshmock"))
    ap.add_argument("--baseline", help="another sshmock binary to show next to it")
    ap.add_argument("--only", default="rsa,memory,rate,idle",
                    help="comma-separated sections (rsa,memory,rate,idle)")
    ap.add_argument("-n", type=int, default=100, help="handshakes (rsa)")
    ap.add_argument("-k", type=int, default=200, help="connections held (memory)")
    ap.add_argument("-c", type=int, default=8, help="clients at a time (rate)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="rate: 1..this many workers")
    ap.add_argument("--idle", type=int, default=100000, help="idle: connections to try")
    a = ap.parse_args()
    binaries = [("sshmock", a.sshmock)]
    if a.baseline:
        binaries.insert(0, ("baseline", a.baseline))
    tmp = tempfile.mkdtemp(prefix="sshmock-scale-")
    try:
        only = a.only.split(",")
        if "rsa" in only:
            bench_rsa(binaries, tmp, a.n)
        if "memory" in only:
            bench_memory(binaries, tmp, a.k)
        if "rate" in only:
            bench_rate(binaries, tmp, a.n, a.c, a.workers)
        if "idle" in only:
            bench_idle(binaries, tmp, a.idle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
