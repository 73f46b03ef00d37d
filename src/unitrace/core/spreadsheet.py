"""Cells for CSV and XLSX exports: one rule for every export, so that a value typed by a user
never runs as a formula when the file is opened in a spreadsheet (CSV/formula injection)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Control characters other than tab, line feed and carriage return: never useful in a cell.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What starts a formula: the ASCII signs, their full-width forms (typed with a CJK input
# method) and the tab and carriage return OWASP lists.
_FORMULA_START = frozenset("=+-@\t\r＝＋－＠")


def _ignored(char: str) -> bool:
    """Characters a spreadsheet drops before it looks for a formula: white space (Unicode's,
    including no-break and ideographic spaces, line breaks) and invisible format characters
    (zero-width space and joiners, word joiner, byte-order mark, direction marks)."""
    return char.isspace() or unicodedata.category(char) in ("Cf", "Cc")


def cell(value: Any) -> Any:
    """`value` safe for a spreadsheet cell: control characters removed, and text that would
    start a formula — also after the white space and invisible characters a spreadsheet
    strips — gets a leading apostrophe, which spreadsheets read as "this is text"."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("", value)
    if value[:1] in _FORMULA_START:
        return "'" + value
    index = 0
    while index < len(value) and _ignored(value[index]):
        index += 1
    stripped = value[index:]
    return "'" + value if index and stripped[:1] in _FORMULA_START else value
