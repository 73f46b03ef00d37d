"""The verification secret: the keys that make codes and hash PINs and addresses.

`UNITRACE_VERIFY_KEYS`: comma-separated keys (each at least 32 characters), the first the
current one. New codes and PIN hashes are made with the current key and store its id; the
others are kept so that what older keys made still checks — a key is rotated by putting a new
one first, never by removing the old. Unset: one key is made once from the CSPRNG and kept in
`UNITRACE_HOME/verify.key` (mode 0600).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from unitrace.config import data_home

MIN_KEY = 32


@functools.cache
def _keys() -> tuple[tuple[str, bytes], ...]:
    text = os.environ.get("UNITRACE_VERIFY_KEYS", "").strip()
    if text:
        keys = [k.strip() for k in text.split(",") if k.strip()]
        short = [i + 1 for i, k in enumerate(keys) if len(k) < MIN_KEY]
        if not keys or short:
            raise RuntimeError(  # the operator's setting: stops the start
                f"UNITRACE_VERIFY_KEYS: every key needs at least {MIN_KEY} characters "
                f"(too short: key {', '.join(map(str, short)) or '1'})"
            )
        raw = [k.encode() for k in keys]
    else:
        raw = [_key_file(data_home() / "verify.key")]
    return tuple((key_id(k), k) for k in raw)


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def key_id(key: bytes) -> str:
    """A key's public name: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def current() -> tuple[str, bytes]:
    """The key id and key that new codes and hashes are made with."""
    return _keys()[0]


def by_id(wanted: str) -> bytes | None:
    """The key with this id, or None when it is no longer configured."""
    return next((k for i, k in _keys() if i == wanted), None)


def mac(purpose: str, data: bytes, key: bytes | None = None) -> bytes:
    """HMAC-SHA256 of `data` for one purpose ("code", "pin", "address", …) under `key`
    (default: the current key). Purposes never share a MAC."""
    return hmac.new(key or current()[1], purpose.encode() + b"\x00" + data, "sha256").digest()


def address_hash(address: str) -> str:
    """What is kept of a client's address: a keyed hash (the address is personal data)."""
    return mac("address", address.encode()).hex()[:32]


def reset() -> None:
    """Forget the keys read (tests that change the setting)."""
    _keys.cache_clear()
