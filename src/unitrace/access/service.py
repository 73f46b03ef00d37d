"""Users, roles, API tokens, web sessions and login back-off. Every write is audited.

Passwords are argon2-hashed; tokens and session ids are stored as SHA-256 only.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Connection, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from unitrace.access import audit
from unitrace.access.passwords import MIN_LENGTH, password_problem
from unitrace.access.principal import ROLES, Actor
from unitrace.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    Unauthorized,
    UnitraceError,
    invalid,
)
from unitrace.db.engine import Database
from unitrace.db.tables import api_tokens, login_failures, parties, sessions, users

TOKEN_PREFIX = "ut_"
MIN_PASSWORD = MIN_LENGTH
LOCALES = ("en", "zh-CN")
SESSION_LIFETIME = timedelta(hours=12)
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{1,79}$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Backoff:
    """How long logins are refused after failures in a row: the first `free` failures cost
    nothing, each further one doubles the refusal window from `first` up to `longest`."""

    free: int
    first: timedelta
    longest: timedelta

    def window(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        doubled: timedelta = self.first * 2 ** min(failures - self.free, 40)
        return min(doubled, self.longest)


# per user name (whether or not it exists: the answers must not tell) and per address; a
# success resets both, and an administrator clears them with `unitrace user unlock`
ACCOUNT_BACKOFF = Backoff(free=3, first=timedelta(seconds=1), longest=timedelta(minutes=15))
ADDRESS_BACKOFF = Backoff(free=10, first=timedelta(seconds=1), longest=timedelta(minutes=5))
FORGET_FAILURES = timedelta(days=1)  # failures older than this no longer count


@dataclass
class Throttled(UnitraceError):
    """Logins refused for `retry_after` seconds after failed ones; the same answer whether the
    user name exists or not, and whether the password would have been right."""

    retry_after: int = 1
    code = "throttled"
    title = "Too many failed logins"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_password_policy(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise invalid("password", problem)


def _now() -> datetime:
    return datetime.now(UTC)


# --- users ------------------------------------------------------------------------------


def _user_public(conn: Connection, row: Any) -> dict[str, Any]:
    party = None
    if row.party_id is not None:
        party = conn.execute(select(parties.c.code).where(parties.c.id == row.party_id)).scalar()
    failures = _failures(conn, _account_key(row.username))
    refused = _refused_until(failures, ACCOUNT_BACKOFF, _now())
    return {
        "username": row.username,
        "role": row.role,
        "party": party,
        "active": bool(row.active),
        "locale": row.locale,
        "failed_logins": failures.failures if failures is not None else 0,
        "refused_until": refused.isoformat() if refused else None,
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
    _check_password_policy(password, username)
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
            )
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
    revoke_tokens: bool = False,
) -> dict[str, Any]:
    """Change a user's role (and party), enable or disable them, or set a new password.

    A new password ends the user's sessions and login back-off. It revokes the user's API
    tokens when `revoke_tokens` is set, and always when it is an administrator's reset of
    someone else's password (whoever learnt the old one may have made a token with it)."""
    actor.require("access.admin")
    if password is not None:
        _check_password_policy(password, username)
    with db.write() as conn:
        row = _user_row(conn, username)
        before = _user_public(conn, row)
        changes: dict[str, Any] = {}
        if role is not None or party is not None:
            new_role = role or row.role
            wanted = (party or before["party"]) if new_role == "partner" else party
            new_party = _party_for_role(conn, new_role, wanted)
            if (new_role, new_party) != (row.role, row.party_id):
                changes.update(role=new_role, party_id=new_party)
        if active is not None and active != bool(row.active):
            if not active and username == actor.username:
                raise invalid("active", "you cannot disable yourself")
            changes["active"] = active
        if password is not None:
            changes["password_hash"] = _hasher.hash(password)
        revoke = revoke_tokens or (password is not None and actor.user_id != row.id)
        if not changes and not revoke:
            return before
        if changes:
            conn.execute(update(users).where(users.c.id == row.id).values(**changes))
        if active is False or password is not None or "role" in changes:
            conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
        if password is not None:
            _forget_failures(conn, _account_key(username))
        revoked = _revoke_tokens_of(conn, actor, row.id) if revoke else []
        after = _user_public(conn, _user_row(conn, username))
        if password is not None:  # the hash is never shown; that it changed is
            after["password"] = "changed"
        if revoke:
            after["tokens_revoked"] = len(revoked)
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
        public = {
            "id": token_id,
            "user": username,
            "name": name,
            "expires_at": expires.isoformat() if expires else None,
            "trusted": trusted,
        }
        audit.append(conn, actor, "create", "token", str(token_id), None, public)
    return {**public, "token": token}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
    return [
        {
            "id": r.id,
            "user": r.username,
            "name": r.name,
            "created_at": _iso(r.created_at),
            "expires_at": _iso(r.expires_at),
            "revoked_at": _iso(r.revoked_at),
            "last_used_at": _iso(r.last_used_at),
            "trusted": r.trusted,
        }
        for r in rows
    ]


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
            audit.append(
                conn, actor, "revoke", "token", str(token_id), {"revoked": False}, {"revoked": True}
            )
    forget_tokens()  # after the commit: nothing can cache the old answer again
    return {"id": token_id, "revoked": True}


