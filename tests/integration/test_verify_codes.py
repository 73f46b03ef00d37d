"""Verification codes: made at commissioning or backfilled, unguessable, PINs hashed at rest,
valid across a key rotation."""

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.clients import Api, assert_problem
from tests.factories import make_product, make_units
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import products, units, verify_codes
from unitrace.verify import codes, keys, settings

OLD = "old-key-" + "a" * 40
NEW = "new-key-" + "b" * 40


@pytest.fixture(autouse=True)
def verify_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UNITRACE_VERIFY_KEYS", OLD)
    keys.reset()
    yield
    keys.reset()


def rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_VERIFY_KEYS", f"{NEW},{OLD}")
    keys.reset()


def code_rows(db: Database, product: str = "AC1") -> dict[str, tuple[str, str, str | None]]:
    """serial → (code, key_id, pin_hash) of the product's units."""
    with db.read() as conn:
        rows = conn.execute(
            select(
                units.c.serial, verify_codes.c.code, verify_codes.c.key_id, verify_codes.c.pin_hash
            )
            .select_from(verify_codes)
            .join(units, units.c.id == verify_codes.c.unit_id)
            .join(products, products.c.id == units.c.product_id)
            .where(products.c.code == product)
        )
        return {r.serial: (r.code, r.key_id, r.pin_hash) for r in rows}


def test_commission_with_verification_on_makes_one_code_per_unit_and_off_none(
    db: Database,
) -> None:
    make_product(db, "ON")
    make_product(db, "OFF")
    settings.put(db, SYSTEM, "ON", {"enabled": True})
    on = make_units(db, "ON", count=250)
    off = make_units(db, "OFF", count=40)
    made = code_rows(db, "ON")
    assert set(made) == set(on) and len(off) == 40 and code_rows(db, "OFF") == {}
    values = [c for c, _, _ in made.values()]
    assert len(set(values)) == 250
    assert all(len(c) == codes.LENGTH and codes.normalise(c) == c for c in values)
    assert {k for _, k, _ in made.values()} == {keys.current()[0]}


