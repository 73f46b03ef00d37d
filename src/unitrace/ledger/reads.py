"""What capabilities add to the ledger's reads of a unit: sections of its dossier (the carton it
is in, its process step results) and what each node of its component tree holds besides units
(the lots an assembly consumed).

Registered like the write pipeline's steps, through the entry point group `unitrace.reads` (see
`pyproject.toml`): the ledger imports no capability and reads a capability's tables only
through these."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, ClassVar

from sqlalchemy import Connection


class Section:
    """One key of a unit's dossier, read by the capability that owns it."""

    key: ClassVar[str] = "section"

    def read(
        self, conn: Connection, unit_id: int, events: frozenset[int] | None, holds: bool
    ) -> Any:
        """The section; for a partner, `events` are the events it may see (None for staff)
        and `holds` whether its party holds the unit now."""
        raise NotImplementedError


class NodePart:
    """One key of every node of a unit's component tree."""

    key: ClassVar[str] = "part"

    def read(self, conn: Connection, unit_ids: Sequence[int], partner: bool) -> dict[int, Any]:
        """unit id → the part's value for the units of the tree (partners see less)."""
        raise NotImplementedError


_registered: list[Section | NodePart] | None = None


def _all() -> list[Section | NodePart]:
    global _registered
    if _registered is None:
        found: list[Section | NodePart] = []
        points = {point.value: point for point in entry_points(group="unitrace.reads")}
        for _value, point in sorted(points.items()):  # one copy of each, in a stable order
            found.extend(point.load())
        _registered = found
    return _registered


def sections() -> list[Section]:
    return [r for r in _all() if isinstance(r, Section)]


def node_parts() -> list[NodePart]:
    return [r for r in _all() if isinstance(r, NodePart)]
