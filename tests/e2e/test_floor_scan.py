"""The floor's scanning pages in Chromium, as the roles that use them, by keyboard-wedge scans
(characters then Enter, fast, the focus never touched by the test): unit search by the
beginning of a serial and the dossier; the scan station, each action as the role that records
it, in zh-CN and the key ones in English; many scans in a row recorded in order with one answer
each; on a phone the latest answer in view without scrolling. The harness (tests/e2e/floor.py)
fails any test on console errors, failures not shown, English on zh-CN pages and sideways
scroll on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.floor import PHONE, Demo, Floor, scan
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.ledger import queries

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRODUCT = "AC-9000"


class Units:
    """Demo units of PRODUCT by status and holder, handed out once each: every test of the
    module scans its own units on the module's server."""

    def __init__(self, demo: Demo) -> None:
        db = Database(demo.url)
        try:
            self.pool: dict[tuple[str, str | None], list[str]] = {}
            for status, holder in (("in_stock", None), ("delivered", "D-EAST"),
                                   ("delivered", "D-SOUTH"), ("sold", "D-EAST")):  # fmt: skip
                found = queries.list_units(db, SYSTEM, product=PRODUCT, status=status,
                                           holder=holder, limit=200)  # fmt: skip
                self.pool[(status, holder)] = [u["serial"] for u in found["items"]]
        finally:
            db.dispose()

    def take(self, status: str, count: int, holder: str | None = None) -> list[str]:
        pool = self.pool[(status, holder)]
        assert len(pool) >= count, f"the demo has too few {status} units"
        taken, self.pool[(status, holder)] = pool[:count], pool[count:]
        return taken


@pytest.fixture(scope="module")
def units(demo: Demo) -> Units:
    return Units(demo)


def choose(page: Any, action: str, **fields: str) -> None:
    """What the clerk sets before scanning: the action, then the fields it takes (a select
    sends the focus back to the scan field; a typed field is left with Enter, as on a phone)."""
    page.select_option('[data-testid="action"]', action)
    for name, value in fields.items():
        target = page.locator(f'[data-testid="{name}"]')
        assert target.is_visible(), f"{name} is not shown for {action}"
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
            page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "serial"


def answers(page: Any, count: int) -> list[str]:
    """The scan answers once `count` are in, oldest first."""
    page.locator("#feedback li").nth(count - 1).wait_for()
    texts: list[str] = page.locator("#feedback li").all_inner_texts()
    return texts[::-1]


def scans_ok(page: Any, codes: list[str], word: str, before: int = 0) -> list[str]:
    scan(page, codes)
    said = answers(page, before + len(codes))[before:]
    assert len(said) == len(codes)
    for code, text in zip(codes, said, strict=True):
        assert code in text and "✔" in text and word in text, said
    return said


# --- search and dossier -------------------------------------------------------------------


def test_search_by_the_beginning_of_a_serial_and_open_a_dossier(floor: Floor, units: Units) -> None:
    serial = units.take("in_stock", 1)[0]
    page = floor.open("service", "/units")
    scan(page, [serial[:-3].lower()])  # typed in lower case: the rule makes upper case
    results = page.locator('[data-testid="search-results"]')
    results.wait_for()
    assert "开头的单品" in page.locator("h2").first.inner_text()
    page.locator(f'[data-testid="search-results"] a:text-is("{serial}")').click()
    page.locator('[data-testid="dossier-serial"]').wait_for()
    assert serial in page.locator('[data-testid="dossier-serial"]').inner_text()
    assert page.locator('[data-testid="timeline"] tbody tr').count() >= 2
    floor.check(page)


def test_a_scanned_serial_opens_its_dossier_on_a_phone(floor: Floor, units: Units) -> None:
    serial = units.take("sold", 1, "D-EAST")[0]
    page = floor.open("sales", "/units", phone=True)
    scan(page, [serial])
    page.locator('[data-testid="dossier-serial"]').wait_for()
    floor.check(page)  # no English, no sideways scroll at 390 px


def test_search_in_english_names_what_it_found(floor: Floor, units: Units) -> None:
    serial = units.take("in_stock", 1)[0]
    page = floor.open("warehouse", "/units", locale="en")
    scan(page, [serial[:8]])
    page.locator('[data-testid="search-results"]').wait_for()
    assert f"begins with {serial[:8]}" in page.locator("h2").first.inner_text()


# --- the scan station, role by role -------------------------------------------------------


