"""A consumer checks a code on a phone (390 px) in Chinese (issue 16): the start page, the code
typed as a keyboard-wedge scanner types it (characters, then Enter) → the genuine answer with
the product's name — no sideways scrolling, no English word, no console error, nothing of the
unit's holder, shipment or location; an unknown code → "not found" with the report form.

The app is served in this process (uvicorn in a thread, port 8651) on a database of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.floor import LOCALES, PHONE, english_words, overflow
from tests.e2e.serving import CHROMIUM, launch
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access.principal import SYSTEM
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.db.tables import units, verify_codes
from unitrace.verify import settings
from unitrace.verify.public import reset_limits

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
PORT = 8651
SECRETS = ("D-SECRET-NORTH", "WH-HIDDEN-9")  # the holder and the location (code = name)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed")
    import uvicorn

    from unitrace.api.app import create_app

    reset_limits()
    db = Database(f"sqlite:///{tmp_path / 'unitrace.db'}")
    migrate.upgrade(db)
    make_product(db, "TEA1", rule=None, name="龙井礼盒")
    make_location(db, SECRETS[1])
    make_party(db, SECRETS[0], regions=["CN-33"])
    serials = make_units(db, "TEA1", None, serials=["TEA-0001", "TEA-0002"])
    record(db, type="receive", product="TEA1", serials=serials, location=SECRETS[1])
    record(db, type="ship", product="TEA1", serials=serials, party=SECRETS[0])
    settings.put(db, SYSTEM, "TEA1", {"enabled": True})
    settings.issue(db, SYSTEM, "TEA1")
    with db.read() as conn:
        found = conn.execute(
            select(units.c.serial, verify_codes.c.code).join(
                verify_codes, verify_codes.c.unit_id == units.c.id
            )
        ).all()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=PORT))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{PORT}", {serial: code for serial, code in found}
    finally:
        server.should_exit = True
        thread.join(10)
        db.dispose()
        reset_limits()


def _counted(message: Any) -> bool:
    """Console errors, but Chromium's line for a 4xx response (judged from the responses)."""
    return bool(message.type == "error" and "Failed to load resource" not in message.text)


def test_a_consumer_scans_a_code_on_a_phone_in_chinese_and_reads_genuine(
    served: tuple[str, dict[str, str]],
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    base, made = served
    code = made["TEA-0001"]
    errors: list[str] = []
    failed: list[tuple[int, str]] = []
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(
                locale=LOCALES["zh-CN"], viewport=PHONE, is_mobile=True, has_touch=True
            )
            page: Any = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if _counted(m) else None)
            page.on(
                "response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/v")
            field = page.get_by_test_id("verify-code")
            assert field.evaluate("el => el === document.activeElement")  # ready for the scanner
            page.keyboard.type(code.lower())  # a scanner in lower case: still the code
            page.keyboard.press("Enter")
            page.get_by_test_id("verify-genuine").wait_for()
            assert page.get_by_test_id("verify-product").inner_text() == "龙井礼盒"
            assert "正品" in page.inner_text("body")
            assert overflow(page) == 0 and english_words(page, ["English"]) == []
            body = page.content()
            assert not [s for s in (*SECRETS, "TEA-0001", "TEA-0002") if s in body]

            page.goto(f"{base}/v")
            page.keyboard.type("7K3M-9QXZ-4TPW-2HRD")  # no such code
            page.keyboard.press("Enter")
            page.get_by_test_id("verify-not-found").wait_for()
            assert page.get_by_test_id("report-form").is_visible()
            assert overflow(page) == 0 and english_words(page, ["English"]) == []
        finally:
            browser.close()
    assert errors == []
    # not found is answered 404 on purpose (shown as the page); a browser asks for an icon
    assert [u for s, u in failed if not u.endswith("/favicon.ico") and "/v/" not in u] == []
