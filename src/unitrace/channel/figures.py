"""Channel's figures for the home page: open diversion alerts and stock by warehouse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from unitrace.access.principal import Actor
from unitrace.channel.inventory import inventory
from unitrace.db.engine import Database
from unitrace.db.tables import diversion_alerts


def open_alerts(db: Database, actor: Actor) -> int:
    actor.require("catalog.read")
    query = select(func.count()).where(diversion_alerts.c.status == "open")
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def stock_by_warehouse(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Units on hand in each warehouse, its bins included, with the recalled ones among them."""
    found = inventory(db, actor, ["location"])
    return [
        {
            "location": item["location"],
            "name": item["location_name"],
            "units": item["total"],
            "recalled": item["total_recalled"],
        }
        for item in found["items"]
        if item["kind"] == "warehouse"
    ]
