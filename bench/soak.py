#!/usr/bin/python3
"""Soak: thousands of mixed connections against several profiles at once,
then the server's descriptors and memory, which must come back to where
they were.

Each connection is one of:
  exec      paramiko logs in with the password and runs `echo hello`
  wrongpw   paramiko tries a wrong password (the server says no)
  cut       a raw socket sends its identification and part of a KEXINIT,
            then closes (FIN) or resets (RST) at a random byte
  hostile   a raw socket sends its identification, then random bytes

The random choices come from one seed, printed, so a run can be replayed.
Figures only; nothing here passes or fails.

  /usr/bin/python3 bench/soak.py [--sshmock build/sshmock] [-n 10000] [-c 8] [--seed S]
"""
import argparse
import collections
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_SSHMOCK, TOP, Sshmock, paramiko_or_exit, proc_fds, proc_status_kb  # noqa: E402

paramiko = paramiko_or_exit()

PROFILES = ["modern", "legacy-kex-group1", "closed-after-ident", "corrupt-after-newkeys"]
KINDS = [("exec", 1), ("wrongpw", 1), ("cut", 4), ("hostile", 4)]
CLIENT_IDENT = b"SSH-2.0-sshmock_soak_1.0\r\n"


def kexinit_packet(rng):
    lists = [b"curve25519-sha256,diffie-hellman-group14-sha256", b"ssh-ed25519,rsa-sha2-256",
             b"aes128-ctr", b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256",
             b"none", b"none", b"", b""]
    body = bytes([20]) + bytes(rng.getrandbits(8) for _ in range(16))
    for item in lists:
        body += struct.pack(">I", len(item)) + item
    body += b"\x00" + b"\x00\x00\x00\x00"
    pad = 8 - (len(body) + 5) % 8
    pad = pad + 8 if pad < 4 else pad
    return struct.pack(">IB", len(body) + pad + 1, pad) + body + b"\x00" * pad


def raw_cut(port, rng):
    data = CLIENT_IDENT + kexinit_packet(rng)
    at = rng.randrange(1, len(data))
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data[:at])
        if rng.random() < 0.5:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        s.close()
    return "cut"


def raw_hostile(port, rng):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(CLIENT_IDENT + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 2048))))
        s.settimeout(3)
        while s.recv(65536):
            pass
        return "closed by server"
    except socket.timeout:
        return "still open after 3 s (client gave up)"
    except OSError as e:
        return "error: %s" % e.strerror
    finally:
        s.close()


def para_exec(port, rng, password="demo"):
    t = paramiko.Transport(("127.0.0.1", port))
    try:
        t.start_client(timeout=10)
        t.auth_password("demo", password)
        ch = t.open_session(timeout=10)
        ch.exec_command("echo hello")
        out = ch.makefile().read()
        return "ok" if out == b"hello\n" else "unexpected output %r" % out[:40]
    except paramiko.AuthenticationException:
        return "auth refused"
    except Exception as e:
        return type(e).__name__
    finally:
        t.close()


def para_wrongpw(port, rng):
    return para_exec(port, rng, password="wrong")


RUNNERS = {"exec": para_exec, "wrongpw": para_wrongpw, "cut": raw_cut, "hostile": raw_hostile}


def snapshot(srv):
    return proc_fds(srv.pid), proc_status_kb(srv.pid, "VmRSS")


def settle(srv, fds_before, limit=15.0):
    """Waits (bounded) until the server's descriptors are back to where they
    were, so a slow close is not mistaken for a leak."""
    end = time.time() + limit
    while time.time() < end:
        if proc_fds(srv.pid) <= fds_before:
            break
        time.sleep(0.2)
    return snapshot(srv)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=DEFAULT_SSHMOCK)
    ap.add_argument("-n", type=int, default=10000, help="connections in all")
    ap.add_argument("-c", type=int, default=8, help="at a time")
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    print("soak: %d connections, %d at a time, seed %d (replay with --seed %d)"
          % (args.n, args.c, args.seed, args.seed), flush=True)
    master = random.Random(args.seed)
    plan = []
    weights = [w for _, w in KINDS]
    for i in range(args.n):
        plan.append((master.choice(PROFILES), master.choices([k for k, _ in KINDS], weights)[0],
                     master.getrandbits(32)))
    outcomes = collections.defaultdict(collections.Counter)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for p in PROFILES:
                servers[p] = Sshmock(args.sshmock, os.path.join(TOP, "profiles", p + ".conf"),
                                     state_dir=os.path.join(tmp, "state")).__enter__()
            # warm up: one connection of each kind, so lazily made state
            # (host keys, libssh's tables) is in the baseline
            for p, srv in servers.items():
                for k in RUNNERS:
                    RUNNERS[k](srv.port, random.Random(0))
            time.sleep(1.0)
            base = {p: snapshot(s) for p, s in servers.items()}
            nxt = [0]
            t0 = time.time()

            def worker():
                while True:
                    with lock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= len(plan):
                        return
                    prof, kind, seed = plan[i]
                    try:
                        res = RUNNERS[kind](servers[prof].port, random.Random(seed))
                    except OSError as e:
                        res = "error: %s" % (e.strerror or e)
                    with lock:
                        outcomes[(prof, kind)][res] += 1
                        done = sum(sum(c.values()) for c in outcomes.values())
                    if done % 1000 == 0:
                        print("  %d/%d connections, %.0f s" % (done, len(plan), time.time() - t0),
                              flush=True)

            threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.c)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(3600)
            wall = time.time() - t0
            print("\n%d connections in %.1f s (%.0f/s)\n" % (len(plan), wall, len(plan) / wall))
            print("%-24s %8s %8s %10s %10s %10s" % ("profile", "fds", "fds", "RSS KiB", "RSS KiB",
                                                     "peak KiB"))
            print("%-24s %8s %8s %10s %10s %10s" % ("", "before", "after", "before", "after", ""))
            for p, srv in servers.items():
                fds, rss = settle(srv, base[p][0])
                alive = "" if srv.proc.poll() is None else "  SERVER DIED"
                print("%-24s %8d %8d %10d %10d %10d%s" % (p, base[p][0], fds, base[p][1], rss,
                                                         proc_status_kb(srv.pid, "VmHWM"), alive))
            print("\noutcomes:")
            for (p, k) in sorted(outcomes):
                print("  %-24s %-8s %s" % (p, k, ", ".join("%s: %d" % kv for kv in
                                                            outcomes[(p, k)].most_common())))
        finally:
            for srv in servers.values():
                srv.__exit__(None, None, None)


if __name__ == "__main__":
    main()
