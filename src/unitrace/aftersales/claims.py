"""Claim checks: run on every case opened as a warranty claim, and on the service desk.

Each check answers pass, flag or refuse with a reason an agent can read; all are shown
together. Which checks refuse and which only flag is set per product or for all
(`claim_rules`); an authorised role (`claim.override`) may open a refused claim with a reason.

    Check(name="warranty", result="refuse", reason="warranty expired on 2026-10-01", link=None)

The checks, in the order they are shown (`CHECKS`; a rule's mode says what a finding gives —
`refuse`, `flag`, or `off`: the check is not run; `DEFAULTS` when no rule is set):

- `unknown_serial`: the serial is not ours (possible counterfeit). Always refuses.
- `shipped`: the unit never left our hands (never shipped, delivered, sold or activated).
- `warranty`: the warranty verdict (`aftersales.warranty`) is not `in_warranty`.
- `open_case`: another warranty claim of the unit is open.
- `frequency`: more than `claims` warranty claims in `days` days, this one counted.
- `region`: claimed outside the regions the unit was sold for (its sale's region, the regions
  of the distributor it was shipped to), or the unit has a diversion alert not closed: the
  reason names the alert (`channel.rules.alerts_for`).
- `scrapped`, `stolen` (a report not cleared), `recall` (an open campaign: the recall, not the
  warranty, pays — `production.rules.open_recalls`).
- `components`: the serials a technician found differ from the genealogy (`genealogy_check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales import warranty
from unitrace.aftersales.schemas import ClaimCheckIn, ClaimRuleIn, StolenIn
from unitrace.channel import rules as channel
from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.errors import Conflict, FieldError, NotFound, report
from unitrace.core.lifecycle import Role, Status
from unitrace.db.engine import Database
from unitrace.db.tables import (
    claim_rules,
    event_units,
    events,
    products,
    service_cases,
    stolen_reports,
    units,
)
from unitrace.ledger.queries import find_unit
from unitrace.production import rules as production

Result = Literal["pass", "flag", "refuse"]
Mode = Literal["refuse", "flag", "off"]
OPEN_STATES = ("open", "diagnosed", "waiting_for_parts", "in_repair", "testing")
# every check a rule may set, in the order they are shown, with its mode and params by default
DEFAULTS: dict[str, tuple[Mode, dict[str, int]]] = {
    "shipped": ("refuse", {}),
    "warranty": ("refuse", {}),
    "open_case": ("refuse", {}),
    "frequency": ("flag", {"claims": 3, "days": 90}),
    "region": ("flag", {}),
    "scrapped": ("refuse", {}),
    "stolen": ("refuse", {}),
    "recall": ("refuse", {}),
    "components": ("flag", {}),
}
CHECKS = ("unknown_serial", *DEFAULTS)
# the params a check takes, and their bounds
PARAMS: dict[str, dict[str, tuple[int, int]]] = {
    "frequency": {"claims": (1, 1000), "days": (1, 3650)},
}
# events by which a unit leaves our hands: before any of them, nobody outside could claim
LEFT = ("ship", "deliver", "sell", "activate")


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    reason: str
    link: dict[str, Any] | None = field(default=None)  # what the check found: an alert, a case

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """What a claim is about: the serial as given (and its product when ambiguous), the region
    the claim comes from, and the component serials a technician found in the unit."""

    serial: str
    product: str | None = None
    region: str | None = None
    found_components: tuple[str, ...] | None = None
    on: date | None = None


class _Facts:
    """What the checks of one claim read, each read once: the unit's row and its claims."""

    def __init__(self, conn: Connection, claim: Claim, unit: Any, on: date) -> None:
        self.conn, self.claim, self.unit, self.on = conn, claim, unit, on
        self._claims: list[Any] | None = None
        self._left: list[Any] | None = None

    @property
    def claims(self) -> list[Any]:
        """The unit's warranty claims (number, state, opened), oldest first: one indexed read
        for the open-case and frequency checks."""
        if self._claims is None:
            self._claims = list(
                self.conn.execute(
                    select(service_cases.c.number, service_cases.c.state, service_cases.c.opened_at)
                    .where(
                        service_cases.c.unit_id == self.unit.id,
                        service_cases.c.warranty_claim.is_(True),
                    )
                    .order_by(service_cases.c.id)
                )
            )
        return self._claims

    @property
    def handed_on(self) -> list[Any]:
        """The unit's events that took it out of our hands (`LEFT`: type, time, region), in
        time order: one indexed read for the shipped and region checks."""
        if self._left is None:
            self._left = list(
                self.conn.execute(
                    select(events.c.id, events.c.type, events.c.event_time, events.c.region)
                    .select_from(event_units)
                    .join(events, events.c.id == event_units.c.event_id)
                    .where(
                        event_units.c.unit_id == self.unit.id,
                        event_units.c.role == int(Role.SUBJECT),
                        events.c.type.in_(LEFT),
                    )
                    .order_by(events.c.event_time, events.c.id)
                )
            )
        return self._left


