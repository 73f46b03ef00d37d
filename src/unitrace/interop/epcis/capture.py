"""EPCIS 2.0 capture: an EPCISDocument (or one event) validated, hashed, mapped onto the ledger
where the units are ours, and kept whole in the repository — in one transaction.

- The document is validated against the EPCIS 2.0 JSON Schema (`schema.validate_document`);
  every problem is named by its JSON path (`$.epcisBody.eventList[1].eventTime`).
- Every event gets its CBV 2.0 hash ID; an event the repository holds already (or that comes
  twice in the document) is not captured again, and the job says so (`duplicates`).
- The events about our units go through the one write pipeline (`ledger.pipeline.record`), as
  the capturing user: it needs `epcis.capture` and the ledger permission of each event.
- All or nothing by default: a refused event refuses the whole document, naming its JSON path,
  and nothing is written. `GS1-Capture-Error-Behaviour: proceed` keeps the good events and
  reports the others in the job.

Capture runs while the request waits (documents are bounded by UNITRACE_MAX_BODY_BYTES): the
answer is 202 with the finished job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core.errors import FieldError, NotFound, UnitraceError, ValidationError, invalid
from unitrace.db.engine import Database
from unitrace.db.retry import retried
from unitrace.interop.epcis import hashing, schema, store
from unitrace.interop.epcis.ledger_events import event_time, to_ledger
from unitrace.ledger.limits import check_request
from unitrace.ledger.pipeline import Job, record
from unitrace.ledger.write import Recorded

ROLLBACK, PROCEED = "rollback", "proceed"
BEHAVIOURS = (ROLLBACK, PROCEED)
_EVENT_PATH = re.compile(r"^\$\.epcisBody\.eventList\[(\d+)\]")
_NUMBERED = re.compile(r"^event \d+: ")


def path_of(index: int) -> str:
    return f"$.epcisBody.eventList[{index}]"


def hash_id(event: dict[str, Any], context: Any, path: str = "$") -> str:
    """The CBV 2.0 hash ID of a captured event, its document's @context naming the prefixes of
    its extensions; an event it cannot be computed for (nested too deeply) named by `path`."""
    try:
        return hashing.event_hash_id(event, context or None)
    except ValidationError as error:
        said = error.errors[0].message if error.errors else error.detail
        raise ValidationError(f"{path}: {said}", [FieldError(path, said)]) from None


def behaviour_of(value: str | None) -> str:
    """The GS1-Capture-Error-Behaviour header's value (rollback when not sent)."""
    chosen = (value or ROLLBACK).strip().lower()
    if chosen not in BEHAVIOURS:
        raise invalid("GS1-Capture-Error-Behaviour", "rollback or proceed", value)
    return chosen


def capture_event(db: Database, actor: Actor, event: Any) -> dict[str, Any]:
    """One event (POST /epcis/events): validated on its own (paths from `$`), then captured as
    a document of one event."""
    actor.require("epcis.capture")
    schema.validate_event(event, "$")
    assert isinstance(event, dict)
    context = event.get("@context")
    body = {k: v for k, v in event.items() if k != "@context"}
    digest = hash_id(body, context)  # one it cannot be computed for: named `$`, as sent
    document = {
        "@context": context or [],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(),
        "epcisBody": {"eventList": [body]},
    }
    done = capture(db, actor, document, behaviour=ROLLBACK, validated=True)
    return {**done, "hash_id": digest}


def capture(
    db: Database,
    actor: Actor,
    document: Any,
    *,
    behaviour: str = ROLLBACK,
    validated: bool = False,
) -> dict[str, Any]:
    """Capture an EPCISDocument; the finished job (see `job`)."""
    actor.require("epcis.capture")
    proceed = behaviour == PROCEED
    bad: dict[int, list[FieldError]] = {}
    if not validated:
        try:
            schema.validate_document(document)
        except ValidationError as error:
            if not proceed:
                raise
            for one in error.errors:
                found = _EVENT_PATH.match(one.field)
                if found is None:  # the document itself is wrong: nothing to proceed with
                    raise
                bad.setdefault(int(found.group(1)), []).append(one)
    context = document.get("@context") or []
    events: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    hashes: dict[int, str] = {}
    for i, event in enumerate(events):
        if i in bad:
            continue
        try:
            hashes[i] = hash_id(event, context, path_of(i))
        except ValidationError as error:
            if not proceed:
                raise
            bad[i] = list(error.errors)

    def work(conn: Connection) -> int:
        with audit.deferred(conn):
            return _capture(conn, actor, events, hashes, dict(bad), context, proceed)

    capture_id = retried(db, work, "the capture collided with a concurrent one; send it again")
    return job(db, actor, capture_id)


