"""Clone detection (克隆码): alerts when a code is verified too often, by too many devices, or
from two places farther apart than anyone travels in the time between.

OWNER: the clones helper (issue 16). `Observation` and `observe` are called by the engine's
pipeline step (verify/steps.py) inside the transaction that records the verifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection


@dataclass(frozen=True)
class Observation:
    """One verification, with the code's counters after it."""

    code_id: int
    unit_id: int
    product_id: int
    verification_id: int
    at: datetime
    region: str | None
    device: str
    checks: int  # the code's verifications, this one included
    devices: int  # distinct devices, this one included
    previous_at: datetime | None  # the code's verification before this one
    previous_region: str | None


def observe(conn: Connection, observations: Sequence[Observation]) -> list[int]:
    """Raise or update the clone alerts these verifications call for (one per code and rule);
    the ids of the alerts raised or updated."""
    return []  # the clones helper writes this


def open_alert(conn: Connection, code_id: int) -> bool:
    """Whether a clone alert of the code is open or acknowledged (not closed)."""
    return False  # the clones helper writes this
