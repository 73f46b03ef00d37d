"""Message catalogs (Babel .po files, compiled in memory at start), locale choice and
locale-aware formatting of dates and numbers."""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.numbers import format_percent as babel_percent

LOCALES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT = "en"
CATALOGS = Path(__file__).with_name("locale")
current: ContextVar[str] = ContextVar("locale", default=DEFAULT)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog of `locale`: every `*.po` file of its LC_MESSAGES folder merged, messages.po
    first and then the others in name order (each area of the pages keeps its own file, and a
    later file's text wins for the same message)."""
    folder = CATALOGS / locale.replace("-", "_") / "LC_MESSAGES"
    files = sorted(folder.glob("*.po"), key=lambda po: (po.name != "messages.po", po.name))
    if not files:
        return gettext.NullTranslations()
    catalogs = []
    for po in files:
        with po.open("rb") as handle:
            catalogs.append(read_po(handle, locale=locale.replace("-", "_")))
    merged = catalogs[0]
    for catalog in catalogs[1:]:
        for message in catalog:
            if message.id:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    return translations(current.get()).gettext(message)


def negotiate(accept_language: str | None) -> str:
    """The best of our locales for an Accept-Language header (English when none fits)."""
    wanted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality, tag.strip().lower()))
    for _quality, tag in sorted(wanted, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def format_time(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    locale = Locale.parse(current.get().replace("-", "_"))
    return format_datetime(value, "medium", tzinfo=value.tzinfo, locale=locale)


def format_number(value: int | float) -> str:
    return format_decimal(value, locale=current.get().replace("-", "_"))


def format_percent(value: float | None) -> str:
    if value is None:
        return "—"
    return babel_percent(value, "#,##0.0%", locale=current.get().replace("-", "_"))
