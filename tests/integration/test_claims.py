"""Claim checks: every check a warranty claim meets, shown together with pass, flag or refuse;
the rules that say which refuse, per product or for all; overrides, stolen reports, the dry
run. On SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, claims
from unitrace.aftersales.schemas import CaseIn
from unitrace.channel import service as channel
from unitrace.core.errors import Conflict, Forbidden
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, service_cases
from unitrace.production import recall
from unitrace.production.schemas import RecallIn, TraceQuery

PASSWORD = "correct horse battery"


def _made(db: Database, product: str = "AC1", start: str = "sale", days_ago: int = 65) -> str:
    """One unit of a 24-month product (made if new), received into WH1 `days_ago`."""
    with db.read() as conn:
        from unitrace.db.tables import locations, products

        if conn.execute(select(products.c.id).where(products.c.code == product)).first() is None:
            make_product(db, product, warranty_months=24, warranty_start=start)
        if conn.execute(select(locations.c.id).where(locations.c.code == "WH1")).first() is None:
            make_location(db)
    made = datetime.now(UTC) - timedelta(days=days_ago)
    serial = make_units(db, product, count=1, event_time=made)[0]
    record(db, type="receive", product=product, serials=[serial], location="WH1", event_time=made)
    return serial


def _sold(db: Database, product: str = "AC1", region: str | None = None) -> str:
    serial = _made(db, product)
    sold = datetime.now(UTC) - timedelta(days=60)
    record(db, type="sell", product=product, serials=[serial], event_time=sold, region=region)
    return serial


def _checks(api: Api, serial: str, **extra: Any) -> dict[str, dict[str, Any]]:
    answer = api.post("/claims/check", {"serial": serial, **extra})
    assert answer.status_code == 200, answer.text
    return {c["name"]: c for c in answer.json()["checks"]}


def _bearer(db: Database, role: str, party: str | None = None) -> dict[str, str]:
    name = f"as-{role}"
    access.create_user(db, SYSTEM, name, PASSWORD, role, party)
    return {"Authorization": f"Bearer {access.create_token(db, SYSTEM, name, 't')['token']}"}


def _close(db: Database, number: str) -> None:
    with db.write() as conn:
        case = cases.case_row(conn, number)
        cases.move(conn, case.id, "closed", "test", datetime.now(UTC))


# --- what the issue says must show -----------------------------------------------------------


def test_a_claim_for_a_unit_sold_for_cn_31_opened_in_cn_44_is_flagged_and_names_the_alert(
    db: Database, api: Api
) -> None:
    serial = _made(db)
    make_party(db, "D-SH", regions=["CN-31"])
    record(db, type="ship", serials=[serial], party="D-SH")
    record(db, type="deliver", serials=[serial])
    record(db, type="sell", serials=[serial], region="CN-31")  # sold where it may be
    record(db, type="activate", serials=[serial], region="CN-44")  # then seen in Guangdong
    [alert] = channel.list_alerts(db, SYSTEM)

    opened = api.post("/cases", {"serial": serial, "region": "CN-44"})

    assert opened.status_code == 201, opened.text  # a flag does not refuse
    region = {c["name"]: c for c in opened.json()["checks"]}["region"]
    assert region["result"] == "flag"
    assert f"diversion alert {alert['id']}" in region["reason"]
    assert "D-SH" in region["reason"] and "CN-31" in region["reason"]
    assert region["link"]["alert"] == alert["id"]
    assert region["link"]["expected"] == ["CN-31"] and region["link"]["claimed"] == "CN-44"


def test_a_claim_outside_the_sale_region_is_flagged_even_without_an_alert(
    db: Database, api: Api
) -> None:
    serial = _sold(db, region="CN-31")

    outside = _checks(api, serial, region="CN-44")["region"]
    inside = _checks(api, serial, region="CN-31")["region"]

    assert outside["result"] == "flag"
    assert outside["reason"] == "claimed in CN-44, outside the regions it was sold for (CN-31)"
    assert outside["link"]["alerts"] == []
    assert inside["result"] == "pass"


def test_a_claim_for_a_serial_we_never_made_is_refused_as_unknown(db: Database, api: Api) -> None:
    make_product(db, warranty_months=24)

    dry = api.post("/claims/check", {"serial": "FAKE-0001"}).json()
    with db.write() as conn, pytest.raises(claims.ClaimRefused) as refused:
        claims.judge(conn, SYSTEM, claims.Claim("FAKE-0001"))

    assert dry["result"] == "refuse"
    assert [(c["name"], c["result"]) for c in dry["checks"]] == [("unknown_serial", "refuse")]
    assert "possibly counterfeit" in dry["checks"][0]["reason"]
    assert [e.field for e in refused.value.errors] == ["checks.unknown_serial"]


def test_a_second_open_claim_is_refused_and_a_closed_one_does_not_count(
    db: Database, api: Api
) -> None:
    serial = _sold(db)
    first = api.post("/cases", {"serial": serial}).json()["number"]

    second = api.post("/cases", {"serial": serial})
    body = assert_problem(second, 409, "checks.open_case")
    assert first in body["detail"]
    _close(db, first)
    third = api.post("/cases", {"serial": serial})

    assert third.status_code == 201, third.text
    assert {c["name"]: c for c in third.json()["checks"]}["open_case"]["result"] == "pass"


def test_two_agents_opening_a_claim_for_one_unit_at_once_open_one_case(db: Database) -> None:
    serial = _sold(db)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def agent(name: str) -> None:
        actor = Actor(name, "service")
        start.wait()
        try:
            cases.open_case(db, actor, CaseIn(serial=serial))
            outcomes.append("opened")
        except claims.ClaimRefused as refused:
            outcomes.append(",".join(e.field for e in refused.errors))
        except Conflict:
            outcomes.append("busy")

    threads = [threading.Thread(target=agent, args=(n,)) for n in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["checks.open_case", "opened"]
    with db.read() as conn:
        assert len(conn.execute(select(service_cases.c.id)).all()) == 1


def test_more_than_n_claims_in_m_days_is_flagged_naming_the_cases(db: Database, api: Api) -> None:
    serial = _sold(db)
    rule = {
        "product": "AC1",
        "check": "frequency",
        "mode": "flag",
        "params": {"claims": 2, "days": 30},
    }
    assert api.client.put("/api/v1/claim-rules", json=rule, headers=api.admin).status_code == 200
    numbers = []
    for _ in range(2):
        numbers.append(api.post("/cases", {"serial": serial}).json()["number"])
        _close(db, numbers[-1])

    third = api.post("/cases", {"serial": serial})
    later = _checks(api, serial, on=(date.today() + timedelta(days=40)).isoformat())

    assert third.status_code == 201, third.text
    frequency = {c["name"]: c for c in third.json()["checks"]}["frequency"]
    assert frequency["result"] == "flag"
    assert frequency["reason"] == (
        "2 claims in the last 30 days already: more than 2 with this one"
    )
    assert frequency["link"]["cases"] == numbers
    assert later["frequency"]["result"] == "pass"  # 40 days on, they are out of the window


def test_a_unit_reported_stolen_is_refused_until_the_report_is_cleared(
    db: Database, api: Api
) -> None:
    serial = _sold(db)
    service = _bearer(db, "service")

    reported = api.post(f"/units/{serial}/stolen", {"note": "police report 2026-118"}, service)
    twice = api.post(f"/units/{serial}/stolen", {}, service)
    refused = api.post("/cases", {"serial": serial})
    stolen = _checks(api, serial)["stolen"]
    cleared = api.post(f"/units/{serial}/stolen/clear", {"note": "found"}, service)

    assert reported.status_code == 201, reported.text
    assert reported.json()["stolen"] is True
    assert_problem(twice, 409)
    assert_problem(refused, 409, "checks.stolen")
    assert stolen["result"] == "refuse"
    assert "by as-service: police report 2026-118" in stolen["reason"]
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["stolen"] is False and cleared.json()["cleared_by"] == "as-service"
    assert _checks(api, serial)["stolen"]["result"] == "pass"
    assert_problem(api.post(f"/units/{serial}/stolen/clear", {}, service), 409)
    with db.read() as conn:
        actions = conn.execute(
            select(audit_log.c.action, audit_log.c.actor)
            .where(audit_log.c.entity == "stolen")
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(a) for a in actions] == [("report", "as-service"), ("clear", "as-service")]


def test_a_partner_reports_stolen_only_in_its_scope_and_may_not_clear(
    db: Database, api: Api
) -> None:
    ours, theirs = _made(db), _made(db)
    make_party(db, "D-EAST")
    make_party(db, "D-WEST")
    record(db, type="ship", serials=[ours], party="D-EAST")
    record(db, type="ship", serials=[theirs], party="D-WEST")
    partner = _bearer(db, "partner", "D-EAST")

    mine = api.post(f"/units/{ours}/stolen", {}, partner)
    other = api.post(f"/units/{theirs}/stolen", {}, partner)
    unknown = api.post("/units/NO-SUCH/stolen", {}, partner)
    clear = api.post(f"/units/{ours}/stolen/clear", {}, partner)

    assert mine.status_code == 201, mine.text
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(theirs, "X") == unknown.json()["detail"].replace(
        "NO-SUCH", "X"
    )
    assert_problem(clear, 403)


def test_a_unit_under_open_recall_is_refused_because_the_recall_pays(
    db: Database, api: Api
) -> None:
    serial = _sold(db)
    trace = TraceQuery(serial=serial, product="AC1")
    recall.create_recall(db, SYSTEM, RecallIn(code="RC-7", title="fan noise", trace=trace))

    check = _checks(api, serial)["recall"]

    assert check["result"] == "refuse"
    assert check["reason"] == (
        "under open recall RC-7 (fan noise): the recall, not the warranty, pays"
    )
    assert check["link"] == {"recall": "RC-7"}


def test_a_scrapped_unit_and_one_never_shipped_or_sold_are_refused(db: Database, api: Api) -> None:
    make_product(db, "MF1", warranty_months=24, warranty_start="manufacture")
    in_stock, scrapped = _made(db, "MF1"), _made(db, "MF1")
    record(db, type="sell", product="MF1", serials=[scrapped])
    record(db, type="scrap", product="MF1", serials=[scrapped])

    kept = _checks(api, in_stock, product="MF1")
    gone = _checks(api, scrapped, product="MF1")

    assert kept["shipped"]["result"] == "refuse"
    assert kept["shipped"]["reason"] == "never shipped or sold: the unit has not left our hands"
    assert kept["warranty"]["result"] == "pass"  # from manufacture: it runs in the warehouse
    assert gone["scrapped"]["result"] == "refuse"
    assert gone["shipped"]["result"] == "pass"
    assert gone["shipped"]["reason"].startswith("left our hands: sell on ")


def test_components_found_that_differ_from_the_genealogy_are_listed(db: Database, api: Api) -> None:
    serial = _sold(db)
    make_product(db, "PCB1", rule=None)
    board = make_units(db, "PCB1", count=None, serials=["B-1"])[0]
    record(
        db,
        type="assemble",
        product="PCB1",
        serials=[board],
        parent={"serial": serial, "product": "AC1"},
    )

    same = _checks(api, serial, found_components=["B-1"])["components"]
    swapped = _checks(api, serial, found_components=["B-9"])["components"]
    untouched = _checks(api, serial)

    assert same["result"] == "pass"
    assert swapped["result"] == "flag"
    assert swapped["link"] == {"missing": ["B-1"], "foreign": ["B-9"]}
    assert "components" not in untouched  # nobody has looked inside yet


# --- rules ------------------------------------------------------------------------------------


def _put(api: Api, headers: dict[str, str] | None = None, **rule: Any) -> Any:
    return api.client.put("/api/v1/claim-rules", json=rule, headers=headers or api.admin)


def test_a_product_rule_wins_over_the_rule_for_all_which_wins_over_the_default(
    db: Database, api: Api
) -> None:
    ac, bc = _sold(db, "AC1", region="CN-31"), _sold(db, "BC1", region="CN-31")

    def region(serial: str, product: str) -> Any:
        return _checks(api, serial, product=product, region="CN-44")["region"]["result"]

    assert region(ac, "AC1") == "flag"  # the default
    assert _put(api, check="region", mode="refuse").status_code == 200
    assert _put(api, product="AC1", check="region", mode="flag").status_code == 200
    assert _put(api, product="BC1", check="scrapped", mode="off").status_code == 200

    assert region(ac, "AC1") == "flag"  # its own rule
    assert region(bc, "BC1") == "refuse"  # the rule for all
    assert "scrapped" not in _checks(api, bc, product="BC1")  # off: not run
    assert_problem(
        api.post("/cases", {"serial": bc, "product": "BC1", "region": "CN-44"}),
        409,
        "checks.region",
    )
    listed = api.get("/claim-rules", product="AC1").json()
    by_check = {c["check"]: c for c in listed["checks"]}
    assert by_check["region"] == {
        "check": "region",
        "mode": "flag",
        "params": {},
        "set_for": "product",
    }
    assert by_check["warranty"]["set_for"] == "default"
    assert by_check["unknown_serial"]["set_for"] == "fixed"
    assert [(r["product"], r["check"]) for r in listed["rules"]] == [
        (None, "region"),
        ("AC1", "region"),
    ]

    assert _put(api, product="AC1", check="region", mode="inherit").status_code == 200
    assert region(ac, "AC1") == "refuse"
    assert len(api.get("/claim-rules").json()["rules"]) == 2  # for all + BC1's
    with db.read() as conn:
        keys = conn.execute(
            select(audit_log.c.entity_key)
            .where(audit_log.c.entity == "claim_rule")
            .order_by(audit_log.c.id)
        ).scalars()
        assert list(keys) == ["*:region", "AC1:region", "BC1:scrapped", "AC1:region"]


def test_setting_the_rule_for_all_twice_keeps_one_rule(db: Database, api: Api) -> None:
    make_product(db)
    _put(api, check="warranty", mode="flag")
    _put(api, check="warranty", mode="refuse")

    rules = api.get("/claim-rules").json()["rules"]

    assert rules == [{"product": None, "check": "warranty", "mode": "refuse", "params": {}}]


def test_a_bad_rule_names_every_problem_at_once(db: Database, api: Api) -> None:
    make_product(db)

    bad = _put(
        api, product="NOPE", check="frequency", mode="flag", params={"claims": 0, "weeks": 2}
    )
    wrong_mode = _put(api, check="region", mode="maybe")
    no_params = _put(api, check="region", mode="flag", params={"days": 3})

    fields = {e["field"] for e in assert_problem(bad, 422)["errors"]}
    assert fields == {"product", "params.claims", "params.weeks"}
    assert_problem(wrong_mode, 422, "mode")
    assert_problem(no_params, 422, "params.days")
    assert api.get("/claim-rules").json()["rules"] == []  # nothing half-written


# --- who may do what ---------------------------------------------------------------------------


def test_only_a_role_with_claim_override_opens_a_refused_claim_and_it_is_audited(
    db: Database, api: Api
) -> None:
    old = _made(db, days_ago=810)  # sold 26 months ago: expired
    record(db, type="sell", serials=[old], event_time=datetime.now(UTC) - timedelta(days=800))
    service = _bearer(db, "service")

    plain = api.post("/cases", {"serial": old}, service)
    with_reason = api.post("/cases", {"serial": old, "override_reason": "VIP"}, service)
    admin = api.post("/cases", {"serial": old, "override_reason": "goodwill for a VIP"})

    assert_problem(plain, 409, "checks.warranty")
    assert_problem(with_reason, 403)
    assert admin.status_code == 201, admin.text
    with db.read() as conn:
        row = conn.execute(
            select(audit_log.c.actor, audit_log.c.before, audit_log.c.after).where(
                audit_log.c.entity == "claim", audit_log.c.action == "override"
            )
        ).one()
    assert row.actor == "alice"
    assert [c["name"] for c in row.before["refused"]] == ["warranty"]
    assert row.after == {"reason": "goodwill for a VIP", "serial": old}


def test_only_claim_override_sets_rules_and_staff_read_them(db: Database, api: Api) -> None:
    make_product(db)
    service = _bearer(db, "service")

    assert_problem(_put(api, service, check="region", mode="off"), 403)
    assert api.get("/claim-rules", headers=service).status_code == 200
    assert api.get("/claim-rules", headers=api.reader).status_code == 200


def test_the_dry_run_answers_a_partner_for_another_s_unit_as_unknown(
    db: Database, api: Api
) -> None:
    theirs = _sold(db)
    make_party(db, "D-EAST")
    partner = _bearer(db, "partner", "D-EAST")

    other = api.post("/claims/check", {"serial": theirs}, partner).json()
    unknown = api.post("/claims/check", {"serial": "NO-SUCH"}, partner).json()

    assert str(other).replace(theirs, "X") == str(unknown).replace("NO-SUCH", "X")


def test_a_role_without_claim_override_giving_a_reason_is_forbidden_by_judge(
    db: Database,
) -> None:
    old = _made(db, days_ago=810)
    record(db, type="sell", serials=[old], event_time=datetime.now(UTC) - timedelta(days=800))

    with db.write() as conn, pytest.raises(Forbidden):
        claims.judge(conn, Actor("sam", "service"), claims.Claim(old, "AC1"), "because")


# --- the service desk runs them for every scan ---------------------------------------------

BIG = ("units", "events", "event_units", "service_cases", "diversion_alerts", "stolen_reports")


def test_the_checks_read_a_unit_in_a_few_indexed_statements(db: Database, api: Api) -> None:
    serial = _made(db)
    make_party(db, "D-SH", regions=["CN-31"])
    record(db, type="ship", serials=[serial], party="D-SH")
    record(db, type="deliver", serials=[serial])
    record(db, type="sell", serials=[serial], region="CN-44")  # raises a diversion alert
    assert api.post("/cases", {"serial": serial}).status_code == 201
    api.post(f"/units/{serial}/stolen", {})
    sent: list[tuple[str, Any]] = []

    def spy(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        with db.read() as conn:
            checks = claims.evaluate(conn, claims.Claim(serial, "AC1", "CN-44"))
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)

    assert {c.name for c in checks if c.result != "pass"} == {"open_case", "region", "stolen"}
    assert len(sent) <= 10, [s for s, _ in sent]
    with db.engine.connect() as conn, conn.begin():
        if not db.is_sqlite:  # small tables: make the planner show which indexes it can use
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        for sql, params in sent:
            rows = conn.exec_driver_sql(prefix + sql, params).all()
            shown = "\n".join(str(r[-1] if db.is_sqlite else r[0]) for r in rows)
            for table in BIG:
                if db.is_sqlite:  # SCAN: the whole table or index walked, not searched
                    full = any(line.startswith(f"SCAN {table}") for line in shown.splitlines())
                else:
                    full = f"Seq Scan on {table}" in shown
                assert not full, (table, sql, shown)
