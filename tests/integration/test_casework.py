"""What a person sees of a service case and adds to it: the case list and its filters, one case
with its timeline and codes in both languages, notes, cost lines with their totals, attachments
checked by content and size, and the symptom/defect code list."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import casework
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, service_cases

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def attachment_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _units(db: Database, count: int = 3) -> list[str]:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=60)
    serials = make_units(db, count=count, event_time=made)
    record(db, type="receive", serials=serials, location="WH1", event_time=made)
    record(db, type="sell", serials=serials, event_time=made + timedelta(days=1))
    return serials


def _open(api: Api, serial: str, **extra: object) -> str:
    answer = api.post("/cases", {"serial": serial, **extra})
    assert answer.status_code == 201, answer.text
    number: str = answer.json()["number"]
    return number


def _seed(db: Database) -> None:
    casework.seed_codes(db, SYSTEM)


# --- the list ----------------------------------------------------------------------------------


def test_the_case_list_filters_by_state_open_meaning_every_open_state(
    db: Database, api: Api
) -> None:
    a, b, c = _units(db)
    first, second, third = _open(api, a), _open(api, b, kind="return"), _open(api, c)
    with db.write() as conn:  # the third closed, the second diagnosed
        conn.execute(
            service_cases.update().where(service_cases.c.number == third).values(state="closed")
        )
        conn.execute(
            service_cases.update().where(service_cases.c.number == second).values(state="diagnosed")
        )

    every = api.get("/cases").json()
    open_ones = api.get("/cases", state="open").json()
    two = api.get("/cases", state=["diagnosed", "closed"]).json()
    comma = api.get("/cases", state="open,closed").json()
    returns = api.get("/cases", kind="return").json()

    assert every["total"] == 3
    assert [i["number"] for i in every["items"]] == [third, second, first]  # newest first
    assert {i["number"] for i in open_ones["items"]} == {first, second}
    assert {i["number"] for i in two["items"]} == {second, third}
    assert comma["total"] == 3
    assert [i["number"] for i in returns["items"]] == [second]
    assert open_ones["by_state"] == {
        "open": 1,
        "diagnosed": 1,
        "waiting_for_parts": 0,
        "in_repair": 0,
        "testing": 0,
        "closed": 1,
    }


def test_the_case_list_finds_by_number_or_serial_and_pages(db: Database, api: Api) -> None:
    serials = _units(db, 3)
    numbers = [_open(api, s, warranty_claim=False) for s in serials]

    by_serial = api.get("/cases", q=serials[1]).json()
    by_number = api.get("/cases", q=numbers[2].lower()).json()
    page = api.get("/cases", limit=2, offset=2).json()

    assert [i["number"] for i in by_serial["items"]] == [numbers[1]]
    assert by_serial["items"][0]["serial"] == serials[1]
    assert [i["number"] for i in by_number["items"]] == [numbers[2]]
    assert page["total"] == 3 and [i["number"] for i in page["items"]] == [numbers[0]]


def test_the_case_list_filters_by_claim_product_party_and_opening_day(
    db: Database, api: Api
) -> None:
    a, b, _c = _units(db)
    make_party(db, "C-1", kind="customer")
    claim = _open(api, a, reporter_party="C-1")
    plain = _open(api, b, warranty_claim=False)
    today = datetime.now(UTC).date()

    claims = api.get("/cases", warranty_claim="true").json()
    not_claims = api.get("/cases", warranty_claim="false").json()
    reporter = api.get("/cases", party="C-1").json()
    product = api.get("/cases", product="AC1").json()
    other_product = api.get("/cases", product="NOPE").json()
    later = api.get("/cases", opened_from=(today + timedelta(days=2)).isoformat()).json()
    around = api.get(
        "/cases",
        opened_from=(today - timedelta(days=1)).isoformat(),
        opened_to=(today + timedelta(days=1)).isoformat(),
    ).json()

    assert [i["number"] for i in claims["items"]] == [claim]
    assert [i["number"] for i in not_claims["items"]] == [plain]
    assert [i["number"] for i in reporter["items"]] == [claim]
    assert product["total"] == 2 and other_product["total"] == 0
    assert later["total"] == 0 and around["total"] == 2


def test_the_case_list_names_every_bad_filter_at_once(api: Api) -> None:
    answer = api.get("/cases", state=["broken", "open,lost"], kind="nope", limit=0, offset=-1)

    body = assert_problem(answer, 422)
    assert [e["field"] for e in body["errors"]] == ["state", "state", "kind", "limit", "offset"]
    assert "broken" in body["errors"][0]["message"]


# --- one case ----------------------------------------------------------------------------------


def test_a_case_shows_its_unit_codes_in_both_languages_and_its_timeline(
    db: Database, api: Api
) -> None:
    _seed(db)
    serial = _units(db, 1)[0]
    number = _open(api, serial, symptom_code="S-NOCOOL", description="warm air")
    api.post(f"/cases/{number}/diagnosis", {"defect_code": "D-PCB", "note": "board burnt"})
    # a step of the case on the ledger, from any edge: naming the case links it (cases' step)
    done = record(
        db, type="repair", serials=[serial], biz_transactions=[{"type": "rma", "id": number}]
    )

    answer = api.get(f"/cases/{number}")

    assert answer.status_code == 200, answer.text
    case = answer.json()
    assert case["unit"]["serial"] == serial and case["unit"]["product"] == "AC1"
    assert case["symptom"] == {
        "code": "S-NOCOOL",
        "kind": "symptom",
        "name_en": "Does not cool",
        "name_zh": "不制冷",
        "active": True,
    }
    assert case["defect"]["name_zh"] == "控制板故障"
    assert case["state"] == "diagnosed"
    kinds = [(t["kind"], t["to_state"]) for t in case["timeline"]]
    assert kinds == [("state", "open"), ("state", "diagnosed"), ("event", None)]
    assert case["timeline"][-1]["event"]["event_id"] == done.event_id
    assert case["timeline"][-1]["event"]["type"] == "repair"
    assert case["next_states"] and "closed" in case["next_states"]


def test_an_unknown_case_is_not_found(api: Api) -> None:
    assert_problem(api.get("/cases/SC-999999"), 404)


# --- notes and costs ---------------------------------------------------------------------------


def test_a_note_goes_into_the_timeline_and_the_audit_trail(db: Database, api: Api) -> None:
    number = _open(api, _units(db, 1)[0])

    answer = api.post(f"/cases/{number}/notes", {"text": "customer called again"})

    assert answer.status_code == 201, answer.text
    last = answer.json()["timeline"][-1]
    assert (last["kind"], last["text"], last["by"]) == ("note", "customer called again", "alice")
    with db.read() as conn:
        actions = conn.execute(
            select(audit_log.c.action).where(audit_log.c.entity_key == number)
        ).scalars()
        assert "note" in list(actions)


def test_cost_lines_are_kept_in_minor_units_and_totalled_per_currency_and_coverage(
    db: Database, api: Api
) -> None:
    number = _open(api, _units(db, 1)[0])
    lines = [
        {"kind": "parts", "coverage": "warranty", "amount": "128.50"},
        {"kind": "labour", "coverage": "warranty", "amount": "80"},
        {"kind": "shipping", "coverage": "chargeable", "amount": "15.5", "currency": "CNY"},
        {"kind": "labour", "coverage": "goodwill", "amount": "1000", "currency": "jpy"},
    ]
    for line in lines:
        answer = api.post(f"/cases/{number}/costs", line)
        assert answer.status_code == 201, answer.text

    case = api.get(f"/cases/{number}").json()

    assert [c["amount_minor"] for c in case["costs"]] == [12850, 8000, 1550, 1000]
    assert [c["currency"] for c in case["costs"]] == ["CNY", "CNY", "CNY", "JPY"]
    assert case["totals"] == [
        {
            "currency": "CNY",
            "total": "224.00",
            "total_minor": 22400,
            "coverage": {"warranty": "208.50", "chargeable": "15.50", "goodwill": "0.00"},
        },
        {
            "currency": "JPY",
            "total": "1000",
            "total_minor": 1000,
            "coverage": {"warranty": "0", "chargeable": "0", "goodwill": "1000"},
        },
    ]


def test_a_bad_cost_line_names_every_field_and_writes_nothing(db: Database, api: Api) -> None:
    number = _open(api, _units(db, 1)[0])

    answers = [
        api.post(
            f"/cases/{number}/costs",
            {"kind": "parts", "coverage": "warranty", "amount": "12.345", "currency": "XXQ"},
        ),
        api.post(
            f"/cases/{number}/costs", {"kind": "parts", "coverage": "warranty", "amount": "-3"}
        ),
        api.post(
            f"/cases/{number}/costs", {"kind": "parts", "coverage": "warranty", "amount": "ten"}
        ),
        api.post(f"/cases/{number}/costs", {"kind": "food", "coverage": "free", "amount": "1"}),
        api.post(
            f"/cases/{number}/costs",
            {"kind": "parts", "coverage": "warranty", "amount": "1.001", "currency": "CNY"},
        ),
    ]

    fields = [{e["field"] for e in assert_problem(a, 422)["errors"]} for a in answers]
    assert fields == [{"currency"}, {"amount"}, {"amount"}, {"kind", "coverage"}, {"amount"}]
    assert api.get(f"/cases/{number}").json()["costs"] == []


def test_nothing_is_added_to_a_closed_case(db: Database, api: Api) -> None:
    number = _open(api, _units(db, 1)[0])
    with db.write() as conn:
        conn.execute(
            service_cases.update().where(service_cases.c.number == number).values(state="closed")
        )

    answer = api.post(f"/cases/{number}/notes", {"text": "late"})

    assert_problem(answer, 409)


def test_a_reader_may_see_cases_but_not_add_to_them(db: Database, api: Api) -> None:
    number = _open(api, _units(db, 1)[0])

    assert api.get(f"/cases/{number}", headers=api.reader).status_code == 200
    refused = api.post(f"/cases/{number}/notes", {"text": "hi"}, headers=api.reader)

    assert_problem(refused, 403)


# --- attachments -------------------------------------------------------------------------------


def _upload(api: Api, number: str, name: str, content: bytes, kind: str = "image/png"):  # type: ignore[no-untyped-def]
    return api.client.post(
        f"/api/v1/cases/{number}/attachments",
        files={"file": (name, content, kind)},
        headers=api.admin,
    )


def test_a_photo_is_stored_by_its_hash_and_downloaded_with_its_type_and_name(
    db: Database, api: Api, attachment_home: Path
) -> None:
    number = _open(api, _units(db, 1)[0])

    stored = _upload(api, number, "../铭牌 photo.png", PNG, "application/octet-stream")

    assert stored.status_code == 201, stored.text
    item = stored.json()
    assert item["content_type"] == "image/png"  # by its content, not what the client said
    assert item["name"] == "铭牌 photo.png"  # no folders
    assert (attachment_home / "attachments" / item["sha256"][:2]).is_dir()
    got = api.client.get(f"/api/v1/cases/{number}/attachments/{item['id']}", headers=api.admin)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E9%93%AD%E7%89%8C%20photo.png" in got.headers["content-disposition"]
    case = api.get(f"/cases/{number}").json()
    assert [a["name"] for a in case["attachments"]] == ["铭牌 photo.png"]
    assert case["timeline"][-1]["kind"] == "attachment"


def test_the_same_file_twice_is_stored_once(db: Database, api: Api, attachment_home: Path) -> None:
    number = _open(api, _units(db, 1)[0])

    _upload(api, number, "a.pdf", PDF, "application/pdf")
    second = _upload(api, number, "b.pdf", PDF, "application/pdf")

    assert second.status_code == 201 and second.json()["content_type"] == "application/pdf"
    files = [p for p in (attachment_home / "attachments").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert len(api.get(f"/cases/{number}").json()["attachments"]) == 2


def test_a_file_that_is_not_a_photo_or_pdf_is_refused_whatever_its_name(
    db: Database, api: Api
) -> None:
    number = _open(api, _units(db, 1)[0])

    html = _upload(api, number, "x.png", b"<html><script>alert(1)</script></html>", "image/png")
    empty = _upload(api, number, "e.png", b"")

    assert_problem(html, 422, "file")
    assert_problem(empty, 422, "file")
    assert api.get(f"/cases/{number}").json()["attachments"] == []


def test_a_file_over_the_size_limit_is_refused_with_413(
    db: Database, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = _open(api, _units(db, 1)[0])
    monkeypatch.setenv("UNITRACE_ATTACHMENT_MAX_BYTES", str(len(PNG) - 1))

    answer = _upload(api, number, "big.png", PNG)

    body = assert_problem(answer, 413, "file")
    assert "UNITRACE_ATTACHMENT_MAX_BYTES" in body["detail"]
    assert api.get(f"/cases/{number}").json()["attachments"] == []


def test_an_attachment_of_another_case_is_not_found(db: Database, api: Api) -> None:
    a, b = _units(db, 2)
    first, second = _open(api, a), _open(api, b)
    item = _upload(api, first, "p.png", PNG).json()

    got = api.client.get(f"/api/v1/cases/{second}/attachments/{item['id']}", headers=api.admin)

    assert_problem(got, 404)


# --- partners ----------------------------------------------------------------------------------


@pytest.fixture
def partners(db: Database, api: Api) -> Iterator[tuple[TestClient, dict[str, str], str, str]]:
    """Partner A and B each with a unit they hold and one case each: A's token, the numbers."""
    make_product(db, "PX", rule=None, warranty_months=24, warranty_start="sale")
    make_location(db)
    for code in ("D-A", "D-B"):
        make_party(db, code)
    made = datetime.now(UTC) - timedelta(days=30)
    ua, ub = make_units(db, "PX", None, serials=["PA-1", "PB-1"], event_time=made)
    record(db, type="receive", serials=[ua, ub], location="WH1", event_time=made)
    record(db, type="ship", serials=[ua], party="D-A", event_time=made)
    record(db, type="ship", serials=[ub], party="D-B", event_time=made)
    record(db, type="deliver", serials=[ua, ub], event_time=made + timedelta(hours=1))
    record(db, type="sell", serials=[ua, ub], event_time=made + timedelta(days=1))
    tokens = {}
    for user, party in (("pa", "D-A"), ("pb", "D-B")):
        access.create_user(db, SYSTEM, user, "correct horse battery", "partner", party)
        tokens[user] = {
            "Authorization": "Bearer " + access.create_token(db, SYSTEM, user, "t")["token"]
        }
    a = api.client.post("/api/v1/cases", json={"serial": ua}, headers=tokens["pa"])
    b = api.client.post("/api/v1/cases", json={"serial": ub}, headers=tokens["pb"])
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    yield api.client, tokens["pa"], a.json()["number"], b.json()["number"]


