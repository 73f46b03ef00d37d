"""Returns and repairs in the quality views (aftersales/figures.py): field failure rate and claims
by product, lot, component lot, supplier, station and production month; time to failure;
warranty cost by product and month; top defect codes — every figure exact, on SQLite and
PostgreSQL, from cases opened and diagnosed by the after-sales services."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, update

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_lot, make_party, make_product, record
from tests.pages import field_error, login
from tests.plans import assert_no_full_scan, plan
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, casework, figures
from unitrace.aftersales.schemas import CaseIn, CostIn, DiagnosisIn, ServiceCodeIn
from unitrace.api.app import create_app
from unitrace.config import site_timezone
from unitrace.core.errors import Forbidden, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import (
    case_costs,
    case_parts,
    events,
    service_cases,
    units,
)
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn, UnitRef

NOW = datetime.now(UTC)
MADE_A = NOW - timedelta(days=500)  # U1–U3, lot L-A, on LINE1
MADE_B = NOW - timedelta(days=450)  # U4–U6, lot L-B, on LINE2
SOLD_DAYS_AGO = {"U1": 100, "U2": 200, "U3": 300, "U4": 400, "U5": 30}  # U6 stays in stock
OCTOBER = datetime(2026, 10, 10, 4, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 10, 4, tzinfo=UTC)


@dataclass
class Field:
    cases: dict[str, str]  # a name of ours → the case number


def _month(moment: datetime) -> str:
    return moment.astimezone(site_timezone()).strftime("%Y-%m")


def _codes(db: Database) -> None:
    for code, en, zh in (
        ("D-COMP", "Compressor failure", "压缩机故障"),
        ("D-NOISE", "Abnormal noise", "异响"),
    ):
        casework.add_code(
            db, SYSTEM, ServiceCodeIn(code=code, kind="defect", name_en=en, name_zh=zh)
        )


def _open(db: Database, serial: str, *, claim: bool = True, defect: str | None = None) -> str:
    # the admin gives a reason: the figures count what was opened, whatever the checks said
    opened = cases.open_case(
        db,
        SYSTEM,
        CaseIn(
            serial=serial,
            product="AC1",
            warranty_claim=claim,
            kind="repair" if claim else "maintenance",
            override_reason="figures test",
        ),
    )
    number: str = opened["number"]
    if defect is not None:
        cases.diagnose(db, SYSTEM, number, DiagnosisIn(defect_code=defect))
    return number


def _close(db: Database, number: str, outcome: str) -> None:
    with db.write() as conn:
        case = cases.case_row(conn, number)
        cases.move(conn, case.id, "closed", "tester", NOW)
        conn.execute(
            update(service_cases).where(service_cases.c.id == case.id).values(outcome=outcome)
        )


def _cost(
    db: Database, number: str, kind: str, coverage: str, amount: str, currency: str, at: datetime
) -> None:
    """A cost line through casework (`POST /cases/{number}/costs`), booked at `at`."""
    casework.add_cost(
        db, SYSTEM, number, CostIn(kind=kind, coverage=coverage, amount=amount, currency=currency)
    )
    with db.write() as conn:
        latest = select(func.max(case_costs.c.id)).scalar_subquery()
        conn.execute(update(case_costs).where(case_costs.c.id == latest).values(at=at))


def _replace_part(db: Database, number: str, unit: str, old: str, new: str) -> None:
    """A part replaced in a case: one replace_part event and its case_parts row (the cases
    helper's `POST /cases/{number}/parts` writes the same)."""
    parent = UnitRef(product="AC1", serial=unit)
    rma = [{"type": "rma", "id": number}]
    made = record(
        db,
        type="replace_part",
        product="PCB",
        serials=[new],
        parent=parent,
        removed=[UnitRef(serial=old)],
        biz_transactions=rma,
    )
    with db.write() as conn:
        case = cases.case_row(conn, number)
        ids = dict(conn.execute(select(units.c.serial, units.c.id)).all())
        pcb = conn.execute(select(units.c.product_id).where(units.c.serial == new)).scalar_one()
        event = conn.execute(select(events.c.id).where(events.c.event_id == made.event_id))
        conn.execute(
            insert(case_parts).values(
                case_id=case.id,
                event_id=event.scalar_one(),
                product_id=pcb,
                removed_unit_id=ids[old],
                installed_unit_id=ids[new],
                quantity=1,
                reason="burnt",
            )
        )


@pytest.fixture
def field(db: Database) -> Field:
    """Six AC1 units (24 months from sale), each with a PCB; five sold, claims on three:

    | unit | lot | PCB lot (supplier) | stations      | sold      | cases                     |
    | U1   | L-A | P-1 (SUP-A)        | LINE1, TEST1  | 100 d ago | claim D-COMP              |
    | U2   | L-A | P-1 (SUP-A)        | LINE1         | 200 d ago | claim D-COMP (resolved),  |
    |      |     |                    |               |           | claim (open)              |
    | U3   | L-A | P-1 → P-2 (SUP-B)  | LINE1         | 300 d ago | claim D-COMP, PCB replaced|
    | U4   | L-B | P-1 (SUP-A)        | LINE2, TEST1  | 400 d ago | claim D-NOISE (rejected)  |
    | U5   | L-B | P-2 (SUP-B)        | LINE2         | 30 d ago  | maintenance D-NOISE       |
    | U6   | L-B | P-2 (SUP-B)        | LINE2         | —         | —                         |
    """
    make_product(db, "AC1", rule=None, warranty_months=24, warranty_start="sale")
    make_product(db, "PCB", rule=None)
    make_party(db, "SUP-A", kind="supplier")
    make_party(db, "SUP-B", kind="supplier")
    make_lot(db, "AC1", "L-A")
    make_lot(db, "AC1", "L-B")
    make_lot(db, "PCB", "P-1", supplier="SUP-A")
    make_lot(db, "PCB", "P-2", supplier="SUP-B")
    for code, kind in (
        ("WH1", "warehouse"),
        ("LINE1", "station"),
        ("LINE2", "station"),
        ("TEST1", "station"),
        ("SVC1", "service"),
    ):
        make_location(db, code, kind=kind)
    ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="AC1",
            serials=["U1", "U2", "U3"],
            lot="L-A",
            location="LINE1",
            event_time=MADE_A,
        ),
    )
    ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="AC1",
            serials=["U4", "U5", "U6"],
            lot="L-B",
            location="LINE2",
            event_time=MADE_B,
        ),
    )
    ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="PCB",
            serials=["B1", "B2", "B3", "B4", "B9"],
            lot="P-1",
            location="WH1",
            event_time=MADE_A - timedelta(days=5),
        ),
    )
    ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="PCB",
            serials=["B5", "B6", "B7"],
            lot="P-2",
            location="WH1",
            event_time=MADE_A - timedelta(days=5),
        ),
    )
    for n in range(1, 7):
        record(
            db,
            type="assemble",
            product="PCB",
            serials=[f"B{n}"],
            parent=UnitRef(product="AC1", serial=f"U{n}"),
            event_time=MADE_B + timedelta(days=1),
        )
    record(
        db,
        type="inspect",
        product="AC1",
        serials=["U1", "U4"],
        location="TEST1",
        event_time=MADE_B + timedelta(days=2),
    )
    record(
        db,
        type="receive",
        product="AC1",
        serials=["U1", "U2", "U3", "U4", "U5", "U6"],
        location="WH1",
        event_time=MADE_B + timedelta(days=3),
    )
    for serial, days in SOLD_DAYS_AGO.items():
        record(
            db, type="sell", product="AC1", serials=[serial], event_time=NOW - timedelta(days=days)
        )
    _codes(db)
    made = {
        "U1": _open(db, "U1", defect="D-COMP"),
        "U2a": _open(db, "U2", defect="D-COMP"),
    }
    _cost(db, made["U2a"], "labour", "warranty", "50", "CNY", NOVEMBER)
    _close(db, made["U2a"], "resolved")  # casework takes no cost line on a closed case
    made["U2b"] = _open(db, "U2")
    made["U3"] = _open(db, "U3", defect="D-COMP")
    made["U4"] = _open(db, "U4", defect="D-NOISE")
    _cost(db, made["U4"], "labour", "goodwill", "30", "CNY", NOVEMBER)
    _close(db, made["U4"], "rejected")
    made["U5"] = _open(db, "U5", claim=False, defect="D-NOISE")
    _replace_part(db, made["U3"], "U3", "B3", "B7")
    _cost(db, made["U1"], "parts", "warranty", "120.50", "CNY", OCTOBER)
    _cost(db, made["U1"], "labour", "warranty", "80.00", "CNY", OCTOBER)
    _cost(db, made["U1"], "shipping", "chargeable", "15", "CNY", OCTOBER)
    _cost(db, made["U3"], "parts", "warranty", "10", "USD", NOVEMBER)
    return Field(made)