@dataclass(frozen=True)
class Rule:
    mode: Mode
    params: dict[str, int]
    set_for: str  # "product", "all" (the rule for every product) or "default"


def _unit(conn: Connection, claim: Claim) -> Any:
    """The unit (at most two: an ambiguous serial) with its uncleared stolen report, if any."""
    query = (
        select(
            units.c.id,
            units.c.status,
            units.c.product_id,
            stolen_reports.c.id.label("stolen_id"),
            stolen_reports.c.reported_at,
            stolen_reports.c.reported_by,
            stolen_reports.c.note,
        )
        .outerjoin(
            stolen_reports,
            (stolen_reports.c.unit_id == units.c.id) & stolen_reports.c.cleared_at.is_(None),
        )
        .where(units.c.serial == claim.serial)
    )
    if claim.product is not None:
        query = query.join(products, products.c.id == units.c.product_id).where(
            products.c.code == claim.product
        )
    return conn.execute(query.limit(2)).all()


def unknown(serial: str) -> Check:
    return Check(
        "unknown_serial", "refuse", f"serial {serial!r} was never made by us: possibly counterfeit"
    )


def evaluate_unknown(serial: str) -> list[dict[str, Any]]:
    """The checks of a serial that is not ours (or not the actor's to see)."""
    return [unknown(serial).as_dict()]


# --- the rules -----------------------------------------------------------------------------


def rules_for(conn: Connection, product_id: int | None) -> dict[str, Rule]:
    """Every check's rule for a product (its own, else the one for all, else the default);
    `product_id` None: the rules for all products."""
    stored = conn.execute(
        select(
            claim_rules.c.product_id,
            claim_rules.c.check_name,
            claim_rules.c.mode,
            claim_rules.c.params,
        ).where(or_(claim_rules.c.product_id.is_(None), claim_rules.c.product_id == product_id))
    ).all()
    found: dict[str, Rule] = {}
    for name, (mode, params) in DEFAULTS.items():
        found[name] = Rule(mode, dict(params), "default")
    for row in sorted(stored, key=lambda r: r.product_id is not None):  # all first, then own
        if row.check_name in found:
            params = {**DEFAULTS[row.check_name][1], **(row.params or {})}
            set_for = "all" if row.product_id is None else "product"
            found[row.check_name] = Rule(row.mode, params, set_for)
    return found


def _finding(rule: Rule, name: str, reason: str, link: dict[str, Any] | None = None) -> Check:
    """A check that found something: it refuses or flags, as its rule says."""
    result: Result = "refuse" if rule.mode == "refuse" else "flag"
    return Check(name, result, reason, link)


# --- the checks ----------------------------------------------------------------------------


def evaluate(conn: Connection, claim: Claim) -> list[Check]:
    """Every check of a warranty claim, in a fixed order (read only). The caller has found the
    unit in the actor's scope; a serial it could not find is `evaluate_unknown`."""
    found = _unit(conn, claim)
    if not found:
        return [unknown(claim.serial)]
    if len(found) > 1:
        serial = claim.serial
        reason = f"serial {serial!r} is used by more than one product; name the product"
        return [Check("unknown_serial", "refuse", reason)]
    unit = found[0]
    rules = rules_for(conn, unit.product_id)
    checks = [Check("unknown_serial", "pass", "the serial is ours")]
    facts = _Facts(conn, claim, unit, claim.on or warranty.today())
    for name, rule in rules.items():
        if rule.mode == "off":
            continue
        check = _CHECKS[name](facts, rule)
        if check is not None:
            checks.append(check)
    return checks


