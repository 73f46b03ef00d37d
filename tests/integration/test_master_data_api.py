"""Parties and locations through the API: one of them read and changed (GET/PATCH), lists shaped
like the products' (`{items, total}` with limit/offset), a location's parent named by its code
both ways, every problem of a change reported at once, and one audit record per change."""

from __future__ import annotations

from tests.clients import Api, assert_problem
from unitrace.access import audit
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database


def _party(api: Api, code: str = "D-EAST", **extra: object) -> None:
    body = {"code": code, "name": code, "kind": "distributor", **extra}
    assert api.post("/parties", body).status_code == 201, body


def _patch(api: Api, path: str, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return api.client.patch(f"/api/v1{path}", json=body, headers=headers or api.admin)


def test_a_partys_authorised_regions_can_be_read_and_changed(api: Api, db: Database) -> None:
    _party(api, authorised_regions=["CN-31"], contact="王经理 021-5555")
    got = api.get("/parties/D-EAST")
    assert got.status_code == 200
    assert got.json()["authorised_regions"] == ["CN-31"]
    assert got.json()["contact"] == "王经理 021-5555"

    changed = _patch(api, "/parties/D-EAST", {"authorised_regions": ["CN-31", "CN-32"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["authorised_regions"] == ["CN-31", "CN-32"]
    assert changed.json()["name"] == "D-EAST"  # what was not sent stays
    assert api.get("/parties/D-EAST").json()["authorised_regions"] == ["CN-31", "CN-32"]

    records = audit.list_records(db, SYSTEM, entity="party", entity_key="D-EAST")["items"]
    assert [r["action"] for r in records] == ["update", "create"]
    assert records[0]["actor"] == "alice"
    assert records[0]["before"]["authorised_regions"] == ["CN-31"]
    assert records[0]["after"]["authorised_regions"] == ["CN-31", "CN-32"]


def test_a_party_change_reports_every_problem_at_once_and_writes_nothing(
    api: Api, db: Database
) -> None:
    _party(api, authorised_regions=["CN-31"])
    bad = _patch(
        api,
        "/parties/D-EAST",
        {"name": "", "kind": "wholesaler", "region": "shanghai", "contact": "x" * 401},
    )
    body = assert_problem(bad, 422)
    assert {e["field"] for e in body["errors"]} >= {"name", "kind", "region", "contact"}

    codes = _patch(api, "/parties/D-EAST", {"name": "", "authorised_regions": ["CN-31", "sh", "?"]})
    body = assert_problem(codes, 422)
    fields = [e["field"] for e in body["errors"]]
    assert {"name", "authorised_regions.1", "authorised_regions.2"} <= set(fields)
    regions = _patch(
        api, "/parties/D-EAST", {"kind": "customer", "authorised_regions": ["CN-31", "CN-31"]}
    )
    body = assert_problem(regions, 422)
    fields = [e["field"] for e in body["errors"]]
    assert "authorised_regions.1" in fields  # named twice
    assert "authorised_regions" in fields  # and a customer has none: said in the same answer
    after = api.get("/parties/D-EAST").json()
    assert (after["kind"], after["authorised_regions"]) == ("distributor", ["CN-31"])
    assert len(audit.list_records(db, SYSTEM, entity="party")["items"]) == 1

    assert_problem(_patch(api, "/parties/NOPE", {"name": "x"}), 404, "party")
    assert_problem(api.get("/parties/NOPE"), 404, "party")
    assert_problem(_patch(api, "/parties/D-EAST", {"code": "D-WEST"}), 422, "code")
    assert_problem(_patch(api, "/parties/D-EAST", {"name": None}), 422, "name")


def test_reading_a_party_or_location_is_for_staff_and_changing_it_for_admins(api: Api) -> None:
    _party(api)
    assert api.post("/locations", {"code": "WH1", "name": "WH1", "kind": "warehouse"})
    assert api.get("/parties/D-EAST", headers=api.reader).status_code == 200
    assert api.get("/locations/WH1", headers=api.reader).status_code == 200
    assert_problem(_patch(api, "/parties/D-EAST", {"name": "x"}, api.reader), 403)
    assert_problem(_patch(api, "/locations/WH1", {"name": "x"}, api.reader), 403)


def test_lists_of_parties_and_locations_are_shaped_like_products(api: Api) -> None:
    for code in ("P-A", "P-B", "P-C"):
        _party(api, code)
    listed = api.get("/parties", limit=2)
    assert listed.status_code == 200
    assert listed.json()["total"] == 3
    assert [p["code"] for p in listed.json()["items"]] == ["P-A", "P-B"]
    assert [p["code"] for p in api.get("/parties", offset=2).json()["items"]] == ["P-C"]
    assert api.get("/parties", q="p-b").json()["total"] == 1
    assert api.get("/parties", kind="supplier").json() == {"items": [], "total": 0}

    api.post("/locations", {"code": "SITE", "name": "工厂", "kind": "site"})
    api.post("/locations", {"code": "WH1", "name": "仓库", "kind": "warehouse", "parent": "SITE"})
    locations = api.get("/locations").json()
    assert locations["total"] == 2
    assert_problem(api.get("/locations", limit=0), 422, "limit")


def test_a_locations_parent_is_named_by_its_code_in_answers_as_in_requests(api: Api) -> None:
    api.post("/locations", {"code": "SITE", "name": "工厂", "kind": "site"})
    made = api.post("/locations", {"code": "WH1", "name": "仓库", "kind": "warehouse",
                                   "parent": "SITE"})  # fmt: skip
    assert made.json()["parent"] == "SITE"
    listed = {loc["code"]: loc for loc in api.get("/locations").json()["items"]}
    assert listed["WH1"]["parent"] == "SITE" and "parent_id" not in listed["WH1"]
    assert api.get("/locations/WH1").json()["parent"] == "SITE"


def test_a_location_can_be_moved_renamed_and_never_put_inside_itself(
    api: Api, db: Database
) -> None:
    api.post("/locations", {"code": "SITE", "name": "工厂", "kind": "site"})
    api.post("/locations", {"code": "WH1", "name": "仓库", "kind": "warehouse", "parent": "SITE"})
    api.post("/locations", {"code": "BIN1", "name": "货位", "kind": "bin", "parent": "WH1"})
    api.post("/locations", {"code": "WH2", "name": "二号仓", "kind": "warehouse"})

    moved = _patch(api, "/locations/BIN1", {"parent": "WH2", "name": "货位 1"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["parent"], moved.json()["name"]) == ("WH2", "货位 1")
    top = _patch(api, "/locations/WH2", {"parent": None})
    assert top.status_code == 200 and top.json()["parent"] is None

    assert_problem(_patch(api, "/locations/SITE", {"parent": "SITE"}), 422, "parent")
    assert_problem(_patch(api, "/locations/SITE", {"parent": "WH1"}), 422, "parent")  # a loop
    assert_problem(_patch(api, "/locations/SITE", {"parent": "NOPE"}), 422, "parent")
    both = assert_problem(_patch(api, "/locations/SITE", {"kind": "shelf", "name": ""}), 422)
    assert {e["field"] for e in both["errors"]} == {"kind", "name"}
    assert_problem(api.get("/locations/NOPE"), 404, "location")
    assert api.get("/locations/SITE").json()["parent"] is None

    records = audit.list_records(db, SYSTEM, entity="location", entity_key="BIN1")["items"]
    assert [r["action"] for r in records] == ["update", "create"]
    assert (records[0]["before"]["parent"], records[0]["after"]["parent"]) == ("WH1", "WH2")
