"""The EPCIS 2.0 REST binding at `/epcis`: capture, capture jobs, events and their queries.

Every answer carries `GS1-EPCIS-Version` and `GS1-CBV-Version`; documents are answered as
`application/ld+json`, errors as RFC 9457 problems naming JSON paths or query parameters (400
for input that is not valid EPCIS, as the binding says).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.api.problems import domain_problem, problem
from unitrace.core.errors import FieldError, UnitraceError, ValidationError
from unitrace.interop.epcis import capture, query

router = APIRouter(prefix="/epcis", tags=["epcis"])
VERSIONS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
LD_JSON = "application/ld+json"
_TAKEN = ("application/json", "application/ld+json")
T = TypeVar("T")


def _problem(error: UnitraceError) -> JSONResponse:
    if isinstance(error, ValidationError):  # the binding answers bad input with 400
        errors = [e.as_dict() for e in error.errors]
        return problem(400, error.code, error.title, error.detail, errors, VERSIONS)
    return domain_problem(error, headers=VERSIONS)


async def _run(work: Callable[[], T]) -> T | JSONResponse:
    try:
        return await run_in_threadpool(work)
    except UnitraceError as error:
        return _problem(error)


def _ld(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        content, status, headers={**VERSIONS, **(headers or {})}, media_type=LD_JSON
    )


async def _body(request: Request) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _TAKEN:
        raise ValidationError(
            "send the document as application/ld+json or application/json",
            [FieldError("Content-Type", "application/ld+json or application/json", kind)],
        )
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationError(
            "the body is not JSON", [FieldError("$", f"not JSON: {error}")]
        ) from None
    except RecursionError:  # deeper than the parser goes: no event is nested so
        raise ValidationError(
            "the body is nested too deeply", [FieldError("$", "nested too deeply")]
        ) from None


_CAPTURE_BODY = {
    "requestBody": {
        "required": True,
        "content": {LD_JSON: {"schema": {"type": "object", "description": "EPCISDocument"}}},
    }
}


@router.post("/capture", status_code=202, openapi_extra=_CAPTURE_BODY)
async def capture_document(request: Request, db: DatabaseDep, actor: CurrentActor) -> Response:
    """Capture an EPCISDocument (needs `epcis.capture` and the ledger permission of each event
    it becomes). All or nothing unless `GS1-Capture-Error-Behaviour: proceed`. Runs while the
    request waits: 202 with the finished job and its `Location`."""
    try:
        behaviour = capture.behaviour_of(request.headers.get("GS1-Capture-Error-Behaviour"))
        actor.require("epcis.capture")
        document = await _body(request)
    except UnitraceError as error:
        return _problem(error)
    done = await _run(lambda: capture.capture(db, actor, document, behaviour=behaviour))
    if isinstance(done, JSONResponse):
        return done
    location = f"/epcis/capture/{done['captureID']}"
    return JSONResponse(done, 202, headers={**VERSIONS, "Location": location})


@router.get("/capture/{capture_id}")
async def capture_job(capture_id: int, db: DatabaseDep, actor: CurrentActor) -> Response:
    """A capture job: status, counts, refused events by JSON path, duplicates found by hash."""
    done = await _run(lambda: capture.job(db, actor, capture_id))
    if isinstance(done, JSONResponse):
        return done
    return JSONResponse(done, headers=VERSIONS)


@router.post("/events", status_code=201, openapi_extra=_CAPTURE_BODY)
async def capture_one(request: Request, db: DatabaseDep, actor: CurrentActor) -> Response:
    """Capture one EPCIS event (all or nothing); 201 with its `Location`."""
    try:
        actor.require("epcis.capture")
        event = await _body(request)
    except UnitraceError as error:
        return _problem(error)
    done = await _run(lambda: capture.capture_event(db, actor, event))
    if isinstance(done, JSONResponse):
        return done
    key = event.get("eventID") if isinstance(event.get("eventID"), str) else done.get("hash_id")
    headers = {**VERSIONS, "Location": f"/epcis/events/{quote(str(key), safe='')}"}
    return JSONResponse(done, 201, headers=headers)


def _query(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        found.setdefault(name, []).append(value)
    return found


def _page(request: Request, answer: dict[str, Any]) -> JSONResponse:
    headers: dict[str, str] = {}
    token = answer["next_page_token"]
    if token is not None:
        others = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        query_text = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in others)
        link = f"{request.url.path}?{query_text}{'&' if query_text else ''}nextPageToken={token}"
        headers["Link"] = f'<{link}>; rel="next"'
    return _ld(answer["document"], headers=headers)


@router.get("/events")
async def list_events(request: Request, db: DatabaseDep, actor: CurrentActor) -> Response:
    """Events with the standard query parameters (eventType, GE_/LT_eventTime, GE_recordTime,
    EQ_action, EQ_bizStep, EQ_disposition, EQ_readPoint, EQ_bizLocation, MATCH_epc,
    MATCH_anyEPC, MATCH_parentID, EQ_bizTransaction_<type>, perPage, nextPageToken); an
    EPCISQueryDocument, the next page in the `Link` header."""
    raw = _query(request)
    done = await _run(lambda: query.query_events(db, actor, query.parse(raw)))
    return done if isinstance(done, JSONResponse) else _page(request, done)


@router.get("/events/{event_id:path}")
async def one_event(event_id: str, db: DatabaseDep, actor: CurrentActor) -> Response:
    """One event by its eventID, its hash ID (captured events) or the ledger's event id."""
    done = await _run(lambda: query.get_event(db, actor, event_id))
    return done if isinstance(done, JSONResponse) else _ld(done)


@router.get("/epcs/{epc:path}/events")
async def epc_events(epc: str, request: Request, db: DatabaseDep, actor: CurrentActor) -> Response:
    """Every event that names the EPC (EPC URN or Digital Link URI), with the same query
    parameters as /epcis/events."""
    raw = _query(request)
    done = await _run(lambda: query.query_events(db, actor, query.parse(raw, epc)))
    return done if isinstance(done, JSONResponse) else _page(request, done)