def _rows(found: dict[str, Any]) -> dict[Any, tuple[int, int, int, float | None]]:
    return {
        (i["key"], i["product"]) if i["product"] and found["by"] != "product" else i["key"]: (
            i["units"],
            i["claimed_units"],
            i["claims"],
            i["failure_rate"],
        )
        for i in found["items"]
    }


def test_field_failure_rate_by_product_counts_units_with_a_claim_over_units_sold(
    db: Database, field: Field
) -> None:
    found = figures.failures(db, SYSTEM, "product")

    # 5 sold; U1, U2 (twice) and U3 claimed; U4's claim was rejected: not a failure
    assert _rows(found) == {"AC1": (5, 3, 4, 0.6)}
    assert found["total"] == {"units": 5, "claimed_units": 3, "claims": 4, "failure_rate": 0.6}


def test_failures_by_lot_component_lot_and_supplier_follow_the_genealogy(
    db: Database, field: Field
) -> None:
    assert _rows(figures.failures(db, SYSTEM, "lot")) == {
        ("L-A", "AC1"): (3, 3, 4, 1.0),
        ("L-B", "AC1"): (2, 0, 0, 0.0),
    }
    # U3's PCB of P-1 was replaced by one of P-2 in its case: U3 counts for both lots
    assert _rows(figures.failures(db, SYSTEM, "component_lot")) == {
        ("P-1", "PCB"): (4, 3, 4, 0.75),
        ("P-2", "PCB"): (2, 1, 1, 0.5),
    }
    assert _rows(figures.failures(db, SYSTEM, "supplier")) == {
        "SUP-A": (4, 3, 4, 0.75),
        "SUP-B": (2, 1, 1, 0.5),
    }


