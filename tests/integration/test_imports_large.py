"""A large workbook: a 100,000-row .xlsx with exactly 20 planted bad rows; the dry run reports
exactly those (row, column, reason) and writes nothing."""

from __future__ import annotations

import io

import pytest
import xlsxwriter

from tests.factories import make_location, make_lot, make_product, make_units
from tests.integration.test_imports import run, units_count
from unitrace.db.engine import Database

ROWS = 100_000


def _planted() -> dict[int, tuple[list[object], str, str]]:
    """Spreadsheet row → (its cells, the column reported, the start of the reason)."""
    planted: dict[int, tuple[list[object], str, str]] = {}
    kinds = [
        (["S000010", "AC1", "L1", "WH1", "2026-01-02"], "序列号", "duplicate serial"),
        (["EXISTS-1", "AC1", "L1", "WH1", "2026-01-02"], "序列号", "serial exists"),
        ([None, "AC1", "L1", "WH1", "2026-01-02"], "序列号", "required"),
        (["NEW-P", "NOPE", "", "WH1", "2026-01-02"], "物料编码", "unknown product"),
        (["NEW-L", "AC1", "L9", "WH1", "2026-01-02"], "批次号", "unknown lot"),
        (["NEW-W", "AC1", "L1", "WH9", "2026-01-02"], "仓库", "unknown location"),
        (["NEW-D", "AC1", "L1", "WH1", "2026-02-30"], "生产日期", "bad date"),
        (["NEW-F", "AC1", "L1", "WH1", "2099-01-01"], "生产日期", "bad date"),
    ]
    for i in range(20):
        row = 1000 + i * 4_999  # spread over the sheet
        cells, column, reason = kinds[i % len(kinds)]
        cells = list(cells)
        if isinstance(cells[0], str) and cells[0].startswith("NEW"):
            cells[0] = f"{cells[0]}-{i}"
        if cells[0] == "EXISTS-1":
            cells[0] = f"EXISTS-{i}"
        planted[row] = (cells, column, reason)
    return planted


@pytest.mark.slow
def test_a_100000_row_workbook_with_20_bad_rows_reports_exactly_those(db: Database) -> None:
    make_product(db, "AC1", rule=None)
    make_location(db, "WH1")
    make_lot(db, "AC1", "L1")
    planted = _planted()
    make_units(
        db,
        "AC1",
        None,
        serials=[c[0] for c, _, _ in planted.values() if str(c[0]).startswith("EXISTS")],
    )
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["序列号", "物料编码", "批次号", "仓库", "生产日期"])
    for r in range(1, ROWS + 1):
        shown = r + 1  # the spreadsheet's row number
        if shown in planted:
            sheet.write_row(r, 0, planted[shown][0])
        else:
            sheet.write_row(r, 0, [f"S{r:06d}", "AC1", "L1", "WH1", 46000 + r % 30])
    book.close()
    job = run(db, "units", "big.xlsx", buffer.getvalue(), dry_run=True)
    assert job["rows_total"] == ROWS and job["error_count"] == 20, job["message"]
    found = [(e["row"], e["column"]) for e in job["errors"]]
    assert found == [(row, column) for row, (_, column, _) in sorted(planted.items())]
    for error in job["errors"]:
        assert error["reason"].startswith(planted[error["row"]][2]), error
    assert units_count(db) == len([r for r in planted.values() if r[2] == "serial exists"])
