"""An example a user copies: the real OpenSSH client against two scenarios,
through the sshmock pytest fixture (pip install ./python, then pytest).

Needs `ssh` (openssh-client) and the sshmock binary ($SSHMOCK_BIN or PATH).
"""
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="no ssh client (openssh-client)")


def ssh(srv, *opts):
    # ssh takes the first value given for an option: the test's own come first.
    argv = ["ssh", "-p", str(srv.port), *opts, "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "demo@" + srv.host, "echo hello"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_legacy_server_refused_then_fixed(sshmock_server):
    srv = sshmock_server("legacy-kex-group1")
    r = ssh(srv)
    assert r.returncode == 255
    assert "no matching key exchange method found. Their offer: diffie-hellman-group1-sha1" in r.stderr
    srv.wait_event(lambda e: e["event"] == "negotiation_failed" and e["list"] == "kex_algorithms")
    # The documented fix gets through key exchange; BatchMode then stops at
    # the password prompt, which the server records as reaching auth.
    r = ssh(srv, "-oKexAlgorithms=+diffie-hellman-group1-sha1", "-oHostKeyAlgorithms=+ssh-rsa")
    assert "no matching" not in r.stderr
    srv.wait_event(lambda e: e["event"] == "kex_done")


def test_changed_host_key(sshmock_server, tmp_path):
    srv = sshmock_server("hostkey-changed")
    assert srv.fingerprints, "the server reports its host key fingerprints"
    kh = tmp_path / "known_hosts"
    first = ssh(srv, "-oStrictHostKeyChecking=accept-new", "-oUserKnownHostsFile=%s" % kh)
    assert "Permanently added" in first.stderr
    again = ssh(srv, "-oStrictHostKeyChecking=yes", "-oUserKnownHostsFile=%s" % kh)
    assert again.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in again.stderr