def test_failures_by_station_and_production_month(db: Database, field: Field) -> None:
    assert _rows(figures.failures(db, SYSTEM, "station")) == {
        "LINE1": (3, 3, 4, 1.0),
        "TEST1": (2, 1, 1, 0.5),
        "LINE2": (2, 0, 0, 0.0),
    }
    by_month = figures.failures(db, SYSTEM, "production_month")
    assert _rows(by_month) == {_month(MADE_A): (3, 3, 4, 1.0), _month(MADE_B): (2, 0, 0, 0.0)}
    assert [i["key"] for i in by_month["items"]] == sorted([_month(MADE_A), _month(MADE_B)])


def test_time_to_failure_is_days_from_the_warranty_start_to_the_claim(
    db: Database, field: Field
) -> None:
    found = figures.time_to_failure(db, SYSTEM)

    # U1 100 days after its sale, U2 twice at 200, U3 at 300 (U4's rejected claim left out)
    assert found["claims"] == 4 and found["without_start"] == 0
    assert found["median_days"] == 200.0
    assert found["p90_days"] == 270.0  # between 200 and 300, as percentile_cont
    counts = {(b["from_days"], b["to_days"]): b["claims"] for b in found["histogram"]}
    assert counts[(90, 180)] == 1 and counts[(180, 365)] == 3
    assert sum(counts.values()) == 4


def test_time_to_failure_agrees_with_the_warranty_verdict(db: Database, field: Field) -> None:
    from unitrace.aftersales import warranty

    with db.read() as conn:
        unit_id = conn.execute(select(units.c.id).where(units.c.serial == "U1")).scalar_one()
        start = warranty.verdict(conn, unit_id)["start_date"]
        opened = conn.execute(
            select(service_cases.c.opened_at).where(service_cases.c.number == field.cases["U1"])
        ).scalar_one()
    days = (opened.astimezone(site_timezone()).date() - datetime.fromisoformat(start).date()).days
    assert days == 100
    assert figures.time_to_failure(db, SYSTEM)["histogram"][2]["claims"] == 1  # [90, 180)


