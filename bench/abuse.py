#!/usr/bin/python3
"""Peak memory of the server under each abuse a hostile client can try.

Each attack runs against a fresh `sshmock serve` so that its peak (VmHWM)
belongs to that attack alone; the table shows the server's resident memory
before, its peak during the attack, and how much the attacker sent.

  pty-echo        logged in, pty shell, types without ever reading: every
                  byte is echoed back into a buffer the client never drains
  channels        opens session channels on one connection until refused
                  (MaxSessions, sshd's default 10)
  prelogin-unread after key exchange, before login, sends requests whose
                  replies it never reads (SERVICE_REQUEST ssh-userauth)
  throttle-held   `Fault auth-success throttle 1000`: the server's bytes are
                  held for a slow rate while the client keeps typing in a pty

Figures only; nothing here passes or fails.

  /usr/bin/python3 bench/abuse.py [--sshmock build/sshmock] [--seconds 10]
"""
import argparse
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_SSHMOCK, TOP, Sshmock, paramiko_or_exit, proc_status_kb  # noqa: E402

paramiko = paramiko_or_exit()

THROTTLE_PROFILE = """Description bench: the server's bytes throttled after login
Account demo demo
HostKey generate:ed25519
Fault auth-success throttle 1000
"""


def login(port):
    t = paramiko.Transport(("127.0.0.1", port))
    t.start_client(timeout=10)
    t.auth_password("demo", "demo")
    return t


def pty_shell(port):
    t = login(port)
    ch = t.open_session(timeout=10)
    ch.get_pty()
    ch.invoke_shell()
    ch.settimeout(0.5)
    return t, ch


def type_lines(ch, chunk, seconds, stop):
    """Sends chunk after chunk for `seconds`; returns the bytes sent."""
    sent = 0
    end = time.time() + seconds
    while time.time() < end and not stop.is_set():
        try:
            sent += ch.send(chunk)
        except socket.timeout:
            continue
        except Exception:
            break
    return sent


def unread_pty(port, seconds, stop):
    """Types into a pty shell and never reads what comes back."""
    t, ch = pty_shell(port)
    # paramiko buffers what arrives for a channel without bound; keeping
    # its window from being adjusted is what a client that does not read
    # does on the wire. A huge in_max_packet_size would not change that.
    # Lines: each gets an echo, a reply and a prompt.
    sent = type_lines(ch, (b"x" * 63 + b"\r") * 64, seconds, stop)
    t.close()
    return sent


def many_channels(port, seconds, stop, limit=5000):
    t = login(port)
    opened = 0
    end = time.time() + seconds
    chans = []
    while opened < limit and time.time() < end:
        try:
            chans.append(t.open_session(timeout=5))
            opened += 1
        except Exception:
            break
    t.close()
    return opened


def prelogin_unread(port, seconds, stop):
    t = paramiko.Transport(("127.0.0.1", port))
    t.start_client(timeout=10)
    # From now on paramiko's reader thread is parked: the server's replies
    # pile up on its side, as they would for a client that never reads.
    t.packetizer.read_message = lambda: time.sleep(3600)
    sent = 0
    end = time.time() + seconds
    while time.time() < end and not stop.is_set():
        m = paramiko.Message()
        m.add_byte(bytes([paramiko.common.MSG_SERVICE_REQUEST]))
        m.add_string("ssh-userauth")
        try:
            t.packetizer.send_message(m)
        except Exception:
            break
        sent += 1
    try:
        t.sock.close()
    except Exception:
        pass
    return sent


def throttle_held(port, seconds, stop):
    t, ch = pty_shell(port)

    def drain():
        while not stop.is_set():
            try:
                if not ch.recv(65536):
                    return
            except socket.timeout:
                continue
            except Exception:
                return

    r = threading.Thread(target=drain, daemon=True)
    r.start()
    sent = type_lines(ch, (b"y" * 63 + b"\r") * 64, seconds, stop)
    t.close()
    return sent


ATTACKS = [
    ("pty-echo", "modern", unread_pty, "bytes typed"),
    ("channels", "modern", many_channels, "channels opened"),
    ("prelogin-unread", "modern", prelogin_unread, "requests sent"),
    ("throttle-held", None, throttle_held, "bytes typed"),
]


def run_one(binary, name, profile, fn, seconds, tmp):
    if profile is None:
        profile = os.path.join(tmp, "throttle.conf")
        with open(profile, "w") as f:
            f.write(THROTTLE_PROFILE)
    else:
        profile = os.path.join(TOP, "profiles", profile + ".conf")
    with Sshmock(binary, profile, state_dir=os.path.join(tmp, "state")) as srv:
        time.sleep(0.2)
        before = proc_status_kb(srv.pid, "VmRSS")
        stop = threading.Event()
        result = {}

        def attack():
            try:
                result["n"] = fn(srv.port, seconds, stop)
            except Exception as e:  # the figure is what matters; say why it ended
                result["error"] = "%s: %s" % (type(e).__name__, e)

        th = threading.Thread(target=attack, daemon=True)
        th.start()
        th.join(seconds + 20)
        stop.set()
        peak = proc_status_kb(srv.pid, "VmHWM")
        alive = srv.proc.poll() is None
    return before, peak, result, alive


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sshmock", default=DEFAULT_SSHMOCK)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", help="one attack by name")
    args = ap.parse_args()
    print("%-16s %10s %10s %10s  %s" % ("attack", "RSS KiB", "peak KiB", "growth", "attacker"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, profile, fn, unit in ATTACKS:
            if args.only and args.only != name:
                continue
            before, peak, result, alive = run_one(args.sshmock, name, profile, fn,
                                                  args.seconds, tmp)
            what = "%s %s" % (result.get("n", "?"), unit)
            if "error" in result:
                what += " (ended: %s)" % result["error"][:80]
            if not alive:
                what += " (SERVER DIED)"
            print("%-16s %10d %10d %10d  %s" % (name, before, peak, peak - before, what),
                  flush=True)


if __name__ == "__main__":
    main()
