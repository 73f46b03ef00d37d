"""The password policy on its own: every refusal names its reason."""

from __future__ import annotations

import pytest

from unitrace.access import passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", passwords.TOO_SHORT),
        ("aaaaaaaaaa", passwords.REPEATED),
        ("Z" * 80, passwords.REPEATED),
        (" " * 10, passwords.WHITESPACE),
        ("\u3000" * 12, passwords.WHITESPACE),
        ("\0" * 10, passwords.CONTROL),
        ("good horse\0battery", passwords.CONTROL),
        ("tab\there battery", passwords.CONTROL),
        ("1234567890", passwords.SEQUENCE),
        ("0987654321", passwords.SEQUENCE),
        ("4567890123", passwords.SEQUENCE),
        ("12345678901234567890123", passwords.SEQUENCE),
        ("abcdefghijk", passwords.SEQUENCE),
        ("ZYXWVUTSRQ", passwords.SEQUENCE),
        ("li.lei.wang", passwords.USERNAME),
        ("LI.LEI.WANG-2026", passwords.USERNAME),
        ("my li.lei.wang secret", passwords.USERNAME),
        ("password123", passwords.COMMON),
        ("qwertyuiop", passwords.COMMON),
        ("iloveyou123", passwords.COMMON),
        ("P@ssw0rd2024", passwords.COMMON),
        ("unitrace2026", passwords.COMMON),
        ("abcabcabcabc", passwords.COMMON),
    ],
)
def test_trivial_and_common_passwords_are_refused(password: str, reason: str) -> None:
    assert passwords.password_problem(password, "li.lei.wang") == reason


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "Tr0ub4dor&3x-ut", "长城 长江 黄河 泰山", "x" + "Qk3#v9Lm" * 20],
)
def test_good_passwords_pass(password: str) -> None:
    assert passwords.password_problem(password, "li.lei.wang") is None


def test_a_short_user_name_may_appear_inside_but_not_be_the_password() -> None:
    # a two-letter name is in too many good passwords to refuse them all
    assert passwords.password_problem("correct horse battery", "or") is None
    assert passwords.password_problem("OR", "or") == passwords.TOO_SHORT
    assert passwords.password_problem("admin-correct-horse", "admin") == passwords.USERNAME
