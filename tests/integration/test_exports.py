"""Every list downloads as CSV and Excel (`format=csv|xlsx`, the API and the pages) with exactly
the rows its filters find, a partner's only its own, cells inert, and the headers of the page's
language (docs/exports.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.factories import make_location, make_party, make_product, record
from tests.integration.test_verify_clones import GUANGZHOU, HARBIN, T0, made, verify
from tests.integration.test_web_downloads import plant
from tests.pages import csrf_of, login
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import PartyCreate
from unitrace.channel import service as channel
from unitrace.db.engine import Database
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units

__all__ = ["made", "plant"]  # fixtures of other tests, used below
PASSWORD = "correct horse battery"
EVIL = '=HYPERLINK("http://evil.example","click")'


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8").removeprefix("\ufeff"))))


def _xlsx(body: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def world(db: Database) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    """Units: 3 shipped to D-A, 2 to D-B (authorised in CN-31 only, all 5 sold in CN-44: five
    diversion alerts), 2 in stock; an admin, a reader and a partner of D-A."""
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_party(db, "D-A", regions=["CN-31"])
    make_party(db, "D-B", regions=["CN-31"])
    serials = commission_units(
        db, SYSTEM, CommissionIn(product="TV", serials=[f"SN{n:03d}" for n in range(7)])
    ).serials
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    record(db, type="ship", product="TV", serials=serials[:3], party="D-A")
    record(db, type="ship", product="TV", serials=serials[3:5], party="D-B")
    record(db, type="deliver", product="TV", serials=serials[:5])
    record(db, type="sell", product="TV", serials=serials[:5], region="CN-44")
    catalog.create_party(db, SYSTEM, PartyCreate(code="CUST-X", name=EVIL, kind="customer"))
    headers = {}
    for role, party in (("admin", None), ("readonly", None), ("partner", "D-A")):
        access.create_user(db, SYSTEM, f"u-{role}", PASSWORD, role, party)
        token = access.create_token(db, SYSTEM, f"u-{role}", "tests")["token"]
        headers[role] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, headers


def _get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    answer = client.get(f"/api/v1{path}", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_unit_list_downloads_exactly_the_units_its_filters_find(
    world: tuple[TestClient, dict[str, dict[str, str]]], fmt: str
) -> None:
    client, who = world
    listed = _get(client, who["admin"], "/units", product="TV", holder="D-B").json()["items"]
    answer = _get(client, who["admin"], "/units", product="TV", holder="D-B", format=fmt)
    rows = _csv(answer.content) if fmt == "csv" else _xlsx(answer.content)
    assert [r["serial"] for r in rows] == [u["serial"] for u in listed] == ["SN003", "SN004"]
    assert list(rows[0]) == ["serial", "product", "lot", "status", "location", "holder", "parent"]
    assert rows[0]["holder"] == "D-B" and rows[0]["status"] == "sold"
    disposition = answer.headers["content-disposition"]
    assert disposition == f'attachment; filename="units.{fmt}"'


def test_a_download_reads_every_page_of_a_long_list(
    world: tuple[TestClient, dict[str, dict[str, str]]], db: Database
) -> None:
    client, who = world
    commission_units(
        db, SYSTEM, CommissionIn(product="TV", serials=[f"LONG{n:05d}" for n in range(2500)])
    )
    rows = _csv(_get(client, who["admin"], "/units", status="commissioned", format="csv").content)
    assert len(rows) == 2500 and rows[-1]["serial"] == "LONG02499"  # three pages of 1,000


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_partners_download_holds_only_its_own_units(
    world: tuple[TestClient, dict[str, dict[str, str]]], fmt: str
) -> None:
    client, who = world
    answer = _get(client, who["partner"], "/units", format=fmt)
    rows = _csv(answer.content) if fmt == "csv" else _xlsx(answer.content)
    assert sorted(r["serial"] for r in rows) == ["SN000", "SN001", "SN002"]
    assert {r["location"] for r in rows} == {None if fmt == "xlsx" else ""}  # as it may see
    found = _get(client, who["partner"], "/units", holder="D-B", format="csv")
    assert _csv(found.content) == []  # another partner's units: nothing, as in the list


def test_the_audit_download_is_filtered_and_its_cells_are_inert(
    world: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, who = world
    listed = _get(client, who["admin"], "/audit", entity="party").json()["items"]
    rows = _csv(_get(client, who["admin"], "/audit", entity="party", format="csv").content)
    assert [int(r["id"]) for r in rows] == [r["id"] for r in listed] and len(rows) == 3
    evil = next(r for r in rows if r["entity_key"] == "CUST-X")
    assert evil["after"].startswith("{") and "HYPERLINK" in evil["after"]  # inside JSON: inert
    book = _xlsx(_get(client, who["admin"], "/audit", entity="party", format="xlsx").content)
    assert [r["entity_key"] for r in book] == [r["entity_key"] for r in rows]
    assert client.get("/api/v1/audit?format=csv", headers=who["readonly"]).status_code == 403


@pytest.mark.parametrize("note", [EVIL, "＋1", "@SUM(A1:A9)"])
def test_a_value_that_starts_a_formula_comes_out_as_text(
    world: tuple[TestClient, dict[str, dict[str, str]]], db: Database, note: str
) -> None:
    client, who = world
    ids = [a["id"] for a in channel.list_alerts(db, SYSTEM, status="open", party="D-B")]
    channel.settle_alerts(db, SYSTEM, ids, "acknowledged", note)
    wanted = {"status": "acknowledged"}
    rows = _csv(_get(client, who["admin"], "/diversions", **wanted, format="csv").content)
    assert [r["note"] for r in rows] == ["'" + note] * 2
    book = load_workbook(
        io.BytesIO(_get(client, who["admin"], "/diversions", **wanted, format="xlsx").content)
    ).active
    assert book is not None
    notes = [row[12] for row in book.iter_rows(min_row=2)]
    assert [c.value for c in notes] == ["'" + note] * 2 and {c.data_type for c in notes} == {"s"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_diversion_alerts_download_with_the_lists_filters(
    world: tuple[TestClient, dict[str, dict[str, str]]], fmt: str
) -> None:
    client, who = world
    listed = _get(client, who["admin"], "/diversions", party="D-A").json()
    answer = _get(client, who["admin"], "/diversions", party="D-A", format=fmt)
    rows = _csv(answer.content) if fmt == "csv" else _xlsx(answer.content)
    assert [r["serial"] for r in rows] == [a["serial"] for a in listed] and len(rows) == 3
    assert {r["distributor"] for r in rows} == {"D-A"} and rows[0]["seen_region"] == "CN-44"
    assert _get(client, who["admin"], "/diversions", format="csv").text.count("\n") == 6


def test_service_cases_download_and_a_partner_gets_only_its_own(
    world: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, who = world
    for serial, role in (("SN000", "partner"), ("SN003", "admin"), ("SN004", "admin")):
        opened = client.post(
            "/api/v1/cases",
            json={"serial": serial, "product": "TV", "warranty_claim": False},
            headers=who[role],
        )
        assert opened.status_code == 201, opened.text
    everything = _csv(_get(client, who["admin"], "/cases", format="csv").content)
    assert sorted(r["serial"] for r in everything) == ["SN000", "SN003", "SN004"]
    one = _xlsx(_get(client, who["admin"], "/cases", q="SN003", format="xlsx").content)
    assert [r["serial"] for r in one] == ["SN003"]
    own = _csv(_get(client, who["partner"], "/cases", format="csv").content)
    assert [r["serial"] for r in own] == ["SN000"]


def test_the_inventory_downloads_its_groups(
    world: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, who = world
    listed = _get(client, who["admin"], "/inventory", by="product,location").json()["items"]
    rows = _csv(_get(client, who["admin"], "/inventory", by="product", format="csv").content)
    assert rows == [{"product": "TV", "units": "2", "recalled": "0"}]
    assert sum(i["units"] for i in listed) == 2


def test_clone_alerts_download_with_their_filters(
    db: Database, made: dict[str, str], world: tuple[TestClient, dict[str, dict[str, str]]]
) -> None:
    client, who = world
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(minutes=30))
    listed = _get(client, who["readonly"], "/clone-alerts").json()
    for fmt in ("csv", "xlsx"):
        answer = _get(client, who["readonly"], "/clone-alerts", format=fmt)
        rows = _csv(answer.content) if fmt == "csv" else _xlsx(answer.content)
        assert [r["code"] for r in rows] == [a["code"] for a in listed] and len(rows) == 1
        assert rows[0]["rule"] == "travel"
    none = _get(client, who["readonly"], "/clone-alerts", rule="devices", format="csv")
    assert _csv(none.content) == []


def test_a_chinese_page_downloads_with_chinese_headers_and_its_filters(
    world: tuple[TestClient, dict[str, dict[str, str]]], db: Database
) -> None:
    client, _who = world
    login(client, db, "admin", lang="zh-CN")
    client.headers["Accept-Language"] = "zh-CN"  # the page's language, as a browser asks
    page = client.get("/diversions?party=D-B&status=all")
    assert 'data-testid="alerts-export-csv"' in page.text
    answer = client.get("/diversions?party=D-B&status=all&format=csv")
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    rows = _csv(answer.content)
    assert list(rows[0])[:3] == ["编号", "序列号", "产品"] and len(rows) == 2
    assert {r["经销商代码"] for r in rows} == {"D-B"}
    units = client.get("/units?q=SN&product=TV&format=xlsx")
    assert [r["序列号"] for r in _xlsx(units.content)] == [f"SN{n:03d}" for n in range(7)]
    audit = _csv(client.get("/audit?entity=party&format=csv").content)
    assert "操作人" in audit[0] and len(audit) == 3  # D-A, D-B, CUST-X
    inventory = _csv(client.get("/inventory?by=product&format=csv").content)
    assert inventory == [{"产品": "TV", "在库数量": "2", "已召回数量": "0"}]


def test_an_english_page_downloads_with_the_keys_as_headers(
    world: tuple[TestClient, dict[str, dict[str, str]]], db: Database
) -> None:
    client, _who = world
    login(client, db, "admin")
    rows = _csv(client.get("/inventory?by=product&format=csv").content)
    assert rows == [{"product": "TV", "units": "2", "recalled": "0"}]
    assert 'data-testid="inventory-export-xlsx"' in client.get("/inventory?by=product").text


def test_a_refused_filter_or_permission_is_the_lists_problem_not_a_broken_file(
    world: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, who = world
    bad = client.get("/api/v1/units?status=bogus&format=csv", headers=who["admin"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    code = client.get("/api/v1/units?code=SN000&format=xlsx", headers=who["admin"])
    assert code.status_code == 422 and code.json()["errors"][0]["field"] == "format"
    for path in ("/inventory", "/diversions", "/audit", "/clone-alerts"):
        refused = client.get(f"/api/v1{path}?format=csv", headers=who["partner"])
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_partners_page_download_holds_only_its_own_units(
    world: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, _who = world
    client.cookies.clear()
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": "u-partner", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    rows = _csv(client.get("/units?q=SN&product=TV&format=csv").content)
    assert [r["serial"] for r in rows] == ["SN000", "SN001", "SN002"]
    assert client.get("/audit?format=csv").status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_units_events_download_from_its_dossier(
    world: tuple[TestClient, dict[str, dict[str, str]]], fmt: str
) -> None:
    client, who = world
    events = _get(client, who["admin"], "/units/SN000", product="TV").json()["events"]
    answer = _get(client, who["admin"], "/units/SN000", product="TV", format=fmt)
    rows = _csv(answer.content) if fmt == "csv" else _xlsx(answer.content)
    assert [r["event_id"] for r in rows] == [e["event_id"] for e in events] and len(rows) == 5
    assert [r["type"] for r in rows] == [e["type"] for e in events]
    assert "SN000" in answer.headers["content-disposition"]
    other = client.get("/api/v1/units/SN003?format=csv", headers=who["partner"])
    assert other.status_code == 404  # another partner's unit: as its dossier answers


def test_the_dossier_page_downloads_the_units_events_in_chinese(
    world: tuple[TestClient, dict[str, dict[str, str]]], db: Database
) -> None:
    client, _who = world
    login(client, db, "admin", lang="zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    page = client.get("/units/SN000?product=TV")
    assert 'data-testid="events-export-xlsx"' in page.text
    rows = _xlsx(client.get("/units/SN000?product=TV&format=xlsx").content)
    assert list(rows[0])[:3] == ["事件编号", "事件类型", "角色"] and len(rows) == 5
    missing = client.get("/units/NOSUCH?format=csv")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_trace_results_and_recall_holders_download_as_excel_too(
    plant: tuple[TestClient, Database],
) -> None:
    client, db = plant
    csrf = login(client, db, "quality", "zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    trace = client.get("/trace/affected.csv?product=BOARD&lot=B-LOT&format=xlsx")
    affected = _xlsx(trace.content)
    assert len(affected) == 2 and {r["状态"] for r in affected} == {"在库"}
    made = client.post(
        "/recalls",
        data={
            "csrf_token": csrf,
            "code": "RC-1",
            "title": "caps",
            "product": "BOARD",
            "lot": "B-LOT",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert 'data-testid="notices-xlsx"' in client.get("/recalls/RC-1").text
    holders = _xlsx(client.get("/recalls/RC-1/notices.csv?format=xlsx").content)
    assert len(holders) == 2 and "持有方代码" in holders[0]
