"""Labels API: print runs — made and printed in the background (202), their progress, their
file, reprints with a reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.labels import runs
from unitrace.labels.run_schemas import ReprintIn, RunIn

router = APIRouter(tags=["labels"])


def _started(db: Any, made: dict[str, Any], response: Response) -> dict[str, Any]:
    runs.start(db, made["id"])
    response.headers["Location"] = f"/api/v1/label-runs/{made['number']}"
    return made


@router.post("/label-runs", status_code=202)
def create_run(
    body: RunIn, response: Response, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Print the labels of one source — `lot` (+ `product`), `serials` (+ `product`),
    `container` (the SSCC labels of a carton or pallet and its cartons) or `commission` (an
    event id) — with a `template` as `pdf` or `zpl` (`dpi` 203 or 300). Answers at once with the run
    (queued); it prints in the background: poll `GET /label-runs/{number}` for its progress,
    then fetch its file."""
    return _started(db, runs.create_run(db, actor, body), response)


@router.get("/label-runs")
def list_runs(
    db: DatabaseDep, actor: CurrentActor, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The latest print runs, newest first."""
    return runs.list_runs(db, actor, limit)


@router.get("/label-runs/{number}")
def get_run(number: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A print run and its progress: `status` (queued, running, done, failed), `done` of
    `total` labels, `percent`; `file` once it is done."""
    return runs.get_run(db, actor, number)


@router.get("/label-runs/{number}/file", response_class=FileResponse)
def run_file(number: str, db: DatabaseDep, actor: CurrentActor) -> FileResponse:
    """The printed file (PDF or ZPL); 409 while the run is still printing."""
    path, media_type, name = runs.run_file(db, actor, number)
    return FileResponse(path, media_type=media_type, filename=name)


@router.post("/label-runs/{number}/reprint", status_code=202)
def reprint(
    number: str, body: ReprintIn, response: Response, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Print a run's labels again, saying why (in the run and the audit trail); a list of
    serials or a pallet prints the same labels as the first time."""
    return _started(db, runs.reprint(db, actor, number, body.reason), response)