def _shipped(facts: _Facts, rule: Rule) -> Check:
    if not facts.handed_on:
        return _finding(rule, "shipped", "never shipped or sold: the unit has not left our hands")
    first = facts.handed_on[0]
    event, day = first.type, _local_date(first.event_time)
    return Check("shipped", "pass", f"left our hands: {event} on {day}")


def _warranty(facts: _Facts, rule: Rule) -> Check:
    verdict = warranty.verdict(facts.conn, facts.unit.id, facts.on)
    status, end = verdict["status"], verdict["end_date"]
    link = {"status": status, "start_date": verdict["start_date"], "end_date": end}
    if status == "in_warranty":
        return Check("warranty", "pass", f"in warranty until {end}", link)
    if status == "expired":
        return _finding(rule, "warranty", f"warranty expired on {end}", link)
    if status == "void":
        why = verdict["void"]["reason"]
        return _finding(rule, "warranty", f"warranty void: {why}", link)
    if status == "not_started":
        return _finding(rule, "warranty", "warranty has not started", link)
    return _finding(rule, "warranty", "the product has no warranty", link)


def _open_case(facts: _Facts, rule: Rule) -> Check:
    open_case = next((r.number for r in facts.claims if r.state in OPEN_STATES), None)
    if open_case is not None:
        return _finding(
            rule,
            "open_case",
            f"case {open_case} is already open for this unit",
            {"case": open_case},
        )
    return Check("open_case", "pass", "no other open claim")


def _frequency(facts: _Facts, rule: Rule) -> Check:
    limit, days = rule.params["claims"], rule.params["days"]
    end = datetime.combine(facts.on, time.max, tzinfo=site_timezone())
    since = end - timedelta(days=days)
    recent = [r.number for r in facts.claims if since <= as_moment(r.opened_at) <= end]
    count = len(recent)
    link = {"cases": recent, "claims": limit, "days": days}
    if count + 1 > limit:
        return _finding(
            rule,
            "frequency",
            f"{count} claims in the last {days} days already: more than {limit} with this one",
            link,
        )
    return Check("frequency", "pass", f"{count} claims in the last {days} days", link)


def _region(facts: _Facts, rule: Rule) -> Check:
    alerts = channel.alerts_for(facts.conn, facts.unit.id)
    expected: list[str] = []
    distributor = None
    shipped = channel.shipped_to(facts.conn, facts.unit.id)
    if shipped is not None:
        distributor, expected = shipped[0], list(shipped[1])
    sales = [e for e in facts.handed_on if e.type == "sell" and e.region is not None]
    sold_in = max(sales, key=lambda e: e.id).region if sales else None
    if sold_in is not None and sold_in not in expected:
        expected.append(sold_in)
    claimed = facts.claim.region
    outside = bool(claimed and expected and not channel.region_allowed(claimed, expected))
    link: dict[str, Any] = {
        "claimed": claimed,
        "expected": expected,
        "distributor": distributor,
        "alerts": [a["id"] for a in alerts],
    }
    regions = ", ".join(expected)
    if alerts:
        named = next(
            (a for a in alerts if claimed and channel.region_allowed(claimed, [a["seen_region"]])),
            alerts[0],
        )
        link["alert"] = named["id"]
        alert, seen, party = named["id"], named["seen_region"], named["distributor"]
        if outside:
            return _finding(
                rule,
                "region",
                f"claimed in {claimed}, outside the regions it was sold for ({regions}); "
                f"diversion alert {alert}: distributor {party}, seen in {seen}",
                link,
            )
        return _finding(
            rule, "region", f"diversion alert {alert}: distributor {party}, seen in {seen}", link
        )
    if outside:
        return _finding(
            rule,
            "region",
            f"claimed in {claimed}, outside the regions it was sold for ({regions})",
            link,
        )
    if claimed and expected:
        return Check("region", "pass", f"claimed in {claimed}, where it was sold for", link)
    return Check("region", "pass", "no diversion alert for the unit", link)


def _scrapped(facts: _Facts, rule: Rule) -> Check:
    if facts.unit.status == int(Status.SCRAPPED):
        return _finding(rule, "scrapped", "the unit was scrapped")
    return Check("scrapped", "pass", "not scrapped")


def _stolen(facts: _Facts, rule: Rule) -> Check:
    unit = facts.unit
    if unit.stolen_id is None:
        return Check("stolen", "pass", "not reported stolen")
    day, by, note = _local_date(unit.reported_at), unit.reported_by, unit.note
    link = {"report": int(unit.stolen_id), "reported_at": as_moment(unit.reported_at).isoformat()}
    if note:
        return _finding(rule, "stolen", f"reported stolen on {day} by {by}: {note}", link)
    return _finding(rule, "stolen", f"reported stolen on {day} by {by}", link)


