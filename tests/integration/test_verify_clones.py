"""Clone detection (issue 16): a code verified too often, by too many devices, or from two
regions farther apart than anyone travels in the time between raises one alert per code and
rule, updated by later breaches; staff acknowledge, close, and mark codes compromised."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from tests.factories import make_party, make_product
from tests.integration.test_verify_engine import give_codes
from tests.pages import PASSWORD, csrf_of, log_in
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, clone_alerts, products, verify_settings
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units
from unitrace.verify import check, clones

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
HARBIN, GUANGZHOU = "CN-2301", "CN-4401"
ZH = {"Accept-Language": "zh-CN"}
# a product code, a unit, the language link, device ids, the user and the brand
ALLOWED = {"BAG", "km", "English", "dev", "clerk", "unitrace"}


@pytest.fixture
def made(db: Database) -> dict[str, str]:
    """Four bags, each with a code; BAG's thresholds: 3 checks, 2 devices, 800 km/h."""
    make_product(db, "BAG", rule=None, name="旅行包")
    serials = commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="BAG", serials=["B1", "B2", "B3", "B4"], event_time=T0 - timedelta(days=9)
        ),
    ).serials
    with db.write() as conn:
        product = conn.execute(select(products.c.id).where(products.c.code == "BAG")).scalar()
        conn.execute(insert(verify_settings).values(
            product_id=product, enabled=True, pin=False, ownership=False, max_checks=3,
            max_devices=2, max_speed_kmh=800, updated_at=T0, updated_by="tests"))  # fmt: skip
    return give_codes(db, "BAG", serials)


def verify(db: Database, code: str, region: str, at: datetime, device: str = "dev-1") -> Any:
    return asyncio.run(check.verify(db, code, check.Context("10.0.0.1", device, region, at=at)))


def alerts(db: Database) -> list[tuple[str, str, int]]:
    with db.read() as conn:
        rows = conn.execute(
            select(clone_alerts.c.rule, clone_alerts.c.status, clone_alerts.c.count).order_by(
                clone_alerts.c.rule
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_harbin_then_guangzhou_within_an_hour_raises_one_alert_a_third_check_no_second(
    db: Database, made: dict[str, str]
) -> None:
    code = made["B1"]
    assert verify(db, code, HARBIN, T0).kind == "genuine"
    verify(db, code, GUANGZHOU, T0 + timedelta(minutes=40))
    assert alerts(db) == [("travel", "open", 1)]
    with db.read() as conn:
        detail = conn.execute(select(clone_alerts.c.detail)).scalar_one()
    assert detail["from"] == HARBIN and detail["to"] == GUANGZHOU and 2700 < detail["km"] < 2900
    third = verify(db, code, HARBIN, T0 + timedelta(minutes=50))
    assert alerts(db) == [("travel", "open", 2)]
    assert "clone_alert" in third.reasons and third.kind == "warning"


def test_a_plausible_journey_raises_nothing(db: Database, made: dict[str, str]) -> None:
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(hours=5))  # 2,790 km in 5 h: a flight
    verify(db, made["B1"], "CN-23", T0 + timedelta(hours=10))
    verify(db, made["B2"], HARBIN, T0)
    verify(db, made["B2"], "CN-23", T0 + timedelta(minutes=1))  # the province's seat: near
    assert alerts(db) == []


def test_more_checks_than_the_product_allows_raise_one_checks_alert(
    db: Database, made: dict[str, str]
) -> None:
    for i in range(6):
        verify(db, made["B2"], HARBIN, T0 + timedelta(days=i))
    assert alerts(db) == [("checks", "open", 3)]  # checks 4, 5 and 6 are over 3


def test_more_devices_than_the_product_allows_raise_one_devices_alert(
    db: Database, made: dict[str, str]
) -> None:
    for i in range(3):
        verify(db, made["B3"], HARBIN, T0 + timedelta(days=i), device=f"phone-{i}")
    assert alerts(db) == [("devices", "open", 1)]


def test_a_closed_alert_stays_closed_when_breached_again_and_counts_on(
    db: Database, made: dict[str, str]
) -> None:
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(minutes=10))
    with db.write() as conn:
        conn.execute(update(clone_alerts).values(status="closed"))
    verify(db, made["B1"], HARBIN, T0 + timedelta(minutes=20))
    assert alerts(db) == [("travel", "closed", 2)]
    assert "clone_alert" not in verify(db, made["B1"], HARBIN, T0 + timedelta(days=1)).reasons


