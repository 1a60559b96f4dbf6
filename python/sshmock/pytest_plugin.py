"""pytest plugin (loaded through the `pytest11` entry point when the
package is installed): the `sshmock_server` fixture.

    def test_legacy(sshmock_server):
        srv = sshmock_server("legacy-kex-group1")
        ... srv.host, srv.port, srv.fingerprints, srv.wait_event(...) ...

Every server the factory starts is stopped at the end of the test; a server
that does not stop cleanly fails the test.
"""
import pytest

from sshmock import Server


@pytest.fixture
def sshmock_server():
    started = []

    def start(profile="modern", **kwargs):
        srv = Server(profile, **kwargs).start()
        started.append(srv)
        return srv

    yield start
    errors = []
    for srv in reversed(started):
        try:
            srv.stop()
        except Exception as e:  # report every server, not only the first
            errors.append(str(e))
        finally:
            srv._cleanup()
    if errors:
        pytest.fail("sshmock server(s) did not stop cleanly:\n" + "\n".join(errors))