def test_warranty_cost_by_product_and_month_keeps_currencies_apart(
    db: Database, field: Field
) -> None:
    found = figures.warranty_cost(db, SYSTEM)

    rows = [
        (i["product"], i["month"], i["currency"], i["amount"], i["cases"], i["lines"])
        for i in found["items"]
    ]
    # chargeable shipping and the goodwill line are not warranty cost
    assert rows == [
        ("AC1", _month(OCTOBER), "CNY", "200.50", 1, 2),
        ("AC1", _month(NOVEMBER), "CNY", "50.00", 1, 1),
        ("AC1", _month(NOVEMBER), "USD", "10.00", 1, 1),
    ]
    assert found["totals"] == [
        {"currency": "CNY", "amount": "250.50", "amount_minor": 25050},
        {"currency": "USD", "amount": "10.00", "amount_minor": 1000},
    ]
    november = figures.warranty_cost(db, SYSTEM, since=datetime(2026, 11, 1, tzinfo=UTC))
    assert [i["amount_minor"] for i in november["items"]] == [5000, 1000]


def test_top_defect_codes_are_named_in_both_languages(db: Database, field: Field) -> None:
    found = figures.top_defects(db, SYSTEM)

    assert found["total"] == 5
    assert [
        (i["defect_code"], i["name_en"], i["name_zh"], i["cases"], i["share"], i["cumulative"])
        for i in found["items"]
    ] == [
        ("D-COMP", "Compressor failure", "压缩机故障", 3, 0.6, 0.6),
        ("D-NOISE", "Abnormal noise", "异响", 2, 0.4, 1.0),
    ]


def test_the_period_and_the_product_narrow_every_figure(db: Database, field: Field) -> None:
    before = NOW - timedelta(days=1)
    old = figures.warranty_report(db, SYSTEM, until=before)
    # a day ago: the five units were in the field already, none had a claim yet
    assert old["failures"]["total"] == {
        "units": 5,
        "claimed_units": 0,
        "claims": 0,
        "failure_rate": 0.0,
    }
    assert old["time_to_failure"]["claims"] == 0 and old["defects"]["total"] == 0
    assert old["time_to_failure"]["median_days"] is None
    recent = figures.warranty_report(db, SYSTEM, since=before)
    assert recent["failures"]["total"]["claims"] == 4
    parts = figures.warranty_report(db, SYSTEM, product="PCB")
    assert parts["failures"]["items"] == [] and parts["cost"]["items"] == []


def test_bad_filters_are_named_all_at_once(db: Database, field: Field) -> None:
    with pytest.raises(ValidationError) as info:
        figures.failures(db, SYSTEM, product="NOPE", since=NOW, until=NOW - timedelta(days=1))
    assert {e.field for e in info.value.errors} == {"product", "until"}
    with pytest.raises(ValidationError) as by:
        figures.failures(db, SYSTEM, "colour")
    assert by.value.errors[0].field == "by"


def test_partners_may_not_read_the_company_figures(db: Database, field: Field) -> None:
    partner = Actor("d-east01", "partner", party_id=1)
    with pytest.raises(Forbidden):
        figures.warranty_report(db, partner)


# --- the API -------------------------------------------------------------------------------------


