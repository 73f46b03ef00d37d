"""Settings from the environment. Every setting is documented in README.md (a test checks)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

SETTINGS = {
    "UNITRACE_HOME": "folder for the embedded SQLite database and other data (./unitrace-data)",
    "UNITRACE_DATABASE_URL": "SQLAlchemy URL; unset means SQLite at $UNITRACE_HOME/unitrace.db",
    "UNITRACE_HOST": "address `unitrace serve` listens on (127.0.0.1)",
    "UNITRACE_PORT": "port `unitrace serve` listens on (8000)",
    "UNITRACE_PARTNER_MAX_UNITS": "units one request of a partner may name — serials, units, "
    "cartons and pallets, and the units inside those (1000)",
    "UNITRACE_PARTNER_MAX_EVENTS": "events one request of a partner may hold (1000)",
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


@dataclass(frozen=True)
class PartnerLimits:
    """What one request of a partner may ask of the write path. A partner's batches are
    small, and every write waits while one is written: a bound keeps one token from holding
    the writer (checked before the request queues for it, and before any unit is read)."""

    max_units: int = 1_000
    max_events: int = 1_000

    @classmethod
    def from_env(cls) -> PartnerLimits:
        return cls(_positive("UNITRACE_PARTNER_MAX_UNITS", cls.max_units),
                   _positive("UNITRACE_PARTNER_MAX_EVENTS", cls.max_events))  # fmt: skip


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1, not {text!r}")
    return int(text)


@functools.cache
def partner_limits() -> PartnerLimits:
    """The limits from the environment, read once (`partner_limits.cache_clear()` to reread)."""
    return PartnerLimits.from_env()
