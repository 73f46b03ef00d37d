"""The public page of a unit's GS1 Digital Link (issue 15) in Chromium on a phone (390 px), with
no login: a shopper scans the QR code and reads the product in Chinese or English, with no
sideways scrolling, no English word on the Chinese page and nothing of the unit's journey."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import LANG_COOKIE, LOCALES, PHONE, Floor, english_words, overflow
from unitrace.db.engine import Database
from unitrace.db.tables import locations, parties, products, units

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _a_unit(floor: Floor) -> tuple[str, str, str, list[str]]:
    """A demo unit with a holder: its GTIN, serial, product name, and the names of its journey."""
    assert floor.database is not None
    db = Database(f"sqlite:///{floor.database}")
    try:
        with db.read() as conn:
            row = conn.execute(
                select(products.c.gtin14, products.c.name, units.c.serial, parties.c.name,
                       locations.c.name)
                .join(products, products.c.id == units.c.product_id)
                .outerjoin(parties, parties.c.id == units.c.holder_id)
                .outerjoin(locations, locations.c.id == units.c.location_id)
                .where(products.c.gtin14.is_not(None), units.c.holder_id.is_not(None))
                .limit(1)
            ).one()  # fmt: skip
    finally:
        db.dispose()
    return row[0], row[2], row[1], [n for n in row[3:] if n]


def _phone(floor: Floor, locale: str) -> Any:
    context = floor.browser.new_context(
        locale=LOCALES[locale], viewport=PHONE, is_mobile=True, has_touch=True
    )
    host = floor.base.split("//", 1)[1].split(":")[0]
    context.add_cookies([{"name": LANG_COOKIE, "value": locale, "domain": host, "path": "/"}])
    return context.new_page()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_shopper_reads_the_product_on_a_phone(floor: Floor, locale: str) -> None:
    gtin, serial, name, journey = _a_unit(floor)
    page = _phone(floor, locale)
    try:
        answer = page.goto(floor.url(f"/01/{gtin}/21/{serial}"))
        assert answer is not None and answer.status == 200
        assert page.get_by_test_id("public-name").inner_text() == name
        assert page.get_by_test_id("public-gtin").inner_text() == gtin
        assert overflow(page) == 0
        body = page.inner_text("body")
        assert ("产品信息" in body) == (locale == "zh-CN")
        for secret in journey:
            assert secret not in body
        if locale == "zh-CN":
            assert english_words(page, floor.demo.data_texts) == []
    finally:
        page.context.close()
