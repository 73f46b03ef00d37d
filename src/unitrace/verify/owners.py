"""Registration and ownership by the buyer: warranty registration from the public page (an
`activate` event), owners, one-time transfer codes, stolen reports by the owner.

OWNER: the owners helper (issue 16). `Ownership` and `ownership` are read by the engine's
verdict (verify/check.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection


@dataclass(frozen=True)
class Ownership:
    registered: bool = False  # the buyer registered (the warranty) from the public page
    owned_since: date | None = None  # the current owner's since (ownership products)
    stolen: bool = False  # the owner reported it stolen (not cleared)


def ownership(conn: Connection, unit_id: int) -> Ownership:
    """The unit's public registration state."""
    return Ownership()  # the owners helper writes this
