from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unitrace.core.checkdigits import (
    check_character,
    has_valid_check,
    sequence_check_characters,
    valid_gtin,
)
from unitrace.core.errors import ValidationError
from unitrace.core.serials import GenerationContext, SerialTemplate, plain_serial_problem

DAY = date(2026, 11, 24)
CTX = GenerationContext(DAY, "AC1", "SZ", "L2")


def test_issue_example_renders_with_luhn_check() -> None:
    template = SerialTemplate.parse("SN{yy}{mm}-{seq:6}{check:luhn}")
    serials = template.render(CTX, 1, 3)
    assert serials[0].startswith("SN2611-000001")
    assert [s[:-1] for s in serials] == ["SN2611-000001", "SN2611-000002", "SN2611-000003"]
    assert all(template.mismatch(s) is None for s in serials)


def test_luhn_known_value() -> None:
    # The classic example: 7992739871 has Luhn check digit 3.
    assert check_character("luhn", "7992739871") == "3"
    assert check_character("luhn", "SN-7992739871") == "3"  # letters are skipped


def test_gs1_and_gtin() -> None:
    assert valid_gtin("09506000134352")
    assert not valid_gtin("09506000134353")
    assert valid_gtin("4006381333931")  # EAN-13
    assert valid_gtin("96385074")  # GTIN-8
    assert valid_gtin("036000291452")  # GTIN-12 (UPC-A)
    assert not valid_gtin("40063813339X")
    assert valid_gtin("04006381333931")  # the EAN-13 padded to GTIN-14
    assert not valid_gtin("123")


def test_mod37_36_is_alphanumeric() -> None:
    value = "MB" + "ABCDEFGH23"
    check = check_character("mod37-36", value)
    assert check in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert has_valid_check("mod37-36", value + check)


@pytest.mark.parametrize(
    ("template", "token"),
    [
        ("SN{seq}", "{seq}"),
        ("SN{seq:0}", "{seq:0}"),
        ("SN{seq:6:weekly}", "{seq:6:weekly}"),
        ("SN{yy}{foo}{seq:4}", "{foo}"),
        ("SN{random:2}", "{random:2}"),
        ("SN{check:luhn}{seq:4}", "{check:luhn}"),
        ("SN{check:crc}{seq:4}", "{check:crc}"),
        ("SN{yy}{mm}", "template"),
        ("SN {seq:4}", "'SN '"),
        ("SN{seq:4}{seq:4}", "{seq}"),
        ("SN{{seq:4}", "{"),
    ],
)
def test_invalid_templates_name_the_token(template: str, token: str) -> None:
    with pytest.raises(ValidationError) as info:
        SerialTemplate.parse(template)
    assert token in info.value.detail
    assert info.value.errors[0].field == "template"


def test_all_tokens() -> None:
    template = SerialTemplate.parse(
        "{product}-{plant}{line}-{yyyy}{ww}{jjj}{dd}-{seq:4:daily}-{random:6}{check:mod37-36}"
    )
    (serial,) = template.render(CTX, 7, 1)
    assert serial.startswith("AC1-SZL2-2026" + "48" + "328" + "24-0007-")
    assert template.mismatch(serial, "AC1") is None
    assert template.period_key(DAY) == "20261124"
    assert template.needs == {"plant", "line"}


def test_missing_plant_code_is_named() -> None:
    template = SerialTemplate.parse("{plant}{seq:4}")
    with pytest.raises(ValidationError) as info:
        template.render(GenerationContext(DAY), 1, 1)
    assert info.value.errors[0].field == "plant"


def test_sequence_overflow_is_refused() -> None:
    template = SerialTemplate.parse("X{seq:2}")
    assert template.render(CTX, 98, 2) == ["X98", "X99"]
    with pytest.raises(ValidationError, match="exhausted"):
        template.render(CTX, 99, 2)


def test_mismatch_reasons() -> None:
    template = SerialTemplate.parse("SN{yy}{mm}-{seq:6}{check:luhn}")
    good = template.render(CTX, 42, 1)[0]
    wrong_check = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert template.mismatch(wrong_check) == "wrong check character (luhn)"
    assert "does not match" in (template.mismatch("SN2613-0000421") or "")
    assert "does not match" in (template.mismatch("XX") or "")


@given(st.integers(min_value=1, max_value=999_998), st.integers(min_value=0, max_value=12))
def test_any_single_digit_change_breaks_the_check(seq: int, position: int) -> None:
    template = SerialTemplate.parse("SN{yy}{mm}-{seq:6}{check:luhn}")
    serial = template.render(CTX, seq, 1)[0]
    digits = [i for i, ch in enumerate(serial) if ch.isdigit()]
    index = digits[position % len(digits)]
    changed = serial[:index] + str((int(serial[index]) + 1) % 10) + serial[index + 1 :]
    assert template.mismatch(changed) is not None


def test_random_blocks_are_distinct_and_crockford() -> None:
    template = SerialTemplate.parse("T{random:12}")
    serials = template.render(CTX, 1, 2000)
    assert len(set(serials)) == 2000
    assert all(template.mismatch(s) is None for s in serials)
    assert not any(ch in s for s in serials for ch in "ILOU")


@pytest.mark.parametrize(
    ("serial", "ok"),
    [("A1", True), ("序列号-1", True), ("", False), ("a b", False), ("x" * 65, False), (5, False)],
)
def test_plain_serial_problems(serial: object, ok: bool) -> None:
    assert (plain_serial_problem(serial) is None) is ok


@given(
    st.sampled_from(["luhn", "gs1"]),
    st.text(alphabet="AB09-", max_size=6),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=10**6),
    st.text(alphabet="XY57.", max_size=4),
)
def test_batch_check_characters_equal_one_by_one(
    algorithm: str, before: str, width: int, first: int, after: str
) -> None:
    first = first % (10**width)
    count = min(5, 10**width - first)
    fast = sequence_check_characters(algorithm, before, width, first, count, after)
    slow = [
        check_character(algorithm, f"{before}{value:0{width}d}{after}")
        for value in range(first, first + count)
    ]
    assert fast == slow