def test_a_partner_lists_and_opens_only_its_own_cases(
    partners: tuple[TestClient, dict[str, str], str, str],
) -> None:
    client, token, own, theirs = partners

    listed = client.get("/api/v1/cases", headers=token).json()
    mine = client.get(f"/api/v1/cases/{own}", headers=token)
    other = client.get(f"/api/v1/cases/{theirs}", headers=token)
    unknown = client.get("/api/v1/cases/SC-999999", headers=token)
    by_serial = client.get("/api/v1/cases", params={"q": "PB-1"}, headers=token).json()

    assert [i["number"] for i in listed["items"]] == [own] and listed["total"] == 1
    assert mine.status_code == 200 and mine.json()["location"] is None
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(theirs, "§") == unknown.json()["detail"].replace(
        "SC-999999", "§"
    )
    assert by_serial["total"] == 0


def test_a_partner_cannot_add_to_another_partners_case(
    partners: tuple[TestClient, dict[str, str], str, str],
) -> None:
    client, token, own, theirs = partners

    to_own = client.post(f"/api/v1/cases/{own}/notes", json={"text": "ok"}, headers=token)
    to_theirs = client.post(f"/api/v1/cases/{theirs}/notes", json={"text": "x"}, headers=token)
    cost = client.post(
        f"/api/v1/cases/{theirs}/costs",
        headers=token,
        json={"kind": "parts", "coverage": "warranty", "amount": "1"},
    )

    assert to_own.status_code == 201
    assert to_theirs.status_code == cost.status_code == 404


