"""Production pages: assembly at the scan station (the BOM fills up as parts are scanned), step
recording, trace with its genealogy graph, recall campaigns with progress charts, quality."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.api import downloads
from unitrace.catalog import service as catalog
from unitrace.core.errors import Forbidden, NotFound, UnitraceError, invalid
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import EventIn
from unitrace.production import quality, recall, trace
from unitrace.production import service as production
from unitrace.production.routes import AFFECTED
from unitrace.production.schemas import RecallIn, TraceQuery
from unitrace.web.common import (
    blank_to_none,
    csrf_ok,
    database,
    download,
    error_title,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)
from unitrace.web.i18n import _, format_time

router = APIRouter(include_in_schema=False)
TRACE_FIELDS = (
    "serial",
    "product",
    "lot",
    "supplier",
    "station",
    "equipment",
    "operator",
    "since",
    "until",
)


def _products(request: Request, actor: Any) -> list[dict[str, Any]]:
    if not actor.can("read"):
        return []
    items: list[dict[str, Any]] = catalog.list_products(database(request), actor, limit=1000)[
        "items"
    ]
    return items


def _stations(request: Request, actor: Any) -> list[dict[str, Any]]:
    if not actor.can("catalog.read"):
        return []
    return [
        loc
        for loc in catalog.list_table(database(request), actor, "locations")
        if loc["kind"] == "station"
    ]


def _feedback(request: Request, ok: bool, serial: str, action: str, **extra: Any) -> Response:
    extra.setdefault("count", 1)  # one serial per scan
    return render(request, "scan_result.html", ok=ok, serial=serial, action=action, **extra)


def _refusal(error: Exception) -> str:
    """Why a scan was refused, each reason once: the fields' messages, or the error's own
    sentence when it names no field (`form_errors` gives both, the sentence repeating them)."""
    errors = form_errors(error)
    reasons = [message for name, message in errors.items() if name != "form"]
    return "; ".join(dict.fromkeys(reasons)) or errors.get("form", "")


# --- assembly -----------------------------------------------------------------------------


def _bom_state(request: Request, actor: Any, parent: str, product: str) -> dict[str, Any]:
    state = production.bom_fill(database(request), actor, parent, product or None)
    required = [line for line in state["lines"] if line["required"]]
    state["progress"] = {  # parts, not lines: a line of 12 screws counts 12
        "done": sum(min(line["have"], line["quantity"]) for line in required),
        "all": sum(line["quantity"] for line in required),
    }
    return state


@router.get("/assembly")
def assembly_page(request: Request, parent: str = "", product: str = "") -> Response:
    actor, csrf = require_login(request)
    if not actor.can("event:assemble"):
        return page_forbidden(request, actor, csrf)
    context: dict[str, Any] = {
        "parent": parent.strip()[:64],
        "parent_product": product[:40],
        "products": _products(request, actor),
    }
    if context["parent"]:
        try:
            state = _bom_state(request, actor, context["parent"], product)
            context.update(
                unit=state, lines=state["lines"], extra=state["extra"], progress=state["progress"]
            )
            context["lot_parts"] = _lot_parts(context["products"], state["lines"])
        except UnitraceError as error:
            context.update(error=error_title(error), detail=error.detail)
    return render(
        request,
        "assembly.html",
        404 if context.get("error") else 200,
        user=actor,
        csrf=csrf,
        **context,
    )


def _lot_parts(products: list[dict[str, Any]], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lot-tracked products the lot form offers, those of the BOM first, each with the
    quantity it proposes: what the BOM line still needs (all of it once the line is full)."""
    by_line = {line["component"]: line for line in lines}
    parts = []
    for p in products:
        if p["tracking"] != "lot":
            continue
        line = by_line.get(p["code"])
        needed = int(line["quantity"]) if line else 1
        missing = needed - int(line["have"]) if line else 0
        parts.append(
            {**p, "in_bom": line is not None, "quantity": missing if missing > 0 else needed}
        )
    return sorted(parts, key=lambda p: not p["in_bom"])


@router.post("/assembly")
async def assembly_scan(request: Request) -> Response:
    """One scan: a component serial into the parent, or a lot consumed by it."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _feedback(
            request,
            False,
            "",
            "assemble",
            title=_("The form expired"),
            detail=_("Reload the page."),
        )
    values = blank_to_none(form, "parent", "parent_product", "serial", "product", "lot", "quantity")
    serial = values["serial"] or values["lot"] or ""
    try:
        parent = {"serial": values["parent"] or "", "product": values["parent_product"]}
        if values["lot"]:
            lot_use = {
                "product": values["product"] or "",
                "lot": values["lot"],
                "quantity": values["quantity"] or "1",
            }
            fields = {"type": "assemble", "parent": parent, "consumed": [lot_use]}
        else:
            component = {"serial": serial, "product": values["product"]}
            fields = {"type": "assemble", "parent": parent, "units": [component]}
        event = EventIn.model_validate(fields)
        done = ledger.record_events(database(request), actor, [event])[0]
    except (PydanticValidationError, UnitraceError) as error:
        return _feedback(
            request, False, serial, "assemble", title=_("Refused"), detail=_refusal(error)
        )
    response = _feedback(request, True, serial, "assemble", warnings=done.warnings)
    response.headers["HX-Trigger"] = "bom-changed"
    return response


@router.get("/assembly/bom")
def assembly_bom(request: Request, parent: str = "", product: str = "") -> Response:
    actor, csrf = require_login(request)
    if not actor.can("event:assemble"):
        return page_forbidden(request, actor, csrf)
    try:
        state = _bom_state(request, actor, parent.strip()[:64], product[:40])
    except UnitraceError as error:
        return render(request, "bom_panel.html", 404, error=error.detail)
    return render(request, "bom_panel.html", user=actor, csrf=csrf, **state)


# --- commission: what it made, for download ---------------------------------------------


@router.get("/commission/serials.{kind}")
def commission_download(request: Request, kind: str, event: str = "") -> Response:
    """Every serial of one commission event, as CSV (UTF-8 with a BOM, so that Excel in any
    language reads it) or as an Excel workbook."""
    actor, csrf = require_login(request)
    if kind not in ("csv", "xlsx"):
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=kind)
    try:
        made = ledger.commissioned_serials(database(request), actor, event.strip()[:200])
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)
    rows = ({"serial": s, "product": made["product"]} for s in made["serials"])
    name = f"serials-{made['product']}-{len(made['serials'])}"
    headers = [_("Serial"), _("Product")]
    return downloads.download(name, ("serial", "product"), rows, kind, headers, bom=True)


# --- steps --------------------------------------------------------------------------------


@router.get("/steps")
def steps_page(request: Request, product: str = "") -> Response:
    actor, csrf = require_login(request)
    if not actor.can("event:inspect"):
        return page_forbidden(request, actor, csrf)
    products = [p for p in _products(request, actor) if p["tracking"] == "serial"]
    chosen = product or (products[0]["code"] if products else "")
    route: dict[str, Any] = {"steps": []}
    if chosen:
        try:
            route = production.get_route(database(request), actor, chosen)
        except UnitraceError:
            chosen = ""
    return render(
        request,
        "steps.html",
        user=actor,
        csrf=csrf,
        products=products,
        product=chosen,
        route=route["steps"],
        stations=_stations(request, actor),
    )


@router.post("/steps")
async def step_record(request: Request) -> Response:
    """One scan at a step: the step's result (and measured value) for one unit."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    values = blank_to_none(
        form,
        "serial",
        "product",
        "step",
        "result",
        "defect_code",
        "station",
        "equipment",
        "operator",
        "value",
    )
    serial = values["serial"] or ""
    answer: dict[str, Any] = {"serial": serial, "step": values["step"], "result": values["result"]}
    if not csrf_ok(csrf, form, request):
        answer.update(ok=False, detail=_("The form expired. Reload the page."))
        return render(request, "step_result.html", **answer)
    try:
        if not serial:
            raise invalid("serial", "nothing was scanned")
        step = {
            "code": values["step"] or "",
            "result": values["result"] or "",
            "defect_code": values["defect_code"] if values["result"] == "fail" else None,
        }
        event = EventIn.model_validate(
            {
                "type": "inspect",
                "product": values["product"],
                "serials": [serial],
                "location": values["station"],
                "equipment": values["equipment"],
                "operator": values["operator"] or actor.username,
                "step": step,
                "data": {"value": values["value"]} if values["value"] else {},
            }
        )
        ledger.record_events(database(request), actor, [event])
    except (PydanticValidationError, UnitraceError) as error:
        answer.update(ok=False, detail=_refusal(error))
        return render(request, "step_result.html", **answer)
    answer.update(ok=True, value=values["value"], defect_code=step["defect_code"])
    return render(request, "step_result.html", **answer)


