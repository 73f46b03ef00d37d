"""unitrace answers its own GS1 Digital Link URIs (issue 15): GET /01/{gtin}[/10/{lot}][/21/
{serial}][?17=…] with no login — a product page for people (zh-CN or English), a GS1 linkset
(RFC 9264) for machines asking for application/linkset+json; the GTIN in any length; one 404
for an unknown GTIN, serial or lot; nothing of the unit's journey (holder, location, events)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.clients import call
from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate, PartyCreate
from unitrace.config import Limits
from unitrace.db.engine import Database

GTIN14 = "09506000134352"
GTIN13 = "9506000134352"
UNIT = f"/01/{GTIN14}/21/ABC123"
LINKSET = {"Accept": "application/linkset+json"}
# what the unit's journey would show if it leaked
SECRET_HOLDER = "Shenzhen Secret Distribution Co"
SECRET_PLACE = "Hidden Warehouse Nine"


@pytest.fixture
def public(db: Database) -> Iterator[TestClient]:
    make_product(
        db, "AC1", rule=None, gtin=GTIN13, name="Risotto rice", description="Arborio, 1 kg"
    )
    make_lot(db, "AC1", "L1", expiry_date=date(2027, 12, 31))
    catalog.create_location(
        db, SYSTEM, LocationCreate(code="WH9", name=SECRET_PLACE, kind="warehouse")
    )
    catalog.create_party(
        db, SYSTEM, PartyCreate(code="D-SECRET", name=SECRET_HOLDER, kind="distributor")
    )
    make_units(db, "AC1", None, serials=["ABC123", "OTHER-1"], lot="L1")
    record(db, type="receive", product="AC1", serials=["ABC123"], location="WH9")
    record(db, type="ship", product="AC1", serials=["ABC123"], party="D-SECRET")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _main(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def test_the_page_needs_no_login_and_speaks_english(public: TestClient) -> None:
    page = public.get(UNIT, headers={"Accept-Language": "en"}, follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ("Risotto rice", "Arborio, 1 kg", GTIN14, "ABC123", "L1", "2027-12-31"):
        assert text in _main(page.text)
    assert "Product information" in page.text and 'lang="en"' in page.text
    assert 'name="viewport" content="width=device-width' in page.text  # a phone's page
    assert 'data-testid="nav"' not in page.text  # no header of pages: nobody logged in


def test_the_page_speaks_chinese_by_accept_language_or_cookie(public: TestClient) -> None:
    by_header = public.get(UNIT, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "产品信息" in by_header.text and "批次号" in by_header.text
    assert 'lang="zh-CN"' in by_header.text
    assert "Product information" not in by_header.text
    public.cookies.set("unitrace_lang", "zh-CN")
    by_cookie = public.get(UNIT, headers={"Accept-Language": "en"})
    assert "产品信息" in by_cookie.text


def test_nothing_of_the_units_journey_is_shown(public: TestClient) -> None:
    answers = [public.get(UNIT), public.get(UNIT, headers=LINKSET)]
    for answer in answers:
        assert answer.status_code == 200
        for secret in (SECRET_HOLDER, SECRET_PLACE, "D-SECRET", "WH9", "ship", "receive"):
            assert secret not in answer.text, secret


def test_the_linkset_follows_rfc_9264_and_gs1(public: TestClient) -> None:
    answer = public.get(UNIT, headers=LINKSET)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/linkset+json"
    body = answer.json()
    assert list(body) == ["linkset"] and len(body["linkset"]) == 1
    context = body["linkset"][0]
    assert context["anchor"] == f"https://id.gs1.org{UNIT}"
    for link_type in ("https://gs1.org/voc/pip", "https://gs1.org/voc/defaultLink"):
        (link,) = context[link_type]
        assert link["href"] == f"http://testserver{UNIT}"
        assert link["type"] == "text/html" and link["title"] == "Risotto rice"
        assert set(link["hreflang"]) == {"en", "zh-CN"}
    link_header = answer.headers["link"]
    assert f'<http://testserver{UNIT}>; rel="https://gs1.org/voc/pip"' in link_header
    assert 'rel="linkset"; type="application/linkset+json"' in link_header
    assert public.get(UNIT + "?linkType=all").json() == body  # the resolver's query form
    assert "link" in public.get(UNIT).headers  # the page says where its linkset is


def test_a_gtin_13_and_its_gtin_14_form_resolve_the_same(public: TestClient) -> None:
    short, full = f"/01/{GTIN13}/21/ABC123", UNIT
    assert public.get(short, headers=LINKSET).json() == public.get(full, headers=LINKSET).json()
    assert _main(public.get(short).text) == _main(public.get(full).text)
    assert public.get(f"/01/{GTIN13}").status_code == 200


def test_product_and_lot_links_and_the_key_qualifier_order(public: TestClient) -> None:
    product = public.get(f"/01/{GTIN14}")
    assert product.status_code == 200 and "Risotto rice" in product.text
    assert "ABC123" not in _main(product.text)
    lot = public.get(f"/01/{GTIN14}/10/L1")
    assert lot.status_code == 200 and "2027-12-31" in lot.text
    full = public.get(f"/01/{GTIN14}/10/L1/21/ABC123?17=271231", headers=LINKSET)
    assert full.status_code == 200
    assert full.json()["linkset"][0]["anchor"].endswith("/10/L1/21/ABC123?17=271231")
    assert public.get(f"/01/{GTIN14}/21/ABC123?17=271231").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/01/09506000134369/21/ABC123",  # a GTIN nobody has (valid check digit)
        f"/01/{GTIN14}/21/NO-SUCH-SERIAL",
        f"/01/{GTIN14}/10/NO-SUCH-LOT",
        f"/01/{GTIN14}/10/L2/21/ABC123",  # the unit is of lot L1
        f"/01/{GTIN14}/21/ABC123?17=281231",  # its lot expires 2027-12-31
    ],
)
def test_anything_unknown_is_one_404(public: TestClient, url: str) -> None:
    reference = public.get("/01/09506000134369/21/ABC123", headers=LINKSET)
    answer = public.get(url, headers=LINKSET)
    assert answer.status_code == 404 and answer.content == reference.content
    assert answer.headers["content-type"] == "application/problem+json"
    page, reference_page = public.get(url), public.get("/01/09506000134369/21/ABC123")
    assert page.status_code == 404
    assert _main(page.text) == _main(reference_page.text)
    assert re.sub(r'name="back" value="[^"]*"', "", page.text) == re.sub(
        r'name="back" value="[^"]*"', "", reference_page.text
    )


@pytest.mark.parametrize(
    "url", [f"/01/{GTIN14[:-1]}9/21/ABC123", "/01/12345", "/01/", f"/01/{GTIN14}/99/x"]
)
def test_a_link_that_is_not_a_gs1_digital_link_is_400(public: TestClient, url: str) -> None:
    assert public.get(url).status_code == 400
    answer = public.get(url, headers=LINKSET)
    assert answer.status_code == 400 and answer.json()["status"] == 400


def test_a_serial_with_a_slash_resolves(db: Database) -> None:
    make_product(db, "AC1", rule=None, gtin=GTIN14)
    make_party(db)
    make_location(db)
    make_units(db, "AC1", None, serials=["A/1"])
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        answer = client.get(f"/01/{GTIN14}/21/A%2F1")
    assert answer.status_code == 200 and "A/1" in answer.text


def test_the_public_links_are_rate_limited_per_client_address(db: Database) -> None:
    make_product(db, "AC1", rule=None, gtin=GTIN14)
    app = create_app(db, Limits(rate_per_token=0, rate_per_address=0.01, burst_per_address=3))
    answers = [call(app, "GET", f"/01/{GTIN14}/21/GUESS-{n}")[0] for n in range(4)]
    assert answers == [404, 404, 404, 429]  # nobody walks through the serials unchecked
    assert call(app, "GET", f"/01/{GTIN14}", client=("192.0.2.99", 1))[0] == 200
    assert call(app, "GET", "/login")[0] == 200  # the pages behind a login are not counted
