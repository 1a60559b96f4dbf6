"""Start sshmock mock SSH servers from Python tests.

    from sshmock import Server
    with Server("legacy-kex-group1") as srv:
        ... connect the client under test to srv.host, srv.port ...

`Server` runs `sshmock serve PROFILE --port 0` with a JSON event log and a
private state directory, waits for its `listening on ADDR:PORT` line, and
exposes the address, the host key fingerprints and the event log. Leaving
the `with` block stops it with SIGTERM; a server that does not exit 0 within
the stop timeout is an error, so a crash or a hang never passes unnoticed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

__all__ = ["Server", "ServerError", "find_binary"]
__version__ = "0.1.0"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ServerError(AssertionError):
    """The server could not start, did not stop cleanly, or an awaited
    event did not come. An AssertionError, so that test runners report it
    as the test's failure."""

# What a sanitizer build writes when it finds a bug: a server that stops
# with one of these on its stderr did not stop cleanly.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")


def find_binary(binary=None):
    """The sshmock binary: the argument, $SSHMOCK_BIN, `sshmock` on PATH,
    or build/sshmock of the checkout this module sits in."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [binary, os.environ.get("SSHMOCK_BIN"), shutil.which("sshmock"),
                  os.path.join(here, "..", "..", "build", "sshmock")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise ServerError("no sshmock binary: pass binary=, set SSHMOCK_BIN, or put sshmock on PATH")


class Server:
    """One `sshmock serve` for the length of a `with` block (or start()/stop())."""

    def __init__(self, profile="modern", binary=None, args=(), listen=None,
                 state_dir=None, start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT):
        self.profile = profile
        self.binary = find_binary(binary)
        self.args = list(args)
        self.listen = listen
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.host = None
        self.port = None
        self.fingerprints = {}   # host key type ("ssh-ed25519") -> "SHA256:..."
        self.exit_status = None
        self.proc = None
        self._tmp = None

    # -- life ---------------------------------------------------------------
    def start(self):
        self._tmp = tempfile.mkdtemp(prefix="sshmock-")
        self.log_path = os.path.join(self._tmp, "events.jsonl")
        self._stdout_path = os.path.join(self._tmp, "stdout")
        self._stderr_path = os.path.join(self._tmp, "stderr")
        # listen None: the profile's ListenAddress, else 127.0.0.1.
        argv = [self.binary, "serve", self.profile, "--port", "0"]
        if self.listen:
            argv += ["--listen", self.listen]
        argv += ["--state-dir", self.state_dir or os.path.join(self._tmp, "state"),
                 "--log-json", self.log_path] + self.args
        with open(self._stdout_path, "wb") as so, open(self._stderr_path, "wb") as se:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se)
        try:
            self._wait_listening()
        except BaseException:
            self._kill()
            self._cleanup()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except ServerError:
            if exc is None:
                raise
        finally:
            self._cleanup()
        return False

    def _wait_listening(self):
        deadline = time.monotonic() + self.start_timeout
        while True:
            text = self.stdout()
            for line in text.splitlines():
                if line.startswith("listening on ") and text.endswith("\n"):
                    addr = line[len("listening on "):].strip()
                    host, port = addr.rsplit(":", 1)
                    self.host, self.port = host.strip("[]"), int(port)
                    self._read_fingerprints()
                    return
            if self.proc.poll() is not None:
                raise ServerError("sshmock exited with status %s before listening:\n%s"
                                  % (self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                raise ServerError("sshmock did not print 'listening on' within %.0f s:\n%s"
                                  % (self.start_timeout, self.stderr()))
            time.sleep(0.02)

    def _read_fingerprints(self):
        for ev in self.events():
            if ev.get("event") == "hostkey" and "fingerprint" in ev:
                self.fingerprints[ev["type"]] = ev["fingerprint"]
        if not self.fingerprints:
            # The event lines on stderr say the same (a JSON log may be off).
            for line in self.stderr().splitlines():
                if " hostkey " in line:
                    fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
                    if "type" in fields and "fingerprint" in fields:
                        self.fingerprints[fields["type"]] = fields["fingerprint"]

    def stop(self):
        """SIGTERM; the server must exit 0 within the stop timeout, with no
        sanitizer report on its stderr."""
        if self.proc is None or self.exit_status is not None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_status = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self.exit_status = self.proc.returncode
            raise ServerError("sshmock did not exit within %.0f s of SIGTERM; stderr tail:\n%s"
                              % (self.stop_timeout, self.tail()))
        err = self.stderr()
        for marker in SANITIZER_MARKERS:
            at = err.find(marker)
            if at >= 0:
                raise ServerError("sanitizer report (%r) on the server's stderr:\n%s"
                                  % (marker, err[max(0, at - 200):]))
        if self.exit_status != 0:
            raise ServerError("sshmock exited with status %s after SIGTERM; stderr tail:\n%s"
                              % (self.exit_status, self.tail()))

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _cleanup(self):
        if self._tmp:
            if os.environ.get("SSHMOCK_KEEP_LOGS"):
                sys.stderr.write("sshmock logs kept in %s\n" % self._tmp)
            else:
                shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- what it said ---------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    def stdout(self):
        with open(self._stdout_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self._stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def tail(self, n=40):
        """The last n lines the server wrote on stderr (its event lines)."""
        return "\n".join(self.stderr().splitlines()[-n:])

    def events(self):
        """The JSON event log so far, one dict per event (see the README's
        "The event log"); a line still being written is left for later."""
        out = []
        try:
            with open(self.log_path, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break
                    out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def wait_event(self, pred, count=1, timeout=5.0, what=None):
        """Waits until `count` events satisfy pred and returns them. When the
        timeout passes first it raises ServerError naming what it waited
        for (`what`, else the predicate's source) and the events the log
        has: a wait that times out is never a pass."""
        deadline = time.monotonic() + timeout
        while True:
            got = [e for e in self.events() if pred(e)]
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise ServerError("waited %.1f s for %d event(s) %s, found %d; the log has:\n%s"
                                  % (timeout, count, what or _describe(pred), len(got),
                                     _event_summary(self.events())))
            time.sleep(0.05)


def _describe(pred):
    """The source text of a predicate (a lambda in the test), to name it."""
    import inspect
    try:
        src = inspect.getsource(pred).strip()
    except (OSError, TypeError):
        return repr(pred)
    i = src.find("lambda")
    return src[i:] if i >= 0 else src


def _event_summary(events, limit=40):
    """The last `limit` events, one short line each."""
    lines = []
    for e in events[-limit:]:
        rest = ", ".join("%s=%s" % (k, v) for k, v in e.items() if k not in ("event", "ts", "time"))
        lines.append("  %s %s" % (e.get("event"), rest[:160]))
    return "\n".join(lines) if lines else "  (no events)"
