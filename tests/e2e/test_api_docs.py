"""/api/docs in Chromium: the vendored Swagger UI lists the operations under the pages'
Content-Security-Policy, with no request to another host and no violation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.serving import CHROMIUM, launch, serve
from tests.factories import make_product
from unitrace.db import migrate
from unitrace.db.engine import Database

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

if not Path(CHROMIUM).exists() and os.environ.get("UNITRACE_REQUIRE_E2E") != "1":
    pytest.skip("Chromium not installed (scripts/test.sh installs it)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'unitrace.db'}"
    db = Database(url)
    migrate.upgrade(db)
    make_product(db, "AC1")  # not empty: `serve` loads no demo
    db.dispose()
    with serve(url) as base:
        yield base


def test_swagger_ui_renders_under_the_csp(server: str) -> None:
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        # tall: Swagger UI renders the operations of a long tag as they come into view
        context = browser.new_context(viewport={"width": 1280, "height": 4000})
        context.add_init_script(WATCH)
        page = context.new_page()
        errors: list[str] = []
        requested: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda request: requested.append(request.url))
        answer = page.goto(server + "/api/docs")
        assert (
            answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
        )
        page.locator(".opblock").first.wait_for()
        assert page.locator(".opblock").count() > 20  # the operations list
        assert "unitrace" in page.locator(".info .title").inner_text()
        page.locator(".opblock-summary").first.click()  # an operation opens
        page.locator(".opblock-body").first.wait_for()
        assert page.evaluate("window.__violations") == []
        assert errors == []
        assert requested and all(url.startswith(server + "/") for url in requested), requested
        browser.close()
