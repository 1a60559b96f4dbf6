"""Tickets: sshmock diagnose and sshmock import, fed what real clients printed.

diagnose: the client matrix runs every real client against every shipped
profile; each failing cell's output (the clients' own words, captured by the
drivers) is handed to `sshmock diagnose`, which must name a failure class the
profile plays and the stage the profile's Expect line gives. Inputs that are
garbage, empty, binary or too large must give a clear error and exit 2.

import: real ssh -vvv output recorded against a shipped profile is imported,
the imported profile is served, and the same ssh fails against it with the
same words.

Run: /usr/bin/python3 client-tests/test_ticket.py --sshmock build/sshmock
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TICKETS = os.path.join(HERE, "tickets")

# The classes a profile plays, as the failure catalogue describes them. A
# client that prints only "the server closed" (dbclient, libssh) cannot say
# where: "closed" is its honest answer for every profile that closes.
CLOSES = {"closed"}
ALLOWED = {
    "closed-before-ident": {"closed-before-ident"} | CLOSES,
    "maxstartups": {"maxstartups", "closed-before-ident"} | CLOSES,
    "reset-before-ident": {"reset"} | CLOSES,
    "closed-after-ident": {"closed-during-kex"} | CLOSES,
    "closed-after-client-kexinit": {"closed-during-kex"} | CLOSES,
    "hostkeys-missing": {"closed-during-kex"} | CLOSES,
    "ident-stall": {"ident-timeout"},
    "protocol-1": {"protocol-version"},
    "legacy-kex-group1": {"no-common-kex", "weak-algorithm"} | CLOSES,
    "legacy-ciphers-cbc": {"no-common-cipher", "weak-algorithm"} | CLOSES,
    "legacy-macs-sha1": {"no-common-mac"} | CLOSES,
    "legacy-hostkey-ssh-rsa": {"no-common-hostkey"} | CLOSES,
    "legacy-openssh5": {"no-common-hostkey"} | CLOSES,
    "hardened": {"no-common-kex", "no-common-cipher", "no-common-mac", "no-common-hostkey"},
    "hostkey-changed": {"hostkey-mismatch", "hostkey-unverified"},
    "corrupt-after-newkeys": {"mac-error"},
    "pubkey-only": {"auth-denied"},
    "rsa-sha1-refused": {"auth-denied"},
    "too-many-auth-failures": {"too-many-auth-failures", "auth-denied",
                               "disconnected-during-auth"},
}


def run(*args, stdin=None, timeout=60):
    return subprocess.run([h.SSHMOCK] + list(args), capture_output=True, text=True,
                          input=stdin, timeout=timeout)


def parse(out):
    """The KEY: value lines of diagnose's report."""
    d = {}
    for line in out.splitlines():
        m = re.match(r"^(failure|stage|profile|source|evidence): (.*)$", line)
        if m and m.group(1) not in d:
            d[m.group(1)] = m.group(2)
    if "failure" in d:
        d["class"] = d["failure"].split(":", 1)[0]
    return d


