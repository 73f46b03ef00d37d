"""Scanning with the camera and without a network, in Chromium (issue 15, camera).

Chromium's fake camera (`--use-fake-device-for-media-stream`) shows a Y4M file made here from a
symbol that zint encodes: a QR code or a DataMatrix of a demo serial, and a GS1 DataMatrix (FNC1
in first position, AIs 01 and 21). The page reads it with the vendored ZXing reader and feeds the
scan field as a keyboard-wedge scanner would; the scan is recorded (counted in the database) and
the camera is stopped. Offline: 20 scans queue in the browser, the tab is reloaded while the
network is still gone (the service worker keeps the page), the network comes back, and exactly
20 events are written, once each, with the ids the browser gave them.

One browser per camera file (the fake camera's file is a launch flag), each with the floor
harness's checks (tests/e2e/floor.py): console errors, failures not shown, English on zh-CN
pages, sideways scroll on a phone.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.e2e.floor import PHONE, Demo, Floor, scan
from tests.e2e.serving import ARGS, CHROMIUM
from unitrace.access.principal import SYSTEM
from unitrace.db import tables
from unitrace.db.engine import Database
from unitrace.ledger import queries

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRODUCT = "AC-9000"
GTIN14 = "00695000000015"  # the demo's AC-9000 (GTIN-13 0695000000015) as GTIN-14
WIDTH, HEIGHT = 640, 480
GS = "\x1d"

# every getUserMedia stream the page opens, to tell that the camera was stopped
STREAMS = """(() => {
  const open = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (!open) return;
  window.__streams = [];
  navigator.mediaDevices.getUserMedia = function (c) {
    return open.call(navigator.mediaDevices, c).then(s => { window.__streams.push(s); return s; });
  };
})();"""
ALL_STOPPED = """() => window.__streams.length > 0 && window.__streams.every(
  s => s.getTracks().every(t => t.readyState === "ended"))"""
QUEUED_IDS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("unitrace-scan-queue-warehouse01", 1);
  open.onsuccess = () => {
    const all = open.result.transaction("scans").objectStore("scans").getAll();
    all.onsuccess = () => resolve(all.result.map(j => [j.id, j.fields.serial, j.time]));
    all.onerror = () => reject(all.error);
  };
  open.onerror = () => reject(open.error);
})"""
WORKER_READY = """() => navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller
  ? true : new Promise(r => navigator.serviceWorker.addEventListener("controllerchange",
    () => r(true))))"""


def symbol_rows(kind: str, data: str) -> list[bytes]:
    """The symbol's pixels (0 dark, 255 light), one module per pixel, as zint encodes it."""
    zint = pytest.importorskip("zint")
    symbol = zint.Symbol()
    if kind == "qr":
        symbol.symbology = zint.Symbology.QRCODE
    else:
        symbol.symbology = zint.Symbology.DATAMATRIX
        symbol.option_3 = 100  # DM_SQUARE
        if kind == "gs1":
            symbol.input_mode = zint.InputMode.GS1
    symbol.scale = 0.5  # one pixel per module
    symbol.encode(data)
    symbol.buffer()
    pixels = memoryview(symbol.bitmap)
    height, width, _ = pixels.shape
    flat = bytes(pixels.cast("B"))
    return [flat[r * width * 3 : (r + 1) * width * 3 : 3] for r in range(height)]


