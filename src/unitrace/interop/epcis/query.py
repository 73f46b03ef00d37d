"""EPCIS 2.0 queries: the union of the ledger's events (as EPCIS, `ledger_events.to_epcis`) and
the repository's captured events (given back as they came), answered as an EPCISQueryDocument.

Order is stable: by record time, then the ledger's events before the repository's, then by id.
A ledger event that came from a capture is answered once, as the event captured. Pages are cut
by `perPage`; `nextPageToken` is the position after the last event of a page (keyset: a page
does not move when events are added), tied to the query it belongs to. A partner sees only the
ledger events of units its party holds or held, as the ledger's partner scope shows them, and
no captured event that is not one of those.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select

from unitrace.access.principal import Actor
from unitrace.core.errors import FieldError, NotFound, ValidationError, invalid
from unitrace.core.lifecycle import RULES
from unitrace.db.engine import Database
from unitrace.db.tables import (
    epcis_captures,
    epcis_events,
    epcis_index,
    event_units,
    events,
    locations,
    parties,
    products,
    units,
)
from unitrace.interop.epcis.ledger_events import (
    CONTEXT,
    EPCIS_CONTEXT,
    LedgerUnit,
    bt_uri,
    find_units,
    gln_codes,
    short_bt_type,
    short_disposition,
    short_step,
    to_epcis,
)
from unitrace.interop.epcis.store import canonical
from unitrace.ledger.bulk import chunks
from unitrace.ledger.scope import outside, partner_views, unit_condition

PER_PAGE = 30
MAX_PER_PAGE = 1_000
_LISTS = {
    "eventType": "event_types",
    "EQ_action": "actions",
    "EQ_bizStep": "steps",
    "EQ_disposition": "dispositions",
    "EQ_readPoint": "read_points",
    "EQ_bizLocation": "biz_locations",
    "MATCH_epc": "epcs",
    "MATCH_anyEPC": "any_epcs",
    "MATCH_parentID": "parents",
    "MATCH_inputEPC": "inputs",
    "MATCH_outputEPC": "outputs",
}
_TIMES = {
    "GE_eventTime": "ge_event",
    "LT_eventTime": "lt_event",
    "GE_recordTime": "ge_record",
    "LT_recordTime": "lt_record",
}
PARAMETERS = (*_LISTS, *_TIMES, "EQ_bizTransaction_<type>", "perPage", "nextPageToken")
_EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
_ACTIONS = ("ADD", "OBSERVE", "DELETE")


@dataclass
class Params:
    event_types: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    dispositions: list[str] = field(default_factory=list)
    read_points: list[str] = field(default_factory=list)
    biz_locations: list[str] = field(default_factory=list)
    epcs: list[str] = field(default_factory=list)
    any_epcs: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ge_event: datetime | None = None
    lt_event: datetime | None = None
    ge_record: datetime | None = None
    lt_record: datetime | None = None
    transactions: dict[str, list[str]] = field(default_factory=dict)
    per_page: int = PER_PAGE
    after: tuple[datetime, int, int] | None = None

    def fingerprint(self) -> str:
        """What a page token is tied to: the query without its position."""
        text = json.dumps(
            {k: str(v) for k, v in sorted(vars(self).items()) if k != "after"}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _values(raw: Sequence[str]) -> list[str]:
    """Values of a list parameter: repeated, or separated by `|` as the REST binding does."""
    return [v.strip() for value in raw for v in value.split("|") if v.strip()]


def _time(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise invalid(name, "a date-time with its offset (2026-12-04T01:00:00Z)", raw) from None
    if moment.tzinfo is None:
        raise invalid(name, "a date-time with its offset (2026-12-04T01:00:00Z)", raw)
    return moment


def parse(query: Mapping[str, Sequence[str]], epc: str | None = None) -> Params:
    """The query parameters of GET /epcis/events (name → values); every unknown or bad one
    named at once. `epc`: GET /epcis/epcs/{epc}/events, every event that names it
    (MATCH_anyEPC)."""
    params = Params()
    if epc is not None:
        params.any_epcs.append(epc)
    problems: list[FieldError] = []
    token: str | None = None
    for name, raw in query.items():
        try:
            if len(raw) > 1 and (name in _TIMES or name in ("perPage", "nextPageToken")):
                raise invalid(name, "give it once (it takes one value)", list(raw))
            if name in _LISTS:
                getattr(params, _LISTS[name]).extend(_values(raw))
            elif name in _TIMES:
                setattr(params, _TIMES[name], _time(name, raw[-1]))
            elif name.startswith("EQ_bizTransaction_") and len(name) > 18:
                params.transactions.setdefault(short_bt_type(name[18:]), []).extend(_values(raw))
            elif name == "perPage":
                if not raw[-1].isdigit() or not 1 <= int(raw[-1]) <= MAX_PER_PAGE:
                    raise invalid(name, f"a whole number from 1 to {MAX_PER_PAGE}", raw[-1])
                params.per_page = int(raw[-1])
            elif name == "nextPageToken":
                token = raw[-1]
            else:
                problems.append(FieldError(name, "not a query parameter of this endpoint", raw[-1]))
        except ValidationError as error:
            problems.extend(error.errors)
    for kind in params.event_types:
        if kind not in _EVENT_TYPES:
            kinds = ", ".join(_EVENT_TYPES)
            problems.append(FieldError("eventType", f"one of {kinds}", kind))
    for action in params.actions:
        if action not in _ACTIONS:
            problems.append(FieldError("EQ_action", "ADD, OBSERVE or DELETE", action))
    if token is not None and not problems:
        try:
            params.after = _read_token(token, params.fingerprint())
        except ValidationError as error:
            problems.extend(error.errors)
    if problems:
        raise ValidationError("the query has parameters that are not valid", problems)
    return params


def _make_token(key: tuple[datetime, int, int], fingerprint: str) -> str:
    text = json.dumps([key[0].isoformat(), key[1], key[2], fingerprint])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> tuple[datetime, int, int]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, source, pk, tied = json.loads(text)
        key = (datetime.fromisoformat(moment), int(source), int(pk))
        if key[0].tzinfo is None or tied != fingerprint:
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise invalid(
            "nextPageToken", "not a token of this query: send the one its last page gave", token
        ) from None
    return key


# --- the ledger's side ---------------------------------------------------------------------

LEDGER, REPOSITORY = 0, 1
Seen = dict[int, set[int]] | None  # event pk → the unit ids a partner sees of it
_BATCH = 200


def _after(column_time: Any, column_pk: Any, source: int, after: Any) -> Any:
    if after is None:
        return None
    moment, their_source, pk = after
    if source < their_source:
        return column_time > moment
    if source > their_source:
        return column_time >= moment
    return or_(column_time > moment, and_(column_time == moment, column_pk > pk))


def _unit_ids(conn: Connection, actor: Actor, uris: Sequence[str]) -> list[int]:
    """Our units the EPCs name; for a partner only those in its scope (another's unit is no
    unit to it: it matches nothing)."""
    ids = [found[0] for found in find_units(conn, list(uris)).values()]
    hidden = outside(conn, actor, ids)
    return [i for i in ids if i not in hidden]


def _ledger_conditions(conn: Connection, actor: Actor, params: Params) -> list[Any] | None:
    """WHERE conditions on `events`, or None when no ledger event can answer."""
    conditions: list[Any] = []
    if not actor.is_partner:  # a partner sees captured events as the ledger has them
        conditions.append(~exists().where(epcis_events.c.ledger_event_id == events.c.id))
    types = _types(params)
    if types is not None:
        if not types:
            return None
        conditions.append(events.c.type.in_(sorted(types)))
    for column, moment, ge in (
        (events.c.event_time, params.ge_event, True),
        (events.c.event_time, params.lt_event, False),
        (events.c.record_time, params.ge_record, True),
        (events.c.record_time, params.lt_record, False),
    ):
        if moment is not None:
            conditions.append(column >= moment if ge else column < moment)
    if params.read_points:
        conditions.append(events.c.read_point.in_(params.read_points))
    if params.biz_locations:
        codes = [code for uri in params.biz_locations for code in gln_codes(uri)]
        places = select(locations.c.id).where(locations.c.code.in_(codes))
        conditions.append(events.c.location_id.in_(places))
    if params.inputs or params.outputs:
        return None  # the ledger has no TransformationEvent
    for uris, roles in ((params.epcs, (0,)), (params.any_epcs, (0, 1, 2))):
        if uris:
            ids = _unit_ids(conn, actor, uris)
            if not ids:
                return None
            named = select(event_units.c.event_id).where(
                event_units.c.unit_id.in_(ids), event_units.c.role.in_(roles)
            )
            conditions.append(events.c.id.in_(named))
    if params.parents:
        ids = _unit_ids(conn, actor, params.parents)
        if not ids:
            return None
        conditions.append(events.c.parent_unit_id.in_(ids))
    scope = unit_condition(actor)
    if scope is not None:
        theirs = (
            select(event_units.c.event_id)
            .join(units, units.c.id == event_units.c.unit_id)
            .where(scope)
        )
        conditions.append(events.c.id.in_(theirs))
    return conditions


def _types(params: Params) -> set[str] | None:
    if not (params.event_types or params.actions or params.steps or params.dispositions):
        return None
    steps = {short_step(s) for s in params.steps}
    disps = {short_disposition(d) for d in params.dispositions}
    return {
        rule.event_type
        for rule in RULES.values()
        if (not params.event_types or rule.epcis_type in params.event_types)
        and (not params.actions or rule.action in params.actions)
        and (not params.steps or rule.biz_step in steps)
        and (not params.dispositions or rule.disposition in disps)
    }


def _bt_matches(transactions: Any, wanted: dict[str, list[str]]) -> bool:
    given: dict[str, set[str]] = {}
    for one in transactions or ():
        kind = short_bt_type(one.get("type"))
        given.setdefault(kind, set()).update({one["id"], bt_uri(one["type"], one["id"])})
    return all(given.get(kind, set()) & set(values) for kind, values in wanted.items())


def _visible(conn: Connection, actor: Actor, event_pks: Sequence[int]) -> Seen:
    """Of these ledger events, the units of each the actor may see: None for everything (staff);
    for a partner, its units in its time with them (`ledger.scope.partner_view`), and the
    events where it sees none are not there at all."""
    if not actor.is_partner or not event_pks:
        return None
    members: dict[int, list[int]] = {}
    for chunk in chunks(list(event_pks)):
        for row in conn.execute(
            select(event_units.c.event_id, event_units.c.unit_id).where(
                event_units.c.event_id.in_(list(chunk))
            )
        ):
            members.setdefault(row.event_id, []).append(row.unit_id)
    every = {u for ids in members.values() for u in ids}
    hidden = outside(conn, actor, every)
    views = partner_views(conn, actor, every - hidden)
    seen: dict[int, set[int]] = {}
    for pk in event_pks:
        mine = {u for u in members.get(pk, ()) if u in views and pk in views[u].event_ids}
        if mine:
            seen[pk] = mine
    return seen


def _shown(seen: Seen, pk: int) -> bool:
    return seen is None or pk in seen


def ledger_select(conditions: Sequence[Any], after: Any) -> Any:
    """One batch of the ledger's side, after a position (the statement, for EXPLAIN too)."""
    where = list(conditions)
    bound = _after(events.c.record_time, events.c.id, LEDGER, after)
    if bound is not None:
        where.append(bound)
    return select(events).where(*where).order_by(events.c.record_time, events.c.id).limit(_BATCH)


