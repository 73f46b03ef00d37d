"""Tables downloaded from the pages open in Chinese Excel: a UTF-8 byte order mark, headers and
our words (states, kinds, outcomes) in the page's language; the API keeps its English keys."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.production import quality, recall
from unitrace.production import service as production
from unitrace.production.routes import AFFECTED
from unitrace.production.schemas import RouteIn
from unitrace.web import i18n, translate

BOM = b"\xef\xbb\xbf"
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def plant(db: Database) -> Iterator[tuple[TestClient, Database]]:
    make_location(db, "WH1")
    make_party(db, "SUP-A", "supplier")
    make_product(db, "BOARD", rule="B{seq:5}")
    make_lot(db, "BOARD", "B-LOT", supplier="SUP-A")
    production.set_route(db, SYSTEM, "BOARD", RouteIn(steps=[{"code": "FQC", "name": "QC"}]))
    boards = make_units(db, "BOARD", 2, lot="B-LOT")
    record(db, type="inspect", product="BOARD", serials=boards, operator="li",
           step={"code": "FQC", "result": "pass"})  # fmt: skip
    record(db, type="receive", product="BOARD", serials=boards, location="WH1")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM), body[:20]
    return list(csv.reader(io.StringIO(body[len(BOM) :].decode("utf-8"), newline="")))


def _set_chinese(client: TestClient, csrf: str) -> None:
    client.post("/lang", data={"locale": "zh-CN", "csrf_token": csrf, "back": "/"})


def test_affected_units_csv_is_chinese_with_a_bom(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    _set_chinese(client, login(client, db, "quality", "zh-CN"))
    rows = _rows(client.get("/trace/affected.csv?product=BOARD&lot=B-LOT").content)
    assert rows[0][:3] == ["序列号", "产品", "状态"] and len(rows) == 3
    assert {row[2] for row in rows[1:]} == {"在库"}  # in_stock, translated


def test_recall_notices_csv_is_chinese_with_a_bom(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    csrf = login(client, db, "quality", "zh-CN")
    _set_chinese(client, csrf)
    made = client.post("/recalls", data={"csrf_token": csrf, "code": "RC-1", "title": "caps",
                                         "product": "BOARD", "lot": "B-LOT"},
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, made.text
    rows = _rows(client.get("/recalls/RC-1/notices.csv").content)
    assert rows[0][0] == "持有方代码" and "召回开始时状态" in rows[0] and len(rows) == 3


def test_quality_export_csv_and_xlsx_are_chinese(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    _set_chinese(client, login(client, db, "quality", "zh-CN"))
    rows = _rows(client.get("/quality/export?by=product&format=csv").content)
    assert rows[0][0] == "分组值" and "直通率" in rows[0]
    from openpyxl import load_workbook

    xlsx = client.get("/quality/export?by=product&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[0] == "分组值"


def test_english_downloads_have_the_bom_and_the_column_keys(
    plant: tuple[TestClient, Database],
) -> None:
    client, db = plant
    login(client, db, "quality")
    rows = _rows(client.get("/trace/affected.csv?product=BOARD&lot=B-LOT").content)
    assert tuple(rows[0]) == AFFECTED and rows[1][2] == "in_stock"


def test_every_column_of_a_download_has_a_chinese_header() -> None:
    token = i18n.current.set("zh-CN")
    try:
        for columns in (AFFECTED, recall.NOTICE_COLUMNS, quality.COLUMNS):
            for column in columns:
                assert translate.column_label(column) != column, column
    finally:
        i18n.current.reset(token)


def test_the_api_keeps_english_keys_without_a_bom(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    from unitrace.access import service as access

    access.create_user(db, SYSTEM, "bot", "correct horse battery", "quality")
    token = access.create_token(db, SYSTEM, "bot", "t")["token"]
    answer = client.get(
        "/api/v1/quality/yield?by=product&format=csv",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"key,records")


def test_the_cli_writes_csv_files_with_a_bom_and_english_keys(  # type: ignore[no-untyped-def]
    plant: tuple[TestClient, Database], cli, tmp_path
) -> None:
    out = tmp_path / "affected.csv"
    done = cli("trace", "forward", "--product", "BOARD", "--lot", "B-LOT", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert tuple(_rows(out.read_bytes())[0]) == AFFECTED