def test_two_verifications_of_one_code_at_once_make_one_alert(
    db: Database, made: dict[str, str]
) -> None:
    code = made["B4"]
    verify(db, code, HARBIN, T0)
    start = threading.Barrier(2)

    def one(minutes: int) -> None:
        start.wait()
        verify(db, code, GUANGZHOU, T0 + timedelta(minutes=minutes), device=f"d{minutes}")

    threads = [threading.Thread(target=one, args=(m,)) for m in (5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = alerts(db)
    assert [r[0] for r in found].count("travel") == 1


def test_two_transactions_observing_one_code_at_once_meet_in_one_row(
    db: Database, made: dict[str, str]
) -> None:
    """The rules' upsert itself, each in its own write transaction (PostgreSQL: concurrent)."""
    verify(db, made["B4"], HARBIN, T0)
    with db.read() as conn:
        from unitrace.db.tables import verify_codes

        row = conn.execute(select(verify_codes).where(verify_codes.c.code == made["B4"])).one()
        product = conn.execute(select(products.c.id).where(products.c.code == "BAG")).scalar()
    start = threading.Barrier(2)
    failed: list[BaseException] = []

    def one(minutes: int) -> None:
        o = clones.Observation(
            row.id, row.unit_id, int(product), 1, T0 + timedelta(minutes=minutes), GUANGZHOU,
            "x", 2, 1, T0, HARBIN)  # fmt: skip
        try:
            start.wait()
            with db.write() as conn:
                clones.observe(conn, [o])
        except BaseException as error:  # noqa: BLE001 — reported below
            failed.append(error)

    threads = [threading.Thread(target=one, args=(m,)) for m in (5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed
    assert alerts(db) == [("travel", "open", 2)]


@pytest.fixture
def client(db: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = {}
    make_party(db, "D-NORTH", regions=["CN-23"])
    for role in ("admin", "quality", "readonly", "partner"):
        party = "D-NORTH" if role == "partner" else None
        access.create_user(db, SYSTEM, f"u-{role}", "correct horse battery", role, party)
        tokens[role] = access.create_token(db, SYSTEM, f"u-{role}", "tests")["token"]
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c, tokens


def _as(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_the_api_lists_shows_acknowledges_and_closes_with_permissions(
    db: Database, made: dict[str, str], client: tuple[TestClient, dict[str, str]]
) -> None:
    c, tokens = client
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(minutes=30))
    listed = c.get("/api/v1/clone-alerts", headers=_as(tokens, "readonly"))
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    alert = listed.json()[0]
    assert alert["rule"] == "travel" and alert["code"] == made["B1"]
    shown = c.get(f"/api/v1/clone-alerts/{alert['id']}", headers=_as(tokens, "readonly"))
    assert [v["region"] for v in shown.json()["history"]] == [GUANGZHOU, HARBIN]
    assert c.get("/api/v1/clone-alerts", headers=_as(tokens, "partner")).status_code == 403
    ack = f"/api/v1/clone-alerts/{alert['id']}/ack"
    assert c.post(ack, headers=_as(tokens, "readonly")).status_code == 403
    assert c.post(ack, headers=_as(tokens, "partner")).status_code == 403
    assert c.post(ack, headers=_as(tokens, "quality")).json()["status"] == "acknowledged"
    close = f"/api/v1/clone-alerts/{alert['id']}/close"
    no_note = c.post(close, headers=_as(tokens, "quality"), json={"note": ""})
    assert no_note.status_code == 422 and "note" in no_note.text
    done = c.post(close, headers=_as(tokens, "quality"), json={"note": "a VPN"})
    assert done.json()["status"] == "closed"
    again = c.post(close, headers=_as(tokens, "quality"), json={"note": "again"})
    assert again.status_code == 409
    bad = c.get("/api/v1/clone-alerts?rule=nonsense", headers=_as(tokens, "readonly"))
    assert bad.status_code == 422 and "rule" in bad.text
    with db.read() as conn:
        kept = conn.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.entity == "clone_alert")
        ).scalar_one()
    assert kept == 2


def test_a_compromised_code_answers_warning_until_restored(
    db: Database, made: dict[str, str], client: tuple[TestClient, dict[str, str]]
) -> None:
    c, tokens = client
    code = made["B2"]
    url = f"/api/v1/codes/{code}/compromise"
    assert c.post(url, json={"reason": "x"}, headers=_as(tokens, "readonly")).status_code == 403
    empty = c.post(url, json={"reason": ""}, headers=_as(tokens, "quality"))
    assert empty.status_code == 422 and "reason" in empty.text
    unknown = c.post("/api/v1/codes/NOSUCHCODE/compromise", json={"reason": "x"},
                     headers=_as(tokens, "quality"))  # fmt: skip
    assert unknown.status_code == 404
    assert c.post(url, json={"reason": "copies seen"}, headers=_as(tokens, "quality")).is_success
    answer = verify(db, code, HARBIN, T0)
    assert answer.kind == "warning" and "compromised" in answer.reasons
    restore = c.post(f"/api/v1/codes/{code}/restore", headers=_as(tokens, "quality"))
    assert restore.is_success
    assert verify(db, code, HARBIN, T0 + timedelta(days=1)).kind == "genuine"


def test_the_cli_lists_and_acknowledges_an_alert(db: Database, made: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(minutes=30))
    listed = cli("clones", "list")
    assert listed.exit_code == 0 and "travel" in listed.output and made["B1"] in listed.output
    alert_id = listed.output.split()[0]
    acked = cli("clones", "ack", alert_id, "--note", "looking")
    assert acked.exit_code == 0, acked.output
    assert cli("clones", "list", "--status", "acknowledged").output.startswith(alert_id)
    assert cli("verify", "compromise", made["B1"], "--reason", "copies").exit_code == 0
    assert "compromised" in verify(db, made["B1"], HARBIN, T0 + timedelta(days=1)).reasons


@pytest.fixture
def browser(db: Database) -> Iterator[TestClient]:
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        log_in(c, lang="zh-CN")
        yield c


def _english(html: str) -> list[str]:
    text = unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S))
    )
    return re.findall(r"\b[A-Za-z]{3,}\b", text)


