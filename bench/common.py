"""Shared pieces of the benchmarks: start one `sshmock serve` on a free
loopback port and read its process figures from /proc.

Benchmarks print figures; they never pass or fail on a time.
"""
import logging
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DEFAULT_SSHMOCK = os.path.join(TOP, "build", "sshmock")


class Sshmock:
    """`sshmock serve PROFILE --port 0`, ready once it printed its port."""

    def __init__(self, binary, profile, extra=(), state_dir=None):
        self.binary = binary
        self.profile = profile
        self.extra = list(extra)
        self.state_dir = state_dir
        self.proc = None
        self.port = None
        self.log = None

    def __enter__(self):
        argv = [self.binary, "serve", self.profile, "--port", "0", "--quiet"]
        if self.state_dir:
            argv += ["--state-dir", self.state_dir]
        argv += self.extra
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.time() + 20
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(rb"listening on (\S+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                return self
        self.proc.kill()
        self.proc.wait()
        self.log.seek(0)
        said = self.log.read().decode(errors="replace").strip()[-600:]
        self.__exit__(None, None, None)
        raise RuntimeError("sshmock did not start (%s): %s" % (self.profile, said or repr(line)))

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()

    @property
    def pid(self):
        return self.proc.pid


def proc_status_kb(pid, field):
    """VmRSS, VmHWM, ... of a process, in KiB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def paramiko_or_exit():
    try:
        import paramiko  # noqa: F401
    except ImportError:
        sys.exit("this benchmark needs paramiko: run it with /usr/bin/python3 "
                 "(Debian's python3-paramiko; scripts/setup.sh installs it)")
    # Its transport thread logs every failed connection with a traceback;
    # the benchmarks count outcomes themselves.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False
    return sys.modules["paramiko"]
