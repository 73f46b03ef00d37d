"""Access API: who am I. User and token management pages and routes come with roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.api.deps import CurrentActor

router = APIRouter(tags=["access"])


@router.get("/me")
def me(actor: CurrentActor) -> dict[str, Any]:
    return {"username": actor.username, "role": actor.role}
