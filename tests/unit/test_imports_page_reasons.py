"""The import page shows the engine's reasons for a bad row in Chinese by their key: every key
of `engine.REASONS` has a translation (a new key fails here), and its parameters are filled
in, the messages among them translated too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from unitrace.interop.imports.engine import REASONS, problem
from unitrace.web import i18n
from unitrace.web.imports import reason_text

PASSED_THROUGH = {"as_is", "refused"}  # "%(text)s": a message of its own, translated as such


@pytest.fixture
def chinese() -> Iterator[None]:
    token = i18n.current.set("zh-CN")
    yield
    i18n.current.reset(token)


def test_every_reason_key_of_the_engine_has_a_chinese_text(chinese: None) -> None:
    catalog = i18n.translations("zh-CN")
    missing = [
        key
        for key, template in REASONS.items()
        if key not in PASSED_THROUGH and catalog.gettext(template) == template
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("key", "params", "shown"),
    [
        ("duplicate_serial", {"row": 7}, "文件中序列号重复（首次出现在第 7 行）"),
        ("unknown_lot", {"lot": "L-9", "product": "AC1"}, "产品 AC1 没有批次 L-9"),
        ("bad_date", {"why": "no such day or time"}, "日期错误：没有这个日期或时间"),
        ("as_is", {"text": "must not be empty"}, "不能为空"),
    ],
)
def test_a_reason_is_shown_by_its_key_with_its_parameters(
    chinese: None, key: str, params: dict[str, object], shown: str
) -> None:
    found = reason_text(problem(3, "序列号", key, **params).public())
    assert found == shown and not re.search(r"[a-z]{3,}", found)


def test_a_reason_without_a_key_is_translated_by_its_english_text(chinese: None) -> None:
    assert reason_text({"row": 2, "column": "x", "reason": "required"}) == "必填"
