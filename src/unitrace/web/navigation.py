"""The pages of the header, with the permissions that open each one and those that make it worth
listing for a role: one table, read by the header (`base.html`) and by the guard that answers
403 to a role that may not open a page (docs/access.md, "Web pages by role").

A page is *listed* for a role that may open it and may do its task (`uses`, any one of them;
none given: opening it is its use). Roles that write nothing (auditor, readonly) read
everything, so they also list the reading side of pages whose task they cannot do (`readers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from fastapi import Request
from fastapi.responses import Response

from unitrace.access.principal import PERMISSIONS, ROLES, Actor
from unitrace.web import i18n
from unitrace.web.common import page_forbidden, require_login, templates


@dataclass(frozen=True)
class Page:
    path: str
    label: str  # a msgid, translated in the header
    opens: frozenset[str]  # every one of these is needed to open the page
    uses: frozenset[str] = frozenset()  # any one of these makes the page worth listing
    readers: bool = False  # listed for roles that write nothing (they read everything)


def _scan_actions() -> frozenset[str]:
    from unitrace.web.pages import SCAN_ACTIONS  # the scan station's actions, whatever they are

    return frozenset(f"event:{action}" for action in SCAN_ACTIONS)


def _all(*permissions: str) -> frozenset[str]:
    unknown = set(permissions) - set(PERMISSIONS)
    assert not unknown, unknown
    return frozenset(permissions)


@cache
def pages() -> tuple[Page, ...]:
    return (
        Page("/", "Home", _all("read")),
        Page("/units", "Find a unit", _all("read")),
        Page("/commission", "Commission", _all("event:commission")),
        Page("/scan", "Scan station", _all("read"), _scan_actions()),
        Page("/assembly", "Assembly", _all("event:assemble")),
        Page("/steps", "Process steps", _all("event:inspect")),
        Page("/trace", "Trace", _all("trace")),
        Page("/recalls", "Recalls", _all("trace")),
        Page("/quality", "Quality", _all("trace")),
        Page(
            "/warranty-report",
            "Warranty report",
            _all("trace", "service.read"),
            _all("recall.manage", "warranty.manage"),
            True,
        ),
        Page("/inventory", "Inventory", _all("catalog.read")),
        Page("/shipments", "Shipments", _all("catalog.read"), _all("event:ship"), True),
        Page(
            "/diversions", "Diversion alerts", _all("catalog.read"), _all("diversion.manage"), True
        ),
        Page("/stocktakes", "Stocktakes", _all("catalog.read"), _all("event:count"), True),
        Page("/sell-through", "Sell-through", _all("event:sell")),
        Page("/service", "Service desk", _all("service.read"), _all("service.write")),
        Page("/cases", "Service cases", _all("service.read"), _all("service.write"), True),
        Page("/claim-rules", "Claim rules", _all("service.read"), _all("claim.override")),
        Page("/spares", "Spare-part requests", _all("spares.manage")),
        Page("/owners", "Buyers and owners", _all("owners.read")),
        Page("/clone-alerts", "Clone alerts", _all("verify.read"), _all("verify.manage"), True),
        Page("/counterfeit-reports", "Counterfeit reports", _all("verify.read")),
        Page("/labels/runs", "Print runs", _all("labels.print")),
        Page("/products", "Products", _all("read")),
        Page("/lots", "Lots", _all("catalog.read")),
        Page("/parties", "Parties", _all("catalog.read")),
        Page("/locations", "Locations", _all("catalog.read")),
        Page(
            "/label-templates", "Label templates", _all("catalog.read"), _all("catalog.write"), True
        ),
        Page("/admin/users", "Users", _all("access.admin")),
        Page("/audit", "Audit trail", _all("audit.read")),
        Page("/webhooks", "Webhooks", _all("webhooks.manage")),
        Page("/imports", "Import", _all("import.run")),
    )


def writes_nothing(role: str) -> bool:
    """A role with no permission to record, change or manage anything (auditor, readonly)."""
    reading = {"read", "catalog.read", "trace", "audit.read", "service.read", "verify.read"}
    return not (ROLES.get(role, frozenset()) - reading)


def may_open(actor: Actor, page: Page) -> bool:
    return all(actor.can(p) for p in page.opens)


def listed(actor: Actor, page: Page) -> bool:
    if not may_open(actor, page):
        return False
    if not page.uses:
        return True
    return any(actor.can(p) for p in page.uses) or (page.readers and writes_nothing(actor.role))


def header(actor: Actor) -> list[Page]:
    """The pages in `actor`'s header, in the table's order."""
    return [page for page in pages() if listed(actor, page)]


class PageForbidden(Exception):
    def __init__(self, actor: Actor, csrf: str, locale: str) -> None:
        self.actor, self.csrf, self.locale = actor, csrf, locale


def guard(request: Request) -> None:
    """A dependency of the page routers: a GET of a page of the table that the role may not
    open is answered with the 403 page before the page's handler runs."""
    if request.method != "GET":
        return
    page = next((p for p in pages() if p.path == request.url.path), None)
    if page is None:
        return
    actor, csrf = require_login(request)
    if not may_open(actor, page):
        raise PageForbidden(actor, csrf, i18n.current.get())  # the user's language, set above


async def forbidden(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageForbidden)
    # the guard ran in a worker thread: its language was set there, not here
    i18n.current.set(error.locale)
    return page_forbidden(request, error.actor, error.csrf)


templates.env.globals["nav_pages"] = header
