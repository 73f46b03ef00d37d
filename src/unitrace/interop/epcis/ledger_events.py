"""The mapping between the ledger's events and EPCIS 2.0 events, both ways.

- EPCIS → ledger (`to_ledger`): the ledger type of a captured event is found by reversing
  `core.lifecycle.RULES` (eventType, action, bizStep, then disposition when two rules share the
  first three: `receive` and `return` are both OBSERVE/receiving); its objects are ours when
  their SGTIN (GTIN + serial, `identifiers.sgtin_parts`) is a unit of one of our products. A
  location or party is ours when its code is the GLN the event names (locations and parties
  have no GLN column: the GLN is their code). An event that names none of our units, or that
  the ledger cannot take without a location or party we do not have, stays an EPCIS event only.
- ledger → EPCIS (`to_epcis`): every ledger event as an EPCIS 2.0 event, its CBV 2.0 hash ID
  as its `eventID`, the ledger's own id and type as extensions (`unitrace:eventID`, …).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, select, tuple_

from unitrace.catalog.identifiers import company_prefix_length
from unitrace.core import gs1
from unitrace.core.errors import FieldError, ValidationError
from unitrace.core.lifecycle import RULES, Effect, Rule
from unitrace.db.tables import locations, parties, products, units
from unitrace.interop.epcis import hashing, identifiers
from unitrace.ledger.schemas import EventIn

NAMESPACE = "https://unitrace.dev/epcis/"  # the JSON-LD prefix `unitrace:` of our extensions
CONTEXT: dict[str, str] = {"unitrace": NAMESPACE}
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

_BIZSTEP = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
_DISP = ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
_BTT = ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
_UNIT = "urn:unitrace:unit:"  # a unit of a product without GTIN: urn:unitrace:unit:<code>:<sn>
_LOCATION = "urn:unitrace:location:"
_PARTY = "urn:unitrace:party:"
_STATION = "urn:unitrace:station:"
_BT = "urn:unitrace:bt:"
_GLN_PATH = re.compile(r"/(?:414|417)/(\d{13})(?:/254/([^/?#]+))?")
_SSCC_PATH = re.compile(r"/00/(\d{18})")


def short(value: str | None, prefixes: Sequence[str]) -> str | None:
    """A CBV value in its bare form (`shipping`), whichever of its URI forms it came in."""
    if value is None:
        return None
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def short_step(value: str | None) -> str | None:
    return short(value, _BIZSTEP)


def short_disposition(value: str | None) -> str | None:
    return short(value, _DISP)


def short_bt_type(value: str | None) -> str:
    return short(value, _BTT) or ""


def ledger_type(
    event_type: str, action: str | None, biz_step: str | None, disposition: str | None
) -> Rule | None:
    """The ledger rule an EPCIS event is, from `RULES` reversed; None when it is none of them."""
    step, disp = short_step(biz_step), short_disposition(disposition)
    found = [
        rule
        for rule in RULES.values()
        if (rule.epcis_type, rule.action, rule.biz_step) == (event_type, action, step)
    ]
    exact = [rule for rule in found if rule.disposition == disp]
    return next(iter(exact or found), None)


def rules_matching(
    event_types: Sequence[str] | None,
    actions: Sequence[str] | None,
    steps: Sequence[str] | None,
    dispositions: Sequence[str] | None,
) -> set[str] | None:
    """The ledger types that answer these EQ_ filters (None: no filter given)."""
    if not (event_types or actions or steps or dispositions):
        return None
    wanted_steps = {short_step(s) for s in steps or ()}
    wanted_disp = {short_disposition(d) for d in dispositions or ()}
    return {
        rule.event_type
        for rule in RULES.values()
        if (not event_types or rule.epcis_type in event_types)
        and (not actions or rule.action in actions)
        and (not steps or rule.biz_step in wanted_steps)
        and (not dispositions or rule.disposition in wanted_disp)
    }


# --- identifiers of our things -------------------------------------------------------------


def gln_codes(uri: str | None) -> list[str]:
    """The codes a location or party named by an SGLN/PGLN (EPC URN or Digital Link) has with
    us: `<GLN>-<extension>` first, then `<GLN>`; our own URNs give their code."""
    if not uri:
        return []
    for prefix in (_LOCATION, _PARTY):
        if uri.startswith(prefix):
            return [unquote(uri[len(prefix) :])]
    found = _GLN_PATH.search(identifiers.canonical(uri))
    if found is None:
        return []
    gln, extension = found.groups()
    return ([f"{gln}-{extension}"] if extension and extension != "0" else []) + [gln]


def location_uri(code: str) -> str:
    if re.fullmatch(r"\d{13}", code):
        return f"https://id.gs1.org/414/{code}"
    return _LOCATION + quote(code, safe="")


def party_uri(code: str) -> str:
    if re.fullmatch(r"\d{13}", code):
        return f"https://id.gs1.org/417/{code}"
    return _PARTY + quote(code, safe="")


def unit_uri(product: str, serial: str, gtin14: str | None, prefix_length: int | None) -> str:
    """A unit's EPC: its SGTIN URN when the company prefix is known, else its Digital Link on
    id.gs1.org, else (no GTIN, or a serial GS1 cannot carry) a unitrace URN."""
    if gtin14:
        try:
            length = company_prefix_length(gtin14, prefix_length)
            if length is not None:
                return gs1.sgtin_urn(gtin14, serial, length)
            return gs1.digital_link(gs1.unit_elements(gtin14, serial, None, None))
        except ValidationError:
            pass
    return f"{_UNIT}{quote(product, safe='')}:{quote(serial, safe='')}"


def unit_key(uri: str) -> tuple[str, str, str] | None:
    """How an EPC names one of our units: ("gtin", GTIN-14, serial) or ("code", product,
    serial); None for anything else."""
    if uri.startswith(_UNIT):
        product, _, serial = uri[len(_UNIT) :].partition(":")
        return ("code", unquote(product), unquote(serial)) if serial else None
    parts = identifiers.sgtin_parts(uri)
    return ("gtin", parts[0], parts[1]) if parts else None


def find_units(conn: Connection, uris: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    """Our units among `uris`: uri → (unit id, product code, serial)."""
    keys = {uri: unit_key(uri) for uri in uris}
    by_gtin = {(k[1], k[2]): uri for uri, k in keys.items() if k and k[0] == "gtin"}
    by_code = {(k[1], k[2]): uri for uri, k in keys.items() if k and k[0] == "code"}
    found: dict[str, tuple[int, str, str]] = {}
    base = select(units.c.id, products.c.code, units.c.serial, products.c.gtin14).join(
        products, products.c.id == units.c.product_id
    )
    if by_gtin:
        pairs = list(by_gtin)
        for row in conn.execute(base.where(tuple_(products.c.gtin14, units.c.serial).in_(pairs))):
            found[by_gtin[(row.gtin14, row.serial)]] = (row.id, row.code, row.serial)
    if by_code:
        pairs = list(by_code)
        for row in conn.execute(base.where(tuple_(products.c.code, units.c.serial).in_(pairs))):
            found[by_code[(row.code, row.serial)]] = (row.id, row.code, row.serial)
    return found


def _product_of_gtin(conn: Connection, gtin14: str) -> str | None:
    return conn.execute(select(products.c.code).where(products.c.gtin14 == gtin14)).scalar()


def _code_in(conn: Connection, table: Any, codes: list[str]) -> str | None:
    if not codes:
        return None
    known = set(conn.execute(select(table.c.code).where(table.c.code.in_(codes))).scalars())
    return next((code for code in codes if code in known), None)


# --- EPCIS → ledger ------------------------------------------------------------------------


@dataclass
class Mapped:
    """What a captured event is for the ledger: an event to record, or why it stays EPCIS."""

    event: EventIn | None
    reason: str | None = None


def _ids(values: Any) -> list[str]:
    return [v for v in values or () if isinstance(v, str)]


def event_time(event: dict[str, Any]) -> datetime:
    """The event's time in its own offset (eventTimeZoneOffset)."""
    moment = datetime.fromisoformat(str(event["eventTime"]).replace("Z", "+00:00"))
    offset = event.get("eventTimeZoneOffset")
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", offset):
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        moment = moment.astimezone(zone)
    return moment


