"""Partner isolation, the read side: what a partner user sees through every GET operation of the
API and every page.

Two distributors, A and B, each with units, a lot, a customer, a location, a carton on a
pallet and events; and a unit (HB-1) that went to A, came back, went to B and was sold by B.
For every GET operation (taken from the OpenAPI schema, so a new one is covered as soon as it
exists) and every page (taken from `app.routes`), a partner of A asks for each of B's things
and for a thing that does not exist: the two answers must be the same, status and body, once
the name asked for is blanked out. And A's dossier of HB-1 shows A's time with it only.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import CaseIn
from unitrace.api.app import API_PREFIX, create_app
from unitrace.catalog.service import party_id
from unitrace.channel import service as channel
from unitrace.channel import stocktake
from unitrace.config import Limits
from unitrace.db.engine import Database
from unitrace.production import recall
from unitrace.production.schemas import RecallIn, TraceQuery
from unitrace.verify.public import reset_limits

PASSWORD = "correct horse battery"

# B's things, each with a name of the same kind that does not exist
B_THINGS = {
    "serial": ("SN-B-SECRET-1", "SN-Z-NOSUCH-1"),
    "sold serial": ("SN-B-SECRET-4", "SN-Z-NOSUCH-4"),
    "lot": ("LOT-B-SECRET", "LOT-Z-NOSUCH"),
    "party": ("D-B-SECRET", "D-Z-NOSUCH"),
    "customer": ("CUST-B-SECRET", "CUST-Z-NOSUCH"),
    "location": ("LOC-B-SECRET", "LOC-Z-NOSUCH"),
    "carton": ("CTN-B-SECRET", "CTN-Z-NOSUCH"),
    "pallet": ("PAL-B-SECRET", "PAL-Z-NOSUCH"),
    "event id": ("EV-B-SECRET", "EV-Z-NOSUCH"),
    "event id of HB-1": ("EV-B-HB1-SELL", "EV-Z-HB1-NOSUCH"),
    "shipment": ("DN-B-SECRET", "DN-Z-NOSUCH"),
    "recall": ("RC-B-SECRET", "RC-Z-NOSUCH"),
    "stocktake": ("STK-B-SECRET", "STK-Z-NOSUCH"),
    "user": ("user-b-secret", "user-z-nosuch"),
    "service case": ("SC-000001", "SC-999999"),
}
SECRETS = [theirs for theirs, _unknown in B_THINGS.values()]
assert not [(a, b) for a in SECRETS for b in SECRETS if a != b and a in b], "names overlap"

# Every GET operation of the API → the requests that name something ("{}" is the name).
# An empty list: the operation names nothing; it is still called once and must not show any
# of B's things.
API_CASES: dict[str, list[str]] = {
    "/products": ["/products?q={}"],
    "/products/{code}": ["/products/{}"],
    "/products/{code}/bom": ["/products/{}/bom"],
    "/products/{code}/route": ["/products/{}/route"],
    "/lots": ["/lots?q={}", "/lots?product={}"],
    "/lots/{product}/{number}": ["/lots/AC1/{}"],
    "/parties": ["/parties?q={}"],
    "/parties/{code}": ["/parties/{}"],
    "/locations": ["/locations?q={}"],
    "/locations/{code}": ["/locations/{}"],
    "/units": ["/units?product=AC1&lot={}", "/units?holder={}", "/units?location={}",
               "/units?product={}", "/units?status={}", "/units?q={}", "/units?q={}&product=AC1",
               "/units?code={}", "/units?code={}&product=AC1"],
    "/units/{serial}": ["/units/{}", "/units/{}?product=AC1"],
    "/service-desk/{serial}": ["/service-desk/{}", "/service-desk/{}?product=AC1"],
    "/units/{serial}/warranty": ["/units/{}/warranty", "/units/{}/warranty?product=AC1"],
    # issue 16: owners.read only (a partner: 403 whatever it names)
    "/units/{serial}/owners": ["/units/{}/owners", "/units/{}/owners?product=AC1"],
    "/products/{code}/warranty": ["/products/{}/warranty"],
    # verify.read (issue 16): a product's verification settings, the same for a partner as for
    # an unknown product (a partner has no verify.read: 403 whatever it names)
    "/products/{code}/verification": ["/products/{}/verification"],
    # clone alerts (issue 16): verify.read only, a partner gets 403 whatever it names
    "/clone-alerts": ["/clone-alerts?product={}", "/clone-alerts?region={}"],
    "/clone-alerts/{alert_id}": [],
    # verify.read (issue 16): consumers' counterfeit reports; a partner: 403
    "/counterfeit-reports": [],
    "/claim-rules": ["/claim-rules?product={}"],
    "/spare-requests": ["/spare-requests?location={}", "/spare-requests?product={}",
                        "/spare-requests?case={}"],
    "/spare-requests/{number}": ["/spare-requests/{}"],
    # a partner prints no labels: 403 whatever it names (labels.print)
    "/label-runs": [],
    "/label-runs/{number}": ["/label-runs/{}"],
    "/label-runs/{number}/file": ["/label-runs/{}/file"],
    # label templates (i15-labels): staff only, a partner gets 403 whatever it names
    "/label-templates": [],
    "/label-templates/{template_id}": ["/label-templates/{}"],
    "/me": [],
    "/roles": [],
    "/users": [],
    "/tokens": ["/tokens?user={}"],
    "/audit": ["/audit?key={}", "/audit?actor={}"],
    "/audit/verify": [],
    "/audit/head": [],
    "/trace/backward": ["/trace/backward?serial={}"],
    "/trace/forward": ["/trace/forward?serial={}", "/trace/forward?product=AC1&lot={}",
                       "/trace/forward?supplier={}"],
    "/recalls": [],
    "/recalls/{code}": ["/recalls/{}"],
    "/recalls/{code}/notices": ["/recalls/{}/notices"],
    "/quality/yield": ["/quality/yield?product={}"],
    "/quality/defects": ["/quality/defects?product={}"],
    "/warranty-report/failures": ["/warranty-report/failures?product={}"],
    "/warranty-report/time-to-failure": ["/warranty-report/time-to-failure?product={}"],
    "/warranty-report/costs": ["/warranty-report/costs?product={}"],
    "/warranty-report/defects": ["/warranty-report/defects?product={}"],
    "/shipments": ["/shipments?party={}"],
    "/shipments/{number}": ["/shipments/{}"],
    "/containers/{code}": ["/containers/{}"],
    "/inventory": ["/inventory?location={}", "/inventory?product={}"],
    "/diversions": ["/diversions?party={}"],
    "/stocktakes/{code}": ["/stocktakes/{}"],
    "/cases": ["/cases?q={}", "/cases?party={}", "/cases?product={}"],
    "/cases/{number}": ["/cases/{}"],
    "/cases/{number}/attachments/{attachment_id}": ["/cases/{}/attachments/1"],
    "/service-codes": [],
    # EPCIS 2.0 (issue 17, at /epcis): a partner sees its own units' events; lists differ only
    # by their creationDate, so they are checked for B's names (not compared)
    "/epcis/events": [],
    "/epcis/events/{event_id}": ["/epcis/events/{}"],
    "/epcis/epcs/{epc}/events": [],
    "/epcis/capture/{capture_id}": [],
    # webhooks (issue 17): webhooks.manage only, a partner gets 403 whatever it names
    "/webhooks/subscriptions": [],
    "/webhooks/subscriptions/{subscription_id}": [],
    "/webhooks/deliveries": [],
    "/webhooks/deliveries/{delivery_id}": [],
    # imports (issue 17): no import.run for a partner, 403 whatever it names
    "/imports/kinds": [],
    "/imports/{job_id}": ["/imports/{}"],
    "/imports/{job_id}/report.xlsx": ["/imports/{}/report.xlsx"],
    "/import-mappings/{name}": ["/import-mappings/{}"],
}  # fmt: skip

# Every page (GET) → the requests that name something, as above.
PAGE_CASES: dict[str, list[str]] = {
    "/login": ["/login?next=/units/{}"],
    "/": [],
    "/units": ["/units?q={}", "/units?q={}&product=AC1"],
    "/units/{serial:path}": ["/units/{}", "/units/{}?product=AC1"],
    "/scan": [],
    "/commission": [],
    "/commission/serials.{kind}": ["/commission/serials.csv?event={}",
                                   "/commission/serials.xlsx?event={}"],
    "/products": ["/products?q={}"],
    "/products/{code}": ["/products/{}"],
    "/lots": ["/lots?q={}", "/lots?product={}"],
    "/lots/{product}/{number:path}": ["/lots/AC1/{}"],
    "/products/{code}/bom": ["/products/{}/bom"],
    "/products/{code}/route": ["/products/{}/route"],
    "/parties": ["/parties?q={}", "/parties?kind={}"],
    "/parties/{code}": ["/parties/{}"],
    "/locations": ["/locations?parent={}"],
    "/locations/{code}": ["/locations/{}"],
    "/admin/users": [],
    "/admin/users/{username}": ["/admin/users/{}"],
    "/audit": ["/audit?key={}", "/audit?actor={}"],
    "/assembly": ["/assembly?parent={}"],
    "/assembly/bom": ["/assembly/bom?parent={}"],
    "/steps": ["/steps?product={}"],
    "/trace": ["/trace?back={}", "/trace?serial={}", "/trace?product=AC1&lot={}",
               "/trace?supplier={}"],
    "/trace/affected.csv": ["/trace/affected.csv?serial={}"],
    "/recalls": [],
    "/recalls/{code}": ["/recalls/{}"],
    "/recalls/{code}/notices.csv": ["/recalls/{}/notices.csv"],
    "/quality": ["/quality?product={}"],
    "/quality/export": ["/quality/export?product={}"],
    "/warranty-report": ["/warranty-report?product={}"],
    "/warranty-report/export": ["/warranty-report/export?product={}"],
    "/inventory": ["/inventory?location={}", "/inventory?product={}"],
    "/inventory/units": ["/inventory/units?product=AC1&lot={}", "/inventory/units?location={}",
                         "/inventory/units?product={}"],
    "/shipments": [],
    "/shipments/{key}/note": ["/shipments/{}/note"],
    "/diversions": ["/diversions?party={}"],
    "/clone-alerts": ["/clone-alerts?product={}", "/clone-alerts?region={}"],
    "/clone-alerts/{alert_id}": ["/clone-alerts/1"],
    "/stocktakes": ["/stocktakes?code={}"],
    "/stocktakes/{code}": ["/stocktakes/{}"],
    "/sell-through": [],
    "/service": ["/service?serial={}", "/service?serial={}&product=AC1"],
    "/claim-rules": ["/claim-rules?product={}"],
    "/cases": ["/cases?q={}", "/cases?party={}"],
    "/cases/{number}": ["/cases/{}"],
    "/cases/{number}/attachments/{attachment_id}": ["/cases/{}/attachments/1"],
    "/spares": ["/spares?request={}"],
    # public (issue 15): a GS1 Digital Link's product page, the same for anyone, logged in or
    # not; it shows no holder, location or event (tests/integration/test_resolver.py)
    "/01/{rest:path}": [],
    # public (issue 16): the buyer's pages name a verification code, never a serial; any
    # other text is one "not found" (tests/integration/test_verify_owners_pages.py)
    "/v/claim": ["/v/claim?code={}"],
    # public (issue 16): a code's answer, the same shape for any unknown text
    "/v/{code}.json": ["/v/{}.json"],
    "/v/{code}/register": ["/v/{}/register"],
    # public (issue 16): the verification page; any unknown text gets the one not-found page
    "/v": ["/v?code={}"],
    "/v/{code}": ["/v/{}"],
    "/v/{code}/picture": ["/v/{}/picture"],
    # staff (issue 16): verify.read only (a partner: 403)
    "/counterfeit-reports": [],
    # webhooks (issue 17): webhooks.manage only (a partner: 403)
    "/webhooks": ["/webhooks?status={}"],
    # staff (issue 16): owners.read only (a partner: 403 whatever it names)
    "/owners": ["/owners?serial={}", "/owners?serial={}&product=AC1"],
    # a partner prints no labels: 403 whatever it names
    "/labels/runs": [],
    "/labels/runs/{number}": ["/labels/runs/{}"],
    "/labels/runs/{number}/progress": ["/labels/runs/{}/progress"],
    "/labels/runs/{number}/file": ["/labels/runs/{}/file"],
    "/label-templates": [],
    "/label-templates/edit": ["/label-templates/edit?product={}"],
    # issue 17: a partner imports nothing: 403 whatever it names
    "/imports": ["/imports?kind={}"],
    "/imports/{job_id}": ["/imports/{}"],
    "/imports/{job_id}/progress": ["/imports/{}/progress"],
    "/imports/{job_id}/report.xlsx": ["/imports/{}/report.xlsx"],
    "/healthz": [],
    "/scan-worker.js": [],
    "/api/docs": [],
    "/api/openapi.json": [],
}  # fmt: skip

# the answers are compared here, not the rate limit (tests/integration/test_request_limits.py)
NO_RATE_LIMIT = Limits(rate_per_token=0, rate_per_address=0)


@dataclass
class World:
    client: TestClient
    token_a: str


def build(db: Database) -> None:
    """The two-partner world, with plain factory functions."""
    make_product(db, "AC1", rule=None, warranty_months=24)
    make_location(db, "WH1")
    make_location(db, "LOC-A", kind="site", region="CN-31")
    make_location(db, "LOC-B-SECRET", kind="site", region="CN-44")
    make_party(db, "D-A", regions=["CN-31"])
    make_party(db, "D-B-SECRET", regions=["CN-44"])
    make_party(db, "C-A", kind="customer")
    make_party(db, "CUST-B-SECRET", kind="customer")
    make_lot(db, "AC1", "LOT-A")
    make_lot(db, "AC1", "LOT-B-SECRET")
    a = make_units(db, "AC1", None, serials=[f"SN-A-{i}" for i in range(1, 5)], lot="LOT-A")
    b = make_units(db, "AC1", None, serials=[f"SN-B-SECRET-{i}" for i in range(1, 5)],
                   lot="LOT-B-SECRET")  # fmt: skip
    make_units(db, "AC1", None, serials=["HB-1"])
    record(db, type="receive", product="AC1", serials=[*a, *b, "HB-1"], location="WH1")
    # A: shipped, delivered, two units in a carton on a pallet, one sold to its customer
    record(db, type="ship", product="AC1", serials=a, party="D-A", event_id="EV-A-SHIP")
    record(db, type="deliver", product="AC1", serials=a, location="LOC-A")
    record(db, type="pack", product="AC1", serials=a[:2], container="CTN-A")
    record(db, type="pack", containers=["CTN-A"], container="PAL-A", container_kind="pallet")
    record(db, type="sell", product="AC1", serials=a[3:], party="C-A")
    # B: the same, with a shipment of its own
    record(
        db,
        type="ship",
        product="AC1",
        serials=[b[0], b[1], b[3]],
        party="D-B-SECRET",
        event_id="EV-B-SECRET",
        biz_transactions=[{"type": "desadv", "id": "DN-B-OLD"}],
    )
    channel.create_shipment(
        db,
        SYSTEM,
        channel.ShipmentIn(number="DN-B-SECRET", party="D-B-SECRET", product="AC1", serials=[b[2]]),
    )
    record(db, type="deliver", product="AC1", serials=b, location="LOC-B-SECRET")
    record(db, type="pack", product="AC1", serials=b[:2], container="CTN-B-SECRET")
    record(
        db,
        type="pack",
        containers=["CTN-B-SECRET"],
        container="PAL-B-SECRET",
        container_kind="pallet",
    )
    record(db, type="sell", product="AC1", serials=b[3:], party="CUST-B-SECRET")
    # HB-1: to A, back, to B, sold by B
    record(db, type="ship", product="AC1", serials=["HB-1"], party="D-A", event_id="EV-A-HB1-SHIP")
    record(db, type="deliver", product="AC1", serials=["HB-1"], event_id="EV-A-HB1-DELIVER")
    record(
        db,
        type="return",
        product="AC1",
        serials=["HB-1"],
        location="WH1",
        event_id="EV-A-HB1-RETURN",
    )
    record(
        db,
        type="receive",
        product="AC1",
        serials=["HB-1"],
        location="WH1",
        event_id="EV-US-HB1-RECEIVE",
    )
    record(
        db,
        type="ship",
        product="AC1",
        serials=["HB-1"],
        party="D-B-SECRET",
        event_id="EV-B-HB1-SHIP",
    )
    record(db, type="deliver", product="AC1", serials=["HB-1"], event_id="EV-B-HB1-DELIVER")
    record(db, type="sell", product="AC1", serials=["HB-1"], event_id="EV-B-HB1-SELL")
    # staff things named after B
    recall.create_recall(db, SYSTEM, RecallIn(code="RC-B-SECRET", title="t",
                         trace=TraceQuery(serial=b[2], product="AC1")))  # fmt: skip
    stocktake.open_count(db, SYSTEM, "STK-B-SECRET", ["LOC-B-SECRET"])
    access.create_user(db, SYSTEM, "user-a", PASSWORD, "partner", "D-A")
    access.create_user(db, SYSTEM, "user-b-secret", PASSWORD, "partner", "D-B-SECRET")
    # B's service case (SC-000001), with a photo
    with db.read() as conn:
        b_party = party_id(conn, "D-B-SECRET")
    b_user = Actor("user-b-secret", "partner", party_id=b_party)
    number = cases.open_case(db, b_user, CaseIn(serial=b[3], warranty_claim=False))["number"]
    casework.add_attachment(db, b_user, number, "b.pdf", b"%PDF-1.4\n%%EOF\n")


@pytest.fixture
def world(db: Database, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))  # B's case attachment
    # the public verification's limits would answer 429 to this many requests for one code
    monkeypatch.setenv("UNITRACE_VERIFY_PER_ADDRESS", "0")
    monkeypatch.setenv("UNITRACE_VERIFY_PER_CODE", "0")
    reset_limits()
    build(db)
    token = access.create_token(db, SYSTEM, "user-a", "isolation")["token"]
    with TestClient(create_app(db, limits=NO_RATE_LIMIT), raise_server_exceptions=False) as client:
        yield World(client, token)
    monkeypatch.undo()
    reset_limits()


def _blank(text: str, name: str) -> str:
    """An answer with the name asked for (and the per-request CSRF token) blanked out."""
    text = text.replace(name, "§")
    text = re.sub(r'(name="csrf_token" value=")[^"]*', r"\1…", text)
    return re.sub(r'("X-CSRF-Token": ")[^"]*', r"\1…", text)


def _answer(client: TestClient, url: str, **kwargs: Any) -> tuple[int, str, str, str]:
    got = client.get(url, follow_redirects=False, **kwargs)
    return (got.status_code, got.headers.get("content-type", ""),
            got.headers.get("location", ""), got.text)  # fmt: skip


def _compare(client: TestClient, template: str, **kwargs: Any) -> list[str]:
    """B's thing against an unknown one, for every kind of thing B has."""
    wrong = []
    for kind, (theirs, unknown) in B_THINGS.items():
        b_answer = _answer(client, template.format(theirs), **kwargs)
        u_answer = _answer(client, template.format(unknown), **kwargs)
        if b_answer[0] >= 500:
            wrong.append(f"{template} ({kind}): {b_answer[0]}")
        leaked = [s for s in SECRETS if s != theirs and s in b_answer[3]]
        if leaked:
            wrong.append(f"{template} ({kind}): shows {leaked}")
        b_seen = tuple(_blank(part, theirs) for part in map(str, b_answer))
        u_seen = tuple(_blank(part, unknown) for part in map(str, u_answer))
        if b_seen != u_seen:
            wrong.append(f"{template} ({kind} {theirs}): {b_answer[0]} {b_answer[3][:300]!r}\n"
                         f"    unknown: {u_answer[0]} {u_answer[3][:300]!r}")  # fmt: skip
    return wrong


