"""`unitrace labels template list|show|set|preview`: a template set from a JSON file is the one a
product's labels print with; a bad file is refused naming the element and field (exit 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image

from tests.factories import make_product
from unitrace.db.engine import Database
from unitrace.labels.schemas import DEFAULT_TEMPLATE

SMALL = {
    "name": "small",
    "width_mm": 30,
    "height_mm": 30,
    "elements": [{"type": "datamatrix", "x_mm": 5, "y_mm": 5, "size_mm": 20}],
}


def test_set_then_show_and_list_the_products_template(
    db: Database, cli: Any, tmp_path: Path
) -> None:
    make_product(db, "W-1", gtin="09506000134352")
    shown = json.loads(cli("labels", "template", "show", "--product", "W-1").stdout)
    assert shown["name"] == DEFAULT_TEMPLATE.name  # nothing set: the built-in default
    file = tmp_path / "small.json"
    file.write_text(json.dumps(SMALL), encoding="utf-8")
    done = cli("labels", "template", "set", str(file), "--product", "W-1")
    assert done.exit_code == 0, done.output
    again = cli("labels", "template", "set", str(file), "--product", "W-1")  # replaces it
    assert again.exit_code == 0, again.output
    shown = json.loads(cli("labels", "template", "show", "--product", "W-1").stdout)
    assert shown["name"] == "small" and shown["elements"][0]["ais"] == ["01", "21"]
    listed = json.loads(cli("labels", "template", "list", "--json").stdout)
    assert [(t["product"], t["name"]) for t in listed] == [("W-1", "small")]
    assert "W-1" in cli("labels", "template", "list").stdout

    png = tmp_path / "preview.png"
    drawn = cli("labels", "template", "preview", str(png), "--product", "W-1")
    assert drawn.exit_code == 0, drawn.output
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.read_bytes())))
    assert [code.symbology_identifier for code in found] == ["]d2"]


def test_a_bad_template_file_names_the_element_and_the_field(
    db: Database, cli: Any, tmp_path: Path
) -> None:
    file = tmp_path / "bad.json"
    bad = {**SMALL, "elements": [{"type": "datamatrix", "x_mm": 5, "y_mm": 5, "ais": ["17"]}]}
    file.write_text(json.dumps(bad), encoding="utf-8")
    done = cli("labels", "template", "set", str(file))
    assert done.exit_code == 2, done.output
    assert "elements.0" in done.output and "ais" in done.output
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert cli("labels", "template", "set", str(broken)).exit_code == 2
