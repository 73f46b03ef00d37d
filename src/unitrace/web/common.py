"""What every web page shares: templates, the session's actor and language, CSRF, and the
translation of use-case errors into messages next to the form fields."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError as PydanticValidationError
from starlette.types import Scope

from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.api import downloads
from unitrace.api.problems import status_of
from unitrace.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    TooLarge,
    Unauthorized,
    UnitraceError,
    ValidationError,
)
from unitrace.core.lifecycle import EVENT_TYPES
from unitrace.db.engine import Database
from unitrace.interop import exports
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH
from unitrace.web import i18n, translate
from unitrace.web.i18n import _

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals.update(
    _=_,
    LOCALES=i18n.LOCALES,
    format_time=i18n.format_time,
    format_number=i18n.format_number,
    EVENT_TYPES=EVENT_TYPES,
    format_percent=i18n.format_percent,
    choices=translate.choices,
    STATUSES=translate.STATUSES,
)
templates.env.globals["SCAN_LENGTH"] = MAX_SCANNED_LENGTH  # what a scan field takes (GS1 too)
templates.env.filters["translate"] = _
# the system's own records (demo data, migrations) are by the user "system": a word, not a name
templates.env.filters["user_name"] = lambda name: _("system") if name == SYSTEM.username else name
templates.env.filters["zip_names"] = lambda codes, rows: [
    (code, f"{code} · {row.get('name', '')}") for code, row in zip(codes, rows, strict=True)
]
SESSION_COOKIE = "unitrace_session"
LANG_COOKIE = "unitrace_lang"
LOGIN_CSRF_COOKIE = "unitrace_login_csrf"


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def session_of(request: Request) -> tuple[Actor, str, str | None] | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        return access.session_actor(database(request), session_id)
    except Unauthorized:
        return None


def set_locale(request: Request, chosen: str | None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    locale = chosen or (cookie if cookie in i18n.LOCALES else None)
    locale = locale or i18n.negotiate(request.headers.get("accept-language"))
    i18n.current.set(locale)
    return locale


# context values that carry a use case's message (English as raised): shown translated
ERROR_TEXTS = ("detail", "missing", "error")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page or fragment; the use-case messages it shows are put in the page's language here,
    once, whichever handler passed them (`translate.message`: already translated texts and
    texts of no use case pass unchanged)."""
    for key in ERROR_TEXTS:
        if isinstance(context.get(key), str):
            context[key] = translate.message(context[key])
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    context["locale"] = i18n.current.get()
    return templates.TemplateResponse(request, name, context, status_code=status)


def error_title(error: UnitraceError) -> str:
    titles: list[tuple[type[UnitraceError], str]] = [
        (InvalidTransition, _("Not allowed in this state")),
        (NotFound, _("Not found")),
        (Conflict, _("Conflict")),
        (Forbidden, _("Not permitted")),
        (TooLarge, _("Too large")),
        (ValidationError, _("Invalid input")),
    ]
    for kind, title in titles:
        if isinstance(error, kind):
            return title
    return _("Error")


def field_errors(error: UnitraceError) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in error.errors:  # the first message of each field (1,000 may name one field)
        name = item.field.split(".")[0]
        if name not in out:
            out[name] = translate.message(item.message)
    return out


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def csrf_ok(expected: str, form: dict[str, str], request: Request) -> bool:
    given = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    return bool(expected) and hmac.compare_digest(given, expected)


class LoginRequired(Exception):
    """Raised by `require_login`; the app answers with a redirect to /login."""


def require_login(request: Request) -> tuple[Actor, str]:
    who = session_of(request)
    if who is None:
        raise LoginRequired()
    actor, csrf, locale = who
    set_locale(request, locale)
    return actor, csrf


def _pydantic_message(item: Any) -> str:
    """A Pydantic error as a short message in the page's language (by its type, not its English
    text, so the translation does not depend on Pydantic's wording)."""
    ctx = item.get("ctx") or {}
    kind = item["type"]
    if kind == "missing":
        return _("required")
    if kind == "string_too_short":
        return _("must have at least %(n)s characters") % {"n": ctx.get("min_length")}
    if kind == "string_too_long":
        return _("must have at most %(n)s characters") % {"n": ctx.get("max_length")}
    if kind == "string_pattern_mismatch":
        return _("contains characters that are not allowed here")
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return _("must be a whole number")
    if kind == "greater_than_equal":
        return _("must be at least %(n)s") % {"n": ctx.get("ge")}
    if kind == "less_than_equal":
        return _("must be at most %(n)s") % {"n": ctx.get("le")}
    if kind == "literal_error":
        return _("choose one of the offered values")
    if kind.startswith("date"):
        return _("not a date (YYYY-MM-DD)")
    return translate.message(str(item["msg"]).removeprefix("Value error, "))


def form_errors(error: Exception) -> dict[str, str]:
    """Messages keyed by form field (the first part of the error's field path), translated;
    `form` holds what belongs to no field. Accepts our errors and Pydantic's."""
    errors: dict[str, str] = {}
    if isinstance(error, PydanticValidationError):
        for item in error.errors():
            where = str(item["loc"][0]) if item["loc"] else "form"
            errors.setdefault(where, _pydantic_message(item))
        return errors
    if isinstance(error, UnitraceError):
        errors = field_errors(error)
        errors.setdefault("form", error_title(error) + ": " + translate.message(error.detail))
        return errors
    raise error


def problem_page(scope: Scope, error: UnitraceError) -> HTMLResponse:
    """Bad input refused before a page was reached (`api.limits`: a character that cannot be
    stored): the reason on a page in the user's language, each field named."""
    request = Request(scope)
    set_locale(request, None)
    return render(
        request,
        "problem.html",
        status_of(error),
        title=error_title(error),
        problems=[(item.field, translate.message(item.message)) for item in error.errors],
    )


def download(
    name: str,
    columns: tuple[str, ...] | exports.Columns,
    items: Iterable[Mapping[str, Any]],
    fmt: str = "csv",
) -> Response:
    """A list downloaded from a page, streamed (`api.downloads`), in the page's language: the
    headers and the words of our own (states, kinds) translated (`translate.rows`), serials,
    codes, names and numbers as they are. The CSV starts with a UTF-8 byte order mark: Excel
    reads the file as UTF-8 only with it (Chinese Excel takes a file without it for GB18030)."""
    cols = exports.as_columns(columns)
    keys = tuple(c.key for c in cols)
    headers = translate.headers(tuple(c.msgid for c in cols))
    return downloads.download(name, cols, translate.rows(keys, items), fmt, headers, bom=True)


def page_forbidden(request: Request, actor: Actor, csrf: str) -> HTMLResponse:
    return render(request, "forbidden.html", 403, user=actor, csrf=csrf)


def blank_to_none(form: dict[str, str], *names: str) -> dict[str, str | None]:
    """The named fields of a form, stripped, with empty ones as None (fields a user left empty)."""
    return {name: (form.get(name) or "").strip() or None for name in names}


async def login_redirect(request: Request, _error: Exception) -> Response:
    """Pages answer a missing or expired session with the login page (htmx: a full redirect)."""
    target = f"/login?next={quote(request.url.path)}"
    if request.headers.get("hx-request"):
        set_locale(request, None)
        return HTMLResponse(_("Please log in again."), 401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def expired_form() -> dict[str, str]:
    """The form error of a form whose CSRF token no longer matches the session."""
    return {"form": _("The form expired; please try again.")}
