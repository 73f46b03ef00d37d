"""What after-sales adds to the ledger's reads of a unit (`ledger.reads`), registered through the
`unitrace.reads` entry point."""

from __future__ import annotations

from unitrace.ledger.reads import NodePart, Section

READS: list[Section | NodePart] = []