def test_the_same_unit_under_another_key_gets_another_code(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing but the key makes the code: no function of serial or unit id alone gives it."""
    first = codes.make(1)
    rotate(monkeypatch)
    assert codes.make(1) != first
    assert codes.make(1, OLD.encode()) == first
    assert codes.make(2) != codes.make(1)
    assert codes.make_many([1, 2, 3], NEW.encode()) == [codes.make(i) for i in (1, 2, 3)]


def test_normalise_reads_what_people_type_and_refuses_what_cannot_be_a_code() -> None:
    code = codes.make(42)
    printed = codes.display(code)
    assert len(printed) == 19 and printed.count("-") == 3
    assert codes.normalise(printed) == code
    assert codes.normalise(printed.lower().replace("-", " ")) == code
    assert codes.normalise("0000-1111-0000-1111") == codes.normalise("oooo-iiii-OOOO-llll")
    for bad in ("", "ABC", code + "0", code[:-1] + "U", code[:-1] + "*", "x" * 1000, "ÄÖÜ" * 6):
        assert codes.normalise(bad) is None, bad


def test_verify_url_is_the_public_address_and_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", "https://id.example.com/")
    assert codes.verify_url("7K3MQ9XW2D4FHT8C") == "https://id.example.com/v/7K3MQ9XW2D4FHT8C"


def test_backfill_gives_existing_units_codes_once(db: Database) -> None:
    make_product(db)
    serials = make_units(db, count=30)
    assert code_rows(db) == {}
    first = settings.issue(db, SYSTEM, "AC1")
    assert (first.made, first.existing) == (30, 0)
    before = code_rows(db)
    again = settings.issue(db, SYSTEM, "AC1")
    assert (again.made, again.existing) == (0, 30)
    assert code_rows(db) == before and set(before) == set(serials)


def test_pins_are_shown_once_and_only_their_keyed_hash_is_kept(
    db: Database, tmp_path: Path
) -> None:
    make_product(db)
    settings.put(db, SYSTEM, "AC1", {"enabled": True, "pin": True})
    make_units(db, count=20)
    out = tmp_path / "pins.csv"
    assert settings.pins(db, SYSTEM, "AC1", out).made == 20
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 20 and all(len(r["pin"]) == 8 and r["pin"].isdigit() for r in rows)
    stored = code_rows(db)
    with db.read() as conn:  # the plain PIN is nowhere in the database
        dump = "\n".join(
            str(tuple(r))
            for table in ("verify_codes", "audit_log")
            for r in conn.execute(text(f"SELECT * FROM {table}"))
        )
    for row in rows:
        code, key_id, pin_hash = stored[row["serial"]]
        assert row["pin"] not in dump
        assert codes.pin_matches(key_id, pin_hash, codes.normalise(row["code"]) or "", row["pin"])
        assert not codes.pin_matches(key_id, pin_hash, code, f"{(int(row['pin']) + 1) % 10**8:08d}")
    second = tmp_path / "again.csv"
    assert (
        settings.pins(db, SYSTEM, "AC1", second).made,
        len(second.read_text().splitlines()),
    ) == (
        0,
        1,
    )


def test_a_code_made_before_a_rotation_stays_and_checks_its_pin(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_product(db)
    settings.put(db, SYSTEM, "AC1", {"enabled": True})
    old_serial = make_units(db, count=1)[0]
    out = tmp_path / "pins.csv"
    settings.pins(db, SYSTEM, "AC1", out)
    pin = next(csv.DictReader(out.read_text().splitlines()))["pin"]
    before = code_rows(db)[old_serial]
    rotate(monkeypatch)
    new_serial = make_units(db, count=1)[0]
    after = code_rows(db)
    assert after[old_serial] == before  # the printed code stays
    code, key_id, pin_hash = before
    assert key_id == keys.key_id(OLD.encode()) != after[new_serial][1] == keys.current()[0]
    assert codes.pin_matches(key_id, pin_hash, code, pin)


def test_settings_report_every_bad_field_at_once(db: Database) -> None:
    make_product(db)
    with pytest.raises(ValidationError) as info:
        settings.put(
            db, SYSTEM, "AC1", {"enabled": "yes", "max_checks": 0, "max_speed_kmh": "x", "y": 1}
        )
    assert {e.field for e in info.value.errors} == {"enabled", "max_checks", "max_speed_kmh", "y"}
    assert settings.get(db, SYSTEM, "AC1")["enabled"] is False
    changed = settings.put(db, SYSTEM, "AC1", {"max_devices": 3})
    assert changed["max_devices"] == 3 and changed["max_checks"] == 20


def test_codes_export_lists_serial_code_and_url(db: Database, tmp_path: Path) -> None:
    make_product(db)
    settings.put(db, SYSTEM, "AC1", {"enabled": True})
    serials = make_units(db, count=5)
    out = tmp_path / "codes.csv"
    assert settings.export(db, SYSTEM, "AC1", out) == 5
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["serial"] for r in rows] == serials
    assert all(r["url"].endswith("/v/" + codes.normalise(r["code"])) for r in rows)  # type: ignore[operator]


def test_api_settings_backfill_and_pins(api: Api, db: Database) -> None:
    make_product(db)
    make_units(db, count=4)
    bad = api.client.put(
        "/api/v1/products/AC1/verification",
        json={"max_checks": -1, "pin": 3},
        headers=api.admin,
    )
    body = assert_problem(bad, 422)
    assert {e["field"] for e in body["errors"]} == {"max_checks", "pin"}
    good = api.client.put(
        "/api/v1/products/AC1/verification", json={"enabled": True}, headers=api.admin
    )
    assert good.status_code == 200 and good.json()["enabled"] is True
    assert api.get("/products/AC1/verification", headers=api.reader).json()["enabled"] is True
    assert api.post("/products/AC1/verification/codes", None).json() == {"made": 4, "existing": 0}
    assert api.post("/products/AC1/verification/codes", None).json() == {"made": 0, "existing": 4}
    pins = api.post("/products/AC1/verification/pins", None)
    assert pins.headers["x-pins-made"] == "4" and len(pins.text.splitlines()) == 5
    again = api.post("/products/AC1/verification/pins", None)
    assert again.headers["x-pins-skipped"] == "4" and again.text.splitlines() == ["serial,code,pin"]
    assert_problem(api.get("/products/NOPE/verification"), 404, "product")


def test_cli_settings_issue_codes_and_pins(cli, db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_product(db)
    make_units(db, count=3)
    shown = cli("verify", "settings", "AC1", "--enable", "--pin", "--max-checks", "9")
    assert shown.exit_code == 0, shown.output
    assert '"max_checks": 9' in shown.output and '"enabled": true' in shown.output
    bad = cli("verify", "settings", "AC1", "--max-devices", "0")
    assert bad.exit_code != 0 and "max_devices" in bad.output
    assert "3 codes made" in cli("verify", "issue", "AC1").output
    assert "0 codes made, 3 units had one" in cli("verify", "issue", "AC1").output
    out = tmp_path / "codes.csv"
    assert cli("verify", "codes", "AC1", "--out", str(out)).exit_code == 0
    assert len(out.read_text().splitlines()) == 4
    pins = tmp_path / "pins.csv"
    assert "3 PINs written" in cli("verify", "pins", "AC1", "--out", str(pins)).output
    assert cli("verify", "pins", "AC1", "--out", str(pins)).exit_code != 0  # never overwritten
    assert len(pins.read_text().splitlines()) == 4
    again = " ".join(cli("verify", "pins", "AC1", "--out", str(tmp_path / "2.csv")).output.split())
    assert again.startswith("0 PINs written") and again.endswith("3 codes had a PIN")
