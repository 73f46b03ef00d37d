"""The service desk's answer for one scanned or typed serial: the unit's dossier, its warranty
verdict, the claim checks a warranty claim would meet, and its service cases — one look.

A serial the actor may not see (never made, or a partner's reach for another's unit) is
answered alike: no unit, and the `unknown_serial` check refusing."""

from __future__ import annotations

from typing import Any

from unitrace.access.principal import Actor
from unitrace.aftersales import cases, claims, warranty
from unitrace.core.errors import NotFound
from unitrace.db.engine import Database
from unitrace.ledger import queries


def answer(
    db: Database, actor: Actor, serial: str, product: str | None = None, region: str | None = None
) -> dict[str, Any]:
    actor.require("service.read")
    try:
        unit = queries.dossier(db, actor, serial, product)
    except NotFound:
        unknown = claims.evaluate_unknown(serial)
        return {"serial": serial, "unit": None, "warranty": None, "checks": unknown, "cases": []}
    with db.read() as conn:
        found = queries.find_unit(conn, actor, serial, product)
        checks = claims.evaluate(conn, claims.Claim(serial, found.product_code, region))
        verdict = warranty.verdict(conn, found.id)
        history = cases.for_unit(conn, found.id)
    return {
        "serial": serial,
        "unit": unit,
        "warranty": verdict,
        "checks": [c.as_dict() for c in checks],
        "cases": history,
    }
