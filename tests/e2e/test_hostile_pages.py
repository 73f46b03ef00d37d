"""Stored script injection (issue 11, item 1), in Chromium: hostile serials, lot numbers, names,
defect codes, operators and a delivery note on every page that shows them. Each page is opened
twice — under the pages' Content-Security-Policy, and once more with the policy switched off
(so escaping alone must hold) — every chart element is hovered (its tooltip shown) and clicked,
and no dialog may open, no element of the hostile markup may appear, no CSP violation may be
reported and no script error may occur. The hostile text is shown as text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.serving import CHROMIUM, PASSWORD, launch, log_in, serve
from tests.factories import make_location, make_lot, make_product, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate, PartyCreate
from unitrace.channel import service as channel
from unitrace.channel import stocktake
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units
from unitrace.production import recall
from unitrace.production import service as production
from unitrace.production.schemas import RecallIn, RouteIn, TraceQuery

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

if not Path(CHROMIUM).exists() and os.environ.get("UNITRACE_REQUIRE_E2E") != "1":
    pytest.skip("Chromium not installed (scripts/test.sh installs it)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")


def evil(tag: str) -> str:
    """Markup that runs `alert(tag)` wherever it is taken as HTML."""
    return f'<img/src="x"onerror=alert("{tag}")>'


SERIAL = evil("serialX")
PART = '<svg/onload=alert("partX")>'
DIVERTED = '"><img/src=x/onerror=alert("divX")>'
LOT = evil("lotX")
DEFECT = evil("defX")
OPERATOR = evil("opX")
NOTE = evil("dnX")
UNKNOWN = '<svg/onload=alert("scanX")>'
HOSTILE = [SERIAL, PART, DIVERTED, LOT, DEFECT, OPERATOR, NOTE, UNKNOWN]

# Records violations from the first moment of every document (an init script is not subject
# to the page's policy); the test reads them back with `evaluate`, which is not either.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile);
});
"""

# The page's charts, found through ECharts itself (the pages keep no handle on them).
CHARTS = """
  const charts = () => [...document.querySelectorAll(".chart")]
    .map(d => window.echarts && echarts.getInstanceByDom(d)).filter(Boolean);
"""
# Every data item of every series of every chart on the page, with its centre in page pixels.
ELEMENTS = (
    """
() => {"""
    + CHARTS
    + """
  const found = [];
  charts().forEach((chart, c) => {
    const box = chart.getDom().getBoundingClientRect();
    chart.getModel().eachSeries((series) => {
      const data = series.getData();
      for (let i = 0; i < data.count(); i++) {
        let x = null, y = null;
        const layout = data.getItemLayout(i);
        if (series.subType === "pie" && layout) {
          const angle = (layout.startAngle + layout.endAngle) / 2, r = (layout.r0 + layout.r) / 2;
          x = layout.cx + r * Math.cos(angle); y = layout.cy + r * Math.sin(angle);
        } else {
          let el = data.getItemGraphicEl(i);
          if (el && el.isGroup && el.childAt(0)) el = el.childAt(0);
          if (el && !el.invisible) {
            const rect = el.getBoundingRect();
            [x, y] = el.transformCoordToGlobal(rect.x + rect.width / 2, rect.y + rect.height / 2);
          }
        }
        found.push({chart: c, series: series.seriesIndex, index: i,
                    x: x === null ? null : box.left + x, y: y === null ? null : box.top + y});
      }
    });
  });
  return found;
}
"""
)

# The text of the tooltips now shown.
TIPS = """
() => [...document.querySelectorAll(".chart div")]
  .filter(d => d.style.zIndex === "9999999" && d.style.display !== "none"
               && d.style.opacity !== "0")
  .map(d => d.innerText).join("\\n")
"""
# Shows the tooltip of one element (as hovering it would) and returns the tooltips' text.
SHOW_TIP = (
    """
([chart, series, index]) => {"""
    + CHARTS
    + """
  const c = charts()[chart];
  c.dispatchAction({type: "showTip", seriesIndex: series, dataIndex: index});
  const tips = [...c.getDom().querySelectorAll("div")].filter(d => d.style.zIndex === "9999999");
  return tips.map(d => d.innerText).join("\\n");
}
"""
)