def ledger_conditions(conn: Connection, actor: Actor, params: Params) -> list[Any] | None:
    return _ledger_conditions(conn, actor, params)


def _ledger_rows(conn: Connection, actor: Actor, params: Params) -> Iterator[tuple[Any, ...]]:
    conditions = _ledger_conditions(conn, actor, params)
    if conditions is None:
        return
    after = params.after
    while True:
        rows = conn.execute(ledger_select(conditions, after)).all()
        if not rows:
            return
        seen = _visible(conn, actor, [r.id for r in rows])
        for row in rows:
            if _shown(seen, row.id) and _bt_matches(row.biz_transactions, params.transactions):
                yield (
                    row.record_time,
                    LEDGER,
                    row.id,
                    (row, None if seen is None else seen[row.id]),
                )
        if len(rows) < _BATCH:
            return
        after = (rows[-1].record_time, LEDGER, rows[-1].id)


# --- the repository's side -----------------------------------------------------------------


def _indexed(kinds: Sequence[str], values: Sequence[str]) -> Any:
    """The events whose index names one of `values` as one of `kinds`: found through the
    index's key (kind, value), not by walking the events."""
    named = select(epcis_index.c.event_pk).where(
        epcis_index.c.kind.in_(kinds), epcis_index.c.value.in_(values)
    )
    return epcis_events.c.id.in_(named)


