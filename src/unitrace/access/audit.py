"""The audit trail: every write appends a record — who, when, what, before and after.

Records are hash-chained: each stores the hash of the one before and its own hash over its
content, so editing or deleting any record breaks the chain at that record. Appends take the
single `audit_head` row in the writer's transaction, which orders them on both databases.

The chain alone cannot show that its newest records were removed (with `audit_head` moved
back), nor that the records after some point were rewritten: the hashes use no secret. An
anchor — the head's sequence number and hash, kept outside the database — can: `verify_chain`
checks that every anchored record is still there with the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from unitrace.access.principal import Actor
from unitrace.core.errors import Conflict, invalid
from unitrace.db.engine import Database
from unitrace.db.fast import Fast
from unitrace.db.tables import audit_head, audit_log

GENESIS = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _stored(value: Any) -> str:
    """The canonical JSON text of a value as it will read back. Keys that are not strings
    (numbers, None, booleans) would sort differently before and after they become strings —
    or not sort at all beside string keys — so they become strings first."""
    return _canonical(_string_keys(value))


def _string_keys(value: Any) -> Any:
    """Keys as JSON writes them (1 → "1", None → "null", True → "true"), at every level."""
    if isinstance(value, dict):
        return {_key_text(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_string_keys(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    return (key if isinstance(key, str) else json.dumps(key, default=str)).strip('"')


def record_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of a record as read back (`before`/`after` parsed), as `verify_chain` checks."""
    stored = {**row, "before": _canonical(row["before"]), "after": _canonical(row["after"])}
    return _hash(prev_hash, stored)


def _hash(prev_hash: str, record: dict[str, Any]) -> str:
    """sha256 of the previous hash and the canonical JSON of the record — its keys sorted —
    put together from the canonical JSON of `before` and `after`, which appending has made
    already (the same text as `_canonical` of the whole record; a test holds the two equal)."""
    at = record["at"].astimezone(UTC).isoformat(timespec="microseconds")
    content = (
        f'{{"action":{_canonical(record["action"])},"actor":{_canonical(record["actor"])},'
        f'"after":{record["after"] or "null"},"at":"{at}","before":{record["before"] or "null"},'
        f'"entity":{_canonical(record["entity"])},'
        f'"entity_key":{_canonical(record["entity_key"])},"id":{int(record["id"])}}}'
    )
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def append(
    conn: Connection,
    actor: Actor,
    action: str,
    entity: str,
    entity_key: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one audit record inside the caller's write transaction (at its end when the
    transaction defers them, see `deferred`)."""
    row = {
        "at": datetime.now(UTC),
        "actor": actor.username,
        "action": action,
        "entity": entity,
        "entity_key": str(entity_key)[:120],
        # stored as their canonical JSON text: the text the hash covers, made once
        "before": _stored(before) if before is not None else None,
        "after": _stored(after) if after is not None else None,
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
    }
    pending = conn.info.get(_PENDING)
    if pending is not None:
        pending.append(row)
    else:
        _chain(conn, [row])


_PENDING = "unitrace.audit.pending"


@contextmanager
def deferred(conn: Connection) -> Iterator[list[dict[str, Any]]]:
    """Collect the audit records of a transaction and chain them in one go at the end: one
    head read, one multi-row insert, one head update for a whole batch of writes. The list
    is yielded so that a caller rolling back to a savepoint can drop what it appended since."""
    pending: list[dict[str, Any]] = []
    conn.info[_PENDING] = pending
    try:
        yield pending
    finally:
        conn.info.pop(_PENDING, None)
    if pending:
        _chain(conn, pending)


def _chain(conn: Connection, rows: list[dict[str, Any]]) -> None:
    head = _HEAD.run(conn, {}).fetchone()
    if head is None:  # the very first record: create the head row, whoever gets there first
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            dialect_insert(audit_head)
            .values(id=1, last_id=0, last_hash=GENESIS)
            .on_conflict_do_nothing()
        )
        head = _HEAD.run(conn, {}).fetchone()
    last_id, last_hash = int(head[0]), str(head[1])
    values = []
    for row in rows:
        last_id += 1
        record = {**row, "id": last_id, "prev_hash": last_hash}
        record["hash"] = digest = _hash(last_hash, record)
        values.append(record)
        last_hash = digest
    _INSERT.many(conn, values)
    _ADVANCE.run(conn, {"new_id": last_id, "new_hash": last_hash})


# built once, run on the driver's cursor: an audit record is written with every scan
_HEAD = Fast(
    select(audit_head.c.last_id, audit_head.c.last_hash)
    .where(audit_head.c.id == 1)
    .with_for_update()
)
_AUDIT_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "entity",
    "entity_key",
    "before",
    "after",
    "actor_user_id",
    "actor_token_id",
    "prev_hash",
    "hash",
)
_INSERT = Fast(
    insert(audit_log).values({c: bindparam(c, type_=audit_log.c[c].type) for c in _AUDIT_COLUMNS}),
    as_text=("before", "after"),
)
_ADVANCE = Fast(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(last_id=bindparam("new_id"), last_hash=bindparam("new_hash"))
)


@dataclass(frozen=True)
class ChainReport:
    records: int
    broken_at: int | None
    problem: str | None
    anchors: int = 0  # anchors checked

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment: the last record's sequence number (its id) and hash."""

    sequence: int
    hash: str
    at: str | None = None  # when that record was written (None: the chain was empty)
    anchored_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "hash": self.hash,
            "at": self.at,
            "anchored_at": self.anchored_at,
        }

    def line(self) -> str:
        """One line of an anchor file (JSON)."""
        return json.dumps(self.as_dict(), separators=(", ", ": "))


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def parse_anchors(text: str, source: str = "anchor") -> list[Anchor]:
    """The anchors in the text of an anchor file: one JSON object a line, as `Anchor.line`
    writes them; blank lines and lines starting with # are skipped."""
    anchors = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            value = json.loads(line)
            sequence, digest = value["sequence"], value["hash"]
        except (ValueError, TypeError, KeyError):
            value, sequence, digest = None, None, None
        if (
            not isinstance(sequence, int)
            or isinstance(sequence, bool)
            or sequence < 0
            or not isinstance(digest, str)
            or not _HEX64.match(digest)
        ):
            what = "a JSON object with sequence and hash, as `unitrace audit anchor` writes"
            raise invalid(source, f"line {number} is not an anchor ({what})")
        assert isinstance(value, dict)
        anchors.append(Anchor(sequence, digest, value.get("at"), value.get("anchored_at")))
    if not anchors:
        raise invalid(source, "holds no anchor")
    return anchors


