"""Users and API tokens. Passwords are argon2-hashed; tokens are stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, insert, select

from unitrace.access.principal import ROLES, Actor
from unitrace.core.errors import Conflict, FieldError, NotFound, Unauthorized, invalid
from unitrace.db.engine import Database
from unitrace.db.tables import api_tokens, users

TOKEN_PREFIX = "ut_"
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{1,79}$")
_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    db: Database, actor: Actor, username: str, password: str, role: str
) -> dict[str, Any]:
    actor.require("access.admin")
    if not _USERNAME.match(username):
        raise invalid("username", "2-80 letters, digits or . _ @ -", username)
    if role not in ROLES:
        raise invalid("role", f"one of {', '.join(ROLES)}", role)
    if len(password) < MIN_PASSWORD:
        raise invalid("password", f"at least {MIN_PASSWORD} characters")
    with db.write() as conn:
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise Conflict(
                f"user {username!r} exists", [FieldError("username", "already exists", username)]
            )
        conn.execute(
            insert(users).values(
                username=username, password_hash=_hasher.hash(password), role=role, active=True
            )
        )
    return {"username": username, "role": role}


def check_password(db: Database, username: str, password: str) -> Actor:
    with db.read() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        if row is None or not row.active:
            raise VerificationError()
        _hasher.verify(row.password_hash, password)
    except VerificationError:
        raise Unauthorized("wrong user name or password") from None
    return Actor(row.username, row.role, row.id)


def create_token(
    db: Database, actor: Actor, username: str, name: str, days: int | None = None
) -> dict[str, Any]:
    """A new API token for `username`; the token itself is shown once and never stored."""
    if actor.username != username:
        actor.require("access.admin")
    if not 1 <= len(name) <= 80:
        raise invalid("name", "1-80 characters", name)
    if days is not None and not 1 <= days <= 3650:
        raise invalid("days", "from 1 to 3650", days)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with db.write() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if user_id is None:
            raise NotFound(
                f"no user {username!r}", [FieldError("username", "unknown user", username)]
            )
        conn.execute(
            insert(api_tokens).values(
                user_id=user_id, name=name, token_hash=hash_token(token), expires_at=expires
            )
        )
    return {"token": token, "name": name, "expires_at": expires.isoformat() if expires else None}


def authenticate(db: Database, token: str) -> Actor:
    """The actor behind a bearer token, or Unauthorized (unknown, revoked or expired)."""
    with db.read() as conn:
        row = conn.execute(
            select(
                api_tokens.c.id.label("token_id"),
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
                users.c.id.label("user_id"),
                users.c.username,
                users.c.role,
                users.c.active,
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == hash_token(token))
        ).first()
    if row is None or row.revoked_at is not None or not row.active:
        raise Unauthorized("unknown or revoked API token")
    if row.expires_at is not None and row.expires_at < datetime.now(UTC):
        raise Unauthorized("API token expired")
    return Actor(row.username, row.role, row.user_id, row.token_id)


def count_users(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