def revoke_user_tokens(db: Database, actor: Actor, username: str) -> list[int]:
    """Revoke every live token of a user (yourself, or anyone for an admin); their ids."""
    if actor.username != username:
        actor.require("access.admin")
    with db.write() as conn:
        revoked = _revoke_tokens_of(conn, actor, _user_row(conn, username).id)
    forget_tokens()
    return revoked


def _revoke_tokens_of(conn: Connection, actor: Actor, user_id: int) -> list[int]:
    live = (api_tokens.c.user_id == user_id) & api_tokens.c.revoked_at.is_(None)
    query = select(api_tokens.c.id).where(live).order_by(api_tokens.c.id)
    ids = [int(i) for i in conn.execute(query).scalars()]
    if ids:
        conn.execute(update(api_tokens).where(api_tokens.c.id.in_(ids)).values(revoked_at=_now()))
    for token_id in ids:
        audit.append(
            conn, actor, "revoke", "token", str(token_id), {"revoked": False}, {"revoked": True}
        )
    return ids


TOKEN_CACHE_SECONDS = 2.0
_token_cache: dict[tuple[str, str], tuple[float, Actor, datetime | None]] = {}
_token_generation = 0  # counts `forget_tokens` calls: a lookup older than the last one is stale


def forget_tokens() -> None:
    """Drop cached token lookups (this process): after a token is revoked or a user changed.
    A lookup that started before and ends after this call is not cached either."""
    global _token_generation
    _token_generation += 1
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
    generation = _token_generation
    actor, expires = _lookup_token(db, key[1])
    if len(_token_cache) > 10_000:
        _token_cache.clear()
    if generation == _token_generation:  # else revoked meanwhile, perhaps this very token
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
                api_tokens.c.last_used_at,
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
    _note_use(db, row.token_id, row.last_used_at)
    return actor, row.expires_at


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def _note_use(db: Database, token_id: int, last_used: datetime | None) -> None:
    """Keep a token's `last_used_at` to the minute: written only when the last note is older
    than TOKEN_USE_RESOLUTION, and only on a lookup (the cache answers the requests between),
    so a scanner's many requests a second make one write a minute. Best effort: a busy
    database postpones the note to the next lookup, it never fails the request."""
    now = _now()
    if last_used is not None and now - last_used < TOKEN_USE_RESOLUTION:
        return
    stale = or_(
        api_tokens.c.last_used_at.is_(None),
        api_tokens.c.last_used_at < now - TOKEN_USE_RESOLUTION,
    )
    try:
        with db.write() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, stale)
                .values(last_used_at=now)
            )
    except (Conflict, DBAPIError):
        return


# --- logins and web sessions ------------------------------------------------------------


