"""A real browser (Debian's Chromium driven by Playwright) against `unitrace serve` on
127.0.0.1: log in, switch languages, commission, scan, read a dossier. The test takes no
screenshots and writes nothing into the working tree: `scripts/screenshots.py` regenerates the
README's pictures."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.serving import CHROMIUM, PASSWORD, launch, serve
from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.production import recall
from unitrace.production.schemas import RecallIn, TraceQuery

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

if not Path(CHROMIUM).exists() and os.environ.get("UNITRACE_REQUIRE_E2E") != "1":
    pytest.skip("Chromium not installed (scripts/test.sh installs it)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")


GENEALOGY: dict[str, str] = {}


def _genealogy(db: Database) -> dict[str, str]:
    """Two machines, each a board (with a chip from a supplier's lot) and a compressor, and a
    recall opened from the chip lot."""
    make_party(db, "SUP-CHIP", "supplier")
    for code in ("MACHINE", "BOARD", "CHIP", "CMP"):
        make_product(db, code, rule=f"{code[:2]}{{seq:5}}")
    make_product(db, "SCREW", rule=None, tracking="lot")
    make_lot(db, "CHIP", "CHIP-LOT-7", supplier="SUP-CHIP")
    make_lot(db, "SCREW", "SCR-3")
    found: dict[str, str] = {}
    for n in range(2):
        machine, board, cmp = (make_units(db, c, 1)[0] for c in ("MACHINE", "BOARD", "CMP"))
        chip = make_units(db, "CHIP", 1, lot="CHIP-LOT-7")[0]
        record(db, type="assemble", product="CHIP", serials=[chip],
               parent={"product": "BOARD", "serial": board})  # fmt: skip
        record(db, type="assemble", product="BOARD", serials=[board],
               parent={"product": "MACHINE", "serial": machine},
               consumed=[{"product": "SCREW", "lot": "SCR-3", "quantity": 8}])  # fmt: skip
        record(db, type="assemble", product="CMP", serials=[cmp],
               parent={"product": "MACHINE", "serial": machine})  # fmt: skip
        record(db, type="receive", product="MACHINE", serials=[machine], location="WH1")
        if n:
            record(db, type="ship", product="MACHINE", serials=[machine], party="D-EAST")
        found[f"machine{n}"] = machine
    make_party(db, "D-NORTH", regions=["CN-11"])
    diverted = make_units(db, "CMP", 3)
    record(db, type="receive", product="CMP", serials=diverted, location="WH1")
    record(db, type="ship", product="CMP", serials=diverted, party="D-NORTH")
    record(db, type="deliver", product="CMP", serials=diverted)
    record(db, type="sell", product="CMP", serials=diverted[:2], region="CN-44")
    record(db, type="activate", product="CMP", serials=diverted[2:], region="CN-31")
    recall.create_recall(
        db,
        SYSTEM,
        RecallIn(
            code="RC-7",
            title="芯片过热 Chip overheats",
            trace=TraceQuery(product="CHIP", lot="CHIP-LOT-7"),
        ),
    )
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{home / 'unitrace.db'}"
    db = Database(url)
    migrate.upgrade(db)
    make_product(db, "AC1", name="空调 Air conditioner")
    make_location(db, "WH1")
    make_location(db, "WH2")
    make_party(db, "D-EAST")
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    GENEALOGY.update(_genealogy(db))
    db.dispose()
    with serve(url) as base:
        yield base


def wait_for_feedback(page: Any, count: int) -> None:
    """Until the scan feedback list has `count` lines (a locator wait: the pages' CSP refuses
    the string evaluation `wait_for_function` uses)."""
    page.locator("#feedback li").nth(count - 1).wait_for()


def test_clerk_day_in_the_browser(server: str) -> None:
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(locale="en-US", viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        page.fill("input[name=username]", "clerk")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(server + "/")
        assert page.get_by_role("link", name="Scan station").is_visible()

        page.click('[data-testid="lang-zh-CN"]')
        assert page.get_by_role("link", name="扫码工位").is_visible()
        page.click('[data-testid="lang-en"]')
        assert page.get_by_role("link", name="Scan station").is_visible()

        page.goto(server + "/commission")
        page.fill('[data-testid="count"]', "50")
        page.click('[data-testid="commission-submit"]')
        result = page.locator('[data-testid="commission-result"] li')
        result.first.wait_for()
        assert result.count() == 50
        serials = [result.nth(i).inner_text() for i in range(3)]

        page.goto(server + "/scan")
        page.select_option('[data-testid="action"]', "receive")
        page.select_option('[data-testid="location"]', "WH1")
        scan = page.locator('[data-testid="scan-input"]')
        for code in (serials[0], serials[1], "NO-SUCH-SERIAL"):
            scan.fill(code)
            scan.press("Enter")
            wait_for_feedback(page, [serials[0], serials[1], "NO-SUCH-SERIAL"].index(code) + 1)
        assert page.locator('[data-testid="scan-ok"]').count() == 2
        failed = page.locator('[data-testid="scan-fail"]')
        assert failed.count() == 1 and "NO-SUCH-SERIAL" in failed.inner_text()
        assert page.evaluate("document.activeElement.name") == "serial"  # focus stays for the next

        page.goto(server + f"/units?q={serials[0]}")
        rows = page.locator('[data-testid="timeline"] tbody tr')
        assert rows.count() == 2
        assert re.search(r"(?i)commission", rows.nth(0).inner_text())
        assert re.search(r"(?i)receive", rows.nth(1).inner_text())

        page.click('[data-testid="lang-zh-CN"]')
        assert "入库" in page.locator('[data-testid="timeline"]').inner_text()
        page.goto(server + "/scan")
        page.select_option('[data-testid="action"]', "receive")
        page.select_option('[data-testid="location"]', "WH1")
        scan = page.locator('[data-testid="scan-input"]')
        scan.fill(serials[2])
        scan.press("Enter")
        page.locator('[data-testid="scan-ok"]').wait_for()
        scan.fill("不存在-1")
        scan.press("Enter")
        page.locator('[data-testid="scan-fail"]').wait_for()
        assert "未找到" in page.locator('[data-testid="scan-fail"]').inner_text()

        # products in Chinese: a bad GTIN is reported next to its field, nothing is created
        page.goto(server + "/products")
        page.click("details summary")
        page.fill('[data-testid="product-new"] input[name=code]', "TV1")
        page.fill('[data-testid="product-new"] input[name=name]', "电视")
        page.fill('[data-testid="product-new"] input[name=gtin]', "12345")
        page.click('[data-testid="product-create"]')
        assert "不是有效的 GTIN" in page.locator('[data-testid="error-gtin"]').inner_text()
        page.fill('[data-testid="product-new"] input[name=gtin]', "4006381333931")
        page.click('[data-testid="product-create"]')
        page.locator('[data-testid="saved"]').wait_for()

        # the audit trail shows that creation, and the hash chain verifies
        page.click('[data-testid="lang-en"]')
        page.goto(server + "/audit?entity=product&key=TV1")
        assert "TV1" in page.locator('[data-testid="audit-table"]').inner_text()
        page.click('[data-testid="audit-verify"]')
        page.locator('[data-testid="chain-ok"]').wait_for()

        # trace: the genealogy drawn as a graph, the affected units of the chip lot, the recall
        page.goto(server + f"/trace?back={GENEALOGY['machine0']}")
        page.locator("#genealogy canvas").wait_for()
        page.goto(server + "/trace?product=CHIP&lot=CHIP-LOT-7")
        rows = page.locator('[data-testid="affected-table"] tbody tr')
        assert rows.count() == 2
        page.goto(server + f"/trace?back={GENEALOGY['machine0']}&product=CHIP&lot=CHIP-LOT-7")
        page.locator("#genealogy canvas").wait_for()
        page.locator("#by-status canvas").wait_for()
        page.goto(server + "/recalls/RC-7")
        page.click('[data-testid="lang-zh-CN"]')
        page.locator("#outcomes canvas").wait_for()
        assert "召回" in page.inner_text("h1") or "RC-7" in page.inner_text("h1")
        assert page.locator('[data-testid="total-in_field"]').inner_text() == "1"
        page.goto(server + "/diversions")
        page.locator("#by-region canvas").wait_for()
        assert page.locator('[data-testid="alert-table"] tbody tr').count() == 3
        assert "窜货" in page.inner_text("h1")
        page.click('[data-testid="lang-en"]')

        # packing at the scan station, then one scan of the carton moves all three units
        page.goto(server + "/scan")
        page.select_option('[data-testid="action"]', "pack")
        page.fill('[data-testid="container"]', "CTN-E2E")
        scan = page.locator('[data-testid="scan-input"]')
        for n, code in enumerate(serials, start=1):
            scan.fill(code)
            scan.press("Enter")
            wait_for_feedback(page, n)
        assert page.locator('[data-testid="scan-ok"]').count() == 3
        page.select_option('[data-testid="action"]', "move")
        page.select_option('[data-testid="location"]', "WH2")
        scan.fill("CTN-E2E")
        scan.press("Enter")
        wait_for_feedback(page, 4)
        assert "3 units" in page.locator("#feedback li").first.inner_text()

        # a stocktake of WH2: two of the three units are found, one is missing
        page.goto(server + "/stocktakes")
        page.fill('[data-testid="count-code"]', "ST-E2E")
        page.select_option('[data-testid="count-locations"]', ["WH2"])
        page.click('[data-testid="open-count"]')
        page.locator('[data-testid="count-status"]').wait_for()
        page.select_option('[data-testid="location"]', "WH2")
        scan = page.locator('[data-testid="scan-input"]')
        for n, code in enumerate(serials[:2], start=1):
            scan.fill(code)
            scan.press("Enter")
            wait_for_feedback(page, n)
        assert page.locator('[data-testid="scan-counted"]').count() == 2
        page.once("dialog", lambda dialog: dialog.accept())
        page.click('[data-testid="close-count"]')
        page.locator('[data-testid="report"]').wait_for()
        assert serials[2] in page.locator('[data-testid="missing-table"]').inner_text()

        # on a phone, the pages a clerk uses fit the screen's width (no sideways scrolling)
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/", "/scan", f"/units?q={serials[0]}", "/commission", "/products",
                     "/stocktakes", "/stocktakes/ST-E2E", "/sell-through"):  # fmt: skip
            page.goto(server + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
        page.goto(server + "/scan")
        browser.close()