def _plain(client: TestClient, url: str, **kwargs: Any) -> list[str]:
    status, _type, _location, body = _answer(client, url, **kwargs)
    leaked = [s for s in SECRETS if s in body]
    return [f"{url}: {status}, shows {leaked}"] if leaked or status >= 500 else []


def _full(path: str) -> str:
    """An operation's URL: the API's under /api/v1, EPCIS's at its own root /epcis (issue 17)."""
    return path if path.startswith("/epcis/") else API_PREFIX + path


def api_get_operations(client: TestClient) -> set[str]:
    spec = client.get("/api/openapi.json").json()
    return {path.removeprefix(API_PREFIX) for path, item in spec["paths"].items() if "get" in item}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every route with its full path, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            yield prefix + route.path, route


def page_routes(client: TestClient) -> set[str]:
    app: Any = client.app
    return {
        path for path, route in _routes(app.routes)
        if not isinstance(route, Mount) and "GET" in (route.methods or ())
        and not path.startswith(API_PREFIX + "/")
        and not path.startswith("/epcis/")
    }  # fmt: skip


def test_every_get_operation_and_page_has_a_case(world: World) -> None:
    operations, pages = api_get_operations(world.client), page_routes(world.client)
    assert operations - set(API_CASES) == set(), "add these GET operations to API_CASES"
    assert set(API_CASES) - operations == set(), "API_CASES names operations that do not exist"
    assert pages - set(PAGE_CASES) == set(), "add these pages to PAGE_CASES"
    assert set(PAGE_CASES) - pages == set(), "PAGE_CASES names pages that do not exist"