class DiagnoseMatrixTest(unittest.TestCase):
    """Every catalogue profile x client the matrix records."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sshmock-ticket-")
        out = os.path.join(cls.tmp, "matrix.json")
        r = run("matrix", "--json", out, "--quiet", "--state-dir", h.state_dir(),
                timeout=600)
        if r.returncode == 77:
            raise unittest.SkipTest("no client installed: " + r.stderr.strip())
        with open(out) as f:
            cls.matrix = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_failing_cell(self):
        checked = 0
        wrong = []
        for c in self.matrix["cells"]:
            res = c["result"]
            exp = c.get("expected") or {}
            if res.get("skipped") or res["connected"] or exp.get("outcome") != "fail":
                continue
            text = (res.get("stdout") or "") + (res.get("stderr") or "")
            r = run("diagnose", "-", stdin=text)
            d = parse(r.stdout)
            cell = "%s x %s" % (c["profile"], c["client"])
            checked += 1
            if r.returncode != 0 or "class" not in d:
                wrong.append("%s: exit %d, %r" % (cell, r.returncode, r.stdout[-300:]))
                continue
            allowed = ALLOWED[c["profile"]]
            if d["class"] not in allowed:
                wrong.append("%s: class %s, expected one of %s" % (cell, d["class"],
                                                                    sorted(allowed)))
            elif d["stage"] != "unknown" and d["stage"] != exp["stage"]:
                wrong.append("%s: stage %s, the profile's Expect says %s" %
                             (cell, d["stage"], exp["stage"]))
            elif d["class"] not in CLOSES and c["profile"] not in (
                    d["profile"], ) and c["profile"] not in (
                    r.stdout.split("also plays this output: ", 1)[1].split("\n")[0].split(",")
                    if "also plays this output: " in r.stdout else []):
                wrong.append("%s: names profile %s" % (cell, d["profile"]))
        self.assertGreater(checked, 90, "the matrix had fewer failing cells than the catalogue")
        self.assertEqual(wrong, [], "\n".join(wrong))

    def test_precise_where_the_client_says(self):
        """Where a client's words name the failure, diagnose names it, not a
        generic close."""
        precise = {("legacy-kex-group1", "openssh"): "no-common-kex",
                   ("legacy-ciphers-cbc", "dbclient"): "no-common-cipher",
                   ("legacy-macs-sha1", "ssh2"): "no-common-mac",
                   ("closed-before-ident", "plink"): "closed-before-ident",
                   ("closed-after-ident", "paramiko"): "closed-during-kex",
                   ("reset-before-ident", "openssh"): "reset",
                   ("too-many-auth-failures", "openssh"): "too-many-auth-failures"}
        seen = 0
        for c in self.matrix["cells"]:
            key = (c["profile"], c["client"])
            if key not in precise or c["result"].get("skipped"):
                continue
            text = (c["result"].get("stdout") or "") + (c["result"].get("stderr") or "")
            d = parse(run("diagnose", "-", stdin=text).stdout)
            self.assertEqual(d.get("class"), precise[key], (key, text[-500:]))
            seen += 1
        self.assertGreater(seen, 0)


class DiagnoseInputTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sshmock-ticket-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_bad_inputs_are_clear_errors(self):
        cases = {
            "empty": (b"", "empty"),
            "binary": (bytes(range(256)) * 64, "not text"),
            "huge": (b"debug1: x\n" * (17 * 1024 * 1024 // 10 + 1), "larger than 16 MiB"),
        }
        for name, (data, words) in cases.items():
            r = run("diagnose", self.write(name, data))
            self.assertEqual(r.returncode, 2, (name, r.stdout, r.stderr))
            self.assertIn(words, r.stderr, name)
            self.assertNotIn("Sanitizer", r.stderr)
        r = run("diagnose", os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing", r.stderr)
        r = run("diagnose", self.tmp)
        self.assertEqual(r.returncode, 2)

    def test_no_failure_is_exit_1(self):
        for data in (b"hello world\n", b"{\"ts\": 1\n", b"\r\n\r\n" * 100,
                     b"Their offer:\n" * 50, b"{\"ts\":\"x\",\"event\":\"accept\"}\n"):
            r = run("diagnose", self.write("x", data))
            self.assertEqual(r.returncode, 1, (data[:40], r.stdout, r.stderr))
            self.assertIn("failure: none recognised", r.stdout)

    def test_truncated_and_mixed(self):
        """A log cut in the middle of its last line, and one client's lines
        pasted inside another's, still end in a class or a clear 'none'."""
        text = ("debug1: Connecting to h [10.0.0.1] port 22.\n"
                "debug1: Connection established.\n"
                "Unable to negotiate with 10.0.0.1 port 22: no matching host key type found."
                " Their offer: ssh-rsa,ssh-dss\n")
        r = run("diagnose", self.write("t", text[:-30].encode()))
        d = parse(r.stdout)
        self.assertEqual(d.get("class"), "no-common-hostkey", r.stdout)
        mixed = ("Event Log: We claim version: SSH-2.0-PuTTY_Release_0.78\n" + text +
                 "dbclient: Connection to x@h:22 exited: Remote closed the connection\n")
        r = run("diagnose", self.write("m", mixed.encode()))
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(parse(r.stdout)["class"], "no-common-hostkey")

    def test_offer_gives_the_exact_option(self):
        text = ("Unable to negotiate with 10.0.0.1 port 22: no matching key exchange method "
                "found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1\n")
        r = run("diagnose", self.write("o", text.encode()))
        self.assertEqual(r.returncode, 0)
        self.assertIn("ssh -oKexAlgorithms=+diffie-hellman-group14-sha1", r.stdout)
        # The fix is the catalogue's own, word for word as explain prints it.
        ex = run("explain", "legacy-kex-group1").stdout
        fix = [ln.strip() for ln in ex.split("Fix on the client side\n", 1)[1].splitlines()
               if ln.startswith("  ssh ")][0]
        self.assertIn(fix, r.stdout)

    def test_event_log(self):
        """sshmock's own --log-json of a real ssh run against a profile."""
        with h.Server(h.profile("legacy-macs-sha1")) as srv:
            res = h.run_ssh(srv, "echo hello",
                            options=["MACs=hmac-sha2-256-etm@openssh.com"])
            self.assertNotEqual(res.rc, 0)
            with open(srv.json_path, "rb") as f:
                log = self.write("events.jsonl", f.read())
        r = run("diagnose", log)
        d = parse(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(d["source"], "sshmock event log")
        self.assertEqual(d["class"], "no-common-mac")
        self.assertIn("served profile: legacy-macs-sha1", r.stdout)


# Settings that configure the matrix's client run (credentials, the client's
# own configuration), not the server: carried over to the imported profile so
# that the same client runs the same way against it.
HARNESS_KEYWORDS = ("MatrixAuth", "MatrixHold", "MatrixKnownHost", "ClientOptions")
NORMALIZE = [(re.compile(r"port \d+"), "port P"), (re.compile(r":\d+ exited"), ":P exited"),
             (re.compile(r"SHA256:[A-Za-z0-9+/=]+"), "SHA256:F")]


def normalize(s):
    for rx, rep in NORMALIZE:
        s = rx.sub(rep, s)
    return s


class ImportReproducesTest(unittest.TestCase):
    """Real client output recorded against each catalogue profile, imported,
    served, and the same client run again: same class, same words."""

    CLIENTS = [("vvv", ["--custom", "vvv=openssh:ssh -vvv"]),
               ("plink", ["--client", "plink"]),
               ("dbclient", ["--client", "dbclient"])]

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sshmock-import-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def matrix(self, profiles, client_args, name):
        out = os.path.join(self.tmp, name + ".json")
        r = run(*(["matrix"] + profiles + client_args +
                  ["--json", out, "--quiet", "--state-dir", h.state_dir()]), timeout=600)
        if r.returncode == 77:
            return None
        with open(out) as f:
            return {c["profile"]: c["result"] for c in json.load(f)["cells"]}

    def harness_lines(self, profile):
        with open(h.profile(profile)) as f:
            return [ln for ln in f if ln.split(" ", 1)[0] in HARNESS_KEYWORDS]

    def test_import_then_replay(self):
        ran = 0
        wrong = []
        for client, args in self.CLIENTS:
            first = self.matrix([], args, client + "-first")
            if first is None:
                continue
            imported = []
            for prof, res in sorted(first.items()):
                if res.get("skipped"):
                    continue
                text = (res.get("stdout") or "") + (res.get("stderr") or "")
                src = os.path.join(self.tmp, "%s--%s.txt" % (prof, client))
                with open(src, "w") as f:
                    f.write(text)
                conf = os.path.join(self.tmp, "%s--%s.conf" % (prof, client))
                r = run("import", src, "-o", conf)
                if res["connected"] and r.returncode == 1 and "cannot tell" in r.stderr:
                    continue  # a client that connected and printed nothing: no ticket
                if r.returncode != 0:
                    wrong.append("%s x %s: import exit %d: %s" % (prof, client, r.returncode,
                                                                  r.stderr.strip()))
                    continue
                with open(conf, "a") as f:
                    f.writelines(self.harness_lines(prof))
                imported.append((prof, conf, res, text))
            again = self.matrix([c for _, c, _, _ in imported], args, client + "-again")
            for prof, conf, res, text in imported:
                res2 = again[os.path.basename(conf)[:-5]]
                text2 = (res2.get("stdout") or "") + (res2.get("stderr") or "")
                cell = "%s x %s" % (prof, client)
                ran += 1
                if res["connected"] != res2["connected"]:
                    wrong.append("%s: connected %s, against the import %s: %s" % (
                        cell, res["connected"], res2["connected"], text2[-300:]))
                    continue
                if res["connected"]:
                    continue
                d1 = parse(run("diagnose", "-", stdin=text).stdout)
                d2 = parse(run("diagnose", "-", stdin=text2).stdout)
                if d1.get("class") != d2.get("class") or \
                        normalize(d1.get("evidence", "").split(": ", 1)[-1]) != \
                        normalize(d2.get("evidence", "").split(": ", 1)[-1]):
                    wrong.append("%s: real %s %r / imported %s %r" % (
                        cell, d1.get("class"), d1.get("evidence"), d2.get("class"),
                        d2.get("evidence")))
        if ran == 0:
            self.skipTest("none of ssh, plink, dbclient is installed")
        self.assertEqual(wrong, [], "\n".join(wrong))


if __name__ == "__main__":
    h.main()
