"""Partner sell-through by file: CSV or XLSX rows become `sell` events all or none, problems
name their line and column, diversion alerts are raised, and a partner cannot tell another
party's unit from an unknown serial."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.factories import make_location, make_party, make_product, record
from tests.pages import csrf_of, login
from tests.workbooks import HEADER, text, workbook
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import service as channel
from unitrace.core.dates import FORMS
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units

PASSWORD = "correct horse battery"
EAST = [f"SN{n:06d}" for n in range(100, 110)]  # delivered to D-EAST (may sell in CN-31)
WEST = [f"SN{n:06d}" for n in range(110, 115)]  # delivered to D-WEST


@pytest.fixture
def shop(db: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_party(db, "D-EAST", regions=["CN-31"])
    make_party(db, "D-WEST", regions=["CN-44"])
    made = CommissionIn(
        product="TV", serials=EAST + WEST, event_time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    serials = commission_units(db, SYSTEM, made).serials
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    for party, sent in (("D-EAST", EAST), ("D-WEST", WEST)):
        record(db, type="ship", product="TV", serials=sent, party=party)
        record(db, type="deliver", product="TV", serials=sent)
    tokens = {}
    for name, role, party in (("east", "partner", "D-EAST"), ("sales", "sales", None),
                              ("store", "warehouse", None)):  # fmt: skip
        access.create_user(db, SYSTEM, name, PASSWORD, role, party)
        tokens[name] = access.create_token(db, SYSTEM, name, "upload")["token"]
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, tokens


def upload(shop: tuple[TestClient, dict[str, str]], content: bytes | str, name: str = "sales.csv",
           who: str = "east") -> Any:  # fmt: skip
    client, tokens = shop
    data = content.encode() if isinstance(content, str) else content
    return client.post("/api/v1/sell-through", files={"file": (name, data, "text/csv")},
                       headers={"Authorization": f"Bearer {tokens[who]}"})  # fmt: skip


def sale_of(db: Database, serial: str) -> dict[str, Any]:
    events = queries.dossier(db, SYSTEM, serial, "TV")["events"]
    return next(e for e in events if e["type"] == "sell")


def status(db: Database, serial: str) -> str:
    found: str = queries.dossier(db, SYSTEM, serial, "TV")["status"]
    return found


def test_three_rows_record_three_sold_units(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    answer = upload(shop, "serial,product,sold_at,region,customer\n"
                          "SN000100,TV,2024-05-31,CN-31,Shop Li\n"
                          "SN000101,TV,2024-05-31,CN-31,Shop Li\n"
                          "SN000102,TV,2024-06-01T14:30+08:00,CN-31-SH,\n")  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"rows": 3, "units": 3, "events": 2, "alerts": 0}
    assert [status(db, s) for s in EAST[:4]] == ["sold", "sold", "sold", "delivered"]
    sale = sale_of(db, "SN000100")
    assert sale["data"]["customer"] == "Shop Li" and sale["event_time"].startswith("2024-05-31")
    later = sale_of(db, "SN000102")
    assert datetime.fromisoformat(later["event_time"]).utcoffset().total_seconds() == 8 * 3600
    again = upload(shop, "serial\nSN000103\nSN000101\n")
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "line.3.serial"
    assert again.json()["detail"].startswith("line 3, serial: unit TV/SN000101 is sold")
    assert status(db, "SN000103") == "delivered"


def test_one_bad_row_writes_nothing_and_names_its_line(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    unknown = upload(shop, "serial,customer\nSN000100,A\nSN000101,B\nNO-SUCH,B\n")
    assert unknown.status_code == 404 and "problem+json" in unknown.headers["content-type"]
    body = unknown.json()
    assert body["detail"] == "line 4, serial: no unit with serial 'NO-SUCH'; nothing was written"
    assert body["errors"] == [{"field": "line.4.serial", "value": "NO-SUCH",
                               "message": "no unit with serial 'NO-SUCH'"}]  # fmt: skip
    assert [status(db, s) for s in EAST[:2]] == ["delivered", "delivered"]
    malformed = upload(shop, "Serial,Region,Sold At\n"
                             "SN000100,Guangdong,2024-05-31\n"
                             "SN000101,CN-31,31/05/2024\n"
                             "SN000102,CN-31,\n"
                             "SN000102,CN-31,\n"
                             "SN000103,CN-31,0001-01-01\n")  # fmt: skip
    assert malformed.status_code == 422
    problems = {(e["field"], e["message"]) for e in malformed.json()["errors"]}
    assert problems == {
        ("line.2.region", "not a region code such as CN or CN-44"),
        ("line.3.sold_at", f"not a date; write {FORMS} or an Excel date"),
        ("line.5.serial", "named twice (also line 4)"),
        ("line.6.sold_at", "must be between 1970 and tomorrow"),
    }
    assert malformed.json()["detail"].startswith("line 2, region: not a region code")
    assert status(db, "SN000102") == "delivered"
    header = upload(shop, "serial,regoin\nSN000100,CN-44\n")
    assert header.status_code == 422 and header.json()["errors"][0]["field"] == "line.1.regoin"


def test_a_sale_outside_the_authorised_region_raises_an_alert(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    answer = upload(shop, "serial,region\nSN000100,CN-31\nSN000101,cn-44\n")
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"rows": 2, "units": 2, "events": 2, "alerts": 1}
    [alert] = channel.list_alerts(db, SYSTEM)
    assert (alert["serial"], alert["distributor"], alert["seen_region"], alert["source"]) == (
        "SN000101", "D-EAST", "CN-44", "sell")  # fmt: skip


def test_xlsx_and_chinese_headers(db: Database, shop: tuple[TestClient, dict[str, str]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序列号", "产品", "销售日期", "地区", "客户"])
    sheet.append(["SN000100", "TV", datetime(2024, 5, 31, 10, 0), "CN-31", "王先生"])
    sheet.append([None, None, None, None, None])  # blank rows are skipped
    sheet.append(["SN000101", "TV", None, "CN-31", None])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = upload(shop, buffer.getvalue(), "销售.xlsx")
    assert answer.status_code == 201, answer.text
    assert answer.json()["units"] == 2 and answer.json()["rows"] == 2
    sale = sale_of(db, "SN000100")
    assert sale["event_time"].startswith("2024-05-31") and sale["data"]["customer"] == "王先生"
    bom = "\ufeff序列号,地区\nSN000102,CN-31\n".encode()
    assert upload(shop, bom).json()["units"] == 1
    gbk = "序列号,客户\nSN000103,李女士\n".encode("gb18030")  # Excel's CSV on Chinese Windows
    assert upload(shop, gbk).status_code == 201
    assert [status(db, s) for s in EAST[:5]] == ["sold"] * 4 + ["delivered"]
    broken = upload(shop, b"PK\x03\x04 not really a workbook", "sales.xlsx")
    assert broken.status_code == 422 and "not a readable XLSX" in broken.json()["detail"]


def test_empty_files_and_limits_are_refused_clearly(
    shop: tuple[TestClient, dict[str, str]],
) -> None:
    empty = upload(shop, b"")
    assert empty.status_code == 422 and "problem+json" in empty.headers["content-type"]
    assert empty.json()["detail"].startswith("file: the file is empty")
    assert "no rows" in upload(shop, "serial\n\n").json()["detail"]
    assert upload(shop, "product\nTV\n").json()["detail"].startswith("line 1, serial: no serial")
    rows = upload(shop, "serial\n" + "".join(f"X{n}\n" for n in range(50_001)))
    assert rows.status_code == 413 and "more than 50,000 rows" in rows.json()["detail"]
    assert "UNITRACE_UPLOAD_MAX_ROWS" in rows.json()["detail"]
    big = upload(shop, b"serial\n" + b"X" * (10 * 1024 * 1024))
    assert big.status_code == 413 and "larger than 10 MB" in big.json()["detail"]
    assert big.json()["type"] == "urn:unitrace:problem:too-large"
    client, tokens = shop
    missing = client.post("/api/v1/sell-through", headers={"Authorization":
                                                           f"Bearer {tokens['east']}"})  # fmt: skip
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"


def test_another_partys_unit_reads_as_an_unknown_serial(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    theirs = upload(shop, f"serial,product\n{WEST[0]},TV\n")
    unknown = upload(shop, "serial,product\nNO-SUCH,TV\n")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace(WEST[0], "X") == unknown.text.replace("NO-SUCH", "X")
    assert "D-WEST" not in theirs.text
    assert status(db, WEST[0]) == "delivered"
    refused = upload(shop, "serial\nSN000100\n", who="store")
    assert refused.status_code == 403 and "problem+json" in refused.headers["content-type"]
    assert upload(shop, f"serial\n{WEST[0]}\n", who="sales").status_code == 201


def test_sell_through_page(db: Database, shop: tuple[TestClient, dict[str, str]]) -> None:
    client, _tokens = shop
    csrf = login(client, db, "partner")  # a user of distributor D-P
    mine = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=["SN000120", "SN000121", "SN000122"])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=mine, location="WH1")
    record(db, type="ship", product="TV", serials=mine, party="D-P")
    record(db, type="deliver", product="TV", serials=mine)
    page = client.get("/sell-through")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text

    def send(content: str, token: str = csrf) -> Any:
        return client.post("/sell-through", data={"csrf_token": token},
                           files={"file": ("s.csv", content.encode(), "text/csv")})  # fmt: skip

    bad = send(f"serial,region\n{mine[0]},CN-31\n{EAST[0]},CN-31\n{mine[1]},nowhere\n")
    assert bad.status_code == 422  # a format problem, and the unknown unit is not hidden
    table = bad.text.split('data-testid="sellthrough-problems"')[1].split("</table>")[0]
    assert '<td class="num">3</td><td><code>serial</code>: no unit with this serial' in table
    assert '<td class="num">4</td><td><code>region</code>: not a region code' in table
    assert "2 problems in the file" in bad.text
    unknown = send(f"serial\n{mine[0]}\n{EAST[0]}\n")  # EAST[0] is D-EAST's: unknown to D-P
    assert unknown.status_code == 404
    assert '<td class="num">3</td><td><code>serial</code>: no unit with this serial' in unknown.text
    assert send(f"serial\n{mine[0]}\n", token="wrong").status_code == 400
    assert status(db, mine[0]) == "delivered"
    done = send(f"serial,region\n{mine[0]},CN-31\n{mine[1]},CN-31\n")
    assert done.status_code == 201 and 'data-testid="sellthrough-done"' in done.text
    assert "2 units recorded as sold" in done.text
    assert [status(db, s) for s in mine] == ["sold", "sold", "delivered"]
    assert csrf_of(done.text)
    login(client, db, "warehouse")
    assert client.get("/sell-through").status_code == 403


def test_hostile_workbooks_are_refused_or_read_with_bounded_work(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    declared = workbook(HEADER, dimension="A1:XFD1048576")  # 17 billion cells declared
    answer = upload(shop, declared, "sales.xlsx")
    assert answer.status_code == 201, answer.text
    assert answer.json()["units"] == 1 and status(db, "SN000100") == "sold"
    far = workbook(f'<row r="1">{text("A1", "serial")}</row>'
                   f'<row r="2">{text("A2", "SN000101")}</row>'
                   f'<row r="1048576">{text("XFD1048576", "x")}</row>',
                   dimension="A1:XFD1048576")  # fmt: skip
    refused = upload(shop, far, "sales.xlsx")
    assert refused.status_code == 413 and "problem+json" in refused.headers["content-type"]
    assert "UNITRACE_UPLOAD_MAX_COLUMNS" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "file"
    bomb = upload(shop, workbook(HEADER, padding=120 * 1024 * 1024), "sales.xlsx")
    assert bomb.status_code == 413 and "UNITRACE_UPLOAD_MAX_UNPACKED_BYTES" in bomb.text
    assert status(db, "SN000101") == "delivered"


def test_upload_limits_are_settings(
    monkeypatch: pytest.MonkeyPatch, shop: tuple[TestClient, dict[str, str]]
) -> None:
    monkeypatch.setenv("UNITRACE_UPLOAD_MAX_ROWS", "1")
    refused = upload(shop, "serial\nSN000100\nSN000101\n")
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        "file: the file has more than 1 rows under the header line (limit "
        "UNITRACE_UPLOAD_MAX_ROWS): split it"
    )
    monkeypatch.setenv("UNITRACE_UPLOAD_MAX_BYTES", "20")
    assert upload(shop, "serial\nSN000100\n" + " " * 20).status_code == 413
    assert upload(shop, "serial\nSN000100\n").status_code == 201


def test_the_page_names_the_limit_in_chinese(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    client, _tokens = shop
    csrf = login(client, db, "partner", lang="zh-CN")
    chinese = {"Accept-Language": "zh-CN"}
    page = client.get("/sell-through", headers=chinese)
    # a partner's file is bounded by what one partner request may name (1,000 units)
    assert "每个文件最多 1,000 行、10 MB。" in page.text
    far = workbook(f'<row r="1">{text("A1", "serial")}</row>'
                   f'<row r="1048576">{text("XFD1048576", "x")}</row>')  # fmt: skip
    answer = client.post("/sell-through", data={"csrf_token": csrf}, headers=chinese,
                         files={"file": ("s.xlsx", far, "application/octet-stream")})  # fmt: skip
    assert answer.status_code == 413
    assert ("超出上限: 第 50 列右侧还有内容（上限 UNITRACE_UPLOAD_MAX_COLUMNS）：请删除这些列"
            in answer.text)  # fmt: skip
    answer = client.post("/sell-through", data={"csrf_token": csrf},
                         headers={"Accept-Language": "en"},
                         files={"file": ("s.xlsx", far, "application/octet-stream")})  # fmt: skip
    assert "Too large: the file has values right of column 50" in answer.text


def test_the_page_names_the_partner_limit_in_chinese(
    monkeypatch: pytest.MonkeyPatch, db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    """A distributor's file with more rows than a partner may send at once: the page says so in
    the user's language (it showed the write path's English text)."""
    from unitrace import config

    monkeypatch.setenv("UNITRACE_PARTNER_MAX_UNITS", "1")
    config.partner_limits.cache_clear()
    try:
        client, _tokens = shop
        csrf = login(client, db, "partner", lang="zh-CN")
        answer = client.post("/sell-through", data={"csrf_token": csrf},
                             headers={"Accept-Language": "zh-CN"},
                             files={"file": ("s.csv", "serial\nSN000100\nSN000101\n",
                                             "text/csv")})  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert "2 件：合作伙伴每次请求最多 1 件；请拆分文件" in answer.text
        assert status(db, "SN000100") == "delivered"
    finally:
        monkeypatch.delenv("UNITRACE_PARTNER_MAX_UNITS")
        config.partner_limits.cache_clear()


def test_staff_see_the_upload_row_limit_partners_their_own(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    client, _tokens = shop
    login(client, db, "sales")
    assert "At most 50,000 rows and 10 MB per file." in client.get("/sell-through").text
    login(client, db, "partner")
    assert "At most 1,000 rows and 10 MB per file." in client.get("/sell-through").text


def test_the_usual_date_forms_of_chinese_spreadsheets_are_read(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序列号", "产品", "销售日期", "地区"])
    for serial, sold in (("SN000100", "2026/11/28"), ("SN000101", "2026.11.28"),
                         ("SN000102", "20261128"), ("SN000103", 46354),  # Excel's serial
                         ("SN000104", datetime(2026, 11, 28)), ("SN000105", "2026-11-28"),
                         ("SN000106", "2026年11月28日"),
                         ("SN000107", "2026/11/28 14:30")):  # fmt: skip
        sheet.append([serial, "TV", sold, "CN-31"])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = upload(shop, buffer.getvalue(), "销售.xlsx")
    assert answer.status_code == 201, answer.text
    days = {sale_of(db, s)["event_time"][:10] for s in EAST[:8]}
    assert days == {"2026-11-28"}
    assert sale_of(db, "SN000107")["event_time"][11:16] == "14:30"


def test_every_problem_of_an_upload_is_reported_at_once(
    db: Database, shop: tuple[TestClient, dict[str, str]]
) -> None:
    answer = upload(shop, "serial,sold_at,region\n"
                          "SN000100,2026/11/28,CN-31\n"
                          "SN000101,03/04/2026,CN-31\n"  # a date no one can read for sure
                          "NO-SUCH,2026/11/28,CN-31\n"  # unknown: not hidden by line 3
                          "SN000102,2026/11/28,Shanghai\n"
                          f"{WEST[0]},2026/11/27,CN-31\n")  # fmt: skip
    assert answer.status_code == 422
    problems = [(e["field"], e["value"]) for e in answer.json()["errors"]]
    assert problems == [
        ("line.3.sold_at", "03/04/2026"),
        ("line.4.serial", "NO-SUCH"),
        ("line.5.region", "Shanghai"),
        ("line.6.serial", WEST[0]),  # another party's unit reads as unknown
    ]
    assert "4 problems in all" in answer.json()["detail"]
    assert status(db, "SN000100") == "delivered"  # nothing was written
    two_unknown = upload(shop, "serial,sold_at\nNO-1,2026/11/28\nSN000100,2026/11/28\n"
                               "NO-2,2026/11/27\n")  # fmt: skip
    assert two_unknown.status_code == 404  # in two events: both named
    assert [e["field"] for e in two_unknown.json()["errors"]] == ["line.2.serial", "line.4.serial"]