def test_api_answers_for_bs_things_as_for_unknown_ones(world: World) -> None:
    client = world.client
    bearer = {"Authorization": f"Bearer {world.token_a}"}
    wrong: list[str] = []
    for operation in sorted(api_get_operations(client)):
        cases = API_CASES.get(operation)
        assert cases is not None, f"no case for GET {operation}"
        if not cases:
            wrong += _plain(client, _full(operation), headers=bearer)
        for template in cases:
            wrong += _compare(client, _full(template), headers=bearer)
    assert not wrong, "\n".join(wrong)
    # not vacuous: A's own things are there
    assert client.get(f"{API_PREFIX}/units/SN-A-1", headers=bearer).status_code == 200
    assert client.get(f"{API_PREFIX}/containers/CTN-A", headers=bearer).status_code == 200
    own_lot = client.get(f"{API_PREFIX}/units?product=AC1&lot=LOT-A", headers=bearer).json()
    assert {u["serial"] for u in own_lot["items"]} == {"SN-A-1", "SN-A-2", "SN-A-3", "SN-A-4"}


def _login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    done = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text  # fmt: skip


def test_pages_answer_for_bs_things_as_for_unknown_ones(world: World) -> None:
    client = world.client
    _login(client, "user-a")
    wrong: list[str] = []
    for page in sorted(page_routes(client)):
        cases = PAGE_CASES.get(page)
        assert cases is not None, f"no case for page {page}"
        if not cases:
            wrong += _plain(client, page)
        for template in cases:
            wrong += _compare(client, template)
    assert not wrong, "\n".join(wrong)
    assert client.get("/units/SN-A-1").status_code == 200
    own = client.get("/inventory/units?product=AC1&lot=LOT-A&status=delivered")
    assert own.status_code == 200 and "SN-A-1" in own.text