def hash_hex(hash_id: str) -> str:
    return hash_id.split(";", 1)[-1].split("?", 1)[0]


def to_ledger(conn: Connection, event: dict[str, Any], hash_id: str, path: str) -> Mapped:
    """The ledger event a captured EPCIS event becomes, if any (no writes)."""
    rule = ledger_type(
        str(event.get("type")), event.get("action"), event.get("bizStep"), event.get("disposition")
    )
    if rule is None:
        return Mapped(None, "no ledger event has this eventType, action and bizStep")
    if rule.epcis_type == "AggregationEvent":
        epcs = _ids(event.get("childEPCs"))
    else:
        epcs = _ids(event.get("epcList"))
    fields: dict[str, Any] = {
        "event_id": "epcis-" + hash_hex(hash_id),
        "type": rule.event_type,
        "event_time": event_time(event),
        "data": {"epcis_hash_id": hash_id},
    }
    if rule.event_type == "commission":
        keys = [unit_key(uri) for uri in epcs]
        gtins = {k[1] for k in keys if k and k[0] == "gtin"}
        product = _product_of_gtin(conn, next(iter(gtins))) if len(gtins) == 1 else None
        if product is None or len(keys) != len([k for k in keys if k]):
            return Mapped(None, "the commissioned objects are not of one product of ours")
        fields.update(product=product, serials=[k[2] for k in keys if k])
    else:
        ours = find_units(conn, epcs)
        if not ours:
            return Mapped(None, "names none of our units")
        fields["units"] = [{"serial": s, "product": p} for _, p, s in ours.values()]
    if rule.parent is Effect.SET or rule.event_type in ("disassemble", "pack", "unpack"):
        parent = event.get("parentID")
        if not isinstance(parent, str):
            return Mapped(None, f"{rule.event_type} needs a parentID")
        if rule.event_type in ("pack", "unpack"):
            sscc = _SSCC_PATH.search(identifiers.canonical(parent))
            fields["container"] = sscc.group(1) if sscc else parent[:44]
        else:
            found = find_units(conn, [parent])
            if not found:
                return Mapped(None, "its parentID is not a unit of ours")
            _, p, s = found[parent]
            fields["parent"] = {"serial": s, "product": p}
    where = event.get("bizLocation") or {}
    location = _code_in(conn, locations, gln_codes(where.get("id")))
    if location is not None and rule.location in (Effect.SET, Effect.OPTIONAL):
        fields["location"] = location
    elif rule.location is Effect.SET:
        return Mapped(None, f"its bizLocation is not a location of ours ({rule.event_type})")
    destinations = [d.get("destination") for d in event.get("destinationList") or ()]
    party = next(
        (
            code
            for uri in destinations
            if isinstance(uri, str)
            for code in [_code_in(conn, parties, gln_codes(uri))]
            if code
        ),
        None,
    )
    if party is not None and rule.holder in (Effect.SET, Effect.OPTIONAL):
        fields["party"] = party
    elif rule.holder is Effect.SET:
        return Mapped(None, f"its destinationList names no party of ours ({rule.event_type})")
    point = (event.get("readPoint") or {}).get("id")
    if isinstance(point, str) and len(point) <= 80:
        fields["read_point"] = point
    fields["biz_transactions"] = [
        {"type": short_bt_type(t.get("type")) or "bt", "id": t["bizTransaction"]}
        for t in event.get("bizTransactionList") or ()
        if isinstance(t.get("bizTransaction"), str)
        and len(t["bizTransaction"]) <= 120
        and len(short_bt_type(t.get("type")) or "bt") <= 40
    ][:50]
    try:
        return Mapped(EventIn.model_validate(fields))
    except PydanticValidationError as error:
        raise ValidationError(
            f"{path}: the event cannot be a ledger event",
            [FieldError(path, _pydantic_text(e)) for e in error.errors()],
        ) from None


