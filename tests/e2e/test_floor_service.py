"""The service desk on the floor (issue 14), in Chromium against the demo data, as the service
agent `service01` in zh-CN: a serial scanned by keyboard wedge, its warranty verdict, a case
opened from the desk, a part replaced on the case page and the case closed; a refused claim
with every check by the form; a serial we never made on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.e2e.floor import Demo, Floor, scan
from unitrace.core.lifecycle import Status
from unitrace.db import tables
from unitrace.db.engine import Database

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FINISHED = "AC-9000"


@dataclass(frozen=True)
class Units:
    """Serials of the demo the tests act on, read from the demo database (never written)."""

    claimable: list[str]  # active AC-9000 units of lot AC-L2 sold by D-SOUTH, no case yet
    expired: list[str]  # the demo's units sold years ago (lot AC-L0), no case yet
    spares: list[str]  # MB-V2 boards in stock at the service station SZ-SVC


@pytest.fixture(scope="module")
def units(demo: Demo) -> Iterator[Units]:
    db = Database(demo.url)
    u, lots, cases = tables.units, tables.lots, tables.service_cases
    try:
        with db.read() as conn:

            def lot(number: str) -> list[str]:
                with_case = select(cases.c.unit_id)
                found = conn.execute(
                    select(u.c.serial)
                    .join(lots, lots.c.id == u.c.lot_id)
                    .join(tables.parties, tables.parties.c.id == u.c.holder_id)
                    .where(
                        lots.c.number == number,
                        u.c.status == int(Status.ACTIVE),
                        tables.parties.c.code == "D-SOUTH",
                        u.c.id.not_in(with_case),
                    )
                    .order_by(u.c.serial)
                    .limit(5)
                ).scalars()
                return list(found)

            service = select(tables.locations.c.id).where(tables.locations.c.code == "SZ-SVC")
            spares = conn.execute(
                select(u.c.serial)
                .where(
                    u.c.location_id == service.scalar_subquery(), u.c.status == int(Status.IN_STOCK)
                )
                .order_by(u.c.serial)
            ).scalars()
            found = Units(lot("AC-L2"), lot("AC-L0"), list(spares))
    finally:
        db.dispose()
    assert len(found.claimable) >= 2 and found.expired and found.spares, found
    yield found


def test_scan_a_serial_see_the_verdict_and_open_a_case_in_chinese(
    floor: Floor, units: Units
) -> None:
    serial = units.claimable[0]
    page = floor.open("service", "/service")
    floor.allow_words(page, "WebP")  # the case page's attachment types (a format's name)

    scan(page, [serial])

    headline = page.get_by_test_id("desk-warranty")
    headline.wait_for()
    assert headline.inner_text().startswith("在保，至 ")
    assert page.get_by_test_id("desk-policy").inner_text() == "36 个月，自激活日起"
    checks = page.get_by_test_id("desk-checks").locator("li")
    assert checks.count() >= 3
    assert page.locator('[data-testid="desk-checks"] .r-refuse').count() == 0
    assert page.get_by_test_id("desk-no-cases").is_visible()
    form = page.get_by_test_id("open-case")
    form.get_by_test_id("case-symptom").select_option("S-NOCOOL")
    form.get_by_test_id("case-location").select_option("SZ-SVC")
    form.get_by_test_id("case-reporter").select_option("D-SOUTH")
    form.get_by_test_id("case-contact").fill("陈先生 135-0000-0009")
    form.get_by_test_id("case-description").fill("制冷效果差")
    form.get_by_test_id("case-open").click()

    page.wait_for_url("**/cases/SC-*")
    number = page.url.rsplit("/", 1)[1]
    assert number in page.get_by_test_id("case-title").inner_text()
    floor.check(page)
    page.goto(floor.url(f"/service?serial={serial}"))
    assert page.locator(f'[data-testid="desk-cases"] a[href="/cases/{number}"]').count() == 1
    open_case = page.locator('[data-check="open_case"] .r-refuse')
    assert open_case.count() == 1  # a second claim for the unit would be refused now


def test_a_claim_out_of_warranty_is_refused_with_every_check_by_the_form(
    floor: Floor, units: Units
) -> None:
    page = floor.open("service", f"/service?serial={units.expired[0]}")
    assert page.get_by_test_id("desk-warranty").inner_text().startswith("已过保（")
    form = page.get_by_test_id("open-case")
    form.get_by_test_id("case-claim").check()  # unticked when a check refuses: tick it anyway

    form.get_by_test_id("case-open").click()

    refused = page.get_by_test_id("refused-checks")
    refused.wait_for()
    assert "保修已于" in refused.inner_text()
    assert page.locator('[data-testid="open-case"] [role="alert"]').is_visible()
    assert page.url.endswith("/service/cases")  # nothing opened: still the desk


def test_a_serial_we_never_made_is_possibly_counterfeit_on_a_phone(floor: Floor) -> None:
    page = floor.open("service", "/service", phone=True)

    scan(page, ["AC00000000000"])

    verdict = page.get_by_test_id("desk-unknown")
    verdict.wait_for()
    assert "可能是假冒产品" in verdict.inner_text()
    assert page.get_by_test_id("open-case").count() == 0