def test_the_pages_show_the_alert_in_chinese_and_close_and_compromise_from_them(
    db: Database, made: dict[str, str], browser: TestClient
) -> None:
    verify(db, made["B1"], HARBIN, T0)
    verify(db, made["B1"], GUANGZHOU, T0 + timedelta(minutes=30))
    listed = browser.get("/clone-alerts", headers=ZH)
    assert listed.status_code == 200 and made["B1"] in listed.text and "哈尔滨" not in listed.text
    assert "行程不可能" in listed.text
    stray = [w for w in _english(listed.text) if w not in ALLOWED]
    assert not stray, stray
    alert_id = int(re.search(r'/clone-alerts/(\d+)"', listed.text).group(1))  # type: ignore[union-attr]
    shown = browser.get(f"/clone-alerts/{alert_id}", headers=ZH)
    assert shown.status_code == 200 and "CN-4401" in shown.text
    stray = [w for w in _english(shown.text) if w not in ALLOWED]
    assert not stray, stray
    csrf = csrf_of(shown.text)
    empty = browser.post(f"/clone-alerts/{alert_id}/close", data={"csrf_token": csrf}, headers=ZH)
    assert empty.status_code == 422
    done = browser.post(
        f"/clone-alerts/{alert_id}/compromise",
        data={"csrf_token": csrf, "reason": "复制品"},
        headers=ZH,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "compromised" in verify(db, made["B1"], HARBIN, T0 + timedelta(days=1)).reasons