def _recall(facts: _Facts, rule: Rule) -> Check:
    campaign = production.open_recalls(facts.conn, [facts.unit.id]).get(facts.unit.id)
    if campaign is None:
        return Check("recall", "pass", "under no open recall")
    code, title = campaign
    return _finding(
        rule,
        "recall",
        f"under open recall {code} ({title}): the recall, not the warranty, pays",
        {"recall": code},
    )


def _components(facts: _Facts, rule: Rule) -> Check | None:
    if facts.claim.found_components is None:
        return None  # nobody has looked inside yet
    found = genealogy_check(facts.conn, facts.unit.id, list(facts.claim.found_components))
    if found.result == "pass" or rule.mode == "flag":
        return found
    return replace(found, result="refuse")


_CHECKS = {
    "shipped": _shipped,
    "warranty": _warranty,
    "open_case": _open_case,
    "frequency": _frequency,
    "region": _region,
    "scrapped": _scrapped,
    "stolen": _stolen,
    "recall": _recall,
    "components": _components,
}


def _local_date(moment: Any) -> date:
    return as_moment(moment).astimezone(site_timezone()).date()


def refused(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.result == "refuse"]


def outcome(checks: list[Check]) -> Result:
    """The worst result of the checks: refuse, else flag, else pass."""
    results = {c.result for c in checks}
    return "refuse" if "refuse" in results else "flag" if "flag" in results else "pass"


def claims_in(conn: Connection, unit_id: int) -> int:
    """How many warranty claims the unit has had (any state)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(service_cases)
            .where(service_cases.c.unit_id == unit_id, service_cases.c.warranty_claim.is_(True))
        ).scalar_one()
    )


class ClaimRefused(Conflict):
    """A warranty claim that a check refuses: every check is in `checks`, the refusing ones
    also in the errors (field `checks.NAME`)."""

    checks: list[Check]


def refusal(checks: list[Check]) -> ClaimRefused:
    refusing = refused(checks)
    error = ClaimRefused(
        "the warranty claim is refused: " + "; ".join(c.reason for c in refusing),
        [FieldError(f"checks.{c.name}", c.reason) for c in refusing],
    )
    error.checks = checks
    return error


def judge(
    conn: Connection,
    actor: Actor,
    claim: Claim,
    override_reason: str | None = None,
    case_number: str | None = None,
) -> list[Check]:
    """The checks of a claim being opened. A refusal raises `ClaimRefused`, unless the actor
    may override (`claim.override`) and gives a reason: then the override is audited (on the
    case, when its number is known) and the checks are returned as they are.

    Inside the caller's write transaction: the unit's row is locked first (PostgreSQL; SQLite
    writers are one at a time), so two claims opened at once for one unit are judged one after
    the other and the second sees the first's case."""
    lock = select(units.c.id).where(units.c.serial == claim.serial)
    if claim.product is not None:
        lock = lock.where(
            units.c.product_id
            == select(products.c.id).where(products.c.code == claim.product).scalar_subquery()
        )
    conn.execute(lock.with_for_update()).all()
    checks = evaluate(conn, claim)
    refusing = refused(checks)
    if not refusing:
        return checks
    if not override_reason or not override_reason.strip():
        raise refusal(checks)
    actor.require("claim.override")
    audit.append(
        conn,
        actor,
        "override",
        "claim",
        case_number or claim.serial,
        before={"refused": [c.as_dict() for c in refusing]},
        after={"reason": override_reason.strip(), "serial": claim.serial},
    )
    return checks


def genealogy_check(conn: Connection, unit_id: int, found: list[str]) -> Check:
    """The component serials a technician finds in the unit against its genealogy: which are
    missing and which are not the unit's (parts swapped)."""
    installed = set(
        conn.execute(select(units.c.serial).where(units.c.parent_id == unit_id)).scalars()
    )
    given = {s.strip() for s in found if s.strip()}
    missing, foreign = sorted(installed - given), sorted(given - installed)
    if not missing and not foreign:
        return Check("components", "pass", "the components found are the unit's")
    absent, strange = ", ".join(missing) or "-", ", ".join(foreign) or "-"
    return Check(
        "components",
        "flag",
        f"parts swapped: missing from the unit {absent}; not the unit's own {strange}",
        {"missing": missing, "foreign": foreign},
    )


