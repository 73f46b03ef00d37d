"""The service case pages: the list by state and filters, the case page with its codes in the
page's language, and its note, cost and attachment forms (problems next to the field, in
Chinese on a Chinese page, nothing written); partners see only their own cases."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_party, make_product, make_units, record
from tests.pages import PASSWORD, csrf_of, field_error, login
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import CaseIn, CostIn
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.web.common import LANG_COOKIE

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
ADMIN = Actor("system-test", "admin")


@pytest.fixture(autouse=True)
def attachment_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


def _login(client: TestClient, db: Database, role: str, lang: str = "en") -> str:
    csrf = login(client, db, role, lang)
    client.cookies.set(LANG_COOKIE, lang)
    return csrf


def _world(db: Database) -> list[str]:
    """Two sold units, the default codes, and a case for each: the second one closed."""
    casework.seed_codes(db, SYSTEM)
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=40)
    serials = make_units(db, count=2, event_time=made)
    record(db, type="receive", serials=serials, location="WH1", event_time=made)
    record(db, type="sell", serials=serials, event_time=made + timedelta(days=1))
    numbers = [
        cases.open_case(db, ADMIN, CaseIn(serial=s, symptom_code="S-NOCOOL"))["number"]
        for s in serials
    ]
    casework.add_cost(
        db, ADMIN, numbers[1], CostIn(kind="labour", coverage="warranty", amount="80")
    )
    with db.write() as conn:
        case = cases.case_row(conn, numbers[1])
        cases.move(conn, case.id, "closed", "alice", datetime.now(UTC), "fixed")
    return numbers


def test_the_case_list_in_chinese_shows_the_states_and_filters_by_one(
    db: Database, client: TestClient
) -> None:
    numbers = _world(db)
    _login(client, db, "service", "zh-CN")

    every = client.get("/cases")
    closed = client.get("/cases", params={"state": "closed"})

    assert every.status_code == 200
    assert all(n in every.text for n in numbers)
    assert "待处理" in every.text and "已关闭" in every.text and "售后工单" in every.text
    assert numbers[1] in closed.text and numbers[0] not in closed.text


def test_a_bad_filter_is_told_next_to_its_field_in_chinese(
    db: Database, client: TestClient
) -> None:
    _login(client, db, "service", "zh-CN")

    answer = client.get("/cases", params={"opened_from": "yesterday", "kind": "party"})

    assert answer.status_code == 422
    assert field_error(answer.text, "opened_from") == "不是日期（YYYY-MM-DD）"
    assert "没有工单类型" in field_error(answer.text, "kind")


def test_the_case_page_names_the_symptom_in_the_pages_language(
    db: Database, client: TestClient
) -> None:
    number = _world(db)[0]

    _login(client, db, "service", "zh-CN")
    chinese = client.get(f"/cases/{number}")
    _login(client, db, "service", "en")
    english = client.get(f"/cases/{number}")

    assert chinese.status_code == english.status_code == 200
    assert "S-NOCOOL · 不制冷" in chinese.text
    assert "S-NOCOOL · Does not cool" in english.text


def test_a_note_added_on_the_page_shows_in_the_timeline(db: Database, client: TestClient) -> None:
    number = _world(db)[0]
    csrf = _login(client, db, "service", "zh-CN")

    answer = client.post(
        f"/cases/{number}/notes", data={"text": "客户来电催促", "csrf_token": csrf}
    )

    assert answer.status_code == 200  # after the redirect to the case page
    assert answer.url.path == f"/cases/{number}"
    assert "客户来电催促" in answer.text


def test_a_bad_cost_line_is_told_in_chinese_and_a_good_one_totals(
    db: Database, client: TestClient
) -> None:
    number = _world(db)[0]
    csrf = _login(client, db, "service", "zh-CN")
    bad = {"kind": "parts", "coverage": "warranty", "amount": "12.345", "currency": "CNY"}

    refused = client.post(f"/cases/{number}/costs", data=bad | {"csrf_token": csrf})
    done = client.post(f"/cases/{number}/costs", data=bad | {"amount": "12.30", "csrf_token": csrf})

    assert refused.status_code == 422
    assert field_error(refused.text, "amount") == "CNY 最多 2 位小数"
    assert 'value="12.345"' in refused.text  # the form keeps what was typed
    assert done.status_code == 200
    assert re.search(r'data-testid="total-CNY">12.30<', done.text)


def test_an_attachment_uploaded_on_the_page_downloads_and_a_wrong_file_is_told(
    db: Database, client: TestClient
) -> None:
    number = _world(db)[0]
    csrf = _login(client, db, "service", "zh-CN")

    wrong = client.post(
        f"/cases/{number}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("x.png", b"just text", "image/png")},
    )
    done = client.post(
        f"/cases/{number}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("铭牌.png", PNG, "image/png")},
    )

    assert wrong.status_code == 422
    assert field_error(wrong.text, "file") == "不是 JPEG、PNG、WEBP 照片或 PDF 文件"
    assert done.status_code == 200 and "铭牌.png" in done.text
    link = re.search(rf'href="(/cases/{number}/attachments/\d+)"', done.text)
    assert link, done.text
    got = client.get(link.group(1))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"


def test_a_closed_case_shows_its_totals_and_no_forms(db: Database, client: TestClient) -> None:
    number = _world(db)[1]
    _login(client, db, "service", "zh-CN")

    page = client.get(f"/cases/{number}").text

    assert re.search(r'data-testid="total-CNY">80.00<', page)
    assert 'data-testid="note-form"' not in page and 'data-testid="cost-form"' not in page
    assert "已关闭" in page


def test_a_reader_sees_the_case_without_its_forms(db: Database, client: TestClient) -> None:
    number = _world(db)[0]
    _login(client, db, "readonly")

    page = client.get(f"/cases/{number}")

    assert page.status_code == 200
    assert 'data-testid="note-form"' not in page.text
    assert 'data-testid="attachment-form"' not in page.text


def test_a_partner_sees_another_partners_case_as_an_unknown_one(
    db: Database, client: TestClient
) -> None:
    numbers = _world(db)  # opened by staff: no partner's
    make_party(db, "D-P", "distributor")
    access.create_user(db, SYSTEM, "u-partner", PASSWORD, "partner", "D-P")
    page = client.get("/login")
    client.post(
        "/login",
        data={"username": "u-partner", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )

    theirs = client.get(f"/cases/{numbers[0]}")
    unknown = client.get("/cases/SC-999999")
    listed = client.get("/cases")

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace(numbers[0], "§") == unknown.text.replace("SC-999999", "§")
    assert numbers[0] not in listed.text and numbers[1] not in listed.text


# --- the forms that call the case lifecycle (cases.change_state, record_step, replace_part) --


def _workshop(db: Database) -> str:
    """A sold unit with board PCB-1 inside, spare PCB-2 at service location SVC1, returns
    location RET1, and an open case at SVC1: its number."""
    make_product(db, warranty_months=24, warranty_start="sale")
    make_product(db, "PCB", rule=None)
    make_location(db)
    make_location(db, "SVC1", kind="service")
    make_location(db, "RET1", kind="returns")
    made = datetime.now(UTC) - timedelta(days=60)
    serial = make_units(db, count=1, event_time=made)[0]
    make_units(db, "PCB", count=None, serials=["PCB-1", "PCB-2"], event_time=made)
    record(db, type="receive", product="PCB", serials=["PCB-1"], location="WH1", event_time=made)
    record(db, type="receive", product="PCB", serials=["PCB-2"], location="SVC1", event_time=made)
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    parent = {"serial": serial, "product": "AC1"}
    record(db, type="assemble", product="PCB", serials=["PCB-1"], parent=parent, event_time=made)
    record(db, type="sell", serials=[serial], event_time=made + timedelta(days=1))
    case = CaseIn(serial=serial, location="SVC1", warranty_claim=False)
    return str(cases.open_case(db, ADMIN, case)["number"])


def test_a_part_replaced_on_the_page_shows_in_its_parts_and_timeline(
    db: Database, client: TestClient
) -> None:
    number = _workshop(db)
    csrf = _login(client, db, "service", "zh-CN")

    part = {"removed": "PCB-1", "installed": "PCB-2", "reason": "控制板烧毁"}
    answer = client.post(f"/cases/{number}/parts", data=part | {"csrf_token": csrf})

    assert answer.status_code == 200, answer.text
    row = re.search(r'data-testid="part-row">(.*?)</tr>', answer.text, re.S)
    assert row and "PCB-1" in row.group(1) and "PCB-2" in row.group(1)
    assert "控制板烧毁" in row.group(1)
    events = re.findall(r'class="t-event".*?<strong>(.*?)</strong>', answer.text, re.S)
    assert events, "the replace_part event is in the timeline"


def test_a_refused_replacement_is_told_on_the_page_and_writes_nothing(
    db: Database, client: TestClient
) -> None:
    number = _workshop(db)
    csrf = _login(client, db, "service", "zh-CN")

    answer = client.post(f"/cases/{number}/parts", data={"removed": "PCB-1", "csrf_token": csrf})

    assert answer.status_code == 422
    assert 'data-testid="form-error"' in answer.text
    assert 'data-testid="part-row"' not in answer.text


def test_a_step_and_the_closing_on_the_page_move_the_case(db: Database, client: TestClient) -> None:
    number = _workshop(db)
    csrf = _login(client, db, "service", "zh-CN")

    repaired = client.post(
        f"/cases/{number}/steps", data={"action": "repair", "note": "更换电容", "csrf_token": csrf}
    )
    no_outcome = client.post(
        f"/cases/{number}/state", data={"to": "closed", "from_state": "open", "csrf_token": csrf}
    )
    closing = {"to": "closed", "outcome": "resolved", "from_state": "open"}
    closed = client.post(f"/cases/{number}/state", data=closing | {"csrf_token": csrf})
    stale = client.post(
        f"/cases/{number}/state", data={"to": "diagnosed", "from_state": "open", "csrf_token": csrf}
    )

    assert repaired.status_code == 200, repaired.text
    assert "更换电容" in repaired.text
    assert no_outcome.status_code == 422 and field_error(no_outcome.text, "outcome")
    assert closed.status_code == 200
    assert re.search(r'data-testid="case-state">已关闭<', closed.text)
    assert re.search(r'data-testid="case-outcome">已解决<', closed.text)
    assert 'data-testid="state-form"' not in closed.text
    assert stale.status_code == 409


def test_the_lifecycle_forms_show_only_for_a_role_that_may_use_them(
    db: Database, client: TestClient
) -> None:
    number = _workshop(db)
    _login(client, db, "service")
    page = client.get(f"/cases/{number}").text
    assert 'data-testid="part-form"' in page and 'data-testid="step-form"' in page

    _login(client, db, "readonly")
    page = client.get(f"/cases/{number}").text
    assert 'data-testid="state-form"' not in page and 'data-testid="part-form"' not in page


def test_the_audit_trail_names_a_case_s_records_in_chinese(
    db: Database, client: TestClient
) -> None:
    number = _world(db)[0]
    _login(client, db, "admin", "zh-CN")

    page = client.get(f"/audit?entity=case&key={number}")

    assert page.status_code == 200
    rows = page.text.split('data-testid="audit-table"')[1]
    assert "工单号" in rows and "维修" in rows and "待处理" in rows  # number, kind, state
    assert "通过" in rows  # the claim checks, counted by result
    for code in ("repair", ">open<", "opened_by", "warranty_claim", "批次号"):
        assert code not in rows
