"""The public edge of a verification: `GET|POST /v/{code}.json` (the page, `/v/{code}`, is
web/verify_page.py), its rate limits and the device cookie both share.

Rate limits (`UNITRACE_VERIFY_PER_ADDRESS`, `UNITRACE_VERIFY_PER_CODE`: requests a minute;
0 = none): token buckets of that size refilled over a minute, per client address and per code
(so that nobody enumerates codes or floods one code's counter); 429 with Retry-After.
"""

from __future__ import annotations

import functools
import math
import os
import secrets
import time
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from unitrace.core.buckets import Buckets
from unitrace.core.errors import FieldError, ValidationError
from unitrace.verify import check

router = APIRouter(include_in_schema=False)

DEVICE_COOKIE = "ut_device"
DEVICE_AGE = 2 * 365 * 24 * 3600
DEFAULTS = {"UNITRACE_VERIFY_PER_ADDRESS": 29, "UNITRACE_VERIFY_PER_CODE": 10}


def _per_minute(name: str) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return DEFAULTS[name]
    if not text.isdigit():
        raise RuntimeError(f"{name} must be a whole number ≥ 0 (0: no limit), not {text!r}")
    return int(text)


@functools.cache
def _limits() -> tuple[Buckets | None, Buckets | None]:
    out = []
    for name in DEFAULTS:
        size = _per_minute(name)
        out.append(Buckets(size / 60, size) if size else None)
    return out[0], out[1]


def limited(address: str, code: str) -> float | None:
    """Seconds until this address may verify this code again, or None: it may now (and the
    request is counted). Unknown codes count against the address like known ones."""
    now = time.monotonic()
    per_address, per_code = _limits()
    for buckets, key in ((per_address, address), (per_code, code.strip().upper()[:64])):
        if buckets is not None:
            wait = buckets.take(key, now)
            if wait:
                return wait
    return None


def reset_limits() -> None:
    """Read the settings again and forget every count (tests)."""
    _limits.cache_clear()


def retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def address_of(request: Request) -> str:
    """The client's address (api.limits has believed a trusted proxy's X-Forwarded-For)."""
    return request.client.host if request.client else ""


def device_of(request: Request) -> tuple[str, bool]:
    """The device's cookie id, and whether it is new (the answer must set it)."""
    known = request.cookies.get(DEVICE_COOKIE, "")
    if 16 <= len(known) <= 40 and known.replace("-", "").replace("_", "").isalnum():
        return known, False
    return secrets.token_urlsafe(16), True


def set_device(response: Response, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE, device, max_age=DEVICE_AGE, httponly=True, samesite="lax", path="/"
    )


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def public_answer(answer: check.Answer) -> dict[str, Any]:
    """The answer as JSON: only what the public may know; not found is the same for all."""
    if answer.kind == "not_found":
        return {"kind": "not_found"}
    return {k: _json(v) for k, v in asdict(answer).items() if k != "extra"}


REGION_PATTERN = check.REGION_PATTERN


async def _answer(request: Request, code: str, region: str | None, pin: str | None) -> Response:
    address = address_of(request)
    wait = limited(address, code)
    if wait is not None:
        body = {"type": "about:blank", "title": "Too many requests", "status": 429}
        return JSONResponse(body, 429, headers=retry_after(wait))
    if region is not None and not REGION_PATTERN.fullmatch(region):
        error = ValidationError(
            "the region is not a region code",
            [FieldError("region", "not a region code like CN-44 or CN-4401", region[:20])],
        )
        body = {
            "type": "about:blank",
            "title": "Bad request",
            "status": 422,
            "detail": error.detail,
            "errors": [e.as_dict() for e in error.errors],
        }
        return JSONResponse(body, 422)
    device, new = device_of(request)
    ctx = check.Context(address, device, region or None, pin or None)
    answer = await check.verify(request.app.state.db, code, ctx)
    status = 404 if answer.kind == "not_found" else 200
    response = JSONResponse(public_answer(answer), status, headers={"Cache-Control": "no-store"})
    if new:
        set_device(response, device)
    return response


@router.get("/v/{code}.json")
async def verify_json(request: Request, code: str, region: str | None = None) -> Response:
    return await _answer(request, code, region, None)


@router.post("/v/{code}.json")
async def verify_json_post(request: Request, code: str) -> Response:
    form: dict[str, Any] = {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        form = body if isinstance(body, dict) else {}
    else:
        form = dict(await request.form())
    region, pin = form.get("region"), form.get("pin")
    return await _answer(
        request,
        code,
        region if isinstance(region, str) else None,
        pin if isinstance(pin, str) else None,
    )
