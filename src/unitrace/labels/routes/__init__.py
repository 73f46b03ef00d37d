"""Labels API: templates (`templates`), print runs (`runs`); each area a module of this
package, included below."""

from __future__ import annotations

from fastapi import APIRouter

from unitrace.labels.routes import runs, templates

router = APIRouter(tags=["labels"])

for area in (templates, runs):
    router.include_router(area.router)
