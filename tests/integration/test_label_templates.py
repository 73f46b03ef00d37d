"""Label templates through the API: created for a product or as the default, read, changed,
deleted (each change audited), chosen for a product's labels (its own, else the default, else
the built-in one), refused with the element and the field named, and previewed as PNG and SVG
that a decoder reads back."""

from __future__ import annotations

import io
from typing import Any

import zxingcpp
from PIL import Image

from tests.clients import Api, assert_problem
from tests.factories import make_product
from unitrace.access import audit
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.labels import templates
from unitrace.labels.schemas import DEFAULT_TEMPLATE

QR = {"type": "qr", "x_mm": 2, "y_mm": 2, "size_mm": 20}
MATRIX = {"type": "datamatrix", "x_mm": 30, "y_mm": 2, "size_mm": 14, "ais": ["01", "21", "10"]}


def _template(name: str = "small", **extra: Any) -> dict[str, Any]:
    return {"name": name, "width_mm": 50, "height_mm": 25, "elements": [QR, MATRIX], **extra}


def _put(api: Api, template_id: int, body: object):  # type: ignore[no-untyped-def]
    return api.client.put(f"/api/v1/label-templates/{template_id}", json=body, headers=api.admin)


def test_a_products_template_is_its_own_and_others_get_the_default(api: Api, db: Database) -> None:
    make_product(db, "W-1", gtin="09506000134352")
    make_product(db, "W-2")
    assert templates.template_for(db, "W-1") == DEFAULT_TEMPLATE  # nothing set: built in
    own = api.post("/label-templates", {"product": "W-1", "template": _template("w1")})
    assert own.status_code == 201, own.text
    default = api.post("/label-templates", {"product": None, "template": _template("all")})
    assert default.status_code == 201, default.text
    assert templates.template_for(db, "W-1").name == "w1"
    assert templates.template_for(db, "W-2").name == "all"
    listed = api.get("/label-templates").json()["items"]
    assert [(t["product"], t["name"]) for t in listed] == [(None, "all"), ("W-1", "w1")]

    second = api.post("/label-templates", {"product": "W-1", "template": _template("again")})
    assert_problem(second, 409, "product")
    another_default = api.post("/label-templates", {"template": _template("again")})
    assert_problem(another_default, 409, "product")


def test_a_template_is_changed_and_deleted_with_an_audit_record_each(
    api: Api, db: Database
) -> None:
    created = api.post("/label-templates", {"template": _template("first")}).json()
    changed = _put(api, created["id"], {"template": _template("second")})
    assert changed.status_code == 200, changed.text
    assert api.get(f"/label-templates/{created['id']}").json()["name"] == "second"
    gone = api.client.delete(f"/api/v1/label-templates/{created['id']}", headers=api.admin)
    assert gone.status_code == 204
    assert_problem(api.get(f"/label-templates/{created['id']}"), 404)
    records = audit.list_records(db, SYSTEM, entity="label_template")["items"]
    assert [r["action"] for r in records] == ["delete", "update", "create"]
    assert records[1]["before"]["name"] == "first" and records[1]["after"]["name"] == "second"


def test_bad_elements_are_refused_naming_the_element_and_the_field(api: Api) -> None:
    bad = _template(
        elements=[
            {**QR, "size_mm": 1},
            {"type": "text", "x_mm": 1, "y_mm": 1, "text": "{nope}"},
            {**MATRIX, "ais": ["10"]},
        ]
    )
    answer = api.post("/label-templates", {"template": bad})
    problem = assert_problem(answer, 422)
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert any(f.startswith("template.elements.0") and f.endswith("size_mm") for f in fields)
    assert any(f.startswith("template.elements.1") and f.endswith("text") for f in fields)
    assert any("{nope}" in message for message in fields.values())
    assert any(f.startswith("template.elements.2") and f.endswith("ais") for f in fields)


def test_an_element_past_the_labels_edge_is_named(api: Api) -> None:
    answer = api.post("/label-templates", {"template": _template(elements=[{**QR, "x_mm": 40}])})
    problem = assert_problem(answer, 422)
    assert "elements 0 (qr) go past" in str(problem["errors"])


def test_unknown_product_is_refused(api: Api) -> None:
    assert_problem(api.post("/label-templates", {"product": "NOPE", "template": _template()}), 404)


def test_previews_decode_to_a_sample_unit_of_the_templates_product(api: Api, db: Database) -> None:
    make_product(db, "W-1", gtin="9506000134352")  # a GTIN-13: labels carry it as 14 digits
    created = api.post("/label-templates", {"product": "W-1", "template": _template()}).json()
    png = api.post(f"/label-templates/{created['id']}/preview", {"format": "png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    found = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png.content)), text_mode=zxingcpp.TextMode.Plain
    )
    texts = sorted(code.text for code in found)
    assert texts == [
        "0109506000134352" + "10LOT001\x1d21SAMPLE0001",  # the template's AIs: 01, 10, 21
        "https://id.gs1.org/01/09506000134352/10/LOT001/21/SAMPLE0001?17=271231",
    ]
    svg = api.post(f"/label-templates/{created['id']}/preview", {"format": "svg"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg")


def test_unsaved_edits_are_previewed_without_being_stored(api: Api) -> None:
    edited = _template(elements=[{"type": "text", "x_mm": 1, "y_mm": 1, "text": "SN {serial}"}])
    answer = api.post("/label-templates/preview", {"template": edited, "format": "svg"})
    assert answer.status_code == 200, answer.text
    assert "SN SAMPLE0001" in answer.text
    assert api.get("/label-templates").json()["items"] == []


def test_a_reader_may_preview_but_not_change(api: Api) -> None:
    created = api.post("/label-templates", {"template": _template()}).json()
    assert api.post("/label-templates/preview", {"format": "svg"}, api.reader).status_code == 200
    assert_problem(
        api.client.put(
            f"/api/v1/label-templates/{created['id']}",
            json={"template": _template()},
            headers=api.reader,
        ),
        403,
    )
