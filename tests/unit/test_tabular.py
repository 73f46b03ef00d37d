"""The upload reader: hostile workbooks (a declared dimension of 17 billion cells, a value at
XFD1048576, zip bombs, huge shared-strings tables) are refused or read with work bounded by
what the file holds; every limit is named; legitimate files read as openpyxl reads them.
Work is counted (rows and cells read), never timed."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from tests.workbooks import HEADER, text, workbook
from unitrace import tabular
from unitrace.config import UploadLimits
from unitrace.core.errors import TooLarge, ValidationError
from unitrace.tabular import LimitExceeded, read_table

LIMITS = UploadLimits()


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of cells the file held for each row read, blank rows too."""
    seen: list[int] = []
    tick = tabular._Counter.tick

    def counted(self: Any, cells: int) -> None:
        seen.append(cells)
        tick(self, cells)

    monkeypatch.setattr(tabular._Counter, "tick", counted)
    return seen


def test_a_declared_dimension_of_17_billion_cells_is_not_trusted(work: list[int]) -> None:
    bomb = workbook(HEADER, dimension="A1:XFD1048576")
    assert len(bomb) < 5_000
    assert read_table("sales.xlsx", bomb, LIMITS) == [(1, ["serial"]), (2, ["SN000100"])]
    assert work == [1, 1]


def test_a_value_at_xfd1048576_is_refused_without_walking_the_gap(work: list[int]) -> None:
    bomb = workbook(HEADER + f'<row r="1048576">{text("XFD1048576", "x")}</row>',
                    dimension="A1:XFD1048576")  # fmt: skip
    with pytest.raises(LimitExceeded) as refused:
        read_table("sales.xlsx", bomb, LIMITS)
    assert refused.value.limit == "columns" and "UNITRACE_UPLOAD_MAX_COLUMNS" in str(refused.value)
    assert work == [1, 1, 1]  # three rows read: the million between them are not there


def test_an_empty_formatted_cell_at_xfd1048576_is_skipped_cheaply(work: list[int]) -> None:
    bomb = workbook(HEADER + '<row r="1048576"><c r="XFD1048576" s="1"/></row>'
                    '<row r="999999999999"><c r="A999999999999" s="1"/></row>',
                    dimension="A1:XFD1048576")  # fmt: skip
    assert read_table("sales.xlsx", bomb, LIMITS) == [(1, ["serial"]), (2, ["SN000100"])]
    assert work == [1, 1, 1, 1]


def test_rows_of_empty_formatted_cells_count_against_the_cell_limit(work: list[int]) -> None:
    wide = "".join(f'<row r="{n}">' + '<c s="1"/>' * 100 + "</row>" for n in range(3, 203))
    with pytest.raises(LimitExceeded) as refused:
        read_table("sales.xlsx", workbook(HEADER + wide), UploadLimits(max_cells=10_000))
    assert refused.value.limit == "cells" and isinstance(refused.value, TooLarge)
    assert sum(work) <= 10_100  # it stopped at the limit, not at the end of the sheet


def test_a_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = workbook(HEADER, padding=20 * 1024 * 1024)
    assert len(bomb) < 100_000

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    with pytest.raises(LimitExceeded) as refused:
        read_table("sales.xlsx", bomb, UploadLimits(max_unpacked_bytes=10 * 1024 * 1024))
    assert refused.value.limit == "unpacked_bytes"
    assert "more than 10 MB (limit UNITRACE_UPLOAD_MAX_UNPACKED_BYTES)" in str(refused.value)


def test_a_huge_shared_strings_table_is_refused_before_it_is_read() -> None:
    many = [f"string number {n}" for n in range(40_000)]  # 1.1 MB of XML
    book = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=many)
    assert len(book) < 200_000
    with pytest.raises(LimitExceeded) as refused:
        read_table("sales.xlsx", book, UploadLimits(max_unpacked_bytes=1024 * 1024))
    assert refused.value.limit == "unpacked_bytes"


def test_a_zip_that_understates_its_size_is_unreadable() -> None:
    honest = workbook(HEADER, padding=5 * 1024 * 1024)
    directory = honest.rindex(b"PK\x01\x02")  # the sheet is the last entry of the directory
    lying = bytearray(honest)
    lying[directory + 24 : directory + 28] = (1000).to_bytes(4, "little")  # its unpacked size
    with zipfile.ZipFile(io.BytesIO(bytes(lying))) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size == 1000
    with pytest.raises(ValidationError, match="not a readable XLSX workbook"):
        read_table("sales.xlsx", bytes(lying), UploadLimits(max_unpacked_bytes=1024 * 1024))


def test_rows_columns_and_bytes_are_limited(work: list[int]) -> None:
    rows = "".join(f'<row r="{n}">{text(f"A{n}", f"SN{n}")}</row>' for n in range(2, 12))
    book = workbook(f'<row r="1">{text("A1", "serial")}</row>' + rows)
    assert len(read_table("s.xlsx", book, UploadLimits(max_rows=10))) == 11
    with pytest.raises(LimitExceeded, match="more than 9 rows under the header line"):
        read_table("s.xlsx", book, UploadLimits(max_rows=9))
    assert len(work) == 11 + 11  # the second read stopped at its 11th row
    csv = "serial,a,\nSN1,,\nSN2,x,\n"
    assert read_table("s.csv", csv.encode(), UploadLimits(max_columns=2)) == [
        (1, ["serial", "a"]), (2, ["SN1"]), (3, ["SN2", "x"])]  # fmt: skip
    with pytest.raises(LimitExceeded, match="right of column 1 "):
        read_table("s.csv", csv.encode(), UploadLimits(max_columns=1))
    with pytest.raises(LimitExceeded) as wide:
        read_table("s.csv", b"serial" + b"," * 5000 + b"\n", UploadLimits(max_cells=1000))
    assert wide.value.limit == "cells"
    with pytest.raises(LimitExceeded) as big:
        read_table("s.csv", csv.encode(), UploadLimits(max_bytes=10))
    assert big.value.limit == "bytes"


def test_reading_stops_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 10))  # every look at the clock is ten seconds later
    monkeypatch.setattr(tabular, "monotonic", lambda: next(clock))
    rows = "".join(f'<row r="{n}">{text(f"A{n}", f"SN{n}")}</row>' for n in range(1, 100))
    with pytest.raises(LimitExceeded) as slow:
        read_table("s.xlsx", workbook(rows), UploadLimits(max_seconds=25))
    assert slow.value.limit == "seconds" and "longer than 25 seconds" in str(slow.value)
    assert next(clock) == 40  # it looked three times after the start, then stopped


def test_a_legitimate_workbook_reads_as_openpyxl_reads_it() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["serial", "product", "sold_at", "count", "ok", None, "note"])
    for n in range(500):
        sheet.append([f"SN{n:06d}", "TV", datetime(2024, 5, 31, 10, n % 60), n, n % 2 == 0,
                      None, "空调" if n % 3 else None])  # fmt: skip
    sheet.append([None] * 7)
    sheet.append([12345678, None, None, None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    expected = []
    reference = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
    for line, row in enumerate(reference.iter_rows(values_only=True), start=1):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        if values:
            expected.append((line, values))
    assert read_table("s.xlsx", content, LIMITS) == expected
    assert expected[1][1][2] == datetime(2024, 5, 31, 10, 0) and expected[-1] == (503, [12345678])