def current_head(db: Database, actor: Actor) -> Anchor:
    """The head of the chain now, to be kept outside the database (`unitrace audit anchor`).
    Refused when the head does not match the record it names: anchoring that proves nothing."""
    actor.require("audit.read")
    anchored_at = datetime.now(UTC).isoformat(timespec="seconds")
    with db.read() as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        if head is None or head.last_id == 0:
            return Anchor(0, GENESIS, None, anchored_at)
        last = conn.execute(
            select(audit_log.c.hash, audit_log.c.at).where(audit_log.c.id == head.last_id)
        ).first()
    if last is None or last.hash != head.last_hash:
        raise Conflict(
            f"the audit head names record {head.last_id}, which is missing or "
            "differs from it; run `unitrace audit verify`"
        )
    at = last.at.astimezone(UTC).isoformat(timespec="microseconds")
    return Anchor(int(head.last_id), str(head.last_hash), at, anchored_at)


def verify_chain(db: Database, actor: Actor, anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk the chain in id order; name the first record that was edited, removed or added.
    With anchors: also each anchored record that is gone or differs — the removal of the
    newest records, or a rewrite of the chain from some record on, that the chain alone
    cannot show."""
    actor.require("audit.read")
    anchored: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        anchored.setdefault(anchor.sequence, []).append(anchor)
    for anchor in anchored.get(0, []):
        if anchor.hash != GENESIS:
            problem = f"the anchor of {anchor.anchored_at} gives the empty chain a wrong hash"
            return ChainReport(0, 1, problem, len(anchors))
    expected_prev, expected_id, count = GENESIS, 1, 0
    with db.read() as conn:
        rows = conn.execution_options(yield_per=10_000).execute(
            select(audit_log).order_by(audit_log.c.id)
        )
        try:
            for row in rows.mappings():
                count += 1
                if row["id"] != expected_id:
                    problem = f"record {expected_id} is missing (next is {row['id']})"
                    return ChainReport(count, expected_id, problem, len(anchors))
                if row["prev_hash"] != expected_prev:
                    problem = f"record {row['id']} does not follow record {row['id'] - 1}"
                    return ChainReport(count, row["id"], problem, len(anchors))
                if record_hash(row["prev_hash"], dict(row)) != row["hash"]:
                    problem = f"record {row['id']} was edited"
                    return ChainReport(count, row["id"], problem, len(anchors))
                for anchor in anchored.get(row["id"], ()):
                    if anchor.hash != row["hash"]:
                        problem = (
                            f"record {row['id']} differs from its anchor of "
                            f"{anchor.anchored_at}: the chain was rewritten from record "
                            f"{row['id']} or before"
                        )
                        return ChainReport(count, row["id"], problem, len(anchors))
                expected_prev, expected_id = row["hash"], expected_id + 1
        finally:
            rows.close()
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != expected_prev):
        problem = f"records after {expected_id - 1} were removed"
        return ChainReport(count, expected_id - 1 if count else 1, problem, len(anchors))
    beyond = [a for a in anchors if a.sequence > count]
    if beyond:
        furthest = max(beyond, key=lambda a: a.sequence)
        problem = (
            f"records {count + 1} to {furthest.sequence} were removed: the chain ends at "
            f"record {count}, but the anchor of {furthest.anchored_at} names record "
            f"{furthest.sequence}"
        )
        return ChainReport(count, count + 1, problem, len(anchors))
    return ChainReport(count, None, None, len(anchors))


def list_records(
    db: Database,
    actor: Actor,
    *,
    entity: str | None = None,
    entity_key: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Audit records, newest first, filtered; `next` pages further back."""
    actor.require("audit.read")
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit + 1)
    if entity:
        query = query.where(audit_log.c.entity == entity)
    if entity_key:
        query = query.where(audit_log.c.entity_key == entity_key)
    if who:
        query = query.where(audit_log.c.actor == who)
    if since:
        query = query.where(audit_log.c.at >= since)
    if until:
        query = query.where(audit_log.c.at < until)
    if before_id:
        query = query.where(audit_log.c.id < before_id)
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [
            {
                "id": r["id"],
                "at": r["at"].isoformat(),
                "actor": r["actor"],
                "action": r["action"],
                "entity": r["entity"],
                "entity_key": r["entity_key"],
                "before": r["before"],
                "after": r["after"],
                "hash": r["hash"],
            }
            for r in rows
        ],
        "next": str(rows[-1]["id"]) if more and rows else None,
    }