# --- trace --------------------------------------------------------------------------------


def _trace_query(params: dict[str, str]) -> TraceQuery | None:
    given = {k: v.strip() for k, v in params.items() if k in TRACE_FIELDS and v and v.strip()}
    if not given:
        return None
    offset = datetime.now().astimezone().strftime("%z")
    for name in ("since", "until"):  # the form's datetime-local values are the plant's time
        if name in given and len(given[name]) == 16 and "T" in given[name]:
            given[name] = f"{given[name]}:00{offset[:3]}:{offset[3:]}"
    return TraceQuery.model_validate(given)


def _start_label(query: TraceQuery) -> str:
    """Where a forward trace starts, in the page's language."""
    if query.serial:
        return _("Component %(serial)s") % {"serial": f"{query.product or ''} {query.serial}"}
    if query.lot:
        return _("Lot %(lot)s") % {"lot": f"{query.product}/{query.lot}"}
    if query.supplier:
        return _("Supplier %(code)s") % {"code": query.supplier}
    if query.station:
        start = _("Station %(code)s") % {"code": query.station}
    elif query.equipment:
        start = _("Equipment %(code)s") % {"code": query.equipment}
    else:
        start = _("Operator %(code)s") % {"code": query.operator}
    window = {"since": format_time(query.since), "until": format_time(query.until)}
    return f"{start} · " + _("from %(since)s until %(until)s") % window


TRACE_PAGE = 100  # affected units per page of the trace page (the CSV has all)


def _graph(tree: dict[str, Any]) -> dict[str, Any]:
    """The component tree as ECharts tree data."""

    def node(n: dict[str, Any]) -> dict[str, Any]:
        label = f"{n['product']} {n['serial']}"
        detail = " · ".join(x for x in (n.get("lot"), n.get("supplier")) if x)
        children = [node(c) for c in n["components"]]
        children += [
            {
                "name": f"{u['product']} {u['lot']} ×{u['quantity']}",
                "value": u.get("supplier") or "",
                "itemStyle": {"color": "#b7791f"},
            }
            for u in n["consumed"]
        ]
        return {"name": label, "value": detail, "children": children}

    return node(tree)


def _page_number(given: str | None) -> int:
    try:
        return max(1, int(given or 1))
    except ValueError:
        return 1