def _repository_conditions(params: Params) -> list[Any]:
    e = epcis_events.c
    conditions: list[Any] = []
    if params.event_types:
        conditions.append(e.event_type.in_(params.event_types))
    if params.actions:
        conditions.append(e.action.in_(params.actions))
    if params.steps:
        conditions.append(e.biz_step.in_({short_step(s) for s in params.steps}))
    if params.dispositions:
        conditions.append(e.disposition.in_({short_disposition(d) for d in params.dispositions}))
    if params.read_points:
        conditions.append(e.read_point.in_([canonical(v) for v in params.read_points]))
    if params.biz_locations:
        conditions.append(e.biz_location.in_([canonical(v) for v in params.biz_locations]))
    for moment, column, ge in (
        (params.ge_event, e.event_time, True),
        (params.lt_event, e.event_time, False),
        (params.ge_record, e.record_time, True),
        (params.lt_record, e.record_time, False),
    ):
        if moment is not None:
            conditions.append(column >= moment if ge else column < moment)
    for uris, kinds in (
        (params.epcs, ("epc", "child")),
        (params.any_epcs, ("epc", "child", "parent", "input", "output")),
        (params.parents, ("parent",)),
        (params.inputs, ("input",)),
        (params.outputs, ("output",)),
    ):
        if uris:
            conditions.append(_indexed(kinds, [canonical(u) for u in uris]))
    for kind, values in params.transactions.items():
        conditions.append(_indexed(["bt:" + kind], values))
    return conditions