def _plant(db: Database) -> None:
    """Hostile text wherever a user can type it: serials, a lot, a supplier's, a warehouse's
    and a distributor's name, a defect code, an operator, a delivery note, a recall's title."""
    catalog.create_party(db, SYSTEM, PartyCreate(code="SUP-H", name=evil("supX"), kind="supplier"))
    catalog.create_party(
        db,
        SYSTEM,
        PartyCreate(
            code="D-H", name=evil("distX"), kind="distributor", authorised_regions=["CN-11"]
        ),
    )
    catalog.create_location(
        db, SYSTEM, LocationCreate(code="WH1", name=evil("whX"), kind="warehouse", region="CN-44")
    )
    make_location(db, "QC", kind="station")
    make_product(db, "BOX", rule=None, name=evil("productX"))
    make_product(db, "PART", rule=None)
    make_lot(db, "PART", LOT, supplier="SUP-H")
    production.set_route(db, SYSTEM, "BOX", RouteIn(steps=[{"code": "FQC", "name": evil("stepX")}]))
    commission_units(db, SYSTEM, CommissionIn(product="BOX", serials=[SERIAL, DIVERTED]))
    commission_units(db, SYSTEM, CommissionIn(product="PART", serials=[PART], lot=LOT))
    record(
        db,
        type="assemble",
        product="PART",
        serials=[PART],
        parent={"product": "BOX", "serial": SERIAL},
    )
    record(
        db,
        type="inspect",
        product="BOX",
        serials=[SERIAL],
        location="QC",
        operator=OPERATOR,
        equipment=evil("eqX"),
        step={"code": "FQC", "result": "fail", "defect_code": DEFECT},
    )
    record(
        db,
        type="inspect",
        product="BOX",
        serials=[SERIAL, DIVERTED],
        location="QC",
        operator=OPERATOR,
        step={"code": "FQC", "result": "pass"},
    )
    record(db, type="receive", product="BOX", serials=[SERIAL, DIVERTED], location="WH1")
    channel.create_shipment(
        db, SYSTEM, channel.ShipmentIn(number=NOTE, party="D-H", product="BOX", serials=[DIVERTED])
    )
    record(db, type="deliver", product="BOX", serials=[DIVERTED])
    record(db, type="sell", product="BOX", serials=[DIVERTED], region="CN-44")  # diverted
    recall.create_recall(
        db,
        SYSTEM,
        RecallIn(
            code="RC-H",
            title=evil("recallX"),
            reason=evil("reasonX"),
            trace=TraceQuery(product="PART", lot=LOT),
        ),
    )
    stocktake.open_count(db, SYSTEM, "ST-H", ["WH1"])
    stocktake.scan(db, SYSTEM, "ST-H", UNKNOWN, "WH1")
    stocktake.close_count(db, SYSTEM, "ST-H")