# --- use cases: the dry run, the rules, stolen reports -------------------------------------


def dry_run(db: Database, actor: Actor, data: ClaimCheckIn) -> dict[str, Any]:
    """Every check a warranty claim would meet now, nothing written. A serial the actor may not
    see is answered as one we never made."""
    actor.require("service.read")
    with db.read() as conn:
        try:
            unit = find_unit(conn, actor, data.serial, data.product)
        except NotFound:
            checks = evaluate_unknown(data.serial)
            return {"serial": data.serial, "product": None, "result": "refuse", "checks": checks}
        found = tuple(data.found_components) if data.found_components is not None else None
        claim = Claim(unit.serial, unit.product_code, data.region, found, data.on)
        done = evaluate(conn, claim)
    return {
        "serial": unit.serial,
        "product": unit.product_code,
        "result": outcome(done),
        "checks": [c.as_dict() for c in done],
    }


def _product_id(conn: Connection, code: str | None, field_name: str = "product") -> int | None:
    if code is None:
        return None
    found = conn.execute(select(products.c.id).where(products.c.code == code)).scalar()
    if found is None:
        raise report("no such product", [FieldError(field_name, f"no product {code!r}", code)])
    return int(found)


def _rules_answer(conn: Connection, product: str | None, product_id: int | None) -> dict[str, Any]:
    """The rules' answer: every check's rule for the product (or for all), and the rules set —
    all of them, or (a product) the ones for all and the product's own."""
    effective = rules_for(conn, product_id)
    query = (
        select(products.c.code, claim_rules.c.check_name, claim_rules.c.mode, claim_rules.c.params)
        .select_from(claim_rules)
        .outerjoin(products, products.c.id == claim_rules.c.product_id)
        .order_by(products.c.code.is_not(None), products.c.code, claim_rules.c.check_name)
    )
    if product_id is not None:
        query = query.where(
            or_(claim_rules.c.product_id.is_(None), claim_rules.c.product_id == product_id)
        )
    stored = conn.execute(query).all()
    return {
        "product": product,
        "checks": [
            {"check": "unknown_serial", "mode": "refuse", "params": {}, "set_for": "fixed"},
            *(
                {"check": name, "mode": r.mode, "params": r.params, "set_for": r.set_for}
                for name, r in effective.items()
            ),
        ],
        "rules": [
            {"product": r.code, "check": r.check_name, "mode": r.mode, "params": r.params or {}}
            for r in stored
        ],
    }


def rules(db: Database, actor: Actor, product: str | None = None) -> dict[str, Any]:
    """The rule of every check — for a product, or (no product) for all — and the rules set."""
    actor.require("service.read")
    with db.read() as conn:
        return _rules_answer(conn, product, _product_id(conn, product))


def _params_problems(check: str, params: Mapping[str, int]) -> list[FieldError]:
    wanted = PARAMS.get(check, {})
    problems = []
    for key, value in params.items():
        if key not in wanted:
            problems.append(FieldError(f"params.{key}", f"check {check} has no parameter {key!r}"))
            continue
        low, high = wanted[key]
        if not low <= value <= high:
            problems.append(
                FieldError(f"params.{key}", f"{key} must be from {low} to {high}", value)
            )
    return problems


