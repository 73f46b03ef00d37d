"""Shared FastAPI dependencies as Annotated aliases: the database and the acting user; and the
one reading of an API request's bearer token, which the request limits, the routes and the
scan fast path share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from unitrace.access.principal import Actor
from unitrace.access.service import authenticate, cached_actor
from unitrace.core.errors import Unauthorized
from unitrace.db.engine import Database

# Declared by `current_actor` only so that the published schema names the scheme; the token
# itself is read by `actor_of`, like everywhere else.
_bearer = HTTPBearer(auto_error=False, description="API token from `unitrace token create`")

ACTOR_KEY = "unitrace.actor"  # the scope key under which `api.limits` hands on the actor
MISSING_TOKEN = "send `Authorization: Bearer <token>`; make one with unitrace token create"


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def actor_for_token(db: Database, token: str) -> Actor:
    """A token seen in the last seconds is answered from memory; otherwise the lookup runs in
    the thread pool."""
    known = cached_actor(db, token)
    if known is not None:
        return known
    return await run_in_threadpool(authenticate, db, token)


async def actor_of(scope: Scope, db: Database) -> Actor:
    """The acting user of an API request: the one the request limits (`api.limits`) found for
    its token before the body was read, else the one its `Authorization` header names; 401
    without a token."""
    known: Actor | None = scope.get(ACTOR_KEY)
    if known is not None:
        return known
    authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized(MISSING_TOKEN)
    return await actor_for_token(db, token)


async def current_actor(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Async, so that it runs on the event loop: a sync dependency costs a thread hop on every
    request."""
    return await actor_of(request.scope, request.app.state.db)


DatabaseDep = Annotated[Database, Depends(get_db)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
Offset = Annotated[int, Query(ge=0, le=10**9, description="how many to skip")]
"""A list's `offset`: bounded, so that no number overflows the database's integers."""
