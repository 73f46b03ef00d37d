"""Registration and ownership by the buyer: warranty registration from the public page (an
`activate` event), owners, one-time transfer codes, stolen reports by the owner.

OWNER: the owners helper (issue 16). `Ownership` and `ownership` are read by the engine's
verdict (verify/check.py).

- Registration (`register`): purchase date, region and a contact (name, phone or email:
  personal data) → one `activate` event through the write path (`ledger.pipeline`), by the
  actor `PUBLIC`, dated at the purchase date (noon, site time; not before the unit's
  commission, not after now): a warranty that starts at activation starts when the buyer
  bought it, and registering late does not lengthen it. One registration a unit.
- Ownership (products with `verify_settings.ownership`): the first registration makes the
  buyer the owner and answers a secret owner key, shown once; only `keys.mac("owner", …)` of
  it is kept (with the key id, so a rotated verification key still checks it). The owner makes
  a one-time transfer code (`start_transfer`, valid `TRANSFER_DAYS`); whoever claims it
  (`claim`) becomes the owner with a new key, the old owner's row gets `until`. A used code
  fails; two claims at once: one wins (a conditional update).
- The owner may report the unit stolen (`report_stolen`): an after-sales stolen report
  (`aftersales.claims.file_report`, reported by "owner"), so later verifications warn.
- Staff read the history (`history`) only with `owners.read`; every read is audited.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import PUBLIC_ROLE, Actor
from unitrace.aftersales.claims import file_report, open_report
from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    UnitraceError,
    report,
)
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import (
    buyer_registrations,
    owners,
    ownership_transfers,
    products,
    units,
    verify_codes,
    verify_settings,
)
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.queries import find_unit
from unitrace.ledger.schemas import EventIn, UnitRef
from unitrace.ledger.write import commission_times
from unitrace.verify import codes, keys

# who records what the public pages record (verifications, the buyer's activation): role
# `public`, which may record just those events (access/principal.py)
PUBLIC = Actor("public", PUBLIC_ROLE)
ACTIVATABLE = frozenset({Status.SOLD, Status.DELIVERED})  # core/lifecycle: activate's rule
TRANSFER_DAYS = 30
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: read aloud, typed by hand
TRANSFER_LENGTH = 12  # ≈ 59 bits


@dataclass(frozen=True)
class Ownership:
    registered: bool = False  # the buyer registered (the warranty) from the public page
    owned_since: date | None = None  # the current owner's since (ownership products)
    stolen: bool = False  # the owner reported it stolen (not cleared)


@dataclass(frozen=True)
class CodeUnit:
    """The unit a public code names, as this part needs it (never shown)."""

    unit_id: int
    serial: str
    product: str
    status: int
    ownership: bool  # the product has owners
    code: str = ""  # as stored
    key_id: str = ""
    pin_hash: str | None = None  # the code has a scratch-off PIN: registering needs it


@dataclass(frozen=True)
class Registration:
    purchase_date: str
    region: str
    name: str = ""
    phone: str = ""
    email: str = ""
    pin: str = ""  # the scratch-off PIN, when the code has one


def ownership(conn: Connection, unit_id: int) -> Ownership:
    """The unit's public registration state."""
    registered = conn.execute(
        select(buyer_registrations.c.id).where(buyer_registrations.c.unit_id == unit_id)
    ).first()
    since = conn.execute(
        select(owners.c.since).where(owners.c.unit_id == unit_id, owners.c.until.is_(None))
    ).scalar()
    return Ownership(
        registered=registered is not None,
        owned_since=_local_date(since) if since is not None else None,
        stolen=open_report(conn, unit_id) is not None,
    )


def registrable(conn: Connection, unit_id: int) -> bool:
    """Whether the buyer may register the unit now (Answer.registrable): sold or delivered,
    not registered yet."""
    status = conn.execute(select(units.c.status).where(units.c.id == unit_id)).scalar()
    return status in ACTIVATABLE and not ownership(conn, unit_id).registered