def _capture(
    conn: Connection,
    actor: Actor,
    events: list[dict[str, Any]],
    hashes: dict[int, str],
    bad: dict[int, list[FieldError]],
    context: Any,
    proceed: bool,
) -> int:
    now = datetime.now(UTC)
    already = store.held(conn, hashes.values())
    seen: set[str] = set()
    duplicates: list[int] = []
    fresh: list[int] = []
    for i, digest in hashes.items():
        if digest in already or digest in seen:
            duplicates.append(i)
        else:
            seen.add(digest)
            fresh.append(i)
    mapped = {}
    kept_only: dict[int, str] = {}
    for i in fresh:
        try:
            found = to_ledger(conn, events[i], hashes[i], path_of(i))
        except ValidationError as error:
            if not proceed:
                raise
            bad[i] = error.errors
            continue
        if found.event is not None:
            mapped[i] = found.event
        else:
            kept_only[i] = found.reason or ""
    order = list(mapped)
    check_request(actor, [mapped[i] for i in order])
    try:
        outcomes = record(conn, [Job(actor, mapped[i]) for i in order], atomic=not proceed)
    except UnitraceError as error:
        raise _at_path(error, order) from None
    ledger_ids: dict[int, int] = {}
    for i, outcome in zip(order, outcomes, strict=True):
        if isinstance(outcome, Recorded):
            ledger_ids[i] = outcome.id
        else:
            bad[i] = [FieldError(path_of(i), _said(outcome))]
    keep = [i for i in fresh if i not in bad]
    capture_id = store.new_capture(
        conn, actor.username, PROCEED if proceed else ROLLBACK, len(events), context, now
    )
    store.add_events(
        conn,
        capture_id,
        [(events[i], hashes[i], event_time(events[i]), now, ledger_ids.get(i)) for i in keep],
    )
    notes: list[dict[str, Any]] = [
        {"kind": "refused", "path": e.field, "message": e.message}
        for i in sorted(bad)
        for e in bad[i]
    ]
    notes += [
        {"kind": "duplicate", "path": path_of(i), "message": f"already held: {hashes[i]}"}
        for i in duplicates
    ]
    notes += [
        {"kind": "epcis_only", "path": path_of(i), "message": reason}
        for i, reason in sorted(kept_only.items())
        if i in keep
    ]
    counts = {
        "captured": len(keep),
        "duplicates": len(duplicates),
        "ledger_events": len([i for i in keep if i in ledger_ids]),
        "refused": len(bad),
    }
    store.finish_capture(
        conn,
        capture_id,
        status="partial" if bad else "done",
        errors=notes,
        finished_at=datetime.now(UTC),
        **counts,
    )
    audit.append(conn, actor, "epcis.capture", "epcis_capture", str(capture_id), after=counts)
    return capture_id


def _said(error: UnitraceError) -> str:
    detail = _NUMBERED.sub("", error.detail)
    extra = "; ".join(f"{e.field}: {e.message}" for e in error.errors[:5])
    return f"{detail} ({extra})" if extra and extra not in detail else detail


def _at_path(error: UnitraceError, order: Sequence[int]) -> UnitraceError:
    """A ledger refusal of the whole document, named by the event's JSON path."""
    index = 0
    found = re.match(r"^event (\d+): ", error.detail)
    if found is not None:
        index = int(found.group(1))
    elif error.errors and re.match(r"^\d+\.", error.errors[0].field):
        index = int(error.errors[0].field.split(".", 1)[0])
    path = path_of(order[index]) if index < len(order) else "$"
    message = _said(error)
    error.errors = [FieldError(path, message)]
    error.detail = f"{path}: {message}; nothing was captured"
    return error


def job(db: Database, actor: Actor, capture_id: int) -> dict[str, Any]:
    """A capture job as GET /epcis/capture/{id} answers it."""
    actor.require("epcis.capture")
    with db.read() as conn:
        row = store.capture_row(conn, capture_id)
    if row is None:
        raise NotFound(
            f"no capture {capture_id}", [FieldError("id", "no capture with this id", capture_id)]
        )
    notes = list(row.errors or [])
    return {
        "captureID": str(row.id),
        "running": row.status == "running",
        "success": row.status == "done",
        "status": row.status,
        "behaviour": row.behaviour,
        "events_total": row.events_total,
        "captured": row.captured,
        "duplicates": row.duplicates,
        "ledger_events": row.ledger_events,
        "refused": row.refused,
        "errors": [n for n in notes if n.get("kind") == "refused"],
        "duplicate_events": [n for n in notes if n.get("kind") == "duplicate"],
        "epcis_only": [n for n in notes if n.get("kind") == "epcis_only"],
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }
