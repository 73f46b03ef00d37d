"""Registration and ownership by the buyer (issue 16, verify/owners.py): the registration is
one `activate` event that starts an activation-based warranty at the purchase date; a second
is refused; a unit not sold cannot be registered; the owner's transfer code works once (two
claims at once: one wins); the owner's stolen report makes `ownership().stolen`; the owner
history is read only with owners.read, and every read is audited."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.owners_setup import fake_normalise, sold_units
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import warranty
from unitrace.core.errors import Conflict, Forbidden, InvalidTransition, UnitraceError
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, buyer_registrations, events, owners, stolen_reports
from unitrace.verify import owners as service


@pytest.fixture(autouse=True)
def _codes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_normalise(monkeypatch)


def _form(**kw: str) -> service.Registration:
    day = (warranty.today() - timedelta(days=10)).isoformat()
    values = {"purchase_date": day, "region": "CN-44", "name": "Li Lei", "phone": "13800138000"}
    return service.Registration(**(values | kw))


def _unit_id(db: Database, serial: str) -> int:
    from unitrace.db.tables import units

    with db.read() as conn:
        return int(conn.execute(select(units.c.id).where(units.c.serial == serial)).scalar_one())


def test_registration_from_the_page_starts_an_activation_based_warranty(db: Database) -> None:
    serials, codes = sold_units(db)
    unit = _unit_id(db, serials[0])
    with db.read() as conn:
        assert warranty.verdict(conn, unit)["status"] == "not_started"
    bought = warranty.today() - timedelta(days=10)
    done = service.register(db, codes[serials[0]], _form(purchase_date=bought.isoformat()))
    assert done.owner_key is None  # not an ownership product
    with db.read() as conn:
        found = warranty.verdict(conn, unit)
        event = conn.execute(select(events).where(events.c.event_id == done.event_id)).one()
        state = service.ownership(conn, unit)
    assert found["status"] == "in_warranty"
    assert found["started_by"]["type"] == "activate"
    assert found["start_date"] == bought.isoformat()  # the purchase date, not today
    assert found["end_date"] == warranty.add_months(bought, 24).isoformat()
    assert event.type == "activate" and event.region == "CN-44"
    assert state == service.Ownership(registered=True, owned_since=None, stolen=False)


def test_a_delivered_unit_not_yet_sold_can_be_registered_too(db: Database) -> None:
    serials, codes = sold_units(db)
    service.register(db, codes[serials[1]], _form(phone="", email="li@example.cn"))
    with db.read() as conn:
        assert service.ownership(conn, _unit_id(db, serials[1])).registered


def test_every_problem_of_the_form_is_reported_at_once_by_field(db: Database) -> None:
    serials, codes = sold_units(db)
    future = (warranty.today() + timedelta(days=2)).isoformat()
    with pytest.raises(UnitraceError) as refused:
        service.register(db, codes[serials[0]], _form(purchase_date=future, region="XX", phone=""))
    fields = {e.field for e in refused.value.errors}
    assert fields == {"purchase_date", "region", "contact"}
    with pytest.raises(UnitraceError) as early:
        service.register(db, codes[serials[0]], _form(purchase_date="2001-01-01"))
    assert [e.message for e in early.value.errors] == ["is before the unit was made"]
    with pytest.raises(UnitraceError) as bad:
        service.register(db, codes[serials[0]], _form(purchase_date="soon", email="x"))
    assert {e.field for e in bad.value.errors} == {"purchase_date", "email"}
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(buyer_registrations)).scalar() == 0


def test_a_second_registration_is_refused(db: Database) -> None:
    serials, codes = sold_units(db)
    service.register(db, codes[serials[0]], _form())
    with pytest.raises(Conflict, match="registered already"):
        service.register(db, codes[serials[0]], _form(name="Someone else"))
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(buyer_registrations)).scalar() == 1


def test_a_unit_not_sold_or_delivered_cannot_be_registered(db: Database) -> None:
    serials, codes = sold_units(db)
    with pytest.raises(InvalidTransition, match="not sold"):
        service.register(db, codes[serials[-1]], _form())
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(buyer_registrations)).scalar() == 0
        assert not service.registrable(conn, _unit_id(db, serials[-1]))
        assert service.registrable(conn, _unit_id(db, serials[0]))


def test_an_unknown_code_is_not_found(db: Database) -> None:
    sold_units(db)
    with pytest.raises(UnitraceError, match="no such code"):
        service.register(db, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", _form())
    with pytest.raises(UnitraceError, match="no such code"):
        service.register(db, "short", _form())


def test_the_first_registration_makes_the_buyer_the_owner(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    done = service.register(db, codes[serials[0]], _form())
    assert done.owner_key and len(done.owner_key) >= 20
    with db.read() as conn:
        row = conn.execute(select(owners)).one()
        state = service.ownership(conn, _unit_id(db, serials[0]))
    assert row.owner_key_hash != done.owner_key and done.owner_key not in row.owner_key_hash
    assert state.owned_since == warranty.today() and state.registered


def test_an_ownership_transfer_code_works_once(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    first_key = service.register(db, code, _form()).owner_key
    assert first_key is not None
    with pytest.raises(UnitraceError, match="wrong owner key"):
        service.start_transfer(db, code, "not-the-key")
    transfer = service.start_transfer(db, code, first_key)
    shown = service.show_transfer_code(transfer.code).lower()  # typed as printed, any case
    second_key = service.claim(db, code, shown)
    assert second_key != first_key
    with pytest.raises(UnitraceError, match="wrong, used or expired"):
        service.claim(db, code, transfer.code)  # the second time
    with pytest.raises(UnitraceError, match="wrong owner key"):
        service.start_transfer(db, code, first_key)  # the old owner is no longer the owner
    service.start_transfer(db, code, second_key)
    with db.read() as conn:
        rows = conn.execute(select(owners).order_by(owners.c.id)).all()
    assert [r.until is None for r in rows] == [False, True]


def test_a_transfer_code_expires_and_a_new_one_replaces_the_old(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    key = service.register(db, code, _form()).owner_key
    assert key is not None
    old = service.start_transfer(db, code, key)
    new = service.start_transfer(db, code, key)
    with pytest.raises(UnitraceError, match="wrong, used or expired"):
        service.claim(db, code, old.code)
    late = new.expires_at + timedelta(seconds=1)
    with pytest.raises(UnitraceError, match="wrong, used or expired"):
        service.claim(db, code, new.code, now=late)
    service.claim(db, code, new.code)


def test_two_concurrent_claims_of_one_transfer_code_one_wins(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    key = service.register(db, code, _form()).owner_key
    assert key is not None
    transfer = service.start_transfer(db, code, key)
    start = threading.Barrier(2)
    won: list[str] = []
    lost: list[Exception] = []

    def claim() -> None:
        start.wait()
        try:
            won.append(service.claim(db, code, transfer.code))
        except (UnitraceError, Conflict) as error:
            lost.append(error)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 1
    with db.read() as conn:
        current = conn.execute(select(owners).where(owners.c.until.is_(None))).all()
    assert len(current) == 1


def test_the_owners_stolen_report_makes_the_unit_stolen(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    key = service.register(db, code, _form()).owner_key
    assert key is not None
    with pytest.raises(UnitraceError, match="wrong owner key"):
        service.report_stolen(db, code, "guess")
    service.report_stolen(db, code, key, "taken on the metro")
    with db.read() as conn:
        assert service.ownership(conn, _unit_id(db, serials[0])).stolen
        report = conn.execute(select(stolen_reports)).one()
    assert report.reported_by == "owner" and report.note == "taken on the metro"
    with pytest.raises(Conflict, match="already reported stolen"):
        service.report_stolen(db, code, key)


def test_a_staff_stolen_report_counts_too(db: Database) -> None:
    from unitrace.aftersales import claims
    from unitrace.aftersales.schemas import StolenIn

    serials, _codes = sold_units(db)
    claims.report_stolen(db, SYSTEM, serials[0], StolenIn())
    with db.read() as conn:
        assert service.ownership(conn, _unit_id(db, serials[0])).stolen


def test_the_owner_history_needs_owners_read_and_every_read_is_audited(db: Database) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    key = service.register(db, code, _form(email="li@example.cn")).owner_key
    assert key is not None
    service.claim(db, code, service.start_transfer(db, code, key).code)
    with pytest.raises(Forbidden):
        service.history(db, Actor("viewer", "readonly"), serials[0])
    with db.read() as conn:
        before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    found = service.history(db, Actor("sam", "service"), serials[0])
    assert found["registration"]["phone"] == "13800138000"
    assert found["registration"]["email"] == "li@example.cn"
    assert [o["current"] for o in found["owners"]] == [False, True]
    with db.read() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert len(rows) == before + 1
    assert (rows[-1].actor, rows[-1].action, rows[-1].entity) == ("sam", "read", "owners")
    assert rows[-1].entity_key == f"LX1/{serials[0]}"


def test_a_code_with_a_pin_is_registered_only_with_its_pin(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from unitrace.db.tables import verify_codes
    from unitrace.verify import codes as verify_codes_part

    serials, codes = sold_units(db, ownership=True)
    with db.write() as conn:
        conn.execute(update(verify_codes).values(pin_hash="the-hash"))
    asked: list[tuple[str, str | None, str, str]] = []

    def pin_matches(key_id: str, pin_hash: str | None, code: str, pin: str) -> bool:
        asked.append((key_id, pin_hash, code, pin))
        return pin == "482915"

    monkeypatch.setattr(verify_codes_part, "pin_matches", pin_matches)
    code = codes[serials[0]]
    for pin in ("", "000000"):
        with pytest.raises(UnitraceError) as refused:
            service.register(db, code, _form(pin=pin))
        assert [e.field for e in refused.value.errors] == ["pin"]
    assert service.register(db, code, _form(pin="482915")).owner_key
    assert asked[-1] == ("0" * 16, "the-hash", code, "482915")
