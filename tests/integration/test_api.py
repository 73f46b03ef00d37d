"""The REST API as an integrator sees it: tokens, problem JSON, the issue's examples."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from tests.clients import Api, assert_problem
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.core.serials import GenerationContext, SerialTemplate
from unitrace.db.engine import Database

RULE = "SN{yy}{mm}-{seq:6}{check:luhn}"


def soon() -> str:
    """A minute from now in Beijing time: after the units are made, within the plausible
    window. Made when the test runs: a value made at import is in the past in a long run."""
    now = datetime.now(timezone(timedelta(hours=8)))
    return (now + timedelta(minutes=1)).replace(microsecond=0).isoformat()


def setup_catalog(api: Api) -> None:
    assert (
        api.post("/products", {"code": "AC1", "name": "空调 AC", "serial_rule": RULE}).status_code
        == 201
    )
    assert (
        api.post("/locations", {"code": "WH1", "name": "仓库", "kind": "warehouse"}).status_code
        == 201
    )
    party = {"code": "D-EAST", "name": "East", "kind": "distributor"}
    assert api.post("/parties", {**party, "authorised_regions": ["CN-31"]}).status_code == 201


def test_a_call_without_a_token_gets_401(api: Api) -> None:
    response = api.client.get("/api/v1/products")
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in body["detail"]
    assert_problem(api.get("/products", headers={"Authorization": "Bearer ut_wrong"}), 401)
    assert_problem(api.get("/products", headers={"Authorization": "Basic abc"}), 401)


def test_bad_gtin_is_422_naming_gtin(api: Api) -> None:
    response = api.post("/products", {"code": "P1", "name": "P", "gtin": "09506000134353"})
    assert_problem(response, 422, "gtin")
    assert api.get("/products").json()["total"] == 0
    assert (
        api.post("/products", {"code": "P1", "name": "P", "gtin": "09506000134352"}).status_code
        == 201
    )
    assert api.get("/products/P1").json()["gtin"] == "09506000134352"
    assert_problem(api.get("/products/NOPE"), 404, "product")


def test_schema_errors_name_the_field(api: Api) -> None:
    assert_problem(api.post("/products", {"code": "P 1", "name": "x"}), 422, "code")
    assert_problem(
        api.post("/products", {"code": "P1", "name": "x", "tracking": "x"}), 422, "tracking"
    )
    assert_problem(
        api.post("/products", {"code": "P1", "name": "x", "serial_rule": "{seq:99}"}),
        422,
        "serial_rule",
    )
    assert_problem(
        api.post("/products", {"code": "P1", "name": "x", "colour": "red"}), 422, "colour"
    )
    response = api.client.post(
        "/api/v1/events",
        content=b"{not json",
        headers={**api.admin, "content-type": "application/json"},
    )
    assert_problem(response, 422, "body")
    assert_problem(api.post("/events", {"type": "teleport", "serials": ["a"]}), 422, "type")
    assert_problem(
        api.post("/events", [{"type": "inspect", "serials": ["a"]}, {"type": "x"}]), 422, "1.type"
    )
    assert_problem(api.post("/events", []), 422, "body")
    assert_problem(api.get("/units", limit=5000), 422, "limit")
    assert_problem(api.get("/units", after="abc"), 422, "after")
    assert_problem(api.get("/units", after="9" * 30), 422, "after")
    assert_problem(api.get("/products", offset=2**63), 422, "offset")
    api.post("/products", {"code": "P9", "name": "x", "gtin": "09506000134352"})
    patch = api.client.patch(
        "/api/v1/products/P9", json={"warranty_start": None}, headers=api.admin
    )
    assert_problem(patch, 422, "warranty_start")
    cleared = api.client.patch("/api/v1/products/P9", json={"gtin": None}, headers=api.admin)
    assert cleared.status_code == 200 and cleared.json()["gtin"] is None


def test_commission_1000_by_count(api: Api) -> None:
    setup_catalog(api)
    response = api.post("/units/commission", {"product": "AC1", "count": 1000, "location": "WH1"})
    assert response.status_code == 201, response.text
    serials = response.json()["serials"]
    assert len(serials) == len(set(serials)) == 1000
    template = SerialTemplate.parse(RULE)
    assert all(template.mismatch(s, "AC1") is None for s in serials)
    page = api.get("/units", product="AC1", status="commissioned", limit=1000).json()
    assert len(page["items"]) == 1000 and page["next"] is None


def test_registering_an_existing_serial_is_409_and_writes_nothing(api: Api) -> None:
    setup_catalog(api)
    made = api.post("/units/commission", {"product": "AC1", "count": 2}).json()["serials"]
    fresh = SerialTemplate.parse(RULE).render(GenerationContext(date(2020, 1, 1)), 5, 1)[0]
    response = api.post("/units/commission", {"product": "AC1", "serials": [fresh, made[1]]})
    body = assert_problem(response, 409, "serials.1")
    assert body["errors"][0]["value"] == made[1]
    assert_problem(api.get(f"/units/{fresh}"), 404, "serial")
    assert_problem(
        api.post("/units/commission", {"product": "AC1", "count": 1, "serials": ["x"]}), 422
    )


def test_shipping_a_unit_not_in_stock_is_refused_naming_it(api: Api) -> None:
    setup_catalog(api)
    (serial,) = api.post("/units/commission", {"product": "AC1", "count": 1}).json()["serials"]
    response = api.post(
        "/events", {"type": "ship", "product": "AC1", "serials": [serial], "party": "D-EAST"}
    )
    body = assert_problem(response, 409)
    assert body["type"].endswith("invalid-transition")
    assert serial in body["detail"] and "commissioned" in body["detail"]
    assert api.get(f"/units/{serial}").json()["status"] == "commissioned"


def test_dossier_lists_events_in_order_and_replays_are_acknowledged(api: Api) -> None:
    setup_catalog(api)
    (serial,) = api.post("/units/commission", {"product": "AC1", "count": 1}).json()["serials"]
    ship_time = soon()
    batch = [
        {
            "event_id": "e-1",
            "type": "receive",
            "product": "AC1",
            "serials": [serial],
            "location": "WH1",
        },
        {
            "event_id": "e-2",
            "type": "ship",
            "product": "AC1",
            "serials": [serial],
            "party": "D-EAST",
            "event_time": ship_time,
            "biz_transactions": [{"type": "desadv", "id": "DN-7"}],
        },
    ]
    first = api.post("/events", batch)
    assert first.status_code == 201 and [e["replayed"] for e in first.json()] == [False, False]
    again = api.post("/events", batch)
    assert again.status_code == 200 and [e["replayed"] for e in again.json()] == [True, True]
    dossier = api.get(f"/units/{serial}").json()
    assert [e["type"] for e in dossier["events"]] == ["commission", "receive", "ship"]
    assert dossier["events"][2]["event_time"] == ship_time
    assert dossier["holder"] == "D-EAST" and dossier["status"] == "in_transit"
    single = api.post("/events", {"type": "deliver", "product": "AC1", "serials": [serial]})
    assert single.status_code == 201 and single.json()["event_id"].startswith("urn:uuid:")
    changed = {**batch[0], "location": None}
    assert_problem(api.post("/events", changed), 409, "event_id")


def test_readonly_token_reads_but_cannot_write(api: Api) -> None:
    setup_catalog(api)
    assert api.get("/products", headers=api.reader).status_code == 200
    me = api.get("/me", headers=api.reader).json()
    assert (me["username"], me["role"], me["permissions"]) == (
        "viewer",
        "readonly",
        ["catalog.read", "read", "service.read", "trace", "verify.read"],
    )
    for path, body in (
        ("/products", {"code": "P2", "name": "x"}),
        ("/units/commission", {"product": "AC1", "count": 1}),
        ("/events", {"type": "inspect", "product": "AC1", "serials": ["x"]}),
        ("/lots", {"product": "AC1", "number": "L1"}),
        ("/parties", {"code": "X", "name": "X", "kind": "customer"}),
        ("/locations", {"code": "X", "name": "X", "kind": "bin"}),
    ):
        assert_problem(api.post(path, body, headers=api.reader), 403)
    assert api.get("/units", headers=api.reader, product="AC1").json()["items"] == []


def test_openapi_is_published(api: Api) -> None:
    schema = api.client.get("/api/openapi.json").json()
    assert "/api/v1/events" in schema["paths"] and "EventIn" in schema["components"]["schemas"]
    assert api.client.get("/api/docs").status_code == 200
    assert_problem(api.client.get("/api/v1/nothing-here", headers=api.admin), 404)


def test_serials_with_slashes_and_unicode_have_dossiers(api: Api) -> None:
    api.post("/products", {"code": "P1", "name": "Part"})
    made = api.post("/units/commission", {"product": "P1", "serials": ["A/2026/1", "序列号-1"]})
    assert made.status_code == 201, made.text
    assert api.get("/units/A/2026/1").json()["serial"] == "A/2026/1"
    assert api.get("/units/序列号-1").json()["product"]["code"] == "P1"
    too_many = api.post("/units/commission", {"product": "P1", "count": 1_000_001})
    assert_problem(too_many, 422, "count")


def test_scans_pass_through_middleware_added_to_an_app_without_the_fast_path(db: Database) -> None:
    # scans are answered ahead of the middleware stack unless the app is made without the
    # fast path: then middleware someone adds (CORS, request ids) sees them like every request
    from starlette.middleware.base import BaseHTTPMiddleware

    access.create_user(db, SYSTEM, "alice", "correct horse battery", "admin")
    token = access.create_token(db, SYSTEM, "alice", "tests")["token"]
    app = create_app(db, scan_fast_path=False)
    seen: list[str] = []

    async def tag(request, call_next):  # type: ignore[no-untyped-def]
        seen.append(request.url.path)
        response = await call_next(request)
        response.headers["x-seen"] = "yes"
        return response

    app.add_middleware(BaseHTTPMiddleware, dispatch=tag)
    scan = {"type": "move", "serials": ["NO-SUCH"], "location": "WH1"}
    with TestClient(app, raise_server_exceptions=False) as client:
        bearer = {"Authorization": f"Bearer {token}"}
        answer = client.post("/api/v1/events", json=scan, headers=bearer)
    assert answer.status_code == 404 and answer.headers.get("x-seen") == "yes"
    assert seen == ["/api/v1/events"]


def test_middleware_cannot_be_added_while_the_fast_path_would_bypass_it(db: Database) -> None:
    """The fast path answers scans ahead of the app's middleware: adding middleware to an app
    with it is refused (not silently bypassed), whichever way it is added."""
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    from unitrace.api.app import UnitraceApp

    async def passthrough(request, call_next):  # type: ignore[no-untyped-def]
        return await call_next(request)

    app = create_app(db)
    with pytest.raises(RuntimeError, match="scan_fast_path=False"):
        app.add_middleware(BaseHTTPMiddleware, dispatch=passthrough)
    with pytest.raises(RuntimeError, match="scan_fast_path=False"):
        app.middleware("http")(passthrough)
    with pytest.raises(RuntimeError, match="scan_fast_path=False"):
        UnitraceApp(middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)])
