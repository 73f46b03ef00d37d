"""The label templates page: listed and opened by the roles of the navigation table, edited as
JSON with a preview that redraws (the drawing, or each problem by its field, in the page's
language), saved with the same checks as the API."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_product
from tests.pages import login
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.labels import templates

SMALL = {
    "name": "small",
    "width_mm": 30,
    "height_mm": 30,
    "elements": [
        {"type": "datamatrix", "x_mm": 5, "y_mm": 5, "size_mm": 20},
        {"type": "text", "x_mm": 1, "y_mm": 26, "text": "SN {serial}"},
    ],
}


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def test_the_editor_previews_unsaved_edits_and_saves_them(client: TestClient, db: Database) -> None:
    make_product(db, "W-1", gtin="09506000134352")
    csrf = login(client, db, "admin")
    editor = client.get("/label-templates/edit?product=W-1")
    assert editor.status_code == 200
    assert 'hx-post="/label-templates/preview"' in editor.text
    form = {"csrf_token": csrf, "product": "W-1", "template": json.dumps(SMALL)}
    preview = client.post("/label-templates/preview", data=form)
    assert preview.status_code == 200
    assert "<svg" in preview.text and "SN SAMPLE0001" in preview.text
    # nothing stored by a preview
    assert client.get("/label-templates").text.count('data-testid="label-template-') == 0

    saved = client.post("/label-templates/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert templates.template_for(db, "W-1").name == "small"
    listing = client.get(saved.headers["location"])
    assert "W-1" in listing.text and 'data-testid="label-saved"' in listing.text
    found = re.search(r'href="/label-templates/edit\?id=(\d+)"', listing.text)
    assert found
    again = client.get(f"/label-templates/edit?id={found.group(1)}")
    assert '"name": "small"' in html.unescape(again.text)


def test_problems_are_shown_in_chinese_naming_the_field(client: TestClient, db: Database) -> None:
    csrf = login(client, db, "admin", "zh-CN")
    bad = {**SMALL, "elements": [{"type": "text", "x_mm": 1, "y_mm": 1, "text": "{nope}"}]}
    preview = client.post(
        "/label-templates/preview",
        data={"csrf_token": csrf, "template": json.dumps(bad)},
        headers={"Accept-Language": "zh-CN"},
    )
    assert 'data-testid="label-preview-problems"' in preview.text
    assert "template.elements.0" in preview.text and "未知占位符 {nope}" in preview.text
    broken = client.post(
        "/label-templates/preview",
        data={"csrf_token": csrf, "template": "{"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert "不是 JSON：第 1 行" in broken.text
    saved = client.post(
        "/label-templates/edit",
        data={"csrf_token": csrf, "template": json.dumps(bad)},
        headers={"Accept-Language": "zh-CN"},
        follow_redirects=False,
    )
    assert saved.status_code == 422
    assert "未知占位符" in saved.text
    page = client.get("/label-templates", headers={"Accept-Language": "zh-CN"})
    assert "标签模板" in page.text


def test_a_reader_sees_the_templates_but_may_not_save(client: TestClient, db: Database) -> None:
    csrf = login(client, db, "readonly")
    assert client.get("/label-templates").status_code == 200
    editor = client.get("/label-templates/edit")
    assert editor.status_code == 200 and 'data-testid="label-save"' not in editor.text
    saved = client.post(
        "/label-templates/edit",
        data={"csrf_token": csrf, "template": json.dumps(SMALL)},
        follow_redirects=False,
    )
    assert saved.status_code == 403


def test_a_partner_may_not_open_the_page(client: TestClient, db: Database) -> None:
    login(client, db, "partner")
    assert client.get("/label-templates").status_code == 403
    assert client.get("/label-templates/edit").status_code == 403
