"""Verification codes on labels and in GS1 Digital Links (issue 16): `{verify.code}`,
`{verify.url}` and `{verify.digital_link}` print each unit's own code, read with the units (set
based); a run that prints them for a product with verification off, or with units without a
code, is refused before printing, naming the placeholder (English and Chinese); the resolver
sends a link carrying THAT unit's code to /v/{code}, and answers any other code exactly as no
code; a link with only the GTIN and the serial never gets a verdict."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select

from tests.factories import make_lot, make_product, make_units
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.core import gs1
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import units, verify_codes
from unitrace.labels import runs, templates
from unitrace.labels.run_schemas import RunIn
from unitrace.labels.schemas import PreviewIn, Template, TemplateIn
from unitrace.verify import keys, settings
from unitrace.web import i18n, translate

GTIN = "09506000134352"
STEM = "https://verify.example.com"


@pytest.fixture(autouse=True)
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", STEM)
    monkeypatch.setenv("UNITRACE_VERIFY_KEYS", "links-key-" + "c" * 40)
    keys.reset()
    yield
    keys.reset()


def _template(db: Database, product: str, qr: str, text: str = "{verify.code}") -> None:
    body = Template.model_validate(
        {
            "name": f"{product}-verify",
            "width_mm": 64,
            "height_mm": 33,
            "elements": [
                {"type": "qr", "x_mm": 2, "y_mm": 2, "size_mm": 22, "data": qr},
                {"type": "text", "x_mm": 26, "y_mm": 3, "text": "SN {serial}"},
                {"type": "text", "x_mm": 26, "y_mm": 8, "text": text},
            ],
        }
    )
    templates.create_template(db, SYSTEM, TemplateIn(product=product, template=body))


def _product(db: Database, code: str = "AC1", count: int = 3, verified: bool = True, **kw: Any):
    make_product(db, code, **kw)
    make_lot(db, code, "L1", expiry_date=date(2027, 12, 31))
    serials = make_units(db, code, count, lot="L1")
    if verified:
        settings.put(db, SYSTEM, code, {"enabled": True})
        settings.issue(db, SYSTEM, code)
    return serials


def _codes(db: Database) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(
            select(units.c.serial, verify_codes.c.code).join(
                verify_codes, verify_codes.c.unit_id == units.c.id
            )
        )
        return {row.serial: row.code for row in rows}


def _printed(db: Database, product: str) -> dict[str, tuple[str, str]]:
    """serial → (the QR code's data, the code's text line) of each label of a ZPL run."""
    made = runs.create_run(db, SYSTEM, RunIn(product=product, lot="L1", format="zpl"))
    assert runs.execute(db, made["number"])["status"] == "done"
    path, _, _ = runs.run_file(db, SYSTEM, made["number"])
    out = {}
    for block in re.findall(r"\^XA.*?\^XZ", path.read_text(encoding="utf-8"), flags=re.S):
        qr = re.search(r"\^BQN,2,\d+\^FH\^FDMA,(.*?)\^FS", block)
        texts = re.findall(r"\^A0N,\d+,\d+\^FH\^FD(.*?)\^FS", block)
        assert qr is not None and len(texts) == 2
        out[texts[0].removeprefix("SN ")] = (qr.group(1), texts[1])
    return out


def _display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


# --- labels -------------------------------------------------------------------------------


def test_a_run_with_verify_url_prints_each_units_own_url_and_code(db: Database) -> None:
    serials = _product(db, gtin=GTIN)
    _template(db, "AC1", "{verify.url}")
    codes = _codes(db)
    printed = _printed(db, "AC1")
    assert sorted(printed) == sorted(serials) and len(set(codes.values())) == 3
    for serial in serials:
        assert printed[serial] == (f"{STEM}/v/{codes[serial]}", _display(codes[serial]))


def test_verify_digital_link_is_the_units_digital_link_carrying_its_code(db: Database) -> None:
    serials = _product(db, gtin=GTIN)
    _template(db, "AC1", "{verify.digital_link}")
    codes = _codes(db)
    printed = _printed(db, "AC1")
    for serial in serials:
        link = printed[serial][0]
        parsed = gs1.parse(link)  # still a GS1 Digital Link: the code is no AI
        assert (parsed.gtin, parsed.serial, parsed.lot) == (GTIN, serial, "L1")
        assert link.startswith(f"{STEM}/01/{GTIN}/10/L1/21/{serial}?")
        assert parse_qs(urlsplit(link).query)["vc"] == [codes[serial]]


def test_without_a_gtin_verify_digital_link_is_the_verify_url(db: Database) -> None:
    serials = _product(db, "NG1", count=2)
    _template(db, "NG1", "{verify.digital_link}")
    codes = _codes(db)
    printed = _printed(db, "NG1")
    assert {s: printed[s][0] for s in serials} == {s: f"{STEM}/v/{codes[s]}" for s in serials}


def test_a_run_for_a_product_with_verification_off_is_refused_naming_the_field(
    db: Database,
) -> None:
    _product(db, gtin=GTIN, verified=False)
    _template(db, "AC1", "{digital_link}", text="{verify.url}")
    with pytest.raises(ValidationError) as caught:
        runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))
    error = caught.value
    assert error.detail == "product AC1 has verification off: its labels cannot print {verify.url}"
    assert [(e.field, e.value) for e in error.errors] == [("template", "{verify.url}")]
    token = i18n.current.set("zh-CN")
    try:
        assert (
            translate.message(error.detail)
            == "产品 AC1 未开启防伪验证：其标签无法打印 {verify.url}"
        )
        assert (
            translate.message(error.errors[0].message) == "{verify.url} 需要产品 AC1 开启防伪验证"
        )
    finally:
        i18n.current.reset(token)
    assert runs.list_runs(db, SYSTEM) == []  # nothing made, nothing printed


def test_a_run_with_units_without_a_code_is_refused_and_a_changed_product_fails_unprinted(
    db: Database,
) -> None:
    serials = _product(db, gtin=GTIN, count=4)
    with db.write() as conn:  # two units without a code (as if made before verification was on)
        ids = select(units.c.id).where(units.c.serial.in_(serials[:2]))
        conn.execute(delete(verify_codes).where(verify_codes.c.unit_id.in_(ids)))
    _template(db, "AC1", "{verify.digital_link}")
    with pytest.raises(ValidationError) as caught:
        runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))
    assert caught.value.detail.startswith("2 of the run's units have no verification code")
    assert caught.value.errors[0].value == "{verify.digital_link}"
    assert settings.issue(db, SYSTEM, "AC1").made == 2
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))
    settings.put(db, SYSTEM, "AC1", {"enabled": False})  # turned off before it prints
    with pytest.raises(ValidationError):
        runs.execute(db, made["number"])
    failed = runs.get_run(db, SYSTEM, made["number"])
    assert failed["status"] == "failed" and "verification off" in failed["error"]
    assert failed["file"] is None


def test_the_codes_are_read_with_the_units_not_one_query_a_unit(db: Database) -> None:
    _product(db, gtin=GTIN, count=2500)
    _template(db, "AC1", "{verify.digital_link}")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "verify_codes" in statement:
            statements.append(statement)

    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert runs.execute(db, made["number"])["done"] == 2500
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # one count before printing, one read a chunk of 1,000 (3 chunks and the empty last one)
    assert 0 < len(statements) <= 8, len(statements)


def test_the_template_preview_shows_a_sample_code(db: Database) -> None:
    body = Template(
        name="p",
        elements=(
            {"type": "text", "x_mm": 2, "y_mm": 2, "text": "{verify.code}"},  # type: ignore[arg-type]
            {"type": "text", "x_mm": 2, "y_mm": 8, "text": "{verify.url}"},
        ),
    )
    svg, media = templates.preview(db, SYSTEM, None, PreviewIn(template=body, format="svg"))
    assert media == "image/svg+xml"
    assert b"7K3M-Q9XW-2D4F-HT8C" in svg and f"{STEM}/v/7K3MQ9XW2D4FHT8C".encode() in svg


def test_an_unknown_verify_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{verify.pin\}"):
        Template.model_validate(
            {
                "name": "x",
                "elements": [{"type": "text", "x_mm": 1, "y_mm": 1, "text": "{verify.pin}"}],
            }
        )


# --- the resolver -----------------------------------------------------------------------------

VERDICT = re.compile(r"genuine|authentic|counterfeit|verified|正品|真品|假冒|验证通过", re.I)


@pytest.fixture
def public(db: Database) -> Iterator[TestClient]:
    _product(db, gtin=GTIN, count=2)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _same(html: str) -> str:
    """A page without what differs per request (a CSRF token, a script nonce)."""
    return re.sub(r'(nonce|csrf_token|csrf)(["\']?\s*[:=]\s*["\']?)[^"\'\s>]+', r"\1\2", html)


def test_the_right_code_sends_a_person_to_the_verification_page(
    db: Database, public: TestClient
) -> None:
    codes = _codes(db)
    for serial, code in codes.items():
        for given in (code, _display(code).lower()):  # as scanned, or typed
            answer = public.get(f"/01/{GTIN}/21/{serial}?vc={given}", follow_redirects=False)
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"] == f"/v/{code}"
            assert answer.headers["cache-control"] == "no-store"
    serial, code = next(iter(codes.items()))
    full = f"/01/{GTIN}/10/L1/21/{serial}?17=271231&vc={code}"  # the form a label prints
    assert public.get(full, follow_redirects=False).headers["location"] == f"/v/{code}"


def test_a_wrong_or_another_units_code_gets_the_same_page_as_no_code(
    db: Database, public: TestClient
) -> None:
    (first, code), (_, other) = sorted(_codes(db).items())
    plain = public.get(f"/01/{GTIN}/21/{first}")
    assert plain.status_code == 200
    for given in (other, "0" * 16, "not-a-code", ""):
        answer = public.get(f"/01/{GTIN}/21/{first}?vc={given}", follow_redirects=False)
        assert answer.status_code == 200
        assert _same(answer.text) == _same(plain.text)
    assert code != other


def test_a_link_with_only_gtin_and_serial_gets_the_product_page_and_no_verdict(
    db: Database, public: TestClient
) -> None:
    serial = sorted(_codes(db))[0]
    for headers in ({}, {"Accept-Language": "zh-CN"}):
        answer = public.get(f"/01/{GTIN}/21/{serial}", headers=headers, follow_redirects=False)
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
        assert "Product AC1" in answer.text
        assert not VERDICT.search(answer.text), VERDICT.search(answer.text)


def test_a_machine_asking_for_the_linkset_gets_it_even_with_the_right_code(
    db: Database, public: TestClient
) -> None:
    serial, code = sorted(_codes(db).items())[0]
    answer = public.get(
        f"/01/{GTIN}/21/{serial}?vc={code}",
        headers={"Accept": "application/linkset+json"},
        follow_redirects=False,
    )
    assert answer.status_code == 200 and code not in answer.text
    assert answer.json()["linkset"][0]["anchor"] == f"{STEM}/01/{GTIN}/21/{serial}"
