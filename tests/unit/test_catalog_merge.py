"""An area's catalog corrects messages.po: for every message, the text of the last .po file
(messages.po first, then the others by name) is the one the pages show."""

from __future__ import annotations

from babel.messages.pofile import read_po

from unitrace.web import i18n


def test_the_last_catalog_file_s_text_wins_for_every_message() -> None:
    folder = i18n.CATALOGS / "zh_CN" / "LC_MESSAGES"
    files = sorted(folder.glob("*.po"), key=lambda po: (po.name != "messages.po", po.name))
    last: dict[tuple[str | None, str], str] = {}
    for po in files:
        with po.open("rb") as handle:
            for message in read_po(handle, locale="zh_CN"):
                if message.id and isinstance(message.id, str) and message.string:
                    last[message.context, message.id] = str(message.string)
    shown = i18n.translations("zh-CN")

    def text_of(context: str | None, message: str) -> str:
        return shown.pgettext(context, message) if context else shown.gettext(message)

    wrong = {key: (text_of(*key), text) for key, text in last.items() if text_of(*key) != text}
    assert not wrong, wrong
