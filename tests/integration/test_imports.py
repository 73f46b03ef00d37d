"""Imports of CSV and .xlsx files: units, master data and events, dry run, all or nothing,
repeat detection, saved mappings (interop.imports)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from tests.factories import make_location, make_lot, make_party, make_product, record
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.imports import service
from unitrace.ledger import queries


def run(db: Database, kind: str, name: str, content: bytes, **kw: Any) -> dict[str, Any]:
    return service.start(db, SYSTEM, kind=kind, filename=name, content=content, wait=True, **kw)


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, values in enumerate(rows):
        sheet.write_row(r, 0, values)
    book.close()
    return buffer.getvalue()


def units_count(db: Database) -> int:
    from sqlalchemy import func, select

    from unitrace.db.tables import units

    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(units)).scalar_one())


@pytest.fixture
def master(db: Database) -> Database:
    make_product(db, "AC1", rule=None)
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_lot(db, "AC1", "L1")
    return db


def test_units_csv_in_utf8_imports_every_row(master: Database) -> None:
    job = run(master, "units", "u.csv", csv_bytes(["serial,product,lot", "S1,AC1,L1", "S2,AC1,"]))
    assert (job["status"], job["written"], job["errors"]) == ("done", 2, [])
    assert units_count(master) == 2