def repository_select(conditions: Sequence[Any], after: Any) -> Any:
    """One batch of the repository's side, after a position (the statement, for EXPLAIN)."""
    where = list(conditions)
    bound = _after(epcis_events.c.record_time, epcis_events.c.id, REPOSITORY, after)
    if bound is not None:
        where.append(bound)
    return (
        select(epcis_events, epcis_captures.c.context)
        .join(epcis_captures, epcis_captures.c.id == epcis_events.c.capture_id)
        .where(*where)
        .order_by(epcis_events.c.record_time, epcis_events.c.id)
        .limit(_BATCH)
    )


def repository_conditions(params: Params) -> list[Any]:
    return _repository_conditions(params)


def _repository_rows(conn: Connection, actor: Actor, params: Params) -> Iterator[tuple[Any, ...]]:
    if actor.is_partner:  # no captured event of others; theirs come from the ledger's side
        return
    conditions = _repository_conditions(params)
    after = params.after
    while True:
        rows = conn.execute(repository_select(conditions, after)).all()
        if not rows:
            return
        for row in rows:
            yield (row.record_time, REPOSITORY, row.id, row)
        if len(rows) < _BATCH:
            return
        after = (rows[-1].record_time, REPOSITORY, rows[-1].id)


# --- answers -------------------------------------------------------------------------------


def _ledger_members(conn: Connection, event_pks: Sequence[int]) -> dict[int, list[LedgerUnit]]:
    found: dict[int, list[LedgerUnit]] = {}
    query = (
        select(
            event_units.c.event_id,
            event_units.c.unit_id,
            event_units.c.role,
            units.c.serial,
            products.c.code,
            products.c.gtin14,
            products.c.gs1_company_prefix_length,
        )
        .join(units, units.c.id == event_units.c.unit_id)
        .join(products, products.c.id == units.c.product_id)
        .order_by(event_units.c.event_id, products.c.code, units.c.serial)
    )
    for chunk in chunks(list(event_pks)):
        for row in conn.execute(query.where(event_units.c.event_id.in_(list(chunk)))):
            found.setdefault(row.event_id, []).append(
                LedgerUnit(
                    row.role,
                    row.code,
                    row.serial,
                    row.gtin14,
                    row.gs1_company_prefix_length,
                    row.unit_id,
                )
            )
    return found


