"""The channel on the floor (issue 13), in Chromium against the demo data, by the role that
does each task, in zh-CN (the key ones in English too): shipments by serials, by range (check-
character serials of the product's rule) and by carton, with the printed delivery note; the
diversion alerts, page 2 and bulk acknowledge with the counts changing; a stocktake opened,
scanned by keyboard wedge and closed; a partner's sell-through workbook with 2026/11/28 dates
and bad rows, every problem shown at once."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import Demo, Floor, scan
from unitrace.core.lifecycle import Status
from unitrace.db import tables
from unitrace.db.engine import Database

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FINISHED = "AC-9000"  # serial rule AC{yy}{mm}{seq:6}{check:luhn}
STOCK = "SZ-FG-A01"


@dataclass(frozen=True)
class Stock:
    """Serials of the demo the tests act on, read from the demo database (never written)."""

    in_stock: list[str]  # AC-9000 units in stock at SZ-FG-A01, by sequence
    run: list[str]  # the longest run of consecutive sequences among them
    delivered_east: list[str]  # units D-EAST holds, delivered, not sold


@pytest.fixture(scope="module")
def stock(demo: Demo) -> Iterator[Stock]:
    db = Database(demo.url)
    units, products, parties = tables.units, tables.products, tables.parties
    try:
        with db.read() as conn:
            product = select(products.c.id).where(products.c.code == FINISHED).scalar_subquery()
            here = select(tables.locations.c.id).where(tables.locations.c.code == STOCK)
            kept = conn.execute(
                select(units.c.serial).where(
                    units.c.product_id == product,
                    units.c.status == int(Status.IN_STOCK),
                    units.c.location_id == here.scalar_subquery(),
                    units.c.container_id.is_(None),
                )
            ).scalars()
            in_stock = sorted(kept, key=lambda s: int(s[6:12]))
            east = select(parties.c.id).where(parties.c.code == "D-EAST").scalar_subquery()
            delivered = conn.execute(
                select(units.c.serial)
                .where(units.c.holder_id == east, units.c.status == int(Status.DELIVERED))
                .order_by(units.c.serial)
                .limit(20)
            ).scalars()
            delivered_east = list(delivered)
    finally:
        db.dispose()
    runs: list[list[str]] = []
    for serial in in_stock:
        last = runs[-1][-1] if runs else ""
        if last and int(serial[6:12]) == int(last[6:12]) + 1 and serial[:6] == last[:6]:
            runs[-1].append(serial)
        else:
            runs.append([serial])
    longest = max(runs, key=len)
    assert len(longest) >= 2 and len(in_stock) > 40 and len(delivered_east) >= 5
    yield Stock(in_stock, longest, delivered_east)


def _count(page: Any, testid: str) -> int:
    return int(re.sub(r"\D", "", page.get_by_test_id(testid).inner_text()))


def _ship(page: Any, number: str, field: str, lines: list[str]) -> None:
    page.get_by_test_id("shipment-new").locator("select[name=party]").select_option("D-EAST")
    page.locator("input[name=number]").fill(number)
    page.get_by_test_id(field).click()  # the clerk puts the cursor in the box, then scans
    scan(page, lines)
    page.get_by_test_id("ship").click()
    page.get_by_test_id("shipped").wait_for()


# --- shipments ----------------------------------------------------------------------------


def test_warehouse_ships_by_serials_by_range_and_by_carton_and_prints_the_note(
    floor: Floor, stock: Stock
) -> None:
    page = floor.open("warehouse", "/shipments")
    assert page.get_by_test_id("shipment-row").count() >= 8  # the demo's ship events are listed
    assert "DN-D-EAST-1" in page.get_by_test_id("shipment-table").inner_text()

    loose = stock.in_stock[-3:]
    _ship(page, "DN-E2E-SERIALS", "serials", loose)
    assert page.get_by_test_id("shipped").inner_text().startswith("DN-E2E-SERIALS: 3 ")

    first, last = stock.run[0], stock.run[-1]
    _ship(page, "DN-E2E-RANGE", "ranges", [f"{first}-{last}"])
    shipped = page.get_by_test_id("shipped").inner_text()
    assert shipped.startswith(f"DN-E2E-RANGE: {len(stock.run)} ")  # every sequence, no gaps

    carton = "CTN-E2E-1"
    packing = floor.open("warehouse", "/scan")
    packing.get_by_test_id("action").select_option("pack")
    packing.get_by_test_id("container").fill(carton)
    packing.get_by_test_id("scan-input").click()  # then the scanner, focus left alone
    for i, serial in enumerate(stock.in_stock[:4]):  # one at a time: see the report
        scan(packing, [serial])
        packing.locator('[data-testid="feedback"] li').nth(i).wait_for()
    floor.check(packing)
    page.goto(floor.url("/shipments"))
    _ship(page, "DN-E2E-CARTON", "containers", [carton])
    assert page.get_by_test_id("shipped").inner_text().startswith("DN-E2E-CARTON: 4 ")

    page.get_by_test_id("shipped-note").click()
    note = page.get_by_test_id("delivery-note")
    note.wait_for()
    assert page.get_by_test_id("note-number").inner_text() == "DN-E2E-CARTON"
    assert "D-EAST" in page.get_by_test_id("consignee").inner_text()
    assert "SZ" in page.get_by_test_id("shipper").inner_text()
    assert page.get_by_test_id("note-total").inner_text() == "4"
    assert carton in page.get_by_test_id("note-carton").inner_text()
    page.emulate_media(media="print")
    assert not page.locator("header").is_visible()  # printed: the note alone
    assert not page.get_by_test_id("print").is_visible()
    page.emulate_media(media="screen")
    floor.check(page)


def test_a_range_with_a_wrong_check_character_is_refused_in_chinese(
    floor: Floor, stock: Stock
) -> None:
    page = floor.open("sales", "/shipments")
    first = stock.in_stock[5]
    wrong = first[:-1] + str((int(first[-1]) + 1) % 10)
    page.get_by_test_id("shipment-new").locator("select[name=party]").select_option("D-EAST")
    page.get_by_test_id("ranges").fill(f"{wrong}-{stock.in_stock[6]}")
    page.get_by_test_id("ship").click()
    error = page.get_by_test_id("error-ranges")
    error.wait_for()
    assert "校验位" in error.inner_text()
    floor.check(page)


def test_the_delivery_note_prints_on_a_phone_in_english(floor: Floor) -> None:
    page = floor.open("sales", "/shipments", locale="en", phone=True)
    page.get_by_test_id("shipment-table").locator("a", has_text="DN-D-SOUTH-1").click()
    page.get_by_test_id("delivery-note").wait_for()
    assert page.get_by_test_id("note-number").inner_text() == "DN-D-SOUTH-1"
    assert "Guangdong" in page.get_by_test_id("consignee").inner_text()
    floor.check(page)


# --- diversion alerts -----------------------------------------------------------------------


def test_sales_pages_through_the_alerts_and_acknowledges_some_at_once(floor: Floor) -> None:
    page = floor.open("sales", "/diversions", phone=True)
    open_before = _count(page, "count-open")
    assert open_before > 50  # the demo's alerts, more than one page
    assert "广东" in page.get_by_test_id("alert-table").inner_text()  # CN-44 named
    page.get_by_test_id("page-next").click()
    page.get_by_test_id("alert-pager").filter(has_text="2 /").wait_for()
    boxes = page.locator('input[type=checkbox][name="ids"]')
    for i in range(3):
        boxes.nth(i).check()
    page.get_by_test_id("bulk-note").fill("已联系华东分销")
    page.get_by_test_id("ack-selected").click()
    page.get_by_test_id("acknowledged").wait_for()
    assert _count(page, "count-open") == open_before - 3
    assert _count(page, "count-acknowledged") == 3
    assert "2 /" in page.get_by_test_id("alert-pager").inner_text()  # still on page 2
    page.get_by_test_id("ack-page").click()
    page.get_by_test_id("acknowledged").wait_for()
    assert _count(page, "count-open") == open_before - 3 - 25
    floor.check(page)


def test_closing_an_alert_without_a_note_says_so_next_to_the_note(floor: Floor) -> None:
    page = floor.open("sales", "/diversions")
    row = page.locator('tr[data-testid^="alert-"]').filter(has=page.locator("td.settle form"))
    first = row.first
    alert = (first.get_attribute("data-testid") or "").removeprefix("alert-")
    page.get_by_test_id(f"close-{alert}").click()
    error = page.get_by_test_id(f"error-note-{alert}")
    error.wait_for()
    assert "处理" in error.inner_text() and "未找到" not in page.title()
    page.get_by_test_id(f"note-{alert}").fill("经销商已警告")
    page.get_by_test_id(f"close-{alert}").click()
    page.get_by_test_id("alert-table").wait_for()
    assert page.locator(f'[data-testid="alert-{alert}"]').count() == 0
    floor.check(page)


def test_the_alerts_in_english_name_the_regions(floor: Floor) -> None:
    page = floor.open("sales", "/diversions?page=2", locale="en")
    assert "CN-44 Guangdong" in page.get_by_test_id("alert-table").inner_text()
    assert "Page 2 /" in page.get_by_test_id("alert-pager").inner_text()
    floor.check(page)


# --- stocktake --------------------------------------------------------------------------------


def test_warehouse_opens_a_count_scans_by_wedge_and_closes_it(floor: Floor, stock: Stock) -> None:
    page = floor.open("warehouse", "/stocktakes", phone=True)
    page.get_by_test_id("count-code").fill("ST-E2E-1")
    page.get_by_test_id("count-locations").select_option(STOCK)
    page.get_by_test_id("open-count").click()
    page.get_by_test_id("scan-input").wait_for()
    counted = stock.in_stock[10:16]
    page.get_by_test_id("location").select_option(STOCK)
    page.get_by_test_id("scan-input").click()  # then the scanner, focus left alone
    scan(page, [*counted, "NO-SUCH-UNIT"])
    page.locator('[data-testid="feedback"] li').nth(len(counted)).wait_for()
    assert page.locator('[data-testid="feedback"] li').count() == len(counted) + 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("close-count").click()
    page.get_by_test_id("report").wait_for()
    unexpected = page.get_by_test_id("unexpected-table").inner_text()
    assert "NO-SUCH-UNIT" in unexpected
    missing = page.get_by_test_id("missing-table").inner_text()
    assert counted[0] not in missing and stock.in_stock[20] in missing
    floor.check(page)


# --- sell-through -----------------------------------------------------------------------------


def _workbook(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序列号", "销售日期", "地区", "客户"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(page: Any, name: str, content: bytes) -> None:
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    page.get_by_test_id("sellthrough-file").set_input_files(
        {"name": name, "mimeType": kind, "buffer": content}
    )
    page.get_by_test_id("sellthrough-upload").click()


def test_partner_uploads_sales_with_chinese_dates_and_sees_every_problem(
    floor: Floor, stock: Stock
) -> None:
    page = floor.open("partner", "/sell-through")
    good = stock.delivered_east[:3]
    bad = _workbook(
        [[good[0], "2026/11/28", "CN-31", "王先生"],
         [good[1], "03/04/2026", "CN-31", ""],  # a date nobody can read for sure
         ["NO-SUCH-UNIT", "2026/11/28", "CN-31", ""],  # not hidden by the bad date
         [good[2], "2026/11/28", "上海", ""]]
    )  # fmt: skip
    _upload(page, "销售.xlsx", bad)
    problems = page.get_by_test_id("sellthrough-problems")
    problems.wait_for()
    lines = [r.inner_text() for r in problems.locator("tbody tr").all()]
    assert [line.split()[0] for line in lines] == ["3", "4", "5"]
    assert "NO-SUCH-UNIT" in lines[1] and "03/04/2026" in lines[0]
    assert page.get_by_test_id("form-error").is_visible()
    floor.check(page)
    fixed = _workbook(
        [[s, "2026/11/28", "CN-31", "王先生"] for s in good]
        + [[stock.delivered_east[3], 46354, "CN-31", ""]]  # an Excel date number: 2026-11-28
    )
    _upload(page, "销售.xlsx", fixed)
    done = page.get_by_test_id("sellthrough-done")
    done.wait_for()
    assert re.match(r"\D*4\D", done.inner_text())  # 4 units sold (已记录 4 台售出 …)
    floor.check(page)
