"""The floor's way in, in Chromium on the demo data, in zh-CN: logging in (a wrong password, then
the right one), the home page's figures as a manager and as a partner, the header of every role
(what the role may use, nothing else) and the inventory drill-down warehouse → bins → units."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.floor import USERS, Floor
from tests.e2e.serving import PASSWORD
from unitrace.access.principal import ROLES, Actor
from unitrace.web import navigation

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def kpi(page: Any, name: str) -> int:
    tile = page.get_by_test_id(f"kpi-{name}")
    assert tile.is_visible(), name
    return number(tile.locator("strong").inner_text())


def test_login_refuses_a_wrong_password_then_lets_the_right_one_in(floor: Floor) -> None:
    page = floor.open("readonly", "/", fresh=True)
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(floor.url("/login"))
    page.fill("input[name=username]", USERS["readonly"])
    page.fill("input[name=password]", "not the password")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "用户名或密码错误。"
    page.fill("input[name=username]", USERS["readonly"])
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(floor.url("/"))
    assert page.get_by_test_id("kpis").is_visible()
    assert page.locator("h1").inner_text() == "首页"
    floor.check(page)


def test_home_shows_a_manager_the_figures_of_the_day_and_of_the_demo(floor: Floor) -> None:
    page = floor.open("admin", "/")
    assert kpi(page, "sold") == floor.demo.summary["sold"]  # the demo's summary, word for word
    assert kpi(page, "alerts") > 0 and kpi(page, "recalls") == 1
    for name in ("output", "shipped-today", "shipped-week"):
        assert kpi(page, name) >= 0
    total = number(page.locator("h2", has_text="单品当前状态").inner_text())
    assert total == sum(floor.demo.summary["statuses"].values())
    # the status bars can be seen: each at least a few pixels wide, a readable height
    for bar in page.locator("[data-testid=by-status] .bar span").all():
        box = bar.bounding_box()
        assert box is not None and box["width"] >= 3 and box["height"] >= 10
    stock = page.get_by_test_id("stock-by-warehouse")
    assert "SZ-FG" in stock.inner_text() and "已召回" in stock.inner_text()
    page.get_by_test_id("yield-trend").locator("canvas").first.wait_for()
    first = page.get_by_test_id("latest-events").locator("a").first
    serial = first.inner_text()
    first.click()
    page.get_by_test_id("timeline").wait_for()
    assert serial in page.locator("h1").inner_text()
    floor.check(page)


def test_home_shows_a_partner_only_its_own_figures(floor: Floor) -> None:
    page = floor.open("partner", "/")
    shown = set(page.locator("[data-testid^=kpi-]").evaluate_all(
        "tiles => tiles.map(t => t.dataset.testid)"))  # fmt: skip
    assert shown == {"kpi-sold"}  # no factory output, shipments, recalls or alerts
    assert kpi(page, "sold") > 0
    assert not page.get_by_test_id("stock-by-warehouse").count()
    assert "SZ-FG" not in page.locator("main").inner_text()
    events = page.get_by_test_id("latest-events").locator("a")
    assert events.count() > 0
    events.first.click()
    page.get_by_test_id("timeline").wait_for()
    floor.check(page)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_s_header_lists_what_it_may_use_and_each_link_opens(
    floor: Floor, role: str
) -> None:
    page = floor.open(role, "/", fresh=True)
    nav = page.get_by_test_id("nav").locator("a")
    links = nav.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert links == [p.path for p in navigation.header(Actor(USERS[role], role))]
    floor.check(page)
    # each link opens for the role (the pages' own checks are their areas' tests: fetched in
    # the role's session, not shown)
    for path in links[1:]:
        answer = page.request.get(floor.url(path))
        assert answer.status == 200, (role, path, answer.status)
        assert 'data-testid="forbidden"' not in answer.text(), (role, path)


def test_the_header_fits_a_phone(floor: Floor) -> None:
    page = floor.open("admin", "/", phone=True)
    assert page.get_by_test_id("nav").is_visible()
    floor.check(page)  # no sideways scroll of the page: the header scrolls on its own


def test_inventory_drills_down_from_the_warehouse_to_its_bins_to_the_units(floor: Floor) -> None:
    page = floor.open("warehouse", "/inventory?by=location")
    warehouse = page.locator("[data-testid=inventory-row][data-location='SZ-FG']")
    assert warehouse.get_by_test_id("inventory-own").count() == 0  # nothing on the floor itself
    below = warehouse.get_by_test_id("inventory-below")
    held = number(below.inner_text())
    assert held > 0
    below.click()
    page.wait_for_url(re.compile(r"/inventory\?.*location=SZ-FG"))
    bin_row = page.locator("[data-testid=inventory-row][data-location='SZ-FG-A01']")
    own = bin_row.get_by_test_id("inventory-own")
    recalled = number(bin_row.get_by_test_id("inventory-recalled").inner_text())
    assert number(own.inner_text()) == held  # the warehouse's figure is its bin's
    assert 0 < recalled < held  # recalled units on the shelf are counted and flagged
    own.click()
    page.wait_for_url(re.compile(r"/inventory/units\?"))
    serials = page.get_by_test_id("inventory-serials").locator("a")
    assert serials.count() == min(200, held - recalled)  # in stock; the recalled listed apart
    serials.first.click()
    page.get_by_test_id("timeline").wait_for()
    assert "SZ-FG-A01" in page.locator("main").inner_text()
    floor.check(page)
