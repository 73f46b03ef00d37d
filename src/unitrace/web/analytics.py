"""The warranty report (/warranty-report): returns and repairs in the quality views — field
failure rate by a dimension, time to failure, warranty cost by product and month, top defect
codes — with ECharts charts, tables and downloads in the page's language."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from unitrace.aftersales import figures
from unitrace.catalog import service as catalog
from unitrace.config import site_timezone
from unitrace.core.errors import FieldError, Forbidden, UnitraceError, report
from unitrace.web import i18n
from unitrace.web.common import (
    database,
    download,
    form_errors,
    page_forbidden,
    render,
    require_login,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
# the downloads of the page: table → (file name, columns, where its rows are in the report)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "failures": ("field-failures", figures.FAILURE_COLUMNS),
    "time_to_failure": ("time-to-failure", figures.TTF_COLUMNS),
    "costs": ("warranty-cost", figures.COST_COLUMNS),
    "defects": ("top-defects", figures.DEFECT_COLUMNS),
}


def _window(since: str, until: str) -> dict[str, datetime]:
    """Whole local days (the site's time zone), `until` inclusive; every bad date named."""
    zone = site_timezone()
    out: dict[str, datetime] = {}
    problems: list[FieldError] = []
    for name, value, extra in (("since", since, 0), ("until", until, 1)):
        value = value.strip()[:10]
        if not value:
            continue
        try:
            day = date.fromisoformat(value) + timedelta(days=extra)
        except (ValueError, OverflowError):
            problems.append(FieldError(name, "not a date (YYYY-MM-DD)", value))
            continue
        if not 1970 <= day.year <= 2999:
            problems.append(FieldError(name, "must be between 1970 and 2999", value))
            continue
        out[name] = datetime(day.year, day.month, day.day, tzinfo=zone)
    if problems:
        raise report("the figures cannot be shown", problems)
    return out


def _report(
    request: Request, actor: Any, by: str, product: str, since: str, until: str
) -> dict[str, Any]:
    window = _window(since, until)
    return figures.warranty_report(
        database(request), actor, by, product=product.strip() or None, **window
    )


def _rows(found: dict[str, Any], table: str) -> list[dict[str, Any]]:
    if table == "failures":
        rows: list[dict[str, Any]] = found["failures"]["items"]
    elif table == "time_to_failure":
        rows = found["time_to_failure"]["histogram"]
    elif table == "costs":
        rows = found["cost"]["items"]
    else:
        rows = found["defects"]["items"]
    return rows


def _charts(found: dict[str, Any], locale: str) -> dict[str, Markup]:
    """The charts' data (charts.js kinds `bars` and `pareto`), labels in the page's language, as
    JSON for the page's data blocks. A `bars` chart draws its first label at the bottom, so the
    labels go in reverse (the worst key, the first month, the shortest time at the top); the
    JSON keeps that order (Jinja's `tojson` would sort the labels)."""
    failure = {
        str(i["key"] if i["key"] is not None else "—"): round((i["failure_rate"] or 0) * 100, 1)
        for i in reversed(found["failures"]["items"][:30])
    }
    histogram = {
        (
            _("%(low)s–%(high)s days") % {"low": b["from_days"], "high": b["to_days"] - 1}
            if b["to_days"] is not None
            else _("%(low)s days or more") % {"low": b["from_days"]}
        ): b["claims"]
        for b in reversed(found["time_to_failure"]["histogram"])
    }
    currencies = found["cost"]["totals"]
    # the currency with the most cost: the chart shows it (amounts of two currencies never add)
    main = max(currencies, key=lambda t: t["amount_minor"])["currency"] if currencies else "CNY"
    cost: dict[str, float] = {}  # per month, every product together (the table has each)
    for i in reversed(found["cost"]["items"]):
        if i["currency"] == main:
            cost[i["month"]] = round(cost.get(i["month"], 0.0) + float(i["amount"]), 2)
    name = "name_zh" if locale == "zh-CN" else "name_en"
    pareto = [
        {"defect_code": i[name], "count": i["cases"], "cumulative": i["cumulative"]}
        for i in found["defects"]["items"]
    ]
    charts = {
        "failure": {"title": _("Field failure rate (%)"), "values": failure, "color": "#b3261e"},
        "histogram": {"title": _("Claims by days in warranty"), "values": histogram},
        "cost": {
            "title": _("Warranty cost by month (%(currency)s)") % {"currency": main},
            "values": cost,
        },
        "defects": {"items": pareto, "count": _("Cases"), "cumulative": _("Cumulative share")},
    }
    return {name: htmlsafe_json_dumps(data, sort_keys=False) for name, data in charts.items()}


@router.get("/warranty-report")
def warranty_report_page(
    request: Request, by: str = "product", product: str = "", since: str = "", until: str = ""
) -> Response:
    actor, csrf = require_login(request)
    errors: dict[str, str] = {}
    found: dict[str, Any] | None = None
    try:
        found = _report(request, actor, by, product, since, until)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    products = catalog.list_products(database(request), actor, limit=1000)["items"]
    query = urlencode({"by": by, "product": product, "since": since, "until": until})
    return render(
        request,
        "warranty_report.html",
        422 if errors else 200,
        user=actor,
        csrf=csrf,
        by=by,
        product=product,
        since=since,
        until=until,
        found=found,
        charts=_charts(found, i18n.current.get()) if found else None,
        errors=errors,
        dimensions=figures.DIMENSIONS,
        products=products,
        query=query,
    )


@router.get("/warranty-report/export")
def warranty_report_export(
    request: Request,
    table: str = "failures",
    by: str = "product",
    product: str = "",
    since: str = "",
    until: str = "",
    format: str = "csv",
) -> Response:
    """One table of the report as CSV or XLSX, with the page's language in its headers."""
    actor, csrf = require_login(request)
    try:
        found = _report(request, actor, by, product, since, until)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError:  # the page names the problem next to its field
        return RedirectResponse("/warranty-report?" + str(request.query_params), status_code=303)
    chosen = table if table in TABLES else "failures"
    name, columns = TABLES[chosen]
    if chosen == "failures":
        name = f"{name}-by-{by}"
    fmt = "xlsx" if format == "xlsx" else "csv"
    return download(name, columns, _rows(found, chosen), fmt)
