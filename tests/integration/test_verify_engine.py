"""The verification engine (issue 16): a code → the public answer, recorded as a `verify`
event through the write path; unknown codes all get one answer; nothing internal is told; a
verification outside the distributor's regions raises a diversion alert; rate limits."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from tests.factories import make_location, make_party, make_product, record
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.config import Limits
from unitrace.db.engine import Database
from unitrace.db.tables import (
    diversion_alerts,
    events,
    units,
    verifications,
    verify_codes,
)
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units
from unitrace.verify import codes, regions
from unitrace.verify.public import reset_limits


def _new_code() -> str:
    return "".join(secrets.choice(codes.ALPHABET) for _ in range(codes.LENGTH))


def give_codes(db: Database, product: str, serials: list[str]) -> dict[str, str]:
    """A verification code for each unit (as the codes part makes them), by serial."""
    made = {s: _new_code() for s in serials}
    with db.write() as conn:
        ids = dict(
            conn.execute(
                select(units.c.serial, units.c.id).where(units.c.serial.in_(serials))
            ).all()
        )
        conn.execute(insert(verify_codes), [
            {"unit_id": ids[s], "code": c, "key_id": "test", "created_at": datetime.now(UTC),
             "checks": 0, "devices": 0} for s, c in made.items()])  # fmt: skip
    return made


@pytest.fixture
def shop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Three bags shipped to D-NORTH (Heilongjiang only), delivered; each with a code."""
    monkeypatch.setenv("UNITRACE_VERIFY_PER_ADDRESS", "0")
    monkeypatch.setenv("UNITRACE_VERIFY_PER_CODE", "0")
    reset_limits()
    make_product(db, "BAG", rule=None, name="旅行包")
    make_location(db, "WH-SECRET-7")
    make_party(db, "D-NORTH", regions=["CN-23"])
    serials = commission_units(
        db, SYSTEM, CommissionIn(product="BAG", serials=["B1", "B2", "B3"])
    ).serials
    record(db, type="receive", product="BAG", serials=serials, location="WH-SECRET-7")
    record(db, type="ship", product="BAG", serials=serials, party="D-NORTH")
    record(db, type="deliver", product="BAG", serials=serials)
    made = give_codes(db, "BAG", serials)
    # the API's own per-address limit (100 a second) would answer 10,000 requests with 429s
    no_api_limit = Limits(rate_per_token=0, rate_per_address=0)
    with TestClient(create_app(db, limits=no_api_limit), raise_server_exceptions=False) as client:
        yield client, made
    reset_limits()


@pytest.mark.slow
def test_ten_thousand_random_codes_find_nothing_and_get_one_identical_answer(
    shop: tuple[TestClient, dict[str, str]],
) -> None:
    client, made = shop
    bodies = set()
    statuses = set()
    for _ in range(10_000):
        code = _new_code()
        assert code not in made.values()
        answer = client.get(f"/v/{code}.json", headers={"cookie": "ut_device=" + "d" * 20})
        bodies.add(answer.content)
        statuses.add(answer.status_code)
    malformed = client.get("/v/not-a-code!.json", headers={"cookie": "ut_device=" + "d" * 20})
    assert statuses == {404} and bodies == {b'{"kind":"not_found"}'}
    assert malformed.status_code == 404 and malformed.content == b'{"kind":"not_found"}'


def test_a_genuine_answer_tells_nothing_of_holder_shipment_or_location(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    answer = client.get(f"/v/{made['B1']}.json?region=CN-23")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "genuine" and body["product_name"] == "旅行包"
    text = answer.text.replace(made["B1"], "§")  # a random code may hold "B1" by chance
    for secret in ("D-NORTH", "WH-SECRET-7", "B1", "holder", "location", "party", "event"):
        assert secret not in text, secret
    assert "ut_device" in answer.headers.get("set-cookie", "")


def test_a_verification_is_a_verify_event_with_its_region_and_counts_on_its_code(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    first = client.get(
        f"/v/{made['B2']}.json?region=CN-23", headers={"cookie": "ut_device=" + "a" * 22}
    )
    again = client.get(
        f"/v/{made['B2']}.json?region=CN-2301", headers={"cookie": "ut_device=" + "b" * 22}
    )
    assert first.json()["checks"] == 1 and first.json()["first_verified_at"] is None
    assert again.json()["checks"] == 2 and again.json()["first_region"] == "CN-23"
    with db.read() as conn:
        kept = conn.execute(
            select(events.c.type, events.c.region).where(events.c.type == "verify")
        ).all()
        code = conn.execute(select(verify_codes).where(verify_codes.c.code == made["B2"])).one()
        rows = conn.execute(select(func.count()).select_from(verifications)).scalar_one()
    assert sorted(kept) == [("verify", "CN-23"), ("verify", "CN-2301")]
    assert (code.checks, code.devices, code.first_region, code.last_region) == (
        2, 2, "CN-23", "CN-2301")  # fmt: skip
    assert rows == 2


def test_a_verification_outside_the_distributor_s_regions_raises_a_diversion_alert(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    client.get(f"/v/{made['B1']}.json?region=CN-23")  # inside Heilongjiang: no alert
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(diversion_alerts)).scalar_one() == 0
    client.get(f"/v/{made['B3']}.json?region=CN-44")
    with db.read() as conn:
        alerts = conn.execute(
            select(diversion_alerts.c.seen_region, diversion_alerts.c.source_type)
        ).all()
    assert alerts == [("CN-44", "verify")]


def test_the_region_comes_from_the_address_table_when_the_user_does_not_choose(
    db: Database,
) -> None:
    loaded = regions.load(db, regions.SAMPLE)
    with db.read() as conn:
        assert regions.region_of(conn, "10.44.3.9") == "CN-44"
        assert regions.region_of(conn, "2001:db8:23::1") == "CN-23"
        assert regions.region_of(conn, "8.8.8.8") is None
        assert regions.region_of(conn, "not an address") is None
    assert loaded > 5


def test_a_bad_region_table_names_every_bad_row_and_loads_nothing(
    db: Database, tmp_path: pytest.TempPathFactory
) -> None:
    from unitrace.core.errors import ValidationError

    bad = tmp_path / "bad.csv"  # type: ignore[operator]
    bad.write_text("cidr,region\n10.1.0.0/16,CN-11\n10.2.0.0/99,CN-12\n10.3.0.0/16,guangdong\n")
    with pytest.raises(ValidationError) as raised:
        regions.load(db, bad)
    fields = [e.field for e in raised.value.errors]
    assert fields == ["row 3.cidr", "row 4.region"]
    with db.read() as conn:
        assert regions.region_of(conn, "10.1.0.1") is None


def test_the_thirtieth_request_a_minute_from_one_address_gets_429_with_retry_after(
    shop: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _made = shop
    monkeypatch.setenv("UNITRACE_VERIFY_PER_ADDRESS", "29")
    reset_limits()
    answers = [client.get(f"/v/{_new_code()}.json").status_code for _ in range(30)]
    assert answers[:29] == [404] * 29 and answers[29] == 429
    last = client.get(f"/v/{_new_code()}.json")
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1


def test_one_code_verified_too_often_a_minute_is_refused_whatever_the_address(
    shop: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, made = shop
    monkeypatch.setenv("UNITRACE_VERIFY_PER_CODE", "3")
    reset_limits()
    answers = [client.get(f"/v/{made['B1']}.json").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