def _local_date(moment: Any) -> date:
    return as_moment(moment).astimezone(site_timezone()).date()


def _unknown() -> NotFound:
    return NotFound("no such code", [FieldError("code", "no such code")])


def code_unit(conn: Connection, text: str) -> CodeUnit:
    """The unit of a public verification code; NotFound (one answer) for any unknown code."""
    code = codes.normalise(text)
    if code is None:
        raise _unknown()
    row = conn.execute(
        select(
            units.c.id,
            units.c.serial,
            units.c.status,
            products.c.code,
            verify_settings.c.ownership,
            verify_codes.c.code.label("stored"),
            verify_codes.c.key_id,
            verify_codes.c.pin_hash,
        )
        .select_from(verify_codes)
        .join(units, units.c.id == verify_codes.c.unit_id)
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(verify_settings, verify_settings.c.product_id == units.c.product_id)
        .where(verify_codes.c.code == code)
    ).first()
    if row is None:
        raise _unknown()
    return CodeUnit(
        int(row.id),
        row.serial,
        row.code,
        int(row.status),
        bool(row.ownership),
        row.stored,
        row.key_id,
        row.pin_hash,
    )


# --- secrets: owner keys and transfer codes, kept as keyed hashes -----------------------------


def _hashed(purpose: str, secret: str) -> tuple[str, str]:
    key_id, key = keys.current()
    return key_id, keys.mac(purpose, secret.encode(), key).hex()


def _matches(purpose: str, secret: str, key_id: str, stored: str) -> bool:
    key = keys.by_id(key_id)
    if key is None:  # the key it was made with is no longer configured
        return False
    return hmac.compare_digest(keys.mac(purpose, secret.encode(), key).hex(), stored)


def new_owner_key() -> str:
    return secrets.token_urlsafe(18)


def new_transfer_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TRANSFER_LENGTH))


def plain_transfer_code(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalnum())


def show_transfer_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _add_owner(conn: Connection, unit_id: int, now: datetime) -> tuple[int, str]:
    owner_key = new_owner_key()
    key_id, hashed = _hashed("owner", owner_key)
    values = {"unit_id": unit_id, "since": now, "key_id": key_id, "owner_key_hash": hashed}
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(owners).values(values).returning(owners.c.id)).scalar_one()
    except IntegrityError:  # another became the owner meanwhile
        raise Conflict("the unit has an owner already") from None
    return int(new_id), owner_key


def _current_owner(conn: Connection, unit_id: int, owner_key: str) -> Any:
    """The current owner row when `owner_key` is its key; else Forbidden-like refusal (one
    message: a wrong key and no owner read the same)."""
    row = conn.execute(
        select(owners).where(owners.c.unit_id == unit_id, owners.c.until.is_(None))
    ).first()
    if row is None or not _matches("owner", owner_key.strip(), row.key_id, row.owner_key_hash):
        raise report("wrong owner key", [FieldError("owner_key", "wrong owner key")])
    return row


# --- registration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    event_id: str
    owner_key: str | None  # shown once (ownership products)


def _checked(conn: Connection, unit: CodeUnit, data: Registration, now: datetime) -> date:
    from unitrace.catalog.regions import CHOICES

    problems: list[FieldError] = []
    bought: date | None = None
    try:
        bought = date.fromisoformat(data.purchase_date.strip())
    except ValueError:
        problems.append(FieldError("purchase_date", "not a date", data.purchase_date))
    if bought is not None:
        born = commission_times(conn, [unit.unit_id]).get(unit.unit_id)
        if bought > _local_date(now):
            problems.append(FieldError("purchase_date", "must not be in the future"))
        elif born is not None and bought < _local_date(born):
            problems.append(FieldError("purchase_date", "is before the unit was made"))
    if data.region not in CHOICES:
        problems.append(FieldError("region", "choose a region", data.region))
    if not data.phone.strip() and not data.email.strip():
        problems.append(FieldError("contact", "give a phone number or an email address"))
    phone = data.phone.strip()
    if phone and not (7 <= sum(c.isdigit() for c in phone) <= 20 and len(phone) <= 40):
        problems.append(FieldError("phone", "not a phone number"))
    email = data.email.strip()
    if email and ("@" not in email[1:-1] or len(email) > 200 or " " in email):
        problems.append(FieldError("email", "not an email address"))
    if unit.pin_hash is not None and not (
        data.pin.strip() and codes.pin_matches(unit.key_id, unit.pin_hash, unit.code, data.pin)
    ):
        problems.append(FieldError("pin", "wrong PIN: scratch the field under the code"))
    if len(data.name.strip()) > 120:
        problems.append(FieldError("name", "must have at most 120 characters"))
    if problems:
        raise report("the registration has problems", problems)
    assert bought is not None
    return bought


