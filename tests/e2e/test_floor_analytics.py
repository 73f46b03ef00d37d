"""The warranty report (/warranty-report) in Chromium as the quality engineer, in Chinese, on the
demo data with a few warranty claims opened, diagnosed and costed through the after-sales
services: the charts are drawn, the figures are the use case's, a table downloads with Chinese
headers, another grouping is chosen; and the page fits a phone. The floor harness fails each
test on English on a zh-CN page, console errors, failed requests not shown and sideways scroll."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import Floor
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import cases, casework, figures
from unitrace.aftersales.schemas import CaseIn, CostIn, DiagnosisIn, ServiceCodeIn
from unitrace.db.engine import Database
from unitrace.db.tables import event_units, events, service_codes, units

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CODES = [
    {
        "code": "E-COMP-A",
        "kind": "defect",
        "name_en": "Compressor failure",
        "name_zh": "压缩机故障",
    },
    {
        "code": "E-PCB-A",
        "kind": "defect",
        "name_en": "Control board failure",
        "name_zh": "控制板故障",
    },
]


@pytest.fixture(scope="module")
def claims(floor_server: str) -> str:
    """Six warranty claims on sold demo units of the module's server, four diagnosed, each
    with a warranty labour line."""
    from tests.e2e.floor import _SERVED

    db = Database(f"sqlite:///{_SERVED[floor_server]}")
    try:
        with db.read() as conn:
            known = set(conn.execute(select(service_codes.c.code)).scalars())
        for code in CODES:
            if code["code"] not in known:
                casework.add_code(db, SYSTEM, ServiceCodeIn(**code))
        with db.read() as conn:
            sold = (
                conn.execute(
                    select(units.c.serial)
                    .join(event_units, event_units.c.unit_id == units.c.id)
                    .join(events, events.c.id == event_units.c.event_id)
                    .where(events.c.type == "sell", units.c.parent_id.is_(None))
                    .order_by(units.c.id)
                    .limit(6)
                )
                .scalars()
                .all()
            )
        for index, serial in enumerate(sold):
            opened = cases.open_case(
                db, SYSTEM, CaseIn(serial=serial, product="AC-9000", override_reason="demo claim")
            )
            if index < 4:
                defect = CODES[index % 2]["code"]
                cases.diagnose(db, SYSTEM, opened["number"], DiagnosisIn(defect_code=defect))
            cost = CostIn(kind="labour", coverage="warranty", amount=f"{150 + index}.00")
            casework.add_cost(db, SYSTEM, opened["number"], cost)
    finally:
        db.dispose()
    return floor_server


def _figures(floor: Floor, by: str = "product") -> dict[str, Any]:
    db = Database(f"sqlite:///{floor.database}")
    try:
        return figures.warranty_report(db, SYSTEM, by)
    finally:
        db.dispose()


def downloaded(page: Any, link: Any) -> str:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_text(encoding="utf-8-sig")


def test_the_warranty_report_draws_its_charts_and_downloads_in_chinese(
    floor: Floor, claims: str
) -> None:
    wanted = _figures(floor)
    page = floor.open("quality", "/quality")
    page.locator('[data-testid="quality-warranty-report"]').click()
    page.locator('[data-testid="report-kpis"]').wait_for()

    for chart in ("failure-chart", "ttf-chart", "cost-chart", "defect-chart"):
        page.locator(f'[data-testid="{chart}"] canvas').wait_for()
    total = wanted["failures"]["total"]
    assert page.locator('[data-testid="kpi-claimed"]').inner_text() == f"{total['claimed_units']:,}"
    assert page.locator('[data-testid="kpi-units"]').inner_text() == f"{total['units']:,}"
    cny = next(t for t in wanted["cost"]["totals"] if t["currency"] == "CNY")
    assert page.locator('[data-testid="cost-total-CNY"]').inner_text() == cny["amount"]
    defects = page.locator('[data-testid="defects-table"] tbody').inner_text()
    assert "压缩机故障" in defects and "控制板故障" in defects

    table = downloaded(page, page.locator('[data-testid="costs-csv"]'))
    lines = list(csv.reader(io.StringIO(table)))
    assert lines[0][:4] == ["产品", "月份", "币种", "金额"]
    assert sum(int(line[4]) for line in lines[1:]) == cny["amount_minor"]

    by_supplier = _figures(floor, "supplier")["failures"]["items"]
    page.locator('[data-testid="report-by"]').select_option("supplier")
    page.get_by_role("button", name="查看").click()
    page.locator('[data-testid="failure-chart"] canvas').wait_for()
    rows = page.locator('[data-testid="failures-table"] tbody tr')
    shown = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert shown == [r["key"] for r in by_supplier]


def test_the_warranty_report_fits_a_phone(floor: Floor, claims: str) -> None:
    page = floor.open("quality", "/warranty-report?by=component_lot", phone=True)
    for chart in ("failure-chart", "ttf-chart", "cost-chart", "defect-chart"):
        page.locator(f'[data-testid="{chart}"] canvas').wait_for()
    floor.check(page)  # no sideways scroll at 390 px, no English, nothing failed unseen
