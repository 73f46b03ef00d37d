"""Shared FastAPI dependencies as Annotated aliases: the database and the acting user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from unitrace.access.principal import Actor
from unitrace.access.service import authenticate, cached_actor
from unitrace.core.errors import Unauthorized
from unitrace.db.engine import Database

_bearer = HTTPBearer(auto_error=False, description="API token from `unitrace token create`")


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Async, so that it runs on the event loop: a sync dependency costs a thread hop on every
    request. The request limits (`api.limits`) have checked the token already."""
    known: Actor | None = request.scope.get(ACTOR_KEY)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(MISSING_TOKEN)
    return await actor_for_token(request.app.state.db, credentials.credentials)


ACTOR_KEY = "unitrace.actor"  # the scope key under which `api.limits` hands on the actor
MISSING_TOKEN = "send `Authorization: Bearer <token>`; make one with unitrace token create"


async def actor_for_token(db: Database, token: str) -> Actor:
    """A token seen in the last seconds is answered from memory; otherwise the lookup runs in
    the thread pool."""
    known = cached_actor(db, token)
    if known is not None:
        return known
    return await run_in_threadpool(authenticate, db, token)


DatabaseDep = Annotated[Database, Depends(get_db)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
