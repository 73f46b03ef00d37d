"""The service desk page (/service): a scanned or typed serial answered in one look — the
warranty verdict in words, the claim checks, the unit's cases — and the form that opens a case;
refusals next to the form with every check, a serial we never made as possibly counterfeit, a
partner only on its own units, the form and its override field only for the roles that may."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from tests.factories import make_location, make_party, make_product, make_units, record
from tests.pages import csrf_of, field_error, login
from unitrace.aftersales import cases
from unitrace.aftersales.schemas import CaseIn
from unitrace.aftersales.warranty import add_months
from unitrace.api.app import create_app
from unitrace.config import site_timezone
from unitrace.db.engine import Database
from unitrace.db.tables import service_cases

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def sold(db: Database, months_ago: int, count: int = 1, party: str | None = None) -> list[str]:
    """Units of AC1 (24 months from sale) sold `months_ago` months ago, through `party` when
    given (shipped to it first)."""
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=31 * months_ago + 5)
    serials = make_units(db, count=count, event_time=made)
    record(db, type="receive", serials=serials, location="WH1", event_time=made)
    if party is not None:
        record(db, type="ship", serials=serials, party=party, event_time=made)
        record(db, type="deliver", serials=serials, event_time=made)
    at = datetime.now(UTC) - timedelta(days=31 * months_ago)
    record(db, type="sell", serials=serials, event_time=at)
    return serials


def local_day(months_ago: int) -> str:
    at = datetime.now(UTC) - timedelta(days=31 * months_ago)
    return at.astimezone(site_timezone()).date().isoformat()


def open_form(client: TestClient, serial: str, lang: str = "en", **fields: str) -> Response:
    page = client.get("/service", params={"serial": serial}, headers={"Accept-Language": lang})
    assert 'data-testid="open-case"' in page.text, page.text[:2000]
    form = {
        "csrf_token": csrf_of(page.text),
        "serial": serial,
        "product": "AC1",
        "kind": "repair",
        "warranty_claim": "1",
    } | fields
    return client.post(
        "/service/cases", data=form, headers={"Accept-Language": lang}, follow_redirects=False
    )


def cases_of(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(service_cases)).scalar_one())


def test_an_expired_unit_is_shown_out_of_warranty_in_chinese_with_its_policy_and_sale(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=25)[0]
    login(client, db, "service", "zh-CN")

    page = client.get("/service", params={"serial": serial}, headers=ZH)

    assert page.status_code == 200, page.text
    verdict = re.search(r'data-testid="desk-warranty"[^>]*>([^<]+)<', page.text)
    assert verdict, page.text[:3000]
    end = add_months(date.fromisoformat(local_day(25)), 24)
    assert verdict.group(1) == f"已过保（{end.isoformat()} 到期）"
    assert "24 个月，自销售日起" in page.text
    started = re.search(r'data-testid="desk-started">([^<]+)<', page.text)
    assert started and started.group(1).startswith("销售 · ")
    assert "保修已于" in page.text  # the warranty check's reason, in Chinese
    assert 'data-check="warranty"' in page.text


def test_a_unit_in_warranty_is_shown_in_warranty_until_its_end(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=2)[0]
    login(client, db, "service")

    page = client.get("/service", params={"serial": serial}).text

    assert re.search(r'data-testid="desk-warranty"[^>]*>in warranty until \d{4}-\d\d-\d\d<', page)
    assert 'class="status r-refuse"' not in page


def test_a_serial_we_never_made_is_answered_as_possibly_counterfeit(
    client: TestClient, db: Database
) -> None:
    login(client, db, "service", "zh-CN")

    page = client.get("/service", params={"serial": "FAKE-0001"}, headers=ZH)

    assert page.status_code == 200
    assert 'data-testid="desk-unknown"' in page.text and "可能是假冒产品" in page.text
    assert 'data-testid="open-case"' not in page.text


def test_opening_a_case_at_the_desk_leads_to_the_case_page_and_lists_it_there_after(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=2)[0]
    make_location(db, "SVC1", kind="service")
    login(client, db, "service")

    answer = open_form(client, serial, location="SVC1", reporter_contact="王先生 138")

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/cases/SC-000001"
    page = client.get("/service", params={"serial": serial}).text
    assert 'href="/cases/SC-000001"' in page
    assert "case SC-000001 is already open for this unit" in page


def test_a_refused_claim_shows_every_refusing_check_by_the_form_and_opens_nothing(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=26)[0]
    login(client, db, "admin")
    assert open_form(client, serial, override_reason="goodwill").status_code == 303
    login(client, db, "service", "zh-CN")

    refused = open_form(client, serial, "zh-CN")

    assert refused.status_code == 409
    shown = re.search(r'data-testid="refused-checks">(.*?)</ul>', refused.text, re.S)
    assert shown, refused.text[:3000]
    assert "保修已于" in shown.group(1) and "SC-000001" in shown.group(1)
    assert 'role="alert"' in refused.text
    assert ">维修</option>" in refused.text  # the form's words in the page's language too
    assert cases_of(db) == 1


def test_bad_fields_are_named_next_to_the_form_in_the_users_language(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=2)[0]
    make_location(db, "SVC1", kind="service")
    login(client, db, "service", "zh-CN")

    answer = open_form(client, serial, "zh-CN", symptom_code="NOPE", location="NO-SUCH")

    assert answer.status_code == 422, answer.text
    assert "NOPE" in field_error(answer.text, "symptom_code")
    assert field_error(answer.text, "location")
    assert cases_of(db) == 0


def test_only_a_role_that_may_override_is_offered_the_override_and_it_opens_the_claim(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=26)[0]
    login(client, db, "service")
    assert 'data-testid="case-override"' not in client.get(f"/service?serial={serial}").text

    login(client, db, "admin")
    assert 'data-testid="case-override"' in client.get(f"/service?serial={serial}").text
    answer = open_form(client, serial, override_reason="goodwill for a hotel chain")

    assert answer.status_code == 303, answer.text
    with db.read() as conn:
        reason = conn.execute(select(service_cases.c.override_reason)).scalar_one()
    assert reason == "goodwill for a hotel chain"


def test_a_partner_sees_its_own_units_and_anothers_unit_looks_unknown(
    client: TestClient, db: Database
) -> None:
    make_party(db, "D-P")
    make_party(db, "D-OTHER")
    own = sold(db, months_ago=2, party="D-P")[0]
    theirs = make_units(db, count=1)[0]
    record(db, type="receive", serials=[theirs], location="WH1")
    record(db, type="ship", serials=[theirs], party="D-OTHER")
    from tests.pages import PASSWORD
    from unitrace.access import service as access
    from unitrace.access.principal import SYSTEM

    access.create_user(db, SYSTEM, "u-partner", PASSWORD, "partner", "D-P")
    page = client.get("/login")
    client.post(
        "/login",
        data={"username": "u-partner", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )

    staff = cases.open_case(db, SYSTEM, CaseIn(serial=own, warranty_claim=False))["number"]
    mine = client.get("/service", params={"serial": own}).text
    other = client.get("/service", params={"serial": theirs}).text
    unknown = client.get("/service", params={"serial": "NO-SUCH-9"}).text

    assert 'data-testid="open-case"' in mine and 'name="location"' not in mine
    assert 'data-testid="desk-no-cases"' in mine  # a partner sees the cases it opened, not ours
    assert f'href="/cases/{staff}"' not in mine
    assert other.replace(theirs, "X") == unknown.replace("NO-SUCH-9", "X")
    assert "D-OTHER" not in other


def test_the_desk_is_listed_for_the_roles_that_open_cases_and_offers_them_the_form(
    client: TestClient, db: Database
) -> None:
    serial = sold(db, months_ago=2)[0]
    for role, listed in (
        ("service", True),
        ("admin", True),
        ("warehouse", False),
        ("readonly", False),
    ):
        login(client, db, role)
        home = client.get("/").text
        assert ('href="/service"' in home) is listed, role
        page = client.get("/service", params={"serial": serial})
        assert page.status_code == 200, role
        assert ('data-testid="open-case"' in page.text) is listed, role
