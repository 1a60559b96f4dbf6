"""One paramiko client run, in its own process so that the test can kill it
if it hangs. Prints one JSON line on stdout:

    {"ok": true, "exit_status": N, "stdout": "...", "stderr": "...",
     "host_key_type": "...", "host_key_fingerprint": "SHA256:...", "kex": "..."}
    {"ok": false, "error_type": "SSHException", "error": "..."}

Run with Debian's /usr/bin/python3 (which has paramiko).
"""

import argparse
import base64
import hashlib
import json
import sys

import paramiko


class _RecordKey(paramiko.MissingHostKeyPolicy):
    """Accepts any host key; the test compares the fingerprint we print
    with the ones the server logged."""

    def missing_host_key(self, client, hostname, key):
        pass


def fingerprint(key):
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password")
    ap.add_argument("--key")
    ap.add_argument("--command")
    ap.add_argument("--disable-kex", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=15.0)
    a = ap.parse_args()

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_RecordKey())
    res = {}
    try:
        kw = dict(hostname=a.host, port=a.port, username=a.user,
                  look_for_keys=False, allow_agent=False, timeout=a.timeout,
                  banner_timeout=a.timeout, auth_timeout=a.timeout)
        if a.password is not None:
            kw["password"] = a.password
        if a.key is not None:
            kw["key_filename"] = a.key
        if a.disable_kex:
            kw["disabled_algorithms"] = {"kex": a.disable_kex}
        client.connect(**kw)
        t = client.get_transport()
        hk = t.get_remote_server_key()
        res.update(host_key_type=hk.get_name(), host_key_fingerprint=fingerprint(hk),
                   kex=getattr(t, "kex_engine", None).__class__.__name__,
                   remote_version=t.remote_version)
        if a.command is not None:
            chan = t.open_session(timeout=a.timeout)
            chan.settimeout(a.timeout)
            chan.exec_command(a.command)
            out = chan.makefile("rb").read()
            err = chan.makefile_stderr("rb").read()
            status = chan.recv_exit_status()
            res.update(stdout=out.decode("utf-8", "replace"),
                       stderr=err.decode("utf-8", "replace"), exit_status=status)
        res["ok"] = True
    except Exception as e:  # every failure is a result to report
        res.update(ok=False, error_type=type(e).__name__, error=str(e))
    finally:
        client.close()
    sys.stdout.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
