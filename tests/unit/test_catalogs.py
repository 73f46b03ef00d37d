"""Every text the pages pass through `_()` literally has a Simplified Chinese translation, and
every translation keeps the %(name)s placeholders of its English original."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

import unitrace.web

WEB = Path(unitrace.web.__file__).parent
LITERAL = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def _catalog(locale: str) -> dict[str, str]:
    found: dict[str, str] = {}
    folder = WEB / "locale" / locale / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po"), key=lambda po: (po.name != "messages.po", po.name)):
        with po.open("rb") as handle:
            messages = read_po(handle)
        found.update({m.id: m.string for m in messages if isinstance(m.id, str) and m.id})
    return found


def test_every_page_text_is_translated_to_chinese() -> None:
    sources = [*WEB.glob("*.py"), *(WEB / "templates").glob("*.html")]
    used = {a or b for path in sources for a, b in LITERAL.findall(path.read_text("utf-8"))}
    assert len(used) > 100  # the pattern finds the texts
    chinese = _catalog("zh_CN")
    missing = sorted(text for text in used if not chinese.get(text))
    assert not missing, f"add to a .po file of locale/zh_CN/LC_MESSAGES: {missing}"


def test_translations_keep_placeholders() -> None:
    for locale in ("zh_CN", "en"):
        for english, translated in _catalog(locale).items():
            wanted = sorted(re.findall(r"%\(\w+\)s", english))
            assert sorted(re.findall(r"%\(\w+\)s", translated)) == wanted, (locale, english)
