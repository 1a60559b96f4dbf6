#!/usr/bin/env python3
"""Records what a real SSH client and server send each other in the clear,
for the tap fuzzer's seed corpus (tests/fuzz/corpus/tap/).

    capture.py OUT UPSTREAM_PORT -- CLIENT COMMAND LINE ({port} is replaced)

Listens on a free loopback port, runs the client against it, relays every
byte to the server on 127.0.0.1:UPSTREAM_PORT and back, and writes OUT in
the fuzzer's format: one seed byte, the client's bytes, the mark, the
server's bytes. At most 16 KiB per direction are kept: the identification,
the KEXINITs, the key exchange and the first encrypted bytes. Loopback only.
"""
import os
import selectors
import socket
import subprocess
import sys
import time

MARK = b"\n--s2c--\n"
KEEP = 16384


def main():
    out, upstream = sys.argv[1], int(sys.argv[2])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    cmd = [a.replace("{port}", str(port)) for a in cmd]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    lsock.settimeout(10)
    client, _ = lsock.accept()
    server = socket.create_connection(("127.0.0.1", upstream), timeout=10)
    rec = {client: bytearray(), server: bytearray()}
    peer = {client: server, server: client}
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)
    deadline = time.monotonic() + 8
    open_ = 2
    while open_ > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                open_ -= 1
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            rec[s] += data[:max(0, KEEP - len(rec[s]))]
            try:
                peer[s].sendall(data)
            except OSError:
                pass
    proc.kill()
    proc.wait()
    client.close()
    server.close()
    with open(out, "wb") as f:
        f.write(bytes([len(rec[client]) & 0xff]) + bytes(rec[client]) + MARK +
                bytes(rec[server]))
    print("%s: c2s %d bytes, s2c %d bytes" % (out, len(rec[client]), len(rec[server])))
    return 0 if rec[client] and rec[server] else 1


if __name__ == "__main__":
    sys.exit(main())