def _activation_time(conn: Connection, unit_id: int, bought: date, now: datetime) -> datetime:
    """Noon of the purchase day (site time), within the unit's commission and now."""
    moment = datetime.combine(bought, time(12), site_timezone()).astimezone(UTC)
    born = commission_times(conn, [unit_id]).get(unit_id)
    if born is not None:
        moment = max(moment, as_moment(born) + timedelta(seconds=1))
    return min(moment, now)


def register(
    db: Database, code: str, data: Registration, now: datetime | None = None
) -> Registered:
    """Register the buyer of the unit of a public code: the `activate` event and the
    registration in one transaction; the owner (ownership products) and its key."""
    now = now or datetime.now(UTC)
    with db.write() as conn:
        unit = code_unit(conn, code)
        bought = _checked(conn, unit, data, now)
        if ownership(conn, unit.unit_id).registered:
            raise Conflict("this product is registered already")
        if unit.status == Status.ACTIVE:
            raise InvalidTransition("this product's warranty was started already")
        if unit.status not in ACTIVATABLE:
            raise InvalidTransition("this product cannot be registered: it was not sold yet")
        event = EventIn(
            type="activate",
            event_time=_activation_time(conn, unit.unit_id, bought, now),
            units=[UnitRef(serial=unit.serial, product=unit.product)],
            region=data.region,
            data={"source": "buyer registration", "purchase_date": bought.isoformat()},
        )
        recorded = record_in(conn, PUBLIC, event)
        values = {
            "unit_id": unit.unit_id,
            "event_id": recorded.id,
            "purchase_date": bought,
            "region": data.region,
            "name": data.name.strip(),
            "phone": data.phone.strip() or None,
            "email": data.email.strip() or None,
            "registered_at": now,
        }
        try:
            with conn.begin_nested():
                conn.execute(insert(buyer_registrations).values(values))
        except IntegrityError:
            raise Conflict("this product is registered already") from None
        owner_key = _add_owner(conn, unit.unit_id, now)[1] if unit.ownership else None
    return Registered(recorded.event_id, owner_key)


# --- transfers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    code: str  # shown once, as `show_transfer_code`
    expires_at: datetime


def start_transfer(
    db: Database, code: str, owner_key: str, now: datetime | None = None
) -> Transfer:
    """A one-time transfer code for the owner to hand to the next buyer (earlier unused codes
    of the unit stop working)."""
    now = now or datetime.now(UTC)
    with db.write() as conn:
        unit = code_unit(conn, code)
        owner = _current_owner(conn, unit.unit_id, owner_key)
        conn.execute(
            update(ownership_transfers)
            .where(
                ownership_transfers.c.unit_id == unit.unit_id,
                ownership_transfers.c.used_at.is_(None),
                ownership_transfers.c.expires_at > now,
            )
            .values(expires_at=now)
        )
        transfer = new_transfer_code()
        key_id, hashed = _hashed("transfer", transfer)
        expires = now + timedelta(days=TRANSFER_DAYS)
        conn.execute(
            insert(ownership_transfers).values(
                unit_id=unit.unit_id,
                from_owner=owner.id,
                key_id=key_id,
                code_hash=hashed,
                created_at=now,
                expires_at=expires,
            )
        )
    return Transfer(transfer, expires)


