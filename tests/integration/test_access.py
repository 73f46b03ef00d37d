"""Roles, partner scope, logins and the audit chain."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from tests.factories import in_stock, make_party, record
from unitrace.access import audit, service
from unitrace.access.principal import SYSTEM, Actor
from unitrace.cli.main import app
from unitrace.core.errors import Forbidden, NotFound, Unauthorized, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log
from unitrace.ledger import queries
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.service import record_events

PASSWORD = "correct horse battery"


def test_partner_sees_only_units_its_party_holds_or_held(db: Database) -> None:
    serials = in_stock(db, 6)
    make_party(db, "D-SOUTH")
    record(
        db,
        type="ship",
        product="AC1",
        serials=serials[:2],
        party="D-EAST",
        biz_transactions=[{"type": "desadv", "id": "DN-EAST"}],
    )
    record(
        db,
        type="ship",
        product="AC1",
        serials=serials[2:4],
        party="D-SOUTH",
        biz_transactions=[{"type": "desadv", "id": "DN-SOUTH"}],
    )
    service.create_user(db, SYSTEM, "east", PASSWORD, "partner", "D-EAST")
    east = service.check_password(db, "east", PASSWORD)
    listed = queries.list_units(db, east, limit=100)
    assert [u["serial"] for u in listed["items"]] == serials[:2]
    assert queries.list_units(db, east, holder="D-SOUTH")["items"] == []
    mine = queries.dossier(db, east, serials[0])
    assert mine["holder"] == "D-EAST"
    # a unit of the other distributor is "not found", worded like a serial that never existed
    with pytest.raises(NotFound) as theirs:
        queries.dossier(db, east, serials[2])
    with pytest.raises(NotFound) as unknown:
        queries.dossier(db, east, "NO-SUCH-SERIAL")
    assert theirs.value.detail.replace(serials[2], "X") == unknown.value.detail.replace(
        "NO-SUCH-SERIAL", "X"
    )
    with pytest.raises(NotFound):
        record_events(db, east, [EventIn(type="verify", product="AC1", serials=[serials[2]])])
    record_events(db, east, [EventIn(type="deliver", product="AC1", serials=serials[:2])])
    with pytest.raises(Forbidden):
        record_events(
            db, east, [EventIn(type="ship", product="AC1", serials=serials[:1], party="D-EAST")]
        )
    # after the unit goes back and on to the other distributor, east still sees its own past
    # with it, but nothing about the other party
    record(db, type="return", product="AC1", serials=[serials[0]], location="WH1")
    record(db, type="receive", product="AC1", serials=[serials[0]], location="WH1")
    record(
        db,
        type="ship",
        product="AC1",
        serials=[serials[0]],
        party="D-SOUTH",
        biz_transactions=[{"type": "desadv", "id": "DN-SOUTH-2"}],
    )
    seen = queries.dossier(db, east, serials[0])
    assert seen["holder"] is None
    assert "D-SOUTH" not in str(seen) and "DN-SOUTH" not in str(seen) and "WH1" not in str(seen)


def test_roles_gate_use_cases(db: Database) -> None:
    serials = in_stock(db, 2)
    for role in ("production", "warehouse", "sales", "service", "quality", "auditor"):
        service.create_user(db, SYSTEM, role, PASSWORD, role)
    actor = {
        role: service.check_password(db, role, PASSWORD)
        for role in ("production", "warehouse", "sales", "service", "quality", "auditor")
    }
    with pytest.raises(Forbidden, match="auditor"):
        record_events(
            db, actor["auditor"], [EventIn(type="inspect", product="AC1", serials=serials)]
        )
    with pytest.raises(Forbidden):
        record_events(
            db,
            actor["production"],
            [EventIn(type="ship", product="AC1", serials=serials, party="D-EAST")],
        )
    record_events(
        db,
        actor["warehouse"],
        [EventIn(type="ship", product="AC1", serials=serials, party="D-EAST")],
    )
    with pytest.raises(Forbidden):
        audit.list_records(db, actor["quality"])
    assert audit.list_records(db, actor["auditor"])["items"]
    with pytest.raises(Forbidden):
        service.create_user(db, actor["warehouse"], "x1", PASSWORD, "admin")
    with pytest.raises(ValidationError) as info:
        service.create_user(db, SYSTEM, "p1", PASSWORD, "partner")
    assert info.value.errors[0].field == "party"


def test_login_session_and_logout(db: Database) -> None:
    # failed logins back off instead of locking: tests/integration/test_access_security.py
    service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
    with pytest.raises(Unauthorized):
        service.login(db, "clerk", "wrong password", "10.0.0.1")
    service.update_user(db, SYSTEM, "clerk", password="a new long password")
    actor, session_id, csrf = service.login(db, "clerk", "a new long password", "10.0.0.2")
    assert actor.role == "warehouse" and session_id and csrf
    assert service.session_actor(db, session_id)[0].username == "clerk"
    service.logout(db, session_id)
    with pytest.raises(Unauthorized):
        service.session_actor(db, session_id)


def test_audit_chain_names_an_edited_or_deleted_record(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    serials = in_stock(db, 2)
    record(db, type="ship", product="AC1", serials=serials, party="D-EAST")
    service.create_user(db, SYSTEM, "alice", PASSWORD, "admin")
    token = service.create_token(db, SYSTEM, "alice", "erp")
    assert token["token"] not in str(audit.list_records(db, SYSTEM, limit=500))
    report = audit.verify_chain(db, SYSTEM)
    assert report.ok and report.records >= 7
    entities = {r["entity"] for r in audit.list_records(db, SYSTEM, limit=500)["items"]}
    assert {"product", "location", "party", "event", "user", "token"} <= entities
    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
    with db.write() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.id == 4)
            .values(after={"type": "ship", "unit_count": 999})
        )
    assert audit.verify_chain(db, SYSTEM).broken_at == 4
    outcome = CliRunner().invoke(app, ["audit", "verify"])
    assert outcome.exit_code == 1 and "record 4" in outcome.output


def test_audit_chain_detects_removed_records(db: Database) -> None:
    in_stock(db, 1)
    total = audit.verify_chain(db, SYSTEM).records
    with db.write() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    assert audit.verify_chain(db, SYSTEM).broken_at == 2
    with db.write() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id >= 2))
    report = audit.verify_chain(db, SYSTEM)
    assert not report.ok and total > 1 and "removed" in (report.problem or "")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, {"type": "ship", "serials": ["SN-1"], "unit_count": 1}),
        ({"name": '旧 "引号" \\ ☃', "n": [1, 2.5, None, True]}, {"b": {"z": 1, "a": [{}]}}),
        ("plain", None),
    ],
)
def test_audit_hash_is_the_canonical_json_of_the_whole_record(before, after) -> None:  # type: ignore[no-untyped-def]
    # appending puts the canonical text together from pieces; it must be the same text as
    # the canonical JSON of the whole record, or a chain written fast could not be verified
    import hashlib
    from datetime import datetime, timedelta, timezone

    row = {"id": 7, "at": datetime(2026, 11, 24, 9, 30, 1, 5, timezone(timedelta(hours=8))),
           "actor": "张三", "action": "record", "entity": "event", "entity_key": "urn:批次/1",
           "before": before, "after": after}  # fmt: skip
    whole = {**row, "at": "2026-11-24T01:30:01.000005+00:00"}
    expected = hashlib.sha256(("ab" * 32 + audit._canonical(whole)).encode()).hexdigest()
    assert audit.record_hash("ab" * 32, row) == expected


def test_audit_chain_verifies_unicode_records_written_in_a_batch(db: Database) -> None:
    with db.write() as conn, audit.deferred(conn):
        for key in ("序列号-1", 'quote"d', "x" * 200):
            audit.append(conn, SYSTEM, "update", "unit", key, {"名称": "旧"},
                         {"名称": "新", "n": 2})  # fmt: skip
    report = audit.verify_chain(db, SYSTEM)
    assert report.ok and report.records >= 3
    keys = [r["entity_key"] for r in audit.list_records(db, SYSTEM, entity="unit")["items"]]
    assert keys[0] == "x" * 120 and 'quote"d' in keys and "序列号-1" in keys
    items = audit.list_records(db, SYSTEM, entity="unit")["items"]
    assert items[0]["after"] == {"名称": "新", "n": 2} and items[0]["before"] == {"名称": "旧"}


def test_audit_chain_verifies_values_that_change_when_read_back(db: Database) -> None:
    # number keys sort as numbers before they become strings ("10" before "2" after a read),
    # decimals, dates, tuples and sets are written as strings or lists: the chain must
    # hash what is read back, in one transaction and in a deferred batch alike
    from datetime import date
    from decimal import Decimal

    odd = {2: "a", 10: {None: 1, True: [(1, 2)]}, "price": Decimal("9.90"),
           "day": date(2026, 11, 24), "tags": (3, 1)}  # fmt: skip
    with db.write() as conn:
        audit.append(conn, SYSTEM, "update", "unit", "plain", {1: "x", 10: "y"}, odd)
    with db.write() as conn, audit.deferred(conn):
        audit.append(conn, SYSTEM, "update", "unit", "batched", odd, None)
    report = audit.verify_chain(db, SYSTEM)
    assert report.ok, report.problem
    items = audit.list_records(db, SYSTEM, entity="unit")["items"]
    assert items[0]["before"]["10"] == {"null": 1, "true": [[1, 2]]}
    assert items[1]["before"] == {"1": "x", "10": "y"} and items[1]["after"]["price"] == "9.90"


def test_partner_needs_a_distributor_or_retailer(db: Database) -> None:
    make_party(db, "SUP", kind="supplier")
    with pytest.raises(ValidationError):
        service.create_user(db, SYSTEM, "s1", PASSWORD, "partner", "SUP")
    reader = Actor("x", "partner", 5, None, None)
    assert queries.list_units(db, reader)["items"] == []