# --- service codes -----------------------------------------------------------------------------


def test_service_codes_are_added_changed_and_listed_with_both_names(db: Database, api: Api) -> None:
    made = api.post(
        "/service-codes",
        {"code": "S-SMELL", "kind": "symptom", "name_en": "Burning smell", "name_zh": "焦味"},
    )
    again = api.post(
        "/service-codes", {"code": "S-SMELL", "kind": "symptom", "name_en": "x", "name_zh": "y"}
    )
    changed = api.client.patch(
        "/api/v1/service-codes/S-SMELL", json={"active": False}, headers=api.admin
    )
    unknown = api.client.patch("/api/v1/service-codes/NOPE", json={}, headers=api.admin)

    assert made.status_code == 201, made.text
    assert_problem(again, 409, "code")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert_problem(unknown, 404)
    listed = api.get("/service-codes").json()
    assert listed == [
        {
            "code": "S-SMELL",
            "kind": "symptom",
            "name_en": "Burning smell",
            "name_zh": "焦味",
            "active": False,
        }
    ]
    assert api.get("/service-codes", active="true").json() == []


def test_a_reader_may_list_codes_but_not_add_them(api: Api) -> None:
    refused = api.post(
        "/service-codes",
        {"code": "S-X", "kind": "symptom", "name_en": "x", "name_zh": "x"},
        headers=api.reader,
    )

    assert_problem(refused, 403)
    assert api.get("/service-codes", headers=api.reader).status_code == 200


def test_seeding_the_default_codes_twice_adds_them_once(db: Database, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("service-codes", "seed")
    second = cli("service-codes", "seed")
    listed = cli("service-codes", "list", "--json")

    assert first.exit_code == 0, first.output
    assert f"{len(casework.DEFAULT_CODES)} service codes added" in first.output
    assert "0 service codes added" in second.output
    assert "无法开机" in listed.output


def test_adding_a_code_by_cli_names_a_bad_kind(db: Database, cli) -> None:  # type: ignore[no-untyped-def]
    bad = cli("service-codes", "add", "S-1", "--kind", "colour", "--en", "x", "--zh", "y")
    good = cli("service-codes", "add", "S-1", "--kind", "symptom", "--en", "x", "--zh", "叉")

    assert bad.exit_code == 2 and "kind" in bad.output
    assert good.exit_code == 0, good.output


def test_the_app_serves_cases_with_a_fresh_client(db: Database) -> None:
    """No state of another test: the list answers on an empty database."""
    access.create_user(db, SYSTEM, "zed", "correct horse battery", "service")
    token = access.create_token(db, SYSTEM, "zed", "t")["token"]
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        got = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert got.json()["items"] == [] and got.json()["total"] == 0