def _bad_transfer() -> UnitraceError:
    return report(
        "the transfer code is wrong, used or expired",
        [FieldError("transfer_code", "the transfer code is wrong, used or expired")],
    )


def claim(db: Database, code: str, transfer_code: str, now: datetime | None = None) -> str:
    """Claim the unit with a transfer code: answers the new owner's key (shown once). A code
    works once: the first claim marks it used, any other fails."""
    now = now or datetime.now(UTC)
    given = plain_transfer_code(transfer_code)
    with db.write() as conn:
        unit = code_unit(conn, code)
        open_ones = conn.execute(
            select(ownership_transfers).where(
                ownership_transfers.c.unit_id == unit.unit_id,
                ownership_transfers.c.used_at.is_(None),
                ownership_transfers.c.expires_at > now,
            )
        ).all()
        found = next(
            (t for t in open_ones if _matches("transfer", given, t.key_id, t.code_hash)), None
        )
        if found is None:
            raise _bad_transfer()
        taken = conn.execute(
            update(ownership_transfers)
            .where(ownership_transfers.c.id == found.id, ownership_transfers.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        ended = conn.execute(
            update(owners)
            .where(owners.c.id == found.from_owner, owners.c.until.is_(None))
            .values(until=now)
        ).rowcount
        if taken != 1 or ended != 1:  # claimed by another meanwhile
            raise _bad_transfer()
        new_id, owner_key = _add_owner(conn, unit.unit_id, now)
        conn.execute(
            update(ownership_transfers)
            .where(ownership_transfers.c.id == found.id)
            .values(to_owner=new_id)
        )
    return owner_key


def report_stolen(
    db: Database, code: str, owner_key: str, note: str = "", now: datetime | None = None
) -> None:
    """The owner reports the unit stolen (an after-sales stolen report by "owner")."""
    now = now or datetime.now(UTC)
    with db.write() as conn:
        unit = code_unit(conn, code)
        _current_owner(conn, unit.unit_id, owner_key)
        row = file_report(conn, unit.unit_id, unit.serial, "owner", note[:1000], now)
        after = {"serial": unit.serial, "product": unit.product, "reported_by": "owner"}
        key = f"{unit.product}/{unit.serial}"
        audit.append(conn, PUBLIC, "report", "stolen", key, None, after | {"id": row.id})


# --- staff: the owner history (personal data) ---------------------------------------------------


def _moment(value: Any) -> str | None:
    return as_moment(value).isoformat() if value is not None else None


def history(db: Database, actor: Actor, serial: str, product: str | None = None) -> dict[str, Any]:
    """A unit's registration (with the buyer's contact) and owner history: only with
    `owners.read`; every read is audited."""
    actor.require("owners.read")
    with db.write() as conn:
        unit = find_unit(conn, actor, serial, product)
        reg = conn.execute(
            select(buyer_registrations).where(buyer_registrations.c.unit_id == unit.id)
        ).first()
        rows = conn.execute(
            select(owners).where(owners.c.unit_id == unit.id).order_by(owners.c.since, owners.c.id)
        ).all()
        registration = None
        if reg is not None:
            registration = {
                "purchase_date": reg.purchase_date.isoformat(),
                "region": reg.region,
                "registered_at": _moment(reg.registered_at),
                "name": reg.name,
                "phone": reg.phone,
                "email": reg.email,
            }
        answer = {
            "serial": unit.serial,
            "product": unit.product_code,
            "registration": registration,
            "owners": [
                {"since": _moment(r.since), "until": _moment(r.until), "current": r.until is None}
                for r in rows
            ],
        }
        key = f"{unit.product_code}/{unit.serial}"
        audit.append(conn, actor, "read", "owners", key, None, {"registered": reg is not None})
    return answer
