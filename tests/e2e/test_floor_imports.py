"""The import page on the floor (issue 17), in Chromium against the demo data, by production
in zh-CN (units are commissioned: production may, the warehouse may not): a small workbook of
units with one bad row is checked (the dry run shows its row, column and reason in Chinese and
writes nothing), the file is fixed, checked again and imported; the progress reaches done and
the units exist. On a phone too (no sideways scroll)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from tests.e2e.floor import Floor

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRODUCT = "CMP-R32"  # the demo's compressor: serial rule CP{yyyy}-{seq:7}, no check character
SERIALS = ["CP2099-9990001", "CP2099-9990002", "CP2099-9990003"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序列号", "物料编码", "仓库", "状态", "生产日期", "颜色"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _check(page: Any, name: str, content: bytes) -> None:
    page.locator("select[name=kind]").select_option("units")
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
