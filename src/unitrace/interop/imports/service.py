"""Import use cases (the API, the page and the CLI call these): start an import job, follow
it, download its report of bad rows, the kinds and their fields, saved column mappings.

A job's file is kept in a folder of its own under the system's temporary folder while the job
runs (removed when it ends); its report stays there. The job runs in a background thread of the
server process (the CLI: in the foreground, `wait=True`). Its progress is kept in memory while
it runs and written to `import_jobs` from a connection of its own while the rows are read and
when it ends; `job()` answers the live figures. A file whose sha256 was imported (not dry-run,
something written, or still running) before is answered `repeat` and imported again only with
`repeat=True`."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from unitrace.access.principal import Actor
from unitrace.config import ImportLimits
from unitrace.core.errors import FieldError, NotFound, TooLarge, UnitraceError, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import import_jobs, import_mappings
from unitrace.interop.imports import engine
from unitrace.interop.imports.kinds import KINDS
from unitrace.interop.imports.kinds import kinds as _kinds

MAX_STORED_ERRORS = 1_000  # problems kept in the job row; the report has every bad row
MODES = ("all", "good")
UNKNOWN = ("attributes", "ignore")
STATUSES = ("queued", "running", "done", "failed", "refused", "repeat")
_live: dict[str, dict[str, Any]] = {}
_live_lock = threading.Lock()

Listener = Callable[[dict[str, Any]], None]


def kinds() -> list[dict[str, Any]]:
    """Every kind with its fields and the headers that name them."""
    return _kinds()


def _now() -> datetime:
    return datetime.now(UTC)


def _check_options(kind: str, unknown: str, mode: str, mapping: dict[str, str] | None) -> None:
    errors = []
    if kind not in KINDS:
        errors.append(FieldError("kind", f"one of {', '.join(KINDS)}", kind))
    if unknown not in UNKNOWN:
        errors.append(FieldError("unknown", "attributes or ignore", unknown))
    if mode not in MODES:
        errors.append(FieldError("mode", "all or good", mode))
    if mapping is not None and kind in KINDS:
        try:
            engine.check_mapping(kind, mapping)
        except ValidationError as error:
            errors.extend(error.errors)
    if errors:
        raise ValidationError("the import's options are not valid", errors)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name or "upload"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-100:]


def start(
    db: Database,
    actor: Actor,
    *,
    kind: str,
    filename: str,
    content: bytes | Path,
    mapping: dict[str, str] | None = None,
    mapping_name: str | None = None,
    unknown: str = "attributes",
    mode: str = "all",
    dry_run: bool = False,
    repeat: bool = False,
    wait: bool = False,
    listener: Listener | None = None,
) -> dict[str, Any]:
    """Start an import job (in a background thread; `wait`: here, in this thread) and answer
    it. `mapping` is header in the file → field; `mapping_name` a saved one."""
    actor.require("import.run")
    if mapping_name and mapping is not None:
        said = "give a mapping or the name of a saved one, not both"
        raise ValidationError(
            f"mapping_name: {said}", [FieldError("mapping_name", said, mapping_name)]
        )
    if mapping_name and mapping is None:
        saved = _mapping(db, mapping_name)
        if saved["kind"] != kind:
            raise ValidationError(
                "mapping_name: a mapping of another kind",
                [FieldError("mapping_name", f"a mapping of {saved['kind']}", mapping_name)],
            )
        mapping = saved["mapping"]
    _check_options(kind, unknown, mode, mapping)
    folder = Path(tempfile.mkdtemp(prefix="unitrace-import-"))
    name = _safe_name(filename)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        shutil.copyfile(content, path)
    digest = _sha256(path)
    job_id = uuid.uuid4().hex
    status = "queued"
    if not dry_run and not repeat and _imported_before(db, digest, kind):
        status = "repeat"
    row = {
        "id": job_id,
        "kind": kind,
        "filename": filename[:255] or name,
        "file_hash": digest,
        "actor": actor.username,
        "status": status,
        "dry_run": dry_run,
        "mode": mode,
        "options": {
            "unknown": unknown,
            "mapping": mapping,
            "mapping_name": mapping_name,
            "repeat": repeat,
            "folder": str(folder),
            "name": name,
        },
        "rows_total": 0,
        "rows_done": 0,
        "written": 0,
        "error_count": 0,
        "errors": [],
        "message": "the same file was imported before: import again with repeat"
        if status == "repeat"
        else "",
        "created_at": _now(),
        "finished_at": None,
    }
    with db.write() as conn:
        conn.execute(import_jobs.insert().values(**row))
    if status == "repeat":
        shutil.rmtree(folder, ignore_errors=True)
        return job(db, actor, job_id)
    if wait:
        _run(db, actor, job_id, listener)
    else:
        threading.Thread(target=_run, args=(db, actor, job_id, listener), daemon=True).start()
    return job(db, actor, job_id)


def _imported_before(db: Database, digest: str, kind: str) -> bool:
    with db.read() as conn:
        found = conn.execute(
            select(import_jobs.c.id).where(
                import_jobs.c.file_hash == digest,
                import_jobs.c.kind == kind,
                import_jobs.c.dry_run.is_(False),
                # one still running counts: its rows are written only when it ends
                or_(import_jobs.c.written > 0, import_jobs.c.status.in_(("queued", "running"))),
            )
        ).first()
    return found is not None


def _set(db: Database, job_id: str, **values: Any) -> None:
    with db.write() as conn:
        conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(**values))


def _run(db: Database, actor: Actor, job_id: str, listener: Listener | None) -> None:
    """The job, then its file removed (its report, if any, stays)."""
    try:
        _run_job(db, actor, job_id, listener)
    finally:
        with db.read() as conn:
            options = conn.execute(
                select(import_jobs.c.options).where(import_jobs.c.id == job_id)
            ).scalar_one()
        folder = Path(options["folder"])
        (folder / options["name"]).unlink(missing_ok=True)
        if not (folder / "report.xlsx").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _run_job(db: Database, actor: Actor, job_id: str, listener: Listener | None) -> None:
    with db.read() as conn:
        row = conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).one()
    options = row.options
    folder = Path(options["folder"])
    live = {"status": "running", "rows_done": 0, "written": 0}
    with _live_lock:
        _live[job_id] = live
    _set(db, job_id, status="running")
    last = [0]

    def progress(rows_done: int, written: int) -> None:
        if rows_done >= 0:
            live["rows_done"] = rows_done
            if rows_done - last[0] >= engine.PROGRESS_EVERY * 10:
                last[0] = rows_done
                _set(db, job_id, rows_done=rows_done)  # outside any write of the import
        else:
            live["written"] = written
        if listener is not None:
            listener(dict(live))

    limits = ImportLimits.from_env()
    opts = engine.Options(
        kind=row.kind,
        mapping=options.get("mapping"),
        unknown=options["unknown"],
        mode=row.mode,
        dry_run=row.dry_run,
    )
    try:
        source = folder / options["name"]
        result = engine.run(db, actor, source, row.filename, opts, limits, progress)
    except UnitraceError as error:
        refused = isinstance(error, ValidationError | TooLarge)
        _finish(db, job_id, "refused" if refused else "failed", error.detail)
        return
    except Exception as error:  # the job says what happened; the server goes on
        _finish(db, job_id, "failed", f"the import stopped: {type(error).__name__}: {error}")
        return
    if result.problems:
        _report(folder, row.filename, limits, result)
    status = "done"
    if result.problems and (row.mode == "all" or row.dry_run):
        status = "failed" if not row.dry_run else "done"
    message = (
        f"{len(result.bad_rows)} bad rows; nothing written"
        if result.problems and not result.written and not row.dry_run
        else ""
    )
    _finish(
        db,
        job_id,
        status,
        message,
        rows_total=result.rows_total,
        rows_done=result.rows_total,
        written=result.written,
        error_count=len(result.problems),
        errors=[p.public() for p in result.problems[:MAX_STORED_ERRORS]],
    )


def _finish(db: Database, job_id: str, status: str, message: str, **values: Any) -> None:
    _set(db, job_id, status=status, message=message[:2000], finished_at=_now(), **values)
    with _live_lock:
        _live.pop(job_id, None)


def _report(folder: Path, filename: str, limits: ImportLimits, result: engine.Result) -> None:
    """The bad rows as they are in the file, with a reason column: an .xlsx written with
    constant memory (cells made safe against formula injection)."""
    import xlsxwriter

    from unitrace.core.spreadsheet import cell

    reasons: dict[int, list[str]] = {}
    for problem in result.problems:
        reasons.setdefault(problem.row, []).append(f"{problem.column}: {problem.reason}")
    book = xlsxwriter.Workbook(str(folder / "report.xlsx"), {"constant_memory": True})
    try:
        sheet = book.add_worksheet("report")

        def put(line: int, values: list[Any]) -> None:
            # every cell, the reasons too: a reason names the file's header (`=1+2: …`)
            sheet.write_row(line, 0, [cell(v) for v in values])

        put(0, ["row", *result.header, "reason"])
        line = 1
        header_reasons = reasons.pop(result.header_row, None)
        if header_reasons:
            put(line, [result.header_row, "; ".join(header_reasons)])
            line += 1
        if reasons:
            wanted = set(reasons)
            source = folder / _source_name(folder)
            for number, cells in engine.bad_cells(source, filename, limits, wanted):
                width = len(result.header)
                values = [engine.text_of(c) for c in cells[:width]]
                values += [""] * (width - len(values))
                put(line, [number, *values, "; ".join(reasons[number])])
                line += 1
    finally:
        book.close()


def _source_name(folder: Path) -> str:
    return next(p.name for p in folder.iterdir() if p.name != "report.xlsx")


def _public(row: Any) -> dict[str, Any]:
    found = {
        "id": row.id,
        "kind": row.kind,
        "filename": row.filename,
        "file_hash": row.file_hash,
        "actor": row.actor,
        "status": row.status,
        "dry_run": row.dry_run,
        "mode": row.mode,
        "unknown": row.options.get("unknown"),
        "mapping_name": row.options.get("mapping_name"),
        "rows_total": row.rows_total,
        "rows_done": row.rows_done,
        "written": row.written,
        "error_count": row.error_count,
        "errors": row.errors,
        "message": row.message,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "has_report": (Path(row.options["folder"]) / "report.xlsx").exists(),
    }
    with _live_lock:
        live = dict(_live.get(row.id, {}))
    if live and row.status in ("queued", "running"):
        found.update(live)
    return found


def _job_row(db: Database, actor: Actor, job_id: str) -> Any:
    actor.require("import.run")
    with db.read() as conn:
        row = conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"no import {job_id!r}", [FieldError("id", "no such import", job_id)])
    return row


def job(db: Database, actor: Actor, job_id: str) -> dict[str, Any]:
    """The job, with its live progress while it runs."""
    return _public(_job_row(db, actor, job_id))


def report_xlsx(db: Database, actor: Actor, job_id: str) -> Path:
    """The .xlsx of the job's bad rows with a reason column."""
    row = _job_row(db, actor, job_id)
    path = Path(row.options["folder"]) / "report.xlsx"
    if not path.exists():
        raise NotFound(
            f"import {job_id} has no report", [FieldError("id", "no bad rows reported", job_id)]
        )
    return path


