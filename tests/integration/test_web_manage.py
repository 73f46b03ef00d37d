"""Management pages: products, lots, users/tokens and the audit trail — forms with errors next
to the field in both languages, permissions per role, and no 500 for anything typed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_lot, make_party, make_product, make_units
from tests.pages import PASSWORD, field_error, login
from unitrace.access import audit
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import service as catalog
from unitrace.db.engine import Database


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def test_products_list_search_create_edit(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1", name="Air conditioner")
    make_product(db, "FAN", name="Ceiling fan", rule=None)
    csrf = login(app_client, db, "admin")
    listed = app_client.get("/products?q=fan")
    assert "Ceiling fan" in listed.text and "Air conditioner" not in listed.text

    bad = app_client.post(
        "/products",
        data={"csrf_token": csrf, "code": "TV1", "name": "", "gtin": "12345",
              "tracking": "serial", "warranty_months": "abc"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert field_error(bad.text, "name") == "required"
    assert field_error(bad.text, "warranty_months") == "must be a whole number"
    assert catalog.list_products(db, SYSTEM, "TV1")["total"] == 0
    gtin = app_client.post(
        "/products", data={"csrf_token": csrf, "code": "TV1", "name": "TV", "gtin": "12345"}
    )
    assert gtin.status_code == 422 and "not a valid GTIN" in field_error(gtin.text, "gtin")
    rule = app_client.post(
        "/products",
        data={"csrf_token": csrf, "code": "TV1", "name": "TV", "serial_rule": "SN{nope}"},
    )
    assert rule.status_code == 422 and field_error(rule.text, "serial_rule")
    dup = app_client.post("/products", data={"csrf_token": csrf, "code": "AC1", "name": "x"})
    assert dup.status_code == 409 and field_error(dup.text, "code") == "already exists"

    made = app_client.post(
        "/products",
        data={"csrf_token": csrf, "code": "TV1", "name": "Television", "gtin": "4006381333931",
              "serial_rule": "TV{seq:5}", "warranty_months": "24"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/products/TV1?saved=1"
    assert catalog.get_product(db, SYSTEM, "TV1")["warranty_months"] == 24

    edited = app_client.post(
        "/products/TV1",
        data={"csrf_token": csrf, "name": "Television 55", "gtin": "", "serial_rule": "TV{seq:5}",
              "warranty_months": "36", "warranty_start": "sale", "description": ""},
    )  # fmt: skip
    assert edited.status_code == 200 and 'data-testid="saved"' in edited.text
    product = catalog.get_product(db, SYSTEM, "TV1")
    assert (product["name"], product["gtin"], product["warranty_months"]) == (
        "Television 55", None, 36)  # fmt: skip
    changes = audit.list_records(db, SYSTEM, entity="product", entity_key="TV1")["items"]
    assert [c["action"] for c in changes] == ["update", "create"]
    assert changes[0]["actor"] == "u-admin" and changes[0]["before"]["gtin"] == "4006381333931"

    same = app_client.post(
        "/products/TV1",
        data={"csrf_token": csrf, "name": "Television 55", "gtin": "", "serial_rule": "TV{seq:5}",
              "warranty_months": "36", "warranty_start": "sale", "description": ""},
    )  # fmt: skip
    assert same.status_code == 200
    assert len(audit.list_records(db, SYSTEM, entity="product", entity_key="TV1")["items"]) == 2
    assert app_client.get("/products/NOPE").status_code == 404


def test_product_errors_in_chinese(app_client: TestClient, db: Database) -> None:
    csrf = login(app_client, db, "admin", lang="zh-CN")
    access.set_locale(db, access.session_actor(db, app_client.cookies["unitrace_session"])[0],
                      "zh-CN")  # fmt: skip
    bad = app_client.post(
        "/products", data={"csrf_token": csrf, "code": "a b", "name": "x", "gtin": "12345"}
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "code") == "含有此处不允许的字符"
    assert "物料编码" in bad.text and "产品" in bad.text


def test_lots_create_edit_and_errors(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    make_party(db, "SUP-1", "supplier")
    make_lot(db, "AC1", "L-OLD")
    make_units(db, "AC1", 4, lot="L-OLD")
    csrf = login(app_client, db, "admin")
    listed = app_client.get("/lots?product=AC1")
    assert "L-OLD" in listed.text and re.search(r'class="num">4</td>', listed.text)

    made = app_client.post(
        "/lots",
        data={"csrf_token": csrf, "product": "AC1", "number": "L-2026-11",
              "production_date": "2026-11-01", "supplier": "SUP-1"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303, made.text
    dup = app_client.post("/lots", data={"csrf_token": csrf, "product": "AC1", "number": "L-OLD"})
    assert dup.status_code == 409 and "already exists" in field_error(dup.text, "number")
    bad_date = app_client.post(
        "/lots",
        data={"csrf_token": csrf, "product": "AC1", "number": "L-X",
              "production_date": "2026-13-01"},
    )  # fmt: skip
    assert bad_date.status_code == 422
    assert field_error(bad_date.text, "production_date") == "not a date (YYYY-MM-DD)"

    backwards = app_client.post(
        "/lots/AC1/L-2026-11",
        data={"csrf_token": csrf, "production_date": "2026-11-01", "expiry_date": "2026-10-01",
              "supplier": "SUP-1"},
    )  # fmt: skip
    assert backwards.status_code == 422
    assert "before the production date" in field_error(backwards.text, "expiry_date")
    ok = app_client.post(
        "/lots/AC1/L-2026-11",
        data={"csrf_token": csrf, "production_date": "2026-11-01", "expiry_date": "2031-11-01",
              "supplier": ""},
    )  # fmt: skip
    assert ok.status_code == 200 and 'data-testid="saved"' in ok.text
    lot = catalog.get_lot(db, SYSTEM, "AC1", "L-2026-11")
    assert lot["expiry_date"] == "2031-11-01" and lot["supplier"] is None
    assert app_client.get("/lots/AC1/NOPE").status_code == 404


def test_read_only_roles_see_no_forms_and_cannot_post(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    csrf = login(app_client, db, "readonly")
    page = app_client.get("/products/AC1")
    assert page.status_code == 200 and 'data-testid="product-save"' not in page.text
    refused = app_client.post(
        "/products/AC1", data={"csrf_token": csrf, "name": "hacked", "warranty_months": "1"}
    )
    assert refused.status_code == 403 and "may not" in refused.text
    assert catalog.get_product(db, SYSTEM, "AC1")["name"] == "Product AC1"
    assert app_client.get("/admin/users").status_code == 403
    assert app_client.get("/audit").status_code == 403
    assert "/admin/users" not in page.text and 'href="/audit"' not in page.text


def test_partner_sees_no_lots_users_or_audit(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    make_party(db, "SUP-1", "supplier")
    make_lot(db, "AC1", "L1", supplier="SUP-1")
    login(app_client, db, "partner")
    for path in ("/lots", "/lots/AC1/L1", "/admin/users", "/audit"):
        answer = app_client.get(path)
        assert answer.status_code == 403, path
        assert "SUP-1" not in answer.text


def test_admin_manages_users_and_tokens(app_client: TestClient, db: Database) -> None:
    make_party(db, "D-EAST", "distributor")
    csrf = login(app_client, db, "admin")
    weak = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "li.lei", "password": "short", "role": "sales"},
    )
    assert weak.status_code == 422 and "at least" in field_error(weak.text, "password")
    partner = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "east", "password": PASSWORD, "role": "partner"},
    )
    assert partner.status_code == 422 and field_error(partner.text, "party")
    made = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "east", "password": PASSWORD, "role": "partner",
              "party": "D-EAST"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303
    disabled = app_client.post(
        "/admin/users/east", data={"csrf_token": csrf, "role": "partner", "party": "D-EAST"}
    )
    assert disabled.status_code == 200
    assert [u for u in access.list_users(db, SYSTEM) if u["username"] == "east"][0][
        "active"] is False  # fmt: skip
    self_off = app_client.post("/admin/users/u-admin", data={"csrf_token": csrf, "role": "admin"})
    assert self_off.status_code == 422 and "yourself" in field_error(self_off.text, "active")

    enabled = app_client.post(
        "/admin/users/east",
        data={"csrf_token": csrf, "role": "partner", "party": "D-EAST", "active": "on"},
    )
    assert enabled.status_code == 200 and 'data-testid="saved"' in enabled.text
    token = app_client.post(
        "/admin/users/east/tokens", data={"csrf_token": csrf, "name": "ERP", "days": "30"}
    )
    assert token.status_code == 201
    secret = re.search(r'data-testid="new-token">[^<]*<code>([^<]+)</code>', token.text)
    assert secret and access.authenticate(db, secret.group(1)).username == "east"
    assert secret.group(1) not in app_client.get("/admin/users/east").text  # shown once
    bad_days = app_client.post(
        "/admin/users/east/tokens", data={"csrf_token": csrf, "name": "x", "days": "-3"}
    )
    assert bad_days.status_code == 422 and field_error(bad_days.text, "days")
    token_id = access.list_tokens(db, SYSTEM, "east")[0]["id"]
    app_client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf, "username": "east"}
    )
    assert access.list_tokens(db, SYSTEM, "east")[0]["revoked_at"] is not None


def test_audit_page_filters_and_verifies(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    make_product(db, "FAN", rule=None)
    login(app_client, db, "auditor")
    products = app_client.get("/audit?entity=product")
    assert products.status_code == 200
    rows = products.text.split('data-testid="audit-table"')[1]
    assert "<code>AC1</code>" in rows and "<code>FAN</code>" in rows
    assert "<code>u-auditor</code>" not in rows  # the user's creation is filtered out
    one = app_client.get("/audit?entity=product&key=FAN")
    assert "FAN" in one.text and "<code>AC1</code>" not in one.text
    bad = app_client.get("/audit?since=yesterday")
    assert bad.status_code == 422 and field_error(bad.text, "since") == "not a date (YYYY-MM-DD)"
    future = app_client.get("/audit?since=2999-01-01")
    assert "Nothing found." in future.text
    verified = app_client.get("/audit?verify=1")
    assert 'data-testid="chain-ok"' in verified.text
    with db.write() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'mallory' WHERE id = 1")
    broken = app_client.get("/audit?verify=1")
    assert 'data-testid="chain-broken"' in broken.text and "record 1:" in broken.text


GARBAGE = ["", " ", "x" * 5000, "😀", "'; DROP TABLE units; --", "-1", "1e9", "\x00", "../../etc"]


@pytest.mark.slow
def test_no_form_input_makes_a_500(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    make_lot(db, "AC1", "L1")
    csrf = login(app_client, db, "admin")
    forms = {
        "/products": ["code", "name", "gtin", "tracking", "serial_rule", "warranty_months",
                      "warranty_start", "description"],
        "/products/AC1": ["name", "gtin", "serial_rule", "warranty_months", "warranty_start"],
        "/lots": ["product", "number", "production_date", "expiry_date", "supplier"],
        "/lots/AC1/L1": ["production_date", "expiry_date", "supplier"],
        "/admin/users": ["username", "password", "role", "party"],
        "/admin/users/u-admin": ["role", "party", "password"],
        "/admin/users/u-admin/tokens": ["name", "days"],
    }  # fmt: skip
    for path, fields in forms.items():
        for value in GARBAGE:
            data = {"csrf_token": csrf, **dict.fromkeys(fields, value)}
            answer = app_client.post(path, data=data)
            assert answer.status_code < 500, (path, value, answer.text[:300])
            if answer.status_code == 303 and "/login" in answer.headers.get("location", ""):
                csrf = login(app_client, db, "admin")
    queries = [
        "/audit?since=" + "9" * 50,
        "/audit?before=" + "9" * 40,
        "/products?page=-1",
        "/products?page=" + "9" * 30,
        "/lots?q=%25%25",
        "/products?q=" + "x" * 999,
    ]
    for query in queries:
        assert app_client.get(query).status_code < 500, query
