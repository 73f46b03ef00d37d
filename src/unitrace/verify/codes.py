"""Verification codes: made for every unit of a product with verification on, at
commissioning (set-based, a pipeline step) or backfilled; their short scannable form; PINs.

OWNER: the codes helper (issue 16). `normalise`, `display`, `verify_url` and `pin_matches`
are the interface the engine, the page and the labels use.
"""

from __future__ import annotations

LENGTH = 16  # Crockford base32 characters: 80 bits


def normalise(text: str) -> str | None:
    """The code as stored (16 upper-case Crockford base32 characters) from what was typed or
    scanned (lower case, hyphens and spaces, I/L for 1, O for 0), or None when it cannot be a
    code (any length, any character: the answer is then the same "not found")."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) != LENGTH:
        return None
    cleaned = cleaned.translate(_ALIASES)
    return cleaned if all(c in ALPHABET for c in cleaned) else None


ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def display(code: str) -> str:
    """The code as printed: four groups of four (`7K3M-Q9XW-2D4F-HT8C`)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verify_url(code: str) -> str:
    """`UNITRACE_PUBLIC_URL/v/{code}`: what a unit's QR points to."""
    raise NotImplementedError  # the codes helper writes this


def pin_matches(key_id: str, pin_hash: str | None, code: str, pin: str) -> bool:
    """Whether `pin` is the code's PIN (a keyed hash under the code's key; constant time)."""
    raise NotImplementedError  # the codes helper writes this
