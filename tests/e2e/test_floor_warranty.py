"""Warranty on the floor (issue 14): a service agent reads a unit's warranty on its page in
Chinese and extends it through the form; on a phone a refused void names the field in Chinese.
The harness (tests/e2e/floor.py) fails a test on console errors, failed requests not shown,
English on a zh-CN page and sideways scroll on a phone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import Demo, Floor
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import products, units

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
SHOTS = os.environ.get("UNITRACE_SHOTS")  # a folder: save the pages seen there


def _active_unit(demo: Demo) -> str:
    """A demo air conditioner switched on by its customer: its warranty has started."""
    db = Database(demo.url)
    try:
        with db.read() as conn:
            return str(
                conn.execute(
                    select(units.c.serial)
                    .join(products, products.c.id == units.c.product_id)
                    .where(products.c.code == "AC-9000", units.c.status == int(Status.ACTIVE))
                    .order_by(units.c.id)
                    .limit(1)
                ).scalar_one()
            )
    finally:
        db.dispose()


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_service_agent_reads_and_extends_a_warranty_in_chinese(floor: Floor, demo: Demo) -> None:
    serial = _active_unit(demo)
    page = floor.open("service", f"/units/{serial}")
    box = page.locator('[data-testid="warranty-box"]')
    assert box.locator('[data-testid="warranty-status"]').inner_text().startswith("在保，至")
    assert "36 个月，自激活日起" in box.locator('[data-testid="warranty-policy"]').inner_text()
    _shot(page, "unit-warranty")

    box.locator("summary", has_text="延长保修").click()
    form = box.locator('[data-testid="warranty-extend"]')
    form.locator('input[name="months"]').fill("6")
    form.locator('input[name="reason"]').fill("安装延误补偿")
    form.locator('[data-testid="warranty-extend-save"]').click()
    page.locator('[data-testid="warranty-saved"]').wait_for()

    rows = page.locator('[data-testid="warranty-extensions"] tbody tr')
    assert rows.count() == 1
    assert "安装延误补偿" in rows.first.inner_text() and "商誉赠送" in rows.first.inner_text()
    _shot(page, "unit-warranty-extended")


def test_a_void_without_a_reason_is_refused_next_to_the_field_on_a_phone(
    floor: Floor, demo: Demo
) -> None:
    serial = _active_unit(demo)
    page = floor.open("service", f"/units/{serial}", phone=True)
    box = page.locator('[data-testid="warranty-box"]')
    box.locator("summary", has_text="作废保修").click()
    box.locator('[data-testid="warranty-void-save"]').click()

    error = page.locator('[data-testid="warranty-void-form"] [data-testid="error-reason"]')
    error.wait_for()
    assert not error.inner_text().isascii()  # said in Chinese
    status = page.locator('[data-testid="warranty-status"]').get_attribute("data-status")
    assert status == "in_warranty"  # nothing was written
    _shot(page, "unit-warranty-phone")
