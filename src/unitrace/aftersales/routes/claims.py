"""After-sales API: claims (included by `aftersales.routes`)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["after-sales"])
