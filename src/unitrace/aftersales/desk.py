"""The service desk's answer for one scanned or typed serial: the unit's dossier, its warranty
verdict, the claim checks a warranty claim would meet, and its service cases — one look.

A serial the actor may not see (never made, or a partner's reach for another's unit) is
answered alike: no unit, and the `unknown_serial` check refusing.

One read transaction for the whole answer (a consistent look: the verdict, the checks and the
cases are of the same moment as the dossier), the unit found once, and the warranty verdict
taken from the dossier when the dossier carries it (after-sales' `warranty` section) rather
than worked out again. `bench/service_desk.py` measures it against the plain dossier.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unitrace.access.principal import Actor
from unitrace.aftersales import cases, claims, warranty
from unitrace.core.errors import NotFound
from unitrace.db.engine import Database
from unitrace.ledger import queries


def answer(
    db: Database, actor: Actor, serial: str, product: str | None = None, region: str | None = None
) -> dict[str, Any]:
    actor.require("service.read")
    with db.read() as conn:
        try:
            found = queries.find_unit(conn, actor, serial, product)
            serial = found.serial  # whatever was scanned: the unit's serial from here on
            unit = queries.dossier(db, actor, serial, found.product_code, conn=conn)
        except NotFound:  # not ours, or not the actor's to see: alike
            unknown = claims.evaluate_unknown(serial)
            return {
                "serial": serial,
                "unit": None,
                "warranty": None,
                "checks": unknown,
                "cases": [],
            }
        checks = claims.evaluate(conn, claims.Claim(serial, found.product_code, region))
        verdict = _verdict(conn, found.id, unit)
        history = cases.for_unit(conn, actor, found.id)
    return {
        "serial": serial,
        "unit": unit,
        "warranty": verdict,
        "checks": [c.as_dict() for c in checks],
        "cases": history,
    }


def _verdict(conn: Connection, unit_id: int, unit: dict[str, Any]) -> dict[str, Any]:
    """The dossier's warranty when it is the verdict (`warranty.verdict`'s shape, which the
    after-sales dossier section gives it), else the verdict read here."""
    shown = unit.get("warranty")
    if isinstance(shown, dict) and "policy" in shown and shown.get("status") in warranty.STATUSES:
        return shown
    return warranty.verdict(conn, unit_id)
