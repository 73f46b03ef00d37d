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


def test_an_area_catalog_corrects_a_text_of_messages_po() -> None:
    from unitrace.web.i18n import translations

    wrong = "按住 Ctrl（Mac 上按 ⌘）可多选。这些库位当前在库的产品即为本次盘点的应盘数。"
    text = (
        "Hold Ctrl (⌘ on a Mac) to choose several. The units in stock at these locations "
        "now are what the count expects."
    )
    assert _catalog("zh_CN")[text] != wrong  # channel.po re-declares it
    assert translations("zh-CN").gettext(text) == _catalog("zh_CN")[text]
