"""Use-case errors in the page's language, in one place.

The use cases raise their errors in English, most of them f-strings (`f"no unit with serial
{serial!r}"`). The catalogs hold each such message once, keyed by its template as the source
writes it, with the expressions as named placeholders (`no unit with serial {serial}`), and a
translation that may put them in another order. A message is translated by matching it against
the templates (the one with the most fixed text first); the values the placeholders matched are
translated too — a state, an event type, a field name, a list of them, or a message of its own
(`report` wraps a message in `{detail} ({total} in all)`) — and serials and codes stay as they
are. tests/unit/test_error_messages.py finds every message template of the sources and checks
that the catalog of every locale translates it, so no English message reaches a Chinese page.

The API and the CLI keep English: their texts are stable for scripts and support, and they
name fields and codes that do not change (docs/api.md, "Language").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache, lru_cache
from typing import Any

from unitrace.core.errors import UnitraceError
from unitrace.core.lifecycle import Status
from unitrace.web import i18n

PLACEHOLDER = re.compile(r"\{([^{}]+)\}|%\((\w+)\)s")
_WORD = re.compile(r"[a-z][a-z_]*")
_QUOTED = re.compile(r"""^(['"])(.*)\1$""", re.S)
# the longest fixed text, the pattern, the placeholders' names, the translation
Template = tuple[str, re.Pattern[str], list[str], str]


def placeholders(template: str) -> list[str]:
    return [a or b for a, b in PLACEHOLDER.findall(template)]


@cache
def _templates(locale: str) -> list[Template]:
    """The catalog's message templates with placeholders, most fixed text first."""
    catalog = i18n.translations(locale)
    messages: dict[str, str] = getattr(catalog, "_catalog", {})
    found = []
    for english, translated in messages.items():
        if not isinstance(english, str) or not PLACEHOLDER.search(english) or "\x04" in english:
            continue
        parts = PLACEHOLDER.split(english)
        # split() yields text, group 1, group 2, text, …: every third item is fixed text
        pattern = "".join(
            re.escape(part) if i % 3 == 0 else "(.+?)"
            for i, part in enumerate(parts)
            if i % 3 == 0 or part is not None
        )
        fixed = sum(len(part) for part in parts[::3])
        longest = max(parts[::3], key=len)  # a text without it cannot match: skip the regex
        compiled = re.compile(pattern, re.S)
        found.append((fixed, longest, compiled, placeholders(english), translated))
    found.sort(key=lambda item: -item[0])
    return [item[1:] for item in found]


def message(text: str) -> str:
    """An English message of a use case in the current page's language."""
    locale = i18n.current.get()
    if locale == i18n.DEFAULT or not text:
        return text
    return _translated(locale, text, 0)


@lru_cache(maxsize=8192)
def _translated(locale: str, text: str, depth: int) -> str:
    catalog = i18n.translations(locale)
    exact = catalog.gettext(text)
    if exact != text or depth > 4:
        return exact
    if text.startswith("Value error, "):  # a Pydantic validator's message
        return _translated(locale, text.removeprefix("Value error, "), depth + 1)
    first: str | None = None  # a match that leaves a sentence in English, if no other does
    for longest, pattern, names, translated in _templates(locale):
        if longest not in text:
            continue
        found = pattern.fullmatch(text)
        if found is None:
            continue
        raw = found.groups()
        values = {
            name: _value(locale, value, depth + 1) for name, value in zip(names, raw, strict=True)
        }
        filled = _filled(translated, values)
        # `file: row 2: a byte … (save …)` is `{field}: {message}` and `{detail} ({extra})`;
        # only the first leaves the row's message whole, for its own template to translate
        if not any(
            " " in value and values[name] == value for name, value in zip(names, raw, strict=True)
        ):
            return filled
        first = filled if first is None else first
    return text if first is None else first


def _filled(translated: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), translated)


def _value(locale: str, value: str, depth: int) -> str:
    """What a placeholder matched, translated where it is a word of ours or a message."""
    quoted = _QUOTED.match(value)
    if quoted:
        return quoted.group(1) + _value(locale, quoted.group(2), depth) + quoted.group(1)
    if ", " in value and all(_WORD.fullmatch(w) for w in value.split(", ")):
        return "、".join(_word(locale, w) for w in value.split(", "))
    if _WORD.fullmatch(value):
        return _word(locale, value)
    if "." in value and re.fullmatch(r"[a-z_]+(\.[\w-]+)+", value):  # a field path: serials.3
        return ".".join(_word(locale, part) for part in value.split("."))
    if " " in value:
        return _translated(locale, value, depth)
    return value


def _word(locale: str, word: str) -> str:
    """A state, event type, kind or field name: its label, else the word (a code). A field
    name whose word means something else on the pages has its own (msgctxt "field")."""
    catalog = i18n.translations(locale)
    named = catalog.pgettext("field", word)
    return named if named != word else catalog.gettext(word)


def detail(error: UnitraceError) -> str:
    """The error's one sentence in the page's language."""
    return message(error.detail)


# --- filters: a code or its label in any of our languages ------------------------------------

STATUSES = tuple(status.label for status in Status)


@cache
def _codes(codes: tuple[str, ...]) -> dict[str, str]:
    """Label (in every locale, folded) → code, and the codes themselves."""
    found = {code.casefold(): code for code in codes}
    for locale in i18n.LOCALES:
        catalog = i18n.translations(locale)
        for code in codes:
            found.setdefault(catalog.gettext(code).casefold(), code)
    return found


def code_of(text: str, codes: tuple[str, ...] = STATUSES) -> str:
    """What a user typed into a filter as one of `codes`: the code itself, its label in any of
    our languages (`已召回` → `recalled`), with spaces or hyphens for underscores (`in stock`);
    anything else unchanged, for the use case to refuse with its reason."""
    folded = re.sub(r"[\s\-]+", "_", text.strip()).casefold()
    return _codes(codes).get(folded) or _codes(codes).get(text.strip().casefold()) or text


def choices(codes: tuple[str, ...] = STATUSES) -> list[tuple[str, str]]:
    """(code, label in the page's language) for a select."""
    return [(code, i18n._(code)) for code in codes]


# --- tables downloaded from the pages ----------------------------------------------------------

# columns whose values are words of ours (states, kinds of party, outcomes of a recall)
WORD_COLUMNS = ("status", "status_at_start", "holder_kind", "outcome")


def column_label(column: str) -> str:
    """A download's column header in the page's language (msgctxt "column"); the key in English
    (the API and the CLI keep the keys: docs/api.md, "Language")."""
    return i18n.translations(i18n.current.get()).pgettext("column", column)


def table(
    columns: tuple[str, ...], items: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Headers and rows of a download in the page's language: the words of WORD_COLUMNS are
    translated, serials, codes, names and numbers stay."""
    return headers(columns), list(rows(columns, items))


def headers(columns: tuple[str, ...]) -> list[str]:
    """A download's header line in the page's language."""
    return [column_label(c) for c in columns]


def rows(columns: tuple[str, ...], items: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
    """The rows of a download in the page's language, one at a time (a download streams, after
    the page's request is answered: the language is taken now): the words of WORD_COLUMNS
    translated, serials, codes, names and numbers as they are."""
    locale = i18n.current.get()
    words = [c for c in WORD_COLUMNS if c in columns]
    if locale == i18n.DEFAULT or not words:
        return iter(items)
    catalog = i18n.translations(locale)
    return (
        {**item, **{c: catalog.gettext(item[c]) for c in words if isinstance(item.get(c), str)}}
        for item in items
    )
