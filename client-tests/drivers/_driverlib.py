"""What the Python drivers share: the command line every driver takes, the
exit codes, and running a command-line client under a deadline.

The interface (README.md has the full text):

    DRIVER --host H --port P --user U [--password PW] [--key FILE]...
           --known-hosts FILE --timeout SECONDS [--opt KEY=VALUE]...
           --command CMD
    DRIVER --version

Exit status: the remote command's status; 255 when the client could not
connect or log in; 124 when the driver gave up on its own deadline; 77 when
the client is not installed; 2 for a bad driver command line.

Only the Python standard library is used here, so that a driver can say
"not installed" before it imports its client.
"""

import argparse
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXIT_FAILURE = 255      # what ssh returns when it cannot connect or log in
EXIT_GAVE_UP = 124      # what timeout(1) returns
EXIT_NOT_INSTALLED = 77  # what automake and ctest read as "skipped"
EXIT_USAGE = 2


def say(client, message):
    """One line on stderr from the driver itself, never from the client."""
    sys.stderr.write("sshmock-driver: %s: %s\n" % (client, message))
    sys.stderr.flush()


def not_installed(client, reason):
    sys.stderr.write("sshmock-driver: %s not installed: %s\n" % (client, reason))
    sys.stderr.flush()
    sys.exit(EXIT_NOT_INSTALLED)


def usage_error(client, message):
    say(client, message)
    sys.exit(EXIT_USAGE)


def gave_up(client, seconds, what="the client had not finished"):
    say(client, "gave up after %.0f s (--timeout): %s; killed it" % (seconds, what))
    sys.exit(EXIT_GAVE_UP)


def killed(client, seconds, stderr):
    """The end of a run the driver had to kill: says only what the driver
    saw, the time and whether the client had written anything on its
    stderr (its words, if any, are passed on above this line)."""
    said = "nothing on its stderr" if not stderr.strip() else "its stderr is above"
    say(client, "killed after %.0f s (--timeout), still running; %s" % (seconds, said))
    sys.exit(EXIT_GAVE_UP)


def backstop(timeout):
    """How long a driver lets a client run in all when the client has
    timeouts of its own: long enough for the client's own message to come
    first, short enough that a server which stalls after the handshake
    still ends the run."""
    return 2 * timeout + 10


class _Parser(argparse.ArgumentParser):
    def __init__(self, client):
        super().__init__(prog=client, add_help=True,
                         description="Run the real %s client once against an "
                         "SSH server (see client-tests/drivers/README.md)." % client)
        self._client = client

    def error(self, message):
        usage_error(self._client, message)


