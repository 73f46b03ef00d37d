"""The public verification page (web/verify_page.py, issue 16): a genuine unit's page shows its
product and production date and never its holder, shipment, distributor or location (checked
against the unit's real values); warnings worded for a consumer; one not-found page for any
unknown code; Chinese pages without English words; 429 with Retry-After; a prefetch records
nothing; the counterfeit report kept, with errors by field in Chinese; the staff list's
permissions (the contact only with verify.manage)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.factories import make_location, make_party, make_product, record
from tests.integration.test_verify_engine import give_codes
from tests.integration.test_verify_owners_pages import _english
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import claims
from unitrace.aftersales.schemas import StolenIn
from unitrace.api.app import create_app
from unitrace.config import site_timezone
from unitrace.db.engine import Database
from unitrace.db.tables import (
    counterfeit_reports,
    events,
    locations,
    parties,
    shipments,
    units,
    verifications,
    verify_codes,
)
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units
from unitrace.verify import codes
from unitrace.verify.public import reset_limits
from unitrace.web.verify_page import code_of

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
PASSWORD = "correct horse battery"


@pytest.fixture
def shop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Four kettles made, received at WH-SECRET-7, shipped to D-NORTH, delivered; with codes."""
    monkeypatch.setenv("UNITRACE_VERIFY_PER_ADDRESS", "0")
    monkeypatch.setenv("UNITRACE_VERIFY_PER_CODE", "0")
    reset_limits()
    make_product(db, "KET", rule=None, name="电热水壶")
    make_location(db, "WH-SECRET-7")
    make_party(db, "D-NORTH", regions=["CN-23"])
    serials = commission_units(
        db, SYSTEM, CommissionIn(product="KET", serials=["K1", "K2", "K3", "K4"])
    ).serials
    record(db, type="receive", product="KET", serials=serials, location="WH-SECRET-7")
    record(db, type="ship", product="KET", serials=serials, party="D-NORTH")
    record(db, type="deliver", product="KET", serials=serials)
    made = give_codes(db, "KET", serials)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, made
    reset_limits()


def _without_code(text: str, code: str) -> str:
    """The page without its own code and form token (random text may hold a serial such as K1
    by chance)."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return text.replace(code, "§").replace(codes.display(code), "§")


def _secrets(db: Database, serial: str) -> list[str]:
    """What the public must not learn of the unit: its holder's code and name, the shipments'
    numbers, every location's code and name it passed, the serial."""
    with db.read() as conn:
        unit = conn.execute(select(units).where(units.c.serial == serial)).one()
        holder = conn.execute(select(parties).where(parties.c.id == unit.holder_id)).one()
        found = [holder.code, holder.name, serial]
        found += [r.code for r in conn.execute(select(locations)).all()]
        found += [r.name for r in conn.execute(select(locations)).all() if r.name]
        found += [str(s) for s in conn.execute(select(shipments.c.number)).scalars()]
    return [s for s in found if s]


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def test_a_genuine_page_shows_the_product_and_never_its_holder_shipment_or_location(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    hidden = _secrets(db, "K1")
    assert "D-NORTH" in hidden and "WH-SECRET-7" in hidden and len(hidden) >= 4
    page = client.get(f"/v/{made['K1']}", headers=ZH)
    assert page.status_code == 200
    assert 'data-testid="verify-genuine"' in page.text
    assert "正品" in page.text and "电热水壶" in page.text
    made_on = datetime.now(site_timezone()).date().isoformat()  # commissioned just now
    assert f"生产日期：{made_on}" in page.text
    for secret in hidden:
        assert secret not in _without_code(page.text, made["K1"]), secret
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-robots-tag"] == "noindex"
    assert "ut_device" in page.headers.get("set-cookie", "")
    assert "<script" not in page.text and "<style" not in page.text
    again = client.get(f"/v/{made['K1']}", headers=EN)
    assert "Genuine product" in again.text and "First verified on" in again.text
    for secret in hidden:
        assert secret not in _without_code(again.text, made["K1"]), secret


def test_a_scan_is_recorded_as_a_verification_but_a_prefetch_is_not(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    for header in ({"Sec-Purpose": "prefetch"}, {"Purpose": "prefetch"}):
        ahead = client.get(f"/v/{made['K2']}", headers=ZH | header)
        assert ahead.status_code == 200 and "verify-genuine" not in ahead.text
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(verifications)).scalar_one() == 0
    client.get(f"/v/{made['K2']}", headers=ZH)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(verifications)).scalar_one() == 1
        kinds = conn.execute(select(events.c.type).where(events.c.type == "verify")).all()
    assert len(kinds) == 1