def _pydantic_text(error: Any) -> str:
    where = ".".join(map(str, error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


# --- ledger → EPCIS ------------------------------------------------------------------------


@dataclass
class LedgerUnit:
    role: int
    product: str
    serial: str
    gtin14: str | None
    prefix_length: int | None
    unit_id: int = 0

    @property
    def uri(self) -> str:
        return unit_uri(self.product, self.serial, self.gtin14, self.prefix_length)


def _time_text(moment: datetime, offset: str) -> tuple[str, str]:
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    zone = timezone(sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0)))
    return moment.astimezone(zone).isoformat(timespec="milliseconds"), offset


def _point(value: str) -> str:
    return value if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value) else _STATION + quote(value)


def bt_uri(kind: str, value: str) -> str:
    """A ledger bizTransaction id as EPCIS needs it (a URI): kept when it is one."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value):
        return value
    return f"{_BT}{quote(kind, safe='')}:{quote(value, safe='')}"


def to_epcis(
    row: Any,
    members: Sequence[LedgerUnit],
    location: str | None,
    party: str | None,
) -> dict[str, Any]:
    """One ledger event (a row of `events` with `type`, times, `read_point`,
    `biz_transactions`, `data`) as an EPCIS 2.0 event whose eventID is its hash ID."""
    rule = RULES[row.type]
    when, offset = _time_text(row.event_time, row.event_tz)
    out: dict[str, Any] = {"type": rule.epcis_type, "eventTime": when}
    out["eventTimeZoneOffset"] = offset
    subjects = [m.uri for m in members if m.role == 0]
    parent = next((m.uri for m in members if m.role == 1), None)
    if rule.epcis_type == "AggregationEvent":
        if parent is not None:  # cartons are the packing capability's: not named here
            out["parentID"] = parent
        out["childEPCs"] = subjects
    else:
        out["epcList"] = subjects
    out["action"] = rule.action
    out["bizStep"] = rule.biz_step
    if rule.disposition:
        out["disposition"] = rule.disposition
    if row.read_point:
        out["readPoint"] = {"id": _point(row.read_point)}
    if location:
        out["bizLocation"] = {"id": location_uri(location)}
    transactions = [
        {"type": t["type"], "bizTransaction": bt_uri(t["type"], t["id"])}
        for t in row.biz_transactions or ()
    ]
    if transactions:
        out["bizTransactionList"] = transactions
    if party and rule.holder is not Effect.KEEP:
        out["destinationList"] = [{"type": "owning_party", "destination": party_uri(party)}]
    removed = [m.uri for m in members if m.role == 2]
    out["unitrace:eventID"] = row.event_id
    out["unitrace:type"] = row.type
    if removed:
        out["unitrace:removed"] = removed
    if row.data:
        out["unitrace:data"] = row.data
    out["recordTime"] = row.record_time.isoformat(timespec="milliseconds")
    hashed = hashing.event_hash_id(out, [EPCIS_CONTEXT, CONTEXT])
    return {"eventID": hashed, **out}
