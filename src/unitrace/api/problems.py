"""RFC 9457 problem responses: every error of the API is one of these, mapped in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException

from unitrace.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    TooLarge,
    Unauthorized,
    UnitraceError,
    ValidationError,
)

MEDIA_TYPE = "application/problem+json"
STATUS: dict[type[UnitraceError], int] = {
    ValidationError: 422,
    NotFound: 404,
    Conflict: 409,
    InvalidTransition: 409,
    Forbidden: 403,
    Unauthorized: 401,
    TooLarge: 413,
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:unitrace:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def field_errors(
    errors: list[Any], drop: tuple[str, ...] = ("body", "query", "path")
) -> list[FieldError]:
    """Pydantic error dicts as FieldErrors with dotted paths (`serials.3`, `gtin`)."""
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        while loc and loc[0] in drop:
            loc.pop(0)
        if error.get("type") == "json_invalid":
            loc = []
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(FieldError(".".join(loc) or "body", message))
    return out


def from_pydantic(exc: PydanticValidationError, prefix: str = "") -> ValidationError:
    errors = field_errors(exc.errors())
    for item in errors:
        item.field = f"{prefix}{item.field}" if item.field != "body" or not prefix else prefix[:-1]
    first = errors[0] if errors else FieldError("body", "invalid")
    return ValidationError(f"{first.field}: {first.message}", errors)


def status_of(exc: Exception) -> int:
    """The HTTP status of an error — for the API and for a page that answers a form."""
    if not isinstance(exc, UnitraceError):
        return 422  # input that failed validation before any use case ran
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


def domain_problem(exc: UnitraceError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The answer to one of our errors: its status, title, detail and field errors."""
    errors = [e.as_dict() for e in exc.errors]
    return problem(status_of(exc), exc.code, exc.title, exc.detail, errors, headers)


def internal_problem(exc: Exception) -> JSONResponse:
    import logging

    logging.getLogger("unitrace").exception("unexpected error", exc_info=exc)
    return problem(
        500, "internal", "Internal error", "unexpected error; it was logged for the administrator"
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(UnitraceError)
    async def _domain(_: Request, exc: UnitraceError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()))
        first = errors[0] if errors else FieldError("body", "invalid")
        detail = f"{first.field}: {first.message}"
        return problem(422, "validation", "Invalid input", detail, [e.as_dict() for e in errors])

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 400: "Bad request"}
        title = titles.get(exc.status_code, "Error")
        return problem(exc.status_code, "http", title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return internal_problem(exc)
