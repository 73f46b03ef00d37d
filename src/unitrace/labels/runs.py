"""Print runs: the labels of a lot, a list of serials, a carton or pallet, or of what one
commission event made, written to one PDF or ZPL file under UNITRACE_HOME.

A run is made in one transaction (`create_run`: who, what, how many; the audit record) and
printed after it (`execute`, in a background thread for the API and pages, in the foreground
for the CLI). Printing reads the units in chunks of `CHUNK` by keyset (unit id, or position in
the run's list), each chunk in its own short read, and hands the renderer a generator: a run
of 100,000 labels never holds its units in memory, and the run's `done` is written after each
chunk, so the page and the API show its progress.

A container run prints the SSCC labels of a carton or pallet (and of the cartons on a pallet):
what is inside is fixed when the run is made, like a list of serials (`label_run_units`, in the
order given), so a reprint prints exactly those labels again. A reprint
needs a reason; it is a run of its own, marked as the reprint of the first, in the audit trail.
Printing is for the site's staff (`labels.print`); a partner prints nothing.

A template may print the unit's verification code (issue 16: `{verify.code}`, `{verify.url}`,
`{verify.digital_link}`): the codes are read with the units, joined in the same chunked query.
A run whose template uses one is refused before anything is printed — when made, reprinted and
again when printed — if its product has verification off or a unit of the run has no code yet;
the error names the placeholder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Row, Select, func, insert, literal, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import lot_id, product_row
from unitrace.channel import packing
from unitrace.config import data_home, public_url
from unitrace.core import gs1
from unitrace.core.checkdigits import check_character, has_valid_check
from unitrace.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    ValidationError,
    invalid,
    not_found,
    report,
)
from unitrace.db.engine import Database
from unitrace.db.tables import (
    event_units,
    events,
    label_run_units,
    label_runs,
    lots,
    products,
    units,
    verify_codes,
    verify_settings,
)
from unitrace.labels import templates
from unitrace.labels.render import LabelData, render_pdf, render_zpl
from unitrace.labels.run_schemas import RunIn
from unitrace.labels.schemas import (
    Code128Element,
    DataMatrixElement,
    QrElement,
    Template,
    TextElement,
    verify_placeholders,
)
from unitrace.ledger.bulk import chunks
from unitrace.verify import codes, links

CHUNK = 1000  # units read (and progress written) at a time
SOURCES = ("lot", "serials", "container", "commission")
STATUSES = ("queued", "running", "done", "failed")
MEDIA_TYPES = {"pdf": "application/pdf", "zpl": "application/zpl"}
COMPANY_PREFIX = "UNITRACE_GS1_COMPANY_PREFIX"

# the label of a carton or pallet: its SSCC as a Digital Link QR (…/00/SSCC) and in text, its
# code as Code 128
CARTON_TEMPLATE = Template(
    name="carton",
    width_mm=100,
    height_mm=50,
    elements=(
        QrElement(type="qr", x_mm=3, y_mm=3, size_mm=30),
        TextElement(type="text", x_mm=36, y_mm=4, text="{product_name}", size_pt=12, bold=True),
        TextElement(type="text", x_mm=36, y_mm=12, text="SSCC {sscc}", size_pt=10),
        TextElement(type="text", x_mm=36, y_mm=19, text="{serial}", size_pt=9),
        Code128Element(type="code128", x_mm=3, y_mm=36, width_mm=90, height_mm=11, gs1=False),
    ),
)
# "default": the product's own template, else the default set, else the built-in one
TEMPLATES = ("default",)

Progress = Callable[[int, int], None]  # (labels done, labels in all)


def number(run_id: int) -> str:
    """How a run is named to people and in the audit trail: `LR-000012`."""
    return f"LR-{run_id:06d}"


def run_id(text: str) -> int:
    """The id of `LR-000012` (or `12`); anything else is an unknown run."""
    digits = str(text).strip().upper().removeprefix("LR-")
    if not digits.isdigit() or len(digits) > 12:
        raise NotFound(f"no print run {text!r}", [FieldError("run", "unknown print run", text)])
    return int(digits)


def home() -> Path:
    """UNITRACE_HOME, as the settings read it: run files are kept under it, in labels/."""
    return data_home()


# --- the SSCC of a carton label -------------------------------------------------------------


def sscc_of(code: str, container_id: int) -> str | None:
    """The SSCC a carton label carries: its code when that is an SSCC; else one made from the
    company prefix (UNITRACE_GS1_COMPANY_PREFIX) with extension digit 0, the container's id as
    serial reference and the GS1 check digit; None when no prefix is set."""
    if len(code) == 18 and code.isdigit() and has_valid_check("gs1", code):
        return code
    prefix = os.environ.get(COMPANY_PREFIX, "").strip()
    if not (prefix.isdigit() and 6 <= len(prefix) <= 12):
        return None
    reference = str(container_id).zfill(16 - len(prefix))
    if len(reference) > 16 - len(prefix):
        return None
    body = "0" + prefix + reference
    return body + check_character("gs1", body)


# --- making a run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    kind: str
    source: dict[str, Any]
    product_id: int | None
    total: int
    listed: list[int] | None = None  # unit ids of a list of serials, in print order


def _one_source(data: RunIn) -> str:
    given = [
        kind
        for kind, value in (
            ("lot", data.lot),
            ("serials", data.serials),
            ("container", data.container),
            ("commission", data.commission),
        )
        if value is not None
    ]
    problems = []
    if len(given) != 1:
        message = "name exactly one of lot, serials, container, commission"
        problems.append(FieldError("source", message, given or None))
    if given[:1] in (["lot"], ["serials"]) and not data.product:
        problems.append(FieldError("product", f"a {given[0]} needs its product", None))
    if data.serials is not None and not data.serials:
        problems.append(FieldError("serials", "is empty", None))
    if problems:
        raise report("the print run's source is not right", problems)
    return given[0]


_SERIAL_IDS = select(units.c.serial, units.c.id)


def _serial_ids(conn: Connection, product_id: int, serials: list[str]) -> list[int]:
    found: dict[str, int] = {}
    for chunk in chunks(serials):
        query = _SERIAL_IDS.where(units.c.product_id == product_id, units.c.serial.in_(chunk))
        found.update((row.serial, int(row.id)) for row in conn.execute(query))
    missing = [
        FieldError(f"serials.{i}", "no unit with this serial", s)
        for i, s in enumerate(serials)
        if s not in found
    ]
    if missing:
        raise not_found(f"no unit with serial {missing[0].value!r}", missing)
    twice = [
        FieldError(f"serials.{i}", "named twice", s)
        for i, s in enumerate(serials)
        if serials.index(s) != i
    ]
    if twice:
        raise ValidationError(f"serial {twice[0].value!r} is named twice", twice)
    return [found[s] for s in serials]


def _resolve(conn: Connection, data: RunIn) -> _Resolved:
    kind = _one_source(data)
    if kind != "container" and data.template not in TEMPLATES:
        known = ", ".join(TEMPLATES)
        raise invalid("template", f"unknown template; known: {known}", data.template)
    if kind == "lot":
        assert data.product is not None and data.lot is not None
        product = product_row(conn, data.product)
        lot = lot_id(conn, product.id, data.lot)
        total = conn.execute(
            select(func.count()).select_from(units).where(units.c.lot_id == lot)
        ).scalar_one()
        source = {"product": product.code, "lot": data.lot, "lot_id": lot}
        return _Resolved(kind, source, product.id, int(total))
    if kind == "serials":
        assert data.product is not None and data.serials is not None
        product = product_row(conn, data.product)
        ids = _serial_ids(conn, product.id, data.serials)
        return _Resolved(kind, {"product": product.code}, product.id, len(ids), ids)
    if kind == "container":
        assert data.container is not None
        code = packing.normalise(data.container)
        found = packing.find(conn, [code]).get(code)
        if found is None:
            raise packing.unknown([("container", code)])
        inside = packing.content_summary(conn, found.id)["containers"]
        nested = packing.find(conn, [c["code"] for c in inside])
        labelled = [found, *sorted(nested.values(), key=lambda c: c.code)]
        cartons = [
            {"code": c.code, "kind": c.kind, "sscc": sscc_of(c.code, c.id)} for c in labelled
        ]
        source = {"container": found.code, "kind": found.kind, "cartons": cartons}
        return _Resolved(kind, source, None, len(cartons))
    assert data.commission is not None
    event = conn.execute(
        select(events.c.id, events.c.unit_count).where(
            events.c.event_id == data.commission, events.c.type == "commission"
        )
    ).first()
    if event is None:
        raise NotFound(
            f"no commission event {data.commission!r}",
            [FieldError("commission", "no commission event with this id", data.commission)],
        )
    source = {"commission": data.commission, "event_pk": int(event.id)}
    product_id = conn.execute(
        select(units.c.product_id)
        .join(event_units, event_units.c.unit_id == units.c.id)
        .where(event_units.c.event_id == event.id)
        .limit(1)
    ).scalar()
    return _Resolved(kind, source, product_id, int(event.unit_count))


def create_run(db: Database, actor: Actor, data: RunIn) -> dict[str, Any]:
    """Make a print run (queued): its source resolved and counted, its list of units fixed,
    the audit record written. Print it with `execute` (or `start`, in the background)."""
    actor.require("labels.print")
    with db.write() as conn:
        resolved = _resolve(conn, data)
        new_id = _insert_run(conn, actor, data.template, data.format, data.dpi, resolved)
        if resolved.listed is not None:
            _list_units(conn, new_id, resolved.listed)
        row = _row(conn, new_id)
        if row.source_kind != "container":
            check_codes(conn, row, templates.template_in(conn, row.product_id))
        audit.append(conn, actor, "print", "label_run", number(new_id), None, _audited(resolved))
    return public(row)


def _audited(resolved: _Resolved) -> dict[str, Any]:
    source = {k: v for k, v in resolved.source.items() if not k.endswith("_id") and k != "event_pk"}
    return {"source": resolved.kind, **source, "labels": resolved.total}


def _insert_run(
    conn: Connection,
    actor: Actor,
    template: str,
    fmt: str,
    dpi: int | None,
    resolved: _Resolved,
    reprint_of: int | None = None,
    reason: str | None = None,
) -> int:
    new_id = conn.execute(
        insert(label_runs)
        .values(
            created_at=datetime.now(UTC),
            created_by=actor.username,
            template=template,
            format=fmt,
            dpi=dpi if fmt == "zpl" else None,
            source_kind=resolved.kind,
            source=resolved.source,
            product_id=resolved.product_id,
            total=resolved.total,
            done=0,
            status="queued",
            file="",
            reprint_of=reprint_of,
            reason=reason,
        )
        .returning(label_runs.c.id)
    ).scalar_one()
    relative = f"labels/{number(new_id)}.{fmt}"
    conn.execute(update(label_runs).where(label_runs.c.id == new_id).values(file=relative))
    return int(new_id)


def _list_units(conn: Connection, new_id: int, unit_ids: list[int]) -> None:
    for start in range(0, len(unit_ids), CHUNK):
        rows = [
            {"run_id": new_id, "position": start + i, "unit_id": unit}
            for i, unit in enumerate(unit_ids[start : start + CHUNK])
        ]
        conn.execute(insert(label_run_units), rows)


def reprint(db: Database, actor: Actor, text: str, reason: str) -> dict[str, Any]:
    """Print a run's labels again, with a reason (in the run and the audit trail): the same
    source, template and format; a list of serials or a pallet prints the same labels again."""
    actor.require("labels.print")
    if not reason.strip():
        raise invalid("reason", "say why the labels are printed again")
    with db.write() as conn:
        first = _row(conn, run_id(text))
        original = first.reprint_of or first.id  # a reprint of a reprint names the first run
        resolved = _Resolved(first.source_kind, dict(first.source), first.product_id, first.total)
        new_id = _insert_run(
            conn, actor, first.template, first.format, first.dpi, resolved, original, reason
        )
        conn.execute(
            insert(label_run_units).from_select(
                ["run_id", "position", "unit_id"],
                select(
                    literal(new_id), label_run_units.c.position, label_run_units.c.unit_id
                ).where(label_run_units.c.run_id == first.id),
            )
        )
        audit.append(
            conn,
            actor,
            "reprint",
            "label_run",
            number(new_id),
            {"reprint_of": number(original)},
            {**_audited(resolved), "reprint_of": number(original), "reason": reason},
        )
        row = _row(conn, new_id)
        if row.source_kind != "container":
            check_codes(conn, row, templates.template_in(conn, row.product_id))
    return public(row)


# --- reading runs -----------------------------------------------------------------------------


def _row(conn: Connection, rid: int) -> Row[Any]:
    row = conn.execute(select(label_runs).where(label_runs.c.id == rid)).first()
    if row is None:
        raise NotFound(
            f"no print run {number(rid)}", [FieldError("run", "unknown print run", number(rid))]
        )
    return row


def public(row: Row[Any]) -> dict[str, Any]:
    source = {k: v for k, v in row.source.items() if not k.endswith("_id") and k != "event_pk"}
    return {
        "number": number(row.id),
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "template": row.template,
        "format": row.format,
        "dpi": row.dpi,
        "source": {"kind": row.source_kind, **source},
        "total": row.total,
        "done": row.done,
        "percent": 100 if row.total == 0 else min(100, row.done * 100 // row.total),
        "status": row.status,
        "error": row.error,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "reprint_of": number(row.reprint_of) if row.reprint_of else None,
        "reason": row.reason,
        "file": f"/api/v1/label-runs/{row.id}/file" if row.status == "done" else None,
    }


def get_run(db: Database, actor: Actor, text: str) -> dict[str, Any]:
    actor.require("labels.print")
    with db.read() as conn:
        return public(_row(conn, run_id(text)))


def list_runs(db: Database, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    actor.require("labels.print")
    query = select(label_runs).order_by(label_runs.c.id.desc()).limit(limit)
    with db.read() as conn:
        return [public(row) for row in conn.execute(query)]


def run_file(db: Database, actor: Actor, text: str) -> tuple[Path, str, str]:
    """The file of a printed run: (path, media type, download name); 409 while printing."""
    actor.require("labels.print")
    with db.read() as conn:
        row = _row(conn, run_id(text))
    if row.status != "done":
        raise Conflict(
            f"print run {number(row.id)} is {row.status}, its file is not ready",
            [FieldError("run", f"is {row.status}", number(row.id))],
        )
    path = home() / row.file
    if not path.is_file():
        raise NotFound(
            f"the file of print run {number(row.id)} is gone",
            [FieldError("run", "file is gone", number(row.id))],
        )
    return path, MEDIA_TYPES[row.format], f"{number(row.id)}.{row.format}"


# --- printing -----------------------------------------------------------------------------


def _label_columns(with_codes: bool = False) -> tuple[Any, ...]:
    code = (verify_codes.c.code.label("verify_code"),) if with_codes else ()
    return (
        *code,
        units.c.id,
        units.c.serial,
        products.c.code,
        products.c.name,
        products.c.gtin,
        lots.c.number.label("lot"),
        lots.c.production_date,
        lots.c.expiry_date,
    )


def _unit_chunks(
    conn_source: Database, row: Row[Any], with_codes: bool = False
) -> Iterator[list[Row[Any]]]:
    """The run's units, CHUNK at a time, each chunk read in its own short transaction (with
    their verification codes, joined, when `with_codes`)."""
    joined = units.join(products, products.c.id == units.c.product_id).outerjoin(
        lots, lots.c.id == units.c.lot_id
    )
    if with_codes:
        joined = joined.outerjoin(verify_codes, verify_codes.c.unit_id == units.c.id)
    listed = row.source_kind == "serials"
    query: Select[Any]
    if listed:
        query = (
            select(label_run_units.c.position.label("key"), *_label_columns(with_codes))
            .select_from(label_run_units.join(joined, units.c.id == label_run_units.c.unit_id))
            .where(label_run_units.c.run_id == row.id)
            .order_by(label_run_units.c.position)
        )
        key_column: Any = label_run_units.c.position
    elif row.source_kind == "lot":
        query = (
            select(units.c.id.label("key"), *_label_columns(with_codes))
            .select_from(joined)
            .where(units.c.lot_id == row.source["lot_id"])
            .order_by(units.c.id)
        )
        key_column = units.c.id
    else:
        query = (
            select(units.c.id.label("key"), *_label_columns(with_codes))
            .select_from(joined.join(event_units, event_units.c.unit_id == units.c.id))
            .where(event_units.c.event_id == row.source["event_pk"])
            .order_by(units.c.id)
        )
        key_column = units.c.id
    after: int = -1
    while True:
        with conn_source.read() as conn:
            rows = list(conn.execute(query.where(key_column > after).limit(CHUNK)))
        if not rows:
            return
        yield rows
        after = int(rows[-1].key)


def _stem() -> str:
    return public_url()


def _unit_label(row: Row[Any], stem: str, with_codes: bool = False) -> LabelData:
    """A unit's label: with a GTIN, its GS1 element string and Digital Link URI; without
    one, a verification URL of the serial on the resolver (the QR code still says something).
    `with_codes`: its verification code, URL and the Digital Link carrying the code too."""
    if row.gtin:
        elements = gs1.unit_elements(row.gtin, row.serial, row.lot, row.expiry_date)
        element_string, link = gs1.element_string(elements), gs1.digital_link(elements, stem)
        gtin = elements[0].value
    else:
        element_string, gtin = "", ""
        link = f"{stem.rstrip('/')}/units/{quote(row.serial, safe='')}"
    code_text = url = verify_link = ""
    if with_codes:
        code = row.verify_code
        if code is None:  # made after the run was checked: the run fails, naming why
            raise _without_codes(1, "verify.code")
        code_text, url = codes.display(code), codes.verify_url(code)
        verify_link = links.with_code(link, code) if row.gtin else url
    return LabelData(
        serial=row.serial,
        gtin=gtin,
        lot=row.lot,
        expiry=row.expiry_date,
        production_date=row.production_date,
        product_code=row.code,
        product_name=row.name,
        digital_link=link,
        element_string=element_string,
        verify_code=code_text,
        verify_url=url,
        verify_digital_link=verify_link,
    )


def _carton_label(carton: dict[str, Any], stem: str) -> LabelData:
    sscc = carton["sscc"]
    link = gs1.digital_link([gs1.Element("00", sscc)], stem) if sscc else carton["code"]
    return LabelData(
        serial=carton["code"],
        gtin="",
        product_code=carton["kind"],
        product_name=carton["kind"],
        sscc=sscc,
        digital_link=link,
        element_string=f"00{sscc}" if sscc else "",
        extra={"kind": carton["kind"]},
    )


def labels_of(
    db: Database, row: Row[Any], progress: Progress | None = None, with_codes: bool = False
) -> Iterator[LabelData]:
    """The labels of a run, in print order, read as they are consumed; `progress` after each
    chunk with the labels handed out so far; `with_codes`: the units' verification codes."""
    stem = _stem()
    if row.source_kind == "container":
        for carton in row.source["cartons"]:
            yield _carton_label(carton, stem)
        if progress is not None:
            progress(row.total, row.total)
        return
    done = 0
    for rows in _unit_chunks(db, row, with_codes):
        for unit in rows:
            yield _unit_label(unit, stem, with_codes)
        done += len(rows)
        if progress is not None:
            progress(done, row.total)


