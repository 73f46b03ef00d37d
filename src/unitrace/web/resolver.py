"""unitrace answers its own GS1 Digital Link URIs (issue 15): `GET /01/{gtin}`,
`/01/{gtin}/10/{lot}`, `/01/{gtin}/21/{serial}` and every other key-qualifier path GS1 allows,
with data attributes in the query (`?17=271231`).

Public: no login, not in the header (web/navigation.py lists pages behind a login). A person
(text/html) gets the product page; a machine asking for `application/linkset+json` (or
`?linkType=all`) gets a GS1 linkset (RFC 9264, GS1-Conformant resolver conventions). Every
answer carries a `Link` header to both. A link that is not a GS1 Digital Link is 400 (the
resolver standard); anything unknown is 404, one answer for an unknown GTIN, serial or lot.
The page shows only what `ledger.public` lets anyone know.

A unit's link may carry its verification code (issue 16, `?vc=CODE`, verify/links.py): when
the code is THAT unit's (GTIN and serial), a person is sent on to the verification page
`/v/{code}` (303, not stored); any other code (wrong, another unit's, none) gets the product
page exactly as without it: no verdict, nothing said about the code. A link with only the GTIN
and the serial is guessable: it never gets a verdict.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from unitrace.config import public_url
from unitrace.core import gs1
from unitrace.core.errors import NotFound, ValidationError
from unitrace.ledger.public import UNKNOWN, public_item
from unitrace.verify import links as verify_links
from unitrace.web.common import database, render, set_locale
from unitrace.web.i18n import LOCALES

router = APIRouter(include_in_schema=False)

LINKSET = "application/linkset+json"
PIP = "https://gs1.org/voc/pip"  # product information page
DEFAULT_LINK = "https://gs1.org/voc/defaultLink"
# what a linkset answer is told apart from a page by (`Vary`), and who may read it (CORS:
# the resolver standard wants any web app to be able to resolve)
_COMMON = {"Vary": "Accept, Accept-Language, Cookie", "Access-Control-Allow-Origin": "*"}


def _wants_linkset(request: Request) -> bool:
    if request.query_params.get("linkType") in ("all", "linkset"):
        return True
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == LINKSET for part in accept.split(","))


def _gs1_query(request: Request) -> str:
    """The query's GS1 data attributes (numeric keys); our own (`linkType`, `lang`) are not."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k.isascii() and k.isdigit()], quote_via=quote)


def _parsed(request: Request) -> gs1.Gs1Data:
    """The request as a GS1 Digital Link (its path as sent: a serial may hold an encoded /)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?")[0]
    _, key, rest = path.partition("/01/")
    gtin, slash, qualifiers = rest.partition("/")
    if gtin.isascii() and gtin.isdigit() and len(gtin) in (8, 12, 13):
        path = f"/01/{gs1.gtin14(gtin)}{slash}{qualifiers}"  # a GTIN in any length
    query = _gs1_query(request)
    uri = f"{public_url()}{path}" + (f"?{query}" if query else "")
    return gs1.parse(uri, field="link")


@router.get("/01/{rest:path}")
def resolve(request: Request, rest: str) -> Response:
    lang = request.query_params.get("lang")
    set_locale(request, lang if lang in LOCALES else None)
    linkset = _wants_linkset(request)
    try:
        data = _parsed(request)
    except ValidationError as error:
        return _problem(request, 400, error, linkset)
    gtin = data.gtin
    try:
        if gtin is None:  # a path under /01/ always names one (mypy: it is a str below)
            return _problem(request, 404, None, linkset)
        item = public_item(database(request), gtin, data.serial, data.lot, data.expiry)
    except NotFound:
        return _problem(request, 404, None, linkset)
    if verify_links.PARAMETER in request.query_params:
        code = request.query_params[verify_links.PARAMETER]
        if not linkset and data.serial is not None:
            own = verify_links.belongs(database(request), code, gs1.gtin14(gtin), data.serial)
            if own is not None:
                return RedirectResponse(
                    f"/v/{own}", status_code=303, headers={"Cache-Control": "no-store"}
                )
        request = _without_code(request)  # any other code: the page exactly as without one
    anchor = gs1.digital_link(data.elements, public_url())
    here = _here(request, data)
    links = _links(here)
    if linkset:
        body = {"linkset": [{"anchor": anchor, **_link_types(here, item)}]}
        return JSONResponse(body, media_type=LINKSET, headers={**_COMMON, "Link": links})
    page = render(request, "public_item.html", item=item, anchor=anchor)
    page.headers.update({**_COMMON, "Link": links})
    return page


def _without_code(request: Request) -> Request:
    """The request as if its link carried no code (the page echoes its own address)."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    kept = urlencode([(k, v) for k, v in pairs if k != verify_links.PARAMETER], quote_via=quote)
    return Request({**request.scope, "query_string": kept.encode()}, request.receive)


def _here(request: Request, data: gs1.Gs1Data) -> str:
    """This resolver's own URI of the item (where the request came: the server's address)."""
    return gs1.digital_link(data.elements, str(request.base_url).rstrip("/"))


def _links(here: str) -> str:
    joiner = "&" if "?" in here else "?"
    return (
        f'<{here}>; rel="{PIP}"; type="text/html", '
        f'<{here}>; rel="{DEFAULT_LINK}"; type="text/html", '
        f'<{here}{joiner}linkType=all>; rel="linkset"; type="{LINKSET}"'
    )


def _link_types(here: str, item: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    link = {
        "href": here,
        "title": item["product"]["name"],
        "type": "text/html",
        "hreflang": list(LOCALES),
    }
    return {DEFAULT_LINK: [link], PIP: [link]}


def _problem(
    request: Request, status: int, error: ValidationError | None, linkset: bool
) -> Response:
    """One answer per status whatever was unknown: the text never echoes the request."""
    if linkset:
        title = "Not found" if status == 404 else "Not a GS1 Digital Link"
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if error is None:
            body["detail"] = UNKNOWN
        else:
            body["detail"] = error.detail
            body["errors"] = [e.as_dict() for e in error.errors]
        return JSONResponse(
            body, status_code=status, media_type="application/problem+json", headers=_COMMON
        )
    page = render(request, "public_item.html", status, item=None, bad_link=status == 400)
    page.headers.update(_COMMON)
    return page