# --- a former holder sees its own history of a unit, nothing after -----------------------------

A_EVENTS = ["EV-A-HB1-SHIP", "EV-A-HB1-DELIVER", "EV-A-HB1-RETURN"]
LATER = ["EV-US-HB1-RECEIVE", "EV-B-HB1-SHIP", "EV-B-HB1-DELIVER", "EV-B-HB1-SELL"]


def test_a_former_holder_sees_its_own_history_only(world: World) -> None:
    client = world.client
    bearer = {"Authorization": f"Bearer {world.token_a}"}
    dossier = client.get(f"{API_PREFIX}/units/HB-1", headers=bearer)
    assert dossier.status_code == 200
    unit = dossier.json()
    shown = [e["event_id"] for e in unit["events"]]
    assert [e["type"] for e in unit["events"]] == ["commission", "receive", "ship", "deliver",
                                                   "return"]  # fmt: skip
    assert shown[2:] == A_EVENTS
    assert unit["status"] == "returned"  # as it was when A gave it back, not "sold"
    assert unit["holder"] is None and unit["location"] is None and unit["container"] is None
    assert unit["warranty"]["status"] == "not_started"  # B's sale started it; A never saw that
    for later in [*LATER, "D-B-SECRET", "sold"]:
        assert later not in dossier.text, later

    # lists and filters tell the same story
    listed = client.get(f"{API_PREFIX}/units?product=AC1", headers=bearer).json()["items"]
    assert {u["serial"]: u["status"] for u in listed}["HB-1"] == "returned"
    sold = client.get(f"{API_PREFIX}/units?status=sold", headers=bearer).json()["items"]
    assert [u["serial"] for u in sold] == ["SN-A-4"]  # sold by A; HB-1 was sold by B
    back = client.get(f"{API_PREFIX}/units?status=returned", headers=bearer).json()["items"]
    assert [u["serial"] for u in back] == ["HB-1"]

    # the page and the home page
    _login(client, "user-a")
    page = client.get("/units/HB-1?product=AC1")
    assert page.status_code == 200
    timeline = page.text.split('data-testid="timeline"')[1]
    assert timeline.count("<tr><td>") == 5
    assert 'class="status s-returned"' in page.text and "s-sold" not in page.text
    assert "D-B-SECRET" not in page.text
    home = client.get("/")
    assert home.status_code == 200 and "EV-B-HB1" not in home.text


