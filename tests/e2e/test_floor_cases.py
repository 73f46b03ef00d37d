"""The service case pages on the floor (issue 14), in Chromium against the demo data, in zh-CN as
the service role: the case list by state, the case page with a note, a cost line (a wrong amount
told next to the field first) and a photo added; a closed case shows its totals on a phone."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.floor import Floor
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import CaseIn, CostIn
from unitrace.core.lifecycle import Status
from unitrace.db import tables
from unitrace.db.engine import Database

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SERVICE = Actor("service01", "service")


@pytest.fixture(scope="module", autouse=True)
def attachment_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's server keeps attachments in a folder of its own (set before it starts)."""
    home = tmp_path_factory.mktemp("floor-cases-home")
    before = os.environ.get("UNITRACE_HOME")
    os.environ["UNITRACE_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("UNITRACE_HOME", None)
    else:
        os.environ["UNITRACE_HOME"] = before


@dataclass(frozen=True)
class Cases:
    open: str  # a repair case, open
    closed: str  # a case with two cost lines, closed


@pytest.fixture(scope="module")
def made(floor_server: str) -> Cases:
    """Two cases written into the module's copy of the demo, on two sold units."""
    from tests.e2e.floor import _SERVED

    db = Database(f"sqlite:///{_SERVED[floor_server]}")
    try:
        with db.read() as conn:
            sold = conn.execute(
                select(tables.units.c.serial, tables.products.c.code)
                .join(tables.products, tables.products.c.id == tables.units.c.product_id)
                .where(tables.units.c.status == int(Status.SOLD))
                .order_by(tables.units.c.id)
                .limit(2)
            ).all()
        casework.seed_codes(db, SYSTEM)
        numbers = [
            cases.open_case(
                db,
                SERVICE,
                CaseIn(
                    serial=s,
                    product=p,
                    warranty_claim=False,
                    symptom_code="S-NOCOOL",
                    description="客户反映不制冷",
                ),
            )["number"]
            for s, p in sold
        ]
        for amount, coverage in (("120.00", "warranty"), ("30.50", "chargeable")):
            line = CostIn(kind="labour", coverage=coverage, amount=amount, description="上门维修")
            casework.add_cost(db, SERVICE, numbers[1], line)
        with db.write() as conn:
            case = cases.case_row(conn, numbers[1])
            cases.move(conn, case.id, "closed", "service01", datetime.now(UTC), "已修复")
    finally:
        db.dispose()
    return Cases(open=numbers[0], closed=numbers[1])


def test_a_service_agent_adds_a_note_a_cost_and_a_photo_to_a_case(
    floor: Floor, made: Cases, tmp_path: Path
) -> None:
    page = floor.open("service", "/cases?state=open")
    row = page.locator('[data-testid="case-row"]', has_text=made.open)
    assert row.count() == 1
    assert made.closed not in page.locator('[data-testid="case-table"]').inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"**/cases/{made.open}")
    assert "不制冷" in page.locator('[data-testid="case-symptom"]').inner_text()

    page.fill('[data-testid="note-text"]', "客户来电：周五上门")
    page.click('[data-testid="note-add"]')
    page.locator('[data-testid="timeline-item"]', has_text="客户来电：周五上门").wait_for()

    page.fill('[data-testid="cost-amount"]', "12.345")
    page.click('[data-testid="cost-add"]')
    page.locator('[data-testid="error-amount"]').wait_for()
    assert page.locator('[data-testid="error-amount"]').inner_text() == "CNY 最多 2 位小数"
    page.fill('[data-testid="cost-amount"]', "128.50")
    page.fill('[data-testid="cost-description"]', "更换控制板")
    page.click('[data-testid="cost-add"]')
    page.locator('[data-testid="total-CNY"]').wait_for()
    assert page.locator('[data-testid="total-CNY"]').inner_text() == "128.50"

    photo = tmp_path / "铭牌1.png"
    photo.write_bytes(PNG)
    page.set_input_files('[data-testid="attachment-file"]', str(photo))
    page.click('[data-testid="attachment-add"]')
    page.locator('[data-testid="attachment-item"]', has_text="铭牌1.png").wait_for()
    floor.check(page)


def test_a_closed_case_shows_its_totals_on_a_phone(floor: Floor, made: Cases) -> None:
    page = floor.open("service", f"/cases/{made.closed}", phone=True)

    assert page.locator('[data-testid="total-CNY"]').inner_text() == "150.50"
    assert page.locator('[data-testid="case-state"]').inner_text() == "已关闭"
    assert page.locator('[data-testid="cost-form"]').count() == 0
    floor.check(page)
