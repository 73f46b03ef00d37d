"""The public verification page (issue 16): `/v` (type, paste or scan a code), `/v/{code}`
(the answer: genuine, warning, not found), the picture of the product, and the consumer's
report of where a product not found was bought (`POST /v/report`).

No login, phone-first, zh-CN by default and English (`?lang=`, the cookie, Accept-Language),
one small stylesheet (owners.css, shared with the buyer's pages), no script. A GET records the
verification (a QR code is opened by a GET) except when the browser only prefetches it
(`Purpose: prefetch`, `Sec-Purpose: prefetch…`); every answer is `Cache-Control: no-store` and
`X-Robots-Tag: noindex`. The not-found page is the same bytes for any unknown text (only the
CSRF token differs): it does not echo the code. Rate limits, device cookie and the address
come from verify/public.py."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from unitrace.aftersales.warranty import today
from unitrace.catalog.regions import CHOICES, region_name
from unitrace.config import site_timezone
from unitrace.core.errors import UnitraceError
from unitrace.verify import check, pictures, reports
from unitrace.verify.public import address_of, device_of, limited, retry_after, set_device
from unitrace.web import i18n
from unitrace.web.common import csrf_ok, database, field_errors, read_form, render, set_locale
from unitrace.web.i18n import LOCALES
from unitrace.web.verify_owners import CSRF_COOKIE

router = APIRouter(include_in_schema=False)

HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
REPORT_FIELDS = ("shop", "place", "region", "bought_on", "code", "contact")


def _locale(request: Request) -> str:
    """`?lang=`, else the cookie, else Accept-Language when it asks for English; else zh-CN."""
    lang = request.query_params.get("lang")
    if lang not in LOCALES and not request.cookies.get("unitrace_lang"):
        header = (request.headers.get("accept-language") or "").lower()
        lang = "en" if i18n.negotiate(header) == "en" and "en" in header else "zh-CN"
    return set_locale(request, lang if lang in LOCALES else None)


def _prefetch(request: Request) -> bool:
    purpose = request.headers.get("sec-purpose", "") + request.headers.get("purpose", "")
    return "prefetch" in purpose.lower() or "prerender" in purpose.lower()


def _page(request: Request, status: int, view: str, **context: Any) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    locale = i18n.current.get()
    page = render(
        request,
        "verify_page.html",
        status,
        view=view,
        token=token,
        regions=[(c, region_name(c, locale)) for c in CHOICES],
        region_name=lambda code: region_name(code, locale) or (code or ""),
        today=today(),
        **context,
    )
    page.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/v/")
    page.headers.update(HEADERS)
    return page


def _too_many(request: Request, wait: float) -> HTMLResponse:
    page = _page(request, 429, "limited", seconds=int(retry_after(wait)["Retry-After"]))
    page.headers.update(retry_after(wait))
    return page


def code_of(text: str) -> str:
    """The code in what was typed, scanned or pasted: a full URL (…/v/CODE, ?code=CODE) or the
    code itself; spaces and dashes as printed are kept (the engine normalises)."""
    text = text.strip()[:300]
    if "/" in text:
        parts = urlsplit(text if "//" in text else "//" + text)
        segments = [s for s in parts.path.split("/") if s]
        if "v" in segments and segments.index("v") + 1 < len(segments):
            text = segments[segments.index("v") + 1]
        elif segments:
            text = segments[-1]
    return text.strip()[:64]


@router.get("/v")
def start(request: Request, code: str = "") -> Response:
    _locale(request)
    if code.strip():
        found = code_of(code)
        if found:
            lang = request.query_params.get("lang")
            suffix = f"?lang={lang}" if lang in LOCALES else ""
            return RedirectResponse(f"/v/{quote(found, safe='')}{suffix}", 303, headers=HEADERS)
    return _page(request, 200, "start")


@router.post("/v/report")
async def report_submit(request: Request) -> Response:
    _locale(request)
    form = await read_form(request)
    kept = {k: form.get(k, "")[:400] for k in REPORT_FIELDS}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, "not_found", form=kept, expired=True)
    wait = limited(address_of(request), "report " + address_of(request))
    if wait is not None:
        return _too_many(request, wait)
    try:
        reports.submit(database(request), reports.Report(**kept), address_of(request))
    except UnitraceError as error:
        return _page(request, 422, "not_found", form=kept, errors=field_errors(error))
    return _page(request, 200, "reported")


def _answer_page(request: Request, answer: check.Answer) -> HTMLResponse:
    if answer.kind == "not_found":
        return _page(request, 404, "not_found", form={})
    first = answer.first_verified_at
    view = "pin" if answer.reasons == ("pin_missing",) else answer.kind
    return _page(
        request,
        200,
        view,
        answer=answer,
        first_day=first.astimezone(site_timezone()).date() if first else None,
    )


async def _verify(request: Request, code: str, region: str | None, pin: str | None) -> Response:
    address = address_of(request)
    wait = limited(address, code)
    if wait is not None:
        return _too_many(request, wait)
    device, new = device_of(request)
    ctx = check.Context(address, device, region, pin, i18n.current.get())
    page = _answer_page(request, await check.verify(database(request), code, ctx))
    if new:
        set_device(page, device)
    return page


@router.get("/v/{code}")
async def answer_page(request: Request, code: str) -> Response:
    _locale(request)
    if _prefetch(request):  # a browser's guess, not a person's scan: nothing is recorded
        return _page(request, 200, "prefetch", code=code[:64])
    return await _verify(request, code, None, None)


@router.post("/v/{code}")
async def answer_again(request: Request, code: str) -> Response:
    """The same code again with the region the user chose and the PIN (when asked for)."""
    _locale(request)
    form = await read_form(request)
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, "prefetch", code=code[:64], expired=True)
    region = form.get("region", "").strip()[:20]
    region = region if check.REGION_PATTERN.fullmatch(region) else ""
    pin = form.get("pin", "").strip()[:40]
    return await _verify(request, code, region or None, pin or None)


@router.get("/v/{code}/picture")
def picture(request: Request, code: str) -> Response:
    """The product's picture (a known code only; one 404 for any other text)."""
    path = pictures.picture_of(database(request), code)
    if path is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    media = pictures.TYPES[path.suffix.lower()]
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


# --- staff: the consumers' reports (verify.read; the contact only with verify.manage) --------

staff_router = APIRouter(include_in_schema=False)


@staff_router.get("/counterfeit-reports")
def reports_page(request: Request, offset: int = 0) -> Response:
    from unitrace.web.common import require_login

    actor, csrf = require_login(request)
    found = reports.listing(database(request), actor, 100, max(0, offset))
    locale = i18n.current.get()
    return render(
        request,
        "counterfeit_reports.html",
        user=actor,
        csrf=csrf,
        found=found,
        offset=max(0, offset),
        contact=actor.can("verify.manage"),
        region_name=lambda code: region_name(code, locale) or code,
    )
