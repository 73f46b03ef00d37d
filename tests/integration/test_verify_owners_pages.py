"""The buyer's public pages (web/verify_owners.py): register from the phone without a login in
Chinese or English (the warranty starts), errors next to their fields, a second registration and
a unit not sold answered with a clear page (never a 500), the owner key shown once and kept in
a cookie, a transfer code that works once, the owner's stolen report; no page names the
buyer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tests.owners_setup import fake_normalise, sold_units
from unitrace.aftersales import warranty
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.verify import owners

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
BUYER = {"name": "韩梅梅", "phone": "13900139000", "email": "hmm@example.cn"}


@pytest.fixture
def client(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    fake_normalise(monkeypatch)
    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def _register(client: TestClient, code: str, headers: dict[str, str], **fields: str) -> object:
    page = client.get(f"/v/{code}/register", headers=headers)
    day = (warranty.today() - timedelta(days=3)).isoformat()
    form = {"purchase_date": day, "region": "CN-44", **BUYER, **fields}
    form["csrf_token"] = _token(page.text)
    return client.post(f"/v/{code}/register", data=form, headers=headers)


def test_registering_from_the_chinese_page_starts_the_warranty(
    db: Database, client: TestClient
) -> None:
    serials, codes = sold_units(db)
    page = client.get(f"/v/{codes[serials[0]]}/register", headers=ZH, follow_redirects=False)
    assert page.status_code == 200
    assert "注册您的产品" in page.text and "购买日期" in page.text and "广东" in page.text
    assert 'name="viewport" content="width=device-width' in page.text
    assert "htmx" not in page.text and "<script" not in page.text
    assert "<style" not in page.text  # the CSP (style-src 'self') refuses inline style blocks
    assert client.get("/static/owners.css").status_code == 200
    done = _register(client, codes[serials[0]], ZH)
    assert done.status_code == 200 and "保修已开始" in done.text  # type: ignore[attr-defined]
    with db.read() as conn:
        unit = owners.code_unit(conn, codes[serials[0]]).unit_id
        assert warranty.verdict(conn, unit)["status"] == "in_warranty"
    again = client.get(f"/v/{codes[serials[0]]}/register", headers=ZH)
    assert "已注册" in again.text and 'data-testid="register-form"' not in again.text
    for secret in BUYER.values():
        assert secret not in again.text


def test_errors_are_shown_next_to_their_fields_in_english(db: Database, client: TestClient) -> None:
    serials, codes = sold_units(db)
    future = (warranty.today() + timedelta(days=5)).isoformat()
    answer = _register(
        client, codes[serials[0]], EN, purchase_date=future, region="", phone="", email=""
    )
    assert answer.status_code == 422  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert 'data-testid="error-purchase_date">must not be in the future' in text
    assert 'data-testid="error-region">choose a region' in text
    assert 'data-testid="error-contact">give a phone number or an email address' in text
    assert BUYER["name"] in text  # what was typed stays in the form


def test_errors_are_in_chinese_on_the_chinese_page(db: Database, client: TestClient) -> None:
    serials, codes = sold_units(db)
    answer = _register(client, codes[serials[0]], ZH, phone="12", email="")
    text = answer.text  # type: ignore[attr-defined]
    assert 'data-testid="error-phone">不是有效的手机号码' in text


def test_a_second_registration_and_a_unit_not_sold_get_a_clear_page(
    db: Database, client: TestClient
) -> None:
    serials, codes = sold_units(db)
    code = codes[serials[0]]
    token = _token(client.get(f"/v/{code}/register", headers=EN).text)
    day = warranty.today().isoformat()
    form = {"purchase_date": day, "region": "CN-11", "phone": "13800138000", "csrf_token": token}
    assert client.post(f"/v/{code}/register", data=form, headers=EN).status_code == 200
    twice = client.post(f"/v/{code}/register", data=form, headers=EN)
    assert twice.status_code == 409 and "registered already" in twice.text
    in_chinese = client.post(f"/v/{code}/register", data=form, headers=ZH)
    assert in_chinese.status_code == 409 and "已注册" in in_chinese.text
    unsold = client.get(f"/v/{codes[serials[-1]]}/register", headers=ZH)
    assert unsold.status_code == 200 and "尚未售出" in unsold.text
    missing = client.get("/v/ZZZZZZZZZZZZZZZZ/register", headers=EN)
    assert missing.status_code == 404 and "No product has this code" in missing.text


def test_a_post_without_the_forms_token_is_refused(db: Database, client: TestClient) -> None:
    serials, codes = sold_units(db)
    day = warranty.today().isoformat()
    form = {"purchase_date": day, "region": "CN-44", "phone": "13800138000"}
    answer = client.post(f"/v/{codes[serials[0]]}/register", data=form, headers=EN)
    assert answer.status_code == 400 and "form expired" in answer.text
    with db.read() as conn:
        assert not owners.ownership(
            conn, owners.code_unit(conn, codes[serials[0]]).unit_id
        ).registered


def test_the_owner_key_is_shown_once_and_a_transfer_code_works_once_on_the_pages(
    db: Database, client: TestClient
) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    done = _register(client, code, EN)
    key = re.search(r'data-testid="owner-key">([^<]+)<', done.text)  # type: ignore[attr-defined]
    assert key is not None
    assert client.cookies.get("unitrace_owner_" + code) == key.group(1)
    page = client.get(f"/v/{code}/register", headers=EN)
    assert key.group(1) not in page.text  # shown only once
    assert re.search(r"owned since \d{4}-\d\d-\d\d", page.text)
    made = client.post(
        f"/v/{code}/transfer", data={"csrf_token": _token(page.text)}, headers=EN
    )  # the key from the cookie
    transfer = re.search(r'data-testid="transfer-code">([^<]+)<', made.text)
    assert made.status_code == 200 and transfer is not None
    stranger = TestClient(client.app, raise_server_exceptions=False)
    claim = stranger.get(f"/v/claim?code={code}", headers=ZH)
    form = {"code": code, "transfer_code": transfer.group(1), "csrf_token": _token(claim.text)}
    first = stranger.post("/v/claim", data=form, headers=ZH)
    assert first.status_code == 200 and "您现在是所有者" in first.text
    assert 'data-testid="owner-key">' in first.text
    second = stranger.post("/v/claim", data=form, headers=ZH)
    assert second.status_code == 422 and 'data-testid="error-transfer_code"' in second.text
    old_owner = client.post(
        f"/v/{code}/transfer", data={"csrf_token": _token(page.text)}, headers=EN
    )
    assert old_owner.status_code == 422 and "wrong owner key" in old_owner.text


def test_the_owner_reports_the_unit_stolen_from_the_page(db: Database, client: TestClient) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    _register(client, code, ZH)
    page = client.get(f"/v/{code}/register", headers=ZH)
    form = {"csrf_token": _token(page.text), "note": "地铁上丢失"}
    done = client.post(f"/v/{code}/stolen", data=form, headers=ZH)
    assert done.status_code == 200 and "已报失窃" in done.text
    with db.read() as conn:
        assert owners.ownership(conn, owners.code_unit(conn, code).unit_id).stolen
    twice = client.post(f"/v/{code}/stolen", data=form, headers=ZH)
    assert twice.status_code == 409 and "已报失窃" in twice.text


def test_a_unit_activated_by_the_shop_needs_no_registration(
    db: Database, client: TestClient
) -> None:
    from tests.factories import record

    serials, codes = sold_units(db)
    record(db, type="activate", product="LX1", serials=[serials[0]], region="CN-44")
    page = client.get(f"/v/{codes[serials[0]]}/register", headers=ZH)
    assert page.status_code == 200 and "无需注册" in page.text
    assert 'data-testid="register-form"' not in page.text
    token = client.cookies.get("unitrace_public_csrf")  # the page set it, with no form
    day = warranty.today().isoformat()
    form = {"purchase_date": day, "region": "CN-44", "phone": "13800138000", "csrf_token": token}
    refused = client.post(f"/v/{codes[serials[0]]}/register", data=form, headers=EN)
    assert refused.status_code == 409 and "started already" in refused.text


class _Visible(HTMLParser):
    """The texts a reader sees (text, titles, placeholders), not what is marked translate=no."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("translate") == "no" or tag in ("code", "script", "style"):
            self._skip.append(tag)
        self.texts += [v for k, v in attrs if k in ("title", "placeholder", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def _english(html: str) -> list[str]:
    from tests.e2e.floor import words_in

    seen = _Visible()
    seen.feed(html)
    return words_in(seen.texts, data=["English"])


def test_every_chinese_page_of_the_buyer_says_no_english_word(
    db: Database, client: TestClient
) -> None:
    serials, codes = sold_units(db, ownership=True)
    code = codes[serials[0]]
    shown = [client.get(f"/v/{code}/register", headers=ZH).text]
    shown.append(_register(client, code, ZH, purchase_date="x", phone="1", email="").text)  # type: ignore[attr-defined]
    shown.append(_register(client, code, ZH).text)  # type: ignore[attr-defined]
    page = client.get(f"/v/{code}/register", headers=ZH).text
    shown.append(page)
    made = client.post(f"/v/{code}/transfer", data={"csrf_token": _token(page)}, headers=ZH)
    shown.append(made.text)
    transfer = re.search(r'data-testid="transfer-code">([^<]+)<', made.text)
    assert transfer is not None
    claim = client.get(f"/v/claim?code={code}", headers=ZH).text
    shown.append(claim)
    form = {"code": code, "transfer_code": "WRONG", "csrf_token": _token(claim)}
    shown.append(client.post("/v/claim", data=form, headers=ZH).text)
    form["transfer_code"] = transfer.group(1)
    shown.append(client.post("/v/claim", data=form, headers=ZH).text)
    stolen = client.post(f"/v/{code}/stolen", data={"csrf_token": _token(claim)}, headers=ZH)
    shown += [stolen.text, client.get(f"/v/{codes[serials[-1]]}/register", headers=ZH).text]
    shown.append(client.get("/v/NOPE/register", headers=ZH).text)
    assert [words for words in map(_english, shown) if words] == []


def test_the_form_asks_for_the_pin_when_the_code_has_one(
    db: Database, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from unitrace.db.tables import verify_codes
    from unitrace.verify import codes as verify_codes_part

    serials, codes = sold_units(db)
    code = codes[serials[0]]
    plain = client.get(f"/v/{code}/register", headers=ZH)
    assert 'name="pin"' not in plain.text
    with db.write() as conn:
        conn.execute(update(verify_codes).values(pin_hash="the-hash"))
    monkeypatch.setattr(verify_codes_part, "pin_matches", lambda *args: args[-1] == "482915")
    asked = client.get(f"/v/{code}/register", headers=ZH)
    assert 'name="pin"' in asked.text and "刮开" in asked.text
    wrong = _register(client, code, ZH, pin="111111")
    assert 'data-testid="error-pin">密码不正确' in wrong.text  # type: ignore[attr-defined]
    right = _register(client, code, ZH, pin="482915")
    assert right.status_code == 200  # type: ignore[attr-defined]
