"""The import page (/imports, issue 17): a person who migrates spreadsheets chooses what the
file holds, uploads an .xlsx or .csv, sees and corrects how its columns map onto fields, runs
the dry run (every bad row with its row, column and reason, and the report as .xlsx), then
imports all or nothing, or only the good rows, while the page polls the job's progress.

The engine is `interop.imports.service`; this module only parses the forms and shapes the
answers. The uploaded file is kept between the dry run and the import in a staging folder of
the data home (`staged`), under a random token that only its uploader's session can use."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from unitrace.access.principal import Actor
from unitrace.api.downloads import XLSX
from unitrace.api.problems import status_of
from unitrace.config import ImportLimits, data_home
from unitrace.core.errors import (
    FieldError,
    Forbidden,
    NotFound,
    UnitraceError,
    ValidationError,
    invalid,
)
from unitrace.interop.imports import readers, service
from unitrace.web import i18n, translate
from unitrace.web.common import (
    csrf_ok,
    database,
    expired_form,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
PERMISSION = "import.run"
SUFFIXES = (".xlsx", ".csv")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FINAL = ("done", "failed", "refused", "repeat")

# what a file may hold, as the engine names the kinds: a label (msgid) for each
KIND_LABELS = {
    "units": "Units (serials)",
    "products": "Products (item master)",
    "lots": "Lots",
    "parties": "Parties (customers, distributors, suppliers)",
    "locations": "Locations (warehouses, bins)",
    "shipments": "Shipments (shipping list)",
    "sellthrough": "Sell-through report",
    "sell_through": "Sell-through report",
    "repairs": "Repair log",
    "bindings": "Component binding (parent serial → component serials)",
    "components": "Component binding (parent serial → component serials)",
    "binding": "Component binding (parent serial → component serials)",
}


def staging() -> Path:
    return data_home() / "import-uploads"


STAGED_SECONDS = 24 * 3600  # an upload is kept a day for its dry runs and its import


def _stage(actor: Actor, filename: str, **kept: Any) -> str:
    """A token for a new upload; uploads staged more than a day ago are deleted."""
    token = secrets.token_urlsafe(24)
    folder = staging()
    folder.mkdir(parents=True, exist_ok=True)
    old = time.time() - STAGED_SECONDS
    for path in folder.iterdir():
        with contextlib.suppress(OSError):  # another request deleted it first
            if path.stat().st_mtime < old:
                path.unlink()
    meta = {"user": actor.username, "filename": filename, **kept}
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def staged(actor: Actor, token: str) -> tuple[Path, dict[str, Any]]:
    """The staged file of `token` and what the page keeps beside it; NotFound for a token
    that is not the actor's (the same answer as for none)."""
    folder = staging()
    meta_path = folder / f"{token}.json"
    if not _TOKEN.match(token) or not meta_path.is_file():
        raise NotFound("the uploaded file is gone; upload it again", [])
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("user") != actor.username or not (folder / token).is_file():
        raise NotFound("the uploaded file is gone; upload it again", [])
    return folder / token, meta


def _update(token: str, meta: dict[str, Any]) -> None:
    (staging() / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")


async def _receive(request: Request) -> tuple[dict[str, str], str, Path | None]:
    """The form's text fields and the uploaded file, copied in chunks to a staging file (its
    path; None when no file was chosen). A file over the engine's byte limit is refused here
    (`readers.over_limit`, next to the file field), before it is stored whole."""
    limit = ImportLimits.from_env().max_bytes
    async with request.form() as submitted:
        fields = {k: v for k, v in submitted.items() if isinstance(v, str)}
        upload = submitted.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return fields, "", None
        folder = staging()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"incoming-{secrets.token_urlsafe(12)}"
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    break
                out.write(chunk)
        if size > limit:
            target.unlink(missing_ok=True)
            fields["_over_limit"] = str(limit)
            return fields, Path(upload.filename).name, None
        return fields, Path(upload.filename).name, target


def _kinds() -> list[dict[str, Any]]:
    return list(service.kinds())


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))


