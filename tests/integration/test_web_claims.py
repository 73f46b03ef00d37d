"""The claim rules page: every check's rule in the page's language; a role with
`claim.override` changes one in its row, problems shown next to the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_product
from tests.pages import field_error, login
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import claims
from unitrace.api.app import create_app
from unitrace.db.engine import Database

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    make_product(db, "AC1")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _row(html: str, check: str) -> str:
    return html.split(f'data-testid="claim-rule-{check}"')[1].split("</tr>")[0]


def test_an_admin_sets_a_product_rule_on_the_page_in_chinese(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "admin", "zh-CN")
    form = {"csrf_token": csrf, "product": "AC1", "check": "region", "mode": "refuse"}

    done = client.post("/claim-rules", data=form, headers=ZH, follow_redirects=False)
    page = client.get(done.headers["location"], headers=ZH)

    assert done.status_code == 303
    assert "保修审核规则" in page.text and "产品 AC1 的规则" in page.text
    row = _row(page.text, "region")
    assert "拒绝" in row and "本产品" in row
    rules = {r["check"]: r for r in claims.rules(db, SYSTEM, "AC1")["checks"]}
    assert (rules["region"]["mode"], rules["region"]["set_for"]) == ("refuse", "product")


def test_a_bad_frequency_is_shown_next_to_its_field_and_nothing_is_set(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "admin", "zh-CN")
    form = {"csrf_token": csrf, "check": "frequency", "mode": "flag", "claims": "0", "days": "30"}

    page = client.post("/claim-rules", data=form, headers=ZH)

    assert page.status_code == 422
    assert field_error(page.text, "params") == "申请次数必须在 1 到 1000 之间"
    assert 'value="0"' in page.text  # what was typed stays in the field
    assert claims.rules(db, SYSTEM)["rules"] == []


def test_a_service_agent_reads_the_rules_without_forms(client: TestClient, db: Database) -> None:
    csrf = login(client, db, "service")

    page = client.get("/claim-rules")
    form = {"csrf_token": csrf, "check": "region", "mode": "off"}
    refused = client.post("/claim-rules", data=form)

    assert page.status_code == 200
    assert 'data-testid="claim-rule-warranty"' in page.text
    assert "claim-form-" not in page.text
    assert refused.status_code == 403
    assert claims.rules(db, SYSTEM)["rules"] == []
