"""The one streamed writer of the downloaded lists (`interop.exports`): it reads its rows
lazily, makes every cell inert, shows moments in the site's zone and writes text as text."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from unitrace import config
from unitrace.interop import exports

DANGEROUS = ['=HYPERLINK("http://evil.example","click")', "＋1", "@SUM(A1:A2)", "-2+3", " =1+1"]


def _counting(pulled: list[int], limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Rows without end (or `limit` of them), counting how many the writer took."""
    for n in itertools.count() if limit is None else range(limit):
        pulled[0] += 1
        yield {"serial": f"SN{n:07d}", "product": "AC1"}


def test_the_csv_writer_takes_no_more_than_one_chunk_of_rows_ahead_of_what_it_yielded() -> None:
    pulled = [0]
    chunks = exports.stream_csv(_counting(pulled), exports.columns("serial", "product"))
    header = next(chunks)  # before a row is read
    assert pulled[0] == 0 and header.startswith(exports.BOM.encode("utf-8"))
    for seen in range(1, 4):
        next(chunks)
        assert pulled[0] <= seen * exports.CHUNK  # an endless list streams: never read whole
    assert pulled[0] == 3 * exports.CHUNK


def test_paged_reads_the_first_page_now_and_the_next_only_when_asked() -> None:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> dict[str, Any]:
        asked.append(cursor)
        if cursor is None:
            return {"items": [{"n": 1}, {"n": 2}], "next": "2"}
        return {"items": [{"n": 3}], "next": None}

    rows = exports.paged(fetch)
    assert asked == [None]  # a refusal would be raised here, before the download starts
    assert [next(rows), next(rows)] == [{"n": 1}, {"n": 2}] and asked == [None]
    assert list(rows) == [{"n": 3}] and asked == [None, "2"]


def test_offset_paged_stops_at_a_short_page() -> None:
    data = [{"n": n} for n in range(7)]
    calls: list[tuple[int, int]] = []

    def fetch(limit: int, offset: int) -> list[dict[str, Any]]:
        calls.append((limit, offset))
        return data[offset : offset + limit]

    assert [r["n"] for r in exports.offset_paged(fetch, 3)] == list(range(7))
    assert calls == [(3, 0), (3, 3), (3, 6)]


def test_every_csv_cell_that_would_start_a_formula_comes_out_as_text() -> None:
    rows = [{"serial": text, "product": "AC1"} for text in DANGEROUS]
    body = b"".join(exports.stream_csv(rows, ("serial", "product"))).decode("utf-8")
    read = list(csv.reader(io.StringIO(body.removeprefix(exports.BOM), newline="")))
    assert read[0] == ["serial", "product"]
    assert [r[0] for r in read[1:]] == ["'" + text for text in DANGEROUS]


def test_every_xlsx_cell_is_text_never_a_formula(tmp_path: Path) -> None:
    rows = [{"serial": text, "count": 3} for text in DANGEROUS]
    path = tmp_path / "out.xlsx"
    assert exports.write_xlsx(iter(rows), ("serial", "count"), path, "units") == len(DANGEROUS)
    sheet = load_workbook(path).active
    assert sheet is not None
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert [c[0].value for c in cells] == ["'" + text for text in DANGEROUS]
    assert {c[0].data_type for c in cells} == {"s"}  # not "f": no formula
    assert [c[1].value for c in cells] == [3] * len(DANGEROUS)  # numbers stay numbers


def test_moments_are_shown_in_the_sites_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_TIMEZONE", "Asia/Shanghai")
    config.site_timezone.cache_clear()
    try:
        row = {"at": "2026-11-24T00:30:00+00:00", "key": "k"}
        body = b"".join(exports.stream_csv([row], exports.columns("at", "key", moments=["at"])))
    finally:
        config.site_timezone.cache_clear()
    assert body.decode("utf-8").splitlines()[1] == "2026-11-24 08:30:00 +08:00,k"


def test_the_api_csv_has_no_byte_order_mark_and_lists_join() -> None:
    rows = [{"regions": ["CN-31", "CN-44"], "before": {"name": "x"}, "gone": None}]
    body = b"".join(exports.stream_csv(rows, ("regions", "before", "gone"), bom=False))
    assert body.decode("utf-8").splitlines() == [
        "regions,before,gone",
        '"CN-31, CN-44","{""name"": ""x""}",',
    ]


def test_a_list_longer_than_a_sheet_goes_on_in_the_next_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "SHEET_ROWS", 4)  # a header and three rows a sheet
    pulled = [0]
    path = tmp_path / "long.xlsx"
    assert exports.write_xlsx(_counting(pulled, 7), ("serial",), path, "units") == 7
    book = load_workbook(path)
    sheets = [[c.value for c in row] for ws in book.worksheets for row in ws.iter_rows()]
    assert [ws.title for ws in book.worksheets] == ["units", "units 2", "units 3"]
    assert [r[0] for r in sheets if r[0] != "serial"] == [f"SN{n:07d}" for n in range(7)]


def test_the_headers_alone_when_nothing_matches(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    assert exports.write_xlsx(iter(()), ("serial",), path, "units", ["序列号"]) == 0
    sheet = load_workbook(path).active
    assert sheet is not None and [c.value for c in next(sheet.iter_rows())] == ["序列号"]
    assert (
        b"".join(exports.stream_csv(iter(()), ("serial",), ["序列号"])).decode("utf-8")
        == exports.BOM + "序列号\r\n"
    )
