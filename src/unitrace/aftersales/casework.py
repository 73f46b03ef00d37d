"""What a person sees of a service case and adds to it: the case list and the case itself
(timeline, parts, costs, attachments, spare requests), notes, cost lines, attachments, and the
list of symptom and defect codes.

The state changes, steps and part replacements are `cases`'; this module only reads them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import puremagic
from babel.numbers import get_currency_precision, list_currencies
from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales import cases
from unitrace.aftersales.schemas import CostIn, NoteIn, ServiceCodeIn, ServiceCodePatch
from unitrace.config import data_home, site_timezone
from unitrace.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    TooLarge,
    invalid,
    report,
)
from unitrace.core.lifecycle import Status, rule_for
from unitrace.db.engine import Database
from unitrace.db.tables import (
    case_attachments,
    case_costs,
    case_history,
    case_parts,
    events,
    locations,
    lots,
    parties,
    products,
    service_cases,
    service_codes,
    spare_requests,
    units,
)

OPEN_STATES = tuple(s for s in cases.STATES if s != "closed")
MAX_LIMIT = 500
MAX_OFFSET = 10**9
# what an attachment may be, by its content (not its name): photos and PDF documents
ATTACHMENT_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
ATTACHMENT_MAX_BYTES = "UNITRACE_ATTACHMENT_MAX_BYTES"
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


# --- the case list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    """What `GET /cases` and the case list page filter by (every one optional)."""

    states: tuple[str, ...] = ()  # names as given: "open" = every state but closed, "a,b"
    kind: str | None = None
    product: str | None = None
    party: str | None = None  # the reporter, or the partner that opened the case
    warranty_claim: bool | None = None
    q: str | None = None  # a case number or a unit's serial
    opened_from: date | None = None  # in the site's time zone, both days included
    opened_to: date | None = None


def states_of(values: tuple[str, ...], problems: list[FieldError]) -> tuple[str, ...]:
    """The states a filter names (`open,closed`, or repeated), "open" meaning every open one;
    each unknown name is added to `problems`."""
    wanted: list[str] = []
    for value in (v.strip() for text in values for v in text.split(",")):
        if not value:
            continue
        if value == "open":
            wanted.extend(OPEN_STATES)
        elif value in cases.STATES:
            wanted.append(value)
        else:
            states = ", ".join(cases.STATES)
            problems.append(
                FieldError("state", f"no case state {value!r} (one of {states})", value)
            )
    return tuple(dict.fromkeys(wanted))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, site_timezone()).astimezone(UTC)


def list_cases(
    db: Database,
    actor: Actor,
    wanted: CaseFilter,
    limit: int = 50,
    offset: int = 0,
    problems: list[FieldError] | None = None,
) -> dict[str, Any]:
    """The cases an actor may see, newest first, `limit` from `offset`, and how many in all;
    `problems` the edge found in the filter (a date it could not read) are told with these."""
    actor.require("service.read")
    problems = list(problems or [])
    states = states_of(wanted.states, problems)
    if wanted.kind is not None and wanted.kind not in cases.KINDS:
        kinds = ", ".join(cases.KINDS)
        problems.append(FieldError("kind", f"no case kind {wanted.kind!r} (one of {kinds})"))
    if not 1 <= limit <= MAX_LIMIT:
        problems.append(FieldError("limit", f"must be from 1 to {MAX_LIMIT}"))
    if not 0 <= offset <= MAX_OFFSET:
        problems.append(FieldError("offset", f"must be from 0 to {MAX_OFFSET}"))
    if wanted.opened_from and wanted.opened_to and wanted.opened_from > wanted.opened_to:
        problems.append(FieldError("opened_to", "must not be before opened_from"))
    if problems:
        raise report("the case list cannot be filtered so", problems)
    reporter = aliased(parties)
    opener = aliased(parties)
    conditions = [cases.visible(actor)]
    if wanted.kind:
        conditions.append(service_cases.c.kind == wanted.kind)
    if wanted.product:
        conditions.append(products.c.code == wanted.product)
    if wanted.party:
        conditions.append(or_(reporter.c.code == wanted.party, opener.c.code == wanted.party))
    if wanted.warranty_claim is not None:
        conditions.append(service_cases.c.warranty_claim == wanted.warranty_claim)
    if wanted.q:
        text = wanted.q.strip()
        conditions.append(or_(service_cases.c.number == text.upper(), units.c.serial == text))
    if wanted.opened_from:
        conditions.append(service_cases.c.opened_at >= _day_start(wanted.opened_from))
    if wanted.opened_to:
        end = _day_start(wanted.opened_to + timedelta(days=1))
        conditions.append(service_cases.c.opened_at < end)
    joined = (
        service_cases.join(units, units.c.id == service_cases.c.unit_id)
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(reporter, reporter.c.id == service_cases.c.reporter_party_id)
        .outerjoin(opener, opener.c.id == service_cases.c.party_id)
        .outerjoin(locations, locations.c.id == service_cases.c.location_id)
    )
    by_state_where = and_(*conditions)  # every filter but the state: the counts by state
    if states:
        conditions.append(service_cases.c.state.in_(states))
    where = and_(*conditions)
    with db.read() as conn:
        counted = conn.execute(
            select(service_cases.c.state, func.count())
            .select_from(joined)
            .where(by_state_where)
            .group_by(service_cases.c.state)
        ).all()
        total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
        rows = conn.execute(
            select(
                service_cases,
                units.c.serial,
                products.c.code.label("product_code"),
                products.c.name.label("product_name"),
                reporter.c.code.label("reporter_code"),
                reporter.c.name.label("reporter_name"),
                locations.c.code.label("location_code"),
            )
            .select_from(joined)
            .where(where)
            .order_by(service_cases.c.opened_at.desc(), service_cases.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    items = [_listed(r, actor) for r in rows]
    by_state = dict.fromkeys(cases.STATES, 0) | {state: n for state, n in counted}
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "by_state": by_state,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _listed(r: Any, actor: Actor) -> dict[str, Any]:
    return {
        "number": r.number,
        "kind": r.kind,
        "state": r.state,
        "outcome": r.outcome,
        "warranty_claim": r.warranty_claim,
        "serial": r.serial,
        "product": r.product_code,
        "product_name": r.product_name,
        "reporter_party": r.reporter_code,
        "reporter_name": r.reporter_name,
        "reporter_contact": r.reporter_contact,
        "symptom_code": r.symptom_code,
        "defect_code": r.defect_code,
        "location": None if actor.is_partner else r.location_code,
        "opened_at": r.opened_at.isoformat(),
        "opened_by": r.opened_by,
        "updated_at": r.updated_at.isoformat(),
        "closed_at": _iso(r.closed_at),
    }


# --- one case -----------------------------------------------------------------------------------


def visible_case(conn: Connection, actor: Actor, number: str) -> Any:
    """The case row when the actor may see it (the number in any case: `sc-000001`); any
    other number is answered as unknown, in the words it was asked with."""
    try:
        return cases.visible_case(conn, actor, number.strip().upper())
    except NotFound:
        raise NotFound(f"no service case {number!r}") from None


def _codes(conn: Connection, *codes: str | None) -> dict[str, dict[str, Any]]:
    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    rows = conn.execute(select(service_codes).where(service_codes.c.code.in_(wanted))).all()
    return {r.code: _code_item(r) for r in rows}


def _code_item(r: Any) -> dict[str, Any]:
    return {
        "code": r.code,
        "kind": r.kind,
        "name_en": r.name_en,
        "name_zh": r.name_zh,
        "active": r.active,
    }


def get_case(db: Database, actor: Actor, number: str) -> dict[str, Any]:
    """One case with all a person needs to work on it: the unit, the reporter, the codes in
    both languages, the timeline (its history with the ledger events of its steps), the parts
    replaced, the cost lines and their totals, the attachments and the spare-part requests."""
    actor.require("service.read")
    with db.read() as conn:
        case = visible_case(conn, actor, number)
        return _case(conn, actor, case)


def _case(conn: Connection, actor: Actor, case: Any) -> dict[str, Any]:
    unit = conn.execute(
        select(units.c.serial, units.c.status, products.c.code, products.c.name)
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.id == case.unit_id)
    ).one()
    reporter = _party(conn, case.reporter_party_id)
    opener = _party(conn, case.party_id)
    location = None
    if case.location_id is not None and not actor.is_partner:
        location = conn.execute(
            select(locations.c.code, locations.c.name).where(locations.c.id == case.location_id)
        ).one()
    codes = _codes(conn, case.symptom_code, case.defect_code)
    costs = _costs(conn, case.id)
    return {
        "number": case.number,
        "kind": case.kind,
        "state": case.state,
        "outcome": case.outcome,
        "next_states": sorted(cases.TRANSITIONS[case.state]),
        "warranty_claim": case.warranty_claim,
        "checks": case.checks,
        "override_reason": case.override_reason,
        "override_by": case.override_by,
        "unit": {
            "serial": unit.serial,
            "product": unit.code,
            "product_name": unit.name,
            "status": Status(unit.status).label,
        },
        "reporter_party": reporter,
        "reporter_contact": case.reporter_contact,
        "party": opener,
        "symptom": codes.get(case.symptom_code) if case.symptom_code else None,
        "defect": codes.get(case.defect_code) if case.defect_code else None,
        "description": case.description,
        "region": case.region,
        "location": {"code": location.code, "name": location.name} if location else None,
        "opened_at": case.opened_at.isoformat(),
        "opened_by": case.opened_by,
        "updated_at": case.updated_at.isoformat(),
        "closed_at": _iso(case.closed_at),
        "timeline": _timeline(conn, actor, case.id),
        "parts": _parts(conn, case.id),
        "costs": costs,
        "totals": totals(costs),
        "attachments": _attachments(conn, case.id),
        "spare_requests": _spares(conn, actor, case.id),
    }


def _party(conn: Connection, party_id: int | None) -> dict[str, Any] | None:
    if party_id is None:
        return None
    row = conn.execute(select(parties.c.code, parties.c.name).where(parties.c.id == party_id)).one()
    return {"code": row.code, "name": row.name}


def _timeline(conn: Connection, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    """The case's history, oldest first; a step's row carries the ledger event it recorded."""
    rows = conn.execute(
        select(
            case_history,
            events.c.event_id.label("ledger_event_id"),
            events.c.type.label("event_type"),
            events.c.event_time,
            events.c.event_tz,
            locations.c.code.label("event_location"),
            parties.c.code.label("event_party"),
        )
        .outerjoin(events, events.c.id == case_history.c.event_id)
        .outerjoin(locations, locations.c.id == events.c.location_id)
        .outerjoin(parties, parties.c.id == events.c.party_id)
        .where(case_history.c.case_id == case_id)
        .order_by(case_history.c.at, case_history.c.id)
    ).all()
    out = []
    for r in rows:
        item: dict[str, Any] = {
            "at": r.at.isoformat(),
            "by": r.by,
            "kind": r.kind,
            "from_state": r.from_state,
            "to_state": r.to_state,
            "text": r.text,
            "event": None,
        }
        if r.ledger_event_id is not None:
            item["event"] = {
                "event_id": r.ledger_event_id,
                "type": r.event_type,
                "biz_step": rule_for(r.event_type).biz_step,
                "event_time": r.event_time.isoformat(),
                "location": None if actor.is_partner else r.event_location,
                "party": None if actor.is_partner else r.event_party,
            }
        out.append(item)
    return out


def _parts(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    removed, installed = aliased(units), aliased(units)
    rows = conn.execute(
        select(
            case_parts,
            products.c.code.label("product_code"),
            products.c.name.label("product_name"),
            removed.c.serial.label("removed_serial"),
            installed.c.serial.label("installed_serial"),
            lots.c.number.label("lot_number"),
            events.c.event_id.label("ledger_event_id"),
        )
        .join(products, products.c.id == case_parts.c.product_id)
        .join(events, events.c.id == case_parts.c.event_id)
        .outerjoin(removed, removed.c.id == case_parts.c.removed_unit_id)
        .outerjoin(installed, installed.c.id == case_parts.c.installed_unit_id)
        .outerjoin(lots, lots.c.id == case_parts.c.lot_id)
        .where(case_parts.c.case_id == case_id)
        .order_by(case_parts.c.id)
    ).all()
    return [
        {
            "product": r.product_code,
            "product_name": r.product_name,
            "removed": r.removed_serial,
            "installed": r.installed_serial,
            "lot": r.lot_number,
            "quantity": r.quantity,
            "reason": r.reason,
            "event_id": r.ledger_event_id,
        }
        for r in rows
    ]


def _costs(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(case_costs).where(case_costs.c.case_id == case_id).order_by(case_costs.c.id)
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "coverage": r.coverage,
            "description": r.description,
            "amount": amount_text(r.amount_minor, r.currency),
            "amount_minor": r.amount_minor,
            "currency": r.currency,
            "at": r.at.isoformat(),
            "by": r.by,
        }
        for r in rows
    ]


def totals(costs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cost lines summed per currency, in all and per coverage (warranty, chargeable,
    goodwill); currencies in name order."""
    sums: dict[str, dict[str, int]] = {}
    for line in costs:
        per = sums.setdefault(line["currency"], {"warranty": 0, "chargeable": 0, "goodwill": 0})
        per[line["coverage"]] += line["amount_minor"]
    out = []
    for currency in sorted(sums):
        per = sums[currency]
        total = sum(per.values())
        out.append(
            {
                "currency": currency,
                "total": amount_text(total, currency),
                "total_minor": total,
                "coverage": {k: amount_text(v, currency) for k, v in per.items()},
            }
        )
    return out


