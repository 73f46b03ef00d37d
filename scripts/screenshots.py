"""Screenshots of every page in both languages (and the scan station on a phone) for the README.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--units 10000]

Builds the demo data in a temporary folder (`unitrace.demo.load_demo`, with one user per role),
serves it with `unitrace serve` on 127.0.0.1, and drives Debian's Chromium (/usr/bin/chromium)
through `PAGES` as the role that works there, in zh-CN and English: `OUT/NAME-zh-CN.png` and
`OUT/NAME-en.png`, 1280 px wide, at most `MAX_HEIGHT` px tall. Nothing else writes into
docs/screenshots: the test suite takes no screenshots of its own.

`PAGES` must name every page of the web interface; `missing_pages()` lists the GET routes of
unitrace.web that it does not (tests/unit/test_screenshots_script.py keeps them in step).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"
LOCALES = {"zh-CN": "zh-CN", "en": "en-US"}
MAX_HEIGHT = 2000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# name, role, path ({…} filled from `examples`): one line per page of the web interface
PAGES: list[tuple[str, str, str]] = [
    ("login", "", "/login"),
    ("home", "admin", "/"),
    ("search", "admin", "/units?q={prefix}"),
    ("dossier", "admin", "/units/{repaired}"),
    ("scan", "warehouse", "/scan"),
    ("commission", "production", "/commission"),
    ("assembly", "production", "/assembly?parent={finished}"),
    ("steps", "production", "/steps"),
    ("trace", "quality", "/trace?back={repaired}&product=MB-V2&lot=PCB-2607"),
    ("recalls", "quality", "/recalls"),
    ("recall", "quality", "/recalls/RC-2026-01"),
    ("quality", "quality", "/quality?by=step"),
    ("warranty-report", "quality", "/warranty-report?by=component_lot"),
    ("inventory", "warehouse", "/inventory"),
    ("inventory-units", "warehouse", "/inventory/units?location=SZ-FG"),
    ("shipments", "sales", "/shipments"),
    ("delivery-note", "warehouse", "/shipments/{shipment}/note"),
    ("diversions", "sales", "/diversions"),
    ("stocktakes", "warehouse", "/stocktakes"),
    ("stocktake", "warehouse", "/stocktakes/ST-DEMO"),
    ("sell-through", "sales", "/sell-through"),
    ("service-desk", "service", "/service?serial={repaired}"),
    ("cases", "service", "/cases"),
    ("case", "service", "/cases/{case}"),
    ("spares", "warehouse", "/spares"),
    ("claim-rules", "admin", "/claim-rules"),
    ("label-templates", "admin", "/label-templates"),
    ("label-template", "admin", "/label-templates/edit"),
    ("label-runs", "production", "/labels/runs"),
    ("public-item", "admin", "/01/{gtin}/21/{finished}"),
    ("products", "admin", "/products"),
    ("product", "admin", "/products/AC-9000"),
    ("bom", "admin", "/products/AC-9000/bom"),
    ("route", "admin", "/products/AC-9000/route"),
    ("lots", "admin", "/lots"),
    ("lot", "admin", "/lots/MB-V2/PCB-2607"),
    ("parties", "admin", "/parties"),
    ("party", "admin", "/parties/D-EAST"),
    ("locations", "admin", "/locations"),
    ("location", "admin", "/locations/SZ-FG"),
    ("users", "admin", "/admin/users"),
    ("user", "admin", "/admin/users/quality01"),
    ("audit", "auditor", "/audit"),
    ("api-docs", "admin", "/api/docs"),
    # issue 16: staff
    ("owners", "service", "/owners?serial={sold}"),
    ("counterfeit-reports", "quality", "/counterfeit-reports"),
    ("clone-alerts", "quality", "/clone-alerts"),
    ("clone-alert", "quality", "/clone-alerts/1"),  # the demo's Harbin → Guangzhou code
    ("webhooks", "admin", "/webhooks"),  # issue 17: subscriptions and the delivery log
    # issue 16, public (no login, shot on a phone: `PHONE_PAGES`)
    ("verify-start", "", "/v"),
    ("verify-genuine", "", "/v/{genuine}"),
    ("verify-warning", "", "/v/{warning}"),
    ("verify-not-found", "", "/v/{unknown}"),
    ("register", "", "/v/{genuine}/register"),
    ("claim", "", "/v/claim"),
    ("imports", "warehouse", "/imports"),  # issue 17
]
# the public pages, made for phones: shot 390 px wide (`PHONE`), as a consumer sees them
PHONE_PAGES = {
    "verify-start",
    "verify-genuine",
    "verify-warning",
    "verify-not-found",
    "register",
    "claim",
}
# routes that are no page of their own (downloads, fragments)
NOT_PAGES = {
    "/trace/affected.csv",
    "/recalls/{code}/notices.csv",
    "/quality/export",
    "/assembly/bom",
    "/commission/serials.{kind}",
    "/cases/{number}/attachments/{attachment_id}",
    "/warranty-report/export",
    "/scan-worker.js",  # issue 15, camera: the scan station's service worker, a script
    # a print run's page, progress fragment and download (the demo has no run)
    "/labels/runs/{number}",
    "/labels/runs/{number}/progress",
    "/labels/runs/{number}/file",
    "/v/{code}/picture",  # issue 16: a product's picture (the demo sets none), an image
    # issue 17: an import job's page, progress fragment and report (the demo has no job)
    "/imports/{job_id}",
    "/imports/{job_id}/progress",
    "/imports/{job_id}/report.xlsx",
}


def missing_pages() -> list[str]:
    """GET routes of the web interface that `PAGES` does not show."""
    import re

    from unitrace.web.analytics import router as analytics
    from unitrace.web.cases import router as cases
    from unitrace.web.channel import router as channel
    from unitrace.web.claims import router as claims
    from unitrace.web.desk import router as desk
    from unitrace.web.imports import router as imports
    from unitrace.web.labels import router as labels
    from unitrace.web.labels_runs import router as label_runs
    from unitrace.web.manage import router as manage
    from unitrace.web.pages import router as pages
    from unitrace.web.production import router as production
    from unitrace.web.resolver import router as resolver
    from unitrace.web.spares import router as spares
    from unitrace.web.verify_owners import router as verify_owners
    from unitrace.web.verify_owners import staff_router as owners_staff
    from unitrace.web.verify_page import router as verify_page
    from unitrace.web.verify_page import staff_router as reports_staff

    shown = [re.sub(r"\?.*", "", path) for _name, _role, path in PAGES]
    found = []
    routers = [pages, manage, production, channel, cases, desk, claims, analytics, spares, resolver]
    routers += [labels, label_runs, verify_owners, owners_staff, verify_page, reports_staff]
    routers += [imports]  # issue 17
    for route in [r for router in routers for r in router.routes]:
        path = getattr(route, "path", "")
        if "GET" not in getattr(route, "methods", ()) or path in NOT_PAGES:
            continue
        pattern = re.sub(r"\\\{[^}:]*:path\\\}", ".+", re.escape(path))
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", pattern)
        if not any(re.fullmatch(pattern, s) for s in shown):
            found.append(path)
    return found


def build(folder: Path, units: int) -> tuple[str, dict[str, str]]:
    """The demo database in `folder`, one user per role (ROLE01), a stocktake; examples."""
    from sqlalchemy import text

    from unitrace.access import service as access
    from unitrace.access.principal import ROLES, SYSTEM
    from unitrace.channel import service as channel
    from unitrace.channel import stocktake
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.demo import load_demo

    url = f"sqlite:///{folder / 'unitrace.db'}"
    db = Database(url)
    try:
        migrate.upgrade(db)
        load_demo(db, units=units)
        for role in ROLES:
            party = "D-EAST" if role == "partner" else None
            access.create_user(db, SYSTEM, f"{role}01", PASSWORD, role, party=party)
        stocktake.open_count(db, SYSTEM, "ST-DEMO", ["SZ-FG-A01"])
        shipment = channel.list_shipments(db, SYSTEM, limit=1)["items"][0]["key"]
        with db.read() as conn:
            repaired = conn.execute(text(
                "SELECT u.serial FROM units u JOIN event_units eu ON eu.unit_id = u.id "
                "JOIN events e ON e.id = eu.event_id WHERE e.type = 'repair' "
                "ORDER BY u.serial LIMIT 1")).scalar_one()  # fmt: skip
            in_stock = conn.execute(text(
                "SELECT u.serial FROM units u JOIN products p ON p.id = u.product_id "
                "WHERE p.code = 'AC-9000' AND u.holder_id IS NULL AND u.parent_id IS NULL "
                "ORDER BY u.serial LIMIT 1"
            )).scalar_one()  # fmt: skip
            finished = conn.execute(text(
                "SELECT u.serial FROM units u JOIN products p ON p.id = u.product_id "
                "WHERE p.code = 'AC-9000' ORDER BY u.serial DESC LIMIT 1"
            )).scalar_one()  # fmt: skip
            # issue 16: a sold AC-9000 (genuine, registrable), the stolen one (a warning)
            genuine, sold = conn.execute(
                text(
                    "SELECT c.code, u.serial FROM verify_codes c JOIN units u ON u.id = c.unit_id"
                    " JOIN products p ON p.id = u.product_id WHERE p.code = 'AC-9000'"
                    " AND u.status = 50 AND u.id NOT IN (SELECT unit_id FROM stolen_reports)"
                    " AND c.checks = 0"
                    " ORDER BY u.serial LIMIT 1"
                )
            ).one()
            warning = conn.execute(
                text(
                    "SELECT c.code FROM verify_codes c"
                    " JOIN stolen_reports s ON s.unit_id = c.unit_id ORDER BY c.id LIMIT 1"
                )
            ).scalar_one()
            gtin = conn.execute(
                text("SELECT gtin14 FROM products WHERE code = 'AC-9000'")
            ).scalar_one()
            case = (
                conn.execute(
                    text("SELECT number FROM service_cases ORDER BY closed_at IS NULL, id LIMIT 1")
                ).scalar()
                or "SC-000001"
            )
    finally:
        db.dispose()
    examples = {
        "repaired": repaired,
        "finished": finished,
        "in_stock": in_stock,
        "shipment": quote(shipment, safe=""),
        "case": case,
        "gtin": gtin,
        "genuine": genuine,
        "sold": sold,
        "warning": warning,
        "unknown": "7K3M-9QXZ-4TPW-2HRD",
    }
    return url, {**examples, "prefix": repaired[:8]}


@contextmanager
def serve(url: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "UNITRACE_DATABASE_URL": url, "UNITRACE_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from unitrace.cli.main import main; main()", "serve"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts it slowly
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def log_in(browser: Any, base: str, role: str, locale: str, phone: bool = False) -> Any:
    context = browser.new_context(
        locale=LOCALES[locale], viewport=PHONE if phone else DESKTOP,
        is_mobile=phone, has_touch=phone,
    )  # fmt: skip
    context.add_cookies([{"name": "unitrace_lang", "value": locale, "url": base}])
    page = context.new_page()
    if role:
        page.goto(base + "/login")
        page.fill("input[name=username]", f"{role}01")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(base + "/")
    return page


def shoot(page: Any, path: Path) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator(".chart").count():
        page.locator(".chart canvas").first.wait_for(timeout=10_000)
        page.wait_for_timeout(1500)  # the charts' animation
    height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
    width = int(page.viewport_size["width"])
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width,
                                                          "height": height})  # fmt: skip


def scan_on_a_phone(
    browser: Any, base: str, locale: str, path: Path, examples: dict[str, str]
) -> None:
    """The scan station on a phone after a good and a bad scan, typed as a scanner does."""
    page = log_in(browser, base, "warehouse", locale, phone=True)
    page.goto(base + "/scan")
    action = page.locator('[data-testid="action"]')
    if action.count():
        action.select_option("move")
    location = page.locator('[data-testid="location"]')
    if location.count():
        location.select_option("SZ-FG-A01")
    page.locator('[data-testid="scan-input"]').focus()
    for code in (examples["in_stock"], "NO-SUCH-SERIAL"):
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        page.wait_for_timeout(700)
    shoot(page, path)
    page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--units", type=int, default=10_000, help="demo units")
    args = parser.parse_args()
    if missing_pages():
        raise SystemExit(f"PAGES lacks: {', '.join(missing_pages())}")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="unitrace-shots-") as folder:
        url, examples = build(Path(folder), args.units)
        with serve(url) as base, sync_playwright() as playwright:
            written = 0
            for locale in LOCALES:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                pages: dict[tuple[str, bool], Any] = {}
                for name, role, path in PAGES:
                    phone = name in PHONE_PAGES
                    if (role, phone) not in pages:
                        pages[role, phone] = log_in(browser, base, role, locale, phone=phone)
                    page = pages[role, phone]
                    page.goto(base + path.format(**examples))
                    shoot(page, args.out / f"{name}-{locale}.png")
                    written += 1
                for page in pages.values():
                    page.context.close()
                scan_on_a_phone(browser, base, locale, args.out / f"scan-phone-{locale}.png",
                                examples)  # fmt: skip
                browser.close()
    print(f"{written + len(LOCALES)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