def test_the_current_holder_does_not_see_the_former_holders_time(world: World) -> None:
    token_b = access.create_token(world.client.app.state.db, SYSTEM,  # type: ignore[attr-defined]
                                  "user-b-secret", "b")["token"]  # fmt: skip
    bearer = {"Authorization": f"Bearer {token_b}"}
    unit = world.client.get(f"{API_PREFIX}/units/HB-1", headers=bearer).json()
    assert [e["type"] for e in unit["events"]] == ["commission", "receive", "ship", "deliver",
                                                   "sell"]  # fmt: skip
    assert [e["event_id"] for e in unit["events"]][2:] == LATER[1:]
    assert unit["status"] == "sold" and unit["holder"] == "D-B-SECRET"
    assert "EV-A-" not in str(unit) and "D-A" not in str(unit)


def test_staff_see_the_whole_dossier(world: World) -> None:
    db = world.client.app.state.db  # type: ignore[attr-defined]
    from unitrace.ledger.queries import dossier

    unit = dossier(db, SYSTEM, "HB-1")
    assert [e["event_id"] for e in unit["events"]][2:] == [*A_EVENTS, *LATER]
    assert unit["status"] == "sold" and unit["holder"] == "D-B-SECRET"


# --- time ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_carton_of_b_takes_as_long_as_an_unknown_code(world: World) -> None:
    """GET /containers/{code}: medians of interleaved calls, generous tolerance."""
    client = world.client
    bearer = {"Authorization": f"Bearer {world.token_a}"}
    urls = {"theirs": f"{API_PREFIX}/containers/PAL-B-SECRET",
            "unknown": f"{API_PREFIX}/containers/PAL-Z-NOSUCH"}  # fmt: skip
    times: dict[str, list[float]] = {"theirs": [], "unknown": []}
    for _round in range(30):  # warm up
        for url in urls.values():
            client.get(url, headers=bearer)
    for _round in range(300):
        for which, url in urls.items():
            started = time.perf_counter()
            answer = client.get(url, headers=bearer)
            times[which].append(time.perf_counter() - started)
            assert answer.status_code == 404
    theirs, unknown = (statistics.median(times[k]) for k in ("theirs", "unknown"))
    assert abs(theirs - unknown) < max(0.15 * unknown, 0.0004), (theirs, unknown)


