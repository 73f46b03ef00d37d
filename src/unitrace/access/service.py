"""Users, roles, API tokens, web sessions and login throttling. Every write is audited.

Passwords are argon2-hashed; tokens and session ids are stored as SHA-256 only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import ROLES, Actor
from unitrace.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Unauthorized,
    invalid,
)
from unitrace.db.engine import Database
from unitrace.db.tables import api_tokens, login_failures, parties, sessions, users

TOKEN_PREFIX = "ut_"
MIN_PASSWORD = 10
LOCALES = ("en", "zh-CN")
ACCOUNT_MAX_FAILURES = 5  # consecutive failed logins before the account locks
ACCOUNT_LOCK = timedelta(minutes=15)
ADDRESS_MAX_FAILURES = 20  # failed logins from one address within the window
ADDRESS_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{1,79}$")
_hasher = PasswordHasher()


class Locked(Forbidden):
    code = "locked"
    title = "Account locked"


class Throttled(Forbidden):
    code = "throttled"
    title = "Too many failed logins"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


# --- users ------------------------------------------------------------------------------


def _user_public(conn: Connection, row: Any) -> dict[str, Any]:
    party = None
    if row.party_id is not None:
        party = conn.execute(select(parties.c.code).where(parties.c.id == row.party_id)).scalar()
    return {
        "username": row.username,
        "role": row.role,
        "party": party,
        "active": bool(row.active),
        "locale": row.locale,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
    }


def _user_row(conn: Connection, username: str) -> Any:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise NotFound(f"no user {username!r}", [FieldError("username", "unknown user", username)])
    return row


def _party_for_role(conn: Connection, role: str, party: str | None) -> int | None:
    if role not in ROLES:
        raise invalid("role", f"one of {', '.join(ROLES)}", role)
    if role == "partner":
        if not party:
            raise invalid("party", "a partner user belongs to one distributor or retailer")
        row = conn.execute(
            select(parties.c.id, parties.c.kind).where(parties.c.code == party)
        ).first()
        if row is None:
            raise NotFound(f"no party {party!r}", [FieldError("party", "unknown party", party)])
        if row.kind not in ("distributor", "retailer"):
            raise invalid("party", "must be a distributor or retailer", party)
        return int(row.id)
    if party:
        raise invalid("party", "only partner users belong to a party", party)
    return None


def create_user(
    db: Database, actor: Actor, username: str, password: str, role: str, party: str | None = None
) -> dict[str, Any]:
    actor.require("access.admin")
    if not _USERNAME.match(username):
        raise invalid("username", "2-80 letters, digits or . _ @ -", username)
    if len(password) < MIN_PASSWORD:
        raise invalid("password", f"at least {MIN_PASSWORD} characters")
    with db.write() as conn:
        party_id = _party_for_role(conn, role, party)
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise Conflict(
                f"user {username!r} exists", [FieldError("username", "already exists", username)]
            )
        conn.execute(
            insert(users).values(
                username=username,
                password_hash=_hasher.hash(password),
                role=role,
                active=True,
                party_id=party_id,
            )  # fmt: skip
        )
        created = _user_public(conn, _user_row(conn, username))
        audit.append(conn, actor, "create", "user", username, None, created)
    return created


def update_user(
    db: Database,
    actor: Actor,
    username: str,
    *,
    role: str | None = None,
    party: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """Change a user's role (and party), enable or disable them, or set a new password."""
    actor.require("access.admin")
    with db.write() as conn:
        row = _user_row(conn, username)
        before = _user_public(conn, row)
        changes: dict[str, Any] = {}
        if role is not None or party is not None:
            new_role = role or row.role
            new_party = _party_for_role(conn, new_role, party or before["party"]
                                        if new_role == "partner" else party)  # fmt: skip
            if (new_role, new_party) != (row.role, row.party_id):
                changes.update(role=new_role, party_id=new_party)
        if active is not None and active != bool(row.active):
            if not active and username == actor.username:
                raise invalid("active", "you cannot disable yourself")
            changes["active"] = active
        if password is not None:
            if len(password) < MIN_PASSWORD:
                raise invalid("password", f"at least {MIN_PASSWORD} characters")
            changes.update(password_hash=_hasher.hash(password), failed_logins=0,
                           locked_until=None)  # fmt: skip
        if not changes:
            return before
        conn.execute(update(users).where(users.c.id == row.id).values(**changes))
        if active is False or password is not None or "role" in changes:
            conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
        after = _user_public(conn, _user_row(conn, username))
        audit.append(conn, actor, "update", "user", username, before, after)
    forget_tokens()  # after the commit: the user's tokens act with the new role at once
    return after


