"""What a new password must be: long enough, not trivial, not common, not the user's name.

Checked wherever a password is set (a new user, a change, an administrator's reset, the CLI),
all through `access.service`. The common-password check is zxcvbn: its word and password
lists ship inside the package, so nothing is looked up online.
"""

from __future__ import annotations

import string
import unicodedata

MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable", about 10^8 guesses
NAME_IN_PASSWORD = 3  # user names this long or longer may not appear inside the password
_ZXCVBN_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
_CYCLES = (string.digits, string.ascii_lowercase)

TOO_SHORT = f"at least {MIN_LENGTH} characters"
CONTROL = "must not contain control characters"
WHITESPACE = "must not be only spaces"
REPEATED = "must not be one character repeated"
SEQUENCE = "must not be a sequence such as 1234567890 or abcdefghij"
USERNAME = "must not be or contain the user name"
COMMON = "is too common or too easy to guess"


def password_problem(password: str, username: str) -> str | None:
    """Why `password` may not be `username`'s password (one short English reason, as shown
    next to the field and translated on the pages), or None when it may."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return CONTROL  # NUL, newlines, tabs, escapes; lone surrogates cannot be stored
    if password.isspace():
        return WHITESPACE
    if len(set(password)) == 1:
        return REPEATED
    if _is_sequence(password.lower()):
        return SEQUENCE
    folded, name = password.casefold(), username.casefold()
    if folded == name or (len(name) >= NAME_IN_PASSWORD and name in folded):
        return USERNAME
    if _score(password, username) < MIN_SCORE:
        return COMMON
    return None


def _is_sequence(text: str) -> bool:
    """Whether the text is a run of one cycle (0123456789 0…, a…z a…), forwards or backwards."""
    for cycle in _CYCLES:
        if not set(text) <= set(cycle):
            continue
        run = cycle * (len(text) // len(cycle) + 2)
        if text in run or text in run[::-1]:
            return True
    return False


def _score(password: str, username: str) -> int:
    from zxcvbn import zxcvbn  # its dictionaries load on first use, not with every CLI start

    result = zxcvbn(password[:_ZXCVBN_LENGTH], user_inputs=[username, "unitrace"])
    return int(result["score"])