# --- the partner's reads still use indexes ------------------------------------------------------


def test_partner_reads_use_indexes(db: Database) -> None:
    from sqlalchemy import or_, select

    from tests.factories import in_stock
    from tests.plans import assert_no_full_scan
    from unitrace.access.principal import Actor
    from unitrace.channel.packing import _BY_CODE_HELD
    from unitrace.db.tables import lots, units
    from unitrace.ledger.queries import find_unit_query, timeline_query, unit_list_query
    from unitrace.ledger.scope import _EVENTS_OF, unit_condition

    in_stock(db, 5)
    partner = Actor("p", "partner", party_id=1)
    tables = ("units", "events", "event_units")
    assert_no_full_scan(db, find_unit_query(partner, "SN1", None), *tables)
    assert_no_full_scan(db, find_unit_query(partner, "SN1", "AC1"), *tables)
    assert_no_full_scan(db, timeline_query(3), *tables)
    scope = unit_condition(partner)
    assert_no_full_scan(db, unit_list_query([scope]).limit(51), *tables)
    assert_no_full_scan(db, unit_list_query([scope, units.c.id > 3]).limit(51), *tables)
    lot = select(lots.c.id).where(lots.c.product_id == 1, lots.c.number == "L1")
    as_seen = or_(units.c.holder_id.is_(None), units.c.holder_id != 1, units.c.status == 50)
    filtered = [units.c.product_id == 1, units.c.lot_id == lot.scalar_subquery(), scope, as_seen]
    assert_no_full_scan(db, unit_list_query(filtered).limit(51), *tables, "lots")
    assert_no_full_scan(db, _EVENTS_OF.params(ids=[1, 2, 3]), *tables)
    held = _BY_CODE_HELD.params(codes=["CTN-1"], holder=1)
    assert_no_full_scan(db, held, "containers")


def test_a_scanned_carton_of_b_is_like_an_unknown_code(world: World) -> None:
    """The scan station decides whether a code is a carton: for a partner, B's carton is not."""
    client = world.client
    _login(client, "user-a")
    home = client.get("/scan")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf
    answers = [
        client.post("/scan", data={"action": "unpack", "serial": code, "container": "CTN-A",
                                   "csrf_token": csrf.group(1)}).text.replace(code, "§")
        for code in ("CTN-B-SECRET", "CTN-Z-NOSUCH")
    ]  # fmt: skip
    assert answers[0] == answers[1]
