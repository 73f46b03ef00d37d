"""Ledger API: commissioning, the event write path, unit lists and the dossier."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from unitrace.access.principal import Actor
from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.api.problems import from_pydantic
from unitrace.core.errors import invalid
from unitrace.db.engine import Database
from unitrace.ledger import group, queries, service
from unitrace.ledger.queries import MAX_PAGE
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH
from unitrace.ledger.schemas import CommissionIn, EventIn

router = APIRouter(tags=["ledger"])
_event_list = TypeAdapter(list[EventIn])
_EVENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/EventIn"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}},
                    ]
                }
            }
        },
    }
}


@router.post("/units/commission", status_code=201)
def commission(body: CommissionIn, db: DatabaseDep, actor: CurrentActor) -> JSONResponse:
    """Make new units from the product's serial rule (`count`) or register `serials`.
    A repeated `event_id` answers 200 with `replayed: true`."""
    result = service.commission_units(db, actor, body)
    return JSONResponse(result.public(), status_code=200 if result.replayed else 201)


@router.post("/events", openapi_extra=_EVENT_BODY, status_code=201)
async def record_events(request: Request, db: DatabaseDep, actor: CurrentActor) -> JSONResponse:
    """The single write path: one event, or a list written in one transaction (all or none).
    (The app usually answers this request through `api.fastpath` instead, which calls the same
    `answer_events`: same answer.)"""
    return await answer_events(db, actor, await request.body())


async def answer_events(db: Database, actor: Actor, body: bytes) -> JSONResponse:
    """POST /events, once for both of its doors (this route and `api.fastpath`): the body
    parsed, the events written — one event (a scan) together with others that arrive meanwhile
    (group commit), a list in one transaction — and the answer. Errors are raised, for the
    caller to answer with `api.problems.domain_problem`."""
    payload, batch = parse_events(body)
    if isinstance(payload, dict):
        recorded = await group.record(db, actor, batch[0])
        return events_answer(recorded.public(), recorded.replayed)
    written = await run_in_threadpool(service.record_events, db, actor, batch)
    return events_answer([r.public() for r in written], all(r.replayed for r in written))


def events_answer(content: Any, replayed: bool) -> JSONResponse:
    """201 with what was written, 200 if it all had been written before (a replay)."""
    return JSONResponse(content, status_code=200 if replayed else 201)


def parse_events(raw: bytes) -> tuple[Any, list[EventIn]]:
    """The body of POST /events: (the JSON, its events); 422 naming what is wrong."""
    try:
        payload = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("body", "is not valid JSON (or nested too deeply)") from None
    try:
        if isinstance(payload, list):
            if not payload:
                raise invalid("body", "the list of events is empty")
            return payload, _event_list.validate_python(payload)
        if isinstance(payload, dict):
            return payload, [EventIn.model_validate(payload)]
        raise invalid("body", "send one event object or a list of them")
    except PydanticValidationError as exc:
        raise from_pydantic(exc) from None


@router.get("/units", response_model=None)
def list_units(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = None,
    lot: str | None = None,
    status: str | None = None,
    location: str | None = None,
    holder: str | None = None,
    q: str | None = Query(
        default=None,
        max_length=64,
        description="a serial or its beginning (serial order; lower case finds the upper-case "
        "serials of products whose rule makes only those); with `product` only",
    ),
    after: str | None = Query(default=None, description="the `next` cursor of the last page"),
    limit: int = Query(default=50, ge=1, le=1000),
    code: str | None = Query(
        default=None,
        min_length=1,
        max_length=MAX_SCANNED_LENGTH,
        description="whatever a scanner sent — a serial, a GS1 element string, bracketed "
        "string or Digital Link URI: answers the dossier of the unit it names, as "
        "`/units/{serial}` does (with `product` only)",
    ),
    format: downloads.Format = Query(
        default="json",
        description="`csv` or `xlsx`: every unit the filters match (from `after`), downloaded",
    ),
) -> dict[str, Any] | Response:
    if format != "json" and code is not None:
        raise invalid("format", "a look-up by `code` answers JSON only", format)
    if code is not None:
        given = {"lot": lot, "status": status, "location": location, "holder": holder, "q": q}
        others = [name for name, value in {**given, "after": after}.items() if value]
        if others:
            raise invalid(others[0], "a look-up by `code` takes only `product`")
        return queries.dossier(db, actor, code, product)
    if after is not None and not (after.isascii() and after.isdigit() and len(after) <= 18):
        raise invalid("after", "is not a cursor from a previous page", after)
    if q is not None:
        others = [n for n, v in (("lot", lot), ("status", status), ("location", location),
                                 ("holder", holder)) if v]  # fmt: skip
        if others:
            raise invalid(others[0], "a search by serial (`q`) takes only `product`")
        if format != "json":
            rows = downloads.paged(
                lambda page: queries.search_units(
                    db, actor, q, product=product, after=_cursor(page, after), limit=MAX_PAGE
                )
            )
            return downloads.download("units", downloads.UNITS, rows, format)
        cursor = int(after) if after else None
        return queries.search_units(db, actor, q, product=product, after=cursor, limit=limit)
    filters: dict[str, Any] = dict(
        product=product, lot=lot, status=status, location=location, holder=holder
    )
    if format != "json":
        rows = downloads.paged(
            lambda page: queries.list_units(
                db, actor, **filters, after=_cursor(page, after), limit=MAX_PAGE
            )
        )
        return downloads.download("units", downloads.UNITS, rows, format)
    return queries.list_units(
        db, actor, **filters, after=int(after) if after else None, limit=limit
    )


def _cursor(page: str | None, first: str | None) -> int | None:
    """The cursor of the next page of a download: the last page's `next`, else `after`."""
    given = page or first
    return int(given) if given else None


@router.get("/units/{serial:path}", response_model=None)
def unit_dossier(
    serial: str,
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = None,
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: the unit's events (its timeline)"
    ),
) -> dict[str, Any] | Response:
    """The dossier: identity, state, components, warranty and the whole event timeline."""
    found = queries.dossier(db, actor, serial, product)
    if format != "json":
        name = f"events-{found['serial']}"
        return downloads.download(name, downloads.EVENTS, found["events"], format)
    return found