@router.get("/trace")
def trace_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    if not actor.can("trace"):
        return page_forbidden(request, actor, csrf)
    params = dict(request.query_params)
    context: dict[str, Any] = {
        "form": params,
        "products": _products(request, actor),
        "stations": _stations(request, actor),
        "errors": {},
    }
    status = 200
    db = database(request)
    try:
        if params.get("back"):
            tree = trace.backward(
                db,
                actor,
                params["back"].strip()[:64],
                (params.get("back_product") or "").strip() or None,
            )
            context.update(tree=tree, graph=_graph(tree))
        query = _trace_query(params)
        if query is not None:
            number = _page_number(params.get("page"))
            found = trace.forward(db, actor, query, TRACE_PAGE, (number - 1) * TRACE_PAGE)
            last = max(1, -(-found["total"] // TRACE_PAGE))
            shown = {k: v for k, v in params.items() if v and k != "page"}
            context.update(
                found=found,
                start=_start_label(query),
                pager={
                    "page": min(number, last),
                    "last": last,
                    "first_row": min(found["total"], (number - 1) * TRACE_PAGE + 1),
                    "last_row": min(found["total"], number * TRACE_PAGE),
                    "prev": f"/trace?{urlencode({**shown, 'page': number - 1})}#affected"
                    if number > 1
                    else None,
                    "next": f"/trace?{urlencode({**shown, 'page': number + 1})}#affected"
                    if number < last
                    else None,
                },
                status_chart={_(k): v for k, v in found["by_status"].items()},
                export=urlencode({k: v for k, v in params.items() if k in TRACE_FIELDS and v}),
            )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (PydanticValidationError, UnitraceError) as error:
        context["errors"] = form_errors(error)
        status = 404 if isinstance(error, NotFound) else 422
    return render(request, "trace.html", status, user=actor, csrf=csrf, **context)


@router.get("/trace/affected.csv")
def trace_export(request: Request, format: str = "csv") -> Response:
    actor, csrf = require_login(request)
    try:
        query = _trace_query(dict(request.query_params))
        if query is None:
            return RedirectResponse("/trace", status_code=303)
        found = trace.affected(database(request), actor, query)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (PydanticValidationError, UnitraceError):
        return RedirectResponse("/trace?" + str(request.query_params), status_code=303)
    return download("affected", AFFECTED, found, "xlsx" if format == "xlsx" else "csv")


# --- recalls ------------------------------------------------------------------------------


@router.get("/recalls")
def recalls_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    try:
        campaigns = recall.list_recalls(database(request), actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return render(
        request,
        "recalls.html",
        user=actor,
        csrf=csrf,
        campaigns=campaigns,
        form=dict(request.query_params),
        errors={},
    )


@router.post("/recalls")
async def recall_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    errors: dict[str, str] = {}
    if not csrf_ok(csrf, form, request):
        errors = {"form": _("The form expired; please try again.")}
    else:
        try:
            query = _trace_query(form)
            values = blank_to_none(form, "code", "title", "reason")
            fields = {
                "code": values["code"] or "",
                "title": values["title"] or "",
                "reason": values["reason"] or "",
                "trace": query,  # None when no start is given: RecallIn refuses it
            }
            wanted = RecallIn.model_validate(fields)
            created = recall.create_recall(database(request), actor, wanted)
            return RedirectResponse(f"/recalls/{quote(created['code'])}", status_code=303)
        except (PydanticValidationError, UnitraceError) as error:
            errors = form_errors(error)
    status = 403 if "form" in errors and not actor.can("recall.manage") else 422
    try:
        campaigns = recall.list_recalls(database(request), actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return render(
        request,
        "recalls.html",
        status,
        user=actor,
        csrf=csrf,
        campaigns=campaigns,
        form=form,
        errors=errors,
        open_form=True,
    )


@router.get("/recalls/{code}")
def recall_page(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    done = request.query_params.get("done") or ""
    if done == "closed":
        message = _("The campaign is closed.")
    elif done.isdigit():
        message = _("%(n)s units marked recalled.") % {"n": f"{int(done):,}"}
    else:
        message = None
    return _recall_view(request, actor, csrf, code, message=message)


def _recall_view(
    request: Request,
    actor: Any,
    csrf: str,
    code: str,
    status: int = 200,
    error: str | None = None,
    message: str | None = None,
) -> Response:
    try:
        found = recall.progress(database(request), actor, code)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as missing:
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=missing.detail)
    scope = {k: v for k, v in found["trace"].items() if v}
    try:
        scope_label = _start_label(TraceQuery.model_validate(scope))
    except PydanticValidationError:
        scope_label = ", ".join(f"{k} {v}" for k, v in scope.items())
    return render(
        request,
        "recall.html",
        status,
        user=actor,
        csrf=csrf,
        campaign=found,
        outcomes=recall.OUTCOMES,
        scope=scope_label,
        scope_url="/trace?" + urlencode(scope),
        message=message,
        error=error,
    )


@router.post("/recalls/{code}/{action}")
async def recall_action(request: Request, code: str, action: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if action not in ("mark", "close") or not csrf_ok(csrf, form, request):
        return RedirectResponse(f"/recalls/{quote(code)}", status_code=303)
    try:
        if action == "mark":
            done = recall.mark_recalled(database(request), actor, code)
            note = f"{done['marked']}"
        else:
            recall.close_recall(database(request), actor, code)
            note = "closed"
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        status = 404 if isinstance(error, NotFound) else 409
        text = f"{error_title(error)}: {_(error.detail)}"
        return _recall_view(request, actor, csrf, code, status, error=text)
    return RedirectResponse(f"/recalls/{quote(code)}?done={note}", status_code=303)


@router.get("/recalls/{code}/notices.csv")
def recall_notices(request: Request, code: str, format: str = "csv") -> Response:
    """One row per unit of each holder to notify; `format=xlsx` for Excel."""
    actor, csrf = require_login(request)
    try:
        rows = recall.notice_rows(database(request), actor, code)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)
    fmt = "xlsx" if format == "xlsx" else "csv"
    return download(f"recall-{code}-notices", recall.NOTICE_COLUMNS, rows, fmt)


# --- quality ------------------------------------------------------------------------------


def _period(since: str, until: str) -> dict[str, Any]:
    """Whole days in the plant's time zone, `until` inclusive."""
    from datetime import date, timedelta

    from unitrace.core.errors import invalid

    zone = datetime.now().astimezone().tzinfo
    out: dict[str, Any] = {}
    for name, value, extra in (("since", since, 0), ("until", until, 1)):
        if value:
            try:
                day = date.fromisoformat(value) + timedelta(days=extra)
            except ValueError:
                raise invalid(name, "not a date (YYYY-MM-DD)", value) from None
            except OverflowError:
                raise invalid(name, "must be between 1970 and 2999", value) from None
            if not 1970 <= day.year <= 2999:
                raise invalid(name, "must be between 1970 and 2999", value)
            out[name] = datetime(day.year, day.month, day.day, tzinfo=zone)
    return out


def _quality(
    request: Request, actor: Any, by: str, product: str, since: str, until: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    db = database(request)
    period = _period(since.strip()[:10], until.strip()[:10])
    report = quality.yield_report(db, actor, by, product=product or None, **period)
    pareto = quality.defect_pareto(db, actor, product=product or None, **period)
    return report, pareto


@router.get("/quality")
def quality_page(
    request: Request, by: str = "product", product: str = "", since: str = "", until: str = ""
) -> Response:
    actor, csrf = require_login(request)
    errors: dict[str, str] = {}
    report: dict[str, Any] = {"items": []}
    pareto: dict[str, Any] = {"items": [], "total": 0}
    try:
        report, pareto = _quality(request, actor, by, product, since, until)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    query = urlencode({"by": by, "product": product, "since": since, "until": until})
    return render(
        request,
        "quality.html",
        422 if errors else 200,
        user=actor,
        csrf=csrf,
        by=by,
        product=product,
        since=since,
        until=until,
        report=report,
        pareto=pareto,
        errors=errors,
        dimensions=quality.DIMENSIONS,
        query=query,
        products=_products(request, actor),
    )


@router.get("/quality/export")
def quality_export(
    request: Request,
    by: str = "product",
    product: str = "",
    since: str = "",
    until: str = "",
    format: str = "csv",
) -> Response:
    actor, csrf = require_login(request)
    try:
        report, _pareto = _quality(request, actor, by, product, since, until)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError:
        return RedirectResponse("/quality?" + str(request.query_params), status_code=303)
    fmt = "xlsx" if format == "xlsx" else "csv"
    return download(f"yield-by-{by}", quality.COLUMNS, report["items"], fmt)