def template_of(db: Database, row: Row[Any]) -> Template:
    """The template a run prints with: the carton label for containers; else the product's
    (labels.templates: its own, else the default set, else the built-in DEFAULT_TEMPLATE)."""
    if row.source_kind == "container":
        return CARTON_TEMPLATE
    with db.read() as conn:
        chosen = templates.template_in(conn, row.product_id)
        gtin = conn.execute(select(products.c.gtin).where(products.c.id == row.product_id)).scalar()
    if gtin:
        return chosen
    # a product without a GTIN has no GS1 symbols: its labels keep the QR code and the text
    kept = tuple(
        element
        for element in chosen.elements
        if not isinstance(element, DataMatrixElement)
        and not (isinstance(element, Code128Element) and element.gs1)
    )
    return chosen.model_copy(update={"elements": kept})


def _run_unit_ids(row: Row[Any]) -> Select[Any]:
    """The ids of a (unit) run's units."""
    if row.source_kind == "lot":
        return select(units.c.id).where(units.c.lot_id == row.source["lot_id"])
    if row.source_kind == "serials":
        return select(label_run_units.c.unit_id).where(label_run_units.c.run_id == row.id)
    return select(event_units.c.unit_id).where(event_units.c.event_id == row.source["event_pk"])


def _without_codes(missing: int, placeholder: str) -> ValidationError:
    shown = "{" + placeholder + "}"
    return ValidationError(
        f"{missing} of the run's units have no verification code: issue the product's codes first",
        [FieldError("template", f"{shown} needs a verification code for every unit", shown)],
    )


