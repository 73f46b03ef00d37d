"""The shared harness of the floor browser tests (`tests/e2e/test_floor_*.py`, issue 13): the
demo data served once per test module, a logged-in page per role and language, and guards that
fail a test on what a user on the floor would trip over.

Fixtures (tests/e2e/conftest.py makes them visible to every e2e module):

- `demo` (session): the demo database (`unitrace.demo.load_demo`) built once per test run, with
  one user per role of `access.principal.ROLES`, each called `USERS[role]` (the role's name and
  ``01``, e.g. ``quality01``: names with digits count as codes, not English) with the password
  `serving.PASSWORD`; ``partner01`` belongs to the demo distributor `PARTNER_PARTY` (D-EAST).
  `UNITRACE_E2E_DEMO_UNITS` sets the number of demo units (default `DEMO_UNITS`: 10,000 units
  take about 8 s on one core of the CI machine, 3,000 take 2.3 s, 1,000 take 1.2 s; the default
  keeps the issue's figures, e.g. 89 diversion alerts, so that the paging of long lists is
  exercised).
- `floor_server` (module): a copy of that database file served by `unitrace serve`
  (`serving.serve`): every test module has its own server and may write, the demo stays as built
  for the next module. Its base URL, e.g. ``http://127.0.0.1:41234``.
- `floor_browser` (module): one headless Chromium (`serving.launch`) per test module.
- `floor` (function): a `Floor`. ``page = floor.open("quality", "/trace")`` opens a new browser
  context logged in as that role's user, in zh-CN (``locale="en"`` for English), on a desktop
  (1280×900) or ``phone=True`` (390×844, touch), with the watchers below. Every page opened is
  checked when the test ends (`Floor.check`); call ``floor.check(page)`` earlier to fail at a
  precise step.

What fails a test (`Floor.check`):

- any console error and any uncaught page error. Chromium's "Failed to load resource: … status
  of 4xx" and htmx's "Response Status Error Code 4xx from …" console lines are not counted here:
  the response itself is judged by the next rule;
- any response with status >= 400 and any failed request (``net::ERR_ABORTED``, a request the
  page itself dropped by navigating on, excepted) that the page did not show to the user.
  **Convention: a page shows an error in a visible element with ``role="alert"``.** The marks
  the templates use today are accepted as well (`SHOWN`): ``.notice.fail``, ``.error``,
  ``.field-error``, the cards of problem.html (``data-testid="problem"``) and forbidden.html
  (``not-found``/``forbidden``), a refused scan (``data-testid="scan-fail"``). A failure counts
  as shown when such an element with text becomes visible after the response arrived (a watcher
  in the page reports each one) or is visible when `check` runs. A test that provokes a failure
  on purpose and does not care whether it is shown declares it:
  ``floor.expect_failure(page, 404, "/units/NOPE")``;
- on a zh-CN page, any English word outside the allow-list (`english_words`), on every page
  loaded and after every htmx swap, not only the last one. Names, titles and reasons that the
  module's database holds (the demo's bilingual names, what a test typed in) are data and are
  cut out of the text first; `Floor.allow_words` adds more;
- on a phone, any horizontal scroll (``scrollWidth > clientWidth`` of the document element),
  measured at every load and htmx swap.

Scanner input: `scan(page, codes)` types each code and presses Enter into whatever has the focus,
as a keyboard-wedge scanner does; it never clicks or focuses a field.

The pages' Content-Security-Policy (``script-src 'self'``) refuses string evaluation, so
``page.wait_for_function`` fails: wait with locators (``locator.wait_for()``, ``expect``).
``page.evaluate`` and init scripts work (the browser runs them through its debugging protocol,
not as page script). Nothing here needs ``bypass_csp``; the harness tests never set it, so a
page that breaks its own CSP still fails through the console rule.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.serving import CHROMIUM, PASSWORD, launch, serve
from unitrace.access import service as access
from unitrace.access.principal import ROLES, SYSTEM
from unitrace.db import migrate, tables
from unitrace.db.engine import Database
from unitrace.demo import load_demo

DEMO_UNITS = 10_000
PARTNER_PARTY = "D-EAST"
USERS: dict[str, str] = {role: f"{role}01" for role in ROLES}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCALES = {"zh-CN": "zh-CN", "en": "en-US"}
LANG_COOKIE = "unitrace_lang"

# What a page uses to show the user an error (see the module's docstring).
SHOWN = (
    '[role="alert"]',
    ".notice.fail",
    ".error",
    ".field-error",
    '[data-testid="problem"]',
    '[data-testid="not-found"]',
    '[data-testid="forbidden"]',
    '[data-testid="scan-fail"]',
)

# Words a zh-CN page may show: units of measure, names of languages and of the product itself.
# Acronyms in capitals (GTIN, SSCC, EPCIS, API, CSV, BOM, QR, ID, …) pass as ALL-CAPS codes.
ALLOWED_WORDS = frozenset(
    {
        "unitrace",
        "English",
        "htmx",
        "pcs",
        "kg",
        "mg",
        "mm",
        "cm",
        "km",
        "ml",
        "mL",
        "min",
        "ms",
        "kW",
        "kWh",
        "Hz",
        "kHz",
        "MHz",
    }
)
# Tokens that are codes as a whole: anything with a digit, ALL-CAPS codes, paths, mail, URLs.
_CAPS = re.compile(r"[A-Z][A-Z0-9_.\-/+&#:]*")
_WORD = re.compile(r"[A-Za-z]+")
_PUNCT = "()[]{}<>«»“”‘’\"'.,;:!?…—–·•|*%‰°×/\\=+~^"
_IGNORED_CONSOLE = re.compile(
    r"Failed to load resource: the server responded with a status of [45]\d\d"
    r"|Response Status Error Code [45]\d\d"
    # a request while the test holds the browser offline: the request is judged by the next rule
    r"|Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
)

# In the page, before its own scripts: report (through the `__floor` binding) the text a user
# reads and the page's overflow at every load and htmx swap, and every error mark that becomes
# visible. Runs through the debugging protocol, so the page's CSP does not apply to it.
_TEXTS_JS = """
  const SKIP = "script,style,noscript,template,code,kbd,samp,textarea,[translate=no]";
  const texts = () => {
    const found = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.nodeValue.trim();
      if (text && !node.parentElement.closest(SKIP)) found.push(text);
    }
    for (const el of document.body.querySelectorAll("[placeholder],[title],[aria-label],[alt],"
        + "input[type=submit],input[type=button]")) {
      if (el.closest(SKIP)) continue;
      for (const name of ["placeholder", "title", "aria-label", "alt"]) {
        if (el.getAttribute(name)) found.push(el.getAttribute(name));
      }
      if (el.matches("input[type=submit],input[type=button]") && el.value) found.push(el.value);
    }
    return found;
  };
