"""The application factory: one FastAPI app serving the API (and, later, the pages)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from unitrace import __version__
from unitrace.api import problems
from unitrace.api.headers import with_security_headers
from unitrace.config import Limits
from unitrace.db.engine import Database

API_PREFIX = "/api/v1"
PUBLIC_PREFIXES = ("/01/", "/v/")  # no login: the GS1 Digital Link resolver (web/resolver.py),
# the buyer's pages (web/verify_owners.py), the verification page (web/verify_page.py)


class UnitraceApp(FastAPI):
    """FastAPI, with every request passing the request limits first (`api.limits`), and
    `POST /api/v1/events` answered before the middleware stack and the router (`api.fastpath`)
    unless the app is made with `scan_fast_path=False`.

    Which door a request takes is decided here, by this setting and the request's method and
    path, never by what Starlette holds. Middleware added to the app (`add_middleware`,
    `@app.middleware`) would not see the fast path's requests, so adding any while the fast
    path is on is refused; wrap the app instead (`SomeMiddleware(app)` sees every request), or
    make it with `scan_fast_path=False`."""

    def __init__(
        self, limits: Limits | None = None, *, scan_fast_path: bool = True, **kwargs: Any
    ) -> None:
        from unitrace.api.fastpath import ScanFastPath
        from unitrace.api.limits import RequestLimits
        from unitrace.web.common import problem_page

        if scan_fast_path and kwargs.get("middleware"):
            raise RuntimeError(_FAST_PATH_AND_MIDDLEWARE)
        self.scan_fast_path = scan_fast_path
        super().__init__(**kwargs)
        self._scans = ScanFastPath(self.state, path=f"{API_PREFIX}/events")
        self._limits = RequestLimits(
            self._dispatch,
            self.state,
            limits or Limits.from_env(),
            api_prefix=API_PREFIX,
            more_api_prefixes=("/epcis",),  # the EPCIS 2.0 REST binding (interop/epcis)
            openapi=self.openapi,
            page_problem=problem_page,
            public_prefixes=PUBLIC_PREFIXES,
        )

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        if self.scan_fast_path:
            raise RuntimeError(_FAST_PATH_AND_MIDDLEWARE)
        super().add_middleware(middleware_class, *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = with_security_headers(scope, send)
        await self._limits(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.scan_fast_path and scope["type"] == "http" and self._scans.takes(scope):
            await self._scans(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


_FAST_PATH_AND_MIDDLEWARE = (
    "middleware added to the app would not see POST /api/v1/events, which the scan fast path "
    "answers ahead of it: wrap the app in the middleware instead, or make the app with "
    "scan_fast_path=False"
)


def create_app(
    db: Database, limits: Limits | None = None, *, scan_fast_path: bool = True
) -> FastAPI:
    """The app; `limits` from the environment unless given (see `config.Limits`);
    `scan_fast_path` as `UnitraceApp` says."""
    from unitrace.access.routes import router as access_router
    from unitrace.aftersales.routes import router as aftersales_router
    from unitrace.api.gs1 import router as gs1_router
    from unitrace.api.owners import router as owners_router
    from unitrace.catalog.routes import router as catalog_router
    from unitrace.channel.routes import router as channel_router
    from unitrace.interop.imports.routes import router as imports_router
    from unitrace.interop.webhooks.routes import router as webhooks_router
    from unitrace.labels.routes import router as labels_router
    from unitrace.ledger import pipeline
    from unitrace.ledger.routes import router as ledger_router
    from unitrace.ledger.schemas import EventIn
    from unitrace.production.routes import router as production_router
    from unitrace.verify.routes import router as verify_router

    pipeline.require("production", "channel", "aftersales")  # the capabilities it serves

    app = UnitraceApp(
        limits,
        scan_fast_path=scan_fast_path,
        title="unitrace",
        version=__version__,
        description="Serial-number management and unit-level traceability (一物一码).",
        docs_url=None,  # served below from the vendored Swagger UI
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.db = db
    problems.install(app)
    for router in (
        catalog_router,
        aftersales_router,  # before the ledger's GET /units/{serial:path}: …/warranty
        owners_router,  # the same: …/owners
        ledger_router,
        access_router,
        production_router,
        channel_router,
        gs1_router,
        labels_router,
        verify_router,
        webhooks_router,
        imports_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    from unitrace.interop.epcis.routes import router as epcis_router

    app.include_router(epcis_router)  # the EPCIS 2.0 REST binding at /epcis (issue 17)
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from unitrace.web.analytics import router as analytics_pages
    from unitrace.web.cases import router as cases_pages
    from unitrace.web.channel import router as channel_pages
    from unitrace.web.claims import router as claims_pages
    from unitrace.web.clones import router as clones_pages
    from unitrace.web.common import LoginRequired, login_redirect
    from unitrace.web.desk import router as desk_pages
    from unitrace.web.imports import router as imports_pages
    from unitrace.web.labels import router as labels_pages
    from unitrace.web.labels_runs import router as label_runs_pages
    from unitrace.web.manage import router as manage_router
    from unitrace.web.navigation import PageForbidden, forbidden, guard
    from unitrace.web.pages import router as pages_router
    from unitrace.web.production import router as production_pages
    from unitrace.web.spares import router as spares_pages
    from unitrace.web.verify_owners import staff_router as owners_staff_pages
    from unitrace.web.verify_page import staff_router as reports_staff_pages
    from unitrace.web.warranty import router as warranty_pages
    from unitrace.web.webhooks import router as webhooks_pages

    page_routers = (
        pages_router,
        manage_router,
        production_pages,
        channel_pages,
        cases_pages,
        desk_pages,
        warranty_pages,
        claims_pages,
        spares_pages,
        analytics_pages,
        label_runs_pages,
        labels_pages,
        owners_staff_pages,
        clones_pages,
        reports_staff_pages,
        webhooks_pages,
        imports_pages,
    )
    for pages in page_routers:
        # the header's table of pages is also their guard (web.navigation)
        app.include_router(pages, dependencies=[Depends(guard)])
    from unitrace.web.resolver import router as resolver_pages

    app.include_router(resolver_pages)  # public: the units' GS1 Digital Link URIs, no login
    from unitrace.verify.public import router as verify_public

    app.include_router(verify_public)  # public: a code's verification as JSON (/v/{code}.json)
    from unitrace.web.verify_owners import router as owners_pages

    app.include_router(owners_pages)  # public: the buyer's registration and ownership pages
    from unitrace.web.verify_page import router as verify_pages

    # public: /v and /v/{code}; after the JSON edge (/v/{code}.json) and the buyer's pages
    # (/v/claim), which its /v/{code} would take otherwise
    app.include_router(verify_pages)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(PageForbidden, forbidden)
    static = Path(__file__).resolve().parent.parent / "web" / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # POST /events parses its body itself (one event or a list); publish the model.
            event_schema = EventIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(event_schema.pop("$defs", {}))
            components["EventIn"] = event_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        """Swagger UI from /static (vendored: no other host, works offline, under the CSP)."""
        from unitrace.web.common import templates

        context = {"title": app.title, "openapi_url": app.openapi_url}
        return templates.TemplateResponse(request, "api_docs.html", context)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app_from_env() -> FastAPI:
    """The app of one server worker process (`unitrace serve --workers N`): the database
    from the environment, like every command."""
    from unitrace.config import Settings

    db = Database(Settings.from_env().database_url)
    db.checkpoint_in_background()
    return create_app(db)
