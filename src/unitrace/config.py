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
    "UNITRACE_UPLOAD_MAX_BYTES": "largest uploaded CSV or XLSX file, in bytes (10485760: 10 MB)",
    "UNITRACE_UPLOAD_MAX_UNPACKED_BYTES": "most an uploaded XLSX may unpack to, in bytes "
    "(104857600: 100 MB)",
    "UNITRACE_UPLOAD_MAX_ROWS": "most rows under the header line of an uploaded file (50000)",
    "UNITRACE_UPLOAD_MAX_COLUMNS": "the rightmost column an uploaded file may have a value in (50)",
    "UNITRACE_UPLOAD_MAX_CELLS": "most cells an uploaded file may hold, empty ones included "
    "(1000000)",
    "UNITRACE_UPLOAD_MAX_SECONDS": "longest time the server spends reading one uploaded file, "
    "in seconds (60)",
}


@dataclass(frozen=True)
class UploadLimits:
    """What the server reads of one uploaded table (CSV or XLSX) before it refuses the file."""

    max_bytes: int = 10 * 1024 * 1024
    max_unpacked_bytes: int = 100 * 1024 * 1024
    max_rows: int = 50_000
    max_columns: int = 50
    max_cells: int = 1_000_000
    max_seconds: int = 60

    @classmethod
    def from_env(cls) -> UploadLimits:
        defaults = cls()
        return cls(**{name: _positive(f"UNITRACE_UPLOAD_{name.upper()}", getattr(defaults, name))
                      for name in defaults.__dataclass_fields__})  # fmt: skip


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"{name} must be a whole number above 0, not {text!r}")
    return int(text)


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