"""
_TEXTS = "(() => {" + _TEXTS_JS + "return texts(); })()"
_WATCHER = (
    """
(() => {
  const SHOWN = %s;
  const report = (kind, data) => { try { window.__floor(kind, data); } catch (e) {} };
"""
    % json.dumps(SHOWN)
    + _TEXTS_JS
    + """
  const visible = (el) => (el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null)
    && el.textContent.trim() !== "";
  const seen = new WeakSet();
  const alerts = () => {
    for (const el of document.querySelectorAll(SHOWN.join(","))) {
      if (!seen.has(el) && visible(el)) {
        seen.add(el);
        report("shown", el.textContent.trim().slice(0, 200));
      }
    }
  };
  const snapshot = () => {
    if (!document.body) return;
    const root = document.documentElement;
    report("snapshot", {url: location.href, texts: texts(),
                        overflow: root.scrollWidth - root.clientWidth});
  };
  const start = () => {
    alerts();
    new MutationObserver(alerts).observe(document.documentElement, {
      subtree: true, childList: true, attributes: true, characterData: true});
  };
  document.addEventListener("DOMContentLoaded", start);
  window.addEventListener("load", () => setTimeout(snapshot, 0));
  document.addEventListener("htmx:afterSettle", () => setTimeout(snapshot, 0));
})();
"""
)


_SERVED: dict[str, Path] = {}  # base URL of a module's server: its database file


def demo_units() -> int:
    return int(os.environ.get("UNITRACE_E2E_DEMO_UNITS", DEMO_UNITS))


@dataclass(frozen=True)
class Demo:
    path: Path
    summary: dict[str, Any]
    seconds: float
    data_texts: tuple[str, ...]  # names and titles the data holds (not UI text), longest first
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    password: str = PASSWORD
    partner_party: str = PARTNER_PARTY

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


_DATA_COLUMNS = {"name", "title", "reason", "description", "note"}


def _data_texts(db: Database) -> tuple[str, ...]:
    """Every name, title and description that the catalog, routes and recalls hold: typed in
    by users, shown as they were typed, so English in them is data, not an untranslated page."""
    found: set[str] = set()
    with db.read() as conn:
        for table in (tables.parties, tables.locations, tables.products, tables.lots,
                      tables.route_steps, tables.recalls):  # fmt: skip
            columns = [c for c in table.c if c.name in _DATA_COLUMNS]
            if not columns:
                continue
            for row in conn.execute(select(*columns)):
                found.update(v.strip() for v in row if isinstance(v, str) and v.strip())
    return tuple(sorted(found, key=len, reverse=True))


def data_texts_of(path: Path) -> tuple[str, ...]:
    db = Database(f"sqlite:///{path}")
    try:
        return _data_texts(db)
    finally:
        db.dispose()


def build_demo(path: Path, units: int | None = None) -> Demo:
    """The demo database at `path` with one user per role (see the module's docstring)."""
    db = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(db)
        began = time.monotonic()
        summary = load_demo(db, units=units or demo_units())
        seconds = time.monotonic() - began
        for role, username in USERS.items():
            party = PARTNER_PARTY if role == "partner" else None
            access.create_user(db, SYSTEM, username, PASSWORD, role, party=party)
        texts = _data_texts(db)
    finally:
        db.dispose()
    return Demo(path=path, summary=summary, seconds=seconds, data_texts=texts)


def english_words(page: Any, data: Iterable[str] = (), allowed: Iterable[str] = ()) -> list[str]:
    """The English words a user reads on `page` now (text, titles, placeholders, button values;
    not <code>, <kbd>, field values or what is marked translate="no"), outside `ALLOWED_WORDS`
    and `allowed`. A token with a digit (a serial, AC-9000, CN-44), a path, URL or mail address
    is not a word, nor is an ALL-CAPS one (SZ-ASSY, GTIN, CSV, also next to Chinese: 下载CSV).
    The `data` strings (names typed in by users, e.g. `Demo.data_texts`) are cut out of the
    text first."""
    return words_in(_texts(page), data, allowed)


def words_in(
    texts: Iterable[str], data: Iterable[str] = (), allowed: Iterable[str] = ()
) -> list[str]:
    cuts = sorted({d for d in data if d}, key=len, reverse=True)
    ok = ALLOWED_WORDS | set(allowed)
    found: list[str] = []
    for text in texts:
        for cut in cuts:
            if cut in text:
                text = text.replace(cut, " ")
        for raw in text.split():
            token = raw.strip(_PUNCT)
            if not token or any(c.isdigit() for c in token) or _CAPS.fullmatch(token):
                continue
            if "://" in token or "@" in token or raw.startswith("/"):
                continue
            found += [
                w for w in _WORD.findall(token) if len(w) > 1 and not w.isupper() and w not in ok
            ]
    return found


def _texts(page: Any) -> list[str]:
    return [str(t) for t in page.evaluate(_TEXTS)]


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (> 0: the user must scroll sideways)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


FOCUSED_FIELD = """() => { const e = document.activeElement;
  return !!e && (e.tagName === 'TEXTAREA' || (e.tagName === 'INPUT' && !['button', 'submit',
  'checkbox', 'radio', 'hidden'].includes(e.type))); }"""


def scan(page: Any, codes: Sequence[str], delay: float = 0) -> None:
    """Keyboard-wedge input: each code's characters, then Enter, into whatever has the focus,
    fast and one after the other (`delay` ms between keys); the focus is never touched. The first
    code waits until a text field has the focus (the page's autofocus has run, as a worker
    sees the cursor before pulling the trigger), so a loaded machine does not type into nothing."""
    for _ in range(100):
        if page.evaluate(FOCUSED_FIELD):
            break
        page.wait_for_timeout(100)
    for code in codes:
        page.keyboard.type(code, delay=delay)
        page.keyboard.press("Enter")


@dataclass
class Watch:
    """What the watchers saw on one page (see the module's docstring)."""

    page: Any
    locale: str
    phone: bool
    data: tuple[str, ...]
    errors: list[str] = field(default_factory=list)
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # status, method, url
    expected: list[tuple[int, str]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    allowed: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

    def on_console(self, message: Any) -> None:
        if message.type == "error" and not _IGNORED_CONSOLE.search(message.text):
            self.errors.append(f"console error: {message.text}")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"page error: {error}")

    def on_response(self, response: Any) -> None:
        if response.status >= 400:
            self.failures.append((response.status, response.request.method, response.url))

    def on_request_failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:
            self.failures.append((0, request.method, f"{request.url} ({failure})"))

    def on_binding(self, source: Any, kind: str, data: Any) -> None:
        if kind == "shown":
            self.failures.clear()  # every failure so far was followed by a visible error
        elif kind == "snapshot":
            self.snapshots.append(data)

    def expect_failure(self, status: int, url_part: str = "") -> None:
        self.expected.append((status, url_part))

    def problems(self) -> list[str]:
        found = list(self.errors)
        if self.failures and _settled(self.page) and _shows_error(self.page):
            self.failures.clear()
        for status, method, url in self.failures:
            if not any(status == s and part in url for s, part in self.expected):
                found.append(f"{status or 'failed'} {method} {url} not shown to the user")
        if _settled(self.page):
            self.snapshots.append(
                {"url": self.page.url, "texts": _texts(self.page), "overflow": overflow(self.page)}
            )
        for shot in self.snapshots:
            if self.locale == "zh-CN":
                words = words_in(shot["texts"], self.data, self.allowed)
                if words:
                    found.append(f"English on zh-CN page {shot['url']}: {sorted(set(words))}")
            if self.phone and shot["overflow"] > 0:
                found.append(f"{shot['url']} scrolls sideways on a phone by {shot['overflow']} px")
        self.errors.clear()
        self.failures.clear()
        self.snapshots.clear()
        new = [p for p in dict.fromkeys(found) if p not in self.reported]
        self.reported.update(new)
        return new


def _settled(page: Any) -> bool:
    """Whether `page` is open and has finished loading (what `check` reads of it then)."""
    if page.is_closed():
        return False
    try:
        page.wait_for_load_state("load", timeout=10_000)
    except Exception:  # a navigation that does not end: the watchers' snapshots remain
        return False
    return True


def _shows_error(page: Any) -> bool:
    marks = page.locator(", ".join(SHOWN))
    return any(marks.nth(i).is_visible() for i in range(min(marks.count(), 20)))


class Floor:
    """Logged-in pages on one test module's server (see the module's docstring)."""

    def __init__(self, base: str, browser: Any, demo: Demo) -> None:
        self.base = base
        self.browser = browser
        self.demo = demo
        self.watches: dict[int, Watch] = {}
        self.database = _SERVED.get(base)  # the module's copy: names tests typed in are data
        self._states: dict[str, Any] = {}

    def url(self, path: str) -> str:
        return self.base + path

    def open(
        self,
        role: str,
        path: str = "/",
        *,
        locale: str = "zh-CN",
        phone: bool = False,
        fresh: bool = False,
    ) -> Any:
        """A new page logged in as `role`'s user, in `locale` ("zh-CN" or "en"), on a desktop
        or a phone, watched, at `path`. `fresh`: log in anew rather than reuse the role's
        session of this module (after a test that logs out or changes the user)."""
        if role not in USERS:
            raise ValueError(f"no such role {role!r}; roles: {', '.join(USERS)}")
        context = self.browser.new_context(
            locale=LOCALES[locale],
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=phone,
            storage_state=None if fresh else self._states.get(role),
        )
        host = self.base.split("//", 1)[1].split(":")[0]
        context.add_cookies([{"name": LANG_COOKIE, "value": locale, "domain": host, "path": "/"}])
        page = context.new_page()
        watch = Watch(page, locale, phone, self.demo.data_texts)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        page.on("response", watch.on_response)
        page.on("requestfailed", watch.on_request_failed)
        page.expose_binding("__floor", watch.on_binding)
        page.add_init_script(_WATCHER)
        self.watches[id(page)] = watch
        if fresh or role not in self._states:
            page.goto(self.base + "/login")
            page.fill("input[name=username]", USERS[role])
            page.fill("input[name=password]", PASSWORD)
            page.click("button.primary")
            page.wait_for_url(self.base + "/")
            self._states[role] = context.storage_state()
            if path != "/":
                page.goto(self.base + path)
        else:
            page.goto(self.base + path)
        return page

    def watch(self, page: Any) -> Watch:
        return self.watches[id(page)]

    def expect_failure(self, page: Any, status: int, url_part: str = "") -> None:
        """Declare that `page` may get a `status` answer from a URL containing `url_part`
        without showing it (a test that provokes it on purpose)."""
        self.watch(page).expect_failure(status, url_part)

    def allow_words(self, page: Any, *words: str) -> None:
        """Words that `page` may show on zh-CN (data the test itself typed in, say)."""
        self.watch(page).allowed.update(words)

    def check(self, page: Any | None = None) -> None:
        """Fail the test on what the watchers of `page` (default: every open page) saw since
        the last check."""
        pages = [self.watch(page)] if page is not None else list(self.watches.values())
        if self.database is not None:
            data = data_texts_of(self.database)
            for watch in pages:
                watch.data = data
        found = [p for w in pages for p in w.problems()]
        if found:
            pytest.fail("\n".join(found), pytrace=False)

    def close(self) -> None:
        try:
            self.check()
        finally:
            for watch in self.watches.values():
                if not watch.page.is_closed():
                    watch.page.context.close()
            self.watches.clear()


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists() and os.environ.get("UNITRACE_REQUIRE_E2E") != "1":
        pytest.skip("Chromium not installed (scripts/test.sh installs it)")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    _need_chromium()
    return build_demo(tmp_path_factory.mktemp("floor-demo") / "demo.db")


@pytest.fixture(scope="module")
def floor_server(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    copy = tmp_path_factory.mktemp("floor") / "unitrace.db"
    # the backup API copies what the write-ahead log holds too (a file copy would not)
    source, target = sqlite3.connect(demo.path), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    with serve(f"sqlite:///{copy}") as base:
        _SERVED[base] = copy
        yield base
        del _SERVED[base]


@pytest.fixture(scope="module")
def floor_browser() -> Iterator[Any]:
    _need_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def floor(floor_server: str, floor_browser: Any, demo: Demo) -> Iterator[Floor]:
    opened = Floor(floor_server, floor_browser, demo)
    yield opened
    opened.close()