def field_label(field: dict[str, Any]) -> str:
    """A field in the page's language: its first Chinese header on a Chinese page, its first
    English one otherwise (the field's code when it has none)."""
    chinese = i18n.current.get().startswith("zh")
    names = field.get("headers_zh" if chinese else "headers_en") or []
    return str(names[0]) if names else str(field["name"])


def reason_text(problem: dict[str, Any]) -> str:
    """A bad row's reason in the page's language: the engine's reason by its key and
    parameters (`engine.REASONS`, translated in interop_imports_page.po), the messages among
    the parameters translated as every use-case message is; else the English reason, by its
    template (`translate.message`)."""
    from unitrace.interop.imports.engine import REASONS

    template = REASONS.get(str(problem.get("reason_key") or ""))
    params = {str(k): str(v) for k, v in dict(problem.get("params") or {}).items()}
    if template is None:
        return translate.message(str(problem.get("reason") or ""))
    values = {k: translate.message(v) if k in ("why", "text") else v for k, v in params.items()}
    if "field" in values:
        values["field"] = _(values["field"])
    try:
        return _(template) % values
    except (KeyError, ValueError, TypeError):  # a key's parameters changed: its English
        return translate.message(str(problem.get("reason") or ""))


def _saved(request: Request, actor: Actor, kinds: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The saved mappings: (name, what the file holds · name), kind by kind."""
    out: list[tuple[str, str]] = []
    for kind in kinds:
        try:
            found = service.mappings(database(request), actor, kind["kind"])
        except UnitraceError:
            found = []
        for mapping in found:
            name = str(mapping["name"] if isinstance(mapping, dict) else mapping)
            out.append((name, f"{kind_label(kind['kind'])} · {name}"))
    return out


def _start_page(
    request: Request, actor: Actor, csrf: str, status: int = 200, **extra: Any
) -> Response:
    kinds = _kinds()
    extra.setdefault("form", {})
    extra.setdefault("errors", {})
    return render(
        request,
        "imports.html",
        status,
        user=actor,
        csrf=csrf,
        kinds=kinds,
        kind_label=kind_label,
        field_label=field_label,
        kind_options=[(k["kind"], kind_label(k["kind"])) for k in kinds],
        saved_options=_saved(request, actor, kinds),
        **extra,
    )


@router.get("/imports")
def imports_page(request: Request, kind: str = "") -> Response:
    """Choose what the file holds, upload it and check it (the dry run)."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    return _start_page(request, actor, csrf, form={"kind": kind})


def _mapping_from(kind: str, form: dict[str, str]) -> dict[str, str] | None:
    """The mapping the user edited: `header_<i>` (a file header) → `field_<i>` (a field); a
    header the engine would map by its name but the user set to no field maps to "" (left
    out); None when the form has no mapping."""
    chosen = {
        header: form.get(f"field_{key[7:]}", "")
        for key, header in form.items()
        if key.startswith("header_") and key[7:].isdigit()
    }
    if not chosen or not kind:
        return None
    known = detected(kind, list(chosen))
    mapping = {h: f for h, f in chosen.items() if f or known.get(h)}
    return mapping or None


def _save_mapping(
    request: Request, actor: Actor, name: str, kind: str, mapping: dict[str, str]
) -> None:
    """Save the mapping by name; the engine's complaints about the name or the mapping are
    shown next to the name's field."""
    try:
        service.save_mapping(database(request), actor, name, kind, mapping)
    except ValidationError as error:
        moved = [
            FieldError("save_as", e.message, e.value) if e.field in ("name", "mapping") else e
            for e in error.errors
        ]
        raise ValidationError(error.detail, moved) from error


def _job_url(job_id: Any, token: str) -> str:
    return f"/imports/{quote(str(job_id), safe='')}?upload={quote(token, safe='')}"


def _check_upload(filename: str, path: Path) -> None:
    if not filename:
        raise invalid("file", "choose an .xlsx or .csv file to upload")
    if not filename.lower().endswith(SUFFIXES):
        raise invalid("file", "the file is not a table: upload an .xlsx or .csv file")
    if path.stat().st_size == 0:
        raise invalid("file", "the file is empty")


@router.post("/imports")
async def imports_check(request: Request) -> Response:
    """Upload a file (or take the one uploaded before, with an edited mapping) and start its
    dry run; the job's page shows the progress and then the bad rows."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    form, filename, incoming = await _receive(request)
    if not csrf_ok(csrf, form, request):
        if incoming is not None:
            incoming.unlink(missing_ok=True)
        return _start_page(request, actor, csrf, 400, form=form, errors=expired_form())
    token = form.get("upload", "")
    kind = form.get("kind", "")
    unknown = "ignore" if form.get("unknown") == "ignore" else "attributes"
    mapping = _mapping_from(kind, form) if kind in {k["kind"] for k in _kinds()} else None
    mapping_name = form.get("mapping_name", "").strip() or None
    try:
        if "_over_limit" in form:
            raise readers.over_limit("bytes", int(form["_over_limit"]))
        if incoming is not None:
            try:
                _check_upload(filename, incoming)
            except UnitraceError:
                incoming.unlink(missing_ok=True)
                raise
            token = _stage(actor, filename)
            incoming.rename(staging() / token)
            headers = headers_of(staging() / token, filename)
        elif token:
            headers = staged(actor, token)[1].get("headers") or []
        else:
            raise invalid("file", "choose an .xlsx or .csv file to upload")
        path, meta = staged(actor, token)
        if kind not in {k["kind"] for k in _kinds()}:
            raise invalid("kind", "choose what the file holds")
        save_as = form.get("save_as", "").strip()
        if save_as:
            if mapping is None:
                raise invalid("save_as", "there is no mapping to save yet")
            _save_mapping(request, actor, save_as, kind, mapping)
            mapping_name = None
        job = service.start(
            database(request),
            actor,
            kind=kind,
            filename=meta["filename"],
            content=path,
            mapping=mapping,
            mapping_name=mapping_name if mapping is None else None,
            unknown=unknown,
            mode="all",
            dry_run=True,
        )
        if mapping is None and mapping_name:  # the engine checked it is of this kind
            mapping = service.get_mapping(database(request), actor, mapping_name)["mapping"]
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _start_page(
            request, actor, csrf, status_of(error), form=form, errors=form_errors(error)
        )
    meta.update(
        kind=kind, unknown=unknown, mapping=mapping, mapping_name=mapping_name, headers=headers
    )
    _update(token, meta)
    return RedirectResponse(_job_url(job["id"], token), status_code=303)


def _job(request: Request, actor: Actor, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = service.job(database(request), actor, job_id)
    return found


def _percent(job: dict[str, Any]) -> int:
    total = int(job.get("rows_total") or 0)
    if job.get("status") in FINAL and job.get("status") != "repeat":
        return 100
    return min(100, int(job.get("rows_done") or 0) * 100 // total) if total else 0


def _rows(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"row": e.get("row"), "column": e.get("column") or "", "reason": reason_text(e)}
        for e in job.get("errors") or []
    ]


def headers_of(path: Path, filename: str) -> list[str]:
    """The header line of a staged file, read by the engine's reader (its first row only);
    none when the file cannot be read (the dry run then says why)."""
    from unitrace.interop.imports import engine

    try:
        source = readers.rows(path, filename, ImportLimits.from_env())
        _line, header = next(iter(source))
    except (UnitraceError, StopIteration):
        return []
    return [engine.text_of(cell) for cell in header if engine.text_of(cell)]


def detected(kind: str, headers: list[str]) -> dict[str, str]:
    """Header → field as the engine finds them by name (its synonyms); "" for none."""
    from unitrace.interop.imports.kinds import normal, synonyms

    known = synonyms(kind)
    return {h: known.get(normal(h), "") for h in headers}


def _columns(kind: str, meta: dict[str, Any]) -> list[tuple[str, str]]:
    """The file's headers and the field each maps to (empty: none): what the user chose,
    else what the engine detects by the header's name."""
    headers = [str(h) for h in meta.get("headers") or []]
    if not headers or not kind:
        return []
    chosen = meta.get("mapping")
    if chosen is not None:
        return [(h, str(chosen.get(h) or "")) for h in headers]
    return list(detected(kind, headers).items())


def _job_context(request: Request, actor: Actor, job_id: str, token: str) -> dict[str, Any]:
    job = _job(request, actor, job_id)
    meta: dict[str, Any] = {}
    if token:
        try:
            meta = staged(actor, token)[1]
        except NotFound:
            token = ""
    kind = str(job.get("kind") or meta.get("kind") or "")
    fields: list[dict[str, Any]] = next((k["fields"] for k in _kinds() if k["kind"] == kind), [])
    return {
        "job": job,
        "job_id": job_id,
        "upload": token,
        "meta": meta,
        "kind": kind,
        "fields": [(f["name"], field_label(f)) for f in fields],
        "columns": _columns(kind, meta),
        "bad_rows": _rows(job),
        "message": translate.message(str(job.get("message") or "")),
        "count": int(job.get("error_count") or len(job.get("errors") or [])),
        "filename": str(meta.get("filename") or job.get("filename") or ""),
        "percent": _percent(job),
        "dry_run": bool(job.get("dry_run", meta.get("dry_run", True))),
        "progress_url": f"/imports/{quote(job_id, safe='')}/progress?upload={quote(token)}",
    }


@router.get("/imports/{job_id}")
def import_job_page(request: Request, job_id: str, upload: str = "") -> Response:
    """A job: its progress while it runs, then the bad rows, the report, and the import."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    try:
        context = _job_context(request, actor, job_id, upload)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _start_page(request, actor, csrf, status_of(error), errors=form_errors(error))
    return render(
        request,
        "imports_job.html",
        user=actor,
        csrf=csrf,
        kind_label=kind_label,
        errors={},
        **context,
    )


@router.get("/imports/{job_id}/progress")
def import_job_progress(request: Request, job_id: str, upload: str = "") -> Response:
    """The progress fragment, polled every second; once the job has ended it asks htmx to
    reload the page, which then shows the outcome."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    try:
        context = _job_context(request, actor, job_id, upload)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        gone = {"status": "failed"}
        return render(request, "imports_progress.html", 404, missing=error.detail, job=gone)
    answer = render(request, "imports_progress.html", **context)
    if context["job"].get("status") in FINAL and request.headers.get("hx-request"):
        answer.headers["HX-Refresh"] = "true"
    return answer


@router.get("/imports/{job_id}/report.xlsx")
def import_job_report(request: Request, job_id: str) -> Response:
    """The bad rows of a job as a workbook, with a reason column."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    try:
        report = service.report_xlsx(database(request), actor, job_id)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _start_page(request, actor, csrf, status_of(error), errors=form_errors(error))
    name = f"import-{job_id}-report.xlsx"
    if isinstance(report, bytes | bytearray):
        disposition = f'attachment; filename="{name}"'
        return Response(
            bytes(report), media_type=XLSX, headers={"Content-Disposition": disposition}
        )
    return FileResponse(Path(report), media_type=XLSX, filename=name)


@router.post("/imports/run")
async def import_run(request: Request) -> Response:
    """The real import of the staged file, all or nothing or only the good rows (the button
    the user pressed), once more after a confirmation when the file was imported before."""
    actor, csrf = require_login(request)
    if not actor.can(PERMISSION):
        return page_forbidden(request, actor, csrf)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _start_page(request, actor, csrf, 400, form=form, errors=expired_form())
    token = form.get("upload", "")
    try:
        mode = form.get("mode", "")
        if mode not in ("all", "good"):
            raise invalid("mode", "choose all or nothing, or only the good rows")
        path, meta = staged(actor, token)
        job = service.start(
            database(request),
            actor,
            kind=meta["kind"],
            filename=meta["filename"],
            content=path,
            mapping=meta.get("mapping"),
            mapping_name=meta.get("mapping_name") if not meta.get("mapping") else None,
            unknown=meta.get("unknown", "attributes"),
            mode=mode,
            dry_run=False,
            repeat=form.get("repeat") == "1",
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _start_page(
            request, actor, csrf, status_of(error), form=form, errors=form_errors(error)
        )
    meta.update(mode=mode, dry_run=False)
    _update(token, meta)
    return RedirectResponse(_job_url(job["id"], token), status_code=303)
