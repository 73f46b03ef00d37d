"""Shared FastAPI dependencies as Annotated aliases: the database and the acting user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from unitrace.access.principal import Actor
from unitrace.access.service import authenticate
from unitrace.core.errors import Unauthorized
from unitrace.db.engine import Database

_bearer = HTTPBearer(auto_error=False, description="API token from `unitrace token create`")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "send `Authorization: Bearer <token>`; make one with unitrace token create"
        )
    return authenticate(get_db(request), credentials.credentials)


DatabaseDep = Annotated[Database, Depends(get_db)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
