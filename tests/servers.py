"""Helpers for tests that start `unitrace serve` as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_start(tmp_path: Path) -> tuple[subprocess.Popen[str], int, str]:
    """`unitrace serve` on a new, empty home and a free port, as a newcomer starts it: the
    process, its port, and what it printed until it listened."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITRACE_")}
    env.update(UNITRACE_HOME=str(tmp_path / "data"), UNITRACE_PORT=str(port),
               COLUMNS="200")  # fmt: skip
    command = [sys.executable, "-c", "from unitrace.cli.main import main; main()", "serve",
               "--no-demo"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)  # fmt: skip
    text = ""
    while "unitrace on http" not in text:
        line = server.stdout.readline()  # type: ignore[union-attr]
        if not line:
            server.wait(10)
            pytest.fail("server exited: " + text)
        text += line
    return server, port, text
