"""Settings from the environment. Every setting is documented in README.md (a test checks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SETTINGS = {
    "UNITRACE_HOME": "folder for the embedded SQLite database and other data (./unitrace-data)",
    "UNITRACE_DATABASE_URL": "SQLAlchemy URL; unset means SQLite at $UNITRACE_HOME/unitrace.db",
    "UNITRACE_HOST": "address `unitrace serve` listens on (127.0.0.1)",
    "UNITRACE_PORT": "port `unitrace serve` listens on (8000)",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    host: str
    port: int

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("UNITRACE_HOME", "unitrace-data")).resolve()
        url = os.environ.get("UNITRACE_DATABASE_URL") or f"sqlite:///{home / 'unitrace.db'}"
        port_text = os.environ.get("UNITRACE_PORT", "8000")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"UNITRACE_PORT must be a port number, not {port_text!r}")
        return cls(home, url, os.environ.get("UNITRACE_HOST", "127.0.0.1"), int(port_text))
