"""The EPCIS repository's tables: capture jobs, captured events kept whole, and the index the
MATCH_/EQ_ queries look up (EPCs in `identifiers.canonical` form, bizTransactions by type).
Only `capture` writes here, inside its own transaction; `query` reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from unitrace.db.tables import epcis_captures, epcis_events, epcis_index
from unitrace.interop.epcis import identifiers
from unitrace.interop.epcis.ledger_events import short_bt_type, short_disposition, short_step
from unitrace.ledger.bulk import chunks

# where each kind of object sits in an event (quantity lists: their epcClass)
_OBJECTS = (
    ("epc", "epcList"),
    ("child", "childEPCs"),
    ("input", "inputEPCList"),
    ("output", "outputEPCList"),
)
_QUANTITIES = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
TEXT = 400  # longest identifier kept in a column (the event itself keeps everything)


def canonical(uri: str) -> str:
    try:
        return identifiers.canonical(uri)[:TEXT]
    except ValueError:
        return uri[:TEXT]


def index_rows(event: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) of every object, parent, quantity class and bizTransaction of an event."""
    rows: set[tuple[str, str]] = set()
    for kind, key in _OBJECTS:
        for uri in event.get(key) or ():
            if isinstance(uri, str):
                rows.add((kind, canonical(uri)))
    parent = event.get("parentID")
    if isinstance(parent, str):
        rows.add(("parent", canonical(parent)))
    for key in _QUANTITIES:
        for one in event.get(key) or ():
            if isinstance(one, dict) and isinstance(one.get("epcClass"), str):
                rows.add(("quantity", canonical(one["epcClass"])))
    for one in event.get("bizTransactionList") or ():
        if isinstance(one, dict) and isinstance(one.get("bizTransaction"), str):
            kind = "bt:" + short_bt_type(one.get("type"))
            rows.add((kind[:200], one["bizTransaction"][:TEXT]))
    return rows


def held(conn: Connection, hashes: Iterable[str]) -> set[str]:
    """The hash IDs among `hashes` the repository holds already."""
    query = select(epcis_events.c.hash_id).where(
        epcis_events.c.hash_id.in_(bindparam("h", expanding=True))
    )
    found: set[str] = set()
    for chunk in chunks(list(dict.fromkeys(hashes))):
        found.update(conn.execute(query, {"h": list(chunk)}).scalars())
    return found


def new_capture(
    conn: Connection, actor_name: str, behaviour: str, total: int, context: Any, at: datetime
) -> int:
    pk = conn.execute(
        insert(epcis_captures).values(
            status="running",
            behaviour=behaviour,
            events_total=total,
            captured=0,
            duplicates=0,
            ledger_events=0,
            refused=0,
            errors=[],
            context=context,
            created_by=actor_name,
            created_at=at,
        )
    ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def finish_capture(conn: Connection, capture_id: int, **values: Any) -> None:
    conn.execute(update(epcis_captures).where(epcis_captures.c.id == capture_id).values(**values))


def _text(value: Any) -> str | None:
    return value[:TEXT] if isinstance(value, str) else None


def add_events(
    conn: Connection,
    capture_id: int,
    captured: Sequence[tuple[dict[str, Any], str, datetime, datetime, int | None]],
) -> None:
    """Keep captured events: (event as captured, hash ID, event time, record time, the ledger
    event's id or None)."""
    for event, hash_id, when, recorded, ledger_id in captured:
        where = event.get("bizLocation") or {}
        point = event.get("readPoint") or {}
        pk = conn.execute(
            insert(epcis_events).values(
                hash_id=hash_id,
                event_id=_text(event.get("eventID")),
                event_type=str(event.get("type")),
                action=_text(event.get("action")),
                biz_step=_text(short_step(event.get("bizStep"))),
                disposition=_text(short_disposition(event.get("disposition"))),
                read_point=canonical(point["id"]) if isinstance(point.get("id"), str) else None,
                biz_location=canonical(where["id"]) if isinstance(where.get("id"), str) else None,
                event_time=when,
                record_time=recorded,
                body=event,
                ledger_event_id=ledger_id,
                capture_id=capture_id,
            )
        ).inserted_primary_key
        assert pk is not None
        rows = [{"kind": k, "value": v, "event_pk": pk[0]} for k, v in index_rows(event)]
        if rows:
            conn.execute(insert(epcis_index), rows)


def capture_row(conn: Connection, capture_id: int) -> Any:
    """The capture job `capture_id`, or None (an id past what the database holds is no job's)."""
    if not 0 < capture_id < 2**62:
        return None
    return conn.execute(select(epcis_captures).where(epcis_captures.c.id == capture_id)).first()
