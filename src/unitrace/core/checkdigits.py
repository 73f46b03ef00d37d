"""Check characters for serials and GS1 keys.

The algorithms come from python-stdnum (pure Python, no I/O); this module only decides which
characters of a serial each algorithm covers:

- ``luhn`` and ``gs1`` (GS1 mod-10) cover the digits of the text before the check character;
  letters and punctuation are skipped, so ``SN2611-000001`` is checked over ``2611000001``.
- ``mod37-36`` (ISO/IEC 7064 MOD 37-36) covers the letters and digits, upper-cased.
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum import ean, luhn
from stdnum.iso7064 import mod_37_36

ALGORITHMS = ("luhn", "gs1", "mod37-36")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch in _ALNUM)


def _luhn(text: str) -> str:
    digits = _digits(text)
    return str(luhn.calc_check_digit(digits)) if digits else "0"


def _gs1(text: str) -> str:
    digits = _digits(text)
    return str(ean.calc_check_digit(digits)) if digits else "0"


def _mod37_36(text: str) -> str:
    return str(mod_37_36.calc_check_digit(_alnum(text)))


_CALCULATORS: dict[str, Callable[[str], str]] = {
    "luhn": _luhn,
    "gs1": _gs1,
    "mod37-36": _mod37_36,
}


def check_character(algorithm: str, text: str) -> str:
    """The check character that `algorithm` appends to `text`."""
    try:
        return _CALCULATORS[algorithm](text)
    except KeyError:
        raise ValueError(f"unknown check algorithm {algorithm!r}") from None


def has_valid_check(algorithm: str, text: str) -> bool:
    """True when the last character of `text` is the right check character for the rest."""
    return len(text) >= 2 and check_character(algorithm, text[:-1]) == text[-1].upper()


def valid_gtin(gtin: str) -> bool:
    """GTIN-8, -12, -13 or -14: digits only, right length, GS1 check digit correct."""
    if len(gtin) not in (8, 12, 13, 14) or not gtin.isascii() or not gtin.isdigit():
        return False
    return ean.calc_check_digit(gtin[:-1]) == gtin[-1]