def y4m(path: Path, rows: list[bytes]) -> Path:
    """One frame of WIDTH×HEIGHT, the symbol in the middle on white with a quiet zone, as the
    YUV 4:2:0 that Chromium's fake camera reads (luma only; no colour)."""
    size = max(len(rows), len(rows[0]))
    scale = (min(WIDTH, HEIGHT) * 3 // 5) // size
    luma = [bytearray(b"\xff" * WIDTH) for _ in range(HEIGHT)]
    top, left = (HEIGHT - len(rows) * scale) // 2, (WIDTH - len(rows[0]) * scale) // 2
    for r, row in enumerate(rows):
        line = bytes(v for v in row for _ in range(scale))
        for k in range(scale):
            luma[top + r * scale + k][left : left + len(line)] = line
    chroma = b"\x80" * (WIDTH // 2 * HEIGHT // 2)
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + b"".join(luma) + chroma + chroma)
    return path


@pytest.fixture(scope="module")
def playwright_run() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (scripts/test.sh installs it)")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@contextmanager
def camera_floor(
    playwright: Any, server: str, demo: Demo, video: Path | None = None
) -> Iterator[Floor]:
    """A floor on a browser whose fake camera shows `video`, camera permission granted."""
    args = [*ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    if video is not None:
        args.append(f"--use-file-for-fake-video-capture={video}")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    floor = Floor(server, browser, demo)
    try:
        yield floor
        floor.close()
    finally:
        browser.close()


def camera_page(floor: Floor, role: str, path: str, phone: bool = False) -> Any:
    page = floor.open(role, path, phone=phone)
    page.context.grant_permissions(["camera"], origin=floor.base)
    page.add_init_script(STREAMS)
    page.reload()
    return page


def in_stock(demo: Demo, count: int, skip: int) -> list[str]:
    """Demo units in stock, each test its own (`skip` apart)."""
    db = Database(demo.url)
    try:
        found = queries.list_units(db, SYSTEM, product=PRODUCT, status="in_stock", limit=200)
    finally:
        db.dispose()
    serials = [u["serial"] for u in found["items"]][skip : skip + count]
    assert len(serials) == count, "the demo has too few units in stock"
    return serials


def moves(floor: Floor, serials: list[str]) -> dict[str, int]:
    """How many move events each serial has in the module's database."""
    assert floor.database is not None
    db = Database(f"sqlite:///{floor.database}")
    e, eu, u = tables.events, tables.event_units, tables.units
    query = (
        select(u.c.serial, func.count(e.c.id))
        .select_from(u.join(eu, eu.c.unit_id == u.c.id).join(e, e.c.id == eu.c.event_id))
        .where(u.c.serial.in_(serials), e.c.type == "move")
        .group_by(u.c.serial)
    )
    try:
        with db.engine.connect() as conn:
            counts = {serial: int(n) for serial, n in conn.execute(query)}
    finally:
        db.dispose()
    return {serial: counts.get(serial, 0) for serial in serials}


def written(floor: Floor, ids: list[str]) -> dict[str, datetime]:
    """The events of these ids in the module's database, with the time each happened."""
    assert floor.database is not None
    db = Database(f"sqlite:///{floor.database}")
    e = tables.events
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(select(e.c.event_id, e.c.event_time).where(e.c.event_id.in_(ids)))
            found = [(event_id, moment) for event_id, moment in rows]
    finally:
        db.dispose()
    assert len(found) == len({i for i, _m in found}), "an event id written twice"
    return dict(found)


def to_move(page: Any) -> None:
    page.select_option('[data-testid="action"]', "move")
    page.select_option('[data-testid="location"]', "SZ-FG-A01")


def camera_scan(page: Any) -> None:
    """Open the camera and wait until the page has read a code and closed it again."""
    button = page.locator('[data-testid="camera-serial"]')
    assert button.inner_text().strip() == "📷 摄像头扫码"
    button.click()
    page.locator('[data-testid="camera-view"]').wait_for()
    page.locator('[data-testid="camera-view"]').wait_for(state="detached", timeout=30_000)


def posted_serials(requests: list[Any]) -> list[str]:
    return [
        urllib.parse.parse_qs(r.post_data or "")["serial"][0]
        for r in requests
        if r.method == "POST" and r.url.endswith("/scan")
    ]


# --- the camera ------------------------------------------------------------------------------


def test_a_qr_code_shown_to_the_camera_is_recorded_and_the_camera_stopped(
    playwright_run: Any, floor_server: str, demo: Demo, tmp_path: Path
) -> None:
    [serial] = in_stock(demo, 1, skip=0)
    video = y4m(tmp_path / "qr.y4m", symbol_rows("qr", serial))
    with camera_floor(playwright_run, floor_server, demo, video) as floor:
        page = camera_page(floor, "warehouse", "/scan")
        to_move(page)
        camera_scan(page)
        answer = page.locator('[data-testid="feedback"] [data-testid="scan-ok"]')
        answer.wait_for()
        assert serial in answer.inner_text() and "移库" in answer.inner_text()
        assert page.evaluate(ALL_STOPPED)
        assert page.evaluate("document.activeElement.name") == "serial"  # the next scan
        floor.check(page)
    assert moves(floor, [serial]) == {serial: 1}


def test_a_datamatrix_is_read_on_a_phone(
    playwright_run: Any, floor_server: str, demo: Demo, tmp_path: Path
) -> None:
    """At 390 px: the button and the camera view fit, the serial is recorded."""
    [serial] = in_stock(demo, 1, skip=1)
    video = y4m(tmp_path / "dm.y4m", symbol_rows("datamatrix", serial))
    with camera_floor(playwright_run, floor_server, demo, video) as floor:
        page = camera_page(floor, "warehouse", "/scan", phone=True)
        to_move(page)
        button = page.locator('[data-testid="camera-serial"]').bounding_box()
        assert button is not None and button["x"] + button["width"] <= PHONE["width"]
        camera_scan(page)
        page.locator('[data-testid="feedback"] [data-testid="scan-ok"]').wait_for()
        assert page.evaluate(ALL_STOPPED)
        floor.check(page)
    assert moves(floor, [serial]) == {serial: 1}


def test_a_gs1_datamatrix_reaches_the_server_with_its_symbology_identifier_and_separators(
    playwright_run: Any, floor_server: str, demo: Demo, tmp_path: Path
) -> None:
    """The camera delivers exactly what a scanner sends for a GS1 DataMatrix: ]d2, the AIs, and
    GS after a variable-length field that is not the last (the server's reading of it is
    i15-scanin's; see the next test)."""
    [serial] = in_stock(demo, 1, skip=2)
    data = f"[01]{GTIN14}[21]{serial}[10]L1"
    video = y4m(tmp_path / "gs1.y4m", symbol_rows("gs1", data))
    with camera_floor(playwright_run, floor_server, demo, video) as floor:
        page = camera_page(floor, "warehouse", "/scan")
        requests: list[Any] = []
        page.on("request", lambda request: requests.append(request))
        to_move(page)
        camera_scan(page)
        page.locator('[data-testid="feedback"] li').first.wait_for()
        assert posted_serials(requests) == [f"]d201{GTIN14}21{serial}{GS}10L1"]
        floor.check(page)


def test_a_gs1_datamatrix_shown_to_the_camera_is_recorded(
    playwright_run: Any, floor_server: str, demo: Demo, tmp_path: Path
) -> None:
    [serial] = in_stock(demo, 1, skip=3)
    video = y4m(tmp_path / "gs1.y4m", symbol_rows("gs1", f"[01]{GTIN14}[21]{serial}"))
    with camera_floor(playwright_run, floor_server, demo, video) as floor:
        page = camera_page(floor, "warehouse", "/scan")
        to_move(page)
        camera_scan(page)
        page.locator('[data-testid="feedback"] li').first.wait_for()
        assert page.locator('[data-testid="feedback"] [data-testid="scan-ok"]').count() == 1
    assert moves(floor, [serial]) == {serial: 1}


def test_the_camera_button_on_search_and_service_desk_reads_a_serial(
    playwright_run: Any, floor_server: str, demo: Demo, tmp_path: Path
) -> None:
    [serial] = in_stock(demo, 1, skip=4)
    video = y4m(tmp_path / "search.y4m", symbol_rows("qr", serial))
    with camera_floor(playwright_run, floor_server, demo, video) as floor:
        page = camera_page(floor, "warehouse", "/units")
        page.locator('[data-testid="camera-q"]').click()
        page.wait_for_url(f"**/units/{serial}*", timeout=30_000)  # the dossier
        desk = camera_page(floor, "service", "/service")
        camera_scan(desk)
        desk.wait_for_url(f"**/service?serial={serial}*")
        floor.check()


# --- offline ---------------------------------------------------------------------------------


def test_twenty_scans_offline_survive_a_reload_and_are_written_once_each(
    playwright_run: Any, floor_server: str, demo: Demo
) -> None:
    serials = in_stock(demo, 20, skip=10)
    with camera_floor(playwright_run, floor_server, demo) as floor:
        page = floor.open("warehouse", "/scan")
        assert page.evaluate(WORKER_READY)  # the station is kept for a reload offline
        to_move(page)
        page.context.set_offline(True)
        # a scan sent as the browser goes offline fails in the network and is queued (shown as
        # waiting): the failure is expected, the queue is what is checked
        floor.expect_failure(page, 0, "ERR_INTERNET_DISCONNECTED")
        scan(page, serials)
        waiting = page.locator('[data-testid="scan-waiting"][data-count="20"]')
        waiting.wait_for()
        assert "无网络" in waiting.inner_text() and "20" in waiting.inner_text()
        queued = page.evaluate(QUEUED_IDS)
        assert [s for _id, s, _t in queued] == serials  # in the order scanned
        ids = [i for i, _s, _t in queued]
        assert len(set(ids)) == 20

        page.reload()  # still offline: the service worker's copy of the station
        page.locator('[data-testid="scan-waiting"][data-count="20"]').wait_for()
        assert page.locator("#feedback li").count() == 0 and written(floor, ids) == {}

        page.context.set_offline(False)
        done = page.locator('[data-testid="scan-waiting"][data-count="0"]')
        done.wait_for(state="attached", timeout=30_000)
        said = page.locator("#feedback li").all_inner_texts()[::-1]
        assert [t.split()[0] for t in said] == serials and all("✔" in t for t in said)
        floor.check(page)
    events = written(floor, ids)
    assert sorted(events) == sorted(ids)  # the browser's ids, each once
    assert moves(floor, serials) == dict.fromkeys(serials, 1)
    for event_id, _serial, scanned in queued:  # when it was scanned, not when it arrived
        happened = events[event_id]
        happened = happened if happened.tzinfo else happened.replace(tzinfo=UTC)
        assert abs((happened - datetime.fromisoformat(scanned)).total_seconds()) < 0.002


def test_without_indexeddb_the_station_still_records_every_scan_in_order(
    playwright_run: Any, floor_server: str, demo: Demo
) -> None:
    """A browser that refuses IndexedDB (a private window may): the queue lives in the page."""
    serials = in_stock(demo, 3, skip=30)
    with camera_floor(playwright_run, floor_server, demo) as floor:
        page = floor.open("warehouse", "/")
        page.add_init_script("Object.defineProperty(window, 'indexedDB', {value: undefined})")
        page.goto(floor.url("/scan"))
        to_move(page)
        scan(page, serials)
        page.locator("#feedback li").nth(2).wait_for()
        said = page.locator("#feedback li").all_inner_texts()[::-1]
        assert [t.split()[0] for t in said] == serials and all("✔" in t for t in said)
        floor.check(page)
    assert moves(floor, serials) == dict.fromkeys(serials, 1)
