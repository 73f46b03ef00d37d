"""Every CSV and XLSX export goes through `core.spreadsheet.cell`: text that a spreadsheet
would run as a formula — also behind white space and invisible characters it strips — is
quoted; everything else is left as it is."""

from __future__ import annotations

import csv
import io

import pytest

from unitrace.core.spreadsheet import cell
from unitrace.production import quality

CASES: list[tuple[object, object]] = [
    # formula signs first
    ("=1+1", "'=1+1"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\tplain", "'\tplain"),
    ("\r=1", "'\r=1"),
    ("\rplain", "'\rplain"),
    # behind what a spreadsheet strips
    (" =cmd|' /C calc'!A0", "' =cmd|' /C calc'!A0"),
    ("   +1", "'   +1"),
    ("\n=1", "'\n=1"),
    ("\r\n-1", "'\r\n-1"),
    ("\u200b=1", "'\u200b=1"),  # zero-width space
    ("\ufeff=1", "'\ufeff=1"),  # byte-order mark
    ("\u200c\u200d@x", "'\u200c\u200d@x"),  # zero-width non-joiner, joiner
    ("\u2060=1", "'\u2060=1"),  # word joiner
    ("\u00a0=1", "'\u00a0=1"),  # no-break space
    ("\u3000=1", "'\u3000=1"),  # ideographic space
    ("\u202e=1", "'\u202e=1"),  # right-to-left override
    (" \u200b \n\t=1", "' \u200b \n\t=1"),
    ("\x00=1", "'=1"),  # control characters are removed first
    ("\x07\x1b=1", "'=1"),
    # full-width signs (typed with a CJK input method)
    ("＝1+1", "'＝1+1"),
    ("\u200b＋1", "'\u200b＋1"),
    # left alone
    ("SN-0001", "SN-0001"),
    ("a=1", "a=1"),
    ("x-1", "x-1"),
    (" plain", " plain"),
    ("\u200bplain", "\u200bplain"),
    ("空调 Air conditioner", "空调 Air conditioner"),
    ("", ""),
    ("   ", "   "),
    ("'=1", "'=1"),
    ("a\x00b", "ab"),
    (-1, -1),
    (1.5, 1.5),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_cell(value: object, expected: object) -> None:
    assert cell(value) == expected


def test_csv_and_xlsx_exports_use_it() -> None:
    columns = ("serial", "lot")
    items = [{"serial": '\n=HYPERLINK("x")', "lot": "\u200b+1"}]
    rows = list(csv.reader(io.StringIO(quality.to_csv(columns, items), newline="")))
    assert rows[1] == ['\'\n=HYPERLINK("x")', "'\u200b+1"]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(quality.to_xlsx("t", columns, items)))
    sheet = book.active
    assert sheet is not None
    assert [sheet.cell(2, 1).data_type, sheet.cell(2, 1).value] == ["s", '\'\n=HYPERLINK("x")']
    assert sheet.cell(2, 2).value == "'\u200b+1"
