"""The floor harness's guards (tests/e2e/floor.py) fail when they should: English on a zh-CN
page, a page too wide for a phone, a failed request the page did not show, a console error.
Each test breaks a demo page on purpose and asserts that `Floor.check` fails."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.floor import Floor, english_words, overflow, scan, words_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def fails(floor: Floor, page: Any) -> str:
    with pytest.raises(pytest.fail.Exception) as failed:
        floor.check(page)
    return str(failed.value)


def test_words_in_skips_codes_serials_units_and_data() -> None:
    texts = ["AC-9000 分体空调 共 12 pcs", "SZ-ASSY · GTIN · CSV · BOM", "序列号 AC26120100057",
             "华东分销 East China Distribution", "/api/docs", "Scan station"]  # fmt: skip
    assert words_in(texts, data=["华东分销 East China Distribution"]) == ["Scan", "station"]
    assert words_in(["分体空调split", "下载CSV文件", "lot MB-V2/PCB-2607"]) == ["split", "lot"]


def test_english_word_on_a_zh_cn_page_is_found_and_fails(floor: Floor) -> None:
    page = floor.open("quality", "/quality")
    assert english_words(page, floor.demo.data_texts) == []
    floor.check(page)
    page.evaluate("document.querySelector('h1').insertAdjacentHTML('beforeend', "
                  "'<span id=added> Yield</span>')")  # fmt: skip
    assert english_words(page, floor.demo.data_texts) == ["Yield"]
    assert "Yield" in fails(floor, page)
    page.evaluate("document.getElementById('added').outerHTML = "
                  "'<code>Yield</code><span translate=no>Raw</span>'")  # fmt: skip
    assert english_words(page, floor.demo.data_texts) == []
    floor.check(page)


def test_a_page_too_wide_for_a_phone_fails(floor: Floor) -> None:
    page = floor.open("warehouse", "/scan", phone=True)
    assert overflow(page) <= 0
    floor.check(page)
    page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                  "'<div style=\"width:900px;height:1px\"></div>')")  # fmt: skip
    assert overflow(page) > 0
    assert "scrolls sideways" in fails(floor, page)
    page.evaluate("document.body.lastElementChild.remove()")


def test_a_failed_request_not_shown_fails_and_one_shown_passes(floor: Floor) -> None:
    page = floor.open("quality", "/quality", locale="en")
    page.evaluate("fetch('/api/units/NO-SUCH-UNIT-1')")  # a 404 the page does not show
    page.wait_for_timeout(300)
    assert "404 GET" in fails(floor, page)

    page.evaluate("fetch('/api/units/NO-SUCH-UNIT-2')")
    page.wait_for_timeout(300)
    floor.expect_failure(page, 404, "NO-SUCH-UNIT-2")  # declared: passes
    floor.check(page)

    page.goto(floor.url("/units/NO-SUCH-UNIT-3"))  # the "not found" page shows it
    floor.check(page)

    # an error shown in a role="alert" element counts even when the page has moved on since
    page.evaluate("""async () => {
        await fetch('/api/units/NO-SUCH-UNIT-4');
        document.body.insertAdjacentHTML('afterbegin', '<p role="alert">未找到</p>');
    }""")
    page.wait_for_timeout(200)
    page.goto(floor.url("/quality"))
    floor.check(page)


def test_a_console_error_fails(floor: Floor) -> None:
    page = floor.open("readonly", "/")
    page.evaluate("console.error('broken widget')")
    assert "broken widget" in fails(floor, page)


def test_scan_types_codes_and_enter_into_the_focused_field_fast(floor: Floor) -> None:
    page = floor.open("readonly", "/", locale="en")
    page.evaluate("""() => {
        const field = document.createElement("input");
        window.scanned = [];
        field.addEventListener("keydown", (e) => {
            if (e.key === "Enter") { window.scanned.push(field.value); field.value = ""; }
        });
        document.body.prepend(field);
        field.focus();
    }""")
    codes = [f"AC2612010{n:04d}" for n in range(40)]
    scan(page, codes)
    assert page.evaluate("window.scanned") == codes