def test_the_region_chosen_on_the_page_is_the_verification_s_region(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    page = client.get("/v/NOPE", headers=ZH)  # an unknown code: records nothing
    form = {"csrf_token": _token(page.text), "region": "CN-23"}
    chosen = client.post(f"/v/{made['K2']}", data=form, headers=ZH)
    assert chosen.status_code == 200 and "verify-genuine" in chosen.text
    with db.read() as conn:
        kept = conn.execute(select(verifications.c.region, verifications.c.region_source)).all()
    assert ("CN-23", "chosen") in kept
    later = client.get(f"/v/{made['K2']}", headers=ZH)
    assert re.search(r"首次验证于 \d{4}-\d\d-\d\d，地区：黑龙江", later.text)
    assert client.post(f"/v/{made['K2']}", data={"region": "CN-23"}).status_code == 400


def _warned(client: TestClient, code: str, headers: dict[str, str]) -> str:
    page = client.get(f"/v/{code}", headers=headers)
    assert page.status_code == 200 and 'data-testid="verify-warning"' in page.text
    return page.text


def test_compromised_stolen_and_recalled_codes_warn_in_words_a_consumer_understands(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    with db.write() as conn:
        conn.execute(
            update(verify_codes)
            .where(verify_codes.c.code == made["K1"])
            .values(compromised_at=datetime.now(UTC), compromised_by="q", compromised_reason="x")
        )
        conn.execute(
            update(units).where(units.c.serial == "K3").values(status=90)
        )  # Status.RECALLED
    claims.report_stolen(db, SYSTEM, "K2", StolenIn(product="KET"))
    zh = _warned(client, made["K1"], ZH)
    assert "此代码已被复制或滥用" in zh and "请勿付款" in zh and "reason-compromised" in zh
    en = _warned(client, made["K1"], EN)
    assert "This code has been copied or misused." in en and "Do not pay" in en
    assert "此产品已被报告失窃" in _warned(client, made["K2"], ZH)
    assert "reported stolen" in _warned(client, made["K2"], EN)
    assert "此产品已被召回" in _warned(client, made["K3"], ZH)
    assert "Stop using it" in _warned(client, made["K3"], EN)
    for code, serial in ((made["K1"], "K1"), (made["K2"], "K2")):
        text = _without_code(client.get(f"/v/{code}", headers=ZH).text, code)
        assert not [s for s in _secrets(db, serial) if s in text]


def test_every_unknown_code_gets_the_same_not_found_page_with_a_report_form(
    shop: tuple[TestClient, dict[str, str]],
) -> None:
    client, _made = shop
    device = {"cookie": "ut_device=" + "d" * 22}
    pages = [
        client.get(f"/v/{code}", headers=ZH | device)
        for code in ("ZZZZZZZZZZZZZZZZ", "not-a-code!", "A1B2C3D4E5F6G7H8")
    ]
    assert {p.status_code for p in pages} == {404}
    bodies = {re.sub(rb'value="[^"]{20,}"', b"", p.content) for p in pages}
    assert len(bodies) == 1
    text = pages[0].text
    assert (
        "此代码不是我们的" in text and "可能是假冒" in text and 'data-testid="report-form"' in text
    )
    assert "ZZZZZZZZZZZZZZZZ" not in text and "not-a-code" not in pages[1].text


def test_every_chinese_page_says_no_english_word(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, made = shop
    claims.report_stolen(db, SYSTEM, "K2", StolenIn(product="KET"))
    shown = [client.get("/v", headers=ZH).text, client.get(f"/v/{made['K1']}", headers=ZH).text]
    shown.append(client.get(f"/v/{made['K1']}", headers=ZH).text)  # verified before
    shown.append(client.get(f"/v/{made['K2']}", headers=ZH).text)
    missing = client.get("/v/NOPE", headers=ZH)
    shown.append(missing.text)
    form = {"csrf_token": _token(missing.text), "shop": "", "bought_on": "x"}
    shown.append(client.post("/v/report", data=form, headers=ZH).text)
    form |= {"shop": "小店", "place": "深圳", "region": "CN-44", "bought_on": "2026-11-01"}
    shown.append(client.post("/v/report", data=form, headers=ZH).text)
    assert [words for words in map(_english, shown) if words] == []


def test_too_many_checks_get_429_with_retry_after_in_the_user_s_language(
    shop: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, made = shop
    monkeypatch.setenv("UNITRACE_VERIFY_PER_CODE", "2")
    reset_limits()
    answers = [client.get(f"/v/{made['K4']}", headers=ZH) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert "验证次数过多" in answers[2].text and "秒后重试" in answers[2].text
    english = client.get(f"/v/{made['K4']}", headers=EN)
    assert english.status_code == 429 and "Too many checks" in english.text


def test_a_counterfeit_report_is_kept_and_its_errors_are_named_by_field_in_chinese(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    client, _made = shop
    missing = client.get("/v/NOPE", headers=ZH)
    token = _token(missing.text)
    future = (date.today() + timedelta(days=5)).isoformat()
    bad = client.post(
        "/v/report", data={"csrf_token": token, "bought_on": future, "region": "x"}, headers=ZH
    )
    assert bad.status_code == 422
    expected = {
        "shop": "商店或网站",
        "place": "商店所在位置",
        "region": "请选择地区",
        "bought_on": "不能晚于今天",
    }
    for name, words in expected.items():
        assert re.search(rf'data-testid="error-{name}">[^<]*{words}', bad.text), name
    assert client.post("/v/report", data={"shop": "x"}, headers=ZH).status_code == 400
    form = {
        "csrf_token": token,
        "shop": "好运数码",
        "place": "深圳华强北 3 楼",
        "region": "CN-44",
        "bought_on": "2026-11-20",
        "code": "FAKE-123",
        "contact": "13800138000",
    }
    done = client.post("/v/report", data=form, headers=ZH)
    assert done.status_code == 200 and "已收到您的举报" in done.text
    with db.read() as conn:
        row = conn.execute(select(counterfeit_reports)).one()
    kept = (row.shop, row.region, row.bought_on, row.code, row.contact)
    assert kept == ("好运数码", "CN-44", date(2026, 11, 20), "FAKE-123", "13800138000")
    assert row.address_hash and "testclient" not in row.address_hash


def _login(client: TestClient, db: Database, role: str) -> None:
    party = "D-NORTH" if role == "partner" else None
    access.create_user(db, SYSTEM, f"{role}01", PASSWORD, role, party=party)
    client.cookies.clear()
    page = client.get("/login")
    form = {"username": f"{role}01", "password": PASSWORD, "csrf_token": _token(page.text)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_staff_see_the_reports_and_only_verify_managers_see_the_contact(
    shop: tuple[TestClient, dict[str, str]], db: Database
) -> None:
    from unitrace.verify import reports

    client, _made = shop
    report = reports.Report("好运数码", "深圳", "CN-44", "2026-11-20", "", "13800138000")
    reports.submit(db, report, "10.0.0.9")
    _login(client, db, "readonly")
    page = client.get("/counterfeit-reports", headers=ZH)
    assert page.status_code == 200 and "好运数码" in page.text and "13800138000" not in page.text
    _login(client, db, "quality")
    page = client.get("/counterfeit-reports", headers=ZH)
    assert "13800138000" in page.text and "广东" in page.text
    _login(client, db, "partner")
    assert client.get("/counterfeit-reports").status_code == 403


def test_a_pasted_url_or_a_typed_code_leads_to_the_code_s_page(
    shop: tuple[TestClient, dict[str, str]],
) -> None:
    client, made = shop
    assert code_of("https://example.cn/v/ABCD-EFGH?x=1") == "ABCD-EFGH"
    assert code_of("  abcd efgh  ") == "abcd efgh"
    went = client.get(f"/v?code=https://x.cn/v/{made['K1']}", follow_redirects=False)
    assert went.status_code == 303 and went.headers["location"] == f"/v/{made['K1']}"
    start = client.get("/v", headers=ZH)
    assert start.status_code == 200 and 'data-testid="verify-code"' in start.text


def test_the_picture_is_served_for_a_known_code_and_one_404_for_any_other(
    shop: tuple[TestClient, dict[str, str]],
    db: Database,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from unitrace.verify import settings

    client, made = shop
    home = Path(str(tmp_path)) / "home"
    home.mkdir()
    (home / "ket.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    monkeypatch.setenv("UNITRACE_HOME", str(home))
    settings.put(db, SYSTEM, "KET", {"enabled": True})
    from unitrace.db.tables import verify_settings

    with db.write() as conn:
        conn.execute(update(verify_settings).values(picture="ket.png"))
    page = client.get(f"/v/{made['K1']}", headers=ZH)
    assert f'src="/v/{made["K1"]}/picture"' in page.text
    picture = client.get(f"/v/{made['K1']}/picture")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert "max-age" in picture.headers["cache-control"]
    unknown = [client.get(f"/v/{c}/picture") for c in ("ZZZZZZZZZZZZZZZZ", "x")]
    assert {u.status_code for u in unknown} == {404} and len({u.content for u in unknown}) == 1
