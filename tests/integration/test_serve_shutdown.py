"""`unitrace serve` stops on SIGTERM even while a request is still in flight."""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.servers import first_start
from unitrace.cli.main import SHUTDOWN_GRACE_SECONDS


def _connect(port: int) -> socket.socket:
    """A connection to the server once it listens (it prints its address a little before)."""
    for _ in range(200):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except ConnectionRefusedError:
            time.sleep(0.1)
    pytest.fail("server did not listen")


@pytest.mark.slow
def test_sigterm_stops_the_server_while_an_upload_is_stalled(tmp_path: Path) -> None:
    server, port, text = first_start(tmp_path)
    try:
        token = re.search(r"API token: (ut_\S+)", text)
        assert token
        # drain the output so that the server never blocks on a full pipe
        threading.Thread(target=server.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        with _connect(port) as client:
            # an authorised upload that promises 1 MB and sends a few bytes: the request stays
            # in flight, waiting for a body that never comes
            client.sendall(
                b"POST /api/v1/sell-through HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer " + token.group(1).encode() + b"\r\n"
                b"Content-Type: multipart/form-data; boundary=xx\r\n"
                b"Content-Length: 1000000\r\n\r\n--xx\r\n"
            )
            time.sleep(1)  # let the server start on the request
            assert server.poll() is None
            server.send_signal(signal.SIGTERM)
            # a liveness bound, not a benchmark: the grace period and a generous margin
            server.wait(SHUTDOWN_GRACE_SECONDS + 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        server.stdout.close()  # type: ignore[union-attr]