def test_warehouse_receives_moves_and_ships_by_scans(floor: Floor, units: Units) -> None:
    stock = units.take("in_stock", 6)
    page = floor.open("warehouse", "/scan")
    offered = page.locator('[data-testid="action"] option').all_inner_texts()
    assert "销售" not in offered and "报废" not in offered  # not the warehouse's actions
    choose(page, "move", location="SZ-FG-A01")
    scans_ok(page, stock[:3], "移库")
    choose(page, "ship", party="D-SOUTH")
    scans_ok(page, stock[3:], "发货", before=3)
    choose(page, "receive", location="SZ-FG")
    scan(page, stock[3:4])  # in transit now: back into stock
    assert "入库" in answers(page, 7)[-1]
    floor.check(page)


def test_sales_ships_delivers_and_sells_with_a_region(floor: Floor, units: Units) -> None:
    stock = units.take("in_stock", 3)
    page = floor.open("sales", "/scan")
    choose(page, "ship", party="D-SOUTH")
    scans_ok(page, stock, "发货")
    choose(page, "deliver", party="D-SOUTH")
    scans_ok(page, stock, "到货", before=3)
    choose(page, "sell", region="CN-44")
    scans_ok(page, stock, "销售", before=6)
    floor.check(page)


def test_service_takes_back_and_repairs(floor: Floor, units: Units) -> None:
    sold = units.take("sold", 2, "D-EAST")
    page = floor.open("service", "/scan")
    choose(page, "return", location="SZ-RMA", reason="屏幕损坏")
    scans_ok(page, sold, "退货")
    choose(page, "repair", reason="更换屏幕")
    scans_ok(page, sold, "维修", before=2)
    floor.check(page)


def test_quality_scraps_and_a_missing_reason_is_named(floor: Floor, units: Units) -> None:
    stock = units.take("in_stock", 2)
    page = floor.open("quality", "/scan")
    page.select_option('[data-testid="action"]', "scrap")
    scan(page, stock[:1])  # no reason yet
    refused = answers(page, 1)[0]
    assert "✘" in refused and "原因" in refused and "此操作必填" in refused, refused
    choose(page, "scrap", reason="跌落损坏")
    scans_ok(page, stock[1:], "报废", before=1)
    floor.check(page)


def test_a_partner_sells_its_own_units_only(floor: Floor, units: Units) -> None:
    own = units.take("delivered", 2, "D-EAST")
    other = units.take("delivered", 1, "D-SOUTH")
    page = floor.open("partner", "/scan")
    offered = page.locator('[data-testid="action"] option').all_inner_texts()
    assert "销售" in offered and "入库" not in offered and "发货" not in offered
    assert not page.locator('[data-testid="location"]').is_visible()
    choose(page, "sell", region="CN-31")
    scans_ok(page, own, "销售")
    scan(page, other)  # another distributor's unit: as if there were none
    assert "未找到" in answers(page, 3)[-1]
    floor.check(page)


def test_key_scans_in_english(floor: Floor, units: Units) -> None:
    stock = units.take("in_stock", 2)
    page = floor.open("warehouse", "/scan", locale="en")
    choose(page, "move", location="SZ-FG")
    scans_ok(page, stock, "Move")
    page = floor.open("sales", "/scan", locale="en")
    choose(page, "sell", region="CN-44")
    scans_ok(page, stock, "Sell")
    floor.check()


def test_many_fast_scans_are_recorded_in_order_one_answer_each(floor: Floor, units: Units) -> None:
    """The next Enter comes before the last answer: every scan is recorded, in order, once."""
    stock = units.take("in_stock", 12)
    codes = stock[:6] + ["不存在-1"] + stock[6:]
    page = floor.open("warehouse", "/scan")
    choose(page, "move", location="SZ-FG-A01")
    scan(page, codes)
    said = answers(page, len(codes))
    page.wait_for_timeout(300)  # nothing more comes
    assert page.locator("#feedback li").count() == len(codes)
    for code, text in zip(codes, said, strict=True):
        assert text.split()[0] == code, said
    assert sum("✔" in t for t in said) == 12 and "未找到" in said[6]
    assert page.locator('[data-testid="scan-input"]').input_value() == ""
    assert page.evaluate("document.activeElement.name") == "serial"
    floor.check(page)


def test_on_a_phone_the_latest_answer_shows_without_scrolling(floor: Floor, units: Units) -> None:
    stock = units.take("in_stock", 3)
    page = floor.open("warehouse", "/scan", phone=True)
    choose(page, "move", location="SZ-FG")
    scans_ok(page, stock, "移库")
    latest = page.locator('[data-testid="scan-latest"] li')
    assert stock[-1] in latest.inner_text()
    box = latest.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    assert page.evaluate("window.scrollY") == 0
    field = page.locator('[data-testid="scan-input"]').bounding_box()
    assert field is not None and field["y"] + field["height"] <= PHONE["height"]
    floor.check(page)