def login(db: Database, username: str, password: str, address: str) -> tuple[Actor, str, str]:
    """Check a password; returns (actor, session id, CSRF token). The session id goes into an
    HttpOnly cookie and is stored hashed.

    Whether the user name exists shows neither in the answer nor in the time it takes: an
    unknown name is checked against a dummy hash, and its failures back off like an account's.
    After failures in a row, per user name and per address, logins are refused for a window
    that doubles with each failure (`Throttled`, before any password check); a success ends
    both back-offs."""
    now = _now()
    keys = (_account_key(username), _address_key(address))
    with db.write() as conn:
        known = select(login_failures).where(login_failures.c.address.in_(keys))
        state = {r.address: r for r in conn.execute(known)}
        refused = [
            _refused_until(state.get(keys[0]), ACCOUNT_BACKOFF, now),
            _refused_until(state.get(keys[1]), ADDRESS_BACKOFF, now),
        ]
        until = max((r for r in refused if r is not None), default=None)
        if until is not None:
            seconds = max(1, math.ceil((until - now).total_seconds()))
            raise Throttled(
                f"too many failed logins; try again in {seconds} seconds", retry_after=seconds
            )
        row = conn.execute(select(users).where(users.c.username == username)).first()
        good = _password_matches(row.password_hash if row is not None else None, password)
        if row is None or not good or not row.active:
            for key in keys:
                _count_failure(conn, key, state.get(key), now)
            row = None
        else:
            for key in keys:
                _forget_failures(conn, key)
            session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            conn.execute(
                insert(sessions).values(
                    id_hash=hash_secret(session_id),
                    user_id=row.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
    if row is None:  # outside the transaction: the failure counts are committed
        raise Unauthorized("wrong user name or password")
    return Actor(row.username, row.role, row.id, None, row.party_id), session_id, csrf


_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password with the parameters of the real ones (made once, and again
    if the parameters change)."""
    if not _dummy or _hasher.check_needs_rehash(_dummy[0]):
        _dummy[:] = [_hasher.hash(secrets.token_urlsafe(16))]
    return _dummy[0]


def _password_matches(password_hash: str | None, password: str) -> bool:
    """argon2 check; for an unknown user (`password_hash` None) against a dummy hash, so that
    it takes as long as a wrong password of a user that exists."""
    try:
        _hasher.verify(password_hash or _dummy_hash(), password)
    except VerificationError:
        return False
    return password_hash is not None


# `login_failures` holds one row per user name ("user:" + its hash, so that any name fits)
# and per address ("address:" + address): `failures` in a row, `window_start` the last one
def _account_key(username: str) -> str:
    return "user:" + hash_secret(username)[:40]


def _address_key(address: str) -> str:
    return "address:" + address[:56]


def _failures(conn: Connection, key: str) -> Any:
    return conn.execute(select(login_failures).where(login_failures.c.address == key)).first()


def _refused_until(failures: Any, backoff: Backoff, now: datetime) -> datetime | None:
    if failures is None or failures.window_start <= now - FORGET_FAILURES:
        return None
    until: datetime = failures.window_start + backoff.window(failures.failures)
    return until if until > now else None


def _count_failure(conn: Connection, key: str, failures: Any, now: datetime) -> None:
    if failures is None:
        # a new name or address: the moment to drop rows nobody has failed with for a day
        conn.execute(
            delete(login_failures).where(login_failures.c.window_start <= now - FORGET_FAILURES)
        )
    # an upsert that counts on the row as it is then: failures for a new name at the same
    # moment (PostgreSQL) must all count, not clash
    stale = login_failures.c.window_start <= now - FORGET_FAILURES
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        dialect_insert(login_failures)
        .values(address=key, window_start=now, failures=1)
        .on_conflict_do_update(
            index_elements=[login_failures.c.address],
            set_={
                "window_start": now,
                "failures": case((stale, 1), else_=login_failures.c.failures + 1),
            },
        )
    )


def _forget_failures(conn: Connection, key: str) -> int:
    found = _failures(conn, key)
    if found is None:
        return 0
    conn.execute(delete(login_failures).where(login_failures.c.address == key))
    return int(found.failures)


def clear_backoff(
    db: Database, actor: Actor, username: str | None = None, address: str | None = None
) -> dict[str, int]:
    """An administrator's way in: forget the failed logins of a user and/or an address, so
    that logins are no longer refused. Audited; returns the failures forgotten per key."""
    actor.require("access.admin")
    if not username and not address:
        raise invalid("username", "name a user or an address")
    cleared: dict[str, int] = {}
    with db.write() as conn:
        if username:
            _user_row(conn, username)
            cleared[username] = n = _forget_failures(conn, _account_key(username))
            if n:
                before, after = {"failed_logins": n}, {"failed_logins": 0}
                audit.append(conn, actor, "unlock", "user", username, before, after)
        if address:
            cleared[address] = n = _forget_failures(conn, _address_key(address))
            if n:
                before, after = {"failed_logins": n}, {"failed_logins": 0}
                audit.append(conn, actor, "unlock", "address", address, before, after)
    return cleared


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
    good = _password_matches(row.password_hash if row is not None else None, password)
    if not good or row is None or not row.active:
        raise Unauthorized("wrong user name or password")
    return Actor(row.username, row.role, row.id, None, row.party_id)
