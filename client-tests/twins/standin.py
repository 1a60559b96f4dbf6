#!/usr/bin/python3
"""Small, honest stand-ins for failures that no configurable daemon shows.

Each one does what the real cause does, no more: it listens on a loopback
port and, like sshd, handles every connection in a child process that ends
with os._exit(), so the kernel closes the socket exactly as it does when a
real process exits (a FIN when every byte the client sent was read, an RST
when some are still unread). The parent prints "listening on 127.0.0.1:PORT"
when ready and serves until SIGTERM.

    standin.py MODE [--ident LINE] [--backend PORT] [--upstream PORT]

Modes:
  no-backend     a TCP proxy whose backend is down (socat, HAProxy with no
                 server): accepts, tries its backend (refused), exits.
  reset          an IPS / load balancer that rejects with a reset: accepts,
                 waits for the client's first bytes (at most 1 s), then
                 SO_LINGER 0, close.
  ident-then-no-backend
                 a load balancer or SSH proxy that answers the banner itself
                 (--ident LINE), then cannot reach its backend and exits.
  ssh1           an OpenSSH 3.9 sshd with only protocol 1 enabled: sends
                 "SSH-1.5-OpenSSH_3.9p1\\n", reads the client's
                 identification, and on a major-version mismatch writes
                 "Protocol major versions differ.\\n" and exits (sshd.c,
                 sshd_exchange_identification, OpenSSH 3.9).
  flip           a middlebox that alters one byte of the server's stream
                 once encryption is on: relays to --upstream (a real sshd),
                 follows the server's packets in clear text until its
                 SSH_MSG_NEWKEYS, then XORs one byte in the middle of the
                 next encrypted bytes with 0x5a.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

SSH_MSG_NEWKEYS = 21


def backend_refused(port):
    """Tries the backend the way a proxy does; it is a closed port, so it
    is refused (ECONNREFUSED) in well under a millisecond on loopback."""
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    finally:
        s.close()


def mode_no_backend(conn, a):
    backend_refused(a.backend)


def mode_reset(conn, a):
    # Like an IPS or a load balancer that inspects the first payload, it
    # resets once the client's first bytes are there (at most 1 s), so the
    # client is past connect() as it is with a server that died.
    select.select([conn], [], [], 1.0)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def mode_ident_then_no_backend(conn, a):
    conn.sendall(a.ident.encode() + b"\r\n")
    backend_refused(a.backend)


def read_line(conn, limit=255, deadline=10.0):
    buf = b""
    end = time.monotonic() + deadline
    while not buf.endswith(b"\n") and len(buf) < limit and time.monotonic() < end:
        r, _, _ = select.select([conn], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        b = conn.recv(1)
        if not b:
            break
        buf += b
    return buf


def mode_ssh1(conn, a):
    conn.sendall(b"SSH-1.5-OpenSSH_3.9p1\n")
    line = read_line(conn)
    if line.startswith(b"SSH-2.") or not line.startswith(b"SSH-1."):
        # OpenSSH 3.9: a 2.x client with protocol 1 only is a mismatch;
        # a line that is not an identification gets the same treatment
        # there ("Bad protocol version identification" is logged, the
        # string sent is the mismatch one only for versions).
        if line.startswith(b"SSH-"):
            conn.sendall(b"Protocol major versions differ.\n")


def mode_flip(conn, a):
    up = socket.create_connection(("127.0.0.1", a.upstream))
    buf = b""               # server bytes not yet parsed (clear-text phase)
    ident_done = False
    flip_pending = False    # NEWKEYS seen, the next encrypted bytes get it
    flipped = False
    socks = [conn, up]
    while True:
        r, _, _ = select.select(socks, [], [], 60)
        if not r:
            return
        if conn in r:
            data = conn.recv(65536)
            if not data:
                up.shutdown(socket.SHUT_WR)
                socks.remove(conn)
            else:
                up.sendall(data)
        if up in r:
            data = up.recv(65536)
            if not data:
                return
            out = bytearray(data)
            if not flipped:
                start = len(out)    # offset in `out` where encryption starts
                if not flip_pending:
                    off0 = len(buf)
                    buf += data
                    pos = 0
                    if not ident_done:
                        i = buf.find(b"\r\n")
                        if i >= 0:
                            ident_done = True
                            pos = i + 2
                    while ident_done and len(buf) - pos >= 6:
                        (plen,) = struct.unpack(">I", buf[pos:pos + 4])
                        if len(buf) - pos < 4 + plen:
                            break
                        msg = buf[pos + 5]
                        pos += 4 + plen
                        if msg == SSH_MSG_NEWKEYS:
                            flip_pending = True
                            start = pos - off0
                            break
                    buf = buf[pos:] if not flip_pending else b""
                else:
                    start = 0
                if flip_pending and start < len(out):
                    out[start + (len(out) - start) // 2] ^= 0x5a
                    flipped = True
            conn.sendall(bytes(out))


MODES = {
    "no-backend": mode_no_backend,
    "reset": mode_reset,
    "ident-then-no-backend": mode_ident_then_no_backend,
    "ssh1": mode_ssh1,
    "flip": mode_flip,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--ident", default="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    p.add_argument("--backend", type=int, default=0)
    p.add_argument("--upstream", type=int, default=0)
    a = p.parse_args()
    if a.mode in ("no-backend", "ident-then-no-backend") and not a.backend:
        # A port that nothing listens on: bind one, never listen, keep it.
        hold = socket.socket()
        hold.bind(("127.0.0.1", 0))
        a.backend = hold.getsockname()[1]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children reaped by the kernel
    signal.signal(signal.SIGTERM, lambda s, f: os._exit(0))
    print("listening on 127.0.0.1:%d" % ls.getsockname()[1], flush=True)
    handler = MODES[a.mode]
    while True:
        conn, _ = ls.accept()
        pid = os.fork()
        if pid == 0:
            ls.close()
            try:
                handler(conn, a)
            except OSError:
                pass
            # The end of the process is the end of the connection: the
            # kernel closes the socket (RST if the client's bytes are unread).
            os._exit(0)
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