def set_rule(db: Database, actor: Actor, data: ClaimRuleIn) -> dict[str, Any]:
    """Set what a check does for a product or for all (`inherit`: remove the rule, so that the
    one for all — or the default — applies). Audited; answers the rules as `rules` does."""
    actor.require("claim.override")
    with db.write() as conn:
        problems = _params_problems(data.check, data.params)
        product_id = None
        if data.product is not None:
            product_id = conn.execute(
                select(products.c.id).where(products.c.code == data.product)
            ).scalar()
            if product_id is None:
                code = data.product
                problems.append(FieldError("product", f"no product {code!r}", code))
        if problems:
            raise report("the claim rule cannot be set", problems)
        which = (
            claim_rules.c.product_id.is_(None)
            if product_id is None
            else claim_rules.c.product_id == product_id
        )
        where = [which, claim_rules.c.check_name == data.check]
        before = conn.execute(
            select(claim_rules.c.mode, claim_rules.c.params).where(*where)
        ).first()
        params = dict(data.params)
        if data.mode == "inherit":
            conn.execute(delete(claim_rules).where(*where))
        elif before is None:
            values = {
                "product_id": product_id,
                "check_name": data.check,
                "mode": data.mode,
                "params": params,
            }
            try:
                with conn.begin_nested():
                    conn.execute(insert(claim_rules).values(values))
            except IntegrityError:  # set meanwhile by another: this one replaces it
                conn.execute(
                    update(claim_rules).where(*where).values(mode=data.mode, params=params)
                )
        else:
            conn.execute(update(claim_rules).where(*where).values(mode=data.mode, params=params))
        audit.append(
            conn,
            actor,
            "update",
            "claim_rule",
            f"{data.product or '*'}:{data.check}",
            {"mode": before.mode, "params": before.params} if before is not None else None,
            {"mode": data.mode, "params": params} if data.mode != "inherit" else None,
        )
        return _rules_answer(conn, data.product, product_id)


def _stolen_answer(unit: Any, row: Any) -> dict[str, Any]:
    return {
        "serial": unit.serial,
        "product": unit.product_code,
        "stolen": row.cleared_at is None,
        "note": row.note,
        "reported_at": as_moment(row.reported_at).isoformat(),
        "reported_by": row.reported_by,
        "cleared_at": as_moment(row.cleared_at).isoformat() if row.cleared_at else None,
        "cleared_by": row.cleared_by,
    }


def open_report(conn: Connection, unit_id: int) -> Any:
    """The unit's stolen report not cleared, or None."""
    return conn.execute(
        select(stolen_reports).where(
            stolen_reports.c.unit_id == unit_id, stolen_reports.c.cleared_at.is_(None)
        )
    ).first()


def file_report(
    conn: Connection, unit_id: int, serial: str, reported_by: str, note: str, now: datetime
) -> Any:
    """Write a stolen report of a unit (staff, or its owner from the public page: verify/owners)
    on the caller's write transaction and answer its row; Conflict when one is open."""
    if open_report(conn, unit_id) is not None:
        raise Conflict(f"{serial} is already reported stolen")
    values = {"unit_id": unit_id, "note": note.strip(), "reported_at": now}
    try:
        with conn.begin_nested():
            conn.execute(insert(stolen_reports).values(values | {"reported_by": reported_by}))
    except IntegrityError:  # reported by another at the same instant
        raise Conflict(f"{serial} is already reported stolen") from None
    return open_report(conn, unit_id)


def report_stolen(db: Database, actor: Actor, serial: str, data: StolenIn) -> dict[str, Any]:
    """Report a unit stolen (a unit in the actor's scope): warranty claims for it are refused
    (the `stolen` check) until the report is cleared. Audited."""
    actor.require("service.write")
    now = datetime.now(UTC)
    with db.write() as conn:
        unit = find_unit(conn, actor, serial, data.product)
        row = file_report(conn, unit.id, unit.serial, actor.username, data.note, now)
        answer = _stolen_answer(unit, row)
        audit.append(
            conn, actor, "report", "stolen", f"{unit.product_code}/{unit.serial}", None, answer
        )
    return answer


def clear_stolen(db: Database, actor: Actor, serial: str, data: StolenIn) -> dict[str, Any]:
    """Clear a unit's stolen report (found, or reported by mistake). Audited, with the note."""
    actor.require("warranty.manage")
    now = datetime.now(UTC)
    with db.write() as conn:
        unit = find_unit(conn, actor, serial, data.product)
        row = open_report(conn, unit.id)
        if row is None:
            raise Conflict(f"{unit.serial} is not reported stolen")
        changed = conn.execute(
            update(stolen_reports)
            .where(stolen_reports.c.id == row.id, stolen_reports.c.cleared_at.is_(None))
            .values(cleared_at=now, cleared_by=actor.username)
        ).rowcount
        if changed != 1:
            raise Conflict(f"{unit.serial} is not reported stolen")
        done = conn.execute(select(stolen_reports).where(stolen_reports.c.id == row.id)).one()
        answer = _stolen_answer(unit, done)
        key = f"{unit.product_code}/{unit.serial}"
        after = answer | {"clear_note": data.note.strip()}
        audit.append(conn, actor, "clear", "stolen", key, _stolen_answer(unit, row), after)
    return answer
