"""interop's steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point."""

from __future__ import annotations

from unitrace.interop.webhooks.outbox import Outbox
from unitrace.ledger.pipeline import Step

STEPS: list[Step] = []
STEPS.append(Outbox())  # webhooks: the outbox rows of the events, in their transaction
