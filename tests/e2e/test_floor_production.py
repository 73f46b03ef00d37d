"""The production floor in Chromium, as the `production` role does it (issue 13): commission
(success and a refused request, in zh-CN and English), assembly (the parent, then five
components by keyboard-wedge scans) and process steps (ten units by scans). The harness
(tests/e2e/floor.py) fails a test on console errors, refused requests not shown, English on a
zh-CN page and sideways scroll on a phone; the scans never touch the focus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.floor import Demo, Floor, scan
from tests.e2e.serving import serve
from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import ProductCreate
from unitrace.db.engine import Database
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, BomLineIn

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

FINISHED = "AC-9000"  # the demo's air conditioner: BOM 1 compressor, 1 board, 12 screws
KIT_PARTS = {"FAN-BLADE": ("扇叶", 3), "FAN-MOTOR": ("电机", 1), "FAN-GUARD": ("网罩", 1)}


@dataclass(frozen=True)
class Plant:
    """The demo, and what these tests add to their copy of it: a fan kit whose BOM takes five
    serialised parts, the parts, and air conditioners fresh off the line."""

    url: str
    kit: str
    parts: list[str]
    fresh: list[str]


def _made(db: Database, product: str, count: int) -> list[str]:
    request = CommissionIn(product=product, count=count, location="SZ-ASSY")
    return ledger.commission_units(db, SYSTEM, request).serials


@pytest.fixture(scope="module")
def plant(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Plant:
    copy = tmp_path_factory.mktemp("production") / "unitrace.db"
    shutil.copyfile(demo.path, copy)
    db = Database(f"sqlite:///{copy}")
    try:
        catalog.create_product(
            db, SYSTEM, ProductCreate(code="FAN-KIT", name="风扇组件", serial_rule="FK{seq:5}")
        )
        for code, (name, _n) in KIT_PARTS.items():
            rule = code[:1] + code[4:5] + "{seq:5}"  # FB00001, FM00001, FG00001
            part = ProductCreate(code=code, name=name, serial_rule=rule)
            catalog.create_product(db, SYSTEM, part)
        lines = [BomLineIn(component=c, quantity=n) for c, (_name, n) in KIT_PARTS.items()]
        production.set_bom(db, SYSTEM, "FAN-KIT", BomIn(lines=lines))
        kit = _made(db, "FAN-KIT", 1)[0]
        parts = [s for code, (_name, n) in KIT_PARTS.items() for s in _made(db, code, n)]
        fresh = _made(db, FINISHED, 11)
    finally:
        db.dispose()
    return Plant(f"sqlite:///{copy}", kit, parts, fresh)


@pytest.fixture(scope="module")
def floor_server(plant: Plant) -> Iterator[str]:
    """This module's server: the demo with the plant's additions."""
    with serve(plant.url) as base:
        yield base


def _focused(page: object) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.dataset.testid")  # type: ignore[attr-defined, no-any-return]


# --- commission -----------------------------------------------------------------------------


def test_commission_in_chinese_on_a_phone(floor: Floor) -> None:
    page = floor.open("production", "/commission", phone=True)
    page.select_option('[data-testid="product"]', "CMP-R32")
    page.fill('[data-testid="count"]', "两百")  # not a number: refused with a 422
    page.click('[data-testid="commission-submit"]')
    refused = page.locator('[data-testid="error-count"]')
    expect(refused).to_be_visible()
    expect(refused).to_have_text("请输入数量，或粘贴序列号。")
    page.fill('[data-testid="count"]', "1200")
    page.click('[data-testid="commission-submit"]')
    expect(page.locator('[data-testid="commission-count"]')).to_have_text("已生成 1,200 个序列号")
    expect(page.locator('[data-testid="commission-shown"]')).to_contain_text("前 1,000 个")
    assert page.locator("ol.serials li").count() == 1000
    with page.expect_download() as download:
        page.click('[data-testid="download-csv"]')
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel in Chinese reads it
    rows = content.decode("utf-8-sig").splitlines()
    assert rows[0] == "序列号,产品" and len(rows) == 1201 and rows[1].endswith(",CMP-R32")
    with page.expect_download() as workbook:
        page.click('[data-testid="download-xlsx"]')
    assert Path(workbook.value.path()).read_bytes()[:2] == b"PK"  # a zip: the XLSX container


def test_commission_in_english_refuses_existing_serials(floor: Floor, plant: Plant) -> None:
    page = floor.open("production", "/commission", locale="en")
    page.select_option('[data-testid="product"]', FINISHED)
    page.fill("textarea[name=serials]", f"{plant.fresh[-1]}\nNOT-A-SERIAL")
    page.click('[data-testid="commission-submit"]')
    serials = page.locator('[data-testid="error-serials"]')
    expect(serials).to_be_visible()
    expect(serials).to_contain_text(f"{plant.fresh[-1]}: already exists")
    expect(serials).to_contain_text("NOT-A-SERIAL:")  # off the rule: named in the same answer
    expect(page.locator('[data-testid="form-error"]')).to_contain_text("2 in all")
    page.fill("textarea[name=serials]", "")
    page.fill('[data-testid="count"]', "3")
    page.click('[data-testid="commission-submit"]')
    expect(page.locator('[data-testid="commission-count"]')).to_have_text("3 units commissioned")
    assert page.locator("ol.serials li").count() == 3


# --- assembly -------------------------------------------------------------------------------


def test_assembly_parent_then_five_components_by_scanner(floor: Floor, plant: Plant) -> None:
    page = floor.open("production", "/assembly")
    assert _focused(page) == "parent-input"
    scan(page, [plant.kit])
    component = page.locator('[data-testid="component-input"]')
    expect(component).to_be_focused()
    scan(page, plant.parts)
    answers = page.locator("#feedback li")
    expect(answers).to_have_count(5)
    expect(page.locator('[data-testid="scan-ok"]')).to_have_count(5)
    text = page.locator("#feedback").inner_text()
    assert all(text.count(serial) == 1 for serial in plant.parts), text  # each answered once
    expect(page.locator('[data-testid="bom-progress"]')).to_have_text("必需部件已装 5 / 5")
    expect(page.locator('[data-testid="bom-have-FAN-BLADE"]')).to_have_text("3")
    expect(component).to_be_focused()
    expect(component).to_have_value("")


def test_assembly_lot_quantity_is_the_boms(floor: Floor, plant: Plant) -> None:
    page = floor.open("production", f"/assembly?parent={plant.fresh[0]}", phone=True)
    expect(page.locator('[data-testid="lot-quantity"]')).to_have_value("12")
    expect(page.locator('[data-testid="component-input"]')).to_be_focused()


# --- process steps --------------------------------------------------------------------------


def test_steps_ten_units_by_scanner(floor: Floor, plant: Plant) -> None:
    page = floor.open("production", f"/steps?product={FINISHED}", phone=True)
    page.select_option('[data-testid="step"]', "LEAK")
    serial = page.locator('[data-testid="step-serial"]')
    expect(serial).to_be_focused()  # a changed setting gives the focus back to the scan field
    units = plant.fresh[1:11]
    scan(page, units)
    expect(page.locator('[data-testid="step-ok"]')).to_have_count(10)
    expect(page.locator('[data-testid="tally-recorded"]')).to_have_text("10")
    expect(page.locator('[data-testid="tally-pass"]')).to_have_text("10")
    expect(page.locator('[data-testid="tally-refused"]')).to_have_text("0")
    first = page.locator("#feedback li").last
    expect(first).to_contain_text(units[0])
    expect(first).to_contain_text("LEAK · 合格")
    expect(serial).to_be_focused()
    expect(serial).to_have_value("")
    floor.check(page)
    dossier = floor.open("production", f"/units/{units[-1]}?product={FINISHED}")
    expect(dossier.locator('[data-testid="steps"]')).to_contain_text("LEAK")


# --- a refused request on any htmx page (static/app.js) ---------------------------------------


def test_a_refusal_htmx_cannot_swap_in_is_shown_by_its_fields(floor: Floor, plant: Plant) -> None:
    """Issue 13: htmx dropped 4xx/5xx answers (the console alone said "Response Status Error
    Code 422"). A JSON problem (as a proxy or the API answers) is shown in a role="alert" box
    under the scan field, each field's message next to its field; the next answer clears it.
    (A lost connection is shown the same way, but htmx writes it on the console as well, which
    the harness counts as an error.)"""
    page = floor.open("production", f"/steps?product={FINISHED}", phone=True)
    problem = {
        "title": "输入有误",
        "detail": "测量值超出范围",
        "errors": [{"field": "value", "message": "必须在 0 到 10 之间"}],
    }

    def refuse(route: object) -> None:
        if route.request.method == "POST":  # type: ignore[attr-defined]
            route.fulfill(status=422, content_type="application/problem+json",  # type: ignore[attr-defined]
                          body=json.dumps(problem, ensure_ascii=False))  # fmt: skip
        else:
            route.continue_()  # type: ignore[attr-defined]

    page.route("**/steps", refuse)
    scan(page, [plant.fresh[0]])
    alert = page.locator('[data-testid="request-error"]')
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("请求被拒绝（422）")
    expect(alert).to_contain_text("测量值超出范围")
    value = page.locator('[data-testid="value"]')
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-request-field-error]")).to_have_text("必须在 0 到 10 之间")
    expect(page.locator('[data-testid="step-serial"]')).to_be_focused()
    page.unroute("**/steps")
    page.unroute("**/steps")
    scan(page, [plant.fresh[0]])  # the server answers again: the box goes
    expect(page.locator('[data-testid="step-ok"]')).to_have_count(1)
    expect(alert).to_have_count(0)
    expect(value).not_to_have_attribute("aria-invalid", "true")