def test_the_api_answers_json_and_downloads_csv_and_xlsx(
    db: Database, field: Field, api: Api
) -> None:
    answer = api.get("/warranty-report/failures", by="lot")
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"][0]["key"] == "L-A"

    ttf = api.get("/warranty-report/time-to-failure", headers=api.reader)
    assert ttf.status_code == 200 and ttf.json()["median_days"] == 200.0

    as_csv = api.get("/warranty-report/costs", format="csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert lines[0] == list(figures.COST_COLUMNS)
    assert lines[1][:4] == ["AC1", _month(OCTOBER), "CNY", "200.50"]

    as_xlsx = api.get("/warranty-report/defects", format="xlsx")
    assert as_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == list(figures.DEFECT_COLUMNS)
    assert values[1][:4] == ["D-COMP", "Compressor failure", "压缩机故障", 3]


def test_the_api_names_bad_filters(db: Database, field: Field, api: Api) -> None:
    body = assert_problem(
        api.get("/warranty-report/failures", by="colour", product="NOPE"), 422, "by"
    )
    assert body["errors"]
    assert_problem(api.get("/warranty-report/costs", product="NOPE"), 422, "product")
    assert_problem(api.get("/warranty-report/defects", since="yesterday"), 422)


# --- the plans -----------------------------------------------------------------------------------


def test_a_periods_figures_read_the_period_by_index(db: Database, field: Field) -> None:
    """Time to failure, cost and defects of a period start from the cases (or cost lines) of
    the period, and reach each claim's start event through its unit, not all sales."""
    period = figures.Period(None, NOW - timedelta(days=30), None)
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    every = ("service_cases", "case_costs", "events", "event_units", "units")
    assert_no_full_scan(db, figures.time_to_failure_query(period), *every)
    assert_no_full_scan(db, figures.cost_query(dialect, period), *every)
    assert_no_full_scan(db, figures.defects_query(period), *every)
    assert "ix_service_cases_opened" in plan(db, figures.defects_query(period))
    assert "ix_case_costs_at" in plan(db, figures.cost_query(dialect, period))


def test_failures_of_one_product_read_its_units_and_the_field_events_by_index(
    db: Database, field: Field
) -> None:
    with db.read() as conn:
        product_id = conn.execute(select(units.c.product_id).where(units.c.serial == "U1"))
        period = figures.Period(product_id.scalar_one(), None, None)
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    statement = figures.failures_query(dialect, "product", period)
    assert_no_full_scan(db, statement, "units", "events", "event_units", "service_cases")


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture
def pages(db: Database, field: Field) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def test_the_warranty_report_page_shows_every_figure_in_chinese(
    db: Database, pages: TestClient
) -> None:
    login(pages, db, "quality", lang="zh-CN")
    pages.headers["Accept-Language"] = "zh-CN"
    page = pages.get("/warranty-report?by=component_lot")

    assert page.status_code == 200, page.text
    html = page.text
    assert "保修报表" in html and "按部件批次" in html
    assert 'data-testid="kpi-units">5<' in html and 'data-testid="kpi-rate">60.0%<' in html
    failures = html.split('data-testid="failures-table"')[1].split("</table>")[0]
    assert "P-1" in failures and "75.0%" in failures and "P-2" in failures
    assert 'data-testid="ttf-median">200<' in html and 'data-testid="ttf-p90">270<' in html
    assert 'data-testid="cost-total-CNY">250.50<' in html
    assert "压缩机故障" in html and "Compressor failure" not in html  # names in the page's language
    for chart in ("failure-data", "ttf-data", "cost-data", "defect-data"):
        assert f'id="{chart}"' in html
    text = unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S))
    )
    assert not re.findall(r"\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}\b", text)  # no English


def test_the_page_downloads_its_tables_with_chinese_headers(
    db: Database, pages: TestClient
) -> None:
    login(pages, db, "service", lang="zh-CN")
    pages.headers["Accept-Language"] = "zh-CN"
    costs = pages.get("/warranty-report/export?table=costs&format=csv")

    assert costs.status_code == 200
    assert costs.headers["content-disposition"] == 'attachment; filename="warranty-cost.csv"'
    lines = list(csv.reader(io.StringIO(costs.content.decode("utf-8-sig"))))
    assert lines[0][:4] == ["产品", "月份", "币种", "金额"]
    assert lines[1][:4] == ["AC1", _month(OCTOBER), "CNY", "200.50"]
    failures = pages.get("/warranty-report/export?table=failures&by=supplier&format=xlsx")
    sheet = load_workbook(io.BytesIO(failures.content)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "分组值" and rows[1][:3] == ["SUP-A", None, 4]


def test_bad_filters_are_named_next_to_their_fields(db: Database, pages: TestClient) -> None:
    login(pages, db, "quality", lang="zh-CN")
    pages.headers["Accept-Language"] = "zh-CN"
    page = pages.get("/warranty-report?since=yesterday&until=2026-13-01&product=NOPE")

    assert page.status_code == 422
    assert "不是日期" in field_error(page.text, "since")
    assert field_error(page.text, "until")
    after = pages.get("/warranty-report?product=NOPE&since=2026-10-01&until=2026-09-01")
    assert "没有产品" in field_error(after.text, "product")
    assert "必须晚于起始日期" in field_error(after.text, "until")
    export = pages.get("/warranty-report/export?since=yesterday", follow_redirects=False)
    assert export.status_code == 303


def test_who_sees_the_warranty_report(db: Database, pages: TestClient) -> None:
    for role in ("service", "quality", "auditor", "admin"):
        login(pages, db, role)
        assert 'href="/warranty-report"' in pages.get("/").text, role
    login(pages, db, "production")  # may open it, has nothing to do there
    assert 'href="/warranty-report"' not in pages.get("/").text
    assert pages.get("/warranty-report").status_code == 200
    login(pages, db, "partner")
    assert pages.get("/warranty-report").status_code == 403
    assert pages.get("/warranty-report/export?table=costs").status_code == 403
    login(pages, db, "quality")
    assert 'href="/warranty-report"' in pages.get("/quality").text
