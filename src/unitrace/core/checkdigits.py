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


# --- fast path for many serials that differ only in a zero-padded sequence --------------
#
# Luhn and GS1 mod-10 are weighted digit sums: each digit adds f(digit, position parity).
# When serials share everything but the sequence, the fixed digits add the same amount to
# every serial, and the sequence adds a sum over its digits that we look up three digits at
# a time. Same results as `check_character` (a property test checks), ~10x faster.


def _luhn_weight(digit: int, odd: bool) -> int:
    if not odd:
        return digit
    doubled = digit * 2
    return doubled - 9 if doubled > 9 else doubled


def _gs1_weight(digit: int, odd: bool) -> int:
    return digit * 3 if odd else digit


_WEIGHTS = {"luhn": _luhn_weight, "gs1": _gs1_weight}


def _digit_sum(algorithm: str, digits: str, lowest_position: int) -> int:
    """Weighted sum of `digits` whose rightmost digit sits at `lowest_position` (1 = the
    digit just left of the check character)."""
    weight = _WEIGHTS[algorithm]
    return sum(
        weight(int(d), (lowest_position + offset) % 2 == 1)
        for offset, d in enumerate(reversed(digits))
    )


def sequence_check_characters(
    algorithm: str, before: str, width: int, first: int, count: int, after: str
) -> list[str] | None:
    """Check characters for `before + f"{seq:0{width}d}" + after`, seq = first … first+count-1.

    None when the algorithm has no fast path (the caller computes one by one)."""
    if algorithm not in _WEIGHTS:
        return None
    after_digits = _digits(after)
    seq_low = len(after_digits) + 1
    fixed = _digit_sum(algorithm, after_digits, 1) + _digit_sum(
        algorithm, _digits(before), seq_low + width
    )
    tables = {
        parity: [_digit_sum(algorithm, f"{v:03d}", parity) for v in range(1000)]
        for parity in (0, 1)
    }
    blocks = [(tables[(seq_low + 3 * k) % 2], 1000**k) for k in range((width + 2) // 3)]
    out = []
    for value in range(first, first + count):
        total = fixed
        for table, scale in blocks:
            total += table[(value // scale) % 1000]
        out.append(str((10 - total % 10) % 10))
    return out