def check_codes(conn: Connection, row: Row[Any], template: Template) -> None:
    """Refuse a run whose template prints a verification placeholder when its product has
    verification off or a unit of the run has no code (one count, set-based); the error names
    the placeholder."""
    used = verify_placeholders(template)
    if not used:
        return
    shown = "{" + used[0] + "}"
    product = conn.execute(select(products.c.code).where(products.c.id == row.product_id)).scalar()
    enabled = conn.execute(
        select(verify_settings.c.enabled).where(verify_settings.c.product_id == row.product_id)
    ).scalar()
    if not enabled:
        raise ValidationError(
            f"product {product} has verification off: its labels cannot print {shown}",
            [FieldError("template", f"{shown} needs verification on for product {product}", shown)],
        )
    missing = conn.execute(
        select(func.count())
        .select_from(units.outerjoin(verify_codes, verify_codes.c.unit_id == units.c.id))
        .where(units.c.id.in_(_run_unit_ids(row)), verify_codes.c.id.is_(None))
    ).scalar_one()
    if missing:
        raise _without_codes(int(missing), used[0])


def _set(db: Database, rid: int, **values: Any) -> None:
    with db.write() as conn:
        conn.execute(update(label_runs).where(label_runs.c.id == rid).values(**values))


def execute(db: Database, text: str | int, progress: Progress | None = None) -> dict[str, Any]:
    """Print a queued run into its file; its `done` after every chunk, its status at the end
    (done, or failed with the error). Returns the run as `public` shows it."""
    rid = run_id(str(text))
    with db.read() as conn:
        row = _row(conn, rid)
    if row.status != "queued":
        raise Conflict(
            f"print run {number(rid)} is {row.status}, not queued",
            [FieldError("run", f"is {row.status}", number(rid))],
        )
    _set(db, rid, status="running")
    path = home() / row.file
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")

    def step(done: int, total: int) -> None:
        _set(db, rid, done=done)
        if progress is not None:
            progress(done, total)

    try:
        template = template_of(db, row)
        with_codes = row.source_kind != "container" and bool(verify_placeholders(template))
        if with_codes:
            with db.read() as conn:
                check_codes(conn, row, template)
        labels = labels_of(db, row, step, with_codes)
        if row.format == "zpl":
            with partial.open("w", encoding="utf-8", newline="\n") as text_out:
                written = render_zpl(template, labels, text_out, dpi=row.dpi or 203)
        else:
            with partial.open("wb") as binary_out:
                written = render_pdf(template, labels, binary_out)
        os.replace(partial, path)
    except Exception as exc:  # the run records any failure; the thread must not die silently
        partial.unlink(missing_ok=True)
        _set(db, rid, status="failed", error=str(exc)[:2000], finished_at=datetime.now(UTC))
        raise
    _set(db, rid, status="done", done=written, finished_at=datetime.now(UTC))
    if progress is not None:
        progress(written, row.total)
    with db.read() as conn:
        return public(_row(conn, rid))


_THREADS: dict[int, threading.Thread] = {}


def start(db: Database, text: str | int) -> None:
    """Print a queued run in a background thread (the API and the page poll its progress)."""
    rid = run_id(str(text))

    def work() -> None:
        try:
            execute(db, rid)
        except Exception:  # already recorded as the run's error by `execute`
            pass
        finally:
            _THREADS.pop(rid, None)

    thread = threading.Thread(target=work, name=f"label-run-{rid}", daemon=True)
    _THREADS[rid] = thread
    thread.start()


def wait(text: str | int, timeout: float | None = None) -> None:
    """Wait for a run started in the background to end (tests, a clean shutdown)."""
    thread = _THREADS.get(run_id(str(text)))
    if thread is not None:
        thread.join(timeout)
