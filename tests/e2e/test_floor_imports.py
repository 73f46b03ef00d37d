"""The import page on the floor (issue 17), in Chromium against the demo data, in zh-CN: by
production (units are commissioned: production may, the warehouse may not), a small workbook of
units with one bad row is checked (the dry run shows its row, column and reason in Chinese and
writes nothing), the file is fixed, checked again and imported; the progress reaches done and
the units exist. By the warehouse, a shipping list with an unknown customer, fixed and imported:
the units are shipped. On a phone too (no sideways scroll)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import Demo, Floor
from unitrace.core.lifecycle import Status
from unitrace.db import tables
from unitrace.db.engine import Database

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRODUCT = "CMP-R32"  # the demo's compressor: serial rule CP{yyyy}-{seq:7}, no check character
SERIALS = ["CP2099-9990001", "CP2099-9990002", "CP2099-9990003"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module", autouse=True)
def data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The module's server keeps the staged uploads in a folder of the test run, not in the
    working tree's unitrace-data (autouse: set before the server starts)."""
    before = os.environ.get("UNITRACE_HOME")
    os.environ["UNITRACE_HOME"] = str(tmp_path_factory.mktemp("imports-home"))
    yield
    if before is None:
        os.environ.pop("UNITRACE_HOME", None)
    else:
        os.environ["UNITRACE_HOME"] = before


def _workbook(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header or ["序列号", "物料编码", "仓库", "状态", "生产日期", "颜色"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _check(page: Any, name: str, content: bytes, kind: str = "units") -> None:
    page.locator("select[name=kind]").select_option(kind)
    page.get_by_test_id("import-file").set_input_files(
        {"name": name, "mimeType": XLSX, "buffer": content}
    )
    page.get_by_test_id("import-check").click()
    page.locator('[data-testid="import-progress"][data-status="done"]').wait_for()


def test_production_checks_a_workbook_fixes_the_bad_row_and_imports_the_units(
    floor: Floor,
) -> None:
    page = floor.open("production", "/imports")
    rows = [[s, PRODUCT, "SZ-FG", "在库", "2026/11/24", "银色"] for s in SERIALS]
    bad = [list(r) for r in rows]
    bad[1][4] = "2026/13/45"  # no such month: row 3 of the sheet
    _check(page, "机组入库.xlsx", _workbook(bad))
    errors = page.get_by_test_id("import-errors")
    errors.wait_for()
    lines = [r.inner_text() for r in errors.locator("tbody tr").all()]
    assert len(lines) == 1 and lines[0].split()[0] == "3", lines
    assert "生产日期" in lines[0]
    assert re.search(r"[\u4e00-\u9fff]", lines[0].split("生产日期", 1)[1])  # the reason: Chinese
    assert page.get_by_test_id("import-report").is_visible()
    assert page.get_by_test_id("import-good").is_visible()  # only the good rows: a choice
    fields = page.get_by_test_id("mapping-field")
    assert fields.count() == 6 and fields.nth(0).input_value() == "serial"
    floor.check(page)

    page.get_by_test_id("import-another").click()
    _check(page, "机组入库.xlsx", _workbook(rows))
    page.get_by_test_id("import-all-good").wait_for()
    page.get_by_test_id("import-all").click()
    page.locator('[data-testid="import-progress"][data-status="done"]').wait_for()
    done = page.get_by_test_id("import-done")
    assert re.search(r"\b3\b", done.inner_text()), done.inner_text()
    assert page.locator("progress").get_attribute("value") == "100"
    floor.check(page)

    for serial in SERIALS:
        unit = floor.open("production", f"/units/{serial}")
        assert serial in unit.inner_text("main") and PRODUCT in unit.inner_text("main")
        floor.check(unit)


def test_the_import_page_fits_a_phone(floor: Floor) -> None:
    page = floor.open("production", "/imports", phone=True)
    page.locator("select[name=kind]").select_option("units")
    rows = [["CP2099-9990101", PRODUCT, "SZ-FG", "在库", "24.11.2026", ""]]
    rows.append(["CP2099-9990101", PRODUCT, "SZ-FG", "在库", "2026-11-24", ""])  # twice
    _check(page, "phone.xlsx", _workbook(rows))
    page.get_by_test_id("import-errors").wait_for()
    floor.check(page)


def _statuses(database: Any, serials: list[str]) -> dict[str, int]:
    db = Database(f"sqlite:///{database}")
    try:
        with db.read() as conn:
            found = conn.execute(
                select(tables.units.c.serial, tables.units.c.status).where(
                    tables.units.c.serial.in_(serials)
                )
            )
            return {serial: int(status) for serial, status in found}
    finally:
        db.dispose()


def test_warehouse_imports_a_shipping_list_after_fixing_an_unknown_customer(
    floor: Floor, demo: Demo
) -> None:
    assert floor.database is not None
    db = Database(demo.url)
    try:
        with db.read() as conn:
            here = select(tables.locations.c.id).where(tables.locations.c.code == "SZ-FG-A01")
            serials = list(
                conn.execute(
                    select(tables.units.c.serial)
                    .where(
                        tables.units.c.status == int(Status.IN_STOCK),
                        tables.units.c.location_id == here.scalar_subquery(),
                        tables.units.c.container_id.is_(None),
                    )
                    .order_by(tables.units.c.serial.desc())
                    .limit(3)
                ).scalars()
            )
    finally:
        db.dispose()
    assert len(serials) == 3
    header = ["序列号", "客户", "出库日期", "出库单号"]
    rows = [[s, "D-EAST", "2026/11/24", "DN-IMPORT-1"] for s in serials]
    bad = [list(r) for r in rows]
    bad[2][1] = "D-NOWHERE"  # row 4 of the sheet
    page = floor.open("warehouse", "/imports")
    _check(page, "出库单.xlsx", _workbook(bad, header), "shipments")
    errors = page.get_by_test_id("import-errors")
    errors.wait_for()
    lines = [r.inner_text() for r in errors.locator("tbody tr").all()]
    assert len(lines) == 1 and lines[0].split()[0] == "4" and "客户" in lines[0], lines
    assert "D-NOWHERE" in lines[0] and re.search(r"[\u4e00-\u9fff]", lines[0].split("客户")[1])
    floor.check(page)
    assert set(_statuses(floor.database, serials).values()) == {int(Status.IN_STOCK)}

    page.get_by_test_id("import-another").click()
    _check(page, "出库单.xlsx", _workbook(rows, header), "shipments")
    page.get_by_test_id("import-all-good").wait_for()
    page.get_by_test_id("import-all").click()
    page.locator('[data-testid="import-progress"][data-status="done"]').wait_for()
    assert re.search(r"\b3\b", page.get_by_test_id("import-done").inner_text())
    floor.check(page)
    assert set(_statuses(floor.database, serials).values()) == {int(Status.IN_TRANSIT)}
