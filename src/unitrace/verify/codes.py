"""Verification codes: made for every unit of a product with verification on, at
commissioning (set-based, a pipeline step) or backfilled; their short scannable form; PINs.

OWNER: the codes helper (issue 16). `normalise`, `display`, `verify_url` and `pin_matches`
are the interface the engine, the page and the labels use.

A code is the first 80 bits of `keys.mac("code", unit id)` under the current key, written in
Crockford's base32 (no I, L, O, U: nothing to misread). The key is secret, so no code follows
from a serial or a unit id; the row keeps the key's id, so codes made before a key rotation
stay valid and their PINs still check. Crockford's alphabet is the standard base32 one
(stdlib `base64.b32encode`) under a fixed translation: the one maintained package for it
(`base32-crockford`) is from 2015, so the stdlib codec does the encoding.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, select

from unitrace import config
from unitrace.db.tables import verify_codes
from unitrace.ledger.bulk import bulk_insert, chunks
from unitrace.verify import keys

LENGTH = 16  # Crockford base32 characters: 80 bits
BYTES = LENGTH * 5 // 8
PIN_DIGITS = 8

_RFC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ALPHABET = CROCKFORD
_TO_CROCKFORD = str.maketrans(_RFC, CROCKFORD)
# what a person may type for a code: lower case, I/L for 1, O for 0; hyphens and spaces go
_READ = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})
_ALPHABET = frozenset(CROCKFORD)


def make(unit_id: int, key: bytes | None = None) -> str:
    """The code of a unit under `key` (default: the current key)."""
    digest = keys.mac("code", unit_id.to_bytes(8, "big"), key)[:BYTES]
    return base64.b32encode(digest).decode().translate(_TO_CROCKFORD)


def make_many(unit_ids: Sequence[int], key: bytes) -> list[str]:
    """`make` for many units at once: the MAC's keyed state is copied, not made again, and
    the digests are encoded in one go (10 bytes are exactly 16 characters)."""
    base = hmac.new(key, b"code\x00", "sha256")  # keys.mac("code", …) as a stream
    digests = bytearray()
    for unit_id in unit_ids:
        state = base.copy()
        state.update(unit_id.to_bytes(8, "big"))
        digests += state.digest()[:BYTES]
    text = base64.b32encode(bytes(digests)).decode().translate(_TO_CROCKFORD)
    return [text[i : i + LENGTH] for i in range(0, len(text), LENGTH)]


def normalise(text: str) -> str | None:
    """The code as stored (16 upper-case Crockford base32 characters) from what was typed or
    scanned (lower case, hyphens and spaces, I/L for 1, O for 0), or None when it cannot be a
    code (any length, any character: the answer is then the same "not found")."""
    if not isinstance(text, str) or len(text) > 4 * LENGTH:
        return None
    code = text.strip().upper().translate(_READ)
    if len(code) != LENGTH or not _ALPHABET.issuperset(code):
        return None
    return code


def display(code: str) -> str:
    """The code as printed: four groups of four (`7K3M-Q9XW-2D4F-HT8C`)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verify_url(code: str) -> str:
    """`UNITRACE_PUBLIC_URL/v/{code}`: what a unit's QR points to."""
    return f"{config.public_url()}/v/{code}"


def pin_hash(code: str, pin: str, key: bytes | None = None) -> str:
    """What is kept of a PIN: its keyed hash with the code (default: the current key)."""
    return keys.mac("pin", (code + pin).encode(), key).hex()


def pin_matches(key_id: str, pin_hash_: str | None, code: str, pin: str) -> bool:
    """Whether `pin` is the code's PIN (a keyed hash under the code's key; constant time)."""
    key = keys.by_id(key_id)
    if pin_hash_ is None or key is None:
        return False
    return hmac.compare_digest(pin_hash(code, pin.strip(), key), pin_hash_)


def new_pin() -> str:
    """An 8-digit PIN from the CSPRNG."""
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


# --- making codes, set-based -----------------------------------------------------------------


def issue(conn: Connection, unit_ids: Sequence[int], at: datetime | None = None) -> int:
    """Codes for these units (none of which has one), under the current key: one bulk insert
    per chunk. The number made."""
    key_id, key = keys.current()
    when: object = (at or datetime.now(UTC)).astimezone(UTC)
    if conn.dialect.name == "sqlite":  # the driver's own cursor: the column's stored form
        when = when.replace(tzinfo=None).isoformat(" ", timespec="microseconds")  # type: ignore[attr-defined]
    for chunk in chunks(unit_ids):
        bulk_insert(
            conn,
            verify_codes,
            ("unit_id", "code", "key_id", "created_at", "checks", "devices"),
            (
                (u, code, key_id, when, 0, 0)
                for u, code in zip(chunk, make_many(chunk, key), strict=True)
            ),
        )
    return len(unit_ids)


@dataclass(frozen=True)
class Backfill:
    made: int  # codes made now
    existing: int  # units that had one


def without_code(conn: Connection, unit_ids: Sequence[int]) -> list[int]:
    """Which of these units have no code yet (chunked lookups)."""
    have: set[int] = set()
    query = select(verify_codes.c.unit_id).where(
        verify_codes.c.unit_id.in_(bindparam("ids", expanding=True))
    )
    for chunk in chunks(unit_ids):
        have.update(conn.execute(query, {"ids": list(chunk)}).scalars())
    return [u for u in unit_ids if u not in have]
