"""Access API: users, roles, tokens, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from unitrace.access import audit, service
from unitrace.access.principal import PERMISSIONS, ROLE_SUMMARY, ROLES
from unitrace.access.schemas import TokenCreate, UserCreate, UserUpdate
from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.core.errors import invalid

router = APIRouter(tags=["access"])


@router.get("/me")
def me(actor: CurrentActor) -> dict[str, Any]:
    return {
        "username": actor.username,
        "role": actor.role,
        "permissions": sorted(ROLES.get(actor.role, ())),
    }


@router.get("/roles")
def roles(actor: CurrentActor) -> dict[str, Any]:
    actor.require("read")
    return {
        "roles": {
            name: {"summary": ROLE_SUMMARY[name], "permissions": sorted(perms)}
            for name, perms in ROLES.items()
        },
        "permissions": PERMISSIONS,
    }


@router.get("/users")
def list_users(db: DatabaseDep, actor: CurrentActor) -> list[dict[str, Any]]:
    return service.list_users(db, actor)


@router.post("/users", status_code=201)
def create_user(body: UserCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.create_user(db, actor, body.username, body.password, body.role, body.party)


@router.patch("/users/{username}")
def update_user(
    username: str, body: UserUpdate, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.update_user(db, actor, username, **body.model_dump(exclude_unset=True))


@router.get("/tokens")
def list_tokens(
    db: DatabaseDep, actor: CurrentActor, user: str | None = Query(default=None, max_length=80)
) -> list[dict[str, Any]]:
    """Your own tokens; an admin may list anyone's (`user=`) or all (`user=*`)."""
    wanted = None if user == "*" else (user or actor.username)
    return service.list_tokens(db, actor, wanted)


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A new token (shown once in `token`)."""
    return service.create_token(
        db, actor, body.user or actor.username, body.name, body.days, body.trusted
    )


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    if not 0 < token_id < 2**62:
        raise invalid("token_id", "not a token id", token_id)
    return service.revoke_token(db, actor, token_id)


@router.get("/audit", response_model=None)
def audit_records(
    db: DatabaseDep,
    actor: CurrentActor,
    entity: str | None = Query(default=None, max_length=20),
    key: str | None = Query(default=None, max_length=120),
    actor_name: str | None = Query(default=None, alias="actor", max_length=80),
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = Query(default=None, ge=1, le=2**62, description="`next` cursor"),
    limit: int = Query(default=50, ge=1, le=500),
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: every record the filters match, downloaded"
    ),
) -> dict[str, Any] | Response:
    """The audit trail, newest first (auditor and admin)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise invalid(name, "needs a UTC offset, e.g. 2026-11-24T08:00:00+08:00")
    filters: dict[str, Any] = dict(
        entity=entity, entity_key=key, who=actor_name, since=since, until=until
    )
    if format != "json":
        rows = downloads.paged(
            lambda page: audit.list_records(
                db, actor, **filters, before_id=int(page) if page else before, limit=500
            )
        )
        return downloads.download("audit", downloads.AUDIT, rows, format)
    return audit.list_records(db, actor, **filters, before_id=before, limit=limit)


@router.get("/audit/head")
def audit_head(db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """The chain's head now (sequence number and hash): keep it outside the database, e.g.
    with an auditor, and check it later with `unitrace audit verify --anchor`."""
    return audit.current_head(db, actor).as_dict()


@router.get("/audit/verify")
def audit_verify(db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    report = audit.verify_chain(db, actor)
    return {
        "ok": report.ok,
        "records": report.records,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }
