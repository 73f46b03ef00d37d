"""Every unit with a GTIN has its GS1 identifiers (issue 15): the Digital Link URI on
UNITRACE_PUBLIC_URL, the SGTIN EPC URN (only with a company prefix length: never guessed), the
element string and the bracketed form — in the API's dossier, the dossier page (Chinese) and
`unitrace unit show`; each one parses back (core.gs1) to the unit's GTIN, serial and lot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.clients import Api
from tests.factories import make_lot, make_product, make_units
from tests.pages import login
from unitrace import config
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import identifiers
from unitrace.core import gs1
from unitrace.db.engine import Database
from unitrace.ledger import queries

GTIN = "09506000134352"


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", "https://id.example.com/")
    yield "https://id.example.com"
    monkeypatch.delenv("UNITRACE_PUBLIC_URL")


def _world(db: Database, prefix: int | None = 7) -> None:
    make_product(db, "AC1", rule=None, gtin=GTIN[1:], gs1_company_prefix_length=prefix)
    make_lot(db, "AC1", "L1", expiry_date=date(2027, 12, 31))
    make_units(db, "AC1", None, serials=["ABC123"], lot="L1")


@pytest.mark.usefixtures("resolver")
def test_the_dossier_holds_the_units_identifiers_and_each_parses_back(db: Database) -> None:
    _world(db)
    ids = queries.dossier(db, SYSTEM, "ABC123")["identifiers"]
    assert ids["digital_link"] == (
        "https://id.example.com/01/09506000134352/10/L1/21/ABC123?17=271231"
    )
    assert ids["epc"] == "urn:epc:id:sgtin:9506000.013435.ABC123"
    assert ids["bracketed"] == "(01)09506000134352(17)271231(10)L1(21)ABC123"
    assert ids["element_string"] == "01095060001343521727123110L1\x1d21ABC123"
    assert ids["note"] is None
    for form in ("digital_link", "bracketed", "element_string"):
        parsed = gs1.parse(ids[form])
        assert (parsed.gtin, parsed.serial, parsed.lot, parsed.expiry) == (
            GTIN,
            "ABC123",
            "L1",
            date(2027, 12, 31),
        ), form


def test_without_a_company_prefix_length_the_epc_is_not_guessed(db: Database) -> None:
    _world(db, prefix=None)
    ids = queries.dossier(db, SYSTEM, "ABC123")["identifiers"]
    assert ids["epc"] is None and ids["note"] == identifiers.NO_PREFIX
    assert ids["digital_link"].startswith(config.GS1_RESOLVER + "/01/09506000134352/")


def test_the_configured_prefix_table_gives_the_epc(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(db, prefix=None)
    monkeypatch.setenv("UNITRACE_GS1_PREFIXES", "950600=6")
    config.gs1_prefixes.cache_clear()
    try:
        ids = queries.dossier(db, SYSTEM, "ABC123")["identifiers"]
    finally:
        monkeypatch.delenv("UNITRACE_GS1_PREFIXES")
        config.gs1_prefixes.cache_clear()
    assert ids["epc"] == "urn:epc:id:sgtin:950600.0013435.ABC123"


def test_a_unit_without_a_gtin_has_no_identifiers_and_a_long_serial_says_why(
    db: Database,
) -> None:
    make_product(db, "NOG", rule=None)
    make_units(db, "NOG", None, serials=["PLAIN-1"])
    assert queries.dossier(db, SYSTEM, "PLAIN-1")["identifiers"] is None
    make_product(db, "AC1", rule=None, gtin=GTIN)
    make_units(db, "AC1", None, serials=["S" * 30])
    ids = queries.dossier(db, SYSTEM, "S" * 30)["identifiers"]
    assert ids["digital_link"] is None and ids["note"] == identifiers.NOT_GS1_SERIAL


@pytest.mark.usefixtures("resolver")
def test_the_api_answers_the_identifiers(api: Api, db: Database) -> None:
    _world(db)
    unit = api.get("/units/ABC123").json()
    assert set(unit["identifiers"]) >= {"digital_link", "epc", "element_string", "bracketed"}
    assert unit["identifiers"]["epc"] == "urn:epc:id:sgtin:9506000.013435.ABC123"


def test_the_dossier_page_shows_them_with_chinese_labels(db: Database) -> None:
    _world(db)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        login(client, db, "admin", "zh-CN")
        page = client.get("/units/ABC123", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    for text in ("GS1 标识", "GS1 数字链接", "GS1 元素串", "EPC（SGTIN）"):
        assert text in page.text
    assert "urn:epc:id:sgtin:9506000.013435.ABC123" in page.text
    assert "01095060001343521727123110L1␝21ABC123" in page.text  # the separator shown


def test_unit_show_prints_the_identifiers(cli, db: Database) -> None:  # type: ignore[no-untyped-def]
    _world(db)
    shown = cli("unit", "show", "ABC123")
    assert shown.exit_code == 0, shown.output
    assert "urn:epc:id:sgtin:9506000.013435.ABC123" in shown.output
    assert "01095060001343521727123110L1<GS>21ABC123" in shown.output
    as_json = cli("unit", "show", "ABC123", "--json")
    assert json.loads(as_json.output)["identifiers"]["bracketed"].startswith("(01)0950600")