def _attachments(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(case_attachments)
        .where(case_attachments.c.case_id == case_id)
        .order_by(case_attachments.c.id)
    ).all()
    return [_attachment_item(r) for r in rows]


def _attachment_item(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "content_type": r.content_type,
        "size": r.size,
        "sha256": r.sha256,
        "at": r.at.isoformat(),
        "by": r.by,
    }


def _spares(conn: Connection, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            spare_requests,
            products.c.code.label("product_code"),
            products.c.name.label("product_name"),
            locations.c.code.label("location_code"),
        )
        .join(products, products.c.id == spare_requests.c.product_id)
        .join(locations, locations.c.id == spare_requests.c.location_id)
        .where(spare_requests.c.case_id == case_id)
        .order_by(spare_requests.c.id)
    ).all()
    return [
        {
            "id": r.id,
            "product": r.product_code,
            "product_name": r.product_name,
            "quantity": r.quantity,
            "fulfilled": r.fulfilled,
            "status": r.status,
            "location": None if actor.is_partner else r.location_code,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


# --- notes and cost lines -----------------------------------------------------------------------


def _writable(conn: Connection, actor: Actor, number: str) -> Any:
    """The case to add to: one the actor may see and that is not closed yet."""
    case = visible_case(conn, actor, number)
    if case.state == "closed":
        raise Conflict(f"case {case.number} is closed; nothing more can be added to it")
    return case


def _history(conn: Connection, case_id: int, actor: Actor, kind: str, text: str) -> None:
    """A history row, and the case touched; guarded, so that what is added while another
    agent closes the case is refused rather than added to a closed case."""
    now = datetime.now(UTC)
    touched = conn.execute(
        update(service_cases)
        .where(service_cases.c.id == case_id, service_cases.c.state != "closed")
        .values(updated_at=now)
    ).rowcount
    if touched != 1:
        number = conn.execute(
            select(service_cases.c.number).where(service_cases.c.id == case_id)
        ).scalar_one()
        raise Conflict(f"case {number} is closed; nothing more can be added to it")
    conn.execute(
        insert(case_history).values(
            case_id=case_id, at=now, by=actor.username, kind=kind, text=text
        )
    )


def add_note(db: Database, actor: Actor, number: str, data: NoteIn) -> dict[str, Any]:
    """A note in the case's timeline."""
    actor.require("service.write")
    with db.write() as conn:
        case = _writable(conn, actor, number)
        _history(conn, case.id, actor, "note", data.text)
        audit.append(conn, actor, "note", "case", case.number, None, {"text": data.text})
        return _case(conn, actor, case_by_id(conn, case.id))


def case_by_id(conn: Connection, case_id: int) -> Any:
    return conn.execute(select(service_cases).where(service_cases.c.id == case_id)).one()


CURRENCIES = frozenset(list_currencies())
MAX_MINOR = 10**13  # a hundred billion yuan in fen: more is a typing slip


def minor_units(amount: str, currency: str) -> tuple[int | None, list[FieldError]]:
    """`128.50` CNY → 12850 (fen): the amount in the currency's minor unit, or the problems."""
    problems = []
    code = currency.strip().upper()
    digits = None
    if code not in CURRENCIES or len(code) != 3:
        problems.append(FieldError("currency", f"no ISO 4217 currency {currency!r}", currency))
    else:
        digits = get_currency_precision(code)
    try:
        value = Decimal(amount.strip().replace(",", ""))
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append(FieldError("amount", f"not an amount: {amount!r}", amount))
        return None, problems
    if value <= 0:
        problems.append(FieldError("amount", "must be more than 0", amount))
    if digits is not None:
        scaled = value.scaleb(digits)
        if scaled != scaled.to_integral_value():
            problems.append(
                FieldError("amount", f"at most {digits} decimal places in {code}", amount)
            )
        elif abs(scaled) >= MAX_MINOR:
            problems.append(FieldError("amount", "too large", amount))
        elif not problems:
            return int(scaled), problems
    return None, problems


def amount_text(minor: int, currency: str) -> str:
    """12850 fen → `128.50`: the amount in the currency's unit, with its decimal places."""
    digits = get_currency_precision(currency) if currency in CURRENCIES else 2
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


def add_cost(db: Database, actor: Actor, number: str, data: CostIn) -> dict[str, Any]:
    """A cost line (parts, labour, shipping; warranty, chargeable or goodwill)."""
    actor.require("service.write")
    minor, problems = minor_units(data.amount, data.currency)
    if problems or minor is None:
        raise report("the cost line cannot be added", problems)
    currency = data.currency.strip().upper()
    with db.write() as conn:
        case = _writable(conn, actor, number)
        now = datetime.now(UTC)
        cost_id = conn.execute(
            insert(case_costs)
            .values(
                case_id=case.id,
                kind=data.kind,
                coverage=data.coverage,
                description=data.description,
                amount_minor=minor,
                currency=currency,
                at=now,
                by=actor.username,
            )
            .returning(case_costs.c.id)
        ).scalar_one()
        text = f"{amount_text(minor, currency)} {currency}"
        _history(conn, case.id, actor, "cost", " · ".join(filter(None, [text, data.description])))
        line = {"kind": data.kind, "coverage": data.coverage, "amount_minor": minor}
        audit.append(conn, actor, "cost", "case", case.number, None, line | {"id": cost_id})
        return _case(conn, actor, case_by_id(conn, case.id))


# --- attachments --------------------------------------------------------------------------------


def attachment_max_bytes() -> int:
    text = os.environ.get(ATTACHMENT_MAX_BYTES, "").strip()
    if not text:
        return DEFAULT_ATTACHMENT_MAX_BYTES
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"{ATTACHMENT_MAX_BYTES} must be a whole number ≥ 1, not {text!r}")
    return int(text)


def home() -> Path:
    """UNITRACE_HOME, as the settings read it (attachments are kept under it)."""
    return data_home()


def content_type(content: bytes) -> str | None:
    """The type of a file by its content (magic numbers), when it is one we keep."""
    try:
        found = puremagic.from_string(content[:8192], mime=True)
    except (puremagic.PureError, ValueError):
        return None
    return found if found in ATTACHMENT_TYPES else None


def _clean_name(name: str) -> str:
    """The file's own name (no folders), without control characters, at most 200 long."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "file"


def add_attachment(
    db: Database, actor: Actor, number: str, name: str, content: bytes
) -> dict[str, Any]:
    """A photo (JPEG, PNG, WebP) or a PDF for the case, stored once by its SHA-256 under
    UNITRACE_HOME/attachments; larger than UNITRACE_ATTACHMENT_MAX_BYTES: TooLarge (413)."""
    actor.require("service.write")
    limit = attachment_max_bytes()
    if len(content) > limit:
        raise TooLarge(
            f"the file is larger than {limit} bytes ({ATTACHMENT_MAX_BYTES})",
            [FieldError("file", f"at most {limit} bytes")],
        )
    if not content:
        raise invalid("file", "the file is empty")
    kind = content_type(content)
    if kind is None:
        raise invalid("file", "not a JPEG, PNG or WebP photo or a PDF file")
    digest = hashlib.sha256(content).hexdigest()
    relative = Path("attachments") / digest[:2] / (digest + ATTACHMENT_TYPES[kind])
    with db.write() as conn:
        case = _writable(conn, actor, number)
        target = home() / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            partial.write_bytes(content)
            os.replace(partial, target)  # whole or not at all, even with two uploads at once
        clean = _clean_name(name)
        row_id = conn.execute(
            insert(case_attachments)
            .values(
                case_id=case.id,
                name=clean,
                content_type=kind,
                size=len(content),
                sha256=digest,
                path=relative.as_posix(),
                at=datetime.now(UTC),
                by=actor.username,
            )
            .returning(case_attachments.c.id)
        ).scalar_one()
        _history(conn, case.id, actor, "attachment", clean)
        after = {"id": row_id, "name": clean, "sha256": digest, "size": len(content)}
        audit.append(conn, actor, "attach", "case", case.number, None, after)
        row = conn.execute(select(case_attachments).where(case_attachments.c.id == row_id)).one()
    return _attachment_item(row) | {"case": case.number}


def attachment(
    db: Database, actor: Actor, number: str, attachment_id: int
) -> tuple[dict[str, Any], bytes]:
    """An attachment of a case the actor may see, and its bytes."""
    actor.require("service.read")
    with db.read() as conn:
        case = visible_case(conn, actor, number)
        row = conn.execute(
            select(case_attachments).where(
                case_attachments.c.id == attachment_id, case_attachments.c.case_id == case.id
            )
        ).first()
    if row is None:
        raise NotFound(f"case {case.number} has no attachment {attachment_id}")
    path = home() / row.path
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"the file of attachment {attachment_id} is missing") from None
    return _attachment_item(row), content


# --- symptom and defect codes -------------------------------------------------------------------


def list_codes(
    db: Database, actor: Actor, kind: str | None = None, active: bool | None = None
) -> list[dict[str, Any]]:
    actor.require("service.read")
    query = select(service_codes).order_by(service_codes.c.kind, service_codes.c.code)
    if kind is not None:
        if kind not in ("symptom", "defect"):
            raise invalid("kind", "one of symptom, defect", kind)
        query = query.where(service_codes.c.kind == kind)
    if active is not None:
        query = query.where(service_codes.c.active == active)
    with db.read() as conn:
        return [_code_item(r) for r in conn.execute(query).all()]


def add_code(db: Database, actor: Actor, data: ServiceCodeIn) -> dict[str, Any]:
    actor.require("warranty.manage")
    with db.write() as conn:
        known = conn.execute(
            select(service_codes.c.code).where(service_codes.c.code == data.code)
        ).first()
        if known is not None:
            raise Conflict(
                f"service code {data.code!r} exists already",
                [FieldError("code", "exists already", data.code)],
            )
        conn.execute(insert(service_codes).values(data.model_dump()))
        audit.append(conn, actor, "create", "service_code", data.code, None, data.model_dump())
    return data.model_dump()


def change_code(db: Database, actor: Actor, code: str, data: ServiceCodePatch) -> dict[str, Any]:
    actor.require("warranty.manage")
    values = data.model_dump(exclude_none=True)
    with db.write() as conn:
        row = conn.execute(select(service_codes).where(service_codes.c.code == code)).first()
        if row is None:
            raise NotFound(f"no service code {code!r}")
        if values:
            conn.execute(update(service_codes).where(service_codes.c.code == code).values(values))
            audit.append(conn, actor, "update", "service_code", code, _code_item(row), values)
        row = conn.execute(select(service_codes).where(service_codes.c.code == code)).one()
    return _code_item(row)


# a default list to start from (`unitrace service-codes seed`, the demo data)
DEFAULT_CODES: tuple[tuple[str, str, str, str], ...] = (
    ("S-NOPOWER", "symptom", "Does not power on", "无法开机"),
    ("S-NOCOOL", "symptom", "Does not cool", "不制冷"),
    ("S-NOISE", "symptom", "Abnormal noise", "异响"),
    ("S-LEAK", "symptom", "Leaks water", "漏水"),
    ("S-ERROR", "symptom", "Shows an error code", "显示故障代码"),
    ("S-DAMAGE", "symptom", "Damaged on arrival", "到货损坏"),
    ("S-INTERMIT", "symptom", "Works intermittently", "间歇性故障"),
    ("D-PCB", "defect", "Control board failure", "控制板故障"),
    ("D-COMPRESSOR", "defect", "Compressor failure", "压缩机故障"),
    ("D-SENSOR", "defect", "Sensor failure", "传感器故障"),
    ("D-WIRING", "defect", "Loose or damaged wiring", "线路松动或损坏"),
    ("D-MOTOR", "defect", "Fan motor failure", "风扇电机故障"),
    ("D-MISUSE", "defect", "Damage by misuse", "使用不当造成损坏"),
    ("D-NONE", "defect", "No fault found", "未发现故障"),
)


def seed_codes(db: Database, actor: Actor) -> int:
    """The default codes that are not there yet; how many were added (none twice)."""
    actor.require("warranty.manage")
    with db.write() as conn:
        known = set(conn.execute(select(service_codes.c.code)).scalars())
        rows = [
            {"code": c, "kind": k, "name_en": en, "name_zh": zh, "active": True}
            for c, k, en, zh in DEFAULT_CODES
            if c not in known
        ]
        if rows:
            conn.execute(insert(service_codes), rows)
            audit.append(conn, actor, "seed", "service_code", "*", None, {"added": len(rows)})
    return len(rows)
