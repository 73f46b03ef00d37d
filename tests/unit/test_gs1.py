"""core.gs1: the forms a scanner sends are read strictly; a unit's identifiers are written in
GS1's forms and read back to the same AIs."""

from __future__ import annotations

from datetime import date

import pytest

from unitrace.core import gs1
from unitrace.core.errors import ValidationError
from unitrace.core.gs1 import Element

GTIN = "09506000134352"
UNIT = (Element("01", GTIN), Element("17", "271231"), Element("10", "L1"), Element("21", "ABC123"))


def refused(text: str, field: str = "code") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        gs1.parse(text, field)
    assert all(e.field == field for e in caught.value.errors)
    return [e.message for e in caught.value.errors]


@pytest.mark.parametrize(
    "text",
    [
        "]d201095060001343521727123110L1\x1d21ABC123",
        "]Q301095060001343521727123110L1\x1d21ABC123",
        "]C101095060001343521727123110L1\x1d21ABC123",
        "01095060001343521727123110L1\x1d21ABC123",
        "\x1d01095060001343521727123110L1\x1d21ABC123",
        "(01)09506000134352(17)271231(10)L1(21)ABC123",
        "https://example.com/01/09506000134352/10/L1/21/ABC123?17=271231",
        "https://example.com/some/prefix/01/09506000134352/10/L1/21/ABC123?17=271231",
    ],
)
def test_every_form_of_one_unit_gives_the_same_ais(text: str) -> None:
    data = gs1.parse(text)
    assert sorted(data.elements, key=lambda e: e.ai) == sorted(UNIT, key=lambda e: e.ai)
    assert (data.gtin, data.serial, data.lot) == (GTIN, "ABC123", "L1")
    assert data.expiry == date(2027, 12, 31)


def test_the_form_is_named() -> None:
    assert gs1.parse("(01)09506000134352(21)A").form == "bracketed"
    assert gs1.parse("]d20109506000134352").form == "element_string"
    assert gs1.parse("https://id.gs1.org/01/09506000134352").form == "digital_link"


def test_expiry_day_00_is_the_last_day_of_the_month() -> None:
    assert gs1.parse("(01)09506000134352(17)280200").expiry == date(2028, 2, 29)


def test_a_plain_serial_is_not_gs1() -> None:
    assert not gs1.looks_like_gs1("SN-000123")
    assert not gs1.looks_like_gs1("https://example.com/units/SN-1")
    assert refused("SN-000123")[0].startswith("not GS1")


@pytest.mark.parametrize(
    "text",
    [
        "]d2010950600013435",
        "\x1d0109506000134352",
        "(01)09506000134352",
        "https://example.com/01/09506000134352",
        "http://a/414/9520123456788",
    ],
)
def test_scanner_forms_look_like_gs1(text: str) -> None:
    assert gs1.looks_like_gs1(text)


def test_a_bad_check_digit_is_named_with_the_ai() -> None:
    (message,) = refused("(01)09506000134353(21)A", field="serial")
    assert "(01)" in message and "check digit" in message


def test_every_bad_element_is_reported_at_once() -> None:
    messages = refused("(01)09506000134353(17)271340(21)A B")
    assert len(messages) == 3
    assert any("(17)" in m and "month" in m for m in messages)
    assert any("(21)" in m and "' '" in m for m in messages)


def test_unknown_ai_and_wrong_lengths_are_refused() -> None:
    assert "unknown AI" in refused("]d28912345")[0]
    assert "length" in refused("(01)0950600013435")[0]
    assert "length" in refused("(21)" + "A" * 21)[0]


def test_a_digital_link_with_a_gtin_13_is_refused() -> None:
    assert refused("https://example.com/01/9506000134352")


def test_a_key_qualifier_in_the_query_is_refused() -> None:
    assert "path" in refused("https://example.com/01/09506000134352?10=L1")[0]


def test_exclusive_ais_are_refused_together() -> None:
    assert "together" in refused("(01)09506000134352(02)09506000134352(37)1")[0]


def test_associations_name_what_is_missing() -> None:
    missing = gs1.associations([Element("21", "A")])
    assert missing == ["(21) SERIAL needs (01) or (03) or (8006)"]
    assert gs1.associations(UNIT) == []


@pytest.mark.parametrize(
    ("short", "full"),
    [("95060001343", None), ("9506000134352", GTIN), ("614141999996", "00614141999996")],
)
def test_gtin14_pads_to_14_digits(short: str, full: str | None) -> None:
    if full is None:
        with pytest.raises(ValidationError):
            gs1.gtin14(short)
    else:
        assert gs1.gtin14(short) == full


def test_element_string_puts_gs_only_after_variable_length_ais_not_last() -> None:
    assert gs1.element_string(UNIT) == "01095060001343521727123110L1\x1d21ABC123"
    assert gs1.element_string(UNIT, fnc1="^") == "01095060001343521727123110L1^21ABC123"
    assert gs1.element_string([Element("21", "A"), Element("01", GTIN)]) == f"21A\x1d01{GTIN}"


def test_bracketed_and_digital_link_of_a_unit() -> None:
    assert gs1.bracketed(UNIT) == "(01)09506000134352(17)271231(10)L1(21)ABC123"
    assert (
        gs1.digital_link(UNIT, "https://example.com/")
        == "https://example.com/01/09506000134352/10/L1/21/ABC123?17=271231"
    )


def test_digital_link_values_are_percent_encoded_and_read_back() -> None:
    elements = (Element("01", GTIN), Element("21", "A/B+C%"))
    uri = gs1.digital_link(elements, "https://example.com")
    assert uri == "https://example.com/01/09506000134352/21/A%2FB%2BC%25"
    assert gs1.parse(uri).elements == elements


def test_every_written_form_reads_back_to_the_unit() -> None:
    elements = gs1.unit_elements(GTIN, "ABC123", lot="L1", expiry=date(2027, 12, 31))
    assert elements == UNIT
    for text in (
        "]d2" + gs1.element_string(elements),
        gs1.bracketed(elements),
        gs1.digital_link(elements, gs1.DEFAULT_STEM),
    ):
        assert set(gs1.parse(text).elements) == set(UNIT)


def test_unit_elements_refuse_a_serial_gs1_cannot_carry() -> None:
    with pytest.raises(ValidationError) as caught:
        gs1.unit_elements(GTIN, "ABC 123")
    assert "(21)" in caught.value.errors[0].message


def test_sgtin_urn_follows_the_epc_tag_data_standard() -> None:
    assert gs1.sgtin_urn(GTIN, "ABC123", 7) == "urn:epc:id:sgtin:9506000.013435.ABC123"
    assert gs1.sgtin_urn("80614141123458", "6789", 7) == "urn:epc:id:sgtin:0614141.812345.6789"
    assert gs1.sgtin_urn(GTIN, "A/B%C&D", 7).endswith(".A%2FB%25C%26D")


def test_sgtin_urn_names_every_bad_argument() -> None:
    with pytest.raises(ValidationError) as caught:
        gs1.sgtin_urn("09506000134353", "A B", 13)
    assert {e.field for e in caught.value.errors} == {"gtin", "company_prefix_length", "serial"}