def parse_args(client, argv=None):
    """Parses the common interface. Returns None for --version (the caller
    prints its version line), else the namespace with .opts a list of
    (KEY, VALUE) pairs in command-line order."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:
        return None
    p = _Parser(client)
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--user", required=True)
    p.add_argument("--password")
    p.add_argument("--key", action="append", default=[], metavar="PRIVATE_KEY_FILE")
    p.add_argument("--known-hosts", required=True, metavar="FILE")
    p.add_argument("--timeout", required=True, type=float, metavar="SECONDS")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--command", required=True)
    args = p.parse_args(argv)
    if args.timeout <= 0:
        usage_error(client, "--timeout must be more than 0")
    if not 0 < args.port < 65536:
        usage_error(client, "--port must be 1..65535")
    opts = []
    for o in args.opt:
        key, sep, value = o.partition("=")
        if not sep or not key:
            usage_error(client, "--opt %r is not KEY=VALUE" % o)
        opts.append((key, value))
    args.opts = opts
    args.known_hosts = os.path.abspath(args.known_hosts)
    args.key = [os.path.abspath(k) for k in args.key]
    for k in args.key:
        if not os.path.isfile(k):
            usage_error(client, "--key %s: no such file" % k)
    d = os.path.dirname(args.known_hosts)
    if d:
        os.makedirs(d, exist_ok=True)
    return args


def custom_command(default):
    """The client's program and leading arguments: `default` (a list), or,
    for `sshmock matrix --custom NAME=COMMAND`, the user's COMMAND from
    $SSHMOCK_CLIENT_CMD (e.g. "ssh -F ./my_ssh_config"), split like a shell
    would. Returns (argv prefix, executable path)."""
    import shlex
    cmd = os.environ.get("SSHMOCK_CLIENT_CMD")
    words = shlex.split(cmd) if cmd else list(default)
    return words, shutil.which(words[0]) or words[0]


def client_env(home=None):
    """The environment a client runs in: no agent, no display of ours, no
    locale surprises, and optionally its own HOME."""
    env = dict(os.environ)
    for v in ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE",
              "DISPLAY", "XDG_CONFIG_HOME", "DROPBEAR_PASSWORD", "SSHMOCK_CLIENT_CMD"):
        env.pop(v, None)
    env["LC_ALL"] = "C"
    if home is not None:
        env["HOME"] = home
    return env


def temp_dir(client):
    """A private directory for one run (askpass script, converted keys,
    logs); the caller removes it."""
    d = tempfile.mkdtemp(prefix="sshmock-driver-%s-" % client)
    _temp_dirs.append(d)
    return d


_running = []           # the client being run, for _on_terminate
_temp_dirs = []         # what temp_dir() made, removed by _on_terminate too


def _on_terminate(signum, frame):
    """The client runs in its own session, so a signal to the driver does
    not reach it: pass the end on, then go."""
    for proc in _running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    os._exit(128 + signum)


def _start(argv, **kw):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_terminate)
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    _running.append(proc)
    return proc


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class Run:
    """What one run of a command-line client gave: its exit code (None if
    the driver killed it), its stderr (when captured) and why it was
    killed."""

    def __init__(self, rc, err=b"", killed=None):
        self.rc = rc
        self.err = err
        self.killed = killed


def run_plain(argv, env, deadline, executable=None):
    """Runs a client with stdin /dev/null and stdout/stderr going straight
    to ours, in its own session (so it has no controlling terminal to ask
    questions on). Kills the whole group after `deadline` seconds."""
    proc = _start(argv, env=env, stdin=subprocess.DEVNULL, executable=executable)
    try:
        return Run(proc.wait(timeout=deadline))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return Run(None, killed="deadline")
    finally:
        _running.remove(proc)


def run_watched(argv, env, deadline, on_stderr=None, on_tick=None, feed_stdin=False,
                extend=None, hard_deadline=None, executable=None):
    """Runs a client with its stderr captured and watched as it comes.

    on_stderr(text_so_far), called after every chunk, and on_tick(), called
    about every 0.1 s, may return an action:
        ("write", bytes)   write to the client's stdin (feed_stdin only)
        ("close", None)    close the client's stdin: it reads EOF from now on
        ("abort", reason)  kill the client; Run.killed is reason
    With feed_stdin false stdin is /dev/null; with it true stdin is a pipe
    that stays open until an action closes it or the client ends.

    The client is killed after `deadline` seconds, unless extend() says
    (polled) that it got past the point the deadline guards; it is then
    allowed up to hard_deadline. stdout goes straight to ours.

    argv[0] is what the client is called as (clients put it in their
    messages); executable, when given, is the file run."""
    proc = _start(argv, env=env,
                  stdin=subprocess.PIPE if feed_stdin else subprocess.DEVNULL,
                  stderr=subprocess.PIPE, executable=executable)
    start = time.monotonic()
    err = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    stderr_open = True
    limit = deadline

    def act(action):
        """Carries out one action; returns a Run when the client is gone."""
        if action is None:
            return None
        kind, value = action
        if kind == "abort":
            _kill_group(proc)
            return Run(None, bytes(err), killed=value)
        if proc.stdin is None or proc.stdin.closed:
            return None
        try:
            if kind == "write":
                proc.stdin.write(value)
                proc.stdin.flush()
            elif kind == "close":
                proc.stdin.close()
        except BrokenPipeError:
            pass
        return None

    try:
        while True:
            elapsed = time.monotonic() - start
            if extend is not None and limit == deadline and extend():
                limit = hard_deadline if hard_deadline is not None else deadline
            if elapsed >= limit:
                _kill_group(proc)
                return Run(None, bytes(err), killed="deadline")
            if on_tick is not None:
                done = act(on_tick())
                if done:
                    return done
            if not stderr_open:
                try:
                    rc = proc.wait(timeout=min(0.1, limit - elapsed))
                    return Run(rc, bytes(err))
                except subprocess.TimeoutExpired:
                    continue
            events = sel.select(timeout=min(0.1, limit - elapsed))
            if not events:
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                sel.unregister(proc.stderr)
                stderr_open = False
                continue
            err += chunk
            if on_stderr is not None:
                done = act(on_stderr(err.decode("utf-8", "replace")))
                if done:
                    return done
    finally:
        _running.remove(proc)
        sel.close()
        if proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        if proc.stderr:
            proc.stderr.close()


def write_err(data):
    """Passes a client's captured stderr on, byte for byte."""
    if data:
        sys.stderr.flush()
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()


def exception_line(exc):
    """`type: message` the way Python's own traceback prints the last
    line: module-qualified unless the type is a builtin."""
    t = type(exc)
    name = t.__qualname__
    if t.__module__ not in ("builtins", "__main__"):
        name = t.__module__ + "." + name
    text = str(exc)
    return "%s: %s" % (name, text) if text else name


class LogTrace:
    """The records a library client writes to its own Python logger
    (paramiko's "paramiko", asyncssh's "asyncssh"), kept in memory as the
    library's default format `LEVEL:logger.name:message` would print them.
    A driver prints them (dump) when the run failed: they are the
    library's own words for what it saw, where its exception alone (a bare
    EOFError, a TimeoutError with no message) does not say. Traceback
    lines the library logs one by one are left out: the exception line
    that follows says the same."""

    TRACEBACK = ("Traceback (most recent call last)", "  File ", "    ")

    def __init__(self, name, level):
        import logging

        trace = self

        class _Handler(logging.Handler):
            def emit(self, record):
                try:
                    msg = record.getMessage()
                except Exception:       # a library's bad format string
                    msg = str(record.msg)
                if msg.startswith(LogTrace.TRACEBACK):
                    return
                for line in msg.splitlines() or [""]:
                    trace.lines.append("%s:%s:%s" % (record.levelname, record.name, line))

        self.lines = []
        log = logging.getLogger(name)
        log.addHandler(_Handler())
        log.setLevel(level)
        log.propagate = False

    def dump(self):
        if self.lines:
            sys.stderr.flush()
            sys.stderr.write("".join(line + "\n" for line in self.lines))
            sys.stderr.flush()