def list_users(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require("access.admin")
    with db.read() as conn:
        rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [_user_public(conn, r) for r in rows]


def set_locale(db: Database, actor: Actor, locale: str) -> None:
    """A user's own language choice (not audited as a business change, but kept)."""
    if locale not in LOCALES:
        raise invalid("locale", f"one of {', '.join(LOCALES)}", locale)
    if actor.user_id is None:
        return
    with db.write() as conn:
        conn.execute(update(users).where(users.c.id == actor.user_id).values(locale=locale))


def count_users(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


# --- tokens -----------------------------------------------------------------------------


def create_token(
    db: Database,
    actor: Actor,
    username: str,
    name: str,
    days: int | None = None,
    trusted: bool = False,
) -> dict[str, Any]:
    """A new API token for `username`; the token itself is shown once and never stored.
    `trusted` (administrators only): no API rate limit for it."""
    if actor.username != username or trusted:
        actor.require("access.admin")
    if not 1 <= len(name) <= 80:
        raise invalid("name", "1-80 characters", name)
    if days is not None and not 1 <= days <= 3650:
        raise invalid("days", "from 1 to 3650", days)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = _now() + timedelta(days=days) if days else None
    with db.write() as conn:
        user = _user_row(conn, username)
        token_id = conn.execute(
            insert(api_tokens)
            .values(
                user_id=user.id,
                name=name,
                token_hash=hash_secret(token),
                expires_at=expires,
                trusted=trusted,
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
        public = {"id": token_id, "user": username, "name": name,
                  "expires_at": expires.isoformat() if expires else None,
                  "trusted": trusted}  # fmt: skip
        audit.append(conn, actor, "create", "token", str(token_id), None, public)
    return {**public, "token": token}


def list_tokens(db: Database, actor: Actor, username: str | None = None) -> list[dict[str, Any]]:
    """Tokens (never their secret) of one user, or of everyone for an admin."""
    if username != actor.username:
        actor.require("access.admin")
    query = (
        select(api_tokens, users.c.username)
        .join(users, users.c.id == api_tokens.c.user_id)
        .order_by(api_tokens.c.id)
    )
    if username:
        query = query.where(users.c.username == username)
    with db.read() as conn:
        rows = conn.execute(query).all()
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return [
        {"id": r.id, "user": r.username, "name": r.name, "created_at": iso(r.created_at),
         "expires_at": iso(r.expires_at), "revoked_at": iso(r.revoked_at),
         "last_used_at": iso(r.last_used_at), "trusted": r.trusted}
        for r in rows
    ]  # fmt: skip


def revoke_token(db: Database, actor: Actor, token_id: int) -> dict[str, Any]:
    with db.write() as conn:
        row = conn.execute(
            select(api_tokens, users.c.username)
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.id == token_id)
        ).first()
        if row is None or (row.username != actor.username and not actor.can("access.admin")):
            raise NotFound(f"no token {token_id}", [FieldError("id", "unknown token", token_id)])
        if row.revoked_at is None:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=_now())
            )
            audit.append(conn, actor, "revoke", "token", str(token_id), {"revoked": False},
                         {"revoked": True})  # fmt: skip
    forget_tokens()  # after the commit: nothing can cache the old answer again
    return {"id": token_id, "revoked": True}


TOKEN_CACHE_SECONDS = 2.0
_token_cache: dict[tuple[str, str], tuple[float, Actor, datetime | None]] = {}


def forget_tokens() -> None:
    """Drop cached token lookups (this process): after a token is revoked or a user changed."""
    _token_cache.clear()


def authenticate(db: Database, token: str) -> Actor:
    """The actor behind a bearer token, or Unauthorized (unknown, revoked or expired).

    A good answer is kept for TOKEN_CACHE_SECONDS: a scanner sends many requests a second.
    Revoking a token or changing its user clears the cache of this process; another process
    (the CLI, a second server worker) sees the change within those seconds."""
    known = cached_actor(db, token)
    if known is not None:
        return known
    key = (db.url, hash_secret(token))
    actor, expires = _lookup_token(db, key[1])
    if len(_token_cache) > 10_000:
        _token_cache.clear()
    _token_cache[key] = (time.monotonic() + TOKEN_CACHE_SECONDS, actor, expires)
    return actor


def cached_actor(db: Database, token: str) -> Actor | None:
    """The actor of a token looked up in the last TOKEN_CACHE_SECONDS, or None."""
    cached = _token_cache.get((db.url, hash_secret(token)))
    if cached is None or cached[0] <= time.monotonic():
        return None
    return cached[1] if cached[2] is None or cached[2] >= _now() else None


def _lookup_token(db: Database, token_hash: str) -> tuple[Actor, datetime | None]:
    with db.read() as conn:
        row = conn.execute(
            select(
                api_tokens.c.id.label("token_id"),
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
                api_tokens.c.trusted,
                users.c.id.label("user_id"),
                users.c.username,
                users.c.role,
                users.c.active,
                users.c.party_id,
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == token_hash)
        ).first()
    if row is None or row.revoked_at is not None or not row.active:
        raise Unauthorized("unknown or revoked API token")
    if row.expires_at is not None and row.expires_at < _now():
        raise Unauthorized("API token expired")
    actor = Actor(row.username, row.role, row.user_id, row.token_id, row.party_id, row.trusted)
    return actor, row.expires_at


# --- logins and web sessions ------------------------------------------------------------


def login(db: Database, username: str, password: str, address: str) -> tuple[Actor, str, str]:
    """Check a password, throttled per account and per address; returns (actor, session id,
    CSRF token). The session id goes into an HttpOnly cookie and is stored hashed."""
    now = _now()
    with db.write() as conn:
        failures = conn.execute(
            select(login_failures).where(login_failures.c.address == address)
        ).first()
        if (failures is not None and failures.window_start > now - ADDRESS_WINDOW
                and failures.failures >= ADDRESS_MAX_FAILURES):  # fmt: skip
            raise Throttled("too many failed logins from this address; wait 15 minutes")
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            raise Locked(
                f"account {username} is locked after {ACCOUNT_MAX_FAILURES} failed logins "
                f"until {row.locked_until:%H:%M} UTC; an administrator can unlock it"
            )
        try:
            if row is None or not row.active:
                raise VerificationError()
            _hasher.verify(row.password_hash, password)
        except VerificationError:
            failed = True
        else:
            failed = False
        if failed:
            _count_failure(conn, row, address, now, failures)
        else:
            conn.execute(update(users).where(users.c.id == row.id)
                         .values(failed_logins=0, locked_until=None))  # fmt: skip
            session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            conn.execute(insert(sessions).values(
                id_hash=hash_secret(session_id), user_id=row.id, csrf_token=csrf,
                created_at=now, expires_at=now + SESSION_LIFETIME))  # fmt: skip
    if failed:  # outside the transaction: the failure counts are committed
        raise Unauthorized("wrong user name or password")
    return Actor(row.username, row.role, row.id, None, row.party_id), session_id, csrf


def _count_failure(conn: Connection, row: Any, address: str, now: datetime, failures: Any) -> None:
    if failures is None:
        conn.execute(insert(login_failures).values(address=address, window_start=now, failures=1))
    elif failures.window_start <= now - ADDRESS_WINDOW:
        conn.execute(update(login_failures).where(login_failures.c.address == address)
                     .values(window_start=now, failures=1))  # fmt: skip
    else:
        conn.execute(update(login_failures).where(login_failures.c.address == address)
                     .values(failures=login_failures.c.failures + 1))  # fmt: skip
    if row is not None:
        count = row.failed_logins + 1
        locked = now + ACCOUNT_LOCK if count >= ACCOUNT_MAX_FAILURES else None
        conn.execute(update(users).where(users.c.id == row.id)
                     .values(failed_logins=count, locked_until=locked))  # fmt: skip


def session_actor(db: Database, session_id: str) -> tuple[Actor, str, str | None]:
    """(actor, CSRF token, chosen locale) for a live session, or Unauthorized."""
    with db.read() as conn:
        row = conn.execute(
            select(sessions.c.csrf_token, sessions.c.expires_at, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id_hash == hash_secret(session_id))
        ).first()
    if row is None or row.expires_at < _now() or not row.active:
        raise Unauthorized("please log in")
    return Actor(row.username, row.role, row.id, None, row.party_id), row.csrf_token, row.locale


def logout(db: Database, session_id: str) -> None:
    with db.write() as conn:
        conn.execute(delete(sessions).where(sessions.c.id_hash == hash_secret(session_id)))


def check_password(db: Database, username: str, password: str) -> Actor:
    """Plain password check without a session (CLI helpers, tests)."""
    with db.read() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        if row is None or not row.active:
            raise VerificationError()
        _hasher.verify(row.password_hash, password)
    except VerificationError:
        raise Unauthorized("wrong user name or password") from None
    return Actor(row.username, row.role, row.id, None, row.party_id)
