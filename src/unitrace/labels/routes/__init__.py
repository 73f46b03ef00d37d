"""Labels API: templates here (`templates`); each area a module of this package, included below."""

from __future__ import annotations

from fastapi import APIRouter

from unitrace.labels.routes import templates

router = APIRouter(tags=["labels"])

for area in (templates,):
    router.include_router(area.router)
