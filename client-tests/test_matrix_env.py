"""sshmock matrix passes its whole environment to the clients it runs.

It once copied the environment into a fixed array of 128 entries and
silently dropped the rest: on a CI machine with many variables, PATH (and
whatever a client needed) could be lost. Here the matrix runs with 300
filler variables ahead of the real environment, and a client that is a
small wrapper around ssh which refuses to run unless the variable set last
reached it; the wrapper finds ssh through PATH, which also comes after the
fillers.

Run: /usr/bin/python3 client-tests/test_matrix_env.py --sshmock build/sshmock
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

FILLERS = 300

WRAPPER = """#!/bin/sh
if [ "$SSHMOCK_TEST_LAST_VARIABLE" != "reached-the-client" ]; then
    echo "wrapper: SSHMOCK_TEST_LAST_VARIABLE did not reach the client" >&2
    exit 254
fi
exec ssh "$@"
"""


class MatrixEnvironmentTest(unittest.TestCase):
    def setUp(self):
        h.require("ssh", "openssh-client")

    def test_every_variable_reaches_the_client(self):
        with tempfile.TemporaryDirectory() as tmp:
            wrapper = os.path.join(tmp, "client")
            with open(wrapper, "w") as f:
                f.write(WRAPPER)
            os.chmod(wrapper, 0o755)
            out = os.path.join(tmp, "m.json")
            # Order matters: the fillers come first, PATH and the marker after.
            env = {"SSHMOCK_TEST_FILLER_%03d" % i: "x" * 40 for i in range(FILLERS)}
            env.update((k, v) for k, v in os.environ.items() if not k.startswith("SSHMOCK_TEST_"))
            env["SSHMOCK_TEST_LAST_VARIABLE"] = "reached-the-client"
            r = subprocess.run(
                [h.SSHMOCK, "matrix", "modern", "--custom", "wrapped=openssh:" + wrapper,
                 "--quiet", "--state-dir", h.state_dir(), "--json", out],
                env=env, capture_output=True, text=True, timeout=120)
            cells = json.load(open(out))["cells"]
            self.assertEqual(len(cells), 1, r.stdout)
            res = cells[0]["result"]
            self.assertNotIn("did not reach the client", res["stderr"], res)
            self.assertTrue(res["connected"], res)
            self.assertIn("hello", res["stdout"])
            self.assertEqual(cells[0]["verdict"], "ok")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    h.main()