PAGES = [
    "/",
    f"/units?q={quote(SERIAL)}",
    f"/units?q={quote('<')}",
    f"/units/{quote(SERIAL, safe='')}?product=BOX",
    f"/units/{quote(PART, safe='')}?product=PART",
    f"/units/{quote(DIVERTED, safe='')}?product=BOX",
    f"/trace?back={quote(SERIAL)}",
    f"/trace?product=PART&lot={quote(LOT)}",
    f"/trace?back={quote(SERIAL)}&product=PART&lot={quote(LOT)}",
    "/recalls",
    "/recalls/RC-H",
    "/inventory",
    "/inventory?by=product,location,lot",
    "/inventory/units?product=BOX&status=in_stock&location=WH1",
    f"/inventory/units?product=PART&status=installed&lot={quote(LOT)}",
    "/shipments",
    "/diversions",
    "/diversions?status=all",
    "/stocktakes",
    "/stocktakes/ST-H",
    "/quality",
    "/quality?by=lot",
    "/quality?by=operator",
    "/quality?by=equipment",
    "/quality?by=supplier",
    "/quality?by=component_lot",
    "/lots",
    f"/lots/PART/{quote(LOT, safe='')}",
    "/products",
    "/products/BOX",
    "/products/BOX/bom",
    "/products/BOX/route",
    "/parties",
    "/parties/SUP-H",
    "/parties/D-H",
    "/locations",
    "/locations/WH1",
    f"/assembly?parent={quote(SERIAL)}&product=BOX",
    "/steps?product=BOX",
    "/audit",
    "/sell-through",
    "/scan",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{home / 'unitrace.db'}"
    db = Database(url)
    migrate.upgrade(db)
    access.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    _plant(db)
    db.dispose()
    with serve(url) as base:
        yield base


class Watch:
    """Dialogs, script errors and console reports of one browser page."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console.append(message.text)


def _exercise_charts(page: Any, path: str) -> int:
    """Hover and then click every chart element; show each one's tooltip. The number of
    elements."""
    elements = page.evaluate(ELEMENTS)
    for element in elements:
        page.evaluate(SHOW_TIP, [element["chart"], element["series"], element["index"]])
    placed = [e for e in elements if e["x"] is not None]
    shown = 0
    for element in placed:
        page.mouse.move(element["x"], element["y"])
        page.wait_for_timeout(60)
        shown += bool(page.evaluate(TIPS).strip())
    assert shown, (path, "hovering showed no tooltip")
    for element in reversed(placed):  # deepest tree nodes first: a click folds a branch
        page.mouse.click(element["x"], element["y"])
        page.wait_for_timeout(30)
    return len(elements)


def _check(page: Any, watch: Watch, path: str, csp: bool) -> None:
    assert watch.dialogs == [], (path, watch.dialogs)
    assert watch.errors == [], (path, watch.errors)
    injected = page.locator("img, svg, iframe, object, embed, [onerror], [onload]").count()
    assert injected == 0, (path, page.content()[:3000])
    if csp:
        assert page.evaluate("window.__violations") == [], path
        assert [m for m in watch.console if "Content Security Policy" in m] == [], path


def _visit_all(browser: Any, server: str, csp: bool) -> dict[str, int]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1000},
                                  bypass_csp=not csp)  # fmt: skip
    context.add_init_script(WATCH)
    page = context.new_page()
    watch = Watch(page)
    log_in(page, server, "boss")
    charted: dict[str, int] = {}
    for path in PAGES:
        page.goto(server + path)
        page.wait_for_load_state("load")
        if page.locator(".chart").count():
            page.locator(".chart canvas").first.wait_for()
            charted[path] = _exercise_charts(page, path)
        _check(page, watch, path, csp)
    _scan_hostile(page, server)
    _check(page, watch, "/scan (after scans)", csp)
    context.close()
    return charted


def _scan_hostile(page: Any, server: str) -> None:
    """The scan station's answers name the serial: an unknown hostile one and a known one."""
    page.goto(server + "/scan")
    page.select_option('[data-testid="action"]', "receive")
    page.select_option('[data-testid="location"]', "WH1")
    scan = page.locator('[data-testid="scan-input"]')
    for n, code in enumerate((UNKNOWN, SERIAL), start=1):
        scan.fill(code)
        scan.press("Enter")
        page.locator("#feedback li").nth(n - 1).wait_for()
    feedback = page.locator("#feedback").inner_text()
    assert UNKNOWN in feedback and SERIAL in feedback  # shown as text
    assert page.evaluate("document.activeElement.name") == "serial"


def test_hostile_text_never_runs(server: str) -> None:
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        try:
            for csp in (True, False):
                charted = _visit_all(browser, server, csp)
                # every chart page was exercised, with elements to hover
                assert {p.split("?")[0] for p in charted} >= {
                    "/trace",
                    "/recalls/RC-H",
                    "/diversions",
                    "/quality",
                }, charted
                assert all(n > 0 for n in charted.values()), charted
        finally:
            browser.close()


def test_hostile_text_is_shown_as_text(server: str) -> None:
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
        log_in(page, server, "boss")
        page.goto(server + f"/units/{quote(SERIAL, safe='')}?product=BOX")
        text = page.locator("main").inner_text()
        assert SERIAL in text and PART in text and evil("productX") in text
        page.goto(server + f"/trace?back={quote(SERIAL)}")
        page.locator("#genealogy canvas").wait_for()
        assert PART in page.locator('[data-testid="tree-table"]').inner_text()
        assert LOT in page.locator('[data-testid="tree-table"]').inner_text()
        # the genealogy's tooltips name the node as it was typed
        tips = [page.evaluate(SHOW_TIP, [0, 0, i]) for i in range(4)]
        assert any(SERIAL in tip for tip in tips) and any(PART in tip for tip in tips), tips
        page.goto(server + "/quality?by=lot")
        page.locator("#pareto canvas").wait_for()
        assert DEFECT in page.evaluate(SHOW_TIP, [1, 0, 0])
        page.goto(server + "/diversions")
        assert DIVERTED in page.locator('[data-testid="alert-table"]').inner_text()
        assert NOTE in page.locator('[data-testid="alert-table"]').inner_text()
        browser.close()
