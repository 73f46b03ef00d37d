"""The camera button of the four scanning pages (issue 15, camera): the scan station, the unit
search, a stocktake's count and the service desk each offer it in the page's language, with the
one shared script; the reader and its WebAssembly are served from here, in step with each other,
and the script points the reader at this server's copy (never a CDN)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import stocktake
from unitrace.db.engine import Database

STATIC = Path(__file__).resolve().parents[2] / "src" / "unitrace" / "web" / "static"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("role", "path", "field"),
    [
        ("warehouse", "/scan", "serial"),
        ("warehouse", "/units", "q"),
        ("warehouse", "/stocktakes/ST-C", "serial"),
        ("service", "/service", "serial"),
    ],
)
def test_each_scanning_page_has_the_camera_button_in_chinese(
    client: TestClient,
    db: Database,
    shelves: list[str],  # noqa: F811
    role: str,
    path: str,
    field: str,
) -> None:
    stocktake.open_count(db, SYSTEM, "ST-C", ["A"])
    login(client, db, role, "zh-CN")
    page = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200, page.text
    button = re.search(r'<button type="button" class="camera-button" data-camera="(\w+)"[^>]*>'
                       r"([^<]*)</button>", page.text)  # fmt: skip
    assert button is not None and button.group(1) == field
    assert button.group(2) == "📷 摄像头扫码"
    assert 'data-camera-close="关闭摄像头"' in page.text
    assert page.text.count('<script src="/static/camera.js" defer></script>') == 1
    form = page.text.split(button.group(0))[0].rsplit("<form", 1)[1]
    assert f'name="{field}"' in form and "</form>" not in form  # the field of the same form


def test_the_camera_button_speaks_english_on_english_pages(
    client: TestClient, db: Database
) -> None:
    login(client, db, "warehouse", "en")
    page = client.get("/scan", headers={"Accept-Language": "en"})
    assert "📷 Camera</button>" in page.text and 'data-camera-close="Close the camera"' in page.text


def test_the_reader_and_its_webassembly_are_served_here_and_in_step(client: TestClient) -> None:
    wasm = client.get("/static/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    reader = client.get("/static/zxing-reader.js").text
    expected = re.search(r"ZXING_WASM_SHA256=`([0-9a-f]{64})`", reader)
    assert expected is not None and hashlib.sha256(wasm.content).hexdigest() == expected.group(1)
    camera = client.get("/static/camera.js").text
    assert "prepareZXingModule" in camera and '"/static/" + path' in camera
    assert not re.search(r"https?://", camera)
    assert (STATIC / "zxing-wasm.LICENSE").read_text().startswith("MIT License")
