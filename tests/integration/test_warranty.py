"""Warranty: the verdict from the product's policy and the unit's own events (sale, activation,
shipment, fallback), overrides by region and channel party, a part's own policy, and the
unit's extensions, voids and un-voids with who may do them."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import claims, warranty
from unitrace.aftersales.schemas import ExtensionIn, VoidIn
from unitrace.config import site_timezone
from unitrace.core.errors import Conflict
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log
from unitrace.ledger.schemas import UnitRef

PASSWORD = "correct horse battery"
ALICE = Actor("alice", "admin")


def _ago(months: int, days: int = 0) -> datetime:
    """A moment `months` calendar months (and `days`) before now, at noon UTC."""
    today = datetime.now(UTC).date()
    day = warranty.add_months(today, -months) - timedelta(days=days)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _local(moment: datetime) -> str:
    return moment.astimezone(site_timezone()).date().isoformat()


def _unit(db: Database, product: str = "AC1", made: datetime | None = None) -> str:
    made = made or _ago(40)
    serial = make_units(db, product, count=1, event_time=made)[0]
    record(
        db,
        type="receive",
        product=product,
        serials=[serial],
        location="WH1",
        event_time=made + timedelta(hours=1),
    )
    return serial


def _verdict(api: Api, serial: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = api.get(f"/units/{serial}/warranty", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _token(db: Database, role: str, party: str | None = None) -> dict[str, str]:
    access.create_user(db, SYSTEM, f"as-{role}", PASSWORD, role, party)
    token = access.create_token(db, SYSTEM, f"as-{role}", "tests")["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(db: Database) -> Database:
    make_location(db)
    make_party(db, "D-EAST", regions=["CN-31"])
    return db


# --- when it starts and ends -------------------------------------------------------------------


def test_a_unit_sold_25_months_ago_on_24_months_from_sale_is_expired_and_its_claim_refused(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _unit(world)
    sold = _ago(25)
    record(world, type="sell", product="AC1", serials=[serial], event_time=sold)

    found = _verdict(api, serial)

    end = warranty.add_months(date.fromisoformat(_local(sold)), 24).isoformat()
    assert (found["status"], found["start_date"], found["end_date"]) == (
        "expired",
        _local(sold),
        end,
    )
    assert found["started_by"]["type"] == "sell"
    with world.read() as conn, pytest.raises(claims.ClaimRefused) as refused:
        claims.judge(conn, ALICE, claims.Claim(serial, "AC1"))
    reasons = {e.field: e.message for e in refused.value.errors}
    assert reasons == {"checks.warranty": f"warranty expired on {end}"}
    opened = api.post("/cases", {"serial": serial})
    body = assert_problem(opened, 409, "checks.warranty")
    assert f"warranty expired on {end}" in body["detail"]


def test_a_sale_based_policy_starts_at_the_sale_event(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _unit(world)
    record(world, type="ship", product="AC1", serials=[serial], party="D-EAST", event_time=_ago(3))
    assert _verdict(api, serial)["status"] == "not_started"  # shipped, not sold: no start
    sold = _ago(2)
    record(world, type="deliver", product="AC1", serials=[serial], event_time=_ago(2, 5))
    record(world, type="sell", product="AC1", serials=[serial], event_time=sold)

    found = _verdict(api, serial)

    assert (found["status"], found["start_date"]) == ("in_warranty", _local(sold))
    assert found["started_by"]["type"] == "sell"


def test_an_activation_based_policy_starts_at_activation_not_at_the_sale(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=12, warranty_start="activation")
    serial = _unit(world)
    record(world, type="sell", product="AC1", serials=[serial], event_time=_ago(14))
    assert _verdict(api, serial)["status"] == "not_started"  # sold, never switched on
    activated = _ago(6)
    record(world, type="activate", product="AC1", serials=[serial], event_time=activated)

    found = _verdict(api, serial)

    assert (found["status"], found["start_date"]) == ("in_warranty", _local(activated))
    assert found["started_by"]["type"] == "activate"  # 14 months after the sale: still in


def test_a_shipment_based_policy_starts_at_the_first_shipment(world: Database, api: Api) -> None:
    make_product(world, warranty_months=18, warranty_start="shipment")
    serial = _unit(world)
    shipped = _ago(5)
    record(world, type="ship", product="AC1", serials=[serial], party="D-EAST", event_time=shipped)

    found = _verdict(api, serial)

    assert (found["status"], found["start_date"]) == ("in_warranty", _local(shipped))


def test_the_fallback_sale_else_shipment_plus_90_days(world: Database, api: Api) -> None:
    make_product(
        world,
        warranty_months=12,
        warranty_start="sale",
        warranty_fallback="shipment",
        warranty_fallback_days=90,
    )
    serial = _unit(world)
    shipped = _ago(6)
    record(world, type="ship", product="AC1", serials=[serial], party="D-EAST", event_time=shipped)

    unsold = _verdict(api, serial)

    start = date.fromisoformat(_local(shipped)) + timedelta(days=90)
    assert (unsold["status"], unsold["start_date"]) == ("in_warranty", start.isoformat())
    assert unsold["started_by"]["type"] == "ship"
    assert unsold["policy"]["fallback"] == "shipment" and unsold["policy"]["fallback_days"] == 90

    sold = _ago(1)
    record(world, type="deliver", product="AC1", serials=[serial], event_time=_ago(1, 3))
    record(world, type="sell", product="AC1", serials=[serial], event_time=sold)
    assert _verdict(api, serial)["start_date"] == _local(sold)  # the sale, once there is one


def test_a_fallback_must_differ_from_the_start_and_days_need_a_fallback(api: Api) -> None:
    answer = api.post(
        "/products",
        {
            "code": "P1",
            "name": "p",
            "warranty_start": "sale",
            "warranty_fallback": "sale",
            "warranty_fallback_days": 5,
        },
    )
    body = assert_problem(answer, 422, "warranty_fallback")
    answer = api.post("/products", {"code": "P1", "name": "p", "warranty_fallback_days": 5})
    body = assert_problem(answer, 422, "warranty_fallback_days")
    assert api.get("/products/P1").status_code == 404, body  # nothing half-written


# --- extensions, void, un-void ------------------------------------------------------------------


def test_an_extension_adds_its_months_and_is_audited(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _unit(world)
    sold = _ago(25)
    record(world, type="sell", product="AC1", serials=[serial], event_time=sold)

    answer = api.post(
        f"/units/{serial}/warranty/extensions",
        {"months": 12, "paid": "bought", "reason": "extended warranty pack"},
    )

    assert answer.status_code == 201, answer.text
    found = answer.json()
    end = warranty.add_months(date.fromisoformat(_local(sold)), 36).isoformat()
    assert (found["status"], found["end_date"]) == ("in_warranty", end)
    assert found["extensions"][0] | {"at": None} == {
        "months": 12,
        "paid": "bought",
        "reason": "extended warranty pack",
        "at": None,
        "by": "alice",
        "case": None,
    }
    assert _verdict(api, serial)["end_date"] == end
    with world.read() as conn:
        logged = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.entity_key).where(
                audit_log.c.entity == "warranty"
            )
        ).all()
    assert [tuple(r) for r in logged] == [("alice", "extension", f"AC1/{serial}")]


def test_an_extension_names_every_bad_field_at_once(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24)
    serial = _unit(world)
    answer = api.post(
        f"/units/{serial}/warranty/extensions", {"months": 0, "paid": "free", "reason": " "}
    )
    body = assert_problem(answer, 422)
    assert {"months", "paid", "reason"} <= {e["field"] for e in body["errors"]}
    unknown = api.post(
        "/units/NOPE/warranty/extensions", {"months": 1, "paid": "goodwill", "reason": "x"}
    )
    assert_problem(unknown, 404, "serial")


def test_void_refuses_the_claim_and_only_warranty_unvoid_lifts_it(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _unit(world)
    record(world, type="sell", product="AC1", serials=[serial], event_time=_ago(2))
    service = _token(world, "service")
    reader = api.reader

    assert_problem(api.post(f"/units/{serial}/warranty/void", {"reason": "x"}, reader), 403)
    voided = api.post(f"/units/{serial}/warranty/void", {"reason": "seal broken"}, service)
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "void"
    assert voided.json()["void"]["reason"] == "seal broken"
    again = api.post(f"/units/{serial}/warranty/void", {"reason": "twice"}, service)
    assert_problem(again, 409, "serial")
    body = assert_problem(api.post("/cases", {"serial": serial}), 409, "checks.warranty")
    assert "warranty void: seal broken" in body["detail"]
    extended = api.post(
        f"/units/{serial}/warranty/extensions",
        {"months": 1, "paid": "goodwill", "reason": "x"},
        service,
    )
    assert_problem(extended, 409, "serial")  # a void warranty is not extended

    lift = {"reason": "the seal was broken in transport"}
    assert_problem(api.post(f"/units/{serial}/warranty/unvoid", lift, service), 403)
    lifted = api.post(f"/units/{serial}/warranty/unvoid", lift)  # the administrator
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "in_warranty" and lifted.json()["void"] is None
    assert_problem(api.post(f"/units/{serial}/warranty/unvoid", lift), 409, "serial")


def test_two_agents_voiding_one_unit_at_once_one_wins_the_other_is_told(
    world: Database,
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _unit(world)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def agent(name: str) -> None:
        start.wait()
        try:
            warranty.void(world, Actor(name, "service"), serial, VoidIn(reason=f"by {name}"))
            outcomes.append("void")
        except Conflict as error:
            outcomes.append(error.detail)

    threads = [threading.Thread(target=agent, args=(n,)) for n in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes)[-1] == "void"
    assert "already void" in sorted(outcomes)[0], outcomes
    with world.read() as conn:
        assert (
            len(conn.execute(select(audit_log).where(audit_log.c.entity == "warranty")).all()) == 1
        )


def test_an_extension_may_name_a_case_of_the_unit_only(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial, other = _unit(world), _unit(world)
    record(world, type="sell", product="AC1", serials=[serial, other], event_time=_ago(2))
    number = api.post("/cases", {"serial": other}).json()["number"]
    with pytest.raises(Exception, match="no service case"):
        warranty.extend(
            world, ALICE, serial, ExtensionIn(months=3, paid="goodwill", reason="x", case=number)
        )
    done = warranty.extend(
        world, ALICE, other, ExtensionIn(months=3, paid="goodwill", reason="x", case=number)
    )
    assert done["extensions"][0]["case"] == number


# --- overrides by region and party --------------------------------------------------------------


def _sold_through(world: Database, party: str, region: str | None) -> str:
    serial = _unit(world)
    record(world, type="ship", product="AC1", serials=[serial], party=party, event_time=_ago(4))
    record(world, type="deliver", product="AC1", serials=[serial], event_time=_ago(4, -2))
    record(world, type="sell", product="AC1", serials=[serial], event_time=_ago(3), region=region)
    return serial


def test_a_region_override_applies_to_units_sold_in_that_region(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    make_party(world, "D-SOUTH", regions=["CN-44"])
    put = api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "CN-31", "months": 36}, {"region": "CN", "months": 30}]},
    )
    assert put.status_code == 200, put.text
    shanghai = _sold_through(world, "D-EAST", "CN-31")
    guangdong = _sold_through(world, "D-SOUTH", "CN-44")
    abroad = _sold_through(world, "D-SOUTH", "US-CA")

    got = {s: _verdict(api, s)["policy"] for s in (shanghai, guangdong, abroad)}

    assert (got[shanghai]["months"], got[shanghai]["override"]) == (36, {"region": "CN-31"})
    assert (got[guangdong]["months"], got[guangdong]["override"]) == (30, {"region": "CN"})
    assert (got[abroad]["months"], got[abroad]["override"]) == (24, None)


def test_without_a_sale_region_the_shipped_to_partys_region_counts(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    api.client.patch("/api/v1/parties/D-EAST", headers=api.admin, json={"region": "CN-31"})
    api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "CN-31", "months": 36}]},
    )
    serial = _sold_through(world, "D-EAST", None)

    assert _verdict(api, serial)["policy"]["override"] == {"region": "CN-31"}


def test_a_party_override_for_the_distributor_comes_before_the_regions(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    make_party(world, "D-SOUTH", regions=["CN-44"])
    api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "CN-31", "months": 36}, {"party": "D-EAST", "months": 48}]},
    )
    east = _sold_through(world, "D-EAST", "CN-31")
    south = _sold_through(world, "D-SOUTH", "CN-31")

    east_policy, south_policy = _verdict(api, east)["policy"], _verdict(api, south)["policy"]

    assert (east_policy["months"], east_policy["override"]) == (48, {"party": "D-EAST"})
    assert (south_policy["months"], south_policy["override"]) == (36, {"region": "CN-31"})
    assert east_policy["product_months"] == 24
    listed = api.get("/products/AC1/warranty").json()
    assert listed["overrides"] == [
        {"region": "CN-31", "party": None, "months": 36},
        {"region": None, "party": "D-EAST", "months": 48},
    ]


def test_overrides_name_every_problem_at_once_and_write_nothing(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24)
    api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "CN-31", "months": 36}]},
    )
    answer = api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={
            "overrides": [
                {"party": "NOPE", "months": 1},
                {"months": 2},
                {"region": "CN-44", "party": "D-EAST", "months": 3},
                {"region": "CN-31", "months": 4},
                {"region": "CN-31", "months": 5},
            ]
        },
    )

    body = assert_problem(answer, 422)

    fields = [e["field"] for e in body["errors"]]
    assert fields == [
        "overrides.0.party",
        "overrides.1.region",
        "overrides.2.region",
        "overrides.4.region",
    ]
    assert api.get("/products/AC1/warranty").json()["overrides"] == [
        {"region": "CN-31", "party": None, "months": 36}
    ]
    bad_region = api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "shanghai", "months": 1}]},
    )
    assert_problem(bad_region, 422, "overrides.0.region")


def test_deleting_one_override_keeps_the_others(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24)
    api.client.put(
        "/api/v1/products/AC1/warranty",
        headers=api.admin,
        json={"overrides": [{"region": "CN-31", "months": 36}, {"party": "D-EAST", "months": 48}]},
    )
    gone = api.client.delete("/api/v1/products/AC1/warranty?party=D-EAST", headers=api.admin)
    assert gone.status_code == 200, gone.text
    assert [o["region"] for o in gone.json()["overrides"]] == ["CN-31"]
    missing = api.client.delete("/api/v1/products/AC1/warranty?party=D-EAST", headers=api.admin)
    assert_problem(missing, 404, "party")
    every = api.client.delete("/api/v1/products/AC1/warranty", headers=api.admin)
    assert every.json()["overrides"] == []


# --- a part's own policy ------------------------------------------------------------------------


def test_a_compressor_with_60_months_inside_a_unit_with_24_keeps_its_own(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    make_product(world, "COMP", rule=None, warranty_months=60, warranty_start="sale")
    made = _ago(31)
    (compressor,) = make_units(world, "COMP", count=None, serials=["CP-1"], event_time=made)
    serial = _unit(world, made=made)
    record(
        world,
        type="assemble",
        product="COMP",
        serials=[compressor],
        parent=UnitRef(product="AC1", serial=serial),
        event_time=made + timedelta(hours=2),
    )
    sold = _ago(30)
    record(world, type="sell", product="AC1", serials=[serial], event_time=sold)

    unit, part = _verdict(api, serial), _verdict(api, compressor)

    assert unit["status"] == "expired"  # 24 months from the sale, 30 months ago
    assert (part["status"], part["start_date"]) == ("in_warranty", _local(sold))
    assert part["policy"]["months"] == 60
    assert part["started_by"]["serial"] == serial and part["started_by"]["type"] == "sell"
    assert part["assembly"] == {"serial": serial, "product": "AC1"}


def test_a_spare_fitted_in_a_repair_starts_at_its_fitting(world: Database, api: Api) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    make_product(world, "COMP", rule=None, warranty_months=12, warranty_start="sale")
    serial = _unit(world)
    record(world, type="sell", product="AC1", serials=[serial], event_time=_ago(20))
    (spare,) = make_units(world, "COMP", count=None, serials=["CP-9"], event_time=_ago(3))
    record(
        world, type="receive", product="COMP", serials=[spare], location="WH1", event_time=_ago(3)
    )
    record(
        world, type="return", product="AC1", serials=[serial], location="WH1", event_time=_ago(2, 2)
    )
    fitted = _ago(2)
    record(
        world,
        type="assemble",
        product="COMP",
        serials=[spare],
        parent=UnitRef(product="AC1", serial=serial),
        event_time=fitted,
    )

    part = _verdict(api, spare)

    assert (part["status"], part["start_date"]) == ("in_warranty", _local(fitted))
    assert part["started_by"] == part["started_by"] | {"type": "assemble", "serial": spare}


# --- who sees what ------------------------------------------------------------------------------


def test_the_dossier_shows_the_verdict_and_a_partner_sees_it_without_names(
    world: Database, api: Api
) -> None:
    make_product(world, warranty_months=24, warranty_start="sale")
    serial = _sold_through(world, "D-EAST", "CN-31")
    api.post(
        f"/units/{serial}/warranty/extensions",
        {"months": 6, "paid": "goodwill", "reason": "late delivery"},
    )
    partner = _token(world, "partner", "D-EAST")

    staff = api.get(f"/units/{serial}").json()["warranty"]
    theirs = api.get(f"/units/{serial}", headers=partner).json()["warranty"]

    alone = _verdict(api, serial)
    assert staff == {k: v for k, v in alone.items() if k not in ("serial", "product")}
    assert staff["status"] == theirs["status"] == "in_warranty"
    assert staff["extensions"][0]["by"] == "alice"
    assert theirs["extensions"][0]["by"] is None
    assert _verdict(api, serial, partner)["extensions"][0]["by"] is None
    assert_problem(
        api.post(f"/units/{serial}/warranty/void", {"reason": "x"}, partner), 403
    )  # a partner reads warranties, never changes them