def _codes(conn: Connection, table: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(conn.execute(select(table.c.id, table.c.code).where(table.c.id.in_(ids))).all())


def _render_ledger(
    conn: Connection, rows: Sequence[tuple[Any, set[int] | None]]
) -> dict[int, dict[str, Any]]:
    """Ledger events as EPCIS; a partner's (`only`: the units it may see) with its units only."""
    members = _ledger_members(conn, [r.id for r, _ in rows])
    places = _codes(conn, locations, {r.location_id for r, _ in rows if r.location_id})
    holders = _codes(conn, parties, {r.party_id for r, _ in rows if r.party_id})
    return {
        r.id: to_epcis(
            r,
            [m for m in members.get(r.id, []) if only is None or m.unit_id in only],
            places.get(r.location_id) if r.location_id else None,
            holders.get(r.party_id) if r.party_id else None,
        )
        for r, only in rows
    }


def captured(row: Any) -> dict[str, Any]:
    """A captured event as it came; its hash ID as its eventID when it had none, and the
    record time the repository gave it (both outside the hash)."""
    event = dict(row.body)
    event.setdefault("eventID", row.hash_id)
    event.setdefault("recordTime", row.record_time.astimezone(UTC).isoformat())
    return event


def _context(contexts: Sequence[Any]) -> list[Any]:
    """The @context of an answer: the EPCIS context, ours, and every prefix the captured
    documents of its events declared."""
    out: list[Any] = [EPCIS_CONTEXT]
    extra: dict[str, Any] = dict(CONTEXT)
    for context in contexts:
        for item in context if isinstance(context, list) else [context]:
            if isinstance(item, dict):
                for key, value in item.items():
                    extra.setdefault(key, value)
            elif isinstance(item, str) and item not in out:
                out.append(item)
    return [*out, extra]


def document(events_found: list[dict[str, Any]], contexts: Sequence[Any]) -> dict[str, Any]:
    return {
        "@context": _context(contexts),
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events_found},
            }
        },
    }


def query_events(db: Database, actor: Actor, params: Params) -> dict[str, Any]:
    """One page of events: {"document": EPCISQueryDocument, "next_page_token": str | None}."""
    actor.require("read")
    with db.read() as conn:
        merged = heapq.merge(
            _ledger_rows(conn, actor, params),
            _repository_rows(conn, actor, params),
            key=lambda item: (item[0], item[1], item[2]),
        )
        page: list[tuple[Any, ...]] = []
        more = False
        for item in merged:
            if len(page) == params.per_page:
                more = True
                break
            page.append(item)
        rendered = _render_ledger(conn, [item[3] for item in page if item[1] == LEDGER])
    out: list[dict[str, Any]] = []
    contexts: list[Any] = []
    for _, source, pk, row in page:
        if source == LEDGER:
            out.append(rendered[pk])
        else:
            out.append(captured(row))
            contexts.append(row.context)
    token = None
    if more and page:
        last = page[-1]
        token = _make_token((last[0], last[1], last[2]), params.fingerprint())
    return {"document": document(out, contexts), "next_page_token": token}


_CAPTURED = select(epcis_events, epcis_captures.c.context).join(
    epcis_captures, epcis_captures.c.id == epcis_events.c.capture_id
)


def get_event(db: Database, actor: Actor, event_id: str) -> dict[str, Any]:
    """One event by its EPCIS eventID or hash ID (captured events) or by the ledger's event id
    (`unitrace:eventID`); as an EPCISQueryDocument of one event. A partner gets the ledger's
    view of the events of its units, and "not found" for every other."""
    actor.require("read")
    with db.read() as conn:
        row = conn.execute(
            _CAPTURED.where(
                or_(epcis_events.c.hash_id == event_id, epcis_events.c.event_id == event_id)
            )
            .order_by(epcis_events.c.id)
            .limit(1)
        ).first()
        if row is not None and not actor.is_partner:
            return document([captured(row)], [row.context])
        ledger = conn.execute(
            select(events).where(
                events.c.id == row.ledger_event_id
                if row is not None and row.ledger_event_id is not None
                else events.c.event_id == event_id
            )
        ).first()
        if ledger is not None:
            seen = _visible(conn, actor, [ledger.id])
            if _shown(seen, ledger.id):
                if not actor.is_partner:
                    source = conn.execute(
                        _CAPTURED.where(epcis_events.c.ledger_event_id == ledger.id)
                    ).first()
                    if source is not None:
                        return document([captured(source)], [source.context])
                only = None if seen is None else seen[ledger.id]
                return document([_render_ledger(conn, [(ledger, only)])[ledger.id]], [])
    raise NotFound(
        f"no event {event_id!r}", [FieldError("eventID", "no event with this id", event_id)]
    )
