"""A Chinese user sees the use cases' errors in Chinese: refusals of the scan station, form
errors, problem pages; the values in them (states, event types, fields) too, serials as they
are. Role descriptions and the words for units are Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.factories import in_stock, record
from tests.pages import PASSWORD, csrf_of, log_in
from unitrace.access import service as access
from unitrace.access.principal import ROLE_SUMMARY, SYSTEM
from unitrace.api.app import create_app
from unitrace.core.errors import FieldError, invalid, report
from unitrace.db.engine import Database
from unitrace.web import i18n, translate

ZH = {"Accept-Language": "zh-CN"}
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def browser(db: Database) -> Iterator[TestClient]:
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        log_in(client, lang="zh-CN")
        yield client


@pytest.fixture
def chinese() -> Iterator[None]:
    token = i18n.current.set("zh-CN")
    yield
    i18n.current.reset(token)


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _sentences(html: str) -> list[str]:
    """English runs of three words or more: what no Chinese page may show."""
    return re.findall(r"\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}\b", _text(html))


def test_a_refused_scan_says_why_in_chinese_with_the_state_translated(
    browser: TestClient, db: Database
) -> None:
    serials = in_stock(db, 1)
    token = csrf_of(browser.get("/scan", headers=ZH).text)
    data = {"action": "ship", "serial": serials[0], "party": "D-EAST"}
    browser.post("/scan", data=data, headers={"X-CSRF-Token": token, **ZH})
    again = browser.post("/scan", data=data, headers={"X-CSRF-Token": token, **ZH})
    assert 'data-testid="scan-fail"' in again.text
    assert "在途" in again.text and serials[0] in again.text  # the state and the serial
    assert "cannot ship" not in again.text and not _sentences(again.text), _text(again.text)


def test_an_unknown_serial_and_location_are_said_in_chinese(browser: TestClient) -> None:
    token = csrf_of(browser.get("/scan", headers=ZH).text)
    answer = browser.post(
        "/scan",
        data={"action": "receive", "serial": "NOPE-1", "location": "WH-NONE"},
        headers={"X-CSRF-Token": token, **ZH},
    )
    assert "没有代码为 'WH-NONE' 的位置" in _text(answer.text), _text(answer.text)
    answer = browser.post(
        "/scan",
        data={"action": "inspect", "serial": "NOPE-1"},
        headers={"X-CSRF-Token": token, **ZH},
    )
    assert "未知或不明确的单品" in _text(answer.text), _text(answer.text)


def test_form_errors_of_a_use_case_are_chinese(browser: TestClient, db: Database) -> None:
    form = browser.get("/commission", headers=ZH)
    answer = browser.post(
        "/commission",
        data={"csrf_token": csrf_of(form.text), "product": "NOPE", "count": "3"},
        headers=ZH,
    )
    assert answer.status_code in (404, 422)
    assert "没有代码为 'NOPE' 的产品" in answer.text or "未知产品" in answer.text
    assert not _sentences(answer.text), _sentences(answer.text)


def test_values_in_a_message_are_translated_serials_stay(chinese: None) -> None:
    said = translate.message("unit AC1/SN-9 is in_stock; ship is allowed only from sold, returned")
    assert said == "单品 AC1/SN-9 状态为在库；发货只允许从以下状态进行：已售出、已退回"


def test_a_report_of_many_problems_is_translated_inside_out(chinese: None) -> None:
    problems = [FieldError(f"serials.{i}", f"no unit with serial 'X{i}'") for i in range(3)]
    error = report("unknown or ambiguous units", problems)
    assert translate.message(error.detail) == "未知或不明确的单品（共 3 项）"
    assert translate.message(problems[2].message) == "没有序列号为 'X2' 的单品"
    assert translate.message(
        invalid("gtin", "not a valid GTIN-8/12/13/14 (length, digits or check digit)").detail
    ).startswith("GTIN：不是有效的")


def test_a_field_message_with_a_parenthesis_is_translated_whole_not_split_at_it(
    chinese: None,
) -> None:
    message = "row 2: a byte that is not GB18030 text (save the file as UTF-8 or upload the XLSX)"
    said = translate.message(invalid("file", message).detail)
    assert said == "文件：第 2 行：含有非 GB18030 编码的字节（请另存为 UTF-8，或上传 XLSX 文件）"


def test_a_message_of_no_use_case_and_a_translated_one_pass_unchanged(chinese: None) -> None:
    assert translate.message("SN-0001") == "SN-0001"
    assert translate.message("没有扫描内容。") == "没有扫描内容。"


def test_english_pages_keep_the_english_message() -> None:
    assert translate.message("no unit with serial 'X'") == "no unit with serial 'X'"


def test_every_role_description_is_chinese(browser: TestClient, chinese: None) -> None:
    for role, summary in ROLE_SUMMARY.items():
        assert i18n._(summary) != summary, role
    page = browser.get("/admin/users", headers=ZH)
    assert page.status_code == 200
    for summary in ROLE_SUMMARY.values():
        assert summary not in page.text


def test_units_are_called_units_not_products(browser: TestClient) -> None:
    home = browser.get("/", headers=ZH).text
    assert "查找产品" not in home and "产品总数" not in home
    assert "单品" in home


def test_the_status_filter_is_a_select_of_translated_states(browser: TestClient) -> None:
    page = browser.get("/inventory", headers=ZH).text
    select = page.split('<select name="status"')[1].split("</select>")[0]
    assert '<option value="recalled"' in select and "已召回" in select and "在库" in select


@pytest.mark.parametrize("typed", ["已召回", "recalled", "RECALLED", " 已召回 "])
def test_a_status_filter_takes_the_chinese_label_too(
    browser: TestClient, db: Database, typed: str
) -> None:
    serials = in_stock(db, 2)
    record(db, type="recall", product="AC1", serials=serials[:1])
    page = browser.get("/inventory", params={"by": "product,status", "status": typed}, headers=ZH)
    assert page.status_code == 200, _text(page.text)
    table = page.text.split('data-testid="inventory-table"')[1].split("</table>")[0]
    assert "已召回" in table and "在库" not in table
    drill = browser.get("/inventory/units", params={"status": typed, "product": "AC1"}, headers=ZH)
    assert drill.status_code == 200 and serials[0] in drill.text and serials[1] not in drill.text


def test_an_unknown_status_is_refused_in_chinese(browser: TestClient) -> None:
    page = browser.get("/inventory", params={"status": "坏了"}, headers=ZH)
    assert page.status_code == 422
    assert "未知状态" in _text(page.text) and not _sentences(page.text), _text(page.text)


def test_a_scan_refused_by_the_schema_says_why_in_chinese(
    browser: TestClient, db: Database
) -> None:
    serials = in_stock(db, 1)
    token = csrf_of(browser.get("/scan", headers=ZH).text)
    answer = browser.post(
        "/scan",
        data={"action": "ship", "serial": serials[0], "party": "P" * 500},
        headers={"X-CSRF-Token": token, **ZH},
    )
    assert 'data-testid="scan-fail"' in answer.text
    assert "最多" in _text(answer.text) and not _sentences(answer.text), _text(answer.text)


def test_pydantics_own_messages_are_translated_where_a_page_shows_them(chinese: None) -> None:
    assert translate.message("String should have at most 40 characters") == "最多 40 个字符"
    assert translate.message("Field required") == "必填"
    assert translate.message("Input should be 'x' or 'y'") == "请从给出的选项中选择"


@pytest.mark.parametrize("path", ["/imports", "/webhooks", "/audit"])
def test_a_page_the_role_may_not_open_says_so_in_chinese(db: Database, path: str) -> None:
    from tests.pages import login

    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        login(client, db, "readonly", "zh-CN")
        answer = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 403
    assert "您的角色无权访问此页面" in answer.text and "Not permitted" not in answer.text
