#!/usr/bin/python3
"""Idle connections by the hundred thousand: N silent TCP connections held
against sshmock on loopback, then one real `ssh` exec among them.

One process may hold only as many descriptors as its hard open-files limit
(RLIMIT_NOFILE), and raising that limit needs CAP_SYS_RESOURCE. Where the
limit is too low for N, the connections are spread over several sshmock
processes behind one port (each started with --workers 2, which listens
with SO_REUSEPORT; the kernel spreads new connections over every listener
of the port) and several client processes, each connecting from a loopback
address of its own (127.0.0.2, 127.0.0.3, ...: one address has some 28,000
ephemeral ports). What it needed is printed.

Bounded: every wait has a limit, the client processes close their sockets
and exit, and every server is stopped, whatever happens.

  /usr/bin/python3 bench/idle.py [--sshmock build/sshmock] [-n 100000]
"""
import argparse
import math
import multiprocessing
import os
import resource
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench import Server, free_port, pss_kb  # noqa: E402

# Descriptors each process keeps for itself (libraries, logs, pipes, the
# measuring); and how evenly SO_REUSEPORT spreads is not exact.
SPARE_FDS = 2500
# One loopback source address has ip_local_port_range's ports; stay under.
PER_SOURCE = 25000
# Linux: the port is chosen at connect() for the whole 4-tuple, not at
# bind() among every port in use (which grows with each connection).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def roomy_profile(tmp):
    """modern.conf without MaxStartups and LoginGraceTime limits: idle
    connections are what is measured, not sshd's limits."""
    out = os.path.join(tmp, "modern-idle.conf")
    keys = os.path.join(TOP, "profiles/keys") + "/"
    with open(os.path.join(TOP, "profiles/modern.conf")) as f, open(out, "w") as g:
        for line in f:
            if not line.startswith(("MaxStartups", "LoginGraceTime")):
                g.write(line.replace("keys/", keys))
        g.write("MaxStartups 1000000:30:1000000\nLoginGraceTime 0\n")
    return out


def client(source, port, count, opened, release, limit_s):
    """Opens count silent connections from source, reports, holds them
    until release (at most limit_s), closes them."""
    socks = []
    err = ""
    try:
        for _ in range(count):
            s = socket.socket()
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((source, 0))
                s.connect(("127.0.0.1", port))
            except OSError as e:
                s.close()
                err = "%s: %s" % (source, e.strerror)
                break
            socks.append(s)
    except OSError as e:
        err = "%s: %s" % (source, e.strerror)
    opened.put((len(socks), err))
    release.wait(limit_s)
    for s in socks:
        s.close()


def servers_fds(servers):
    return sum(fd_count(s.proc.pid) for s in servers)


def servers_pss(servers):
    return sum(pss_kb(s.proc.pid) for s in servers)


def exec_among(port, tmp):
    """One real ssh exec: (ok, seconds, what it said)."""
    from latency import demo_key, exec_once
    key = demo_key(tmp)
    return exec_once(port, "demo", key, os.path.join(tmp, "kh"))


def run(binary, n, tmp, progress=print, limit_s=300.0):
    """Holds n idle connections; returns a dict of what was measured."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, n + SPARE_FDS),) * 2)
        raised = True
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        raised = False
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per_proc = max(1000, limit - SPARE_FDS)
    nserv = max(1, math.ceil(n / per_proc))
    per_client = min(per_proc, PER_SOURCE)
    nclient = max(1, math.ceil(n / per_client))
    port = free_port()
    prof = roomy_profile(tmp)
    res = {"n": n, "limit": limit, "raised": raised, "servers": nserv, "clients": nclient}
    res["needed"] = ("open-files hard limit %d per process (%s); %d sshmock processes "
                     "on port %d (SO_REUSEPORT, --workers 2 each), %d client processes "
                     "from 127.0.0.2-127.0.0.%d" %
                     (limit, "raised" if raised else "cannot be raised: no CAP_SYS_RESOURCE",
                      nserv, port, nclient, 1 + nclient))
    progress("[idle] %s" % res["needed"])
    servers = [Server("sshmock-%d" % i, [binary, "serve", prof, "--port", str(port),
                                          "--quiet", "--workers", "2" if nserv > 1 else "1",
                                          "--state-dir", os.path.join(tmp, "state")], port)
               for i in range(nserv)]
    procs = []
    ctx = multiprocessing.get_context("fork")
    release = ctx.Event()
    opened = ctx.Queue()
    try:
        for s in servers:
            if not s.start():
                res["error"] = "server did not start: %s" % s.why_not
                return res
        time.sleep(0.5)
        base_fds, base_kb = servers_fds(servers), servers_pss(servers)
        t0 = time.monotonic()
        left = n
        for i in range(nclient):
            count = min(per_client, math.ceil(left / (nclient - i)))  # even shares
            left -= count
            p = ctx.Process(target=client, args=("127.0.0.%d" % (2 + i), port, count,
                                                 opened, release, limit_s), daemon=True)
            p.start()
            procs.append(p)
        total, errs = 0, []
        for i in range(nclient):
            try:
                got, err = opened.get(timeout=limit_s)
            except Exception:  # queue.Empty
                errs.append("a client did not report within %.0f s" % limit_s)
                break
            total += got
            if err:
                errs.append(err)
            progress("[idle] client %d/%d: %d connections open (%d in all, %.1f s)" %
                     (i + 1, nclient, got, total, time.monotonic() - t0))
        # Each connection is one descriptor in the server once accepted.
        end = time.monotonic() + 60
        while servers_fds(servers) - base_fds < total and time.monotonic() < end:
            time.sleep(0.5)
        time.sleep(1.0)
        held = servers_fds(servers) - base_fds
        kb = servers_pss(servers) - base_kb
        res.update(opened=total, held=held, seconds=time.monotonic() - t0,
                   kib_per_conn=kb / max(held, 1), pss_kib=kb,
                   alive=all(s.proc.poll() is None for s in servers),
                   client_errors="; ".join(errs[:3]))
        progress("[idle] held %d (server descriptors), %.2f KiB each; now one ssh exec "
                 "among them" % (held, res["kib_per_conn"]))
        ok, dt, said = exec_among(port, tmp)
        res.update(exec_ok=ok, exec_ms=dt * 1000, exec_said=said.strip()[-200:])
        return res
    finally:
        release.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join(5)
        for s in servers:
            s.stop()
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=os.path.join(TOP, "build/sshmock"))
    ap.add_argument("-n", type=int, default=100000, help="idle connections to hold")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sshmock-idle-")
    try:
        r = run(a.sshmock, a.n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "error" in r:
        print("idle: %s" % r["error"])
        return 1
    print("idle: %d of %d held in %.1f s, %.2f KiB per connection (PSS of %d servers), "
          "servers %s; ssh exec among them: %s in %.0f ms%s" %
          (r["held"], r["n"], r["seconds"], r["kib_per_conn"], r["servers"],
           "alive" if r["alive"] else "GONE", "ok" if r["exec_ok"] else "FAILED",
           r["exec_ms"], "" if r["exec_ok"] else " (%s)" % r["exec_said"]))
    if r["client_errors"]:
        print("client errors: %s" % r["client_errors"])
    return 0 if r["held"] >= r["n"] and r["exec_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