# --- saved mappings ---------------------------------------------------------------------------


def _mapping(db: Database, name: str) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(select(import_mappings).where(import_mappings.c.name == name)).first()
    if row is None:
        raise NotFound(
            f"no import mapping {name!r}", [FieldError("mapping_name", "no such mapping", name)]
        )
    return {"name": row.name, "kind": row.kind, "mapping": row.mapping}


def get_mapping(db: Database, actor: Actor, name: str) -> dict[str, Any]:
    actor.require("import.run")
    return _mapping(db, name)


def save_mapping(
    db: Database, actor: Actor, name: str, kind: str, mapping: dict[str, str]
) -> dict[str, Any]:
    """Save (or replace) a mapping by name: header in the file → field of the kind."""
    actor.require("import.run")
    errors = []
    if not 1 <= len(name.strip()) <= 80:
        errors.append(FieldError("name", "1 to 80 characters", name))
    if not mapping:
        errors.append(FieldError("mapping", "at least one header"))
    try:
        _check_options(kind, "attributes", "all", mapping)
    except ValidationError as error:
        errors.extend(error.errors)
    if errors:
        raise ValidationError("the mapping is not valid", errors)
    values = {"kind": kind, "mapping": mapping, "updated_at": _now(), "updated_by": actor.username}
    with db.write() as conn:
        done = conn.execute(
            update(import_mappings).where(import_mappings.c.name == name.strip()).values(**values)
        )
        if not done.rowcount:
            conn.execute(import_mappings.insert().values(name=name.strip(), **values))
    return _mapping(db, name.strip())


def mappings(db: Database, actor: Actor, kind: str | None = None) -> list[dict[str, Any]]:
    """The saved mappings (of one kind)."""
    actor.require("import.run")
    query = select(import_mappings).order_by(import_mappings.c.name)
    if kind:
        query = query.where(import_mappings.c.kind == kind)
    with db.read() as conn:
        return [{"name": r.name, "kind": r.kind, "mapping": r.mapping} for r in conn.execute(query)]
