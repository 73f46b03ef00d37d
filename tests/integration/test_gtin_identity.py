"""A GTIN-12/13 and its GTIN-14 form are one product (issue 15): compared as 14 digits, unique
in any length, found by a search in any length; the GS1 company prefix length per product or
from UNITRACE_GS1_PREFIXES, checked against the GTIN; migration 0011_ids backfills and refuses
a catalog that already has one GTIN twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.factories import make_product
from unitrace import config
from unitrace.access.principal import SYSTEM
from unitrace.catalog import identifiers, service
from unitrace.catalog.schemas import ProductUpdate
from unitrace.core.errors import Conflict, ValidationError
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.db.tables import products

GTIN13 = "9506000134352"  # GTIN-13 …
GTIN14 = "09506000134352"  # … and its GTIN-14 form: one product
UPC = "036000291452"  # a GTIN-12 (UPC-A)


@pytest.fixture
def prefixes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UNITRACE_GS1_PREFIXES", "95=8, 9506000=7, 036000=7")
    config.gs1_prefixes.cache_clear()
    yield
    monkeypatch.delenv("UNITRACE_GS1_PREFIXES")
    config.gs1_prefixes.cache_clear()


def test_a_gtin_13_and_its_gtin_14_form_are_one_product(db: Database) -> None:
    make_product(db, "AC1", gtin=GTIN13)
    with pytest.raises(Conflict) as info:
        make_product(db, "AC2", gtin=GTIN14)
    assert info.value.errors[0].field == "gtin"
    assert "AC1" in info.value.errors[0].message
    make_product(db, "AC2")
    with pytest.raises(Conflict):
        service.update_product(db, SYSTEM, "AC2", ProductUpdate(gtin=GTIN14))
    assert service.get_product(db, SYSTEM, "AC1")["gtin14"] == GTIN14
    assert service.get_product(db, SYSTEM, "AC2")["gtin"] is None


def test_a_product_may_change_its_gtin_to_another_length_of_the_same(db: Database) -> None:
    make_product(db, "AC1", gtin=GTIN13)
    changed = service.update_product(db, SYSTEM, "AC1", ProductUpdate(gtin=GTIN14))
    assert (changed["gtin"], changed["gtin14"]) == (GTIN14, GTIN14)
    removed = service.update_product(db, SYSTEM, "AC1", ProductUpdate(gtin=None))
    assert removed["gtin14"] is None
    make_product(db, "AC2", gtin=GTIN13)  # free again


@pytest.mark.parametrize("query", [GTIN13, GTIN14])
def test_products_search_finds_a_gtin_in_any_length(db: Database, query: str) -> None:
    make_product(db, "AC1", gtin=GTIN13)
    make_product(db, "UPC1", gtin=UPC)
    found = service.list_products(db, SYSTEM, q=query)
    assert [p["code"] for p in found["items"]] == ["AC1"]
    assert [p["code"] for p in service.list_products(db, SYSTEM, q="0" + UPC)["items"]] == ["UPC1"]
    with db.read() as conn:
        row = service.product_by_gtin(conn, "00" + UPC)
    assert row is not None and row.code == "UPC1"


def test_company_prefix_length_is_checked_against_the_gtin(db: Database) -> None:
    with pytest.raises(ValidationError) as info:
        make_product(db, "NOGTIN", gs1_company_prefix_length=7)
    assert info.value.errors[0].field == "gs1_company_prefix_length"
    with pytest.raises(ValidationError, match="GTIN-8"):
        make_product(db, "G8", gtin="95012346", gs1_company_prefix_length=7)
    with pytest.raises(ValidationError, match="leading 0"):
        make_product(db, "UPC1", gtin=UPC, gs1_company_prefix_length=6)
    make_product(db, "UPC1", gtin=UPC, gs1_company_prefix_length=7)
    assert service.get_product(db, SYSTEM, "UPC1")["gs1_company_prefix_length"] == 7
    with pytest.raises(ValidationError):  # removing the GTIN leaves a prefix without one
        service.update_product(db, SYSTEM, "UPC1", ProductUpdate(gtin=None))
    cleared = service.update_product(
        db, SYSTEM, "UPC1", ProductUpdate(gs1_company_prefix_length=None)
    )
    assert cleared["gs1_company_prefix_length"] is None
    assert service.get_product(db, SYSTEM, "UPC1")["gtin"] == UPC


def test_prefix_length_outside_6_to_12_is_refused_by_the_schema() -> None:
    from pydantic import ValidationError as PydanticError

    from unitrace.catalog.schemas import ProductCreate

    for length in (5, 13):
        with pytest.raises(PydanticError):
            ProductCreate(code="A", name="A", gtin=GTIN13, gs1_company_prefix_length=length)


@pytest.mark.usefixtures("prefixes")
def test_the_longest_configured_prefix_gives_the_length_when_the_product_has_none() -> None:
    assert identifiers.company_prefix_length(GTIN14, None) == 7  # 9506000 beats 95
    assert identifiers.company_prefix_length("09512345678907", None) == 8  # only 95
    assert identifiers.company_prefix_length(GTIN14, 9) == 9  # the product's own first
    assert identifiers.company_prefix_length("04012345678901", None) is None
    assert identifiers.company_prefix_length(None, None) is None


@pytest.mark.parametrize("setting", ["95=5", "95=13", "x9=7", "9506000", "95=7x"])
def test_a_bad_prefix_setting_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("UNITRACE_GS1_PREFIXES", setting)
    config.gs1_prefixes.cache_clear()
    try:
        with pytest.raises(ValueError, match="UNITRACE_GS1_PREFIXES"):
            config.gs1_prefixes()
    finally:
        monkeypatch.delenv("UNITRACE_GS1_PREFIXES")
        config.gs1_prefixes.cache_clear()


def _at_0010(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(db, "0010_bench")
    return db


def _old_product(db: Database, code: str, gtin: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO products (code, name, gtin, tracking, warranty_months, "
                "warranty_start, description, created_at, updated_at) "
                "VALUES (:code, :code, :gtin, 'serial', 0, 'sale', '', :now, :now)"
            ),
            {"code": code, "gtin": gtin, "now": "2026-12-01 00:00:00.000000"},
        )


def test_migration_0011_backfills_gtin14(tmp_path: Path) -> None:
    db = _at_0010(tmp_path)
    _old_product(db, "AC1", GTIN13)
    _old_product(db, "UPC1", UPC)
    migrate.upgrade(db)
    with db.read() as conn:
        rows = dict(conn.execute(select(products.c.code, products.c.gtin14)).all())
    assert rows == {"AC1": GTIN14, "UPC1": "00" + UPC}
    db.dispose()


def test_migration_0011_refuses_a_gtin_held_twice_in_two_lengths(tmp_path: Path) -> None:
    db = _at_0010(tmp_path)
    _old_product(db, "AC1", GTIN13)
    _old_product(db, "AC2", GTIN14)
    with pytest.raises(RuntimeError, match=r"09506000134352: AC1 \(9506000134352\), AC2"):
        migrate.upgrade(db)
    db.dispose()


def test_the_product_form_sets_the_prefix_length_and_says_what_is_wrong_in_chinese(
    db: Database,
) -> None:
    from fastapi.testclient import TestClient

    from tests.pages import field_error, login
    from unitrace.api.app import create_app

    make_product(db, "AC1", gtin=GTIN13)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "admin", "zh-CN")
        client.headers["Accept-Language"] = "zh-CN"
        form = client.get("/products/AC1")
        assert "GS1 厂商识别代码长度" in form.text
        saved = client.post(
            "/products/AC1",
            data={"csrf_token": csrf, "name": "Product AC1", "gs1_company_prefix_length": "7"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert service.get_product(db, SYSTEM, "AC1")["gs1_company_prefix_length"] == 7
        twice = client.post(
            "/products",
            data={"csrf_token": csrf, "code": "AC2", "name": "Two", "gtin": GTIN14},
        )
        assert twice.status_code == 409
        assert field_error(twice.text, "gtin") == "已是产品 AC1 的 GTIN"
        no_gtin = client.post(
            "/products",
            data={"csrf_token": csrf, "code": "AC3", "name": "3", "gs1_company_prefix_length": "7"},
        )
        assert no_gtin.status_code == 422
        assert "需要先填写 GTIN" in field_error(no_gtin.text, "gs1_company_prefix_length")
